/* hostpath.c — lexical normalisation of hostPath paths (leaf module).
 *
 * Pure, no allocation, no state. Components are read right to left so that
 * ".." can cancel the component before it without a stack, and the output size
 * is known before anything is written: out is only written when it fits the
 * final result (an intermediate, longer form never matters). */
#include <string.h>

#include "hostpath.h"

/* Calls back (in right-to-left order) with every component that survives
 * "", "." and ".." resolution; ".." beyond the root is dropped, as the kernel
 * does for "/..". Returns the normalised length (without NUL). */
static size_t walk(const char *in, char *out, size_t outlen)
{
    size_t end = strlen(in), total = 0, skip = 0;
    size_t pos = outlen; /* writing position when out != NULL */
    while (end > 0) {
        size_t start = end;
        while (start > 0 && in[start - 1] != '/')
            start--;
        size_t n = end - start;
        const char *c = in + start;
        if (n == 0 || (n == 1 && c[0] == '.')) {
            /* empty or "." component: nothing */
        } else if (n == 2 && c[0] == '.' && c[1] == '.') {
            skip++;
        } else if (skip > 0) {
            skip--;
        } else {
            total += n + 1;
            if (out) {
                pos -= n;
                memcpy(out + pos, c, n);
                out[--pos] = '/';
            }
        }
        end = start > 0 ? start - 1 : 0;
    }
    return total;
}

bool lg_hostpath_normalize(const char *in, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return false;
    if (!in)
        in = "";
    size_t len = walk(in, NULL, 0);
    if (len == 0) {
        if (outsz < 2)
            return false;
        memcpy(out, "/", 2);
        return true;
    }
    if (len + 1 > outsz)
        return false;
    walk(in, out, len);
    out[len] = '\0';
    return true;
}
