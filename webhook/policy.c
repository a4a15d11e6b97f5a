/* policy.c — the policy model's lifetime and its small lookups.
 *
 * A set is built once by policy_load.c with one reference and never modified
 * afterwards; lg_policy_set_ref/unref are the only operations on a live set and
 * are safe from any thread (atomic count, the last unref frees everything).
 * The control name table is the single source of the YAML names. */
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "util.h"

static const char *const control_names[LG_CTL__COUNT] = {
    [LG_CTL_PRIVILEGED] = "privileged",
    [LG_CTL_HOST_NAMESPACES] = "hostNamespaces",
    [LG_CTL_HOST_PATH_VOLUMES] = "hostPathVolumes",
    [LG_CTL_HOST_PORTS] = "hostPorts",
    [LG_CTL_CAPABILITIES] = "capabilities",
    [LG_CTL_PROC_MOUNT] = "procMount",
    [LG_CTL_SECCOMP_PROFILE] = "seccompProfile",
    [LG_CTL_SYSCTLS] = "sysctls",
    [LG_CTL_APPARMOR_PROFILE] = "appArmorProfile",
    [LG_CTL_SELINUX_OPTIONS] = "seLinuxOptions",
    [LG_CTL_WINDOWS_HOST_PROCESS] = "windowsHostProcess",
    [LG_CTL_HOST_PROBES] = "hostProbesAndHostLifecycle",
    [LG_CTL_DEVICE_RESOURCES] = "deviceResources",
    [LG_CTL_NODE_PINNING] = "nodePinning",
    [LG_CTL_RESOURCE_LIMITS] = "resourceLimits",
};

const char *lg_control_name(lg_control c)
{
    return (unsigned)c < LG_CTL__COUNT ? control_names[c] : "?";
}

bool lg_control_parse(const char *s, lg_control *out)
{
    for (size_t i = 0; s && i < LG_CTL__COUNT; i++)
        if (strcmp(s, control_names[i]) == 0) {
            if (out)
                *out = (lg_control)i;
            return true;
        }
    return false;
}

bool lg_strlist_has(const lg_strlist *l, const char *s)
{
    if (!l || !s)
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

static void strlist_free(lg_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static void lane_free(lg_lane *l)
{
    free(l->name);
    strlist_free(&l->namespaces);
    strlist_free(&l->usernames);
    strlist_free(&l->groups);
    strlist_free(&l->service_accounts);
    for (size_t i = 0; i < l->n_host_paths; i++) {
        free(l->host_paths[i].path);
        strlist_free(&l->host_paths[i].types);
    }
    free(l->host_paths);
    strlist_free(&l->device_resources);
    strlist_free(&l->pin_keys);
    strlist_free(&l->pin_values);
    for (size_t i = 0; i < l->n_tolerations; i++) {
        lg_toleration *t = &l->tolerations[i];
        free(t->key);
        free(t->op);
        free(t->value);
        free(t->effect);
    }
    free(l->tolerations);
    free(l->file);
}

static void policy_free(lg_policy *p)
{
    free(p->name);
    strlist_free(&p->namespaces);
    strlist_free(&p->exclude_namespaces);
    strlist_free(&p->kinds);
    strlist_free(&p->lanes);
    strlist_free(&p->restricted_devices);
    for (size_t i = 0; i < p->n_mutations; i++) {
        lg_mutation *m = &p->mutations[i];
        free(m->field);
        for (size_t j = 0; j < m->nsegs; j++)
            free(m->segs[j]);
        free(m->segs);
        json_decref(m->value);
    }
    free(p->mutations);
    free(p->file);
}

lg_policy_set *lg_policy_set_ref(lg_policy_set *set)
{
    if (set)
        atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void lg_policy_set_unref(lg_policy_set *set)
{
    if (!set)
        return;
    /* acq_rel: the freeing thread must see every other thread's last reads done */
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < set->n_lanes; i++)
        lane_free(&set->lanes[i]);
    free(set->lanes);
    for (size_t i = 0; i < set->n_policies; i++)
        policy_free(&set->policies[i]);
    free(set->policies);
    free(set->lane_label);
    free(set);
}

size_t lg_policy_set_count(const lg_policy_set *set)
{
    return set ? set->n_lanes + set->n_policies : 0;
}
