/* test_review.c — AdmissionReview decoding and encoding, byte for byte.
 *
 * Golden responses live next to their requests in tests/data/reviews/:
 * <name>.json is the request, <name>.<endpoint>.response.json the exact bytes
 * lanegate must answer. Bodies under bad/ must get HTTP 400 with a Status;
 * bodies under malformed/ are well-formed reviews of malformed objects and
 * must get a decision: denied with code 400. */
#include <dirent.h>

#include "lgtest.h"

#define REVIEWS "tests/data/reviews"

static lg_policy_set *set;

static void setup(void)
{
    set = lgt_load_policies("policies");
}

static void teardown(void)
{
    lg_policy_set_unref(set);
}

static void golden(const char *name, lg_endpoint ep)
{
    char path[512], want_path[512];
    const char *epname = ep == LG_ENDPOINT_MUTATE ? "mutate" : "validate";
    snprintf(path, sizeof path, REVIEWS "/%s.json", name);
    snprintf(want_path, sizeof want_path, REVIEWS "/%s.%s.response.json", name, epname);
    size_t len, want_len;
    char *body = lgt_read_file(path, &len);
    char *want = lgt_read_file(want_path, &want_len);
    while (want_len && want[want_len - 1] == '\n')
        want[--want_len] = '\0'; /* editors add one; the response has none */
    lg_review_result res;
    ck_assert_int_eq(lg_review_handle(set, ep, body, len, &res), LG_OK);
    ck_assert_int_eq(res.http_status, 200);
    ck_assert_msg(res.body_len == want_len && !memcmp(res.body, want, want_len),
                  "%s on /%s:\n got  %s\n want %s", name, epname, res.body, want);
    lg_review_result_free(&res);
    free(body);
    free(want);
}

START_TEST(arc_runner_mutate_response_is_exact)
{
    golden("arc-runner-create", LG_ENDPOINT_MUTATE);
}
END_TEST

START_TEST(arc_runner_validate_response_is_exact)
{
    golden("arc-runner-create", LG_ENDPOINT_VALIDATE);
}
END_TEST

START_TEST(privileged_debug_container_is_denied)
{
    golden("ephemeral-privileged-debug", LG_ENDPOINT_VALIDATE);
}
END_TEST

START_TEST(update_keeps_existing_violations_allowed)
{
    golden("update-existing-violation", LG_ENDPOINT_VALIDATE);
}
END_TEST

/* Found by the audit: an old pod with over 100 violations must still lose its finalizer. */
START_TEST(update_compares_every_old_violation_not_only_the_listed)
{
    golden("update-over-cap-finalizer-removal", LG_ENDPOINT_VALIDATE);
}
END_TEST

/* Found by the audit: a new value at an old violation's path is a new violation. */
START_TEST(update_swapping_the_value_at_a_path_is_new)
{
    golden("update-swapped-hostpath-same-index", LG_ENDPOINT_VALIDATE);
}
END_TEST

/* Runs every file of dir through both endpoints; fn checks each result. */
static size_t each_file(const char *dir,
                        void (*fn)(const char *path, lg_endpoint ep, lg_review_result *res))
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *body = lgt_read_file(path, &len);
        for (int ep = 0; ep < 2; ep++) {
            lg_review_result res;
            lg_review_handle(set, (lg_endpoint)ep, body, len, &res);
            fn(path, (lg_endpoint)ep, &res);
            lg_review_result_free(&res);
        }
        free(body);
        n++;
    }
    closedir(d);
    return n;
}

static void expect_400(const char *path, lg_endpoint ep, lg_review_result *res)
{
    (void)ep;
    ck_assert_msg(res->http_status == 400, "%s: status %d", path, res->http_status);
    json_t *st = json_loadb(res->body, res->body_len, 0, NULL);
    ck_assert_msg(st != NULL, "%s: error body is not JSON", path);
    ck_assert_str_eq(json_string_value(json_object_get(st, "kind")), "Status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 400);
    const char *msg = json_string_value(json_object_get(st, "message"));
    ck_assert_msg(msg && strlen(msg) > 10, "%s: no useful message", path);
    json_decref(st);
}

START_TEST(bad_bodies_get_400_with_a_message)
{
    ck_assert_uint_ge(each_file(REVIEWS "/bad", expect_400), 17);
}
END_TEST

static void expect_denied_400(const char *path, lg_endpoint ep, lg_review_result *res)
{
    ck_assert_msg(res->http_status == 200, "%s: status %d", path, res->http_status);
    if (ep == LG_ENDPOINT_MUTATE && res->allowed)
        return; /* /mutate reads only the fields it patches; /validate is the gate */
    json_t *r = json_loadb(res->body, res->body_len, 0, NULL);
    json_t *resp = json_object_get(r, "response");
    ck_assert_msg(json_is_false(json_object_get(resp, "allowed")), "%s: allowed", path);
    json_t *st = json_object_get(resp, "status");
    ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 400);
    ck_assert_msg(strstr(json_string_value(json_object_get(st, "message")), "malformed"),
                  "%s: message %s", path, json_string_value(json_object_get(st, "message")));
    ck_assert_ptr_null(json_object_get(resp, "patch"));
    ck_assert(!res->allowed);
    json_decref(r);
}

START_TEST(malformed_objects_are_denied_not_dropped)
{
    ck_assert_uint_ge(each_file(REVIEWS "/malformed", expect_denied_400), 9);
}
END_TEST

/* Out-of-scope requests are allowed untouched, whatever the object says. */
START_TEST(out_of_scope_requests_are_allowed_untouched)
{
    size_t len;
    char *body = lgt_read_file(REVIEWS "/ephemeral-privileged-debug.json", &len);
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *req = json_object_get(doc, "request");
    static const char *const cases[][3] = {
        /* operation, subResource, kind */
        {"DELETE", "", "Pod"},
        {"CONNECT", "exec", "Pod"},
        {"UPDATE", "status", "Pod"},
        {"CREATE", "", "Service"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object_set_new(req, "operation", json_string(cases[i][0]));
        json_object_set_new(req, "subResource", json_string(cases[i][1]));
        json_object_set_new(json_object_get(req, "kind"), "kind", json_string(cases[i][2]));
        char *b = json_dumps(doc, JSON_COMPACT);
        lg_review_result res;
        ck_assert_int_eq(lg_review_handle(set, LG_ENDPOINT_VALIDATE, b, strlen(b), &res), LG_OK);
        ck_assert_msg(res.allowed, "%s %s %s denied", cases[i][0], cases[i][1], cases[i][2]);
        ck_assert_ptr_null(strstr(res.body, "patch"));
        lg_review_result_free(&res);
        free(b);
    }
    json_decref(doc);
    free(body);
}
END_TEST

/* The result carries what the server's decision log line needs. */
START_TEST(decision_fields_for_the_log)
{
    size_t len;
    char *body = lgt_read_file(REVIEWS "/ephemeral-privileged-debug.json", &len);
    lg_review_result res;
    ck_assert_int_eq(lg_review_handle(set, LG_ENDPOINT_VALIDATE, body, len, &res), LG_OK);
    ck_assert(!res.allowed);
    ck_assert_str_eq(res.uid, "9d0e5a1c-ephemeral");
    ck_assert_str_eq(res.kind, "Pod");
    ck_assert_str_eq(res.namespace, "arc-runners");
    ck_assert_str_eq(res.operation, "UPDATE");
    ck_assert_str_eq(res.lane, "nix");
    ck_assert_str_eq(res.policies, "lane-privilege");
    ck_assert_ptr_nonnull(strstr(res.reasons, "ephemeralContainers[0]"));
    lg_review_result_free(&res);
    free(body);
}
END_TEST

static Suite *review_suite(void)
{
    Suite *s = suite_create("review");
    TCase *tc = tcase_create("AdmissionReview v1");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, arc_runner_mutate_response_is_exact);
    tcase_add_test(tc, arc_runner_validate_response_is_exact);
    tcase_add_test(tc, privileged_debug_container_is_denied);
    tcase_add_test(tc, update_keeps_existing_violations_allowed);
    tcase_add_test(tc, update_compares_every_old_violation_not_only_the_listed);
    tcase_add_test(tc, update_swapping_the_value_at_a_path_is_new);
    tcase_add_test(tc, bad_bodies_get_400_with_a_message);
    tcase_add_test(tc, malformed_objects_are_denied_not_dropped);
    tcase_add_test(tc, out_of_scope_requests_are_allowed_untouched);
    tcase_add_test(tc, decision_fields_for_the_log);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(review_suite)
