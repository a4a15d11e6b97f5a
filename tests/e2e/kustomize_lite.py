#!/usr/bin/env python3
"""kustomize_lite.py — renders lanegate's kustomizations without kubectl.

A stand-in for `kubectl kustomize DIR` on machines that have no kubectl (Debian
bookworm ships only kubectl 1.20, whose kustomize v2 cannot read current
kustomizations). It implements exactly the subset manifests/ and
policies/Kustomization use, and fails loudly on anything else:

  resources (files and directories), namespace, configMapGenerator and
  secretGenerator (files, type, namespace; generatorOptions.labels) with a
  content-hash name suffix and the references to it rewritten, patches (path:
  strategic merge, lists of named items merged by name), images (newName/newTag).

tests/e2e/manifests.sh compares its output with kubectl's whenever both exist,
so it cannot drift from the real thing unnoticed.

usage: kustomize_lite.py DIR   (prints a JSON list of the rendered objects)
"""
import base64
import copy
import hashlib
import json
import os
import sys

import yaml

KNOWN = {"apiVersion", "kind", "resources", "namespace", "configMapGenerator",
         "secretGenerator", "generatorOptions", "patches", "images"}
CLUSTER_SCOPED = {"Namespace", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding",
                  "PriorityClass", "CustomResourceDefinition", "ClusterIssuer"}


def fail(msg):
    sys.exit("kustomize_lite: " + msg)


def kustomization_file(d):
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    return None


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def inside(root, path):
    """kustomize's load restrictor: files must be at or below the root."""
    root = os.path.realpath(root)
    real = os.path.realpath(path)
    if not (real == root or real.startswith(root + os.sep)):
        fail(f"{path} is not in or below {root}")
    return real


def gen_hash(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def generate(root, spec, kind, options):
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": spec["name"]}}
    for key in spec:
        if key not in ("name", "namespace", "files", "type"):
            fail(f"{kind} generator field '{key}' is not supported")
    if spec.get("namespace"):
        obj["metadata"]["namespace"] = spec["namespace"]
    labels = (options or {}).get("labels")
    if labels:
        obj["metadata"]["labels"] = dict(labels)
    data = {}
    for entry in spec.get("files", []):
        key, _, rel = entry.partition("=") if "=" in entry else (os.path.basename(entry), "", entry)
        with open(inside(root, os.path.join(root, rel)), "rb") as f:
            raw = f.read()
        data[key] = raw.decode() if kind == "ConfigMap" else base64.b64encode(raw).decode()
    obj["data"] = data
    if kind == "Secret":
        obj["type"] = spec.get("type", "Opaque")
    return obj


def smp(base, patch):
    """Strategic merge: maps merge, lists of named maps merge by name, others replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if k == "$patch":
                fail("$patch directives are not supported")
            out[k] = smp(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if (isinstance(base, list) and isinstance(patch, list)
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [copy.deepcopy(x) for x in base]
        for p in patch:
            for i, b in enumerate(out):
                if b["name"] == p["name"]:
                    out[i] = smp(b, p)
                    break
            else:
                out.append(copy.deepcopy(p))
        return out
    return copy.deepcopy(patch)


def key_of(o):
    return (o["kind"], o["metadata"]["name"])


def render(d):
    kfile = kustomization_file(d)
    if not kfile:
        fail(f"no kustomization in {d}")
    k = load_docs(kfile)[0]
    for key in k:
        if key not in KNOWN:
            fail(f"{kfile}: field '{key}' is not supported")
    objs, generated = [], {}  # generated: (kind, original name) -> object
    for r in k.get("resources", []):
        p = os.path.join(d, r)
        if os.path.isdir(p):
            sub, subgen = render(p)
            objs += sub
            generated.update(subgen)
        else:
            objs += load_docs(inside(d, p))
    opts = k.get("generatorOptions")
    for kind, field in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for spec in k.get(field, []):
            o = generate(d, spec, kind, opts)
            generated[(kind, spec["name"])] = o
            objs.append(o)
    for p in k.get("patches", []):
        if set(p) != {"path"}:
            fail(f"{kfile}: only 'patches: - path:' is supported")
        for patch in load_docs(inside(d, os.path.join(d, p["path"]))):
            hits = [i for i, o in enumerate(objs) if key_of(o) == key_of(patch)]
            if len(hits) != 1:
                fail(f"{p['path']}: patch target {key_of(patch)} not found")
            objs[hits[0]] = smp(objs[hits[0]], patch)
    ns = k.get("namespace")
    if ns:
        for o in objs:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = ns
            for w in o.get("webhooks", []):
                svc = w.get("clientConfig", {}).get("service")
                if svc is not None:
                    svc["namespace"] = ns
    for img in k.get("images", []):
        for o in objs:
            for c in pod_containers(o):
                name, tag = split_image(c["image"])
                if name == img["name"]:
                    c["image"] = img.get("newName", name) + ":" + img.get("newTag", tag)
    return objs, generated


def pod_containers(o):
    spec = o.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


def split_image(ref):
    name, _, tag = ref.rpartition(":")
    return (name, tag) if name and "/" not in tag else (ref, "latest")


def finish(objs, generated):
    """Hash suffixes on generated objects, and every reference rewritten."""
    renames = {}
    for (kind, name), o in generated.items():
        new = f"{name}-{gen_hash(o.get('data'))}"
        renames[(kind, name)] = new
        o["metadata"]["name"] = new
    for o in objs:
        spec = o.get("spec", {}).get("template", {}).get("spec", {})
        for v in spec.get("volumes", []):
            if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) in renames:
                v["configMap"]["name"] = renames[("ConfigMap", v["configMap"]["name"])]
            if "secret" in v and ("Secret", v["secret"]["secretName"]) in renames:
                v["secret"]["secretName"] = renames[("Secret", v["secret"]["secretName"])]
    return objs


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    objs, generated = render(sys.argv[1])
    seen = set()
    for o in objs:
        if key_of(o) in seen:
            fail(f"duplicate object {key_of(o)}")
        seen.add(key_of(o))
    json.dump(finish(objs, generated), sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
