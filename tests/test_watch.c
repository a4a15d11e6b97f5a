/* test_watch.c — the served policy set: an invalid reload keeps the old set,
 * a valid one replaces it while readers keep theirs, acquire + reload race
 * freely (run under ASan/valgrind), and inotify triggers a reload. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "lgtest.h"
#include "log.h"
#include "metrics.h"
#include "watch.h"

static char dir[64];

/* Runs a shell command; every "%s" in it is the temp dir. */
static void sh(const char *tmpl, const char *arg)
{
    char cmd[512] = "";
    size_t n = 0;
    for (const char *p = tmpl; *p && n < sizeof cmd - 64; p++) {
        if (p[0] == '%' && p[1] == 's') {
            n += (size_t)snprintf(cmd + n, sizeof cmd - n, "%s", arg);
            p++;
        } else {
            cmd[n++] = *p;
        }
    }
    cmd[n] = '\0';
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lanegate-watch.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    sh("cp policies/*.yaml '%s'/", dir);
    lg_log_setup(open("/dev/null", O_WRONLY), LG_LOG_ERROR);
    lg_metrics_reset();
}

static void teardown(void)
{
    sh("rm -rf '%s'", dir);
}

static lg_watch *watch_new(void)
{
    lg_diags d = {0};
    lg_status st;
    lg_watch *w = lg_watch_new(dir, NULL, &d, &st);
    ck_assert_msg(w != NULL, "load failed: %s (%zu diags)", lg_strerror(st), d.n);
    lg_diags_free(&d);
    return w;
}

static double metric(const char *key)
{
    char *t = lg_metrics_render(NULL);
    ck_assert_ptr_nonnull(t);
    char want[256];
    snprintf(want, sizeof want, "\n%s ", key); /* a sample line, not # HELP */
    char *p = strstr(t, want);
    double v = p ? strtod(p + strlen(want), NULL) : -1;
    free(t);
    return v;
}

START_TEST(invalid_start_fails_with_diagnostics)
{
    sh("cp tests/data/serve/policies-broken/99-broken.yaml '%s'/", dir);
    lg_diags d = {0};
    lg_status st;
    ck_assert_ptr_null(lg_watch_new(dir, NULL, &d, &st));
    ck_assert_int_eq(st, LG_ERR_POLICY);
    ck_assert_uint_ge(d.n, 1);
    ck_assert_msg(strstr(d.v[0].file, "99-broken.yaml") && d.v[0].line > 0, "%s:%d", d.v[0].file,
                  d.v[0].line);
    lg_diags_free(&d);
}
END_TEST

START_TEST(invalid_reload_keeps_the_old_set)
{
    lg_watch *w = watch_new();
    lg_policy_set *a = lg_watch_acquire(w);
    size_t n = lg_policy_set_count(a);
    sh("cp tests/data/serve/policies-broken/99-broken.yaml '%s'/", dir);
    ck_assert(!lg_watch_reload_policies(w));
    lg_policy_set *b = lg_watch_acquire(w);
    ck_assert_ptr_eq(a, b);
    ck_assert(metric("lanegate_policy_reloads_total{result=\"error\"}") == 1);
    ck_assert(metric("lanegate_policies_loaded") == (double)n);
    lg_policy_set_unref(b);

    sh("rm '%s'/99-broken.yaml '%s'/40-runner-defaults.yaml", dir);
    ck_assert(lg_watch_reload_policies(w));
    lg_policy_set *c = lg_watch_acquire(w);
    ck_assert_ptr_ne(a, c);
    ck_assert_uint_lt(lg_policy_set_count(c), n);
    ck_assert_uint_eq(lg_policy_set_count(a), n); /* a reader's set is untouched */
    ck_assert(metric("lanegate_policy_reloads_total{result=\"success\"}") == 1);
    lg_policy_set_unref(c);
    lg_policy_set_unref(a); /* last reference to the old set */
    lg_watch_free(w);
}
END_TEST

static atomic_bool done;

static void *reader(void *arg)
{
    lg_watch *w = arg;
    while (!atomic_load(&done)) {
        lg_policy_set *s = lg_watch_acquire(w);
        ck_assert_uint_gt(lg_policy_set_count(s), 0);
        lg_policy_set_unref(s);
    }
    return NULL;
}

START_TEST(acquire_races_reload_safely)
{
    lg_watch *w = watch_new();
    pthread_t th[3];
    atomic_store(&done, false);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, reader, w), 0);
    for (int i = 0; i < 60; i++)
        ck_assert(lg_watch_reload_policies(w));
    atomic_store(&done, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert(metric("lanegate_policy_reloads_total{result=\"success\"}") == 60);
    lg_watch_free(w);
}
END_TEST

START_TEST(inotify_triggers_a_reload)
{
    lg_watch *w = watch_new();
    char err[256];
    ck_assert_msg(lg_watch_start(w, 50, err, sizeof err), "%s", err);
    sh("cat policies/40-runner-defaults.yaml > '%s'/40-runner-defaults.yaml", dir);
    bool seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(20000);
        seen = metric("lanegate_policy_reloads_total{result=\"success\"}") >= 1;
    }
    ck_assert_msg(seen, "no reload within 2 s");
    /* and a reload request (SIGHUP path) */
    double before = metric("lanegate_policy_reloads_total{result=\"success\"}");
    lg_watch_request_reload(w);
    seen = false;
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(20000);
        seen = metric("lanegate_policy_reloads_total{result=\"success\"}") > before;
    }
    ck_assert_msg(seen, "no reload after a request");
    lg_watch_free(w); /* joins the thread */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("watch");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, invalid_start_fails_with_diagnostics);
    tcase_add_test(tc, invalid_reload_keeps_the_old_set);
    tcase_add_test(tc, acquire_races_reload_safely);
    tcase_add_test(tc, inotify_triggers_a_reload);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(suite)
