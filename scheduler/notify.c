/* Notifications (notify.h): the event as JSON, the command through the hook
 * runner, its failure recorded. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "notify.h"
#include "timefmt.h"

typedef struct notify_run {
        vs_log *log;
        vs_store *store;
        char *what;                     /* "failure of web-01/nightly" */
        char *connection, *domain, *domain_uuid, *policy;
        vs_clock *clock;
} notify_run;

const vs_notify *
vs_notify_for(const vs_config *cfg, const vs_policy *p)
{
        if (p && p->notify.command)
                return &p->notify;
        return cfg && cfg->notify.command ? &cfg->notify : NULL;
}

static void
run_free(notify_run *nr)
{
        free(nr->what);
        free(nr->connection);
        free(nr->domain);
        free(nr->domain_uuid);
        free(nr->policy);
        free(nr);
}

static void
record_failure(notify_run *nr, const char *how)
{
        char msg[512];
        vs_store_event ev = {
                .time = vs_clock_now(nr->clock), .kind = VS_EVENT_NOTIFY_FAILED, .connection = nr->connection,
                .domain_uuid = nr->domain_uuid, .domain_name = nr->domain, .policy = nr->policy, .message = msg,
        };
        vs_err e = { 0 };

        snprintf(msg, sizeof(msg), "notify (%s): %s", nr->what, how);
        vs_log_warning(nr->log, "%s", msg);
        if (nr->store && vs_store_append_event(nr->store, &ev, &e) < 0)
                vs_log_err(nr->log, "cannot record a failed notify: %s", e.msg);
}

static void
on_notify_done(void *data, const vs_hook_result *res)
{
        notify_run *nr = data;
        char how[128];

        if (vs_hook_result_ok(res)) {
                vs_log_debug(nr->log, "notify (%s): sent", nr->what);
        } else {
                vs_hook_result_describe(res, how, sizeof(how));
                record_failure(nr, how);
        }
        run_free(nr);
}

static void
add_str(json_object *o, const char *key, const char *v)
{
        json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static char *
event_json(const vs_notify_info *ev)
{
        json_object *o = json_object_new_object();
        char when[32], host[256] = "";
        char *text = NULL;
        const char *s;

        if (!o)
                return NULL;
        if (gethostname(host, sizeof(host) - 1) < 0)
                host[0] = '\0';
        add_str(o, "event", vs_notify_event_to_string(ev->event));
        add_str(o, "time", vs_time_format_utc(ev->time, when, sizeof(when)));
        add_str(o, "host", host[0] ? host : NULL);
        add_str(o, "connection", ev->connection);
        add_str(o, "domain", ev->domain);
        add_str(o, "domain_uuid", ev->domain_uuid);
        add_str(o, "policy", ev->policy);
        add_str(o, "snapshot", ev->snapshot);
        add_str(o, "message", ev->message);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (s && asprintf(&text, "%s\n", s) < 0)
                text = NULL;
        json_object_put(o);
        return text;
}

void
vs_notify_send(vs_clock *clock, vs_log *log, vs_store *store, const vs_notify *n, const vs_tz *tz,
               const vs_notify_info *ev)
{
        notify_run *nr;
        char *json;
        vs_hook *hook = NULL;
        vs_err e = { 0 };

        if (!n || !n->command || !(n->events & ev->event))
                return;
        nr = calloc(1, sizeof(*nr));
        json = event_json(ev);
        if (!nr || !json || asprintf(&nr->what, "%s of %s/%s", vs_notify_event_to_string(ev->event), ev->domain,
                                     ev->policy) < 0) {
                vs_log_err(log, "notify: out of memory");
                free(json);
                free(nr);
                return;
        }
        nr->log = log;
        nr->store = store;
        nr->clock = clock;
        nr->connection = ev->connection ? strdup(ev->connection) : NULL;
        nr->domain = ev->domain ? strdup(ev->domain) : NULL;
        nr->domain_uuid = ev->domain_uuid ? strdup(ev->domain_uuid) : NULL;
        nr->policy = ev->policy ? strdup(ev->policy) : NULL;
        if (vs_hook_run(clock,
                        &(vs_hook_request){
                                .argv = n->command, .domain = ev->domain, .policy = ev->policy,
                                .snapshot = ev->snapshot, .phase = "notify",
                                .result = vs_notify_event_to_string(ev->event), .error = ev->message, .tz = tz,
                                .time = ev->time, .timeout_ms = n->timeout * 1000, .stdin_data = json,
                        },
                        on_notify_done, nr, &hook, &e) < 0) {
                record_failure(nr, e.msg);
                run_free(nr);
        }
        free(json);
}
