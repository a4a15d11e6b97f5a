/* cmd_lint.c — `lanegate lint`: load a policy directory (or files) the way the
 * webhook would and list every problem as file:line:col: message.
 * Diagnostics go to stderr, the one-line summary to stdout; exit 0 when the
 * set is valid, 2 otherwise (and on usage errors). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"

void cmd_lint_usage(FILE *out)
{
    fprintf(out,
            "usage: lanegate lint [--policies DIR] [FILE...]\n"
            "\n"
            "Validates policy files exactly as the webhook loads them: unknown keys, wrong\n"
            "types, bad values, duplicate names, YAML errors. Every problem is printed to\n"
            "stderr as FILE:LINE:COL: MESSAGE; a summary goes to stdout.\n"
            "\n"
            "  --policies DIR  policy directory (default ./policies): every *.yaml and *.yml\n"
            "                  file in it, in name order, not recursive\n"
            "  FILE...         lint these files as one policy set instead of a directory\n"
            "\n"
            "exit codes: 0 valid, 2 invalid policies or usage error\n");
}

int cmd_lint(int argc, char **argv)
{
    const char *dir = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t nfiles = 0;
    if (!files) {
        fprintf(stderr, "lanegate lint: out of memory\n");
        return LG_EXIT_USAGE;
    }
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && !strcmp(a, "--")) {
            only_files = true;
        } else if (!only_files && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            cmd_lint_usage(stdout);
            free(files);
            return LG_EXIT_OK;
        } else if (!only_files && !strcmp(a, "--policies")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lanegate lint: --policies needs a directory\n\n");
                goto usage;
            }
            dir = argv[++i];
        } else if (!only_files && !strncmp(a, "--policies=", 11)) {
            dir = a + 11;
        } else if (!only_files && a[0] == '-' && a[1]) {
            fprintf(stderr, "lanegate lint: unknown option '%s'\n\n", a);
            goto usage;
        } else {
            files[nfiles++] = a;
        }
    }
    if (dir && nfiles) {
        fprintf(stderr, "lanegate lint: give either --policies DIR or files, not both\n\n");
        goto usage;
    }
    if (dir && !dir[0]) {
        fprintf(stderr, "lanegate lint: --policies needs a directory\n\n");
        goto usage;
    }

    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    lg_status st = nfiles ? lg_policy_load_files(files, nfiles, &set, &diags)
                          : lg_policy_load_dir(dir ? dir : "policies", &set, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        char line[1200];
        lg_diag_format(&diags.v[i], line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    int rc;
    if (st == LG_OK) {
        size_t n = lg_policy_set_count(set);
        printf("%zu policy object%s OK\n", n, n == 1 ? "" : "s");
        rc = LG_EXIT_OK;
    } else {
        size_t n = diags.n ? diags.n : 1;
        if (!diags.n)
            fprintf(stderr, "lanegate lint: %s\n", lg_strerror(st));
        printf("%zu error%s\n", n, n == 1 ? "" : "s");
        rc = LG_EXIT_USAGE;
    }
    lg_diags_free(&diags);
    lg_policy_set_unref(set);
    free(files);
    return rc;

usage:
    cmd_lint_usage(stderr);
    free(files);
    return LG_EXIT_USAGE;
}
