#!/usr/bin/env bash
# Microbenchmarks of the gateway's pure hot paths (Benchmarks/, ordo-one/benchmark): the normalizer on ~1 KiB
# error bodies of three dialects, ProblemDocument.render, the JSON reader, RouteTable.match, HopByHopHeaders.remove
# and RetryHint.seconds. Metrics: wall clock, throughput, mallocs (counted by the benchmark package's malloc
# interposer; no jemalloc needed). Builds in release.
#
#   bench/micro.sh                          # every benchmark, tables on stdout and in bench/results/micro-latest.md
#   bench/micro.sh --filter 'normalize.*'   # any further argument goes to `swift package benchmark`
#
# Each benchmark runs up to 2 s (or 10,000 samples); one sample is 1,000 calls (scalingFactor .kilo), and the
# figures are per call. On a busy machine, compare p50 rather than p99.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RESULTS="$ROOT/bench/results/micro-latest.md"
OUT="$(mktemp "${TMPDIR:-/tmp}/gateway-micro.XXXXXX")"
trap 'rm -f "$OUT"' EXIT

swift package --package-path "$ROOT/Benchmarks" benchmark --no-progress --format markdown "$@" | tee "$OUT"

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# Microbenchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
        "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average" \
        "$(cut -d' ' -f1-3 /proc/loadavg). Command: \`bench/micro.sh${*:+ $*}\`"
    echo
    cat "$OUT"
} >"$RESULTS"
echo "(written to $RESULTS)" >&2
