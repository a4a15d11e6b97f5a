/* policy.h — the in-memory policy model shared by the loader and the evaluator.
 *
 * Private to the engine. A set is built once by policy_load.c and never
 * modified afterwards; every string is owned by the set and freed with it.
 *
 * Two object kinds (apiVersion lanegate.dev/v1):
 *   Lane       — who belongs to a lane (label value = metadata.name, namespaces,
 *                optional requester / service account) and what it may do
 *                (privileged, named hostPaths, device resources) and where it
 *                must run (node pinning).
 *   PodPolicy  — which requests it matches, its mode, the controls it enforces
 *                for everyone (lane grants waive them), and its mutations.
 * See README.md "Policy format" for the YAML. */
#ifndef LG_POLICY_H
#define LG_POLICY_H

#include <stdatomic.h>
#include "engine.h"

#define LG_DEFAULT_LANE_LABEL "lanegate.dev/lane"

typedef struct lg_strlist {
    char **v;
    size_t n;
} lg_strlist;

bool lg_strlist_has(const lg_strlist *l, const char *s);

typedef struct lg_hostpath_grant {
    char *path;       /* normalised (hostpath.c) */
    lg_strlist types; /* accepted hostPath.type values; "" stands for unset */
} lg_hostpath_grant;

typedef struct lg_toleration {
    char *key, *op, *value, *effect; /* op "Equal"/"Exists"; NULL = absent */
} lg_toleration;

typedef struct lg_lane {
    char *name;                   /* label value */
    lg_strlist namespaces;        /* required, non-empty */
    lg_strlist usernames, groups; /* requesters; empty = not required */
    lg_strlist service_accounts;  /* pod spec.serviceAccountName; empty = not required */
    bool allow_privileged;
    lg_hostpath_grant *host_paths;
    size_t n_host_paths;
    lg_strlist device_resources;  /* extended resources the lane may request */
    lg_strlist pin_keys, pin_values; /* nodePinning.nodeSelector, pairwise */
    lg_toleration *tolerations;
    size_t n_tolerations;
    char *file;
    int line;
} lg_lane;

typedef enum lg_control {
    LG_CTL_PRIVILEGED = 0,
    LG_CTL_HOST_NAMESPACES,
    LG_CTL_HOST_PATH_VOLUMES,
    LG_CTL_HOST_PORTS,
    LG_CTL_CAPABILITIES,
    LG_CTL_PROC_MOUNT,
    LG_CTL_SECCOMP_PROFILE,
    LG_CTL_SYSCTLS,
    LG_CTL_APPARMOR_PROFILE,
    LG_CTL_SELINUX_OPTIONS,
    LG_CTL_WINDOWS_HOST_PROCESS,
    LG_CTL_HOST_PROBES,
    LG_CTL_DEVICE_RESOURCES,
    LG_CTL_NODE_PINNING,
    LG_CTL_RESOURCE_LIMITS,
    LG_CTL__COUNT
} lg_control;

/* YAML key of each control, e.g. "privileged", "hostPathVolumes". */
const char *lg_control_name(lg_control c);
bool lg_control_parse(const char *s, lg_control *out);

typedef enum lg_mutation_kind {
    LG_MUT_POD_DEFAULT = 0,   /* set a pod-spec field when unset */
    LG_MUT_CONTAINER_DEFAULT, /* set a field on every container when unset */
    LG_MUT_NODE_PINNING,      /* add the lane's nodeSelector and tolerations */
} lg_mutation_kind;

typedef struct lg_mutation {
    lg_mutation_kind kind;
    char *field;            /* dotted, relative to pod spec / container, e.g. securityContext.seccompProfile.type */
    char **segs;            /* field split on '.' */
    size_t nsegs;
    json_t *value;          /* owned */
    bool except_privileged_lanes; /* skip pods whose lane may be privileged */
} lg_mutation;

enum { LG_OPS_CREATE = 1u << LG_OP_CREATE, LG_OPS_UPDATE = 1u << LG_OP_UPDATE,
       LG_OPS_DELETE = 1u << LG_OP_DELETE, LG_OPS_CONNECT = 1u << LG_OP_CONNECT };

typedef struct lg_policy {
    char *name;
    lg_mode mode;
    /* match */
    lg_strlist namespaces;         /* empty = every namespace */
    lg_strlist exclude_namespaces;
    lg_strlist kinds;              /* empty = every pod-bearing kind */
    unsigned operations;           /* LG_OPS_* mask; default CREATE|UPDATE */
    lg_strlist lanes;              /* lane label values; empty = any (incl. none) */
    /* validation */
    bool controls[LG_CTL__COUNT];
    lg_strlist restricted_devices; /* exact names, or a leading/trailing * glob */
    /* mutation */
    lg_mutation *mutations;
    size_t n_mutations;
    char *file;
    int line;
} lg_policy;

struct lg_policy_set {
    atomic_int refs;
    char *lane_label;   /* label key shared by every lane */
    lg_lane *lanes;
    size_t n_lanes;
    lg_policy *policies;
    size_t n_policies;
};

#endif
