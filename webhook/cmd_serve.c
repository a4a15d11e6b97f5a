/* cmd_serve.c — `lanegate serve`: options (flag, environment, default), signals,
 * and the life of the server: load → serve → quiesce → drain → stop.
 *
 * Invariants: signal handlers only write the signal number to a pipe; all
 * work happens in this thread's loop. Start-up problems (usage, TLS files,
 * policy set) exit 2 before anything is served; a clean stop exits 0. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cmd.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"
#include "util.h"
#include "watch.h"

enum { EXIT_RUNTIME = 1 }; /* could not bind, thread or inotify failure */
/* Log lines waiting for stderr: ~10k decision lines, a few seconds of a stall. */
#define LOG_QUEUE_BYTES ((size_t)4 << 20)

typedef enum opt_id {
    O_POLICIES,
    O_TLS_CERT,
    O_TLS_KEY,
    O_LISTEN,
    O_CLIENT_CA,
    O_THREADS,
    O_LOG_LEVEL,
    O_MAX_CONNS,
    O_IDLE_TIMEOUT,
    O_SHUTDOWN_TIMEOUT,
    O__COUNT
} opt_id;

/* One table drives parsing, the environment, defaults and --help. */
static const struct opt {
    const char *flag, *metavar, *env, *def;
    long min, max; /* numeric options only (max 0: not numeric) */
    const char *help;
} opts[O__COUNT] = {
    [O_POLICIES] = {"--policies", "DIR", "LANEGATE_POLICIES", "./policies", 0, 0,
                    "policy directory; reloaded on change (inotify) and on SIGHUP"},
    [O_TLS_CERT] = {"--tls-cert", "FILE", "LANEGATE_TLS_CERT", NULL, 0, 0,
                    "serving certificate, PEM (chain may follow); reloaded when it changes"},
    [O_TLS_KEY] = {"--tls-key", "FILE", "LANEGATE_TLS_KEY", NULL, 0, 0,
                   "private key of --tls-cert, PEM; reloaded with it"},
    [O_LISTEN] = {"--listen", "ADDR:PORT", "LANEGATE_LISTEN", "0.0.0.0:8443", 0, 0,
                  "address to listen on ([::]:8443 for IPv6; port 0 picks a free one)"},
    [O_CLIENT_CA] = {"--client-ca", "FILE", "LANEGATE_CLIENT_CA", NULL, 0, 0,
                     "require client certificates signed by this CA (mTLS)"},
    [O_THREADS] = {"--threads", "N", "LANEGATE_THREADS", NULL, 1, 256,
                   "worker threads (default: number of cores)"},
    [O_LOG_LEVEL] = {"--log-level", "LEVEL", "LANEGATE_LOG_LEVEL", "info", 0, 0,
                     "debug, info (one line per decision), warn or error"},
    [O_MAX_CONNS] = {"--max-connections", "N", "LANEGATE_MAX_CONNECTIONS", "1000", 1, 60000,
                     "connections served at once; beyond it new ones are not accepted"},
    [O_IDLE_TIMEOUT] = {"--idle-timeout", "SECONDS", "LANEGATE_IDLE_TIMEOUT", "120", 0, 86400,
                        "close a connection idle this long (above Go's 90 s keep-alive)"},
    [O_SHUTDOWN_TIMEOUT] = {"--shutdown-timeout", "SECONDS", "LANEGATE_SHUTDOWN_TIMEOUT", "20", 0,
                            3600, "on SIGTERM, wait this long for requests in flight"},
};

void cmd_serve_usage(FILE *out)
{
    fprintf(out, "usage: lanegate serve --tls-cert FILE --tls-key FILE [options]\n\n"
                 "Runs the HTTPS admission webhook: POST /validate, POST /mutate (AdmissionReview\n"
                 "v1, the same bytes `lanegate review` prints), GET /healthz, /readyz, /metrics.\n\n"
                 "options (each may also come from the environment variable shown):\n");
    for (int i = 0; i < O__COUNT; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", opts[i].flag, opts[i].metavar);
        fprintf(out, "  %-28s %s\n  %-28s [%s", left, opts[i].help, "", opts[i].env);
        if (opts[i].def)
            fprintf(out, ", default %s", opts[i].def);
        fprintf(out, "]\n");
    }
    fprintf(out, "\nsignals: SIGHUP reloads policies and certificates; SIGTERM/SIGINT stop\n"
                 "gracefully (a second one stops at once).\n"
                 "exit codes: 0 stopped cleanly, 1 runtime failure (e.g. address in use),\n"
                 "2 usage, TLS file or policy error at start-up\n");
}

static const char *val[O__COUNT];

static bool parse_args(int argc, char **argv)
{
    for (int i = 0; i < O__COUNT; i++) {
        const char *e = getenv(opts[i].env);
        val[i] = e && *e ? e : opts[i].def;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        int found = -1;
        const char *v = NULL;
        for (int i = 0; i < O__COUNT && found < 0; i++) {
            size_t n = strlen(opts[i].flag);
            if (strncmp(arg, opts[i].flag, n) != 0)
                continue;
            if (arg[n] == '=') {
                found = i;
                v = arg + n + 1;
            } else if (arg[n] == '\0') {
                found = i;
                if (a + 1 >= argc) {
                    fprintf(stderr, "lanegate serve: %s needs a value\n", arg);
                    return false;
                }
                v = argv[++a];
            }
        }
        if (found < 0) {
            fprintf(stderr, "lanegate serve: unknown argument '%s'\n", arg);
            return false;
        }
        val[found] = v;
    }
    if (!val[O_TLS_CERT] || !val[O_TLS_KEY]) {
        fprintf(stderr, "lanegate serve: --tls-cert and --tls-key are required\n");
        return false;
    }
    return true;
}

static bool num_opt(opt_id id, long dflt, long *out)
{
    if (!val[id]) {
        *out = dflt;
        return true;
    }
    char *end;
    errno = 0;
    long v = strtol(val[id], &end, 10);
    if (errno || end == val[id] || *end || v < opts[id].min || v > opts[id].max) {
        fprintf(stderr, "lanegate serve: %s must be a number from %ld to %ld, not '%s'\n",
                opts[id].flag, opts[id].min, opts[id].max, val[id]);
        return false;
    }
    *out = v;
    return true;
}

/* "1.2.3.4:8443", "[::1]:8443", "localhost:8443". */
static bool parse_listen(const char *s, struct sockaddr_storage *ss, char *canon, size_t csz)
{
    char host[256];
    const char *port;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return false;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host || strchr(colon + 1, ']'))
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return false;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res) != 0 || !res)
        return false;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    char a[INET6_ADDRSTRLEN] = "";
    if (ss->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof a);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)ss)->sin_addr, a, sizeof a);
    snprintf(canon, csz, ss->ss_family == AF_INET6 ? "[%s]" : "%s", a);
    return true;
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(sig_pipe[1], &b, 1) < 0) {
        /* pipe full: enough signals are already queued */
    }
    errno = saved;
}

static bool setup_signals(void)
{
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return false;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return true;
}

/* Waits up to ms for a signal; returns it, or 0. */
static int next_signal(int ms)
{
    struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
    int n = poll(&p, 1, ms);
    if (n <= 0)
        return 0;
    unsigned char b;
    return read(sig_pipe[0], &b, 1) == 1 ? b : 0;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void log_fatal(const char *what, const char *detail)
{
    json_t *f = json_object();
    json_object_set_new(f, "msg", lg_log_str(what));
    if (detail)
        json_object_set_new(f, "error", lg_log_str(detail));
    lg_log_event(LG_LOG_ERROR, "fatal", f);
}

/* Everything after option parsing: load, serve, stop. Returns the exit code. */
static int serve(long threads, long max_conns, long idle, long drain_s,
                 struct sockaddr_storage *addr, const char *host)
{
    if (!lg_log_start_async(LOG_QUEUE_BYTES))
        lg_log_msg(LG_LOG_WARN, "log", "no log writer thread: writing log lines directly");
    if (!setup_signals()) {
        log_fatal("cannot set up signal handling", strerror(errno));
        return EXIT_RUNTIME;
    }

    char err[1024] = "";
    lg_tls *tls = lg_tls_new(val[O_TLS_CERT], val[O_TLS_KEY], val[O_CLIENT_CA], err, sizeof err);
    if (!tls) {
        log_fatal("cannot load the TLS files", err);
        return LG_EXIT_USAGE;
    }
    lg_diags diags = {0};
    lg_status st;
    lg_watch *watch = lg_watch_new(val[O_POLICIES], tls, &diags, &st);
    if (!watch) {
        json_t *f = json_object();
        json_t *errs = json_array();
        for (size_t i = 0; i < diags.n; i++) {
            char line[1200];
            lg_diag_format(&diags.v[i], line, sizeof line);
            json_array_append_new(errs, lg_log_str(line));
        }
        json_object_set_new(f, "msg", json_string("invalid policy set; not serving"));
        json_object_set_new(f, "dir", lg_log_str(val[O_POLICIES]));
        json_object_set_new(f, "error", lg_log_str(lg_strerror(st)));
        json_object_set_new(f, "errors", errs);
        lg_log_event(LG_LOG_ERROR, "fatal", f);
        lg_diags_free(&diags);
        lg_tls_free(tls);
        return LG_EXIT_USAGE;
    }
    lg_diags_free(&diags);

    lg_server_config cfg = {
        .addr = (const struct sockaddr *)addr,
        .threads = (unsigned)threads,
        .max_connections = (unsigned)max_conns,
        .idle_timeout_s = (unsigned)idle,
        .max_body = LG_MAX_BODY,
        .tls = tls,
        .policies = watch,
    };
    lg_server *srv = lg_server_start(&cfg, err, sizeof err);
    if (!srv) {
        log_fatal("cannot start the server", err);
        lg_watch_free(watch);
        lg_tls_free(tls);
        return EXIT_RUNTIME;
    }
    if (!lg_watch_start(watch, 200, err, sizeof err)) {
        log_fatal("cannot start watching for changes", err);
        lg_server_stop(srv);
        lg_watch_free(watch);
        lg_tls_free(tls);
        return EXIT_RUNTIME;
    }

    char serial[80];
    lg_tls_serial(tls, serial, sizeof serial);
    lg_policy_set *set = lg_watch_acquire(watch);
    json_t *f = json_object();
    char listen[INET6_ADDRSTRLEN + 10];
    snprintf(listen, sizeof listen, "%s:%u", host, (unsigned)lg_server_port(srv));
    json_object_set_new(f, "listen", json_string(listen));
    json_object_set_new(f, "version", json_string(LG_VERSION));
    json_object_set_new(f, "threads", json_integer(threads));
    json_object_set_new(f, "policies_dir", lg_log_str(val[O_POLICIES]));
    json_object_set_new(f, "policies", json_integer((json_int_t)lg_policy_set_count(set)));
    json_object_set_new(f, "cert_serial", json_string(serial));
    json_object_set_new(f, "cert_not_after", json_integer(lg_tls_expiry(tls)));
    json_object_set_new(f, "mtls", json_boolean(val[O_CLIENT_CA] != NULL));
    lg_policy_set_unref(set);
    lg_log_event(LG_LOG_INFO, "start", f);
    if (lg_tls_expiry(tls) < (int64_t)time(NULL))
        lg_log_msg(LG_LOG_WARN, "tls", "the serving certificate has expired");

    int sig;
    for (;;) {
        sig = next_signal(-1);
        if (sig == SIGHUP) {
            lg_log_msg(LG_LOG_INFO, "signal", "SIGHUP: reloading policies and certificates");
            lg_watch_request_reload(watch);
        } else if (sig == SIGTERM || sig == SIGINT) {
            break;
        }
    }
    lg_log_msg(LG_LOG_INFO, "signal", "%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    lg_server_quiesce(srv);
    int64_t deadline = mono_ms() + drain_s * 1000;
    bool forced = false;
    while (lg_server_inflight(srv) > 0 && mono_ms() < deadline && !forced) {
        int s2 = next_signal(10);
        forced = s2 == SIGTERM || s2 == SIGINT;
    }
    unsigned left = lg_server_inflight(srv);
    lg_server_stop(srv);
    lg_watch_free(watch);
    lg_tls_free(tls);
    if (left)
        lg_log_msg(LG_LOG_WARN, "stop", "stopped with %u request(s) unanswered (%s)", left,
                   forced ? "second signal" : "shutdown timeout");
    else
        lg_log_msg(LG_LOG_INFO, "stop", "all requests answered; bye");
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    return LG_EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    if (!parse_args(argc, argv))
        return LG_EXIT_USAGE;
    lg_log_level level;
    if (!lg_log_level_parse(val[O_LOG_LEVEL], &level)) {
        fprintf(stderr, "lanegate serve: --log-level must be debug, info, warn or error\n");
        return LG_EXIT_USAGE;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    long threads, max_conns, idle, drain_s;
    if (!num_opt(O_THREADS, ncpu > 0 ? (ncpu > 256 ? 256 : ncpu) : 1, &threads) ||
        !num_opt(O_MAX_CONNS, 1000, &max_conns) || !num_opt(O_IDLE_TIMEOUT, 120, &idle) ||
        !num_opt(O_SHUTDOWN_TIMEOUT, 20, &drain_s))
        return LG_EXIT_USAGE;
    struct sockaddr_storage addr;
    char host[INET6_ADDRSTRLEN + 2];
    if (!parse_listen(val[O_LISTEN], &addr, host, sizeof host)) {
        fprintf(stderr, "lanegate serve: --listen must be ADDR:PORT, not '%s'\n", val[O_LISTEN]);
        return LG_EXIT_USAGE;
    }
    lg_log_setup(STDERR_FILENO, level);
    int rc = serve(threads, max_conns, idle, drain_s, &addr, host);
    lg_log_stop_async(); /* write what is still queued */
    return rc;
}

