#!/usr/bin/env bash
# What recording for replay costs on the hot path (docs/recording.md): the same nginx backend
# behind the devmesh gateway (its plain-HTTP port, so TLS does not hide the difference) with the
# route's `record: false` and with recording on (the default), and behind a service listener →
# inbound sidecar with the service's `record: false` and `record: true`. nginx as a reverse proxy
# is the reference, in the same run. wrk at fixed connections and duration, rounds interleaved.
# Recordings that the store cannot keep up with are dropped and counted, never waited for: the
# table says how many were stored. Loopback only; bounded in time.
#
#   bench/recording.sh                # build release if needed, run, print a Markdown table
#   ROUNDS=3 DURATION=10 CONNS=32 bench/recording.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}

source "$root/bench/lib.sh"
need_tools nginx:nginx-light wrk:wrk sqlite3:sqlite3
release_devmesh "$root"

bench_workdir recording

write_backend_conf
mkdir -p "$work/stack"
cat > "$work/stack/Procfile" <<PROC
backend: sed "s/PORT/\$PORT/g" $work/backend.conf.in > $work/backend.conf && exec nginx -c $work/backend.conf
PROC

start_mesh() {  # $1: off | gateway (the route records) | sidecar (the service records)
  local route=false service=false
  [ "$1" = gateway ] && route=true
  [ "$1" = sidecar ] && service=true
  rm -rf "$work/stack/.devmesh"
  cat > "$work/stack/devmesh.yaml" <<YAML
services:
  backend: {health: {tcp: true}, record: $service}
gateway:
  https_port: $(free_port)
  http_port: $(free_port)
  routes: [{path: /, to: backend, record: $route}]
YAML
  : > "$work/mesh.log"
  (cd "$work/stack" && exec "$DEVMESH" up --no-color > "$work/mesh.log" 2>&1) &
  mesh_pid=$!
  for _ in $(seq 200); do
    grep -q "all 1 service is ready" "$work/mesh.log" 2>/dev/null && [ -f "$work/stack/.devmesh/state.json" ] && break
    sleep 0.05
  done
  grep -q "all 1 service is ready" "$work/mesh.log" || { cat "$work/mesh.log"; echo "devmesh did not start" >&2; exit 1; }
  read -r app_port service_port gateway_port < <(python3 -c "
import json; p = json.load(open('$work/stack/.devmesh/state.json'))['ports']
print(p['replicas']['backend.1'], p['services']['backend'], p['gateway']['http'])")
}
stop_mesh() { kill -TERM "$mesh_pid" 2>/dev/null || true; wait "$mesh_pid" 2>/dev/null || true; mesh_pid=; }
stored() { sqlite3 "$work/stack/.devmesh/devmesh.db" "SELECT count(*) FROM recordings WHERE service = '$1'" 2>/dev/null || echo 0; }

declare -A rps p50 p99 kept sent
for round in $(seq "$ROUNDS"); do
  for mode in off gateway sidecar; do
    start_mesh $mode
    if [ $mode = off ]; then
      start_nginx_proxy "$app_port"
      read -r r a b bad < <(measure "$proxy_port" "$CONNS" "$DURATION")
      rps[nginx]+="$r "; p50[nginx]+="$a "; p99[nginx]+="$b "
    fi
    if [ $mode != sidecar ]; then
      read -r r a b bad < <(measure "$gateway_port" "$CONNS" "$DURATION")
      [ "$bad" = 0 ] || { echo "gateway, $mode: $bad non-2xx answers" >&2; exit 1; }
      rps[gateway-$mode]+="$r "; p50[gateway-$mode]+="$a "; p99[gateway-$mode]+="$b "
      [ $mode = gateway ] && sent[gateway-gateway]+="$(echo "$r * $DURATION" | bc -l | cut -d. -f1) "
    fi
    if [ $mode != gateway ]; then
      read -r r a b bad < <(measure "$service_port" "$CONNS" "$DURATION")
      [ "$bad" = 0 ] || { echo "sidecar, $mode: $bad non-2xx answers" >&2; exit 1; }
      rps[sidecar-$mode]+="$r "; p50[sidecar-$mode]+="$a "; p99[sidecar-$mode]+="$b "
      [ $mode = sidecar ] && sent[sidecar-sidecar]+="$(echo "$r * $DURATION" | bc -l | cut -d. -f1) "
    fi
    stop_mesh
    [ $mode = gateway ] && kept[gateway-gateway]+="$(stored devmesh-gateway) "
    [ $mode = sidecar ] && kept[sidecar-sidecar]+="$(stored backend) "
  done
done

ngx=$(echo "${rps[nginx]}" | median)
echo "| through | req/s (median of $ROUNDS) | vs recording off | vs nginx | p50 µs | p99 µs | recordings stored |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for row in nginx gateway-off gateway-gateway sidecar-off sidecar-sidecar; do
  r=$(echo "${rps[$row]}" | median); a=$(echo "${p50[$row]}" | median); b=$(echo "${p99[$row]}" | median)
  base=$r
  case $row in
    nginx) label="nginx reverse proxy" ;;
    gateway-off) label="devmesh gateway (HTTP port), route \`record: false\`" ;;
    gateway-gateway) label="devmesh gateway (HTTP port), recording on (the default)"; base=$(echo "${rps[gateway-off]}" | median) ;;
    sidecar-off) label="devmesh service listener → inbound sidecar, \`record: false\` (the default)" ;;
    sidecar-sidecar) label="devmesh service listener → inbound sidecar, \`record: true\`"; base=$(echo "${rps[sidecar-off]}" | median) ;;
  esac
  share="—"
  if [ -n "${kept[$row]:-}" ]; then
    k=$(echo "${kept[$row]}" | median); s=$(echo "${sent[$row]}" | median)
    share=$(printf '%s of ~%s (%.0f%%)' "$k" "$s" "$(echo "100 * $k / $s" | bc -l)")
  fi
  printf '| %s | %s | %.2f× | %.2f× | %s | %s | %s |\n' "$label" "$r" "$(echo "$r / $base" | bc -l)" "$(echo "$r / $ngx" | bc -l)" "$a" "$b" "$share"
done
echo
echo "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds, $(nproc) cores, $(date -u +%Y-%m-%d); a 23-byte answer."
