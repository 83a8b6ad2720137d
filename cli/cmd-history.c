/* virtsnap history: every snapshot attempt the store recorded, newest
 * first, filtered by domain, policy, state and time. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "cleanup.h"
#include "cli-store.h"
#include "commands.h"
#include "output.h"
#include "timefmt.h"

enum {
        COL_ID, COL_STARTED, COL_CONNECTION, COL_DOMAIN, COL_DOMAIN_UUID, COL_POLICY, COL_SNAPSHOT,
        COL_TYPE, COL_QUIESCE, COL_STATE, COL_CONSISTENCY, COL_SCHEDULED, COL_FINISHED, COL_CREATED,
        COL_DELETED, COL_DELETE_REASON, COL_ERROR_CODE, COL_ERROR_DOMAIN, COL_ERROR, COL_PINNED,
        COL_PIN_REASON, COL_UNDELETABLE, COL_DEFERRED, COL_ORIGIN, COL_HOOK_ERROR, COL_EXPIRES, COL_REQUESTED_BY, COL_NOTE,
        COL_DETAIL,
};

static const vs_column columns[] = {
        [COL_ID] = { "id", VS_COL_INT, 0 },
        [COL_STARTED] = { "started", VS_COL_TIME, 0 },
        [COL_CONNECTION] = { "connection", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_DOMAIN] = { "domain", VS_COL_TEXT, 0 },
        [COL_DOMAIN_UUID] = { "domain_uuid", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_POLICY] = { "policy", VS_COL_TEXT, 0 },
        [COL_SNAPSHOT] = { "snapshot", VS_COL_TEXT, 0 },
        [COL_TYPE] = { "type", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_QUIESCE] = { "quiesce", VS_COL_BOOL, VS_COL_MACHINE_ONLY },
        [COL_STATE] = { "state", VS_COL_TEXT, 0 },
        [COL_CONSISTENCY] = { "consistency", VS_COL_TEXT, 0 },
        [COL_SCHEDULED] = { "scheduled", VS_COL_TIME, VS_COL_MACHINE_ONLY },
        [COL_FINISHED] = { "finished", VS_COL_TIME, VS_COL_MACHINE_ONLY },
        [COL_CREATED] = { "created", VS_COL_TIME, VS_COL_MACHINE_ONLY },
        [COL_DELETED] = { "deleted", VS_COL_TIME, VS_COL_MACHINE_ONLY },
        [COL_DELETE_REASON] = { "delete_reason", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_ERROR_CODE] = { "error_code", VS_COL_INT, VS_COL_MACHINE_ONLY },
        [COL_ERROR_DOMAIN] = { "error_domain", VS_COL_INT, VS_COL_MACHINE_ONLY },
        [COL_ERROR] = { "error", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_PINNED] = { "pinned", VS_COL_BOOL, 0 },
        [COL_PIN_REASON] = { "pin_reason", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_UNDELETABLE] = { "undeletable", VS_COL_BOOL, VS_COL_MACHINE_ONLY },
        [COL_DEFERRED] = { "deferred", VS_COL_BOOL, VS_COL_MACHINE_ONLY },
        [COL_ORIGIN] = { "origin", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_HOOK_ERROR] = { "hook_error", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_EXPIRES] = { "expires", VS_COL_TIME, VS_COL_MACHINE_ONLY },
        [COL_REQUESTED_BY] = { "requested_by", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_NOTE] = { "note", VS_COL_TEXT, VS_COL_MACHINE_ONLY },
        [COL_DETAIL] = { "detail", VS_COL_TEXT, VS_COL_TABLE_ONLY },
};

static void
history_usage(FILE *out)
{
        fprintf(out,
                "usage: virtsnap history [-c FILE] [--database PATH] [--domain D] [--policy P]\n"
                "                        [--state S] [--since T] [--until T] [--limit N]\n"
                "                        [--format table|json|csv]\n"
                "\n"
                "List snapshot attempts recorded in the history database, newest first.\n"
                "\n"
                "options:\n"
                "  -c, --config FILE  policy file whose database: to read\n"
                "      --database PATH\n"
                "                     the history database (overrides the policy file's)\n"
                "  -d, --domain D     only domain D (a name or a UUID)\n"
                "  -p, --policy P     only policy P\n"
                "  -s, --state S      creating, present, failed, deleting, deleted, vanished\n"
                "                     or skipped\n"
                "      --since T      attempts started at or after T\n"
                "      --until T      attempts started at or before T\n"
                "                     T: RFC 3339 (2026-11-27T04:00:00Z), @EPOCH, or a duration\n"
                "                     back from now (7d, 12h, 1h30m)\n"
                "  -n, --limit N      at most N rows (0: all, the default)\n"
                "  -f, --format F     table (aligned, local times), json or csv (UTC RFC 3339)\n"
                "  -h, --help         this help\n"
                "\n"
                "Without -c or --database, the database of %s is used when that file\n"
                "is readable, else %s.  $VIRTSNAP_NOW (a TIME) replaces the clock.\n"
                "\n"
                "exit status: 0 success; 1 the database cannot be read; 2 usage error.\n",
                "/etc/virtsnap/policies.yaml", VS_DEFAULT_DATABASE);
}

static bool
valid_state(const char *s)
{
        return vs_snap_state_from_string(s) >= 0;
}

static int
add_row(const vs_store_row *r, void *userdata)
{
        vs_table *t = userdata;
        const char *detail = NULL;
        char ttl[4200], when[32];
        int e = 0;

        if (r->state == VS_SNAP_FAILED || r->state == VS_SNAP_SKIPPED)
                detail = r->error_message;
        else if (r->state == VS_SNAP_DELETED || r->state == VS_SNAP_DELETING)
                detail = r->delete_reason;
        else if (r->hook_error)
                detail = r->hook_error;
        else if (r->pinned)
                detail = r->pin_reason;
        else if (r->undeletable)
                detail = "undeletable";
        else if (r->deferred)
                detail = "deferred: libvirt put its pruning off";
        else if (r->origin == VS_ORIGIN_CATCH_UP)
                detail = "catch-up";
        /* An ad-hoc snapshot says how long it is kept, and why it was taken. */
        if ((r->state == VS_SNAP_PRESENT || r->state == VS_SNAP_CREATING) && !r->pinned && !r->hook_error &&
            (r->expires > 0 || r->note)) {
                snprintf(ttl, sizeof(ttl), "%s%s%s%s", r->expires > 0 ? "kept until " : "",
                         r->expires > 0 ? vs_time_format_utc(r->expires, when, sizeof(when)) : "",
                         r->expires > 0 && r->note ? "; " : "", r->note ? r->note : "");
                detail = ttl;
        }

        e |= vs_table_add_row(t);
        if (e)
                return -ENOMEM;
        e |= vs_table_set_int(t, COL_ID, r->id);
        e |= vs_table_set_int(t, COL_STARTED, r->started);
        e |= vs_table_set_text(t, COL_CONNECTION, r->connection);
        e |= vs_table_set_text(t, COL_DOMAIN, r->domain_name);
        e |= vs_table_set_text(t, COL_DOMAIN_UUID, r->domain_uuid);
        e |= vs_table_set_text(t, COL_POLICY, r->policy);
        e |= vs_table_set_text(t, COL_SNAPSHOT, r->snapshot);
        e |= vs_table_set_text(t, COL_TYPE, r->type);
        e |= vs_table_set_int(t, COL_QUIESCE, r->quiesce);
        e |= vs_table_set_text(t, COL_STATE, vs_snap_state_to_string(r->state));
        e |= vs_table_set_text(t, COL_CONSISTENCY, r->consistency);
        e |= vs_table_set_int(t, COL_SCHEDULED, r->scheduled);
        if (r->has_finished)
                e |= vs_table_set_int(t, COL_FINISHED, r->finished);
        if (r->has_created)
                e |= vs_table_set_int(t, COL_CREATED, r->created);
        if (r->has_deleted)
                e |= vs_table_set_int(t, COL_DELETED, r->deleted);
        e |= vs_table_set_text(t, COL_DELETE_REASON, r->delete_reason);
        if (r->has_error && r->state == VS_SNAP_FAILED) {
                e |= vs_table_set_int(t, COL_ERROR_CODE, r->error_code);
                e |= vs_table_set_int(t, COL_ERROR_DOMAIN, r->error_domain);
        }
        e |= vs_table_set_text(t, COL_ERROR, r->error_message);
        e |= vs_table_set_int(t, COL_PINNED, r->pinned);
        e |= vs_table_set_text(t, COL_PIN_REASON, r->pin_reason);
        e |= vs_table_set_int(t, COL_UNDELETABLE, r->undeletable);
        e |= vs_table_set_int(t, COL_DEFERRED, r->deferred);
        e |= vs_table_set_text(t, COL_ORIGIN, vs_origin_to_string(r->origin));
        e |= vs_table_set_text(t, COL_HOOK_ERROR, r->hook_error);
        if (r->expires > 0)
                e |= vs_table_set_int(t, COL_EXPIRES, r->expires);
        e |= vs_table_set_text(t, COL_REQUESTED_BY, r->requested_by);
        e |= vs_table_set_text(t, COL_NOTE, r->note);
        e |= vs_table_set_text(t, COL_DETAIL, detail);
        return e ? -ENOMEM : 0;
}

static int
query(vs_store *s, const vs_store_filter *f, vs_table *t, vs_err *err)
{
        return vs_store_query_history(s, f, add_row, t, err);
}

int
vs_cmd_history(int argc, char **argv)
{
        static const vs_cli_list_cmd cmd = {
                .name = "history",
                .usage = history_usage,
                .valid_state = valid_state,
                .columns = columns,
                .n_columns = VS_ELEMENTSOF(columns),
                .query = query,
        };

        return vs_cli_list_main(&cmd, argc, argv);
}
