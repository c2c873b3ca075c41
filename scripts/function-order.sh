#!/usr/bin/env bash
# Regenerates scripts/function-order.txt.gz: the functions devmesh runs while the sample shop starts,
# serves its pages (HTTP/1.1 and HTTP/2, JWT and API-docs routes, the ambassador) and the web UI is
# browsed, in the order they first run. scripts/build-release.sh hands it to the linker, which
# places those functions next to each other: the ~5 MB of code a running stack uses then sits in a
# few contiguous megabytes instead of being spread over the 37 MB of the executable, so far fewer
# pages of it are mapped (docs/performance.md, "Memory").
#
#   scripts/function-order.sh            # after changes that move the hot path; ~2 minutes
#
# Needs valgrind (callgrind lists every function executed). A stale order costs only locality:
# functions it does not name are placed after the ones it does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
need_tools valgrind:valgrind curl:curl python3:python3 objcopy:binutils nm:binutils
release_devmesh "$root"
work=$(mktemp -d)
up=
trap 'if [ -n "$up" ]; then kill "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# valgrind cannot read the DWARF 5 lld writes; the symbol table is all callgrind needs.
objcopy --strip-debug "$DEVMESH" "$work/devmesh"
cp -r "$root/Samples/shop" "$work/shop"
rm -rf "$work/shop/.devmesh"
sed -i -E '/^\s+port: [0-9]+\s*$/d' "$work/shop/devmesh.yaml"
export DEVMESH_HOME="$work/home"
admin=$(free_port) https=$(free_port) http=$(free_port)
(cd "$work/shop" && exec valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.out" \
  "$work/devmesh" up --admin-port "$admin" --https-port "$https" --http-port "$http" --otlp-port "$(free_port)" \
  > "$work/up.log" 2>&1) &
up=$!
for _ in $(seq 300); do grep -qs "services are ready" "$work/up.log" && break; sleep 0.5; done
grep -q "services are ready" "$work/up.log" || { cat "$work/up.log"; exit 1; }

ca=$("$work/devmesh" ca path)
for _ in $(seq 30); do curl -sf -o /dev/null --cacert "$ca" "https://localhost:$https/"; done
for path in / /api/users/1 /api/inventory/1 /_devmesh/docs /api/orders/1 /no-such-page; do
  curl -s -o /dev/null --http2 --cacert "$ca" "https://localhost:$https$path"
done
curl -s -o /dev/null --cacert "$ca" -H "Authorization: Bearer $(cat "$work/shop/keys/bob.jwt")" "https://localhost:$https/api/orders/1"
curl -s -o /dev/null "http://localhost:$http/"
for path in / /traces /logs /requests /api/v1/traces /api/v1/services /api/v1/requests /api/v1/externals /api/v1/status /api/v1/logs; do
  curl -s -o /dev/null "http://127.0.0.1:$admin$path"
done
sleep 3  # the store's writer flushes at least once a second: let it run under callgrind too
kill -TERM "$(cat "$work/shop/.devmesh/state.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')"
wait "$up" || true
up=

# First-run order, each function once (callgrind suffixes recursion levels with 'N), only the
# executable's own symbols.
nm --defined-only "$DEVMESH" | awk '$2 ~ /[tTwW]/ {print $3}' | sort -u > "$work/defined"
python3 - "$work/cg.out" "$work/defined" > "$work/order.txt" <<'PY'
import re, sys
defined = set(open(sys.argv[2]).read().split())
seen = set()
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"^c?fn=\(\d+\) (.*)$", line.rstrip("\n"))
    if not m:
        continue
    name = re.sub(r"'\d+$", "", m.group(1))
    if name in defined and name not in seen:
        seen.add(name)
        print(name)
PY
# gzip -n: the same order gives the same bytes (no name or time in the header).
gzip -9 -n -c "$work/order.txt" > "$root/scripts/function-order.txt.gz"
echo "scripts/function-order.txt.gz: $(wc -l < "$work/order.txt") functions" >&2
