#!/usr/bin/env bash
# Two gateway instances behind a local nginx load balancer, sharing one Redis for rate limits, all on loopback.
# Sends requests through nginx and shows that a global limit holds across both instances: exactly `burst`
# requests pass, whichever instance serves them.
#
#   deploy/local-cluster.sh            # run the demonstration (exit 0 when the limit held)
#   deploy/local-cluster.sh --check    # exit 0 if this build shares limits through Redis, 77 if not (yet)
#
# Binaries: $GATEWAY_BIN / $VENDOR_SIM_BIN, else .build/release or .build/debug (run `swift build` first).
# Needs redis-server, redis-cli, nginx, curl (scripts/install-deps installs them). BURST (default 5) sets the limit.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
[ "${1:-}" = "--check" ] && mode=check
burst=${BURST:-5}

pick() {
    for dir in .build/release .build/debug; do
        [ -x "$dir/$1" ] && { echo "$dir/$1"; return; }
    done
    echo "missing $1: run swift build" >&2
    exit 2
}
gateway_bin=${GATEWAY_BIN:-$(pick gateway)}
sim_bin=${VENDOR_SIM_BIN:-$(pick vendor-sim)}
for tool in redis-server redis-cli nginx curl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gateway-cluster.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # A parent that blocks SIGTERM (a test runner, for one) passes the mask on: do not wait forever.
    for _ in $(seq 1 30); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for DESCRIPTION COMMAND...: polls for up to 20 s
    local what=$1; shift
    for _ in $(seq 1 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "timed out waiting for $what" >&2
    for log in "$work"/*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
    exit 1
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for redis redis-cli -p "$redis_port" ping

"$sim_bin" --port 0 --port-file "$work/sim.port" >"$work/vendor-sim.log" 2>&1 &
pids+=($!)
wait_for vendor-sim test -s "$work/sim.port"
sim_port=$(tr -d '[:space:]' <"$work/sim.port")

cat >"$work/gateway.yaml" <<YAML
server:
  listen: \${GATEWAY_LISTEN}
  admin_listen: \${GATEWAY_ADMIN_LISTEN}
  access_log: false
  drain_timeout: 2s
rate_limit_store:
  kind: redis
  url: redis://127.0.0.1:${redis_port}/0
  on_failure: deny
  timeout: 200ms
rate_limits:
  cluster_global:
    rate: ${burst}/1m
    burst: ${burst}
    key: global
upstreams:
  sim:
    url: http://127.0.0.1:${sim_port}
routes:
  - name: sim
    path_prefix: /sim/
    strip_prefix: true
    upstream: sim
    rate_limits: [cluster_global]
YAML

instances=1
[ "$mode" = run ] && instances=2
proxy_ports=()
admin_ports=()
# Starts gateway I on two free ports and waits until it is ready. free_port's port can be taken by another process
# before the gateway binds it (tests run in parallel on this machine): a gateway that exits on "Address already in
# use" is started again on other ports, up to five times.
start_gateway() {
    local i=$1 pid
    for _ in 1 2 3 4 5; do
        proxy_port=$(free_port)
        admin_port=$(free_port)
        GATEWAY_LISTEN=127.0.0.1:$proxy_port GATEWAY_ADMIN_LISTEN=127.0.0.1:$admin_port \
            "$gateway_bin" serve --config "$work/gateway.yaml" >"$work/gateway-$i.log" 2>&1 &
        pid=$!
        # Until it is ready, or has exited (polled for up to 20 s, as wait_for does).
        for _ in $(seq 1 200); do
            curl -fsS -o /dev/null "http://127.0.0.1:$admin_port/readyz" 2>/dev/null && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            pids+=("$pid")
            wait_for "gateway $i" curl -fsS "http://127.0.0.1:$admin_port/readyz"  # ready, or reports the logs
            return 0
        fi
        wait "$pid" 2>/dev/null || true
        if ! grep -q "Address already in use" "$work/gateway-$i.log"; then
            echo "gateway $i exited:" >&2
            tail -20 "$work/gateway-$i.log" >&2
            exit 1
        fi
        echo "gateway $i: a port was taken before it bound it; trying two others" >&2
    done
    echo "gateway $i: no free ports after five tries" >&2
    exit 1
}
for i in $(seq 1 "$instances"); do
    start_gateway "$i"
    proxy_ports+=("$proxy_port")
    admin_ports+=("$admin_port")
done

if [ "$mode" = check ]; then
    # The Redis store is wired when a rate-limited request leaves state in Redis.
    curl -s -o /dev/null "http://127.0.0.1:${proxy_ports[0]}/sim/dokstamp/certificates" || true
    keys=$(redis-cli -p "$redis_port" dbsize)
    if [ "${keys:-0}" -gt 0 ]; then
        echo "redis rate-limit store: wired ($keys key(s) after one request)"
        exit 0
    fi
    echo "redis rate-limit store: not wired in this build (no keys in Redis after a rate-limited request)"
    exit 77
fi

nginx_port=$(free_port)
mkdir -p "$work/nginx"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user root;"
cat >"$work/nginx.conf" <<NGINX
$user_line
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream gateways {
        server 127.0.0.1:${proxy_ports[0]};
        server 127.0.0.1:${proxy_ports[1]};
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
        }
    }
}
NGINX
nginx -p "$work/nginx" -c "$work/nginx.conf" >"$work/nginx.log" 2>&1 &
pids+=($!)
wait_for nginx curl -sS -o /dev/null "http://127.0.0.1:$nginx_port/"

total=$((burst * 2 + 2))
allowed=0
limited=0
other=0
for _ in $(seq 1 "$total"); do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nginx_port/sim/dokstamp/certificates")
    case $status in
        200) allowed=$((allowed + 1)) ;;
        429) limited=$((limited + 1)) ;;
        *) other=$((other + 1)) ;;
    esac
done

served() {  # requests an instance answered, from its /metrics
    curl -fsS "http://127.0.0.1:$1/metrics" |
        awk '/^gateway_requests_total\{/ && /route="sim"/ { sum += $NF } END { print sum + 0 }'
}
served_1=$(served "${admin_ports[0]}")
served_2=$(served "${admin_ports[1]}")

echo "local cluster: nginx :$nginx_port -> gateways :${proxy_ports[0]} :${proxy_ports[1]}, redis :$redis_port"
echo "sent $total requests through nginx: $allowed allowed (200), $limited limited (429), $other other"
echo "instance 1 answered $served_1, instance 2 answered $served_2; global policy burst = $burst"
if [ "$allowed" -eq "$burst" ] && [ "$limited" -eq $((total - burst)) ] && [ "$served_1" -gt 0 ] && [ "$served_2" -gt 0 ]; then
    echo "OK: the limit held across both instances"
    exit 0
fi
echo "FAIL: expected exactly $burst allowed across both instances, each serving some"
exit 1
