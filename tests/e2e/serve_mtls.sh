# serve_mtls.sh — --client-ca: a client certificate signed by that CA is
# required and verified during the handshake; without the flag none is asked for.
. "$(dirname "$0")/lib.sh"
lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
# The apiserver's client identity comes from its own CA, not the serving one.
mkdir -p "$LG_TMP/client-ca" "$LG_TMP/rogue-ca"
for d in client-ca rogue-ca; do
    printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$d" >"$LG_TMP/$d/ca.tmpl"
    certtool --generate-privkey --key-type ecdsa --outfile "$LG_TMP/$d/ca.key" 2>/dev/null
    certtool --generate-self-signed --load-privkey "$LG_TMP/$d/ca.key" --template "$LG_TMP/$d/ca.tmpl" \
        --outfile "$LG_TMP/$d/ca.crt" 2>/dev/null
done
lg_make_client_cert "$LG_TMP/client-ca" apiserver
lg_make_client_cert "$LG_TMP/rogue-ca" rogue
good=(--cert "$LG_TMP/client-ca/apiserver.crt" --key "$LG_TMP/client-ca/apiserver.key")
rogue=(--cert "$LG_TMP/rogue-ca/rogue.crt" --key "$LG_TMP/rogue-ca/rogue.key")
review=(-X POST -H 'Content-Type: application/json' --data-binary "@$LG_DATA/allow.json")

# gnutls-cli reports a CertificateRequest as "requested a certificate" (1.3) or
# "sent 0 certificate(s) to server" (1.2).
cert_requests() {
    gnutls-cli --no-ca-verification --priority "$1" -p "$LG_PORT" 127.0.0.1 </dev/null 2>&1 |
        grep -ci 'requested a certificate\|certificate(s) to server' || true
}

echo "-- with --client-ca"
lg_start mtls --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" \
    --client-ca "$LG_TMP/client-ca/ca.crt" --policies "$LG_ROOT/policies" --threads 2
lg_eq "client cert from the CA: review answered" 200 "$(lg_status "${good[@]}" "${review[@]}" "$LG_URL/validate")"
lg_eq "client cert from the CA: TLS 1.2 too" 200 "$(lg_status "${good[@]}" --tlsv1.2 --tls-max 1.2 "$LG_URL/healthz")"
lg_eq "no client cert: refused in the handshake" 000 "$(lg_status "${review[@]}" "$LG_URL/validate" 2>/dev/null)"
lg_eq "no client cert over TLS 1.2: refused" 000 "$(lg_status --tlsv1.2 --tls-max 1.2 "$LG_URL/healthz" 2>/dev/null)"
lg_eq "cert from another CA: refused" 000 "$(lg_status "${rogue[@]}" "${review[@]}" "$LG_URL/validate" 2>/dev/null)"
lg_eq "serving cert's own CA is not the client CA: refused" 000 \
    "$(lg_status --cert "$LG_CERTS/tls.crt" --key "$LG_CERTS/tls.key" "$LG_URL/healthz" 2>/dev/null)"
lg_eq "nothing refused was counted as a review" 1 \
    "$(lg_curl "${good[@]}" "$LG_URL/metrics" | awk '$1 ~ /^lanegate_admission_requests_total\{endpoint="validate"/ {s += $2} END {print s}')"
lg_match "the server asks for one (TLS 1.3)" '^[1-9]' "$(cert_requests NORMAL)"
lg_match "the server asks for one (TLS 1.2)" '^[1-9]' "$(cert_requests NORMAL:-VERS-TLS1.3)"
lg_eq "server healthy after the refusals" 200 "$(lg_status "${good[@]}" "$LG_URL/healthz")"
lg_stop
lg_eq "exit 0" 0 "$LG_EXIT"

echo "-- without --client-ca"
lg_start plain --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$LG_ROOT/policies" --threads 1
lg_eq "no client cert needed" 200 "$(lg_status "$LG_URL/healthz")"
lg_eq "the server does not ask for one (TLS 1.3)" 0 "$(cert_requests NORMAL)"
lg_eq "the server does not ask for one (TLS 1.2)" 0 "$(cert_requests NORMAL:-VERS-TLS1.3)"
lg_stop
lg_eq "exit 0" 0 "$LG_EXIT"
lg_done
