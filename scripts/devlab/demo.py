"""The main job: embeds sample account holders and transactions with ah_embed
and txn_embed on a local Flink cluster whose Python worker is flinkfn.

1. Generates the sample data once (scripts/fixtures/gen_sample_data.py, deterministic:
   10,000 account holders, 100,000 transactions by default) under
   .cache/demo/data/ as JSON lines.
2. Runs one Flink SQL job (PyFlink's local MiniCluster, batch mode,
   parallelism 2) with real worker processes: python.executable is the
   flinkfn binary, _python_worker_execution_mode=process. The functions are
   declared exactly as with the stock Python worker:
       CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON
   taskmanager.memory.managed.size = parallelism x 640m: flinkfn's memory
   budget in PROCESS mode is the slot's managed memory for Python, which
   must hold framework + buffer + the model (scripts/main_job.py).
3. Writes the embeddings as JSON lines (Flink's filesystem sink, format json):
       .cache/demo/out/accountholders/  {"account_id": ..., "embedding": [384 floats]}
       .cache/demo/out/transactions/    {"txn_id": ..., "account_id": ..., "embedding": [...]}
   prints progress while the job runs and rows/s at the end, then checks
   the output: one row per input row, 384 floats each, and the first 120
   account holders and transactions equal sentence-transformers' vectors
   (inference/testdata/golden-minilm.jsonl.gz, cosine >= 0.99999).

Usage: make demo   (or .cache/venv/bin/python scripts/devlab/demo.py [--int8] [--accountholders N] [--transactions M])
"""

import argparse
import glob
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts, main_job
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT

import main_job  # noqa: E402  (the job's SQL, shared with bench/bench_embed.py)


def count_lines(root):
    """Rows written so far: newlines in every file under root, hidden and
    in-progress files included."""
    n = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            try:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    n += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
            except OSError:
                pass
    return n


def read_output(root):
    rows = []
    for p in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
        base = os.path.basename(p)
        if os.path.isfile(p) and not base.startswith(".") and not base.startswith("_"):
            with open(p, encoding="utf-8") as f:
                rows.extend(json.loads(line) for line in f if line.strip())
    return rows


# The output check devlab_job.py uses too.
cosine = fs.cosine


def load_golden():
    """{("ah", account_id) or ("tx", txn_id): sentence-transformers' vector}
    of the golden rows (the output checks here and in devlab_job.py)."""
    golden = {}
    with gzip.open(fs.GOLDEN_MINILM, "rt", encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            if g.get("fn") == "ah_embed":
                golden[("ah", g["row"]["account_id"])] = g["vector"]
            elif g.get("fn") == "txn_embed":
                golden[("tx", g["row"]["txn_id"])] = g["vector"]
    return golden


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flinkfn", default=os.path.join(ROOT, ".cache", "bin", "flinkfn"))
    ap.add_argument("--accountholders", type=int, default=10_000)
    ap.add_argument("--transactions", type=int, default=100_000)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--int8", action="store_true", help="the quantised model variant")
    ap.add_argument("--managed-memory", default=None,
                    help="taskmanager.memory.managed.size (default: parallelism x %dm, flinkfn's budget "
                         "per slot)" % main_job.MANAGED_PER_SLOT_MIB)
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache", "demo", "out"))
    args = ap.parse_args()
    if not os.access(args.flinkfn, os.X_OK):
        print(f"flinkfn binary not found at {args.flinkfn}: run `make build`", file=sys.stderr)
        return 1

    data = os.path.join(ROOT, ".cache", "demo", "data", f"{args.accountholders}-{args.transactions}")
    if not os.path.exists(os.path.join(data, "transactions.jsonl")):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fixtures", "gen_sample_data.py"), "--out", data,
                        "--accountholders", str(args.accountholders), "--transactions", str(args.transactions)],
                       check=True)
    shutil.rmtree(args.out, ignore_errors=True)
    out_ah = os.path.join(args.out, "accountholders")
    out_tx = os.path.join(args.out, "transactions")

    # Real worker processes launched by the TaskManager, not PyFlink's loopback threads.
    os.environ["_python_worker_execution_mode"] = "process"
    if args.int8:
        os.environ["FLINKFN_MODEL_VARIANT"] = "int8"
    marker = tempfile.NamedTemporaryFile(prefix="flinkfn-demo-", suffix=".workers", delete=False).name
    os.environ["FLINKFN_MARKER_FILE"] = marker
    sys.path.insert(0, ROOT)

    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", os.path.abspath(args.flinkfn))
    conf.set("python.client.executable", sys.executable)
    conf.set("python.pythonpath", ROOT)
    conf.set("parallelism.default", str(args.parallelism))
    # flinkfn's memory budget per worker (PROCESS mode) = the slot's managed
    # memory for Python; the MiniCluster's default (128m in all) is too small.
    conf.set("taskmanager.memory.managed.size", args.managed_memory or main_job.managed_memory_size(args.parallelism))

    stmts = main_job.statement_set(t_env, data, out_ah, out_tx)

    total = args.accountholders + args.transactions
    print(f"[demo] embedding {args.accountholders:,} account holders and {args.transactions:,} transactions "
          f"with flinkfn ({'int8' if args.int8 else 'fp32'}), parallelism {args.parallelism}", flush=True)
    start = time.monotonic()
    done = threading.Event()

    def progress():
        while not done.wait(5):
            n = count_lines(args.out)
            el = time.monotonic() - start
            print(f"[demo] {el:6.1f} s: {n:,} / {total:,} rows written ({n / el:,.0f} rows/s)", flush=True)

    th = threading.Thread(target=progress, daemon=True)
    th.start()
    try:
        stmts.execute().wait()
    finally:
        done.set()
        th.join()
    elapsed = time.monotonic() - start

    ah = read_output(out_ah)
    tx = read_output(out_tx)
    with open(marker) as f:
        workers = {line.split()[0] for line in f if line.strip()}
    os.unlink(marker)
    print(f"[demo] done in {elapsed:.1f} s: {len(ah) + len(tx):,} rows, {(len(ah) + len(tx)) / elapsed:,.0f} rows/s "
          f"(job wall time incl. start-up), {len(workers)} flinkfn worker process(es)")
    print(f"[demo] output: {out_ah}/ and {out_tx}/ (JSON lines)")

    problems = []
    if not workers:
        problems.append("flinkfn was not used as the worker")
    if len(ah) != args.accountholders:
        problems.append(f"{len(ah)} account holder rows, want {args.accountholders}")
    if len(tx) != args.transactions:
        problems.append(f"{len(tx)} transaction rows, want {args.transactions}")
    bad = [r for r in ah + tx if r["embedding"] is None or len(r["embedding"]) != 384]
    if bad:
        problems.append(f"{len(bad)} rows without a 384-float embedding, e.g. {str(bad[0])[:200]}")

    golden = load_golden()
    got = {("ah", r["account_id"]): r["embedding"] for r in ah}
    got.update({("tx", r["txn_id"]): r["embedding"] for r in tx})
    # Only the golden rows this input has (fewer than 120 of a kind with a
    # small --accountholders / --transactions).
    inputs = set()
    for name, kind, col in (("accountholders", "ah", "account_id"), ("transactions", "tx", "txn_id")):
        with open(os.path.join(data, name + ".jsonl"), encoding="utf-8") as f:
            inputs.update((kind, json.loads(line)[col]) for line in f if line.strip())
    golden = {k: v for k, v in golden.items() if k in inputs}
    cos = [cosine(v, got[k]) for k, v in golden.items() if k in got and got[k]]
    floor = 0.98 if args.int8 else 0.99999
    if len(cos) != len(golden):
        problems.append(f"only {len(cos)} of {len(golden)} golden rows in the output")
    elif min(cos) < floor:
        problems.append(f"min cosine to sentence-transformers {min(cos):.6f} < {floor}")
    if cos:
        print(f"[demo] {len(cos)} rows checked against sentence-transformers: min cosine {min(cos):.7f}")
    for p in problems:
        print(f"[demo] FAIL: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
