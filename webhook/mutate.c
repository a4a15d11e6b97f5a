/* mutate.c — the policies' mutations as RFC 6902 "add" operations.
 *
 * Only pods are mutated (the mutating webhook is registered for pod CREATE;
 * workload templates get the same defaults when their pods are created).
 * Nothing the user set is ever changed: a default is written only where the
 * field is absent or null, node pinning only adds what is missing, and a
 * contradicting nodeSelector is left for validation to deny.
 * Each operation is applied to the object as it is generated, so later
 * operations see earlier ones (two defaults under one new securityContext
 * produce two valid ops) and validation can run on the result directly. */
#include <stdio.h>
#include <string.h>

#include "evaluate.h"
#include "jsonpatch.h"

typedef struct mut {
    lg_reader *r;
    const lg_mutate_in *in;
    json_t *patch;
    bool nomem;
    size_t applied; /* ops of the current mutation */
} mut;

/* Adds value (stolen) at base+key both to the object and to the patch. */
static void add_member(mut *m, json_t *parent, const char *pointer, const char *key, json_t *value)
{
    json_t *copy = value ? json_deep_copy(value) : NULL;
    if (!copy || !lg_patch_add(m->patch, pointer, copy)) {
        json_decref(value);
        m->nomem = true;
        return;
    }
    if (json_object_set_new(parent, key, value) != 0) {
        m->nomem = true;
        return;
    }
    m->applied++;
}

/* Sets segs[...] = value under obj when unset. Intermediate objects that do
 * not exist are created by one op; a non-object in the way leaves it alone. */
static void set_default(mut *m, json_t *obj, const char *pointer, char *const *segs, size_t nsegs,
                        const json_t *value)
{
    lg_buf path;
    lg_buf_init(&path, 0);
    lg_buf_adds(&path, pointer);
    json_t *cur = obj;
    for (size_t i = 0; i < nsegs; i++) {
        lg_pointer_push(&path, segs[i]);
        json_t *child = json_object_get(cur, segs[i]);
        if (child && !json_is_null(child)) {
            if (i + 1 == nsegs || !json_is_object(child))
                goto done; /* set by the user, or not ours to touch */
            cur = child;
            continue;
        }
        /* Build {segs[i+1]: {... : value}} from the leaf up. */
        json_t *v = json_deep_copy(value);
        for (size_t j = nsegs - 1; v && j > i; j--) {
            json_t *wrap = json_object();
            if (!wrap) {
                json_decref(v);
                v = NULL;
                break;
            }
            if (json_object_set_new(wrap, segs[j], v) != 0) { /* steals v either way */
                json_decref(wrap);
                v = NULL;
                break;
            }
            v = wrap;
        }
        if (!v || path.failed) {
            json_decref(v);
            m->nomem = true;
            goto done;
        }
        add_member(m, cur, path.s, segs[i], v);
        goto done;
    }
done:
    if (path.failed)
        m->nomem = true;
    lg_buf_free(&path);
}

/* The apiserver copies the old seccomp/AppArmor annotations into an empty
 * field after admission and rejects a pod whose annotation and field differ,
 * so a default must not fill a field such an annotation already speaks for. */
static bool field_is(const lg_mutation *mu, const char *profile)
{
    return mu->nsegs >= 2 && !strcmp(mu->segs[0], "securityContext") && !strcmp(mu->segs[1], profile);
}

static bool annotated(mut *m, const char *prefix, const char *container)
{
    char key[320];
    snprintf(key, sizeof key, "%s%s", prefix, container ? container : "");
    return json_object_get(m->in->sub->annotations, key) != NULL;
}

static bool pod_annotation_covers(mut *m, const lg_mutation *mu)
{
    return field_is(mu, "seccompProfile") && annotated(m, "seccomp.security.alpha.kubernetes.io/pod", NULL);
}

static bool container_annotation_covers(mut *m, const lg_mutation *mu, json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    return (field_is(mu, "seccompProfile") &&
            annotated(m, "container.seccomp.security.alpha.kubernetes.io/", name)) ||
           (field_is(mu, "appArmorProfile") &&
            annotated(m, "container.apparmor.security.beta.kubernetes.io/", name));
}

static bool is_windows(mut *m)
{
    json_t *os = lg_get_obj(m->r, m->in->sub->spec, "os", "spec");
    const char *name = lg_get_str(m->r, os, "name", "spec.os");
    return name && !strcmp(name, "windows");
}

/* Kubernetes rejects allowPrivilegeEscalation=false together with privileged
 * or CAP_SYS_ADMIN; setting it there would turn an allowed pod into a failed create. */
static bool ape_conflicts(mut *m, json_t *sc, const char *where)
{
    if (lg_get_bool(m->r, sc, "privileged", where) == 1)
        return true;
    json_t *caps = lg_get_obj(m->r, sc, "capabilities", where);
    json_t *add = lg_get_arr(m->r, caps, "add", where);
    size_t i;
    json_t *c;
    json_array_foreach(add, i, c) {
        const char *s = json_string_value(c);
        if (s && (!strcmp(s, "SYS_ADMIN") || !strcmp(s, "CAP_SYS_ADMIN")))
            return true;
    }
    return false;
}

static void container_default(mut *m, const lg_mutation *mu)
{
    bool is_ape = mu->nsegs == 2 && !strcmp(mu->segs[0], "securityContext") &&
                  !strcmp(mu->segs[1], "allowPrivilegeEscalation") && json_is_false(mu->value);
    lg_buf ptr;
    lg_buf_init(&ptr, 0);
    for (size_t l = 0; l < LG_CONTAINER_LISTS; l++) {
        json_t *arr = lg_get_arr(m->r, m->in->sub->spec, lg_container_lists[l], "spec");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *c = lg_get_elem_obj(m->r, arr, i, lg_container_lists[l]);
            if (!c)
                goto out;
            if (is_ape && ape_conflicts(m, lg_get_obj(m->r, c, "securityContext", lg_container_lists[l]),
                                        lg_container_lists[l]))
                continue;
            if (container_annotation_covers(m, mu, c))
                continue;
            ptr.len = 0;
            lg_buf_adds(&ptr, m->in->sub->pointer);
            lg_pointer_push(&ptr, lg_container_lists[l]);
            lg_pointer_push_index(&ptr, i);
            if (ptr.failed) {
                m->nomem = true;
                goto out;
            }
            set_default(m, c, ptr.s, mu->segs, mu->nsegs, mu->value);
        }
    }
out:
    lg_buf_free(&ptr);
}

static json_t *toleration_json(const lg_toleration *t)
{
    json_t *o = json_object();
    if (t->key)
        json_object_set_new(o, "key", json_string(t->key));
    if (t->op)
        json_object_set_new(o, "operator", json_string(t->op));
    if (t->value)
        json_object_set_new(o, "value", json_string(t->value));
    if (t->effect)
        json_object_set_new(o, "effect", json_string(t->effect));
    return o;
}

static bool str_eq(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* An existing toleration that already tolerates what want tolerates. */
static bool tolerated(mut *m, json_t *tols, const lg_toleration *want)
{
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t) {
        if (!json_is_object(t))
            continue;
        const char *key = lg_get_str(m->r, t, "key", "tolerations");
        const char *op = lg_get_str(m->r, t, "operator", "tolerations");
        const char *value = lg_get_str(m->r, t, "value", "tolerations");
        const char *effect = lg_get_str(m->r, t, "effect", "tolerations");
        bool exists = op && !strcmp(op, "Exists");
        if (!str_eq(key, want->key) && !(exists && !key))
            continue;
        if (effect && *effect && !str_eq(effect, want->effect))
            continue;
        if (exists || str_eq(value, want->value))
            return true;
    }
    return false;
}

static void node_pinning(mut *m)
{
    const lg_lane *l = m->in->lane;
    json_t *spec = m->in->sub->spec;
    const char *ptr = m->in->sub->pointer;
    if (!l || !l->pin_keys.n)
        return;
    lg_buf path;
    lg_buf_init(&path, 0);
    json_t *sel = lg_get_obj(m->r, spec, "nodeSelector", "spec");
    json_t *missing = json_object(); /* pin labels neither selected nor in a required affinity */
    for (size_t i = 0; missing && i < l->pin_keys.n; i++)
        if (!json_object_get(sel, l->pin_keys.v[i]) &&
            !lg_affinity_pins(m->r, spec, l->pin_keys.v[i], l->pin_values.v[i]) &&
            json_object_set_new(missing, l->pin_keys.v[i], json_string(l->pin_values.v[i])))
            m->nomem = true;
    if (!missing)
        m->nomem = true;
    else if (!sel && json_object_size(missing) && !m->r->bad) {
        lg_buf_adds(&path, ptr);
        lg_buf_adds(&path, "/nodeSelector");
        if (path.failed)
            m->nomem = true;
        else
            add_member(m, spec, path.s, "nodeSelector", json_incref(missing));
    } else if (sel) {
        /* A key present with another value is a contradiction validation denies. */
        const char *key;
        json_t *value;
        json_object_foreach(missing, key, value) {
            path.len = 0;
            lg_buf_adds(&path, ptr);
            lg_pointer_push(&path, "nodeSelector");
            lg_pointer_push(&path, key);
            if (path.failed) {
                m->nomem = true;
                break;
            }
            add_member(m, sel, path.s, key, json_incref(value));
        }
    }
    json_decref(missing);
    json_t *tols = lg_get_arr(m->r, spec, "tolerations", "spec");
    for (size_t i = 0; i < l->n_tolerations && !m->nomem && !m->r->bad; i++) {
        if (tolerated(m, tols, &l->tolerations[i]))
            continue;
        json_t *t = toleration_json(&l->tolerations[i]);
        path.len = 0;
        lg_buf_adds(&path, ptr);
        if (!tols) {
            lg_buf_adds(&path, "/tolerations");
            tols = json_array();
            json_t *copy = json_deep_copy(t);
            if (!t || !tols || !copy || path.failed || json_array_append_new(tols, t) != 0) {
                json_decref(tols);
                json_decref(copy);
                m->nomem = true;
                break;
            }
            json_t *whole = json_array();
            if (!whole || json_array_append_new(whole, copy) != 0 || !lg_patch_add(m->patch, path.s, whole) ||
                json_object_set_new(spec, "tolerations", tols) != 0) {
                m->nomem = true;
                break;
            }
            m->applied++;
        } else {
            lg_buf_adds(&path, "/tolerations/-");
            json_t *copy = t ? json_deep_copy(t) : NULL;
            if (!copy || path.failed || !lg_patch_add(m->patch, path.s, copy) ||
                json_array_append_new(tols, t) != 0) {
                m->nomem = true;
                break;
            }
            m->applied++;
        }
    }
    if (path.failed)
        m->nomem = true;
    lg_buf_free(&path);
}

static const char *mutation_rule(const lg_mutation *mu)
{
    return mu->kind == LG_MUT_NODE_PINNING ? "nodePinning" : mu->field;
}

bool lg_mutate(lg_reader *r, const lg_mutate_in *in, json_t *patch)
{
    mut m = {.r = r, .in = in, .patch = patch};
    if (!in->sub->is_pod)
        return true;
    bool windows = is_windows(&m);
    char buf[160];
    for (size_t i = 0; i < in->set->n_policies && !m.nomem && !r->bad; i++) {
        const lg_policy *p = &in->set->policies[i];
        if (!p->n_mutations)
            continue;
        const char *skip = lg_policy_skip_reason(p, in->req, in->lane_label, buf, sizeof buf);
        for (size_t k = 0; k < p->n_mutations && !m.nomem && !r->bad; k++) {
            const lg_mutation *mu = &p->mutations[k];
            const char *why = skip;
            if (!why && mu->except_privileged_lanes && in->lane && in->lane->allow_privileged)
                why = "the pod's lane may be privileged";
            if (!why && windows && mu->kind != LG_MUT_NODE_PINNING && mu->nsegs &&
                !strcmp(mu->segs[0], "securityContext"))
                why = "Windows pods take no Linux security defaults";
            if (!why && mu->kind == LG_MUT_POD_DEFAULT && pod_annotation_covers(&m, mu))
                why = "the pod's seccomp annotation sets it (the apiserver copies it over)";
            if (why) {
                lg_explain_push(in->explain, p->name, mutation_rule(mu), LG_OUTCOME_SKIP, why);
                continue;
            }
            m.applied = 0;
            if (mu->kind == LG_MUT_POD_DEFAULT)
                set_default(&m, in->sub->spec, in->sub->pointer, mu->segs, mu->nsegs, mu->value);
            else if (mu->kind == LG_MUT_CONTAINER_DEFAULT)
                container_default(&m, mu);
            else
                node_pinning(&m);
            if (in->explain) {
                char detail[48];
                snprintf(detail, sizeof detail, "%zu patch operation%s", m.applied, m.applied == 1 ? "" : "s");
                lg_explain_push(in->explain, p->name, mutation_rule(mu), LG_OUTCOME_PASS,
                                m.applied ? detail : "already set");
            }
        }
    }
    return !m.nomem;
}
