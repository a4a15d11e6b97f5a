/* cmd_certs.c — `lanegate certs` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_certs_usage(FILE *out)
{
    fprintf(out, "usage: lanegate certs (not available yet)\n");
}

int cmd_certs(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate certs: not available yet\n");
    return LG_EXIT_USAGE;
}
