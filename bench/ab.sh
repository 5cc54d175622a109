#!/usr/bin/env bash
# Two gateway builds measured side by side, at the same time: the way to tell whether a change saves CPU on a machine
# whose speed drifts by ±20 % from one minute to the next (bench/run.sh measures one case after another, so such a
# drift lands on one build only).
#
#   bench/ab.sh OLD_BINARY NEW_BINARY                 # 3 rounds of 5 s on /data.json (a 1 KiB answer)
#   bench/ab.sh --path /16k.json --rounds 5 --duration 4 OLD NEW
#   bench/ab.sh --path /err/x OLD NEW                 # the error storm (a 1 KiB Laravel 422, normalized)
#   bench/ab.sh --path /rl/data.json OLD NEW          # through a rate limit that never denies
#   bench/ab.sh --new-path /rl/data.json B B          # one build, two routes: what the rate limit costs
#   bench/ab.sh nginx B                               # the gateway beside nginx as a reverse proxy (run.sh's case b):
#                                                     # CPU per request of each, the gateway's as a multiple of nginx's
#   bench/ab.sh --new-path /err/x nginx B             # the error storm beside nginx proxying the 1 KiB answer (e vs b)
#
# Both gateways and one upstream nginx share CPU 1 (taskset); two wrk processes on CPU 0 load them at once, 32
# connections each. Each round prints the CPU time (user+system, /proc) each gateway spent per request it answered,
# and NEW/OLD: below 1.00 the new build costs less. Build the two binaries first, e.g. copy
# .build/release/gateway aside before and after the change. Needs: nginx, wrk, curl, python3, taskset.
set -euo pipefail

DURATION=5
ROUNDS=3
URLPATH=/data.json
NEW_URLPATH=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --path) URLPATH="$2"; shift 2 ;;
        --new-path) NEW_URLPATH="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option: $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || {
    echo "usage: bench/ab.sh [--path P] [--new-path P] [--rounds N] [--duration S] OLD_BINARY NEW_BINARY" >&2
    exit 2
}
OLD="$1"
NEW="$2"

source "$(dirname "$0")/lib.sh"
require_tools nginx wrk curl python3 taskset
bench_setup ab


# --- upstream: 1 KiB, 16 KiB and a Laravel 422 of 1 KiB (the bodies of bench/run.sh) ---------------------------------
UPSTREAM_PORT="$(free_port)"
ERROR_PORT="$(free_port)"
mkdir -p "$TMP/files"
make_body ok >"$TMP/files/data.json"
python3 -c 'import sys; sys.stdout.write("{\"data\":\"" + "x" * (16384 - 12) + "\"}")' >"$TMP/files/16k.json"
ERROR_BODY="$(make_body error)"
write_nginx_conf "$TMP/upstream" "
    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        default_type application/json;
        root $TMP/files;
        location / { try_files \$uri /data.json; }
    }
    server {
        listen 127.0.0.1:$ERROR_PORT;
        location / {
            default_type application/json;
            return 422 '$ERROR_BODY';
        }
    }"
taskset -c 1 nginx -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" -e "$TMP/upstream/logs/error.log" </dev/null \
    >"$TMP/upstream/logs/stdout.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$UPSTREAM_PORT/data.json"

# --- the two gateways (or nginx as a proxy and a gateway) ----------------------------------------------------------
# nginx as a reverse proxy, as bench/run.sh's case b runs it.
start_nginx_proxy() { # NAME; sets PID_NAME and PORT_NAME
    local port
    port="$(free_port)"
    write_nginx_proxy_conf "$TMP/$1" "$port" "$UPSTREAM_PORT"
    taskset -c 1 nginx -p "$TMP/$1" -c "$TMP/$1/nginx.conf" -e "$TMP/$1/logs/error.log" </dev/null \
        >"$TMP/$1/logs/stdout.log" 2>&1 &
    PIDS+=("$!")
    printf -v "PID_$1" '%s' "$!"
    printf -v "PORT_$1" '%s' "$port"
    wait_http "http://127.0.0.1:$port/data.json"
}
start_gateway() { # NAME BINARY; sets PID_NAME and PORT_NAME
    local port admin
    port="$(free_port)"
    admin="$(free_port)"
    write_gateway_config "$TMP/$1.yaml" "$port" "$admin" "$UPSTREAM_PORT" "$ERROR_PORT"
    GATEWAY_LOG_LEVEL=warning taskset -c 1 "$2" serve --config "$TMP/$1.yaml" >"$TMP/$1.log" 2>&1 &
    PIDS+=("$!")
    printf -v "PID_$1" '%s' "$!"
    printf -v "PORT_$1" '%s' "$port"
    wait_http "http://127.0.0.1:$admin/readyz"
}
if [ "$OLD" = nginx ]; then
    start_nginx_proxy old
else
    start_gateway old "$OLD"
fi
start_gateway new "$NEW"
URL_OLD="http://127.0.0.1:$PORT_old$URLPATH"
URL_NEW="http://127.0.0.1:$PORT_new${NEW_URLPATH:-$URLPATH}"

load_both() { # SECONDS; wrk outputs in TMP/old.txt and TMP/new.txt
    taskset -c 0 wrk -t1 -c32 -d"$1s" "$URL_OLD" >"$TMP/old.txt" &
    local first="$!"
    taskset -c 0 wrk -t1 -c32 -d"$1s" "$URL_NEW" >"$TMP/new.txt"
    wait "$first"
}
load_both 1
HZ="$(getconf CLK_TCK)"
printf '%-28s %-28s %s\n' "old: $(basename "$OLD")" "new: $(basename "$NEW")" "new/old (CPU per request)"
for _ in $(seq "$ROUNDS"); do
    old0="$(cpu_ticks "$PID_old")"
    new0="$(cpu_ticks "$PID_new")"
    load_both "$DURATION"
    old1="$(cpu_ticks "$PID_old")"
    new1="$(cpu_ticks "$PID_new")"
    awk -v o=$((old1 - old0)) -v n=$((new1 - new0)) -v hz="$HZ" \
        -v ro="$(awk '/requests in/ { print $1 }' "$TMP/old.txt")" \
        -v rn="$(awk '/requests in/ { print $1 }' "$TMP/new.txt")" 'BEGIN {
            uo = o / hz * 1e6 / ro; un = n / hz * 1e6 / rn
            printf "%7d req %7.1f us/req     %7d req %7.1f us/req     %.3f\n", ro, uo, rn, un, un / uo }'
done
