#!/usr/bin/env bash
# Usage:
#   Fuzz/run.sh SECONDS  — builds the normalizer fuzzer and runs it for SECONDS on the checked-in seed corpus
#                          (new inputs go to .build/fuzz/corpus, so the checked-in corpus stays small);
#   Fuzz/run.sh replay [TARGET] — builds every fuzzer (or TARGET's) and replays each one's checked-in corpus once
#                          (-runs=0): a quick regression check that CI can afford;
#   Fuzz/run.sh TARGET SECONDS — fuzzes one target (normalizer, request-head, upstream-head) for SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
corpus_of() {
    case "$1" in
        normalizer) echo "$ROOT/Fuzz/corpus/normalizer" ;;
        request-head) echo "$ROOT/Fuzz/corpus/request-head" ;;
        upstream-head) echo "$ROOT/Fuzz/corpus/upstream-head" ;;
        *) echo "unknown fuzz target: $1" >&2; exit 2 ;;
    esac
}
if [ "${1:-}" = replay ]; then
    targets=(normalizer request-head upstream-head)
    if [ $# -ge 2 ]; then
        corpus_of "$2" >/dev/null
        targets=("$2")
    fi
    for target in "${targets[@]}"; do
        BIN="$("$ROOT/Fuzz/build.sh" "$target" | tail -1)"
        echo "replaying $target"
        "$BIN" -runs=0 -max_len=8192 "$(corpus_of "$target")"
    done
    exit 0
fi
TARGET=normalizer
if [ $# -ge 2 ]; then
    TARGET="$1"
    shift
fi
corpus_of "$TARGET" >/dev/null
SECONDS_TO_RUN="${1:-60}"
BIN="$("$ROOT/Fuzz/build.sh" "$TARGET" | tail -1)"
WORK="$ROOT/.build/fuzz/corpus-$TARGET"
[ "$TARGET" = normalizer ] && WORK="$ROOT/.build/fuzz/corpus"
mkdir -p "$WORK"
exec "$BIN" -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -print_final_stats=1 "$WORK" "$(corpus_of "$TARGET")"
