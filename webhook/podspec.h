/* podspec.h — where the pod spec of an object is, and reading it safely (private).
 *
 * Requests come from anyone who can reach the apiserver (or the CLI), so every
 * field the engine looks at is read through these getters: an absent or null
 * field is "unset", a field of the wrong type marks the reader bad, and the
 * evaluation then fails closed with the reader's message. */
#ifndef LG_PODSPEC_H
#define LG_PODSPEC_H

#include "engine.h"

typedef struct lg_reader {
    bool bad;
    char msg[256]; /* first problem found */
} lg_reader;

/* Each returns NULL / -1 / false when the field is absent or null. */
json_t *lg_get_obj(lg_reader *r, json_t *parent, const char *key, const char *where);
json_t *lg_get_arr(lg_reader *r, json_t *parent, const char *key, const char *where);
const char *lg_get_str(lg_reader *r, json_t *parent, const char *key, const char *where);
int lg_get_bool(lg_reader *r, json_t *parent, const char *key, const char *where); /* -1, 0, 1 */
bool lg_get_int(lg_reader *r, json_t *parent, const char *key, const char *where, json_int_t *out);
/* Element i of an array that must hold objects. */
json_t *lg_get_elem_obj(lg_reader *r, json_t *arr, size_t i, const char *where);

/* The pod spec inside an object of a pod-bearing kind. */
typedef struct lg_subject {
    json_t *meta;         /* pod (or template) metadata, may be NULL */
    json_t *labels;       /* may be NULL */
    json_t *annotations;  /* may be NULL */
    json_t *spec;         /* the pod spec; NULL when the kind carries none */
    const char *path;     /* dotted path of spec, e.g. "spec.template.spec" */
    const char *pointer;  /* JSON pointer of spec, e.g. "/spec/template/spec" */
    bool is_pod;
} lg_subject;

/* True when group/kind is one lanegate evaluates (Pod and workload kinds). */
bool lg_kind_has_podspec(const char *group, const char *kind);

/* Locates the pod spec of object. Out of scope kinds give spec == NULL.
 * A pod-bearing object without a usable spec marks r bad. */
void lg_subject_find(lg_reader *r, const char *group, const char *kind, json_t *object,
                     lg_subject *out);

/* The three container lists, in the order messages and patches use. */
#define LG_CONTAINER_LISTS 3
extern const char *const lg_container_lists[LG_CONTAINER_LISTS];

typedef struct lg_container {
    json_t *obj;
    json_t *sc;          /* securityContext, may be NULL */
    const char *list;    /* "containers", "initContainers", "ephemeralContainers" */
    size_t index;
    const char *name;    /* "" when missing */
    char ref[48];        /* "containers[1]" */
} lg_container;

/* Visits every container of spec; stops early when fn returns false. */
void lg_containers_each(lg_reader *r, json_t *spec, bool (*fn)(const lg_container *c, void *arg),
                        void *arg);

/* True when the required node affinity pins key to value: every
 * nodeSelectorTerm has a matchExpression key In [value] (and nothing else). */
bool lg_affinity_pins(lg_reader *r, json_t *spec, const char *key, const char *value);

#endif
