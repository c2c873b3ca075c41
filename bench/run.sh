#!/usr/bin/env bash
# Compares, in one run on one machine, the same nginx backend reached:
#   direct | through nginx as a keep-alive reverse proxy | through one devmesh sidecar (inbound)
#   | through two devmesh hops (egress → inbound), with devmesh telemetry on and off.
# wrk at fixed connections and duration, rounds interleaved. Loopback only; bounded in time.
#
#   bench/run.sh                     # build release if needed, run, print a Markdown table
#   ROUNDS=3 DURATION=10 CONNS=32 bench/run.sh
#   DEVMESH=/path/to/devmesh bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -z "${DEVMESH:-}" ]; then
  scripts/build-release.sh >/dev/null
  DEVMESH=$root/.build-release/release/devmesh
fi

work=$(mktemp -d /tmp/devmesh-bench.XXXXXX)
cleanup() {
  for pidfile in "$work"/*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
  [ -n "${mesh_pid:-}" ] && kill -TERM "$mesh_pid" 2>/dev/null && wait "$mesh_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The backend: nginx answering a small body, started by devmesh as the app of service `backend`.
cat > "$work/backend.conf.in" <<CONF
worker_processes 1;
daemon off;
pid $work/backend-PORT.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:PORT;
    location / { return 200 "hello from the backend\n"; }
  }
}
CONF
mkdir -p "$work/stack"
cat > "$work/stack/Procfile" <<PROC
backend: sed "s/PORT/\$PORT/g" $work/backend.conf.in > $work/backend.conf && exec nginx -c $work/backend.conf
caller: exec sleep 100000
PROC
cat > "$work/stack/devmesh.yaml" <<YAML
services:
  backend:
    health: {tcp: true}
  caller:
    upstreams: [backend]
    protocol: none
YAML

start_mesh() {  # $1: extra flags
  (cd "$work/stack" && exec "$DEVMESH" up --no-color $1 > "$work/mesh.log" 2>&1) &
  mesh_pid=$!
  for _ in $(seq 200); do
    grep -q "all 2 services are ready" "$work/mesh.log" 2>/dev/null && break
    sleep 0.05
  done
  grep -q "all 2 services are ready" "$work/mesh.log" || { cat "$work/mesh.log"; echo "devmesh did not start" >&2; exit 1; }
  devmesh_pid=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['pid'])")
  app_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['replicas']['backend.1'])")
  inbound_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['inbound']['backend.1'])")
  egress_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['egress']['caller->backend'])")
}

stop_mesh() {
  counters=$(cd "$work/stack" && "$DEVMESH" status --json | python3 -c 'import json,sys; t=json.load(sys.stdin).get("telemetry"); print("%d %d" % (t["recorded"], t["dropped"]) if t else "")')
  kill -TERM "$mesh_pid" 2>/dev/null || true
  wait "$mesh_pid" 2>/dev/null || true
  mesh_pid=
}

start_nginx_proxy() {  # $1: backend port
  proxy_port=$(free_port)
  cat > "$work/proxy.conf" <<CONF
worker_processes 2;
daemon on;
pid $work/proxy.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$1; keepalive 64; }
  server {
    listen 127.0.0.1:$proxy_port;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  nginx -c "$work/proxy.conf"
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# One wrk run: prints "rps p50_us p99_us"
measure() {  # $1 port, $2 connections, $3 seconds
  wrk -t"$THREADS" -c"$2" -d"$3"s --latency "http://127.0.0.1:$1/" 2>/dev/null | python3 -c '
import sys, re
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
def us(label):
    m = re.search(r"\s" + label + r"%\s+([\d.]+)(us|ms|s)", text)
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1, "ms": 1000, "s": 1e6}[u]
print("%.0f %.0f %.0f" % (rps, us("50"), us("99")))'
}

declare -A rps p50 p99 rss cpu
run_round() {  # $1 telemetry label
  for target in direct nginx devmesh1 devmesh2; do
    case $target in
      direct) port=$app_port ;;
      nginx) port=$proxy_port ;;
      devmesh1) port=$inbound_port ;;
      devmesh2) port=$egress_port ;;
    esac
    key="$target/$1"
    [ "$1" = off ] && [ "$target" = direct -o "$target" = nginx ] && continue
    before=$(cpu_ticks "$devmesh_pid")
    read -r r a b < <(measure "$port" "$CONNS" "$DURATION")
    after=$(cpu_ticks "$devmesh_pid")
    rps[$key]="${rps[$key]:-} $r"; p50[$key]="${p50[$key]:-} $a"; p99[$key]="${p99[$key]:-} $b"
    if [[ $target == devmesh* ]]; then
      cpu[$key]="${cpu[$key]:-} $(( (after - before) / DURATION ))"
      rss[$key]="${rss[$key]:-} $(awk '/VmRSS/ {print $2}' /proc/$devmesh_pid/status)"
    fi
  done
}

# Added latency per hop at one connection (p50), telemetry on.
single_conn() {
  read -r _ d _ < <(measure "$app_port" 1 5)
  read -r _ n _ < <(measure "$proxy_port" 1 5)
  read -r _ m1 _ < <(measure "$inbound_port" 1 5)
  read -r _ m2 _ < <(measure "$egress_port" 1 5)
  echo "$d $n $m1 $m2"
}

for telemetry in on off; do
  flags=""; [ $telemetry = off ] && flags="--no-telemetry"
  start_mesh "$flags"
  start_nginx_proxy "$app_port"
  # warm-up
  for p in "$app_port" "$proxy_port" "$inbound_port" "$egress_port"; do measure "$p" "$CONNS" 2 >/dev/null; done
  for _ in $(seq "$ROUNDS"); do run_round $telemetry; done
  [ $telemetry = on ] && latency=$(single_conn)
  kill "$(cat "$work/proxy.pid")" 2>/dev/null || true
  stop_mesh
  [ $telemetry = on ] && telemetry_counters=$counters
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "## Proxy benchmark — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds (medians); backend: nginx 1 worker, small body; nginx proxy: 2 workers, upstream keepalive 64; devmesh: 2 event loops."
echo
echo "| path | telemetry | req/s | vs nginx proxy | p50 | p99 | devmesh CPU | devmesh RSS |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
nginx_rps=$(echo "${rps[nginx/on]}" | median)
for key in direct/on nginx/on devmesh1/on devmesh1/off devmesh2/on devmesh2/off; do
  target=${key%/*}; tel=${key#*/}
  r=$(echo "${rps[$key]}" | median); a=$(echo "${p50[$key]}" | median); b=$(echo "${p99[$key]}" | median)
  ratio=$(python3 -c "print('%.2f×' % ($r / $nginx_rps))")
  c="-"; m="-"
  if [[ $target == devmesh* ]]; then c="$(echo "${cpu[$key]}" | median)%"; m="$(( $(echo "${rss[$key]}" | median) / 1024 )) MB"; fi
  case $target in direct) name="direct to backend";; nginx) name="nginx reverse proxy";; devmesh1) name="devmesh, 1 hop (inbound sidecar)";; devmesh2) name="devmesh, 2 hops (egress → inbound)";; esac
  [ $target = direct -o $target = nginx ] && tel="-"
  echo "| $name | $tel | $r | $ratio | ${a}µs | ${b}µs | $c | $m |"
done
read -r d n m1 m2 <<< "$latency"
echo
echo "At one connection (p50): direct ${d}µs; nginx adds $((n - d))µs; one devmesh hop adds $((m1 - d))µs; two hops add $((m2 - d))µs."
read -r recorded dropped <<< "$telemetry_counters"
echo
echo "Telemetry during the telemetry-on run: $recorded sidecar hops recorded, $dropped dropped under overload (best effort: the writer runs below the event loops and never slows traffic)."
