/* cmd_certs.c — `lanegate certs`: generate the webhook's CA, serving (and
 * optionally client) certificates, or check an existing directory.
 *
 * Front only: options, printing, exit codes. The work is in certgen.c.
 * stdout carries the result (the caBundle, or the --check report) so that
 * scripts can capture it; progress notes go to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "certgen.h"
#include "cmd.h"
#include "util.h"

#define CHECK_MIN_DAYS 30u

enum {
    OPT_OUT = 1, OPT_SERVICE, OPT_NAMESPACE, OPT_DAYS, OPT_CA_DAYS, OPT_KEY_TYPE, OPT_RSA_BITS,
    OPT_DNS, OPT_IP, OPT_CLIENT, OPT_RENEW, OPT_FORCE, OPT_CA_BUNDLE, OPT_CHECK, OPT_MIN_DAYS,
};

/* One table drives parsing and --help. */
static const struct {
    const char *name;
    int id;
    const char *arg; /* NULL: a flag */
    const char *help;
} options[] = {
    {"out", OPT_OUT, "DIR", "write ca.crt ca.key tls.crt tls.key here (created 0700 if missing)"},
    {"service", OPT_SERVICE, "NAME", "Service name in the SANs (default lanegate)"},
    {"namespace", OPT_NAMESPACE, "NS", "Service namespace in the SANs (default lanegate-system)"},
    {"days", OPT_DAYS, "N", "serving/client certificate validity (default 365)"},
    {"ca-days", OPT_CA_DAYS, "N", "CA validity (default 3650; renewals keep the CA)"},
    {"key-type", OPT_KEY_TYPE, "ecdsa|rsa", "key algorithm (default ecdsa: P-256)"},
    {"rsa-bits", OPT_RSA_BITS, "2048|3072", "RSA key size (default 3072)"},
    {"dns", OPT_DNS, "NAME", "extra DNS SAN (repeatable; dev: localhost)"},
    {"ip", OPT_IP, "ADDR", "extra IP SAN (repeatable; dev: 127.0.0.1)"},
    {"client", OPT_CLIENT, "NAME", "also issue client.crt/client.key (CN=NAME, clientAuth) for mTLS"},
    {"renew", OPT_RENEW, NULL, "keep the CA in --out, re-issue tls.* (and client.*): caBundle unchanged"},
    {"force", OPT_FORCE, NULL, "replace existing files (a new CA: update every caBundle)"},
    {"ca-bundle", OPT_CA_BUNDLE, "FILE", "write the base64 caBundle to FILE instead of stdout"},
    {"check", OPT_CHECK, "DIR", "report subject, SANs, expiry; exit 1 if unfit (see below)"},
    {"min-days", OPT_MIN_DAYS, "N", "with --check: fail below N days left (default 30)"},
};

void cmd_certs_usage(FILE *out)
{
    fprintf(out, "usage: lanegate certs --out DIR [options]\n"
                 "       lanegate certs --check DIR [--service NAME --namespace NS] [--min-days N]\n\n"
                 "Generates the webhook's certificates in-process (GnuTLS): a CA and a serving\n"
                 "certificate whose SANs are SERVICE, SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc,\n"
                 "SERVICE.NAMESPACE.svc.cluster.local plus --dns/--ip. Keys are created mode 0600.\n"
                 "Prints the base64 caBundle for the webhook configurations.\n\noptions:\n");
    for (size_t i = 0; i < LG_ARRAY_LEN(options); i++) {
        char left[48];
        snprintf(left, sizeof left, "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(out, "  %-22s %s\n", left, options[i].help);
    }
    fprintf(out, "\n--check exits 1 when the serving (or client) certificate or the CA expires\n"
                 "within --min-days, does not chain to ca.crt, lacks its key usage, does not match\n"
                 "its key, or (with --service/--namespace) misses one of the four Service names.\n"
                 "exit codes: 0 ok, 1 check failed, 2 usage, input or I/O error\n");
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lanegate certs: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'lanegate certs --help')\n");
    va_end(ap);
    return LG_EXIT_USAGE;
}

static void print_time(FILE *out, time_t t)
{
    struct tm tm;
    char buf[64];
    if (gmtime_r(&t, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        fputs(buf, out);
    else
        fprintf(out, "%lld", (long long)t);
}

static void print_info(const char *name, const lg_cert_info *c, const char *purpose,
                       const char *key)
{
    printf("%s: %s\n", name, c->subject);
    printf("  issuer:    %s\n", c->issuer);
    if (c->nsans) {
        printf("  SANs:      ");
        for (size_t i = 0; i < c->nsans; i++)
            printf("%s%s", i ? ", " : "", c->sans[i]);
        printf("\n");
    }
    printf("  valid:     ");
    print_time(stdout, c->not_before);
    printf(" .. ");
    print_time(stdout, c->not_after);
    printf(" (%ld days left)\n", c->days_left);
    if (purpose)
        printf("  chains to %s: %s; %s: %s; matches %s: %s\n", LG_CERT_CA_CRT,
               c->chains ? "yes" : "NO", purpose, c->purpose_ok ? "yes" : "NO", key,
               c->key_matches ? "yes" : "NO");
}

static int run_check(const char *dir, const char *service, const char *ns, unsigned min_days)
{
    char *names[4] = {NULL, NULL, NULL, NULL};
    size_t nnames = 0;
    if (service || ns) {
        if (lg_certgen_service_names(service ? service : "lanegate",
                                     ns ? ns : "lanegate-system", names) != LG_OK) {
            fprintf(stderr, "lanegate certs: out of memory\n");
            return LG_EXIT_USAGE;
        }
        nnames = 4;
    }
    lg_cert_report r;
    lg_diag d = {0};
    lg_status st = lg_certgen_check(dir, 0, min_days, (const char *const *)names, nnames, &r, &d);
    for (size_t i = 0; i < 4; i++)
        free(names[i]);
    if (st != LG_OK) {
        char msg[1100];
        lg_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "lanegate certs: %s\n", msg[0] ? msg : lg_strerror(st));
        return LG_EXIT_USAGE;
    }
    for (size_t i = 0; i < r.ncas; i++)
        print_info(LG_CERT_CA_CRT, &r.cas[i], NULL, NULL);
    print_info(LG_CERT_TLS_CRT, &r.serving, "serverAuth", LG_CERT_TLS_KEY);
    if (r.client.present)
        print_info(LG_CERT_CLIENT_CRT, &r.client, "clientAuth", LG_CERT_CLIENT_KEY);
    for (size_t i = 0; i < r.nproblems; i++)
        printf("problem: %s\n", r.problems[i]);
    printf("%s\n", r.nproblems ? "FAIL" : "ok");
    int rc = r.nproblems ? LG_EXIT_DENIED : LG_EXIT_OK;
    lg_cert_report_free(&r);
    return rc;
}

/* Writes the caBundle to path (replacing it: it is derived data, not a secret). */
static bool write_bundle(const char *path, const char *b64)
{
    char *tmp = lg_strfmt("%s.tmp-%ld", path, (long)getpid());
    if (!tmp)
        return false;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    if (ok) {
        FILE *f = fdopen(fd, "w");
        ok = f && fprintf(f, "%s\n", b64) > 0;
        ok = (f ? fclose(f) == 0 : (close(fd), false)) && ok;
        ok = ok && rename(tmp, path) == 0;
        if (!ok)
            unlink(tmp);
    }
    if (!ok)
        fprintf(stderr, "lanegate certs: cannot write %s: %s\n", path, strerror(errno));
    free(tmp);
    return ok;
}

int cmd_certs(int argc, char **argv)
{
    struct option longopts[LG_ARRAY_LEN(options) + 1];
    for (size_t i = 0; i < LG_ARRAY_LEN(options); i++)
        longopts[i] = (struct option){options[i].name,
                                      options[i].arg ? required_argument : no_argument, NULL,
                                      options[i].id};
    longopts[LG_ARRAY_LEN(options)] = (struct option){NULL, 0, NULL, 0};

    lg_certgen_opts o;
    lg_certgen_opts_init(&o);
    const char *dns[LG_CERT_MAX_NAMES], *ips[LG_CERT_MAX_NAMES];
    const char *check_dir = NULL, *bundle_file = NULL, *service = NULL, *ns = NULL;
    unsigned min_days = CHECK_MIN_DAYS;
    bool gen_only = false, min_days_set = false;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_OUT: o.dir = optarg; break;
        case OPT_SERVICE: service = optarg; break;
        case OPT_NAMESPACE: ns = optarg; break;
        case OPT_DAYS:
            if (!parse_uint(optarg, LG_CERT_MAX_DAYS, &o.days) || o.days == 0)
                return usage_error("--days wants 1..36500, got '%s'", optarg);
            gen_only = true;
            break;
        case OPT_CA_DAYS:
            if (!parse_uint(optarg, LG_CERT_MAX_DAYS, &o.ca_days) || o.ca_days == 0)
                return usage_error("--ca-days wants 1..36500, got '%s'", optarg);
            gen_only = true;
            break;
        case OPT_KEY_TYPE:
            if (!strcmp(optarg, "ecdsa"))
                o.key_type = LG_KEY_ECDSA_P256;
            else if (!strcmp(optarg, "rsa"))
                o.key_type = LG_KEY_RSA;
            else
                return usage_error("--key-type is ecdsa or rsa, got '%s'", optarg);
            gen_only = true;
            break;
        case OPT_RSA_BITS:
            if (!parse_uint(optarg, 65536, &o.rsa_bits) || (o.rsa_bits != 2048 && o.rsa_bits != 3072))
                return usage_error("--rsa-bits is 2048 or 3072, got '%s'", optarg);
            gen_only = true;
            break;
        case OPT_DNS:
        case OPT_IP:
            if (o.ndns + o.nips >= LG_CERT_MAX_NAMES)
                return usage_error("too many --dns/--ip names (limit 64)");
            if (c == OPT_DNS)
                dns[o.ndns++] = optarg;
            else
                ips[o.nips++] = optarg;
            gen_only = true;
            break;
        case OPT_CLIENT: o.client = optarg; gen_only = true; break;
        case OPT_RENEW: o.renew = true; gen_only = true; break;
        case OPT_FORCE: o.force = true; gen_only = true; break;
        case OPT_CA_BUNDLE: bundle_file = optarg; gen_only = true; break;
        case OPT_CHECK: check_dir = optarg; break;
        case OPT_MIN_DAYS:
            if (!parse_uint(optarg, LG_CERT_MAX_DAYS, &min_days))
                return usage_error("--min-days wants 0..36500, got '%s'", optarg);
            min_days_set = true;
            break;
        default:
            return usage_error("unknown option or missing argument: %s",
                               argv[optind - 1] ? argv[optind - 1] : "?");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    if (check_dir) {
        if (o.dir || gen_only)
            return usage_error("--check takes only --service, --namespace and --min-days");
        return run_check(check_dir, service, ns, min_days);
    }
    if (min_days_set)
        return usage_error("--min-days goes with --check");
    if (!o.dir)
        return usage_error("--out DIR (or --check DIR) is required");
    if (o.renew && o.force)
        return usage_error("--renew keeps the CA, --force replaces it: pick one");
    if (service)
        o.service = service;
    if (ns)
        o.namespace = ns;
    o.dns = dns;
    o.ips = ips;

    lg_diag d = {0};
    lg_status st = lg_certgen_validate(&o, &d);
    if (st != LG_OK)
        return usage_error("%s", d.msg);

    char *bundle = NULL;
    st = lg_certgen_create(&o, &bundle, &d);
    if (st != LG_OK) {
        char msg[1100];
        lg_diag_format(&d, msg, sizeof msg);
        fprintf(stderr, "lanegate certs: %s\n", msg[0] ? msg : lg_strerror(st));
        return LG_EXIT_USAGE;
    }
    fprintf(stderr, "lanegate certs: %s %s/{%s%s%s} (%s, %u days%s)\n",
            o.renew ? "re-issued" : "wrote", o.dir,
            o.renew ? "" : "ca.crt,ca.key,", "tls.crt,tls.key",
            o.client ? ",client.crt,client.key" : "",
            o.key_type == LG_KEY_RSA ? (o.rsa_bits == 2048 ? "RSA 2048" : "RSA 3072")
                                     : "ECDSA P-256",
            o.days, o.renew ? ", CA kept" : "");
    int rc = LG_EXIT_OK;
    if (bundle_file)
        rc = write_bundle(bundle_file, bundle) ? LG_EXIT_OK : LG_EXIT_USAGE;
    else
        printf("%s\n", bundle);
    free(bundle);
    return rc;
}
