/* pointer.c — building RFC 6901 pointers and RFC 6902 "add" operations.
 * Leaf module; pure. */
#include <stdio.h>

#include "jsonpatch.h"

void lg_pointer_push(lg_buf *b, const char *token)
{
    lg_buf_add(b, "/", 1);
    for (const char *p = token; *p; p++) {
        if (*p == '~')
            lg_buf_add(b, "~0", 2);
        else if (*p == '/')
            lg_buf_add(b, "~1", 2);
        else
            lg_buf_add(b, p, 1);
    }
}

void lg_pointer_push_index(lg_buf *b, size_t index)
{
    char num[32];
    int n = snprintf(num, sizeof num, "/%zu", index);
    lg_buf_add(b, num, (size_t)n);
}

bool lg_patch_add(json_t *patch, const char *path, json_t *value)
{
    json_t *op = json_pack("{s:s, s:s, s:o}", "op", "add", "path", path, "value", value);
    return op && json_array_append_new(patch, op) == 0;
}
