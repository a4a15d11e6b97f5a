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

#endif
