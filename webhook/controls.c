/* controls.c — one function per control: the Pod Security Standards baseline
 * checks (as PSA v1.37 defines them) and lanegate's lane controls (device
 * resources, node pinning, resource limits).
 *
 * Every container check walks containers, initContainers and
 * ephemeralContainers. A lane grant waives a control only for a pod that is
 * really in the lane (evaluate.c decides that). Pure; thread-safe. */
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "hostpath.h"
#include "util.h"

/* Container walk state for the per-container controls. */
typedef struct cwalk {
    lg_eval *e;
    const char *control;
} cwalk;

static char *cpath(const lg_eval *e, const lg_container *c, const char *tail)
{
    return lg_strfmt("%s.%s.%s", e->sub.path, c->ref, tail);
}

static char *cwhat(const lg_container *c, const char *fmt_tail, const char *field, const char *value)
{
    return lg_strfmt("container \"%s\" (%s) %s %s=%s", CLIP(c->name), c->ref, fmt_tail, field, value);
}

static bool grants_privileged(const lg_lane *l, const void *arg)
{
    (void)arg;
    return l->allow_privileged;
}

static bool container_privileged(lg_reader *r, const lg_container *c)
{
    return lg_get_bool(r, c->sc, "privileged", c->ref) == 1;
}

static bool visit_privileged(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    if (container_privileged(&e->rd, c) && !(e->lane && e->lane->allow_privileged)) {
        char *rule = lg_who_may(e, grants_privileged, NULL);
        lg_emit(e, w->control, cpath(e, c, "securityContext.privileged"), "true",
             cwhat(c, "sets", "securityContext.privileged", "true"), rule);
        free(rule);
    }
    return true;
}

static void ctl_privileged(lg_eval *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_privileged, &w);
}

static void ctl_host_namespaces(lg_eval *e, const char *control)
{
    static const char *const keys[] = {"hostNetwork", "hostPID", "hostIPC"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++)
        if (lg_get_bool(&e->rd, e->sub.spec, keys[i], "spec") == 1)
            lg_emit(e, control, lg_strfmt("%s.%s", e->sub.path, keys[i]), "true",
                 lg_strfmt("pod sets %s=true", keys[i]), "host namespaces are not allowed");
}

typedef struct hostpath_arg {
    const char *path; /* normalised */
    const char *type;
} hostpath_arg;

static bool grants_hostpath(const lg_lane *l, const void *arg)
{
    const hostpath_arg *a = arg;
    for (size_t i = 0; i < l->n_host_paths; i++)
        if (!strcmp(l->host_paths[i].path, a->path))
            return true;
    return false;
}

static bool lane_allows_hostpath(const lg_lane *l, const hostpath_arg *a)
{
    for (size_t i = 0; l && i < l->n_host_paths; i++)
        if (!strcmp(l->host_paths[i].path, a->path) && lg_strlist_has(&l->host_paths[i].types, a->type))
            return true;
    return false;
}

static void ctl_host_path_volumes(lg_eval *e, const char *control)
{
    json_t *vols = lg_get_arr(&e->rd, e->sub.spec, "volumes", "spec");
    for (size_t i = 0; i < json_array_size(vols); i++) {
        char ref[40];
        snprintf(ref, sizeof ref, "volumes[%zu]", i);
        json_t *vol = lg_get_elem_obj(&e->rd, vols, i, "volumes");
        if (!vol)
            return;
        json_t *hp = json_object_get(vol, "hostPath");
        if (!hp || json_is_null(hp))
            continue;
        hp = lg_get_obj(&e->rd, vol, "hostPath", ref);
        if (!hp)
            return;
        const char *raw = lg_get_str(&e->rd, hp, "path", ref);
        const char *type = lg_get_str(&e->rd, hp, "type", ref);
        const char *name = lg_get_str(&e->rd, vol, "name", ref);
        char norm[4096];
        if (!lg_hostpath_normalize(raw ? raw : "", norm, sizeof norm))
            snprintf(norm, sizeof norm, "(path too long)");
        hostpath_arg a = {norm, type ? type : ""};
        if (lane_allows_hostpath(e->lane, &a))
            continue;
        char *rule;
        if (e->lane && grants_hostpath(e->lane, &a))
            rule = lg_strfmt("lane \"%s\" may mount %s only with the types its policy lists",
                             e->lane->name, CLIP(norm));
        else {
            char *who = lg_who_may(e, grants_hostpath, &a);
            rule = who && strcmp(who, "no lane may") ? lg_strfmt("%s mount %s", who, CLIP(norm))
                                                      : strdup("hostPath volumes are not allowed");
            free(who);
        }
        lg_emit(e, control, lg_strfmt("%s.%s.hostPath.path", e->sub.path, ref), raw ? raw : "",
             lg_strfmt("volume \"%s\" (%s) mounts hostPath %s (type %s)", CLIP(name ? name : ""), ref,
                       CLIP(raw ? raw : ""), type && *type ? CLIP(type) : "unset"),
             rule);
        free(rule);
    }
}

static bool visit_host_ports(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    json_t *ports = lg_get_arr(&e->rd, c->obj, "ports", c->ref);
    for (size_t i = 0; i < json_array_size(ports); i++) {
        json_t *p = lg_get_elem_obj(&e->rd, ports, i, "ports");
        json_int_t hp = 0;
        if (!p)
            return false;
        if (lg_get_int(&e->rd, p, "hostPort", c->ref, &hp) && hp != 0) {
            char tail[64], val[32];
            snprintf(tail, sizeof tail, "ports[%zu].hostPort", i);
            snprintf(val, sizeof val, "%lld", (long long)hp);
            lg_emit(e, w->control, cpath(e, c, tail), val, cwhat(c, "sets", tail, val),
                 "host ports are not allowed");
        }
    }
    return true;
}

static void ctl_host_ports(lg_eval *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_host_ports, &w);
}

static const char *const baseline_caps[] = {
    "AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",      "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
};

static bool in_table(const char *const *t, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i], s))
            return true;
    return false;
}

static bool visit_capabilities(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    json_t *caps = lg_get_obj(&e->rd, c->sc, "capabilities", c->ref);
    json_t *add = lg_get_arr(&e->rd, caps, "add", c->ref);
    /* A privileged container of a lane allowed to be privileged has every
     * capability anyway; listing some changes nothing. */
    if (!add || (e->lane && e->lane->allow_privileged && container_privileged(&e->rd, c)))
        return true;
    for (size_t i = 0; i < json_array_size(add); i++) {
        json_t *v = json_array_get(add, i);
        if (!json_is_string(v)) {
            e->rd.bad = true;
            snprintf(e->rd.msg, sizeof e->rd.msg, "%s.securityContext.capabilities.add must hold strings",
                     c->ref);
            return false;
        }
        const char *cap = json_string_value(v);
        if (in_table(baseline_caps, LG_ARRAY_LEN(baseline_caps), cap))
            continue;
        char tail[64];
        snprintf(tail, sizeof tail, "securityContext.capabilities.add[%zu]", i);
        lg_emit(e, w->control, cpath(e, c, tail), cap, cwhat(c, "adds", "capability", CLIP(cap)),
             "only the baseline capabilities may be added");
    }
    return true;
}

static void ctl_capabilities(lg_eval *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_capabilities, &w);
}

static bool visit_proc_mount(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    const char *pm = lg_get_str(&e->rd, c->sc, "procMount", c->ref);
    if (pm && strcmp(pm, "Default") != 0)
        lg_emit(e, w->control, cpath(e, c, "securityContext.procMount"), pm,
             cwhat(c, "sets", "securityContext.procMount", CLIP(pm)),
             "only the Default proc mount is allowed (unless spec.hostUsers=false)");
    return true;
}

static void ctl_proc_mount(lg_eval *e, const char *control)
{
    /* PSA v1.35+: user-namespaced pods may unmask /proc. */
    if (lg_get_bool(&e->rd, e->sub.spec, "hostUsers", "spec") == 0)
        return;
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_proc_mount, &w);
}

static const char *profile_type(lg_reader *r, json_t *sc, const char *key, const char *where)
{
    json_t *p = lg_get_obj(r, sc, key, where);
    return lg_get_str(r, p, "type", where);
}

static bool visit_seccomp(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    const char *t = profile_type(&e->rd, c->sc, "seccompProfile", c->ref);
    if (t && !strcmp(t, "Unconfined"))
        lg_emit(e, w->control, cpath(e, c, "securityContext.seccompProfile.type"), t,
             cwhat(c, "sets", "securityContext.seccompProfile.type", "Unconfined"),
             "seccomp may not be Unconfined");
    return true;
}

static void ctl_seccomp(lg_eval *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    const char *t = profile_type(&e->rd, psc, "seccompProfile", "spec.securityContext");
    if (t && !strcmp(t, "Unconfined"))
        lg_emit(e, control, lg_strfmt("%s.securityContext.seccompProfile.type", e->sub.path), t,
             strdup("pod sets securityContext.seccompProfile.type=Unconfined"),
             "seccomp may not be Unconfined");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_seccomp, &w);
}

static const char *const safe_sysctls[] = {
    "kernel.shm_rmid_forced",       "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",  "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",            "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
};

/* Kubernetes accepts "net/ipv4/tcp_syncookies" too: when '/' is the first
 * separator, '/' and '.' swap roles. Compare in the dotted form. */
static void sysctl_dotted(const char *in, char *out, size_t size)
{
    size_t sep = strcspn(in, "./");
    bool swap = in[sep] == '/';
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = !swap ? in[i] : in[i] == '/' ? '.' : in[i] == '.' ? '/' : in[i];
    out[i] = '\0';
}

static void ctl_sysctls(lg_eval *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    json_t *list = lg_get_arr(&e->rd, psc, "sysctls", "spec.securityContext");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *s = lg_get_elem_obj(&e->rd, list, i, "spec.securityContext.sysctls");
        if (!s)
            return;
        const char *name = lg_get_str(&e->rd, s, "name", "sysctls");
        char dotted[256];
        sysctl_dotted(name ? name : "", dotted, sizeof dotted);
        if (name && in_table(safe_sysctls, LG_ARRAY_LEN(safe_sysctls), dotted))
            continue;
        lg_emit(e, control, lg_strfmt("%s.securityContext.sysctls[%zu].name", e->sub.path, i), name ? name : "",
             lg_strfmt("pod sets sysctl %s", CLIP(name ? name : "")), "only safe sysctls are allowed");
    }
}

static bool apparmor_field_ok(const char *t)
{
    return !t || !strcmp(t, "RuntimeDefault") || !strcmp(t, "Localhost");
}

static bool visit_apparmor(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    const char *t = profile_type(&e->rd, c->sc, "appArmorProfile", c->ref);
    if (!apparmor_field_ok(t))
        lg_emit(e, w->control, cpath(e, c, "securityContext.appArmorProfile.type"), t,
             cwhat(c, "sets", "securityContext.appArmorProfile.type", CLIP(t)),
             "AppArmor must be RuntimeDefault or Localhost");
    return true;
}

#define APPARMOR_ANNOTATION "container.apparmor.security.beta.kubernetes.io/"

static void ctl_apparmor(lg_eval *e, const char *control)
{
    const char *key;
    json_t *v;
    json_object_foreach(e->sub.annotations, key, v) {
        if (strncmp(key, APPARMOR_ANNOTATION, strlen(APPARMOR_ANNOTATION)) != 0)
            continue;
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        if (!s) {
            e->rd.bad = true;
            snprintf(e->rd.msg, sizeof e->rd.msg, "metadata.annotations values must be strings");
            return;
        }
        if (!*s || !strcmp(s, "runtime/default") || !strncmp(s, "localhost/", 10))
            continue;
        lg_emit(e, control, lg_strfmt("metadata.annotations[%s]", CLIP(key)), key,
             lg_strfmt("pod annotation %s=%s", CLIP(key), CLIP(s)),
             "AppArmor must be runtime/default or localhost/*");
    }
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    const char *t = profile_type(&e->rd, psc, "appArmorProfile", "spec.securityContext");
    if (!apparmor_field_ok(t))
        lg_emit(e, control, lg_strfmt("%s.securityContext.appArmorProfile.type", e->sub.path), t,
             lg_strfmt("pod sets securityContext.appArmorProfile.type=%s", CLIP(t)),
             "AppArmor must be RuntimeDefault or Localhost");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_apparmor, &w);
}

static const char *const selinux_types[] = {"", "container_t", "container_init_t", "container_kvm_t",
                                            "container_engine_t"};

/* Checks one seLinuxOptions object; who is "pod" or a container description. */
static void check_selinux(lg_eval *e, const char *control, json_t *sc, const char *where,
                          const char *path_prefix, const char *who)
{
    json_t *o = lg_get_obj(&e->rd, sc, "seLinuxOptions", where);
    if (!o)
        return;
    const char *type = lg_get_str(&e->rd, o, "type", where);
    if (type && !in_table(selinux_types, LG_ARRAY_LEN(selinux_types), type))
        lg_emit(e, control, lg_strfmt("%s.seLinuxOptions.type", path_prefix), type,
             lg_strfmt("%s sets securityContext.seLinuxOptions.type=%s", who, CLIP(type)),
             "only the container SELinux types are allowed");
    static const char *const keys[] = {"user", "role"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const char *v = lg_get_str(&e->rd, o, keys[i], where);
        if (v && *v)
            lg_emit(e, control, lg_strfmt("%s.seLinuxOptions.%s", path_prefix, keys[i]), v,
                 lg_strfmt("%s sets securityContext.seLinuxOptions.%s=%s", who, keys[i], CLIP(v)),
                 "SELinux user and role may not be set");
    }
}

static bool visit_selinux(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    char *prefix = lg_strfmt("%s.%s.securityContext", w->e->sub.path, c->ref);
    char *who = lg_strfmt("container \"%s\" (%s)", CLIP(c->name), c->ref);
    if (prefix && who)
        check_selinux(w->e, w->control, c->sc, c->ref, prefix, who);
    else
        w->e->nomem = true;
    free(prefix);
    free(who);
    return true;
}

static void ctl_selinux(lg_eval *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.securityContext", e->sub.path);
    check_selinux(e, control, psc, "spec.securityContext", prefix, "pod");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_selinux, &w);
}

static bool host_process(lg_reader *r, json_t *sc, const char *where)
{
    json_t *wo = lg_get_obj(r, sc, "windowsOptions", where);
    return lg_get_bool(r, wo, "hostProcess", where) == 1;
}

static bool visit_windows(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    if (host_process(&w->e->rd, c->sc, c->ref))
        lg_emit(w->e, w->control, cpath(w->e, c, "securityContext.windowsOptions.hostProcess"), "true",
             cwhat(c, "sets", "securityContext.windowsOptions.hostProcess", "true"),
             "Windows host processes are not allowed");
    return true;
}

static void ctl_windows(lg_eval *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    if (host_process(&e->rd, psc, "spec.securityContext"))
        lg_emit(e, control, lg_strfmt("%s.securityContext.windowsOptions.hostProcess", e->sub.path), "true",
             strdup("pod sets securityContext.windowsOptions.hostProcess=true"),
             "Windows host processes are not allowed");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_windows, &w);
}

static void check_handler_host(lg_eval *e, const char *control, const lg_container *c, json_t *handler,
                               const char *tail)
{
    static const char *const kinds[] = {"httpGet", "tcpSocket"};
    for (size_t i = 0; i < LG_ARRAY_LEN(kinds); i++) {
        json_t *h = lg_get_obj(&e->rd, handler, kinds[i], c->ref);
        const char *host = lg_get_str(&e->rd, h, "host", c->ref);
        if (host && *host) {
            char field[96];
            snprintf(field, sizeof field, "%s.%s.host", tail, kinds[i]);
            lg_emit(e, control, cpath(e, c, field), host, cwhat(c, "sets", field, CLIP(host)),
                 "probes and lifecycle handlers may not name a host");
        }
    }
}

static bool visit_host_probes(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
    for (size_t i = 0; i < LG_ARRAY_LEN(probes); i++)
        check_handler_host(e, w->control, c, lg_get_obj(&e->rd, c->obj, probes[i], c->ref), probes[i]);
    json_t *lc = lg_get_obj(&e->rd, c->obj, "lifecycle", c->ref);
    check_handler_host(e, w->control, c, lg_get_obj(&e->rd, lc, "postStart", c->ref),
                       "lifecycle.postStart");
    check_handler_host(e, w->control, c, lg_get_obj(&e->rd, lc, "preStop", c->ref),
                       "lifecycle.preStop");
    return true;
}

static void ctl_host_probes(lg_eval *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_host_probes, &w);
}

/* Glob with a single leading or trailing '*'. */
static bool pattern_match(const char *pat, const char *s)
{
    size_t pl = strlen(pat), sl = strlen(s);
    if (pl && pat[0] == '*')
        return sl >= pl - 1 && !strcmp(s + sl - (pl - 1), pat + 1);
    if (pl && pat[pl - 1] == '*')
        return !strncmp(s, pat, pl - 1);
    return !strcmp(pat, s);
}

static bool device_restricted(const lg_eval *e, const char *res)
{
    for (size_t i = 0; i < e->pol->restricted_devices.n; i++)
        if (pattern_match(e->pol->restricted_devices.v[i], res))
            return true;
    for (size_t i = 0; i < e->set->n_lanes; i++)
        if (lg_strlist_has(&e->set->lanes[i].device_resources, res))
            return true;
    return false;
}

static bool grants_device(const lg_lane *l, const void *arg)
{
    return lg_strlist_has(&l->device_resources, arg);
}

/* resources.limits / resources.requests of a container or of the pod. */
static void check_resources(lg_eval *e, const char *control, json_t *resources, const char *where,
                            const char *path_prefix, const char *who)
{
    static const char *const kinds[] = {"limits", "requests"};
    for (size_t k = 0; k < LG_ARRAY_LEN(kinds); k++) {
        json_t *m = lg_get_obj(&e->rd, resources, kinds[k], where);
        const char *res;
        json_t *v;
        json_object_foreach(m, res, v) {
            if (!device_restricted(e, res) || (e->lane && lg_strlist_has(&e->lane->device_resources, res)))
                continue;
            char *rule = lg_who_may(e, grants_device, res);
            lg_emit(e, control, lg_strfmt("%s.resources.%s[%s]", path_prefix, kinds[k], CLIP(res)), res,
                 lg_strfmt("%s requests resources.%s[%s]", who, kinds[k], CLIP(res)),
                 rule);
            free(rule);
        }
    }
}

static bool visit_devices(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    char *prefix = lg_strfmt("%s.%s", w->e->sub.path, c->ref);
    char *who = lg_strfmt("container \"%s\" (%s)", CLIP(c->name), c->ref);
    if (prefix && who)
        check_resources(w->e, w->control, lg_get_obj(&w->e->rd, c->obj, "resources", c->ref), c->ref,
                        prefix, who);
    else
        w->e->nomem = true;
    free(prefix);
    free(who);
    return true;
}

static void ctl_device_resources(lg_eval *e, const char *control)
{
    check_resources(e, control, lg_get_obj(&e->rd, e->sub.spec, "resources", "spec"), "spec",
                    e->sub.path, "pod");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_devices, &w);
}

static void ctl_node_pinning(lg_eval *e, const char *control)
{
    const lg_lane *l = e->lane;
    if (!l || !l->pin_keys.n)
        return;
    const char *node = lg_get_str(&e->rd, e->sub.spec, "nodeName", "spec");
    if (node && *node)
        lg_emit(e, control, lg_strfmt("%s.nodeName", e->sub.path), node,
             lg_strfmt("pod sets nodeName=%s", CLIP(node)),
             "a pinned lane may not choose its node; it is scheduled onto labelled nodes");
    json_t *sel = lg_get_obj(&e->rd, e->sub.spec, "nodeSelector", "spec");
    for (size_t i = 0; i < l->pin_keys.n; i++) {
        const char *key = l->pin_keys.v[i], *want = l->pin_values.v[i];
        const char *have = lg_get_str(&e->rd, sel, key, "spec.nodeSelector");
        if (have && strcmp(have, want) != 0) {
            lg_emit(e, control, lg_strfmt("%s.nodeSelector[%s]", e->sub.path, key), have,
                 lg_strfmt("pod sets nodeSelector %s=%s", key, CLIP(have)),
                 "the lane must run on nodes labelled for it");
            continue;
        }
        /* Workload templates get the pinning when their pods are created. */
        if (!have && e->sub.is_pod && !lg_affinity_pins(&e->rd, e->sub.spec, key, want)) {
            char *what = lg_strfmt("pod is not pinned to nodes labelled %s=%s", key, want);
            lg_emit(e, control, lg_strfmt("%s.nodeSelector[%s]", e->sub.path, key), want, what,
                 "set the nodeSelector or a required node affinity (the mutating webhook adds it)");
        }
    }
}

static bool visit_limits(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    lg_eval *e = w->e;
    if (!strcmp(c->list, "ephemeralContainers"))
        return true; /* they cannot have resources */
    json_t *res = lg_get_obj(&e->rd, c->obj, "resources", c->ref);
    json_t *lim = lg_get_obj(&e->rd, res, "limits", c->ref);
    static const char *const keys[] = {"cpu", "memory"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++)
        if (!json_object_get(lim, keys[i])) {
            char field[48];
            snprintf(field, sizeof field, "resources.limits.%s", keys[i]);
            lg_emit(e, w->control, cpath(e, c, field), field,
                 lg_strfmt("container \"%s\" (%s) has no %s", CLIP(c->name), c->ref, field),
                 "runner containers must set cpu and memory limits");
        }
    return true;
}

static void ctl_resource_limits(lg_eval *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_limits, &w);
}

void (*const lg_control_fns[LG_CTL__COUNT])(lg_eval *, const char *) = {
    [LG_CTL_PRIVILEGED] = ctl_privileged,
    [LG_CTL_HOST_NAMESPACES] = ctl_host_namespaces,
    [LG_CTL_HOST_PATH_VOLUMES] = ctl_host_path_volumes,
    [LG_CTL_HOST_PORTS] = ctl_host_ports,
    [LG_CTL_CAPABILITIES] = ctl_capabilities,
    [LG_CTL_PROC_MOUNT] = ctl_proc_mount,
    [LG_CTL_SECCOMP_PROFILE] = ctl_seccomp,
    [LG_CTL_SYSCTLS] = ctl_sysctls,
    [LG_CTL_APPARMOR_PROFILE] = ctl_apparmor,
    [LG_CTL_SELINUX_OPTIONS] = ctl_selinux,
    [LG_CTL_WINDOWS_HOST_PROCESS] = ctl_windows,
    [LG_CTL_HOST_PROBES] = ctl_host_probes,
    [LG_CTL_DEVICE_RESOURCES] = ctl_device_resources,
    [LG_CTL_NODE_PINNING] = ctl_node_pinning,
    [LG_CTL_RESOURCE_LIMITS] = ctl_resource_limits,
};

