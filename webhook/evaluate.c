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
#include "hostpath.h"
#include "util.h"

/* Violations listed per request; more are summarised in one line so that a
 * pod with thousands of containers cannot blow up the response. */
#define MAX_FINDINGS 100
#define WARNING_MAX 120

typedef struct finding_list {
    lg_finding *v;
    size_t n, cap;
    size_t dropped;       /* past MAX_FINDINGS */
    bool dropped_enforce; /* one of them would deny on its own */
} finding_list;

typedef struct ev {
    const lg_policy_set *set;
    const lg_request *req;
    lg_reader rd;
    lg_subject sub;
    const char *label;     /* raw lane label value, NULL when none */
    const lg_lane *lane;   /* lane actually granted, NULL when none */
    char lane_phrase[256]; /* how the lane came out, for messages */
    const lg_policy *pol;  /* policy being evaluated */
    size_t hits;           /* findings of the current control */
    finding_list found;
    lg_explain_list *explain;
    bool nomem;
} ev;

/* ---- small helpers ---------------------------------------------------- */

bool lg_strlist_has(const lg_strlist *l, const char *s)
{
    for (size_t i = 0; s && i < l->n; i++)
        if (!strcmp(l->v[i], s))
            return true;
    return false;
}

/* Copies s into buf, clipped to a readable length (values come from users). */
static const char *clip(char *buf, size_t size, const char *s)
{
    size_t n = strlen(s);
    if (n < size) {
        memcpy(buf, s, n + 1);
        return buf;
    }
    size_t keep = size - 4; /* room for "..." and NUL */
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--; /* never split a UTF-8 sequence */
    memcpy(buf, s, keep);
    memcpy(buf + keep, "...", 4);
    return buf;
}

#define CLIP(s) clip((char[72]){0}, 72, (s))

static char *shorten(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return strdup(s);
    size_t keep = max - 3;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    char *out = malloc(keep + 4);
    if (out) {
        memcpy(out, s, keep);
        memcpy(out + keep, "...", 4);
    }
    return out;
}

void lg_explain_push(lg_explain_list *l, const char *policy, const char *rule, lg_outcome o,
                     const char *detail)
{
    if (!l || l->nomem)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        lg_explain *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->nomem = true;
            return;
        }
        l->v = v;
        l->cap = cap;
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

static void findings_free(finding_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        finding_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Records a violation of the current policy's control:
 * message "<policy>: <what>; <rule> (<lane phrase>)", warning "<policy>: <what>". */
static void emit(ev *e, const char *control, char *path, char *what, const char *rule)
{
    e->hits++;
    if (!path || !what) {
        e->nomem = true;
        goto out;
    }
    if (e->found.n >= MAX_FINDINGS) {
        e->found.dropped++;
        e->found.dropped_enforce |= e->pol->mode == LG_MODE_ENFORCE;
        goto out;
    }
    if (e->found.n == e->found.cap) {
        size_t cap = e->found.cap ? e->found.cap * 2 : 8;
        lg_finding *v = realloc(e->found.v, cap * sizeof *v);
        if (!v) {
            e->nomem = true;
            goto out;
        }
        e->found.v = v;
        e->found.cap = cap;
    }
    lg_finding f = {
        .policy = e->pol->name,
        .control = control,
        .mode = e->pol->mode,
        .path = path,
        .message = lg_strfmt("%s: %s; %s (%s)", e->pol->name, what, rule, e->lane_phrase),
    };
    char *w = lg_strfmt("%s: %s", e->pol->name, what);
    f.warning = w ? shorten(w, WARNING_MAX) : NULL;
    free(w);
    if (!f.message || !f.warning) {
        finding_free(&f);
        e->nomem = true;
        free(what);
        return;
    }
    e->found.v[e->found.n++] = f;
    free(what);
    return;
out:
    free(path);
    free(what);
}

/* "only lane "dind" in namespaces a,b may" — the lanes for which grants(lane, arg) holds. */
static char *who_may(const ev *e, bool (*grants)(const lg_lane *, const void *), const void *arg)
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

static const char *pod_service_account(ev *e)
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
static void resolve_lane(ev *e)
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
            snprintf(e->lane_phrase, sizeof e->lane_phrase, "pod is in lane \"%s\"", l->name);
            return;
        }
        why = whybuf;
    }
    if (why)
        snprintf(e->lane_phrase, sizeof e->lane_phrase, "%s", why);
    else
        snprintf(e->lane_phrase, sizeof e->lane_phrase, "pod is in lane \"%s\"", CLIP(e->label));
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

/* ---- controls --------------------------------------------------------- */

/* Container walk state for the per-container controls. */
typedef struct cwalk {
    ev *e;
    const char *control;
} cwalk;

static char *cpath(const ev *e, const lg_container *c, const char *tail)
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
    ev *e = w->e;
    if (container_privileged(&e->rd, c) && !(e->lane && e->lane->allow_privileged)) {
        char *rule = who_may(e, grants_privileged, NULL);
        emit(e, w->control, cpath(e, c, "securityContext.privileged"),
             cwhat(c, "sets", "securityContext.privileged", "true"), rule ? rule : "");
        free(rule);
    }
    return true;
}

static void ctl_privileged(ev *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_privileged, &w);
}

static void ctl_host_namespaces(ev *e, const char *control)
{
    static const char *const keys[] = {"hostNetwork", "hostPID", "hostIPC"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++)
        if (lg_get_bool(&e->rd, e->sub.spec, keys[i], "spec") == 1)
            emit(e, control, lg_strfmt("%s.%s", e->sub.path, keys[i]),
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

static void ctl_host_path_volumes(ev *e, const char *control)
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
                             e->lane->name, norm);
        else {
            char *who = who_may(e, grants_hostpath, &a);
            rule = who && strcmp(who, "no lane may") ? lg_strfmt("%s mount %s", who, norm)
                                                      : strdup("hostPath volumes are not allowed");
            free(who);
        }
        emit(e, control, lg_strfmt("%s.%s.hostPath.path", e->sub.path, ref),
             lg_strfmt("volume \"%s\" (%s) mounts hostPath %s (type %s)", CLIP(name ? name : ""), ref,
                       CLIP(raw ? raw : ""), type && *type ? CLIP(type) : "unset"),
             rule ? rule : "");
        free(rule);
    }
}

static bool visit_host_ports(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    ev *e = w->e;
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
            emit(e, w->control, cpath(e, c, tail), cwhat(c, "sets", tail, val),
                 "host ports are not allowed");
        }
    }
    return true;
}

static void ctl_host_ports(ev *e, const char *control)
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
    ev *e = w->e;
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
        emit(e, w->control, cpath(e, c, tail), cwhat(c, "adds", "capability", CLIP(cap)),
             "only the baseline capabilities may be added");
    }
    return true;
}

static void ctl_capabilities(ev *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_capabilities, &w);
}

static bool visit_proc_mount(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    ev *e = w->e;
    const char *pm = lg_get_str(&e->rd, c->sc, "procMount", c->ref);
    if (pm && strcmp(pm, "Default") != 0)
        emit(e, w->control, cpath(e, c, "securityContext.procMount"),
             cwhat(c, "sets", "securityContext.procMount", CLIP(pm)),
             "only the Default proc mount is allowed (unless spec.hostUsers=false)");
    return true;
}

static void ctl_proc_mount(ev *e, const char *control)
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
    ev *e = w->e;
    const char *t = profile_type(&e->rd, c->sc, "seccompProfile", c->ref);
    if (t && !strcmp(t, "Unconfined"))
        emit(e, w->control, cpath(e, c, "securityContext.seccompProfile.type"),
             cwhat(c, "sets", "securityContext.seccompProfile.type", "Unconfined"),
             "seccomp may not be Unconfined");
    return true;
}

static void ctl_seccomp(ev *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    const char *t = profile_type(&e->rd, psc, "seccompProfile", "spec.securityContext");
    if (t && !strcmp(t, "Unconfined"))
        emit(e, control, lg_strfmt("%s.securityContext.seccompProfile.type", e->sub.path),
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

static void ctl_sysctls(ev *e, const char *control)
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
        emit(e, control, lg_strfmt("%s.securityContext.sysctls[%zu].name", e->sub.path, i),
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
    ev *e = w->e;
    const char *t = profile_type(&e->rd, c->sc, "appArmorProfile", c->ref);
    if (!apparmor_field_ok(t))
        emit(e, w->control, cpath(e, c, "securityContext.appArmorProfile.type"),
             cwhat(c, "sets", "securityContext.appArmorProfile.type", CLIP(t)),
             "AppArmor must be RuntimeDefault or Localhost");
    return true;
}

#define APPARMOR_ANNOTATION "container.apparmor.security.beta.kubernetes.io/"

static void ctl_apparmor(ev *e, const char *control)
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
        emit(e, control, lg_strfmt("metadata.annotations[%s]", CLIP(key)),
             lg_strfmt("pod annotation %s=%s", CLIP(key), CLIP(s)),
             "AppArmor must be runtime/default or localhost/*");
    }
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    const char *t = profile_type(&e->rd, psc, "appArmorProfile", "spec.securityContext");
    if (!apparmor_field_ok(t))
        emit(e, control, lg_strfmt("%s.securityContext.appArmorProfile.type", e->sub.path),
             lg_strfmt("pod sets securityContext.appArmorProfile.type=%s", CLIP(t)),
             "AppArmor must be RuntimeDefault or Localhost");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_apparmor, &w);
}

static const char *const selinux_types[] = {"", "container_t", "container_init_t", "container_kvm_t",
                                            "container_engine_t"};

/* Checks one seLinuxOptions object; who is "pod" or a container description. */
static void check_selinux(ev *e, const char *control, json_t *sc, const char *where,
                          const char *path_prefix, const char *who)
{
    json_t *o = lg_get_obj(&e->rd, sc, "seLinuxOptions", where);
    if (!o)
        return;
    const char *type = lg_get_str(&e->rd, o, "type", where);
    if (type && !in_table(selinux_types, LG_ARRAY_LEN(selinux_types), type))
        emit(e, control, lg_strfmt("%s.seLinuxOptions.type", path_prefix),
             lg_strfmt("%s sets securityContext.seLinuxOptions.type=%s", who, CLIP(type)),
             "only the container SELinux types are allowed");
    static const char *const keys[] = {"user", "role"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const char *v = lg_get_str(&e->rd, o, keys[i], where);
        if (v && *v)
            emit(e, control, lg_strfmt("%s.seLinuxOptions.%s", path_prefix, keys[i]),
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

static void ctl_selinux(ev *e, const char *control)
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
        emit(w->e, w->control, cpath(w->e, c, "securityContext.windowsOptions.hostProcess"),
             cwhat(c, "sets", "securityContext.windowsOptions.hostProcess", "true"),
             "Windows host processes are not allowed");
    return true;
}

static void ctl_windows(ev *e, const char *control)
{
    json_t *psc = lg_get_obj(&e->rd, e->sub.spec, "securityContext", "spec");
    if (host_process(&e->rd, psc, "spec.securityContext"))
        emit(e, control, lg_strfmt("%s.securityContext.windowsOptions.hostProcess", e->sub.path),
             strdup("pod sets securityContext.windowsOptions.hostProcess=true"),
             "Windows host processes are not allowed");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_windows, &w);
}

static void check_handler_host(ev *e, const char *control, const lg_container *c, json_t *handler,
                               const char *tail)
{
    static const char *const kinds[] = {"httpGet", "tcpSocket"};
    for (size_t i = 0; i < LG_ARRAY_LEN(kinds); i++) {
        json_t *h = lg_get_obj(&e->rd, handler, kinds[i], c->ref);
        const char *host = lg_get_str(&e->rd, h, "host", c->ref);
        if (host && *host) {
            char field[96];
            snprintf(field, sizeof field, "%s.%s.host", tail, kinds[i]);
            emit(e, control, cpath(e, c, field), cwhat(c, "sets", field, CLIP(host)),
                 "probes and lifecycle handlers may not name a host");
        }
    }
}

static bool visit_host_probes(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    ev *e = w->e;
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

static void ctl_host_probes(ev *e, const char *control)
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

static bool device_restricted(const ev *e, const char *res)
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
static void check_resources(ev *e, const char *control, json_t *resources, const char *where,
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
            char *rule = who_may(e, grants_device, res);
            emit(e, control, lg_strfmt("%s.resources.%s[%s]", path_prefix, kinds[k], CLIP(res)),
                 lg_strfmt("%s requests resources.%s[%s]", who, kinds[k], CLIP(res)),
                 rule ? rule : "");
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

static void ctl_device_resources(ev *e, const char *control)
{
    check_resources(e, control, lg_get_obj(&e->rd, e->sub.spec, "resources", "spec"), "spec",
                    e->sub.path, "pod");
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_devices, &w);
}

/* True when every term of the required node affinity pins key to value. */
static bool affinity_pins(lg_reader *r, json_t *spec, const char *key, const char *value)
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

static void ctl_node_pinning(ev *e, const char *control)
{
    const lg_lane *l = e->lane;
    if (!l || !l->pin_keys.n)
        return;
    const char *node = lg_get_str(&e->rd, e->sub.spec, "nodeName", "spec");
    if (node && *node)
        emit(e, control, lg_strfmt("%s.nodeName", e->sub.path),
             lg_strfmt("pod sets nodeName=%s", CLIP(node)),
             "a pinned lane may not choose its node; it is scheduled onto labelled nodes");
    json_t *sel = lg_get_obj(&e->rd, e->sub.spec, "nodeSelector", "spec");
    for (size_t i = 0; i < l->pin_keys.n; i++) {
        const char *key = l->pin_keys.v[i], *want = l->pin_values.v[i];
        const char *have = lg_get_str(&e->rd, sel, key, "spec.nodeSelector");
        if (have && strcmp(have, want) != 0) {
            emit(e, control, lg_strfmt("%s.nodeSelector[%s]", e->sub.path, key),
                 lg_strfmt("pod sets nodeSelector %s=%s", key, CLIP(have)),
                 "the lane must run on nodes labelled for it");
            continue;
        }
        /* Workload templates get the pinning when their pods are created. */
        if (!have && e->sub.is_pod && !affinity_pins(&e->rd, e->sub.spec, key, want)) {
            char *what = lg_strfmt("pod is not pinned to nodes labelled %s=%s", key, want);
            emit(e, control, lg_strfmt("%s.nodeSelector[%s]", e->sub.path, key), what,
                 "set the nodeSelector or a required node affinity (the mutating webhook adds it)");
        }
    }
}

static bool visit_limits(const lg_container *c, void *arg)
{
    cwalk *w = arg;
    ev *e = w->e;
    if (!strcmp(c->list, "ephemeralContainers"))
        return true; /* they cannot have resources */
    json_t *res = lg_get_obj(&e->rd, c->obj, "resources", c->ref);
    json_t *lim = lg_get_obj(&e->rd, res, "limits", c->ref);
    static const char *const keys[] = {"cpu", "memory"};
    for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++)
        if (!json_object_get(lim, keys[i])) {
            char field[48];
            snprintf(field, sizeof field, "resources.limits.%s", keys[i]);
            emit(e, w->control, cpath(e, c, field),
                 lg_strfmt("container \"%s\" (%s) has no %s", CLIP(c->name), c->ref, field),
                 "runner containers must set cpu and memory limits");
        }
    return true;
}

static void ctl_resource_limits(ev *e, const char *control)
{
    cwalk w = {e, control};
    lg_containers_each(&e->rd, e->sub.spec, visit_limits, &w);
}

static void (*const control_fns[LG_CTL__COUNT])(ev *, const char *) = {
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

/* Runs every enabled control of every matching policy on e's subject. */
static void validate(ev *e)
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
            control_fns[c](e, lg_control_name((lg_control)c));
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
static bool ev_init(ev *e, const lg_policy_set *set, const lg_request *req, json_t *object)
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

static bool same_finding(const lg_finding *a, const lg_finding *b)
{
    return a->policy == b->policy && !strcmp(a->control, b->control) && !strcmp(a->path, b->path);
}

/* On UPDATE, drops the violations the old object already had. */
static void drop_existing(ev *e, const lg_policy_set *set, const lg_request *req)
{
    ev old;
    if (!ev_init(&old, set, req, req->old_object)) {
        findings_free(&old.found);
        return; /* an unreadable old object excuses nothing */
    }
    validate(&old);
    if (!old.rd.bad && !old.nomem) {
        size_t kept = 0;
        for (size_t i = 0; i < e->found.n; i++) {
            bool existed = false;
            for (size_t j = 0; j < old.found.n && !existed; j++)
                existed = same_finding(&e->found.v[i], &old.found.v[j]);
            if (existed)
                finding_free(&e->found.v[i]);
            else
                e->found.v[kept++] = e->found.v[i];
        }
        e->found.n = kept;
    }
    findings_free(&old.found);
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
    ev e;
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
        validate(&e);
        if (e.rd.bad)
            goto malformed;
        if (req->op == LG_OP_UPDATE && req->old_object && !json_is_null(req->old_object))
            drop_existing(&e, set, req);
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
    out->findings = e.found.v;
    out->nfindings = e.found.n;
    /* Unlisted violations still decide (fail closed, also on UPDATE where
     * they could not be compared with the old object's). */
    out->allowed = !e.found.dropped_enforce;
    for (size_t i = 0; i < out->nfindings; i++)
        if (out->findings[i].mode == LG_MODE_ENFORCE)
            out->allowed = false;
    out->explain = explain.v;
    out->nexplain = explain.n;
    out->lane = e.lane ? strdup(e.lane->name) : NULL;
    out->lane_label = e.label ? strdup(e.label) : NULL;
    if ((e.lane && !out->lane) || (e.label && !out->lane_label)) {
        lg_verdict_free(out);
        return LG_ERR_NOMEM;
    }
    return LG_OK;

malformed:
    lg_diag_set(diag, NULL, 0, 0, "malformed %s: %s", req->kind, e.rd.msg);
    st = LG_ERR_INPUT;
fail:
    findings_free(&e.found);
    for (size_t i = 0; i < explain.n; i++)
        free(explain.v[i].detail);
    free(explain.v);
    lg_verdict_free(out);
    return st;
}
