/* cmd_serve.c — `lanegate serve` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_serve_usage(FILE *out)
{
    fprintf(out, "usage: lanegate serve (not available yet)\n");
}

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate serve: not available yet\n");
    return LG_EXIT_USAGE;
}
