#!/usr/bin/env bash
# Builds the libFuzzer target for ErrorNormalization with ASan and libFuzzer coverage: GatewayCore's sources as one
# module, then ErrorNormalization's sources together with Fuzz/NormalizerFuzz/main.swift as a second (so the entry
# point reaches the internal JSONReader too). swift-nio, swift-http-types and compress-nio are linked from the
# object files of an ordinary `swift build` (not instrumented; their code is not the target). compress-nio's
# CCompressZlib links the system zlib (-lz).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build/fuzz"
mkdir -p "$OUT"
cd "$ROOT"
DEBUG="$(swift build --show-bin-path)"
if [ ! -d "$DEBUG/CompressNIO.build" ] || [ ! -d "$DEBUG/NIOCore.build" ]; then
    swift build --target ErrorNormalization >/dev/null
fi
MODULE_MAPS=()
while IFS= read -r -d '' map; do MODULE_MAPS+=(-Xcc "-fmodule-map-file=$map"); done < <(
    find "$DEBUG" -maxdepth 2 -name module.modulemap -print0
    find .build/checkouts/swift-atomics .build/checkouts/swift-nio .build/checkouts/compress-nio \
        -path '*/include/module.modulemap' -print0)
OBJS=()
for module in NIOCore _NIOBase64 _NIODataStructures NIOConcurrencyHelpers CNIOLinux CNIODarwin CNIOWindows \
    CNIOWASI CNIOPosix CNIOAtomics Atomics _AtomicsShims DequeModule InternalCollectionsUtilities ContainersPreview BasicContainers HTTPTypes \
    CompressNIO CCompressZlib; do
    if [ -d "$DEBUG/$module.build" ]; then
        while IFS= read -r -d '' obj; do OBJS+=("$obj"); done < <(find "$DEBUG/$module.build" -name '*.o' -print0)
    fi
done
COMMON=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault
    -package-name swift_error_gateway -I "$OUT" -I "$DEBUG/Modules" "${MODULE_MAPS[@]}")
mapfile -d '' CORE < <(find Sources/GatewayCore -name '*.swift' -print0)
swiftc "${COMMON[@]}" -wmo -module-name GatewayCore -emit-module -emit-module-path "$OUT/GatewayCore.swiftmodule" \
    -c "${CORE[@]}" -o "$OUT/GatewayCore.o"
mapfile -d '' NORM < <(find Sources/ErrorNormalization -name '*.swift' -print0)
swiftc "${COMMON[@]}" -module-name ErrorNormalization "${NORM[@]}" Fuzz/NormalizerFuzz/main.swift \
    "$OUT/GatewayCore.o" "${OBJS[@]}" -lz -o "$OUT/normalizer-fuzz"
echo "$OUT/normalizer-fuzz"
