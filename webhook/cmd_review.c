/* cmd_review.c — `lanegate review` (not written yet: the issue that owns it is open). */
#include "cmd.h"

void cmd_review_usage(FILE *out)
{
    fprintf(out, "usage: lanegate review (not available yet)\n");
}

int cmd_review(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lanegate review: not available yet\n");
    return LG_EXIT_USAGE;
}
