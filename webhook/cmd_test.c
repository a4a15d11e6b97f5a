/* cmd_test.c — `lanegate test` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_test_usage(FILE *out)
{
    fprintf(out, "usage: lanegate test (not available yet)\n");
}

int cmd_test(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate test: not available yet\n");
    return LG_EXIT_USAGE;
}
