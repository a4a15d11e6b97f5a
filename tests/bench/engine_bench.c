/* engine_bench.c — in-process throughput of a full review against the bare
 * JSON parse of the same body, measured side by side in one run.
 *
 * usage: engine_bench [REVIEW.json] [POLICY_DIR]
 * Rounds alternate between the variants so that machine noise hits all of
 * them alike; each figure is the median of its rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define ROUNDS 7
#define ROUND_SECONDS 0.25

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct variant {
    const char *name;
    int kind; /* 0 parse only, 1 validate, 2 mutate */
    double rates[ROUNDS];
} variant;

static const lg_policy_set *g_set;

static void once(int kind, const char *body, size_t len)
{
    if (kind == 0) {
        json_t *j = json_loadb(body, len, 0, NULL);
        if (!j)
            abort();
        json_decref(j);
        return;
    }
    lg_review_result r;
    if (lg_review_handle(g_set, kind == 1 ? LG_ENDPOINT_VALIDATE : LG_ENDPOINT_MUTATE, body, len, &r) !=
        LG_OK)
        abort();
    lg_review_result_free(&r);
}

static double rate(int kind, const char *body, size_t len)
{
    double t0 = now(), t;
    long n = 0;
    do {
        for (int i = 0; i < 64; i++)
            once(kind, body, len);
        n += 64;
        t = now();
    } while (t - t0 < ROUND_SECONDS);
    return (double)n / (t - t0);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    double s[ROUNDS];
    memcpy(s, v, sizeof s);
    qsort(s, ROUNDS, sizeof s[0], cmp);
    return s[ROUNDS / 2];
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* The same review with its pod's containers repeated to n. */
static char *with_containers(const char *body, size_t len, size_t n, size_t *out_len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *spec = json_object_get(json_object_get(json_object_get(doc, "request"), "object"), "spec");
    json_t *cs = json_object_get(spec, "containers");
    json_t *first = json_deep_copy(json_array_get(cs, 0));
    json_array_clear(cs);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_deep_copy(first);
        char name[32];
        snprintf(name, sizeof name, "c%zu", i);
        json_object_set_new(c, "name", json_string(name));
        json_array_append_new(cs, c);
    }
    json_decref(first);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    *out_len = strlen(s);
    return s;
}

static void compare(const char *label, const char *body, size_t len)
{
    variant v[3] = {{"json_loadb+json_decref", 0, {0}}, {"review /validate", 1, {0}},
                    {"review /mutate", 2, {0}}};
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < 3; i++)
            v[i].rates[r] = rate(v[i].kind, body, len);
    double base = median(v[0].rates);
    printf("%s (%zu bytes)\n", label, len);
    for (int i = 0; i < 3; i++) {
        double m = median(v[i].rates);
        printf("  %-24s %9.0f reviews/s  %7.1f us  ratio %.2f\n", v[i].name, m, 1e6 / m, m / base);
    }
}

/* A policy set with the default Lanes and k copies of a policy enabling every
 * baseline and lane control, written to a temporary directory. */
static lg_policy_set *policies_times(const char *lanes_file, int k)
{
    char dir[] = "/tmp/lanegate-bench-XXXXXX";
    if (!mkdtemp(dir))
        exit(2);
    char path[600];
    snprintf(path, sizeof path, "%s/00-lanes.yaml", dir);
    size_t len;
    char *lanes = read_all(lanes_file, &len);
    FILE *f = fopen(path, "w");
    fwrite(lanes, 1, len, f);
    fclose(f);
    free(lanes);
    snprintf(path, sizeof path, "%s/10-copies.yaml", dir);
    f = fopen(path, "w");
    for (int i = 0; i < k; i++)
        fprintf(f, "---\napiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: copy-%d\n"
                   "spec:\n  controls:\n    privileged: true\n    hostNamespaces: true\n"
                   "    hostPathVolumes: true\n    hostPorts: true\n    capabilities: true\n"
                   "    procMount: true\n    seccompProfile: true\n    sysctls: true\n"
                   "    appArmorProfile: true\n    seLinuxOptions: true\n    windowsHostProcess: true\n"
                   "    hostProbesAndHostLifecycle: true\n    deviceResources: true\n    nodePinning: true\n",
                i);
    fclose(f);
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    lg_status st = lg_policy_load_dir(dir, &set, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        char msg[1200];
        lg_diag_format(&diags.v[i], msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
    }
    lg_diags_free(&diags);
    remove(path);
    snprintf(path, sizeof path, "%s/00-lanes.yaml", dir);
    remove(path);
    rmdir(dir);
    if (st != LG_OK)
        exit(2);
    return set;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "tests/data/reviews/arc-runner-create.json";
    const char *dir = argc > 2 ? argv[2] : "policies";
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    if (lg_policy_load_dir(dir, &set, &diags) != LG_OK) {
        fprintf(stderr, "cannot load %s\n", dir);
        return 2;
    }
    lg_diags_free(&diags);
    g_set = set;
    size_t len;
    char *body = read_all(path, &len);
    compare("runner-pod review", body, len);
    printf("\ncost per review beyond the parse, by container count (linearity):\n");
    for (size_t n = 1; n <= 64; n *= 4) {
        size_t blen;
        char *b = with_containers(body, len, n, &blen);
        double parse[ROUNDS], full[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            parse[r] = rate(0, b, blen);
            full[r] = rate(1, b, blen);
        }
        double pm = 1e6 / median(parse), fm = 1e6 / median(full);
        printf("  %3zu containers %7zu bytes: parse %7.1f us, review %7.1f us, engine %6.1f us "
               "(%.2f us/container)\n",
               n, blen, pm, fm, fm - pm, (fm - pm) / (double)n);
        free(b);
    }
    printf("\ncost per review beyond the parse, by policy count (14 controls each):\n");
    char lanes[600];
    snprintf(lanes, sizeof lanes, "%s/00-lanes.yaml", dir);
    for (int k = 1; k <= 64; k *= 4) {
        lg_policy_set *many = policies_times(lanes, k);
        g_set = many;
        double parse[ROUNDS], full[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            parse[r] = rate(0, body, len);
            full[r] = rate(1, body, len);
        }
        double pm = 1e6 / median(parse), fm = 1e6 / median(full);
        printf("  %3d policies: parse %7.1f us, review %7.1f us, engine %6.1f us (%.2f us/policy)\n", k, pm,
               fm, fm - pm, (fm - pm) / k);
        lg_policy_set_unref(many);
    }
    g_set = set;
    free(body);
    lg_policy_set_unref(set);
    return 0;
}
