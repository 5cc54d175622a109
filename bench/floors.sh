#!/usr/bin/env bash
# What the gateway's two mandated parts cost on their own, beside nginx and the gateway, in one window: the floor under
# issue 11's "CPU per request at most 3x nginx's" target.
#
#   bench/floors.sh                        # 5 alternating rounds of 5 s, 64 connections, 1 KiB responses
#   bench/floors.sh --rounds 3 --duration 4
#
# Each round measures, one after another, the CPU time (user+system, /proc) per request of:
#   nginx proxy    nginx as a keep-alive reverse proxy of the upstream (as in bench/run.sh, case b)
#   NIO floor      `vendor-sim --fixed-body-bytes 1024`: SwiftNIO's HTTP/1.1 server pipeline (the codec the gateway's
#                  listener uses) and one handler answering every request from memory; no upstream
#   curl floor     bench/curl_floor.c in its `gateway` mode: libcurl's multi interface on one C thread keeping 64
#                  transfers in flight against the upstream, with a reset, the options and 9 headers per transfer as
#                  the gateway's engine sets them; no listener
#   gateway        the gateway proxying the upstream (one route, no rate limit, no access log)
# Servers share CPU 1 with the upstream nginx; wrk runs on CPU 0 (as bench/run.sh). The summary takes each
# column's median and divides by nginx proxy's: the two floors' sum is what the gateway would cost if its own code
# cost nothing. Needs: nginx, wrk, curl, gcc and libcurl's headers, python3, taskset, swift.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ROUNDS=5
DURATION=5
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

source "$ROOT/bench/lib.sh"
require_tools nginx wrk curl gcc python3 taskset
bench_setup floors
if [ "$BUILD" = 1 ]; then
    build_release gateway vendor-sim
fi
gcc -O2 -o "$TMP/curl_floor" "$ROOT/bench/curl_floor.c" -lcurl

# --- upstream and nginx proxy --------------------------------------------------------------------------------------
UPSTREAM_PORT="$(free_port)"
PROXY_PORT="$(free_port)"
mkdir -p "$TMP/files"
python3 -c 'import sys; sys.stdout.write("{\"data\":\"" + "x" * (1024 - 12) + "\"}")' >"$TMP/files/data.json"
write_nginx_conf "$TMP/upstream" "    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        default_type application/json;
        root $TMP/files;
        location / { try_files \$uri /data.json; }
    }"
write_nginx_proxy_conf "$TMP/proxy" "$PROXY_PORT" "$UPSTREAM_PORT"
for dir in upstream proxy; do
    taskset -c 1 nginx -p "$TMP/$dir" -c "$TMP/$dir/nginx.conf" </dev/null >"$TMP/$dir/logs/stdout.log" 2>&1 &
    PIDS+=("$!")
    printf -v "PID_$dir" '%s' "$!"
done
wait_http "http://127.0.0.1:$UPSTREAM_PORT/data.json"
wait_http "http://127.0.0.1:$PROXY_PORT/data.json"

# --- the NIO floor and the gateway ---------------------------------------------------------------------------------
FLOOR_PORT="$(free_port)"
taskset -c 1 "$ROOT/.build/release/vendor-sim" --port "$FLOOR_PORT" --fixed-body-bytes 1024 >"$TMP/floor.log" 2>&1 &
PIDS+=("$!")
PID_floor="$!"
GATEWAY_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
write_gateway_config "$TMP/gateway.yaml" "$GATEWAY_PORT" "$ADMIN_PORT" "$UPSTREAM_PORT"
GATEWAY_LOG_LEVEL=warning taskset -c 1 "$ROOT/.build/release/gateway" serve --config "$TMP/gateway.yaml" \
    >"$TMP/gateway.log" 2>&1 &
PIDS+=("$!")
PID_gateway="$!"
wait_http "http://127.0.0.1:$FLOOR_PORT/" "$TMP/floor.log"
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/gateway.log"

# --- measuring -----------------------------------------------------------------------------------------------------
HZ="$(getconf CLK_TCK)"
served() { # URL PID: µs of CPU per request over DURATION seconds of wrk, after 1 s of warm-up
    taskset -c 0 wrk -t1 -c64 -d1s "$1" >/dev/null
    local before after requests
    before="$(cpu_ticks "$2")"
    taskset -c 0 wrk -t1 -c64 -d"${DURATION}s" "$1" >"$TMP/wrk.txt"
    after="$(cpu_ticks "$2")"
    requests="$(awk '/requests in/ { print $1 }' "$TMP/wrk.txt")"
    awk -v t=$((after - before)) -v hz="$HZ" -v r="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / r }'
}
curl_floor() { # µs of CPU per request of the C program, as it prints it
    taskset -c 1 "$TMP/curl_floor" "http://127.0.0.1:$UPSTREAM_PORT/data.json" perform $((DURATION * 6000)) gateway \
        | awk '{ for (i = 1; i <= NF; i++) if ($i == "us") print $(i - 1) }'
}

printf '%-6s %14s %12s %12s %12s\n' round "nginx proxy" "NIO floor" "curl floor" gateway
: >"$TMP/rows"
for round in $(seq "$ROUNDS"); do
    b="$(served "http://127.0.0.1:$PROXY_PORT/data.json" "$PID_proxy")"
    n="$(served "http://127.0.0.1:$FLOOR_PORT/data.json" "$PID_floor")"
    c="$(curl_floor)"
    d="$(served "http://127.0.0.1:$GATEWAY_PORT/data.json" "$PID_gateway")"
    printf '%-6s %11s us %9s us %9s us %9s us\n' "$round" "$b" "$n" "$c" "$d"
    echo "$b $n $c $d" >>"$TMP/rows"
done
python3 - "$TMP/rows" <<'EOF'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
b, n, c, d = (statistics.median(column) for column in zip(*rows))
print(f"medians: nginx proxy {b:.1f} us, NIO floor {n:.1f} us, curl floor {c:.1f} us, gateway {d:.1f} us")
print(f"x nginx proxy: NIO floor {n / b:.2f}, curl floor {c / b:.2f}, floors together {(n + c) / b:.2f}, "
      f"gateway {d / b:.2f}")
print(f"the gateway's own code (gateway - floors): {d - n - c:.1f} us, {(d - n - c) / d:.0%} of its CPU")
EOF
