#!/usr/bin/env python3
"""Computes a quantised variant of a BERT-style ONNX encoder, deterministically.

    .cache/quant-venv/bin/python scripts/setup/quantize.py --recipe NAME INPUT.onnx OUTPUT.onnx
    .cache/quant-venv/bin/python scripts/setup/quantize.py --list

scripts/setup/fetch_artifacts.py runs it (in .cache/quant-venv, whose packages
scripts/setup/quant/requirements.txt pins) for every manifest artifact with
"tool": "scripts/setup/quantize.py": the artifact's "derived_from" file is INPUT,
its "recipe" is NAME, and its "sha256" pins the output. The same input, recipe
and package versions give the same bytes (no clock, no randomness, no
temporary names in the file), so the checksum holds on every machine; a
mismatch means other package versions (the script refuses to run with
versions other than the pinned ones unless --any-versions).

Recipes (all ONNX Runtime dynamic quantisation: weights int8 per output
channel, activations quantised per tensor at run time, uint8 asymmetric, by
DynamicQuantizeLinear; ONNX Runtime fuses the pair into
DynamicQuantizeMatMul):

  dynamic-int8-attn-rr        the attention projections (query, key, value,
        attention output) of every layer, per output channel, 7-bit weights
        (reduce_range: AVX2's u8 x s8 pair sums, vpmaddubsw, saturate at 16
        bits with 8-bit weights); everything else stays fp32. The accurate
        recipe: worst cosine to fp32 over all-MiniLM-L6-v2's golden texts
        0.992 (the shortest texts, [CLS] [SEP] alone, are the worst: their
        vector is the mean of two tokens, so no error averages out), about
        1/3 of the linear layers' work in int8.
  dynamic-int8-attn-ffn1-rr   the attention projections (query, key, value,
        attention output) and the feed-forward input projection
        (intermediate.dense) of every layer; the feed-forward output projection
        (output.dense, whose GELU input has outliers a per-tensor uint8 scale
        resolves badly) stays fp32, as do the embeddings and the attention
        score products; 7-bit weights. 2/3 of the linear layers' work in
        int8 (1.3-1.9x fp32 as measured), but texts of at most 6 tokens drop to a
        cosine of 0.979-0.987.
  dynamic-int8-all            every weight MatMul, 8-bit weights (the usual
        recipe; for comparison: worst cosine to fp32 about 0.97).

The recipes select nodes by the names of the Hugging Face BERT export
(/encoder/layer.N/attention/self/query/MatMul, ...); a graph without them is
refused rather than quantised partly.
"""

import argparse
import os
import re
import sys
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: flinkfn_scripts
from flinkfn_scripts import sha256  # noqa: E402

REQUIREMENTS = Path(__file__).resolve().parent / "quant" / "requirements.txt"

ATTN = r"/attention/self/(query|key|value)/MatMul$|/attention/output/dense/MatMul$"
FFN_IN = r"/intermediate/dense/MatMul$"
FFN_OUT = r"/layer\.\d+/output/dense/MatMul$"

# name -> which MatMul nodes (regex on the node name), per output channel,
# 7-bit weights (reduce_range).
RECIPES = {
    "dynamic-int8-attn-rr": dict(nodes=ATTN, per_node_in_layer=4, per_channel=True, reduce_range=True),
    "dynamic-int8-attn-ffn1-rr": dict(nodes=ATTN + "|" + FFN_IN, per_node_in_layer=5, per_channel=True, reduce_range=True),
    "dynamic-int8-all": dict(nodes=ATTN + "|" + FFN_IN + "|" + FFN_OUT, per_node_in_layer=6, per_channel=True, reduce_range=False),
}


def pinned_versions():
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, want = line.split("==")
            pins[name] = want
    return pins


def check_versions():
    """Fails, naming each package, unless the pinned versions are installed."""
    bad = []
    for name, want in pinned_versions().items():
        try:
            got = version(name)
        except Exception:  # noqa: BLE001 (PackageNotFoundError and broken metadata alike)
            got = "not installed"
        if got != want:
            bad.append(f"{name} {got} (pinned {want})")
    if bad:
        raise SystemExit(f"quantize: {sys.executable} has other package versions than {REQUIREMENTS}: "
                         + ", ".join(bad) + ". Their output would not match the manifests' SHA-256; "
                         "install the pins (pip install -r scripts/setup/quant/requirements.txt) or pass --any-versions to experiment.")


def select_nodes(model, recipe):
    """The recipe's MatMul node names, checked to be the same count in every layer."""
    r = RECIPES[recipe]
    pat = re.compile(r["nodes"])
    names = [n.name for n in model.graph.node if n.op_type == "MatMul" and pat.search(n.name)]
    layers = {}
    for n in names:
        m = re.search(r"/layer\.(\d+)/", n)
        if not m:
            raise SystemExit(f"quantize: node {n} matched recipe {recipe} outside an encoder layer")
        layers.setdefault(int(m.group(1)), []).append(n)
    counts = {k: len(v) for k, v in layers.items()}
    if not layers or set(counts.values()) != {r["per_node_in_layer"]}:
        raise SystemExit(f"quantize: recipe {recipe} expects {r['per_node_in_layer']} MatMul nodes named like the BERT "
                         f"export (/encoder/layer.N/attention/self/query/MatMul) in every layer; the graph has {counts or 'none'}")
    return names


def quantize(src, dst, recipe):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(src)
    nodes = select_nodes(model, recipe)
    r = RECIPES[recipe]
    tmp = dst + ".part"
    quantize_dynamic(model, tmp, weight_type=QuantType.QInt8, nodes_to_quantize=nodes,
                     per_channel=r["per_channel"], reduce_range=r["reduce_range"],
                     extra_options={"MatMulConstBOnly": True})
    os.replace(tmp, dst)
    return len(nodes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", choices=sorted(RECIPES))
    ap.add_argument("--list", action="store_true", help="print the recipes and the pinned versions")
    ap.add_argument("--any-versions", action="store_true", help="run with package versions other than the pins")
    ap.add_argument("input", nargs="?")
    ap.add_argument("output", nargs="?")
    args = ap.parse_args()
    if args.list:
        for name, r in RECIPES.items():
            print(name, r)
        print("pins:", " ".join(f"{k}=={v}" for k, v in pinned_versions().items()))
        return
    if not (args.recipe and args.input and args.output):
        ap.error("--recipe, INPUT and OUTPUT are required")
    if not args.any_versions:
        check_versions()
    n = quantize(args.input, args.output, args.recipe)
    print(f"[quantize] {args.recipe}: {n} MatMul nodes -> {args.output} (SHA-256 {sha256(args.output)})", file=sys.stderr)


if __name__ == "__main__":
    main()
