/* test_metrics.c — Prometheus text 0.0.4: every family declared, histogram
 * buckets cumulative with inclusive upper bounds, counters exact under threads. */
#include <pthread.h>
#include <regex.h>

#include "lgtest.h"
#include "metrics.h"

static char *render(void)
{
    size_t len = 0;
    char *t = lg_metrics_render(&len);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(strlen(t), len);
    return t;
}

/* The value of the sample named exactly `key` ("name{labels}"), or -1. */
static double sample(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *l = text; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
        if (strncmp(l, key, k) == 0 && l[k] == ' ')
            return strtod(l + k + 1, NULL);
    return -1;
}

START_TEST(declares_every_family)
{
    lg_metrics_reset();
    char *t = render();
    static const char *const fam[][2] = {
        {"lanegate_admission_requests_total", "counter"},
        {"lanegate_admission_request_duration_seconds", "histogram"},
        {"lanegate_policy_reloads_total", "counter"},
        {"lanegate_policies_loaded", "gauge"},
        {"lanegate_tls_certificate_expiry_timestamp_seconds", "gauge"},
        {"lanegate_build_info", "gauge"},
        {"lanegate_http_responses_total", "counter"},
        {"lanegate_tls_reloads_total", "counter"},
        {"lanegate_inflight_requests", "gauge"},
        {"lanegate_log_lines_dropped_total", "counter"},
    };
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        char want[160];
        snprintf(want, sizeof want, "# TYPE %s %s\n", fam[i][0], fam[i][1]);
        ck_assert_msg(strstr(t, want) != NULL, "missing %s", want);
        snprintf(want, sizeof want, "# HELP %s ", fam[i][0]);
        ck_assert_msg(strstr(t, want) != NULL, "missing %s", want);
    }
    char bi[80];
    snprintf(bi, sizeof bi, "lanegate_build_info{version=\"%s\"}", LG_VERSION);
    ck_assert(sample(t, bi) == 1);
    /* zero-valued series exist before the first request (no gaps in dashboards) */
    ck_assert(sample(t, "lanegate_admission_requests_total{endpoint=\"mutate\",decision=\"deny\"}") == 0);
    ck_assert(sample(t, "lanegate_policy_reloads_total{result=\"error\"}") == 0);
    free(t);
}
END_TEST

START_TEST(every_line_is_well_formed)
{
    lg_metrics_reset();
    lg_metrics_review(LG_ENDPOINT_VALIDATE, LG_DECISION_ALLOW, 0.0002);
    lg_metrics_cert_expiry(1798056876);
    char *t = render();
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
                             "-?[0-9]+(\\.[0-9]+)?(e[-+]?[0-9]+)?)$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_int_eq(t[strlen(t) - 1], '\n');
    size_t lines = 0;
    for (char *l = strtok(t, "\n"); l; l = strtok(NULL, "\n")) {
        ck_assert_msg(regexec(&re, l, 0, NULL, 0) == 0, "bad line: %s", l);
        lines++;
    }
    ck_assert_uint_gt(lines, 40);
    regfree(&re);
    free(t);
}
END_TEST

START_TEST(histogram_is_cumulative_and_inclusive)
{
    lg_metrics_reset();
    lg_metrics_review(LG_ENDPOINT_VALIDATE, LG_DECISION_ALLOW, 0.0003);
    lg_metrics_review(LG_ENDPOINT_VALIDATE, LG_DECISION_DENY, 0.001); /* exactly on a bound */
    lg_metrics_review(LG_ENDPOINT_VALIDATE, LG_DECISION_ALLOW, 42.0); /* past the last bound */
    lg_metrics_review(LG_ENDPOINT_MUTATE, LG_DECISION_ALLOW, -1.0);   /* clock went back */
    char *t = render();
#define B(ep, le) sample(t, "lanegate_admission_request_duration_seconds_bucket{endpoint=\"" ep "\",le=\"" le "\"}")
    ck_assert(B("validate", "0.00025") == 0);
    ck_assert(B("validate", "0.0005") == 1);
    ck_assert(B("validate", "0.001") == 2);
    ck_assert(B("validate", "10") == 2);
    ck_assert(B("validate", "+Inf") == 3);
    ck_assert(B("mutate", "0.0001") == 1);
    ck_assert(sample(t, "lanegate_admission_request_duration_seconds_count{endpoint=\"validate\"}") == 3);
    double sum = sample(t, "lanegate_admission_request_duration_seconds_sum{endpoint=\"validate\"}");
    ck_assert_msg(sum > 42.0012 && sum < 42.0014, "sum %f", sum);
    ck_assert(sample(t, "lanegate_admission_requests_total{endpoint=\"validate\",decision=\"allow\"}") == 2);
    ck_assert(sample(t, "lanegate_admission_requests_total{endpoint=\"validate\",decision=\"deny\"}") == 1);
    ck_assert(sample(t, "lanegate_admission_requests_total{endpoint=\"mutate\",decision=\"allow\"}") == 1);
#undef B
    free(t);
}
END_TEST

START_TEST(gauges_and_counters)
{
    lg_metrics_reset();
    lg_metrics_policy_reload(true);
    lg_metrics_policy_reload(false);
    lg_metrics_policy_reload(false);
    lg_metrics_tls_reload(true);
    lg_metrics_policies_loaded(7);
    lg_metrics_policies_loaded(6);
    lg_metrics_cert_expiry(1798056876);
    lg_metrics_http_response(413);
    lg_metrics_http_response(418);
    lg_metrics_inflight(2);
    lg_metrics_inflight(-1);
    char *t = render();
    ck_assert(sample(t, "lanegate_policy_reloads_total{result=\"success\"}") == 1);
    ck_assert(sample(t, "lanegate_policy_reloads_total{result=\"error\"}") == 2);
    ck_assert(sample(t, "lanegate_tls_reloads_total{result=\"success\"}") == 1);
    ck_assert(sample(t, "lanegate_policies_loaded") == 6);
    ck_assert(sample(t, "lanegate_tls_certificate_expiry_timestamp_seconds") == 1798056876);
    ck_assert(sample(t, "lanegate_http_responses_total{code=\"413\"}") == 1);
    ck_assert(sample(t, "lanegate_http_responses_total{code=\"other\"}") == 1);
    ck_assert(sample(t, "lanegate_inflight_requests") == 1);
    free(t);
}
END_TEST

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50000; i++) {
        lg_metrics_review(LG_ENDPOINT_MUTATE, LG_DECISION_ALLOW, 0.0001);
        lg_metrics_http_response(200);
    }
    return NULL;
}

START_TEST(exact_under_concurrency)
{
    lg_metrics_reset();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    char *t = render();
    ck_assert(sample(t, "lanegate_admission_requests_total{endpoint=\"mutate\",decision=\"allow\"}") == 200000);
    ck_assert(sample(t, "lanegate_admission_request_duration_seconds_bucket{endpoint=\"mutate\",le=\"0.0001\"}") == 200000);
    ck_assert(sample(t, "lanegate_http_responses_total{code=\"200\"}") == 200000);
    free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, declares_every_family);
    tcase_add_test(tc, every_line_is_well_formed);
    tcase_add_test(tc, histogram_is_cumulative_and_inclusive);
    tcase_add_test(tc, gauges_and_counters);
    tcase_add_test(tc, exact_under_concurrency);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(suite)
