#!/usr/bin/env bash
# Packs what scripts/bench/gpu_check.sh needs on a GPU machine that reaches no
# package registry and receives at most 64 MiB per call (the device
# machines lent to this project): the flinkfn binary, ONNX Runtime's CPU
# build, the GPU build of the cuda13 profile of scripts/setup/gpu/wheels.json (its
# CUDA 13 / cuDNN 9 libraries are on those machines already, in PyTorch's
# nvidia-* packages) with its Python package (the raw baseline of
# make bench-gpu), and the models' fp32 (and, when installed, fp16) files:
# one xz tarball cut into parts of PART_MIB (default 48) under .gpu-stage/
# (ignored by git).
#
#   [FP16=0] scripts/setup/gpu_stage.sh [MODEL ...]        # default: all-MiniLM-L6-v2 bge-small-en-v1.5
#
# Measured here: both models with their fp16 files, 446 MiB in 10 parts
# of 48 MiB (xz took 30 min on a loaded 2-core machine, 25 s to unpack);
# FP16=0 scripts/setup/gpu_stage.sh all-MiniLM-L6-v2 needs about half the
# parts, which matters with 15 minutes of device time.
#
# Then, with the device tool, one call per part (the machine stays warm
# about 30 s between calls, and keeps what a call copied outside the work
# tree while it is held):
#   run(carry=[".gpu-stage/part-aa"], command="mkdir -p /root/flinkfn-stage && cp .gpu-stage/part-aa /root/flinkfn-stage/")
#   ... one per part ...
#   run(command="scripts/bench/gpu_check.sh 2>&1 | tee $OUT/gpu_check.log", timeout_s=540)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="$ROOT/.cache"
PART_MIB="${PART_MIB:-48}"
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(all-MiniLM-L6-v2 bge-small-en-v1.5)
log() { printf '[gpu-stage] %s\n' "$*" >&2; }

(cd "$ROOT" && go build -o "$CACHE/bin/flinkfn" ./cmd/flinkfn)
python3 "$ROOT/scripts/setup/setup_gpu.py" --profile cuda13 --download-only
WHEEL="$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["profiles"]["cuda13"]["wheels"][0]; print(p["file"])' "$ROOT/scripts/setup/gpu/wheels.json")"

TREE="$(mktemp -d)"
trap 'rm -rf "$TREE"' EXIT
mkdir -p "$TREE/bin" "$TREE/lib" "$TREE/site" "$TREE/models"
cp "$CACHE/bin/flinkfn" "$TREE/bin/"
cp "$CACHE/lib/libonnxruntime.so" "$TREE/lib/"
# The wheel's Python package, without the TensorRT provider (TensorRT is not installed).
(cd "$TREE/site" && python3 -m zipfile -e "$CACHE/downloads/gpu/$WHEEL" . && rm -rf onnxruntime_gpu-*.dist-info onnxruntime/capi/libonnxruntime_providers_tensorrt.so)
so="$(cd "$TREE/site/onnxruntime/capi" && ls libonnxruntime.so.1.*)"
ln -s "$so" "$TREE/site/onnxruntime/capi/libonnxruntime.so"
mkdir -p "$TREE/gpu"
ln -s ../site/onnxruntime/capi "$TREE/gpu/lib"
for m in "${MODELS[@]}"; do
  mkdir -p "$TREE/models/$m"
  files="manifest.json tokenizer.json model.onnx"
  [ "${FP16:-1}" = 0 ] || files="$files model_fp16.onnx"
  for f in $files; do
    [ -f "$CACHE/models/$m/$f" ] && cp "$CACHE/models/$m/$f" "$TREE/models/$m/"
  done
  # Only the variants that travel.
  python3 - "$TREE/models/$m/manifest.json" <<'PY'
import json, os, sys
p = sys.argv[1]
m = json.load(open(p))
d = os.path.dirname(p)
m["variants"] = {k: v for k, v in m["variants"].items() if os.path.exists(os.path.join(d, v))}
m["artifacts"] = [a for a in m["artifacts"] if os.path.exists(os.path.join(d, a["file"]))]
json.dump(m, open(p, "w"), indent=2)
PY
done
rm -rf "$ROOT/.gpu-stage"
mkdir -p "$ROOT/.gpu-stage"
log "packing $(du -shL "$TREE" | cut -f1) (xz, 2 threads; a few minutes)"
tar -C "$TREE" -cf - . | xz -T2 -6 | split -b "${PART_MIB}M" - "$ROOT/.gpu-stage/part-"
(cd "$ROOT/.gpu-stage" && sha256sum part-* > SHA256SUMS)
log "$(ls "$ROOT/.gpu-stage" | grep -c part-) parts of at most $PART_MIB MiB in .gpu-stage/ ($(du -sh "$ROOT/.gpu-stage" | cut -f1)):"
ls -la "$ROOT/.gpu-stage" >&2
