/* test_log.c — one valid JSON object per line, levels, escaping of hostile
 * strings, the decision line's fields, and no interleaving across threads. */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "lgtest.h"
#include "log.h"

static char path[64];
static int fd = -1;

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/lanegate-log.XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    lg_log_setup(fd, LG_LOG_INFO);
}

static void teardown(void)
{
    close(fd);
    unlink(path);
    lg_log_setup(2, LG_LOG_INFO);
}

/* Every line parsed; returns an array of objects (each line must be one). */
static json_t *lines(void)
{
    size_t n;
    char *buf = lgt_read_file(path, &n);
    json_t *arr = json_array();
    char *save = NULL;
    ck_assert(n == 0 || buf[n - 1] == '\n');
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *o = json_loads(l, 0, &e);
        ck_assert_msg(o && json_is_object(o), "not a JSON object: %.200s (%s)", l, e.text);
        json_array_append_new(arr, o);
    }
    free(buf);
    return arr;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

START_TEST(levels_filter)
{
    lg_log_msg(LG_LOG_DEBUG, "x", "hidden");
    lg_log_msg(LG_LOG_INFO, "x", "shown %d", 1);
    lg_log_msg(LG_LOG_ERROR, "x", "shown %d", 2);
    ck_assert(!lg_log_enabled(LG_LOG_DEBUG));
    json_t *a = lines();
    ck_assert_uint_eq(json_array_size(a), 2);
    json_t *first = json_array_get(a, 0);
    ck_assert_str_eq(str(first, "msg"), "shown 1");
    ck_assert_str_eq(str(first, "level"), "info");
    ck_assert_str_eq(str(first, "event"), "x");
    ck_assert_str_eq(str(json_array_get(a, 1), "level"), "error");
    /* time: RFC 3339, UTC, milliseconds */
    const char *t = str(first, "time");
    ck_assert_uint_eq(strlen(t), 24);
    ck_assert_int_eq(t[10], 'T');
    ck_assert_int_eq(t[23], 'Z');
    json_decref(a);

    lg_log_level l;
    ck_assert(lg_log_level_parse("debug", &l) && l == LG_LOG_DEBUG);
    ck_assert(lg_log_level_parse("warning", &l) && l == LG_LOG_WARN);
    ck_assert(!lg_log_level_parse("loud", &l));
    ck_assert(!lg_log_level_parse(NULL, &l));
}
END_TEST

START_TEST(hostile_strings_stay_one_line)
{
    lg_log_msg(LG_LOG_WARN, "x", "quote\" backslash\\ newline\n tab\t bell\a end");
    json_t *f = json_object();
    json_object_set_new(f, "bad", lg_log_str("caf\xc3\xa9 \xff\xfe broken"));
    json_object_set_new(f, "none", lg_log_str(NULL));
    lg_log_event(LG_LOG_INFO, "y\n", f);
    json_t *a = lines();
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(str(json_array_get(a, 0), "msg"), "quote\" backslash\\ newline\n tab\t bell\a end");
    json_t *second = json_array_get(a, 1);
    ck_assert_str_eq(str(second, "bad"), "caf?? ?? broken");
    ck_assert(json_is_null(json_object_get(second, "none")));
    ck_assert_str_eq(str(second, "event"), "y\n");
    json_decref(a);
}
END_TEST

START_TEST(decision_line_fields)
{
    lg_review_result r = {0};
    r.uid = "u-1";
    r.kind = "Pod";
    r.namespace = "arc-runners";
    r.name = "runner-0";
    r.operation = "CREATE";
    r.lane = "dind";
    r.allowed = false;
    r.policies = "lane-privilege,baseline";
    r.reasons = "lane-privilege: container \"build\" sets privileged";
    lg_log_decision("validate", &r, 200, 87);
    r.allowed = true;
    r.patched = true;
    r.policies = NULL;
    lg_log_decision("mutate", &r, 200, 5);
    lg_review_result bad = {0};
    bad.reasons = "not JSON";
    lg_log_decision("validate", &bad, 400, 3);
    json_t *a = lines();
    ck_assert_uint_eq(json_array_size(a), 3);
    json_t *d = json_array_get(a, 0);
    ck_assert_str_eq(str(d, "event"), "decision");
    ck_assert_str_eq(str(d, "uid"), "u-1");
    ck_assert_str_eq(str(d, "kind"), "Pod");
    ck_assert_str_eq(str(d, "namespace"), "arc-runners");
    ck_assert_str_eq(str(d, "name"), "runner-0");
    ck_assert_str_eq(str(d, "operation"), "CREATE");
    ck_assert_str_eq(str(d, "lane"), "dind");
    ck_assert_str_eq(str(d, "endpoint"), "validate");
    ck_assert_str_eq(str(d, "decision"), "deny");
    ck_assert_int_eq(json_integer_value(json_object_get(d, "duration_us")), 87);
    json_t *pol = json_object_get(d, "policies");
    ck_assert_uint_eq(json_array_size(pol), 2);
    ck_assert_str_eq(json_string_value(json_array_get(pol, 1)), "baseline");
    ck_assert_str_eq(str(d, "reasons"), r.reasons);
    ck_assert(json_is_false(json_object_get(d, "patched")));
    json_t *m = json_array_get(a, 1);
    ck_assert_str_eq(str(m, "decision"), "allow");
    ck_assert(json_is_true(json_object_get(m, "patched")));
    ck_assert_uint_eq(json_array_size(json_object_get(m, "policies")), 0);
    json_t *e = json_array_get(a, 2);
    ck_assert_str_eq(str(e, "decision"), "error");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "status")), 400);
    ck_assert(json_is_null(json_object_get(e, "uid")));
    json_decref(a);
}
END_TEST

static void *writer(void *arg)
{
    char big[6000]; /* well past PIPE_BUF: only the lock keeps lines whole */
    memset(big, 'a' + (int)(intptr_t)arg, sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 300; i++)
        lg_log_msg(LG_LOG_INFO, "t", "%s", big);
    return NULL;
}

START_TEST(threads_never_interleave)
{
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    json_t *a = lines();
    ck_assert_uint_eq(json_array_size(a), 1200);
    json_decref(a);
}
END_TEST

typedef struct drain {
    int fd;
    char *buf;
    size_t len, cap;
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    for (;;) {
        if (d->len + 65536 > d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1 << 20;
            d->buf = realloc(d->buf, d->cap);
        }
        ssize_t n = read(d->fd, d->buf + d->len, d->cap - d->len);
        if (n <= 0)
            break;
        d->len += (size_t)n;
    }
    return NULL;
}

/* A stalled stderr (nobody reads the pipe) never blocks a caller: lines beyond
 * the queue are dropped and counted, the rest arrive whole and in order. */
START_TEST(stalled_output_drops_instead_of_blocking)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    lg_log_setup(p[1], LG_LOG_INFO);
    ck_assert(lg_log_start_async(16384));
    char msg[300];
    memset(msg, 'x', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3000; i++)
        lg_log_msg(LG_LOG_INFO, "t", "%d %s", i, msg); /* ~1 MB into a 64 KB pipe */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(t1.tv_sec - t0.tv_sec < 2, "callers waited on the stalled pipe");
    uint64_t lost = lg_log_dropped();
    ck_assert_uint_gt(lost, 0);
    drain d = {.fd = p[0]};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, drain_main, &d), 0);
    lg_log_stop_async(); /* flushes the queue */
    close(p[1]);
    pthread_join(th, NULL);
    close(p[0]);
    size_t lines = 0;
    long last = -1;
    for (char *l = d.buf, *e; l < d.buf + d.len; l = e + 1) {
        e = memchr(l, '\n', (size_t)(d.buf + d.len - l));
        ck_assert_ptr_nonnull(e);
        *e = '\0';
        json_t *o = json_loads(l, 0, NULL);
        ck_assert_msg(o != NULL, "broken line");
        long i = strtol(str(o, "msg"), NULL, 10);
        ck_assert_int_gt(i, last); /* in order */
        last = i;
        json_decref(o);
        lines++;
    }
    ck_assert_uint_eq(lines + lost, 3000);
    free(d.buf);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, levels_filter);
    tcase_add_test(tc, hostile_strings_stay_one_line);
    tcase_add_test(tc, decision_line_fields);
    tcase_add_test(tc, threads_never_interleave);
    tcase_add_test(tc, stalled_output_drops_instead_of_blocking);
    suite_add_tcase(s, tc);
    return s;
}

LGT_MAIN(suite)
