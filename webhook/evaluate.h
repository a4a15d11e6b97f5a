/* evaluate.h — what evaluate.c shares with mutate.c (private). */
#ifndef LG_EVALUATE_H
#define LG_EVALUATE_H

#include "podspec.h"
#include "policy.h"

typedef struct lg_explain_list {
    lg_explain *v;
    size_t n, cap;
    bool nomem;
} lg_explain_list;

/* Records one rule outcome; detail is copied (may be NULL). */
void lg_explain_push(lg_explain_list *l, const char *policy, const char *rule, lg_outcome o,
                     const char *detail);

/* NULL when p applies to req, else why not (a constant or written to buf). */
const char *lg_policy_skip_reason(const lg_policy *p, const lg_request *req, const char *lane_label,
                                  char *buf, size_t size);

/* Everything the mutation step needs to know about the pod. */
typedef struct lg_mutate_in {
    const lg_policy_set *set;
    const lg_request *req;
    const lg_subject *sub;
    const char *lane_label;
    const lg_lane *lane;     /* granted lane or NULL */
    lg_explain_list *explain; /* NULL unless explaining */
} lg_mutate_in;

/* Computes the policies' mutations, appends RFC 6902 ops to patch and applies
 * them to the object in place. Returns false on allocation failure. */
bool lg_mutate(lg_reader *r, const lg_mutate_in *in, json_t *patch);

/* ---- shared by evaluate.c and controls.c ---------------------------- */

typedef struct lg_finding_list {
    lg_finding *v;
    size_t n, cap;
    size_t dropped;       /* past MAX_FINDINGS */
    bool dropped_enforce; /* one of them would deny on its own */
} lg_finding_list;

typedef struct lg_eval {
    const lg_policy_set *set;
    const lg_request *req;
    lg_reader rd;
    lg_subject sub;
    const char *label;     /* raw lane label value, NULL when none */
    const lg_lane *lane;   /* lane actually granted, NULL when none */
    const char *lane_name; /* granted lane, or a label naming no Lane (a lane without grants) */
    char lane_phrase[256]; /* how the lane came out, for messages */
    const lg_policy *pol;  /* policy being evaluated */
    size_t hits;           /* findings of the current control */
    lg_finding_list found;
    lg_explain_list *explain;
    struct lg_keyset *old_keys; /* UPDATE: violations the old object had */
    struct lg_keyset *collect;  /* evaluating the old object: keys go here */
    bool nomem;
} lg_eval;

/* Copies s into buf (size bytes), clipped to a readable length on a UTF-8 boundary. */
const char *lg_clip(char *buf, size_t size, const char *s);
#define CLIP(s) lg_clip((char[72]){0}, 72, (s))

/* Records a violation of e's current policy: "<policy>: <what>; <rule> (<lane
 * phrase>)". Takes path and what; path, what and rule may be NULL after a
 * failed allocation, which fails the evaluation. value is the raw offending
 * value: with what and path it identifies the violation when an UPDATE is
 * compared with the old object. */
void lg_emit(lg_eval *e, const char *control, char *path, const char *value, char *what,
             const char *rule);

/* "only lane "dind" in namespaces a,b may", over the lanes grants() accepts. */
char *lg_who_may(const lg_eval *e, bool (*grants)(const lg_lane *, const void *), const void *arg);

/* One function per control (controls.c), indexed by lg_control. */
extern void (*const lg_control_fns[LG_CTL__COUNT])(lg_eval *e, const char *control);

#endif
