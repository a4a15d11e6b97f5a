/* certgen.c — CA, serving and client certificates with GnuTLS, and checking
 * an existing set.
 *
 * Invariants: never prints, exits or reads the environment; every failure is
 * an lg_status plus an lg_diag message. Private keys are created with mode
 * 0600 by open(O_CREAT|O_EXCL) (never chmod'ed after the fact); without
 * `force` an existing target is never replaced, and nothing is written when
 * any target exists. Replacing goes through a temporary file and rename(), so
 * a reader (the server's cert reload) sees the old or the new file, never half
 * of one. Thread-safe: no globals. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "certgen.h"
#include "util.h"

#define SECONDS_PER_DAY 86400L

void lg_certgen_opts_init(lg_certgen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->service = "lanegate";
    o->namespace = "lanegate-system";
    o->days = 365;
    o->ca_days = 3650;
    o->key_type = LG_KEY_ECDSA_P256;
    o->rsa_bits = 3072;
}

/* ---- small helpers ---------------------------------------------------- */

static lg_status gt_fail(lg_diag *d, const char *what, int ret)
{
    lg_diag_set(d, NULL, 0, 0, "%s: %s", what, gnutls_strerror(ret));
    return ret == GNUTLS_E_MEMORY_ERROR ? LG_ERR_NOMEM : LG_ERR_INPUT;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return lg_strfmt("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Plain base64 (RFC 4648, padded, no line breaks). */
static char *base64(const unsigned char *p, size_t n)
{
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out)
        return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *o++ = b64chars[v >> 18 & 63];
        *o++ = b64chars[v >> 12 & 63];
        *o++ = b64chars[v >> 6 & 63];
        *o++ = b64chars[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
        *o++ = b64chars[v >> 18 & 63];
        *o++ = b64chars[v >> 12 & 63];
        *o++ = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

/* Reads a whole file of at most LG_CERT_MAX_FILE bytes. */
static lg_status read_file(const char *path, gnutls_datum_t *out, lg_diag *d)
{
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lg_diag_set(d, path, 0, 0, "cannot open: %s", strerror(errno));
        return LG_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lg_diag_set(d, path, 0, 0, "not a regular file");
        close(fd);
        return LG_ERR_IO;
    }
    if (st.st_size > (off_t)LG_CERT_MAX_FILE) {
        lg_diag_set(d, path, 0, 0, "file too large (%lld bytes, limit %u)",
                    (long long)st.st_size, LG_CERT_MAX_FILE);
        close(fd);
        return LG_ERR_INPUT;
    }
    unsigned char *buf = malloc(LG_CERT_MAX_FILE + 1);
    if (!buf) {
        close(fd);
        return LG_ERR_NOMEM;
    }
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, LG_CERT_MAX_FILE + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            lg_diag_set(d, path, 0, 0, "read: %s", strerror(errno));
            free(buf);
            close(fd);
            return LG_ERR_IO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > LG_CERT_MAX_FILE) { /* grew while we read */
            lg_diag_set(d, path, 0, 0, "file too large (limit %u bytes)", LG_CERT_MAX_FILE);
            free(buf);
            close(fd);
            return LG_ERR_INPUT;
        }
    }
    close(fd);
    buf[len] = '\0';
    out->data = buf;
    out->size = (unsigned)len;
    return LG_OK;
}

static bool is_dns1123_label(const char *s, bool letter_first)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-')
            return false;
    }
    if (s[0] == '-' || s[n - 1] == '-')
        return false;
    if (letter_first && !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    return true;
}

/* A DNS name for a SAN: labels of [A-Za-z0-9-] (1-63), total <= 253, and an
 * optional leading "*." wildcard label. */
static bool is_dns_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    if (s[0] == '*') {
        if (s[1] != '.' || !s[2])
            return false;
        s += 2;
    }
    size_t label = 0;
    char prev = '.';
    for (const char *p = s;; p++) {
        char c = *p;
        if (c == '.' || c == '\0') {
            if (label == 0 || prev == '-')
                return false;
            if (c == '\0')
                return true;
            label = 0;
        } else {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-';
            if (!ok || (label == 0 && c == '-') || ++label > 63)
                return false;
        }
        prev = c;
    }
}

/* Parses an IPv4 or IPv6 address into out (4 or 16 bytes). */
static bool parse_ip(const char *s, unsigned char out[16], unsigned *len)
{
    if (inet_pton(AF_INET, s, out) == 1) {
        *len = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *len = 16;
        return true;
    }
    return false;
}

static bool is_common_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) /* ub-common-name, RFC 5280 */
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

lg_status lg_certgen_service_names(const char *service, const char *ns, char *out[4])
{
    out[0] = lg_strfmt("%s", service);
    out[1] = lg_strfmt("%s.%s", service, ns);
    out[2] = lg_strfmt("%s.%s.svc", service, ns);
    out[3] = lg_strfmt("%s.%s.svc.cluster.local", service, ns);
    if (!out[0] || !out[1] || !out[2] || !out[3]) {
        for (int i = 0; i < 4; i++) {
            free(out[i]);
            out[i] = NULL;
        }
        return LG_ERR_NOMEM;
    }
    return LG_OK;
}

lg_status lg_certgen_validate(const lg_certgen_opts *o, lg_diag *d)
{
    if (!o->dir || !o->dir[0]) {
        lg_diag_set(d, NULL, 0, 0, "an output directory is required (--out DIR)");
        return LG_ERR_INPUT;
    }
    if (strlen(o->dir) > PATH_MAX - 32) {
        lg_diag_set(d, NULL, 0, 0, "output directory path too long");
        return LG_ERR_INPUT;
    }
    if (!o->service || !is_dns1123_label(o->service, true)) {
        lg_diag_set(d, NULL, 0, 0,
                    "invalid service name '%s' (a DNS-1035 label: lower-case letters, digits, "
                    "'-', at most 63, starting with a letter)",
                    o->service ? o->service : "");
        return LG_ERR_INPUT;
    }
    if (!o->namespace || !is_dns1123_label(o->namespace, false)) {
        lg_diag_set(d, NULL, 0, 0,
                    "invalid namespace '%s' (a DNS-1123 label: lower-case letters, digits, "
                    "'-', at most 63)",
                    o->namespace ? o->namespace : "");
        return LG_ERR_INPUT;
    }
    if (o->days < 1 || o->days > LG_CERT_MAX_DAYS) {
        lg_diag_set(d, NULL, 0, 0, "days must be between 1 and %u (got %u)", LG_CERT_MAX_DAYS,
                    o->days);
        return LG_ERR_INPUT;
    }
    if (o->ca_days < 1 || o->ca_days > LG_CERT_MAX_DAYS) {
        lg_diag_set(d, NULL, 0, 0, "CA days must be between 1 and %u (got %u)",
                    LG_CERT_MAX_DAYS, o->ca_days);
        return LG_ERR_INPUT;
    }
    if (!o->renew && o->days > o->ca_days) {
        lg_diag_set(d, NULL, 0, 0,
                    "the serving certificate (%u days) would outlive its CA (%u days)", o->days,
                    o->ca_days);
        return LG_ERR_INPUT;
    }
    if (o->key_type != LG_KEY_ECDSA_P256 && o->key_type != LG_KEY_RSA) {
        lg_diag_set(d, NULL, 0, 0, "unknown key type");
        return LG_ERR_INPUT;
    }
    if (o->key_type == LG_KEY_RSA && o->rsa_bits != 2048 && o->rsa_bits != 3072) {
        lg_diag_set(d, NULL, 0, 0, "RSA keys are 2048 or 3072 bits (got %u)", o->rsa_bits);
        return LG_ERR_INPUT;
    }
    if (o->ndns + o->nips > LG_CERT_MAX_NAMES) {
        lg_diag_set(d, NULL, 0, 0, "too many extra names (%zu, limit %u)", o->ndns + o->nips,
                    LG_CERT_MAX_NAMES);
        return LG_ERR_INPUT;
    }
    for (size_t i = 0; i < o->ndns; i++)
        if (!o->dns[i] || !is_dns_name(o->dns[i])) {
            lg_diag_set(d, NULL, 0, 0, "invalid DNS name '%s'", o->dns[i] ? o->dns[i] : "");
            return LG_ERR_INPUT;
        }
    for (size_t i = 0; i < o->nips; i++) {
        unsigned char ip[16];
        unsigned len;
        if (!o->ips[i] || !parse_ip(o->ips[i], ip, &len)) {
            lg_diag_set(d, NULL, 0, 0, "invalid IP address '%s'", o->ips[i] ? o->ips[i] : "");
            return LG_ERR_INPUT;
        }
    }
    if (o->client && !is_common_name(o->client)) {
        lg_diag_set(d, NULL, 0, 0,
                    "invalid client name '%s' (1-64 printable ASCII characters)", o->client);
        return LG_ERR_INPUT;
    }
    return LG_OK;
}

/* ---- keys and certificates ------------------------------------------- */

static lg_status key_generate(gnutls_x509_privkey_t *key, lg_key_type type, unsigned bits,
                              lg_diag *d)
{
    int ret = gnutls_x509_privkey_init(key);
    if (ret < 0)
        return gt_fail(d, "private key", ret);
    if (type == LG_KEY_ECDSA_P256)
        ret = gnutls_x509_privkey_generate2(*key, GNUTLS_PK_ECDSA,
                                            GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
                                            NULL, 0);
    else
        ret = gnutls_x509_privkey_generate2(*key, GNUTLS_PK_RSA, bits, 0, NULL, 0);
    if (ret < 0) {
        gnutls_x509_privkey_deinit(*key);
        *key = NULL;
        return gt_fail(d, "generating a private key", ret);
    }
    return LG_OK;
}

typedef enum cert_role { ROLE_CA, ROLE_SERVER, ROLE_CLIENT } cert_role;

typedef struct san {
    gnutls_x509_subject_alt_name_t type;
    unsigned char data[256];
    unsigned len;
} san;

typedef struct cert_spec {
    cert_role role;
    const char *cn;
    gnutls_x509_privkey_t key;       /* subject key */
    gnutls_x509_crt_t issuer;        /* NULL: self-signed */
    gnutls_x509_privkey_t issuer_key;
    time_t now;
    unsigned days;
    const san *sans;
    size_t nsans;
} cert_spec;

/* Builds and signs one certificate into *out. */
static lg_status cert_make(const cert_spec *s, gnutls_x509_crt_t *out, lg_diag *d)
{
    gnutls_x509_crt_t crt;
    int ret = gnutls_x509_crt_init(&crt);
    if (ret < 0)
        return gt_fail(d, "certificate", ret);
    const char *step = "certificate version";
    ret = gnutls_x509_crt_set_version(crt, 3);
    unsigned char serial[16];
    if (ret >= 0) {
        step = "random serial";
        ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
        serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40); /* positive, full 16 bytes */
    }
    if (ret >= 0) {
        step = "serial";
        ret = gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    }
    if (ret >= 0) {
        step = "subject";
        ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0,
                                            "lanegate", 8);
    }
    if (ret >= 0)
        ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, s->cn,
                                            (unsigned)strlen(s->cn));
    if (ret >= 0) {
        step = "validity";
        ret = gnutls_x509_crt_set_activation_time(crt, s->now - LG_CERT_BACKDATE_SECONDS);
    }
    if (ret >= 0)
        ret = gnutls_x509_crt_set_expiration_time(crt, s->now + (time_t)s->days * SECONDS_PER_DAY);
    if (ret >= 0) {
        step = "public key";
        ret = gnutls_x509_crt_set_key(crt, s->key);
    }
    unsigned char kid[64];
    size_t kidlen = sizeof kid;
    if (ret >= 0) {
        step = "subject key identifier";
        ret = gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen);
    }
    if (ret >= 0)
        ret = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
    if (ret >= 0 && s->issuer) {
        step = "authority key identifier";
        unsigned char akid[64];
        size_t akidlen = sizeof akid;
        unsigned crit;
        ret = gnutls_x509_crt_get_subject_key_id(s->issuer, akid, &akidlen, &crit);
        if (ret >= 0)
            ret = gnutls_x509_crt_set_authority_key_id(crt, akid, akidlen);
        else
            ret = 0; /* an issuer without SKI: GnuTLS falls back to the issuer's key */
    }
    if (ret >= 0) {
        step = "basic constraints";
        /* CA: pathLen 0, it signs end-entity certificates only. */
        ret = s->role == ROLE_CA ? gnutls_x509_crt_set_basic_constraints(crt, 1, 0)
                                 : gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    }
    if (ret >= 0) {
        step = "key usage";
        unsigned usage;
        if (s->role == ROLE_CA)
            usage = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN | GNUTLS_KEY_DIGITAL_SIGNATURE;
        else {
            usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
            /* RSA key exchange (TLS 1.2 without ECDHE) encrypts to the key. */
            if (gnutls_x509_privkey_get_pk_algorithm(s->key) == GNUTLS_PK_RSA)
                usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
        }
        ret = gnutls_x509_crt_set_key_usage(crt, usage);
    }
    if (ret >= 0 && s->role != ROLE_CA) {
        step = "extended key usage";
        ret = gnutls_x509_crt_set_key_purpose_oid(
            crt, s->role == ROLE_SERVER ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT, 0);
    }
    for (size_t i = 0; ret >= 0 && i < s->nsans; i++) {
        step = "subject alternative name";
        ret = gnutls_x509_crt_set_subject_alt_name(crt, s->sans[i].type, s->sans[i].data,
                                                   s->sans[i].len, GNUTLS_FSAN_APPEND);
    }
    if (ret >= 0) {
        step = "signing";
        ret = gnutls_x509_crt_sign2(crt, s->issuer ? s->issuer : crt,
                                    s->issuer ? s->issuer_key : s->key, GNUTLS_DIG_SHA256, 0);
    }
    if (ret < 0) {
        gnutls_x509_crt_deinit(crt);
        return gt_fail(d, step, ret);
    }
    *out = crt;
    return LG_OK;
}

/* ---- writing files ----------------------------------------------------- */

typedef struct out_file {
    const char *name;
    gnutls_datum_t data; /* gnutls-allocated */
    mode_t mode;
    bool replace;        /* may replace an existing file */
    char *path, *tmp;
    bool created;        /* path (or tmp) exists because of us */
} out_file;

static lg_status write_all_fd(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return LG_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return fsync(fd) == 0 ? LG_OK : LG_ERR_IO;
}

/* Creates path with mode at open() time; fails if it exists (O_EXCL does not
 * follow a symlink planted there either). */
static lg_status create_file(const char *path, mode_t mode, const gnutls_datum_t *data,
                             lg_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        lg_diag_set(d, path, 0, 0, "cannot create: %s", strerror(errno));
        return LG_ERR_IO;
    }
    lg_status st = write_all_fd(fd, data->data, data->size);
    if (close(fd) != 0)
        st = LG_ERR_IO;
    if (st != LG_OK) {
        lg_diag_set(d, path, 0, 0, "write failed: %s", strerror(errno));
        unlink(path);
    }
    return st;
}

static lg_status mkdir_p(const char *dir, lg_diag *d)
{
    char *p = lg_strfmt("%s", dir);
    if (!p)
        return LG_ERR_NOMEM;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            /* 0700: the directory holds private keys */
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                lg_diag_set(d, p, 0, 0, "cannot create directory: %s", strerror(errno));
                free(p);
                return LG_ERR_IO;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    bool isdir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
    if (!isdir)
        lg_diag_set(d, p, 0, 0, "not a directory");
    free(p);
    return isdir ? LG_OK : LG_ERR_IO;
}

static void out_files_free(out_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].data.data) {
            /* keys: wipe before handing the memory back */
            memset(f[i].data.data, 0, f[i].data.size);
            gnutls_free(f[i].data.data);
        }
        free(f[i].path);
        free(f[i].tmp);
    }
}

/* Writes every file or (as far as the OS lets us) none. */
static lg_status out_files_write(const char *dir, out_file *f, size_t n, bool force,
                                 lg_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        f[i].path = path_join(dir, f[i].name);
        f[i].tmp = lg_strfmt("%s/.%s.tmp-%ld", dir, f[i].name, (long)getpid());
        if (!f[i].path || !f[i].tmp)
            return LG_ERR_NOMEM;
        if (force)
            f[i].replace = true;
    }
    /* Refuse before writing anything. */
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!f[i].replace && lstat(f[i].path, &st) == 0) {
            lg_diag_set(d, f[i].path, 0, 0,
                        "already exists; refusing to overwrite (use --force to replace the "
                        "whole set, or --renew to re-issue certificates from the existing CA)");
            return LG_ERR_IO;
        }
    }
    lg_status st = LG_OK;
    size_t i = 0;
    for (; i < n && st == LG_OK; i++) {
        if (f[i].replace) {
            unlink(f[i].tmp); /* a leftover of a crashed run */
            st = create_file(f[i].tmp, f[i].mode, &f[i].data, d);
        } else {
            st = create_file(f[i].path, f[i].mode, &f[i].data, d);
        }
        f[i].created = st == LG_OK;
    }
    if (st != LG_OK) {
        for (size_t j = 0; j < n; j++)
            if (f[j].created)
                unlink(f[j].replace ? f[j].tmp : f[j].path);
        return st;
    }
    for (i = 0; i < n; i++) {
        if (!f[i].replace)
            continue;
        if (rename(f[i].tmp, f[i].path) != 0) {
            lg_diag_set(d, f[i].path, 0, 0, "cannot replace: %s", strerror(errno));
            for (size_t j = i; j < n; j++)
                if (f[j].replace)
                    unlink(f[j].tmp);
            return LG_ERR_IO;
        }
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* best effort: make the new names durable */
        close(dfd);
    }
    return LG_OK;
}

/* ---- generation ---------------------------------------------------------- */

/* Adds a SAN unless an identical one is already there. */
static void san_add(san *v, size_t *n, gnutls_x509_subject_alt_name_t type, const void *data,
                    unsigned len)
{
    for (size_t i = 0; i < *n; i++)
        if (v[i].type == type && v[i].len == len && memcmp(v[i].data, data, len) == 0)
            return;
    v[*n].type = type;
    memcpy(v[*n].data, data, len);
    v[*n].len = len;
    (*n)++;
}

/* What reading a certificate/key pair leaves behind: the parsed chain, the
 * raw file contents (the key's wiped first) and the two paths. */
static void pair_files_free(gnutls_x509_crt_t *list, unsigned n, gnutls_datum_t *kdata,
                            gnutls_datum_t *cdata, char *cpath, char *kpath)
{
    for (unsigned i = 0; i < n; i++)
        if (list[i])
            gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list);
    if (kdata->data) {
        memset(kdata->data, 0, kdata->size);
        free(kdata->data);
    }
    free(cdata->data);
    free(cpath);
    free(kpath);
}

/* Loads ca.crt / ca.key of dir for --renew: the certificate of ca.crt whose
 * public key is ca.key's (ca.crt may hold an old and a new CA). */
static lg_status ca_load(const char *dir, gnutls_x509_crt_t *crt, gnutls_x509_privkey_t *key,
                         lg_diag *d)
{
    *crt = NULL;
    *key = NULL;
    char *cpath = path_join(dir, LG_CERT_CA_CRT), *kpath = path_join(dir, LG_CERT_CA_KEY);
    gnutls_datum_t cdata = {NULL, 0}, kdata = {NULL, 0};
    gnutls_x509_crt_t *list = NULL;
    unsigned nlist = 0;
    lg_status st = LG_ERR_NOMEM;
    if (!cpath || !kpath)
        goto out;
    if ((st = read_file(cpath, &cdata, d)) != LG_OK || (st = read_file(kpath, &kdata, d)) != LG_OK)
        goto out;
    int ret = gnutls_x509_privkey_init(key);
    if (ret >= 0)
        ret = gnutls_x509_privkey_import2(*key, &kdata, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (ret < 0) {
        st = gt_fail(d, kpath, ret);
        goto out;
    }
    ret = gnutls_x509_crt_list_import2(&list, &nlist, &cdata, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0) {
        st = gt_fail(d, cpath, ret);
        goto out;
    }
    unsigned char kid[64], cid[64];
    size_t kidlen = sizeof kid;
    ret = gnutls_x509_privkey_get_key_id(*key, GNUTLS_KEYID_USE_SHA256, kid, &kidlen);
    if (ret < 0) {
        st = gt_fail(d, kpath, ret);
        goto out;
    }
    for (unsigned i = 0; i < nlist && !*crt; i++) {
        size_t cidlen = sizeof cid;
        if (gnutls_x509_crt_get_key_id(list[i], GNUTLS_KEYID_USE_SHA256, cid, &cidlen) >= 0 &&
            cidlen == kidlen && memcmp(cid, kid, kidlen) == 0) {
            *crt = list[i];
            list[i] = NULL;
        }
    }
    if (!*crt) {
        lg_diag_set(d, cpath, 0, 0, "no certificate in it matches %s", kpath);
        st = LG_ERR_INPUT;
        goto out;
    }
    unsigned crit;
    if (gnutls_x509_crt_get_ca_status(*crt, &crit) <= 0) {
        lg_diag_set(d, cpath, 0, 0, "not a CA certificate (basicConstraints CA:FALSE)");
        st = LG_ERR_INPUT;
        goto out;
    }
    st = LG_OK;
out:
    pair_files_free(list, nlist, &kdata, &cdata, cpath, kpath);
    if (st != LG_OK) {
        if (*crt)
            gnutls_x509_crt_deinit(*crt);
        if (*key)
            gnutls_x509_privkey_deinit(*key);
        *crt = NULL;
        *key = NULL;
    }
    return st;
}

static lg_status export_pair(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, out_file *cf,
                             out_file *kf, lg_diag *d)
{
    int ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cf->data);
    if (ret < 0)
        return gt_fail(d, "exporting a certificate", ret);
    if (!key)
        return LG_OK;
    /* PKCS#8 "PRIVATE KEY": what GnuTLS, OpenSSL, Go and cert-manager all read. */
    ret = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                            &kf->data);
    if (ret < 0)
        return gt_fail(d, "exporting a private key", ret);
    return LG_OK;
}

lg_status lg_certgen_create(const lg_certgen_opts *o, char **ca_bundle, lg_diag *d)
{
    if (ca_bundle)
        *ca_bundle = NULL;
    lg_status st = lg_certgen_validate(o, d);
    if (st != LG_OK)
        return st;
    time_t now = o->now ? o->now : time(NULL);

    san sans[4 + LG_CERT_MAX_NAMES];
    size_t nsans = 0;
    char *svc[4] = {NULL, NULL, NULL, NULL};
    if (lg_certgen_service_names(o->service, o->namespace, svc) != LG_OK)
        return LG_ERR_NOMEM;
    for (int i = 0; i < 4; i++)
        san_add(sans, &nsans, GNUTLS_SAN_DNSNAME, svc[i], (unsigned)strlen(svc[i]));
    for (size_t i = 0; i < o->ndns; i++)
        san_add(sans, &nsans, GNUTLS_SAN_DNSNAME, o->dns[i], (unsigned)strlen(o->dns[i]));
    for (size_t i = 0; i < o->nips; i++) {
        unsigned char ip[16];
        unsigned len = 0;
        parse_ip(o->ips[i], ip, &len); /* validated above */
        san_add(sans, &nsans, GNUTLS_SAN_IPADDRESS, ip, len);
    }

    gnutls_x509_privkey_t ca_key = NULL, tls_key = NULL, cl_key = NULL;
    gnutls_x509_crt_t ca = NULL, tls = NULL, cl = NULL;
    out_file files[6];
    size_t nfiles = 0;
    memset(files, 0, sizeof files);
    /* CN is cosmetic (SANs are what clients match) but must stay <= 64. */
    const char *tls_cn = strlen(svc[2]) <= 64 ? svc[2] : svc[0];
    char *ca_cn = strlen(svc[1]) <= 52 ? lg_strfmt("lanegate-ca %s", svc[1])
                                       : lg_strfmt("%s", "lanegate-ca");
    if (!ca_cn) {
        st = LG_ERR_NOMEM;
        goto out;
    }
    if ((st = mkdir_p(o->dir, d)) != LG_OK)
        goto out;

    if (o->renew) {
        if ((st = ca_load(o->dir, &ca, &ca_key, d)) != LG_OK)
            goto out;
        time_t ca_end = gnutls_x509_crt_get_expiration_time(ca);
        if (now + (time_t)o->days * SECONDS_PER_DAY > ca_end) {
            lg_diag_set(d, NULL, 0, 0,
                        "the CA in %s expires in %ld days; a %u-day certificate would outlive it "
                        "(lower --days, or replace the CA with --force)",
                        o->dir, (long)((ca_end - now) / SECONDS_PER_DAY), o->days);
            st = LG_ERR_INPUT;
            goto out;
        }
    } else {
        if ((st = key_generate(&ca_key, o->key_type, o->rsa_bits, d)) != LG_OK)
            goto out;
        cert_spec cs = {ROLE_CA, ca_cn, ca_key, NULL, NULL, now, o->ca_days, NULL, 0};
        if ((st = cert_make(&cs, &ca, d)) != LG_OK)
            goto out;
        out_file *cf = &files[nfiles++], *kf = &files[nfiles++];
        cf->name = LG_CERT_CA_CRT;
        cf->mode = 0644;
        kf->name = LG_CERT_CA_KEY;
        kf->mode = 0600;
        if ((st = export_pair(ca, ca_key, cf, kf, d)) != LG_OK)
            goto out;
    }

    if ((st = key_generate(&tls_key, o->key_type, o->rsa_bits, d)) != LG_OK)
        goto out;
    cert_spec ss = {ROLE_SERVER, tls_cn, tls_key, ca, ca_key, now, o->days, sans, nsans};
    if ((st = cert_make(&ss, &tls, d)) != LG_OK)
        goto out;
    out_file *cf = &files[nfiles++], *kf = &files[nfiles++];
    cf->name = LG_CERT_TLS_CRT;
    cf->mode = 0644;
    cf->replace = o->renew;
    kf->name = LG_CERT_TLS_KEY;
    kf->mode = 0600;
    kf->replace = o->renew;
    if ((st = export_pair(tls, tls_key, cf, kf, d)) != LG_OK)
        goto out;

    if (o->client) {
        if ((st = key_generate(&cl_key, o->key_type, o->rsa_bits, d)) != LG_OK)
            goto out;
        cert_spec cls = {ROLE_CLIENT, o->client, cl_key, ca, ca_key, now, o->days, NULL, 0};
        if ((st = cert_make(&cls, &cl, d)) != LG_OK)
            goto out;
        out_file *ccf = &files[nfiles++], *ckf = &files[nfiles++];
        ccf->name = LG_CERT_CLIENT_CRT;
        ccf->mode = 0644;
        ccf->replace = o->renew;
        ckf->name = LG_CERT_CLIENT_KEY;
        ckf->mode = 0600;
        ckf->replace = o->renew;
        if ((st = export_pair(cl, cl_key, ccf, ckf, d)) != LG_OK)
            goto out;
    }

    if ((st = out_files_write(o->dir, files, nfiles, o->force, d)) != LG_OK)
        goto out;
    if (ca_bundle)
        st = lg_certgen_ca_bundle(o->dir, ca_bundle, d);
out:
    out_files_free(files, nfiles);
    for (int i = 0; i < 4; i++)
        free(svc[i]);
    free(ca_cn);
    if (ca)
        gnutls_x509_crt_deinit(ca);
    if (tls)
        gnutls_x509_crt_deinit(tls);
    if (cl)
        gnutls_x509_crt_deinit(cl);
    if (ca_key)
        gnutls_x509_privkey_deinit(ca_key);
    if (tls_key)
        gnutls_x509_privkey_deinit(tls_key);
    if (cl_key)
        gnutls_x509_privkey_deinit(cl_key);
    return st;
}

lg_status lg_certgen_ca_bundle(const char *dir, char **ca_bundle, lg_diag *d)
{
    *ca_bundle = NULL;
    char *path = path_join(dir, LG_CERT_CA_CRT);
    if (!path)
        return LG_ERR_NOMEM;
    gnutls_datum_t data;
    lg_status st = read_file(path, &data, d);
    free(path);
    if (st != LG_OK)
        return st;
    *ca_bundle = base64(data.data, data.size);
    free(data.data);
    return *ca_bundle ? LG_OK : LG_ERR_NOMEM;
}

/* ---- checking ------------------------------------------------------------ */

static void info_free(lg_cert_info *c)
{
    free(c->subject);
    free(c->issuer);
    for (size_t i = 0; i < c->nsans; i++)
        free(c->sans[i]);
    free(c->sans);
    memset(c, 0, sizeof *c);
}

void lg_cert_report_free(lg_cert_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ncas; i++)
        info_free(&r->cas[i]);
    free(r->cas);
    info_free(&r->serving);
    info_free(&r->client);
    for (size_t i = 0; i < r->nproblems; i++)
        free(r->problems[i]);
    free(r->problems);
    memset(r, 0, sizeof *r);
}

static bool problem(lg_cert_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool problem(lg_cert_report *r, const char *fmt, ...)
{
    char **v = realloc(r->problems, (r->nproblems + 1) * sizeof *v);
    if (!v)
        return false;
    r->problems = v;
    va_list ap;
    va_start(ap, fmt);
    char *s = lg_vstrfmt(fmt, ap);
    va_end(ap);
    if (!s)
        return false;
    r->problems[r->nproblems++] = s;
    return true;
}

static char *dn_string(gnutls_x509_crt_t crt, bool issuer)
{
    gnutls_datum_t dn = {NULL, 0};
    int ret = issuer ? gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0)
                     : gnutls_x509_crt_get_dn3(crt, &dn, 0);
    if (ret < 0)
        return lg_strfmt("%s", "");
    char *s = lg_strfmt("%.*s", (int)dn.size, (const char *)dn.data);
    gnutls_free(dn.data);
    return s;
}

/* Fills the descriptive part of info from crt. */
static lg_status info_fill(gnutls_x509_crt_t crt, time_t now, lg_cert_info *c)
{
    c->present = true;
    c->subject = dn_string(crt, false);
    c->issuer = dn_string(crt, true);
    if (!c->subject || !c->issuer)
        return LG_ERR_NOMEM;
    c->not_before = gnutls_x509_crt_get_activation_time(crt);
    c->not_after = gnutls_x509_crt_get_expiration_time(crt);
    long long secs = (long long)c->not_after - (long long)now;
    /* floor division: 1 second past notAfter is day -1, not day 0 */
    c->days_left = (long)(secs >= 0 ? secs / SECONDS_PER_DAY
                                    : -((-secs + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY));
    unsigned crit;
    c->is_ca = gnutls_x509_crt_get_ca_status(crt, &crit) > 0;
    for (unsigned seq = 0;; seq++) {
        char buf[512];
        size_t size = sizeof buf - 1;
        unsigned type;
        int ret = gnutls_x509_crt_get_subject_alt_name2(crt, seq, buf, &size, &type, &crit);
        if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (ret < 0)
            continue; /* e.g. too long for buf: skip that name */
        char *s = NULL;
        if (type == GNUTLS_SAN_DNSNAME) {
            buf[size] = '\0';
            s = lg_strfmt("DNS:%s", buf);
        } else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
            char ip[INET6_ADDRSTRLEN];
            inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, ip, sizeof ip);
            s = lg_strfmt("IP:%s", ip);
        } else {
            s = lg_strfmt("other:%u", type);
        }
        char **v = s ? realloc(c->sans, (c->nsans + 1) * sizeof *v) : NULL;
        if (!v) {
            free(s);
            return LG_ERR_NOMEM;
        }
        c->sans = v;
        c->sans[c->nsans++] = s;
    }
    return LG_OK;
}

/* Chain and key purpose against the trust list, time aside (expiry is
 * reported in days so that "expires soon" and "expired" read differently). */
static void verify(gnutls_x509_trust_list_t tl, gnutls_x509_crt_t *chain, unsigned n,
                   const char *purpose, lg_cert_info *c)
{
    unsigned flags = GNUTLS_VERIFY_DISABLE_TIME_CHECKS | GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS;
    unsigned status = 0;
    c->chains = gnutls_x509_trust_list_verify_crt2(tl, chain, n, NULL, 0, flags, &status, NULL) >=
                    0 &&
                status == 0;
    gnutls_typed_vdata_st vd = {GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *)purpose, 0};
    status = 0;
    c->purpose_ok = c->chains &&
                    gnutls_x509_trust_list_verify_crt2(tl, chain, n, &vd, 1, flags, &status,
                                                       NULL) >= 0 &&
                    status == 0;
}

static bool key_matches(gnutls_x509_crt_t crt, const gnutls_datum_t *keypem)
{
    gnutls_x509_privkey_t key;
    if (gnutls_x509_privkey_init(&key) < 0)
        return false;
    unsigned char a[64], b[64];
    size_t alen = sizeof a, blen = sizeof b;
    bool ok = gnutls_x509_privkey_import2(key, keypem, GNUTLS_X509_FMT_PEM, NULL, 0) >= 0 &&
              gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, a, &alen) >= 0 &&
              gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, b, &blen) >= 0 &&
              alen == blen && memcmp(a, b, alen) == 0;
    gnutls_x509_privkey_deinit(key);
    return ok;
}

/* Reads dir/crt_name (+ key_name) and fills info; LG_OK with present=false
 * when optional and absent. */
static lg_status check_leaf(const char *dir, const char *crt_name, const char *key_name,
                            bool optional, gnutls_x509_trust_list_t tl, const char *purpose,
                            time_t now, lg_cert_info *c, gnutls_x509_crt_t *leaf_out,
                            lg_diag *d)
{
    char *cpath = path_join(dir, crt_name), *kpath = path_join(dir, key_name);
    gnutls_datum_t cdata = {NULL, 0}, kdata = {NULL, 0};
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    lg_status st = LG_ERR_NOMEM;
    *leaf_out = NULL;
    if (!cpath || !kpath)
        goto out;
    struct stat sb;
    if (optional && lstat(cpath, &sb) != 0 && errno == ENOENT) {
        st = LG_OK;
        goto out;
    }
    if ((st = read_file(cpath, &cdata, d)) != LG_OK || (st = read_file(kpath, &kdata, d)) != LG_OK)
        goto out;
    int ret = gnutls_x509_crt_list_import2(&list, &n, &cdata, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0 || n == 0) {
        st = gt_fail(d, cpath, ret < 0 ? ret : GNUTLS_E_BASE64_DECODING_ERROR);
        goto out;
    }
    if ((st = info_fill(list[0], now, c)) != LG_OK)
        goto out;
    verify(tl, list, n, purpose, c);
    c->key_matches = key_matches(list[0], &kdata);
    *leaf_out = list[0];
    list[0] = NULL;
out:
    pair_files_free(list, n, &kdata, &cdata, cpath, kpath);
    return st;
}

/* "Expires within N days": notAfter is at or before now + N days. */
static bool expires_within(const lg_cert_info *c, time_t now, unsigned days)
{
    return (long long)c->not_after - (long long)now <= (long long)days * SECONDS_PER_DAY;
}

static bool leaf_problems(lg_cert_report *r, const char *name, const lg_cert_info *c,
                          time_t now, unsigned min_days, const char *purpose_name)
{
    bool ok = true;
    if (!c->chains)
        ok &= problem(r, "%s does not chain to %s", name, LG_CERT_CA_CRT);
    else if (!c->purpose_ok)
        ok &= problem(r, "%s is not valid for %s (extended key usage)", name, purpose_name);
    if (!c->key_matches)
        ok &= problem(r, "%s does not match its private key", name);
    if (c->days_left < 0)
        ok &= problem(r, "%s has expired", name);
    else if (expires_within(c, now, min_days))
        ok &= problem(r, "%s expires in %ld days (within %u)", name, c->days_left, min_days);
    return ok;
}

lg_status lg_certgen_check(const char *dir, time_t now, unsigned min_days,
                           const char *const *names, size_t nnames, lg_cert_report *out,
                           lg_diag *d)
{
    memset(out, 0, sizeof *out);
    if (!now)
        now = time(NULL);
    char *capath = path_join(dir, LG_CERT_CA_CRT);
    if (!capath)
        return LG_ERR_NOMEM;
    gnutls_datum_t cadata = {NULL, 0};
    gnutls_x509_crt_t *cas = NULL, serving = NULL, client = NULL;
    unsigned ncas = 0;
    gnutls_x509_trust_list_t tl = NULL;
    lg_status st = read_file(capath, &cadata, d);
    if (st != LG_OK)
        goto out;
    int ret = gnutls_x509_crt_list_import2(&cas, &ncas, &cadata, GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0 || ncas == 0) {
        st = gt_fail(d, capath, ret < 0 ? ret : GNUTLS_E_BASE64_DECODING_ERROR);
        goto out;
    }
    out->cas = calloc(ncas, sizeof *out->cas);
    if (!out->cas) {
        st = LG_ERR_NOMEM;
        goto out;
    }
    out->ncas = ncas;
    for (unsigned i = 0; i < ncas; i++)
        if ((st = info_fill(cas[i], now, &out->cas[i])) != LG_OK)
            goto out;
    ret = gnutls_x509_trust_list_init(&tl, 0);
    if (ret >= 0)
        ret = gnutls_x509_trust_list_add_trust_mem(tl, &cadata, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
    if (ret < 0) {
        st = gt_fail(d, capath, ret);
        goto out;
    }
    if ((st = check_leaf(dir, LG_CERT_TLS_CRT, LG_CERT_TLS_KEY, false, tl,
                         GNUTLS_KP_TLS_WWW_SERVER, now, &out->serving, &serving, d)) != LG_OK)
        goto out;
    if ((st = check_leaf(dir, LG_CERT_CLIENT_CRT, LG_CERT_CLIENT_KEY, true, tl,
                         GNUTLS_KP_TLS_WWW_CLIENT, now, &out->client, &client, d)) != LG_OK)
        goto out;

    bool ok = true; /* false: a problem line could not be allocated */
    for (size_t i = 0; i < out->ncas; i++) {
        const lg_cert_info *c = &out->cas[i];
        if (!c->is_ca)
            ok &= problem(out, "%s certificate %zu (%s) is not a CA", LG_CERT_CA_CRT, i + 1,
                          c->subject);
        else if (c->days_left < 0)
            ok &= problem(out, "%s certificate %zu (%s) has expired", LG_CERT_CA_CRT, i + 1,
                          c->subject);
        else if (expires_within(c, now, min_days))
            ok &= problem(out, "%s certificate %zu (%s) expires in %ld days (within %u)",
                          LG_CERT_CA_CRT, i + 1, c->subject, c->days_left, min_days);
    }
    ok &= leaf_problems(out, LG_CERT_TLS_CRT, &out->serving, now, min_days, "serverAuth");
    for (size_t i = 0; i < nnames; i++)
        if (!gnutls_x509_crt_check_hostname2(serving, names[i], 0))
            ok &= problem(out, "%s has no subject alternative name for %s", LG_CERT_TLS_CRT,
                          names[i]);
    if (out->client.present)
        ok &= leaf_problems(out, LG_CERT_CLIENT_CRT, &out->client, now, min_days, "clientAuth");
    st = ok ? LG_OK : LG_ERR_NOMEM;
out:
    if (tl)
        gnutls_x509_trust_list_deinit(tl, 1);
    for (unsigned i = 0; i < ncas; i++)
        gnutls_x509_crt_deinit(cas[i]);
    gnutls_free(cas);
    if (serving)
        gnutls_x509_crt_deinit(serving);
    if (client)
        gnutls_x509_crt_deinit(client);
    free(cadata.data);
    free(capath);
    if (st != LG_OK)
        lg_cert_report_free(out);
    return st;
}
