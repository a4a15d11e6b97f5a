/* test_policy_load.c — the policy loader and model (policy_load.c, policy.c).
 *
 * The default policies/ set and tests/data/policies/good/ are loaded and their
 * stored values checked field by field. Every file of tests/data/policies/bad/
 * is loaded alone and must produce exactly the diagnostics its leading
 * "# expect: LINE:COL: substring" lines announce. Directory behaviour (order,
 * hidden files, ConfigMap ..data symlinks, empty or missing directories) and
 * the limits (file size, nesting, number of diagnostics) are tested on
 * temporary directories built here. Run from the repository root. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lgtest.h"
#include "policy.h"
#include "util.h"

#define DATA "tests/data/policies"

/* ---- helpers ------------------------------------------------------------- */

static const lg_lane *find_lane(const lg_policy_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_lanes; i++)
        if (set->lanes[i].name && !strcmp(set->lanes[i].name, name))
            return &set->lanes[i];
    ck_abort_msg("no lane %s", name);
    return NULL;
}

static const lg_policy *find_policy(const lg_policy_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_policies; i++)
        if (set->policies[i].name && !strcmp(set->policies[i].name, name))
            return &set->policies[i];
    ck_abort_msg("no policy %s", name);
    return NULL;
}

/* want is NULL-terminated; order matters (the model keeps the file's order). */
static void assert_list(const lg_strlist *l, const char *const *want)
{
    size_t n = 0;
    while (want[n])
        n++;
    ck_assert_uint_eq(l->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(l->v[i], want[i]);
}

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EMPTY ((const char *const[]){NULL})

static void assert_controls(const lg_policy *p, const char *const *want)
{
    for (int c = 0; c < LG_CTL__COUNT; c++) {
        bool expected = false;
        for (size_t i = 0; want[i]; i++)
            expected |= !strcmp(want[i], lg_control_name((lg_control)c));
        ck_assert_msg(p->controls[c] == expected, "policy %s control %s: got %d", p->name,
                      lg_control_name((lg_control)c), p->controls[c]);
    }
}

static void assert_json(const json_t *got, const char *want_json)
{
    json_error_t e;
    json_t *want = json_loads(want_json, JSON_DECODE_ANY, &e);
    ck_assert_ptr_nonnull(want);
    ck_assert_msg(json_equal(got, want), "value: want %s", want_json);
    /* types too: json_equal(1, 1.0) is false anyway, but be explicit */
    ck_assert_int_eq(json_typeof(got), json_typeof(want));
    json_decref(want);
}

static bool diags_have(const lg_diags *d, const char *substr)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->v[i].msg, substr))
            return true;
    return false;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/lgt-policy-XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

/* Loads one file; returns the status, diags filled. */
static lg_status load_one(const char *path, lg_policy_set **set, lg_diags *diags)
{
    const char *paths[] = {path};
    return lg_policy_load_files(paths, 1, set, diags);
}

/* ---- the default policies ------------------------------------------------ */

START_TEST(default_policies)
{
    lg_policy_set *set = lgt_load_policies("policies");
    ck_assert_uint_eq(set->n_lanes, 2);
    ck_assert_uint_eq(set->n_policies, 4);
    ck_assert_uint_eq(lg_policy_set_count(set), 6);
    ck_assert_str_eq(set->lane_label, "lanegate.dev/lane");

    const lg_lane *dind = find_lane(set, "dind");
    ck_assert(dind->allow_privileged);
    assert_list(&dind->namespaces, LIST("arc-runners", "gitlab-runners"));
    ck_assert_uint_eq(dind->n_host_paths, 0);
    ck_assert_uint_eq(dind->device_resources.n, 0);
    ck_assert_uint_eq(dind->pin_keys.n, 0);
    ck_assert_uint_eq(dind->n_tolerations, 0);
    ck_assert_uint_eq(dind->usernames.n + dind->groups.n + dind->service_accounts.n, 0);
    ck_assert_str_eq(dind->file, "policies/00-lanes.yaml");
    ck_assert_int_eq(dind->line, 5);

    const lg_lane *kvm = find_lane(set, "kvm");
    ck_assert(!kvm->allow_privileged);
    assert_list(&kvm->namespaces, LIST("arc-runners", "gitlab-runners"));
    ck_assert_uint_eq(kvm->n_host_paths, 1);
    ck_assert_str_eq(kvm->host_paths[0].path, "/dev/kvm");
    assert_list(&kvm->host_paths[0].types, LIST("CharDevice", ""));
    assert_list(&kvm->device_resources, LIST("devices.kubevirt.io/kvm"));
    assert_list(&kvm->pin_keys, LIST("lanegate.dev/kvm"));
    assert_list(&kvm->pin_values, LIST("true"));
    ck_assert_uint_eq(kvm->n_tolerations, 1);
    ck_assert_str_eq(kvm->tolerations[0].key, "lanegate.dev/kvm");
    ck_assert_str_eq(kvm->tolerations[0].op, "Equal");
    ck_assert_str_eq(kvm->tolerations[0].value, "true");
    ck_assert_str_eq(kvm->tolerations[0].effect, "NoSchedule");

    /* policies keep file-name order */
    ck_assert_str_eq(set->policies[0].name, "lane-privilege");
    ck_assert_str_eq(set->policies[1].name, "lane-kvm");
    ck_assert_str_eq(set->policies[2].name, "baseline");
    ck_assert_str_eq(set->policies[3].name, "runner-defaults");

    for (size_t i = 0; i < 3; i++) {
        const lg_policy *p = &set->policies[i];
        ck_assert_int_eq(p->mode, LG_MODE_ENFORCE);
        ck_assert_uint_eq(p->namespaces.n, 0);
        assert_list(&p->exclude_namespaces, LIST("kube-system", "lanegate-system"));
        ck_assert_uint_eq(p->operations, LG_OPS_CREATE | LG_OPS_UPDATE);
        ck_assert_uint_eq(p->kinds.n, 0);
        ck_assert_uint_eq(p->lanes.n, 0);
        ck_assert_uint_eq(p->n_mutations, 0);
    }
    const lg_policy *priv = find_policy(set, "lane-privilege");
    assert_controls(priv, LIST("privileged"));
    ck_assert_str_eq(priv->file, "policies/10-lane-privilege.yaml");
    ck_assert_int_eq(priv->line, 2);
    ck_assert_uint_eq(priv->restricted_devices.n, 0);

    const lg_policy *lk = find_policy(set, "lane-kvm");
    assert_controls(lk, LIST("hostPathVolumes", "deviceResources", "nodePinning"));
    assert_list(&lk->restricted_devices, LIST("devices.kubevirt.io/kvm", "*/kvm"));

    const lg_policy *base = find_policy(set, "baseline");
    assert_controls(base, LIST("hostNamespaces", "hostPorts", "capabilities", "procMount", "seccompProfile",
                               "sysctls", "appArmorProfile", "seLinuxOptions", "windowsHostProcess",
                               "hostProbesAndHostLifecycle"));

    const lg_policy *rd = find_policy(set, "runner-defaults");
    assert_controls(rd, EMPTY);
    assert_list(&rd->namespaces, LIST("arc-runners", "gitlab-runners"));
    ck_assert_uint_eq(rd->exclude_namespaces.n, 0);
    ck_assert_uint_eq(rd->operations, LG_OPS_CREATE);
    ck_assert_uint_eq(rd->n_mutations, 3);
    const lg_mutation *m = &rd->mutations[0];
    ck_assert_int_eq(m->kind, LG_MUT_POD_DEFAULT);
    ck_assert_str_eq(m->field, "securityContext.seccompProfile.type");
    ck_assert_uint_eq(m->nsegs, 3);
    ck_assert_str_eq(m->segs[0], "securityContext");
    ck_assert_str_eq(m->segs[1], "seccompProfile");
    ck_assert_str_eq(m->segs[2], "type");
    assert_json(m->value, "\"RuntimeDefault\"");
    ck_assert(!m->except_privileged_lanes);
    m = &rd->mutations[1];
    ck_assert_int_eq(m->kind, LG_MUT_CONTAINER_DEFAULT);
    ck_assert_str_eq(m->field, "securityContext.allowPrivilegeEscalation");
    ck_assert_uint_eq(m->nsegs, 2);
    assert_json(m->value, "false");
    ck_assert(m->except_privileged_lanes);
    m = &rd->mutations[2];
    ck_assert_int_eq(m->kind, LG_MUT_NODE_PINNING);
    ck_assert_ptr_null(m->field);
    ck_assert_ptr_null(m->value);
    ck_assert_uint_eq(m->nsegs, 0);
    lg_policy_set_unref(set);
}
END_TEST

/* ---- every schema field -------------------------------------------------- */

START_TEST(good_fixtures)
{
    lg_policy_set *set = lgt_load_policies(DATA "/good");
    /* .hidden.yaml, README.txt and the directory subdir.yaml/ are not read */
    ck_assert_uint_eq(set->n_lanes, 2);
    ck_assert_uint_eq(set->n_policies, 4);
    ck_assert_str_eq(set->lane_label, "ci.example.com/lane");

    const lg_lane *dind = find_lane(set, "dind");
    ck_assert(dind->allow_privileged);
    assert_list(&dind->namespaces, LIST("arc-runners", "gitlab-runners"));
    assert_list(&dind->usernames, LIST("system:serviceaccount:arc-systems:arc-controller"));
    assert_list(&dind->groups, LIST("system:serviceaccounts:arc-systems", "ci-admins"));
    assert_list(&dind->service_accounts, LIST("arc-runner", "gitlab-runner"));
    ck_assert_str_eq(dind->file, DATA "/good/00-lanes.yaml");

    const lg_lane *kvm = find_lane(set, "kvm");
    ck_assert(!kvm->allow_privileged);
    assert_list(&kvm->namespaces, LIST("arc-runners"));
    ck_assert_uint_eq(kvm->usernames.n, 0);
    assert_list(&kvm->groups, LIST("ci-admins"));
    ck_assert_uint_eq(kvm->service_accounts.n, 0);
    ck_assert_uint_eq(kvm->n_host_paths, 3);
    ck_assert_str_eq(kvm->host_paths[0].path, "/dev/kvm"); /* written //dev//kvm/ */
    assert_list(&kvm->host_paths[0].types, LIST("CharDevice", ""));
    ck_assert_str_eq(kvm->host_paths[1].path, "/dev/vhost-net"); /* written /dev/net/../vhost-net */
    assert_list(&kvm->host_paths[1].types, LIST(""));             /* types absent: unset only */
    ck_assert_str_eq(kvm->host_paths[2].path, "/var/run/kvm.sock");
    assert_list(&kvm->host_paths[2].types,
                LIST("Socket", "File", "FileOrCreate", "Directory", "DirectoryOrCreate", "BlockDevice"));
    assert_list(&kvm->device_resources, LIST("devices.kubevirt.io/kvm", "devices.kubevirt.io/vhost-net"));
    assert_list(&kvm->pin_keys, LIST("ci.example.com/kvm", "kubernetes.io/arch"));
    assert_list(&kvm->pin_values, LIST("true", "amd64"));
    ck_assert_uint_eq(kvm->n_tolerations, 4);
    const lg_toleration *t = kvm->tolerations;
    ck_assert_str_eq(t[0].key, "ci.example.com/kvm");
    ck_assert_str_eq(t[0].op, "Equal");
    ck_assert_str_eq(t[0].value, "true");
    ck_assert_str_eq(t[0].effect, "NoSchedule");
    ck_assert_str_eq(t[1].key, "ci.example.com/dedicated");
    ck_assert_str_eq(t[1].op, "Exists");
    ck_assert_ptr_null(t[1].value);
    ck_assert_ptr_null(t[1].effect);
    ck_assert_str_eq(t[2].key, "ci.example.com/slow");
    ck_assert_ptr_null(t[2].op); /* absent: Kubernetes' default, Equal */
    ck_assert_str_eq(t[2].value, "yes");
    ck_assert_str_eq(t[2].effect, "PreferNoSchedule");
    ck_assert_str_eq(t[3].key, "ci.example.com/evict");
    ck_assert_ptr_null(t[3].value);
    ck_assert_str_eq(t[3].effect, "NoExecute");

    const lg_policy *all = find_policy(set, "every-control");
    ck_assert_int_eq(all->mode, LG_MODE_WARN);
    assert_list(&all->namespaces, LIST("arc-runners", "gitlab-runners", "build-1"));
    assert_list(&all->exclude_namespaces, LIST("kube-system"));
    assert_list(&all->kinds, LIST("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob",
                                  "ReplicationController"));
    ck_assert_uint_eq(all->operations, LG_OPS_CREATE | LG_OPS_UPDATE | LG_OPS_DELETE | LG_OPS_CONNECT);
    assert_list(&all->lanes, LIST("dind", "kvm", "nix"));
    for (int c = 0; c < LG_CTL__COUNT; c++)
        ck_assert_msg(all->controls[c], "control %s not set", lg_control_name((lg_control)c));
    assert_list(&all->restricted_devices, LIST("devices.kubevirt.io/kvm", "*/kvm", "nvidia.com/*"));
    ck_assert_uint_eq(all->n_mutations, 0);
    ck_assert_str_eq(all->file, DATA "/good/10-policies.yaml");
    ck_assert_int_eq(all->line, 4); /* after two "---" lines */

    const lg_policy *d = find_policy(set, "defaults.v2");
    ck_assert_int_eq(d->mode, LG_MODE_AUDIT);
    ck_assert_uint_eq(d->operations, LG_OPS_UPDATE);
    assert_controls(d, EMPTY);
    ck_assert_uint_eq(d->n_mutations, 9);
    static const struct {
        lg_mutation_kind kind;
        const char *field, *json;
        bool except;
    } want[] = {
        {LG_MUT_POD_DEFAULT, "securityContext.seccompProfile.type", "\"RuntimeDefault\"", false},
        {LG_MUT_POD_DEFAULT, "terminationGracePeriodSeconds", "30", false},
        {LG_MUT_POD_DEFAULT, "enableServiceLinks", "false", false},
        {LG_MUT_POD_DEFAULT, "priorityClassName", "\"true\"", false},
        {LG_MUT_POD_DEFAULT, "securityContext.runAsGroup", "-1", false},
        {LG_MUT_CONTAINER_DEFAULT, "securityContext.allowPrivilegeEscalation", "false", true},
        {LG_MUT_CONTAINER_DEFAULT, "securityContext.readOnlyRootFilesystem", "true", false},
        {LG_MUT_CONTAINER_DEFAULT, "imagePullPolicy", "\"IfNotPresent\"", false},
    };
    for (size_t i = 0; i < LG_ARRAY_LEN(want); i++) {
        const lg_mutation *m = &d->mutations[i];
        ck_assert_int_eq(m->kind, want[i].kind);
        ck_assert_str_eq(m->field, want[i].field);
        assert_json(m->value, want[i].json);
        ck_assert_int_eq(m->except_privileged_lanes, want[i].except);
        /* segs are the field split on '.' */
        char joined[256] = "";
        for (size_t s = 0; s < m->nsegs; s++) {
            strcat(joined, s ? "." : "");
            strcat(joined, m->segs[s]);
        }
        ck_assert_str_eq(joined, m->field);
    }
    ck_assert_int_eq(d->mutations[8].kind, LG_MUT_NODE_PINNING);

    const lg_policy *dev = find_policy(set, "devices-by-lane");
    assert_controls(dev, LIST("deviceResources")); /* fine: the kvm lane grants resources */
    ck_assert_uint_eq(dev->restricted_devices.n, 0);

    const lg_policy *bom = find_policy(set, "bom-crlf");
    ck_assert_int_eq(bom->mode, LG_MODE_ENFORCE);
    assert_controls(bom, LIST("hostPorts"));
    ck_assert_uint_eq(bom->operations, LG_OPS_CREATE | LG_OPS_UPDATE);
    ck_assert_str_eq(bom->file, DATA "/good/20-bom-crlf.yml");
    lg_policy_set_unref(set);
}
END_TEST

/* ---- the bad fixtures ---------------------------------------------------- */

typedef struct expect {
    int line, col;
    char substr[400];
} expect;

/* Reads the leading "# expect: L:C: text" lines of a fixture. */
static size_t read_expects(const char *path, expect *out, size_t max)
{
    char *buf = lgt_read_file(path, NULL);
    size_t n = 0;
    const char *p = buf;
    if (!strncmp(p, "\xEF\xBB\xBF", 3))
        p += 3;
    while (!strncmp(p, "# expect: ", 10) && n < max) {
        p += 10;
        const char *eol = strchr(p, '\n');
        ck_assert_ptr_nonnull(eol);
        int used = 0;
        ck_assert_msg(sscanf(p, "%d:%d: %n", &out[n].line, &out[n].col, &used) == 2 && used > 0,
                      "%s: bad expect line", path);
        size_t len = (size_t)(eol - p) - (size_t)used;
        ck_assert_uint_lt(len, sizeof out[n].substr);
        memcpy(out[n].substr, p + used, len);
        out[n].substr[len] = '\0';
        n++;
        p = eol + 1;
    }
    free(buf);
    return n;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_dir(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] != '.' && strstr(e->d_name, ".yaml"))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    return n;
}

START_TEST(bad_fixtures)
{
    char *names[200];
    size_t n = list_dir(DATA "/bad", names, LG_ARRAY_LEN(names));
    ck_assert_uint_ge(n, 30);
    size_t failures = 0;
    for (size_t f = 0; f < n; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DATA "/bad", names[f]);
        expect ex[16];
        size_t nex = read_expects(path, ex, LG_ARRAY_LEN(ex));
        ck_assert_msg(nex > 0, "%s: no # expect: line", path);

        lg_policy_set *set = NULL;
        lg_diags diags = {0};
        lg_status st = load_one(path, &set, &diags);
        ck_assert_msg(st == LG_ERR_POLICY, "%s: status %s", path, lg_strerror(st));
        ck_assert_ptr_null(set);

        /* each expectation matches its own diagnostic, and nothing else is reported */
        bool used[64] = {false};
        ck_assert_uint_le(diags.n, LG_ARRAY_LEN(used));
        for (size_t i = 0; i < nex; i++) {
            bool found = false;
            for (size_t j = 0; j < diags.n && !found; j++) {
                const lg_diag *d = &diags.v[j];
                if (!used[j] && d->line == ex[i].line && d->col == ex[i].col && strstr(d->msg, ex[i].substr)) {
                    ck_assert_str_eq(d->file, path);
                    used[j] = found = true;
                }
            }
            if (!found) {
                failures++;
                fprintf(stderr, "%s: expected %d:%d: %s\n", path, ex[i].line, ex[i].col, ex[i].substr);
            }
        }
        if (diags.n != nex) {
            failures++;
            fprintf(stderr, "%s: %zu diagnostics, %zu expected:\n", path, diags.n, nex);
        }
        if (diags.n != nex || failures)
            for (size_t j = 0; j < diags.n; j++) {
                char line[1200];
                lg_diag_format(&diags.v[j], line, sizeof line);
                fprintf(stderr, "  got %s\n", line);
            }
        lg_diags_free(&diags);

        /* a NULL diags list is allowed and changes nothing but the reporting */
        ck_assert_int_eq(load_one(path, &set, NULL), LG_ERR_POLICY);
        ck_assert_ptr_null(set);
        free(names[f]);
    }
    ck_assert_msg(failures == 0, "%zu bad fixture expectations failed (see stderr)", failures);
}
END_TEST

START_TEST(bad_fixtures_cover_every_error_class)
{
    /* the classes the loader promises to report; one fixture at least for each */
    static const char *const classes[] = {
        "YAML syntax error", "tabs are not allowed", "must be UTF-8", "alias *", "anchor &", "tags are not allowed",
        "unknown key", "expected a list of strings", "expected true or false", "expected a string",
        "expected a mapping", "unknown mode", "unknown operation", "unknown kind \"Pods\"", "unknown key \"hostNetwork\"",
        "unknown hostPath type", "unknown operator", "unknown effect", "the list is empty", "is not an absolute path",
        "duplicate key", "duplicate PodPolicy", "duplicate Lane", "apiVersion: must be", "missing apiVersion",
        "(expected Lane or PodPolicy)", "missing kind", "metadata: missing name", "cluster-scoped", "uses labelKey",
        "grants nothing", "does nothing", "restricts nothing", "missing namespaces", "nesting deeper", "NUL characters",
        "control characters", "no policies found", "is ambiguous", "out of range", "has an empty segment",
        "overlaps field", "missing nodeSelector", "must be empty when operator is Exists", "duplicate grant",
        "is not a valid namespace name", "is not a valid lane name", "is not a valid label key",
        "is not an extended resource name", "is not a resource name pattern", "a policy must match CREATE",
        "is also in spec.match.namespaces", "missing spec",
    };
    char *names[200];
    size_t n = list_dir(DATA "/bad", names, LG_ARRAY_LEN(names));
    char *all = calloc(1, 1);
    size_t len = 0;
    for (size_t f = 0; f < n; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DATA "/bad", names[f]);
        expect ex[16];
        size_t nex = read_expects(path, ex, LG_ARRAY_LEN(ex));
        for (size_t i = 0; i < nex; i++) {
            size_t l = strlen(ex[i].substr);
            all = realloc(all, len + l + 2);
            memcpy(all + len, ex[i].substr, l);
            len += l;
            all[len++] = '\n';
            all[len] = '\0';
        }
        free(names[f]);
    }
    for (size_t i = 0; i < LG_ARRAY_LEN(classes); i++)
        ck_assert_msg(strstr(all, classes[i]), "no bad fixture expects \"%s\"", classes[i]);
    free(all);
}
END_TEST

START_TEST(errors_across_files)
{
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    ck_assert_int_eq(lg_policy_load_dir(DATA "/multi-bad", &set, &diags), LG_ERR_POLICY);
    ck_assert_ptr_null(set);
    ck_assert_uint_eq(diags.n, 2);
    /* lanes disagree on the label key: reported at the second, naming the first */
    ck_assert_str_eq(diags.v[0].file, DATA "/multi-bad/b.yaml");
    ck_assert_int_eq(diags.v[0].line, 7);
    ck_assert_int_eq(diags.v[0].col, 13);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "lane \"kvm\" uses labelKey \"example.com/lane\" but lane \"dind\" "
                                                 "(" DATA "/multi-bad/a.yaml:3:1) uses \"lanegate.dev/lane\""));
    /* the duplicate names both places */
    ck_assert_str_eq(diags.v[1].file, DATA "/multi-bad/b.yaml");
    ck_assert_int_eq(diags.v[1].line, 15);
    ck_assert_int_eq(diags.v[1].col, 9);
    ck_assert_ptr_nonnull(strstr(diags.v[1].msg, "duplicate PodPolicy \"lane-privilege\": defined at " DATA
                                                 "/multi-bad/a.yaml:15:9 and at " DATA "/multi-bad/b.yaml:15:9"));
    lg_diags_free(&diags);
}
END_TEST

/* ---- directories ---------------------------------------------------------- */

static void copy_file(const char *from, const char *to)
{
    size_t len;
    char *buf = lgt_read_file(from, &len);
    write_file(to, buf, len);
    free(buf);
}

static void path_join(char *out, size_t size, const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(out, size, "%s/%s", dir, name), (int)size);
}

/* A ConfigMap volume: real files in ..<timestamp>/, ..data -> ..<timestamp>,
 * and top-level symlinks name -> ..data/name. Then kubelet's swap. */
START_TEST(configmap_layout)
{
    char *dir = make_tmpdir();
    char p[600], q[600];
    static const char *const files[] = {"00-lanes.yaml", "10-lane-privilege.yaml", "20-lane-kvm.yaml",
                                        "30-baseline.yaml", "40-runner-defaults.yaml"};
    path_join(p, sizeof p, dir, "..2025_01_01_00_00_00.000000001");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    for (size_t i = 0; i < LG_ARRAY_LEN(files); i++) {
        char from[300], to[700];
        snprintf(from, sizeof from, "policies/%s", files[i]);
        snprintf(to, sizeof to, "%s/%s", p, files[i]);
        copy_file(from, to);
        snprintf(to, sizeof to, "..data/%s", files[i]);
        path_join(q, sizeof q, dir, files[i]);
        ck_assert_int_eq(symlink(to, q), 0);
    }
    path_join(q, sizeof q, dir, "..data");
    ck_assert_int_eq(symlink("..2025_01_01_00_00_00.000000001", q), 0);

    lg_policy_set *set = lgt_load_policies(dir);
    ck_assert_uint_eq(lg_policy_set_count(set), 6); /* each file once, not via ..data too */
    snprintf(q, sizeof q, "%s/00-lanes.yaml", dir);
    ck_assert_str_eq(set->lanes[0].file, q); /* reported under the name people see */
    lg_policy_set_unref(set);

    /* kubelet's update: a new timestamped dir, then ..data swapped by rename */
    path_join(p, sizeof p, dir, "..2025_01_02_00_00_00.000000002");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    for (size_t i = 0; i < LG_ARRAY_LEN(files); i++) {
        char from[300], to[700];
        snprintf(from, sizeof from, "policies/%s", files[i]);
        snprintf(to, sizeof to, "%s/%s", p, files[i]);
        if (i == 3) { /* baseline moves to warn mode */
            size_t len;
            char *buf = lgt_read_file(from, &len);
            char *mode = strstr(buf, "mode: enforce");
            ck_assert_ptr_nonnull(mode);
            memcpy(mode, "mode: warn   ", 13);
            write_file(to, buf, len);
            free(buf);
        } else {
            copy_file(from, to);
        }
    }
    path_join(q, sizeof q, dir, "..data_tmp");
    ck_assert_int_eq(symlink("..2025_01_02_00_00_00.000000002", q), 0);
    char data[600];
    path_join(data, sizeof data, dir, "..data");
    ck_assert_int_eq(rename(q, data), 0);
    set = lgt_load_policies(dir);
    ck_assert_int_eq(find_policy(set, "baseline")->mode, LG_MODE_WARN);
    lg_policy_set_unref(set);

    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(dir_order_and_filter)
{
    char *dir = make_tmpdir();
    char p[600];
    /* names chosen so that readdir order and name order likely differ */
    static const char *const body = "apiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: %s\n"
                                    "spec:\n  controls:\n    hostPorts: true\n";
    static const char *const names[] = {"b.yml", "a.yaml", "c.YAML", "d.yaml.bak", "B.yaml"};
    for (size_t i = 0; i < LG_ARRAY_LEN(names); i++) {
        char text[300], pname[20];
        snprintf(pname, sizeof pname, "p%zu", i);
        snprintf(text, sizeof text, body, pname);
        path_join(p, sizeof p, dir, names[i]);
        write_file(p, text, strlen(text));
    }
    lg_policy_set *set = lgt_load_policies(dir);
    /* only *.yaml and *.yml (case matters), in byte order: B.yaml, a.yaml, b.yml */
    ck_assert_uint_eq(set->n_policies, 3);
    ck_assert_str_eq(set->policies[0].name, "p4");
    ck_assert_str_eq(set->policies[1].name, "p1");
    ck_assert_str_eq(set->policies[2].name, "p0");
    lg_policy_set_unref(set);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(dir_empty_missing_broken)
{
    char *dir = make_tmpdir();
    lg_policy_set *set = NULL;
    lg_diags diags = {0};

    /* an empty directory would mean "allow everything": refused */
    ck_assert_int_eq(lg_policy_load_dir(dir, &set, &diags), LG_ERR_POLICY);
    ck_assert_ptr_null(set);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_str_eq(diags.v[0].file, dir);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "no policies found"));
    lg_diags_free(&diags);

    /* lanes alone are no policy either */
    char p[600];
    path_join(p, sizeof p, dir, "lanes.yaml");
    copy_file("policies/00-lanes.yaml", p);
    ck_assert_int_eq(lg_policy_load_dir(dir, &set, &diags), LG_ERR_POLICY);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_str_eq(diags.v[0].file, dir);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "no policies found"));
    lg_diags_free(&diags);

    /* a dangling symlink: an I/O error naming the file */
    path_join(p, sizeof p, dir, "zz.yaml");
    ck_assert_int_eq(symlink("..data/zz.yaml", p), 0);
    copy_file("policies/10-lane-privilege.yaml", (path_join(p, sizeof p, dir, "10.yaml"), p));
    ck_assert_int_eq(lg_policy_load_dir(dir, &set, &diags), LG_ERR_IO);
    ck_assert_ptr_null(set);
    ck_assert_uint_eq(diags.n, 1);
    path_join(p, sizeof p, dir, "zz.yaml");
    ck_assert_str_eq(diags.v[0].file, p);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "cannot read"));
    lg_diags_free(&diags);

    /* a missing directory */
    path_join(p, sizeof p, dir, "nope");
    ck_assert_int_eq(lg_policy_load_dir(p, &set, &diags), LG_ERR_IO);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_str_eq(diags.v[0].file, p);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "cannot open policy directory"));
    lg_diags_free(&diags);

    /* a directory given as a file */
    ck_assert_int_eq(load_one(dir, &set, &diags), LG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "is a directory"));
    lg_diags_free(&diags);

    /* trailing slash: no doubled separator in file names */
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", dir);
    path_join(p, sizeof p, dir, "zz.yaml");
    ck_assert_int_eq(unlink(p), 0);
    set = lgt_load_policies(slash);
    path_join(p, sizeof p, dir, "10.yaml");
    ck_assert_str_eq(set->policies[0].file, p);
    lg_policy_set_unref(set);

    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(load_files_in_given_order)
{
    const char *paths[] = {"policies/40-runner-defaults.yaml", "policies/00-lanes.yaml",
                           "policies/10-lane-privilege.yaml"};
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    ck_assert_int_eq(lg_policy_load_files(paths, 3, &set, &diags), LG_OK);
    ck_assert_uint_eq(diags.n, 0);
    ck_assert_str_eq(set->policies[0].name, "runner-defaults");
    ck_assert_str_eq(set->policies[1].name, "lane-privilege");
    ck_assert_uint_eq(lg_policy_set_count(set), 4);
    lg_policy_set_unref(set);
}
END_TEST

/* ---- limits ---------------------------------------------------------------- */

static const char *const small_policy = "apiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: p\n"
                                        "spec:\n  controls:\n    privileged: true\n";

/* A valid policy padded with a comment to exactly size bytes. */
static void write_padded(const char *path, size_t size)
{
    size_t head = strlen(small_policy);
    ck_assert_uint_gt(size, head + 2);
    char *buf = malloc(size);
    memcpy(buf, small_policy, head);
    buf[head] = '#';
    memset(buf + head + 1, 'x', size - head - 2);
    buf[size - 1] = '\n';
    write_file(path, buf, size);
    free(buf);
}

START_TEST(file_size_limit)
{
    char *dir = make_tmpdir();
    char p[600];
    path_join(p, sizeof p, dir, "big.yaml");
    lg_policy_set *set = NULL;
    lg_diags diags = {0};

    write_padded(p, 1024 * 1024); /* at the limit: fine */
    ck_assert_int_eq(load_one(p, &set, &diags), LG_OK);
    lg_policy_set_unref(set);

    write_padded(p, 1024 * 1024 + 1); /* one past: refused, unread */
    ck_assert_int_eq(load_one(p, &set, &diags), LG_ERR_POLICY);
    ck_assert_ptr_null(set);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert_ptr_nonnull(strstr(diags.v[0].msg, "larger than 1 MiB"));
    lg_diags_free(&diags);
    rm_rf(dir);
    free(dir);
}
END_TEST

/* spec.match holding `levels` nested lists: total depth levels + 2. */
static void write_nested(const char *path, size_t levels)
{
    const char *head = "apiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: p\nspec:\n"
                       "  controls:\n    privileged: true\n  match: ";
    size_t hl = strlen(head), size = hl + 2 * levels + 1;
    char *buf = malloc(size);
    memcpy(buf, head, hl);
    memset(buf + hl, '[', levels);
    memset(buf + hl + levels, ']', levels);
    buf[size - 1] = '\n';
    write_file(path, buf, size);
    free(buf);
}

START_TEST(nesting_limit)
{
    char *dir = make_tmpdir();
    char p[600];
    path_join(p, sizeof p, dir, "deep.yaml");
    lg_policy_set *set = NULL;
    lg_diags diags = {0};

    write_nested(p, 30); /* depth 32: parsed; only the schema complains */
    ck_assert_int_eq(load_one(p, &set, &diags), LG_ERR_POLICY);
    ck_assert(!diags_have(&diags, "nesting"));
    ck_assert(diags_have(&diags, "spec.match: expected a mapping, got a list"));
    lg_diags_free(&diags);

    write_nested(p, 31); /* depth 33: refused before the document is built */
    ck_assert_int_eq(load_one(p, &set, &diags), LG_ERR_POLICY);
    ck_assert_uint_eq(diags.n, 1);
    ck_assert(diags_have(&diags, "nesting deeper than 32 levels"));
    lg_diags_free(&diags);

    write_nested(p, 400000); /* far past it, near the size limit: no crash, one error */
    ck_assert_int_eq(load_one(p, &set, &diags), LG_ERR_POLICY);
    ck_assert_uint_eq(diags.n, 1);
    lg_diags_free(&diags);
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(diagnostics_limit)
{
    char *dir = make_tmpdir();
    char p[600];
    path_join(p, sizeof p, dir, "noisy.yaml");
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    for (size_t nkeys = 200; nkeys <= 201; nkeys++) {
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(small_policy, f);
        for (size_t i = 1; i < nkeys; i++) /* with "privileged": nkeys - 1 unknown controls */
            fprintf(f, "    c%zu: true\n", i);
        fputs("  bogus: 1\n", f); /* one more: nkeys errors in all */
        fclose(f);
        ck_assert_int_eq(load_one(p, &set, &diags), LG_ERR_POLICY);
        if (nkeys == 200) {
            ck_assert_uint_eq(diags.n, 200); /* at the limit: every one listed */
            ck_assert(!diags_have(&diags, "too many errors"));
        } else {
            ck_assert_uint_eq(diags.n, 201); /* past it: 200 and a note */
            ck_assert_ptr_nonnull(strstr(diags.v[200].msg, "too many errors (201)"));
        }
        lg_diags_free(&diags);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

START_TEST(list_length_limit)
{
    char *dir = make_tmpdir();
    char p[600];
    path_join(p, sizeof p, dir, "long.yaml");
    for (size_t n = 1024; n <= 1025; n++) {
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(small_policy, f);
        fputs("  match:\n    namespaces:\n", f);
        for (size_t i = 0; i < n; i++)
            fprintf(f, "      - ns-%zu\n", i);
        fclose(f);
        lg_policy_set *set = NULL;
        lg_diags diags = {0};
        lg_status st = load_one(p, &set, &diags);
        if (n == 1024) { /* at the limit */
            ck_assert_int_eq(st, LG_OK);
            ck_assert_uint_eq(set->policies[0].namespaces.n, 1024);
        } else {
            ck_assert_int_eq(st, LG_ERR_POLICY);
            ck_assert_uint_eq(diags.n, 1);
            ck_assert_str_eq(diags.v[0].msg, "spec.match.namespaces: 1025 entries; at most 1024 are allowed");
        }
        lg_policy_set_unref(set);
        lg_diags_free(&diags);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

/* Every prefix of rich, valid files: never a crash or a leak, and a set is
 * returned exactly when no diagnostic is. */
START_TEST(truncated_inputs)
{
    char *dir = make_tmpdir();
    char p[600];
    path_join(p, sizeof p, dir, "cut.yaml");
    static const char *const sources[] = {DATA "/good/00-lanes.yaml", DATA "/good/10-policies.yaml",
                                          "policies/40-runner-defaults.yaml"};
    /* whole files alone: lanes are no policy set; devices-by-lane needs the lanes */
    static const lg_status whole[] = {LG_ERR_POLICY, LG_ERR_POLICY, LG_OK};
    for (size_t s = 0; s < LG_ARRAY_LEN(sources); s++) {
        size_t len;
        char *buf = lgt_read_file(sources[s], &len);
        for (size_t cut = 0; cut <= len + 2; cut += 3) {
            size_t n = cut > len ? len : cut; /* the last round is the whole file */
            write_file(p, buf, n);
            lg_policy_set *set = NULL;
            lg_diags diags = {0};
            lg_status st = load_one(p, &set, &diags);
            ck_assert(st == LG_OK || st == LG_ERR_POLICY);
            ck_assert((st == LG_OK) == (set != NULL));
            ck_assert((st == LG_OK) == (diags.n == 0));
            if (n == len)
                ck_assert_int_eq(st, whole[s]);
            lg_policy_set_unref(set);
            lg_diags_free(&diags);
        }
        free(buf);
    }
    rm_rf(dir);
    free(dir);
}
END_TEST

/* ---- the model's small functions ---------------------------------------- */

START_TEST(control_names)
{
    static const char *const yaml[LG_CTL__COUNT] = {
        "privileged", "hostNamespaces", "hostPathVolumes", "hostPorts", "capabilities",
        "procMount", "seccompProfile", "sysctls", "appArmorProfile", "seLinuxOptions",
        "windowsHostProcess", "hostProbesAndHostLifecycle", "deviceResources", "nodePinning", "resourceLimits"};
    for (int c = 0; c < LG_CTL__COUNT; c++) {
        ck_assert_str_eq(lg_control_name((lg_control)c), yaml[c]);
        lg_control got = LG_CTL__COUNT;
        ck_assert(lg_control_parse(yaml[c], &got));
        ck_assert_int_eq(got, c);
    }
    lg_control got = LG_CTL_PRIVILEGED;
    ck_assert(!lg_control_parse("Privileged", &got));
    ck_assert(!lg_control_parse("hostNetwork", &got));
    ck_assert(!lg_control_parse("", &got));
    ck_assert(!lg_control_parse(NULL, &got));
    ck_assert_str_eq(lg_control_name(LG_CTL__COUNT), "?");
}
END_TEST

START_TEST(strlist_has)
{
    char *v[] = {"arc-runners", "gitlab-runners"};
    lg_strlist l = {v, 2};
    ck_assert(lg_strlist_has(&l, "gitlab-runners"));
    ck_assert(!lg_strlist_has(&l, "arc"));
    ck_assert(!lg_strlist_has(&l, ""));
    ck_assert(!lg_strlist_has(&l, NULL));
    ck_assert(!lg_strlist_has(NULL, "arc-runners"));
    lg_strlist empty = {NULL, 0};
    ck_assert(!lg_strlist_has(&empty, "x"));
}
END_TEST

static void *ref_churn(void *arg)
{
    lg_policy_set *set = arg;
    for (int i = 0; i < 20000; i++)
        lg_policy_set_unref(lg_policy_set_ref(set));
    lg_policy_set_unref(set); /* the reference the spawner took for this thread */
    return NULL;
}

START_TEST(refcount)
{
    ck_assert_uint_eq(lg_policy_set_count(NULL), 0);
    lg_policy_set_unref(NULL);
    ck_assert_ptr_null(lg_policy_set_ref(NULL));

    lg_policy_set *set = lgt_load_policies("policies");
    ck_assert_ptr_eq(lg_policy_set_ref(set), set);
    ck_assert_int_eq(atomic_load(&set->refs), 2);
    lg_policy_set_unref(set);
    ck_assert_int_eq(atomic_load(&set->refs), 1);

    pthread_t th[4];
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, ref_churn, lg_policy_set_ref(set)), 0);
    lg_policy_set_unref(set); /* the threads may now be the last holders */
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    /* freed exactly once: ASan and valgrind check the rest */
}
END_TEST

static Suite *policy_load_suite(void)
{
    Suite *s = suite_create("policy_load");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, default_policies);
    tcase_add_test(tc, good_fixtures);
    tcase_add_test(tc, bad_fixtures);
    tcase_add_test(tc, bad_fixtures_cover_every_error_class);
    tcase_add_test(tc, errors_across_files);
    tcase_add_test(tc, configmap_layout);
    tcase_add_test(tc, dir_order_and_filter);
    tcase_add_test(tc, dir_empty_missing_broken);
    tcase_add_test(tc, load_files_in_given_order);
    tcase_add_test(tc, file_size_limit);
    tcase_add_test(tc, nesting_limit);
    tcase_add_test(tc, diagnostics_limit);
    tcase_add_test(tc, list_length_limit);
    tcase_add_test(tc, truncated_inputs);
    tcase_add_test(tc, control_names);
    tcase_add_test(tc, strlist_has);
    tcase_add_test(tc, refcount);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(policy_load_suite)
