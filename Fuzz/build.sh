#!/usr/bin/env bash
# Usage: Fuzz/build.sh [normalizer|request-head|upstream-head]  (default: normalizer); prints the binary's path last.
#
# request-head: GatewayHTTPServer's RequestHeadValidator, ServerRefusal, RequestFramingScanner and RequestBody with
# Fuzz/RequestHeadFuzz/main.swift, over the instrumented GatewayCore (NIOHTTP1 linked from the ordinary build). upstream-head: CurlTransport's
# ResponseHeadParser with Fuzz/UpstreamHeadFuzz/main.swift, over the instrumented GatewayCore.
#
# Builds the libFuzzer target for ErrorNormalization with ASan and libFuzzer coverage: GatewayCore's sources as one
# module, then ErrorNormalization's sources together with Fuzz/NormalizerFuzz/main.swift as a second (so the entry
# point reaches the internal JSONReader too). swift-nio, swift-http-types and compress-nio are linked from the
# object files of an ordinary `swift build` (not instrumented; their code is not the target). compress-nio's
# CCompressZlib links the system zlib (-lz).
#
# The compiler's and linker's output goes to .build/fuzz/build-TARGET.log and is shown only if the build fails:
# ld.gold warns, harmlessly, that it "cannot export local symbol '__asan_report_…'" over a hundred times per target.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/fuzz"
TARGET="${1:-normalizer}"
mkdir -p "$OUT"
cd "$ROOT"
LOG="$OUT/build-$TARGET.log"
: >"$LOG"
quietly() {
    if ! "$@" >>"$LOG" 2>&1; then
        tail -60 "$LOG" >&2
        echo "Fuzz/build.sh: building $TARGET failed; the whole output is in $LOG" >&2
        exit 1
    fi
}
DEBUG="$(swift build --show-bin-path)"
if [ ! -d "$DEBUG/CompressNIO.build" ] || [ ! -d "$DEBUG/NIOCore.build" ]; then
    quietly swift build --target ErrorNormalization
fi
if [ "$TARGET" = request-head ] && [ ! -d "$DEBUG/NIOHTTP1.build" ]; then
    quietly swift build --target GatewayHTTPServer
fi
MODULE_MAPS=()
while IFS= read -r -d '' map; do MODULE_MAPS+=(-Xcc "-fmodule-map-file=$map"); done < <(
    find "$DEBUG" -maxdepth 2 -name module.modulemap -print0
    find .build/checkouts/swift-atomics .build/checkouts/swift-nio .build/checkouts/compress-nio \
        -path '*/include/module.modulemap' -print0)
OBJS=()
for module in NIOCore _NIOBase64 _NIODataStructures NIOConcurrencyHelpers CNIOLinux CNIODarwin CNIOWindows \
    CNIOWASI CNIOPosix CNIOAtomics Atomics _AtomicsShims DequeModule InternalCollectionsUtilities ContainersPreview BasicContainers HTTPTypes \
    CompressNIO CCompressZlib NIOHTTP1 CNIOLLHTTP; do
    if [ -d "$DEBUG/$module.build" ]; then
        while IFS= read -r -d '' obj; do OBJS+=("$obj"); done < <(find "$DEBUG/$module.build" -name '*.o' -print0)
    fi
done
COMMON=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
    -package-name swift_error_gateway -I "$OUT" -I "$DEBUG/Modules" "${MODULE_MAPS[@]}")
mapfile -d '' CORE < <(find Sources/GatewayCore -name '*.swift' -print0)
quietly swiftc "${COMMON[@]}" -wmo -module-name GatewayCore -emit-module -emit-module-path "$OUT/GatewayCore.swiftmodule" \
    -c "${CORE[@]}" -o "$OUT/GatewayCore.o"
if [ "$TARGET" = request-head ]; then
    S=Sources/GatewayHTTPServer
    quietly swiftc "${COMMON[@]}" -module-name GatewayHTTPServer "$S/RequestHeadValidator.swift" "$S/ServerRefusal.swift" \
        "$S/RequestFramingScanner.swift" "$S/RequestBody.swift" Fuzz/RequestHeadFuzz/main.swift "$OUT/GatewayCore.o" \
        "${OBJS[@]}" -lz \
        -o "$OUT/request-head-fuzz"
    echo "$OUT/request-head-fuzz"
    exit 0
fi
if [ "$TARGET" = upstream-head ]; then
    quietly swiftc "${COMMON[@]}" -module-name CurlTransport Sources/CurlTransport/ResponseHeadParser.swift \
        Sources/CurlTransport/CommonFieldNames.swift Fuzz/UpstreamHeadFuzz/main.swift "$OUT/GatewayCore.o" "${OBJS[@]}" -lz -o "$OUT/upstream-head-fuzz"
    echo "$OUT/upstream-head-fuzz"
    exit 0
fi
mapfile -d '' NORM < <(find Sources/ErrorNormalization -name '*.swift' -print0)
quietly swiftc "${COMMON[@]}" -module-name ErrorNormalization "${NORM[@]}" Fuzz/NormalizerFuzz/main.swift \
    "$OUT/GatewayCore.o" "${OBJS[@]}" -lz -o "$OUT/normalizer-fuzz"
echo "$OUT/normalizer-fuzz"
