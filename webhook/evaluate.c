/* evaluate.c — one request against a policy set: which lane the pod is really
 * in, which policies apply, every control's violations, and the verdict.
 *
 * Pure and thread-safe: the set is only read; all results are owned by the
 * verdict. Violations are collected for every container kind (containers,
 * initContainers, ephemeralContainers) and all of them are reported. On UPDATE
 * only violations the old object did not already have count, so metadata
 * updates of existing pods (finalizers, labels) never break, while a new
 * ephemeral container is judged like any other container. */
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "util.h"

/* Violations listed per request; more are summarised in one line so that a
 * pod with thousands of containers cannot blow up the response. */
#define MAX_FINDINGS 100
#define WARNING_MAX 120

/* ---- small helpers ---------------------------------------------------- */

/* Copies s into buf, clipped to a readable length (values come from users),
 * with control characters shown as '?' so a value cannot forge lines. */
const char *lg_clip(char *buf, size_t size, const char *s)
{
    size_t n = strlen(s), keep = n;
    if (n >= size) {
        keep = size - 4; /* room for "..." and NUL */
        while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
            keep--; /* never split a UTF-8 sequence */
    }
    for (size_t i = 0; i < keep; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    memcpy(buf + keep, n >= size ? "..." : "", n >= size ? 4 : 1);
    return buf;
}

void lg_explain_push(lg_explain_list *l, const char *policy, const char *rule, lg_outcome o,
                     const char *detail)
{
    if (!l || l->nomem)
        return;
    if (!lg_grow((void **)&l->v, l->n, &l->cap, sizeof *l->v, 16)) {
            l->nomem = true;
            return;
    }
    lg_explain *x = &l->v[l->n];
    x->policy = policy;
    x->rule = rule;
    x->outcome = o;
    x->detail = detail ? strdup(detail) : NULL;
    if (detail && !x->detail) {
        l->nomem = true;
        return;
    }
    l->n++;
}

static void finding_free(lg_finding *f)
{
    free(f->path);
    free(f->message);
    free(f->warning);
}

static void findings_free(lg_finding_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        finding_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Records a violation of the current policy's control:
 * message "<policy>: <what>; <rule> (<lane phrase>)", warning "<policy>: <what>". */
/* ---- the old object's violations (UPDATE) ---------------------------- */

/* An exact set of finding keys: policy, control, field path, the raw value
 * and the description. Exact strings, not hashes: an attacker who controls
 * both objects must not be able to make a new violation look old. */
typedef struct lg_keyset {
    char **slot; /* open addressing, NULL = empty */
    size_t cap, n;
} lg_keyset;

static size_t key_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static bool keyset_has(const lg_keyset *ks, const char *key)
{
    if (!ks->cap)
        return false;
    for (size_t i = key_hash(key) & (ks->cap - 1);; i = (i + 1) & (ks->cap - 1)) {
        if (!ks->slot[i])
            return false;
        if (!strcmp(ks->slot[i], key))
            return true;
    }
}

/* Takes key. False on allocation failure. */
static bool keyset_add(lg_keyset *ks, char *key)
{
    if (keyset_has(ks, key)) {
        free(key);
        return true;
    }
    if ((ks->n + 1) * 2 > ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) {
            free(key);
            return false;
        }
        for (size_t i = 0; i < ks->cap; i++) {
            if (!ks->slot[i])
                continue;
            size_t j = key_hash(ks->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = ks->slot[i];
        }
        free(ks->slot);
        ks->slot = slot;
        ks->cap = cap;
    }
    size_t i = key_hash(key) & (ks->cap - 1);
    while (ks->slot[i])
        i = (i + 1) & (ks->cap - 1);
    ks->slot[i] = key;
    ks->n++;
    return true;
}

static void keyset_free(lg_keyset *ks)
{
    for (size_t i = 0; i < ks->cap; i++)
        free(ks->slot[i]);
    free(ks->slot);
    memset(ks, 0, sizeof *ks);
}

void lg_emit(lg_eval *e, const char *control, char *path, const char *value, char *what,
             const char *rule)
{
    if (!path || !what || !rule) {
        e->nomem = true;
        goto out;
    }
    if (e->old_keys || e->collect) {
        char *key = lg_strfmt("%s\x1f%s\x1f%s\x1f%s\x1f%s", e->pol->name, control, path, value, what);
        if (!key) {
            e->nomem = true;
            goto out;
        }
        if (e->collect) { /* the old object: remember, nothing more */
            if (!keyset_add(e->collect, key))
                e->nomem = true;
            goto out;
        }
        bool existed = keyset_has(e->old_keys, key);
        free(key);
        if (existed)
            goto out; /* the old object had it: an UPDATE does not make it new */
    }
    e->hits++;
    if (e->found.n >= MAX_FINDINGS) {
        e->found.dropped++;
        e->found.dropped_enforce |= e->pol->mode == LG_MODE_ENFORCE;
        goto out;
    }
    if (!lg_grow((void **)&e->found.v, e->found.n, &e->found.cap, sizeof *e->found.v, 8)) {
            e->nomem = true;
            goto out;
    }
    lg_finding f = {
        .policy = e->pol->name,
        .control = control,
        .mode = e->pol->mode,
        .path = path,
        .message = lg_strfmt("%s: %s; %s (%s)", e->pol->name, what, rule, e->lane_phrase),
    };
    char *w = lg_strfmt("%s: %s", e->pol->name, what);
    f.warning = w ? malloc(WARNING_MAX + 1) : NULL;
    if (f.warning)
        lg_clip(f.warning, WARNING_MAX + 1, w);
    free(w);
    free(what);
    if (!f.message || !f.warning) {
        finding_free(&f);
        e->nomem = true;
        return;
    }
    e->found.v[e->found.n++] = f;
    return;
out:
    free(path);
    free(what);
}

/* "only lane "dind" in namespaces a,b may" — the lanes for which grants(lane, arg) holds. */
char *lg_who_may(const lg_eval *e, bool (*grants)(const lg_lane *, const void *), const void *arg)
{
    lg_buf b;
    lg_buf_init(&b, 0);
    size_t n = 0;
    for (size_t i = 0; i < e->set->n_lanes; i++) {
        const lg_lane *l = &e->set->lanes[i];
        if (!grants(l, arg))
            continue;
        lg_buf_adds(&b, n++ ? ", lane \"" : "\"");
        lg_buf_adds(&b, l->name);
        lg_buf_adds(&b, "\" in namespaces ");
        for (size_t j = 0; j < l->namespaces.n; j++) {
            if (j)
                lg_buf_adds(&b, ",");
            lg_buf_adds(&b, l->namespaces.v[j]);
        }
    }
    char *lanes = lg_buf_take(&b);
    if (!lanes)
        return NULL;
    char *s = n ? lg_strfmt("only lane %s may", lanes) : strdup("no lane may");
    free(lanes);
    return s;
}

/* ---- lanes ------------------------------------------------------------ */

static const char *pod_service_account(lg_eval *e)
{
    const char *sa = lg_get_str(&e->rd, e->sub.spec, "serviceAccountName", "spec");
    if (!sa || !*sa)
        sa = lg_get_str(&e->rd, e->sub.spec, "serviceAccount", "spec"); /* deprecated alias */
    return sa && *sa ? sa : "default";
}

static bool requester_in_groups(const lg_request *req, const lg_strlist *groups)
{
    size_t i;
    json_t *g;
    json_array_foreach(req->groups, i, g)
        if (json_is_string(g) && lg_strlist_has(groups, json_string_value(g)))
            return true;
    return false;
}

/* A lane is granted only when the label, the namespace and (when listed) the
 * requester and service account all agree: a label alone proves nothing. */
static void resolve_lane(lg_eval *e)
{
    e->label = lg_get_str(&e->rd, e->sub.labels, e->set->lane_label, "metadata.labels");
    if (!e->label) {
        snprintf(e->lane_phrase, sizeof e->lane_phrase, "pod has no lane");
        return;
    }
    const char *why = NULL;
    char whybuf[200];
    for (size_t i = 0; i < e->set->n_lanes; i++) {
        const lg_lane *l = &e->set->lanes[i];
        if (strcmp(l->name, e->label) != 0)
            continue;
        if (!lg_strlist_has(&l->namespaces, e->req->namespace)) {
            snprintf(whybuf, sizeof whybuf, "lane \"%s\" does not apply in namespace \"%s\"", l->name,
                     CLIP(e->req->namespace ? e->req->namespace : ""));
        } else if (l->usernames.n && !lg_strlist_has(&l->usernames, e->req->username)) {
            snprintf(whybuf, sizeof whybuf, "lane \"%s\" is not granted to user \"%s\"", l->name,
                     CLIP(e->req->username ? e->req->username : ""));
        } else if (l->groups.n && !requester_in_groups(e->req, &l->groups)) {
            snprintf(whybuf, sizeof whybuf, "lane \"%s\" is not granted to the requester's groups",
                     l->name);
        } else if (l->service_accounts.n &&
                   !lg_strlist_has(&l->service_accounts, pod_service_account(e))) {
            snprintf(whybuf, sizeof whybuf, "lane \"%s\" is not granted to service account \"%s\"",
                     l->name, CLIP(pod_service_account(e)));
        } else {
            e->lane = l;
            e->lane_name = l->name;
            snprintf(e->lane_phrase, sizeof e->lane_phrase, "pod is in lane \"%s\"", l->name);
            return;
        }
        why = whybuf;
    }
    if (why) {
        snprintf(e->lane_phrase, sizeof e->lane_phrase, "%s", why);
    } else {
        e->lane_name = e->label; /* a lane no Lane object grants anything */
        snprintf(e->lane_phrase, sizeof e->lane_phrase, "pod is in lane \"%s\"", CLIP(e->label));
    }
}

/* ---- matching --------------------------------------------------------- */

const char *lg_policy_skip_reason(const lg_policy *p, const lg_request *req, const char *lane_label,
                                  char *buf, size_t size)
{
    if (!(p->operations & (1u << req->op)))
        return "operation not matched";
    if (p->kinds.n && !lg_strlist_has(&p->kinds, req->kind))
        return "kind not matched";
    if (p->namespaces.n && !lg_strlist_has(&p->namespaces, req->namespace)) {
        snprintf(buf, size, "namespace \"%s\" not matched", CLIP(req->namespace ? req->namespace : ""));
        return buf;
    }
    if (lg_strlist_has(&p->exclude_namespaces, req->namespace)) {
        snprintf(buf, size, "namespace \"%s\" excluded", CLIP(req->namespace));
        return buf;
    }
    if (p->lanes.n && !lg_strlist_has(&p->lanes, lane_label))
        return "lane not matched";
    return NULL;
}

/* Runs every enabled control of every matching policy on e's subject. */
static void validate(lg_eval *e)
{
    char buf[160];
    for (size_t i = 0; i < e->set->n_policies && !e->rd.bad; i++) {
        const lg_policy *p = &e->set->policies[i];
        bool any = false;
        for (int c = 0; c < LG_CTL__COUNT; c++)
            any |= p->controls[c];
        if (!any)
            continue;
        const char *skip = lg_policy_skip_reason(p, e->req, e->label, buf, sizeof buf);
        if (skip) {
            lg_explain_push(e->explain, p->name, "match", LG_OUTCOME_SKIP, skip);
            continue;
        }
        e->pol = p;
        for (int c = 0; c < LG_CTL__COUNT && !e->rd.bad; c++) {
            if (!p->controls[c])
                continue;
            e->hits = 0;
            lg_control_fns[c](e, lg_control_name((lg_control)c));
            if (e->explain) {
                char detail[48];
                snprintf(detail, sizeof detail, "%zu violation%s", e->hits, e->hits == 1 ? "" : "s");
                lg_explain_push(e->explain, p->name, lg_control_name((lg_control)c),
                                e->hits ? LG_OUTCOME_FAIL : LG_OUTCOME_PASS, e->hits ? detail : NULL);
            }
        }
    }
}

/* Prepares e for object; false when the object is malformed (e->rd says why). */
static bool ev_init(lg_eval *e, const lg_policy_set *set, const lg_request *req, json_t *object)
{
    memset(e, 0, sizeof *e);
    e->set = set;
    e->req = req;
    lg_subject_find(&e->rd, req->group, req->kind, object, &e->sub);
    if (e->rd.bad)
        return false;
    resolve_lane(e);
    return !e->rd.bad;
}

/* On UPDATE, collects the keys of every violation the old object already had
 * (uncapped, without building messages). False only on allocation failure;
 * an unreadable old object excuses nothing and leaves the set empty. */
static bool collect_existing(lg_keyset *ks, const lg_policy_set *set, const lg_request *req)
{
    lg_eval old;
    if (!ev_init(&old, set, req, req->old_object))
        return true;
    old.collect = ks;
    validate(&old);
    findings_free(&old.found);
    if (old.rd.bad)
        keyset_free(ks);
    return !old.nomem;
}

static bool in_scope(const lg_request *req)
{
    if (req->op == LG_OP_DELETE || req->op == LG_OP_CONNECT)
        return false;
    if (!lg_kind_has_podspec(req->group, req->kind))
        return false;
    /* Subresources change no pod spec, except ephemeral containers (kubectl debug). */
    const char *sub = req->subresource ? req->subresource : "";
    return !*sub || (!strcmp(req->kind, "Pod") && !strcmp(sub, "ephemeralcontainers"));
}

void lg_verdict_free(lg_verdict *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nfindings; i++)
        finding_free(&v->findings[i]);
    free(v->findings);
    for (size_t i = 0; i < v->nexplain; i++)
        free(v->explain[i].detail);
    free(v->explain);
    free(v->lane);
    free(v->lane_label);
    json_decref(v->patch);
    json_decref(v->patched);
    memset(v, 0, sizeof *v);
}

lg_status lg_evaluate(const lg_policy_set *set, const lg_request *req, unsigned flags,
                      lg_verdict *out, lg_diag *diag)
{
    memset(out, 0, sizeof *out);
    out->allowed = true;
    out->patch = json_array();
    if (!out->patch)
        return LG_ERR_NOMEM;
    if (!in_scope(req))
        return LG_OK;
    if (!req->object || json_is_null(req->object)) {
        lg_diag_set(diag, NULL, 0, 0, "%s request has no object", lg_op_name(req->op));
        return LG_ERR_INPUT;
    }
    lg_explain_list explain = {0};
    lg_keyset old_keys = {0};
    lg_eval e;
    lg_status st = LG_OK;
    if (!ev_init(&e, set, req, req->object))
        goto malformed;
    e.explain = (flags & LG_EVAL_EXPLAIN) ? &explain : NULL;
    out->in_scope = true;
    if (flags & LG_EVAL_MUTATE) {
        lg_mutate_in in = {set, req, &e.sub, e.label, e.lane, e.explain};
        if (!lg_mutate(&e.rd, &in, out->patch))
            e.nomem = true;
        if (e.rd.bad)
            goto malformed;
        if (flags & LG_EVAL_VALIDATE)
            out->patched = json_incref(req->object);
    }
    if (flags & LG_EVAL_VALIDATE) {
        if (req->op == LG_OP_UPDATE && req->old_object && !json_is_null(req->old_object)) {
            if (!collect_existing(&old_keys, set, req))
                e.nomem = true;
            e.old_keys = &old_keys;
        }
        validate(&e);
        if (e.rd.bad)
            goto malformed;
    }
    if (e.found.dropped && e.found.n) {
        /* Say that the list is cut, in the last finding, so no decision changes. */
        lg_finding *last = &e.found.v[e.found.n - 1];
        char *m = lg_strfmt("%s (and %zu more violations not listed)", last->message, e.found.dropped);
        if (m) {
            free(last->message);
            last->message = m;
        }
    }
    if (e.nomem || explain.nomem) {
        st = LG_ERR_NOMEM;
        goto fail;
    }
    keyset_free(&old_keys);
    out->findings = e.found.v;
    out->nfindings = e.found.n;
    out->unlisted = e.found.dropped;
    /* Unlisted violations still decide. */
    out->allowed = !e.found.dropped_enforce;
    for (size_t i = 0; i < out->nfindings; i++)
        if (out->findings[i].mode == LG_MODE_ENFORCE)
            out->allowed = false;
    out->explain = explain.v;
    out->nexplain = explain.n;
    out->lane = e.lane_name ? strdup(e.lane_name) : NULL;
    out->lane_label = e.label ? strdup(e.label) : NULL;
    if ((e.lane_name && !out->lane) || (e.label && !out->lane_label)) {
        lg_verdict_free(out);
        return LG_ERR_NOMEM;
    }
    return LG_OK;

malformed:
    lg_diag_set(diag, NULL, 0, 0, "malformed %s: %s", req->kind, e.rd.msg);
    st = LG_ERR_INPUT;
fail:
    keyset_free(&old_keys);
    findings_free(&e.found);
    for (size_t i = 0; i < explain.n; i++)
        free(explain.v[i].detail);
    free(explain.v);
    lg_verdict_free(out);
    return st;
}
