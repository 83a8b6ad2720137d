/* An in-memory hypervisor behind virt.h, for scheduler tests.
 *
 * It keeps domains and their snapshot trees (with virtsnap's ownership
 * marker) and implements every vs_virt_ops operation.  Faults are injected
 * per operation, the way SQLite's test_syscall.c fails the Nth system call:
 * fail the Nth next call (and `count` calls after it) with a chosen errno and
 * vs_err (transient or permanent), or make calls block until the test
 * releases them, so overlap, concurrency limits and timeouts are testable
 * without sleeping.  It also plays a connection that goes down and comes
 * back (alive/reconnect) and posts define/undefine/close events to a watch.
 * Thread-safe: the ops run on libuv worker threads while
 * the test thread inspects and steers the fake. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "virt.h"

typedef enum vs_fake_op {
        VS_FAKE_LIST_DOMAINS,
        VS_FAKE_CREATE,
        VS_FAKE_LIST_SNAPSHOTS,
        VS_FAKE_DELETE,
        VS_FAKE_REVERT,
        VS_FAKE_N_OPS,
} vs_fake_op;

int vs_fake_new(const char *uri, vs_virt **ret);
/* Another reference (a test hands one to a scheduler and keeps one, so the
 * same hypervisor outlives a daemon "restart"); vs_virt_free drops one. */
vs_virt *vs_fake_ref(vs_virt *v);

/* Domains.  tags may be NULL. */
int vs_fake_add_domain(vs_virt *v, const char *name, const char *uuid, vs_domain_state state,
                       char *const *tags);
int vs_fake_remove_domain(vs_virt *v, const char *name);
/* A snapshot made outside the scheduler: owner NULL = foreign (made with
 * virsh), else owned by that policy.  It becomes the child of the current
 * snapshot and the new current one, as libvirt does. */
int vs_fake_add_snapshot(vs_virt *v, const char *domain, const char *name, int64_t creation_time,
                         const char *owner);
/* From now on, deleting this snapshot reports VS_DELETE_UNDELETABLE (as
 * libvirt does for a mixed internal/external chain). */
int vs_fake_set_undeletable(vs_virt *v, const char *domain, const char *name);
/* Delete a snapshot behind the scheduler's back (as `virsh snapshot-delete`). */
int vs_fake_remove_snapshot(vs_virt *v, const char *domain, const char *name);
/* Creation time stamped on snapshots the fake creates from now on. */
void vs_fake_set_time(vs_virt *v, int64_t t);

/* Fail calls nth..nth+count-1 from now (nth = 1: the very next call). */
void vs_fake_fail(vs_virt *v, vs_fake_op op, unsigned nth, unsigned count, int errnum,
                  bool transient, const char *msg);
/* Refuse calls nth..nth+count-1 the way a backend refuses a create it must
 * not attempt: a busy domain (VS_SKIP_BUSY, -EBUSY) or a guard limit
 * (VS_SKIP_GUARD, -ENOSPC); msg is the reason ("domain busy (backup job)"). */
void vs_fake_refuse(vs_virt *v, vs_fake_op op, unsigned nth, unsigned count, vs_err_skip cause, const char *msg);
/* Fail every call of op until vs_fake_fail_clear (a connection that is down). */
void vs_fake_fail_always(vs_virt *v, vs_fake_op op, int errnum, bool transient, const char *msg);
void vs_fake_fail_clear(vs_virt *v, vs_fake_op op);
/* While blocked, calls of op wait inside the fake until released. */
void vs_fake_block(vs_virt *v, vs_fake_op op);
void vs_fake_release(vs_virt *v, vs_fake_op op);
/* Wait (on a condition variable, no sleeping) until n calls of op are
 * waiting in the fake; returns immediately when they already are. */
void vs_fake_wait_blocked(vs_virt *v, vs_fake_op op, unsigned n);
/* Calls of op held by vs_fake_block right now (does not wait). */
unsigned vs_fake_held(vs_virt *v, vs_fake_op op);
/* Call fn(data) on the worker thread at the start of every call of op,
 * before a block or a fault: what the caller had done by the time it asked
 * the hypervisor.  fn NULL removes it. */
typedef void (*vs_fake_probe_fn)(void *data);
void vs_fake_probe(vs_virt *v, vs_fake_op op, vs_fake_probe_fn fn, void *data);

/* down: the connection dies (vs_virt_alive false, every call fails with a
 * transient error, watchers get CONNECTION_CLOSED) and reconnects fail;
 * !down: the next reconnect succeeds. */
void vs_fake_set_down(vs_virt *v, bool down);
unsigned vs_fake_reconnects(vs_virt *v);

/* Completed + failed calls of op so far. */
unsigned vs_fake_calls(vs_virt *v, vs_fake_op op);
/* Snapshots of a domain: all of them, or those owned by policy (NULL: the
 * foreign ones). */
size_t vs_fake_snapshot_count(vs_virt *v, const char *domain);
size_t vs_fake_owned_count(vs_virt *v, const char *domain, const char *policy);
bool vs_fake_has_snapshot(vs_virt *v, const char *domain, const char *name);
/* Names passed to the last create on domain (NULL if none); caller frees. */
char *vs_fake_last_created(vs_virt *v, const char *domain);
/* The domain's current snapshot (malloc'd), NULL if none. */
char *vs_fake_current(vs_virt *v, const char *domain);
