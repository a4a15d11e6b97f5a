/* test_corpus.c — conformance with Kubernetes' own Pod Security fixtures and
 * with AdmissionReview bodies a real kube-apiserver sent (tests/data/corpus,
 * copied from ../shared/corpus; see its README).
 *
 * With the default policies, in a namespace that is neither a runner nor an
 * exempt one, every baseline `fail` fixture is denied by the control it is
 * named after, and every baseline (and restricted) `pass` fixture is allowed. */
#include <gnutls/gnutls.h>

#include "lgtest.h"

#define CORPUS "tests/data/corpus"
#define PLAIN_NS "corpus-test"

/* PSA check id (as in the fixture names) -> lanegate control. */
static const char *control_for(const char *psa)
{
    static const char *const map[][2] = {
        {"apparmorprofile", "appArmorProfile"},
        {"capabilities_baseline", "capabilities"},
        {"hostnamespaces", "hostNamespaces"},
        {"hostpathvolumes", "hostPathVolumes"},
        {"hostports", "hostPorts"},
        {"hostprobesandhostlifecycle", "hostProbesAndHostLifecycle"},
        {"privileged", "privileged"},
        {"procmount", "procMount"},
        {"seccompprofile_baseline", "seccompProfile"},
        {"selinuxoptions", "seLinuxOptions"},
        {"sysctls", "sysctls"},
        {"windowshostprocess", "windowsHostProcess"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], psa))
            return map[i][1];
    return NULL;
}

static lg_verdict evaluate_file(lg_policy_set *set, const char *path)
{
    size_t len;
    char *text = lgt_read_file(path, &len);
    json_t *docs;
    lg_diag diag = {0};
    ck_assert_msg(lg_documents_parse(path, text, len, &docs, &diag) == LG_OK, "%s: %s", path, diag.msg);
    lg_request req;
    ck_assert_int_eq(lg_request_from_manifest(json_array_get(docs, 0), &req, &diag), LG_OK);
    req.namespace = PLAIN_NS;
    lg_verdict v;
    ck_assert_msg(lg_evaluate(set, &req, LG_EVAL_VALIDATE | LG_EVAL_MUTATE, &v, &diag) == LG_OK,
                  "%s: %s", path, diag.msg);
    json_decref(docs);
    free(text);
    return v;
}

START_TEST(psa_baseline_fixtures_agree)
{
    lg_policy_set *set = lgt_load_policies("policies");
    char *manifest = lgt_read_file(CORPUS "/psa/MANIFEST.tsv", NULL);
    size_t fail_total = 0, fail_ok = 0, pass_total = 0, pass_ok = 0;
    char *save = NULL;
    for (char *line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[256], level[32], version[16], verdict[8], control[64];
        if (sscanf(line, "%255s %31s %15s %7s %63s", file, level, version, verdict, control) != 5 ||
            !strcmp(file, "file"))
            continue;
        char path[512];
        snprintf(path, sizeof path, CORPUS "/psa/%s", file);
        lg_verdict v = evaluate_file(set, path);
        bool is_fail = !strcmp(verdict, "fail");
        if (is_fail && !strcmp(level, "baseline")) {
            const char *want = control_for(control);
            ck_assert_msg(want, "%s: unknown PSA control %s", file, control);
            bool by_control = false;
            for (size_t i = 0; i < v.nfindings; i++)
                by_control |= !strcmp(v.findings[i].control, want);
            fail_total++;
            fail_ok += !v.allowed && by_control;
            ck_assert_msg(!v.allowed && by_control, "%s: expected a %s denial, got %s", file, want,
                          v.allowed ? "allowed" : "another denial");
        } else if (!is_fail) {
            /* A pod passing baseline (or the stricter restricted level) passes. */
            pass_total++;
            pass_ok += v.allowed;
            ck_assert_msg(v.allowed, "%s (%s pass): denied: %s", file, level,
                          v.nfindings ? v.findings[0].message : "");
        }
        lg_verdict_free(&v);
    }
    printf("psa corpus: %zu/%zu baseline fail fixtures denied by their control, "
           "%zu/%zu pass fixtures allowed\n",
           fail_ok, fail_total, pass_ok, pass_total);
    ck_assert_uint_eq(fail_total, 34);
    ck_assert_uint_eq(pass_total, 15 + 23);
    free(manifest);
    lg_policy_set_unref(set);
}
END_TEST

/* Checks the shape the apiserver requires of a response. */
static void check_response(const char *path, const char *body, size_t len, const char *uid,
                           bool mutate, bool *allowed)
{
    json_error_t jerr;
    json_t *r = json_loadb(body, len, 0, &jerr);
    ck_assert_msg(r != NULL, "%s: response is not JSON: %s", path, jerr.text);
    ck_assert_str_eq(json_string_value(json_object_get(r, "apiVersion")), "admission.k8s.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(r, "kind")), "AdmissionReview");
    json_t *resp = json_object_get(r, "response");
    ck_assert_str_eq(json_string_value(json_object_get(resp, "uid")), uid);
    json_t *a = json_object_get(resp, "allowed");
    ck_assert(json_is_boolean(a));
    *allowed = json_is_true(a);
    if (!*allowed) {
        json_t *st = json_object_get(resp, "status");
        ck_assert_int_eq(json_integer_value(json_object_get(st, "code")), 403);
        ck_assert(strlen(json_string_value(json_object_get(st, "message"))) > 0);
    }
    json_t *patch = json_object_get(resp, "patch");
    if (!mutate)
        ck_assert_msg(patch == NULL, "%s: /validate answered with a patch", path);
    if (patch) {
        ck_assert_str_eq(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
        const char *b64 = json_string_value(patch);
        gnutls_datum_t in = {(unsigned char *)b64, (unsigned)strlen(b64)}, out;
        ck_assert_int_eq(gnutls_base64_decode2(&in, &out), 0);
        json_t *ops = json_loadb((char *)out.data, out.size, 0, &jerr);
        ck_assert_msg(json_is_array(ops) && json_array_size(ops) > 0, "%s: patch is not ops", path);
        json_decref(ops);
        gnutls_free(out.data);
    }
    json_decref(r);
}

START_TEST(apiserver_bodies_get_well_formed_responses)
{
    lg_policy_set *set = lgt_load_policies("policies");
    char *manifest = lgt_read_file(CORPUS "/apiserver-requests/MANIFEST.tsv", NULL);
    size_t n = 0, pass_allowed = 0, pass_total = 0;
    char *save = NULL;
    for (char *line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char fixture[256], pod[128], file[256];
        if (sscanf(line, "%255s %127s %255s", fixture, pod, file) != 3 || !strcmp(fixture, "fixture"))
            continue;
        char path[512];
        snprintf(path, sizeof path, CORPUS "/apiserver-requests/%s", file);
        size_t len;
        char *body = lgt_read_file(path, &len);
        json_t *doc = json_loadb(body, len, 0, NULL);
        const char *uid = json_string_value(json_object_get(json_object_get(doc, "request"), "uid"));
        ck_assert_ptr_nonnull(uid);
        for (int ep = 0; ep < 2; ep++) {
            lg_review_result res;
            ck_assert_msg(lg_review_handle(set, (lg_endpoint)ep, body, len, &res) == LG_OK, "%s: %s",
                          path, res.reasons ? res.reasons : "");
            ck_assert_int_eq(res.http_status, 200);
            bool allowed;
            check_response(path, res.body, res.body_len, uid, ep == LG_ENDPOINT_MUTATE, &allowed);
            ck_assert_int_eq(allowed, res.allowed);
            if (ep == LG_ENDPOINT_VALIDATE && strstr(fixture, "/pass/")) {
                pass_total++;
                pass_allowed += allowed;
                ck_assert_msg(allowed, "%s: pass fixture denied: %s", path, res.reasons);
            }
            lg_review_result_free(&res);
        }
        json_decref(doc);
        free(body);
        n++;
    }
    printf("apiserver corpus: %zu bodies answered on /validate and /mutate, %zu/%zu pass allowed\n", n,
           pass_allowed, pass_total);
    ck_assert_uint_ge(n, 140);
    free(manifest);
    lg_policy_set_unref(set);
}
END_TEST

static Suite *corpus_suite(void)
{
    Suite *s = suite_create("corpus");
    TCase *tc = tcase_create("psa and apiserver corpus");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, psa_baseline_fixtures_agree);
    tcase_add_test(tc, apiserver_bodies_get_well_formed_responses);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(corpus_suite)
