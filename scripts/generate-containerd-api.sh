#!/bin/bash
# Regenerates Sources/ContainerdAPI/Generated from Sources/ContainerdAPI/Protos.
# The generated code is committed, so neither CI nor a build needs protoc or the plugins.
#
# Needs protoc (apt-get install protobuf-compiler) and the two plugins, built from the same
# package versions Package.swift names:
#   swift-protobuf        swift build -c release --product protoc-gen-swift
#   grpc-swift-protobuf   swift build -c release --product protoc-gen-grpc-swift-2
# Usage: PROTOC_GEN_SWIFT=PATH PROTOC_GEN_GRPC_SWIFT=PATH scripts/generate-containerd-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PROTOC_GEN_SWIFT:?the path of protoc-gen-swift}"
: "${PROTOC_GEN_GRPC_SWIFT:?the path of protoc-gen-grpc-swift-2}"
protos=Sources/ContainerdAPI/Protos
out=Sources/ContainerdAPI/Generated
rm -rf "$out" && mkdir -p "$out"
protoc -I "$protos" \
  --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" --swift_out="$out" \
  --swift_opt=Visibility=Package \
  --plugin=protoc-gen-grpc-swift="$PROTOC_GEN_GRPC_SWIFT" --grpc-swift_out="$out" \
  --grpc-swift_opt=Visibility=Package,Server=false,Client=true \
  "$protos"/*.proto
ls "$out"
