"""Model footprint and `flinkfn embed` throughput by batch token budget.

    make bench-footprint          (writes the "Model footprint" section of BENCHMARKS.md)
    .cache/venv/bin/python scripts/bench/bench_footprint.py --no-write

For each variant (fp32, int8) it starts `flinkfn pool` and reads the footprint
the pool reserves for the model (the "embedding model ready" log line: peak
RSS across load and the worst-batch warm-up). Then it embeds the golden texts
(repeated to --texts lines) with `flinkfn embed --max-batch-tokens N` for
each budget, interleaving the budgets --repeat times (the machine is shared:
the table keeps the fastest run of each), and reports rows/s and peak RSS
(/usr/bin/time -f %M, the whole process).
"""

import argparse
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import bench_harness  # noqa: E402  (write_section)

SECTION = "## Model footprint and batch token budget"


def footprint(binary, variant, env):
    with tempfile.TemporaryDirectory() as d:
        args = [binary, "pool", "--listen", "unix://%s/p.sock" % d, "--http", "off", "--memory-limit", "4g"]
        if variant != "fp32":
            args += ["--variant", variant]
        p = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
        try:
            for line in p.stderr:
                if "embedding model ready" in line:
                    return json.loads(line)["footprint"]
            raise SystemExit("pool exited without loading the model (rc %s)" % p.wait())
        finally:
            p.kill()
            p.wait()


def embed(binary, texts, tokens, variant, env):
    args = ["/usr/bin/time", "-f", "%M", binary, "embed", "--max-batch-tokens", str(tokens)]
    if variant != "fp32":
        args += ["--variant", variant]
    start = time.monotonic()
    p = subprocess.run(args, input=texts, env=env, capture_output=True, text=True, check=True)
    took = time.monotonic() - start
    return texts.count("\n") / took, int(p.stderr.strip().splitlines()[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", str(REPO / ".cache/bin/flinkfn")))
    ap.add_argument("--texts", type=int, default=1000)
    ap.add_argument("--budgets", default="1024,2048,8192")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, FLINKFN_HOME=str(REPO / ".cache"))
    with gzip.open(REPO / "inference/testdata/golden-minilm.jsonl.gz", "rt", encoding="utf-8") as f:
        golden = [json.loads(l)["text"] for l in f]
    golden = [t.replace("\n", " ").replace("\r", " ") for t in golden if t]
    texts = "\n".join((golden * (args.texts // len(golden) + 1))[: args.texts]) + "\n"
    load = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc)
    budgets = [int(b) for b in args.budgets.split(",")]
    rows = []
    for variant in ("fp32", "int8"):
        fp = footprint(args.flinkfn, variant, env)
        best = {}
        for _ in range(args.repeat):
            for b in budgets:
                rps, rss = embed(args.flinkfn, texts, b, variant, env)
                if b not in best or rps > best[b][0]:
                    best[b] = (rps, rss)
        for b in budgets:
            rows.append((variant, fp if b == budgets[0] else "", b, best[b][0], best[b][1]))
            print(rows[-1], flush=True)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    L = [SECTION, "",
         "- Command: `make bench-footprint` (scripts/bench/bench_footprint.py)",
         "- Date: %s; load average %.1f before; %d cores; flinkfn commit %s" % (
             started.strftime("%Y-%m-%d %H:%M UTC"), load, os.cpu_count(), commit),
         "- Footprint: what `flinkfn pool` reserves for the model (peak RSS across load and a warm-up on the "
         "worst batch of the default 1,024-token budget). Throughput: `flinkfn embed --max-batch-tokens N` over "
         "%d golden texts, fastest of %d interleaved runs; peak RSS of the whole process. 8,192 tokens (32 × 256) was "
         "the default before the first-contact issue; its reserved footprint then was 392 MiB (fp32)." % (args.texts, args.repeat),
         "", "| variant | reserved footprint | batch tokens | rows/s | peak RSS |", "|---|---|---|---|---|"]
    for v, fp, b, rps, rss in rows:
        L.append("| %s | %s | %s | %.1f | %.0f MiB |" % (v, fp, format(b, ","), rps, rss))
    text = "\n".join(L) + "\n"
    print(text)
    if not args.no_write:
        bench_harness.write_section(REPO / "BENCHMARKS.md", text, SECTION)


if __name__ == "__main__":
    main()
