#!/usr/bin/env bash
# Builds devmesh (release, Swift stdlib linked statically) and installs it on PATH.
# Idempotent: installs only missing Debian packages, rebuilds only what changed.
#   PREFIX=/usr/local (default when writable or root; else ~/.local)
#   --test-tools   also the test suite's clients: a Python venv in .venv-test with a real
#                  OpenTelemetry SDK (the OTLP tests send spans and logs with it) and selenium,
#                  and Debian's chromium + chromium-driver (the web UI's browser tests)
set -euo pipefail
cd "$(dirname "$0")"

test_tools=false
for arg in "$@"; do
  case "$arg" in
    --test-tools) test_tools=true ;;
    *) printf 'install.sh: unknown option %s (use --test-tools, or nothing)\n' "$arg"; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*"; }

# System libraries the product's design names; python3 for the samples and tests; the CA's
# tools: ca-certificates (the system bundle and update-ca-certificates), libnss3-tools
# (certutil, for browsers' NSS trust), openssl and curl (the HTTPS gateway's tests and docs);
# binutils and gzip: the release build reads its function order with gzip, a test checks it with nm.
packages=(libsqlite3-dev libssl-dev zlib1g-dev python3 git ca-certificates libnss3-tools openssl curl binutils gzip)
$test_tools && packages+=(python3-venv chromium chromium-driver fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}"; exit 1; }
    sudo=sudo
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
  say "the Swift toolchain (6.x) is needed to build devmesh: https://www.swift.org/install/linux/"
  exit 1
fi

if $test_tools; then
  # Pinned, in a venv of the clone: the system's Python stays as it was.
  otel=1.45.2
  selenium=4.27.1
  if ! .venv-test/bin/python3 -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, selenium, sys; from importlib.metadata import version; sys.exit(version('selenium') != '$selenium')" 2>/dev/null; then
    say "installing the test clients (opentelemetry-sdk $otel, selenium $selenium) into .venv-test"
    python3 -m venv .venv-test
    .venv-test/bin/pip install --quiet --disable-pip-version-check \
      "opentelemetry-sdk==$otel" "opentelemetry-exporter-otlp-proto-http==$otel" "selenium==$selenium"
  fi
fi

scripts/build-release.sh

binary=.build-release/release/devmesh
if [ -z "${PREFIX:-}" ]; then
  if [ "$(id -u)" -eq 0 ] || [ -w /usr/local/bin ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi
mkdir -p "$PREFIX/bin"
# Debug symbols are half the size; a stripped copy is what gets installed.
if command -v strip >/dev/null; then
  strip -o .build-release/devmesh.stripped "$binary"
  binary=.build-release/devmesh.stripped
fi
install -m 0755 "$binary" "$PREFIX/bin/devmesh"
say "installed $PREFIX/bin/devmesh — $("$PREFIX/bin/devmesh" version)"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) say "note: $PREFIX/bin is not on your PATH; add it: export PATH=\"$PREFIX/bin:\$PATH\"" ;;
esac
