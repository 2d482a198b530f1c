#!/usr/bin/env python3
"""Model variants side by side: accuracy against fp32, rows/s and footprint.

    make bench-models             (writes the "Model variants" section of BENCHMARKS.md)
    .cache/venv/bin/python scripts/bench/bench_models.py [--models all-MiniLM-L6-v2,...] [--texts 1000]
        [--rounds 3] [--max-load 2.5] [--wait 600] [--no-write]

For every installed model (.cache/models/<name>, the manifests under
inference/models) and each of its variants, through the real binary
(.cache/bin/flinkfn, `make build`):

- accuracy: `flinkfn embed --variant V` over the model's golden texts
  (inference/testdata/golden-*.jsonl.gz) and the multilingual/odd texts of
  scripts/setup/quant/eval-texts.txt; cosine of each vector to the fp32 variant's
  (same binary, same texts): worst and mean per set;
- rows/s: `flinkfn embed --variant V` over those texts repeated to --texts
  lines, the variants alternating (A B, then B A, ...) for --rounds rounds,
  so that load from other processes hits all variants alike; the table
  keeps the median rows/s and, as × fp32, the median of the per-round
  ratios to fp32 with their range. The model's load time is taken out: each round
  also runs the variant on empty input (load + warm-up only), and rows/s =
  lines / (wall - the fastest such run);
- reserved footprint: what `flinkfn pool --variant V` logs on its
  "embedding model ready" line (peak RSS across load and the worst-batch
  warm-up).

The machine is shared: before starting, the script prints the 1-minute load
average and, while it is above --max-load, waits (up to --wait seconds,
checking every 15 s); it then runs anyway and the table says the load
before and after.
"""

import argparse
import datetime
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import bench_footprint  # noqa: E402  (footprint: the pool's "embedding model ready" line)
import bench_harness  # noqa: E402  (write_section)

SECTION = "## Model variants: int8 accuracy and speed"
GOLDEN = {"all-MiniLM-L6-v2": "golden-minilm.jsonl.gz", "bge-small-en-v1.5": "golden-bge-small.jsonl.gz"}
ODD = REPO / "scripts" / "setup" / "quant" / "eval-texts.txt"


def one_line(t):
    return t.replace("\r", " ").replace("\n", " ")


def golden_texts(model):
    with gzip.open(REPO / "inference" / "testdata" / GOLDEN[model], "rt", encoding="utf-8") as f:
        return [one_line(json.loads(line)["text"] or "") for line in f]


def embed(binary, model_dir, variant, texts, env):
    """Runs `flinkfn embed`; returns (vectors, wall seconds)."""
    args = [binary, "embed", "--model", str(model_dir), "--variant", variant]
    data = "".join(t + "\n" for t in texts)
    start = time.monotonic()
    p = subprocess.run(args, input=data, env=env, capture_output=True, text=True)
    took = time.monotonic() - start
    if p.returncode != 0:
        raise SystemExit(f"bench-models: {' '.join(args)} failed (rc {p.returncode}): {p.stderr.strip()[-2000:]}")
    vecs = [json.loads(line) for line in p.stdout.splitlines()]
    if len(vecs) != len(texts):
        raise SystemExit(f"bench-models: {' '.join(args)}: {len(vecs)} vectors for {len(texts)} lines")
    return np.asarray(vecs, dtype=np.float64), took


def cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def wait_for_quiet(max_load, wait):
    load = os.getloadavg()[0]
    print(f"[bench-models] load average {load:.2f} on {os.cpu_count()} cores (limit {max_load})", flush=True)
    deadline = time.monotonic() + wait
    while load > max_load and time.monotonic() < deadline:
        time.sleep(15)
        load = os.getloadavg()[0]
        print(f"[bench-models] waiting for the load to drop: {load:.2f}", flush=True)
    if load > max_load:
        print(f"[bench-models] load {load:.2f} still above {max_load} after {wait} s: running anyway "
              "(the alternating rounds keep the ratios comparable; absolute rows/s are low)", flush=True)
    return load


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", str(REPO / ".cache/bin/flinkfn")))
    ap.add_argument("--home", default=str(REPO / ".cache"), help="FLINKFN_HOME: lib/ and models/")
    ap.add_argument("--models", help="comma list (default: every model under inference/models with golden texts)")
    ap.add_argument("--texts", type=int, default=1000, help="lines per throughput run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-load", type=float, default=2.5)
    ap.add_argument("--wait", type=int, default=600, help="seconds to wait for the load to drop")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, FLINKFN_HOME=args.home)
    env.pop("FLINKFN_MODEL_VARIANT", None)
    names = args.models.split(",") if args.models else sorted(
        d for d in os.listdir(REPO / "inference" / "models") if d in GOLDEN)
    odd = [one_line(t) for t in ODD.read_text(encoding="utf-8").split("\n")[:-1]]
    load0 = wait_for_quiet(args.max_load, args.wait)
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for name in names:
        model_dir = Path(args.home) / "models" / name
        manifest = json.loads((model_dir / "manifest.json").read_text())
        variants = ["fp32"] + sorted(v for v in manifest["variants"] if v != "fp32")
        golden = golden_texts(name)
        ref, _ = embed(args.flinkfn, model_dir, "fp32", golden + odd, env)
        acc = {}
        for v in variants:
            got = ref if v == "fp32" else embed(args.flinkfn, model_dir, v, golden + odd, env)[0]
            c = cosines(got, ref)
            acc[v] = (c[:len(golden)], c[len(golden):])
        work = ((golden + odd) * (args.texts // (len(golden) + len(odd)) + 1))[:args.texts]
        walls = {v: [] for v in variants}
        startups = {v: [] for v in variants}
        for r in range(args.rounds):
            for v in (variants if r % 2 == 0 else variants[::-1]):
                startups[v].append(embed(args.flinkfn, model_dir, v, [], env)[1])
                walls[v].append(embed(args.flinkfn, model_dir, v, work, env)[1])
                print(f"[bench-models] {name} {v} round {r + 1}: wall {walls[v][-1]:.1f} s for {len(work)} rows, "
                      f"load+warm-up {startups[v][-1]:.1f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
        # The load is the same work every time: its fastest run is its cost.
        rps = {v: [len(work) / max(w - min(startups[v]), 1e-3) for w in walls[v]] for v in variants}
        for v in variants:
            fp = bench_footprint.footprint(args.flinkfn, v, dict(env, FLINKFN_MODEL=name))
            g, o = acc[v]
            med = statistics.median(rps[v])
            # × fp32: the median of the round-by-round ratios (each variant
            # ran right next to fp32 in its round, so slow drifts of the
            # load cancel), with their range.
            ratios = [a / b for a, b in zip(rps[v], rps["fp32"])]
            rows.append((name, v, manifest["variants"][v], float(g.min()), float(g.mean()), len(g),
                         float(o.min()), float(o.mean()), len(o), med, statistics.median(ratios), min(ratios), max(ratios), fp))
            print(f"[bench-models] {rows[-1]}", flush=True)
    load1 = os.getloadavg()[0]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    L = [SECTION, "",
         "- Command: `make bench-models` (scripts/bench/bench_models.py%s)" % "".join(" " + a for a in sys.argv[1:] if a != "--no-write"),
         "- Date: %s; load average %.1f before, %.1f after; %d cores; flinkfn commit %s" % (
             started.strftime("%Y-%m-%d %H:%M UTC"), load0, load1, os.cpu_count(), commit),
         "- Cosine to the same binary's fp32 vectors over the model's golden texts and the %d multilingual/odd "
         "texts of scripts/setup/quant/eval-texts.txt. rows/s: `flinkfn embed` over %d of those texts (default batcher "
         "limits), variants alternating, median of %d rounds (× fp32: median and range of the per-round ratios), the model's load and warm-up (the fastest "
         "empty-input run) taken out. Footprint: what `flinkfn pool --variant V` reserves for the model." % (len(odd), args.texts, args.rounds),
         "",
         "| model | variant | file | golden worst / mean cosine | odd worst / mean cosine | rows/s | × fp32 (range over rounds) | reserved footprint |",
         "|---|---|---|---|---|---:|---:|---|"]
    for name, v, f, gmin, gmean, gn, omin, omean, on, med, ratio, rlo, rhi, fp in rows:
        L.append("| %s | %s | %s | %.4f / %.4f (%d) | %.4f / %.4f (%d) | %.1f | %.2f (%.2f–%.2f) | %s |" % (
            name, v, f, gmin, gmean, gn, omin, omean, on, med, ratio, rlo, rhi, fp))
    text = "\n".join(L) + "\n"
    print(text)
    if not args.no_write:
        bench_harness.write_section(REPO / "BENCHMARKS.md", text, SECTION)


if __name__ == "__main__":
    main()
