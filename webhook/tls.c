/* tls.c — serving certificate/key (hot-reloaded), client CA, TLS policy.
 *
 * Invariants: a loaded pair is immutable and reference counted. The current
 * pair is read and referenced under a tiny mutex (two instructions); every
 * handshake takes a reference that its connection's lg_tls_slot holds until the
 * connection closes, so a pair is freed only after its last connection is
 * gone. A reload builds the new pair completely (parse, key matches cert)
 * before publishing it; a broken pair is rejected and the old one kept. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <gnutls/x509.h>

#include "tls.h"

#define SLOT_MAGIC 0x6c67746cu /* "lgtl" */
#define MAX_PEM (1u << 20)     /* a certificate chain or key is a few KB */

typedef struct pair {
    atomic_int refs;
    gnutls_pcert_st *pcerts;
    unsigned npcerts;
    gnutls_privkey_t key;
    int64_t expiry;
    char serial[80];
} pair;

typedef struct file_sig {
    bool ok;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    struct timespec ctime;
} file_sig;

struct lg_tls {
    char *cert_path, *key_path;
    char *ca_pem;
    pthread_mutex_t lock; /* guards cur: read + ref, or swap */
    pair *cur;
    pthread_mutex_t reload_lock; /* one reload at a time */
    file_sig cert_sig, key_sig;  /* of the last load attempt */
};

static _Atomic(lg_tls *) active;

static void pair_unref(pair *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < p->npcerts; i++)
        gnutls_pcert_deinit(&p->pcerts[i]);
    free(p->pcerts);
    gnutls_privkey_deinit(p->key);
    free(p);
}

static pair *pair_ref(pair *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

/* Reads a whole (small) file into a NUL-terminated datum. */
static bool read_pem(const char *path, gnutls_datum_t *out, char *err, size_t errsz)
{
    out->data = NULL;
    out->size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return false;
    }
    unsigned char *buf = malloc(MAX_PEM + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > MAX_PEM || n == 0) {
        snprintf(err, errsz, "%s: %s", path,
                 !buf ? "out of memory" : bad ? "read error" : n == 0 ? "empty file" : "file too large");
        free(buf);
        return false;
    }
    buf[n] = '\0';
    out->data = buf;
    out->size = (unsigned)n;
    return true;
}

static void wipe_free(gnutls_datum_t *d)
{
    if (d->data) {
        explicit_bzero(d->data, d->size);
        free(d->data);
    }
    d->data = NULL;
}

static bool same_key(gnutls_pubkey_t cert_pub, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub;
    if (gnutls_pubkey_init(&pub) < 0)
        return false;
    unsigned char a[64], b[64];
    size_t alen = sizeof a, blen = sizeof b;
    bool ok = gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
              gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &alen) >= 0 &&
              gnutls_pubkey_get_key_id(cert_pub, GNUTLS_KEYID_USE_SHA256, b, &blen) >= 0 &&
              alen == blen && memcmp(a, b, alen) == 0;
    gnutls_pubkey_deinit(pub);
    return ok;
}

static pair *load_pair(const char *cert_path, const char *key_path, char *err, size_t errsz)
{
    gnutls_datum_t cd, kd;
    if (!read_pem(cert_path, &cd, err, errsz))
        return NULL;
    if (!read_pem(key_path, &kd, err, errsz)) {
        free(cd.data);
        return NULL;
    }
    pair *p = calloc(1, sizeof *p);
    gnutls_x509_crt_t *crts = NULL;
    unsigned n = 0;
    int rc;
    if (!p) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    atomic_init(&p->refs, 1);
    rc = gnutls_x509_crt_list_import2(&crts, &n, &cd, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0 || n == 0) {
        snprintf(err, errsz, "%s: no usable PEM certificate: %s", cert_path,
                 rc < 0 ? gnutls_strerror(rc) : "none found");
        goto fail;
    }
    p->pcerts = calloc(n, sizeof *p->pcerts);
    if (!p->pcerts) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    for (unsigned i = 0; i < n; i++) {
        rc = gnutls_pcert_import_x509(&p->pcerts[i], crts[i], 0);
        if (rc < 0) {
            snprintf(err, errsz, "%s: certificate %u: %s", cert_path, i + 1, gnutls_strerror(rc));
            goto fail;
        }
        p->npcerts++;
    }
    p->expiry = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
    unsigned char serial[40];
    size_t slen = sizeof serial;
    if (gnutls_x509_crt_get_serial(crts[0], serial, &slen) >= 0) {
        for (size_t i = 0; i < slen && 2 * i + 2 < sizeof p->serial; i++)
            snprintf(p->serial + 2 * i, 3, "%02x", serial[i]);
    }
    rc = gnutls_privkey_init(&p->key);
    if (rc >= 0)
        rc = gnutls_privkey_import_x509_raw(p->key, &kd, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        snprintf(err, errsz, "%s: no usable PEM private key: %s", key_path, gnutls_strerror(rc));
        goto fail;
    }
    if (!same_key(p->pcerts[0].pubkey, p->key)) {
        snprintf(err, errsz, "%s: private key does not match the certificate in %s", key_path,
                 cert_path);
        goto fail;
    }
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    free(cd.data);
    wipe_free(&kd);
    return p;
fail:
    for (unsigned i = 0; i < n; i++)
        gnutls_x509_crt_deinit(crts[i]);
    gnutls_free(crts);
    free(cd.data);
    wipe_free(&kd);
    pair_unref(p);
    return NULL;
}

static file_sig sig_of(const char *path)
{
    file_sig s = {0};
    struct stat st;
    if (stat(path, &st) == 0) { /* follows symlinks: kubelet's ..data swap changes the target */
        s.ok = true;
        s.dev = st.st_dev;
        s.ino = st.st_ino;
        s.size = st.st_size;
        s.mtime = st.st_mtim;
        s.ctime = st.st_ctim;
    }
    return s;
}

static bool sig_eq(const file_sig *a, const file_sig *b)
{
    return a->ok == b->ok && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

lg_tls *lg_tls_new(const char *cert_path, const char *key_path, const char *client_ca_path,
                   char *err, size_t errsz)
{
    lg_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->reload_lock, NULL);
    t->cert_path = strdup(cert_path);
    t->key_path = strdup(key_path);
    if (!t->cert_path || !t->key_path) {
        snprintf(err, errsz, "out of memory");
        lg_tls_free(t);
        return NULL;
    }
    t->cert_sig = sig_of(cert_path);
    t->key_sig = sig_of(key_path);
    t->cur = load_pair(cert_path, key_path, err, errsz);
    if (!t->cur) {
        lg_tls_free(t);
        return NULL;
    }
    if (client_ca_path) {
        gnutls_datum_t ca;
        if (!read_pem(client_ca_path, &ca, err, errsz)) {
            lg_tls_free(t);
            return NULL;
        }
        gnutls_x509_crt_t *crts = NULL;
        unsigned n = 0;
        int rc = gnutls_x509_crt_list_import2(&crts, &n, &ca, GNUTLS_X509_FMT_PEM, 0);
        for (unsigned i = 0; i < n; i++)
            gnutls_x509_crt_deinit(crts[i]);
        gnutls_free(crts);
        if (rc < 0 || n == 0) {
            snprintf(err, errsz, "%s: no usable PEM CA certificate: %s", client_ca_path,
                     rc < 0 ? gnutls_strerror(rc) : "none found");
            free(ca.data);
            lg_tls_free(t);
            return NULL;
        }
        t->ca_pem = (char *)ca.data;
    }
    atomic_store(&active, t);
    return t;
}

void lg_tls_free(lg_tls *t)
{
    if (!t)
        return;
    lg_tls *expected = t;
    atomic_compare_exchange_strong(&active, &expected, NULL);
    pair_unref(t->cur);
    free(t->cert_path);
    free(t->key_path);
    free(t->ca_pem);
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->reload_lock);
    free(t);
}

static pair *current(lg_tls *t)
{
    pthread_mutex_lock(&t->lock);
    pair *p = pair_ref(t->cur);
    pthread_mutex_unlock(&t->lock);
    return p;
}

int lg_tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey)
{
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    lg_tls *t = atomic_load(&active);
    if (!t)
        return -1;
    pair *p = current(t);
    lg_tls_slot *slot = gnutls_session_get_ptr(session);
    if (slot && slot->magic == SLOT_MAGIC) {
        pair_unref(slot->pair); /* a second callback on the same session */
        slot->pair = p;
    }
    /* else: nobody will release this reference, so the pair simply stays
     * alive for the life of the process: safe, never a use after free. */
    *pcert = p->pcerts;
    *pcert_length = p->npcerts;
    *privkey = p->key;
    return 0;
}

const char *lg_tls_client_ca_pem(const lg_tls *t)
{
    return t->ca_pem;
}

void lg_tls_conn_begin(lg_tls *t, gnutls_session_t session, lg_tls_slot *slot)
{
    slot->magic = SLOT_MAGIC;
    slot->pair = NULL;
    if (!session)
        return;
    gnutls_session_set_ptr(session, slot);
    if (t->ca_pem) {
        /* Fail the handshake itself: no certificate, or one the CA did not sign. */
        gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(session, NULL, 0);
    }
}

void lg_tls_conn_end(lg_tls_slot *slot)
{
    if (slot->magic != SLOT_MAGIC)
        return;
    pair_unref(slot->pair);
    slot->pair = NULL;
}

bool lg_tls_peer_ok(const lg_tls *t, gnutls_session_t session)
{
    if (!t->ca_pem)
        return true;
    if (!session || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return false;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(session, &n) || n == 0)
        return false;
    unsigned status = 0;
    return gnutls_certificate_verify_peers2(session, &status) >= 0 && status == 0;
}

int lg_tls_reload(lg_tls *t, char *err, size_t errsz)
{
    pthread_mutex_lock(&t->reload_lock);
    file_sig c = sig_of(t->cert_path), k = sig_of(t->key_path);
    if (sig_eq(&c, &t->cert_sig) && sig_eq(&k, &t->key_sig)) {
        pthread_mutex_unlock(&t->reload_lock);
        return 0;
    }
    t->cert_sig = c; /* a broken pair is not retried until a file changes again */
    t->key_sig = k;
    pair *np = load_pair(t->cert_path, t->key_path, err, errsz);
    if (!np) {
        pthread_mutex_unlock(&t->reload_lock);
        return -1;
    }
    pthread_mutex_lock(&t->lock);
    pair *old = t->cur;
    t->cur = np;
    pthread_mutex_unlock(&t->lock);
    pair_unref(old); /* freed now, or when its last connection closes */
    pthread_mutex_unlock(&t->reload_lock);
    return 1;
}

int64_t lg_tls_expiry(const lg_tls *t)
{
    pair *p = current((lg_tls *)t);
    int64_t e = p->expiry;
    pair_unref(p);
    return e;
}

void lg_tls_serial(const lg_tls *t, char *buf, size_t size)
{
    pair *p = current((lg_tls *)t);
    snprintf(buf, size, "%s", p->serial);
    pair_unref(p);
}

const char *lg_tls_cert_path(const lg_tls *t)
{
    return t->cert_path;
}

const char *lg_tls_key_path(const lg_tls *t)
{
    return t->key_path;
}
