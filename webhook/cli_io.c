/* cli_io.c — front-only helpers shared by check, review and test: capped file
 * reading, table-driven option parsing and usage lines, document → request.
 * Not thread-safe (getopt's global state); used only from main's thread. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_io.h"

bool lg_cli_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errsz)
{
    bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return false;
    }
    size_t cap = 0, n = 0;
    char *b = NULL;
    bool ok = true;
    for (;;) {
        if (n == cap) {
            if (cap > max) { /* read one byte past max to know it is too big */
                snprintf(err, errsz, "%s: larger than %zu bytes", is_stdin ? "<stdin>" : path, max);
                ok = false;
                break;
            }
            size_t ncap = cap ? cap * 2 : 64 * 1024;
            if (ncap > max + 1)
                ncap = max + 1;
            char *p = realloc(b, ncap + 1);
            if (!p) {
                snprintf(err, errsz, "%s: out of memory", path);
                ok = false;
                break;
            }
            b = p;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                snprintf(err, errsz, "%s: %s", is_stdin ? "<stdin>" : path, strerror(errno));
                ok = false;
            }
            break;
        }
    }
    if (ok && n > max) {
        snprintf(err, errsz, "%s: larger than %zu bytes", is_stdin ? "<stdin>" : path, max);
        ok = false;
    }
    if (!is_stdin)
        fclose(f);
    if (!ok) {
        free(b);
        return false;
    }
    if (!b && !(b = malloc(1))) {
        snprintf(err, errsz, "%s: out of memory", path);
        return false;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return true;
}

int lg_cli_next(int argc, char **argv, const lg_cli_opt *opts, size_t n, const char *prog,
                const char **arg)
{
    struct option longs[32];
    char shorts[2 * 32 + 2] = ":"; /* leading ':' reports a missing argument as ':' */
    size_t s = 1;
    if (n >= 32)
        n = 31;
    for (size_t i = 0; i < n; i++) {
        longs[i] = (struct option){opts[i].name, opts[i].arg ? required_argument : no_argument,
                                   NULL, 256 + (int)i};
        if (opts[i].short_name) {
            shorts[s++] = opts[i].short_name;
            if (opts[i].arg)
                shorts[s++] = ':';
        }
    }
    shorts[s] = '\0';
    longs[n] = (struct option){0, 0, 0, 0};
    opterr = 0;
    int prev = optind;
    int c = getopt_long(argc, argv, shorts, longs, NULL);
    *arg = optarg;
    if (c == -1)
        return LG_CLI_END;
    if (c >= 256 && c < 256 + (int)n)
        return c - 256;
    for (size_t i = 0; i < n; i++)
        if (c == opts[i].short_name)
            return (int)i;
    /* argv[optind - 1] is the offending word, unless getopt is inside a group of short options */
    const char *word = optind > prev && optind - 1 < argc ? argv[optind - 1] : "?";
    if (c == ':')
        fprintf(stderr, "lanegate %s: option '%s' needs an argument\n", prog, word);
    else if (optopt && optopt < 256)
        fprintf(stderr, "lanegate %s: unknown option '-%c'\n", prog, optopt);
    else
        fprintf(stderr, "lanegate %s: unknown option '%s'\n", prog, word);
    fprintf(stderr, "Try 'lanegate %s --help'.\n", prog);
    return LG_CLI_ERROR;
}

void lg_cli_print_options(FILE *out, const lg_cli_opt *opts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char left[80], sh[8] = "    ";
        if (opts[i].short_name)
            snprintf(sh, sizeof sh, "-%c, ", opts[i].short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", sh, opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(out, "  %-24s %s\n", left, opts[i].help);
    }
}

void lg_cli_put(FILE *out, const char *s)
{
    if (!s) {
        fputc('-', out);
        return;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

bool lg_cli_parse_op(const char *s, lg_op *op)
{
    char up[16];
    size_t i;
    for (i = 0; s[i] && i + 1 < sizeof up; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    if (s[i])
        return false;
    up[i] = '\0';
    return lg_op_parse(up, op);
}

lg_status lg_cli_request(json_t *doc, const lg_cli_overrides *ov, lg_request *req, lg_diag *diag)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    lg_status st = kind && !strcmp(kind, "AdmissionReview") ? lg_request_from_review(doc, req, diag)
                                                             : lg_request_from_manifest(doc, req, diag);
    if (st != LG_OK || !ov)
        return st;
    if (ov->namespace)
        req->namespace = ov->namespace;
    if (ov->has_op)
        req->op = ov->op;
    if (ov->username)
        req->username = ov->username;
    if (ov->groups)
        req->groups = ov->groups;
    return LG_OK;
}

bool lg_cli_is_list(json_t *doc)
{
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    json_t *items = json_object_get(doc, "items");
    size_t n = kind ? strlen(kind) : 0;
    if (n < 4 || strcmp(kind + n - 4, "List") || !json_is_array(items))
        return false;
    json_t *api = json_object_get(doc, "apiVersion");
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        if (!json_is_object(item))
            continue;
        /* raw API lists (GET /api/v1/pods) leave kind and apiVersion off their items */
        if (n > 4 && !json_object_get(item, "kind"))
            json_object_set_new(item, "kind", json_stringn(kind, n - 4));
        if (n > 4 && json_is_string(api) && !json_object_get(item, "apiVersion"))
            json_object_set(item, "apiVersion", api);
    }
    return true;
}

lg_policy_set *lg_cli_load_policies(const char *prog, const char *dir)
{
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    lg_status st = lg_policy_load_dir(dir, &set, &diags);
    if (st != LG_OK) {
        char line[1200];
        for (size_t i = 0; i < diags.n; i++) {
            lg_diag_format(&diags.v[i], line, sizeof line);
            fprintf(stderr, "%s\n", line);
        }
        fprintf(stderr, "lanegate %s: cannot load policies from %s: %s\n", prog, dir, lg_strerror(st));
        set = NULL;
    }
    lg_diags_free(&diags);
    return set;
}
