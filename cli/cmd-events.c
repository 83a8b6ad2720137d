/* virtsnap events: the append-only log of everything virtsnap decided
 * (created, failed, skipped, pruned, deferred, undeletable, vanished,
 * adopted, reloaded, ...), newest first. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli-store.h"
#include "commands.h"
#include "output.h"

enum {
        COL_ID, COL_TIME, COL_KIND, COL_CONNECTION, COL_DOMAIN, COL_DOMAIN_UUID, COL_POLICY,
        COL_SNAPSHOT, COL_MESSAGE, COL_LEVEL,
};

static const vs_column columns[] = {
        [COL_ID] = { "id", VS_COL_INT, 0 },
        [COL_TIME] = { "time", VS_COL_TIME, 0 },
        [COL_KIND] = { "kind", VS_COL_TEXT, 0 },
        [COL_CONNECTION] = { "connection", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_DOMAIN] = { "domain", VS_COL_TEXT, 0 },
        [COL_DOMAIN_UUID] = { "domain_uuid", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_POLICY] = { "policy", VS_COL_TEXT, 0 },
        [COL_SNAPSHOT] = { "snapshot", VS_COL_TEXT, 0 },
        [COL_MESSAGE] = { "message", VS_COL_TEXT, 0 },
        /* err / warning / info, from the kind: last, so CSV readers of the
         * columns before it are unaffected. */
        [COL_LEVEL] = { "level", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
};

static void
events_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap events [-c FILE] [--database PATH] [--domain D] [--policy P]\n"
                "                       [--state KIND] [--since T] [--until T] [--limit N]\n"
                "                       [--format table|json|csv]\n"
                "\n"
                "List the event log (everything virtsnap decided), newest first.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file whose database: to read\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -d, --domain D     only domain D (a name or a UUID)\n"
                "  -p, --policy P     only policy P\n"
                "  -s, --state KIND   only events of this kind:\n"
                "                     ");
        for (int k = 0; k < VS_EVENT_N_KINDS; k++)
                fprintf(out, "%s%s", vs_event_kind_to_string(k), k + 1 < VS_EVENT_N_KINDS ? (k % 7 == 6 ? ",\n                     " : ", ") : "\n");
        fprintf(out,
                "      --since T      events at or after T\n"
                "      --until T      events at or before T\n"
                "                     T: RFC 3339 (2026-11-27T04:00:00Z), @EPOCH, or a duration\n"
                "                     back from now (7d, 12h, 1h30m)\n"
                "  -n, --limit N      at most N rows (0: all, the default)\n"
                "  -f, --format F     table (aligned, local times), json or csv (UTC RFC 3339)\n"
                "  -h, --help         this help\n"
                "\n"
                "The database is found as for `virtsnap history`.\n"
                "\n"
                "exit status: 0 success; 1 the database cannot be read; 2 usage error.\n");
}

static bool
valid_kind(const char *s)
{
        return vs_event_kind_from_string(s) >= 0;
}

static int
add_event(const vs_store_event_row *r, void *userdata)
{
        vs_table *t = userdata;
        int e;

        e = vs_table_add_row(t);
        if (e)
                return -ENOMEM;
        e |= vs_table_set_int(t, COL_ID, r->id);
        e |= vs_table_set_int(t, COL_TIME, r->time);
        e |= vs_table_set_text(t, COL_KIND, r->kind);
        e |= vs_table_set_text(t, COL_CONNECTION, r->connection);
        e |= vs_table_set_text(t, COL_DOMAIN, r->domain_name);
        e |= vs_table_set_text(t, COL_DOMAIN_UUID, r->domain_uuid);
        e |= vs_table_set_text(t, COL_POLICY, r->policy);
        e |= vs_table_set_text(t, COL_SNAPSHOT, r->snapshot);
        e |= vs_table_set_text(t, COL_MESSAGE, r->message);
        {
                int k = vs_event_kind_from_string(r->kind);

                e |= vs_table_set_text(t, COL_LEVEL, k < 0 ? NULL : vs_event_kind_level((vs_event_kind)k));
        }
        return e ? -ENOMEM : 0;
}

static int
query(vs_store *s, const vs_store_filter *f, vs_table *t, vs_err *err)
{
        return vs_store_query_events(s, f, add_event, t, err);
}

int
vs_cmd_events(int argc, char **argv)
{
        static const vs_cli_list_cmd cmd = {
                .name = "events",
                .usage = events_usage,
                .valid_state = valid_kind,
                .columns = columns,
                .n_columns = VS_ELEMENTSOF(columns),
                .query = query,
        };

        return vs_cli_list_main(&cmd, argc, argv);
}
