#!/usr/bin/env python3
"""Pandas (Arrow) embedding benchmark: the demo's job with ah_embed and
txn_embed declared pandas-style, on the stock worker and on flinkfn.

    make bench-pandas
    .cache/venv/bin/python scripts/bench/bench_pandas.py [--accountholders 300] [--transactions 3000]
        [--cases stock-pandas,flinkfn-pandas,flinkfn-row] [--arrow-batch-size 1000] [--no-write]

The job is scripts/main_job.py's statement set (PyFlink's local
MiniCluster, batch mode, parallelism 2, _python_worker_execution_mode =
process, the sample data of scripts/fixtures/gen_sample_data.py) with the functions
declared

  stock-pandas    (a) CREATE TEMPORARY FUNCTION ah_embed AS 'udfs.ah_embed_udf.ah_embed_pandas'
                  (func_type="pandas": the stock worker hands each Arrow batch
                  to the Python stub, which calls sentence-transformers' encode
                  once on all its texts), python.executable = .cache/ref-venv/bin/python
  flinkfn-pandas  (b) the same declarations, python.executable = flinkfn
  flinkfn-row     (c) the row-at-a-time declarations ('udfs.ah_embed_udf.ah_embed'), flinkfn

Each case runs in a fresh driver interpreter; the measured time is the
job's execution (from submission to the end, model loads included), rows/s
= input rows / that time; worker peak RSS = the largest sum of the worker
processes' VmRSS at one 0.1 s sample (scripts/bench/bench_embed.py's monitor).
Every output is checked (one row per input row, 384 floats, NULL where the
text is NULL) and the cases' vectors are compared with each other (cosine).
Writes the "Pandas (Arrow) embedding functions" section of BENCHMARKS.md.
"""

import argparse
import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: flinkfn_scripts, main_job
import flinkfn_scripts as fs  # noqa: E402

REPO = Path(fs.ROOT)

import bench_embed  # noqa: E402  (data, rendering, output checks, the /proc monitor)
import bench_harness  # noqa: E402
import main_job  # noqa: E402

SECTION = "## Pandas (Arrow) embedding functions"
CASES = {
    "stock-pandas": {"stock": True, "pandas": True},
    "flinkfn-pandas": {"stock": False, "pandas": True},
    "flinkfn-row": {"stock": False, "pandas": False},
}


log = fs.logger("bench-pandas", sys.stderr)


def driver(a):
    t_env = bench_embed.driver_table_env(a.executable, a.parallelism, main_job.managed_memory_size(a.parallelism))
    conf = t_env.get_config()
    conf.set("python.fn-execution.arrow.batch.size", str(a.arrow_batch_size))
    out_ah, out_tx = os.path.join(a.job_out, "accountholders"), os.path.join(a.job_out, "transactions")
    stmts = main_job.statement_set(t_env, a.data, out_ah, out_tx)
    if a.pandas:
        # The same job with the functions declared pandas-style: the DDL's
        # later CREATE replaces the row-at-a-time declaration.
        for name, mod in (("ah_embed", "ah_embed_udf"), ("txn_embed", "txn_embed_udf")):
            t_env.execute_sql("DROP TEMPORARY FUNCTION %s" % name)
            t_env.execute_sql("CREATE TEMPORARY FUNCTION %s AS 'udfs.%s.%s_pandas' LANGUAGE PYTHON" % (name, mod, name))
        stmts = main_job.inserts(t_env)
    print("BENCH_START %.6f" % time.time(), flush=True)
    stmts.execute().wait()
    print("BENCH_END %.6f" % time.time(), flush=True)
    return 0


def run_case(args, case, data, expected):
    spec = CASES[case]
    executable = str(args.stock_python) if spec["stock"] else str(args.flinkfn)
    out = str(args.work / case)
    cmd = [str(args.python), str(Path(__file__).resolve()), "--driver", "--executable", executable,
           "--data", str(data), "--job-out", out, "--parallelism", str(args.parallelism),
           "--arrow-batch-size", str(args.arrow_batch_size)] + (["--pandas"] if spec["pandas"] else [])
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    for k in ("FLINKFN_MODEL_VARIANT", "FLINKFN_POOL", "PYTHON_LOOPBACK_SERVER_ADDRESS"):
        env.pop(k, None)
    tag = "%d-%d" % (os.getpid(), time.time_ns())
    env["FLINKFN_BENCH_TAG"] = tag
    subprocess.run(["rm", "-rf", out], check=True)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(REPO),
                            start_new_session=True, text=True, bufsize=1)
    mon = bench_embed.EmbedMonitor(proc.pid)
    mon.tag = "FLINKFN_BENCH_TAG=" + tag
    mon.start()
    marks, tail = {}, []

    def reader():
        for line in proc.stdout:
            if line.startswith(("BENCH_START", "BENCH_END")):
                mark, ts = line.split()
                marks[mark] = float(ts)
            else:
                tail.append(line)
                del tail[:-200]
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    try:
        rc = proc.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = "timeout after %d s" % args.timeout
    rt.join(5)
    mon.stop()
    if rc != 0 or "BENCH_END" not in marks:
        raise RuntimeError("case %s failed (rc=%s):\n%s" % (case, rc, "".join(tail[-80:])))
    if not mon.workers:
        raise RuntimeError("case %s: no worker process found" % case)
    wall = marks["BENCH_END"] - marks["BENCH_START"]
    got = bench_embed.read_job_output(out, expected)
    return {"case": case, "rows": len(expected), "wall_s": wall, "rows_per_s": len(expected) / wall,
            "workers": len(mon.workers), "rss_sum_mib": mon.rss_sum_kb / 1024,
            "rss_max_mib": max(w["hwm"] for w in mon.workers.values()) / 1024,
            "worker_cpu_s": sum(w["cpu"] for w in mon.workers.values()) / bench_harness.CLK_TCK}, got


def render(args, results, cos, load_before, load_after, started, commit):
    L = [SECTION, "",
         "- Command: `make bench-pandas` (scripts/bench/bench_pandas.py%s)" % (
             "" if args.accountholders == 300 and args.transactions == 3000 else
             " --accountholders %d --transactions %d" % (args.accountholders, args.transactions)),
         "- Date: %s; load average %.2f before, %.2f after (the 2 cores are shared: the numbers move with it); "
         "flinkfn commit %s" % (started, load_before, load_after, commit),
         "- The demo's job (ah_embed over %d account holders, txn_embed over %d transactions; PyFlink 2.3.0 "
         "MiniCluster, parallelism 2, PROCESS mode, python.fn-execution.arrow.batch.size %d). (a) and (b) declare "
         "the functions pandas-style (`udfs.*_udf.*_embed_pandas`), (c) row-at-a-time. Time = the job's execution, "
         "model loads included. Worker RSS = the largest sum of the workers' VmRSS at one sample."
         % (args.accountholders, args.transactions, args.arrow_batch_size),
         "",
         "| case | worker | rows | wall s | rows/s | worker peak RSS MiB (sum at once) | max single | worker CPU s |",
         "|---|---|---|---|---|---|---|---|"]
    names = {"stock-pandas": "(a) pandas, stock worker + sentence-transformers (batched encode)",
             "flinkfn-pandas": "(b) pandas, flinkfn fp32", "flinkfn-row": "(c) row-at-a-time, flinkfn fp32"}
    for r in results:
        L.append("| %s | %d | %d | %.1f | %.1f | %.0f | %.0f | %.1f |" % (
            names[r["case"]], r["workers"], r["rows"], r["wall_s"], r["rows_per_s"], r["rss_sum_mib"],
            r["rss_max_mib"], r["worker_cpu_s"]))
    by = {r["case"]: r for r in results}
    L.append("")
    if "stock-pandas" in by and "flinkfn-pandas" in by:
        a, b = by["stock-pandas"], by["flinkfn-pandas"]
        L.append("- (b) vs (a): %.2f× the rows/s at %.0f %% of the workers' RSS (goal: ≥ 2× at ≤ 50 %%)." % (
            b["rows_per_s"] / a["rows_per_s"], 100 * b["rss_sum_mib"] / a["rss_sum_mib"]))
    if "flinkfn-row" in by and "flinkfn-pandas" in by:
        b, c = by["flinkfn-pandas"], by["flinkfn-row"]
        L.append("- (b) pandas vs (c) row-at-a-time on flinkfn: %.2f× the rows/s (both feed the same shared batcher)."
                 % (b["rows_per_s"] / c["rows_per_s"]))
    for (x, y), (n, lo, mean) in cos.items():
        L.append("- vectors %s vs %s: %d rows, min cosine %.7f, mean %.9f." % (x, y, n, lo, mean))
    return "\n".join(L) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--executable")
    p.add_argument("--data")
    p.add_argument("--job-out")
    p.add_argument("--pandas", action="store_true")
    p.add_argument("--parallelism", type=int, default=2)
    p.add_argument("--arrow-batch-size", type=int, default=1000)
    p.add_argument("--accountholders", type=int, default=300)
    p.add_argument("--transactions", type=int, default=3000)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--python", default=str(REPO / ".cache" / "venv" / "bin" / "python"))
    p.add_argument("--stock-python", default=str(REPO / ".cache" / "ref-venv" / "bin" / "python"))
    p.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", str(REPO / ".cache" / "bin" / "flinkfn")))
    p.add_argument("--work", default=str(REPO / ".cache" / "bench-pandas"))
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--no-write", action="store_true")
    a = p.parse_args(argv)
    if a.driver:
        return driver(a)
    a.work = Path(a.work)
    a.work.mkdir(parents=True, exist_ok=True)
    for path, what in ((a.stock_python, "make ref-venv"), (a.flinkfn, "make build")):
        if not Path(path).exists():
            sys.exit("bench-pandas: %s not found (%s)" % (path, what))
    load_before = os.getloadavg()[0]
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True,
                            text=True).stdout.strip()
    log("load average %.2f before" % load_before)
    data = bench_embed.ensure_data(Path(a.python), a.accountholders, a.transactions)
    expected = dict(bench_embed.render_rows(data))
    results, outputs = [], {}
    for case in a.cases.split(","):
        log("case %s ..." % case)
        r, got = run_case(a, case, data, expected)
        log("  %s: %.1f s, %.1f rows/s, workers' RSS %.0f MiB" % (case, r["wall_s"], r["rows_per_s"], r["rss_sum_mib"]))
        results.append(r)
        outputs[case] = got
    cos = {}
    names = list(outputs)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            n, lo, mean = bench_embed.compare(outputs[names[i]], outputs[names[j]])
            cos[(names[i], names[j])] = (n, lo, mean)
            if lo is None or lo < 0.99999:
                sys.exit("bench-pandas: %s and %s disagree: min cosine %s over %d rows" % (names[i], names[j], lo, n))
    text = render(a, results, cos, load_before, os.getloadavg()[0], started, commit)
    print(text)
    if not a.no_write:
        bench_harness.write_section(REPO / "BENCHMARKS.md", text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
