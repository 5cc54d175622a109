#!/usr/bin/env bash
# Microbenchmarks of the gateway's pure hot paths (Benchmarks/, ordo-one/benchmark): the normalizer on ~1 KiB
# error bodies of three dialects and on bench/run.sh's error-storm body (normalized and rendered), ProblemDocument.render,
# the JSON reader, RouteTable.match, the hop-by-hop check and RetryHint.seconds. Metrics: wall clock, throughput, mallocs (counted by the benchmark package's malloc
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

# One line per benchmark: p50 wall clock per call, p50 throughput, mallocs per call.
summary() {
    awk -F'|' '
        /^### / { name = substr($0, 5); next }
        /^\| Time \(wall clock\)/ {
            unit = $2; sub(/.*\(wall clock\) \(/, "", unit); sub(/\).*/, "", unit)
            gsub(/ /, "", $5); time[name] = $5 " " unit
        }
        /^\| Throughput/ { gsub(/ /, "", $5); rate[name] = $5 "K" }
        /^\| Malloc \(total\)/ { gsub(/ /, "", $5); mallocs[name] = $5; order[++n] = name }
        END {
            print "| benchmark | p50 time per call | p50 calls/s | mallocs per call |"
            print "| --- | ---: | ---: | ---: |"
            for (i = 1; i <= n; i++) { k = order[i]; printf "| %s | %s | %s | %s |\n", k, time[k], rate[k], mallocs[k] }
        }' "$1"
}
echo
echo "Summary (p50):"
summary "$OUT"

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# Microbenchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
        "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average" \
        "$(cut -d' ' -f1-3 /proc/loadavg). Command: \`bench/micro.sh${*:+ $*}\`"
    echo
    summary "$OUT"
    echo
    echo "Full percentiles:"
    echo
    # Without the tool's notice about the Swift 6.3 runtime interposer (colour codes and all).
    grep -v -e 'runtime interposer' -e 'skipping LD_PRELOAD' "$OUT"
} >"$RESULTS"
echo "(written to $RESULTS)" >&2
