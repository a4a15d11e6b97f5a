/* jsonpatch.h — building RFC 6902 operations and RFC 6901 pointers (private).
 * lg_patch_apply (engine.h) applies them. */
#ifndef LG_JSONPATCH_H
#define LG_JSONPATCH_H

#include <jansson.h>
#include "util.h"

/* Appends "/" + token escaped per RFC 6901 ("~" -> "~0", "/" -> "~1") to b. */
void lg_pointer_push(lg_buf *b, const char *token);
/* Appends "/" + decimal index to b. */
void lg_pointer_push_index(lg_buf *b, size_t index);

/* Appends {"op":"add","path":path,"value":value} to patch (steals value).
 * Returns false on allocation failure. */
bool lg_patch_add(json_t *patch, const char *path, json_t *value);

/* Resolves an RFC 6901 pointer in doc; NULL if absent or malformed. */
json_t *lg_pointer_get(json_t *doc, const char *pointer);

/* Deep equality as RFC 6902 "test" defines it: numbers compare by value (1 equals
 * 1.0), objects ignore member order, arrays compare element by element. */
bool lg_json_equal(const json_t *a, const json_t *b);

#endif
