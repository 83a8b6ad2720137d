/* virtsnap: scheduled libvirt snapshots.  Dispatches to one subcommand per
 * cmd-<name>.c; process-wide setup (locale, stdio) happens here and only
 * here. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vs-config.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
#define VS_COMMAND(name, summary) { #name, vs_cmd_##name, summary },
#include "commands.def"
#undef VS_COMMAND
};

static void
usage(FILE *out)
{
        fprintf(out, "usage: virtsnap COMMAND [OPTIONS]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
        fprintf(out, "\n`virtsnap COMMAND --help` describes a command.\n");
}

/* The commands that write to libvirt's socket or the daemon's: a peer that
 * goes away (libvirtd killed mid-call, say) must be an error they record
 * (EPIPE), not a SIGPIPE that kills them between an intent and its outcome;
 * libvirt asks its clients to ignore it.  The others only print, and end
 * quietly when their reader does (`virtsnap history | head`). */
static bool
writes_to_peers(const char *name)
{
        static const char *const peers[] = { "daemon", "domains", "pin",      "prune",  "reconcile", "revert",
                                             "run",    "snapshot", "snapshots", "status", "unpin" };

        for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++)
                if (strcmp(name, peers[i]) == 0)
                        return true;
        return false;
}

int
vs_cmd_version(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        printf("virtsnap %s\n", VS_VERSION);
        return VS_EXIT_OK;
}

int
main(int argc, char **argv)
{
        if (argc < 2) {
                usage(stderr);
                return VS_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return VS_EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0)
                return vs_cmd_version(argc - 1, argv + 1);
        if (writes_to_peers(argv[1]))
                signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "virtsnap: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return VS_EXIT_USAGE;
}
