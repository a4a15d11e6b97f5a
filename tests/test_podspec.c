/* test_podspec.c — finding the pod spec of every evaluated kind, walking every
 * container kind, and the fail-closed typed getters. */
#include "lgtest.h"
#include "podspec.h"

/* Every workload kind of the deny fixtures: where its spec is and whether it is a pod. */
START_TEST(subject_of_every_kind)
{
    static const struct {
        const char *file, *group, *kind, *path, *pointer;
        bool is_pod;
    } cases[] = {
        {"deny/001-privileged-container-nix-lane.yaml", "", "Pod", "spec", "/spec", true},
        {"deny/200-deployment-privileged.yaml", "apps", "Deployment", "spec.template.spec",
         "/spec/template/spec", false},
        {"deny/201-replicaset-hostpath.yaml", "apps", "ReplicaSet", "spec.template.spec",
         "/spec/template/spec", false},
        {"deny/202-statefulset-device.yaml", "apps", "StatefulSet", "spec.template.spec",
         "/spec/template/spec", false},
        {"deny/203-daemonset-hostnetwork.yaml", "apps", "DaemonSet", "spec.template.spec",
         "/spec/template/spec", false},
        {"deny/204-job-privileged-init.yaml", "batch", "Job", "spec.template.spec",
         "/spec/template/spec", false},
        {"deny/205-cronjob-privileged.yaml", "batch", "CronJob", "spec.jobTemplate.spec.template.spec",
         "/spec/jobTemplate/spec/template/spec", false},
        {"deny/206-replicationcontroller-hostpid.yaml", "", "ReplicationController", "spec.template.spec",
         "/spec/template/spec", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[300];
        snprintf(path, sizeof path, "tests/data/pods/%s", cases[i].file);
        json_t *obj = lgt_load_manifest(path);
        lg_reader r = {0};
        lg_subject s;
        ck_assert(lg_kind_has_podspec(cases[i].group, cases[i].kind));
        lg_subject_find(&r, cases[i].group, cases[i].kind, obj, &s);
        ck_assert_msg(!r.bad, "%s: %s", path, r.msg);
        ck_assert_ptr_nonnull(s.spec);
        ck_assert_ptr_nonnull(json_object_get(s.spec, "containers"));
        ck_assert_str_eq(s.path, cases[i].path);
        ck_assert_str_eq(s.pointer, cases[i].pointer);
        ck_assert_int_eq(s.is_pod, cases[i].is_pod);
        json_decref(obj);
    }
}
END_TEST

START_TEST(kinds_without_pod_specs)
{
    ck_assert(!lg_kind_has_podspec("", "Service"));
    ck_assert(!lg_kind_has_podspec("", "ConfigMap"));
    ck_assert(!lg_kind_has_podspec("apps", "Pod"));             /* wrong group */
    ck_assert(!lg_kind_has_podspec("example.com", "Deployment")); /* a CRD named like one */
    ck_assert(!lg_kind_has_podspec("", "Deployment"));
    ck_assert(lg_kind_has_podspec("extensions", "DaemonSet"));
    ck_assert(!lg_kind_has_podspec(NULL, NULL));
}
END_TEST

static bool count_visit(const lg_container *c, void *arg)
{
    char *seen = arg;
    strcat(seen, c->ref);
    strcat(seen, "=");
    strcat(seen, c->name);
    strcat(seen, ";");
    return true;
}

START_TEST(walk_visits_every_container_kind_in_order)
{
    json_t *obj = lgt_load_manifest("tests/data/pods/deny/007-privileged-all-kinds.yaml");
    lg_reader r = {0};
    char seen[256] = "";
    lg_containers_each(&r, json_object_get(obj, "spec"), count_visit, seen);
    ck_assert(!r.bad);
    ck_assert_str_eq(seen, "containers[0]=a;initContainers[0]=b;ephemeralContainers[0]=c;");
    json_decref(obj);
}
END_TEST

/* A template without a spec, or a spec of the wrong type, is malformed. */
START_TEST(missing_or_wrong_spec_is_malformed)
{
    static const char *const bodies[] = {
        "{\"spec\": {\"template\": {\"metadata\": {}}}}",
        "{\"spec\": {\"template\": \"pod\"}}",
        "{\"spec\": []}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *obj = json_loads(bodies[i], 0, NULL);
        lg_reader r = {0};
        lg_subject s;
        lg_subject_find(&r, "apps", "Deployment", obj, &s);
        ck_assert_msg(r.bad, "%s accepted", bodies[i]);
        ck_assert(strlen(r.msg) > 5);
        json_decref(obj);
    }
}
END_TEST

START_TEST(getters_fail_closed_on_wrong_types)
{
    json_t *o = json_loads("{\"b\": \"true\", \"n\": null, \"i\": 1.5, \"s\": 3, \"a\": {}, \"ok\": true}", 0,
                           NULL);
    lg_reader r = {0};
    ck_assert_int_eq(lg_get_bool(&r, o, "ok", "x"), 1);
    ck_assert_int_eq(lg_get_bool(&r, o, "n", "x"), -1); /* null is unset */
    ck_assert_int_eq(lg_get_bool(&r, o, "missing", "x"), -1);
    ck_assert(!r.bad);
    ck_assert_int_eq(lg_get_bool(&r, o, "b", "x"), -1);
    ck_assert(r.bad);
    ck_assert_str_eq(r.msg, "x.b must be a boolean");
    lg_reader r2 = {0};
    json_int_t v;
    ck_assert(!lg_get_int(&r2, o, "i", "x", &v));
    ck_assert(r2.bad);
    lg_reader r3 = {0};
    ck_assert_ptr_null(lg_get_str(&r3, o, "s", "x"));
    ck_assert(r3.bad);
    lg_reader r4 = {0};
    ck_assert_ptr_null(lg_get_arr(&r4, o, "a", "x"));
    ck_assert(r4.bad);
    json_decref(o);
}
END_TEST

START_TEST(affinity_pinning_needs_every_term)
{
    json_t *pinned = lgt_load_manifest("tests/data/pods/allow/101-kvm-dotdot-path.yaml");
    json_t *spec = json_object_get(pinned, "spec");
    lg_reader r = {0};
    ck_assert(lg_affinity_pins(&r, spec, "lanegate.dev/kvm", "true"));
    ck_assert(!lg_affinity_pins(&r, spec, "lanegate.dev/kvm", "false"));
    /* a second term without the key lets the scheduler pick any node */
    json_t *terms = json_object_get(json_object_get(json_object_get(json_object_get(spec, "affinity"),
                                                                    "nodeAffinity"),
                                                    "requiredDuringSchedulingIgnoredDuringExecution"),
                                    "nodeSelectorTerms");
    json_array_append_new(terms, json_loads("{\"matchExpressions\": [{\"key\": \"zone\", \"operator\": "
                                            "\"Exists\"}]}",
                                            0, NULL));
    ck_assert(!lg_affinity_pins(&r, spec, "lanegate.dev/kvm", "true"));
    ck_assert(!r.bad);
    json_decref(pinned);
}
END_TEST

static Suite *podspec_suite(void)
{
    Suite *s = suite_create("podspec");
    TCase *tc = tcase_create("pod specs");
    tcase_add_test(tc, subject_of_every_kind);
    tcase_add_test(tc, kinds_without_pod_specs);
    tcase_add_test(tc, walk_visits_every_container_kind_in_order);
    tcase_add_test(tc, missing_or_wrong_spec_is_malformed);
    tcase_add_test(tc, getters_fail_closed_on_wrong_types);
    tcase_add_test(tc, affinity_pinning_needs_every_term);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(podspec_suite)
