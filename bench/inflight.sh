#!/usr/bin/env bash
# A fast route's cost while many requests wait on a slow upstream: the gateway beside nginx as a reverse proxy.
#
#   bench/inflight.sh                      # 500 slow requests in flight, 3 rounds of 5 s
#   bench/inflight.sh --slow 1000 --rounds 5 --duration 6 --no-build
#   bench/inflight.sh --no-build --gateway /tmp/gateway-before   # another build of the gateway
#
# Each round measures, one after another, the CPU time (user+system, /proc) per request of a 64-connection wrk load
# on a fast route (upstream nginx, 1 KiB), for nginx proxy_pass and for the gateway, each first alone and then while
# --slow other connections keep requests waiting on a slow upstream (`vendor-sim`, every answer 2 s late). The slow
# requests' own cost (--slow / 2 a second) is part of the figure. Proxies share CPU 1 with the upstream nginx;
# wrk and vendor-sim run on CPU 0. Needs: nginx, wrk, curl, python3, taskset, swift.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SLOW=500
ROUNDS=3
DURATION=5
BUILD=1
GATEWAY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --slow) SLOW="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --gateway) GATEWAY="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

source "$ROOT/bench/lib.sh"
require_tools nginx wrk curl python3 taskset
bench_setup inflight
if [ "$BUILD" = 1 ]; then
    build_release gateway vendor-sim
fi
GATEWAY="${GATEWAY:-$ROOT/.build/release/gateway}"

# --- the upstreams: nginx (fast, 1 KiB) and vendor-sim (answers when asked to, here 2 s late) ------------------------
UPSTREAM_PORT="$(free_port)"
mkdir -p "$TMP/files"
make_body ok >"$TMP/files/data.json"
write_nginx_conf "$TMP/upstream" "    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        default_type application/json;
        root $TMP/files;
        location / { try_files \$uri /data.json; }
    }"
taskset -c 1 nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" </dev/null >/dev/null 2>&1 &
PIDS+=("$!")
taskset -c 0 "$ROOT/.build/release/vendor-sim" --port 0 --port-file "$TMP/sim.port" >"$TMP/sim.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 100); do [ -s "$TMP/sim.port" ] && break; sleep 0.1; done
SIM_PORT="$(cat "$TMP/sim.port")"
wait_http "http://127.0.0.1:$UPSTREAM_PORT/data.json"
wait_http "http://127.0.0.1:$SIM_PORT/dokstamp/certificates" "$TMP/sim.log"
SLOW_PATH="/slow/dokstamp/certificates?delay=2000"

# --- the proxies: /slow/… to vendor-sim (prefix stripped), everything else to nginx ---------------------------------
NGINX_PORT="$(free_port)"
write_nginx_conf "$TMP/proxy" "
    upstream origin { server 127.0.0.1:$UPSTREAM_PORT; keepalive 128; }
    upstream slow { server 127.0.0.1:$SIM_PORT; keepalive 1024; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        proxy_http_version 1.1;
        proxy_set_header Connection \"\";
        location /slow/ { proxy_pass http://slow/; proxy_read_timeout 30s; }
        location / { proxy_pass http://origin; }
    }"
taskset -c 1 nginx -p "$TMP/proxy" -c "$TMP/proxy/nginx.conf" </dev/null >/dev/null 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
GATEWAY_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
cat >"$TMP/gateway.yaml" <<EOF
server: { listen: "127.0.0.1:$GATEWAY_PORT", admin_listen: "127.0.0.1:$ADMIN_PORT", access_log: false }
upstreams:
  origin: { url: "http://127.0.0.1:$UPSTREAM_PORT" }
  slow: { url: "http://127.0.0.1:$SIM_PORT", timeouts: { per_try: 30s, request: 60s } }
routes:
  - { name: slow, path_prefix: /slow/, strip_prefix: true, upstream: slow }
  - { name: plain, path_prefix: /, upstream: origin }
EOF
GATEWAY_LOG_LEVEL=warning taskset -c 1 "$GATEWAY" serve --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_http "http://127.0.0.1:$NGINX_PORT/data.json"
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz" "$TMP/gateway.log"

# One measurement: PROXY_PID PORT SLOW_CONNECTIONS → "µs/request requests/s" of the fast route.
measure() {
    local pid="$1" port="$2" slow="$3" slow_pid="" before after requests
    if [ "$slow" -gt 0 ]; then
        taskset -c 0 wrk -t1 -c"$slow" -d"$((DURATION + 8))s" --timeout 10s "http://127.0.0.1:$port$SLOW_PATH" \
            >"$TMP/slow.txt" 2>&1 &
        slow_pid=$!
        sleep 3  # every slow connection has a request waiting (each waits 2 s)
    fi
    taskset -c 0 wrk -t1 -c64 -d1s "http://127.0.0.1:$port/data.json" >/dev/null
    before="$(cpu_ticks "$pid")"
    taskset -c 0 wrk -t1 -c64 -d"${DURATION}s" "http://127.0.0.1:$port/data.json" >"$TMP/fast.txt"
    after="$(cpu_ticks "$pid")"
    [ -n "$slow_pid" ] && { kill "$slow_pid" 2>/dev/null || true; wait "$slow_pid" 2>/dev/null || true; }
    requests="$(awk '/requests in/ { print $1 }' "$TMP/fast.txt")"
    awk -v t=$((after - before)) -v r="$requests" -v d="$DURATION" 'BEGIN { printf "%.1f %.0f\n", t / 100 * 1e6 / r, r / d }'
}

echo "| round | nginx alone µs/req | nginx, $SLOW slow µs/req | gateway alone µs/req | gateway, $SLOW slow µs/req | gateway, $SLOW slow req/s |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq "$ROUNDS"); do
    read -r n0 _ < <(measure "$NGINX_PID" "$NGINX_PORT" 0)
    read -r n1 _ < <(measure "$NGINX_PID" "$NGINX_PORT" "$SLOW")
    read -r g0 _ < <(measure "$GATEWAY_PID" "$GATEWAY_PORT" 0)
    read -r g1 r1 < <(measure "$GATEWAY_PID" "$GATEWAY_PORT" "$SLOW")
    echo "| $round | $n0 | $n1 | $g0 | $g1 | $r1 |"
    echo "$n0 $n1 $g0 $g1" >>"$TMP/rounds"
done
python3 - "$TMP/rounds" "$SLOW" <<'EOF'
import statistics, sys
rows = [list(map(float, line.split())) for line in open(sys.argv[1])]
n0, n1, g0, g1 = (statistics.median(column) for column in zip(*rows))
print(f"\nMedians: nginx {n0:.1f} → {n1:.1f} µs/req with {sys.argv[2]} slow requests in flight ({n1 / n0:.2f}x); "
      f"gateway {g0:.1f} → {g1:.1f} ({g1 / g0:.2f}x); the gateway beside nginx {g0 / n0:.2f}x alone, {g1 / n1:.2f}x "
      f"with them.")
EOF
