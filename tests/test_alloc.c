/* test_alloc.c — every allocation the engine makes may fail, and none of
 * those failures may change a decision.
 *
 * malloc/calloc/realloc are interposed: the Nth call fails, for N = 0, 1, 2...
 * until the operation completes without reaching N (SQLite's and curl's
 * "torture" idea). For each N the review must end in an error status or in a
 * well-formed answer, and a denial must stay a denial. lanegate's own code
 * turns every failure into LG_ERR_NOMEM; jansson's lexer (2.14) ignores a
 * failed buffer growth and returns a shortened string instead, which is why
 * the answer is not required to be byte-identical. Live blocks are counted
 * around every run, so an error path that leaks fails the test. Skipped under
 * ASan and valgrind, which own malloc themselves. */
#include "lgtest.h"

#include "alloc_fail.h"

#ifndef LGT_NO_INTERPOSE
/* Torture one review: every outcome is an error or the reference answer. */
static void torture_review(lg_policy_set *set, const char *path, lg_endpoint ep)
{
    size_t len;
    char *body = lgt_read_file(path, &len);
    lg_review_result ref;
    ck_assert_int_eq(lg_review_handle(set, ep, body, len, &ref), LG_OK);
    long n = 0, identical = 0;
    for (;; n++) {
        lg_review_result res;
        long before = live;
        arm(n);
        lg_status st = lg_review_handle(set, ep, body, len, &res);
        bool reached = disarm();
        if (st == LG_OK) {
            json_t *r = json_loadb(res.body, res.body_len, 0, NULL);
            ck_assert_msg(r != NULL, "%s: allocation %ld: answer is not JSON: %.*s", path, n, (int)res.body_len, res.body);
            json_t *allowed = json_object_get(json_object_get(r, "response"), "allowed");
            ck_assert(json_is_boolean(allowed));
            ck_assert_msg(ref.allowed || json_is_false(allowed),
                          "%s: allocation %ld failed and a denial became an allowance", path, n);
            ck_assert_int_eq(json_is_true(allowed), res.allowed);
            json_decref(r);
            identical += res.body_len == ref.body_len && !memcmp(res.body, ref.body, ref.body_len);
        } else
            ck_assert_msg(st == LG_ERR_NOMEM || (st == LG_ERR_INPUT && res.http_status == 400),
                          "%s: allocation %ld: unexpected %s", path, n, lg_strerror(st));
        lg_review_result_free(&res);
        ck_assert_msg(live == before, "%s: allocation %ld failed: %ld blocks leaked", path, n,
                      live - before);
        if (!reached)
            break;
    }
    ck_assert_int_gt(n, 10); /* the loop really failed allocations */
    ck_assert_int_ge(identical, 1); /* the final, unfailed run */
    lg_review_result_free(&ref);
    free(body);
}

START_TEST(denial_survives_every_failed_allocation)
{
    lg_policy_set *set = lgt_load_policies("policies");
    torture_review(set, "tests/data/reviews/ephemeral-privileged-debug.json", LG_ENDPOINT_VALIDATE);
    lg_policy_set_unref(set);
}
END_TEST

START_TEST(patch_survives_every_failed_allocation)
{
    lg_policy_set *set = lgt_load_policies("policies");
    torture_review(set, "tests/data/reviews/arc-runner-create.json", LG_ENDPOINT_MUTATE);
    torture_review(set, "tests/data/reviews/arc-runner-create.json", LG_ENDPOINT_VALIDATE);
    lg_policy_set_unref(set);
}
END_TEST

START_TEST(policy_load_survives_every_failed_allocation)
{
    long n = 0;
    for (;; n++) {
        lg_policy_set *set = NULL;
        lg_diags diags = {0};
        long before = live;
        arm(n);
        lg_status st = lg_policy_load_dir("policies", &set, &diags);
        bool reached = disarm();
        ck_assert_msg(st == LG_OK || set == NULL, "failed load returned a set");
        if (st == LG_OK)
            ck_assert_uint_eq(lg_policy_set_count(set), 6);
        lg_policy_set_unref(set);
        lg_diags_free(&diags);
        ck_assert_msg(live == before || (failed_in_libyaml && live - before <= 1),
                      "policy load, allocation %ld failed: %ld blocks leaked", n, live - before);
        if (!reached)
            break;
    }
    ck_assert_int_gt(n, 10);
}
END_TEST
#endif

static Suite *alloc_suite(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("failing allocations");
    tcase_set_timeout(tc, 120);
#ifndef LGT_NO_INTERPOSE
    alloc_fail_warm();
    if (!interposed()) {
        printf("alloc: malloc is not interposable here (valgrind?): skipped\n");
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_add_test(tc, denial_survives_every_failed_allocation);
    tcase_add_test(tc, patch_survives_every_failed_allocation);
    tcase_add_test(tc, policy_load_survives_every_failed_allocation);
#endif
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(alloc_suite)
