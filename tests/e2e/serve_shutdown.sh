# serve_shutdown.sh — SIGTERM: stop accepting, close idle keep-alive connections
# at once, let the request in flight (a slow client) finish, exit 0; a drain
# deadline and a second signal bound the wait.
. "$(dirname "$0")/lib.sh"
lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
POL=$LG_ROOT/policies
body=$LG_DATA/runner-pod.json

# An idle keep-alive connection: one request, then the client just waits.
open_idle() {
    rm -f "$LG_TMP/idle.in"
    mkfifo "$LG_TMP/idle.in"
    gnutls-cli --no-ca-verification -p "$LG_PORT" 127.0.0.1 <"$LG_TMP/idle.in" >"$LG_TMP/idle.out" 2>&1 &
    IDLE_PID=$!
    LG_PIDS+=("$IDLE_PID")
    exec 7>"$LG_TMP/idle.in"
    printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' >&7
    lg_wait_for grep -q '^HTTP/1.1 200' "$LG_TMP/idle.out"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
inflight_at_least() { [ "$(lg_metric lanegate_inflight_requests)" -ge "$1" ]; }
# A review uploaded at RATE bytes/s, its status and headers in $LG_TMP/slow.*
slow_review() {
    lg_curl --limit-rate "$1" -H 'Expect:' -D "$LG_TMP/slow.hdr" -o "$LG_TMP/slow.body" -w '%{http_code}' \
        -X POST -H 'Content-Type: application/json' --data-binary "@$body" "$LG_URL/validate" >"$LG_TMP/slow.code" 2>/dev/null &
    SLOW_PID=$!
    LG_PIDS+=("$SLOW_PID")
}

echo "-- graceful: slow request in flight finishes, idle connection closed at once"
lg_start drain --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$POL" --threads 2
lg_post /validate "$body" >"$LG_TMP/expected.body"
open_idle && lg_ok "idle keep-alive connection open" || lg_fail "idle connection did not get its answer"
slow_review 1500 # ~2.5 s for the body
if lg_wait_for inflight_at_least 2; then lg_ok "slow request in flight"; else lg_fail "slow request not seen"; fi
kill -TERM "$LG_PID"
t0=$(date +%s%N)
if lg_wait_for gone "$IDLE_PID"; then
    lg_ok "idle connection closed by the server within $((($(date +%s%N) - t0) / 1000000)) ms"
else
    lg_fail "idle connection still open after SIGTERM"
fi
lg_eq "slow request still in flight meanwhile" 0 "$(gone "$SLOW_PID" && echo 1 || echo 0)"
lg_eq "new connections refused while draining" 000 "$(lg_status --max-time 2 "$LG_URL/healthz" 2>/dev/null)"
wait "$SLOW_PID" || true
lg_eq "slow request answered 200" 200 "$(cat "$LG_TMP/slow.code")"
if cmp -s "$LG_TMP/expected.body" "$LG_TMP/slow.body"; then lg_ok "slow request got the full, normal answer"; else lg_fail "slow answer differs"; fi
lg_match "its connection is closed after the answer" '^[Cc]onnection: close' "$(grep -i '^connection:' "$LG_TMP/slow.hdr" | tr -d '\r')"
lg_stop
lg_eq "exit 0 after draining" 0 "$LG_EXIT"
lg_match "shutdown logged" '"event":"stop".*all requests answered' "$(grep '"event":"stop"' "$LG_LOG")"
exec 7>&-

echo "-- the drain deadline bounds the wait"
lg_start deadline --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$POL" --threads 1 --shutdown-timeout 1
slow_review 100 # would take ~40 s
lg_wait_for inflight_at_least 2 || true
t0=$(date +%s%N)
lg_stop TERM
ms=$((($(date +%s%N) - t0) / 1000000))
lg_eq "exit 0 at the deadline" 0 "$LG_EXIT"
[ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] && lg_ok "stopped after ${ms} ms (deadline 1 s)" || lg_fail "stopped after ${ms} ms, deadline 1 s"
lg_match "unanswered request logged" '"event":"stop".*unanswered' "$(grep '"event":"stop"' "$LG_LOG")"
kill "$SLOW_PID" 2>/dev/null || true

echo "-- a second SIGTERM stops at once"
lg_start twice --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$POL" --threads 1 --shutdown-timeout 60
slow_review 100
lg_wait_for inflight_at_least 2 || true
kill -TERM "$LG_PID"
sleep 0.2
t0=$(date +%s%N)
lg_stop INT
ms=$((($(date +%s%N) - t0) / 1000000))
lg_eq "exit 0" 0 "$LG_EXIT"
[ "$ms" -lt 1500 ] && lg_ok "second signal stopped it in ${ms} ms" || lg_fail "second signal took ${ms} ms"
kill "$SLOW_PID" 2>/dev/null || true
lg_done
