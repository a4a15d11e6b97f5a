/* metrics.c — Prometheus counters for the server (text format 0.0.4).
 *
 * Invariants: all state is a set of process-wide atomics updated with relaxed
 * ordering (a scrape may see one counter a request ahead of another, which
 * Prometheus tolerates); histogram buckets are stored per bucket and made
 * cumulative only when rendered, so an observation is two atomic adds. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "util.h"

/* Upper bounds in seconds: a review is ~100 µs, the apiserver gives up at 10 s. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
#define NBUCKETS LG_ARRAY_LEN(buckets)

static const unsigned http_codes[] = {200, 400, 403, 404, 405, 413, 415, 500, 503};
#define NCODES LG_ARRAY_LEN(http_codes)

static const char *const endpoint_names[] = {"validate", "mutate"};
static const char *const decision_names[] = {"allow", "deny", "error"};

typedef struct histogram {
    atomic_uint_fast64_t bucket[NBUCKETS + 1]; /* last: +Inf only */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
} histogram;

static struct {
    atomic_uint_fast64_t requests[2][LG_DECISION__COUNT];
    histogram duration[2];
    atomic_uint_fast64_t http[NCODES + 1]; /* last: any other code */
    atomic_int inflight;
    atomic_uint_fast64_t reloads[2];     /* [0] success, [1] error */
    atomic_uint_fast64_t tls_reloads[2];
    atomic_uint_fast64_t policies_loaded;
    atomic_int_fast64_t cert_expiry;
} m;

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define SET(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

void lg_metrics_reset(void)
{
    memset(&m, 0, sizeof m); /* tests only, with no concurrent writer */
}

void lg_metrics_review(lg_endpoint ep, lg_decision d, double seconds)
{
    unsigned e = ep == LG_ENDPOINT_MUTATE ? 1 : 0;
    if ((unsigned)d >= LG_DECISION__COUNT)
        d = LG_DECISION_ERROR;
    ADD(m.requests[e][d], 1);
    if (seconds < 0)
        seconds = 0;
    size_t i = 0;
    while (i < NBUCKETS && seconds > buckets[i])
        i++;
    histogram *h = &m.duration[e];
    ADD(h->bucket[i], 1);
    ADD(h->count, 1);
    ADD(h->sum_ns, (uint_fast64_t)(seconds * 1e9 + 0.5));
}

void lg_metrics_http_response(unsigned status)
{
    size_t i = 0;
    while (i < NCODES && http_codes[i] != status)
        i++;
    ADD(m.http[i], 1);
}

void lg_metrics_inflight(int delta)
{
    ADD(m.inflight, delta);
}

void lg_metrics_policy_reload(bool ok)
{
    ADD(m.reloads[ok ? 0 : 1], 1);
}

void lg_metrics_policies_loaded(size_t n)
{
    SET(m.policies_loaded, n);
}

void lg_metrics_tls_reload(bool ok)
{
    ADD(m.tls_reloads[ok ? 0 : 1], 1);
}

void lg_metrics_cert_expiry(int64_t unix_seconds)
{
    SET(m.cert_expiry, unix_seconds);
}

static void head(lg_buf *b, const char *name, const char *type, const char *help)
{
    lg_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *lg_metrics_render(size_t *len)
{
    lg_buf b;
    lg_buf_init(&b, 0);

    head(&b, "lanegate_admission_requests_total", "counter",
         "AdmissionReview requests answered, by endpoint and decision.");
    for (unsigned e = 0; e < 2; e++)
        for (unsigned d = 0; d < LG_DECISION__COUNT; d++)
            lg_buf_addf(&b, "lanegate_admission_requests_total{endpoint=\"%s\",decision=\"%s\"} %llu\n",
                        endpoint_names[e], decision_names[d],
                        (unsigned long long)GET(m.requests[e][d]));

    head(&b, "lanegate_admission_request_duration_seconds", "histogram",
         "Time from request headers to response, for /validate and /mutate.");
    for (unsigned e = 0; e < 2; e++) {
        histogram *h = &m.duration[e];
        unsigned long long cum = 0;
        for (size_t i = 0; i < NBUCKETS; i++) {
            cum += GET(h->bucket[i]);
            lg_buf_addf(&b,
                        "lanegate_admission_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                        endpoint_names[e], buckets[i], cum);
        }
        cum += GET(h->bucket[NBUCKETS]);
        lg_buf_addf(&b,
                    "lanegate_admission_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                    endpoint_names[e], cum);
        lg_buf_addf(&b, "lanegate_admission_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n",
                    endpoint_names[e], (double)GET(h->sum_ns) / 1e9);
        /* count is the +Inf bucket: rendering it from the same sum keeps them equal */
        lg_buf_addf(&b, "lanegate_admission_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                    endpoint_names[e], cum);
    }

    head(&b, "lanegate_http_responses_total", "counter", "HTTP responses sent, by status code.");
    for (size_t i = 0; i <= NCODES; i++) {
        unsigned long long v = GET(m.http[i]);
        if (i < NCODES)
            lg_buf_addf(&b, "lanegate_http_responses_total{code=\"%u\"} %llu\n", http_codes[i], v);
        else
            lg_buf_addf(&b, "lanegate_http_responses_total{code=\"other\"} %llu\n", v);
    }

    head(&b, "lanegate_inflight_requests", "gauge", "Requests being received or evaluated.");
    lg_buf_addf(&b, "lanegate_inflight_requests %d\n", (int)GET(m.inflight));

    head(&b, "lanegate_policy_reloads_total", "counter",
         "Policy set reloads (inotify or SIGHUP), by result; an error keeps the old set.");
    lg_buf_addf(&b, "lanegate_policy_reloads_total{result=\"success\"} %llu\n",
                (unsigned long long)GET(m.reloads[0]));
    lg_buf_addf(&b, "lanegate_policy_reloads_total{result=\"error\"} %llu\n",
                (unsigned long long)GET(m.reloads[1]));

    head(&b, "lanegate_policies_loaded", "gauge", "Policy objects in the set being served.");
    lg_buf_addf(&b, "lanegate_policies_loaded %llu\n", (unsigned long long)GET(m.policies_loaded));

    head(&b, "lanegate_tls_reloads_total", "counter",
         "Serving certificate reloads, by result; an error keeps the old pair.");
    lg_buf_addf(&b, "lanegate_tls_reloads_total{result=\"success\"} %llu\n",
                (unsigned long long)GET(m.tls_reloads[0]));
    lg_buf_addf(&b, "lanegate_tls_reloads_total{result=\"error\"} %llu\n",
                (unsigned long long)GET(m.tls_reloads[1]));

    head(&b, "lanegate_tls_certificate_expiry_timestamp_seconds", "gauge",
         "notAfter of the serving certificate in use, as a Unix timestamp.");
    lg_buf_addf(&b, "lanegate_tls_certificate_expiry_timestamp_seconds %lld\n",
                (long long)GET(m.cert_expiry));

    head(&b, "lanegate_log_lines_dropped_total", "counter",
         "Log lines dropped because stderr could not keep up (requests never wait on the log).");
    lg_buf_addf(&b, "lanegate_log_lines_dropped_total %llu\n", (unsigned long long)lg_log_dropped());

    head(&b, "lanegate_build_info", "gauge", "Always 1; the version is a label.");
    lg_buf_addf(&b, "lanegate_build_info{version=\"%s\"} 1\n", LG_VERSION);

    if (b.failed) {
        lg_buf_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return lg_buf_take(&b);
}
