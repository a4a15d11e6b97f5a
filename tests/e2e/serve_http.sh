# serve_http.sh — `lanegate serve` over real TLS with curl: answers byte-equal to
# `lanegate review`, health/readiness/metrics, every error status, body limits,
# TLS versions, start-up errors.
. "$(dirname "$0")/lib.sh"
lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
POL=$LG_ROOT/policies
lg_start http --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$POL" --threads 2

echo "-- answers are the bytes of lanegate review"
review_cli_ready=1
if "$LANEGATE" review --help 2>&1 | grep -q "not available yet"; then
    review_cli_ready=0
    echo "  SKIP byte comparison: 'lanegate review' is not built yet"
fi
# Our fixtures, the engine's review fixtures, and (when ../shared is there) the
# bodies a real kube-apiserver sent: every one, on both endpoints.
reviews=("$LG_DATA"/{allow,deny,patch,runner-pod}.json)
for f in "$LG_ROOT"/tests/data/reviews/*.json "$LG_ROOT"/../shared/corpus/apiserver-requests/psa/*/*.json; do
    case $f in *.response.json | *'*'*) ;; *) [ -f "$f" ] && reviews+=("$f") ;; esac
done
same=0 differ=0 bad_status=0
for f in "${reviews[@]}"; do
    b=$(basename "$f" .json)
    for ep in validate mutate; do
        code=$(lg_post "/$ep" "$f" -o "$LG_TMP/$b.$ep.srv" -w '%{http_code}')
        [ "$code" = 200 ] || { bad_status=$((bad_status + 1)); echo "  $f /$ep: HTTP $code"; }
        if [ $review_cli_ready = 1 ]; then
            "$LANEGATE" review --"$ep" --policies "$POL" "$f" >"$LG_TMP/$b.$ep.cli" || true
            if cmp -s "$LG_TMP/$b.$ep.cli" "$LG_TMP/$b.$ep.srv"; then
                same=$((same + 1))
            else
                differ=$((differ + 1))
                echo "  $f /$ep differs from lanegate review --$ep"
            fi
        fi
    done
done
lg_eq "every review answered 200 (${#reviews[@]} bodies x 2 endpoints)" 0 "$bad_status"
if [ $review_cli_ready = 1 ]; then
    lg_eq "every answer byte-equal to lanegate review ($same compared)" 0 "$differ"
    lg_match "compared at least our fixtures" '^[0-9]{2,}$' "$same"
fi
lg_match "allowed pod allowed" '"allowed": ?true' "$(cat "$LG_TMP/allow.validate.srv")"
lg_match "privileged pod outside the dind lane denied" '"allowed": ?false' "$(cat "$LG_TMP/deny.validate.srv")"
lg_match "denial carries status 403" '"code": ?403' "$(cat "$LG_TMP/deny.validate.srv")"
lg_match "runner pod gets a JSON patch on /mutate" '"patchType": ?"JSONPatch"' "$(cat "$LG_TMP/patch.mutate.srv")"
lg_eq "no patch on /validate" 0 "$(grep -c '"patch"' "$LG_TMP/patch.validate.srv" || true)"
lg_match "uid echoed" '"uid": ?"0f6a3a0e-0000-4000-8000-000000000003"' "$(cat "$LG_TMP/patch.mutate.srv")"

echo "-- the apiserver's ?timeout= query and keep-alive"
lg_eq "?timeout=10s accepted" 200 "$(lg_status -X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate?timeout=10s")"
lg_eq "Content-Type with charset accepted" 200 "$(lg_status -X POST -H 'Content-Type: application/json; charset=utf-8' --data-binary "@$LG_DATA/allow.json" "$LG_URL/mutate?timeout=5s")"
conns=$(lg_curl -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    -X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json" \
    "$LG_URL/validate" "$LG_URL/validate" "$LG_URL/mutate" | paste -sd' ')
lg_eq "three reviews over one keep-alive connection" "1 0 0" "$conns"

echo "-- health, readiness, metrics"
lg_eq "/healthz 200" 200 "$(lg_status "$LG_URL/healthz")"
lg_eq "/healthz body" ok "$(lg_curl "$LG_URL/healthz")"
lg_eq "/readyz 200" 200 "$(lg_status "$LG_URL/readyz")"
lg_eq "HEAD /readyz 200" 200 "$(lg_status -I "$LG_URL/readyz")"
lg_curl -D "$LG_TMP/mh" "$LG_URL/metrics" >"$LG_TMP/metrics"
lg_match "metrics content type is text 0.0.4" 'text/plain; version=0.0.4' "$(grep -i '^content-type' "$LG_TMP/mh")"
for m in lanegate_admission_requests_total lanegate_admission_request_duration_seconds \
    lanegate_policy_reloads_total lanegate_policies_loaded \
    lanegate_tls_certificate_expiry_timestamp_seconds lanegate_build_info; do
    lg_match "metric $m declared" "# TYPE $m (counter|gauge|histogram)" "$(grep "^# TYPE $m " "$LG_TMP/metrics" || true)"
done
v=$(lg_metric 'lanegate_admission_requests_total{endpoint="validate",decision="deny"}')
lg_match "deny counted" '^[1-9][0-9]*$' "$v"
lg_match "histogram has +Inf bucket" '^[1-9]' "$(lg_metric 'lanegate_admission_request_duration_seconds_bucket{endpoint="validate",le="+Inf"}')"
lg_eq "histogram count equals +Inf bucket" \
    "$(lg_metric 'lanegate_admission_request_duration_seconds_bucket{endpoint="mutate",le="+Inf"}')" \
    "$(lg_metric 'lanegate_admission_request_duration_seconds_count{endpoint="mutate"}')"
lg_match "policies loaded > 0" '^[1-9]' "$(lg_metric lanegate_policies_loaded)"
notafter=$(date -d "$(certtool --certificate-info --infile "$LG_CERTS/tls.crt" | sed -n 's/.*Not After: //p' | head -1)" +%s)
lg_eq "cert expiry metric is the cert's notAfter" "$notafter" "$(lg_metric lanegate_tls_certificate_expiry_timestamp_seconds)"
lg_match "build info" '^1$' "$(lg_metric "lanegate_build_info{version=\"$("$LANEGATE" version | awk '{print $2}')\"}")"

echo "-- error statuses"
post_code() { lg_status -X POST -H "Content-Type: ${2:-application/json}" --data-binary "@$1" "$LG_URL${3:-/validate}"; }
lg_eq "unknown path 404" 404 "$(lg_status "$LG_URL/nope")"
lg_eq "POST unknown path 404" 404 "$(post_code "$LG_DATA/allow.json" application/json /validate/extra)"
lg_eq "GET /validate 405" 405 "$(lg_status "$LG_URL/validate")"
lg_eq "PUT /mutate 405" 405 "$(lg_status -X PUT -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json" "$LG_URL/mutate")"
lg_match "405 names the allowed method" 'Allow: POST' "$(lg_curl -i "$LG_URL/validate" | tr -d '\r')"
lg_match "404 has a Status body" '^\{"apiVersion":"v1","kind":"Status","status":"Failure","code":404,"reason":"NotFound"' "$(lg_curl "$LG_URL/nope")"
lg_match "415 has a Status body" '"code":415,"reason":"UnsupportedMediaType"' "$(lg_curl -X POST -H 'Content-Type: text/plain' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate")"
lg_eq "POST /healthz 405" 405 "$(lg_status -X POST "$LG_URL/healthz")"
lg_eq "not JSON 400" 400 "$(post_code "$LG_DATA/not-json.txt")"
lg_match "400 has a Status body" '"kind":"Status".*"code":400' "$(lg_curl -X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/not-json.txt" "$LG_URL/validate")"
lg_eq "JSON but not an AdmissionReview 400" 400 "$(post_code "$LG_DATA/not-review.json" application/json /mutate)"
lg_eq "empty body 400" 400 "$(lg_status -X POST -H 'Content-Type: application/json' --data-binary '' "$LG_URL/validate")"
lg_eq "text/plain 415" 415 "$(post_code "$LG_DATA/allow.json" text/plain)"
lg_eq "application/jsonx 415" 415 "$(post_code "$LG_DATA/allow.json" application/jsonx)"
lg_eq "no Content-Type 415" 415 "$(lg_status -X POST -H 'Content-Type:' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate")"

echo "-- body limit: 7 MiB"
max=$((7 * 1024 * 1024))
# A well-formed review padded to exactly the limit (an unknown top-level field):
# read to the end and answered.
{ printf '{"pad":"'; } >"$LG_TMP/edge.head"
tr -d '\n' <"$LG_DATA/allow.json" | tail -c +2 | { printf '",'; cat; } >"$LG_TMP/edge.tail"
pad=$((max - $(stat -c %s "$LG_TMP/edge.head") - $(stat -c %s "$LG_TMP/edge.tail")))
{ cat "$LG_TMP/edge.head"; head -c "$pad" /dev/zero | tr '\0' x; cat "$LG_TMP/edge.tail"; } >"$LG_TMP/edge.json"
lg_eq "edge body is exactly 7 MiB" "$max" "$(stat -c %s "$LG_TMP/edge.json")"
head -c $((max + 1)) /dev/zero | tr '\0' ' ' >"$LG_TMP/over"
lg_eq "exactly 7 MiB is read and answered" 200 "$(post_code "$LG_TMP/edge.json")"
lg_eq "7 MiB + 1 is 413" 413 "$(post_code "$LG_TMP/over")"
lg_eq "7 MiB + 1 on /mutate is 413" 413 "$(post_code "$LG_TMP/over" application/json /mutate)"
lg_match "413 has a Status body" '"code":413,"reason":"RequestEntityTooLarge"' "$(lg_curl -X POST -H 'Content-Type: application/json' --data-binary "@$LG_TMP/over" "$LG_URL/validate")"
# A lying Content-Length far over the limit: answered before any body byte is sent.
code=$( { printf 'POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n'; sleep 2; } |
    timeout 5 gnutls-cli --no-ca-verification --logfile=/dev/null -p "$LG_PORT" 127.0.0.1 2>/dev/null | tr -d '\r' | awk 'NR==1 && /^HTTP/ {print $2}')
lg_eq "Content-Length 1e9 is 413 without reading the body" 413 "$code"
# Chunked (no Content-Length) over the limit: the connection is cut, never read to the end.
head -c $((max + 65536)) /dev/zero | tr '\0' ' ' >"$LG_TMP/over-chunked"
out=$(lg_curl -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' -H 'Expect:' --data-binary "@$LG_TMP/over-chunked" "$LG_URL/validate" 2>/dev/null || true)
lg_match "chunked body over 7 MiB: connection closed, no 200" '^(000|413)$' "$out"
lg_eq "server still healthy after the limits" 200 "$(lg_status "$LG_URL/healthz")"
lg_match "small chunked review still answered" '^(200)$' "$(lg_status -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate")"

echo "-- TLS versions"
lg_eq "TLS 1.3" 200 "$(lg_status --tlsv1.3 "$LG_URL/healthz")"
lg_eq "TLS 1.2" 200 "$(lg_status --tlsv1.2 --tls-max 1.2 "$LG_URL/healthz")"
lg_eq "TLS 1.1 refused" 000 "$(lg_status --tlsv1.1 --tls-max 1.1 "$LG_URL/healthz" 2>/dev/null)"
lg_eq "plain HTTP refused" 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$LG_PORT/healthz" || true)"
lg_eq "server still healthy after bad handshakes" 200 "$(lg_status "$LG_URL/healthz")"

lg_stop
lg_eq "SIGTERM exits 0" 0 "$LG_EXIT"
lg_match "one JSON decision line per review" '"event":"decision".*"uid":"0f6a3a0e-0000-4000-8000-000000000002".*"endpoint":"validate"' "$(grep '"event":"decision"' "$LG_LOG" | head -3 | tr '\n' ' ')"
if jq -e . "$LG_LOG" >/dev/null 2>&1 && [ "$(jq -c . "$LG_LOG" | wc -l)" = "$(wc -l <"$LG_LOG")" ]; then
    lg_ok "every log line is JSON"
else
    lg_fail "a log line is not JSON"
fi

echo "-- start-up errors exit 2"
code=0; "$LANEGATE" serve --listen 127.0.0.1:0 --policies "$POL" 2>/dev/null || code=$?
lg_eq "missing --tls-cert: exit 2" 2 "$code"
code=0; "$LANEGATE" serve --listen 127.0.0.1:0 --bogus 2>/dev/null || code=$?
lg_eq "unknown flag: exit 2" 2 "$code"
code=0; "$LANEGATE" serve --listen nonsense --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" 2>/dev/null || code=$?
lg_eq "bad --listen: exit 2" 2 "$code"
code=0; "$LANEGATE" serve --listen 127.0.0.1:0 --threads 0 --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" 2>/dev/null || code=$?
lg_eq "--threads 0: exit 2" 2 "$code"
code=0; "$LANEGATE" serve --listen 127.0.0.1:0 --policies "$POL" --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/ca.key" 2>"$LG_TMP/mismatch.log" || code=$?
lg_eq "key that does not match the cert: exit 2" 2 "$code"
lg_match "mismatch is explained" 'does not match' "$(cat "$LG_TMP/mismatch.log")"
mkdir -p "$LG_TMP/badpol"
cp "$POL"/*.yaml "$LG_TMP/badpol/"
printf 'apiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: broken\nspec:\n  mode: enforce\n  bogusKey: 1\n' >"$LG_TMP/badpol/99-broken.yaml"
code=0; timeout 10 "$LANEGATE" serve --listen 127.0.0.1:0 --policies "$LG_TMP/badpol" --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" 2>"$LG_TMP/badpol.log" || code=$?
lg_eq "invalid policy set at start-up: exit 2" 2 "$code"
lg_match "error names file:line:col" '99-broken.yaml:[0-9]+:[0-9]+' "$(cat "$LG_TMP/badpol.log")"
code=0; LANEGATE_LISTEN=127.0.0.1:0 LANEGATE_POLICIES="$LG_TMP/badpol" LANEGATE_TLS_CERT="$LG_CERTS/tls.crt" LANEGATE_TLS_KEY="$LG_CERTS/tls.key" \
    timeout 10 "$LANEGATE" serve 2>/dev/null || code=$?
lg_eq "options from LANEGATE_* environment (bad policies dir): exit 2" 2 "$code"

echo "-- the README documents every option"
sed -n '/^## Serving the webhook/,/^## Certificates/p' "$LG_ROOT/README.md" >"$LG_TMP/readme"
missing=""
for w in $("$LANEGATE" serve --help | grep -oE -- '--[a-z-]+|LANEGATE_[A-Z_]+' | sort -u); do
    grep -q -- "$w" "$LG_TMP/readme" || missing="$missing $w"
done
lg_eq "every flag and variable of serve --help is in README" "" "$missing"

lg_done
