/* jsonpatch.c — RFC 6902 JSON Patch and RFC 6901 JSON Pointer.
 *
 * Pointers: "" is the whole document, otherwise "/"-separated reference tokens
 * with "~1" for '/' and "~0" for '~' ("~" followed by anything else is malformed).
 * An array index is "0" or a digit string without a leading zero; "-" names the
 * slot after the last element and only "add" may use it.
 * lg_patch_apply is atomic: it works on a deep copy and swaps it in only when
 * every operation succeeded, so on failure *doc is exactly what it was.
 * Building pointers and "add" operations lives in pointer.c.
 * Pure: no globals, no printing; errors are lg_status + lg_diag. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpatch.h"

/* ---- equality (RFC 6902 "test") ---------------------------------------- */

static bool numbers_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    const json_t *i = json_is_integer(a) ? a : b, *r = json_is_integer(a) ? b : a;
    double d = json_real_value(r);
    /* compare in the integer domain so that 2^53+1 never equals 2^53.0 */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != (double)(json_int_t)d)
        return false;
    return (json_int_t)d == json_integer_value(i);
}

bool lg_json_equal(const json_t *a, const json_t *b)
{
    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return numbers_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!lg_json_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) if (!lg_json_equal(v, json_object_get(b, k))) return false;
        return true;
    }
    default: /* true, false, null: the type is the value */
        return true;
    }
}

/* ---- pointers ---------------------------------------------------------- */

typedef enum { PTR_OK = 0, PTR_MALFORMED, PTR_MISSING, PTR_NOMEM } ptr_status;

/* Decodes the token that starts at p (just after a '/') into a new string and
 * sets *end to the '/' or NUL that ends it. */
static ptr_status token_decode(const char *p, const char **end, char **out)
{
    size_t n = strcspn(p, "/");
    char *t = malloc(n + 1);
    if (!t)
        return PTR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '~') {
            t[j++] = p[i];
        } else if (i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
            t[j++] = p[++i] == '0' ? '~' : '/';
        } else {
            free(t);
            return PTR_MALFORMED;
        }
    }
    t[j] = '\0';
    *end = p + n;
    *out = t;
    return PTR_OK;
}

/* "0" or [1-9][0-9]*, within size_t. */
static bool parse_index(const char *t, size_t *out)
{
    if (!*t || (t[0] == '0' && t[1]))
        return false;
    size_t v = 0;
    for (; *t; t++) {
        if (*t < '0' || *t > '9' || v > (SIZE_MAX - (size_t)(*t - '0')) / 10)
            return false;
        v = v * 10 + (size_t)(*t - '0');
    }
    *out = v;
    return true;
}

static json_t *child(json_t *node, const char *tok)
{
    size_t i;
    if (json_is_object(node))
        return json_object_get(node, tok);
    if (json_is_array(node) && parse_index(tok, &i))
        return json_array_get(node, i); /* NULL past the end */
    return NULL;
}

/* Splits ptr into the container that holds the target (*parent) and the last
 * token (*last, malloc'd). For "" both are NULL. */
static ptr_status walk_parent(json_t *doc, const char *ptr, json_t **parent, char **last)
{
    *parent = NULL;
    *last = NULL;
    if (!*ptr)
        return PTR_OK;
    if (*ptr != '/')
        return PTR_MALFORMED;
    json_t *node = doc;
    const char *p = ptr + 1;
    for (;;) {
        char *tok;
        const char *end;
        ptr_status st = token_decode(p, &end, &tok);
        if (st != PTR_OK)
            return st;
        if (!*end) {
            *parent = node;
            *last = tok;
            return PTR_OK;
        }
        node = child(node, tok);
        free(tok);
        if (!node)
            return PTR_MISSING;
        p = end + 1;
    }
}

/* The value at ptr (borrowed) or NULL; *st says why not. */
static json_t *pointer_get(json_t *doc, const char *ptr, ptr_status *st)
{
    json_t *parent;
    char *last;
    *st = walk_parent(doc, ptr, &parent, &last);
    if (*st != PTR_OK)
        return NULL;
    if (!last)
        return doc;
    json_t *v = child(parent, last);
    free(last);
    if (!v)
        *st = PTR_MISSING;
    return v;
}

json_t *lg_pointer_get(json_t *doc, const char *pointer)
{
    ptr_status st;
    return doc && pointer ? pointer_get(doc, pointer, &st) : NULL;
}

/* ---- operations -------------------------------------------------------- */

typedef struct patch_ctx {
    size_t index;    /* operation number, for messages */
    const char *op;
    const char *path;
    lg_diag *diag;
    lg_status st;
} patch_ctx;

static lg_status op_fail(patch_ctx *c, const char *why)
{
    lg_diag_set(c->diag, NULL, 0, 0, "patch operation %zu (%s %s): %s", c->index,
                c->op ? c->op : "?", c->path ? c->path : "?", why);
    return LG_ERR_INPUT;
}

static lg_status ptr_fail(patch_ctx *c, ptr_status st, const char *what)
{
    char why[160];
    switch (st) {
    case PTR_NOMEM:
        lg_diag_set(c->diag, NULL, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    case PTR_MALFORMED: snprintf(why, sizeof why, "malformed pointer in \"%s\"", what); break;
    default: snprintf(why, sizeof why, "\"%s\" does not exist", what); break;
    }
    return op_fail(c, why);
}

/* Adds value (stolen) at ptr. */
static lg_status do_add(patch_ctx *c, json_t **root, const char *ptr, json_t *value)
{
    if (!value) {
        lg_diag_set(c->diag, NULL, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    }
    json_t *parent;
    char *last;
    ptr_status ps = walk_parent(*root, ptr, &parent, &last);
    if (ps != PTR_OK) {
        json_decref(value);
        return ptr_fail(c, ps, "path");
    }
    if (!last) {
        json_decref(*root);
        *root = value;
        return LG_OK;
    }
    lg_status st = LG_OK;
    size_t i;
    int rc = 0;
    if (json_is_object(parent)) {
        rc = json_object_set_new(parent, last, value);
    } else if (json_is_array(parent)) {
        if (!strcmp(last, "-"))
            rc = json_array_append_new(parent, value);
        else if (parse_index(last, &i) && i <= json_array_size(parent))
            rc = json_array_insert_new(parent, i, value);
        else {
            json_decref(value);
            st = op_fail(c, "array index out of range or malformed");
        }
    } else {
        json_decref(value);
        st = op_fail(c, "the parent is not an object or array");
    }
    free(last);
    if (rc) {
        lg_diag_set(c->diag, NULL, 0, 0, "out of memory");
        st = LG_ERR_NOMEM;
    }
    return st;
}

/* Removes the value at ptr; *removed (if not NULL) gets a reference to it. */
static lg_status do_remove(patch_ctx *c, json_t *root, const char *ptr, json_t **removed)
{
    json_t *parent;
    char *last;
    ptr_status ps = walk_parent(root, ptr, &parent, &last);
    if (ps != PTR_OK)
        return ptr_fail(c, ps, "path");
    if (!last)
        return op_fail(c, "cannot remove the whole document");
    json_t *v = child(parent, last);
    if (!v) {
        free(last);
        return ptr_fail(c, PTR_MISSING, "path");
    }
    if (removed)
        *removed = json_incref(v);
    size_t i;
    if (json_is_object(parent))
        json_object_del(parent, last);
    else if (parse_index(last, &i))
        json_array_remove(parent, i);
    free(last);
    return LG_OK;
}

static lg_status do_replace(patch_ctx *c, json_t **root, const char *ptr, json_t *value)
{
    if (!value) {
        lg_diag_set(c->diag, NULL, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    }
    ptr_status ps;
    if (!pointer_get(*root, ptr, &ps)) {
        json_decref(value);
        return ptr_fail(c, ps, "path");
    }
    if (!*ptr) {
        json_decref(*root);
        *root = value;
        return LG_OK;
    }
    json_t *parent;
    char *last;
    ps = walk_parent(*root, ptr, &parent, &last);
    if (ps != PTR_OK) {
        json_decref(value);
        return ptr_fail(c, ps, "path");
    }
    size_t i;
    int rc = json_is_object(parent) ? json_object_set_new(parent, last, value)
             : parse_index(last, &i) ? json_array_set_new(parent, i, value)
                                     : (json_decref(value), -1);
    free(last);
    if (rc) {
        lg_diag_set(c->diag, NULL, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    }
    return LG_OK;
}

static const char *member_string(const json_t *op, const char *key)
{
    return json_string_value(json_object_get(op, key));
}

static lg_status apply_one(patch_ctx *c, json_t **root, const json_t *op)
{
    if (!json_is_object(op))
        return op_fail(c, "not an object");
    c->op = member_string(op, "op");
    c->path = member_string(op, "path");
    if (!c->op)
        return op_fail(c, "\"op\" must be a string");
    if (!c->path)
        return op_fail(c, "\"path\" must be a string");
    const json_t *value = json_object_get(op, "value");
    const char *from = member_string(op, "from");
    const char *name = c->op;
    bool needs_value = !strcmp(name, "add") || !strcmp(name, "replace") || !strcmp(name, "test");
    bool needs_from = !strcmp(name, "move") || !strcmp(name, "copy");
    if (needs_value && !value)
        return op_fail(c, "\"value\" is missing");
    if (needs_from && !from)
        return op_fail(c, "\"from\" must be a string");

    if (!strcmp(name, "add"))
        return do_add(c, root, c->path, json_deep_copy(value));
    if (!strcmp(name, "remove"))
        return do_remove(c, *root, c->path, NULL);
    if (!strcmp(name, "replace"))
        return do_replace(c, root, c->path, json_deep_copy(value));
    if (!strcmp(name, "test")) {
        ptr_status ps;
        json_t *target = pointer_get(*root, c->path, &ps);
        if (!target)
            return ptr_fail(c, ps, "path");
        return lg_json_equal(target, value) ? LG_OK : op_fail(c, "test failed: values differ");
    }
    if (!strcmp(name, "copy")) {
        ptr_status ps;
        json_t *src = pointer_get(*root, from, &ps);
        if (!src)
            return ptr_fail(c, ps, "from");
        return do_add(c, root, c->path, json_deep_copy(src));
    }
    if (!strcmp(name, "move")) {
        ptr_status ps;
        if (!pointer_get(*root, from, &ps))
            return ptr_fail(c, ps, "from");
        if (!strcmp(from, c->path))
            return LG_OK;
        size_t n = strlen(from);
        if (!strncmp(c->path, from, n) && c->path[n] == '/')
            return op_fail(c, "cannot move a value into one of its own children");
        json_t *v = NULL;
        lg_status st = do_remove(c, *root, from, &v);
        return st != LG_OK ? st : do_add(c, root, c->path, v);
    }
    return op_fail(c, "unknown operation");
}

lg_status lg_patch_apply(json_t **doc, const json_t *patch, lg_diag *diag)
{
    if (!doc || !*doc) {
        lg_diag_set(diag, NULL, 0, 0, "no document to patch");
        return LG_ERR_INPUT;
    }
    if (!json_is_array(patch)) {
        lg_diag_set(diag, NULL, 0, 0, "a JSON Patch must be an array of operations");
        return LG_ERR_INPUT;
    }
    if (json_array_size(patch) == 0)
        return LG_OK;
    json_t *work = json_deep_copy(*doc);
    if (!work) {
        lg_diag_set(diag, NULL, 0, 0, "out of memory");
        return LG_ERR_NOMEM;
    }
    patch_ctx c = {.diag = diag};
    for (size_t i = 0; i < json_array_size(patch); i++) {
        c.index = i;
        c.op = c.path = NULL;
        lg_status st = apply_one(&c, &work, json_array_get(patch, i));
        if (st != LG_OK) {
            json_decref(work);
            return st;
        }
    }
    json_decref(*doc);
    *doc = work;
    return LG_OK;
}
