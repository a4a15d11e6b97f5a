/* certgen.h — webhook certificates with GnuTLS: generate a CA, a serving and
 * an optional client certificate, and check an existing set.
 *
 * Used by `lanegate certs` (cmd_certs.c) and by tests. No printing, no exit,
 * no environment: failures are an lg_status plus a message in an lg_diag.
 * It does touch the file system (that is its job): keys are created 0600 at
 * open() time, never chmod'ed afterwards. */
#ifndef LG_CERTGEN_H
#define LG_CERTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "engine.h"

/* File names inside the output directory (the names of a kubernetes.io/tls
 * Secret plus the CA, as cert-manager writes them). */
#define LG_CERT_CA_CRT "ca.crt"
#define LG_CERT_CA_KEY "ca.key"
#define LG_CERT_TLS_CRT "tls.crt"
#define LG_CERT_TLS_KEY "tls.key"
#define LG_CERT_CLIENT_CRT "client.crt"
#define LG_CERT_CLIENT_KEY "client.key"

#define LG_CERT_MAX_DAYS 36500u        /* 100 years: past that nobody means it */
#define LG_CERT_MAX_NAMES 64u          /* --dns plus --ip */
#define LG_CERT_MAX_FILE (1024u * 1024) /* largest PEM file read back */
#define LG_CERT_BACKDATE_SECONDS 300   /* notBefore = now - 5 min: node clock skew */

typedef enum lg_key_type { LG_KEY_ECDSA_P256 = 0, LG_KEY_RSA } lg_key_type;

typedef struct lg_certgen_opts {
    const char *dir;        /* output directory (created 0700 when missing) */
    const char *service;    /* Service name, default "lanegate" */
    const char *namespace;  /* default "lanegate-system" */
    unsigned days;          /* serving/client validity, default 365 */
    unsigned ca_days;       /* CA validity, default 3650 */
    lg_key_type key_type;   /* default ECDSA P-256 */
    unsigned rsa_bits;      /* 2048 or 3072 (default) */
    const char *const *dns; /* extra DNS SANs */
    size_t ndns;
    const char *const *ips; /* extra IP SANs (IPv4 or IPv6 text) */
    size_t nips;
    const char *client;     /* CN of a client certificate to issue too, or NULL */
    bool force;             /* replace existing files */
    bool renew;             /* keep the CA in dir; re-issue tls.* (and client.*) */
    time_t now;             /* 0 = time(NULL); tests set it */
} lg_certgen_opts;

/* Fills the defaults above. */
void lg_certgen_opts_init(lg_certgen_opts *o);

/* Checks every option (names, addresses, ranges) without touching the disk. */
lg_status lg_certgen_validate(const lg_certgen_opts *o, lg_diag *diag);

/* Generates and writes the set. Without force, nothing is written when any
 * target file exists (LG_ERR_IO, message names it). On success *ca_bundle (if
 * not NULL) holds the base64 of ca.crt's PEM bytes, as a webhook
 * configuration's caBundle wants it; caller frees. */
lg_status lg_certgen_create(const lg_certgen_opts *o, char **ca_bundle, lg_diag *diag);

/* Base64 of the bytes of dir/ca.crt. */
lg_status lg_certgen_ca_bundle(const char *dir, char **ca_bundle, lg_diag *diag);

/* ---- checking an existing directory --------------------------------- */

typedef struct lg_cert_info {
    bool present;
    char *subject;      /* RFC 4514 DN */
    char *issuer;
    char **sans;        /* "DNS:name" / "IP:addr" */
    size_t nsans;
    time_t not_before, not_after;
    long days_left;     /* whole days from now to notAfter (negative: expired) */
    bool is_ca;
    bool chains;        /* verifies against ca.crt (time checks aside) */
    bool purpose_ok;    /* extended key usage fits (serverAuth / clientAuth) */
    bool key_matches;   /* the .key file holds this certificate's key */
} lg_cert_info;

typedef struct lg_cert_report {
    lg_cert_info *cas;  /* every certificate of ca.crt (rotation may hold two) */
    size_t ncas;
    lg_cert_info serving;
    lg_cert_info client; /* present only when client.crt exists */
    char **problems;    /* one line per reason the set is not fit for use */
    size_t nproblems;
} lg_cert_report;

/* Reads dir/ca.crt, dir/tls.crt + tls.key and, when present, client.crt +
 * client.key. A problem is recorded when the serving (or client) certificate
 * or a CA expires within min_days of now, does not chain to ca.crt, lacks its
 * key purpose, does not match its key, or (when names are given) misses one
 * of those DNS names ("within" = notAfter <= now + min_days days).
 * now 0 means time(NULL). LG_OK means the report was built (look at
 * nproblems); LG_ERR_IO / LG_ERR_INPUT when a file is missing or unreadable. */
lg_status lg_certgen_check(const char *dir, time_t now, unsigned min_days,
                           const char *const *names, size_t nnames, lg_cert_report *out,
                           lg_diag *diag);
void lg_cert_report_free(lg_cert_report *r);

/* The four names a Service is reached by: SERVICE, SERVICE.NS, SERVICE.NS.svc,
 * SERVICE.NS.svc.cluster.local. Fills out[4] with malloc'd strings. */
lg_status lg_certgen_service_names(const char *service, const char *ns, char *out[4]);

#endif
