# lib.sh — shared helpers for the end-to-end scripts (sourced, not run).
#
# Every script: `. tests/e2e/lib.sh`, then lg_setup. Processes started through
# these helpers are killed and the temp dir removed on exit, whatever happens.
# Needs: $LANEGATE (absolute path of the binary), curl, certtool and gnutls-cli
# (gnutls-bin), jq.

# Run on its own (make e2e runs every tests/e2e/*.sh): nothing to do.
[ "${BASH_SOURCE[0]}" = "$0" ] && exit 0

set -euo pipefail

LG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LG_DATA=$LG_ROOT/tests/data/serve
LG_PIDS=()
LG_FAILS=0
LG_CHECKS=0

lg_cleanup() {
    local pid i
    # TERM first (nginx's master then stops its workers), KILL what is left.
    for pid in "${LG_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for i in $(seq 1 40); do
        for pid in "${LG_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && break
            pid=
        done
        [ -z "$pid" ] && break
        sleep 0.05
    done
    for pid in "${LG_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${LG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ -n "${LG_TMP:-}" ] && rm -rf "$LG_TMP"
}

lg_setup() {
    : "${LANEGATE:?set LANEGATE to the lanegate binary}"
    command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }
    command -v certtool >/dev/null || { echo "certtool (gnutls-bin) is required" >&2; exit 1; }
    LG_TMP=$(mktemp -d /tmp/lanegate-e2e.XXXXXX)
    trap lg_cleanup EXIT
    trap 'exit 130' INT TERM
}

# ---- assertions ------------------------------------------------------------

lg_ok() { LG_CHECKS=$((LG_CHECKS + 1)); echo "  ok   $*"; }
lg_fail() { LG_CHECKS=$((LG_CHECKS + 1)); LG_FAILS=$((LG_FAILS + 1)); echo "  FAIL $*"; }

lg_eq() { # what expected actual
    if [ "$2" = "$3" ]; then lg_ok "$1"; else lg_fail "$1: expected [$2], got [$3]"; fi
}

lg_match() { # what regex actual
    if [[ $3 =~ $2 ]]; then lg_ok "$1"; else lg_fail "$1: [$3] does not match /$2/"; fi
}

lg_done() {
    echo "  $((LG_CHECKS - LG_FAILS)) passed, $LG_FAILS failed"
    [ "$LG_FAILS" -eq 0 ]
}

# ---- certificates ----------------------------------------------------------

# The one place that makes serving certificates: DIR gets ca.crt ca.key tls.crt
# tls.key from `lanegate certs` (a CA, and a serving cert for localhost and
# 127.0.0.1 signed by it). certtool below only makes the extra certificates the
# tests need (client certs, rotated pairs, a rogue CA).
lg_make_certs() {
    "$LANEGATE" certs --out "$1" --dns localhost --ip 127.0.0.1 >/dev/null
}

# lg_sign_cert DIR NAME TEMPLATE: NAME.key + NAME.crt signed by DIR/ca.{crt,key}.
lg_sign_cert() {
    certtool --generate-privkey --key-type ecdsa --outfile "$1/$2.key" 2>/dev/null
    certtool --generate-certificate --load-privkey "$1/$2.key" --load-ca-certificate "$1/ca.crt" \
        --load-ca-privkey "$1/ca.key" --template "$3" --outfile "$1/$2.crt" 2>/dev/null
}

# lg_make_client_cert DIR NAME: a client certificate signed by DIR's CA.
lg_make_client_cert() {
    cat >"$1/$2.tmpl" <<TMPL
cn = "$2"
tls_www_client
signing_key
expiration_days = 30
TMPL
    lg_sign_cert "$1" "$2" "$1/$2.tmpl"
}

# Serial number (lower-case hex, no separators) of a PEM certificate file.
lg_cert_serial() {
    certtool --certificate-info --infile "$1" 2>/dev/null |
        awk '/Serial Number \(hex\)/ {print tolower($4); exit}'
}

# A loopback TCP port nobody listens on right now (for servers that cannot take
# port 0; lanegate itself is started on port 0 and reports its port).
lg_free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
}

# ---- the server ------------------------------------------------------------

# lg_start NAME ARGS...: starts `lanegate serve --listen 127.0.0.1:0 ARGS` with
# its log in $LG_TMP/NAME.log; waits for the "start" line, sets LG_PID, LG_PORT.
# $LG_WRAP (words, e.g. a valgrind command line) is put in front when set.
lg_start() {
    local name=$1
    shift
    LG_LOG=$LG_TMP/$name.log
    # shellcheck disable=SC2086 # LG_WRAP is a word list on purpose
    ${LG_WRAP:-} "$LANEGATE" serve --listen 127.0.0.1:0 "$@" 2>"$LG_LOG" &
    LG_PID=$!
    LG_PIDS+=("$LG_PID")
    local i
    for i in $(seq 1 400); do
        if grep -q '"event":"start"' "$LG_LOG" 2>/dev/null; then
            LG_PORT=$(sed -n 's/.*"event":"start".*"listen":"[^"]*:\([0-9]*\)".*/\1/p' "$LG_LOG" | head -1)
            LG_URL=https://localhost:$LG_PORT
            return 0
        fi
        if ! kill -0 "$LG_PID" 2>/dev/null; then
            echo "lanegate serve exited during start-up:" >&2
            cat "$LG_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
    echo "lanegate serve did not start in 20 s:" >&2
    cat "$LG_LOG" >&2
    return 1
}

# lg_stop [SIGNAL]: signals the server and waits; sets LG_EXIT to its status.
lg_stop() {
    kill -"${1:-TERM}" "$LG_PID" 2>/dev/null || true
    LG_EXIT=0
    wait "$LG_PID" || LG_EXIT=$?
}

# lg_curl ARGS...: curl trusting the test CA ($LG_CERTS/ca.crt).
lg_curl() {
    curl -sS --max-time 10 --cacert "$LG_CERTS/ca.crt" "$@"
}

# lg_post ENDPOINT FILE [curl args]: POSTs FILE as JSON; prints the body.
lg_post() {
    local ep=$1 file=$2
    shift 2
    lg_curl -X POST -H 'Content-Type: application/json' --data-binary "@$file" "$@" "$LG_URL$ep"
}

# lg_status ARGS...: only the HTTP status code of a curl call.
lg_status() {
    lg_curl -o /dev/null -w '%{http_code}' "$@" || true
}

# lg_metric 'name{labels}': the value of one sample from /metrics.
lg_metric() {
    lg_curl "$LG_URL/metrics" | awk -v k="$1" '$1 == k {print $2; found=1} END {if (!found) print "missing"}'
}

# lg_wait_for CMD...: retries CMD for up to 5 s.
lg_wait_for() {
    local i
    for i in $(seq 1 100); do
        if "$@"; then return 0; fi
        sleep 0.05
    done
    return 1
}

# ---- Kubernetes volume layout ----------------------------------------------

# lg_volume_init DIR SRC: DIR laid out as kubelet mounts a ConfigMap or Secret:
# DIR/..<ts>/<files>, DIR/..data -> ..<ts>, DIR/<file> -> ..data/<file>.
lg_volume_init() {
    local dir=$1 src=$2 f
    mkdir -p "$dir/..v0"
    cp "$src"/* "$dir/..v0/"
    ln -s ..v0 "$dir/..data"
    for f in "$dir/..v0"/*; do
        ln -s "..data/$(basename "$f")" "$dir/$(basename "$f")"
    done
    LG_VOLUME_GEN=0
}

# lg_volume_swap DIR SRC: kubelet's atomic update: new timestamped dir, ..data
# renamed over, user-visible symlinks added/removed, old dir deleted.
lg_volume_swap() {
    local dir=$1 src=$2 f old new
    old=$(readlink "$dir/..data")
    LG_VOLUME_GEN=$((LG_VOLUME_GEN + 1))
    new=..v$LG_VOLUME_GEN
    mkdir "$dir/$new"
    cp "$src"/* "$dir/$new/"
    ln -s "$new" "$dir/..data_tmp"
    mv -T "$dir/..data_tmp" "$dir/..data"
    for f in "$dir/$new"/*; do
        [ -e "$dir/$(basename "$f")" ] || ln -s "..data/$(basename "$f")" "$dir/$(basename "$f")"
    done
    for f in "$dir"/*; do
        [ -e "$f" ] || rm -f "$f"
    done
    rm -rf "${dir:?}/$old"
}

# Serial (lower-case hex) of the certificate the server presents right now.
lg_served_serial() {
    gnutls-cli --no-ca-verification --print-cert -p "$LG_PORT" 127.0.0.1 </dev/null 2>/dev/null |
        sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p;/END CERTIFICATE/q' >"$LG_TMP/served.pem"
    lg_cert_serial "$LG_TMP/served.pem"
}
