/* util.c — diagnostics, status names and the capped string buffer.
 * Pure and thread-safe: no globals besides constant tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *lg_strerror(lg_status st)
{
    switch (st) {
    case LG_OK: return "ok";
    case LG_ERR_INPUT: return "malformed input";
    case LG_ERR_POLICY: return "invalid policy";
    case LG_ERR_NOMEM: return "out of memory";
    case LG_ERR_IO: return "I/O error";
    }
    return "unknown error";
}

const char *lg_mode_name(lg_mode m)
{
    switch (m) {
    case LG_MODE_ENFORCE: return "enforce";
    case LG_MODE_WARN: return "warn";
    case LG_MODE_AUDIT: return "audit";
    }
    return "?";
}

static const char *const op_names[] = {"CREATE", "UPDATE", "DELETE", "CONNECT"};

const char *lg_op_name(lg_op op)
{
    return (unsigned)op < LG_ARRAY_LEN(op_names) ? op_names[op] : "?";
}

bool lg_op_parse(const char *s, lg_op *out)
{
    for (size_t i = 0; s && i < LG_ARRAY_LEN(op_names); i++)
        if (strcmp(s, op_names[i]) == 0) {
            *out = (lg_op)i;
            return true;
        }
    return false;
}

const char *lg_outcome_name(lg_outcome o)
{
    switch (o) {
    case LG_OUTCOME_PASS: return "pass";
    case LG_OUTCOME_FAIL: return "fail";
    case LG_OUTCOME_SKIP: return "skip";
    }
    return "?";
}

void lg_diag_set(lg_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
    if (!d)
        return;
    snprintf(d->file, sizeof d->file, "%s", file ? file : "");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

bool lg_grow(void **v, size_t n, size_t *cap, size_t size, size_t first)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : first;
    void *p = realloc(*v, ncap * size);
    if (!p)
        return false;
    *v = p;
    *cap = ncap;
    return true;
}

bool lg_diags_push(lg_diags *ds, const char *file, int line, int col, const char *fmt, ...)
{
    if (!ds)
        return true;
    if (!lg_grow((void **)&ds->v, ds->n, &ds->cap, sizeof *ds->v, 8))
        return false;
    lg_diag *d = &ds->v[ds->n++];
    snprintf(d->file, sizeof d->file, "%s", file ? file : "");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
    return true;
}

void lg_diags_free(lg_diags *d)
{
    if (!d)
        return;
    free(d->v);
    d->v = NULL;
    d->n = d->cap = 0;
}

void lg_diag_format(const lg_diag *d, char *buf, size_t size)
{
    if (d->file[0] && d->line > 0 && d->col > 0)
        snprintf(buf, size, "%s:%d:%d: %s", d->file, d->line, d->col, d->msg);
    else if (d->file[0] && d->line > 0)
        snprintf(buf, size, "%s:%d: %s", d->file, d->line, d->msg);
    else if (d->file[0])
        snprintf(buf, size, "%s: %s", d->file, d->msg);
    else
        snprintf(buf, size, "%s", d->msg);
}

char *lg_vstrfmt(const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *lg_strfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lg_vstrfmt(fmt, ap);
    va_end(ap);
    return s;
}

void lg_buf_init(lg_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void lg_buf_add(lg_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->max && b->len + n > b->max) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void lg_buf_adds(lg_buf *b, const char *s)
{
    lg_buf_add(b, s, strlen(s));
}

void lg_buf_addf(lg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lg_vstrfmt(fmt, ap);
    va_end(ap);
    if (!s) {
        b->failed = true;
        return;
    }
    lg_buf_adds(b, s);
    free(s);
}

char *lg_buf_take(lg_buf *b)
{
    if (b->failed) {
        lg_buf_free(b);
        return NULL;
    }
    if (!b->s)
        lg_buf_add(b, "", 0);
    char *s = b->s;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void lg_buf_free(lg_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static int dump_to_buf(const char *s, size_t n, void *arg)
{
    lg_buf_add(arg, s, n);
    return ((lg_buf *)arg)->failed ? -1 : 0;
}

/* json_dumps keeps writing after a failed append (jansson 2.14 ignores the
 * result of dumping object keys), so a failed allocation could yield valid-
 * looking but wrong JSON. The buffer's failure is sticky: NULL instead. */
char *lg_json_dump(const json_t *j, size_t *len)
{
    lg_buf b;
    lg_buf_init(&b, 0);
    if (json_dump_callback(j, dump_to_buf, &b, JSON_COMPACT) != 0)
        b.failed = true;
    if (len)
        *len = b.len;
    return lg_buf_take(&b);
}
