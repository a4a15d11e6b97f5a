/* podspec.c — locating pod specs in Pods and workload templates, and typed,
 * fail-closed reads of their fields. Pure; thread-safe. */
#include <stdio.h>
#include <string.h>

#include "podspec.h"

const char *const lg_container_lists[LG_CONTAINER_LISTS] = {"containers", "initContainers",
                                                            "ephemeralContainers"};

static void reader_fail(lg_reader *r, const char *where, const char *key, const char *want)
{
    if (r->bad)
        return;
    r->bad = true;
    snprintf(r->msg, sizeof r->msg, "%s%s%s must be %s", where ? where : "", where && *where ? "." : "",
             key, want);
}

static json_t *get_typed(lg_reader *r, json_t *parent, const char *key, const char *where,
                         json_type type, const char *want)
{
    if (!parent)
        return NULL;
    json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v))
        return NULL;
    if (json_typeof(v) != type) {
        reader_fail(r, where, key, want);
        return NULL;
    }
    return v;
}

json_t *lg_get_obj(lg_reader *r, json_t *parent, const char *key, const char *where)
{
    return get_typed(r, parent, key, where, JSON_OBJECT, "an object");
}

json_t *lg_get_arr(lg_reader *r, json_t *parent, const char *key, const char *where)
{
    return get_typed(r, parent, key, where, JSON_ARRAY, "a list");
}

const char *lg_get_str(lg_reader *r, json_t *parent, const char *key, const char *where)
{
    json_t *v = get_typed(r, parent, key, where, JSON_STRING, "a string");
    return v ? json_string_value(v) : NULL;
}

int lg_get_bool(lg_reader *r, json_t *parent, const char *key, const char *where)
{
    if (!parent)
        return -1;
    json_t *v = json_object_get(parent, key);
    if (!v || json_is_null(v))
        return -1;
    if (!json_is_boolean(v)) {
        reader_fail(r, where, key, "a boolean");
        return -1;
    }
    return json_is_true(v);
}

bool lg_get_int(lg_reader *r, json_t *parent, const char *key, const char *where, json_int_t *out)
{
    json_t *v = get_typed(r, parent, key, where, JSON_INTEGER, "an integer");
    if (v)
        *out = json_integer_value(v);
    return v != NULL;
}

json_t *lg_get_elem_obj(lg_reader *r, json_t *arr, size_t i, const char *where)
{
    json_t *v = json_array_get(arr, i);
    if (!json_is_object(v)) {
        char key[32];
        snprintf(key, sizeof key, "[%zu]", i);
        if (!r->bad) {
            r->bad = true;
            snprintf(r->msg, sizeof r->msg, "%s%s must be an object", where, key);
        }
        return NULL;
    }
    return v;
}

/* Where each pod-bearing kind keeps its pod template. */
static const struct podkind {
    const char *group, *kind;
    const char *const path[4]; /* keys from the object down to the template (NULL-terminated) */
    const char *dotted, *pointer;
} podkinds[] = {
    {"", "Pod", {NULL}, "spec", "/spec"},
    {"", "ReplicationController", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"apps", "Deployment", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"apps", "ReplicaSet", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"apps", "StatefulSet", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"apps", "DaemonSet", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"extensions", "Deployment", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"extensions", "ReplicaSet", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"extensions", "DaemonSet", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"batch", "Job", {"spec", "template", NULL}, "spec.template.spec", "/spec/template/spec"},
    {"batch", "CronJob", {"spec", "jobTemplate", "spec", "template"},
     "spec.jobTemplate.spec.template.spec", "/spec/jobTemplate/spec/template/spec"},
};

static const struct podkind *podkind_find(const char *group, const char *kind)
{
    if (!kind)
        return NULL;
    for (size_t i = 0; i < sizeof podkinds / sizeof podkinds[0]; i++)
        if (!strcmp(podkinds[i].kind, kind) && !strcmp(podkinds[i].group, group ? group : ""))
            return &podkinds[i];
    return NULL;
}

bool lg_kind_has_podspec(const char *group, const char *kind)
{
    return podkind_find(group, kind) != NULL;
}

void lg_subject_find(lg_reader *r, const char *group, const char *kind, json_t *object,
                     lg_subject *out)
{
    memset(out, 0, sizeof *out);
    const struct podkind *pk = podkind_find(group, kind);
    if (!pk)
        return;
    if (!json_is_object(object)) {
        snprintf(r->msg, sizeof r->msg, "object must be a JSON object");
        r->bad = true;
        return;
    }
    json_t *holder = object; /* the object holding metadata + spec of the pod */
    char where[64] = "";
    for (size_t i = 0; i < 4 && pk->path[i]; i++) {
        json_t *next = lg_get_obj(r, holder, pk->path[i], where);
        if (!next) {
            if (!r->bad) {
                r->bad = true;
                snprintf(r->msg, sizeof r->msg, "%s has no %s%s%s", kind, where, *where ? "." : "",
                         pk->path[i]);
            }
            return;
        }
        size_t len = strlen(where);
        snprintf(where + len, sizeof where - len, "%s%s", len ? "." : "", pk->path[i]);
        holder = next;
    }
    out->meta = lg_get_obj(r, holder, "metadata", where);
    out->labels = lg_get_obj(r, out->meta, "labels", "metadata");
    out->annotations = lg_get_obj(r, out->meta, "annotations", "metadata");
    out->spec = lg_get_obj(r, holder, "spec", where);
    out->path = pk->dotted;
    out->pointer = pk->pointer;
    out->is_pod = pk->path[0] == NULL;
    if (!out->spec && !r->bad) {
        r->bad = true;
        snprintf(r->msg, sizeof r->msg, "%s has no %s", kind, pk->dotted);
    }
}

/* "containers[12]" without snprintf: this runs for every container of every
 * control of every policy, and formatting was most of the engine's time. */
static void container_ref(char ref[48], const char *list, size_t index)
{
    size_t n = strlen(list);
    memcpy(ref, list, n);
    ref[n++] = '[';
    char digits[24];
    size_t d = 0;
    do {
        digits[d++] = (char)('0' + index % 10);
        index /= 10;
    } while (index);
    while (d)
        ref[n++] = digits[--d];
    ref[n++] = ']';
    ref[n] = '\0';
}

void lg_containers_each(lg_reader *r, json_t *spec, bool (*fn)(const lg_container *c, void *arg),
                        void *arg)
{
    for (size_t l = 0; l < LG_CONTAINER_LISTS; l++) {
        json_t *arr = lg_get_arr(r, spec, lg_container_lists[l], "spec");
        size_t n = json_array_size(arr);
        for (size_t i = 0; i < n; i++) {
            lg_container c;
            c.list = lg_container_lists[l];
            c.index = i;
            container_ref(c.ref, c.list, i);
            c.obj = lg_get_elem_obj(r, arr, i, c.list);
            if (!c.obj)
                return;
            c.name = lg_get_str(r, c.obj, "name", c.ref);
            if (!c.name)
                c.name = "";
            c.sc = lg_get_obj(r, c.obj, "securityContext", c.ref);
            if (r->bad || !fn(&c, arg))
                return;
        }
    }
}

/* True when every term of the required node affinity pins key to value. */
bool lg_affinity_pins(lg_reader *r, json_t *spec, const char *key, const char *value)
{
    json_t *aff = lg_get_obj(r, spec, "affinity", "spec");
    json_t *na = lg_get_obj(r, aff, "nodeAffinity", "spec.affinity");
    json_t *req = lg_get_obj(r, na, "requiredDuringSchedulingIgnoredDuringExecution", "nodeAffinity");
    json_t *terms = lg_get_arr(r, req, "nodeSelectorTerms", "nodeAffinity");
    if (!json_array_size(terms))
        return false;
    for (size_t i = 0; i < json_array_size(terms); i++) {
        json_t *t = lg_get_elem_obj(r, terms, i, "nodeSelectorTerms");
        json_t *exprs = lg_get_arr(r, t, "matchExpressions", "nodeSelectorTerms");
        bool pinned = false;
        for (size_t j = 0; !pinned && j < json_array_size(exprs); j++) {
            json_t *x = lg_get_elem_obj(r, exprs, j, "matchExpressions");
            const char *k = lg_get_str(r, x, "key", "matchExpressions");
            const char *op = lg_get_str(r, x, "operator", "matchExpressions");
            json_t *vals = lg_get_arr(r, x, "values", "matchExpressions");
            if (!k || !op || strcmp(k, key) || strcmp(op, "In") || !json_array_size(vals))
                continue;
            pinned = true;
            for (size_t v = 0; v < json_array_size(vals); v++) {
                json_t *s = json_array_get(vals, v);
                if (!json_is_string(s) || strcmp(json_string_value(s), value))
                    pinned = false;
            }
        }
        if (!pinned)
            return false;
    }
    return true;
}
