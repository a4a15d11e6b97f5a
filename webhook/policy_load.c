/* policy_load.c — policy YAML files → an immutable lg_policy_set.
 *
 * Pure (no printing, no globals): every problem in every file becomes one
 * lg_diag with the 1-based line and column of the offending node, and the
 * whole load fails if there is any. A set is only returned when every file
 * was read and every document is valid, so a server can never publish a
 * half-understood policy.
 *
 * Each file is parsed twice by libyaml: an event pass that refuses what makes
 * files hard to review or unsafe to expand (aliases, anchors, tags, deep
 * nesting), then the document pass (yaml_parser_load) whose node marks give
 * positions. The walk over the nodes follows the schema, so it is bounded by
 * the schema's depth whatever the file holds.
 *
 * Scalars are typed the way kubectl's YAML 1.1 reader would type them, so a
 * plain `true`, `yes`, `1.5` or `~` is never silently taken for a string:
 * where a string is expected such a value is an error ("quote it"), and
 * booleans must be written exactly true or false. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "hostpath.h"
#include "policy.h"
#include "util.h"

#define API_VERSION "lanegate.dev/v1"
#define MAX_FILE_BYTES (1024 * 1024) /* policies are reviewed by people; 1 MiB is plenty */
#define MAX_DEPTH 32                 /* the schema needs 6 levels */
#define MAX_DIAGS 200                /* past this the listing stops, the load still fails */
#define MAX_ITEMS 1024               /* per list or map: keeps every check (and the evaluator) linear-ish */
#define PATH_LEN 256                 /* key paths in messages, e.g. spec.allow.hostPaths[0].types[1] */

enum obj_kind { OBJ_LANE, OBJ_POLICY };
static const char *const kind_names[] = {[OBJ_LANE] = "Lane", [OBJ_POLICY] = "PodPolicy"};

/* Where an object was defined, for the duplicate-name check across files. */
typedef struct objloc {
    enum obj_kind kind;
    const char *name, *file; /* borrowed from the set being built */
    int line, col;
    size_t seq;
} objloc;

typedef struct loclist {
    objloc *v;
    size_t n, cap;
} loclist;

typedef struct loader {
    lg_diags *diags;
    size_t nerr;
    bool nomem, io, capped;
    lg_policy_set *set;
    size_t cap_lanes, cap_policies;
    loclist objs;       /* every named object, for duplicates */
    loclist dev_checks; /* deviceResources controls without patterns of their own */
    /* the first lane's label key is the one every other lane must use */
    char label_ref[700];
    /* current file and document */
    const char *file;
    yaml_document_t *doc;
} loader;

/* ---- diagnostics --------------------------------------------------------- */

static void verr(loader *L, const char *file, int line, int col, const char *fmt, va_list ap)
{
    L->nerr++;
    if (L->nerr > MAX_DIAGS) {
        L->capped = true;
        return;
    }
    char msg[sizeof ((lg_diag *)0)->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!lg_diags_push(L->diags, file, line, col, "%s", msg))
        L->nomem = true;
}

static void err_loc(loader *L, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void err_loc(loader *L, const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(L, file, line, col, fmt, ap);
    va_end(ap);
}

static int line_of(const yaml_node_t *n)
{
    return n->start_mark.line < INT_MAX ? (int)n->start_mark.line + 1 : 0;
}

static int col_of(const yaml_node_t *n)
{
    return n->start_mark.column < INT_MAX ? (int)n->start_mark.column + 1 : 0;
}

/* An error about node n of the current file. */
static void err(loader *L, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(loader *L, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(L, L->file, line_of(n), col_of(n), fmt, ap);
    va_end(ap);
}

static char *xstrdup(loader *L, const char *s)
{
    char *d = strdup(s);
    if (!d)
        L->nomem = true;
    return d;
}

static void add_loc(loader *L, loclist *l, enum obj_kind kind, const char *name, const yaml_node_t *at)
{
    if (!lg_grow((void **)&l->v, l->n, &l->cap, sizeof *l->v, 16)) {
            L->nomem = true;
            return;
    }
    l->v[l->n] = (objloc){kind, name, L->file, line_of(at), col_of(at), l->n};
    l->n++;
}

/* ---- scalars ------------------------------------------------------------- */

typedef enum sc_kind {
    SC_STRING,
    SC_NULL,
    SC_TRUE,
    SC_FALSE,
    SC_BOOL11, /* yes/no/on/off/True/...: a boolean to kubectl, refused here */
    SC_INT,    /* plain decimal integer */
    SC_NUMBER, /* float, octal, hex, 1_000...: a number to kubectl, refused here */
} sc_kind;

static const char *sc_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool all_in(const char *s, const char *set)
{
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* YAML 1.1 numbers other than plain decimal integers (floats, 0x.., 0o.., 0..,
 * 0b.., underscores, .inf, .nan). Close enough to the resolver that anything
 * a Kubernetes tool would read as a number is caught. */
static bool is_yaml11_number(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF"))
        return true;
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return true;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2] && all_in(s + 2, "0123456789abcdefABCDEF_"))
        return true;
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'b') && s[2] && all_in(s + 2, "01234567_"))
        return true;
    /* [0-9_]* ( . [0-9_]* )? ( [eE] [-+]? [0-9]+ )? with at least one digit */
    const char *p = s;
    bool digits = false;
    while (is_digit(*p) || *p == '_')
        digits |= is_digit(*p++);
    if (*p == '.') {
        p++;
        while (is_digit(*p) || *p == '_')
            digits |= is_digit(*p++);
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return false;
        while (is_digit(*p))
            p++;
    }
    return *p == '\0';
}

static bool is_decimal_int(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (s[0] == '0')
        return s[1] == '\0';
    if (!is_digit(*s))
        return false;
    return all_in(s, "0123456789");
}

static sc_kind scalar_kind(const yaml_node_t *n)
{
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return SC_STRING;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    static const char *const bools11[] = {"True", "TRUE", "False", "FALSE", "yes", "Yes", "YES",
                                          "no",   "No",   "NO",    "on",    "On",  "ON",  "off",
                                          "Off",  "OFF",  "y",     "Y",     "n",   "N"};
    const char *s = sc_text(n);
    for (size_t i = 0; i < LG_ARRAY_LEN(nulls); i++)
        if (!strcmp(s, nulls[i]))
            return SC_NULL;
    if (!strcmp(s, "true"))
        return SC_TRUE;
    if (!strcmp(s, "false"))
        return SC_FALSE;
    for (size_t i = 0; i < LG_ARRAY_LEN(bools11); i++)
        if (!strcmp(s, bools11[i]))
            return SC_BOOL11;
    if (is_decimal_int(s))
        return SC_INT;
    if (is_yaml11_number(s))
        return SC_NUMBER;
    return SC_STRING;
}

/* "a mapping", "a list", "null", "the boolean true", "the number 1.5", "the string "x"" */
static const char *describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE:
        switch (scalar_kind(n)) {
        case SC_NULL: return "null";
        case SC_TRUE:
        case SC_FALSE:
        case SC_BOOL11: return "a boolean";
        case SC_INT:
        case SC_NUMBER: return "a number";
        case SC_STRING: return "a string";
        }
        break;
    case YAML_NO_NODE: break;
    }
    return "nothing";
}

static bool has_nul(const yaml_node_t *n)
{
    return memchr(n->data.scalar.value, '\0', n->data.scalar.length) != NULL;
}

/* The text of a string scalar (borrowed from the document), or NULL with an
 * error naming path. */
static const char *get_str(loader *L, const yaml_node_t *n, const char *path)
{
    if (n->type != YAML_SCALAR_NODE) {
        err(L, n, "%s: expected a string, got %s", path, describe(n));
        return NULL;
    }
    sc_kind k = scalar_kind(n);
    if (k == SC_NULL) {
        err(L, n, "%s: expected a string, got null", path);
        return NULL;
    }
    if (k != SC_STRING) {
        err(L, n, "%s: expected a string, got %s; quote it (\"%s\") if a string is meant", path,
            describe(n), sc_text(n));
        return NULL;
    }
    if (has_nul(n)) {
        err(L, n, "%s: a string may not contain NUL characters", path);
        return NULL;
    }
    for (const unsigned char *c = n->data.scalar.value; *c; c++)
        if (*c < 0x20 || *c == 0x7f) {
            err(L, n, "%s: a string may not contain control characters (line breaks, tabs)", path);
            return NULL;
        }
    return sc_text(n);
}

/* A boolean: exactly the plain scalars true or false. */
static bool get_bool(loader *L, const yaml_node_t *n, const char *path, bool *out)
{
    if (n->type == YAML_SCALAR_NODE) {
        sc_kind k = scalar_kind(n);
        if (k == SC_TRUE || k == SC_FALSE) {
            *out = k == SC_TRUE;
            return true;
        }
        if (k == SC_BOOL11 || (k == SC_STRING && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
            err(L, n, "%s: expected true or false, got \"%s\"", path, sc_text(n));
            return false;
        }
        if (k == SC_STRING) {
            err(L, n, "%s: expected true or false, got the string \"%s\"; remove the quotes", path,
                sc_text(n));
            return false;
        }
    }
    err(L, n, "%s: expected true or false, got %s", path, describe(n));
    return false;
}

/* ---- mappings ------------------------------------------------------------ */

static yaml_node_t *node_at(loader *L, int id)
{
    return yaml_document_get_node(L->doc, id);
}

typedef struct keyref {
    const char *s;
    size_t len;
    const yaml_node_t *node;
} keyref;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if (x->node->start_mark.index != y->node->start_mark.index)
        return x->node->start_mark.index < y->node->start_mark.index ? -1 : 1;
    return 0;
}

static void join_names(char *buf, size_t size, const char *const *names)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; names[i]; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* "in spec.allow" / "at the top level" */
static const char *where(const char *path, char *buf, size_t size)
{
    if (!path[0])
        return "at the top level";
    snprintf(buf, size, "in %s", path);
    return buf;
}

/* Checks that n is a mapping whose keys are strings, unique and (when allowed
 * is not NULL) among allowed. Returns false only when n is not a mapping. */
static bool check_map(loader *L, const yaml_node_t *n, const char *path, const char *const *allowed)
{
    char wbuf[PATH_LEN + 8];
    if (n->type != YAML_MAPPING_NODE) {
        if (path[0])
            err(L, n, "%s: expected a mapping, got %s", path, describe(n));
        else
            err(L, n, "expected a mapping, got %s", describe(n));
        return false;
    }
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return true;
    keyref *keys = calloc(count, sizeof *keys);
    if (!keys) {
        L->nomem = true;
        return true;
    }
    size_t nk = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(L, p->key);
        if (!k)
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            err(L, k, "mapping keys must be strings, got %s %s", describe(k), where(path, wbuf, sizeof wbuf));
            continue;
        }
        if (has_nul(k)) {
            err(L, k, "a key may not contain NUL characters (%s)", where(path, wbuf, sizeof wbuf));
            continue;
        }
        if (allowed) {
            bool ok = false;
            for (size_t i = 0; allowed[i] && !ok; i++)
                ok = strcmp(sc_text(k), allowed[i]) == 0;
            if (!ok) {
                char list[400];
                join_names(list, sizeof list, allowed);
                err(L, k, "unknown key \"%s\" %s (allowed: %s)", sc_text(k), where(path, wbuf, sizeof wbuf),
                    list);
            }
        } else if (scalar_kind(k) != SC_STRING) {
            err(L, k, "%s: key %s is %s, not a string; quote it", path, sc_text(k), describe(k));
        }
        keys[nk++] = (keyref){sc_text(k), k->data.scalar.length, k};
    }
    qsort(keys, nk, sizeof *keys, keyref_cmp);
    size_t first = 0; /* first occurrence of the current run of equal keys */
    for (size_t i = 1; i < nk; i++) {
        if (keys[i].len != keys[first].len || memcmp(keys[i].s, keys[first].s, keys[i].len) != 0) {
            first = i;
            continue;
        }
        err(L, keys[i].node, "duplicate key \"%s\" %s (first at line %d, column %d)", keys[i].s,
            where(path, wbuf, sizeof wbuf), line_of(keys[first].node), col_of(keys[first].node));
    }
    free(keys);
    return true;
}

/* The value of key in mapping n (first occurrence), or NULL. */
static yaml_node_t *map_get(loader *L, const yaml_node_t *n, const char *key, const yaml_node_t **keynode)
{
    if (n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(L, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(sc_text(k), key) && !has_nul(k)) {
            if (keynode)
                *keynode = k;
            return node_at(L, p->value);
        }
    }
    return NULL;
}

/* Key paths only appear in messages: a truncated one is still useful. */
static void subpath(char *buf, const char *path, const char *key)
{
    if (snprintf(buf, PATH_LEN, "%s%s%s", path, path[0] ? "." : "", key) >= PATH_LEN)
        buf[PATH_LEN - 1] = '\0';
}

/* path["key"] for free-form keys (label keys hold '.' and '/'). */
static void keypath(char *buf, const char *path, const char *key)
{
    if (snprintf(buf, PATH_LEN, "%s[\"%s\"]", path, key) >= PATH_LEN)
        buf[PATH_LEN - 1] = '\0';
}

static void itempath(char *buf, const char *path, size_t i)
{
    if (snprintf(buf, PATH_LEN, "%s[%zu]", path, i) >= PATH_LEN)
        buf[PATH_LEN - 1] = '\0';
}

/* Lists and maps longer than MAX_ITEMS are refused whole. */
static bool too_long(loader *L, const yaml_node_t *n, const char *path)
{
    size_t count = n->type == YAML_SEQUENCE_NODE
                       ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                       : (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count <= MAX_ITEMS)
        return false;
    err(L, n, "%s: %zu entries; at most %d are allowed", path, count, MAX_ITEMS);
    return true;
}

/* The number of items of a list that must be non-empty and not too long, or
 * 0 after reporting why not ("expected <what>, got ..." for a non-list). */
static size_t list_items(loader *L, const yaml_node_t *n, const char *path, const char *what)
{
    if (n->type != YAML_SEQUENCE_NODE) {
        err(L, n, "%s: expected %s, got %s", path, what, describe(n));
        return 0;
    }
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) {
        err(L, n, "%s: the list is empty; leave the key out instead", path);
        return 0;
    }
    return too_long(L, n, path) ? 0 : count;
}

/* ---- value checks -------------------------------------------------------- */

/* A validator returns NULL when s is fine, else what is wrong with it. */
typedef const char *(*validator)(const char *s);

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_lower_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z');
}

/* DNS-1123 label: namespace names. */
static const char *v_namespace(const char *s)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 63 && is_lower_alnum(s[0]) && is_lower_alnum(s[n - 1]);
    for (size_t i = 0; ok && i < n; i++)
        ok = is_lower_alnum(s[i]) || s[i] == '-';
    return ok ? NULL
              : "is not a valid namespace name (at most 63 lowercase letters, digits and '-', "
                "starting and ending with a letter or digit)";
}

/* DNS-1123 subdomain: object names, service account names. */
static const char *v_subdomain(const char *s)
{
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 253 && is_lower_alnum(s[0]) && is_lower_alnum(s[n - 1]);
    for (size_t i = 0; ok && i < n; i++)
        ok = is_lower_alnum(s[i]) || s[i] == '-' || s[i] == '.';
    return ok ? NULL
              : "is not a valid name (at most 253 lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit)";
}

static bool label_value_ok(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* Label values; lane names are label values, so they must not be empty. */
static const char *v_lane_name(const char *s)
{
    return s[0] && label_value_ok(s, strlen(s))
               ? NULL
               : "is not a valid lane name (lane names are values of the lane label: at most 63 "
                 "letters, digits, '-', '_' or '.', starting and ending with a letter or digit)";
}

static const char *v_label_value(const char *s)
{
    return label_value_ok(s, strlen(s))
               ? NULL
               : "is not a valid label value (at most 63 letters, digits, '-', '_' or '.', "
                 "starting and ending with a letter or digit)";
}

/* Kubernetes qualified name: [prefix/]name, prefix a DNS subdomain. */
static bool qualified_ok(const char *s, bool need_prefix)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        size_t plen = (size_t)(slash - s);
        char prefix[254];
        if (plen == 0 || plen > 253)
            return false;
        memcpy(prefix, s, plen);
        prefix[plen] = '\0';
        if (v_subdomain(prefix))
            return false;
        name = slash + 1;
    } else if (need_prefix) {
        return false;
    }
    return name[0] && label_value_ok(name, strlen(name));
}

static const char *v_label_key(const char *s)
{
    return qualified_ok(s, false) ? NULL
                                  : "is not a valid label key ([prefix/]name: an optional DNS "
                                    "subdomain prefix, then at most 63 letters, digits, '-', '_' "
                                    "or '.')";
}

static const char *v_resource(const char *s)
{
    return qualified_ok(s, true) ? NULL
                                 : "is not an extended resource name (domain/name, e.g. "
                                   "devices.kubevirt.io/kvm)";
}

/* Restricted device patterns: a resource name, optionally with one '*' as its
 * first or last character ("*\/kvm", "devices.kubevirt.io/\*"). */
static const char *v_resource_pattern(const char *s)
{
    static const char *const bad =
        "is not a resource name pattern (a name such as devices.kubevirt.io/kvm, optionally "
        "with one '*' at the start or the end, e.g. \"*/kvm\")";
    size_t n = strlen(s);
    if (n < 2)
        return bad;
    size_t stars = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*')
            stars++;
        else if (!is_alnum(s[i]) && !strchr("-_./", s[i]))
            return bad;
    }
    if (stars > 1 || (stars == 1 && s[0] != '*' && s[n - 1] != '*'))
        return bad;
    return NULL;
}

static const char *v_nonempty(const char *s)
{
    return s[0] ? NULL : "must not be empty";
}

/* One of a fixed set of words. */
static bool one_of(loader *L, const yaml_node_t *n, const char *path, const char *s, const char *what,
                   const char *const *names, size_t *idx)
{
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(s, names[i])) {
            if (idx)
                *idx = i;
            return true;
        }
    char list[400];
    join_names(list, sizeof list, names);
    err(L, n, "%s: unknown %s \"%s\" (expected one of: %s)", path, what, s, list);
    return false;
}

static const char *const kinds_allowed[] = {"Pod",         "Deployment", "ReplicaSet",
                                            "StatefulSet", "DaemonSet",  "Job",
                                            "CronJob",     "ReplicationController", NULL};
static const char *const ops_allowed[] = {"CREATE", "UPDATE", "DELETE", "CONNECT", NULL};
static const char *const modes_allowed[] = {"enforce", "warn", "audit", NULL};
static const char *const types_allowed[] = {"",     "DirectoryOrCreate", "Directory", "FileOrCreate",
                                            "File", "Socket",            "CharDevice", "BlockDevice",
                                            NULL};
static const char *const effects_allowed[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
static const char *const operators_allowed[] = {"Equal", "Exists", NULL};

typedef struct listspec {
    validator check;           /* NULL: any non-NULL string */
    const char *what;          /* for one_of messages ("kind") */
    const char *const *names;  /* fixed set, or NULL */
} listspec;

static bool strlist_add(loader *L, lg_strlist *l, const char *s)
{
    char *d = xstrdup(L, s);
    char **v = d ? realloc(l->v, (l->n + 1) * sizeof *v) : NULL;
    if (!v) {
        free(d);
        L->nomem = true;
        return false;
    }
    v[l->n++] = d;
    l->v = v;
    return true;
}

/* A non-empty list of strings, each checked, no duplicates, appended to out. */
static void get_strlist(loader *L, const yaml_node_t *n, const char *path, const listspec *spec,
                        lg_strlist *out)
{
    if (!list_items(L, n, path, "a list of strings"))
        return;
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
        const yaml_node_t *item = node_at(L, *it);
        char ipath[PATH_LEN];
        itempath(ipath, path, i);
        if (!item)
            continue;
        if (item->type != YAML_SCALAR_NODE) {
            err(L, item, "%s: expected a list of strings, but this item is %s", ipath, describe(item));
            continue;
        }
        const char *s = get_str(L, item, ipath);
        if (!s)
            continue;
        if (spec->names) {
            if (!one_of(L, item, ipath, s, spec->what, spec->names, NULL))
                continue;
        } else if (spec->check) {
            const char *why = spec->check(s);
            if (why) {
                err(L, item, "%s: \"%s\" %s", ipath, s, why);
                continue;
            }
        }
        if (lg_strlist_has(out, s)) {
            err(L, item, "%s: duplicate entry \"%s\"", ipath, s);
            continue;
        }
        strlist_add(L, out, s);
    }
}

/* A mapping of string keys to string values (metadata.labels, nodeSelector). */
static void get_strmap(loader *L, const yaml_node_t *n, const char *path, validator kcheck,
                       validator vcheck, lg_strlist *keys, lg_strlist *values)
{
    if (!check_map(L, n, path, NULL) || too_long(L, n, path))
        return;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE || scalar_kind(k) != SC_STRING || has_nul(k))
            continue; /* reported by check_map */
        char kpath[PATH_LEN];
        keypath(kpath, path, sc_text(k));
        const char *why = kcheck ? kcheck(sc_text(k)) : NULL;
        if (why) {
            err(L, k, "%s: key \"%s\" %s", path, sc_text(k), why);
            continue;
        }
        const char *s = get_str(L, v, kpath);
        if (!s)
            continue;
        why = vcheck ? vcheck(s) : NULL;
        if (why) {
            err(L, v, "%s: \"%s\" %s", kpath, s, why);
            continue;
        }
        if (keys && values && !lg_strlist_has(keys, sc_text(k))) {
            strlist_add(L, keys, sc_text(k));
            strlist_add(L, values, s);
        }
    }
}

/* ---- Lane ---------------------------------------------------------------- */

static const char *const lane_spec_keys[] = {"labelKey", "namespaces", "requesters", "serviceAccountNames",
                                             "allow", "nodePinning", NULL};
static const char *const requester_keys[] = {"usernames", "groups", NULL};
static const char *const allow_keys[] = {"privileged", "hostPaths", "deviceResources", NULL};
static const char *const hostpath_keys[] = {"path", "types", NULL};
static const char *const pinning_keys[] = {"nodeSelector", "tolerations", NULL};
static const char *const toleration_keys[] = {"key", "operator", "value", "effect", NULL};

static void load_host_paths(loader *L, lg_lane *ln, const yaml_node_t *n, const char *path)
{
    size_t count = list_items(L, n, path, "a list of {path, types} entries");
    if (!count)
        return;
    ln->host_paths = calloc(count, sizeof *ln->host_paths);
    if (!ln->host_paths) {
        L->nomem = true;
        return;
    }
    const yaml_node_t **seen = calloc(count, sizeof *seen); /* path nodes, for duplicates */
    if (!seen) {
        L->nomem = true;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        char ipath[PATH_LEN], kpath[PATH_LEN];
        itempath(ipath, path, i);
        if (!item || !check_map(L, item, ipath, hostpath_keys))
            continue;
        lg_hostpath_grant *g = &ln->host_paths[ln->n_host_paths];
        const yaml_node_t *pv = map_get(L, item, "path", NULL);
        const yaml_node_t *tv = map_get(L, item, "types", NULL);
        subpath(kpath, ipath, "path");
        const char *p = NULL;
        if (!pv)
            err(L, item, "%s: missing path (an absolute path such as /dev/kvm)", ipath);
        else if ((p = get_str(L, pv, kpath)) && p[0] != '/') {
            err(L, pv, "%s: \"%s\" is not an absolute path", kpath, p);
            p = NULL;
        }
        if (p) {
            size_t sz = strlen(p) + 2;
            char *norm = malloc(sz);
            if (!norm || !lg_hostpath_normalize(p, norm, sz)) {
                free(norm);
                L->nomem = true;
                continue;
            }
            for (size_t j = 0; j < ln->n_host_paths; j++)
                if (!strcmp(ln->host_paths[j].path, norm)) {
                    err(L, pv, "%s: duplicate grant for \"%s\" (first at line %d); list every type in one entry",
                        kpath, norm, line_of(seen[j]));
                    free(norm);
                    norm = NULL;
                    break;
                }
            g->path = norm;
        }
        if (tv) {
            subpath(kpath, ipath, "types");
            get_strlist(L, tv, kpath, &(listspec){NULL, "hostPath type", types_allowed}, &g->types);
        } else if (g->path) {
            strlist_add(L, &g->types, ""); /* absent: only an unset type */
        }
        if (g->path) {
            seen[ln->n_host_paths] = pv;
            ln->n_host_paths++;
        } else {
            for (size_t j = 0; j < g->types.n; j++)
                free(g->types.v[j]);
            free(g->types.v);
            memset(g, 0, sizeof *g);
        }
    }
    free(seen);
}

static void load_tolerations(loader *L, lg_lane *ln, const yaml_node_t *n, const char *path)
{
    size_t count = list_items(L, n, path, "a list of tolerations");
    if (!count)
        return;
    ln->tolerations = calloc(count, sizeof *ln->tolerations);
    if (!ln->tolerations) {
        L->nomem = true;
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        char ipath[PATH_LEN], kpath[PATH_LEN];
        itempath(ipath, path, i);
        if (!item || !check_map(L, item, ipath, toleration_keys))
            continue;
        lg_toleration *t = &ln->tolerations[ln->n_tolerations++];
        const yaml_node_t *v;
        const char *s;
        if (!(v = map_get(L, item, "key", NULL))) {
            err(L, item, "%s: missing key (the taint key to tolerate)", ipath);
        } else if (subpath(kpath, ipath, "key"), (s = get_str(L, v, kpath))) {
            const char *why = v_label_key(s);
            if (why)
                err(L, v, "%s: \"%s\" %s", kpath, s, why);
            else
                t->key = xstrdup(L, s);
        }
        if ((v = map_get(L, item, "operator", NULL))) {
            subpath(kpath, ipath, "operator");
            if ((s = get_str(L, v, kpath)) && one_of(L, v, kpath, s, "operator", operators_allowed, NULL))
                t->op = xstrdup(L, s);
        }
        if ((v = map_get(L, item, "value", NULL))) {
            subpath(kpath, ipath, "value");
            if ((s = get_str(L, v, kpath))) {
                const char *why = v_label_value(s);
                if (why)
                    err(L, v, "%s: \"%s\" %s", kpath, s, why);
                else if (t->op && !strcmp(t->op, "Exists") && s[0])
                    err(L, v, "%s: must be empty when operator is Exists", kpath);
                else
                    t->value = xstrdup(L, s);
            }
        }
        if ((v = map_get(L, item, "effect", NULL))) {
            subpath(kpath, ipath, "effect");
            if ((s = get_str(L, v, kpath)) && one_of(L, v, kpath, s, "effect", effects_allowed, NULL))
                t->effect = xstrdup(L, s);
        }
    }
}

static void load_pinning(loader *L, lg_lane *ln, const yaml_node_t *n, const char *path)
{
    char kpath[PATH_LEN];
    if (!check_map(L, n, path, pinning_keys))
        return;
    const yaml_node_t *sel = map_get(L, n, "nodeSelector", NULL);
    const yaml_node_t *tol = map_get(L, n, "tolerations", NULL);
    if (!sel) {
        err(L, n, "%s: missing nodeSelector (tolerations alone do not pin pods to nodes)", path);
    } else {
        subpath(kpath, path, "nodeSelector");
        if (sel->type == YAML_MAPPING_NODE && sel->data.mapping.pairs.top == sel->data.mapping.pairs.start)
            err(L, sel, "%s: is empty; a pinned lane needs at least one node label", kpath);
        else
            get_strmap(L, sel, kpath, v_label_key, v_label_value, &ln->pin_keys, &ln->pin_values);
    }
    if (tol) {
        subpath(kpath, path, "tolerations");
        load_tolerations(L, ln, tol, kpath);
    }
}

static lg_lane *new_lane(loader *L)
{
    lg_policy_set *set = L->set;
    if (!lg_grow((void **)&set->lanes, set->n_lanes, &L->cap_lanes, sizeof *set->lanes, 4)) {
        L->nomem = true;
        return NULL;
    }
    lg_lane *ln = &set->lanes[set->n_lanes++];
    memset(ln, 0, sizeof *ln);
    return ln;
}

/* Every lane must use the same label key: the first one seen sets it. */
static void agree_label_key(loader *L, const lg_lane *ln, const char *key, const yaml_node_t *at)
{
    if (!L->set->lane_label) {
        L->set->lane_label = xstrdup(L, key);
        snprintf(L->label_ref, sizeof L->label_ref, "lane \"%s\" (%s:%d:%d)", ln->name ? ln->name : "?",
                 L->file, line_of(at), col_of(at));
        return;
    }
    if (strcmp(L->set->lane_label, key) != 0)
        err(L, at, "lane \"%s\" uses labelKey \"%s\" but %s uses \"%s\"; all lanes must use the same labelKey",
            ln->name ? ln->name : "?", key, L->label_ref, L->set->lane_label);
}

static void load_lane(loader *L, const yaml_node_t *root, const char *name, const yaml_node_t *spec)
{
    lg_lane *ln = new_lane(L);
    if (!ln)
        return;
    ln->name = name ? xstrdup(L, name) : NULL;
    ln->file = xstrdup(L, L->file);
    ln->line = line_of(root);
    size_t errs = L->nerr;
    if (!spec || !check_map(L, spec, "spec", lane_spec_keys))
        return;
    const yaml_node_t *v;
    char kpath[PATH_LEN];

    if ((v = map_get(L, spec, "labelKey", NULL))) {
        const char *s = get_str(L, v, "spec.labelKey");
        const char *why = s ? v_label_key(s) : NULL;
        if (why)
            err(L, v, "spec.labelKey: \"%s\" %s", s, why);
        else if (s)
            agree_label_key(L, ln, s, v);
    } else {
        agree_label_key(L, ln, LG_DEFAULT_LANE_LABEL, root);
    }

    if ((v = map_get(L, spec, "namespaces", NULL)))
        get_strlist(L, v, "spec.namespaces", &(listspec){v_namespace, NULL, NULL}, &ln->namespaces);
    else
        err(L, spec, "spec: missing namespaces (the namespaces in which pods may claim lane \"%s\")",
            name ? name : "?");

    if ((v = map_get(L, spec, "requesters", NULL))) {
        if (check_map(L, v, "spec.requesters", requester_keys)) {
            const yaml_node_t *u = map_get(L, v, "usernames", NULL), *g = map_get(L, v, "groups", NULL);
            if (u)
                get_strlist(L, u, "spec.requesters.usernames", &(listspec){v_nonempty, NULL, NULL},
                            &ln->usernames);
            if (g)
                get_strlist(L, g, "spec.requesters.groups", &(listspec){v_nonempty, NULL, NULL}, &ln->groups);
            if (!u && !g)
                err(L, v, "spec.requesters: list usernames and/or groups, or leave requesters out");
        }
    }
    if ((v = map_get(L, spec, "serviceAccountNames", NULL)))
        get_strlist(L, v, "spec.serviceAccountNames", &(listspec){v_subdomain, NULL, NULL},
                    &ln->service_accounts);

    if ((v = map_get(L, spec, "allow", NULL)) && check_map(L, v, "spec.allow", allow_keys)) {
        const yaml_node_t *a;
        if ((a = map_get(L, v, "privileged", NULL)))
            get_bool(L, a, "spec.allow.privileged", &ln->allow_privileged);
        if ((a = map_get(L, v, "hostPaths", NULL)))
            load_host_paths(L, ln, a, "spec.allow.hostPaths");
        if ((a = map_get(L, v, "deviceResources", NULL)))
            get_strlist(L, a, "spec.allow.deviceResources", &(listspec){v_resource, NULL, NULL},
                        &ln->device_resources);
    }
    if ((v = map_get(L, spec, "nodePinning", NULL))) {
        subpath(kpath, "spec", "nodePinning");
        load_pinning(L, ln, v, kpath);
    }
    /* A lane is only its grants and its pinning; checked last, and only when
     * nothing else was wrong, so a broken allow block is not reported twice. */
    if (L->nerr == errs && !ln->allow_privileged && ln->n_host_paths == 0 && ln->device_resources.n == 0 &&
        ln->pin_keys.n == 0)
        err(L, root, "lane \"%s\" grants nothing and pins nothing: add spec.allow or spec.nodePinning, "
                     "or remove it (a lane label needs no Lane object)",
            name ? name : "?");
}

/* ---- PodPolicy ----------------------------------------------------------- */

static const char *const policy_spec_keys[] = {"mode", "controls", "match", "restrictedDeviceResources",
                                               "mutations", NULL};
static const char *const match_keys[] = {"namespaces", "excludeNamespaces", "kinds", "operations", "lanes",
                                         NULL};
static const char *const mutation_keys[] = {"podDefaults", "containerDefaults", "nodePinning", NULL};
static const char *const pod_default_keys[] = {"field", "value", NULL};
static const char *const container_default_keys[] = {"field", "value", "exceptPrivilegedLanes", NULL};

static lg_policy *new_policy(loader *L)
{
    lg_policy_set *set = L->set;
    if (!lg_grow((void **)&set->policies, set->n_policies, &L->cap_policies, sizeof *set->policies, 4)) {
        L->nomem = true;
        return NULL;
    }
    lg_policy *p = &set->policies[set->n_policies++];
    memset(p, 0, sizeof *p);
    return p;
}

static void load_match(loader *L, lg_policy *p, const yaml_node_t *n)
{
    if (!check_map(L, n, "spec.match", match_keys))
        return;
    const yaml_node_t *v;
    if ((v = map_get(L, n, "namespaces", NULL)))
        get_strlist(L, v, "spec.match.namespaces", &(listspec){v_namespace, NULL, NULL}, &p->namespaces);
    if ((v = map_get(L, n, "excludeNamespaces", NULL))) {
        get_strlist(L, v, "spec.match.excludeNamespaces", &(listspec){v_namespace, NULL, NULL},
                    &p->exclude_namespaces);
        for (size_t i = 0; i < p->exclude_namespaces.n; i++)
            if (lg_strlist_has(&p->namespaces, p->exclude_namespaces.v[i]))
                err(L, v, "spec.match.excludeNamespaces: \"%s\" is also in spec.match.namespaces",
                    p->exclude_namespaces.v[i]);
    }
    if ((v = map_get(L, n, "kinds", NULL)))
        get_strlist(L, v, "spec.match.kinds", &(listspec){NULL, "kind", kinds_allowed}, &p->kinds);
    if ((v = map_get(L, n, "operations", NULL))) {
        lg_strlist ops = {0};
        get_strlist(L, v, "spec.match.operations", &(listspec){NULL, "operation", ops_allowed}, &ops);
        if (ops.n) {
            p->operations = 0;
            for (size_t i = 0; i < ops.n; i++) {
                lg_op op;
                if (lg_op_parse(ops.v[i], &op))
                    p->operations |= 1u << op;
            }
            if (!(p->operations & (LG_OPS_CREATE | LG_OPS_UPDATE)))
                err(L, v, "spec.match.operations: lanegate always allows DELETE and CONNECT; "
                          "a policy must match CREATE and/or UPDATE");
        }
        for (size_t i = 0; i < ops.n; i++)
            free(ops.v[i]);
        free(ops.v);
    }
    if ((v = map_get(L, n, "lanes", NULL)))
        get_strlist(L, v, "spec.match.lanes", &(listspec){v_lane_name, NULL, NULL}, &p->lanes);
}

static void load_controls(loader *L, lg_policy *p, const yaml_node_t *n)
{
    if (n->type != YAML_MAPPING_NODE) {
        err(L, n, "spec.controls: expected a mapping of control names to true/false, got %s", describe(n));
        return;
    }
    const char *names[LG_CTL__COUNT + 1];
    for (size_t i = 0; i < LG_CTL__COUNT; i++)
        names[i] = lg_control_name((lg_control)i);
    names[LG_CTL__COUNT] = NULL;
    if (!check_map(L, n, "spec.controls", names))
        return;
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
        const yaml_node_t *k = node_at(L, pr->key), *v = node_at(L, pr->value);
        lg_control c;
        if (!k || !v || k->type != YAML_SCALAR_NODE || !lg_control_parse(sc_text(k), &c))
            continue; /* reported by check_map */
        char kpath[PATH_LEN];
        subpath(kpath, "spec.controls", sc_text(k));
        bool on;
        if (get_bool(L, v, kpath, &on) && on)
            p->controls[c] = true;
    }
}

/* A default's value: quoted scalars are strings, plain true/false booleans,
 * plain decimal integers numbers, other plain text strings. Anything a YAML
 * 1.1 reader would take differently (yes, 1.5, 0x10, ~) is refused. */
static json_t *get_value(loader *L, const yaml_node_t *n, const char *path)
{
    if (n->type != YAML_SCALAR_NODE) {
        err(L, n, "%s: expected a string, an integer or true/false, got %s", path, describe(n));
        return NULL;
    }
    if (has_nul(n)) {
        err(L, n, "%s: a string may not contain NUL characters", path);
        return NULL;
    }
    const char *s = sc_text(n);
    json_t *j = NULL;
    switch (scalar_kind(n)) {
    case SC_STRING: j = json_stringn(s, n->data.scalar.length); break;
    case SC_TRUE: j = json_true(); break;
    case SC_FALSE: j = json_false(); break;
    case SC_NULL:
        err(L, n, "%s: a default needs a value, got null", path);
        return NULL;
    case SC_BOOL11:
        err(L, n, "%s: \"%s\" is ambiguous (YAML 1.1 reads it as a boolean); write true or false, "
                  "or quote it for a string", path, s);
        return NULL;
    case SC_NUMBER:
        err(L, n, "%s: \"%s\" is not supported (only decimal integers); quote it for a string", path, s);
        return NULL;
    case SC_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno || *end) {
            err(L, n, "%s: integer \"%s\" is out of range", path, s);
            return NULL;
        }
        j = json_integer((json_int_t)v);
        break;
    }
    }
    if (!j)
        L->nomem = true;
    return j;
}

static bool field_ok(loader *L, const yaml_node_t *n, const char *path, const char *field)
{
    if (!field[0]) {
        err(L, n, "%s: must not be empty", path);
        return false;
    }
    const char *seg = field;
    for (const char *c = field;; c++) {
        if (*c == '.' || *c == '\0') {
            if (c == seg) {
                err(L, n, "%s: \"%s\" has an empty segment (a dotted path such as "
                          "securityContext.seccompProfile.type)", path, field);
                return false;
            }
            if (!*c)
                return true;
            seg = c + 1;
        } else if (!is_alnum(*c) && *c != '_' && *c != '-') {
            err(L, n, "%s: \"%s\": a field path is field names (letters, digits, '_', '-') joined by '.'",
                path, field);
            return false;
        }
    }
}

static lg_mutation *new_mutation(loader *L, lg_policy *p)
{
    lg_mutation *v = realloc(p->mutations, (p->n_mutations + 1) * sizeof *v);
    if (!v) {
        L->nomem = true;
        return NULL;
    }
    p->mutations = v;
    lg_mutation *m = &v[p->n_mutations++];
    memset(m, 0, sizeof *m);
    return m;
}

static bool split_field(loader *L, lg_mutation *m, const char *field)
{
    m->field = xstrdup(L, field);
    size_t n = 1;
    for (const char *c = field; *c; c++)
        n += *c == '.';
    m->segs = calloc(n, sizeof *m->segs);
    if (!m->field || !m->segs) {
        L->nomem = true;
        return false;
    }
    const char *seg = field;
    for (const char *c = field;; c++)
        if (*c == '.' || !*c) {
            m->segs[m->nsegs] = strndup(seg, (size_t)(c - seg));
            if (!m->segs[m->nsegs]) {
                L->nomem = true;
                return false;
            }
            m->nsegs++;
            if (!*c)
                return true;
            seg = c + 1;
        }
}

/* True when one dotted field is the other or a parent of it. */
static bool field_overlaps(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    const char *s = la <= lb ? a : b, *l = la <= lb ? b : a;
    size_t ls = la <= lb ? la : lb;
    return !strncmp(s, l, ls) && (l[ls] == '\0' || l[ls] == '.');
}

static void load_defaults(loader *L, lg_policy *p, const yaml_node_t *n, const char *path,
                          lg_mutation_kind kind)
{
    bool container = kind == LG_MUT_CONTAINER_DEFAULT;
    if (!list_items(L, n, path,
                    container ? "a list of {field, value, exceptPrivilegedLanes} entries"
                              : "a list of {field, value} entries"))
        return;
    size_t first = p->n_mutations, i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
        const yaml_node_t *item = node_at(L, *it);
        char ipath[PATH_LEN], kpath[PATH_LEN];
        itempath(ipath, path, i);
        if (!item || !check_map(L, item, ipath, container ? container_default_keys : pod_default_keys))
            continue;
        const yaml_node_t *fv = map_get(L, item, "field", NULL), *vv = map_get(L, item, "value", NULL);
        const yaml_node_t *ev = container ? map_get(L, item, "exceptPrivilegedLanes", NULL) : NULL;
        const char *field = NULL;
        json_t *value = NULL;
        bool except = false, ok = true;
        subpath(kpath, ipath, "field");
        if (!fv) {
            err(L, item, "%s: missing field (a dotted path such as securityContext.seccompProfile.type)", ipath);
            ok = false;
        } else if (!(field = get_str(L, fv, kpath)) || !field_ok(L, fv, kpath, field)) {
            ok = false;
        }
        subpath(kpath, ipath, "value");
        if (!vv) {
            err(L, item, "%s: missing value", ipath);
            ok = false;
        } else if (!(value = get_value(L, vv, kpath))) {
            ok = false;
        }
        subpath(kpath, ipath, "exceptPrivilegedLanes");
        if (ev && !get_bool(L, ev, kpath, &except))
            ok = false;
        if (ok) {
            for (size_t j = first; j < p->n_mutations; j++)
                if (field_overlaps(p->mutations[j].field, field)) {
                    err(L, fv, "%s: field \"%s\" overlaps field \"%s\" of an earlier entry", ipath, field,
                        p->mutations[j].field);
                    ok = false;
                    break;
                }
        }
        lg_mutation *m = ok ? new_mutation(L, p) : NULL;
        if (!m) {
            json_decref(value);
            continue;
        }
        m->kind = kind;
        m->value = value;
        m->except_privileged_lanes = except;
        split_field(L, m, field);
    }
}

static void load_mutations(loader *L, lg_policy *p, const yaml_node_t *n)
{
    if (!check_map(L, n, "spec.mutations", mutation_keys))
        return;
    const yaml_node_t *v;
    if ((v = map_get(L, n, "podDefaults", NULL)))
        load_defaults(L, p, v, "spec.mutations.podDefaults", LG_MUT_POD_DEFAULT);
    if ((v = map_get(L, n, "containerDefaults", NULL)))
        load_defaults(L, p, v, "spec.mutations.containerDefaults", LG_MUT_CONTAINER_DEFAULT);
    bool pin = false;
    if ((v = map_get(L, n, "nodePinning", NULL)) && get_bool(L, v, "spec.mutations.nodePinning", &pin) && pin) {
        lg_mutation *m = new_mutation(L, p);
        if (m)
            m->kind = LG_MUT_NODE_PINNING;
    }
}

static void load_policy(loader *L, const yaml_node_t *root, const char *name, const yaml_node_t *spec)
{
    lg_policy *p = new_policy(L);
    if (!p)
        return;
    p->name = name ? xstrdup(L, name) : NULL;
    p->file = xstrdup(L, L->file);
    p->line = line_of(root);
    p->mode = LG_MODE_ENFORCE;
    p->operations = LG_OPS_CREATE | LG_OPS_UPDATE;
    size_t errs = L->nerr;
    if (!spec || !check_map(L, spec, "spec", policy_spec_keys))
        return;
    const yaml_node_t *v, *ctl = NULL, *rdr = NULL, *rdr_key = NULL, *mut = NULL;
    if ((v = map_get(L, spec, "mode", NULL))) {
        const char *s = get_str(L, v, "spec.mode");
        size_t idx;
        if (s && one_of(L, v, "spec.mode", s, "mode", modes_allowed, &idx))
            p->mode = (lg_mode)idx;
    }
    if ((v = map_get(L, spec, "match", NULL)))
        load_match(L, p, v);
    if ((ctl = map_get(L, spec, "controls", NULL)))
        load_controls(L, p, ctl);
    if ((rdr = map_get(L, spec, "restrictedDeviceResources", &rdr_key)))
        get_strlist(L, rdr, "spec.restrictedDeviceResources", &(listspec){v_resource_pattern, NULL, NULL},
                    &p->restricted_devices);
    if ((mut = map_get(L, spec, "mutations", NULL)))
        load_mutations(L, p, mut);

    if (L->nerr != errs)
        return; /* the combination checks below would only repeat those errors */
    bool any_control = false;
    for (size_t i = 0; i < LG_CTL__COUNT; i++)
        any_control |= p->controls[i];
    if (!any_control && p->n_mutations == 0)
        err(L, root, "policy \"%s\" does nothing: set a control to true in spec.controls or add "
                     "spec.mutations", name ? name : "?");
    if (p->restricted_devices.n && !p->controls[LG_CTL_DEVICE_RESOURCES])
        err(L, rdr_key, "spec.restrictedDeviceResources has no effect without spec.controls.deviceResources: true");
    if (p->controls[LG_CTL_DEVICE_RESOURCES] && !p->restricted_devices.n) {
        /* The control restricts the listed patterns plus every resource a
         * lane grants; whether lanes grant any is known once all are read. */
        const yaml_node_t *kk = NULL;
        map_get(L, ctl, "deviceResources", &kk);
        add_loc(L, &L->dev_checks, OBJ_POLICY, p->name, kk ? kk : ctl);
    }
}

/* ---- one document -------------------------------------------------------- */

static const char *const top_keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
static const char *const meta_keys[] = {"name", "labels", "annotations", NULL};

static void load_doc(loader *L)
{
    const yaml_node_t *root = yaml_document_get_root_node(L->doc);
    if (root->type == YAML_SCALAR_NODE && scalar_kind(root) == SC_NULL)
        return; /* an empty document ("---" alone, or only comments) */
    if (root->type != YAML_MAPPING_NODE) {
        err(L, root, "a policy document must be a mapping (a Lane or PodPolicy object), got %s",
            describe(root));
        return;
    }
    check_map(L, root, "", top_keys);
    const yaml_node_t *v, *spec, *meta, *name_node = NULL;
    enum obj_kind kind = OBJ_LANE;
    bool kind_ok = false;

    if (!(v = map_get(L, root, "apiVersion", NULL))) {
        err(L, root, "missing apiVersion (must be %s)", API_VERSION);
    } else {
        const char *s = get_str(L, v, "apiVersion");
        if (s && strcmp(s, API_VERSION) != 0)
            err(L, v, "apiVersion: must be %s, got \"%s\"", API_VERSION, s);
    }
    if (!(v = map_get(L, root, "kind", NULL))) {
        err(L, root, "missing kind (Lane or PodPolicy)");
    } else {
        const char *s = get_str(L, v, "kind");
        if (s && !strcmp(s, "Lane"))
            kind_ok = true, kind = OBJ_LANE;
        else if (s && !strcmp(s, "PodPolicy"))
            kind_ok = true, kind = OBJ_POLICY;
        else if (s)
            err(L, v, "kind: unknown kind \"%s\" (expected Lane or PodPolicy)", s);
    }

    const char *name = NULL;
    if (!(meta = map_get(L, root, "metadata", NULL))) {
        err(L, root, "missing metadata (with metadata.name)");
    } else if (meta->type == YAML_MAPPING_NODE) {
        /* a namespace gets its own message, not "unknown key" as well */
        static const char *const meta_keys_ns[] = {"name", "labels", "annotations", "namespace", NULL};
        const yaml_node_t *k;
        bool has_ns = map_get(L, meta, "namespace", &k) != NULL;
        if (has_ns)
            err(L, k, "metadata.namespace: Lane and PodPolicy objects are cluster-scoped; remove it");
        check_map(L, meta, "metadata", has_ns ? meta_keys_ns : meta_keys);
        if (!(name_node = map_get(L, meta, "name", NULL))) {
            err(L, meta, "metadata: missing name");
        } else if ((name = get_str(L, name_node, "metadata.name"))) {
            const char *why = kind_ok && kind == OBJ_LANE ? v_lane_name(name) : v_subdomain(name);
            if (why) {
                err(L, name_node, "metadata.name: \"%s\" %s", name, why);
                name = NULL;
            }
        }
        if ((v = map_get(L, meta, "labels", NULL)))
            get_strmap(L, v, "metadata.labels", v_label_key, v_label_value, NULL, NULL);
        if ((v = map_get(L, meta, "annotations", NULL)))
            get_strmap(L, v, "metadata.annotations", v_label_key, NULL, NULL, NULL);
    } else {
        check_map(L, meta, "metadata", meta_keys); /* reports the type */
    }

    if (!(spec = map_get(L, root, "spec", NULL)) && kind_ok)
        err(L, root, "missing spec");
    if (!kind_ok)
        return;
    if (kind == OBJ_LANE)
        load_lane(L, root, name, spec);
    else
        load_policy(L, root, name, spec);
    if (name && !L->nomem) {
        const char *owned = kind == OBJ_LANE ? L->set->lanes[L->set->n_lanes - 1].name
                                             : L->set->policies[L->set->n_policies - 1].name;
        if (owned)
            add_loc(L, &L->objs, kind, owned, name_node);
    }
}

/* ---- one file ------------------------------------------------------------ */

/* 1-based line and column of a byte offset (for reader errors, which carry
 * no mark). */
static void offset_pos(const unsigned char *buf, size_t len, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n')
            l++, c = 1;
        else if ((buf[i] & 0xC0) != 0x80)
            c++;
    }
    *line = l;
    *col = c;
}

static void parser_error(loader *L, const yaml_parser_t *p, const unsigned char *buf, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) {
        L->nomem = true;
        return;
    }
    int line, col;
    if (p->error == YAML_READER_ERROR) {
        offset_pos(buf, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            err_loc(L, L->file, line, col, "YAML error: %s (byte 0x%02X); policy files must be UTF-8 text",
                    p->problem ? p->problem : "unreadable input", (unsigned)p->problem_value & 0xFFu);
        else
            err_loc(L, L->file, line, col, "YAML error: %s; policy files must be UTF-8 text",
                    p->problem ? p->problem : "unreadable input");
        return;
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    const char *hint = "";
    if (p->problem_mark.index < len && buf[p->problem_mark.index] == '\t')
        hint = " (tabs are not allowed for indentation; use spaces)";
    if (p->context)
        err_loc(L, L->file, line, col, "YAML syntax error: %s %s (line %d)%s", p->problem ? p->problem : "?",
                p->context, (int)p->context_mark.line + 1, hint);
    else
        err_loc(L, L->file, line, col, "YAML syntax error: %s%s", p->problem ? p->problem : "?", hint);
}

/* The event pass: refuses aliases, anchors, tags and deep nesting. Returns
 * false when the document pass must not run (too deep). Syntax errors are
 * left to the document pass, which reports them. */
static bool prescan(loader *L, const unsigned char *buf, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        L->nomem = true;
        return false;
    }
    yaml_parser_set_input_string(&p, buf, len);
    bool ok = true, done = false;
    int depth = 0;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev))
            break;
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        const yaml_char_t *anchor = NULL, *tag = NULL;
        switch (ev.type) {
        case YAML_ALIAS_EVENT:
            err_loc(L, L->file, line, col,
                    "alias *%s: anchors and aliases are not allowed in policy files; write the value out "
                    "so that reviewers see it", ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT:
            anchor = ev.data.scalar.anchor;
            tag = ev.data.scalar.tag;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            anchor = ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                          : ev.data.mapping_start.anchor;
            tag = ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.tag : ev.data.mapping_start.tag;
            if (++depth > MAX_DEPTH) {
                err_loc(L, L->file, line, col, "nesting deeper than %d levels; not a policy", MAX_DEPTH);
                ok = false;
                done = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_STREAM_END_EVENT: done = true; break;
        default: break;
        }
        if (anchor)
            err_loc(L, L->file, line, col,
                    "anchor &%s: anchors and aliases are not allowed in policy files; write the value out "
                    "so that reviewers see it", anchor);
        if (tag)
            err_loc(L, L->file, line, col, "tag %s: tags are not allowed in policy files%s", tag,
                    ev.type == YAML_SCALAR_EVENT ? "; quote the value if a string is meant" : "");
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    return ok;
}

static void load_buffer(loader *L, const unsigned char *buf, size_t len)
{
    if (!prescan(L, buf, len))
        return;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        L->nomem = true;
        return;
    }
    yaml_parser_set_input_string(&p, buf, len);
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&p, &doc)) {
            parser_error(L, &p, buf, len);
            break;
        }
        bool end = yaml_document_get_root_node(&doc) == NULL;
        if (!end) {
            L->doc = &doc;
            load_doc(L);
            L->doc = NULL;
        }
        yaml_document_delete(&doc);
        if (end || L->nomem)
            break;
    }
    yaml_parser_delete(&p);
}

/* Reads path whole (at most MAX_FILE_BYTES). NULL with a diag on failure. */
static unsigned char *read_file(loader *L, const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        err_loc(L, path, 0, 0, "cannot read: %s", strerror(errno));
        L->io = true;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        err_loc(L, path, 0, 0, "cannot read: %s",
                fstat(fd, &st) != 0 ? strerror(e) : S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        L->io = true;
        close(fd);
        return NULL;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        err_loc(L, path, 0, 0, "file is larger than 1 MiB (%lld bytes); split it", (long long)st.st_size);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        L->nomem = true;
        close(fd);
        return NULL;
    }
    for (;;) {
        if (n == cap) { /* the file grew while we read it */
            if (cap > MAX_FILE_BYTES) {
                err_loc(L, path, 0, 0, "file is larger than 1 MiB; split it");
                free(buf);
                close(fd);
                return NULL;
            }
            size_t ncap = cap * 2 > MAX_FILE_BYTES + 1 ? MAX_FILE_BYTES + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                L->nomem = true;
                free(buf);
                close(fd);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err_loc(L, path, 0, 0, "cannot read: %s", strerror(errno));
            L->io = true;
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

/* Stable sort of ds->v[from..] by line, then column (insertion sort: few). */
static void sort_diags(lg_diags *ds, size_t from)
{
    if (!ds)
        return;
    for (size_t i = from + 1; i < ds->n; i++) {
        lg_diag d = ds->v[i];
        size_t j = i;
        while (j > from && (ds->v[j - 1].line > d.line || (ds->v[j - 1].line == d.line && ds->v[j - 1].col > d.col))) {
            ds->v[j] = ds->v[j - 1];
            j--;
        }
        ds->v[j] = d;
    }
}

static void load_file(loader *L, const char *path)
{
    size_t from = L->diags ? L->diags->n : 0, len = 0;
    L->file = path;
    unsigned char *buf = read_file(L, path, &len);
    if (buf) {
        load_buffer(L, buf, len);
        free(buf);
    }
    sort_diags(L->diags, from);
    L->file = NULL;
}

static int objloc_cmp(const void *a, const void *b)
{
    const objloc *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void check_duplicates(loader *L)
{
    objloc *objs = L->objs.v;
    size_t n = L->objs.n;
    if (n < 2)
        return;
    qsort(objs, n, sizeof *objs, objloc_cmp);
    size_t first = 0;
    for (size_t i = 1; i < n; i++) {
        const objloc *a = &objs[first], *b = &objs[i];
        if (a->kind != b->kind || strcmp(a->name, b->name) != 0) {
            first = i;
            continue;
        }
        err_loc(L, b->file, b->line, b->col, "duplicate %s \"%s\": defined at %s:%d:%d and at %s:%d:%d",
                kind_names[b->kind], b->name, a->file, a->line, a->col, b->file, b->line, b->col);
    }
}

/* A deviceResources control with no patterns restricts only what lanes grant. */
static void check_device_controls(loader *L)
{
    for (size_t i = 0; i < L->set->n_lanes; i++)
        if (L->set->lanes[i].device_resources.n)
            return;
    for (size_t i = 0; i < L->dev_checks.n; i++) {
        const objloc *c = &L->dev_checks.v[i];
        err_loc(L, c->file, c->line, c->col,
                "spec.controls.deviceResources restricts nothing: policy \"%s\" has no "
                "spec.restrictedDeviceResources and no Lane grants deviceResources",
                c->name ? c->name : "?");
    }
}

static lg_status finish(loader *L, const char *where_name, lg_policy_set **out)
{
    if (!L->nomem) {
        check_duplicates(L);
        check_device_controls(L);
    }
    if (!L->nomem && L->nerr == 0 && L->set->n_policies == 0)
        err_loc(L, where_name, 0, 0,
                "no policies found: no PodPolicy object in any *.yaml or *.yml file (a webhook without "
                "policies would allow everything)");
    if (L->capped)
        lg_diags_push(L->diags, where_name, 0, 0, "too many errors (%zu); only the first %d are listed", L->nerr,
                      MAX_DIAGS);
    if (!L->nomem && !L->set->lane_label && !(L->set->lane_label = strdup(LG_DEFAULT_LANE_LABEL)))
        L->nomem = true;
    free(L->objs.v);
    free(L->dev_checks.v);
    lg_status st = L->nomem ? LG_ERR_NOMEM : L->io ? LG_ERR_IO : L->nerr ? LG_ERR_POLICY : LG_OK;
    if (st != LG_OK) {
        lg_policy_set_unref(L->set);
        return st;
    }
    *out = L->set;
    return LG_OK;
}

static bool loader_init(loader *L, lg_diags *diags)
{
    memset(L, 0, sizeof *L);
    L->diags = diags;
    L->set = calloc(1, sizeof *L->set);
    if (!L->set)
        return false;
    atomic_init(&L->set->refs, 1);
    return true;
}

/* where_name: what "no policies found" is reported against. */
static lg_status load_paths(const char *const *paths, size_t n, const char *where_name, lg_policy_set **out,
                            lg_diags *diags)
{
    *out = NULL;
    loader L;
    if (!loader_init(&L, diags))
        return LG_ERR_NOMEM;
    for (size_t i = 0; i < n && !L.nomem; i++)
        load_file(&L, paths[i]);
    return finish(&L, where_name, out);
}

lg_status lg_policy_load_files(const char *const *paths, size_t n, lg_policy_set **out, lg_diags *diags)
{
    return load_paths(paths, n, n == 1 ? paths[0] : "", out, diags);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t ls = strlen(s), lf = strlen(suf);
    return ls > lf && !strcmp(s + ls - lf, suf);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

lg_status lg_policy_load_dir(const char *dir, lg_policy_set **out, lg_diags *diags)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        if (!lg_diags_push(diags, dir, 0, 0, "cannot open policy directory: %s", strerror(errno)))
            return LG_ERR_NOMEM;
        return LG_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool nomem = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        /* '.'-names: ".", "..", hidden files and a ConfigMap volume's ..data
         * and ..<timestamp> entries, whose files appear again via symlinks */
        if (e->d_name[0] == '.' || !(has_suffix(e->d_name, ".yaml") || has_suffix(e->d_name, ".yml")))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **v = realloc(names, ncap * sizeof *v);
            if (!v) {
                nomem = true;
                break;
            }
            names = v;
            cap = ncap;
        }
        const char *sep = dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/";
        if (!(names[n] = lg_strfmt("%s%s%s", dir, sep, e->d_name))) {
            nomem = true;
            break;
        }
        n++;
    }
    closedir(d);
    lg_status st = LG_ERR_NOMEM;
    if (!nomem) {
        if (n > 1)
            qsort(names, n, sizeof *names, name_cmp);
        /* non-recursive: directories named *.yaml are skipped, not read */
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            struct stat sb;
            if (stat(names[i], &sb) == 0 && S_ISDIR(sb.st_mode))
                free(names[i]);
            else
                names[kept++] = names[i];
        }
        n = kept;
        if (n == 0) {
            st = lg_diags_push(diags, dir, 0, 0,
                               "no policies found: no *.yaml or *.yml file (a webhook without policies "
                               "would allow everything)")
                     ? LG_ERR_POLICY
                     : LG_ERR_NOMEM;
        } else {
            st = load_paths((const char *const *)names, n, dir, out, diags);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}
