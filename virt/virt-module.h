/* For virt/ only: the entry point of the loadable libvirt backend.
 *
 * libvirt links ~60 shared libraries (gnutls, glib, ...) and costs a command
 * ~10 ms of start-up before it does anything, yet most commands (history,
 * status, check, ...) never talk to a hypervisor.  So, as libvirt does with
 * its own drivers, virt-libvirt.c and virt-events.c are built as a module
 * (virtsnap-libvirt.so) that exports one symbol, vs_virt_module_libvirt, and
 * virt-module.c dlopens it the first time vs_virt_open_libvirt or
 * vs_virt_events_start is called.  The main binary does not link libvirt.
 *
 * The module carries its own static copies of util/, policy/ and virt-core,
 * and exchanges virt.h's structs (results, the watch) with the binary, so
 * the two must come from the same build: the loader refuses a module whose
 * abi or version differ from its own. */
#pragma once

#include "virt.h"

/* Bump when the table below or any struct virt.h / virt-backend.h share
 * between binary and module changes layout. */
#define VS_VIRT_MODULE_ABI 1
/* File name of the module, looked up in VIRTSNAP_MODULE_DIR, then the build
 * tree (<exe dir>/../virt), then the installed VS_MODULE_DIR. */
#define VS_VIRT_MODULE_FILE "virtsnap-libvirt.so"
#define VS_VIRT_MODULE_SYMBOL "vs_virt_module_libvirt"

/* abi and version stay the first two fields whatever else changes: the
 * loader reads them before trusting the rest. */
typedef struct vs_virt_module {
        unsigned abi;                   /* VS_VIRT_MODULE_ABI at build time */
        const char *version;            /* VS_VERSION at build time */
        /* Called once, by the loader, on the thread that loads the module:
         * initialises libvirt (and what it pulls in: gnutls, OpenSSL via
         * libssh2/curl, ...) there. */
        int (*init)(vs_err *err);
        /* The implementations behind virt.h's functions of the same names. */
        int (*open)(const char *uri, vs_virt **ret, vs_err *err);
        int (*events_start)(vs_virt_events **ret, vs_err *err);
        void (*events_stop)(vs_virt_events *ev);
} vs_virt_module;

/* Inside the module only (the binary reaches them through the table). */
int vs__libvirt_init(vs_err *err);
int vs__libvirt_open(const char *uri, vs_virt **ret, vs_err *err);
int vs__libvirt_events_start(vs_virt_events **ret, vs_err *err);
void vs__libvirt_events_stop(vs_virt_events *ev);

extern const vs_virt_module vs_virt_module_libvirt __attribute__((visibility("default")));
