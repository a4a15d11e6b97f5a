/* server.c — libmicrohttpd daemon: routing, HTTP contract, graceful stop.
 *
 * Invariants: /validate and /mutate answer only through lg_review_handle(),
 * on a policy set referenced for the whole review (no lock held while it
 * runs). A body is accumulated in a buffer capped at max_body; past it the
 * answer is 413 and nothing more is read. Per-connection state (conn) lives
 * from MHD's STARTED to CLOSED notification; per-request state (req) from the
 * first access-handler call to the COMPLETED notification. The connection
 * list is only touched under conns_lock, which is also what keeps a socket
 * open while lg_server_quiesce() shuts it down. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "log.h"
#include "metrics.h"
#include "server.h"
#include "util.h"

typedef struct conn {
    struct conn *prev, *next;
    lg_tls_slot slot;
    int fd;
    bool busy;    /* a request has started and is not completed */
    int peer_ok;  /* -1 not checked yet, else lg_tls_peer_ok() */
    char *spare;  /* the last request's body buffer, reused by the next one */
    size_t spare_cap;
} conn;

/* Body buffers up to this size stay with their connection between requests. */
#define SPARE_MAX ((size_t)64 * 1024)

typedef enum route {
    R_VALIDATE = 0,
    R_MUTATE,
    R_HEALTHZ,
    R_READYZ,
    R_METRICS,
    R_NONE,
} route;

typedef struct req {
    conn *c;
    route route;
    bool responded;
    bool too_big;
    unsigned status;
    lg_buf body;
    struct timespec start;
} req;

struct lg_server {
    struct MHD_Daemon *d;
    lg_server_config cfg;
    uint16_t port;
    atomic_bool stopping;
    atomic_uint inflight;
    pthread_mutex_t conns_lock;
    conn *conns;
};

static const struct {
    const char *path;
    route r;
} routes[] = {
    {"/validate", R_VALIDATE}, {"/mutate", R_MUTATE}, {"/healthz", R_HEALTHZ},
    {"/readyz", R_READYZ},     {"/metrics", R_METRICS},
};

static route route_of(const char *url)
{
    for (size_t i = 0; i < LG_ARRAY_LEN(routes); i++)
        if (strcmp(url, routes[i].path) == 0)
            return routes[i].r;
    return R_NONE;
}

static bool is_review(route r)
{
    return r == R_VALIDATE || r == R_MUTATE;
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* "application/json" with optional parameters, any case. */
static bool json_content_type(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    ct += sizeof want - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

/* Queues status + body. copy: MHD copies body (else it is static). */
static enum MHD_Result respond(lg_server *s, struct MHD_Connection *mc, req *r, unsigned status,
                               const char *ctype, const char *body, size_t len, bool copy,
                               const char *allow)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (atomic_load(&s->stopping)) /* draining: do not keep this connection */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(mc, status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        r->responded = true;
        r->status = status;
        lg_metrics_http_response(status);
    }
    return ret;
}

#define JSON_CT "application/json"

/* Queues a malloc'd JSON body that MHD takes over (frees it even on failure). */
static enum MHD_Result respond_owned(lg_server *s, struct MHD_Connection *mc, req *r,
                                     unsigned status, char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CT);
    if (atomic_load(&s->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(mc, status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        r->responded = true;
        r->status = status;
        lg_metrics_http_response(status);
    }
    return ret;
}
/* Error bodies are Kubernetes Status objects, like the engine's 400. */
#define ERR_BODY(code, reason, msg)                                                         \
    "{\"apiVersion\":\"v1\",\"kind\":\"Status\",\"status\":\"Failure\",\"code\":" #code      \
    ",\"reason\":\"" reason "\",\"message\":\"" msg "\"}"
#define E_FORBIDDEN ERR_BODY(403, "Forbidden", "a client certificate signed by --client-ca is required")
#define E_NOT_FOUND ERR_BODY(404, "NotFound", "no such endpoint; use /validate, /mutate, /healthz, /readyz or /metrics")
#define E_METHOD ERR_BODY(405, "MethodNotAllowed", "method not allowed")
#define E_TOO_LARGE ERR_BODY(413, "RequestEntityTooLarge", "request body over 7 MiB")
#define E_MEDIA ERR_BODY(415, "UnsupportedMediaType", "Content-Type must be application/json")
#define E_NOMEM ERR_BODY(500, "InternalError", "out of memory")

static enum MHD_Result respond_error(lg_server *s, struct MHD_Connection *mc, req *r,
                                     unsigned status, const char *body, const char *allow)
{
    if (is_review(r->route)) {
        lg_metrics_review(r->route == R_MUTATE ? LG_ENDPOINT_MUTATE : LG_ENDPOINT_VALIDATE,
                          LG_DECISION_ERROR, elapsed_s(&r->start));
        lg_log_msg(LG_LOG_DEBUG, "http_error", "%u on %s", status,
                   r->route == R_MUTATE ? "/mutate" : "/validate");
    }
    return respond(s, mc, r, status, JSON_CT, body, strlen(body), false, allow);
}

static conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn *)ci->socket_context : NULL;
}

static bool peer_ok(lg_server *s, struct MHD_Connection *mc, conn *c)
{
    if (!lg_tls_client_ca_pem(s->cfg.tls))
        return true;
    if (c && c->peer_ok >= 0)
        return c->peer_ok;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    bool ok = ci && lg_tls_peer_ok(s->cfg.tls, (gnutls_session_t)ci->tls_session);
    if (c)
        c->peer_ok = ok; /* verified once per connection: it cannot change */
    return ok;
}

/* The first call for a request: route, method, headers. An error is answered
 * right here (before any body byte is read); MHD_NO drops the connection. */
static enum MHD_Result begin(lg_server *s, struct MHD_Connection *mc, req *r, const char *url,
                             const char *method)
{
    if (!peer_ok(s, mc, r->c))
        return respond_error(s, mc, r, MHD_HTTP_FORBIDDEN,
                             E_FORBIDDEN, NULL);
    r->route = route_of(url);
    if (r->route == R_NONE)
        return respond_error(s, mc, r, MHD_HTTP_NOT_FOUND, E_NOT_FOUND, NULL);
    if (is_review(r->route)) {
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
            return respond_error(s, mc, r, MHD_HTTP_METHOD_NOT_ALLOWED,
                                 E_METHOD, "POST");
        const char *ct = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!json_content_type(ct))
            return respond_error(s, mc, r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                 E_MEDIA, NULL);
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || end == cl || n > s->cfg.max_body)
                return respond_error(s, mc, r, MHD_HTTP_CONTENT_TOO_LARGE,
                                     E_TOO_LARGE, NULL);
            if (n > 0 && r->body.cap < (size_t)n + 1) { /* one allocation at most */
                char *p = realloc(r->body.s, (size_t)n + 1);
                if (p) {
                    r->body.s = p;
                    r->body.cap = (size_t)n + 1;
                }
            }
        }
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_error(s, mc, r, MHD_HTTP_METHOD_NOT_ALLOWED,
                             E_METHOD, "GET, HEAD");
    return MHD_YES;
}

static enum MHD_Result serve_review(lg_server *s, struct MHD_Connection *mc, req *r)
{
    lg_endpoint ep = r->route == R_MUTATE ? LG_ENDPOINT_MUTATE : LG_ENDPOINT_VALIDATE;
    lg_policy_set *set = lg_watch_acquire(s->cfg.policies);
    lg_review_result res;
    memset(&res, 0, sizeof res);
    lg_status st = lg_review_handle(set, ep, r->body.s ? r->body.s : "", r->body.len, &res);
    lg_policy_set_unref(set);
    if (st == LG_ERR_NOMEM || !res.body) {
        lg_review_result_free(&res);
        lg_metrics_review(ep, LG_DECISION_ERROR, elapsed_s(&r->start));
        lg_log_msg(LG_LOG_ERROR, "review_error", "%s", lg_strerror(st));
        return respond(s, mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_CT,
                       E_NOMEM, strlen(E_NOMEM), false, NULL);
    }
    unsigned status = res.http_status > 0 ? (unsigned)res.http_status : MHD_HTTP_OK;
    double secs = elapsed_s(&r->start);
    lg_decision d = status != MHD_HTTP_OK ? LG_DECISION_ERROR
                    : res.allowed         ? LG_DECISION_ALLOW
                                          : LG_DECISION_DENY;
    enum MHD_Result ret = respond_owned(s, mc, r, status, res.body, res.body_len);
    res.body = NULL; /* MHD frees it (or already did) */
    lg_metrics_review(ep, d, secs);
    lg_log_decision(ep == LG_ENDPOINT_MUTATE ? "mutate" : "validate", &res, (int)status,
                    (long long)(secs * 1e6));
    lg_review_result_free(&res);
    return ret;
}

static enum MHD_Result serve_get(lg_server *s, struct MHD_Connection *mc, req *r)
{
    if (r->route == R_HEALTHZ)
        return respond(s, mc, r, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3, false,
                       NULL);
    if (r->route == R_READYZ) {
        lg_policy_set *set = lg_watch_acquire(s->cfg.policies);
        bool ready = set && !atomic_load(&s->stopping);
        lg_policy_set_unref(set);
        const char *body = ready ? "ok\n" : "not ready\n";
        return respond(s, mc, r, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                       "text/plain; charset=utf-8", body, strlen(body), false, NULL);
    }
    size_t len = 0;
    char *text = lg_metrics_render(&len);
    if (!text)
        return respond(s, mc, r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_CT,
                       E_NOMEM, strlen(E_NOMEM), false, NULL);
    enum MHD_Result ret = respond(s, mc, r, MHD_HTTP_OK, LG_METRICS_CONTENT_TYPE, text, len,
                                  true, NULL);
    free(text);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *mc, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    (void)version;
    lg_server *s = cls;
    req *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        lg_buf_init(&r->body, s->cfg.max_body);
        r->route = R_NONE;
        r->c = conn_of(mc);
        if (r->c && r->c->spare) {
            r->body.s = r->c->spare;
            r->body.cap = r->c->spare_cap;
            r->c->spare = NULL;
        }
        if (r->c) {
            pthread_mutex_lock(&s->conns_lock);
            r->c->busy = true;
            pthread_mutex_unlock(&s->conns_lock);
        }
        atomic_fetch_add(&s->inflight, 1);
        lg_metrics_inflight(1);
        return begin(s, mc, r, url, method);
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded || r->too_big)
            return MHD_YES; /* answer already queued */
        if (!is_review(r->route))
            return MHD_YES; /* a GET with a body: ignored */
        lg_buf_add(&r->body, upload_data, n);
        if (r->body.failed) {
            /* Over the cap without a Content-Length (chunked): libmicrohttpd
             * 0.9.75 cannot queue a response mid-body, and reading on to the
             * end to answer 413 would read without bound; close instead. */
            r->too_big = true;
            lg_buf_free(&r->body);
            lg_metrics_review(r->route == R_MUTATE ? LG_ENDPOINT_MUTATE : LG_ENDPOINT_VALIDATE,
                              LG_DECISION_ERROR, elapsed_s(&r->start));
            lg_log_msg(LG_LOG_WARN, "http_error",
                       "chunked body over %zu bytes on %s: connection closed", s->cfg.max_body,
                       r->route == R_MUTATE ? "/mutate" : "/validate");
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES;
    if (is_review(r->route))
        return serve_review(s, mc, r);
    return serve_get(s, mc, r);
}

static void completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)mc;
    (void)toe;
    lg_server *s = cls;
    req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    if (r->c) {
        pthread_mutex_lock(&s->conns_lock);
        r->c->busy = false;
        pthread_mutex_unlock(&s->conns_lock);
    }
    atomic_fetch_sub(&s->inflight, 1);
    lg_metrics_inflight(-1);
    if (r->c && r->body.s && r->body.cap <= SPARE_MAX && !r->c->spare) {
        r->c->spare = r->body.s; /* same worker thread for the connection's life */
        r->c->spare_cap = r->body.cap;
        r->body.s = NULL;
    }
    lg_buf_free(&r->body);
    free(r);
}

static void notify_conn(void *cls, struct MHD_Connection *mc, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    lg_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *c = calloc(1, sizeof *c);
        *socket_context = c;
        if (!c)
            return; /* served without pair tracking or idle-close; see tls.c */
        c->peer_ok = -1;
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = fi ? fi->connect_fd : -1;
        const union MHD_ConnectionInfo *ti =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        lg_tls_conn_begin(s->cfg.tls, ti ? (gnutls_session_t)ti->tls_session : NULL, &c->slot);
        pthread_mutex_lock(&s->conns_lock);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conns_lock);
        return;
    }
    conn *c = *socket_context;
    if (!c)
        return;
    *socket_context = NULL;
    pthread_mutex_lock(&s->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conns_lock);
    lg_tls_conn_end(&c->slot);
    free(c->spare);
    free(c);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char *msg = lg_vstrfmt(fmt, ap);
    if (!msg)
        return;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    lg_log_msg(LG_LOG_WARN, "http", "%s", msg);
    free(msg);
}

lg_server *lg_server_start(const lg_server_config *cfg, char *err, size_t errsz)
{
    lg_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    if (!s->cfg.max_body)
        s->cfg.max_body = LG_MAX_BODY;
    if (!s->cfg.threads)
        s->cfg.threads = 1;
    pthread_mutex_init(&s->conns_lock, NULL);

    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (cfg->addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem extra[] = {
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)lg_tls_client_ca_pem(cfg->tls)},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!lg_tls_client_ca_pem(cfg->tls))
        extra[0].option = MHD_OPTION_END;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, s,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_SOCK_ADDR, cfg->addr,
        MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
        MHD_OPTION_HTTPS_PRIORITIES, LG_TLS_PRIORITIES,
        MHD_OPTION_HTTPS_CERT_CALLBACK, lg_tls_cert_callback,
        MHD_OPTION_ARRAY, extra,
        MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errsz, "cannot start the HTTPS daemon (address in use, or bad TLS settings)");
        pthread_mutex_destroy(&s->conns_lock);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    return s;
}

uint16_t lg_server_port(const lg_server *s)
{
    return s->port;
}

void lg_server_quiesce(lg_server *s)
{
    if (atomic_exchange(&s->stopping, true))
        return;
    MHD_socket lfd = MHD_quiesce_daemon(s->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    /* Idle keep-alive connections: shut the socket down so MHD closes it now
     * (the apiserver would otherwise keep sending to a terminating pod). The
     * lock keeps MHD from closing (and the fd from being reused) meanwhile. */
    unsigned closed = 0;
    pthread_mutex_lock(&s->conns_lock);
    for (conn *c = s->conns; c; c = c->next)
        if (!c->busy && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            closed++;
        }
    pthread_mutex_unlock(&s->conns_lock);
    lg_log_msg(LG_LOG_INFO, "shutdown", "stopped accepting; closed %u idle connection(s), %u "
               "request(s) in flight", closed, lg_server_inflight(s));
}

unsigned lg_server_inflight(const lg_server *s)
{
    return atomic_load(&((lg_server *)s)->inflight);
}

void lg_server_stop(lg_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    pthread_mutex_destroy(&s->conns_lock);
    free(s);
}
