#!/usr/bin/env python3
"""Raw ONNX Runtime from Python on the same texts as `flinkfn embed`: rows/s.

    python3 scripts/bench/bench_gpu_ort.py --model-dir .cache/models/all-MiniLM-L6-v2 --texts FILE [--provider cuda|cpu] [--json]

The baseline scripts/bench/gpu_check.py compares `flinkfn embed --device cuda:0`
with: the token ids come from `flinkfn tokenize` (the same ids the engine
runs, computed before the clock starts: the baseline's time is the model's
alone), batches of --batch texts sorted by length (the fastest a plain
Python loop can feed ONNX Runtime), padded to their longest, mean or CLS
pooled and L2-normalised as the manifest says, with numpy. --provider cuda
needs the onnxruntime-gpu package (with the CUDA libraries it loads); cpu
runs anywhere onnxruntime is installed. Prints one line (JSON with --json).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--texts", required=True)
    ap.add_argument("--variant", default="fp32")
    ap.add_argument("--provider", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".cache", "bin", "flinkfn"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort

    with open(os.path.join(args.model_dir, "manifest.json")) as f:
        man = json.load(f)
    with open(args.texts) as f:
        p = subprocess.run([args.bin, "tokenize", "--model", args.model_dir], stdin=f, capture_output=True, text=True, check=True)
    seqs = [[int(x) for x in line.split()] for line in p.stdout.splitlines()]

    if args.provider == "cuda":
        if hasattr(ort, "preload_dlls"):
            ort.preload_dlls()
        providers = [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            sys.exit(f"bench_gpu_ort: onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                     f"({ort.get_available_providers()}): install onnxruntime-gpu")
    else:
        providers = ["CPUExecutionProvider"]
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(os.path.join(args.model_dir, man["variants"][args.variant]), so, providers=providers)
    if args.provider == "cuda" and sess.get_providers()[0] != "CUDAExecutionProvider":
        sys.exit(f"bench_gpu_ort: the session runs on {sess.get_providers()}, not CUDA")
    inputs = man["inputs"]
    names = {i.name for i in sess.get_inputs()}

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    batches = []
    for s in range(0, len(order), args.batch):
        idx = order[s:s + args.batch]
        n = max(len(seqs[i]) for i in idx)
        ids = np.zeros((len(idx), n), dtype=np.int64)
        mask = np.zeros((len(idx), n), dtype=np.int64)
        for r, i in enumerate(idx):
            ids[r, :len(seqs[i])] = seqs[i]
            mask[r, :len(seqs[i])] = 1
        feed = {inputs["input_ids"]: ids, inputs["attention_mask"]: mask}
        if inputs.get("token_type_ids") in names:
            feed[inputs["token_type_ids"]] = np.zeros_like(ids)
        batches.append((feed, mask))

    def run():
        out = []
        for feed, mask in batches:
            h = sess.run([man["output"]], feed)[0]
            if man["pooling"] == "cls":
                v = h[:, 0, :]
            else:
                m = mask[:, :, None].astype(h.dtype)
                v = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            if man.get("normalize", True):
                v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            out.append(v)
        return out

    run()  # warm-up: the arena and cuDNN/cuBLAS choices
    t0 = time.perf_counter()
    run()
    took = time.perf_counter() - t0
    res = {"model": man["name"], "variant": args.variant, "provider": sess.get_providers()[0], "onnxruntime": ort.__version__,
           "rows": len(seqs), "batch": args.batch, "seconds": round(took, 3), "rows_per_s": len(seqs) / took}
    print(json.dumps(res) if args.json else
          f"{res['model']} {res['variant']} on {res['provider']} (ONNX Runtime {res['onnxruntime']}): "
          f"{res['rows']} texts in {took:.2f}s = {res['rows_per_s']:.0f} rows/s (batches of {args.batch})")


if __name__ == "__main__":
    main()
