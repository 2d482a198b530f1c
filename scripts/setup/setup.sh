#!/usr/bin/env bash
# Installs everything flinkfn's build, tests and demo need on a fresh machine.
# Idempotent: each step checks what is already there. Caches under .cache/
# (ignored by git) and Maven's local repository.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE/bin"
log() { printf '[setup] %s\n' "$*" >&2; }

# 0. protoc (Debian's protobuf-compiler): checks and regenerates our Flink payload proto.
if ! command -v protoc >/dev/null; then
  log "protoc (apt)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq protobuf-compiler >/dev/null
  else
    sudo apt-get update -qq >/dev/null && sudo apt-get install -y -qq protobuf-compiler >/dev/null
  fi
fi

# 1. Go modules.
log "go modules"
(cd "$ROOT" && go mod download)

# 2. Python venv with PyFlink from PyPI (compatibility tests and the stock-worker benchmark).
PYFLINK_VERSION="$(cat "$ROOT/scripts/setup/pyflink-version")"
VENV="$CACHE/venv"
if ! "$VENV/bin/python" -c "import pyflink, sys; from importlib.metadata import version; sys.exit(0 if version('apache-flink') == '$PYFLINK_VERSION' else 1)" 2>/dev/null; then
  log "python venv with apache-flink==$PYFLINK_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "apache-flink==$PYFLINK_VERSION" pytest
fi
"$VENV/bin/python" -c "import pytest" 2>/dev/null || "$VENV/bin/pip" install -q pytest
# HuggingFace tokenizers: the live tokenizer-equality test (make test-tokenizer).
TOKENIZERS_VERSION="$(cat "$ROOT/scripts/setup/tokenizers-version")"
"$VENV/bin/python" -c "import sys; from importlib.metadata import version; sys.exit(0 if version('tokenizers') == '$TOKENIZERS_VERSION' else 1)" 2>/dev/null \
  || "$VENV/bin/pip" install -q "tokenizers==$TOKENIZERS_VERSION"

# 2a. A second venv with PyFlink 1.20 (make test-pyflink-1.20: the PyFlink
# tests of a local run on Flink 1.20).
PYFLINK_120_VERSION="$(cat "$ROOT/scripts/setup/pyflink-1.20-version")"
VENV_120="$CACHE/venv-1.20"
if ! "$VENV_120/bin/python" -c "import pyflink, pytest, sys; from importlib.metadata import version; sys.exit(0 if version('apache-flink') == '$PYFLINK_120_VERSION' else 1)" 2>/dev/null; then
  log "python venv with apache-flink==$PYFLINK_120_VERSION (.cache/venv-1.20)"
  python3 -m venv "$VENV_120"
  "$VENV_120/bin/pip" install -q --upgrade pip
  "$VENV_120/bin/pip" install -q "apache-flink==$PYFLINK_120_VERSION" pytest
fi

# 2c. The OpenAI Python SDK, pinned, in its own small venv (make test-http-clients:
# a real client of the embedding API).
OPENAI_VERSION="$(cat "$ROOT/scripts/setup/openai-version")"
VENV_OPENAI="$CACHE/venv-openai"
if ! "$VENV_OPENAI/bin/python" -c "import pytest, sys; from importlib.metadata import version; sys.exit(0 if version('openai') == '$OPENAI_VERSION' else 1)" 2>/dev/null; then
  log "python venv with openai==$OPENAI_VERSION (.cache/venv-openai)"
  python3 -m venv "$VENV_OPENAI"
  "$VENV_OPENAI/bin/pip" install -q "openai==$OPENAI_VERSION" pytest
fi

# 2b. ONNX Runtime's shared library and the models, from Maven Central jars,
# checksums verified (inference/runtime.json, inference/models/*/manifest.json);
# the int8 variants are computed from the fp32 files by scripts/setup/quantize.py in
# .cache/quant-venv (pinned onnxruntime/onnx: scripts/setup/quant/requirements.txt),
# once: about 35 s for the venv and 5-15 s per derived file (four) on a quiet
# 2-core machine, 2 min each at a load average of 10; nothing (a checksum) when
# the files with the pinned SHA-256 are in place. Also the jars the
# integration tests add to Flink's class path (integration/jars.json, into
# .cache/jars/: Flink's OpenAI model provider for MlPredictTest).
log "onnx runtime, models and test jars"
python3 "$ROOT/scripts/setup/fetch_artifacts.py"

# 3. Maven dependencies of the integration tests (Flink 2.x and the 1.20 profile).
if [ -f "$ROOT/integration/pom.xml" ]; then
  log "maven dependencies"
  mvn -q -B -f "$ROOT/integration/pom.xml" -DskipTests test-compile
  mvn -q -B -f "$ROOT/integration/pom.xml" -Pflink-1.20 -DskipTests test-compile
fi

if [ -f "$ROOT/integration/memcheck/pom.xml" ]; then
  mvn -q -B -f "$ROOT/integration/memcheck/pom.xml" -DskipTests test-compile
fi

# 4. The flinkfn binary.
log "build flinkfn"
(cd "$ROOT" && go build -o "$CACHE/bin/flinkfn" ./cmd/flinkfn)
log "done"
