/* cmd.h — the subcommands main() dispatches to. Each cmd_<verb>.c owns its
 * options, its printing and its exit code; they call the engine through engine.h. */
#ifndef LG_CMD_H
#define LG_CMD_H

#include <stdio.h>

/* Exit codes shared by every subcommand (documented in README.md). */
enum { LG_EXIT_OK = 0, LG_EXIT_DENIED = 1, LG_EXIT_USAGE = 2 };

typedef struct lg_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    void (*usage)(FILE *out);
    const char *summary;
} lg_cmd;

int cmd_check(int argc, char **argv);
void cmd_check_usage(FILE *out);
int cmd_review(int argc, char **argv);
void cmd_review_usage(FILE *out);
int cmd_test(int argc, char **argv);
void cmd_test_usage(FILE *out);
int cmd_lint(int argc, char **argv);
void cmd_lint_usage(FILE *out);
int cmd_serve(int argc, char **argv);
void cmd_serve_usage(FILE *out);
int cmd_certs(int argc, char **argv);
void cmd_certs_usage(FILE *out);

#endif
