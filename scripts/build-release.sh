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
swift build -c release --product devmesh --static-swift-stdlib \
  --scratch-path .build-release \
  -Xcc "-DDEVMESH_GIT_COMMIT=\"$commit\""
