/* server.h — the HTTPS admission server (libmicrohttpd + GnuTLS).
 *
 * Routes /validate and /mutate to lg_review_handle() (so the bytes are
 * exactly what `lanegate review` prints), serves /healthz, /readyz and
 * /metrics, enforces the HTTP contract (404, 405, 413, 415), and stops
 * gracefully: quiesce, close idle keep-alive connections, drain, stop. */
#ifndef LG_SERVER_H
#define LG_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tls.h"
#include "watch.h"

/* controller-runtime's cap: old + new object of up to 3 MiB each, plus the rest. */
#define LG_MAX_BODY ((size_t)7 * 1024 * 1024)

typedef struct lg_server_config {
    const struct sockaddr *addr; /* AF_INET or AF_INET6; port 0 picks a free port */
    unsigned threads;            /* >= 1 */
    unsigned max_connections;
    unsigned idle_timeout_s;     /* close a connection idle this long (0: never) */
    size_t max_body;             /* 0: LG_MAX_BODY */
    lg_tls *tls;                 /* required */
    lg_watch *policies;          /* required */
} lg_server_config;

typedef struct lg_server lg_server;

/* Binds and starts serving. NULL with a message in err on failure. */
lg_server *lg_server_start(const lg_server_config *cfg, char *err, size_t errsz);
uint16_t lg_server_port(const lg_server *s);

/* Readiness false, stop accepting, close idle keep-alive connections now;
 * requests in flight go on and their connections close after the response. */
void lg_server_quiesce(lg_server *s);
/* Requests received but not yet answered. */
unsigned lg_server_inflight(const lg_server *s);
/* Stops the daemon (closing every connection) and frees s. NULL ok. */
void lg_server_stop(lg_server *s);

#endif
