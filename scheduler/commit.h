/* Group commit: the history writes of one loop iteration commit together,
 * and the libvirt call an intent announces waits for that commit.
 *
 * While a vs_commit exists its store is grouped (store.h).  A uv_check
 * handle flushes after the callbacks of the poll phase (workers done, hooks
 * exited, libvirt events, signals) and a uv_prepare handle before the loop
 * sleeps (timer callbacks, writes made outside uv_run), so a write commits
 * in the iteration that made it, with one fsync for all of them, and no
 * transaction is held while the loop waits.
 *
 * vs_commit_then registers what must wait until the writes made so far are
 * durable.  It runs right after the flush, or with the flush's error when
 * that failed: then nothing written since the previous flush exists, not the
 * intent and not its row id.  Loop thread only. */
#pragma once

#include <stddef.h>
#include <uv.h>

#include "log.h"
#include "store.h"
#include "vs-err.h"

typedef struct vs_commit vs_commit;

/* err: NULL once the writes made before vs_commit_then are committed;
 * otherwise why they were rolled back. */
typedef void (*vs_commit_fn)(void *data, const vs_err *err);

/* Groups the store; log may be NULL.  Both are borrowed. */
int vs_commit_new(uv_loop_t *loop, vs_store *store, vs_log *log, vs_commit **ret);
/* Flush, ungroup the store and close the handles; the memory goes in their
 * close callbacks, on the loop's next run.  For an idle scheduler: functions
 * still waiting are dropped, not run.  NULL-safe. */
void vs_commit_free(vs_commit *c);
/* Run fn once everything written so far is committed: at once when nothing
 * is waiting for a flush (or c is NULL), else after the flush. */
void vs_commit_then(vs_commit *c, vs_commit_fn fn, void *data);
/* Commit now and run what waited for it; the flush's result. */
int vs_commit_flush(vs_commit *c);
/* Functions waiting for a flush. */
size_t vs_commit_waiting(const vs_commit *c);
