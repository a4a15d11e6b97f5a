# serve_bench.sh — `make bench`: lanegate serve vs two references on this machine,
# same certificate, same body, same load (h2load, HTTP/1.1 keep-alive over TLS):
#   nginx          answers a fixed body of the same size: the TLS/HTTP limit here;
#   stack ceiling  MHD + GnuTLS + json_loadb/json_decref, fixed answer
#                  (tests/bench/ceiling.c): the stack before lanegate's own work.
# Prints reviews/s, p50/p99 latency, peak RSS and the ratios. Installs h2load
# (nghttp2-client), nginx and certtool (gnutls-bin) when missing.
# Env: LANEGATE, CEILING (binaries), BENCH_SECONDS (3), BENCH_ROUNDS (5), BENCH_CLIENTS (32),
# BENCH_THREADS (cores), BENCH_BODY (a review JSON file).
. "$(dirname "$0")/../e2e/lib.sh"
: "${CEILING:?set CEILING to the ceiling binary}"
secs=${BENCH_SECONDS:-3}
clients=${BENCH_CLIENTS:-32}
threads=${BENCH_THREADS:-$(nproc)}

need=()
command -v h2load >/dev/null || need+=(nghttp2-client)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v certtool >/dev/null || need+=(gnutls-bin)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} for the benchmark"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null ||
        { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null; }
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

lg_setup
LG_CERTS=$LG_TMP/certs
lg_make_certs "$LG_CERTS"
body=${BENCH_BODY:-$LG_ROOT/tests/data/serve/runner-pod.json}
tr -d '\n' <"$body" >"$LG_TMP/body.json"
echo "body: $(basename "$body"), $(stat -c %s "$LG_TMP/body.json") bytes; $clients clients, ${secs} s per run, $threads server threads, $(nproc) cores"

# lanegate (its decision log goes to a file, as it would to a container log)
lg_start bench --tls-cert "$LG_CERTS/tls.crt" --tls-key "$LG_CERTS/tls.key" --policies "$LG_ROOT/policies" --threads "$threads"
LG_PORT_LANEGATE=$LG_PORT
LANEGATE_PID=$LG_PID
lg_post /validate "$LG_TMP/body.json" >"$LG_TMP/answer.json"
grep -q '"allowed":true' "$LG_TMP/answer.json" || { echo "the bench body is not allowed: $(cat "$LG_TMP/answer.json")" >&2; exit 1; }

# stack ceiling, answering lanegate's own answer
CEIL_PORT=$(lg_free_port)
"$CEILING" "$CEIL_PORT" "$LG_CERTS/tls.crt" "$LG_CERTS/tls.key" "$LG_TMP/answer.json" "$threads" &
CEIL_PID=$!
LG_PIDS+=("$CEIL_PID")

# nginx, same answer, same certificate
NGINX_PORT=$(lg_free_port)
mkdir -p "$LG_TMP/nginx/logs"
if grep -q "[\$']" "$LG_TMP/answer.json"; then echo "answer has \$ or ': cannot inline it in nginx.conf" >&2; exit 1; fi
cat >"$LG_TMP/nginx/nginx.conf" <<CONF
user root;
worker_processes $threads;
pid $LG_TMP/nginx/nginx.pid;
error_log $LG_TMP/nginx/logs/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path $LG_TMP/nginx/body;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        ssl_certificate $LG_CERTS/tls.crt;
        ssl_certificate_key $LG_CERTS/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            default_type application/json;
            return 200 '$(cat "$LG_TMP/answer.json")';
        }
    }
}
CONF
"$NGINX" -p "$LG_TMP/nginx" -c "$LG_TMP/nginx/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
LG_PIDS+=("$NGINX_PID")
up() { curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$1/" -X POST -H 'Content-Type: application/json' -d '{}'; }
lg_wait_for up "$CEIL_PORT" || { echo "ceiling did not start" >&2; exit 1; }
lg_wait_for up "$NGINX_PORT" || { echo "nginx did not start" >&2; cat "$LG_TMP/nginx/logs/error.log" >&2; exit 1; }

# CPU seconds (user + system) a process and its threads have used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }
declare -A PID_OF

# run NAME PORT [h2load args...]: prints "req/s p50_ms p99_ms failed 2xx cpu_us_per_request"
run() {
    local name=$1 port=$2
    shift 2
    local pid=${PID_OF[$name]:-} c0=0 c1=0
    [ -n "$pid" ] && c0=$(cpu_s "$pid")
    rm -f "$LG_TMP/$name.lat"
    h2load --h1 -t 1 -D "$secs" --warm-up-time 1 -H 'Content-Type: application/json' \
        -d "$LG_TMP/body.json" --log-file="$LG_TMP/$name.lat" "$@" \
        "https://127.0.0.1:$port/validate?timeout=10s" >"$LG_TMP/$name.out" 2>&1 || true
    local rps failed
    rps=$(sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$LG_TMP/$name.out")
    failed=$(sed -n 's/^requests: .* \([0-9]*\) failed, .*/\1/p' "$LG_TMP/$name.out")
    local codes
    codes=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$LG_TMP/$name.out")
    awk '{print $3}' "$LG_TMP/$name.lat" | sort -n >"$LG_TMP/$name.sorted"
    local n p50 p99
    n=$(wc -l <"$LG_TMP/$name.sorted")
    p50=$(awk -v n="$n" 'NR == int(n * 0.50) + 1 {printf "%.3f", $1 / 1000}' "$LG_TMP/$name.sorted")
    p99=$(awk -v n="$n" 'NR == int(n * 0.99) + 1 {printf "%.3f", $1 / 1000}' "$LG_TMP/$name.sorted")
    [ -n "$pid" ] && c1=$(cpu_s "$pid")
    local cpu_us
    cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="${codes:-0}" 'BEGIN {if (n > 0 && b > a) printf "%.1f", (b - a) * 1e6 / n; else print "-"}')
    echo "${rps:-0} ${p50:-?} ${p99:-?} ${failed:-?} ${codes:-0} $cpu_us"
}
rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# Shared machines drift: the servers take turns, ROUNDS times, and each figure
# is the median of its rounds (the ratios compare medians of the same turns).
rounds=${BENCH_ROUNDS:-5}
PID_OF[ceiling]=$CEIL_PID
PID_OF[lanegate]=$LANEGATE_PID
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
: >"$LG_TMP/results"
for r in $(seq 1 "$rounds"); do
    # alternate the order so slow drift does not favour one side
    order="ceiling:$CEIL_PORT lanegate:$LG_PORT_LANEGATE nginx:$NGINX_PORT"
    [ $((r % 2)) = 0 ] && order="nginx:$NGINX_PORT lanegate:$LG_PORT_LANEGATE ceiling:$CEIL_PORT"
    for s in $order; do
        read -r rps p50 p99 fail _ cpu < <(run "${s%%:*}" "${s#*:}" -c "$clients")
        echo "${s%%:*} $rps $p50 $p99 $fail $cpu" >>"$LG_TMP/results"
        printf '  round %d %-9s %8.0f req/s  p50 %6s ms  p99 %6s ms  failed %s  server CPU %s us/req\n' "$r" "${s%%:*}" "$rps" "$p50" "$p99" "$fail" "$cpu"
    done
done
read -r r_rps r_p50 r_p99 r_fail _ < <(run lanegate5k "$LG_PORT_LANEGATE" -c 10 --rps 500)
col() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$LG_TMP/results" | median; }
echo
printf '%-16s %10s %9s %9s %8s %12s\n' "median of $rounds" "req/s" "p50 ms" "p99 ms" failed "peak RSS MB"
printf '%-16s %10.0f %9s %9s %8s %12s\n' "nginx (fixed)" "$(col nginx 2)" "$(col nginx 3)" "$(col nginx 4)" "$(col nginx 5)" "-"
printf '%-16s %10.0f %9s %9s %8s %12s\n' "stack ceiling" "$(col ceiling 2)" "$(col ceiling 3)" "$(col ceiling 4)" "$(col ceiling 5)" "$(rss_mb "$CEIL_PID")"
printf '%-16s %10.0f %9s %9s %8s %12s\n' "lanegate" "$(col lanegate 2)" "$(col lanegate 3)" "$(col lanegate 4)" "$(col lanegate 5)" "$(rss_mb "$LANEGATE_PID")"
printf '%-16s %10.0f %9s %9s %8s %12s\n' "lanegate @5k/s" "$r_rps" "$r_p50" "$r_p99" "$r_fail" "$(rss_mb "$LANEGATE_PID")"
echo
# ratios within each round (the servers ran back to back), then their median
ratio() { awk -v a="$1" -v b="$2" '$1 == a {x[++i] = $2} $1 == b {y[++j] = $2} END {for (k = 1; k <= i; k++) printf "%.3f\n", x[k] / y[k]}' "$LG_TMP/results" | median; }
printf 'lanegate / stack ceiling = %.2f   (target >= 0.80; median of per-round ratios)\n' "$(ratio lanegate ceiling)"
printf 'lanegate / nginx         = %.2f\n' "$(ratio lanegate nginx)"
printf 'stack ceiling / nginx    = %.2f\n' "$(ratio ceiling nginx)"
# CPU per request does not depend on how much of the machine the run got
printf 'server CPU per request: stack ceiling %s us, lanegate %s us (ceiling / lanegate = %.2f)\n' \
    "$(col ceiling 6)" "$(col lanegate 6)" "$(awk -v c="$(col ceiling 6)" -v l="$(col lanegate 6)" 'BEGIN {print c / l}')"
echo "lanegate at 5k reviews/s: p50 ${r_p50} ms, p99 ${r_p99} ms (target p99 < 2 ms); peak RSS $(rss_mb "$LANEGATE_PID") MB (target < 16 MB)"
echo "decision lines logged by lanegate: $(grep -c '"event":"decision"' "$LG_LOG")"
lg_stop
