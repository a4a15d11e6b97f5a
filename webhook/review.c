/* review.c — AdmissionReview v1 in, AdmissionReview v1 out.
 *
 * lg_review_handle is the one function both the HTTPS server and
 * `lanegate review` call, so the CLI answers byte for byte what the webhook
 * answers. A body that is not a usable AdmissionReview gets a 400 with a
 * Status body; a review whose object is malformed gets a decision (denied,
 * code 400), never silence. Pure: only the response bytes come out. */
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REVIEW_API_VERSION "admission.k8s.io/v1"

/* ---- requests ---------------------------------------------------------- */

static bool opt_str(json_t *o, const char *key, const char **out, const char *where, lg_diag *diag)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        lg_diag_set(diag, NULL, 0, 0, "%s.%s must be a string", where, key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

lg_status lg_request_from_review(json_t *review, lg_request *req, lg_diag *diag)
{
    memset(req, 0, sizeof *req);
    req->group = req->subresource = req->namespace = req->name = "";
    if (!json_is_object(review)) {
        lg_diag_set(diag, NULL, 0, 0, "an AdmissionReview must be a JSON object");
        return LG_ERR_INPUT;
    }
    const char *api = NULL, *kind = NULL;
    if (!opt_str(review, "apiVersion", &api, "AdmissionReview", diag) ||
        !opt_str(review, "kind", &kind, "AdmissionReview", diag))
        return LG_ERR_INPUT;
    if (!kind || strcmp(kind, "AdmissionReview") != 0) {
        lg_diag_set(diag, NULL, 0, 0, "kind must be AdmissionReview");
        return LG_ERR_INPUT;
    }
    if (!api || strcmp(api, REVIEW_API_VERSION) != 0) {
        lg_diag_set(diag, NULL, 0, 0, "apiVersion must be " REVIEW_API_VERSION " (got %.64s)",
                    api ? api : "nothing");
        return LG_ERR_INPUT;
    }
    json_t *r = json_object_get(review, "request");
    if (!json_is_object(r)) {
        lg_diag_set(diag, NULL, 0, 0, "AdmissionReview has no request object");
        return LG_ERR_INPUT;
    }
    if (!opt_str(r, "uid", &req->uid, "request", diag))
        return LG_ERR_INPUT;
    if (!req->uid || !*req->uid) {
        lg_diag_set(diag, NULL, 0, 0, "request.uid is missing");
        return LG_ERR_INPUT;
    }
    json_t *k = json_object_get(r, "kind");
    if (!json_is_object(k) || !opt_str(k, "group", &req->group, "request.kind", diag) ||
        !opt_str(k, "kind", &req->kind, "request.kind", diag) || !req->kind) {
        if (!diag || !diag->msg[0] || json_is_object(k) == false)
            lg_diag_set(diag, NULL, 0, 0, "request.kind must be an object with a kind");
        return LG_ERR_INPUT;
    }
    const char *op = NULL;
    if (!opt_str(r, "operation", &op, "request", diag))
        return LG_ERR_INPUT;
    if (!lg_op_parse(op, &req->op)) {
        lg_diag_set(diag, NULL, 0, 0, "request.operation must be CREATE, UPDATE, DELETE or CONNECT");
        return LG_ERR_INPUT;
    }
    if (!opt_str(r, "namespace", &req->namespace, "request", diag) ||
        !opt_str(r, "name", &req->name, "request", diag) ||
        !opt_str(r, "subResource", &req->subresource, "request", diag))
        return LG_ERR_INPUT;
    json_t *ui = json_object_get(r, "userInfo");
    if (ui && !json_is_null(ui)) {
        if (!json_is_object(ui) || !opt_str(ui, "username", &req->username, "request.userInfo", diag)) {
            lg_diag_set(diag, NULL, 0, 0, "request.userInfo must be an object");
            return LG_ERR_INPUT;
        }
        json_t *g = json_object_get(ui, "groups");
        if (g && !json_is_null(g) && !json_is_array(g)) {
            lg_diag_set(diag, NULL, 0, 0, "request.userInfo.groups must be a list");
            return LG_ERR_INPUT;
        }
        req->groups = json_is_array(g) ? g : NULL;
    }
    req->object = json_object_get(r, "object");
    req->old_object = json_object_get(r, "oldObject");
    if (json_is_null(req->object))
        req->object = NULL;
    if (json_is_null(req->old_object))
        req->old_object = NULL;
    if (!req->object && (req->op == LG_OP_CREATE || req->op == LG_OP_UPDATE)) {
        lg_diag_set(diag, NULL, 0, 0, "request.object is missing");
        return LG_ERR_INPUT;
    }
    return LG_OK;
}

lg_status lg_request_from_manifest(json_t *manifest, lg_request *req, lg_diag *diag)
{
    memset(req, 0, sizeof *req);
    req->group = req->subresource = req->name = "";
    req->namespace = "default";
    req->op = LG_OP_CREATE;
    req->object = manifest;
    const char *api = NULL;
    if (!json_is_object(manifest)) {
        lg_diag_set(diag, NULL, 0, 0, "a manifest must be an object");
        return LG_ERR_INPUT;
    }
    if (!opt_str(manifest, "apiVersion", &api, "manifest", diag) ||
        !opt_str(manifest, "kind", &req->kind, "manifest", diag))
        return LG_ERR_INPUT;
    if (!api || !req->kind) {
        lg_diag_set(diag, NULL, 0, 0, "a manifest needs apiVersion and kind");
        return LG_ERR_INPUT;
    }
    /* "apps/v1" -> group "apps"; "v1" -> core group "". Request strings are
     * borrowed, so the group comes from a table of the groups that matter. */
    static const char *const groups[] = {"apps", "batch", "extensions"};
    const char *slash = strchr(api, '/');
    if (slash) {
        size_t n = (size_t)(slash - api);
        req->group = NULL;
        for (size_t i = 0; i < LG_ARRAY_LEN(groups); i++)
            if (strlen(groups[i]) == n && !strncmp(groups[i], api, n))
                req->group = groups[i];
        if (!req->group)
            req->group = "(other)"; /* a group lanegate does not evaluate */
    }
    json_t *meta = json_object_get(manifest, "metadata");
    if (meta && !json_is_object(meta)) {
        lg_diag_set(diag, NULL, 0, 0, "metadata must be an object");
        return LG_ERR_INPUT;
    }
    const char *ns = NULL;
    if (!opt_str(meta, "namespace", &ns, "metadata", diag) ||
        !opt_str(meta, "name", &req->name, "metadata", diag))
        return LG_ERR_INPUT;
    if (ns && *ns)
        req->namespace = ns;
    if (!*req->name && !opt_str(meta, "generateName", &req->name, "metadata", diag))
        return LG_ERR_INPUT;
    return LG_OK;
}

/* ---- responses --------------------------------------------------------- */

static char *status_body(const char *message)
{
    json_t *st = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "apiVersion", "v1", "kind", "Status",
                           "status", "Failure", "code", 400, "reason", "BadRequest", "message", message);
    char *s = st ? lg_json_dump(st, NULL) : NULL;
    json_decref(st);
    return s;
}

static char *base64(const char *data, size_t len)
{
    gnutls_datum_t in = {(unsigned char *)data, (unsigned)len}, out = {NULL, 0};
    if (gnutls_base64_encode2(&in, &out) < 0)
        return NULL;
    char *s = malloc(out.size + 1);
    if (s) {
        memcpy(s, out.data, out.size);
        s[out.size] = '\0';
    }
    gnutls_free(out.data);
    return s;
}

/* Joins the field of findings of one mode (or all modes when mode < 0). */
static char *join_findings(const lg_verdict *v, int mode, bool warnings, const char *sep)
{
    lg_buf b;
    lg_buf_init(&b, 0);
    size_t n = 0;
    for (size_t i = 0; i < v->nfindings; i++) {
        const lg_finding *f = &v->findings[i];
        if (mode >= 0 && (int)f->mode != mode)
            continue;
        if (n++)
            lg_buf_adds(&b, sep);
        if (mode < 0 && f->mode != LG_MODE_ENFORCE)
            lg_buf_addf(&b, "[%s] ", lg_mode_name(f->mode));
        lg_buf_adds(&b, warnings ? f->warning : f->message);
    }
    return n ? lg_buf_take(&b) : (lg_buf_free(&b), NULL);
}

static char *join_policies(const lg_verdict *v)
{
    lg_buf b;
    lg_buf_init(&b, 0);
    size_t n = 0;
    for (size_t i = 0; i < v->nfindings; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = v->findings[j].policy == v->findings[i].policy;
        if (seen)
            continue;
        if (n++)
            lg_buf_adds(&b, ",");
        lg_buf_adds(&b, v->findings[i].policy);
    }
    return n ? lg_buf_take(&b) : (lg_buf_free(&b), NULL);
}

/* The AdmissionReview response object for a verdict. */
static json_t *response_json(const char *uid, lg_endpoint ep, const lg_verdict *v,
                             const char *error, bool *nomem)
{
    json_t *resp = json_pack("{s:s, s:b}", "uid", uid, "allowed", v->allowed && !error);
    if (!resp)
        goto oom;
    if (error || !v->allowed) {
        char *msg = error ? NULL : join_findings(v, LG_MODE_ENFORCE, false, "\n");
        if (!error && !msg) /* every listed finding was warn/audit: the enforce ones were cut */
            msg = lg_strfmt("lanegate: %zu violations were not listed (over the limit of %zu)",
                            v->unlisted, v->nfindings);
        json_t *st = json_pack("{s:i, s:s}", "code", error ? 400 : 403, "message",
                               error ? error : msg ? msg : "denied");
        free(msg);
        if (!st || json_object_set_new(resp, "status", st))
            goto oom;
    }
    if (ep == LG_ENDPOINT_MUTATE && !error && json_array_size(v->patch)) {
        size_t ops_len;
        char *ops = lg_json_dump(v->patch, &ops_len);
        char *b64 = ops ? base64(ops, ops_len) : NULL;
        free(ops);
        if (!b64 || json_object_set_new(resp, "patchType", json_string("JSONPatch")) ||
            json_object_set_new(resp, "patch", json_string(b64))) {
            free(b64);
            goto oom;
        }
        free(b64);
    }
    json_t *warn = NULL;
    for (size_t i = 0; !error && i < v->nfindings; i++) {
        if (v->findings[i].mode != LG_MODE_WARN)
            continue;
        if (!warn && (!(warn = json_array()) || json_object_set_new(resp, "warnings", warn)))
            goto oom;
        if (json_array_append_new(warn, json_string(v->findings[i].warning)))
            goto oom;
    }
    char *audit = error ? NULL : join_findings(v, LG_MODE_AUDIT, true, "; ");
    if (audit) {
        json_t *ann = json_pack("{s:s}", "audit", audit);
        free(audit);
        if (!ann || json_object_set_new(resp, "auditAnnotations", ann))
            goto oom;
    }
    json_t *review = json_pack("{s:s, s:s, s:o}", "apiVersion", REVIEW_API_VERSION, "kind",
                               "AdmissionReview", "response", resp);
    if (!review)
        goto oom_nofree;
    return review;
oom:
    json_decref(resp);
oom_nofree:
    *nomem = true;
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static lg_status bad_request(lg_review_result *out, const char *msg)
{
    out->http_status = 400;
    out->body = status_body(msg);
    out->reasons = strdup(msg);
    if (!out->body || !out->reasons)
        return LG_ERR_NOMEM;
    out->body_len = strlen(out->body);
    return LG_ERR_INPUT;
}

lg_status lg_review_handle(const lg_policy_set *set, lg_endpoint ep, const char *body, size_t len,
                           lg_review_result *out)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        char msg[300];
        snprintf(msg, sizeof msg, "request body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return bad_request(out, msg);
    }
    lg_request req;
    lg_diag diag = {0};
    if (lg_request_from_review(doc, &req, &diag) != LG_OK) {
        lg_status st = bad_request(out, diag.msg);
        json_decref(doc);
        return st;
    }
    out->uid = dup_or_null(req.uid);
    out->kind = dup_or_null(req.kind);
    out->namespace = dup_or_null(req.namespace);
    out->name = dup_or_null(req.name);
    out->operation = dup_or_null(lg_op_name(req.op));

    unsigned flags = ep == LG_ENDPOINT_MUTATE ? LG_EVAL_MUTATE : LG_EVAL_VALIDATE;
    lg_verdict v;
    lg_status st = lg_evaluate(set, &req, flags, &v, &diag);
    const char *error = NULL;
    char errbuf[600];
    if (st == LG_ERR_INPUT) {
        /* The request is well formed, its object is not: answer with a denial. */
        snprintf(errbuf, sizeof errbuf, "lanegate: %s", diag.msg);
        error = errbuf;
        memset(&v, 0, sizeof v);
    } else if (st != LG_OK) {
        json_decref(doc);
        return st;
    }
    bool nomem = false;
    json_t *resp = response_json(req.uid, ep, &v, error, &nomem);
    out->allowed = v.allowed && !error;
    out->patched = ep == LG_ENDPOINT_MUTATE && !error && json_array_size(v.patch) > 0;
    out->lane = dup_or_null(v.lane ? v.lane : v.lane_label);
    out->policies = join_policies(&v);
    out->reasons = error ? strdup(error) : join_findings(&v, -1, false, "; ");
    out->http_status = 200;
    out->body = resp ? lg_json_dump(resp, &out->body_len) : NULL;
    if (!out->body)
        out->body_len = 0;
    json_decref(resp);
    lg_verdict_free(&v);
    json_decref(doc);
    if (nomem || !out->body)
        return LG_ERR_NOMEM;
    return LG_OK;
}

void lg_review_result_free(lg_review_result *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->uid);
    free(r->kind);
    free(r->namespace);
    free(r->name);
    free(r->operation);
    free(r->lane);
    free(r->policies);
    free(r->reasons);
    memset(r, 0, sizeof *r);
}
