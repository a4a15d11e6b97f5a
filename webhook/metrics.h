/* metrics.h — the server's counters, gauges and the review-duration histogram,
 * rendered as Prometheus text format 0.0.4. Process-wide; every update is a
 * relaxed atomic, so recording never takes a lock on the request path. */
#ifndef LG_METRICS_H
#define LG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef enum lg_decision {
    LG_DECISION_ALLOW = 0,
    LG_DECISION_DENY,
    LG_DECISION_ERROR, /* the body was not a usable AdmissionReview (HTTP 400) */
    LG_DECISION__COUNT
} lg_decision;

#define LG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void lg_metrics_reset(void); /* zero everything (tests) */

void lg_metrics_review(lg_endpoint ep, lg_decision d, double seconds);
void lg_metrics_http_response(unsigned status);
void lg_metrics_inflight(int delta);
void lg_metrics_policy_reload(bool ok);
void lg_metrics_policies_loaded(size_t n);
void lg_metrics_tls_reload(bool ok);
void lg_metrics_cert_expiry(int64_t unix_seconds);

/* The whole exposition, malloc'd and NUL-terminated; NULL on allocation failure. */
char *lg_metrics_render(size_t *len);

#endif
