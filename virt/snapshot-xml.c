/* Snapshot and domain XML with libxml2: the <domainsnapshot> documents
 * virtsnap sends to libvirt, the ones it reads back, the disks of a domain
 * definition and the virtsnap tags in a domain's metadata.  Built as a tree
 * and serialised by libxml2 so that every name, path and description is
 * escaped correctly; never printf.  The output format is pinned by golden
 * files, so changing it is a visible, reviewed change. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "cleanup.h"
#include "snapshot-xml.h"
#include "strv.h"

#define WHERE "snapshot-xml"

static void
xml_doc_freep(xmlDoc **d)
{
        if (*d)
                xmlFreeDoc(*d);
}

static void
xml_charp_freep(xmlChar **p)
{
        if (*p)
                xmlFree(*p);
}

#define _cleanup_xml_doc_ _cleanup_(xml_doc_freep)
#define _cleanup_xml_str_ _cleanup_(xml_charp_freep)

static bool
is_name(const xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

static xmlNode *
child(const xmlNode *parent, const char *name)
{
        if (!parent)
                return NULL;
        for (xmlNode *n = parent->children; n; n = n->next)
                if (is_name(n, name))
                        return n;
        return NULL;
}

/* Text content of a child element as a malloc'd string, or NULL. */
static int
child_text(const xmlNode *parent, const char *name, char **ret)
{
        xmlNode *n = child(parent, name);
        _cleanup_xml_str_ xmlChar *c = NULL;

        *ret = NULL;
        if (!n)
                return 0;
        c = xmlNodeGetContent(n);
        if (!c)
                return 0;
        *ret = strdup((const char *)c);
        return *ret ? 0 : -ENOMEM;
}

static int
prop_dup(const xmlNode *n, const char *name, char **ret)
{
        _cleanup_xml_str_ xmlChar *c = NULL;

        *ret = NULL;
        if (!n)
                return 0;
        c = xmlGetProp(n, BAD_CAST name);
        if (!c)
                return 0;
        *ret = strdup((const char *)c);
        return *ret ? 0 : -ENOMEM;
}

static bool
prop_equals(const xmlNode *n, const char *name, const char *value)
{
        _cleanup_xml_str_ xmlChar *c = xmlGetProp(n, BAD_CAST name);

        return c && strcmp((const char *)c, value) == 0;
}

static int
parse_doc(const char *xml, xmlDoc **ret, vs_err *err)
{
        xmlDoc *doc;

        if (!xml)
                return vs_err_set(err, EINVAL, WHERE, "no XML");
        doc = xmlReadMemory(xml, (int)strlen(xml), "snapshot.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return vs_err_set(err, EINVAL, WHERE, "malformed XML");
        *ret = doc;
        return 0;
}

static bool
valid_owner(const char *s, size_t len)
{
        if (len == 0 || len > 64)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];

                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

int
vs__description_compose(const char *text, const char *owner, char **ret)
{
        char *s = NULL;
        int r;

        if (!owner) {
                s = strdup(text ? text : "");
                if (!s)
                        return -ENOMEM;
        } else if (!text || !*text) {
                r = asprintf(&s, "%s%s", VS_OWNER_MARKER, owner);
                if (r < 0)
                        return -ENOMEM;
        } else {
                size_t len = strlen(text);

                /* One newline between the text and the marker, whatever the
                 * template ended with, so the marker is always the last line. */
                while (len > 0 && text[len - 1] == '\n')
                        len--;
                r = asprintf(&s, "%.*s\n%s%s", (int)len, text, VS_OWNER_MARKER, owner);
                if (r < 0)
                        return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int
vs__description_split(const char *desc, char **ret_text, char **ret_owner)
{
        _cleanup_free_ char *text = NULL, *owner = NULL;
        size_t len, start;

        *ret_text = NULL;
        *ret_owner = NULL;
        if (!desc)
                return 0;
        len = strlen(desc);
        while (len > 0 && (desc[len - 1] == '\n' || desc[len - 1] == ' ' || desc[len - 1] == '\t'))
                len--;
        start = len;
        while (start > 0 && desc[start - 1] != '\n')
                start--;
        if (len - start > strlen(VS_OWNER_MARKER) &&
            strncmp(desc + start, VS_OWNER_MARKER, strlen(VS_OWNER_MARKER)) == 0 &&
            valid_owner(desc + start + strlen(VS_OWNER_MARKER),
                        len - start - strlen(VS_OWNER_MARKER))) {
                owner = strndup(desc + start + strlen(VS_OWNER_MARKER),
                                len - start - strlen(VS_OWNER_MARKER));
                if (!owner)
                        return -ENOMEM;
                len = start;
                while (len > 0 && desc[len - 1] == '\n')
                        len--;
        } else {
                len = strlen(desc);
        }
        if (len > 0) {
                text = strndup(desc, len);
                if (!text)
                        return -ENOMEM;
        }
        *ret_text = TAKE_PTR(text);
        *ret_owner = TAKE_PTR(owner);
        return 0;
}

static xmlNode *
add_text_child(xmlNode *parent, const char *name, const char *text)
{
        /* xmlNewTextChild escapes the content; xmlNewChild would not. */
        return xmlNewTextChild(parent, NULL, BAD_CAST name, BAD_CAST text);
}

static int
serialize(xmlDoc *doc, char **ret)
{
        xmlBuffer *buf = xmlBufferCreate();
        xmlSaveCtxt *save;
        char *s;

        if (!buf)
                return -ENOMEM;
        save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
        if (!save) {
                xmlBufferFree(buf);
                return -ENOMEM;
        }
        if (xmlSaveDoc(save, doc) < 0) {
                xmlSaveClose(save);
                xmlBufferFree(buf);
                return -ENOMEM;
        }
        xmlSaveClose(save);
        s = strdup((const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int
vs__snapshot_xml_build(const vs_snapshot_xml_params *p, char **ret, vs_err *err)
{
        _cleanup_xml_doc_ xmlDoc *doc = NULL;
        _cleanup_free_ char *desc = NULL;
        xmlNode *root, *n, *disks;
        bool any_external = false;
        int r;

        if (!p->name || !*p->name)
                return vs_err_set(err, EINVAL, WHERE, "snapshot without a name");
        if (p->type != VS_SNAP_INTERNAL) {
                for (size_t i = 0; i < p->n_disks; i++) {
                        if (!p->disks[i].name)
                                return vs_err_set(err, EINVAL, WHERE, "disk without a name");
                        if (p->disks[i].file && p->disks[i].file[0] != '/')
                                return vs_err_set(err, EINVAL, WHERE,
                                                  "overlay path for disk %s is not absolute: %s",
                                                  p->disks[i].name, p->disks[i].file);
                        if (p->disks[i].file)
                                any_external = true;
                }
                if (!any_external)
                        return vs_err_set(err, EINVAL, WHERE,
                                          "%s snapshot selects no disk", vs_snap_type_to_string(p->type));
        }
        if (p->type == VS_SNAP_EXTERNAL && (!p->memory_file || p->memory_file[0] != '/'))
                return vs_err_set(err, EINVAL, WHERE, "external snapshot needs an absolute memory file path");

        r = vs__description_compose(p->description, p->owner, &desc);
        if (r < 0)
                return vs_err_set(err, -r, WHERE, "out of memory");

        doc = xmlNewDoc(BAD_CAST "1.0");
        if (!doc)
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        root = xmlNewDocNode(doc, NULL, BAD_CAST "domainsnapshot", NULL);
        if (!root)
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        xmlDocSetRootElement(doc, root);
        if (!add_text_child(root, "name", p->name))
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        if (*desc && !add_text_child(root, "description", desc))
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");

        if (p->type == VS_SNAP_INTERNAL)
                goto done;

        n = xmlNewChild(root, NULL, BAD_CAST "memory", NULL);
        if (!n)
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        if (p->type == VS_SNAP_EXTERNAL) {
                if (!xmlNewProp(n, BAD_CAST "snapshot", BAD_CAST "external") ||
                    !xmlNewProp(n, BAD_CAST "file", BAD_CAST p->memory_file))
                        return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        } else if (!xmlNewProp(n, BAD_CAST "snapshot", BAD_CAST "no")) {
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        }

        disks = xmlNewChild(root, NULL, BAD_CAST "disks", NULL);
        if (!disks)
                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
        for (size_t i = 0; i < p->n_disks; i++) {
                const vs_snapshot_xml_disk *d = &p->disks[i];
                xmlNode *dn = xmlNewChild(disks, NULL, BAD_CAST "disk", NULL);

                if (!dn || !xmlNewProp(dn, BAD_CAST "name", BAD_CAST d->name) ||
                    !xmlNewProp(dn, BAD_CAST "snapshot", BAD_CAST(d->file ? "external" : "no")))
                        return vs_err_set(err, ENOMEM, WHERE, "out of memory");
                if (d->file) {
                        xmlNode *src = xmlNewChild(dn, NULL, BAD_CAST "source", NULL);

                        if (!src || !xmlNewProp(src, BAD_CAST "file", BAD_CAST d->file))
                                return vs_err_set(err, ENOMEM, WHERE, "out of memory");
                }
        }
done:
        r = serialize(doc, ret);
        if (r < 0)
                return vs_err_set(err, -r, WHERE, "out of memory");
        return 0;
}

void
vs__snapshot_info_clear(vs_snapshot_info *s)
{
        if (!s)
                return;
        free(s->name);
        free(s->parent);
        free(s->state);
        free(s->description);
        free(s->owner_policy);
        vs_strv_free(s->disk_files);
        free(s->memory_file);
        memset(s, 0, sizeof(*s));
}

static int
parse_snapshot(xmlNode *root, vs_snapshot_info *s, vs_err *err)
{
        _cleanup_free_ char *ctime = NULL, *desc = NULL;
        xmlNode *n;
        int r;

        if (!is_name(root, "domainsnapshot"))
                return vs_err_set(err, EINVAL, WHERE, "not a <domainsnapshot> document");
        if ((r = child_text(root, "name", &s->name)) < 0)
                return vs_err_set(err, -r, WHERE, "out of memory");
        if (!s->name || !*s->name)
                return vs_err_set(err, EINVAL, WHERE, "snapshot without <name>");
        if ((r = child_text(child(root, "parent"), "name", &s->parent)) < 0 ||
            (r = child_text(root, "state", &s->state)) < 0 ||
            (r = child_text(root, "creationTime", &ctime)) < 0 ||
            (r = child_text(root, "description", &desc)) < 0)
                return vs_err_set(err, -r, WHERE, "out of memory");
        if (ctime) {
                char *end;
                long long t;

                errno = 0;
                t = strtoll(ctime, &end, 10);
                if (errno || end == ctime || *end)
                        return vs_err_set(err, EINVAL, WHERE, "snapshot %s: bad creationTime '%s'",
                                          s->name, ctime);
                s->creation_time = t;
        }
        if ((r = vs__description_split(desc, &s->description, &s->owner_policy)) < 0)
                return vs_err_set(err, -r, WHERE, "out of memory");

        n = child(root, "memory");
        if (n) {
                _cleanup_xml_str_ xmlChar *kind = xmlGetProp(n, BAD_CAST "snapshot");

                if (kind && xmlStrcmp(kind, BAD_CAST "external") == 0) {
                        s->external = true;
                        s->has_memory = true;
                        if ((r = prop_dup(n, "file", &s->memory_file)) < 0)
                                return vs_err_set(err, -r, WHERE, "out of memory");
                } else if (kind && xmlStrcmp(kind, BAD_CAST "internal") == 0) {
                        s->has_memory = true;
                }
        }
        for (xmlNode *d = child(root, "disks") ? child(root, "disks")->children : NULL; d; d = d->next) {
                xmlNode *src;
                _cleanup_free_ char *file = NULL;

                if (!is_name(d, "disk") || !prop_equals(d, "snapshot", "external"))
                        continue;
                s->external = true;
                src = child(d, "source");
                if ((r = prop_dup(src, "file", &file)) < 0 ||
                    (!file && (r = prop_dup(src, "dev", &file)) < 0))
                        return vs_err_set(err, -r, WHERE, "out of memory");
                if (file && (r = vs_strv_consume(&s->disk_files, TAKE_PTR(file))) < 0)
                        return vs_err_set(err, -r, WHERE, "out of memory");
        }
        return 0;
}

int
vs__snapshot_xml_parse(const char *xml, vs_snapshot_info *ret, vs_err *err)
{
        _cleanup_xml_doc_ xmlDoc *doc = NULL;
        vs_snapshot_info s = { 0 };
        int r;

        r = parse_doc(xml, &doc, err);
        if (r < 0)
                return r;
        r = parse_snapshot(xmlDocGetRootElement(doc), &s, err);
        if (r < 0) {
                vs__snapshot_info_clear(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void
vs__domain_disks_clear(vs_domain_disks *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free(d->items[i].target);
                free(d->items[i].source);
                free(d->items[i].device);
                free(d->items[i].type);
                free(d->items[i].format);
                free(d->items[i].mirror_job);
        }
        free(d->items);
        d->items = NULL;
        d->n = 0;
}

static int
parse_disk(xmlNode *n, vs_domain_disk *d)
{
        xmlNode *src = child(n, "source");
        int r;

        if ((r = prop_dup(child(n, "target"), "dev", &d->target)) < 0 ||
            (r = prop_dup(n, "device", &d->device)) < 0 || (r = prop_dup(n, "type", &d->type)) < 0 ||
            (r = prop_dup(child(n, "driver"), "type", &d->format)) < 0)
                return r;
        if (src) {
                if ((r = prop_dup(src, "file", &d->source)) < 0)
                        return r;
                if (!d->source && (r = prop_dup(src, "dev", &d->source)) < 0)
                        return r;
        }
        if (!d->device && !(d->device = strdup("disk")))
                return -ENOMEM;
        d->readonly = child(n, "readonly") != NULL;
        if (child(n, "mirror")) {
                if ((r = prop_dup(child(n, "mirror"), "job", &d->mirror_job)) < 0)
                        return r;
                if (!d->mirror_job && !(d->mirror_job = strdup("copy")))
                        return -ENOMEM;
        }
        /* The live definition spells the chain out: each <backingStore>
         * with a <source> is an image below; an empty one ends it. */
        for (xmlNode *b = child(n, "backingStore"); b && child(b, "source"); b = child(b, "backingStore"))
                d->backing_depth++;
        return 0;
}

int
vs__domain_disks_parse(const char *xml, vs_domain_disks *ret, vs_err *err)
{
        _cleanup_xml_doc_ xmlDoc *doc = NULL;
        vs_domain_disks out = { 0 };
        xmlNode *root, *devices;
        int r;

        r = parse_doc(xml, &doc, err);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!is_name(root, "domain"))
                return vs_err_set(err, EINVAL, WHERE, "not a <domain> document");
        devices = child(root, "devices");
        for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next) {
                vs_domain_disk *items;

                if (!is_name(n, "disk"))
                        continue;
                items = realloc(out.items, (out.n + 1) * sizeof(*items));
                if (!items) {
                        vs__domain_disks_clear(&out);
                        return vs_err_set(err, ENOMEM, WHERE, "out of memory");
                }
                out.items = items;
                memset(&out.items[out.n], 0, sizeof(out.items[out.n]));
                out.n++;
                r = parse_disk(n, &out.items[out.n - 1]);
                if (r < 0) {
                        vs__domain_disks_clear(&out);
                        return vs_err_set(err, -r, WHERE, "out of memory");
                }
                if (!out.items[out.n - 1].target) {
                        vs__domain_disks_clear(&out);
                        return vs_err_set(err, EINVAL, WHERE, "disk without <target dev=>");
                }
        }
        *ret = out;
        return 0;
}

int
vs__tags_xml_parse(const char *xml, char ***ret, vs_err *err)
{
        _cleanup_xml_doc_ xmlDoc *doc = NULL;
        char **tags = NULL;
        xmlNode *root;
        int r;

        r = parse_doc(xml, &doc, err);
        if (r < 0)
                return r;
        root = xmlDocGetRootElement(doc);
        if (!is_name(root, "tags"))
                return vs_err_set(err, EINVAL, WHERE, "virtsnap metadata is not a <tags> element");
        for (xmlNode *n = root->children; n; n = n->next) {
                _cleanup_xml_str_ xmlChar *c = NULL;
                _cleanup_free_ char *t = NULL;
                size_t a, b;

                if (!is_name(n, "tag"))
                        continue;
                c = xmlNodeGetContent(n);
                if (!c)
                        continue;
                /* Tags are words; tolerate the indentation of hand-edited XML. */
                a = strspn((const char *)c, " \t\r\n");
                b = strlen((const char *)c);
                while (b > a && strchr(" \t\r\n", c[b - 1]))
                        b--;
                if (b == a)
                        continue;
                t = strndup((const char *)c + a, b - a);
                if (!t) {
                        vs_strv_free(tags);
                        return vs_err_set(err, ENOMEM, WHERE, "out of memory");
                }
                if (vs_strv_contains(tags, t))
                        continue;
                r = vs_strv_consume(&tags, TAKE_PTR(t));
                if (r < 0) {
                        vs_strv_free(tags);
                        return vs_err_set(err, -r, WHERE, "out of memory");
                }
        }
        *ret = tags;
        return 0;
}
