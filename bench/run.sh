#!/usr/bin/env bash
# Load benchmark on loopback: the gateway against nginx and HAProxy as reverse proxies of the same upstream.
#
#   bench/run.sh                 # every case, 10 s each (plus 1 s warm-up)
#   bench/run.sh --quick         # every case, 3 s each
#   bench/run.sh --duration 20 --connections 128 --cases a,d,e
#
# Cases (all against one upstream nginx answering a static 1 KiB JSON body):
#   a  nginx direct                    the upstream itself, the ceiling
#   b  nginx proxy_pass                nginx as a reverse proxy, upstream keep-alive
#   c  haproxy                         HAProxy in http mode, keep-alive on both sides
#   d  gateway                         one route, no rate limits, access_log false
#   e  gateway, error storm            the upstream answers every request with a Laravel-style 422;
#                                      the gateway normalizes each one (issue 11: e >= 0.90 of d)
#   f  gateway + rate limit            d plus a token-bucket policy that never denies (skipped when the build
#                                      does not enforce rate limits yet)
#   g  nginx proxy_pass, 16 KiB        b with a 16 KiB response
#   h  gateway, 16 KiB                 d with a 16 KiB response
#   i  gateway, HTTP/2 upstream        d, but the upstream is the same nginx over TLS with http2 (a test CA made
#                                      with openssl); the gateway negotiates h2 by ALPN (http_version: auto) and
#                                      multiplexes the 64 client connections' requests over max_connections: 4
#
# CPU fairness on 2 cores: wrk is pinned to CPU 0 and every server (upstream nginx, the proxy under test) to CPU 1
# with taskset, so each proxy gets the same single core, shared with the upstream; --no-pin turns this off.
# "proxy µs/req" is the CPU time (user+system, from /proc) the proxy under test spent per request.
#
# Writes the table to stdout and to bench/results/latest.md. Needs: nginx, haproxy, wrk, curl, python3, openssl, swift.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DURATION=10
WARMUP=1
CONNECTIONS=64
THREADS=1
CASES="a,b,c,d,e,f,g,h,i"
PAIRS=0
BESIDE=0
PAIR_RATIOS=()
LIMIT_RATIOS=()
BUILD=1
PIN=1
ENFORCE=0
GATEWAY_BIN="$ROOT/.build/release/gateway"
RESULTS="$ROOT/bench/results/latest.md"

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --duration SECONDS     per case (default 10)
  --quick                3 s per case
  --warmup SECONDS       unmeasured run before each case (default 1; 0 disables)
  --connections N        wrk connections (default 64)
  --threads N            wrk threads (default 1: wrk has one core)
  --cases LIST           comma-separated subset of a,b,c,d,e,f,g,h,i (default all)
  --no-build             use the existing .build/release/gateway
  --gateway PATH         gateway binary to run (implies --no-build)
  --no-pin               do not pin with taskset
  --pairs N              after the cases, N more alternating rounds of d, e and f on the same gateway; the
                         error-storm ratio and the rate-limit cost are then the medians of the N rounds' e/d and f/d
                         (robust to a machine whose speed drifts between cases; default 0: the single rows)
  --beside N             then N rounds of bench/ab.sh --new-path: two gateways of this build at once on the
                         servers' core, one loaded on the plain route and one on the error storm (then on the
                         rate-limited route); their CPU per request compared in the same seconds, so a drift in the
                         machine's speed hits both; then N rounds of bench/ab.sh nginx: the gateway beside nginx as
                         a proxy (case b) for 1 KiB, 16 KiB and the error storm, the same way (default 0: none)
  --enforce              exit 1 when the error-storm ratio e/d is below 0.90
  --output FILE          results markdown (default bench/results/latest.md)
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --quick) DURATION=3; shift ;;
        --pairs) PAIRS="$2"; shift 2 ;;
        --beside) BESIDE="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --threads) THREADS="$2"; shift 2 ;;
        --cases) CASES="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --gateway) GATEWAY_BIN="$2"; BUILD=0; shift 2 ;;
        --no-pin) PIN=0; shift ;;
        --enforce) ENFORCE=1; shift ;;
        --output) RESULTS="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

wants() { [[ ",$CASES," == *",$1,"* ]]; }


# --- pinning -------------------------------------------------------------------------------------------------------
LOAD_CPU=""
SERVER_CPU=""
PIN_NOTE="not pinned"
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    LOAD_CPU="taskset -c 0"
    SERVER_CPU="taskset -c 1"
    PIN_NOTE="wrk on CPU 0; upstream nginx and the proxy under test on CPU 1 (taskset)"
fi

# --- build ---------------------------------------------------------------------------------------------------------
source "$ROOT/bench/lib.sh"
require_tools nginx haproxy wrk curl python3
if wants d || wants e || wants f || wants h || wants i; then
    if [ "$BUILD" = 1 ]; then
        echo "building the gateway (release)..." >&2
        build_release gateway
    fi
    [ -x "$GATEWAY_BIN" ] || { echo "no gateway binary at $GATEWAY_BIN" >&2; exit 1; }
fi

# --- temp dir and cleanup ------------------------------------------------------------------------------------------
bench_setup bench

# Checks that URL answers STATUS with a body containing TEXT, so a misconfigured case is not measured.
expect_response() {
    local url="$1" status="$2" text="$3" got
    got="$(curl -s -o "$TMP/probe.body" -w '%{http_code}' --max-time 5 "$url")"
    if [ "$got" != "$status" ] || ! grep -q -- "$text" "$TMP/probe.body"; then
        echo "sanity check failed for $url: expected $status with '$text', got $got:" >&2
        head -c 600 "$TMP/probe.body" >&2; echo >&2
        return 1
    fi
}

# --- bodies --------------------------------------------------------------------------------------------------------
OK_BODY="$(make_body ok)"
# A 16 KiB JSON body (exactly 16384 bytes), served from a file.
mkdir -p "$TMP/files"
python3 -c 'import json,sys; t=json.dumps({"data":"x"}); sys.stdout.write(t[:-2] + "x" * (16384 - len(t)) + t[-2:])' \
    >"$TMP/files/16k.json"
ERROR_BODY="$(make_body error)"

# Starts nginx in the foreground of a background job; its master's pid is left in STARTED_PID.
start_nginx() {
    local dir="$1"
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    $SERVER_CPU nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" </dev/null >"$dir/logs/stdout.log" 2>&1 &
    STARTED_PID="$!"
    PIDS+=("$STARTED_PID")
}

# --- upstream nginx ------------------------------------------------------------------------------------------------
UPSTREAM_PORT="$(free_port)"
ERROR_PORT="$(free_port)"
H2_PORT="$(free_port)"
# A throwaway CA and a certificate for 127.0.0.1, for the HTTP/2 (TLS) listener of case g.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=bench CA" \
    -keyout "$TMP/ca.key" -out "$TMP/ca.crt" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$TMP/tls.key" -out "$TMP/tls.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$TMP/tls.ext"
openssl x509 -req -in "$TMP/tls.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial -days 1 \
    -extfile "$TMP/tls.ext" -out "$TMP/tls.crt" 2>/dev/null
write_nginx_conf "$TMP/upstream" "
    server {
        listen 127.0.0.1:$UPSTREAM_PORT reuseport;
        location = /16k.json { default_type application/json; root $TMP/files; }
        location / { default_type application/json; return 200 '$OK_BODY'; }
    }
    server {
        listen 127.0.0.1:$ERROR_PORT reuseport;
        location / { default_type application/json; return 422 '$ERROR_BODY'; }
    }
    server {
        listen 127.0.0.1:$H2_PORT ssl http2 reuseport;
        ssl_certificate $TMP/tls.crt;
        ssl_certificate_key $TMP/tls.key;
        location / { default_type application/json; return 200 '$OK_BODY'; }
    }"
start_nginx "$TMP/upstream"
UPSTREAM_PID="$STARTED_PID"
wait_http "http://127.0.0.1:$UPSTREAM_PORT/" "$TMP/upstream/logs/stdout.log"
wait_http "http://127.0.0.1:$ERROR_PORT/"

# --- measuring -----------------------------------------------------------------------------------------------------
TICKS_PER_SECOND="$(getconf CLK_TCK)"

# Converts wrk's latency (e.g. 812.00us, 1.23ms, 1.05s) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n = n * 60000; else if (v ~ /s$/) n = n * 1000
        printf "%.3f", n }'
}

ROWS=()
declare -A RPS
# run_case ID DESCRIPTION URL PROXY_PID
run_case() {
    local id="$1" description="$2" url="$3" proxy_pid="$4" out="$TMP/wrk-$1.txt"
    if [ "$WARMUP" != 0 ]; then
        $LOAD_CPU wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
    fi
    local before after upstream_before upstream_after
    before="$(cpu_ticks "$proxy_pid")"
    upstream_before="$(cpu_ticks "$UPSTREAM_PID")"
    $LOAD_CPU wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" >"$out"
    after="$(cpu_ticks "$proxy_pid")"
    upstream_after="$(cpu_ticks "$UPSTREAM_PID")"

    local rps p50 p99 requests non2xx errors cpu_us
    rps="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")"
    p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
    requests="$(awk '/requests in/ { print $1 }' "$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")"
    errors="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")"
    cpu_us="$(awk -v t=$((after - before)) -v hz="$TICKS_PER_SECOND" -v n="$requests" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
    local upstream_us
    upstream_us="$(awk -v t=$((upstream_after - upstream_before)) -v hz="$TICKS_PER_SECOND" -v n="$requests" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"
    RPS[$id]="$rps"
    ROWS+=("| $id | $description | $rps | $p50 | $p99 | $cpu_us | $upstream_us | ${non2xx:-0} | ${errors:-0} |")
    printf '%-3s %-34s %9s req/s  p50 %8s ms  p99 %8s ms  proxy %6s us/req\n' \
        "$id" "$description" "$rps" "$p50" "$p99" "$cpu_us" >&2
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "measuring: ${DURATION}s per case, ${CONNECTIONS} connections, ${THREADS} wrk thread(s); $PIN_NOTE" >&2

# (a) nginx direct
if wants a; then
    expect_response "http://127.0.0.1:$UPSTREAM_PORT/data.json" 200 '"certificate"'
    run_case a "nginx direct (upstream alone)" "http://127.0.0.1:$UPSTREAM_PORT/data.json" "$UPSTREAM_PID"
fi

# (b) nginx as a reverse proxy
if wants b; then
    PROXY_PORT="$(free_port)"
    write_nginx_proxy_conf "$TMP/proxy" "$PROXY_PORT" "$UPSTREAM_PORT"
    start_nginx "$TMP/proxy"
    NGINX_PROXY_PID="$STARTED_PID"
    wait_http "http://127.0.0.1:$PROXY_PORT/" "$TMP/proxy/logs/stdout.log"
    expect_response "http://127.0.0.1:$PROXY_PORT/data.json" 200 '"certificate"'
    run_case b "nginx proxy_pass, keepalive" "http://127.0.0.1:$PROXY_PORT/data.json" "$NGINX_PROXY_PID"
    if wants g; then
        expect_response "http://127.0.0.1:$PROXY_PORT/16k.json" 200 '"data"'
        run_case g "nginx proxy_pass, 16 KiB" "http://127.0.0.1:$PROXY_PORT/16k.json" "$NGINX_PROXY_PID"
    fi
    kill "$NGINX_PROXY_PID"; wait "$NGINX_PROXY_PID" 2>/dev/null || true
fi

# (c) HAProxy
if wants c; then
    HAPROXY_PORT="$(free_port)"
    cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
    pidfile $TMP/haproxy.pid
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    http-reuse always
frontend bench
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend origin
backend origin
    server upstream 127.0.0.1:$UPSTREAM_PORT
EOF
    haproxy -c -q -f "$TMP/haproxy.cfg"
    $SERVER_CPU haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
    HAPROXY_PID="$!"
    PIDS+=("$HAPROXY_PID")
    wait_http "http://127.0.0.1:$HAPROXY_PORT/" "$TMP/haproxy.log"
    expect_response "http://127.0.0.1:$HAPROXY_PORT/data.json" 200 '"certificate"'
    run_case c "haproxy, keep-alive" "http://127.0.0.1:$HAPROXY_PORT/data.json" "$HAPROXY_PID"
    kill "$HAPROXY_PID"; wait "$HAPROXY_PID" 2>/dev/null || true
fi

# (d), (e), (f) the gateway: one process, three routes
F_NOTE=""
if wants d || wants e || wants f || wants h || wants i; then
    GATEWAY_PORT="$(free_port)"
    ADMIN_PORT="$(free_port)"
    cat >"$TMP/gateway.yaml" <<EOF
server:
  listen: 127.0.0.1:$GATEWAY_PORT
  admin_listen: 127.0.0.1:$ADMIN_PORT
  access_log: false
rate_limits:
  never_denies:
    rate: 100000000/1s
    burst: 1000000000
    key: client_ip
upstreams:
  origin:
    url: http://127.0.0.1:$UPSTREAM_PORT
  failing:
    url: http://127.0.0.1:$ERROR_PORT
    dialect: auto
  tls_origin:
    url: https://127.0.0.1:$H2_PORT
    http_version: auto
    max_connections: 4
    tls: { ca_file: $TMP/ca.crt }
routes:
  - name: h2
    path_prefix: /h2/
    strip_prefix: true
    upstream: tls_origin
  - name: errors
    path_prefix: /err/
    strip_prefix: true
    upstream: failing
  # Case f: the path is as short as case d's (a path over 15 bytes costs a few allocations more on its own, which
  # is not the rate limit's cost) and is forwarded as it is (the upstream answers any path).
  - name: limited
    path_prefix: /rl/
    upstream: origin
    rate_limits: [never_denies]
  - name: plain
    path_prefix: /
    upstream: origin
EOF
    "$GATEWAY_BIN" check-config --config "$TMP/gateway.yaml" >&2
    GATEWAY_LOG_LEVEL="${GATEWAY_LOG_LEVEL:-warning}" $SERVER_CPU "$GATEWAY_BIN" serve --config "$TMP/gateway.yaml" \
        >"$TMP/gateway.log" 2>&1 &
    GATEWAY_PID="$!"
    PIDS+=("$GATEWAY_PID")
    wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/gateway.log"
    GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"

    if wants d; then
        expect_response "$GATEWAY_URL/data.json" 200 '"certificate"'
        run_case d "gateway" "$GATEWAY_URL/data.json" "$GATEWAY_PID"
    fi
    if wants e; then
        expect_response "$GATEWAY_URL/err/data.json" 422 '"code":"validation_failed"'
        run_case e "gateway, error storm (422 normalized)" "$GATEWAY_URL/err/data.json" "$GATEWAY_PID"
    fi
    if wants f; then
        expect_response "$GATEWAY_URL/rl/data.json" 200 '"certificate"'
        if curl -s -D - -o /dev/null "$GATEWAY_URL/rl/data.json" | grep -qi '^x-ratelimit-limit:'; then
            run_case f "gateway + rate limit (never denies)" "$GATEWAY_URL/rl/data.json" "$GATEWAY_PID"
        else
            F_NOTE="(f) skipped: this gateway build does not enforce rate limits yet (no X-RateLimit-Limit header)."
            echo "$F_NOTE" >&2
        fi
    fi
    if wants h; then
        expect_response "$GATEWAY_URL/16k.json" 200 '"data"'
        run_case h "gateway, 16 KiB" "$GATEWAY_URL/16k.json" "$GATEWAY_PID"
    fi
    if wants i; then
        expect_response "$GATEWAY_URL/h2/data.json" 200 '"certificate"'
        run_case i "gateway, HTTP/2 upstream (TLS, 4 conns)" "$GATEWAY_URL/h2/data.json" "$GATEWAY_PID"
    fi
    if [ "$PAIRS" -gt 0 ] && wants d && wants e; then
        # Alternating rounds: each e measured right after its d, so a drift in the machine's speed hits both.
        PAIR_RATIOS=()
        SAVED_ROWS=("${ROWS[@]}")
        # The rounds' figures only make the ratio: the table's rows and the f/d cost keep the cases' own d and e.
        SAVED_D="${RPS[d]}"
        SAVED_E="${RPS[e]}"
        SAVED_F="${RPS[f]:-}"
        # With case f measured too, each round also runs f right after its d, for the rate-limit cost's median.
        LIMIT_RATIOS=()
        for round in $(seq 1 "$PAIRS"); do
            run_case d "gateway (pair $round)" "$GATEWAY_URL/data.json" "$GATEWAY_PID"
            run_case e "gateway, error storm (pair $round)" "$GATEWAY_URL/err/data.json" "$GATEWAY_PID"
            PAIR_RATIOS+=("$(awk -v e="${RPS[e]}" -v d="${RPS[d]}" 'BEGIN { printf "%.2f", e / d }')")
            if [ -n "$SAVED_F" ]; then
                run_case f "gateway + rate limit (pair $round)" "$GATEWAY_URL/rl/data.json" "$GATEWAY_PID"
                LIMIT_RATIOS+=("$(awk -v f="${RPS[f]}" -v d="${RPS[d]}" 'BEGIN { printf "%.2f", f / d }')")
            fi
        done
        ROWS=("${SAVED_ROWS[@]}")
        RPS[d]="$SAVED_D"
        RPS[e]="$SAVED_E"
        [ -n "$SAVED_F" ] && RPS[f]="$SAVED_F"
    fi
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
        echo "the gateway died during the run; its log:" >&2
        tail -n 40 "$TMP/gateway.log" >&2
        exit 1
    fi
fi
# The median of the numbers given (for an even count, the mean of the middle two).
median() {
    printf '%s\n' "$@" | sort -n | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'
}
# Side by side: what the error storm and the rate limit cost against the plain route in the same seconds.
BESIDE_LINES=()
if [ "$BESIDE" -gt 0 ] && wants d; then
    for pair in "/err/x|error storm|0.90" "/rl/data.json|never-denying rate limit|0.95"; do
        IFS='|' read -r path label target <<<"$pair"
        echo "side by side: $label ($BESIDE rounds of ${DURATION}s)..." >&2
        ratios="$("$ROOT/bench/ab.sh" --rounds "$BESIDE" --duration "$DURATION" --new-path "$path" \
            "$GATEWAY_BIN" "$GATEWAY_BIN" | awk '/us\/req/ { print $NF }' | tr '\n' ' ')"
        read -r -a list <<<"$ratios"
        [ "${#list[@]}" -gt 0 ] || { echo "bench/ab.sh gave no rounds for $path" >&2; exit 1; }
        BESIDE_LINES+=("$(awk -v m="$(median "${list[@]}")" \
            -v all="${list[*]}" -v label="$label" -v target="$target" -v path="$path" -v n="${#list[@]}" 'BEGIN {
            printf "Side by side (`bench/ab.sh --new-path %s`, %d rounds): the %s costs %.3fx the plain route'"'"'s CPU per request (median of %s), so on one core it serves %.2fx the plain route'"'"'s requests (%s; the issue requires >= %s)",
                path, n, label, m, all, 1 / m, (1 / m >= target ? "PASS" : "FAIL"), target }')")
    done
    # The gateway beside nginx as a proxy: the CPU ratio of the issue's first target, measured in the same seconds.
    for triple in "/data.json|/data.json|1 KiB" "/16k.json|/16k.json|16 KiB" "/data.json|/err/x|error storm"; do
        IFS='|' read -r nginx_path gateway_path label <<<"$triple"
        echo "side by side with nginx: $label ($BESIDE rounds of ${DURATION}s)..." >&2
        ratios="$("$ROOT/bench/ab.sh" --rounds "$BESIDE" --duration "$DURATION" --path "$nginx_path" \
            --new-path "$gateway_path" nginx "$GATEWAY_BIN" | awk '/us\/req/ { print $NF }' | tr '\n' ' ')"
        read -r -a list <<<"$ratios"
        [ "${#list[@]}" -gt 0 ] || { echo "bench/ab.sh gave no rounds for nginx beside $gateway_path" >&2; exit 1; }
        BESIDE_LINES+=("$(awk -v m="$(median "${list[@]}")" -v all="${list[*]}" -v label="$label" \
            -v paths="--path $nginx_path --new-path $gateway_path" -v n="${#list[@]}" 'BEGIN {
            printf "Side by side with nginx as a proxy (`bench/ab.sh %s nginx GATEWAY`, %d rounds), %s: the gateway'"'"'s CPU per request is %.2fx nginx'"'"'s (median of %s; %s, the issue requires <= 3x)",
                paths, n, label, m, all, (m <= 3 ? "PASS" : "FAIL") }')")
    done
fi
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- report --------------------------------------------------------------------------------------------------------
RATIO_LINE=""
RATIO_FAIL=0
if [ "${#PAIR_RATIOS[@]}" -gt 0 ]; then
    RATIO_LINE="$(awk -v m="$(median "${PAIR_RATIOS[@]}")" -v n="${#PAIR_RATIOS[@]}" -v all="${PAIR_RATIOS[*]}" 'BEGIN {
        printf "Error storm: e/d = %.2f, the median of %d alternating d/e rounds (%s) (%s; the issue requires >= 0.90)",
            m, n, all, (m >= 0.9 ? "PASS" : "FAIL") }')"
    [[ "$RATIO_LINE" == *FAIL* ]] && RATIO_FAIL=1
elif [ -n "${RPS[d]:-}" ] && [ -n "${RPS[e]:-}" ]; then
    RATIO_LINE="$(awk -v e="${RPS[e]}" -v d="${RPS[d]}" 'BEGIN {
        r = e / d
        printf "Error storm: e/d = %.2f (%s; the issue requires >= 0.90)", r, (r >= 0.9 ? "PASS" : "FAIL") }')"
    [[ "$RATIO_LINE" == *FAIL* ]] && RATIO_FAIL=1
fi
RATE_LINE=""
if [ "${#LIMIT_RATIOS[@]}" -gt 0 ]; then
    RATE_LINE="$(awk -v m="$(median "${LIMIT_RATIOS[@]}")" -v n="${#LIMIT_RATIOS[@]}" -v all="${LIMIT_RATIOS[*]}" 'BEGIN {
        printf "Rate-limit cost: f/d = %.2f, the median of %d alternating d/f rounds (%s) (%.1f%% of throughput; %s, the issue requires >= 0.95)",
            m, n, all, (1 - m) * 100, (m >= 0.95 ? "PASS" : "FAIL") }')"
elif [ -n "${RPS[d]:-}" ] && [ -n "${RPS[f]:-}" ]; then
    RATE_LINE="$(awk -v f="${RPS[f]}" -v d="${RPS[d]}" 'BEGIN {
        printf "Rate-limit cost: f/d = %.2f (%.1f%% of throughput; %s, the issue requires >= 0.95)", f / d, (1 - f / d) * 100,
            (f / d >= 0.95 ? "PASS" : "FAIL") }')"
fi

# The gateway against nginx as a proxy of the same response (issue 11: throughput >= 0.4x, CPU <= 3x, p99 <= 2x).
COMPARE_LINES=()
compare() { # gateway-case nginx-case label
    local g="$1" n="$2" label="$3" grow nrow
    grow="$(printf '%s\n' "${ROWS[@]}" | awk -F'|' -v id=" $g " '$2 == id')"
    nrow="$(printf '%s\n' "${ROWS[@]}" | awk -F'|' -v id=" $n " '$2 == id')"
    [ -n "$grow" ] && [ -n "$nrow" ] || return 0
    COMPARE_LINES+=("$(awk -F'|' -v g="$grow" -v n="$nrow" -v label="$label" 'BEGIN {
        split(g, a, "|"); split(n, b, "|")
        printf "| %s | %.2fx | %.2fx | %.2fx |", label, a[4] / b[4], a[7] / b[7], a[6] / b[6] }')")
}
compare d b "1 KiB (d vs b)"
compare h g "16 KiB (h vs g)"
compare e b "error storm (e vs b)"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "# Load benchmark: gateway vs nginx vs HAProxy"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $COMMIT. Command: \`bench/run.sh --duration $DURATION" \
        "--connections $CONNECTIONS --threads $THREADS${CASES:+ --cases $CASES}$([ "$PAIRS" -gt 0 ] && echo " --pairs $PAIRS")$([ "$BESIDE" -gt 0 ] && echo " --beside $BESIDE")$([ "$PIN" = 1 ] || echo " --no-pin")\`"
    echo
    echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), Linux $(uname -r), loopback only."
    echo "- Load average before / after: $LOAD_BEFORE / $LOAD_AFTER (the machine is shared: figures vary between runs)."
    echo "- Pinning: $PIN_NOTE."
    echo "- wrk: ${DURATION}s per case after a ${WARMUP}s warm-up, $CONNECTIONS connections, $THREADS thread(s)."
    echo "- Upstream: nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), 1 worker, \`return 200\` of a 1024-byte JSON body" \
        "(error storm: \`return 422\` of a 1024-byte Laravel validation error; case g: a 16 KiB file; case i: the 1 KiB body over TLS 1.3 and" \
        "HTTP/2, \`http2\` on the listener)."
    echo "- Proxies: nginx 1 worker (proxy_pass, upstream keepalive 128); HAProxy $(haproxy -v | head -1 | awk '{print $3}')" \
        "nbthread 1 (http-reuse always); gateway release build, access_log false, one route."
    echo "- proxy µs/req: CPU time (user+system) of the proxy process per request; upstream µs/req: the same for the" \
        "upstream nginx. In row a the proxy is the upstream itself."
    echo
    echo "| case | what | requests/s | p50 ms | p99 ms | proxy µs/req | upstream µs/req | non-2xx | socket errors |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${ROWS[@]}"
    echo
    if [ "${#COMPARE_LINES[@]}" -gt 0 ]; then
        echo "| gateway vs nginx proxy_pass | throughput | CPU per request | p99 |"
        echo "| --- | ---: | ---: | ---: |"
        printf '%s\n' "${COMPARE_LINES[@]}"
        echo
        echo "The issue's targets, pinned: throughput at least 0.4x, CPU per request at most 3x, p99 at most 2x;" \
            "unpinned (--no-pin): throughput at least 0.5x."
        echo
    fi
    [ -n "$RATIO_LINE" ] && echo "$RATIO_LINE"
    [ -n "$RATIO_LINE" ] && echo
    [ -n "$RATE_LINE" ] && echo "$RATE_LINE"
    [ -n "$RATE_LINE" ] && echo
    for line in "${BESIDE_LINES[@]}"; do
        echo "$line"
        echo
    done
    [ -n "$F_NOTE" ] && echo "$F_NOTE"
    true
} >"$TMP/report.md"
mkdir -p "$(dirname "$RESULTS")"
cp "$TMP/report.md" "$RESULTS"
echo >&2
cat "$TMP/report.md"
echo "(written to $RESULTS)" >&2

if [ "$ENFORCE" = 1 ] && [ "$RATIO_FAIL" = 1 ]; then
    exit 1
fi
