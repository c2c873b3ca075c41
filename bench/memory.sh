#!/usr/bin/env bash
# devmesh's memory with the sample shop under load: RSS (and what it is made of) idle, then after
# DURATION seconds of wrk -c CONNS on the shop's page through the gateway (HTTPS; the page asks
# orders, which asks users and inventory: 7 sidecar hops a request, each a span and an access
# record), and the peak (VmHWM). `DEVMESH=path bench/memory.sh` measures another binary.
# Ports are devmesh's choice (the shop's own are dropped), but for the payments stand-in's 7190.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
need_tools wrk:wrk
release_devmesh "$root"
work=$(mktemp -d)
trap 'kill "$up" 2>/dev/null; wait "$up" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$root/Samples/shop" "$work/shop"
rm -rf "$work/shop/.devmesh"
# The services' own ports go (several stacks may run); the stand-in's stays (the external's url).
sed -i -E '/^\s+port: [0-9]+\s*$/d' "$work/shop/devmesh.yaml"
admin=$(free_port)
(cd "$work/shop" && exec "$DEVMESH" up --admin-port "$admin" --https-port "$(free_port)" --http-port "$(free_port)" \
  --otlp-port "$(free_port)" > "$work/up.log" 2>&1) &
up=$!
for _ in $(seq 100); do grep -qs "services are ready" "$work/up.log" && break; sleep 0.2; done
grep -q "services are ready" "$work/up.log" || { cat "$work/up.log"; exit 1; }
pid=$(python3 -c "import json;print(json.load(open('$work/shop/.devmesh/state.json'))['pid'])")
https=$(python3 -c "import json;print(json.load(open('$work/shop/.devmesh/state.json'))['ports']['gateway']['https'])")
mem() { awk '/^(VmRSS|RssAnon|RssFile|VmHWM):/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$pid/status"; echo; }
echo "idle:         $(mem)"
ca=$("$DEVMESH" ca path)
curl -sf --cacert "$ca" "https://localhost:$https/" > /dev/null
# wrk does not verify certificates; the gateway's is the devmesh CA's.
wrk -t1 -c"$CONNS" -d"${DURATION}s" "https://localhost:$https/" | grep -E "Requests/sec|Latency|Non-2xx"
echo "after load:   $(mem)"
"$DEVMESH" status -f "$work/shop/devmesh.yaml" | grep -E "^telemetry" || true
