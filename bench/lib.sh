# Shared by bench/run.sh, bench/ab.sh, bench/floors.sh, bench/inflight.sh and bench/memory.sh (sourced, not run): the
# tools a script needs and its release build, a temporary directory removed on exit with every process listed in
# PIDS, free loopback ports, waiting for a server to answer, a process tree's CPU time, an nginx config and a gateway
# config.
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

# Fails with a hint unless every named command is installed.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing: $tool (scripts/install-deps installs it)" >&2; exit 1; }
    done
}

# Builds the named products of the package at ROOT in release mode (its output to standard error).
build_release() {
    local product
    for product in "$@"; do
        (cd "$ROOT" && swift build -c release --product "$product") >&2
    done
}

# A TCP port on 127.0.0.1 that is free now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# CPU time (clock ticks) of a process and all its descendants.
cpu_ticks() {
    python3 - "$1" <<'EOF'
import os, sys
root = int(sys.argv[1])
children = {}
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    try:
        with open(f"/proc/{entry}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    children.setdefault(int(fields[1]), []).append((int(entry), int(fields[11]) + int(fields[12])))
def total(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    for child, _ in children.get(pid, []):
        ticks += total(child)
    return ticks
print(total(root))
EOF
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

# Writes a gateway config to FILE: listening on PORT (admin on ADMIN_PORT), no access log, every path proxied to
# http://127.0.0.1:UPSTREAM_PORT; /rl/… too (forwarded as it is), through an in-memory rate limit that never denies
# (bench/run.sh's case f); with ERROR_PORT, /err/… goes to that upstream instead (prefix stripped), its errors
# normalized.
write_gateway_config() { # FILE PORT ADMIN_PORT UPSTREAM_PORT [ERROR_PORT]
    {
        echo "server: { listen: \"127.0.0.1:$2\", admin_listen: \"127.0.0.1:$3\", access_log: false }"
        echo "rate_limits:"
        echo "  never_denies: { rate: 100000000/1s, burst: 1000000000, key: client_ip }"
        echo "upstreams:"
        echo "  origin: { url: \"http://127.0.0.1:$4\" }"
        [ -n "${5:-}" ] && echo "  failing: { url: \"http://127.0.0.1:$5\", dialect: auto }"
        echo "routes:"
        [ -n "${5:-}" ] && echo "  - { name: errors, path_prefix: /err/, strip_prefix: true, upstream: failing }"
        echo "  - { name: limited, path_prefix: /rl/, upstream: origin, rate_limits: [never_denies] }"
        echo "  - { name: plain, path_prefix: /, upstream: origin }"
    } >"$1"
}

# A 1 KiB JSON success body (exactly 1024 bytes, `make_body ok`) and a Laravel-style 422 of the same size (`make_body
# error`): what bench/run.sh's upstream answers, and bench/ab.sh's.
make_body() {
    python3 - "$1" <<'EOF'
import json, sys
kind = sys.argv[1]
if kind == "ok":
    doc = {"data": {"id": "crt_01JD3Q2J6V8M4W1N0A9C7T5B2E", "type": "certificate", "status": "issued",
                    "course_uuid": "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "email": "ada@example.com",
                    "issued_at": "2025-03-06T15:46:40Z", "tags": ["gold", "2025", "onsite"]}, "pad": ""}
else:
    doc = {"success": False, "message": "The given data was invalid.", "errors": {
        "email": ["The email field is required.", "The email must be a valid email address."],
        "course_uuid": ["The selected course uuid is invalid."],
        "name": ["The name may not be greater than 255 characters."],
        "issued_at": ["The issued at is not a valid date.", "The issued at must be a date before tomorrow."],
        "tags.0": ["The tags.0 must be a string."],
        "pad": [""]}}
text = json.dumps(doc, separators=(",", ":"))
missing = 1024 - len(text)
assert missing >= 0, len(text)
if kind == "ok":
    doc["pad"] = "x" * missing
else:
    doc["errors"]["pad"] = ["x" * missing]
text = json.dumps(doc, separators=(",", ":"))
assert len(text) == 1024, len(text)
sys.stdout.write(text)
EOF
}
# Writes DIR/nginx.conf for nginx as a reverse proxy, as bench/run.sh's case b runs it and bench/ab.sh beside a
# gateway: listening on PORT, keep-alive connections to the upstream on UPSTREAM_PORT.
write_nginx_proxy_conf() { # DIR PORT UPSTREAM_PORT
    write_nginx_conf "$1" "
    upstream origin { server 127.0.0.1:$3; keepalive 128; }
    server {
        listen 127.0.0.1:$2;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
            proxy_buffering on;
        }
    }"
}

# Writes the common part of an nginx config into DIR/nginx.conf, then HTTP_BLOCK inside `http {}`.
write_nginx_conf() {
    local dir="$1" http_block="$2"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
$NGINX_USER
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    server_tokens off;
$http_block
}
EOF
}
