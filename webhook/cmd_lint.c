/* cmd_lint.c — `lanegate lint` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_lint_usage(FILE *out)
{
    fprintf(out, "usage: lanegate lint (not available yet)\n");
}

int cmd_lint(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate lint: not available yet\n");
    return LG_EXIT_USAGE;
}
