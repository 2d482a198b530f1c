#!/usr/bin/env python3
"""Computes the fp16 variant of a BERT-style ONNX encoder, deterministically.

    .cache/quant-venv/bin/python scripts/setup/fp16.py --recipe NAME INPUT.onnx OUTPUT.onnx

scripts/setup/fetch_artifacts.py --gpu-variants (make setup-gpu GPU_ARGS=--models)
runs it in .cache/quant-venv (packages pinned by scripts/setup/quant/requirements.txt)
for every manifest artifact with "tool": "scripts/setup/fp16.py" and "setup":
"gpu": the artifact's "derived_from" file is INPUT, its "recipe" NAME, its
"sha256" pins the output. make setup never computes these files: they are
for --device cuda (a GPU's tensor cores run fp16 matrix products at many
times fp32's rate); on a CPU fp16 is slower than fp32.

Recipes:

  bert-fused-fp16   ONNX Runtime's transformer optimizer for BERT
        (onnxruntime.transformers.optimizer, model_type bert, for the GPU,
        no ONNX Runtime graph pass: opt_level 0) fuses the exported
        subgraphs into ONNX Runtime's contrib operators (EmbedLayerNormalization,
        Attention, SkipLayerNormalization, BiasGelu: one kernel each on
        CUDA), then converts the graph to float16 keeping its I/O types: the
        int64 inputs and the float32 last_hidden_state output stay as they
        are (a Cast at the end), so the engine feeds and reads it as the
        fp32 graph. The plain float16 conversion without the fusions is no
        alternative: ONNX Runtime 1.24's own layer-norm fusion fails on
        that graph ("Attempting to get index by a name which does not
        exist: InsertedPrecisionFreeCast_...").
        Measured on ONNX Runtime's CPU provider (flinkfn embed --variant
        fp16 vs fp32, the 297 one-line golden texts): worst cosine 0.9999986
        (mean 0.9999994) for all-MiniLM-L6-v2, 0.9999995 (mean 0.9999998)
        for bge-small-en-v1.5. On the CPU it is no faster than fp32.

To compare a variant with fp32: flinkfn embed --variant fp16 and flinkfn
embed on the same texts (scripts/bench/gpu_check.sh does, on a GPU).
"""

import argparse
import hashlib
import os
import sys
from importlib.metadata import version
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent / "quant" / "requirements.txt"
RECIPES = ("bert-fused-fp16",)


def pinned():
    out = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "==" in line:
            k, v = line.split("==", 1)
            out[k.strip()] = v.strip()
    return out


def check_versions():
    want = pinned()
    bad = [f"{k} {version(k)} (pinned {want[k]})" for k in ("onnxruntime", "onnx", "numpy", "protobuf")
           if version(k) != want[k]]
    if bad:
        raise SystemExit("fp16: packages differ from scripts/setup/quant/requirements.txt: " + ", ".join(bad) +
                         "; the output's SHA-256 is pinned for the pinned versions (--any-versions to go on)")


def convert(recipe, src, dst):
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    if recipe not in RECIPES:
        raise SystemExit(f"fp16: unknown recipe {recipe!r} (have {', '.join(RECIPES)})")
    opts = FusionOptions("bert")
    m = optimizer.optimize_model(src, model_type="bert", num_heads=0, hidden_size=0, optimization_options=opts,
                                 opt_level=0, use_gpu=True, only_onnxruntime=False)
    fused = {k: v for k, v in m.get_fused_operator_statistics().items() if v}
    for op in ("Attention", "SkipLayerNormalization"):
        if not fused.get(op):
            raise SystemExit(f"fp16: {src}: the optimizer fused no {op} ({fused}): not the BERT export this recipe is for")
    print(f"fp16: fused {fused}", file=sys.stderr)
    m.convert_float_to_float16(keep_io_types=True)
    # Name what was done in the file, without anything that varies by run.
    # The name is part of the output, whose SHA-256 the manifests pin: keep
    # it as it is when the script moves.
    m.model.producer_name = "flinkfn scripts/fp16.py"
    m.model.producer_version = recipe
    tmp = dst + ".part"
    m.save_model_to_file(tmp)
    os.replace(tmp, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="bert-fused-fp16")
    ap.add_argument("--any-versions", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if len(args.files) != 2:
        ap.error("INPUT.onnx OUTPUT.onnx")
    if not args.any_versions:
        check_versions()
    convert(args.recipe, *args.files)
    h = hashlib.sha256(Path(args.files[1]).read_bytes()).hexdigest()
    print(f"{args.files[1]}: sha256 {h}", file=sys.stderr)


if __name__ == "__main__":
    main()
