#!/usr/bin/env bash
# What authorization costs on the hot path: the same nginx backend behind one devmesh inbound
# sidecar with no policies, with AuthorizationPolicies (a DENY and an ALLOW evaluated on every
# request), and with those plus RequestAuthentication (every request carries the same RS256
# token: verified once, then its cached verdict; the ALLOW wants the token). nginx as a plain reverse proxy is the
# reference, in the same run. wrk at fixed connections and duration, rounds interleaved.
# Loopback only; bounded in time.
#
#   bench/policies.sh                 # build release if needed, run, print a Markdown table
#   ROUNDS=3 DURATION=10 CONNS=32 bench/policies.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}

source "$root/bench/lib.sh"
need_tools nginx:nginx-light wrk:wrk openssl:openssl
release_devmesh "$root"

bench_workdir policy
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# An RS256 issuer made with openssl: the JWKS (n, e) and one token valid for an hour.
openssl genrsa -out "$work/key.pem" 2048 2>/dev/null
n=$(openssl rsa -in "$work/key.pem" -noout -modulus 2>/dev/null | cut -d= -f2 | xxd -r -p | b64url)
mkdir -p "$work/stack/policies" "$work/stack/keys"
printf '{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"%s","e":"AQAB"}]}\n' "$n" > "$work/stack/keys/jwks.json"
header=$(printf '{"alg":"RS256","kid":"k1","typ":"JWT"}' | b64url)
payload=$(printf '{"iss":"https://issuer.bench","sub":"bench","aud":"bench","exp":%d}' $(( $(date +%s) + 3600 )) | b64url)
signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$work/key.pem" -binary | b64url)
token="$header.$payload.$signature"

write_backend_conf
cat > "$work/stack/Procfile" <<PROC
backend: sed "s/PORT/\$PORT/g" $work/backend.conf.in > $work/backend.conf && exec nginx -c $work/backend.conf
PROC
cat > "$work/deny.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
YAML
cat > "$work/read.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-read, namespace: default}
spec:
  selector: {matchLabels: {app: backend}}
  rules:
    - to: [{operation: {methods: [GET, HEAD], paths: ["/", "/items/*"]}}]
YAML
cat > "$work/jwt.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: istio-system}
spec:
  jwtRules: [{issuer: "https://issuer.bench", audiences: [bench], jwksUri: keys/jwks.json}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: want-token, namespace: default}
spec:
  selector: {matchLabels: {app: backend}}
  rules: [{from: [{source: {requestPrincipals: ["https://issuer.bench/*"]}}]}]
YAML

start_mesh() {  # $1: none | authz | jwt
  rm -f "$work/stack/policies/"*.yaml
  case $1 in
    none) printf 'services:\n  backend: {health: {tcp: true}}\n' > "$work/stack/devmesh.yaml" ;;
    authz) cp "$work/deny.yaml" "$work/read.yaml" "$work/stack/policies/"
           printf 'services:\n  backend: {health: {tcp: true}}\npolicies: [policies/]\n' > "$work/stack/devmesh.yaml" ;;
    jwt) cp "$work/deny.yaml" "$work/jwt.yaml" "$work/stack/policies/"
         printf 'services:\n  backend: {health: {tcp: true}}\npolicies: [policies/]\n' > "$work/stack/devmesh.yaml" ;;
  esac
  : > "$work/mesh.log"
  (cd "$work/stack" && exec "$DEVMESH" up --no-color > "$work/mesh.log" 2>&1) &
  mesh_pid=$!
  for _ in $(seq 200); do
    grep -q "all 1 service is ready" "$work/mesh.log" 2>/dev/null && [ -f "$work/stack/.devmesh/state.json" ] && break
    sleep 0.05
  done
  grep -q "all 1 service is ready" "$work/mesh.log" || { cat "$work/mesh.log"; echo "devmesh did not start" >&2; exit 1; }
  app_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['replicas']['backend.1'])")
  inbound_port=$(python3 -c "import json;print(json.load(open('$work/stack/.devmesh/state.json'))['ports']['inbound']['backend.1'])")
}
stop_mesh() { kill -TERM "$mesh_pid" 2>/dev/null || true; wait "$mesh_pid" 2>/dev/null || true; mesh_pid=; }

declare -A rps p50 p99
for round in $(seq "$ROUNDS"); do
  for mode in none authz jwt; do
    start_mesh $mode
    start_nginx_proxy "$app_port"
    if [ $mode = none ]; then
      read -r r a b bad < <(measure "$proxy_port" "$CONNS" "$DURATION")
      rps[nginx]+="$r "; p50[nginx]+="$a "; p99[nginx]+="$b "
    fi
    if [ $mode = jwt ]; then
      # Without the token the policy refuses: check once that enforcement is on.
      code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$inbound_port/")
      [ "$code" = 403 ] || { echo "expected 403 without a token, got $code" >&2; exit 1; }
      read -r r a b bad < <(measure "$inbound_port" "$CONNS" "$DURATION" -H "Authorization: Bearer $token")
    else
      read -r r a b bad < <(measure "$inbound_port" "$CONNS" "$DURATION")
    fi
    [ "$bad" = 0 ] || { echo "$mode: $bad non-2xx answers" >&2; exit 1; }
    rps[$mode]+="$r "; p50[$mode]+="$a "; p99[$mode]+="$b "
    stop_mesh
  done
done

base=$(echo "${rps[none]}" | median)
ngx=$(echo "${rps[nginx]}" | median)
echo "| through | req/s (median of $ROUNDS) | vs no policies | vs nginx | p50 µs | p99 µs |"
echo "|---|---:|---:|---:|---:|---:|"
for row in nginx none authz jwt; do
  r=$(echo "${rps[$row]}" | median); a=$(echo "${p50[$row]}" | median); b=$(echo "${p99[$row]}" | median)
  label=$row
  case $row in
    nginx) label="nginx reverse proxy" ;;
    none) label="devmesh sidecar, no policies" ;;
    authz) label="devmesh sidecar, 2 AuthorizationPolicies" ;;
    jwt) label="devmesh sidecar, a DENY + RequestAuthentication + ALLOW requestPrincipals (RS256 token)" ;;
  esac
  printf '| %s | %s | %.2f× | %.2f× | %s | %s |\n' "$label" "$r" "$(echo "$r / $base" | bc -l)" "$(echo "$r / $ngx" | bc -l)" "$a" "$b"
done
echo
echo "wrk -t1 -c$CONNS -d${DURATION}s, $ROUNDS interleaved rounds, $(nproc) cores, $(date -u +%Y-%m-%d)."
