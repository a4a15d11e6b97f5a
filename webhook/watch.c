/* watch.c — the current policy set and the thread that replaces it.
 *
 * Invariants: cur always holds a complete, valid set (one reference owned by
 * the watch). Readers take their own reference under `lock`, which guards only
 * the pointer read + ref (or the swap), never an evaluation. A reload loads the
 * whole directory off to the side; an invalid set is logged with file:line:col
 * and dropped, the old one stays. One thread owns inotify and every reload, so
 * reloads never run concurrently. Directory-level watches see a ConfigMap's
 * ..data symlink swap (IN_MOVED_TO) as well as plain edits. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "watch.h"

#define DIR_EVENTS                                                                            \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB |       \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define TLS_POLL_MS 10000 /* safety net for file systems inotify cannot see */
#define MAX_WAIT_MS 2000  /* a steady stream of events cannot postpone a reload longer */

struct lg_watch {
    char *dir;
    lg_tls *tls;
    pthread_mutex_t lock;
    lg_policy_set *cur;
    int ino, evfd;
    int wd_pol, wd_tls[2];
    pthread_t thread;
    bool started;
    atomic_bool stop;
    unsigned debounce_ms;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

lg_watch *lg_watch_new(const char *dir, lg_tls *tls, lg_diags *diags, lg_status *st)
{
    lg_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        *st = LG_ERR_NOMEM;
        return NULL;
    }
    *st = lg_policy_load_dir(dir, &w->cur, diags);
    if (*st != LG_OK) {
        free(w->dir);
        free(w);
        return NULL;
    }
    w->tls = tls;
    w->ino = w->evfd = -1;
    w->wd_pol = w->wd_tls[0] = w->wd_tls[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    lg_metrics_policies_loaded(lg_policy_set_count(w->cur));
    return w;
}

lg_policy_set *lg_watch_acquire(lg_watch *w)
{
    pthread_mutex_lock(&w->lock);
    lg_policy_set *s = lg_policy_set_ref(w->cur);
    pthread_mutex_unlock(&w->lock);
    return s;
}

bool lg_watch_reload_policies(lg_watch *w)
{
    lg_policy_set *set = NULL;
    lg_diags diags = {0};
    lg_status st = lg_policy_load_dir(w->dir, &set, &diags);
    if (st != LG_OK) {
        lg_metrics_policy_reload(false);
        json_t *f = json_object();
        json_t *errs = json_array();
        for (size_t i = 0; i < diags.n; i++) {
            char line[1200];
            lg_diag_format(&diags.v[i], line, sizeof line);
            json_array_append_new(errs, lg_log_str(line));
        }
        json_object_set_new(f, "dir", lg_log_str(w->dir));
        json_object_set_new(f, "result", json_string("error"));
        json_object_set_new(f, "msg", json_string("invalid policy set rejected; the previous set is still served"));
        json_object_set_new(f, "error", lg_log_str(lg_strerror(st)));
        json_object_set_new(f, "errors", errs);
        lg_log_event(LG_LOG_ERROR, "policy_reload", f);
        lg_diags_free(&diags);
        return false;
    }
    lg_diags_free(&diags);
    size_t n = lg_policy_set_count(set);
    pthread_mutex_lock(&w->lock);
    lg_policy_set *old = w->cur;
    w->cur = set;
    pthread_mutex_unlock(&w->lock);
    lg_policy_set_unref(old); /* freed when the last review on it finishes */
    lg_metrics_policy_reload(true);
    lg_metrics_policies_loaded(n);
    json_t *f = json_object();
    json_object_set_new(f, "dir", lg_log_str(w->dir));
    json_object_set_new(f, "result", json_string("success"));
    json_object_set_new(f, "policies", json_integer((json_int_t)n));
    lg_log_event(LG_LOG_INFO, "policy_reload", f);
    return true;
}

static void reload_tls(lg_watch *w)
{
    if (!w->tls)
        return;
    char err[1024] = "";
    int rc = lg_tls_reload(w->tls, err, sizeof err);
    if (rc == 0)
        return;
    lg_metrics_tls_reload(rc > 0);
    if (rc > 0) {
        char serial[80];
        lg_tls_serial(w->tls, serial, sizeof serial);
        int64_t exp = lg_tls_expiry(w->tls);
        lg_metrics_cert_expiry(exp);
        json_t *f = json_object();
        json_object_set_new(f, "result", json_string("success"));
        json_object_set_new(f, "cert", lg_log_str(lg_tls_cert_path(w->tls)));
        json_object_set_new(f, "serial", json_string(serial));
        json_object_set_new(f, "not_after", json_integer(exp));
        lg_log_event(LG_LOG_INFO, "tls_reload", f);
    } else {
        json_t *f = json_object();
        json_object_set_new(f, "result", json_string("error"));
        json_object_set_new(f, "msg", json_string("new certificate/key rejected; the previous pair is still served"));
        json_object_set_new(f, "error", lg_log_str(err));
        lg_log_event(LG_LOG_ERROR, "tls_reload", f);
    }
}

/* Directory of path (dirname needs a writable copy). */
static int add_dir_watch(int ino, const char *path, bool parent)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    int wd = inotify_add_watch(ino, parent ? dirname(copy) : copy, DIR_EVENTS);
    free(copy);
    return wd;
}

static void add_watches(lg_watch *w)
{
    if (w->wd_pol < 0) {
        w->wd_pol = add_dir_watch(w->ino, w->dir, false);
        if (w->wd_pol < 0)
            lg_log_msg(LG_LOG_WARN, "watch", "cannot watch %s: %s (SIGHUP still reloads)", w->dir,
                       strerror(errno));
    }
    if (w->tls) {
        const char *paths[2] = {lg_tls_cert_path(w->tls), lg_tls_key_path(w->tls)};
        for (int i = 0; i < 2; i++)
            if (w->wd_tls[i] < 0)
                w->wd_tls[i] = add_dir_watch(w->ino, paths[i], true);
    }
}

static void *watch_main(void *arg)
{
    lg_watch *w = arg;
    int64_t pol_first = 0, pol_last = 0, tls_first = 0, tls_last = 0, tls_polled = now_ms();
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        int64_t now = now_ms();
        int timeout = TLS_POLL_MS;
        if (pol_last) {
            int64_t due = pol_last + w->debounce_ms;
            if (due > pol_first + MAX_WAIT_MS)
                due = pol_first + MAX_WAIT_MS;
            timeout = due > now ? (int)(due - now) : 0;
        }
        if (tls_last) {
            int64_t due = tls_last + w->debounce_ms;
            if (due > tls_first + MAX_WAIT_MS)
                due = tls_first + MAX_WAIT_MS;
            int t = due > now ? (int)(due - now) : 0;
            if (t < timeout)
                timeout = t;
        }
        if (w->wd_pol < 0 && timeout > 1000)
            timeout = 1000; /* directory gone: retry adding the watch */
        struct pollfd p[2] = {{.fd = w->ino, .events = POLLIN}, {.fd = w->evfd, .events = POLLIN}};
        int n = poll(p, 2, timeout);
        if (n < 0 && errno != EINTR)
            break;
        now = now_ms();
        if (n > 0 && (p[1].revents & POLLIN)) {
            uint64_t v;
            if (read(w->evfd, &v, sizeof v) < 0 && errno != EAGAIN)
                break;
            if (w->stop)
                break;
            pol_first = tls_first = pol_last = tls_last = now - (int64_t)w->debounce_ms - 1;
        }
        if (n > 0 && (p[0].revents & POLLIN)) {
            ssize_t len = read(w->ino, buf, sizeof buf);
            for (char *e = buf; len > 0 && e < buf + len;) {
                struct inotify_event *ev = (struct inotify_event *)e;
                if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: look at everything */
                    if (!pol_last)
                        pol_first = now;
                    if (!tls_last)
                        tls_first = now;
                    pol_last = tls_last = now;
                }
                if (ev->wd == w->wd_pol) {
                    if (!pol_last)
                        pol_first = now;
                    pol_last = now;
                    if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                        if (ev->mask & IN_IGNORED)
                            w->wd_pol = -1;
                    }
                }
                for (int i = 0; i < 2; i++)
                    if (ev->wd == w->wd_tls[i]) {
                        if (!tls_last)
                            tls_first = now;
                        tls_last = now;
                        if (ev->mask & IN_IGNORED)
                            w->wd_tls[i] = -1;
                    }
                e += sizeof *ev + ev->len;
            }
        }
        int had_pol = w->wd_pol;
        add_watches(w);
        if (had_pol < 0 && w->wd_pol >= 0 && !pol_last) /* directory is back: load it */
            pol_first = pol_last = now;
        if (pol_last && (now >= pol_last + w->debounce_ms || now >= pol_first + MAX_WAIT_MS)) {
            pol_first = pol_last = 0;
            lg_watch_reload_policies(w);
        }
        if ((tls_last && (now >= tls_last + w->debounce_ms || now >= tls_first + MAX_WAIT_MS)) ||
            now >= tls_polled + TLS_POLL_MS) {
            tls_first = tls_last = 0;
            tls_polled = now;
            reload_tls(w);
        }
    }
    return NULL;
}

bool lg_watch_start(lg_watch *w, unsigned debounce_ms, char *err, size_t errsz)
{
    w->debounce_ms = debounce_ms;
    w->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ino < 0 || w->evfd < 0) {
        snprintf(err, errsz, "inotify/eventfd: %s", strerror(errno));
        return false;
    }
    add_watches(w);
    if (w->tls)
        lg_metrics_cert_expiry(lg_tls_expiry(w->tls));
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc) {
        snprintf(err, errsz, "cannot start the watcher thread: %s", strerror(rc));
        return false;
    }
    w->started = true;
    return true;
}

void lg_watch_request_reload(lg_watch *w)
{
    uint64_t one = 1;
    if (w->evfd >= 0 && write(w->evfd, &one, sizeof one) < 0) {
        /* counter saturated: a reload is already pending */
    }
}

void lg_watch_free(lg_watch *w)
{
    if (!w)
        return;
    if (w->started) {
        w->stop = true;
        lg_watch_request_reload(w);
        pthread_join(w->thread, NULL);
    }
    if (w->ino >= 0)
        close(w->ino);
    if (w->evfd >= 0)
        close(w->evfd);
    lg_policy_set_unref(w->cur);
    pthread_mutex_destroy(&w->lock);
    free(w->dir);
    free(w);
}
