#!/usr/bin/env bash
# Usage: Fuzz/run.sh SECONDS — builds the normalizer fuzzer and runs it for SECONDS on the checked-in seed corpus
# (new inputs go to .build/fuzz/corpus, so the checked-in corpus stays small).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECONDS_TO_RUN="${1:-60}"
BIN="$("$ROOT/Fuzz/build.sh" | tail -1)"
WORK="$ROOT/.build/fuzz/corpus"
mkdir -p "$WORK"
exec "$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -print_final_stats=1 "$WORK" "$ROOT/Fuzz/corpus/normalizer"
