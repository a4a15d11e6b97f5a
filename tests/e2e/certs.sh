#!/usr/bin/env bash
# certs.sh — `lanegate certs` end to end: files and modes, the caBundle, refusal
# to overwrite, --renew, --client, --check exit codes (expiry, chain, names),
# bad arguments, an independent verifier (openssl, when present) and real TLS
# handshakes with curl: against `openssl s_server` and, once it exists, against
# `lanegate serve` (GET /healthz).
set -uo pipefail
LANEGATE=${LANEGATE:-$PWD/build/lanegate}
T=$(mktemp -d /tmp/lg-certs-e2e.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect CODE DESCRIPTION -- command...
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$what: exit $got, want $want"; sed 's/^/  | /' "$T/err" | head -5; fi
}
mode() { stat -c %a "$1"; }

# ---- generation --------------------------------------------------------------
D=$T/dev
expect 0 "generate" -- "$LANEGATE" certs --out "$D" --dns localhost --ip 127.0.0.1 --client apiserver
for f in ca.crt ca.key tls.crt tls.key client.crt client.key; do
  [ -f "$D/$f" ] && ok || bad "missing $f"
done
for f in ca.key tls.key client.key; do
  [ "$(mode "$D/$f")" = 600 ] && ok || bad "$f mode $(mode "$D/$f"), want 600"
done
[ "$(mode "$D")" = 700 ] && ok || bad "directory mode $(mode "$D"), want 700"
# stdout is exactly the caBundle: base64 of ca.crt, one line
[ "$(cat "$T/out")" = "$(base64 -w0 "$D/ca.crt")" ] && ok || bad "printed caBundle is not base64(ca.crt)"
[ "$(wc -l <"$T/out")" = 1 ] && ok || bad "caBundle is not one line"

# keys are 0600 under a permissive umask too
expect 0 "generate with umask 000" -- bash -c "umask 000; exec '$LANEGATE' certs --out '$T/umask' --client c"
for f in ca.key tls.key client.key; do
  [ "$(mode "$T/umask/$f")" = 600 ] && ok || bad "umask 000: $f mode $(mode "$T/umask/$f")"
done

# --ca-bundle FILE: written there, stdout empty
expect 0 "generate --ca-bundle" -- "$LANEGATE" certs --out "$T/b" --ca-bundle "$T/b.b64"
[ ! -s "$T/out" ] && ok || bad "--ca-bundle still printed to stdout"
[ "$(cat "$T/b.b64")" = "$(base64 -w0 "$T/b/ca.crt")" ] && ok || bad "--ca-bundle file content"

# ---- refusal, --force, --renew ----------------------------------------------------
sum_before=$(cat "$D"/*.crt "$D"/*.key | sha256sum)
expect 2 "second run without --force" -- "$LANEGATE" certs --out "$D"
grep -q "refusing to overwrite" "$T/err" && ok || bad "refusal message"
[ "$(cat "$D"/*.crt "$D"/*.key | sha256sum)" = "$sum_before" ] && ok || bad "files changed after a refused run"

bundle_before=$(base64 -w0 "$D/ca.crt")
expect 0 "--renew" -- "$LANEGATE" certs --out "$D" --renew --dns localhost --ip 127.0.0.1 --client apiserver
[ "$(cat "$T/out")" = "$bundle_before" ] && ok || bad "--renew changed the caBundle"
[ "$(mode "$D/tls.key")" = 600 ] && ok || bad "--renew: tls.key mode"
expect 0 "--check after --renew" -- "$LANEGATE" certs --check "$D"

cp "$D/ca.crt" "$T/f-ca-before" 2>/dev/null
expect 0 "--force" -- "$LANEGATE" certs --out "$T/b" --force
[ "$(cat "$T/out")" != "$(cat "$T/b.b64")" ] && ok || bad "--force kept the old CA"

# ---- --check -------------------------------------------------------------------------
expect 0 "--check fresh set" -- "$LANEGATE" certs --check "$D"
for want in "tls.crt: CN=lanegate.lanegate-system.svc" "DNS:lanegate.lanegate-system.svc.cluster.local" \
            "IP:127.0.0.1" "DNS:localhost" "days left" "client.crt: CN=apiserver"; do
  grep -qF "$want" "$T/out" && ok || bad "--check output lacks '$want'"
done
expect 0 "--check with the right service" -- "$LANEGATE" certs --check "$D" --service lanegate --namespace lanegate-system
expect 1 "--check with another service" -- "$LANEGATE" certs --check "$D" --service other
grep -q "no subject alternative name for other" "$T/out" && ok || bad "--check names the missing SAN"

for days_rc in "10 1" "365 0" "30 1" "31 0"; do
  set -- $days_rc
  rm -rf "$T/exp"
  "$LANEGATE" certs --out "$T/exp" --days "$1" >/dev/null 2>&1
  expect "$2" "--days $1 then --check" -- "$LANEGATE" certs --check "$T/exp"
done
expect 0 "--check --min-days 5 on a 10-day cert" -- bash -c "rm -rf '$T/exp' && '$LANEGATE' certs --out '$T/exp' --days 10 >/dev/null 2>&1 && '$LANEGATE' certs --check '$T/exp' --min-days 5"

# a serving certificate from another CA does not chain
cp "$T/umask/tls.crt" "$T/umask/tls.key" "$T/b/"
expect 1 "--check, serving cert from another CA" -- "$LANEGATE" certs --check "$T/b"
grep -q "does not chain" "$T/out" && ok || bad "--check says it does not chain"
expect 2 "--check on a missing directory" -- "$LANEGATE" certs --check "$T/nope"

# ---- RSA -----------------------------------------------------------------------------
expect 0 "--key-type rsa" -- "$LANEGATE" certs --out "$T/rsa" --key-type rsa --rsa-bits 2048
expect 0 "--check rsa" -- "$LANEGATE" certs --check "$T/rsa"

# ---- bad arguments: exit 2, nothing written -----------------------------------------------
while IFS= read -r args; do
  [ -z "$args" ] && continue
  eval "set -- $args"
  expect 2 "bad args: $args" -- "$LANEGATE" certs "$@"
done <<'EOF'
--out BAD --days 0
--out BAD --days 36501
--out BAD --days abc
--out BAD --days -1
--out BAD --ca-days 0
--out BAD --days 400 --ca-days 300
--out BAD --key-type dsa
--out BAD --key-type rsa --rsa-bits 4096
--out BAD --ip 1.2.3
--out BAD --ip 10.0.0.1/8
--out BAD --dns 'bad name'
--out BAD --dns -x.example
--out BAD --service Lanegate
--out BAD --namespace kube_system
--out BAD --client ''
--out BAD --renew --force
--out BAD --min-days 3
--out BAD extra-argument
--out BAD --no-such-option
--out
--days 10
--check BAD --force
--check BAD --out BAD
EOF
[ ! -e BAD ] && ok || { bad "a rejected run created ./BAD"; rm -rf BAD; }

# ---- an independent verifier --------------------------------------------------------------
if command -v openssl >/dev/null 2>&1; then
  expect 0 "openssl: serving cert for the Service name" -- openssl verify -CAfile "$D/ca.crt" -purpose sslserver -verify_hostname lanegate.lanegate-system.svc "$D/tls.crt"
  expect 0 "openssl: serving cert for 127.0.0.1" -- openssl verify -CAfile "$D/ca.crt" -purpose sslserver -verify_ip 127.0.0.1 "$D/tls.crt"
  expect 2 "openssl: wrong host refused" -- openssl verify -CAfile "$D/ca.crt" -verify_hostname lanegate.other.svc "$D/tls.crt"
  expect 0 "openssl: client cert" -- openssl verify -CAfile "$D/ca.crt" -purpose sslclient "$D/client.crt"
  expect 2 "openssl: client cert is not a server cert" -- openssl verify -CAfile "$D/ca.crt" -purpose sslserver "$D/client.crt"
  expect 0 "openssl: RSA chain" -- openssl verify -CAfile "$T/rsa/ca.crt" -purpose sslserver "$T/rsa/tls.crt"
  expect 0 "openssl reads the PKCS#8 key" -- openssl pkey -in "$D/tls.key" -noout
else
  echo "note: openssl not installed, independent verification skipped"
fi

# ---- real TLS handshakes with curl ----------------------------------------------------------
free_port() { # a port nothing listens on (loopback only)
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}
wait_https() { # wait_https URL CA: until a verified TLS request succeeds (10 s)
  for _ in $(seq 100); do
    curl -sS --max-time 2 --cacert "$2" -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

if command -v curl >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
  port=$(free_port)
  openssl s_server -quiet -www -accept "127.0.0.1:$port" -cert "$D/tls.crt" -key "$D/tls.key" >/dev/null 2>&1 &
  PIDS+=($!)
  if wait_https "https://localhost:$port/" "$D/ca.crt"; then
    ok
    expect 0 "curl to 127.0.0.1 (IP SAN)" -- curl -sS --max-time 5 --cacert "$D/ca.crt" -o /dev/null "https://127.0.0.1:$port/"
    expect 0 "curl by the Service name" -- curl -sS --max-time 5 --cacert "$D/ca.crt" -o /dev/null --resolve "lanegate.lanegate-system.svc:$port:127.0.0.1" "https://lanegate.lanegate-system.svc:$port/"
    expect 60 "curl with another CA is refused" -- curl -sS --max-time 5 --cacert "$T/rsa/ca.crt" -o /dev/null "https://localhost:$port/"
  else
    bad "curl could not reach openssl s_server with the generated certificates"
  fi
  kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null; unset 'PIDS[-1]'
else
  echo "note: curl or openssl missing, s_server handshake skipped"
fi

# `lanegate serve` with the generated certificates: GET /healthz over verified TLS.
if "$LANEGATE" serve --help >/dev/null 2>&1 && "$LANEGATE" serve --help 2>&1 | grep -q -- "--tls-cert"; then
  port=$(free_port)
  "$LANEGATE" serve --policies policies --tls-cert "$D/tls.crt" --tls-key "$D/tls.key" \
    --listen "127.0.0.1:$port" 2>"$T/serve.log" &
  PIDS+=($!)
  if wait_https "https://localhost:$port/healthz" "$D/ca.crt"; then
    ok
    expect 0 "lanegate serve: curl --cacert ca.crt /healthz" -- curl -fsS --max-time 5 --cacert "$D/ca.crt" "https://localhost:$port/healthz"
    expect 0 "lanegate serve: by the Service name" -- curl -fsS --max-time 5 --cacert "$D/ca.crt" --resolve "lanegate.lanegate-system.svc:$port:127.0.0.1" "https://lanegate.lanegate-system.svc:$port/healthz"
  else
    bad "lanegate serve did not answer /healthz over TLS"; sed 's/^/  | /' "$T/serve.log" | tail -5
  fi
else
  echo "note: 'lanegate serve' is not available in this build; serve handshake skipped"
fi

echo "certs: $pass passed, $fail failed"
[ "$fail" = 0 ]
