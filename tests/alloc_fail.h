/* alloc_fail.h — a malloc interposer for the allocation-failure tests:
 * arm(N) makes the Nth malloc/calloc/realloc fail, disarm() says whether the
 * run got that far, `live` counts blocks not yet freed, failed_in_libyaml says
 * whether the failed call came from libyaml. Include it in one test file only
 * (it defines malloc). Not available under ASan or valgrind, which own malloc:
 * LGT_NO_INTERPOSE is defined then, or interposed() returns false. */
#ifndef LG_ALLOC_FAIL_H
#define LG_ALLOC_FAIL_H

#include <dlfcn.h>
#include <execinfo.h>
#include <stdbool.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define LGT_NO_INTERPOSE 1
#endif

#ifndef LGT_NO_INTERPOSE
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long fail_at = -1; /* -1: never fail */
static long calls;
static long live; /* blocks allocated and not yet freed */

static bool failed_in_libyaml; /* the failed call came from inside libyaml */

/* libyaml 0.2.5 leaks a mapping's pair stack when yaml_parser_load cannot
 * grow its node stack; that one is libyaml's, not lanegate's, so the test
 * has to know where the failed allocation came from. */
static bool caller_is_libyaml(void)
{
    void *frames[8];
    int n = backtrace(frames, 8);
    for (int i = 0; i < n; i++) {
        Dl_info info;
        if (dladdr(frames[i], &info) && info.dli_fname && strstr(info.dli_fname, "libyaml"))
            return true;
    }
    return false;
}

static bool should_fail(void)
{
    if (fail_at < 0 || calls++ != fail_at)
        return false;
    long saved = fail_at;
    fail_at = -1; /* backtrace may allocate */
    failed_in_libyaml = caller_is_libyaml();
    fail_at = saved;
    return true;
}

static void *counted(void *p)
{
    live += p != NULL;
    return p;
}

void *malloc(size_t n)
{
    return should_fail() ? NULL : counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t m)
{
    return should_fail() ? NULL : counted(__libc_calloc(n, m));
}

void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (should_fail())
        return NULL;
    void *q = __libc_realloc(p, n);
    if (!n)
        live--;
    return q;
}

void free(void *p)
{
    live -= p != NULL;
    __libc_free(p);
}

/* False under valgrind, which replaces even the program's own malloc. */
static bool interposed(void)
{
    void *(*volatile alloc)(size_t) = malloc; /* keep the compiler from eliding the pair */
    fail_at = 0;
    calls = 0;
    void *p = alloc(8);
    fail_at = -1;
    free(p);
    return p == NULL;
}

static void arm(long n)
{
    calls = 0;
    failed_in_libyaml = false;
    fail_at = n;
}

static bool disarm(void)
{
    bool reached = calls > fail_at;
    fail_at = -1;
    return reached;
}
#endif

#ifndef LGT_NO_INTERPOSE
/* backtrace() loads its unwinder on first use: do that before any failing call. */
static inline void alloc_fail_warm(void)
{
    void *warm[1];
    backtrace(warm, 1);
}
#endif

#endif
