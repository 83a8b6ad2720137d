/* libFuzzer: what virtsnap reads from libvirt's XML: a snapshot's
 * definition, a domain's disks, its metadata tags, and the description
 * that carries virtsnap's ownership mark.  Hostile XML from a compromised
 * or buggy host must be refused or read, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot-xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vs_snapshot_info info = { 0 };
        vs_domain_disks disks = { 0 };
        vs_err err = { 0 };
        char **tags = NULL;
        char *text = NULL, *owner = NULL;
        char *xml;

        xml = malloc(size + 1);
        if (!xml)
                return 0;
        memcpy(xml, data, size);
        xml[size] = '\0';

        if (vs__snapshot_xml_parse(xml, &info, &err) == 0 && !info.name)
                abort(); /* a snapshot without a name */
        vs__snapshot_info_clear(&info);
        (void)vs__domain_disks_parse(xml, &disks, &err);
        vs__domain_disks_clear(&disks);
        if (vs__tags_xml_parse(xml, &tags, &err) == 0 && tags) {
                for (char **t = tags; *t; t++)
                        free(*t);
                free(tags);
        }
        if (vs__description_split(xml, &text, &owner) >= 0) {
                free(text);
                free(owner);
        }
        free(xml);
        return 0;
}
