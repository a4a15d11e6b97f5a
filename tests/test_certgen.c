/* test_certgen.c — certgen.c: what it generates (chain, SANs, key usages,
 * validity, serials, file modes), what it refuses (overwrite, bad options),
 * what --check finds, and a real TLS handshake (and mTLS) with the result. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "certgen.h"
#include "lgtest.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[256];
static char dirs[32][512]; /* output directories handed out by opts_for() */
static int ndirs;

static void setup(void)
{
    ndirs = 0;
    signal(SIGPIPE, SIG_IGN); /* a refused handshake may write to a closed socket */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lgt-certgen-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/sub/name in one of a few rotating buffers: use it at once. */
static char *pathf(const char *sub, const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s%s", tmpdir, sub, *sub ? "/" : "", name);
    return buf[k];
}

static lg_certgen_opts opts_for(const char *sub)
{
    lg_certgen_opts o;
    lg_certgen_opts_init(&o);
    ck_assert_int_lt(ndirs, 32);
    snprintf(dirs[ndirs], sizeof dirs[ndirs], "%s/%s", tmpdir, sub);
    o.dir = dirs[ndirs++];
    return o;
}

static void create_ok(const lg_certgen_opts *o)
{
    lg_diag d = {0};
    lg_status st = lg_certgen_create(o, NULL, &d);
    ck_assert_msg(st == LG_OK, "create: %s: %s", lg_strerror(st), d.msg);
}

static gnutls_datum_t slurp(const char *path)
{
    size_t n;
    char *s = lgt_read_file(path, &n);
    return (gnutls_datum_t){(unsigned char *)s, (unsigned)n};
}

static gnutls_x509_crt_t load_crt(const char *path)
{
    gnutls_datum_t d = slurp(path);
    gnutls_x509_crt_t c;
    ck_assert_int_ge(gnutls_x509_crt_init(&c), 0);
    ck_assert_int_ge(gnutls_x509_crt_import(c, &d, GNUTLS_X509_FMT_PEM), 0);
    free(d.data);
    return c;
}

/* Full verification of path against cafile as a TLS client would do it:
 * signature chain, validity at this moment, hostname and key purpose. */
static unsigned verify_as_client(const char *cafile, const char *path, const char *host,
                                 const char *purpose)
{
    gnutls_x509_trust_list_t tl;
    ck_assert_int_ge(gnutls_x509_trust_list_init(&tl, 0), 0);
    gnutls_datum_t ca = slurp(cafile);
    ck_assert_int_gt(gnutls_x509_trust_list_add_trust_mem(tl, &ca, NULL, GNUTLS_X509_FMT_PEM, 0, 0), 0);
    gnutls_x509_crt_t crt = load_crt(path);
    gnutls_typed_vdata_st vd[2];
    unsigned n = 0;
    if (host)
        vd[n++] = (gnutls_typed_vdata_st){GNUTLS_DT_DNS_HOSTNAME, (unsigned char *)host, 0};
    if (purpose)
        vd[n++] = (gnutls_typed_vdata_st){GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)purpose, 0};
    unsigned status = 0;
    ck_assert_int_ge(gnutls_x509_trust_list_verify_crt2(tl, &crt, 1, vd, n, 0, &status, NULL), 0);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_trust_list_deinit(tl, 1);
    free(ca.data);
    return status;
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool same_file_bytes(const char *a, const char *b)
{
    size_t na, nb;
    char *x = lgt_read_file(a, &na), *y = lgt_read_file(b, &nb);
    bool same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *s = lgt_read_file(from, &n);
    unlink(to);
    FILE *f = fopen(to, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(s, 1, n, f), n);
    fclose(f);
    free(s);
}

static bool report_has(const lg_cert_report *r, const char *needle)
{
    for (size_t i = 0; i < r->nproblems; i++)
        if (strstr(r->problems[i], needle))
            return true;
    return false;
}

/* ---- generation ----------------------------------------------------------- */

START_TEST(chain_verifies_with_sans_and_purposes)
{
    lg_certgen_opts o = opts_for("d");
    const char *dns[] = {"localhost"}, *ips[] = {"127.0.0.1", "::1"};
    o.dns = dns;
    o.ndns = 1;
    o.ips = ips;
    o.nips = 2;
    create_ok(&o);
    const char *ca = pathf("d", "ca.crt"), *tls = pathf("d", "tls.crt");
    const char *names[] = {"lanegate", "lanegate.lanegate-system", "lanegate.lanegate-system.svc",
                           "lanegate.lanegate-system.svc.cluster.local", "localhost"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(verify_as_client(ca, tls, names[i], GNUTLS_KP_TLS_WWW_SERVER) == 0,
                      "verify for %s", names[i]);
    /* a name that is not in the SANs fails hostname verification */
    ck_assert_uint_ne(verify_as_client(ca, tls, "lanegate.other.svc", NULL), 0);
    /* and the serving certificate is not a client certificate */
    ck_assert_uint_ne(verify_as_client(ca, tls, NULL, GNUTLS_KP_TLS_WWW_CLIENT), 0);

    gnutls_x509_crt_t c = load_crt(tls);
    unsigned char v4[4], v6[16];
    inet_pton(AF_INET, "127.0.0.1", v4);
    inet_pton(AF_INET6, "::1", v6);
    ck_assert(gnutls_x509_crt_check_ip(c, v4, 4, 0));
    ck_assert(gnutls_x509_crt_check_ip(c, v6, 16, 0));
    unsigned usage = 0, crit = 0;
    ck_assert_int_ge(gnutls_x509_crt_get_key_usage(c, &usage, &crit), 0);
    ck_assert(usage & GNUTLS_KEY_DIGITAL_SIGNATURE);
    ck_assert(!(usage & GNUTLS_KEY_KEY_CERT_SIGN));
    ck_assert_int_eq(gnutls_x509_crt_get_ca_status(c, &crit), 0); /* CA:FALSE */
    char oid[128];
    size_t oidlen = sizeof oid;
    ck_assert_int_ge(gnutls_x509_crt_get_key_purpose_oid(c, 0, oid, &oidlen, &crit), 0);
    ck_assert_str_eq(oid, GNUTLS_KP_TLS_WWW_SERVER);
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(c, NULL), GNUTLS_PK_ECDSA);
    gnutls_x509_crt_deinit(c);

    gnutls_x509_crt_t cac = load_crt(ca);
    ck_assert_int_gt(gnutls_x509_crt_get_ca_status(cac, &crit), 0); /* CA:TRUE */
    ck_assert_uint_eq(crit, 1);
    ck_assert_int_ge(gnutls_x509_crt_get_key_usage(cac, &usage, &crit), 0);
    ck_assert(usage & GNUTLS_KEY_KEY_CERT_SIGN);
    unsigned pathlen = 99;
    unsigned isca;
    ck_assert_int_ge(gnutls_x509_crt_get_basic_constraints(cac, &crit, &isca, (int *)&pathlen), 0);
    ck_assert_uint_eq(pathlen, 0); /* it only signs end-entity certificates */
    gnutls_x509_crt_deinit(cac);
}
END_TEST

START_TEST(validity_backdated_and_days_honoured)
{
    lg_certgen_opts o = opts_for("v");
    o.now = 1900000000; /* fixed clock: 2030-03-17 */
    o.days = 90;
    o.ca_days = 400;
    create_ok(&o);
    gnutls_x509_crt_t c = load_crt(pathf("v", "tls.crt")), ca = load_crt(pathf("v", "ca.crt"));
    ck_assert_int_eq(gnutls_x509_crt_get_activation_time(c), o.now - LG_CERT_BACKDATE_SECONDS);
    ck_assert_int_eq(gnutls_x509_crt_get_expiration_time(c), o.now + 90L * 86400);
    ck_assert_int_eq(gnutls_x509_crt_get_expiration_time(ca), o.now + 400L * 86400);
    ck_assert_int_lt(gnutls_x509_crt_get_activation_time(ca), o.now);
    gnutls_x509_crt_deinit(c);
    gnutls_x509_crt_deinit(ca);
}
END_TEST

START_TEST(serials_random_positive)
{
    lg_certgen_opts a = opts_for("a"), b = opts_for("b");
    create_ok(&a);
    create_ok(&b);
    unsigned char s[4][64];
    size_t n[4];
    const char *files[4] = {pathf("a", "ca.crt"), pathf("a", "tls.crt"), pathf("b", "ca.crt"),
                            pathf("b", "tls.crt")};
    for (int i = 0; i < 4; i++) {
        gnutls_x509_crt_t c = load_crt(files[i]);
        n[i] = sizeof s[i];
        ck_assert_int_ge(gnutls_x509_crt_get_serial(c, s[i], &n[i]), 0);
        ck_assert_uint_ge(n[i], 16); /* >= 64 bits of entropy as CA/B asks; we use 126 */
        ck_assert_uint_eq(s[i][0] & 0x80, 0); /* positive */
        gnutls_x509_crt_deinit(c);
    }
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            ck_assert(n[i] != n[j] || memcmp(s[i], s[j], n[i]) != 0);
}
END_TEST

START_TEST(key_files_0600_whatever_the_umask)
{
    mode_t old = umask(0); /* modes must come from open(), not from a lucky umask */
    lg_certgen_opts o = opts_for("m");
    o.client = "apiserver";
    create_ok(&o);
    umask(old);
    ck_assert_uint_eq(file_mode(pathf("m", "ca.key")), 0600);
    ck_assert_uint_eq(file_mode(pathf("m", "tls.key")), 0600);
    ck_assert_uint_eq(file_mode(pathf("m", "client.key")), 0600);
    ck_assert_uint_eq(file_mode(pathf("m", "ca.crt")), 0644);
    ck_assert_uint_eq(file_mode(pathf("m", "tls.crt")), 0644);
    ck_assert_uint_eq(file_mode(pathf("m", "")) & 0777, 0700); /* created for us */
    /* replacing (--force) goes through new files, and keeps the modes */
    o.force = true;
    umask(0);
    create_ok(&o);
    umask(old);
    ck_assert_uint_eq(file_mode(pathf("m", "tls.key")), 0600);
    ck_assert_uint_eq(file_mode(pathf("m", "ca.key")), 0600);
}
END_TEST

START_TEST(refuses_to_overwrite)
{
    lg_certgen_opts o = opts_for("o");
    create_ok(&o);
    copy_file(pathf("o", "ca.crt"), pathf("", "ca.before"));
    copy_file(pathf("o", "tls.key"), pathf("", "key.before"));
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_create(&o, NULL, &d), LG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(d.msg, "refusing to overwrite"));
    ck_assert(same_file_bytes(pathf("o", "ca.crt"), pathf("", "ca.before")));
    ck_assert(same_file_bytes(pathf("o", "tls.key"), pathf("", "key.before")));

    /* one existing target is enough, and then nothing at all is written */
    lg_certgen_opts p = opts_for("p");
    mkdir(pathf("p", ""), 0700);
    copy_file(pathf("", "key.before"), pathf("p", "tls.key"));
    ck_assert_int_eq(lg_certgen_create(&p, NULL, &d), LG_ERR_IO);
    ck_assert(!file_exists(pathf("p", "ca.crt")));
    ck_assert(!file_exists(pathf("p", "ca.key")));
    ck_assert(!file_exists(pathf("p", "tls.crt")));

    /* a symlink planted as a target counts as existing, and is not followed */
    lg_certgen_opts q = opts_for("q");
    mkdir(pathf("q", ""), 0700);
    ck_assert_int_eq(symlink(pathf("", "victim"), pathf("q", "ca.key")), 0);
    ck_assert_int_eq(lg_certgen_create(&q, NULL, &d), LG_ERR_IO);
    ck_assert(!file_exists(pathf("", "victim")));

    /* --force replaces the whole set: a new CA */
    o.force = true;
    create_ok(&o);
    ck_assert(!same_file_bytes(pathf("o", "ca.crt"), pathf("", "ca.before")));
    ck_assert_uint_eq(verify_as_client(pathf("o", "ca.crt"), pathf("o", "tls.crt"),
                                       "lanegate.lanegate-system.svc", GNUTLS_KP_TLS_WWW_SERVER), 0);
}
END_TEST

START_TEST(renew_keeps_ca)
{
    lg_certgen_opts o = opts_for("r");
    create_ok(&o);
    copy_file(pathf("r", "ca.crt"), pathf("", "ca.before"));
    copy_file(pathf("r", "tls.crt"), pathf("", "tls.before"));
    char *b1 = NULL, *b2 = NULL;
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_ca_bundle(o.dir, &b1, &d), LG_OK);
    o.renew = true;
    o.client = "apiserver";
    ck_assert_int_eq(lg_certgen_create(&o, &b2, &d), LG_OK);
    ck_assert_str_eq(b1, b2); /* caBundle unchanged: no webhook configuration to touch */
    ck_assert(same_file_bytes(pathf("r", "ca.crt"), pathf("", "ca.before")));
    ck_assert(!same_file_bytes(pathf("r", "tls.crt"), pathf("", "tls.before")));
    ck_assert_uint_eq(file_mode(pathf("r", "tls.key")), 0600);
    ck_assert_uint_eq(verify_as_client(pathf("r", "ca.crt"), pathf("r", "tls.crt"),
                                       "lanegate.lanegate-system.svc", GNUTLS_KP_TLS_WWW_SERVER), 0);
    ck_assert_uint_eq(verify_as_client(pathf("r", "ca.crt"), pathf("r", "client.crt"), NULL,
                                       GNUTLS_KP_TLS_WWW_CLIENT), 0);
    free(b1);
    free(b2);

    /* a certificate may not outlive the CA it is renewed from */
    o.days = 3651;
    ck_assert_int_eq(lg_certgen_create(&o, NULL, &d), LG_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "outlive"));
    /* no CA to renew from */
    lg_certgen_opts e = opts_for("empty");
    e.renew = true;
    ck_assert_int_eq(lg_certgen_create(&e, NULL, &d), LG_ERR_IO);
}
END_TEST

START_TEST(rsa_variant)
{
    lg_certgen_opts o = opts_for("rsa");
    o.key_type = LG_KEY_RSA;
    o.rsa_bits = 2048;
    create_ok(&o);
    gnutls_x509_crt_t c = load_crt(pathf("rsa", "tls.crt"));
    unsigned bits = 0, usage = 0, crit;
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(c, &bits), GNUTLS_PK_RSA);
    ck_assert_uint_eq(bits, 2048);
    ck_assert_int_ge(gnutls_x509_crt_get_key_usage(c, &usage, &crit), 0);
    ck_assert(usage & GNUTLS_KEY_KEY_ENCIPHERMENT); /* TLS 1.2 RSA key exchange */
    gnutls_x509_crt_deinit(c);
    ck_assert_uint_eq(verify_as_client(pathf("rsa", "ca.crt"), pathf("rsa", "tls.crt"),
                                       "lanegate.lanegate-system.svc", GNUTLS_KP_TLS_WWW_SERVER), 0);

    lg_certgen_opts p = opts_for("rsa3072");
    p.key_type = LG_KEY_RSA; /* default size */
    create_ok(&p);
    c = load_crt(pathf("rsa3072", "ca.crt"));
    ck_assert_int_eq(gnutls_x509_crt_get_pk_algorithm(c, &bits), GNUTLS_PK_RSA);
    ck_assert_uint_eq(bits, 3072);
    gnutls_x509_crt_deinit(c);
}
END_TEST

START_TEST(client_certificate)
{
    lg_certgen_opts o = opts_for("c");
    o.client = "kube-apiserver";
    create_ok(&o);
    ck_assert_uint_eq(verify_as_client(pathf("c", "ca.crt"), pathf("c", "client.crt"), NULL,
                                       GNUTLS_KP_TLS_WWW_CLIENT), 0);
    ck_assert_uint_ne(verify_as_client(pathf("c", "ca.crt"), pathf("c", "client.crt"), NULL,
                                       GNUTLS_KP_TLS_WWW_SERVER), 0);
    gnutls_x509_crt_t c = load_crt(pathf("c", "client.crt"));
    char cn[128];
    size_t n = sizeof cn;
    ck_assert_int_ge(gnutls_x509_crt_get_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &n), 0);
    ck_assert_str_eq(cn, "kube-apiserver");
    gnutls_x509_crt_deinit(c);
}
END_TEST

START_TEST(ca_bundle_is_base64_of_ca_crt)
{
    /* known vectors, all three padding cases */
    static const struct { const char *in, *out; } v[] = {
        {"", ""}, {"h", "aA=="}, {"he", "aGU="}, {"hel", "aGVs"}, {"hello\n", "aGVsbG8K"},
    };
    mkdir(pathf("b", ""), 0700);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        FILE *f = fopen(pathf("b", "ca.crt"), "wb");
        fputs(v[i].in, f);
        fclose(f);
        char *b64 = NULL;
        lg_diag d = {0};
        ck_assert_int_eq(lg_certgen_ca_bundle(pathf("b", ""), &b64, &d), LG_OK);
        ck_assert_str_eq(b64, v[i].out);
        free(b64);
    }
    /* the bundle handed back by create is the one of the file it wrote */
    lg_certgen_opts o = opts_for("b2");
    char *b = NULL, *again = NULL;
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_create(&o, &b, &d), LG_OK);
    ck_assert_int_eq(lg_certgen_ca_bundle(o.dir, &again, &d), LG_OK);
    ck_assert_str_eq(b, again);
    gnutls_datum_t in = {(unsigned char *)b, (unsigned)strlen(b)}, out;
    ck_assert_int_ge(gnutls_base64_decode2(&in, &out), 0);
    gnutls_datum_t file = slurp(pathf("b2", "ca.crt"));
    ck_assert_uint_eq(out.size, file.size);
    ck_assert_int_eq(memcmp(out.data, file.data, out.size), 0);
    gnutls_free(out.data);
    free(file.data);
    free(b);
    free(again);
}
END_TEST

/* ---- option validation ------------------------------------------------------ */

START_TEST(bad_options_rejected)
{
    lg_diag d = {0};
    lg_certgen_opts o = opts_for("x");
    ck_assert_int_eq(lg_certgen_validate(&o, &d), LG_OK);

    static const char *bad_services[] = {"", "Lanegate", "1lanegate", "lane_gate", "-lg", "lg-",
        "a234567890123456789012345678901234567890123456789012345678901234"}; /* 64 */
    for (size_t i = 0; i < sizeof bad_services / sizeof *bad_services; i++) {
        lg_certgen_opts b = o;
        b.service = bad_services[i];
        ck_assert_msg(lg_certgen_validate(&b, &d) == LG_ERR_INPUT, "service '%s'", bad_services[i]);
    }
    lg_certgen_opts b = o;
    b.service = "a23456789012345678901234567890123456789012345678901234567890123"; /* 63: ok */
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    b = o;
    b.namespace = "1-namespace-may-start-with-a-digit";
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    b.namespace = "kube_system";
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);

    unsigned days[][2] = {{0, 3650}, {36501, 36500}, {365, 0}, {365, 36501}, {400, 399}};
    for (size_t i = 0; i < 5; i++) {
        b = o;
        b.days = days[i][0];
        b.ca_days = days[i][1];
        ck_assert_msg(lg_certgen_validate(&b, &d) == LG_ERR_INPUT, "days %u/%u", days[i][0],
                      days[i][1]);
    }
    b = o;
    b.days = b.ca_days = 36500; /* the edge is allowed */
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);

    b = o;
    b.key_type = LG_KEY_RSA;
    b.rsa_bits = 4096;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);
    b.rsa_bits = 1024;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);

    static const char *bad_dns[] = {"", "-a.example", "a..b", "a.", ".a", "a_b.example",
        "x*.example", "*.", "a-.example", "exa mple",
        "a234567890123456789012345678901234567890123456789012345678901234.example"};
    for (size_t i = 0; i < sizeof bad_dns / sizeof *bad_dns; i++) {
        b = o;
        b.dns = &bad_dns[i];
        b.ndns = 1;
        ck_assert_msg(lg_certgen_validate(&b, &d) == LG_ERR_INPUT, "dns '%s'", bad_dns[i]);
    }
    static const char *good_dns[] = {"localhost", "*.lanegate-system.svc", "Host-1.Example.org"};
    b = o;
    b.dns = good_dns;
    b.ndns = 3;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    /* 253 characters is the longest DNS name; 254 is one too many */
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (int i = 63; i < 300; i += 64)
        longname[i] = '.';
    longname[253] = '\0';
    const char *ln = longname;
    b.dns = &ln;
    b.ndns = 1;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    longname[253] = 'a';
    longname[254] = '\0';
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);

    static const char *bad_ips[] = {"", "1.2.3", "256.1.1.1", "::g", "localhost", "1.2.3.4/32"};
    for (size_t i = 0; i < sizeof bad_ips / sizeof *bad_ips; i++) {
        b = o;
        b.ips = &bad_ips[i];
        b.nips = 1;
        ck_assert_msg(lg_certgen_validate(&b, &d) == LG_ERR_INPUT, "ip '%s'", bad_ips[i]);
    }

    /* the name limit, at the edge and past it */
    const char *many[LG_CERT_MAX_NAMES + 1];
    for (size_t i = 0; i <= LG_CERT_MAX_NAMES; i++)
        many[i] = "localhost";
    b = o;
    b.dns = many;
    b.ndns = LG_CERT_MAX_NAMES;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    b.ndns = LG_CERT_MAX_NAMES + 1;
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);

    b = o;
    b.client = "a234567890123456789012345678901234567890123456789012345678901234"; /* 64 */
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_OK);
    b.client = "a2345678901234567890123456789012345678901234567890123456789012345"; /* 65 */
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);
    b.client = "bad\nname";
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);
    b = o;
    b.dir = "";
    ck_assert_int_eq(lg_certgen_validate(&b, &d), LG_ERR_INPUT);

    /* create validates too, and writes nothing */
    b = o;
    b.days = 0;
    ck_assert_int_eq(lg_certgen_create(&b, NULL, &d), LG_ERR_INPUT);
    ck_assert(!file_exists(pathf("x", "")));
}
END_TEST

/* ---- checking --------------------------------------------------------------- */

START_TEST(check_expiry_threshold)
{
    time_t now = time(NULL);
    static const struct { unsigned days; long at; bool fails; } cases[] = {
        {10, 0, true}, {365, 0, false},
        {30, 0, true},      /* exactly 30 days left: that is within 30 days */
        {31, 0, false},
        {31, 86399, false}, /* one second more than 30 days left */
        {31, 86400, true},  /* exactly 30 days left */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char sub[16];
        snprintf(sub, sizeof sub, "e%zu", i);
        lg_certgen_opts o = opts_for(sub);
        o.days = cases[i].days;
        o.now = now;
        create_ok(&o);
        lg_cert_report r;
        lg_diag d = {0};
        ck_assert_int_eq(lg_certgen_check(o.dir, now + cases[i].at, 30, NULL, 0, &r, &d), LG_OK);
        ck_assert_msg((r.nproblems > 0) == cases[i].fails, "days %u at +%lds: %zu problems",
                      cases[i].days, cases[i].at, r.nproblems);
        if (cases[i].fails)
            ck_assert(report_has(&r, "tls.crt expires in"));
        ck_assert(r.serving.chains && r.serving.purpose_ok && r.serving.key_matches);
        lg_cert_report_free(&r);
    }
}
END_TEST

START_TEST(check_reports_expired_and_ca_expiry)
{
    lg_certgen_opts o = opts_for("old");
    o.now = time(NULL) - 40 * 86400L;
    o.days = 35;
    o.ca_days = 50;
    create_ok(&o);
    lg_cert_report r;
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, NULL, 0, &r, &d), LG_OK);
    ck_assert(report_has(&r, "tls.crt has expired"));
    ck_assert(report_has(&r, "ca.crt certificate 1"));
    ck_assert_int_lt(r.serving.days_left, 0);
    ck_assert_int_eq(r.serving.days_left, -5);
    ck_assert(r.serving.chains); /* chain and expiry are reported apart */
    lg_cert_report_free(&r);
}
END_TEST

START_TEST(check_report_contents)
{
    lg_certgen_opts o = opts_for("rep");
    /* a name given twice, or one of the Service names again, is one SAN */
    const char *dns[] = {"localhost", "lanegate.lanegate-system.svc", "localhost"};
    const char *ips[] = {"127.0.0.1", "127.0.0.1"};
    o.dns = dns;
    o.ndns = 3;
    o.ips = ips;
    o.nips = 2;
    o.client = "apiserver";
    create_ok(&o);
    lg_cert_report r;
    lg_diag d = {0};
    const char *names[] = {"lanegate", "lanegate.lanegate-system.svc"};
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, names, 2, &r, &d), LG_OK);
    ck_assert_uint_eq(r.nproblems, 0);
    ck_assert_uint_eq(r.ncas, 1);
    ck_assert(r.cas[0].is_ca);
    ck_assert_str_eq(r.serving.subject, "CN=lanegate.lanegate-system.svc,O=lanegate");
    ck_assert_uint_eq(r.serving.nsans, 6);
    ck_assert_str_eq(r.serving.sans[0], "DNS:lanegate");
    ck_assert_str_eq(r.serving.sans[3], "DNS:lanegate.lanegate-system.svc.cluster.local");
    ck_assert_str_eq(r.serving.sans[4], "DNS:localhost");
    ck_assert_str_eq(r.serving.sans[5], "IP:127.0.0.1");
    ck_assert_int_eq(r.serving.days_left, 365);
    ck_assert(r.client.present && r.client.chains && r.client.purpose_ok && r.client.key_matches);
    lg_cert_report_free(&r);

    /* names the certificate was not made for */
    const char *other[] = {"webhook.other.svc"};
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, other, 1, &r, &d), LG_OK);
    ck_assert(report_has(&r, "no subject alternative name for webhook.other.svc"));
    lg_cert_report_free(&r);
}
END_TEST

START_TEST(check_chain_and_key_mismatch)
{
    lg_certgen_opts a = opts_for("a"), b = opts_for("b");
    create_ok(&a);
    create_ok(&b);
    /* b's serving pair under a's CA: does not chain */
    copy_file(pathf("b", "tls.crt"), pathf("a", "tls.crt"));
    copy_file(pathf("b", "tls.key"), pathf("a", "tls.key"));
    lg_cert_report r;
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_check(a.dir, 0, 30, NULL, 0, &r, &d), LG_OK);
    ck_assert(report_has(&r, "tls.crt does not chain to ca.crt"));
    ck_assert(!report_has(&r, "private key"));
    lg_cert_report_free(&r);
    /* right certificate, wrong key */
    copy_file(pathf("a", "ca.key"), pathf("b", "tls.key"));
    ck_assert_int_eq(lg_certgen_check(b.dir, 0, 30, NULL, 0, &r, &d), LG_OK);
    ck_assert(report_has(&r, "tls.crt does not match its private key"));
    ck_assert(!report_has(&r, "chain"));
    lg_cert_report_free(&r);
    /* a CA bundle holding the old and the new CA (rotation) trusts both */
    FILE *f = fopen(pathf("", "bundle.crt"), "wb");
    size_t n1, n2;
    char *c1 = lgt_read_file(pathf("a", "ca.crt"), &n1), *c2 = lgt_read_file(pathf("b", "ca.crt"), &n2);
    fwrite(c1, 1, n1, f);
    fwrite(c2, 1, n2, f);
    fclose(f);
    free(c1);
    free(c2);
    copy_file(pathf("", "bundle.crt"), pathf("a", "ca.crt"));
    ck_assert_int_eq(lg_certgen_check(a.dir, 0, 30, NULL, 0, &r, &d), LG_OK);
    ck_assert_uint_eq(r.ncas, 2);
    ck_assert_uint_eq(r.nproblems, 0);
    lg_cert_report_free(&r);
}
END_TEST

START_TEST(check_bad_files)
{
    lg_cert_report r;
    lg_diag d = {0};
    ck_assert_int_eq(lg_certgen_check(pathf("missing", ""), 0, 30, NULL, 0, &r, &d), LG_ERR_IO);
    lg_certgen_opts o = opts_for("f");
    create_ok(&o);
    unlink(pathf("f", "tls.key"));
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, NULL, 0, &r, &d), LG_ERR_IO);
    ck_assert_ptr_nonnull(strstr(d.file, "tls.key"));

    /* garbage, at the size limit and past it */
    FILE *f = fopen(pathf("f", "ca.crt"), "wb");
    for (unsigned i = 0; i < LG_CERT_MAX_FILE; i++)
        fputc('x', f);
    fclose(f);
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, NULL, 0, &r, &d), LG_ERR_INPUT);
    ck_assert_ptr_null(strstr(d.msg, "too large"));
    f = fopen(pathf("f", "ca.crt"), "ab");
    fputc('x', f);
    fclose(f);
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, NULL, 0, &r, &d), LG_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(d.msg, "too large"));
    /* a directory where a file should be */
    unlink(pathf("f", "ca.crt"));
    mkdir(pathf("f", "ca.crt"), 0700);
    ck_assert_int_eq(lg_certgen_check(o.dir, 0, 30, NULL, 0, &r, &d), LG_ERR_IO);
}
END_TEST

/* ---- a real TLS handshake with the generated files --------------------------- */

typedef struct peer {
    int fd;
    const char *crt, *key, *ca; /* ca: verify the peer with it */
    const char *host;           /* client: expected server name */
    bool require_client;        /* server: mTLS */
    int result;                 /* handshake return */
    unsigned verify;            /* client: verification status */
} peer;

static gnutls_certificate_credentials_t creds_for(const peer *p)
{
    gnutls_certificate_credentials_t x;
    ck_assert_int_ge(gnutls_certificate_allocate_credentials(&x), 0);
    if (p->crt)
        ck_assert_int_ge(gnutls_certificate_set_x509_key_file(x, p->crt, p->key, GNUTLS_X509_FMT_PEM), 0);
    if (p->ca)
        ck_assert_int_gt(gnutls_certificate_set_x509_trust_file(x, p->ca, GNUTLS_X509_FMT_PEM), 0);
    return x;
}

static void *server_side(void *arg)
{
    peer *p = arg;
    gnutls_certificate_credentials_t x = creds_for(p);
    gnutls_session_t s;
    gnutls_init(&s, GNUTLS_SERVER);
    gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x);
    if (p->require_client)
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    gnutls_transport_set_int(s, p->fd);
    gnutls_handshake_set_timeout(s, 10000);
    do
        p->result = gnutls_handshake(s);
    while (p->result < 0 && !gnutls_error_is_fatal(p->result));
    if (p->result >= 0 && p->require_client) {
        /* the server verifies the client certificate itself */
        p->result = gnutls_certificate_verify_peers2(s, &p->verify) < 0 || p->verify ? -1 : 0;
    }
    if (p->result >= 0) {
        char buf[8];
        ssize_t n;
        do
            n = gnutls_record_recv(s, buf, sizeof buf);
        while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
        if (n == 4)
            gnutls_record_send(s, "pong", 4);
    }
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(x);
    close(p->fd);
    return NULL;
}

/* Handshakes a client (verifying the server as p_client says) against a
 * server; returns true when the handshake and one round trip succeed. */
static bool handshake(peer *srv, peer *cli)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    srv->fd = sv[0];
    cli->fd = sv[1];
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, server_side, srv), 0);

    gnutls_certificate_credentials_t x = creds_for(cli);
    gnutls_session_t s;
    gnutls_init(&s, GNUTLS_CLIENT);
    gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", NULL);
    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, x);
    gnutls_server_name_set(s, GNUTLS_NAME_DNS, cli->host, strlen(cli->host));
    gnutls_session_set_verify_cert(s, cli->host, 0); /* chain + hostname, as curl does */
    gnutls_transport_set_int(s, cli->fd);
    gnutls_handshake_set_timeout(s, 10000);
    do
        cli->result = gnutls_handshake(s);
    while (cli->result < 0 && !gnutls_error_is_fatal(cli->result));
    cli->verify = gnutls_session_get_verify_cert_status(s);
    bool ok = cli->result >= 0;
    if (ok) {
        char buf[8] = "";
        ok = gnutls_record_send(s, "ping", 4) == 4;
        ssize_t n = 0;
        if (ok) {
            do
                n = gnutls_record_recv(s, buf, sizeof buf);
            while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
        }
        ok = ok && n == 4 && memcmp(buf, "pong", 4) == 0;
    }
    gnutls_deinit(s);
    gnutls_certificate_free_credentials(x);
    shutdown(cli->fd, SHUT_RDWR);
    close(cli->fd);
    pthread_join(t, NULL);
    return ok && srv->result >= 0;
}

START_TEST(tls_handshake_with_generated_certs)
{
    static const struct { lg_key_type type; const char *host; } cases[] = {
        {LG_KEY_ECDSA_P256, "lanegate.lanegate-system.svc"},
        {LG_KEY_ECDSA_P256, "localhost"},
        {LG_KEY_RSA, "lanegate.lanegate-system.svc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char sub[8];
        snprintf(sub, sizeof sub, "h%zu", i);
        lg_certgen_opts o = opts_for(sub);
        const char *dns[] = {"localhost"};
        o.dns = dns;
        o.ndns = 1;
        o.key_type = cases[i].type;
        o.rsa_bits = 2048;
        create_ok(&o);
        char crt[512], key[512], ca[512];
        snprintf(crt, sizeof crt, "%s", pathf(sub, "tls.crt"));
        snprintf(key, sizeof key, "%s", pathf(sub, "tls.key"));
        snprintf(ca, sizeof ca, "%s", pathf(sub, "ca.crt"));
        peer srv = {.crt = crt, .key = key};
        peer cli = {.ca = ca, .host = cases[i].host};
        ck_assert_msg(handshake(&srv, &cli), "case %zu: client %s, server %s", i,
                      gnutls_strerror(cli.result), gnutls_strerror(srv.result));
        /* the same server under a name it was not issued for: refused */
        peer srv2 = {.crt = crt, .key = key};
        peer cli2 = {.ca = ca, .host = "lanegate.elsewhere.svc"};
        ck_assert(!handshake(&srv2, &cli2));
        ck_assert(cli2.verify & GNUTLS_CERT_UNEXPECTED_OWNER);
    }
}
END_TEST

START_TEST(mtls_handshake_with_client_cert)
{
    lg_certgen_opts o = opts_for("mt"), other = opts_for("other");
    o.client = "kube-apiserver";
    other.client = "intruder";
    create_ok(&o);
    create_ok(&other);
    char crt[512], key[512], ca[512], ccrt[512], ckey[512], occrt[512], ockey[512];
    snprintf(crt, sizeof crt, "%s", pathf("mt", "tls.crt"));
    snprintf(key, sizeof key, "%s", pathf("mt", "tls.key"));
    snprintf(ca, sizeof ca, "%s", pathf("mt", "ca.crt"));
    snprintf(ccrt, sizeof ccrt, "%s", pathf("mt", "client.crt"));
    snprintf(ckey, sizeof ckey, "%s", pathf("mt", "client.key"));
    snprintf(occrt, sizeof occrt, "%s", pathf("other", "client.crt"));
    snprintf(ockey, sizeof ockey, "%s", pathf("other", "client.key"));

    peer srv = {.crt = crt, .key = key, .ca = ca, .require_client = true};
    peer cli = {.crt = ccrt, .key = ckey, .ca = ca, .host = "lanegate.lanegate-system.svc"};
    ck_assert_msg(handshake(&srv, &cli), "client %s, server %s", gnutls_strerror(cli.result),
                  gnutls_strerror(srv.result));
    /* a client certificate from another CA is refused by the server */
    peer srv2 = {.crt = crt, .key = key, .ca = ca, .require_client = true};
    peer cli2 = {.crt = occrt, .key = ockey, .ca = ca, .host = "lanegate.lanegate-system.svc"};
    ck_assert(!handshake(&srv2, &cli2));
    /* and so is no client certificate at all */
    peer srv3 = {.crt = crt, .key = key, .ca = ca, .require_client = true};
    peer cli3 = {.ca = ca, .host = "lanegate.lanegate-system.svc"};
    ck_assert(!handshake(&srv3, &cli3));
}
END_TEST

static Suite *certgen_suite(void)
{
    Suite *s = suite_create("certgen");
    TCase *t = tcase_create("generate");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 60);
    tcase_add_test(t, chain_verifies_with_sans_and_purposes);
    tcase_add_test(t, validity_backdated_and_days_honoured);
    tcase_add_test(t, serials_random_positive);
    tcase_add_test(t, key_files_0600_whatever_the_umask);
    tcase_add_test(t, refuses_to_overwrite);
    tcase_add_test(t, renew_keeps_ca);
    tcase_add_test(t, rsa_variant);
    tcase_add_test(t, client_certificate);
    tcase_add_test(t, ca_bundle_is_base64_of_ca_crt);
    tcase_add_test(t, bad_options_rejected);
    suite_add_tcase(s, t);
    TCase *c = tcase_create("check");
    tcase_add_checked_fixture(c, setup, teardown);
    tcase_set_timeout(c, 60);
    tcase_add_test(c, check_expiry_threshold);
    tcase_add_test(c, check_reports_expired_and_ca_expiry);
    tcase_add_test(c, check_report_contents);
    tcase_add_test(c, check_chain_and_key_mismatch);
    tcase_add_test(c, check_bad_files);
    suite_add_tcase(s, c);
    TCase *h = tcase_create("handshake");
    tcase_add_checked_fixture(h, setup, teardown);
    tcase_set_timeout(h, 60);
    tcase_add_test(h, tls_handshake_with_generated_certs);
    tcase_add_test(h, mtls_handshake_with_client_cert);
    suite_add_tcase(s, h);
    return s;
}

LGT_MAIN(certgen_suite)
