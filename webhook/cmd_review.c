/* cmd_review.c — `lanegate review`: one AdmissionReview in, the webhook's answer out.
 * The response bytes come from lg_review_handle, the function the server calls, and
 * are written exactly as the server sends them: compact JSON, no trailing newline.
 * Exit 0 when a response was produced (allowed or denied), 2 otherwise. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_io.h"
#include "cmd.h"

enum { O_VALIDATE, O_MUTATE, O_POLICIES };
static const lg_cli_opt opts[] = {
    [O_VALIDATE] = {"validate", 0, NULL, "answer as the /validate endpoint"},
    [O_MUTATE] = {"mutate", 0, NULL, "answer as the /mutate endpoint"},
    [O_POLICIES] = {"policies", 0, "DIR", "policy directory (default ./policies)"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

void cmd_review_usage(FILE *out)
{
    fprintf(out,
            "usage: lanegate review --validate|--mutate [--policies DIR] [FILE|-]\n\n"
            "Reads one AdmissionReview v1 request (JSON, at most %zu MiB, as the server) from\nFILE or stdin "
            "and prints the AdmissionReview v1 response byte for byte as `lanegate serve`\n"
            "answers it on /validate or /mutate: compact JSON, no trailing newline.\n\noptions:\n",
            LG_CLI_MAX_REVIEW >> 20);
    lg_cli_print_options(out, opts, NOPTS);
    fprintf(out, "\nexit: 0 a response was printed (allowed or denied), 2 usage, input or policy error\n");
}

int cmd_review(int argc, char **argv)
{
    const char *dir = "policies", *arg;
    int endpoint = -1;
    for (int c; (c = lg_cli_next(argc, argv, opts, NOPTS, "review", &arg)) != LG_CLI_END;) {
        switch (c) {
        case O_VALIDATE:
        case O_MUTATE: {
            int ep = c == O_VALIDATE ? LG_ENDPOINT_VALIDATE : LG_ENDPOINT_MUTATE;
            if (endpoint >= 0 && endpoint != ep) {
                fprintf(stderr, "lanegate review: give either --validate or --mutate, not both\n");
                return LG_EXIT_USAGE;
            }
            endpoint = ep;
            break;
        }
        case O_POLICIES: dir = arg; break;
        default: return LG_EXIT_USAGE;
        }
    }
    if (endpoint < 0) {
        fprintf(stderr, "lanegate review: --validate or --mutate is required\n"
                        "Try 'lanegate review --help'.\n");
        return LG_EXIT_USAGE;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "lanegate review: one FILE at most (got %d)\n", argc - optind);
        return LG_EXIT_USAGE;
    }
    const char *path = optind < argc ? argv[optind] : "-";

    char *body, err[600];
    size_t len;
    if (!lg_cli_read(path, LG_CLI_MAX_REVIEW, &body, &len, err, sizeof err)) {
        fprintf(stderr, "lanegate review: %s\n", err);
        return LG_EXIT_USAGE;
    }
    lg_policy_set *set = lg_cli_load_policies("review", dir);
    if (!set) {
        free(body);
        return LG_EXIT_USAGE;
    }

    lg_review_result r;
    lg_status st = lg_review_handle(set, (lg_endpoint)endpoint, body, len, &r);
    int rc = LG_EXIT_OK;
    if (st == LG_OK && r.http_status == 200) {
        if (fwrite(r.body, 1, r.body_len, stdout) != r.body_len || fflush(stdout) != 0) {
            fprintf(stderr, "lanegate review: cannot write the response\n");
            rc = LG_EXIT_USAGE;
        }
    } else {
        fprintf(stderr, "lanegate review: %s: %s\n", strcmp(path, "-") ? path : "<stdin>",
                r.reasons ? r.reasons : lg_strerror(st));
        rc = LG_EXIT_USAGE;
    }
    lg_review_result_free(&r);
    lg_policy_set_unref(set);
    free(body);
    return rc;
}
