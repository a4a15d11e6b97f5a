# serve_reload.sh — hot reload without a restart: policies (ConfigMap-style
# ..data swap, plain edits, SIGHUP; an invalid set is rejected and the old one
# keeps answering) and the serving certificate (Secret-style swap; a broken
# pair is rejected and the old one kept; no request fails meanwhile).
. "$(dirname "$0")/lib.sh"
lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
mkdir -p "$LG_TMP/tls-src"
cp "$LG_CERTS/tls.crt" "$LG_CERTS/tls.key" "$LG_TMP/tls-src/"
lg_volume_init "$LG_TMP/tls" "$LG_TMP/tls-src"
mkdir -p "$LG_TMP/pol-src"
cp "$LG_ROOT"/policies/*.yaml "$LG_TMP/pol-src/"
lg_volume_init "$LG_TMP/pol" "$LG_TMP/pol-src"

lg_start reload --tls-cert "$LG_TMP/tls/tls.crt" --tls-key "$LG_TMP/tls/tls.key" --policies "$LG_TMP/pol" --threads 2
m_ok='lanegate_policy_reloads_total{result="success"}'
m_err='lanegate_policy_reloads_total{result="error"}'
t_ok='lanegate_tls_reloads_total{result="success"}'
t_err='lanegate_tls_reloads_total{result="error"}'
metric_is() { [ "$(lg_metric "$1")" = "$2" ]; }
patched() { lg_post /mutate "$LG_DATA/patch.json" | grep -c '"patch"' || true; }

n0=$(lg_metric lanegate_policies_loaded)
lg_eq "no reload yet" 0 "$(lg_metric "$m_ok")"
lg_eq "the runner defaults patch" 1 "$(patched)"

echo "-- policies: ConfigMap symlink swap without the runner-defaults file"
mkdir -p "$LG_TMP/pol-v1"
cp "$LG_ROOT"/policies/*.yaml "$LG_TMP/pol-v1/"
rm "$LG_TMP/pol-v1/40-runner-defaults.yaml"
lg_volume_swap "$LG_TMP/pol" "$LG_TMP/pol-v1"
if lg_wait_for metric_is "$m_ok" 1; then lg_ok "..data swap reloaded once"; else lg_fail "..data swap: reloads=$(lg_metric "$m_ok")"; fi
lg_match "fewer policies loaded" "^[0-9]+$" "$(lg_metric lanegate_policies_loaded)"
[ "$(lg_metric lanegate_policies_loaded)" -lt "$n0" ] && lg_ok "policies_loaded went down" || lg_fail "policies_loaded did not go down"
lg_eq "new set answers: no patch any more" 0 "$(patched)"

echo "-- policies: an invalid set is rejected, the old set still answers"
cp "$LG_TMP/pol-v1"/*.yaml "$LG_TMP/pol-v2/" 2>/dev/null || { mkdir -p "$LG_TMP/pol-v2"; cp "$LG_TMP/pol-v1"/*.yaml "$LG_TMP/pol-v2/"; }
cp "$LG_ROOT/policies/40-runner-defaults.yaml" "$LG_TMP/pol-v2/"
printf 'apiVersion: lanegate.dev/v1\nkind: PodPolicy\nmetadata:\n  name: broken\nspec:\n  mode: enforce\n  bogusKey: 1\n' >"$LG_TMP/pol-v2/99-broken.yaml"
n1=$(lg_metric lanegate_policies_loaded)
lg_volume_swap "$LG_TMP/pol" "$LG_TMP/pol-v2"
if lg_wait_for metric_is "$m_err" 1; then lg_ok "invalid set counted as error"; else lg_fail "invalid set: errors=$(lg_metric "$m_err")"; fi
lg_eq "success count unchanged" 1 "$(lg_metric "$m_ok")"
lg_eq "policies_loaded unchanged" "$n1" "$(lg_metric lanegate_policies_loaded)"
lg_eq "old set still answers (no patch)" 0 "$(patched)"
lg_eq "still ready" 200 "$(lg_status "$LG_URL/readyz")"
lg_match "error logged with file:line:col" '"event":"policy_reload".*99-broken\.yaml:[0-9]+:[0-9]+' "$(grep '"result":"error"' "$LG_LOG" | tail -1)"

echo "-- policies: the fixed set (another swap) reloads"
rm "$LG_TMP/pol-v2/99-broken.yaml"
lg_volume_swap "$LG_TMP/pol" "$LG_TMP/pol-v2"
if lg_wait_for metric_is "$m_ok" 2; then lg_ok "fixed set reloaded"; else lg_fail "fixed set: reloads=$(lg_metric "$m_ok")"; fi
lg_eq "policies_loaded back to the start" "$n0" "$(lg_metric lanegate_policies_loaded)"
lg_eq "runner defaults patch again" 1 "$(patched)"

echo "-- policies: SIGHUP"
kill -HUP "$LG_PID"
if lg_wait_for metric_is "$m_ok" 3; then lg_ok "SIGHUP reloaded"; else lg_fail "SIGHUP: reloads=$(lg_metric "$m_ok")"; fi

echo "-- certificate: Secret-style swap, new handshakes get the new serial"
old_serial=$(lg_cert_serial "$LG_CERTS/tls.crt")
lg_eq "served serial is the first cert's" "$old_serial" "$(lg_served_serial)"
mkdir -p "$LG_TMP/tls-v1"
cat >"$LG_TMP/tls-v1.tmpl" <<TMPL
cn = "lanegate rotated"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
expiration_days = 20
TMPL
lg_sign_cert "$LG_CERTS" rotated "$LG_TMP/tls-v1.tmpl"
cp "$LG_CERTS/rotated.crt" "$LG_TMP/tls-v1/tls.crt"
cp "$LG_CERTS/rotated.key" "$LG_TMP/tls-v1/tls.key"
new_serial=$(lg_cert_serial "$LG_TMP/tls-v1/tls.crt")
# Requests keep flowing during the swap: none may fail.
( for i in $(seq 1 40); do lg_status "$LG_URL/healthz"; echo; sleep 0.02; done ) >"$LG_TMP/during" &
LG_PIDS+=($!)
loop=$!
lg_volume_swap "$LG_TMP/tls" "$LG_TMP/tls-v1"
if lg_wait_for metric_is "$t_ok" 1; then lg_ok "certificate reloaded"; else lg_fail "cert reload: $(lg_metric "$t_ok")"; fi
lg_eq "new handshake sees the new serial" "$new_serial" "$(lg_served_serial)"
wait "$loop" || true
lg_eq "no request failed during the swap" "40" "$(grep -c '^200$' "$LG_TMP/during")"
notafter=$(date -d "$(certtool --certificate-info --infile "$LG_TMP/tls-v1/tls.crt" | sed -n 's/.*Not After: //p' | head -1)" +%s)
lg_eq "expiry metric follows the new cert" "$notafter" "$(lg_metric lanegate_tls_certificate_expiry_timestamp_seconds)"

echo "-- certificate: a broken pair is rejected, the old one kept"
mkdir -p "$LG_TMP/tls-bad"
cp "$LG_TMP/tls-v1/tls.crt" "$LG_TMP/tls-bad/tls.crt"
cp "$LG_CERTS/tls.key" "$LG_TMP/tls-bad/tls.key" # key of the other cert
lg_volume_swap "$LG_TMP/tls" "$LG_TMP/tls-bad"
if lg_wait_for metric_is "$t_err" 1; then lg_ok "mismatched pair counted as error"; else lg_fail "bad pair: $(lg_metric "$t_err")"; fi
lg_eq "still serving the last good cert" "$new_serial" "$(lg_served_serial)"
lg_match "reason logged" '"event":"tls_reload".*does not match' "$(grep '"event":"tls_reload"' "$LG_LOG" | tail -1)"
printf 'garbage\n' >"$LG_TMP/tls-bad/tls.crt"
lg_volume_swap "$LG_TMP/tls" "$LG_TMP/tls-bad"
if lg_wait_for metric_is "$t_err" 2; then lg_ok "garbage cert counted as error"; else lg_fail "garbage: $(lg_metric "$t_err")"; fi
lg_eq "reviews still answered" 200 "$(lg_status -X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate")"
lg_eq "still serving the last good cert after garbage" "$new_serial" "$(lg_served_serial)"

lg_stop
lg_eq "exit 0" 0 "$LG_EXIT"

echo "-- policies: a plain directory edited in place"
mkdir -p "$LG_TMP/plain"
cp "$LG_ROOT"/policies/*.yaml "$LG_TMP/plain/"
lg_start plain --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$LG_TMP/plain" --threads 1
cat "$LG_ROOT/policies/40-runner-defaults.yaml" >"$LG_TMP/plain/40-runner-defaults.yaml"
if lg_wait_for metric_is "$m_ok" 1; then lg_ok "rewrite in place reloaded"; else lg_fail "in-place: reloads=$(lg_metric "$m_ok")"; fi
rm "$LG_TMP/plain/40-runner-defaults.yaml"
if lg_wait_for metric_is "$m_ok" 2; then lg_ok "deleting a file reloaded"; else lg_fail "delete: reloads=$(lg_metric "$m_ok")"; fi
lg_stop
lg_eq "exit 0" 0 "$LG_EXIT"
lg_done
