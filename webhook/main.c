/* main.c — argv to subcommand, nothing else. */
#include <string.h>

#include "cmd.h"
#include "engine.h"

static void version_usage(FILE *out)
{
    fprintf(out, "usage: lanegate version\n\nPrints the version.\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("lanegate %s\n", LG_VERSION);
    return LG_EXIT_OK;
}

static const lg_cmd commands[] = {
    {"check", cmd_check, cmd_check_usage, "evaluate manifests or reviews against the policies"},
    {"review", cmd_review, cmd_review_usage, "answer one AdmissionReview as the webhook would"},
    {"test", cmd_test, cmd_test_usage, "run policy test suites"},
    {"lint", cmd_lint, cmd_lint_usage, "validate policy files"},
    {"serve", cmd_serve, cmd_serve_usage, "run the HTTPS admission webhook"},
    {"certs", cmd_certs, cmd_certs_usage, "generate or check webhook certificates"},
    {"version", cmd_version, version_usage, "print the version"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: lanegate <command> [options]\n\n"
                 "Admission webhook and policy CLI for CI-runner lanes.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'lanegate help <command>' or 'lanegate <command> --help' for details.\n"
                 "exit codes: 0 ok/allowed, 1 denied or test failed, 2 usage, input or policy error\n");
}

static const lg_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return LG_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        if (!strcmp(name, "help") && argc > 2) {
            const lg_cmd *c = find_command(argv[2]);
            if (!c) {
                fprintf(stderr, "lanegate: unknown command '%s'\n", argv[2]);
                return LG_EXIT_USAGE;
            }
            c->usage(stdout);
            return LG_EXIT_OK;
        }
        usage(stdout);
        return LG_EXIT_OK;
    }
    if (!strcmp(name, "--version"))
        return cmd_version(argc - 1, argv + 1);
    const lg_cmd *c = find_command(name);
    if (!c) {
        fprintf(stderr, "lanegate: unknown command '%s'\n\n", name);
        usage(stderr);
        return LG_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            c->usage(stdout);
            return LG_EXIT_OK;
        }
    }
    return c->run(argc - 1, argv + 1);
}
