# Helpers the benchmark scripts share (sourced by every bench/*.sh). They use `$work` (the run's
# temporary folder) and `$THREADS` (wrk threads, default 1).

# Installs the Debian packages of the commands given as `command:package` that are missing.
need_tools() {
  local need=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}"); done
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# $DEVMESH, or the release build (made if needed) of this checkout ($1: its root).
release_devmesh() {
  if [ -z "${DEVMESH:-}" ]; then
    (cd "$1" && scripts/build-release.sh >/dev/null)
    DEVMESH=$1/.build-release/release/devmesh
  fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# The backend: nginx (1 worker) answering a 23-byte body, started by devmesh as the app of service
# `backend` (`PORT` is replaced by its $PORT): writes $work/backend.conf.in.
write_backend_conf() {
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
}

# The reference: nginx (2 workers, upstream keep-alive 64) proxying to the backend on $1. Sets
# $proxy_port; a proxy started before is stopped first.
start_nginx_proxy() {
  if [ -f "$work/proxy.pid" ]; then
    kill "$(cat "$work/proxy.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$work/proxy.pid" ] || break; sleep 0.05; done
  fi
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

# One wrk run: prints "rps p50_us p99_us non_2xx". $1 a port (or a full URL), $2 connections,
# $3 seconds, then extra wrk arguments (e.g. -H "Authorization: Bearer …").
measure() {
  local url=$1 conns=$2 seconds=$3; shift 3
  [[ $url == http* ]] || url="http://127.0.0.1:$url/"
  wrk -t"${THREADS:-1}" -c"$conns" -d"$seconds"s --latency "$@" "$url" 2>/dev/null | python3 -c '
import sys, re
text = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
def us(label):
    m = re.search(r"\s" + label + r"%\s+([\d.]+)(us|ms|s)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]
print("%.0f %.0f %.0f %s" % (rps, us("50"), us("99"), non2xx.group(1) if non2xx else "0"))'
}

# The middle value of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The run's temporary folder `$work` (named after $1), with its own DEVMESH_HOME, and an EXIT trap
# that stops the nginx proxy (`$work/proxy.pid`) and the devmesh (`$mesh_pid`) the script started.
bench_workdir() {
  work=$(mktemp -d "/tmp/devmesh-$1-bench.XXXXXX")
  trap bench_cleanup EXIT
  export DEVMESH_HOME="$work/home"
}

bench_cleanup() {
  [ -f "$work/proxy.pid" ] && kill "$(cat "$work/proxy.pid")" 2>/dev/null || true
  [ -n "${mesh_pid:-}" ] && kill -TERM "$mesh_pid" 2>/dev/null && wait "$mesh_pid" 2>/dev/null || true
  rm -rf "$work"
}
