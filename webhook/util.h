/* util.h — small helpers shared by the engine's rooms (diagnostics, strings).
 * Private to the engine; no state, no printing. */
#ifndef LG_UTIL_H
#define LG_UTIL_H

#include <stdarg.h>
#include "engine.h"

#define LG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fills d (NULL is allowed and ignored). file may be NULL. */
void lg_diag_set(lg_diag *d, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Appends one diagnostic to ds (NULL ignored). Returns false on allocation failure. */
bool lg_diags_push(lg_diags *ds, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Makes room for element n of the array *v (each size bytes, *cap allocated),
 * doubling from first. False, with *v untouched, on allocation failure. */
bool lg_grow(void **v, size_t n, size_t *cap, size_t size, size_t first);

/* malloc'd printf; NULL on failure. */
char *lg_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *lg_vstrfmt(const char *fmt, va_list ap);

/* A growable string with a ceiling (curl's dynbuf idea). */
typedef struct lg_buf {
    char *s;
    size_t len, cap, max; /* max 0 = unlimited */
    bool failed;          /* allocation failed or ceiling hit; contents undefined */
} lg_buf;

void lg_buf_init(lg_buf *b, size_t max);
void lg_buf_add(lg_buf *b, const char *s, size_t n);
void lg_buf_adds(lg_buf *b, const char *s);
void lg_buf_addf(lg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the NUL-terminated string and hands ownership to the caller (NULL if failed). */
char *lg_buf_take(lg_buf *b);
void lg_buf_free(lg_buf *b);

/* Compact JSON text of j (insertion order), or NULL if any allocation failed. */
char *lg_json_dump(const json_t *j, size_t *len);

#endif
