#!/usr/bin/env bash
# Builds the DevMeshHTTP1 libFuzzer target and runs it for a bounded time.
#   FUZZ_SECONDS=60 Fuzz/run.sh [extra libFuzzer flags]
# Crashes are written to .build-fuzz/artifacts/; new interesting inputs to .build-fuzz/corpus/
# (the checked-in seeds in Fuzz/corpus/ are only read).
set -euo pipefail
cd "$(dirname "$0")/.."

out=.build-fuzz
mkdir -p "$out/corpus" "$out/artifacts"

swiftc -sanitize=fuzzer,address -parse-as-library -O \
    Sources/DevMeshHTTP1/*.swift Fuzz/HTTP1Fuzz/main.swift \
    -o "$out/http1-fuzz"

export SWIFT_BACKTRACE=enable=no
exec "$out/http1-fuzz" \
    -max_total_time="${FUZZ_SECONDS:-60}" \
    -max_len=4096 \
    -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" \
    "$@" \
    "$out/corpus" Fuzz/corpus
