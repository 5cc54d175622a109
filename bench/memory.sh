#!/usr/bin/env bash
# Memory under two loads that must not grow it (issue 11), measured from the gateway's resident set (/proc VmRSS):
#
#   1. idle keep-alive connections: N clients (default 10,000) each send one request, read the answer and stay
#      connected; the growth over the warmed-up gateway is divided by N;
#   2. a slow client: one client reads a 1 GiB response (an upstream nginx serving a sparse file) at a limited rate
#      while the upstream could send far faster; the peak growth while it streams is reported.
#
#   bench/memory.sh                          # 10,000 connections, 1 GiB at 200 MB/s
#   bench/memory.sh --connections 2000 --size 256M --rate 100M --no-build
#
# Needs: nginx, curl, python3, swift (release build of the gateway). The file-descriptor limit must allow the
# connections twice over (client and gateway are separate processes; `ulimit -n`). Prints a markdown table and
# writes it to bench/results/memory-latest.md.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONNECTIONS=10000
SIZE=1G
RATE=200M
BUILD=1
GATEWAY_BIN="$ROOT/.build/release/gateway"
RESULTS="$ROOT/bench/results/memory-latest.md"

while [ $# -gt 0 ]; do
    case "$1" in
        --connections) CONNECTIONS="$2"; shift 2 ;;
        --size) SIZE="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --gateway) GATEWAY_BIN="$2"; BUILD=0; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

if [ "$(ulimit -n)" -lt $((CONNECTIONS + 1000)) ]; then
    ulimit -n $((CONNECTIONS * 2 + 1000)) 2>/dev/null || {
        echo "the file-descriptor limit ($(ulimit -n)) is below $((CONNECTIONS + 1000)); raise it (ulimit -n)" >&2
        exit 1
    }
fi
source "$ROOT/bench/lib.sh"
require_tools nginx curl python3
if [ "$BUILD" = 1 ]; then
    echo "building the gateway (release)..." >&2
    build_release gateway
fi

bench_setup memory

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- upstream: a 1 KiB answer and a sparse file of SIZE --------------------------------------------------------------
UPSTREAM_PORT="$(free_port)"
mkdir -p "$TMP/upstream/logs" "$TMP/upstream/tmp" "$TMP/files"
truncate -s "$SIZE" "$TMP/files/big.bin"
BYTES="$(stat -c %s "$TMP/files/big.bin")"
cat >"$TMP/upstream/nginx.conf" <<EOF
$NGINX_USER
daemon off;
worker_processes 1;
pid $TMP/upstream/nginx.pid;
error_log $TMP/upstream/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/upstream/tmp/body;
    proxy_temp_path $TMP/upstream/tmp/proxy;
    fastcgi_temp_path $TMP/upstream/tmp/fastcgi;
    uwsgi_temp_path $TMP/upstream/tmp/uwsgi;
    scgi_temp_path $TMP/upstream/tmp/scgi;
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location = /small { default_type application/json; return 200 '{"ok":true}'; }
        location /files/ { root $TMP; }
    }
}
EOF
nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" -e "$TMP/upstream/logs/error.log" </dev/null \
    >"$TMP/upstream/logs/stdout.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$UPSTREAM_PORT/small"

# --- the gateway ---------------------------------------------------------------------------------------------------
GATEWAY_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
cat >"$TMP/gateway.yaml" <<EOF
server:
  listen: 127.0.0.1:$GATEWAY_PORT
  admin_listen: 127.0.0.1:$ADMIN_PORT
  access_log: false
  max_connections: $((CONNECTIONS + 100))
  idle_timeout: 10m
upstreams:
  origin:
    url: http://127.0.0.1:$UPSTREAM_PORT
    timeouts: { request: 10m, idle: 60s }
routes:
  - name: all
    path_prefix: /
    upstream: origin
EOF
GATEWAY_LOG_LEVEL=warning "$GATEWAY_BIN" serve --config "$TMP/gateway.yaml" >"$TMP/gateway.log" 2>&1 &
GATEWAY_PID="$!"
PIDS+=("$GATEWAY_PID")
wait_http "http://127.0.0.1:$ADMIN_PORT/readyz"
# Warm up: both event loops, the engine and its pool, the allocator.
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$GATEWAY_PORT/small"; done
sleep 1

# --- 1. idle keep-alive connections ----------------------------------------------------------------------------------
BEFORE_IDLE="$(rss_kib "$GATEWAY_PID")"
mkfifo "$TMP/hold"
python3 - "$GATEWAY_PORT" "$CONNECTIONS" "$TMP/hold" >"$TMP/idle.out" 2>&1 <<'EOF' &
import asyncio, sys
port, count, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
request = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"
async def one(streams):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    assert head.startswith(b"HTTP/1.1 200"), head[:40]
    streams.append((reader, writer))
async def main():
    streams = []
    for start in range(0, count, 500):
        await asyncio.gather(*(one(streams) for _ in range(start, min(count, start + 500))))
    print(f"open {len(streams)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, lambda: open(hold).read())
asyncio.run(main())
EOF
CLIENT_PID="$!"
PIDS+=("$CLIENT_PID")
deadline=$((SECONDS + 120))
until grep -q "^open" "$TMP/idle.out"; do
    kill -0 "$CLIENT_PID" 2>/dev/null || { echo "the idle-connection client failed:" >&2; cat "$TMP/idle.out" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "the connections did not open within 120 s" >&2; exit 1; }
    sleep 0.5
done
sleep 2
OPEN="$(awk '/^open/ { print $2 }' "$TMP/idle.out")"
WITH_IDLE="$(rss_kib "$GATEWAY_PID")"
echo done >"$TMP/hold"
wait "$CLIENT_PID" 2>/dev/null || true
IDLE_MIB="$(awk -v a="$BEFORE_IDLE" -v b="$WITH_IDLE" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
IDLE_PER="$(awk -v a="$BEFORE_IDLE" -v b="$WITH_IDLE" -v n="$OPEN" 'BEGIN { printf "%.1f", (b - a) / n }')"
echo "idle: $OPEN connections, RSS $((BEFORE_IDLE / 1024)) -> $((WITH_IDLE / 1024)) MiB (+$IDLE_MIB MiB, $IDLE_PER KiB each)" >&2

# --- 2. a slow client reading SIZE ---------------------------------------------------------------------------------
sleep 2
BEFORE_SLOW="$(rss_kib "$GATEWAY_PID")"
PEAK="$BEFORE_SLOW"
START=$SECONDS
curl -s -o /dev/null --limit-rate "$RATE" -w '%{size_download}\n' \
    "http://127.0.0.1:$GATEWAY_PORT/files/big.bin" >"$TMP/slow.out" &
CURL_PID="$!"
while kill -0 "$CURL_PID" 2>/dev/null; do
    now="$(rss_kib "$GATEWAY_PID")"
    [ "$now" -gt "$PEAK" ] && PEAK="$now"
    sleep 0.2
done
wait "$CURL_PID"
RECEIVED="$(cat "$TMP/slow.out")"
[ "$RECEIVED" = "$BYTES" ] || { echo "the slow client received $RECEIVED of $BYTES bytes" >&2; exit 1; }
SLOW_MIB="$(awk -v a="$BEFORE_SLOW" -v b="$PEAK" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
echo "slow client: $BYTES bytes at $RATE/s in $((SECONDS - START)) s, peak RSS growth $SLOW_MIB MiB" >&2

mkdir -p "$(dirname "$RESULTS")"
{
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
    echo "Command: \`bench/memory.sh --connections $CONNECTIONS --size $SIZE --rate $RATE\`"
    echo
    echo "| load | gateway RSS before | during | growth | limit (issue 11) |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    echo "| $OPEN idle keep-alive connections | $((BEFORE_IDLE / 1024)) MiB | $((WITH_IDLE / 1024)) MiB | $IDLE_MIB MiB ($IDLE_PER KiB each) | 200 MiB for 10,000 |"
    echo "| one client reading $SIZE at $RATE/s | $((BEFORE_SLOW / 1024)) MiB | $((PEAK / 1024)) MiB (peak) | $SLOW_MIB MiB | 32 MiB |"
} | tee "$RESULTS"
