/* virtsnap unpin: release a pinned snapshot to retention again (the
 * option handling is shared with `pin`, in cmd-pin.c). */
#include <stdbool.h>

#include "cli-store.h"
#include "commands.h"

int
vs_cmd_unpin(int argc, char **argv)
{
        return vs_cli_pin_main(argc, argv, false);
}
