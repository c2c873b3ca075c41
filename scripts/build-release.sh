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
swift build -c release --product devmesh --static-swift-stdlib \
  --scratch-path .build-release \
  "${link[@]}" \
  -Xcc "-DDEVMESH_GIT_COMMIT=\"$commit\""
