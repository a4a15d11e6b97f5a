#!/usr/bin/env python3
"""manifests_check.py — structural checks of one rendered kustomize overlay.

usage:
  manifests_check.py check OVERLAY RENDERED [--policies DIR] [--ca-crt FILE]
  manifests_check.py compare A B        (same objects, generated-name hashes aside)

RENDERED is `kubectl kustomize` YAML or kustomize_lite.py JSON. OVERLAY is base,
cert-manager or dev. Prints one line per failed check and a closing
"N passed, N failed"; exits 1 on any failure.
"""
import base64
import json
import os
import re
import sys

import yaml

NS = "lanegate-system"
PORT = 8443  # `lanegate serve` default --listen 0.0.0.0:8443
EXEMPT = {"kube-system", NS}
POD_OPS = ["CREATE", "UPDATE"]
WORKLOADS = {("", "replicationcontrollers"), ("apps", "deployments"), ("apps", "replicasets"),
             ("apps", "statefulsets"), ("apps", "daemonsets"), ("batch", "jobs"),
             ("batch", "cronjobs")}
SERVICE_NAMES = ["lanegate", "lanegate.lanegate-system", "lanegate.lanegate-system.svc",
                 "lanegate.lanegate-system.svc.cluster.local"]

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


def load(path):
    with open(path) as f:
        text = f.read()
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [d for d in yaml.safe_load_all(text) if d is not None]


def get(o, *path, default=None):
    for p in path:
        if isinstance(o, dict) and p in o:
            o = o[p]
        elif isinstance(o, list) and isinstance(p, int) and p < len(o):
            o = o[p]
        else:
            return default
    return o


def one(objs, kind, name=None):
    hits = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    check(len(hits) == 1, f"exactly one {kind}{' ' + name if name else ''} (found {len(hits)})")
    return hits[0] if hits else {}


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_namespace(objs):
    ns = one(objs, "Namespace", NS)
    labels = get(ns, "metadata", "labels", default={})
    check(labels.get("pod-security.kubernetes.io/enforce") == "restricted",
          "namespace enforces Pod Security restricted")
    for o in objs:
        if o["kind"] not in ("Namespace", "ValidatingWebhookConfiguration",
                             "MutatingWebhookConfiguration"):
            check(get(o, "metadata", "namespace") == NS,
                  f"{o['kind']} {o['metadata']['name']} is in {NS}")


def check_deployment(objs, policies_dir):
    sa = one(objs, "ServiceAccount", "lanegate")
    check(sa.get("automountServiceAccountToken") is False, "ServiceAccount: no token automount")
    d = one(objs, "Deployment", "lanegate")
    pod = get(d, "spec", "template", "spec", default={})
    labels = get(d, "spec", "template", "metadata", "labels", default={})
    check(selects(get(d, "spec", "selector", "matchLabels"), labels), "Deployment selector matches its pods")
    check(get(d, "spec", "replicas") == 2, "Deployment: 2 replicas")
    check(get(d, "spec", "strategy", "rollingUpdate", "maxUnavailable") == 0,
          "rollout never drops below the replica count")
    check(pod.get("serviceAccountName") == "lanegate", "pod uses the lanegate ServiceAccount")
    check(pod.get("automountServiceAccountToken") is False, "pod: no token automount")
    check(pod.get("priorityClassName") == "system-cluster-critical", "priorityClassName system-cluster-critical")
    quota = [o for o in objs if o["kind"] == "ResourceQuota"
             and "system-cluster-critical" in str(get(o, "spec", "scopeSelector"))]
    check(len(quota) == 1, "a ResourceQuota admits system-cluster-critical pods (GKE and others)")

    terms = (get(pod, "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", default=[])
             + [t.get("podAffinityTerm", {}) for t in
                get(pod, "affinity", "podAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", default=[])])
    check(any(t.get("topologyKey") == "kubernetes.io/hostname"
              and selects(get(t, "labelSelector", "matchLabels"), labels) for t in terms),
          "pod anti-affinity on kubernetes.io/hostname against its own pods")

    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, "pod runAsNonRoot")
    check(get(psc, "seccompProfile", "type") == "RuntimeDefault", "pod seccomp RuntimeDefault")
    check(psc.get("runAsUser") == 65532, "pod runs as 65532 (the image's user)")
    containers = pod.get("containers", [])
    check(len(containers) == 1, "one container")
    c = containers[0] if containers else {}
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    check(get(sc, "capabilities", "drop") == ["ALL"], "capabilities drop ALL, add none")
    check(not get(sc, "capabilities", "add"), "no capabilities added")
    check(sc.get("privileged") in (None, False), "not privileged")
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(get(res, kind, r) is not None, f"resources.{kind}.{r} set")

    args = c.get("args", [])
    flags = dict(zip(args[::2], args[1::2]))
    check(len(args) % 2 == 0 and all(a.startswith("--") for a in args[::2]),
          "args are --flag value pairs (the image's ENTRYPOINT is lanegate serve)")
    check(flags.get("--listen") == f"0.0.0.0:{PORT}", f"--listen 0.0.0.0:{PORT}")
    check(flags.get("--policies") == "/etc/lanegate/policies", "--policies /etc/lanegate/policies")
    check(flags.get("--tls-cert") == "/etc/lanegate/tls/tls.crt", "--tls-cert /etc/lanegate/tls/tls.crt")
    check(flags.get("--tls-key") == "/etc/lanegate/tls/tls.key", "--tls-key /etc/lanegate/tls/tls.key")

    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    check(list(ports.values()) == [PORT], f"the container exposes only {PORT}")

    def port_of(ref):
        return ports.get(ref) if isinstance(ref, str) else ref

    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = get(c, probe, "httpGet", default={})
        check(hg.get("path") == path and hg.get("scheme") == "HTTPS" and port_of(hg.get("port")) == PORT,
              f"{probe}: HTTPS {path} on {PORT}")

    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    pm, tm = mounts.get("/etc/lanegate/policies"), mounts.get("/etc/lanegate/tls")
    check(pm is not None and pm.get("readOnly") is True and "subPath" not in pm,
          "policies mounted read-only at /etc/lanegate/policies (whole directory: hot reload)")
    check(tm is not None and tm.get("readOnly") is True and "subPath" not in tm,
          "TLS mounted read-only at /etc/lanegate/tls (whole directory: cert reload)")
    cm_name = get(vols.get(pm["name"] if pm else ""), "configMap", "name")
    secret_name = get(vols.get(tm["name"] if tm else ""), "secret", "secretName")
    check(bool(cm_name) and bool(secret_name), "the mounts are a ConfigMap and a Secret")

    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm_name]
    check(len(cms) == 1 and re.fullmatch(r"lanegate-policies-[a-z0-9]{10}", cm_name or ""),
          "the policies ConfigMap exists, with a content-hash name (re-apply rolls the pods)")
    if cms and policies_dir:
        files = sorted(f for f in os.listdir(policies_dir) if f.endswith((".yaml", ".yml")))
        data = cms[0].get("data", {})
        check(sorted(data) == files,
              f"ConfigMap holds every policies/*.yaml and nothing else (missing {sorted(set(files) - set(data))}, "
              f"extra {sorted(set(data) - set(files))}; list new files in policies/Kustomization)")
        for f in files:
            with open(os.path.join(policies_dir, f)) as fh:
                check(data.get(f) == fh.read(), f"ConfigMap {f} is byte-identical to policies/{f}")

    svc = one(objs, "Service", "lanegate")
    sp = get(svc, "spec", "ports", default=[])
    check(len(sp) == 1 and sp[0].get("port") == 443 and port_of(sp[0].get("targetPort")) == PORT,
          f"Service 443 -> {PORT}")
    check(selects(get(svc, "spec", "selector"), labels), "Service selects the webhook pods")

    pdb = one(objs, "PodDisruptionBudget", "lanegate")
    check(get(pdb, "spec", "minAvailable") == 1, "PDB minAvailable 1")
    check(selects(get(pdb, "spec", "selector", "matchLabels"), labels), "PDB selects the webhook pods")

    np = one(objs, "NetworkPolicy", "lanegate")
    check(selects(get(np, "spec", "podSelector", "matchLabels"), labels), "NetworkPolicy selects the webhook pods")
    check("Ingress" in get(np, "spec", "policyTypes", default=[]), "NetworkPolicy governs ingress")
    ing = get(np, "spec", "ingress", default=[])
    allowed = [(p.get("protocol", "TCP"), port_of(p.get("port"))) for r in ing for p in r.get("ports", [])]
    check(len(ing) >= 1 and all(r.get("ports") for r in ing) and set(allowed) == {("TCP", PORT)},
          f"NetworkPolicy lets in only TCP {PORT} (webhook and metrics)")
    return svc, secret_name


def rules_set(w):
    out = set()
    for r in w.get("rules", []):
        check(r.get("scope") == "Namespaced", f"{w['name']}: rule scope Namespaced")
        check(r.get("apiVersions") in (["v1"], ["*"]), f"{w['name']}: rule apiVersions")
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for op in r.get("operations", []):
                    out.add((g, res, op))
    return out


def check_webhooks(objs, svc, overlay, ca_crt):
    v = one(objs, "ValidatingWebhookConfiguration")
    m = one(objs, "MutatingWebhookConfiguration")
    svc_name, svc_ns = get(svc, "metadata", "name"), get(svc, "metadata", "namespace")
    svc_port = get(svc, "spec", "ports", 0, "port")
    for conf, path in ((v, "/validate"), (m, "/mutate")):
        ws = conf.get("webhooks", [])
        check(len(ws) >= 1, f"{conf.get('kind')} has webhooks")
        for w in ws:
            n = w.get("name", "?")
            check(n.count(".") >= 2, f"{n}: fully qualified webhook name")
            check(w.get("admissionReviewVersions") == ["v1"], f"{n}: admissionReviewVersions [v1]")
            check(w.get("sideEffects") == "None", f"{n}: sideEffects None")
            check(w.get("failurePolicy") == "Fail", f"{n}: failurePolicy Fail")
            check(w.get("timeoutSeconds") == 5, f"{n}: timeoutSeconds 5")
            check(w.get("matchPolicy") == "Equivalent", f"{n}: matchPolicy Equivalent")
            s = get(w, "clientConfig", "service", default={})
            check("url" not in w.get("clientConfig", {}), f"{n}: reached through the Service, not a URL")
            check(s.get("name") == svc_name and s.get("namespace") == svc_ns,
                  f"{n}: points at Service {svc_ns}/{svc_name}")
            check(s.get("port", 443) == svc_port, f"{n}: Service port {svc_port}")
            check(s.get("path") == path, f"{n}: path {path}")
            exprs = get(w, "namespaceSelector", "matchExpressions", default=[])
            excluded = set()
            for e in exprs:
                if e.get("key") == "kubernetes.io/metadata.name" and e.get("operator") == "NotIn":
                    excluded |= set(e.get("values", []))
            check(EXEMPT <= excluded and svc_ns in excluded,
                  f"{n}: namespaceSelector leaves out kube-system and the webhook's own namespace "
                  f"by kubernetes.io/metadata.name")
            check(not get(w, "namespaceSelector", "matchLabels") and
                  all(e.get("operator") == "NotIn" for e in exprs),
                  f"{n}: the namespaceSelector only excludes")
            check(not w.get("objectSelector"), f"{n}: no objectSelector (a pod label cannot opt out)")
            bundle = get(w, "clientConfig", "caBundle")
            if overlay == "dev":
                with open(ca_crt, "rb") as f:
                    want = base64.b64encode(f.read()).decode()
                check(bundle == want, f"{n}: caBundle is base64 of the dev ca.crt")
            else:
                check(bundle is None, f"{n}: no caBundle in {overlay} (injected or patched in later)")
            if overlay == "cert-manager":
                ann = get(conf, "metadata", "annotations", "cert-manager.io/inject-ca-from")
                check(ann == f"{NS}/lanegate-serving", f"{n}: cert-manager.io/inject-ca-from {NS}/lanegate-serving")
    vrules = set().union(*[rules_set(w) for w in v.get("webhooks", [])] or [set()])
    want = {("", "pods", op) for op in POD_OPS} | {("", "pods/ephemeralcontainers", "UPDATE")}
    want |= {(g, r, op) for g, r in WORKLOADS for op in POD_OPS}
    check(vrules == want, f"validating rules: pods CREATE/UPDATE, pods/ephemeralcontainers UPDATE, "
                          f"workloads CREATE/UPDATE (missing {sorted(want - vrules)}, extra {sorted(vrules - want)})")
    mw = m.get("webhooks", [])
    mrules = set().union(*[rules_set(w) for w in mw] or [set()])
    check(mrules == {("", "pods", "CREATE")}, f"mutating rules: pods CREATE only (got {sorted(mrules)})")
    check(all(w.get("reinvocationPolicy") == "IfNeeded" for w in mw) and mw, "mutating reinvocationPolicy IfNeeded")


def check_cert_manager(objs, secret_name):
    issuers = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Issuer"}
    certs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Certificate"}
    selfsigned = [n for n, o in issuers.items() if "selfSigned" in o.get("spec", {})]
    check(len(selfsigned) == 1, "a self-signed Issuer")
    ca = [c for c in certs.values() if get(c, "spec", "isCA") is True]
    check(len(ca) == 1, "one CA Certificate")
    if not (selfsigned and ca):
        return
    ca = ca[0]
    check(get(ca, "spec", "issuerRef", "name") == selfsigned[0], "the CA Certificate is issued by the self-signed Issuer")
    ca_issuers = [n for n, o in issuers.items() if get(o, "spec", "ca", "secretName") == get(ca, "spec", "secretName")]
    check(len(ca_issuers) == 1, "a CA Issuer signs with the CA Certificate's Secret")
    serving = certs.get("lanegate-serving", {})
    check(get(serving, "spec", "issuerRef", "name") in ca_issuers, "the serving Certificate is issued by the CA Issuer")
    check(get(serving, "spec", "secretName") == secret_name, f"the serving Certificate writes the mounted Secret {secret_name}")
    check(set(SERVICE_NAMES) <= set(get(serving, "spec", "dnsNames", default=[])), "serving Certificate has the four Service names")
    check("server auth" in get(serving, "spec", "usages", default=[]), "serving Certificate usage: server auth")
    check(get(serving, "spec", "privateKey", "rotationPolicy") == "Always", "serving key rotates with the certificate")


def check_dev(objs, secret_name):
    sec = [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == secret_name]
    check(len(sec) == 1, f"the dev overlay generates the mounted Secret ({secret_name})")
    if sec:
        check(sec[0].get("type") == "kubernetes.io/tls", "dev Secret type kubernetes.io/tls")
        check(sorted(sec[0].get("data", {})) == ["tls.crt", "tls.key"], "dev Secret holds tls.crt and tls.key")


def cmd_check(overlay, rendered, policies, ca_crt):
    objs = load(rendered)
    kinds = sorted({o["kind"] for o in objs})
    want = {"Namespace", "ServiceAccount", "ResourceQuota", "Deployment", "PodDisruptionBudget", "Service",
            "NetworkPolicy", "ConfigMap", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
    if overlay == "cert-manager":
        want |= {"Issuer", "Certificate"}
    if overlay == "dev":
        want |= {"Secret"}
    check(set(kinds) == want, f"{overlay}: kinds {kinds}, want {sorted(want)}")
    check_namespace(objs)
    svc, secret_name = check_deployment(objs, policies)
    if overlay in ("base", "cert-manager"):
        check(secret_name == "lanegate-tls", "the Deployment mounts Secret lanegate-tls")
    check_webhooks(objs, svc, overlay, ca_crt)
    if overlay == "cert-manager":
        check_cert_manager(objs, secret_name)
    if overlay == "dev":
        check_dev(objs, secret_name)
        img = get(objs_by_kind(objs, "Deployment"), "spec", "template", "spec", "containers", 0, "image")
        check(img == "lanegate:dev", "dev overlay runs the locally built image lanegate:dev")


def objs_by_kind(objs, kind):
    return next((o for o in objs if o["kind"] == kind), {})


def normalise(objs):
    """Maps generated names (NAME-<10 char hash>) back to NAME everywhere, and
    unwraps Secret data (kubectl folds long base64 values over lines)."""
    for o in objs:
        if o["kind"] == "Secret":
            o["data"] = {k: "".join(v.split()) for k, v in o.get("data", {}).items()}
    names = {o["metadata"]["name"] for o in objs if o["kind"] in ("ConfigMap", "Secret")
             and re.fullmatch(r".+-[a-z0-9]{10}", o["metadata"]["name"])}
    text = json.dumps(sorted(objs, key=lambda o: (o["kind"], o["metadata"]["name"][:-11]
                                                    if o["metadata"]["name"] in names else o["metadata"]["name"])),
                      sort_keys=True)
    for n in names:
        text = text.replace(json.dumps(n), json.dumps(n[:-11]))
    return json.loads(text)


def cmd_compare(a, b):
    x, y = normalise(load(a)), normalise(load(b))
    if check(x == y, f"{a} and {b} render the same objects"):
        return
    kx = {(o["kind"], o["metadata"]["name"]): o for o in x}
    ky = {(o["kind"], o["metadata"]["name"]): o for o in y}
    for k in sorted(set(kx) | set(ky)):
        if kx.get(k) != ky.get(k):
            print(f"  differs: {k}")


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) >= 2 and args[-2].startswith("--"):
        opts[args[-2]] = args[-1]
        args = args[:-2]
    if len(args) == 3 and args[0] == "check":
        cmd_check(args[1], args[2], opts.get("--policies"), opts.get("--ca-crt"))
    elif len(args) == 3 and args[0] == "compare":
        cmd_compare(args[1], args[2])
    else:
        sys.exit(__doc__)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
