# serve_limits.sh — hostile and broken clients: connection limit, idle timeout,
# bytes that are not TLS, HTTP that is not HTTP, oversized headers, bodies that
# are barely JSON. Nothing may crash or wedge the server.
. "$(dirname "$0")/lib.sh"
lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
lg_start limits --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$LG_ROOT/policies" \
    --threads 2 --max-connections 4 --idle-timeout 2
healthy() { [ "$(lg_status "$LG_URL/healthz")" = 200 ]; }
# tls_raw FILE: sends FILE's bytes over TLS, prints the first response line.
tls_raw() {
    { cat "$1"; sleep 0.5; } | timeout 5 gnutls-cli --no-ca-verification --logfile=/dev/null -p "$LG_PORT" 127.0.0.1 2>/dev/null |
        tr -d '\r' | awk 'NR == 1 {print; exit}'
}

echo "-- connection limit and idle timeout"
exec 3<>"/dev/tcp/127.0.0.1/$LG_PORT" 4<>"/dev/tcp/127.0.0.1/$LG_PORT" 5<>"/dev/tcp/127.0.0.1/$LG_PORT" 6<>"/dev/tcp/127.0.0.1/$LG_PORT"
sleep 0.2
lg_eq "a 5th connection is not served while 4 idle ones are open" 000 "$(lg_status --max-time 0.8 "$LG_URL/healthz" 2>/dev/null)"
if lg_wait_for healthy; then lg_ok "idle connections timed out, service is back"; else lg_fail "still refused after the idle timeout"; fi
exec 3>&- 4>&- 5>&- 6>&-

echo "-- bytes that are not TLS"
head -c 65536 /dev/urandom >"$LG_TMP/random"
# (subshells: the server may hang up first, and a SIGPIPE must not end this script)
(cat "$LG_TMP/random" >"/dev/tcp/127.0.0.1/$LG_PORT") 2>/dev/null || true
(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' >"/dev/tcp/127.0.0.1/$LG_PORT") 2>/dev/null || true
lg_eq "healthy after random bytes and plain HTTP" 200 "$(lg_status "$LG_URL/healthz")"

echo "-- HTTP that is not HTTP, inside TLS"
printf 'GARBAGE\r\n\r\n' >"$LG_TMP/garbage"
lg_match "garbage request line: 4xx or closed" '^(HTTP/1\.1 4[0-9][0-9].*)?$' "$(tls_raw "$LG_TMP/garbage")"
{ printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 100000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$LG_TMP/bigheader"
lg_match "100 KB header: 4xx or closed" '^(HTTP/1\.1 4[0-9][0-9].*)?$' "$(tls_raw "$LG_TMP/bigheader")"
printf 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n' >"$LG_TMP/neglen"
lg_match "negative Content-Length: 4xx or closed" '^(HTTP/1\.1 4[0-9][0-9].*)?$' "$(tls_raw "$LG_TMP/neglen")"
printf 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n' >"$LG_TMP/hugelen"
lg_match "overflowing Content-Length: 4xx or closed" '^(HTTP/1\.1 4[0-9][0-9].*)?$' "$(tls_raw "$LG_TMP/hugelen")"
{ for i in 1 2 3; do printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'; done; } >"$LG_TMP/pipelined"
n=$({ cat "$LG_TMP/pipelined"; sleep 0.5; } | timeout 5 gnutls-cli --no-ca-verification --logfile=/dev/null -p "$LG_PORT" 127.0.0.1 2>/dev/null | grep -c '^HTTP/1.1 200' || true)
lg_eq "three pipelined requests, three answers" 3 "$n"

echo "-- bodies that are barely JSON: 400, never a crash"
post() { lg_status -X POST -H 'Content-Type: application/json' --data-binary "@$1" "$LG_URL/${2:-validate}"; }
head -c 200000 /dev/zero | tr '\0' '[' >"$LG_TMP/deep"
lg_eq "200k nested arrays" 400 "$(post "$LG_TMP/deep")"
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x\0y"}}' >"$LG_TMP/nul"
lg_match "NUL inside the body" '^(400|200)$' "$(post "$LG_TMP/nul")"
printf '\xff\xfe{\0}\0' >"$LG_TMP/utf16"
lg_eq "UTF-16 body" 400 "$(post "$LG_TMP/utf16" mutate)"
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"default","object":{"spec":{"containers":7}}}}' >"$LG_TMP/wrongtype"
lg_match "wrong types inside the pod" '^(400|200)$' "$(post "$LG_TMP/wrongtype")"
printf '{"request":{"uid":"\xc3\x28"}}' >"$LG_TMP/badutf8"
lg_eq "invalid UTF-8" 400 "$(post "$LG_TMP/badutf8")"
lg_eq "healthy after all of it" 200 "$(lg_status "$LG_URL/healthz")"
if kill -0 "$LG_PID"; then lg_ok "process alive"; else lg_fail "process died"; fi

lg_stop
lg_eq "exit 0" 0 "$LG_EXIT"
lg_done
