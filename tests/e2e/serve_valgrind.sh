# serve_valgrind.sh — a short `lanegate serve` session under valgrind: reviews on
# both endpoints, errors, an over-limit body, a rejected and an accepted policy
# reload, a certificate reload, SIGHUP, graceful stop. No leak, no invalid access.
# (Skipped for the ASan build, which finds the same classes of bugs itself.)
. "$(dirname "$0")/lib.sh"
lg_setup
if ldd "$LANEGATE" | grep -q libasan || ! command -v valgrind >/dev/null; then
    echo "  SKIP (sanitizer build or no valgrind)"
    exit 0
fi
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
mkdir -p "$LG_TMP/pol"
cp "$LG_ROOT"/policies/*.yaml "$LG_TMP/pol/"
LG_WRAP="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 --log-file=$LG_TMP/valgrind.txt"
lg_start vg --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$LG_TMP/pol" --threads 2
LG_WRAP=
metric_is() { [ "$(lg_metric "$1")" = "$2" ]; }
for f in "$LG_DATA"/*.json; do
    lg_post /validate "$f" >/dev/null
    lg_post /mutate "$f" >/dev/null
done
lg_eq "404 under valgrind" 404 "$(lg_status "$LG_URL/nope")"
lg_eq "metrics under valgrind" 200 "$(lg_status "$LG_URL/metrics")"
head -c $((7 * 1024 * 1024 + 1)) /dev/zero >"$LG_TMP/big"
lg_eq "413 under valgrind" 413 "$(lg_status -X POST -H 'Content-Type: application/json' --data-binary "@$LG_TMP/big" "$LG_URL/validate")"
printf 'x: [\n' >"$LG_TMP/pol/99-bad.yaml"
lg_wait_for metric_is 'lanegate_policy_reloads_total{result="error"}' 1 && lg_ok "rejected reload" || lg_fail "no rejected reload"
rm "$LG_TMP/pol/99-bad.yaml"
lg_wait_for metric_is 'lanegate_policy_reloads_total{result="success"}' 1 && lg_ok "accepted reload" || lg_fail "no accepted reload"
cp "$LG_CERTS/tls.crt" "$LG_TMP/t.crt" && mv "$LG_TMP/t.crt" "$LG_CERTS/tls.crt"
lg_wait_for metric_is 'lanegate_tls_reloads_total{result="success"}' 1 && lg_ok "certificate reload" || lg_fail "no certificate reload"
kill -HUP "$LG_PID"
lg_eq "review after SIGHUP" 200 "$(lg_status -X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json" "$LG_URL/validate")"
lg_stop
lg_eq "exit 0 (valgrind found nothing)" 0 "$LG_EXIT"
lg_eq "valgrind report empty" "" "$(cat "$LG_TMP/valgrind.txt")"
lg_done
