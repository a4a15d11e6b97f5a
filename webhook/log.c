/* log.c — one JSON object per line (jansson does the escaping).
 *
 * Invariants: the level and fd are set once before any thread starts; each
 * line is built off-lock, then either written under the lock (sync mode) or
 * queued for the writer thread (async mode, the server). The queue is bounded:
 * when stderr cannot keep up (a stalled log pipe, a disk in writeback) lines
 * are dropped and counted, and no request ever waits on the log. Lines never
 * interleave. Never logs objects or Secret data: decision lines carry only the
 * request's identity and the engine's reasons. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>
#include <sys/uio.h>

#include "log.h"
#include "util.h"

static int log_fd = 2;
static lg_log_level log_min = LG_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* async mode: a FIFO of lines, guarded by log_lock */
typedef struct qline {
    struct qline *next;
    size_t len;
    char *text;
} qline;
static struct {
    bool on, stop;
    pthread_t thread;
    pthread_cond_t wake;
    qline *head, *tail;
    size_t bytes, max_bytes;
} q = {.wake = PTHREAD_COND_INITIALIZER};
static atomic_uint_fast64_t dropped;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool lg_log_level_parse(const char *s, lg_log_level *out)
{
    for (size_t i = 0; s && i < LG_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (lg_log_level)i;
            return true;
        }
    if (s && strcmp(s, "warning") == 0) {
        *out = LG_LOG_WARN;
        return true;
    }
    return false;
}

const char *lg_log_level_name(lg_log_level l)
{
    return (unsigned)l < LG_ARRAY_LEN(level_names) ? level_names[l] : "?";
}

void lg_log_setup(int fd, lg_log_level min)
{
    log_fd = fd;
    log_min = min;
}

bool lg_log_enabled(lg_log_level l)
{
    return l >= log_min;
}

json_t *lg_log_str(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    /* Not valid UTF-8: keep ASCII, replace every other byte. */
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return json_null();
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    c[n] = '\0';
    j = json_string(c);
    free(c);
    return j ? j : json_null();
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(log_fd, s, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        s += w;
        n -= (size_t)w;
    }
}

/* A new line object holding time, level and event (NULL on allocation failure). */
static json_t *line_new(lg_log_level l, const char *event)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t wn = strftime(when, sizeof when - 6, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + wn, sizeof when - wn, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new_nocheck(o, "time", json_string_nocheck(when));
    json_object_set_new_nocheck(o, "level", json_string_nocheck(lg_log_level_name(l)));
    json_object_set_new_nocheck(o, "event", lg_log_str(event));
    return o;
}

/* Writes o as one line and releases it. */
static void line_emit(json_t *o)
{
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line)
        return;
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps' NUL becomes the newline; length stays known */
    pthread_mutex_lock(&log_lock);
    if (!q.on) {
        write_all(line, n + 1);
        pthread_mutex_unlock(&log_lock);
        free(line);
        return;
    }
    qline *ql = q.bytes + n + 1 <= q.max_bytes ? malloc(sizeof *ql) : NULL;
    if (!ql) {
        pthread_mutex_unlock(&log_lock);
        atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
        free(line);
        return;
    }
    ql->next = NULL;
    ql->len = n + 1;
    ql->text = line;
    bool was_empty = !q.head;
    if (q.tail)
        q.tail->next = ql;
    else
        q.head = ql;
    q.tail = ql;
    q.bytes += ql->len;
    if (was_empty) /* the writer sleeps only on an empty queue */
        pthread_cond_signal(&q.wake);
    pthread_mutex_unlock(&log_lock);
}

/* Writes a batch with as few system calls as possible, then frees it. */
static void write_batch(qline *batch)
{
    struct iovec iov[IOV_MAX < 256 ? IOV_MAX : 256];
    while (batch) {
        int n = 0;
        qline *first = batch;
        for (; batch && n < (int)(sizeof iov / sizeof iov[0]); batch = batch->next, n++) {
            iov[n].iov_base = batch->text;
            iov[n].iov_len = batch->len;
        }
        int i = 0;
        while (i < n) {
            ssize_t w = writev(log_fd, iov + i, n - i);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                break; /* nowhere left to report it */
            }
            while (i < n && (size_t)w >= iov[i].iov_len)
                w -= (ssize_t)iov[i++].iov_len;
            if (i < n) {
                iov[i].iov_base = (char *)iov[i].iov_base + w;
                iov[i].iov_len -= (size_t)w;
            }
        }
        while (first != batch) {
            qline *next = first->next;
            free(first->text);
            free(first);
            first = next;
        }
    }
}

static void *writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&log_lock);
    for (;;) {
        while (!q.head && !q.stop)
            pthread_cond_wait(&q.wake, &log_lock);
        if (!q.head && q.stop)
            break;
        if (!q.stop) {
            /* Let a few milliseconds of lines gather: one wake-up and one
             * writev per batch instead of one per request. */
            pthread_mutex_unlock(&log_lock);
            struct timespec pause = {0, 5 * 1000 * 1000};
            nanosleep(&pause, NULL);
            pthread_mutex_lock(&log_lock);
        }
        qline *batch = q.head;
        q.head = q.tail = NULL;
        q.bytes = 0;
        pthread_mutex_unlock(&log_lock);
        write_batch(batch); /* off-lock: producers never wait on the fd */
        pthread_mutex_lock(&log_lock);
    }
    pthread_mutex_unlock(&log_lock);
    return NULL;
}

bool lg_log_start_async(size_t max_bytes)
{
    pthread_mutex_lock(&log_lock);
    if (q.on) {
        pthread_mutex_unlock(&log_lock);
        return true;
    }
    q.stop = false;
    q.max_bytes = max_bytes;
    q.on = pthread_create(&q.thread, NULL, writer_main, NULL) == 0;
    pthread_mutex_unlock(&log_lock);
    return q.on;
}

void lg_log_stop_async(void)
{
    pthread_mutex_lock(&log_lock);
    if (!q.on) {
        pthread_mutex_unlock(&log_lock);
        return;
    }
    q.stop = true;
    pthread_cond_signal(&q.wake);
    pthread_mutex_unlock(&log_lock);
    pthread_join(q.thread, NULL); /* the writer drains the queue first */
    pthread_mutex_lock(&log_lock);
    q.on = false;
    pthread_mutex_unlock(&log_lock);
}

uint64_t lg_log_dropped(void)
{
    return atomic_load_explicit(&dropped, memory_order_relaxed);
}

void lg_log_event(lg_log_level l, const char *event, json_t *fields)
{
    json_t *o = lg_log_enabled(l) ? line_new(l, event) : NULL;
    if (o && fields && json_is_object(fields))
        json_object_update(o, fields);
    json_decref(fields);
    if (o)
        line_emit(o);
}

void lg_log_msg(lg_log_level l, const char *event, const char *fmt, ...)
{
    if (!lg_log_enabled(l))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = lg_vstrfmt(fmt, ap);
    va_end(ap);
    json_t *f = json_object();
    if (f)
        json_object_set_new(f, "msg", lg_log_str(msg ? msg : "(out of memory)"));
    free(msg);
    lg_log_event(l, event, f);
}

/* "a,b" -> ["a","b"]; NULL or "" -> [] */
static json_t *split_list(const char *s)
{
    json_t *a = json_array();
    if (!a || !s)
        return a;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *item = strndup(s, n);
        if (item && *item)
            json_array_append_new(a, lg_log_str(item));
        free(item);
        if (!e)
            break;
        s = e + 1;
    }
    return a;
}

void lg_log_decision(const char *endpoint, const lg_review_result *r, int http_status,
                     long long duration_us)
{
    if (!lg_log_enabled(LG_LOG_INFO))
        return;
    json_t *f = line_new(LG_LOG_INFO, "decision");
    if (!f)
        return;
    const char *decision = http_status != 200 ? "error" : r->allowed ? "allow" : "deny";
    json_object_set_new_nocheck(f, "uid", lg_log_str(r->uid));
    json_object_set_new_nocheck(f, "kind", lg_log_str(r->kind));
    json_object_set_new_nocheck(f, "namespace", lg_log_str(r->namespace));
    json_object_set_new_nocheck(f, "name", lg_log_str(r->name));
    json_object_set_new_nocheck(f, "operation", lg_log_str(r->operation));
    json_object_set_new_nocheck(f, "lane", lg_log_str(r->lane));
    json_object_set_new_nocheck(f, "endpoint", lg_log_str(endpoint));
    json_object_set_new_nocheck(f, "decision", json_string_nocheck(decision));
    json_object_set_new_nocheck(f, "patched", json_boolean(r->patched));
    json_object_set_new_nocheck(f, "policies", split_list(r->policies));
    json_object_set_new_nocheck(f, "reasons", lg_log_str(r->reasons));
    json_object_set_new_nocheck(f, "status", json_integer(http_status));
    json_object_set_new_nocheck(f, "duration_us", json_integer(duration_us));
    line_emit(f);
}
