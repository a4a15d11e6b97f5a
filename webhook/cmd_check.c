/* cmd_check.c — `lanegate check`: dry-run the policies over manifests, AdmissionReview
 * requests or whole `kubectl get -o json` lists.
 * Every object is mutated then validated (LG_EVAL_MUTATE|LG_EVAL_VALIDATE), as the
 * apiserver runs mutating webhooks before validating ones. Output formats: text
 * (a verdict line per object), json (one array), patched (the mutated objects).
 * Exit 0 all allowed, 1 any denied, 2 usage, input or policy error (errors win). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_io.h"
#include "cmd.h"

enum { O_POLICIES, O_NAMESPACE, O_OPERATION, O_USER, O_GROUP, O_EXPLAIN, O_OUTPUT };
static const lg_cli_opt opts[] = {
    [O_POLICIES] = {"policies", 0, "DIR", "policy directory (default ./policies)"},
    [O_NAMESPACE] = {"namespace", 'n', "NS", "evaluate every object as if in namespace NS"},
    [O_OPERATION] = {"operation", 0, "OP", "CREATE (default for manifests), UPDATE, DELETE, CONNECT"},
    [O_USER] = {"user", 0, "NAME", "requesting user (AdmissionReview userInfo.username)"},
    [O_GROUP] = {"group", 0, "G", "a group of the requesting user; repeat for more"},
    [O_EXPLAIN] = {"explain", 0, NULL, "show the outcome of every rule"},
    [O_OUTPUT] = {"output", 'o', "FORMAT", "text (default), json or patched"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

typedef enum { OUT_TEXT, OUT_JSON, OUT_PATCHED } out_format;

void cmd_check_usage(FILE *out)
{
    fprintf(out,
            "usage: lanegate check [--policies DIR] [--namespace NS] [--operation OP] [--user NAME]\n"
            "                      [--group G]... [--explain] [-o text|json|patched] FILE...\n\n"
            "Evaluates every object in FILE (or stdin for '-') against the policies, as the\n"
            "webhook would: mutation first, then validation of the mutated object. FILE holds\n"
            "YAML or JSON documents: manifests (Pod, Deployment, ...), AdmissionReview requests,\n"
            "or lists such as `kubectl get pods,deployments -A -o json` prints (their items are\n"
            "evaluated one by one). The overrides apply to AdmissionReview requests too.\n\n"
            "options:\n");
    lg_cli_print_options(out, opts, NOPTS);
    fprintf(out,
            "\noutput:\n"
            "  text     ALLOW|DENY KIND NS/NAME lane=LANE [(notes)], then one line per finding\n"
            "           (\"  enforce|warn|audit <message>\") and with --explain per rule\n"
            "           (\"  rule POLICY/RULE pass|fail|skip: detail\")\n"
            "  json     one array: {file, index, [item,] kind, namespace, name, operation, lane,\n"
            "           laneLabel, allowed, inScope, findings, warnings, patch[, explain]} per object\n"
            "  patched  each object after the mutation, as indented JSON\n"
            "\nexit: 0 all allowed, 1 any denied, 2 usage, input or policy error\n");
}

typedef struct check_ctx {
    const lg_policy_set *set;
    lg_cli_overrides ov;
    unsigned flags;
    out_format format;
    json_t *results; /* -o json */
    bool denied, error;
} check_ctx;

static void report_error(check_ctx *c, const char *file, long index, long item, const char *msg)
{
    char where[64] = "";
    if (index >= 0 && item >= 0)
        snprintf(where, sizeof where, "document %ld, item %ld: ", index + 1, item + 1);
    else if (index >= 0)
        snprintf(where, sizeof where, "document %ld: ", index + 1);
    fprintf(stderr, "lanegate check: %s: %s%s\n", file, where, msg);
    c->error = true;
    if (c->results) {
        json_t *e = json_pack("{s:s, s:s}", "file", file, "error", msg);
        if (e && index >= 0)
            json_object_set_new(e, "index", json_integer(index));
        if (e && item >= 0)
            json_object_set_new(e, "item", json_integer(item));
        json_array_append_new(c->results, e);
    }
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

/* A finding's message already starts with "<policy>: " (the engine names the policy). */
static void print_finding(const lg_finding *f)
{
    size_t n = strlen(f->policy);
    printf("  %s ", lg_mode_name(f->mode));
    if (strncmp(f->message, f->policy, n) || f->message[n] != ':') {
        lg_cli_put(stdout, f->policy);
        fputs(": ", stdout);
    }
    lg_cli_put(stdout, f->message);
    putchar('\n');
}

/* Every string that comes from the object goes through lg_cli_put. */
static void print_text(const lg_request *req, const lg_verdict *v, bool explain)
{
    printf("%s ", v->allowed ? "ALLOW" : "DENY");
    lg_cli_put(stdout, or_dash(req->kind));
    putchar(' ');
    lg_cli_put(stdout, or_dash(req->namespace));
    putchar('/');
    lg_cli_put(stdout, or_dash(req->name));
    fputs(" lane=", stdout);
    lg_cli_put(stdout, or_dash(v->lane));
    if (!v->in_scope)
        printf(" (not evaluated)");
    if (!v->lane && v->lane_label) {
        fputs(" (label \"", stdout);
        lg_cli_put(stdout, v->lane_label);
        fputs("\" not granted)", stdout);
    }
    size_t ops = json_array_size(v->patch);
    if (ops)
        printf(" (patch: %zu op%s)", ops, ops == 1 ? "" : "s");
    putchar('\n');
    for (size_t i = 0; i < v->nfindings; i++)
        print_finding(&v->findings[i]);
    for (size_t i = 0; explain && i < v->nexplain; i++) {
        const lg_explain *x = &v->explain[i];
        printf("  rule %s/%s %s", x->policy, x->rule, lg_outcome_name(x->outcome));
        if (x->detail) {
            fputs(": ", stdout);
            lg_cli_put(stdout, x->detail);
        }
        putchar('\n');
    }
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *result_json(const char *file, long index, long item, const lg_request *req,
                           const lg_verdict *v, bool explain)
{
    json_t *o = json_object(), *findings = json_array(), *warnings = json_array();
    if (!o || !findings || !warnings)
        goto oom;
    for (size_t i = 0; i < v->nfindings; i++) {
        const lg_finding *f = &v->findings[i];
        json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:s}", "policy", f->policy, "control",
                              f->control, "mode", lg_mode_name(f->mode), "path", str_or_null(f->path),
                              "message", f->message);
        if (!j || json_array_append_new(findings, j))
            goto oom;
        if (f->mode == LG_MODE_WARN && f->warning &&
            json_array_append_new(warnings, json_string(f->warning)))
            goto oom;
    }
    json_object_set_new(o, "file", json_string(file));
    json_object_set_new(o, "index", json_integer(index));
    if (item >= 0)
        json_object_set_new(o, "item", json_integer(item));
    json_object_set_new(o, "kind", str_or_null(req->kind));
    json_object_set_new(o, "namespace", str_or_null(req->namespace));
    json_object_set_new(o, "name", str_or_null(req->name));
    json_object_set_new(o, "operation", json_string(lg_op_name(req->op)));
    json_object_set_new(o, "lane", str_or_null(v->lane));
    json_object_set_new(o, "laneLabel", str_or_null(v->lane_label));
    json_object_set_new(o, "allowed", json_boolean(v->allowed));
    json_object_set_new(o, "inScope", json_boolean(v->in_scope));
    json_object_set_new(o, "findings", findings);
    json_object_set_new(o, "warnings", warnings);
    json_object_set_new(o, "patch", json_incref(v->patch));
    if (explain) {
        json_t *ex = json_array();
        for (size_t i = 0; ex && i < v->nexplain; i++) {
            const lg_explain *x = &v->explain[i];
            json_array_append_new(ex, json_pack("{s:s, s:s, s:s, s:o}", "policy", x->policy, "rule",
                                                x->rule, "outcome", lg_outcome_name(x->outcome),
                                                "detail", str_or_null(x->detail)));
        }
        json_object_set_new(o, "explain", ex);
    }
    return o;
oom:
    json_decref(o);
    json_decref(findings);
    json_decref(warnings);
    return NULL;
}

static void check_object(check_ctx *c, const char *file, long index, long item, json_t *doc)
{
    lg_request req;
    lg_diag d = {0};
    if (!json_is_object(doc)) {
        report_error(c, file, index, item, "not an object");
        return;
    }
    if (lg_cli_is_list(doc)) { /* a list inside a list: judge its items, never skip them */
        size_t j;
        json_t *it;
        json_array_foreach(json_object_get(doc, "items"), j, it)
            check_object(c, file, index, (long)j, it);
        return;
    }
    lg_status st = lg_cli_request(doc, &c->ov, &req, &d);
    if (st != LG_OK) {
        report_error(c, file, index, item, d.msg[0] ? d.msg : lg_strerror(st));
        return;
    }
    lg_verdict v;
    st = lg_evaluate(c->set, &req, c->flags, &v, &d);
    if (st != LG_OK) {
        report_error(c, file, index, item, d.msg[0] ? d.msg : lg_strerror(st));
        return;
    }
    if (!v.allowed)
        c->denied = true;
    switch (c->format) {
    case OUT_TEXT: print_text(&req, &v, c->flags & LG_EVAL_EXPLAIN); break;
    case OUT_JSON: {
        json_t *r = result_json(file, index, item, &req, &v, c->flags & LG_EVAL_EXPLAIN);
        if (!r || json_array_append_new(c->results, r))
            report_error(c, file, index, item, lg_strerror(LG_ERR_NOMEM));
        break;
    }
    case OUT_PATCHED: {
        const json_t *obj = v.patched ? v.patched : req.object;
        char *s = obj ? json_dumps(obj, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        else
            report_error(c, file, index, item, obj ? lg_strerror(LG_ERR_NOMEM) : "no object");
        free(s);
        break;
    }
    }
    lg_verdict_free(&v);
}

static void check_file(check_ctx *c, const char *path)
{
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    char *buf, err[600];
    size_t len;
    if (!lg_cli_read(path, LG_CLI_MAX_INPUT, &buf, &len, err, sizeof err)) {
        report_error(c, name, -1, -1, err);
        return;
    }
    json_t *docs = NULL;
    lg_diag d = {0};
    lg_status st = lg_documents_parse(name, buf, len, &docs, &d);
    free(buf);
    if (st != LG_OK) {
        char line[1200];
        lg_diag_format(&d, line, sizeof line);
        fprintf(stderr, "lanegate check: %s\n", line);
        c->error = true;
        if (c->results)
            json_array_append_new(c->results, json_pack("{s:s, s:s}", "file", name, "error", line));
        return;
    }
    if (json_array_size(docs) == 0)
        report_error(c, name, -1, -1, "no documents");
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc) {
        check_object(c, name, (long)i, -1, doc);
    }
    json_decref(docs);
}

int cmd_check(int argc, char **argv)
{
    const char *dir = "policies", *arg;
    check_ctx c = {.flags = LG_EVAL_VALIDATE | LG_EVAL_MUTATE, .format = OUT_TEXT};
    json_t *groups = NULL;
    int rc = LG_EXIT_USAGE;
    for (int o; (o = lg_cli_next(argc, argv, opts, NOPTS, "check", &arg)) != LG_CLI_END;) {
        switch (o) {
        case O_POLICIES: dir = arg; break;
        case O_NAMESPACE:
            if (!*arg) {
                fprintf(stderr, "lanegate check: --namespace needs a name\n");
                goto out;
            }
            c.ov.namespace = arg;
            break;
        case O_OPERATION:
            if (!lg_cli_parse_op(arg, &c.ov.op)) {
                fprintf(stderr, "lanegate check: unknown operation '%s' (CREATE, UPDATE, DELETE or CONNECT)\n", arg);
                goto out;
            }
            c.ov.has_op = true;
            break;
        case O_USER: c.ov.username = arg; break;
        case O_GROUP:
            if ((!groups && !(groups = json_array())) || json_array_append_new(groups, json_string(arg))) {
                fprintf(stderr, "lanegate check: out of memory\n");
                goto out;
            }
            break;
        case O_EXPLAIN: c.flags |= LG_EVAL_EXPLAIN; break;
        case O_OUTPUT:
            if (!strcmp(arg, "text"))
                c.format = OUT_TEXT;
            else if (!strcmp(arg, "json"))
                c.format = OUT_JSON;
            else if (!strcmp(arg, "patched"))
                c.format = OUT_PATCHED;
            else {
                fprintf(stderr, "lanegate check: unknown output format '%s' (text, json or patched)\n", arg);
                goto out;
            }
            break;
        default: goto out;
        }
    }
    c.ov.groups = groups;
    if (optind >= argc) {
        fprintf(stderr, "lanegate check: no FILE given (use '-' for stdin)\nTry 'lanegate check --help'.\n");
        goto out;
    }
    int stdins = 0;
    for (int i = optind; i < argc; i++)
        stdins += !strcmp(argv[i], "-");
    if (stdins > 1) {
        fprintf(stderr, "lanegate check: '-' (stdin) given more than once\n");
        goto out;
    }

    lg_policy_set *set = lg_cli_load_policies("check", dir);
    if (!set)
        goto out;
    c.set = set;
    if (c.format == OUT_JSON && !(c.results = json_array())) {
        lg_policy_set_unref(set);
        goto out;
    }
    for (int i = optind; i < argc; i++)
        check_file(&c, argv[i]);
    if (c.results) {
        char *s = json_dumps(c.results, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        else
            c.error = true;
        free(s);
        json_decref(c.results);
    }
    lg_policy_set_unref(set);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lanegate check: cannot write the output\n");
        c.error = true;
    }
    rc = c.error ? LG_EXIT_USAGE : c.denied ? LG_EXIT_DENIED : LG_EXIT_OK;
out:
    json_decref(groups);
    return rc;
}
