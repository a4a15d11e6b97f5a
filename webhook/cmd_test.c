/* cmd_test.c — `lanegate test`: policy test suites (YAML, kind: Test; see README "CLI").
 *
 * Each case names one resource (manifest or AdmissionReview) and what must come of
 * it; the resource is evaluated exactly as `lanegate check` evaluates it (mutation,
 * then validation of the mutated object). Every stated expectation must hold:
 * a case expected to be denied that is allowed fails, and vice versa; `allowed` is
 * required, so no case can pass without saying what it expects. Suite files are
 * checked strictly (unknown keys, wrong types: file:line:col) before anything runs.
 * Exit 0 all passed, 1 any case failed, 2 a suite, resource or policy set is unusable. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_io.h"
#include "cmd.h"
#include "jsonpatch.h" /* lg_json_equal, lg_pointer_push: comparing and locating differences */
#include "yamldoc.h"   /* source positions for suite errors */

#define API_VERSION "lanegate.dev/v1"
#define MAX_WALK_DEPTH 32

enum { O_VERBOSE };
static const lg_cli_opt opts[] = {
    [O_VERBOSE] = {"verbose", 'v', NULL, "print a line for passing cases too"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

void cmd_test_usage(FILE *out)
{
    fprintf(out,
            "usage: lanegate test [-v] PATH...\n\n"
            "Runs policy test suites. PATH is a suite file, or a directory searched recursively\n"
            "for *.test.yaml and *.test.yml files. A suite (apiVersion: lanegate.dev/v1,\n"
            "kind: Test) names a policy directory and cases: a resource file and what must come\n"
            "of it (allowed, violations, warnings, lane, patch, patched object). Paths in a\n"
            "suite are relative to the suite file. Prints a FAIL line with expected and got for\n"
            "every failing case, then \"N passed, N failed\".\n\noptions:\n");
    lg_cli_print_options(out, opts, NOPTS);
    fprintf(out, "\nexit: 0 all passed, 1 any case failed, 2 usage error or unusable suite, resource or policies\n");
}

/* ---- run state ------------------------------------------------------------ */

typedef struct cached_set {
    char *dir;
    lg_policy_set *set; /* NULL: loading failed (already reported) */
} cached_set;

typedef struct run {
    bool verbose;
    size_t passed, failed;
    bool error;
    cached_set *sets;
    size_t nsets;
} run;

typedef struct suite_file {
    const char *path;
    char *dir;
    json_t *docs;
    lg_doc_marks marks;
} suite_file;

/* Where a node sits: parent[key] or parent[index]. */
typedef struct loc {
    const json_t *parent;
    const char *key;
    size_t index;
} loc;

static loc member_loc(const json_t *obj, const char *key)
{
    return (loc){obj, key, 0};
}

static loc index_loc(const json_t *arr, size_t i)
{
    return (loc){arr, NULL, i};
}

static void suite_error(run *r, const suite_file *sf, loc at, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void suite_error(run *r, const suite_file *sf, loc at, bool at_key, const char *fmt, ...)
{
    const lg_doc_mark *m = lg_doc_mark_find(&sf->marks, at.parent, at.key, at.index);
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m)
        fprintf(stderr, "%s:%d:%d: %s\n", sf->path, at_key ? m->key_line : m->line,
                at_key ? m->key_col : m->col, msg);
    else
        fprintf(stderr, "%s: %s\n", sf->path, msg);
    r->error = true;
}

/* "dir/rel" unless rel is absolute. */
static char *join_path(const char *dir, const char *rel)
{
    return rel[0] == '/' ? strdup(rel) : lg_strfmt("%s/%s", dir, rel);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static lg_policy_set *policies_for(run *r, const char *dir)
{
    for (size_t i = 0; i < r->nsets; i++)
        if (!strcmp(r->sets[i].dir, dir))
            return r->sets[i].set;
    cached_set *v = realloc(r->sets, (r->nsets + 1) * sizeof *v);
    char *copy = strdup(dir);
    if (!v || !copy) {
        if (v)
            r->sets = v;
        free(copy);
        fprintf(stderr, "lanegate test: out of memory\n");
        return NULL;
    }
    r->sets = v;
    lg_policy_set *set = lg_cli_load_policies("test", dir);
    r->sets[r->nsets++] = (cached_set){copy, set};
    return set;
}

/* ---- suite validation -------------------------------------------------------- */

typedef struct tcase {
    const char *name;
    loc at;
    const char *resource;
    loc resource_at;
    lg_cli_overrides ov;
    bool allowed;
    json_t *violations; /* array of "policy/control" strings, or NULL */
    bool has_warnings;
    json_int_t warnings;
    bool has_lane;
    const char *lane; /* NULL: expects no lane */
    json_t *patch;    /* or NULL */
    const char *patched;
    loc patched_at;
} tcase;

static bool only_keys(run *r, const suite_file *sf, const json_t *obj, const char *what,
                      const char *const *keys, size_t n)
{
    bool ok = true;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(k, keys[i]);
        if (!known) {
            char list[300] = "";
            for (size_t i = 0; i < n; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", keys[i]);
            suite_error(r, sf, member_loc(obj, k), true, "unknown key \"%s\" in %s (known: %s)", k,
                        what, list);
            ok = false;
        }
    }
    return ok;
}

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_OBJECT: return "a mapping";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "true or false";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* obj[key] if it has type t (JSON_TRUE stands for any boolean). Missing: NULL, an
 * error if required (reported at obj, which sits at obj_at). Wrong type: error. */
static json_t *get(run *r, const suite_file *sf, const json_t *obj, loc obj_at, const char *key,
                   json_type t, bool required, bool *ok)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) {
            suite_error(r, sf, obj_at, false, "\"%s\" is required", key);
            *ok = false;
        }
        return NULL;
    }
    bool good = t == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == t;
    if (!good) {
        suite_error(r, sf, member_loc(obj, key), false, "\"%s\" must be %s", key, type_name(t));
        *ok = false;
        return NULL;
    }
    if (t == JSON_STRING && !*json_string_value(v) && required) {
        suite_error(r, sf, member_loc(obj, key), false, "\"%s\" must not be empty", key);
        *ok = false;
        return NULL;
    }
    return v;
}

static bool parse_expect(run *r, const suite_file *sf, const json_t *ex, loc ex_at, tcase *tc)
{
    static const char *const keys[] = {"allowed", "violations", "warnings", "lane", "patch", "patched"};
    bool ok = only_keys(r, sf, ex, "expect", keys, LG_ARRAY_LEN(keys));
    json_t *allowed = get(r, sf, ex, ex_at, "allowed", JSON_TRUE, true, &ok);
    tc->allowed = json_is_true(allowed);
    tc->violations = get(r, sf, ex, ex_at, "violations", JSON_ARRAY, false, &ok);
    size_t i;
    json_t *v;
    json_array_foreach(tc->violations, i, v) {
        const char *s = json_string_value(v);
        const char *slash = s ? strchr(s, '/') : NULL;
        if (!slash || slash == s || !slash[1]) {
            suite_error(r, sf, index_loc(tc->violations, i), false,
                        "a violation is written POLICY/CONTROL, e.g. lane-privilege/privileged");
            ok = false;
        }
    }
    json_t *w = json_object_get(ex, "warnings");
    if (w) {
        if (!json_is_integer(w) || json_integer_value(w) < 0) {
            suite_error(r, sf, member_loc(ex, "warnings"), false, "\"warnings\" must be a count (0 or more)");
            ok = false;
        }
        tc->has_warnings = true;
        tc->warnings = json_integer_value(w);
    }
    json_t *lane = json_object_get(ex, "lane");
    if (lane) {
        if (!json_is_string(lane) && !json_is_null(lane)) {
            suite_error(r, sf, member_loc(ex, "lane"), false, "\"lane\" must be a lane name or null (no lane)");
            ok = false;
        }
        tc->has_lane = true;
        tc->lane = json_string_value(lane);
    }
    tc->patch = get(r, sf, ex, ex_at, "patch", JSON_ARRAY, false, &ok);
    json_t *patched = get(r, sf, ex, ex_at, "patched", JSON_STRING, false, &ok);
    tc->patched = json_string_value(patched);
    tc->patched_at = member_loc(ex, "patched");
    return ok;
}

static bool parse_case(run *r, const suite_file *sf, const json_t *c, loc at, tcase *tc)
{
    static const char *const keys[] = {"name", "resource", "namespace", "operation", "user", "groups", "expect"};
    memset(tc, 0, sizeof *tc);
    tc->at = at;
    if (!json_is_object(c)) {
        suite_error(r, sf, at, false, "a case must be a mapping");
        return false;
    }
    bool ok = only_keys(r, sf, c, "a case", keys, LG_ARRAY_LEN(keys));
    tc->name = json_string_value(get(r, sf, c, at, "name", JSON_STRING, true, &ok));
    tc->resource = json_string_value(get(r, sf, c, at, "resource", JSON_STRING, true, &ok));
    tc->resource_at = member_loc(c, "resource");
    tc->ov.namespace = json_string_value(get(r, sf, c, at, "namespace", JSON_STRING, false, &ok));
    if (tc->ov.namespace && !*tc->ov.namespace) {
        suite_error(r, sf, member_loc(c, "namespace"), false, "\"namespace\" must not be empty");
        ok = false;
    }
    const char *op = json_string_value(get(r, sf, c, at, "operation", JSON_STRING, false, &ok));
    if (op && !(tc->ov.has_op = lg_cli_parse_op(op, &tc->ov.op))) {
        suite_error(r, sf, member_loc(c, "operation"), false,
                    "unknown operation \"%s\" (CREATE, UPDATE, DELETE or CONNECT)", op);
        ok = false;
    }
    tc->ov.username = json_string_value(get(r, sf, c, at, "user", JSON_STRING, false, &ok));
    json_t *groups = get(r, sf, c, at, "groups", JSON_ARRAY, false, &ok);
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) if (!json_is_string(g)) {
        suite_error(r, sf, index_loc(groups, i), false, "a group must be a string");
        ok = false;
    }
    tc->ov.groups = groups;
    json_t *ex = get(r, sf, c, at, "expect", JSON_OBJECT, true, &ok);
    if (ex && !parse_expect(r, sf, ex, member_loc(c, "expect"), tc))
        ok = false;
    return ok;
}

/* ---- comparing ------------------------------------------------------------------ */

/* Sorted, de-duplicated copy of an array of strings. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char *set_string(const char **v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_str);
    lg_buf b;
    lg_buf_init(&b, 0);
    lg_buf_adds(&b, "[");
    for (size_t i = 0, out = 0; i < n; i++) {
        if (i && !strcmp(v[i], v[i - 1]))
            continue;
        lg_buf_addf(&b, "%s%s", out++ ? ", " : "", v[i]);
    }
    lg_buf_adds(&b, "]");
    return lg_buf_take(&b);
}

static char *got_violations(const lg_verdict *v)
{
    const char **names = calloc(v->nfindings + 1, sizeof *names);
    char **owned = calloc(v->nfindings + 1, sizeof *owned);
    char *s = NULL;
    if (names && owned) {
        size_t n = 0;
        for (; n < v->nfindings; n++)
            if (!(names[n] = owned[n] = lg_strfmt("%s/%s", v->findings[n].policy, v->findings[n].control)))
                break;
        if (n == v->nfindings)
            s = set_string(names, n);
        for (size_t i = 0; i < n; i++)
            free(owned[i]);
    }
    free(names);
    free(owned);
    return s;
}

static char *want_violations(const json_t *arr)
{
    size_t n = json_array_size(arr);
    const char **names = calloc(n + 1, sizeof *names);
    if (!names)
        return NULL;
    for (size_t i = 0; i < n; i++)
        names[i] = json_string_value(json_array_get(arr, i));
    char *s = set_string(names, n);
    free(names);
    return s;
}

/* Compact JSON, cut to a readable length. */
static char *short_json(const json_t *j)
{
    if (!j)
        return strdup("(absent)");
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s && strlen(s) > 300)
        memcpy(s + 296, " ...", 5);
    return s;
}

/* The first place where want and got differ: its pointer in *path, the two values. */
static void first_difference(const json_t *want, const json_t *got, lg_buf *path,
                             const json_t **w, const json_t **g)
{
    if (json_is_object(want) && json_is_object(got)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)want, k, v) {
            json_t *o = json_object_get(got, k);
            if (!o || !lg_json_equal(v, o)) {
                lg_pointer_push(path, k);
                if (!o) {
                    *w = v;
                    *g = NULL;
                    return;
                }
                first_difference(v, o, path, w, g);
                return;
            }
        }
        json_object_foreach((json_t *)got, k, v) {
            if (!json_object_get(want, k)) {
                lg_pointer_push(path, k);
                *w = NULL;
                *g = v;
                return;
            }
        }
    }
    if (json_is_array(want) && json_is_array(got) && json_array_size(want) == json_array_size(got)) {
        for (size_t i = 0; i < json_array_size(want); i++) {
            if (!lg_json_equal(json_array_get(want, i), json_array_get(got, i))) {
                lg_pointer_push_index(path, i);
                first_difference(json_array_get(want, i), json_array_get(got, i), path, w, g);
                return;
            }
        }
    }
    *w = want;
    *g = got;
}

/* Reads a file that must hold exactly one document (resource, expected object). */
static json_t *load_one(run *r, const suite_file *sf, loc at, const char *path, const char *what)
{
    char *buf, err[600];
    size_t len;
    if (!lg_cli_read(path, LG_CLI_MAX_INPUT, &buf, &len, err, sizeof err)) {
        suite_error(r, sf, at, false, "cannot read %s: %s", what, err);
        return NULL;
    }
    json_t *docs = NULL;
    lg_diag d = {0};
    lg_status st = lg_documents_parse(path, buf, len, &docs, &d);
    free(buf);
    if (st != LG_OK) {
        char line[1200];
        lg_diag_format(&d, line, sizeof line);
        suite_error(r, sf, at, false, "%s: %s", what, line);
        return NULL;
    }
    if (json_array_size(docs) != 1 || !json_is_object(json_array_get(docs, 0))) {
        suite_error(r, sf, at, false, "%s %s must hold exactly one object (it holds %zu documents)",
                    what, path, json_array_size(docs));
        json_decref(docs);
        return NULL;
    }
    json_t *doc = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    if (!strcmp(what, "resource") && lg_cli_is_list(doc)) { /* would be "not evaluated": say so */
        suite_error(r, sf, at, false, "resource %s is a list; a case judges one object", path);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

typedef struct report {
    lg_buf b;
    size_t n;
} report;

static void mismatch(report *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mismatch(report *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lg_vstrfmt(fmt, ap);
    va_end(ap);
    lg_buf_addf(&rep->b, "  %s\n", s ? s : "(out of memory)");
    free(s);
    rep->n++;
}

static void compare(run *r, const suite_file *sf, const tcase *tc, const lg_request *req,
                    const lg_verdict *v, report *rep)
{
    if (v->allowed != tc->allowed)
        mismatch(rep, "allowed: expected %s, got %s", tc->allowed ? "true" : "false",
                 v->allowed ? "true" : "false");
    if (tc->violations) {
        char *want = want_violations(tc->violations), *got = got_violations(v);
        if (!want || !got || strcmp(want, got))
            mismatch(rep, "violations: expected %s, got %s", want ? want : "?", got ? got : "?");
        free(want);
        free(got);
    }
    if (tc->has_warnings) {
        json_int_t n = 0;
        for (size_t i = 0; i < v->nfindings; i++)
            n += v->findings[i].mode == LG_MODE_WARN;
        if (n != tc->warnings)
            mismatch(rep, "warnings: expected %" JSON_INTEGER_FORMAT ", got %" JSON_INTEGER_FORMAT,
                     tc->warnings, n);
    }
    if (tc->has_lane && (tc->lane ? !v->lane || strcmp(tc->lane, v->lane) : v->lane != NULL))
        mismatch(rep, "lane: expected %s, got %s", tc->lane ? tc->lane : "none",
                 v->lane ? v->lane : "none");
    if (tc->patch && !lg_json_equal(tc->patch, v->patch)) {
        char *want = short_json(tc->patch), *got = short_json(v->patch);
        mismatch(rep, "patch: expected %s, got %s", want, got);
        free(want);
        free(got);
    }
    if (tc->patched) {
        char *path = join_path(sf->dir, tc->patched);
        json_t *want = path ? load_one(r, sf, tc->patched_at, path, "expected object") : NULL;
        const json_t *got = v->patched ? v->patched : req->object;
        if (want && !lg_json_equal(want, got)) {
            lg_buf p;
            lg_buf_init(&p, 0);
            const json_t *w = NULL, *g = NULL;
            first_difference(want, got, &p, &w, &g);
            char *ptr = lg_buf_take(&p), *ws = short_json(w), *gs = short_json(g);
            mismatch(rep, "patched: differs from %s at \"%s\": expected %s, got %s", tc->patched,
                     ptr ? ptr : "?", ws, gs);
            free(ptr);
            free(ws);
            free(gs);
        }
        json_decref(want);
        free(path);
    }
}

/* Runs one case and counts it; a resource or expected-object file that cannot be
 * used is an error (reported, exit 2), and the case then counts neither way. */
static void run_case(run *r, const suite_file *sf, const char *suite, const tcase *tc,
                     const lg_policy_set *set)
{
    const lg_doc_mark *m = lg_doc_mark_find(&sf->marks, tc->at.parent, NULL, tc->at.index);
    char *path = join_path(sf->dir, tc->resource);
    json_t *doc = path ? load_one(r, sf, tc->resource_at, path, "resource") : NULL;
    free(path);
    if (!doc)
        return;
    report rep = {0};
    lg_buf_init(&rep.b, 0);
    lg_request req;
    lg_verdict v;
    lg_diag d = {0};
    bool have_verdict = false;
    lg_status st = lg_cli_request(doc, &tc->ov, &req, &d);
    if (st == LG_OK) {
        st = lg_evaluate(set, &req, LG_EVAL_VALIDATE | LG_EVAL_MUTATE, &v, &d);
        have_verdict = st == LG_OK;
    }
    bool errors_before = r->error;
    if (!have_verdict)
        mismatch(&rep, "expected a verdict, got an error: %s", d.msg[0] ? d.msg : lg_strerror(st));
    else
        compare(r, sf, tc, &req, &v, &rep);
    if (r->error && !errors_before) {
        /* an unusable expected-object file: reported, no verdict on the case */
    } else if (rep.n) {
        r->failed++;
        printf("FAIL %s:%d:%d: %s: %s\n", sf->path, m ? m->line : 0, m ? m->col : 0, suite, tc->name);
        char *s = lg_buf_take(&rep.b);
        fputs(s ? s : "", stdout);
        free(s);
        if (have_verdict && v.nfindings)
            printf("  findings:\n");
        for (size_t i = 0; have_verdict && i < v.nfindings; i++) {
            printf("    %s ", lg_mode_name(v.findings[i].mode));
            lg_cli_put(stdout, v.findings[i].message);
            putchar('\n');
        }
    } else {
        r->passed++;
        if (r->verbose)
            printf("PASS %s: %s: %s\n", sf->path, suite, tc->name);
    }
    lg_buf_free(&rep.b);
    if (have_verdict)
        lg_verdict_free(&v);
    json_decref(doc);
}

static void run_suite(run *r, const suite_file *sf, const json_t *doc, loc at)
{
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "policies", "cases"};
    static const char *const meta_keys[] = {"name", "labels", "annotations"};
    if (!json_is_object(doc)) {
        suite_error(r, sf, at, false, "a suite must be a mapping (apiVersion: %s, kind: Test)", API_VERSION);
        return;
    }
    bool ok = only_keys(r, sf, doc, "a suite", keys, LG_ARRAY_LEN(keys));
    const char *api = json_string_value(get(r, sf, doc, at, "apiVersion", JSON_STRING, true, &ok));
    if (api && strcmp(api, API_VERSION)) {
        suite_error(r, sf, member_loc(doc, "apiVersion"), false, "apiVersion must be %s", API_VERSION);
        ok = false;
    }
    const char *kind = json_string_value(get(r, sf, doc, at, "kind", JSON_STRING, true, &ok));
    if (kind && strcmp(kind, "Test")) {
        suite_error(r, sf, member_loc(doc, "kind"), false, "kind must be Test");
        ok = false;
    }
    json_t *meta = get(r, sf, doc, at, "metadata", JSON_OBJECT, true, &ok);
    const char *name = NULL;
    if (meta) {
        ok = only_keys(r, sf, meta, "metadata", meta_keys, LG_ARRAY_LEN(meta_keys)) && ok;
        name = json_string_value(get(r, sf, meta, member_loc(doc, "metadata"), "name", JSON_STRING, true, &ok));
    }
    const char *pol = json_string_value(get(r, sf, doc, at, "policies", JSON_STRING, true, &ok));
    json_t *cases = get(r, sf, doc, at, "cases", JSON_ARRAY, true, &ok);
    if (cases && json_array_size(cases) == 0) {
        suite_error(r, sf, member_loc(doc, "cases"), false, "a suite needs at least one case");
        ok = false;
    }
    size_t n = json_array_size(cases);
    tcase *tcs = calloc(n + 1, sizeof *tcs);
    if (!tcs) {
        fprintf(stderr, "lanegate test: out of memory\n");
        r->error = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!parse_case(r, sf, json_array_get(cases, i), index_loc(cases, i), &tcs[i]))
            ok = false;
        for (size_t j = 0; j < i && tcs[i].name; j++)
            if (tcs[j].name && !strcmp(tcs[i].name, tcs[j].name)) {
                suite_error(r, sf, member_loc(json_array_get(cases, i), "name"), false,
                            "duplicate case name \"%s\"", tcs[i].name);
                ok = false;
                break;
            }
    }
    if (ok) {
        char *dir = join_path(sf->dir, pol);
        lg_policy_set *set = dir ? policies_for(r, dir) : NULL;
        if (!set) {
            suite_error(r, sf, member_loc(doc, "policies"), false, "no usable policies in %s", dir ? dir : pol);
        } else {
            for (size_t i = 0; i < n; i++)
                run_case(r, sf, name, &tcs[i], set);
        }
        free(dir);
    }
    free(tcs);
}

static void run_file(run *r, const char *path)
{
    suite_file sf = {.path = path};
    char *buf, err[600];
    size_t len;
    if (!lg_cli_read(path, LG_CLI_MAX_INPUT, &buf, &len, err, sizeof err)) {
        fprintf(stderr, "lanegate test: %s\n", err);
        r->error = true;
        return;
    }
    lg_diag d = {0};
    lg_status st = lg_documents_parse_marked(path, buf, len, &sf.docs, &sf.marks, &d);
    free(buf);
    if (st != LG_OK) {
        char line[1200];
        lg_diag_format(&d, line, sizeof line);
        fprintf(stderr, "%s\n", line);
        r->error = true;
        return;
    }
    if (!(sf.dir = dir_of(path))) {
        fprintf(stderr, "lanegate test: out of memory\n");
        r->error = true;
    } else if (json_array_size(sf.docs) == 0) {
        fprintf(stderr, "%s: no test suite in this file\n", path);
        r->error = true;
    }
    size_t i;
    json_t *doc;
    json_array_foreach(sf.docs, i, doc) {
        if (sf.dir)
            run_suite(r, &sf, doc, index_loc(sf.docs, i));
    }
    free(sf.dir);
    json_decref(sf.docs);
    lg_doc_marks_free(&sf.marks);
}

/* ---- finding suite files ---------------------------------------------------------- */

typedef struct pathlist {
    char **v;
    size_t n, cap;
} pathlist;

static bool pathlist_add(pathlist *l, const char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return false;
        l->v = v;
        l->cap = cap;
    }
    return (l->v[l->n] = strdup(p)) ? (l->n++, true) : false;
}

static bool is_suite_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 10 && !strcmp(name + n - 10, ".test.yaml")) || (n > 9 && !strcmp(name + n - 9, ".test.yml"));
}

static int not_hidden(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Adds the suite files under dir, in name order (symlinks followed, depth capped). */
static bool walk(const char *dir, pathlist *out, int depth)
{
    if (depth > MAX_WALK_DEPTH)
        return true;
    struct dirent **names;
    int n = scandir(dir, &names, not_hidden, alphasort);
    if (n < 0) {
        fprintf(stderr, "lanegate test: %s: %s\n", dir, strerror(errno));
        return false;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char *p = lg_strfmt("%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (!p) {
            ok = false;
        } else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            ok = walk(p, out, depth + 1) && ok;
        } else if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && is_suite_name(names[i]->d_name)) {
            ok = pathlist_add(out, p) && ok;
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return ok;
}

int cmd_test(int argc, char **argv)
{
    run r = {0};
    const char *arg;
    for (int o; (o = lg_cli_next(argc, argv, opts, NOPTS, "test", &arg)) != LG_CLI_END;) {
        if (o == O_VERBOSE)
            r.verbose = true;
        else
            return LG_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "lanegate test: no PATH given\nTry 'lanegate test --help'.\n");
        return LG_EXIT_USAGE;
    }
    pathlist files = {0};
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "lanegate test: %s: %s\n", argv[i], strerror(errno));
            r.error = true;
        } else if (S_ISDIR(st.st_mode)) {
            size_t before = files.n;
            if (!walk(argv[i], &files, 0))
                r.error = true;
            else if (files.n == before) {
                fprintf(stderr, "lanegate test: %s: no *.test.yaml files\n", argv[i]);
                r.error = true;
            }
        } else if (!pathlist_add(&files, argv[i])) {
            fprintf(stderr, "lanegate test: out of memory\n");
            r.error = true;
        }
    }
    for (size_t i = 0; i < files.n; i++)
        run_file(&r, files.v[i]);
    printf("%zu passed, %zu failed\n", r.passed, r.failed);
    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    for (size_t i = 0; i < r.nsets; i++) {
        free(r.sets[i].dir);
        lg_policy_set_unref(r.sets[i].set);
    }
    free(r.sets);
    if (fflush(stdout) != 0)
        r.error = true;
    return r.error ? LG_EXIT_USAGE : r.failed ? LG_EXIT_DENIED : LG_EXIT_OK;
}
