/* ceiling.c — the "stack ceiling" reference for `make bench`: libmicrohttpd +
 * GnuTLS configured like `lanegate serve` (internal thread pool, epoll, same
 * TLS priorities), reading the body, running json_loadb + json_decref on it and
 * answering a fixed body. What this stack costs before lanegate's own work.
 *
 * usage: ceiling PORT CERT KEY RESPONSE_FILE THREADS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>

#include "tls.h" /* LG_TLS_PRIORITIES: the same TLS settings as the server */

static char *answer;
static size_t answer_len;

typedef struct body {
    char *s;
    size_t len, cap;
} body;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) {
        s[n] = '\0';
        *len = (size_t)n;
    }
    return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **req)
{
    (void)cls, (void)url, (void)method, (void)version;
    body *b = *req;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        *req = b;
        return MHD_YES;
    }
    if (*size) {
        if (b->len + *size > (size_t)7 << 20)
            return MHD_NO;
        if (b->len + *size > b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 8192;
            while (cap < b->len + *size)
                cap *= 2;
            char *p = realloc(b->s, cap);
            if (!p)
                return MHD_NO;
            b->s = p;
            b->cap = cap;
        }
        memcpy(b->s + b->len, data, *size);
        b->len += *size;
        *size = 0;
        return MHD_YES;
    }
    json_error_t e;
    json_t *j = json_loadb(b->s ? b->s : "", b->len, 0, &e);
    unsigned status = j ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST;
    json_decref(j);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(answer_len, answer, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **req, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    body *b = *req;
    if (b) {
        free(b->s);
        free(b);
    }
    *req = NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: ceiling PORT CERT KEY RESPONSE_FILE THREADS\n");
        return 2;
    }
    size_t n;
    char *cert = slurp(argv[2], &n), *key = slurp(argv[3], &n);
    answer = slurp(argv[4], &answer_len);
    if (!cert || !key || !answer) {
        fprintf(stderr, "ceiling: cannot read the cert, key or response file\n");
        return 2;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC,
        (uint16_t)atoi(argv[1]), NULL, NULL, handle, NULL,
        MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_HTTPS_PRIORITIES, LG_TLS_PRIORITIES,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)atoi(argv[5]),
        MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "ceiling: cannot start on port %s\n", argv[1]);
        return 1;
    }
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(SIG_BLOCK, &s, NULL);
    int sig;
    sigwait(&s, &sig);
    MHD_stop_daemon(d);
    free(cert);
    free(key);
    free(answer);
    return 0;
}
