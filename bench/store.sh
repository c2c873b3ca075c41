#!/usr/bin/env bash
# The store benchmark: sustained spans/s through the telemetry writer, and trace-list and
# trace-detail latency with SPANS spans in the file (default 1,000,000). Release build, its own
# scratch path; prints a Markdown report (bench/store-latest.md keeps the last one).
set -euo pipefail
cd "$(dirname "$0")/.."
SPANS="${1:-1000000}"
swift build -c release --product devmesh-store-bench --scratch-path .build-bench >/dev/null
.build-bench/release/devmesh-store-bench "$SPANS" | tee bench/store-latest.md
