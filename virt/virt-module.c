/* The binary's side of the libvirt backend: vs_virt_open_libvirt and
 * vs_virt_events_start/stop load virtsnap-libvirt.so (virt-module.h) on
 * first use and call through its table, so commands that never reach them
 * (history, status, check, ...) never load libvirt.
 *
 * Where: the first of these that holds the file is loaded, and a file that
 * exists but does not load is an error (no silent fall-through to another
 * copy):
 *   1. $VIRTSNAP_MODULE_DIR (ignored in setuid/setgid processes),
 *   2. the build tree: <dir of /proc/self/exe>/../virt, where meson puts the
 *      module next to cli/virtsnap and tests/<program>,
 *   3. the installed VS_MODULE_DIR (<prefix>/<libdir>/virtsnap).
 *
 * Threads: loading happens once per process under pthread_once, from
 * whichever thread first asks (`virtsnap domains` may ask from several
 * workers at once).  The scheduler's frame (cli/cli-sched.c) asks on the
 * main thread with vs_virt_load before any worker exists, so that libvirt
 * and the libraries it initialises (OpenSSL keeps per-thread state from its
 * first use) settle on the main thread, as they did when libvirt was linked
 * in.  The outcome, the table or the error, is
 * kept for the life of the process and never retried: the module is never
 * unloaded because libvirt keeps threads and process-wide state (its event
 * implementation, its error handlers) that would outlive it. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virt-module.h"
#include "vs-config.h"

#define WHERE "virt"

/* Written once under load_once, read-only afterwards. */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const vs_virt_module *loaded;
static vs_err load_err;

/* "<dir of the executable>/../virt", or "" when /proc is not mounted. */
static void
build_tree_dir(char *buf, size_t size)
{
        char exe[PATH_MAX];
        ssize_t n;
        char *slash;

        buf[0] = '\0';
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return;
        exe[n] = '\0';
        /* /a/build/cli/virtsnap -> /a/build */
        for (int i = 0; i < 2; i++) {
                slash = strrchr(exe, '/');
                if (!slash)
                        return;
                *slash = '\0';
        }
        if (snprintf(buf, size, "%s/virt", exe) >= (int)size)
                buf[0] = '\0';
}

static void
load_module(void)
{
        char dirs[3][PATH_MAX];
        char path[PATH_MAX];
        const char *env = secure_getenv("VIRTSNAP_MODULE_DIR");
        const vs_virt_module *m;
        void *handle;

        if (snprintf(dirs[0], sizeof(dirs[0]), "%s", env ? env : "") >= (int)sizeof(dirs[0]))
                dirs[0][0] = '\0';
        build_tree_dir(dirs[1], sizeof(dirs[1]));
        if (snprintf(dirs[2], sizeof(dirs[2]), "%s", VS_MODULE_DIR) >= (int)sizeof(dirs[2]))
                dirs[2][0] = '\0';
        for (size_t i = 0; i < 3; i++) {
                if (!dirs[i][0])
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", dirs[i], VS_VIRT_MODULE_FILE) >= (int)sizeof(path)
                    || access(path, F_OK) < 0)
                        continue;
                handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (!handle) {
                        vs_err_set(&load_err, ENOENT, WHERE, "cannot load the libvirt backend module %s: %s",
                                   path, dlerror());
                        return;
                }
                m = dlsym(handle, VS_VIRT_MODULE_SYMBOL);
                if (!m) {
                        vs_err_set(&load_err, ENOENT, WHERE, "cannot load the libvirt backend module %s: %s",
                                   path, dlerror());
                        dlclose(handle);
                        return;
                }
                if (m->abi != VS_VIRT_MODULE_ABI || !m->version || strcmp(m->version, VS_VERSION) != 0) {
                        vs_err_set(&load_err, ENOENT, WHERE,
                                   "cannot load the libvirt backend module %s: built for virtsnap %s "
                                   "(module ABI %u), this is virtsnap %s (ABI %u)",
                                   path, m->version ? m->version : "?", m->abi, VS_VERSION,
                                   VS_VIRT_MODULE_ABI);
                        dlclose(handle);
                        return;
                }
                if (m->init(&load_err) < 0) {
                        /* Keep the module mapped: libvirt may have started
                         * threads before failing. */
                        return;
                }
                loaded = m;
                return;
        }
        vs_err_set(&load_err, ENOENT, WHERE,
                   "cannot load the libvirt backend module %s: not found in %s%s%s%s%s "
                   "(set VIRTSNAP_MODULE_DIR)",
                   VS_VIRT_MODULE_FILE, dirs[0], dirs[0][0] ? ", " : "", dirs[1], dirs[1][0] ? ", " : "",
                   dirs[2]);
}

static int
module_get(const vs_virt_module **ret, vs_err *err)
{
        pthread_once(&load_once, load_module);
        if (!loaded) {
                if (err)
                        *err = load_err;
                return -ENOENT;
        }
        *ret = loaded;
        return 0;
}

int
vs_virt_load(vs_err *err)
{
        const vs_virt_module *m;

        return module_get(&m, err);
}

int
vs_virt_open_libvirt(const char *uri, vs_virt **ret, vs_err *err)
{
        const vs_virt_module *m;
        int r;

        r = module_get(&m, err);
        if (r < 0)
                return r;
        return m->open(uri, ret, err);
}

int
vs_virt_events_start(vs_virt_events **ret, vs_err *err)
{
        const vs_virt_module *m;
        int r;

        r = module_get(&m, err);
        if (r < 0)
                return r;
        return m->events_start(ret, err);
}

void
vs_virt_events_stop(vs_virt_events *ev)
{
        /* Only the module makes a vs_virt_events, so it is loaded by now. */
        if (ev && loaded)
                loaded->events_stop(ev);
}
