/* Subcommand entry points (generated from commands.def). */
#pragma once

#define VS_COMMAND(name, summary) int vs_cmd_##name(int argc, char **argv);
#include "commands.def"
#undef VS_COMMAND

enum {
        VS_EXIT_OK = 0,
        VS_EXIT_FAILURE = 1,
        VS_EXIT_USAGE = 2,
};
