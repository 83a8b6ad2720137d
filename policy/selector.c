/* Domain selectors: which domains a policy covers.  Pure: the caller brings
 * the domain's name, its virtsnap tags (from the urn:virtsnap:1 metadata)
 * and whether it runs. */
#include <fnmatch.h>
#include <string.h>

#include "policy.h"
#include "strv.h"

static bool
any_glob_matches(char *const *globs, const char *name)
{
        for (size_t i = 0; globs && globs[i]; i++)
                if (fnmatch(globs[i], name, 0) == 0)
                        return true;
        return false;
}

bool
vs_selector_match(const vs_selector *sel, const char *domain_name, char *const *domain_tags, bool running)
{
        if (!domain_name)
                return false;
        if (sel->state == VS_STATE_SEL_RUNNING && !running)
                return false;
        if (sel->state == VS_STATE_SEL_SHUTOFF && running)
                return false;
        if (sel->include && !any_glob_matches(sel->include, domain_name))
                return false;
        if (any_glob_matches(sel->exclude, domain_name))
                return false;
        if (sel->tags) {
                for (size_t i = 0; sel->tags[i]; i++)
                        if (vs_strv_contains(domain_tags, sel->tags[i]))
                                return true;
                return false;
        }
        return true;
}
