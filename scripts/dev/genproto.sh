#!/usr/bin/env bash
# Regenerates fnharness/internal/flinkpb from flink_payloads.proto.
# Needs protoc (Debian: protobuf-compiler); installs protoc-gen-go into .cache/bin.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v protoc >/dev/null || { echo "protoc not found: apt-get install protobuf-compiler" >&2; exit 1; }
GOBIN="$ROOT/.cache/bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
cd "$ROOT/fnharness/internal/flinkpb"
PATH="$ROOT/.cache/bin:$PATH" protoc --go_out=. --go_opt=paths=source_relative flink_payloads.proto
