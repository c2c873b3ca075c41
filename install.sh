#!/usr/bin/env bash
# Builds devmesh (release, Swift stdlib linked statically) and installs it on PATH.
# Idempotent: installs only missing Debian packages, rebuilds only what changed.
#   PREFIX=/usr/local (default when writable or root; else ~/.local)
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'install.sh: %s\n' "$*"; }

# System libraries the product's design names; python3 for the samples and tests; the CA's
# tools: ca-certificates (the system bundle and update-ca-certificates), libnss3-tools
# (certutil, for browsers' NSS trust), openssl and curl (the HTTPS gateway's tests and docs).
packages=(libsqlite3-dev libssl-dev zlib1g-dev python3 git ca-certificates libnss3-tools openssl curl)
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
