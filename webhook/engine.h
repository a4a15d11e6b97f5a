/* engine.h — the public face of lanegate's pure policy engine.
 *
 * Everything the fronts (CLI subcommands, HTTPS server) may call lives here.
 * The engine never prints, exits, reads the environment or touches sockets:
 * failures come back as an lg_status plus a caller-owned lg_diag.
 * A loaded lg_policy_set is immutable and reference counted, so any number of
 * threads may evaluate against it while a reload builds its successor. */
#ifndef LG_ENGINE_H
#define LG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define LG_VERSION "0.1.0"

typedef enum lg_status {
    LG_OK = 0,
    LG_ERR_INPUT,  /* malformed request, document or object */
    LG_ERR_POLICY, /* invalid policy files (details in the diags) */
    LG_ERR_NOMEM,
    LG_ERR_IO,     /* a file or directory could not be read */
} lg_status;

const char *lg_strerror(lg_status st);

/* One diagnostic. line/col are 1-based; 0 means unknown. */
typedef struct lg_diag {
    char file[512];
    int line;
    int col;
    char msg[512];
} lg_diag;

/* A growable list of diagnostics (lint reports all of them, not the first). */
typedef struct lg_diags {
    lg_diag *v;
    size_t n, cap;
} lg_diags;

void lg_diags_free(lg_diags *d);
/* Formats "file:line:col: msg" (parts that are unknown are left out). */
void lg_diag_format(const lg_diag *d, char *buf, size_t size);

typedef enum lg_mode { LG_MODE_ENFORCE = 0, LG_MODE_WARN, LG_MODE_AUDIT } lg_mode;
const char *lg_mode_name(lg_mode m);

/* ---- policy set ------------------------------------------------------ */

typedef struct lg_policy_set lg_policy_set;

/* Loads every *.yaml / *.yml file of dir (entries starting with '.' are
 * skipped, so a ConfigMap volume's ..data machinery is ignored; symlinks are
 * followed), in name order. On success *out holds a set with one reference.
 * On failure *out is NULL, every problem found is appended to diags (which may
 * be NULL) and LG_ERR_POLICY or LG_ERR_IO is returned. */
lg_status lg_policy_load_dir(const char *dir, lg_policy_set **out, lg_diags *diags);

/* Same for an explicit list of files (in the given order). */
lg_status lg_policy_load_files(const char *const *paths, size_t n, lg_policy_set **out,
                               lg_diags *diags);

lg_policy_set *lg_policy_set_ref(lg_policy_set *set); /* thread-safe */
void lg_policy_set_unref(lg_policy_set *set);         /* thread-safe; NULL ok */
size_t lg_policy_set_count(const lg_policy_set *set); /* policy objects (Lanes + PodPolicies) */

/* ---- one admission request ------------------------------------------- */

typedef enum lg_op { LG_OP_CREATE = 0, LG_OP_UPDATE, LG_OP_DELETE, LG_OP_CONNECT } lg_op;
const char *lg_op_name(lg_op op);
bool lg_op_parse(const char *s, lg_op *out);

/* What the engine needs to know about a request. All pointers are borrowed
 * and must outlive the evaluation. */
typedef struct lg_request {
    const char *uid;         /* may be NULL outside a review */
    const char *group;       /* "" for the core group */
    const char *kind;        /* "Pod", "Deployment", ... */
    const char *subresource; /* "" or e.g. "ephemeralcontainers" */
    const char *namespace;
    const char *name;        /* may be "" (generateName) */
    lg_op op;
    const char *username;    /* may be NULL */
    json_t *groups;          /* JSON array of strings, may be NULL */
    json_t *object;          /* the (new) object; NULL on DELETE */
    json_t *old_object;      /* UPDATE only; may be NULL */
} lg_request;

/* Fills req from an AdmissionReview v1 document (borrowing from it).
 * LG_ERR_INPUT with a message in diag when it is not a usable review. */
lg_status lg_request_from_review(json_t *review, lg_request *req, lg_diag *diag);

/* Fills req from a plain manifest (Pod, Deployment, ...): kind and group from
 * apiVersion/kind, namespace from metadata.namespace (or "default"), op CREATE.
 * The caller may override fields afterwards (CLI --namespace, --user...). */
lg_status lg_request_from_manifest(json_t *manifest, lg_request *req, lg_diag *diag);

/* ---- evaluation -------------------------------------------------------- */

enum {
    LG_EVAL_VALIDATE = 1u << 0, /* run the controls */
    LG_EVAL_MUTATE = 1u << 1,   /* compute the JSON Patch */
    LG_EVAL_EXPLAIN = 1u << 2,  /* record every rule's outcome */
};
/* With both VALIDATE and MUTATE the controls run on the patched object, as the
 * apiserver would (mutating webhooks first, then validating ones). */

typedef struct lg_finding {
    const char *policy;  /* borrowed from the set */
    const char *control; /* e.g. "privileged" */
    lg_mode mode;
    char *path;          /* field path, e.g. spec.containers[1].securityContext.privileged */
    char *message;       /* full text: policy, container, field, lane */
    char *warning;       /* short form (<= 120 bytes) for AdmissionReview warnings */
} lg_finding;

typedef enum lg_outcome { LG_OUTCOME_PASS = 0, LG_OUTCOME_FAIL, LG_OUTCOME_SKIP } lg_outcome;
const char *lg_outcome_name(lg_outcome o);

typedef struct lg_explain {
    const char *policy;  /* borrowed */
    const char *rule;    /* control or mutation name, borrowed */
    lg_outcome outcome;
    char *detail;        /* why (owned), may be NULL */
} lg_explain;

typedef struct lg_verdict {
    bool allowed;         /* false iff an enforce-mode finding exists */
    bool in_scope;        /* false: kind/operation/subresource not evaluated at all */
    char *lane;           /* lane the pod is in: a granted Lane, or a label naming no Lane
                           * (a lane without grants); NULL when none or refused */
    char *lane_label;     /* raw lane label value, or NULL */
    lg_finding *findings; /* every violation of every mode (at most 100) */
    size_t nfindings;
    size_t unlisted;      /* violations past the listing cap (they still decide) */
    json_t *patch;        /* JSON array of RFC 6902 ops (never NULL after success) */
    json_t *patched;      /* the object with patch applied (only with MUTATE|VALIDATE) */
    lg_explain *explain;  /* only with LG_EVAL_EXPLAIN */
    size_t nexplain;
} lg_verdict;

/* Evaluates req against set. LG_ERR_INPUT (message in diag) when the object is
 * malformed (wrong types where the engine looks); the verdict is then empty. */
lg_status lg_evaluate(const lg_policy_set *set, const lg_request *req, unsigned flags,
                      lg_verdict *out, lg_diag *diag);
void lg_verdict_free(lg_verdict *v);

/* ---- AdmissionReview in, AdmissionReview out ------------------------- */

typedef enum lg_endpoint { LG_ENDPOINT_VALIDATE = 0, LG_ENDPOINT_MUTATE } lg_endpoint;

/* The whole review, as the server answers it and `lanegate review` prints it. */
typedef struct lg_review_result {
    int http_status; /* 200 (AdmissionReview) or 400 (JSON error body) */
    char *body;      /* response bytes, owned */
    size_t body_len;
    /* for the decision log line (owned, NULL when unknown) */
    char *uid, *kind, *namespace, *name, *operation, *lane;
    bool allowed;
    bool patched;    /* a non-empty patch was returned */
    char *policies;  /* comma-joined names of policies with findings */
    char *reasons;   /* "; "-joined finding messages, or the error text */
} lg_review_result;

/* Decodes body, evaluates, encodes. Returns LG_OK when an AdmissionReview
 * response was produced (allowed or not), LG_ERR_INPUT when the body is not a
 * usable AdmissionReview (http_status 400, body {"error":"..."}), LG_ERR_NOMEM. */
lg_status lg_review_handle(const lg_policy_set *set, lg_endpoint ep, const char *body,
                           size_t len, lg_review_result *out);
void lg_review_result_free(lg_review_result *r);

/* ---- documents ------------------------------------------------------- */

/* Parses YAML or JSON text holding one or more documents into a JSON array of
 * documents (YAML 1.1 scalars resolved as kubectl does: true/yes/on, ints,
 * floats, null; quoted scalars stay strings; duplicate keys are an error).
 * name is used in diagnostics. */
lg_status lg_documents_parse(const char *name, const char *buf, size_t len, json_t **out,
                             lg_diag *diag);

/* ---- JSON Patch (RFC 6902) ------------------------------------------- */

/* Applies patch (array of ops) to *doc in place (add, remove, replace, move,
 * copy, test). On failure *doc is unchanged. */
lg_status lg_patch_apply(json_t **doc, const json_t *patch, lg_diag *diag);

#endif
