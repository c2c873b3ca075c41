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

source "$root/bench/lib.sh"
need_tools nginx:nginx-light wrk:wrk h2load:nghttp2-client openssl:openssl
release_devmesh "$root"

work=$(mktemp -d /tmp/devmesh-bench.XXXXXX)
cleanup() {
  for pidfile in "$work"/*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true; done
  [ -n "${mesh_pid:-}" ] && kill -TERM "$mesh_pid" 2>/dev/null && wait "$mesh_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

write_backend_conf
mkdir -p "$work/stack" "$work/pki"
# The bench's own DEVMESH_HOME: its CA, never the user's.
export DEVMESH_HOME="$work/home"

# Certificates for nginx's TLS rows (ECDSA P-256, like devmesh's): a CA, a server and a client.
(
  cd "$work/pki"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -subj "/CN=bench CA" -days 2 -out ca.pem 2>/dev/null
  for name in server client; do
    openssl ecparam -name prime256v1 -genkey -noout -out $name.key 2>/dev/null
    openssl req -new -key $name.key -subj "/CN=$name" -out $name.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,DNS:back,IP:127.0.0.1\n' > $name.ext
    openssl x509 -req -in $name.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $name.ext -out $name.pem 2>/dev/null
  done
)
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
gateway:
  routes: [{path: /, to: backend}]
YAML

start_mesh() {  # $1: extra flags
  # The previous run's log says "ready" too: start from an empty one.
  : > "$work/mesh.log"
  (cd "$work/stack" && exec "$DEVMESH" up --no-color --https-port "$(free_port)" --http-port "$(free_port)" $1 > "$work/mesh.log" 2>&1) &
  mesh_pid=$!
  for _ in $(seq 200); do
    grep -q "all 2 services are ready" "$work/mesh.log" 2>/dev/null && [ -f "$work/stack/.devmesh/state.json" ] && break
    sleep 0.05
  done
  grep -q "all 2 services are ready" "$work/mesh.log" || { cat "$work/mesh.log"; echo "devmesh did not start" >&2; exit 1; }
  devmesh_pid=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['pid'])")
  app_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['replicas']['backend.1'])")
  inbound_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['inbound']['backend.1'])")
  egress_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['egress']['caller->backend'])")
  gateway_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['gateway']['https'])")
}

stop_mesh() {
  counters=$(cd "$work/stack" && "$DEVMESH" status --json | python3 -c 'import json,sys; t=json.load(sys.stdin).get("telemetry"); print("%d %d" % (t["recorded"], t["dropped"]) if t else "")')
  kill -TERM "$mesh_pid" 2>/dev/null || true
  wait "$mesh_pid" 2>/dev/null || true
  mesh_pid=
}

# nginx terminating TLS (HTTP/1.1 and HTTP/2) and proxying to the backend; and an mTLS hop:
# a plaintext front proxying over mutual TLS to a second nginx that verifies the client.
start_nginx_tls() {  # $1: backend port
  tls_port=$(free_port); mtls_front=$(free_port); mtls_back=$(free_port); tls2_port=$(free_port)
  cat > "$work/tls.conf" <<CONF
worker_processes 2;
daemon on;
pid $work/tls.pid;
error_log /dev/null crit;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$1; keepalive 64; }
  upstream mtls_back { server 127.0.0.1:$mtls_back; keepalive 64; }
  ssl_protocols TLSv1.2 TLSv1.3;
  server {
    listen 127.0.0.1:$tls_port ssl http2;
    ssl_certificate $work/pki/server.pem; ssl_certificate_key $work/pki/server.key;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:$mtls_back ssl;
    ssl_certificate $work/pki/server.pem; ssl_certificate_key $work/pki/server.key;
    ssl_client_certificate $work/pki/ca.pem; ssl_verify_client on;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  # The same two hops as devmesh's gateway: TLS at the edge, mTLS to a second proxy, then the app.
  server {
    listen 127.0.0.1:$tls2_port ssl http2;
    ssl_certificate $work/pki/server.pem; ssl_certificate_key $work/pki/server.key;
    location / {
      proxy_pass https://mtls_back; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate $work/pki/client.pem; proxy_ssl_certificate_key $work/pki/client.key;
      proxy_ssl_trusted_certificate $work/pki/ca.pem; proxy_ssl_verify on; proxy_ssl_name back;
      proxy_ssl_session_reuse on;
    }
  }
  server {
    listen 127.0.0.1:$mtls_front;
    location / {
      proxy_pass https://mtls_back; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate $work/pki/client.pem; proxy_ssl_certificate_key $work/pki/client.key;
      proxy_ssl_trusted_certificate $work/pki/ca.pem; proxy_ssl_verify on; proxy_ssl_name back;
      proxy_ssl_session_reuse on;
    }
  }
}
CONF
  nginx -c "$work/tls.conf"
}

# h2load over TLS: prints "rps p50_us p99_us" like measure in bench/lib.sh (latency from its request stats).
measure_h2() {  # $1 port, $2 connections, $3 seconds
  h2load -c "$2" -m 10 -D "$3" "https://127.0.0.1:$1/" 2>/dev/null | python3 -c '
import sys, re
text = sys.stdin.read()
rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
m = re.search(r"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", text)
f = {"us": 1, "ms": 1000, "s": 1e6}
mean = float(m.group(5)) * f[m.group(6)]
mx = float(m.group(3)) * f[m.group(4)]
print("%.0f %.0f %.0f" % (rps, mean, mx))'
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

declare -A rps p50 p99 rss cpu
run_round() {  # $1 telemetry label
  for target in direct nginx devmesh1 devmesh2 nginxmtls gateway nginxtls nginxtlsm gateway2 nginxtls2 nginxtlsm2; do
    measurer=measure
    case $target in
      direct) port=$app_port ;;
      nginx) port=$proxy_port ;;
      devmesh1) port=$inbound_port ;;
      devmesh2) port=$egress_port ;;
      nginxmtls) port=$mtls_front ;;
      gateway) port=https://127.0.0.1:$gateway_port ;;
      nginxtls) port=https://127.0.0.1:$tls_port ;;
      gateway2) port=$gateway_port; measurer=measure_h2 ;;
      nginxtls2) port=$tls_port; measurer=measure_h2 ;;
      nginxtlsm) port=https://127.0.0.1:$tls2_port ;;
      nginxtlsm2) port=$tls2_port; measurer=measure_h2 ;;
    esac
    key="$target/$1"
    case "$1/$target" in off/devmesh1|off/devmesh2|on/*) ;; *) continue ;; esac
    before=$(cpu_ticks "$devmesh_pid")
    read -r r a b _ < <($measurer "$port" "$CONNS" "$DURATION")
    after=$(cpu_ticks "$devmesh_pid")
    rps[$key]="${rps[$key]:-} $r"; p50[$key]="${p50[$key]:-} $a"; p99[$key]="${p99[$key]:-} $b"
    if [[ $target == devmesh* || $target == gateway* ]]; then
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
  start_nginx_tls "$app_port"
  # warm-up
  for p in "$app_port" "$proxy_port" "$inbound_port" "$egress_port" "$mtls_front" "https://127.0.0.1:$gateway_port/" "https://127.0.0.1:$tls_port/" "https://127.0.0.1:$tls2_port/"; do
    measure "$p" "$CONNS" 2 >/dev/null
  done
  for _ in $(seq "$ROUNDS"); do run_round $telemetry; done
  [ $telemetry = on ] && latency=$(single_conn)
  kill "$(cat "$work/proxy.pid")" "$(cat "$work/tls.pid")" 2>/dev/null || true
  stop_mesh
  [ $telemetry = on ] && telemetry_counters=$counters
done

echo "## Proxy benchmark — $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds (medians); backend: nginx 1 worker, small body; nginx proxy: 2 workers, upstream keepalive 64; devmesh: 2 event loops."
echo
echo "| path | telemetry | req/s | vs nginx | p50 | p99 | devmesh CPU | devmesh RSS |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
nginx_rps=$(echo "${rps[nginx/on]}" | median)
for key in direct/on nginx/on devmesh1/on devmesh1/off devmesh2/on devmesh2/off nginxmtls/on gateway/on nginxtls/on nginxtlsm/on gateway2/on nginxtls2/on nginxtlsm2/on; do
  target=${key%/*}; tel=${key#*/}
  r=$(echo "${rps[$key]}" | median); a=$(echo "${p50[$key]}" | median); b=$(echo "${p99[$key]}" | median)
  # Each row against its nginx counterpart: plaintext, mTLS hop, TLS HTTP/1.1, TLS HTTP/2.
  case $target in
    nginxmtls|devmesh2) base=$(echo "${rps[nginxmtls/on]}" | median); vs="nginx mTLS hop" ;;
    gateway|nginxtls|nginxtlsm) base=$(echo "${rps[nginxtls/on]}" | median); vs="nginx TLS h1" ;;
    gateway2|nginxtls2|nginxtlsm2) base=$(echo "${rps[nginxtls2/on]}" | median); vs="nginx TLS h2" ;;
    *) base=$nginx_rps; vs="nginx proxy" ;;
  esac
  ratio=$(python3 -c "print('%.2f× %s' % ($r / $base, '$vs'))")
  c="-"; m="-"
  if [[ $target == devmesh* || $target == gateway* ]]; then c="$(echo "${cpu[$key]}" | median)%"; m="$(( $(echo "${rss[$key]}" | median) / 1024 )) MB"; fi
  case $target in
    direct) name="direct to backend";;
    nginx) name="nginx reverse proxy";;
    devmesh1) name="devmesh, 1 hop (inbound sidecar)";;
    devmesh2) name="devmesh, 2 hops (egress → inbound, mTLS)";;
    nginxmtls) name="nginx → nginx over mTLS";;
    gateway) name="devmesh gateway, HTTPS HTTP/1.1";;
    nginxtls) name="nginx, HTTPS HTTP/1.1";;
    gateway2) name="devmesh gateway, HTTPS HTTP/2 (h2load -m 10)";;
    nginxtls2) name="nginx, HTTPS HTTP/2 (h2load -m 10)";;
    nginxtlsm) name="nginx, HTTPS HTTP/1.1 → mTLS → nginx (2 hops)";;
    nginxtlsm2) name="nginx, HTTPS HTTP/2 → mTLS → nginx (2 hops)";;
  esac
  [[ $target == devmesh* || $target == gateway* ]] || tel="-"
  echo "| $name | $tel | $r | $ratio | ${a}µs | ${b}µs | $c | $m |"
done
echo
echo "HTTP/2 rows: h2load -c$CONNS -m 10 (10 streams per connection); h2load reports no percentiles, so their p50/p99 columns show the mean and the maximum. Ratios compare like with like: plaintext rows with nginx proxying, the mTLS hop with nginx → nginx over mTLS, gateway rows with nginx terminating TLS (one hop; devmesh's gateway makes two: edge, then mTLS to the inbound sidecar — the 2-hop nginx rows are the same shape)."
read -r d n m1 m2 <<< "$latency"
echo
echo "At one connection (p50): direct ${d}µs; nginx adds $((n - d))µs; one devmesh hop adds $((m1 - d))µs; two hops add $((m2 - d))µs."
read -r recorded dropped <<< "$telemetry_counters"
echo
echo "Telemetry during the telemetry-on run: $recorded sidecar hops recorded, $dropped dropped under overload (best effort: the writer runs below the event loops and never slows traffic)."
