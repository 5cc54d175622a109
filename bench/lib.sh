# Shared by bench/run.sh, bench/ab.sh and bench/memory.sh (sourced, not run): a temporary directory removed on exit
# with every process listed in PIDS, free loopback ports, and waiting for a server to answer.
#
#   bench_setup NAME     # TMP=<new temp dir>, PIDS=(); both cleaned up on exit or interrupt

bench_setup() {
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/gateway-$1.XXXXXX")"
    PIDS=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Stops every process in PIDS, then removes TMP.
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}

# A TCP port on 127.0.0.1 that is free now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Polls URL until it answers (any HTTP status) or 30 s pass; then shows LOG (if given) and fails.
wait_http() {
    local url="$1" log="${2:-}" deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
        sleep 0.1
    done
    echo "no answer from $url within 30 s" >&2
    [ -n "$log" ] && [ -f "$log" ] && tail -n 30 "$log" >&2
    return 1
}

# nginx refuses to run its workers as root without a `user` line.
NGINX_USER=""
[ "$(id -u)" -eq 0 ] && NGINX_USER="user $(id -un) $(id -gn);"
