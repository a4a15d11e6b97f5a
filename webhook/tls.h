/* tls.h — the server's TLS material: serving pair with hot reload, client CA,
 * priority string. One lg_tls per process (GnuTLS's certificate callback has
 * no user pointer, so the callback reaches the active instance through tls.c). */
#ifndef LG_TLS_H
#define LG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

/* TLS 1.2 and 1.3 only; ECDHE with AEAD ciphers; server order. */
#define LG_TLS_PRIORITIES                                                                   \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

typedef struct lg_tls lg_tls;

/* Where a connection keeps the pair its handshake used (see lg_tls_conn_begin). */
typedef struct lg_tls_slot {
    uint32_t magic;
    void *pair;
} lg_tls_slot;

/* Loads cert (PEM, leaf first, chain may follow) and key; client_ca may be
 * NULL. On error returns NULL with "path: reason" in err. */
lg_tls *lg_tls_new(const char *cert_path, const char *key_path, const char *client_ca_path,
                   char *err, size_t errsz);
void lg_tls_free(lg_tls *t);

/* For MHD_OPTION_HTTPS_CERT_CALLBACK: hands each handshake the current pair. */
int lg_tls_cert_callback(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey);

/* PEM of the client CA (for MHD_OPTION_HTTPS_MEM_TRUST), NULL without --client-ca. */
const char *lg_tls_client_ca_pem(const lg_tls *t);

/* A new connection: remembers the slot on the session (so the pair a handshake
 * uses stays alive until lg_tls_conn_end) and, with a client CA, makes the
 * handshake require and verify a client certificate. */
void lg_tls_conn_begin(lg_tls *t, gnutls_session_t session, lg_tls_slot *slot);
void lg_tls_conn_end(lg_tls_slot *slot);

/* True when no client CA is configured, or the peer presented a certificate
 * that verified against it. */
bool lg_tls_peer_ok(const lg_tls *t, gnutls_session_t session);

/* Re-reads cert/key when either file (symlinks resolved) changed since the last
 * attempt. Returns 1 reloaded, 0 unchanged, -1 the new pair is broken (old
 * one kept, reason in err). Safe to call concurrently with handshakes. */
int lg_tls_reload(lg_tls *t, char *err, size_t errsz);

/* notAfter of the serving certificate in use, and its serial in hex. */
int64_t lg_tls_expiry(const lg_tls *t);
void lg_tls_serial(const lg_tls *t, char *buf, size_t size);

const char *lg_tls_cert_path(const lg_tls *t);
const char *lg_tls_key_path(const lg_tls *t);

#endif
