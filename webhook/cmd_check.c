/* cmd_check.c — `lanegate check` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_check_usage(FILE *out)
{
    fprintf(out, "usage: lanegate check (not available yet)\n");
}

int cmd_check(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate check: not available yet\n");
    return LG_EXIT_USAGE;
}
