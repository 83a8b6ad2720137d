/* The control protocol (control.h): requests parsed strictly with json-c,
 * formatted for the client. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static const char *const cmd_names[] = {
        [VS_CTL_STATUS] = "status",
        [VS_CTL_SNAPSHOT] = "snapshot",
        [VS_CTL_PRUNE] = "prune",
        [VS_CTL_REVERT] = "revert",
        [VS_CTL_RUN] = "run",
        [VS_CTL_PIN] = "pin",
        [VS_CTL_UNPIN] = "unpin",
};

const char *
vs_ctl_cmd_to_string(vs_ctl_cmd c)
{
        return (unsigned)c < sizeof(cmd_names) / sizeof(cmd_names[0]) ? cmd_names[c] : "?";
}

/* The keys each command takes, beyond "cmd". */
enum {
        K_DOMAIN = 1 << 0, K_POLICY = 1 << 1, K_TTL = 1 << 2, K_NOTE = 1 << 3, K_WAIT = 1 << 4, K_DATABASE = 1 << 5,
        K_SNAPSHOT = 1 << 6, K_NO_SAFETY = 1 << 7, K_DRY_RUN = 1 << 8, K_REASON = 1 << 9,
};

static const struct {
        const char *name;
        unsigned bit;
        json_type type;
} keys[] = {
        { "domain", K_DOMAIN, json_type_string }, { "policy", K_POLICY, json_type_string },
        { "ttl", K_TTL, json_type_int },          { "note", K_NOTE, json_type_string },
        { "wait", K_WAIT, json_type_boolean },    { "database", K_DATABASE, json_type_string },
        { "snapshot", K_SNAPSHOT, json_type_string }, { "no_safety", K_NO_SAFETY, json_type_boolean },
        { "dry_run", K_DRY_RUN, json_type_boolean }, { "reason", K_REASON, json_type_string },
};

static const unsigned allowed[] = {
        [VS_CTL_STATUS] = K_DATABASE,
        [VS_CTL_SNAPSHOT] = K_DOMAIN | K_POLICY | K_TTL | K_NOTE | K_WAIT | K_DATABASE,
        [VS_CTL_PRUNE] = K_DOMAIN | K_POLICY | K_DATABASE,
        [VS_CTL_REVERT] = K_DOMAIN | K_SNAPSHOT | K_POLICY | K_TTL | K_NO_SAFETY | K_DRY_RUN | K_DATABASE,
        [VS_CTL_RUN] = K_POLICY | K_DATABASE,
        [VS_CTL_PIN] = K_DOMAIN | K_SNAPSHOT | K_REASON | K_DATABASE,
        [VS_CTL_UNPIN] = K_DOMAIN | K_SNAPSHOT | K_DATABASE,
};

/* Longest accepted note and name: the history keeps them, a person reads them. */
#define MAX_TEXT 4096
/* A lifetime over ten years is a typo, not a plan. */
#define MAX_TTL (10LL * 366 * 86400)

static int
dup_text(json_object *v, const char *key, char **ret, vs_err *err)
{
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);

        if (n == 0)
                return vs_err_set(err, EINVAL, "control", "\"%s\" must not be empty", key);
        if (n > MAX_TEXT)
                return vs_err_set(err, EINVAL, "control", "\"%s\" is longer than %d bytes", key, MAX_TEXT);
        if (memchr(s, '\0', n))
                return vs_err_set(err, EINVAL, "control", "\"%s\" holds a NUL character", key);
        *ret = strdup(s);
        return *ret ? 0 : vs_err_set(err, ENOMEM, "control", "out of memory");
}

int
vs_ctl_request_parse(const char *line, size_t len, vs_ctl_request *ret, vs_err *err)
{
        vs_ctl_request q = { 0 };
        json_tokener *tok;
        json_object *root = NULL, *v;
        enum json_tokener_error jerr;
        unsigned seen = 0;
        int r = 0, cmd = -1;

        if (len >= VS_CTL_MAX_LINE)
                return vs_err_set(err, E2BIG, "control", "request over %d bytes", VS_CTL_MAX_LINE);
        tok = json_tokener_new();
        if (!tok)
                return vs_err_set(err, ENOMEM, "control", "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, line, (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue)
                r = vs_err_set(err, EINVAL, "control", "not JSON: the object is not complete");
        else if (jerr != json_tokener_success)
                r = vs_err_set(err, EINVAL, "control", "not JSON: %s", json_tokener_error_desc(jerr));
        else if (json_tokener_get_parse_end(tok) != len)
                r = vs_err_set(err, EINVAL, "control", "one JSON object per line: text after the object");
        json_tokener_free(tok);
        if (r < 0)
                goto out;
        if (!json_object_is_type(root, json_type_object)) {
                r = vs_err_set(err, EINVAL, "control", "a request is a JSON object");
                goto out;
        }
        if (!json_object_object_get_ex(root, "cmd", &v) || !json_object_is_type(v, json_type_string)) {
                r = vs_err_set(err, EINVAL, "control", "\"cmd\" (a string) is required");
                goto out;
        }
        for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++)
                if (strcmp(json_object_get_string(v), cmd_names[i]) == 0)
                        cmd = (int)i;
        if (cmd < 0) {
                r = vs_err_set(err, EINVAL, "control", "unknown cmd \"%.64s\" (status, snapshot, prune, revert, run, pin, unpin)",
                               json_object_get_string(v));
                goto out;
        }
        q.cmd = (vs_ctl_cmd)cmd;
        json_object_object_foreach(root, key, val) {
                size_t k = 0;

                if (strcmp(key, "cmd") == 0)
                        continue;
                while (k < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[k].name, key) != 0)
                        k++;
                if (k == sizeof(keys) / sizeof(keys[0]) || !(allowed[q.cmd] & keys[k].bit)) {
                        r = vs_err_set(err, EINVAL, "control", "%s takes no key \"%.64s\"", cmd_names[q.cmd], key);
                        goto out;
                }
                if (seen & keys[k].bit) {
                        /* json-c keeps the last of duplicate keys; say so instead. */
                        r = vs_err_set(err, EINVAL, "control", "\"%s\" given twice", key);
                        goto out;
                }
                seen |= keys[k].bit;
                if (!json_object_is_type(val, keys[k].type)) {
                        r = vs_err_set(err, EINVAL, "control", "\"%s\" must be %s", key,
                                       keys[k].type == json_type_string ? "a string"
                                       : keys[k].type == json_type_int ? "an integer" : "true or false");
                        goto out;
                }
                switch (keys[k].bit) {
                case K_DOMAIN:
                        r = dup_text(val, key, &q.domain, err);
                        break;
                case K_POLICY:
                        r = dup_text(val, key, &q.policy, err);
                        break;
                case K_NOTE:
                        r = dup_text(val, key, &q.note, err);
                        break;
                case K_DATABASE:
                        r = dup_text(val, key, &q.database, err);
                        break;
                case K_TTL:
                        errno = 0;
                        q.ttl = json_object_get_int64(val);
                        if (errno || q.ttl <= 0 || q.ttl > MAX_TTL)
                                r = vs_err_set(err, EINVAL, "control", "\"ttl\" must be 1 to %lld seconds",
                                               (long long)MAX_TTL);
                        break;
                case K_WAIT:
                        q.wait = json_object_get_boolean(val);
                        break;
                case K_SNAPSHOT:
                        r = dup_text(val, key, &q.snapshot, err);
                        break;
                case K_NO_SAFETY:
                        q.no_safety = json_object_get_boolean(val);
                        break;
                case K_DRY_RUN:
                        q.dry_run = json_object_get_boolean(val);
                        break;
                case K_REASON:
                        r = dup_text(val, key, &q.reason, err);
                        break;
                }
                if (r < 0)
                        goto out;
        }
        if (q.cmd == VS_CTL_SNAPSHOT && !q.domain)
                r = vs_err_set(err, EINVAL, "control", "snapshot needs \"domain\"");
        if ((q.cmd == VS_CTL_REVERT || q.cmd == VS_CTL_PIN || q.cmd == VS_CTL_UNPIN) && (!q.domain || !q.snapshot))
                r = vs_err_set(err, EINVAL, "control", "%s needs \"domain\" and \"snapshot\"", cmd_names[q.cmd]);
out:
        json_object_put(root);
        if (r < 0) {
                vs_ctl_request_clear(&q);
                return r;
        }
        *ret = q;
        return 0;
}

void
vs_ctl_request_clear(vs_ctl_request *q)
{
        free(q->domain);
        free(q->policy);
        free(q->note);
        free(q->snapshot);
        free(q->reason);
        free(q->database);
        *q = (vs_ctl_request){ 0 };
}

char *
vs_ctl_request_format(const vs_ctl_request *q)
{
        json_object *o = json_object_new_object();
        const char *s;
        char *line = NULL;
        size_t n;

        if (!o)
                return NULL;
        json_object_object_add(o, "cmd", json_object_new_string(vs_ctl_cmd_to_string(q->cmd)));
        if (q->domain)
                json_object_object_add(o, "domain", json_object_new_string(q->domain));
        if (q->policy)
                json_object_object_add(o, "policy", json_object_new_string(q->policy));
        if (q->ttl > 0)
                json_object_object_add(o, "ttl", json_object_new_int64(q->ttl));
        if (q->note)
                json_object_object_add(o, "note", json_object_new_string(q->note));
        if (q->wait)
                json_object_object_add(o, "wait", json_object_new_boolean(true));
        if (q->snapshot)
                json_object_object_add(o, "snapshot", json_object_new_string(q->snapshot));
        if (q->no_safety)
                json_object_object_add(o, "no_safety", json_object_new_boolean(true));
        if (q->dry_run)
                json_object_object_add(o, "dry_run", json_object_new_boolean(true));
        if (q->reason)
                json_object_object_add(o, "reason", json_object_new_string(q->reason));
        if (q->database)
                json_object_object_add(o, "database", json_object_new_string(q->database));
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (s) {
                n = strlen(s);
                line = malloc(n + 2);
                if (line) {
                        memcpy(line, s, n);
                        line[n] = '\n';
                        line[n + 1] = '\0';
                }
        }
        json_object_put(o);
        return line;
}

const char *
vs_ctl_errno_name(int e)
{
        switch (e < 0 ? -e : e) {
        case EINVAL: return "EINVAL";
        case ENOENT: return "ENOENT";
        case EACCES: return "EACCES";
        case EPERM: return "EPERM";
        case E2BIG: return "E2BIG";
        case ENOMEM: return "ENOMEM";
        case EHOSTDOWN: return "EHOSTDOWN";
        case ESHUTDOWN: return "ESHUTDOWN";
        case EXDEV: return "EXDEV";
        case EBUSY: return "EBUSY";
        default: return "EIO";
        }
}
