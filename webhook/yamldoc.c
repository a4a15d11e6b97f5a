/* yamldoc.c — YAML or JSON text (one or more documents) → a JSON array of documents.
 *
 * Scalars resolve the way kubectl resolves them (sigs.k8s.io/yaml over go-yaml v2,
 * YAML 1.1): plain y/yes/on/true (any of the usual casings) are true, n/no/off/false
 * false; ~/null/empty null; Go-syntax integers (0x, 0o, leading-0 octal, 0b, sign,
 * underscores); floats, where an integral float becomes an integer because kubectl
 * round-trips through JSON; quoted, literal and folded scalars stay strings; the
 * !!str/!!int/!!float/!!bool/!!null tags are honoured, other tags give strings.
 * Mapping keys become strings (true → "true", 80 → "80"). Merge keys (<<) work.
 * Deliberate differences from kubectl: duplicate keys are an error (a classic
 * parser-differential trick), strings containing NUL are an error, .inf/.nan are an
 * error (JSON cannot carry them; kubectl fails too), timestamps stay strings.
 *
 * Defences: at most LG_DOC_MAX_DEPTH nested collections, at most
 * LG_DOC_MAX_ALIAS_NODES nodes created by alias expansion (billion laughs).
 * Aliases are deep copies, so no two places in a result share a node.
 *
 * JSON input whose first byte is '{' or '[' is first tried with json_loadb (fast);
 * if that fails for any reason the YAML path runs and reports the position.
 * JSON numbers are left exactly as jansson reads them (as the webhook sees them).
 *
 * Pure: no globals, no printing. Errors: LG_ERR_INPUT with name:line:col (1-based)
 * or LG_ERR_NOMEM; on error *out is NULL and nothing is leaked. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util.h"
#include "yamldoc.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct anchor {
    char *name;
    json_t *node;
    size_t nodes; /* nodes in the subtree, itself included */
    int height;   /* nested collections in it (0 for a scalar) */
} anchor;

typedef struct frame {
    json_t *node; /* the object or array being built */
    bool is_map;
    char *key; /* pending key; NULL while a key is expected */
    bool key_is_merge;
    int key_line, key_col;
    json_t *merges; /* mappings given by "<<" keys, in order; NULL if none */
    char *anchor;
    size_t nodes; /* nodes added below this one */
    int height;
    int line, col;
} frame;

typedef struct builder {
    const char *name;
    lg_diag *diag;
    lg_doc_marks *marks;
    json_t *docs;
    json_t *root;
    int root_line, root_col;
    frame stack[LG_DOC_MAX_DEPTH];
    int depth;
    anchor *anchors;
    size_t nanchors, capanchors;
    size_t alias_nodes;
    lg_status st;
} builder;

/* ---- errors and marks ------------------------------------------------- */

static void fail(builder *b, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(builder *b, int line, int col, const char *fmt, ...)
{
    if (b->st != LG_OK)
        return;
    b->st = LG_ERR_INPUT;
    if (!b->diag)
        return;
    char msg[sizeof b->diag->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg_diag_set(b->diag, b->name, line, col, "%s", msg);
}

static void nomem(builder *b)
{
    if (b->st != LG_OK)
        return;
    b->st = LG_ERR_NOMEM;
    lg_diag_set(b->diag, b->name, 0, 0, "out of memory");
}

static void mark(builder *b, const json_t *parent, const char *key, size_t index, int line, int col,
                 int key_line, int key_col)
{
    lg_doc_marks *m = b->marks;
    if (!m)
        return;
    if (!lg_grow((void **)&m->v, m->n, &m->cap, sizeof *m->v, 64)) {
            nomem(b);
            return;
    }
    char *k = NULL;
    if (key && !(k = strdup(key))) {
        nomem(b);
        return;
    }
    m->v[m->n++] = (lg_doc_mark){parent, k, index, line, col, key_line, key_col};
}

const lg_doc_mark *lg_doc_mark_find(const lg_doc_marks *m, const json_t *parent, const char *key,
                                    size_t index)
{
    for (size_t i = 0; m && i < m->n; i++) {
        const lg_doc_mark *k = &m->v[i];
        if (k->parent != parent)
            continue;
        if (key ? (k->key && !strcmp(k->key, key)) : (!k->key && k->index == index))
            return k;
    }
    return NULL;
}

void lg_doc_marks_free(lg_doc_marks *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].key);
    free(m->v);
    m->v = NULL;
    m->n = m->cap = 0;
}

/* ---- anchors ----------------------------------------------------------- */

static void anchors_clear(builder *b)
{
    for (size_t i = 0; i < b->nanchors; i++) {
        free(b->anchors[i].name);
        json_decref(b->anchors[i].node);
    }
    b->nanchors = 0;
}

/* Takes name; keeps a reference to node. A redefined anchor replaces the old one. */
static void anchor_set(builder *b, char *name, json_t *node, size_t nodes, int height)
{
    for (size_t i = 0; i < b->nanchors; i++)
        if (!strcmp(b->anchors[i].name, name)) {
            free(name);
            json_decref(b->anchors[i].node);
            b->anchors[i] = (anchor){b->anchors[i].name, json_incref(node), nodes, height};
            return;
        }
    if (b->nanchors == b->capanchors) {
        size_t cap = b->capanchors ? b->capanchors * 2 : 8;
        anchor *v = realloc(b->anchors, cap * sizeof *v);
        if (!v) {
            free(name);
            nomem(b);
            return;
        }
        b->anchors = v;
        b->capanchors = cap;
    }
    b->anchors[b->nanchors++] = (anchor){name, json_incref(node), nodes, height};
}

static const anchor *anchor_find(const builder *b, const char *name)
{
    for (size_t i = 0; i < b->nanchors; i++)
        if (!strcmp(b->anchors[i].name, name))
            return &b->anchors[i];
    return NULL;
}

/* ---- scalar resolution (go-yaml v2 rules) ------------------------------ */

static const char *const true_words[] = {"y", "Y", "yes", "Yes", "YES", "true", "True",
                                         "TRUE", "on", "On", "ON"};
static const char *const false_words[] = {"n", "N", "no", "No", "NO", "false", "False",
                                          "FALSE", "off", "Off", "OFF"};
static const char *const null_words[] = {"", "~", "null", "Null", "NULL"};
static const char *const nonfinite_words[] = {".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                                              "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf",
                                              "-.INF"};

static bool word_in(const char *s, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, words[i]))
            return true;
    return false;
}
#define WORD_IN(s, w) word_in((s), (w), LG_ARRAY_LEN(w))

/* Go's strconv.ParseInt/ParseUint with base 0 (prefixes 0x 0o 0b, leading-0
 * octal, optional sign). Sets *mag and *neg; false when not an integer or over
 * 64 bits. */
static bool parse_go_int(const char *s, unsigned long long *mag, bool *neg)
{
    *neg = false;
    if (*s == '+' || *s == '-')
        *neg = *s++ == '-';
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        base = 8, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
        base = 2, s += 2;
    else if (s[0] == '0' && s[1])
        base = 8, s += 1;
    if (!*s)
        return false;
    unsigned long long v = 0;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (*s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (*s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (d >= base || v > (ULLONG_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *mag = v;
    return true;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool is_yaml_float(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (*s == '.') {
        if (!(s[1] >= '0' && s[1] <= '9'))
            return false;
        for (s++; *s >= '0' && *s <= '9'; s++)
            ;
    } else {
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
        if (*s == '.')
            for (s++; *s >= '0' && *s <= '9'; s++)
                ;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

typedef enum { NUM_NONE, NUM_INT, NUM_FLOAT } num_kind;

/* Integer or float per go-yaml's resolve() for text starting with a digit, a sign
 * or '.'. Underscores are dropped first (go-yaml does the same). */
static num_kind parse_number(const char *text, long long *iv, double *dv)
{
    size_t n = strlen(text);
    char tmp[128];
    if (n >= sizeof tmp)
        return NUM_NONE; /* no number is that long; keep it a string */
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (text[i] != '_')
            tmp[j++] = text[i];
    tmp[j] = '\0';
    if (text[0] != '.') {
        unsigned long long mag;
        bool neg;
        if (parse_go_int(tmp, &mag, &neg)) {
            if (neg && mag <= (unsigned long long)LLONG_MAX + 1) {
                *iv = mag == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)mag;
                return NUM_INT;
            }
            if (!neg && mag <= (unsigned long long)LLONG_MAX) {
                *iv = (long long)mag;
                return NUM_INT;
            }
            if (!neg && text[0] != '+') { /* ParseUint: a uint64 above int64, as a float */
                *dv = (double)mag;
                return NUM_FLOAT;
            }
        }
    }
    /* '.'-led text goes straight to ParseFloat in go-yaml, which takes no '_'. */
    const char *f = text[0] == '.' ? text : tmp;
    if (!is_yaml_float(f))
        return NUM_NONE;
    errno = 0;
    double d = strtod(f, NULL);
    if (isinf(d)) /* ParseFloat reports a range error: go-yaml keeps the string */
        return NUM_NONE;
    *dv = d;
    return NUM_FLOAT;
}

/* As kubectl: YAML → Go float64 → JSON, where an integral float prints as an integer. */
static json_t *float_json(double d, bool keep_float)
{
    if (!keep_float && fabs(d) < 9.2e18 && (double)(long long)d == d)
        return json_integer((json_int_t)d);
    return json_real(d);
}

static json_t *make_string(builder *b, const char *s, size_t n, int line, int col)
{
    if (memchr(s, '\0', n)) {
        fail(b, line, col, "string contains a NUL character");
        return NULL;
    }
    json_t *j = json_stringn(s, n);
    if (!j) /* libyaml hands out valid UTF-8 only, so this is an allocation failure */
        nomem(b);
    return j;
}

/* Resolves one scalar event to a JSON value (NULL after fail()). keep_float:
 * keys keep float type (sigs.k8s.io/yaml formats float keys as floats). */
static json_t *resolve_scalar(builder *b, const yaml_event_t *ev, bool keep_float)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *tag = (const char *)ev->data.scalar.tag;
    bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const char *t = NULL; /* the standard tag's short name, e.g. "int" */

    if (tag && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
        t = tag + strlen(TAG_PREFIX);
    if (t && !strcmp(t, "str"))
        return make_string(b, s, n, line, col);
    if (!t && (tag || !plain)) /* quoted, literal, folded, "!" or a local tag */
        return make_string(b, s, n, line, col);
    if (memchr(s, '\0', n)) {
        fail(b, line, col, "scalar contains a NUL character");
        return NULL;
    }
    if (t && strcmp(t, "null") && strcmp(t, "bool") && strcmp(t, "int") && strcmp(t, "float"))
        return make_string(b, s, n, line, col); /* !!binary, !!timestamp, ... */

    bool is_null = WORD_IN(s, null_words), is_true = WORD_IN(s, true_words),
         is_false = WORD_IN(s, false_words);
    if (t && !strcmp(t, "null")) {
        if (is_null)
            return json_null();
        fail(b, line, col, "cannot decode \"%.64s\" as !!null", s);
        return NULL;
    }
    if (t && !strcmp(t, "bool")) {
        if (is_true || is_false)
            return json_boolean(is_true);
        fail(b, line, col, "cannot decode \"%.64s\" as !!bool", s);
        return NULL;
    }
    if (WORD_IN(s, nonfinite_words)) {
        fail(b, line, col, "%s cannot be represented in JSON", s);
        return NULL;
    }
    long long iv = 0;
    double dv = 0;
    num_kind k = NUM_NONE;
    if ((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-' || s[0] == '.')
        k = parse_number(s, &iv, &dv);
    if (t && !strcmp(t, "int")) {
        if (k == NUM_INT)
            return json_integer(iv);
        fail(b, line, col, "cannot decode \"%.64s\" as !!int", s);
        return NULL;
    }
    if (t && !strcmp(t, "float")) {
        if (k == NUM_INT)
            return float_json((double)iv, keep_float);
        if (k == NUM_FLOAT)
            return float_json(dv, keep_float);
        fail(b, line, col, "cannot decode \"%.64s\" as !!float", s);
        return NULL;
    }
    if (is_null)
        return json_null();
    if (is_true || is_false)
        return json_boolean(is_true);
    if (k == NUM_INT)
        return json_integer(iv);
    if (k == NUM_FLOAT)
        return float_json(dv, keep_float);
    return make_string(b, s, n, line, col);
}

/* Go's strconv.FormatFloat(f, 'g', -1, 32), which sigs.k8s.io/yaml uses for keys. */
static void format_float_key(double d, char *out, size_t size)
{
    float f = (float)d;
    if (isinf(f)) {
        snprintf(out, size, "%s", f > 0 ? ".inf" : "-.inf");
        return;
    }
    char tmp[64];
    int p;
    for (p = 1; p < 9; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)f);
        if ((float)strtod(tmp, NULL) == f)
            break;
    }
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, (double)f);
    long exp = f == 0 ? 0 : strtol(strchr(tmp, 'e') + 1, NULL, 10);
    if (exp < -4 || exp >= 6)
        snprintf(out, size, "%s", tmp);
    else
        snprintf(out, size, "%.*f", (int)(p - 1 - exp > 0 ? p - 1 - exp : 0), (double)f);
}

/* The key string for a resolved scalar (NULL after fail()). */
static char *key_string(builder *b, const json_t *k, int line, int col)
{
    char num[64];
    const char *s;
    switch (json_typeof(k)) {
    case JSON_STRING: s = json_string_value(k); break;
    case JSON_INTEGER: snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(k)); s = num; break;
    case JSON_REAL: format_float_key(json_real_value(k), num, sizeof num); s = num; break;
    case JSON_TRUE: s = "true"; break;
    case JSON_FALSE: s = "false"; break;
    case JSON_NULL: fail(b, line, col, "a mapping key cannot be null"); return NULL;
    default: fail(b, line, col, "mapping keys must be scalars"); return NULL;
    }
    char *r = strdup(s);
    if (!r)
        nomem(b);
    return r;
}

/* ---- tree building ------------------------------------------------------ */

static void set_key(builder *b, frame *f, char *key, bool merge, int line, int col)
{
    if (!key)
        return;
    if (!merge && json_object_get(f->node, key)) {
        fail(b, line, col, "duplicate key \"%.200s\"", key);
        free(key);
        return;
    }
    f->key = key;
    f->key_is_merge = merge;
    f->key_line = line;
    f->key_col = col;
}

static bool is_mapping_list(const json_t *v)
{
    if (json_is_object(v))
        return true;
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!json_is_object(e)) return false;
    return true;
}

/* Adds a finished node (stolen) to the open collection, or makes it the document
 * root. anchor_name (stolen, may be NULL) registers it. */
static void add_node(builder *b, json_t *node, size_t nodes, int height, int line, int col,
                     char *anchor_name)
{
    if (!node) {
        free(anchor_name);
        if (b->st == LG_OK)
            nomem(b);
        return;
    }
    if (anchor_name)
        anchor_set(b, anchor_name, node, nodes, height);
    if (b->st != LG_OK) {
        json_decref(node);
        return;
    }
    if (b->depth == 0) {
        json_decref(b->root);
        b->root = node;
        b->root_line = line;
        b->root_col = col;
        return;
    }
    frame *f = &b->stack[b->depth - 1];
    f->nodes += nodes;
    if (height + 1 > f->height)
        f->height = height + 1;
    if (!f->is_map) {
        size_t idx = json_array_size(f->node);
        if (json_array_append_new(f->node, node))
            nomem(b);
        else
            mark(b, f->node, NULL, idx, line, col, 0, 0);
        return;
    }
    if (f->key_is_merge) {
        if (!is_mapping_list(node)) {
            fail(b, line, col, "the value of a merge key (<<) must be a mapping or a list of mappings");
            json_decref(node);
        } else if (!f->merges && !(f->merges = json_array())) {
            json_decref(node);
            nomem(b);
        } else if (json_array_append_new(f->merges, node)) {
            nomem(b);
        }
    } else if (json_object_set_new(f->node, f->key, node)) {
        nomem(b);
    } else {
        mark(b, f->node, f->key, 0, line, col, f->key_line, f->key_col);
    }
    free(f->key);
    f->key = NULL;
}

/* Merge keys: explicit keys win, then earlier merged mappings win over later ones. */
static void apply_merges(builder *b, frame *f)
{
    size_t i;
    json_t *src;
    json_array_foreach(f->merges, i, src) {
        json_t *one = json_is_object(src) ? src : NULL;
        size_t n = json_is_array(src) ? json_array_size(src) : 1;
        for (size_t j = 0; j < n; j++) {
            json_t *m = one ? one : json_array_get(src, j);
            const char *k;
            json_t *v;
            json_object_foreach(m, k, v) {
                if (!json_object_get(f->node, k) && json_object_set(f->node, k, v)) {
                    nomem(b);
                    return;
                }
            }
        }
    }
}

static void frame_free(frame *f)
{
    json_decref(f->node);
    json_decref(f->merges);
    free(f->key);
    free(f->anchor);
    memset(f, 0, sizeof *f);
}

static char *take_anchor(builder *b, const yaml_char_t *a)
{
    if (!a)
        return NULL;
    char *s = strdup((const char *)a);
    if (!s)
        nomem(b);
    return s;
}

static void push_collection(builder *b, const yaml_event_t *ev, bool is_map, const yaml_char_t *anchor_name)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    if (b->depth > 0 && b->stack[b->depth - 1].is_map && !b->stack[b->depth - 1].key) {
        fail(b, line, col, "mapping keys must be scalars");
        return;
    }
    if (b->depth >= LG_DOC_MAX_DEPTH) {
        fail(b, line, col, "nesting deeper than %d levels", LG_DOC_MAX_DEPTH);
        return;
    }
    frame *f = &b->stack[b->depth];
    memset(f, 0, sizeof *f);
    f->node = is_map ? json_object() : json_array();
    if (!f->node) {
        nomem(b);
        return;
    }
    f->is_map = is_map;
    f->height = 1;
    f->line = line;
    f->col = col;
    b->depth++;
    f->anchor = take_anchor(b, anchor_name);
}

static void pop_collection(builder *b)
{
    frame *f = &b->stack[b->depth - 1];
    if (f->merges)
        apply_merges(b, f);
    frame done = *f;
    memset(f, 0, sizeof *f);
    b->depth--;
    json_decref(done.merges);
    free(done.key);
    add_node(b, done.node, done.nodes + 1, done.height, done.line, done.col, done.anchor);
}

static void on_scalar(builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    bool want_key = f && f->is_map && !f->key;
    json_t *v = resolve_scalar(b, ev, want_key);
    if (!v) {
        nomem(b); /* no-op when resolve_scalar already failed with a reason */
        return;
    }
    if (want_key) {
        bool merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
                     !strcmp((const char *)ev->data.scalar.value, "<<");
        char *k = key_string(b, v, line, col);
        char *an = k ? take_anchor(b, ev->data.scalar.anchor) : NULL;
        if (an) /* an anchored key: "&k name: v", reusable as a value or a key */
            anchor_set(b, an, v, 1, 0);
        json_decref(v);
        set_key(b, f, k, merge, line, col);
        return;
    }
    add_node(b, v, 1, 0, line, col, take_anchor(b, ev->data.scalar.anchor));
}

static void on_alias(builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const anchor *a = anchor_find(b, (const char *)ev->data.alias.anchor);
    if (!a) {
        fail(b, line, col, "unknown anchor \"%.100s\"", (const char *)ev->data.alias.anchor);
        return;
    }
    frame *f = b->depth ? &b->stack[b->depth - 1] : NULL;
    if (f && f->is_map && !f->key) {
        set_key(b, f, key_string(b, a->node, line, col), false, line, col);
        return;
    }
    if (a->nodes > LG_DOC_MAX_ALIAS_NODES - b->alias_nodes) {
        fail(b, line, col, "aliases expand to more than %d nodes", LG_DOC_MAX_ALIAS_NODES);
        return;
    }
    b->alias_nodes += a->nodes;
    if (b->depth + a->height > LG_DOC_MAX_DEPTH) {
        fail(b, line, col, "nesting deeper than %d levels", LG_DOC_MAX_DEPTH);
        return;
    }
    add_node(b, json_deep_copy(a->node), a->nodes, a->height, line, col, NULL);
}

static void end_document(builder *b)
{
    json_t *root = b->root;
    b->root = NULL;
    anchors_clear(b);
    if (!root || json_is_null(root)) { /* empty documents are skipped, as kubectl does */
        json_decref(root);
        return;
    }
    size_t idx = json_array_size(b->docs);
    if (json_array_append_new(b->docs, root))
        nomem(b);
    else
        mark(b, b->docs, NULL, idx, b->root_line, b->root_col, 0, 0);
}

static void on_event(builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT: anchors_clear(b); break;
    case YAML_DOCUMENT_END_EVENT: end_document(b); break;
    case YAML_SCALAR_EVENT: on_scalar(b, ev); break;
    case YAML_ALIAS_EVENT: on_alias(b, ev); break;
    case YAML_SEQUENCE_START_EVENT: push_collection(b, ev, false, ev->data.sequence_start.anchor); break;
    case YAML_MAPPING_START_EVENT: push_collection(b, ev, true, ev->data.mapping_start.anchor); break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            pop_collection(b);
        break;
    default: break;
    }
}

/* Line and column of a byte offset (reader errors carry only the offset). */
static void offset_position(const char *buf, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

static void parser_error(builder *b, const yaml_parser_t *p, const char *buf, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR) {
        nomem(b);
        return;
    }
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        offset_position(buf, len, p->problem_offset, &line, &col);
        if (p->problem_value != -1)
            fail(b, line, col, "%s (byte 0x%02x)", problem, (unsigned)p->problem_value & 0xffu);
        else
            fail(b, line, col, "%s", problem);
        return;
    }
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->context)
        fail(b, line, col, "%s (%s at %d:%d)", problem, p->context,
             (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        fail(b, line, col, "%s", problem);
}

static lg_status parse_yaml(const char *name, const char *buf, size_t len, json_t **out,
                            lg_doc_marks *marks, lg_diag *diag)
{
    builder b = {.name = name, .diag = diag, .marks = marks};
    yaml_parser_t p;
    if (!(b.docs = json_array()) || !yaml_parser_initialize(&p)) {
        json_decref(b.docs);
        lg_diag_set(diag, name, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            parser_error(&b, &p, buf, len);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (end || b.st != LG_OK)
            break;
    }
    yaml_parser_delete(&p);
    while (b.depth > 0)
        frame_free(&b.stack[--b.depth]);
    json_decref(b.root);
    anchors_clear(&b);
    free(b.anchors);
    if (b.st != LG_OK) {
        json_decref(b.docs);
        if (marks)
            lg_doc_marks_free(marks);
        return b.st;
    }
    *out = b.docs;
    return LG_OK;
}

/* ---- JSON fast path ------------------------------------------------------ */

static bool deeper_than(const json_t *j, int limit)
{
    if (!json_is_object(j) && !json_is_array(j))
        return false;
    if (limit <= 0)
        return true;
    size_t i;
    const char *k;
    json_t *v;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) if (deeper_than(v, limit - 1)) return true;
    } else {
        json_object_foreach((json_t *)j, k, v) if (deeper_than(v, limit - 1)) return true;
    }
    return false;
}

/* One JSON document in, or false to let the YAML path decide (and explain). */
static bool try_json(const char *buf, size_t len, json_t **out)
{
    size_t i = 0;
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3))
        i = 3;
    size_t start = i;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len || (buf[i] != '{' && buf[i] != '['))
        return false;
    json_error_t err;
    json_t *doc = json_loadb(buf + start, len - start, JSON_REJECT_DUPLICATES, &err);
    if (!doc)
        return false;
    json_t *docs = NULL;
    if (deeper_than(doc, LG_DOC_MAX_DEPTH) || !(docs = json_array()) ||
        json_array_append_new(docs, doc)) {
        if (!docs)
            json_decref(doc);
        json_decref(docs);
        return false;
    }
    *out = docs;
    return true;
}

lg_status lg_documents_parse(const char *name, const char *buf, size_t len, json_t **out,
                             lg_diag *diag)
{
    *out = NULL;
    if (!name)
        name = "<input>";
    if (try_json(buf, len, out))
        return LG_OK;
    return parse_yaml(name, buf, len, out, NULL, diag);
}

lg_status lg_documents_parse_marked(const char *name, const char *buf, size_t len, json_t **out,
                                    lg_doc_marks *marks, lg_diag *diag)
{
    *out = NULL;
    return parse_yaml(name ? name : "<input>", buf, len, out, marks, diag);
}
