#!/usr/bin/env bash
# What the gateway's features cost on the hot path (docs/gateway.md): the same nginx backend behind
# the devmesh gateway's plain-HTTP port (so TLS does not hide the differences), once per route
# kind — plain, + API key auth, + a rate limit (never reached), + the response cache (answers
# stored: hits), + all three together — and nginx as a reverse proxy for reference, in the same
# run. Recording is off on every route (bench/recording.sh measures it). wrk at fixed connections
# and duration, rounds interleaved. Loopback only; bounded in time.
#
#   bench/gateway.sh                  # build release if needed, run, print a Markdown table
#   ROUNDS=3 DURATION=10 CONNS=32 bench/gateway.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}

source "$root/bench/lib.sh"
need_tools nginx:nginx-light wrk:wrk
release_devmesh "$root"

bench_workdir gateway

# The backend's answers may be kept 60 s, also for callers with credentials (`public`; only routes with `cache: true` keep them).
write_backend_conf
sed -i 's|location / { return 200|location / { add_header Cache-Control "public, max-age=60"; return 200|' "$work/backend.conf.in"
mkdir -p "$work/stack"
cat > "$work/stack/Procfile" <<PROC
backend: sed "s/PORT/\$PORT/g" $work/backend.conf.in > $work/backend.conf && exec nginx -c $work/backend.conf
PROC
KEY=bench-key-0123456789
printf 'bench sha256:%s\n' "$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)" > "$work/stack/keys.txt"

# One route per kind, each under its own prefix (all reach the same backend path `/`).
cat > "$work/stack/devmesh.yaml" <<YAML
services:
  backend: {health: {tcp: true}}
gateway:
  https_port: $(free_port)
  http_port: $(free_port)
  routes:
    - {path: /plain, to: backend, strip_prefix: true, record: false}
    - {path: /auth, to: backend, strip_prefix: true, record: false, auth: {api_keys: keys.txt}}
    - {path: /limit, to: backend, strip_prefix: true, record: false, rate_limit: {requests: 100000000, per: 1m, by: ip}}
    - {path: /cache, to: backend, strip_prefix: true, record: false, cache: true}
    - {path: /all, to: backend, strip_prefix: true, record: false, auth: {api_keys: keys.txt}, rate_limit: {requests: 100000000, per: 1m, by: key}, cache: true}
YAML

(cd "$work/stack" && exec "$DEVMESH" up --no-color > "$work/mesh.log" 2>&1) &
mesh_pid=$!
for _ in $(seq 200); do
  grep -q "all 1 service is ready" "$work/mesh.log" 2>/dev/null && [ -f "$work/stack/.devmesh/state.json" ] && break
  sleep 0.05
done
grep -q "all 1 service is ready" "$work/mesh.log" || { cat "$work/mesh.log"; echo "devmesh did not start" >&2; exit 1; }
read -r app_port gateway_port < <(python3 -c "
import json; p = json.load(open('$work/stack/.devmesh/state.json'))['ports']
print(p['replicas']['backend.1'], p['gateway']['http'])")
start_nginx_proxy "$app_port"
# The cached routes hold the answer before the clock starts.
for kind in cache all; do curl -s -o /dev/null -H "X-Api-Key: $KEY" "http://127.0.0.1:$gateway_port/$kind/"; done

declare -A rps p50 p99
kinds="nginx plain auth limit cache all"
for round in $(seq "$ROUNDS"); do
  for kind in $kinds; do
    if [ $kind = nginx ]; then
      read -r r a b bad < <(measure "$proxy_port" "$CONNS" "$DURATION")
    else
      read -r r a b bad < <(measure "http://127.0.0.1:$gateway_port/$kind/" "$CONNS" "$DURATION" -H "X-Api-Key: $KEY")
    fi
    [ "$bad" = 0 ] || { echo "$kind: $bad non-2xx answers" >&2; exit 1; }
    rps[$kind]+="$r "; p50[$kind]+="$a "; p99[$kind]+="$b "
  done
done
hits=$("$DEVMESH" cache --json -f "$work/stack/devmesh.yaml" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["hits"])')

ngx=$(echo "${rps[nginx]}" | median)
plain=$(echo "${rps[plain]}" | median)
echo "| through | req/s (median of $ROUNDS) | vs plain gateway | vs nginx | p50 µs | p99 µs |"
echo "|---|---:|---:|---:|---:|---:|"
for kind in $kinds; do
  r=$(echo "${rps[$kind]}" | median); a=$(echo "${p50[$kind]}" | median); b=$(echo "${p99[$kind]}" | median)
  case $kind in
    nginx) label="nginx reverse proxy" ;;
    plain) label="devmesh gateway (HTTP port), plain route" ;;
    auth) label="+ \`auth: {api_keys}\` (a SHA-256 per request)" ;;
    limit) label="+ \`rate_limit\` (GCRA, never reached)" ;;
    cache) label="+ \`cache: true\`, every answer a hit (the backend is not asked)" ;;
    all) label="auth + rate limit + cache together" ;;
  esac
  printf '| %s | %s | %.2f× | %.2f× | %s | %s |\n' "$label" "$r" "$(echo "$r / $plain" | bc -l)" "$(echo "$r / $ngx" | bc -l)" "$a" "$b"
done
echo
echo "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds, $(nproc) cores, $(date -u +%Y-%m-%d); a 23-byte answer; $hits cache hits counted."
