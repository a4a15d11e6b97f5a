/* yamldoc.h — source positions for parsed documents (private to the engine and
 * the fronts that report file:line:col for data files, e.g. `lanegate test`).
 * lg_documents_parse (engine.h) is the plain entry point; this one also records
 * where every value started. */
#ifndef LG_YAMLDOC_H
#define LG_YAMLDOC_H

#include "engine.h"

/* Nesting and alias-expansion ceilings (both are errors past the limit). */
#define LG_DOC_MAX_DEPTH 100           /* nested mappings/sequences per document */
#define LG_DOC_MAX_ALIAS_NODES 100000  /* nodes created by expanding aliases, per input */

/* Where one value started. parent is the object or array that holds it (for a
 * document root: the array returned by the parser); key names the member of an
 * object (NULL for array elements, which use index). line/col are 1-based. */
typedef struct lg_doc_mark {
    const json_t *parent;
    char *key;
    size_t index;
    int line, col;         /* the value */
    int key_line, key_col; /* the key (objects only) */
} lg_doc_mark;

typedef struct lg_doc_marks {
    lg_doc_mark *v;
    size_t n, cap;
} lg_doc_marks;

/* lg_documents_parse that also fills marks (which must be zeroed by the caller
 * and freed with lg_doc_marks_free). Always takes the YAML path, so JSON input
 * gets positions too. Values copied from aliases or merge keys carry no mark. */
lg_status lg_documents_parse_marked(const char *name, const char *buf, size_t len, json_t **out,
                                    lg_doc_marks *marks, lg_diag *diag);

/* The mark of parent[key] (key != NULL) or parent[index]; NULL if none. */
const lg_doc_mark *lg_doc_mark_find(const lg_doc_marks *m, const json_t *parent, const char *key,
                                    size_t index);
void lg_doc_marks_free(lg_doc_marks *m);

#endif
