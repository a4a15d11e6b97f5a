/* test_evaluate.c — the default policies against realistic and hostile pods.
 *
 * Every file under tests/data/pods/{allow,deny}/ is one case: a manifest
 * preceded by comment lines that state the expectation:
 *   # allowed: true|false
 *   # finding: <policy>/<control> <field path>   (the exact set, one per line)
 *   # patch: <JSON Patch>                         (exact, when given)
 *   # namespace: / operation: / user: / group:   (request overrides)
 *   # mutate: false                               (validate the object as is)
 *   # policies: DIR                               (another policy set)
 *   # warnings: N / audit: N                      (findings of that mode)
 * The engine runs as `lanegate check` does: mutation, then validation. */
#include <dirent.h>

#include "lgtest.h"

#define POLICIES "policies"

typedef struct expect {
    int allowed; /* -1 unset */
    char findings[16][200];
    size_t nfindings;
    char *patch; /* JSON text or NULL */
    char ns[64], op[16], user[64], group[64], policies[200];
    bool no_mutate;
    int warnings, audits; /* -1 unset */
} expect;

static void header_parse(const char *text, expect *x)
{
    memset(x, 0, sizeof *x);
    x->allowed = x->warnings = x->audits = -1;
    const char *p = text;
    while (*p == '#') {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        char line[4096];
        ck_assert_uint_lt(n, sizeof line);
        memcpy(line, p, n);
        line[n] = '\0';
        char *v = strchr(line, ':');
        if (v && !strncmp(line, "# ", 2)) {
            *v++ = '\0';
            while (*v == ' ')
                v++;
            const char *k = line + 2;
            if (!strcmp(k, "allowed"))
                x->allowed = !strcmp(v, "true");
            else if (!strcmp(k, "finding")) {
                ck_assert_uint_lt(x->nfindings, 16);
                snprintf(x->findings[x->nfindings++], 200, "%s", v);
            } else if (!strcmp(k, "patch"))
                x->patch = strdup(v);
            else if (!strcmp(k, "namespace"))
                snprintf(x->ns, sizeof x->ns, "%s", v);
            else if (!strcmp(k, "operation"))
                snprintf(x->op, sizeof x->op, "%s", v);
            else if (!strcmp(k, "user"))
                snprintf(x->user, sizeof x->user, "%s", v);
            else if (!strcmp(k, "group"))
                snprintf(x->group, sizeof x->group, "%s", v);
            else if (!strcmp(k, "mutate"))
                x->no_mutate = !strcmp(v, "false");
            else if (!strcmp(k, "policies"))
                snprintf(x->policies, sizeof x->policies, "%s", v);
            else if (!strcmp(k, "warnings"))
                x->warnings = atoi(v);
            else if (!strcmp(k, "audit"))
                x->audits = atoi(v);
        }
        if (!eol)
            break;
        p = eol + 1;
    }
}

static bool finding_expected(const expect *x, const lg_finding *f)
{
    char key[300];
    snprintf(key, sizeof key, "%s/%s %s", f->policy, f->control, f->path);
    for (size_t i = 0; i < x->nfindings; i++)
        if (!strcmp(x->findings[i], key))
            return true;
    return false;
}

static bool finding_found(const lg_verdict *v, const char *want)
{
    for (size_t i = 0; i < v->nfindings; i++) {
        char key[300];
        snprintf(key, sizeof key, "%s/%s %s", v->findings[i].policy, v->findings[i].control,
                 v->findings[i].path);
        if (!strcmp(key, want))
            return true;
    }
    return false;
}

static size_t count_mode(const lg_verdict *v, lg_mode m)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nfindings; i++)
        n += v->findings[i].mode == m;
    return n;
}

static void run_case(lg_policy_set *dflt, const char *path)
{
    size_t len;
    char *text = lgt_read_file(path, &len);
    expect x;
    header_parse(text, &x);
    lg_policy_set *set = x.policies[0] ? lgt_load_policies(x.policies) : lg_policy_set_ref(dflt);
    ck_assert_msg(x.allowed >= 0, "%s: no '# allowed:' header", path);

    json_t *docs = NULL;
    lg_diag diag = {0};
    ck_assert_msg(lg_documents_parse(path, text, len, &docs, &diag) == LG_OK, "%s: %s", path, diag.msg);
    ck_assert_uint_eq(json_array_size(docs), 1);
    json_t *obj = json_array_get(docs, 0);

    lg_request req;
    ck_assert_msg(lg_request_from_manifest(obj, &req, &diag) == LG_OK, "%s: %s", path, diag.msg);
    json_t *groups = NULL;
    if (x.ns[0])
        req.namespace = x.ns;
    if (x.op[0])
        ck_assert(lg_op_parse(x.op, &req.op));
    if (x.user[0])
        req.username = x.user;
    if (x.group[0]) {
        groups = json_pack("[s]", x.group);
        req.groups = groups;
    }
    unsigned flags = LG_EVAL_VALIDATE | (x.no_mutate ? 0 : LG_EVAL_MUTATE);
    lg_verdict v;
    ck_assert_msg(lg_evaluate(set, &req, flags, &v, &diag) == LG_OK, "%s: %s", path, diag.msg);

    for (size_t i = 0; i < v.nfindings; i++)
        ck_assert_msg(finding_expected(&x, &v.findings[i]), "%s: unexpected finding %s/%s %s: %s", path,
                      v.findings[i].policy, v.findings[i].control, v.findings[i].path,
                      v.findings[i].message);
    for (size_t i = 0; i < x.nfindings; i++)
        ck_assert_msg(finding_found(&v, x.findings[i]), "%s: missing finding %s", path, x.findings[i]);
    ck_assert_msg(v.allowed == (x.allowed == 1), "%s: expected %s", path,
                  x.allowed ? "allowed" : "denied");
    if (x.warnings >= 0)
        ck_assert_msg(count_mode(&v, LG_MODE_WARN) == (size_t)x.warnings, "%s: warnings", path);
    if (x.audits >= 0)
        ck_assert_msg(count_mode(&v, LG_MODE_AUDIT) == (size_t)x.audits, "%s: audit findings", path);
    for (size_t i = 0; i < v.nfindings; i++) {
        ck_assert_msg(strlen(v.findings[i].warning) <= 120, "%s: long warning", path);
        for (const char *m = v.findings[i].message; *m; m++)
            ck_assert_msg((unsigned char)*m >= 0x20, "%s: control character in a message", path);
    }
    if (x.patch) {
        json_error_t jerr;
        json_t *want = json_loads(x.patch, 0, &jerr);
        ck_assert_msg(want != NULL, "%s: bad patch header: %s", path, jerr.text);
        char *got = json_dumps(v.patch, JSON_COMPACT);
        ck_assert_msg(json_equal(want, v.patch), "%s: patch\n got  %s\n want %s", path, got, x.patch);
        free(got);
        json_decref(want);
        free(x.patch);
    }
    lg_verdict_free(&v);
    json_decref(groups);
    json_decref(docs);
    free(text);
    lg_policy_set_unref(set);
}

static void run_dir(const char *dir, size_t min_cases)
{
    lg_policy_set *set = lgt_load_policies(POLICIES);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml"))
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        run_case(set, path);
        n++;
    }
    closedir(d);
    ck_assert_uint_ge(n, min_cases);
    lg_policy_set_unref(set);
}

START_TEST(realistic_and_edge_pods_are_allowed)
{
    run_dir("tests/data/pods/allow", 15);
}
END_TEST

START_TEST(violating_pods_are_denied_with_every_violation)
{
    run_dir("tests/data/pods/deny", 40);
}
END_TEST

START_TEST(requesters_service_accounts_and_modes)
{
    run_dir("tests/data/pods/sets", 13);
}
END_TEST

/* The message names policy, container (kind and name), field and lane. */
START_TEST(denial_message_names_policy_container_field_lane)
{
    lg_policy_set *set = lgt_load_policies(POLICIES);
    size_t len;
    char *text = lgt_read_file("tests/data/pods/deny/001-privileged-container-nix-lane.yaml", &len);
    json_t *docs;
    lg_diag diag;
    ck_assert_int_eq(lg_documents_parse("x", text, len, &docs, &diag), LG_OK);
    lg_request req;
    ck_assert_int_eq(lg_request_from_manifest(json_array_get(docs, 0), &req, &diag), LG_OK);
    lg_verdict v;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE, &v, &diag), LG_OK);
    ck_assert_uint_eq(v.nfindings, 1);
    ck_assert_str_eq(v.findings[0].message,
                     "lane-privilege: container \"build\" (containers[1]) sets "
                     "securityContext.privileged=true; only lane \"dind\" in namespaces "
                     "arc-runners,gitlab-runners may (pod is in lane \"nix\")");
    ck_assert_uint_le(strlen(v.findings[0].warning), 120);
    ck_assert_str_eq(v.lane_label, "nix");
    ck_assert_str_eq(v.lane, "nix"); /* a lane without a Lane object: no grants */
    lg_verdict_free(&v);
    json_decref(docs);
    free(text);
    lg_policy_set_unref(set);
}
END_TEST


/* 150 privileged containers: 100 listed, the rest counted, and still denied. */
START_TEST(many_violations_are_capped_and_still_deny)
{
    lg_policy_set *set = lgt_load_policies(POLICIES);
    json_t *pod = lgt_load_manifest("tests/data/pods/deny/001-privileged-container-nix-lane.yaml");
    json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
    json_t *priv = json_deep_copy(json_array_get(cs, 1));
    json_array_clear(cs);
    for (int i = 0; i < 150; i++)
        json_array_append(cs, priv);
    json_decref(priv);
    lg_request req;
    lg_diag diag;
    ck_assert_int_eq(lg_request_from_manifest(pod, &req, &diag), LG_OK);
    lg_verdict v;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE, &v, &diag), LG_OK);
    ck_assert(!v.allowed);
    ck_assert_uint_eq(v.nfindings, 100);
    ck_assert_ptr_nonnull(strstr(v.findings[99].message, "and 50 more violations not listed"));
    lg_verdict_free(&v);
    json_decref(pod);
    lg_policy_set_unref(set);
}
END_TEST

/* --explain records every control of every matching policy and every mutation. */
START_TEST(explain_records_every_rule)
{
    lg_policy_set *set = lgt_load_policies(POLICIES);
    json_t *pod = lgt_load_manifest("tests/data/pods/allow/kvm-lane-hostpath.yaml");
    lg_request req;
    lg_diag diag;
    ck_assert_int_eq(lg_request_from_manifest(pod, &req, &diag), LG_OK);
    lg_verdict v;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE | LG_EVAL_MUTATE | LG_EVAL_EXPLAIN, &v, &diag),
                     LG_OK);
    ck_assert(v.allowed);
    ck_assert_str_eq(v.lane, "kvm");
    /* 1 (lane-privilege) + 3 (lane-kvm) + 10 (baseline) controls + 3 mutations */
    ck_assert_uint_eq(v.nexplain, 17);
    bool saw_pin = false, saw_hostpath = false;
    for (size_t i = 0; i < v.nexplain; i++) {
        const lg_explain *x = &v.explain[i];
        ck_assert_int_ne(x->outcome, LG_OUTCOME_FAIL);
        if (!strcmp(x->rule, "nodePinning") && !strcmp(x->policy, "runner-defaults")) {
            saw_pin = true;
            ck_assert_str_eq(x->detail, "2 patch operations");
        }
        if (!strcmp(x->rule, "hostPathVolumes"))
            saw_hostpath = x->outcome == LG_OUTCOME_PASS;
    }
    ck_assert(saw_pin && saw_hostpath);
    /* the patched object is what validation saw */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(v.patched, "spec"), "nodeSelector"), "lanegate.dev/kvm")),
                     "true");
    lg_verdict_free(&v);
    json_decref(pod);
    lg_policy_set_unref(set);
}
END_TEST

/* UPDATE of a workload: old violations stay allowed, new ones are denied. */
START_TEST(update_judges_only_new_violations)
{
    lg_policy_set *set = lgt_load_policies(POLICIES);
    json_t *old = lgt_load_manifest("tests/data/pods/deny/200-deployment-privileged.yaml");
    json_t *scaled = json_deep_copy(old);
    json_object_set_new(json_object_get(scaled, "spec"), "replicas", json_integer(5));
    json_t *worse = json_deep_copy(old);
    json_t *tspec = json_object_get(json_object_get(json_object_get(worse, "spec"), "template"), "spec");
    json_object_set_new(tspec, "hostIPC", json_true());
    lg_request req;
    lg_diag diag;
    lg_verdict v;
    ck_assert_int_eq(lg_request_from_manifest(scaled, &req, &diag), LG_OK);
    req.op = LG_OP_UPDATE;
    req.old_object = old;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE, &v, &diag), LG_OK);
    ck_assert_msg(v.allowed, "scaling a Deployment that already violated was denied");
    ck_assert_uint_eq(v.nfindings, 0);
    lg_verdict_free(&v);

    req.object = worse;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE, &v, &diag), LG_OK);
    ck_assert(!v.allowed);
    ck_assert_uint_eq(v.nfindings, 1);
    ck_assert_str_eq(v.findings[0].path, "spec.template.spec.hostIPC");
    lg_verdict_free(&v);

    /* An unreadable old object excuses nothing. */
    json_t *junk = json_string("not a deployment");
    req.object = scaled;
    req.old_object = junk;
    ck_assert_int_eq(lg_evaluate(set, &req, LG_EVAL_VALIDATE, &v, &diag), LG_OK);
    ck_assert(!v.allowed);
    lg_verdict_free(&v);
    json_decref(junk);
    json_decref(old);
    json_decref(scaled);
    json_decref(worse);
    lg_policy_set_unref(set);
}
END_TEST

static Suite *evaluate_suite(void)
{
    Suite *s = suite_create("evaluate");
    TCase *tc = tcase_create("default policies");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, realistic_and_edge_pods_are_allowed);
    tcase_add_test(tc, violating_pods_are_denied_with_every_violation);
    tcase_add_test(tc, requesters_service_accounts_and_modes);
    tcase_add_test(tc, denial_message_names_policy_container_field_lane);
    tcase_add_test(tc, many_violations_are_capped_and_still_deny);
    tcase_add_test(tc, explain_records_every_rule);
    tcase_add_test(tc, update_judges_only_new_violations);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(evaluate_suite)
