#!/usr/bin/env bash
# The one release build (install.sh and bench/run.sh both use it): static Swift stdlib, its own
# scratch path, and the git commit stamped in for `devmesh version`.
set -euo pipefail
cd "$(dirname "$0")/.."
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi
echo "building devmesh (release, static Swift stdlib, commit $commit)" >&2
# Linked with the toolchain's lld: relative relocations packed (DT_RELR: 32 KB instead of a 3.9 MB
# table the loader reads at every start) and no dynamic export of every Swift symbol (the static
# stdlib's link file asks for --export-dynamic; nothing dlopens devmesh) — 7 MB less resident
# memory at start (docs/performance.md, "Memory").
# DT_RELR needs glibc 2.36 (Debian 12, Ubuntu 22.10); older ones get the classic table.
link=(-Xswiftc -use-ld=lld -Xlinker --no-export-dynamic)
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ -n "$glibc" ] && [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" = "2.36" ]; then
  link+=(-Xlinker -z -Xlinker pack-relative-relocs)
fi
# Each function in its own section, and the ones a running stack uses placed together in the order
# scripts/function-order.sh recorded (the Swift runtime and Foundation come prebuilt and keep their
# layout): the code a stack touches then fills ~5 MB of pages instead of being spread over 37 MB,
# which cut resident memory by 11 MB and made the hot path faster (fewer iTLB and cache misses).
# Unused sections are dropped by the linker as well.
# Named by its content: the same order gives the same flags (a rebuild does nothing), a new one
# new flags (SwiftPM does not watch the file itself, so the link runs again).
mkdir -p .build-release
order=$PWD/.build-release/function-order-$(sha256sum scripts/function-order.txt.gz | cut -c1-12).txt
[ -f "$order" ] || { gzip -dc scripts/function-order.txt.gz > "$order.tmp" && mv "$order.tmp" "$order"; }
link+=(-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
       -Xlinker "--symbol-ordering-file=$order" -Xlinker --no-warn-symbol-ordering)
swift build -c release --product devmesh --static-swift-stdlib \
  --scratch-path .build-release \
  "${link[@]}" \
  -Xcc "-DDEVMESH_GIT_COMMIT=\"$commit\""
