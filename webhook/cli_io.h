/* cli_io.h — what the CLI fronts (check, review, test) share: reading a file or
 * stdin under a size cap, one option table per subcommand that drives both
 * getopt_long and the usage text, and turning one parsed document into an
 * lg_request the way `lanegate check` does. Front-only: fronts include this and
 * engine.h. Nothing here prints except lg_cli_next (usage errors, to stderr). */
#ifndef LG_CLI_IO_H
#define LG_CLI_IO_H

#include <stdio.h>

#include "engine.h"

/* Input ceilings. check/test may read a whole cluster's `kubectl get -o json`;
 * review reads one AdmissionReview, capped like the server's request body. */
#define LG_CLI_MAX_INPUT ((size_t)512 << 20)
#define LG_CLI_MAX_REVIEW ((size_t)7 << 20)

/* Reads path ("-" = stdin) whole into a NUL-terminated malloc'd *buf. Returns
 * false with a message in err when it cannot be read or is over max bytes. */
bool lg_cli_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errsz);

typedef struct lg_cli_opt {
    const char *name; /* long name, without "--" */
    char short_name;  /* 0 if none */
    const char *arg;  /* argument placeholder, NULL for a flag */
    const char *help;
} lg_cli_opt;

enum { LG_CLI_END = -1, LG_CLI_ERROR = -2 };

/* Next option of argv (GNU order: options may follow operands; "--" ends them).
 * Returns its index in opts (argument in *arg), LG_CLI_END when done (operands
 * are then argv[optind..]), or LG_CLI_ERROR after printing "lanegate PROG: ..." */
int lg_cli_next(int argc, char **argv, const lg_cli_opt *opts, size_t n, const char *prog,
                const char **arg);
/* Prints the option table, one aligned line per option. */
void lg_cli_print_options(FILE *out, const lg_cli_opt *opts, size_t n);

/* What `check` and `test` let the user override on every request. */
typedef struct lg_cli_overrides {
    const char *namespace; /* NULL: keep */
    bool has_op;
    lg_op op;
    const char *username;  /* NULL: keep */
    json_t *groups;        /* borrowed array of strings; NULL: keep */
} lg_cli_overrides;

/* doc is a manifest or an AdmissionReview (kind: AdmissionReview). Fills req
 * (borrowing from doc and ov) and applies the overrides. */
lg_status lg_cli_request(json_t *doc, const lg_cli_overrides *ov, lg_request *req, lg_diag *diag);

/* Whether doc is a list (kind ending in "List" with an "items" array). Items
 * without kind/apiVersion (raw API lists such as PodList) get them filled from
 * the list ("PodList" -> "Pod"). */
bool lg_cli_is_list(json_t *doc);

/* Writes s with control characters escaped (\n, \t, \xNN), so the strings of a
 * judged object cannot forge lines of a text report. NULL prints "-". */
void lg_cli_put(FILE *out, const char *s);

/* Parses op case-insensitively ("create" -> LG_OP_CREATE). */
bool lg_cli_parse_op(const char *s, lg_op *op);

/* Loads the policy directory for subcommand prog; on failure prints every
 * diagnostic as file:line:col and a summary line to stderr and returns NULL. */
lg_policy_set *lg_cli_load_policies(const char *prog, const char *dir);

#endif
