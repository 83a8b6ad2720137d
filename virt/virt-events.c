/* libvirt's default event loop on a thread of its own.  libvirt needs an
 * event implementation for keepalive, close callbacks and domain events;
 * plugging libuv in through virEventRegisterImpl would have libvirt call our
 * add/update/remove hooks from whatever thread makes an API call, so instead
 * its default implementation runs here and vs_virt_watch forwards events to
 * the libuv loop with uv_async_send.  The object is owned by main; libvirt's
 * event implementation itself is process-wide, so only one may exist.  Part
 * of the libvirt module (virt-module.h): main reaches it through
 * vs_virt_events_start/stop in virt-module.c. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-module.h"

struct vs_virt_events {
        pthread_t thread;
        atomic_bool quit;
};

static void
silent_error(void *userdata, virErrorPtr error)
{
        (void)userdata;
        (void)error;
}

static void *
event_thread(void *arg)
{
        vs_virt_events *ev = arg;

        while (!atomic_load(&ev->quit))
                if (virEventRunDefaultImpl() < 0)
                        virResetLastError();
        return NULL;
}

int
vs__libvirt_events_start(vs_virt_events **ret, vs_err *err)
{
        vs_virt_events *ev;
        int r;

        virSetErrorFunc(NULL, silent_error);
        if (virEventRegisterDefaultImpl() < 0) {
                virResetLastError();
                return vs_err_set(err, EIO, "libvirt", "cannot register libvirt's event loop");
        }
        ev = calloc(1, sizeof(*ev));
        if (!ev)
                return vs_err_set(err, ENOMEM, "libvirt", "out of memory");
        atomic_init(&ev->quit, false);
        r = pthread_create(&ev->thread, NULL, event_thread, ev);
        if (r != 0) {
                free(ev);
                return vs_err_set(err, r, "libvirt", "cannot start the event thread");
        }
        *ret = ev;
        return 0;
}

static void
wake(int timer, void *opaque)
{
        (void)timer;
        (void)opaque;
}

void
vs__libvirt_events_stop(vs_virt_events *ev)
{
        int timer;

        if (!ev)
                return;
        atomic_store(&ev->quit, true);
        /* A zero timeout makes the blocked poll() return at once. */
        timer = virEventAddTimeout(0, wake, NULL, NULL);
        pthread_join(ev->thread, NULL);
        if (timer >= 0)
                virEventRemoveTimeout(timer);
        free(ev);
}
