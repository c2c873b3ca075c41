#!/usr/bin/env bash
# Regenerates the committed swift-protobuf code for the OpenTelemetry OTLP messages in
# Sources/DevMeshOTLP/Generated/.
#
# Schema source: the PyPI package opentelemetry-proto==1.45.2 (pinned below). It ships no
# .proto files, only Python modules (*_pb2.py) that embed each file's serialized
# FileDescriptorProto; we collect those into a FileDescriptorSet and hand it to protoc with
# --descriptor_set_in, so no .proto files are needed anywhere.
# Generator: protoc-gen-swift from swift-protobuf 1.39.0 (the version the package depends on),
# built in a scratch folder under /tmp unless $PROTOC_GEN_SWIFT points at a ready binary.
#
# Only messages are generated: protoc-gen-swift ignores `service` blocks, so the collector
# files yield Export*ServiceRequest/Response (+ PartialSuccess) and no gRPC code.
#
# Usage: scripts/regen-otlp.sh
# Env:   PROTOC_GEN_SWIFT  path to a protoc-gen-swift 1.39.0 binary (skips the build)
#        PROTOC            path to protoc (default: `protoc` on PATH, apt-installed if absent)
#        OTLP_SCRATCH      scratch folder (default /tmp/devmesh-otlp-regen)
set -euo pipefail

OTEL_PROTO_VERSION=1.45.2       # PyPI opentelemetry-proto: where the descriptors come from
SWIFT_PROTOBUF_VERSION=1.39.0   # must match the swift-protobuf the package resolves

cd "$(dirname "$0")/.."
repo=$(pwd)
out="$repo/Sources/DevMeshOTLP/Generated"
scratch=${OTLP_SCRATCH:-/tmp/devmesh-otlp-regen}
mkdir -p "$scratch" "$out"

# The .proto files to generate (paths as recorded in the descriptors). Their imports
# (common, resource) are listed too, so every generated type is defined exactly once.
protos=(
  opentelemetry/proto/common/v1/common.proto
  opentelemetry/proto/resource/v1/resource.proto
  opentelemetry/proto/trace/v1/trace.proto
  opentelemetry/proto/logs/v1/logs.proto
  opentelemetry/proto/collector/trace/v1/trace_service.proto
  opentelemetry/proto/collector/logs/v1/logs_service.proto
)

# --- protoc ----------------------------------------------------------------------------
PROTOC=${PROTOC:-protoc}
if ! command -v "$PROTOC" >/dev/null 2>&1; then
  echo "installing protobuf-compiler (Debian)" >&2
  apt-get update -qq && apt-get install -y -qq protobuf-compiler >/dev/null
fi
echo "using $("$PROTOC" --version)" >&2

# --- opentelemetry-proto (in a private venv so the pin can't clash with anything) --------
venv="$scratch/venv-otel-proto-$OTEL_PROTO_VERSION"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "opentelemetry-proto==$OTEL_PROTO_VERSION"
fi

# --- FileDescriptorSet -----------------------------------------------------------------
# Import the _pb2 module of each wanted file, walk its dependencies, and write every
# FileDescriptorProto once, dependencies first (protoc wants them in that order).
descset="$scratch/otlp-$OTEL_PROTO_VERSION.desc"
"$venv/bin/python" - "$descset" "${protos[@]}" <<'PY'
import importlib, sys
from google.protobuf import descriptor_pb2

out_path, wanted = sys.argv[1], sys.argv[2:]
fds = descriptor_pb2.FileDescriptorSet()
seen = set()

def add(fd):
    if fd.name in seen:
        return
    for dep in fd.dependencies:
        add(dep)
    seen.add(fd.name)
    proto = descriptor_pb2.FileDescriptorProto()
    fd.CopyToProto(proto)
    fds.file.append(proto)

for name in wanted:
    module = importlib.import_module(name[: -len(".proto")].replace("/", ".") + "_pb2")
    assert module.DESCRIPTOR.name == name, (module.DESCRIPTOR.name, name)
    add(module.DESCRIPTOR)

with open(out_path, "wb") as f:
    f.write(fds.SerializeToString())
print(f"wrote {len(fds.file)} file descriptors to {out_path}", file=sys.stderr)
PY

# --- protoc-gen-swift ------------------------------------------------------------------
if [ -z "${PROTOC_GEN_SWIFT:-}" ]; then
  src="$scratch/swift-protobuf-$SWIFT_PROTOBUF_VERSION"
  PROTOC_GEN_SWIFT="$src/.build/release/protoc-gen-swift"
  if [ ! -x "$PROTOC_GEN_SWIFT" ]; then
    if [ ! -d "$src/.git" ]; then
      # github URLs resolve through git config (url.*.insteadOf) like SwiftPM's do.
      git clone -q https://github.com/apple/swift-protobuf.git "$src"
    fi
    git -C "$src" checkout -q "$SWIFT_PROTOBUF_VERSION"
    echo "building protoc-gen-swift $SWIFT_PROTOBUF_VERSION (several minutes)" >&2
    (cd "$src" && swift build -c release --product protoc-gen-swift)
  fi
fi
echo "using protoc-gen-swift $("$PROTOC_GEN_SWIFT" --version)" >&2

# --- generate --------------------------------------------------------------------------
rm -f "$out"/*.pb.swift
"$PROTOC" \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
  --descriptor_set_in="$descset" \
  --swift_out="$out" \
  --swift_opt=Visibility=Public \
  --swift_opt=FileNaming=PathToUnderscores \
  "${protos[@]}"

ls -1 "$out"/*.pb.swift >&2
