"""How fast can fp32 ONNX Runtime embed the golden texts on this machine, and
does any other way of running it go faster? A benchmark, not a test: the
ceiling behind `make bench-http`'s `flinkfn serve` rows.

    make bench-ort                       (BENCH_ARGS="--rounds 4 --copies 3")

Runs all-MiniLM-L6-v2's model.onnx (from .cache/models) with ONNX Runtime's
own Python API, in .cache/quant-venv (scripts/setup/quant/requirements.txt:
onnxruntime 1.24.1, the version flinkfn links), on the golden texts' token ids
(inference/testdata/golden-minilm.jsonl.gz, `--copies` times), cut into
batches within the batcher's default limits, as it forms them when all texts
are queued at once: sorted by length, at most 32 rows and 1,024 padded
tokens. Three ways, interleaved round by round:

  one session, N threads      what flinkfn does (N = the cores)
  N sessions, 1 thread each   batches run side by side, one per core
  fused, one session          the model rewritten offline by ONNX Runtime's
                              transformer optimizer (Attention,
                              SkipLayerNormalization, EmbedLayerNormalization
                              fused; ORT's online optimizer fuses less)

It prints rows/s per round and the median of each, and the worst cosine of
the fused model's vectors to the plain model's.
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / ".cache" / "models" / "all-MiniLM-L6-v2" / "model.onnx"
GOLDEN = ROOT / "inference" / "testdata" / "golden-minilm.jsonl.gz"
VENV = ROOT / ".cache" / "quant-venv"


def in_tool_venv():
    """Re-runs this script in .cache/quant-venv (made by fetch_artifacts'
    tool_python when missing) unless it already runs there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    sys.path.insert(0, str(ROOT / "scripts" / "setup"))
    import fetch_artifacts  # noqa: E402  (scripts/setup/)
    py = fetch_artifacts.tool_python(str(VENV))
    os.execv(py, [py, __file__, *sys.argv[1:]])


def batches(seqs, max_rows=32, max_tokens=1024):
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out, cur, longest = [], [], 0
    for i in order:
        n = max(longest, len(seqs[i]))
        if cur and (len(cur) >= max_rows or n * (len(cur) + 1) > max_tokens):
            out.append(cur)
            cur, n = [], len(seqs[i])
        cur.append(i)
        longest = n
    if cur:
        out.append(cur)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--copies", type=int, default=3, help="times the golden texts are embedded per round")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    in_tool_venv()

    import numpy as np
    import onnxruntime as ort
    from onnxruntime.transformers import optimizer

    seqs = [json.loads(line)["ids"] for line in gzip.open(GOLDEN)] * a.copies
    feeds = []
    for b in batches(seqs):
        n = max(len(seqs[j]) for j in b)
        ids = np.zeros((len(b), n), np.int64)
        mask = np.zeros((len(b), n), np.int64)
        for k, j in enumerate(b):
            ids[k, :len(seqs[j])] = seqs[j]
            mask[k, :len(seqs[j])] = 1
        feeds.append((b, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}))

    def session(path, threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as flinkfn's default
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def embed(sessions):
        """rows/s of the sessions taking the batches in turn, and the vectors."""
        out = np.zeros((len(seqs), 384), np.float32)
        nxt, lock = [0], threading.Lock()

        def work(s):
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= len(feeds):
                    return
                b, f = feeds[i]
                h = s.run(None, f)[0]
                m = f["attention_mask"][:, :, None]
                v = (h * m).sum(1) / m.sum(1)
                out[b] = v / np.linalg.norm(v, axis=1, keepdims=True)

        start = time.perf_counter()
        ts = [threading.Thread(target=work, args=(s,)) for s in sessions]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return len(seqs) / (time.perf_counter() - start), out

    with tempfile.TemporaryDirectory() as tmp:
        fused_path = Path(tmp) / "model-fused.onnx"
        fused = optimizer.optimize_model(str(MODEL), model_type="bert", num_heads=12, hidden_size=384, opt_level=0)
        stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        fused.save_model_to_file(str(fused_path))
        ways = [
            ("one session, %d threads" % a.threads, [session(MODEL, a.threads)]),
            ("%d sessions, 1 thread each" % a.threads, [session(MODEL, 1) for _ in range(a.threads)]),
            ("fused (%s), one session, %d threads" % (", ".join("%d %s" % (v, k) for k, v in stats.items()), a.threads),
             [session(fused_path, a.threads)]),
        ]
        for _, ss in ways:  # warm-up
            embed(ss)
        print("load average before: %.1f %.1f %.1f; %d texts a round, %d batches, ONNX Runtime %s" % (
            *os.getloadavg(), len(seqs), len(feeds), ort.__version__), flush=True)
        rates = {name: [] for name, _ in ways}
        vecs = {}
        for r in range(a.rounds):
            for name, ss in ways:
                rs, vecs[name] = embed(ss)
                rates[name].append(rs)
            print("round %d: %s" % (r + 1, ", ".join("%.1f" % rates[n][-1] for n, _ in ways)), flush=True)
        plain, fusedv = vecs[ways[0][0]], vecs[ways[2][0]]
        print("load average after: %.1f %.1f %.1f" % os.getloadavg())
        print()
        print("| way | rows/s, median of %d rounds | range |" % a.rounds)
        print("|---|---:|---|")
        for name, _ in ways:
            print("| %s | %.1f | %.1f-%.1f |" % (name, statistics.median(rates[name]), min(rates[name]), max(rates[name])))
        print()
        print("worst cosine, fused vs plain: %.7f" % float((plain * fusedv).sum(1).min()))


if __name__ == "__main__":
    main()
