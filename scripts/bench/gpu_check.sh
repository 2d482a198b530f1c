#!/usr/bin/env bash
# The GPU checks in one go, on a machine with an NVIDIA GPU (make test-gpu;
# about 5-8 minutes): CUDA vectors vs CPU fp32 (cosine >= 0.9999) for
# all-MiniLM-L6-v2 and bge-small-en-v1.5, the GPU memory fraction holding
# under load, CUDA OOM answered 507 with the server still ready, and
# flinkfn embed's rows/s on the GPU vs raw ONNX Runtime CUDA from Python
# (scripts/bench/gpu_check.py has the details; its output is the record).
#
# Where ONNX Runtime's GPU build comes from, first found wins:
#   1. .cache/gpu/lib (make setup-gpu ran here: CUDA 12.8 libraries beside it);
#   2. a stage made by scripts/setup/gpu_stage.sh and copied part by part to
#      $FLINKFN_GPU_STAGE (default /root/flinkfn-stage): the machines lent
#      here reach no registry and take 64 MiB per call; its GPU build is
#      the cuda13 profile, whose CUDA 13 / cuDNN 9 libraries come from the
#      machine's PyTorch (python3's nvidia-* packages: FLINKFN_CUDA_LIB_DIR);
#   3. make setup-gpu now (needs PyPI).
# Extra arguments go to scripts/bench/gpu_check.py (e.g. --only vectors,oom).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STAGE="${FLINKFN_GPU_STAGE:-/root/flinkfn-stage}"
UNPACK="${FLINKFN_GPU_UNPACK:-/tmp/flinkfn-gpu}"
log() { printf '[gpu-check] %s\n' "$*" >&2; }
started=$(date +%s)

if ! nvidia-smi -L; then
  log "no NVIDIA GPU here (nvidia-smi failed): these checks need one"
  exit 2
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

PY=python3
if [ -f "$ROOT/.cache/gpu/lib/libonnxruntime_providers_cuda.so" ]; then
  log "ONNX Runtime GPU build: .cache/gpu/lib (make setup-gpu)"
  export FLINKFN_HOME="$ROOT/.cache"
  BIN="$ROOT/.cache/bin/flinkfn"
  [ -x "$BIN" ] || (cd "$ROOT" && go build -o "$BIN" ./cmd/flinkfn)
elif ls "$STAGE"/part-* >/dev/null 2>&1; then
  if [ ! -x "$UNPACK/bin/flinkfn" ]; then
    if [ -f "$STAGE/SHA256SUMS" ]; then (cd "$STAGE" && sha256sum -c --quiet SHA256SUMS); fi
    log "unpacking the stage ($(ls "$STAGE"/part-* | wc -l) parts) into $UNPACK"
    mkdir -p "$UNPACK"
    cat "$STAGE"/part-* | xz -d -T0 | tar -C "$UNPACK" -xf -
  fi
  export FLINKFN_HOME="$UNPACK"
  BIN="$UNPACK/bin/flinkfn"
  export PYTHONPATH="$UNPACK/site${PYTHONPATH:+:$PYTHONPATH}"
  # The CUDA 13 and cuDNN 9 libraries of the machine's Python packages.
  dirs="$($PY - <<'PY'
import glob, os, site, sys
seen = []
for sp in site.getsitepackages() + [site.getusersitepackages()]:
    for d in sorted(glob.glob(os.path.join(sp, "nvidia", "**", "lib"), recursive=True)):
        if glob.glob(os.path.join(d, "*.so*")) and d not in seen:
            seen.append(d)
print(":".join(seen))
PY
)"
  export FLINKFN_CUDA_LIB_DIR="$dirs"
  export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  log "ONNX Runtime GPU build: the stage ($(ls "$UNPACK/site/onnxruntime/capi" | grep -o 'libonnxruntime.so.1[.0-9]*')); CUDA libraries: $dirs"
else
  log "no .cache/gpu/lib and no stage in $STAGE: make setup-gpu (PyPI)"
  python3 "$ROOT/scripts/setup/setup_gpu.py"
  export FLINKFN_HOME="$ROOT/.cache"
  BIN="$ROOT/.cache/bin/flinkfn"
  [ -x "$BIN" ] || (cd "$ROOT" && go build -o "$BIN" ./cmd/flinkfn)
fi
"$BIN" version || true
rc=0
"$PY" "$ROOT/scripts/bench/gpu_check.py" --bin "$BIN" "$@" || rc=$?
log "done in $(( $(date +%s) - started ))s"
exit $rc
