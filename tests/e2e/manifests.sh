#!/usr/bin/env bash
# manifests.sh — renders every kustomize target (base, overlays/cert-manager,
# overlays/dev) offline and checks the rendered objects structurally
# (manifests_check.py: kinds, safety settings, ports, webhook rules and paths,
# the policies ConfigMap against policies/, the dev caBundle against
# `lanegate certs`).
#
# Renderer: `kubectl kustomize` when kubectl (>= 1.21, kustomize v4+) is there.
# kustomize_lite.py renders the same targets in every run, and its output must
# equal kubectl's; on a machine without kubectl it is the renderer, so the
# structural checks still run (a note says so). Debian bookworm has no usable
# kubectl package (kubernetes-client is 1.20, kustomize v2).
set -uo pipefail
LANEGATE=${LANEGATE:-$PWD/build/lanegate}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/lg-manifests-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT

PY=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "FAIL: manifests.sh needs python3 with PyYAML (Debian: apt-get install python3-yaml; .ci/run installs it)"
  exit 1
fi

# LANEGATE_KUBECTL= (empty) forces the kubectl-less path, to test it here.
KUBECTL=${LANEGATE_KUBECTL-kubectl}
kubectl_minor() { # client minor version, 0 when unknown
  "$KUBECTL" version --client -o json 2>/dev/null |
    "$PY" -c 'import json,sys,re; print(int(re.sub(r"\D","",json.load(sys.stdin)["clientVersion"]["minor"]) or 0))' 2>/dev/null || echo 0
}
if [ -n "$KUBECTL" ] && command -v "$KUBECTL" >/dev/null 2>&1 && "$KUBECTL" kustomize --help >/dev/null 2>&1; then
  if [ "$(kubectl_minor)" -lt 21 ]; then
    echo "note: $KUBECTL is older than 1.21 (kustomize v2 cannot read these kustomizations): using kustomize_lite.py"
    KUBECTL=
  fi
else
  KUBECTL=
  echo "note: kubectl not found: rendering with tests/e2e/kustomize_lite.py only"
fi

pass=0 fail=0
tally() { # adds a manifests_check.py run's "N passed, N failed" to ours
  local line
  line=$(tail -n1 "$1")
  sed '$d' "$1"
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    pass=$((pass + BASH_REMATCH[1])); fail=$((fail + BASH_REMATCH[2]))
  else
    fail=$((fail + 1)); echo "FAIL: no summary from manifests_check.py"; cat "$1"
  fi
}

# Work on a copy: the dev overlay's generated/ files are written there, never in the tree.
mkdir -p "$T/repo"
cp -r manifests policies "$T/repo/"
rm -rf "$T/repo/manifests/overlays/dev/generated"
if bash "$T/repo/manifests/overlays/dev/prepare.sh" "$LANEGATE" "$T/repo/certs/dev" 2>"$T/prepare.err"; then
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: prepare.sh"; cat "$T/prepare.err"
fi
[ "$(stat -c %a "$T/repo/manifests/overlays/dev/generated/tls.key" 2>/dev/null)" = 600 ] &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: generated/tls.key is not 0600"; }
# prepare.sh again: keeps the existing certificates (same caBundle)
before=$(sha256sum <"$T/repo/manifests/overlays/dev/generated/ca-bundle.yaml")
bash "$T/repo/manifests/overlays/dev/prepare.sh" "$LANEGATE" "$T/repo/certs/dev" 2>/dev/null
[ "$(sha256sum <"$T/repo/manifests/overlays/dev/generated/ca-bundle.yaml")" = "$before" ] &&
  pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: a second prepare.sh changed the caBundle"; }

for target in base overlays/cert-manager overlays/dev; do
  name=${target#overlays/}
  dir=$T/repo/manifests/$target
  echo "-- $target"
  if ! "$PY" "$HERE/kustomize_lite.py" "$dir" >"$T/$name.lite.json" 2>"$T/err"; then
    fail=$((fail + 1)); echo "FAIL: kustomize_lite.py $target"; cat "$T/err"; continue
  fi
  rendered=$T/$name.lite.json
  if [ -n "$KUBECTL" ]; then
    if ! (cd "$T/repo" && $KUBECTL kustomize "manifests/$target") >"$T/$name.yaml" 2>"$T/err"; then
      fail=$((fail + 1)); echo "FAIL: kubectl kustomize $target"; cat "$T/err"; continue
    fi
    rendered=$T/$name.yaml
    "$PY" "$HERE/manifests_check.py" compare "$T/$name.yaml" "$T/$name.lite.json" >"$T/cmp" 2>&1
    tally "$T/cmp"
  fi
  "$PY" "$HERE/manifests_check.py" check "$name" "$rendered" --policies "$T/repo/policies" \
    --ca-crt "$T/repo/certs/dev/ca.crt" >"$T/chk" 2>&1
  tally "$T/chk"
done

# The checks must be able to fail: a few broken variants of the base are caught.
mutate() { # mutate DESCRIPTION FILE SED-EXPR
  rm -rf "$T/mut"; cp -r "$T/repo" "$T/mut"
  sed -i "$3" "$T/mut/$2"
  if "$PY" "$HERE/kustomize_lite.py" "$T/mut/manifests/base" >"$T/mut.json" 2>/dev/null &&
     "$PY" "$HERE/manifests_check.py" check base "$T/mut.json" --policies "$T/mut/policies" >/dev/null 2>&1; then
    fail=$((fail + 1)); echo "FAIL: not caught: $1"
  else
    pass=$((pass + 1))
  fi
}
mutate "failurePolicy Ignore" manifests/base/webhooks.yaml 's/failurePolicy: Fail/failurePolicy: Ignore/'
mutate "kube-system not excluded" manifests/base/webhooks.yaml 's/values: \[kube-system, lanegate-system\]/values: [lanegate-system]/'
mutate "ephemeralcontainers rule dropped" manifests/base/webhooks.yaml 's|resources: \[pods/ephemeralcontainers\]|resources: [pods/status]|'
mutate "wrong path" manifests/base/webhooks.yaml 's|path: /mutate|path: /validate|'
mutate "Service targets another port" manifests/base/service.yaml 's/targetPort: 8443/targetPort: 9443/'
mutate "one replica" manifests/base/deployment.yaml 's/replicas: 2/replicas: 1/'
mutate "writable root filesystem" manifests/base/deployment.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/'
mutate "policy file not in the ConfigMap" policies/Kustomization '/30-baseline.yaml/d'

# The server's own default port, once `lanegate serve` exists.
if "$LANEGATE" serve --help 2>&1 | grep -q -- "--listen"; then
  if "$LANEGATE" serve --help 2>&1 | grep -q "8443"; then pass=$((pass + 1))
  else fail=$((fail + 1)); echo "FAIL: 'lanegate serve --help' does not show the 8443 default the manifests use"; fi
fi

echo "manifests: $pass passed, $fail failed"
[ "$fail" = 0 ]
