#!/usr/bin/env python3
"""devlab's job: the main job's SQL submitted to a running Flink session
cluster with Flink's SQL client, waited for over REST, its output verified and
the flinkfn pools' metrics summarised.

    devlab_job.py --flink-home DIR --conf-dir DIR [--rest URL] [--metrics URL ...]
                  [--accountholders N] [--transactions M] [--data-root DIR] [--out DIR]

1. Sample data: scripts/fixtures/gen_sample_data.py (deterministic) into
   DATA_ROOT/<N>-<M>/ unless already there.
2. The SQL: scripts/main_job.py's statements (the one definition of the main
   job: ah_embed over the account holders, txn_embed over the transactions,
   one statement set), recorded into a SQL client script (batch mode,
   `EXECUTE STATEMENT SET`), written to WORK/job.sql.
3. Submits it with FLINK_HOME/bin/sql-client.sh -f (embedded gateway, the
   cluster of CONF_DIR/config.yaml: rest.address/rest.port); the client plans
   the `LANGUAGE PYTHON` functions with --python (PyFlink) and the repository
   root (the `udfs` modules) on its PYTHONPATH.
4. Waits for the job over REST (GET /jobs/<id>), printing rows written every
   5 s; cancels it after --timeout.
5. Verifies the output (JSON lines under OUT/accountholders, OUT/transactions):
   one row per input row, 384 floats each, and the rows of
   inference/testdata/golden-minilm.jsonl.gz (the first 120 account holders
   and transactions) equal sentence-transformers' vectors, cosine >= 0.99999.
6. Fetches /metrics from every flinkfn pool (--metrics; a host name that
   resolves to several addresses, like a scaled compose service, means one
   pool per address), prints a summary and, with --expect-pool, checks one
   model load per pool and at least one session.

Used by scripts/devlab/devlab_local.py (the docker-less cluster) and by the `job`
service of devlab/docker-compose.yaml. Exit status 0 when everything checks.
"""

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts, main_job
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT

import demo  # noqa: E402  (read_output, count_lines, cosine, load_golden: the demo's output checks)
import main_job  # noqa: E402  (the main job's SQL)

DIMS = 384


log = fs.logger("devlab")


# ---------------------------------------------------------------- the SQL

class _Recorder:
    """Stands in for a TableEnvironment and its statement set: records what
    main_job.statement_set declares, in order."""

    def __init__(self):
        self.statements = []
        self.inserts = []

    def execute_sql(self, sql):
        self.statements.append(sql)

    def create_statement_set(self):
        return self

    def add_insert_sql(self, sql):
        self.inserts.append(sql)
        return self


def _clean(sql):
    lines = [ln.rstrip() for ln in sql.strip().splitlines()]
    indent = min((len(ln) - len(ln.lstrip()) for ln in lines[1:] if ln.strip()), default=0)
    return "\n".join([lines[0]] + [ln[indent:] for ln in lines[1:]])


def job_sql(data, out_ah, out_tx, client_python, pythonpath, name="flinkfn-devlab-embed", paths=(None, None)):
    """The SQL client script of the main job (scripts/main_job.py's
    statements) reading data/ (or paths: the account holders' and the
    transactions' file or folder) and writing out_ah, out_tx."""
    rec = _Recorder()
    main_job.statement_set(rec, data, out_ah, out_tx, *paths)
    if any(";" in s for s in rec.statements + rec.inserts):
        raise ValueError("main_job's SQL contains ';': cannot be split by the SQL client")
    out = [
        "-- The main job (scripts/main_job.py), written by scripts/devlab/devlab_job.py for sql-client.sh -f.",
        "SET 'execution.runtime-mode' = 'batch';",
        "SET 'table.dml-sync' = 'false';",
        f"SET 'pipeline.name' = '{name}';",
        "-- Planning LANGUAGE PYTHON functions: a Python with PyFlink that imports udfs.",
        f"SET 'python.client.executable' = '{client_python}';",
        f"SET 'python.pythonpath' = '{pythonpath}';",
        "",
    ]
    out += [_clean(s) + ";\n" for s in rec.statements]
    out.append("EXECUTE STATEMENT SET\nBEGIN")
    out += [_clean(s) + ";" for s in rec.inserts]
    out.append("END;\n")
    return "\n".join(out)


# ---------------------------------------------------------------- REST

def rest_get(base, path, timeout=10):
    with urllib.request.urlopen(base.rstrip("/") + path, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


def rest_cancel(base, job_id):
    req = urllib.request.Request(f"{base.rstrip('/')}/jobs/{job_id}?mode=cancel", method="PATCH")
    try:
        urllib.request.urlopen(req, timeout=10).read()
        return True
    except (urllib.error.URLError, OSError):
        return False


def rest_from_config(conf_dir):
    """http://rest.address:rest.port from conf_dir/config.yaml."""
    import yaml
    with open(os.path.join(conf_dir, "config.yaml"), encoding="utf-8") as f:
        flat = flatten(yaml.safe_load(f) or {})
    host = flat.get("rest.address") or flat.get("jobmanager.rpc.address") or "localhost"
    return f"http://{host}:{flat.get('rest.port', 8081)}"


def flatten(d, prefix=""):
    """Flink's view of a nested config.yaml: dotted keys."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


# ---------------------------------------------------------------- submit and wait

def client_conf_dir(flink_home, conf_dir, work):
    """FLINK_CONF_DIR for the SQL client: the distribution's logging files
    and conf_dir/config.yaml."""
    d = os.path.join(work, "client-conf")
    os.makedirs(d, exist_ok=True)
    for f in glob.glob(os.path.join(flink_home, "conf", "*")):
        if os.path.isfile(f) and os.path.basename(f) != "config.yaml":
            shutil.copy(f, d)
    shutil.copy(os.path.join(conf_dir, "config.yaml"), os.path.join(d, "config.yaml"))
    return d


def submit(flink_home, conf_dir, sql_file, work, pythonpath, timeout=300, env=None):
    """Runs sql-client.sh -f sql_file; returns the job id it submitted."""
    e = dict(env if env is not None else os.environ)
    e["FLINK_CONF_DIR"] = client_conf_dir(flink_home, conf_dir, work)
    e["FLINK_LOG_DIR"] = os.path.join(work, "log")
    e["PYTHONPATH"] = pythonpath + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.pop("_FLINK_HOME_DETERMINED", None)
    os.makedirs(e["FLINK_LOG_DIR"], exist_ok=True)
    cmd = [os.path.join(flink_home, "bin", "sql-client.sh"), "-f", sql_file]
    log(f"submitting with {' '.join(cmd)}")
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    with open(os.path.join(work, "sql-client.out"), "w", encoding="utf-8") as f:
        f.write(out)
    m = re.search(r"Job ID:\s*([0-9a-f]{32})", out)
    if p.returncode != 0 or not m or "[ERROR]" in out:
        tail = "\n".join(out.strip().splitlines()[-40:])
        raise RuntimeError(f"sql-client.sh exited {p.returncode} without submitting the job "
                           f"(log: {work}/sql-client.out, {e['FLINK_LOG_DIR']}/):\n{tail}")
    log(f"submitted job {m.group(1)} in {time.monotonic() - t0:.1f} s")
    return m.group(1)


def wait_for(rest, job_id, out, total, timeout, alive=None):
    """Polls the job until it ends; returns its final REST document. alive(),
    when given, is called every poll and raises if the cluster died."""
    start = time.monotonic()
    last = 0.0
    state = None
    while True:
        if alive:
            alive()
        try:
            job = rest_get(rest, f"/jobs/{job_id}")
        except (urllib.error.URLError, OSError, ValueError) as ex:
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"job {job_id}: REST unreachable: {ex}")
            time.sleep(1)
            continue
        if job.get("state") != state:
            state = job.get("state")
            log(f"job {job_id}: {state}")
        if state in ("FINISHED", "FAILED", "CANCELED"):
            return job
        el = time.monotonic() - start
        if el - last >= 5:
            last = el
            n = demo.count_lines(out)
            log(f"{el:6.1f} s: {n:,} / {total:,} rows written ({n / el:,.0f} rows/s)")
        if el > timeout:
            rest_cancel(rest, job_id)
            raise RuntimeError(f"job {job_id} still {state} after {timeout} s: cancelled")
        time.sleep(1)


def job_exception(rest, job_id):
    try:
        ex = rest_get(rest, f"/jobs/{job_id}/exceptions")
    except (urllib.error.URLError, OSError, ValueError):
        return "(no exception history)"
    entries = (ex.get("exceptionHistory") or {}).get("entries") or []
    trace = entries[0].get("stacktrace", "") if entries else str(ex.get("root-exception", ""))
    # the first line and the innermost causes say what went wrong
    lines = trace.splitlines()
    causes = [ln for ln in lines if ln.startswith("Caused by:")]
    return "\n".join(lines[:1] + causes[-3:])[:4000]


# ---------------------------------------------------------------- output

def verify(out_ah, out_tx, n_ah, n_tx, floor=0.99999):
    """Returns (problems, stats)."""
    ah = demo.read_output(out_ah)
    tx = demo.read_output(out_tx)
    problems = []
    if len(ah) != n_ah:
        problems.append(f"{len(ah):,} account holder rows, want {n_ah:,}")
    if len(tx) != n_tx:
        problems.append(f"{len(tx):,} transaction rows, want {n_tx:,}")
    if len({r["account_id"] for r in ah}) != len(ah) or len({r["txn_id"] for r in tx}) != len(tx):
        problems.append("duplicate keys in the output")
    bad = [r for r in ah + tx if not isinstance(r.get("embedding"), list) or len(r["embedding"]) != DIMS]
    if bad:
        problems.append(f"{len(bad)} rows without a {DIMS}-float embedding, e.g. {str(bad[0])[:200]}")
    golden = demo.load_golden()
    got = {("ah", r["account_id"]): r["embedding"] for r in ah}
    got.update({("tx", r["txn_id"]): r["embedding"] for r in tx})
    want = {k: v for k, v in golden.items()
            if (k[0] == "ah" and int(k[1][2:]) < n_ah) or (k[0] == "tx" and int(k[1][2:]) < n_tx)}
    cos = [demo.cosine(v, got[k]) for k, v in want.items() if got.get(k)]
    if len(cos) != len(want):
        problems.append(f"only {len(cos)} of {len(want)} golden rows in the output")
    elif cos and min(cos) < floor:
        problems.append(f"min cosine to sentence-transformers {min(cos):.7f} < {floor}")
    return problems, {"ah": len(ah), "tx": len(tx), "golden": len(cos), "min_cosine": min(cos) if cos else None}


# ---------------------------------------------------------------- metrics

def metric_urls(urls):
    """Expands each URL whose host resolves to several addresses (a scaled
    compose service) into one URL per address."""
    out = []
    for u in urls:
        p = urllib.parse.urlsplit(u)
        try:
            addrs = sorted({ai[4][0] for ai in socket.getaddrinfo(p.hostname, p.port or 80, type=socket.SOCK_STREAM)})
        except OSError:
            addrs = []
        if len(addrs) <= 1:
            out.append(u)
            continue
        for a in addrs:
            host = f"[{a}]" if ":" in a else a
            out.append(urllib.parse.urlunsplit((p.scheme, f"{host}:{p.port}", p.path, p.query, "")))
    return out


def fetch_metrics(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return fs.parse_metrics(r.read().decode("utf-8"))


class Metrics:
    def __init__(self, samples):
        self.samples = samples

    def sum(self, name, **labels):
        return sum(v for n, lb, v in self.samples
                   if n == name and all(lb.get(k) == w for k, w in labels.items()))

    def by(self, name, label):
        out = {}
        for n, lb, v in self.samples:
            if n == name:
                out[lb.get(label, "")] = out.get(lb.get(label, ""), 0) + v
        return out

    def has(self, name):
        return any(n == name for n, _, _ in self.samples)


def _mib(b):
    return f"{b / (1 << 20):,.1f} MiB"


def _kv(d, fmt="{:,.0f}"):
    return ", ".join(f"{k or '-'} {fmt.format(v)}" for k, v in sorted(d.items())) or "none"


def summarise(m):
    """Lines summarising one pool's metrics."""
    lines = []
    loads = m.sum("flinkfn_model_loads_total")
    models = ", ".join(f"{lb.get('model', '?')} {lb.get('variant', '?')}" for n, lb, v in m.samples
                       if n == "flinkfn_model_loads_total" and v > 0)
    ls, lc = m.sum("flinkfn_model_load_seconds_sum"), m.sum("flinkfn_model_load_seconds_count")
    if not lc and m.has("flinkfn_model_load_seconds"):
        ls, lc = m.sum("flinkfn_model_load_seconds"), 1
    lines.append(f"model loads      {loads:.0f} ({models or 'none'})" + (f", {ls / lc:.2f} s each" if lc else ""))
    lines.append(f"sessions         started {m.sum('flinkfn_sessions_started_total'):.0f}, "
                 f"active {m.sum('flinkfn_sessions_active'):.0f}, "
                 f"refused {m.sum('flinkfn_sessions_refused_total'):.0f}"
                 + (f" ({_kv(m.by('flinkfn_sessions_refused_total', 'reason'))})"
                    if m.sum("flinkfn_sessions_refused_total") else ""))
    lines.append(f"rows             {_kv(m.by('flinkfn_rows_total', 'function'))}; "
                 f"bundles {_kv(m.by('flinkfn_bundles_total', 'function'))}")
    lines.append(f"texts embedded   {_kv(m.by('flinkfn_texts_embedded_total', 'function'))}; "
                 f"truncated {_kv(m.by('flinkfn_texts_truncated_total', 'function'))}")
    n, s = m.sum("flinkfn_inference_seconds_count"), m.sum("flinkfn_inference_seconds_sum")
    br_n, br_s = m.sum("flinkfn_batch_rows_count"), m.sum("flinkfn_batch_rows_sum")
    bt_n, bt_s = m.sum("flinkfn_batch_tokens_count"), m.sum("flinkfn_batch_tokens_sum")
    inf = f"inference        {n:,.0f} runs, {s:.1f} s in all"
    if n:
        inf += f", mean {1000 * s / n:.1f} ms"
    if br_n:
        inf += f"; mean batch {br_s / br_n:.1f} rows"
    if bt_n:
        inf += f", {bt_s / bt_n:,.0f} tokens"
    lines.append(inf)
    lines.append(f"queue            {m.sum('flinkfn_queue_tokens'):,.0f} tokens waiting")
    errs = m.by("flinkfn_errors_total", "kind")
    lines.append(f"errors           {sum(errs.values()):.0f}" + (f" ({_kv(errs)})" if sum(errs.values()) else ""))
    if m.has("flinkfn_memory_limit_bytes") or m.has("flinkfn_memory_used_bytes"):
        res = m.by("flinkfn_memory_reserved_bytes", "kind")
        lines.append(f"memory           limit {_mib(m.sum('flinkfn_memory_limit_bytes'))}, "
                     f"used {_mib(m.sum('flinkfn_memory_used_bytes'))}, reserved {_mib(sum(res.values()))}"
                     + (f" ({', '.join(f'{k} {_mib(v)}' for k, v in sorted(res.items()))})" if res else ""))
    return lines


def check_pools(urls, n_ah, n_tx, expect_pool):
    """Prints each pool's summary; returns problems."""
    problems = []
    total_loads = total_sessions = 0
    for url in metric_urls(urls):
        try:
            m = Metrics(fetch_metrics(url))
        except (urllib.error.URLError, OSError) as ex:
            problems.append(f"cannot read pool metrics {url}: {ex}")
            continue
        log(f"flinkfn pool metrics ({url}):")
        for line in summarise(m):
            print(f"    {line}", flush=True)
        loads = m.sum("flinkfn_model_loads_total")
        sessions = m.sum("flinkfn_sessions_started_total")
        total_loads += loads
        total_sessions += sessions
        if expect_pool and loads != 1:
            problems.append(f"{url}: flinkfn_model_loads_total is {loads:.0f}, want 1 (one model per pool)")
        errs = m.sum("flinkfn_errors_total")
        if errs:
            problems.append(f"{url}: flinkfn_errors_total is {errs:.0f}")
        rows = m.by("flinkfn_rows_total", "function")
        counted = tuple(sum(v for k, v in rows.items() if k.rsplit(".", 1)[-1] == fn) for fn in ("ah_embed", "txn_embed"))
        if len(urls) == 1 and rows and counted != (n_ah, n_tx):
            log(f"note: the pool counted {counted[0]:,.0f} + {counted[1]:,.0f} rows, the job read {n_ah:,} + {n_tx:,}")
        limit, used = m.sum("flinkfn_memory_limit_bytes"), m.sum("flinkfn_memory_used_bytes")
        if limit and used > limit:
            log(f"warning: the pool's resident set {_mib(used)} is above its budget {_mib(limit)} "
                "(taskmanager.memory.managed.size): memory outside Flink's plan")
    if expect_pool and total_sessions < 1:
        problems.append(f"flinkfn_sessions_started_total is {total_sessions:.0f}: no session was served by a pool")
    return problems


# ---------------------------------------------------------------- main

def ensure_data(data_root, n_ah, n_tx):
    data = os.path.join(data_root, f"{n_ah}-{n_tx}")
    if not os.path.exists(os.path.join(data, "transactions.jsonl")):
        log(f"generating {n_ah:,} account holders and {n_tx:,} transactions into {data}")
        tmp = data + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fixtures", "gen_sample_data.py"), "--out", tmp,
                        "--accountholders", str(n_ah), "--transactions", str(n_tx)], check=True)
        shutil.rmtree(data, ignore_errors=True)
        os.rename(tmp, data)
    return data


def split_data(data, parts):
    """data/{accountholders,transactions}.jsonl in `parts` files each, under
    data/split-<parts>/<table>/ (the filesystem source makes a split of each
    file, so up to `parts` source subtasks get rows); returns the two folders."""
    out = []
    for table in ("accountholders", "transactions"):
        d = os.path.join(data, f"split-{parts}", table)
        if not os.path.isdir(d):
            tmp = d + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            files = [open(os.path.join(tmp, f"part-{i:03d}.jsonl"), "w", encoding="utf-8") for i in range(parts)]
            with open(os.path.join(data, f"{table}.jsonl"), encoding="utf-8") as f:
                for n, line in enumerate(f):
                    files[n % parts].write(line)
            for fh in files:
                fh.close()
            os.rename(tmp, d)
        out.append(d)
    return tuple(out)


def run(flink_home, conf_dir, rest=None, metrics=(), n_ah=500, n_tx=5000, data_root=None, out=None,
        python=None, pythonpath=ROOT, work=None, timeout=900, expect_pool=False, env=None, alive=None, split=0):
    """The whole job; returns the exit status. split > 0: the input in that
    many files per table (split_data)."""
    data_root = data_root or os.path.join(ROOT, ".cache", "devlab", "data")
    out = out or os.path.join(ROOT, ".cache", "devlab", "out")
    work = work or tempfile.mkdtemp(prefix="devlab-job-")
    os.makedirs(work, exist_ok=True)
    rest = rest or rest_from_config(conf_dir)
    data = ensure_data(data_root, n_ah, n_tx)
    shutil.rmtree(out, ignore_errors=True)
    out_ah, out_tx = os.path.join(out, "accountholders"), os.path.join(out, "transactions")
    sql_file = os.path.join(work, "job.sql")
    with open(sql_file, "w", encoding="utf-8") as f:
        f.write(job_sql(data, out_ah, out_tx, python or sys.executable, pythonpath,
                        paths=split_data(data, split) if split > 0 else (None, None)))
    total = n_ah + n_tx
    log(f"embedding {n_ah:,} account holders and {n_tx:,} transactions on {rest}")
    t0 = time.monotonic()
    job_id = submit(flink_home, conf_dir, sql_file, work, pythonpath, env=env)
    job = wait_for(rest, job_id, out, total, timeout, alive)
    wall = time.monotonic() - t0
    if job.get("state") != "FINISHED":
        log(f"FAIL: job {job_id} {job.get('state')}:\n{job_exception(rest, job_id)}")
        return 1
    dur = (job.get("duration") or 0) / 1000 or wall
    problems, st = verify(out_ah, out_tx, n_ah, n_tx)
    rows = st["ah"] + st["tx"]
    log(f"job {job_id} FINISHED: {rows:,} rows in {dur:.1f} s ({rows / dur:,.0f} rows/s, job time on the cluster); "
        f"{wall:.1f} s from submission ({rows / wall:,.0f} rows/s)")
    log(f"output: {out_ah}/ ({st['ah']:,} rows) and {out_tx}/ ({st['tx']:,} rows), {DIMS} floats each")
    if st["min_cosine"] is not None:
        log(f"{st['golden']} rows checked against sentence-transformers: min cosine {st['min_cosine']:.7f}")
    if metrics:
        problems += check_pools(list(metrics), n_ah, n_tx, expect_pool)
    for p in problems:
        log(f"FAIL: {p}")
    if not problems:
        log("OK: row counts, vector dimensions and golden vectors check")
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--flink-home", default=os.environ.get("FLINK_HOME"), help="Flink distribution (bin/sql-client.sh)")
    ap.add_argument("--conf-dir", required=True, help="directory with the cluster's config.yaml")
    ap.add_argument("--rest", help="JobManager REST URL (default: rest.address/rest.port of the config)")
    ap.add_argument("--metrics", action="append", default=[], help="flinkfn pool /metrics URL (repeatable)")
    ap.add_argument("--expect-pool", action="store_true", default=None,
                    help="check one model load per pool and >= 1 session (default: with --metrics)")
    ap.add_argument("--accountholders", type=int, default=int(os.environ.get("DEVLAB_ACCOUNTHOLDERS", "500")))
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("DEVLAB_TRANSACTIONS", "5000")))
    ap.add_argument("--data-root", help="sample data root (default .cache/devlab/data)")
    ap.add_argument("--out", help="output root (default .cache/devlab/out)")
    ap.add_argument("--python", default=sys.executable, help="python.client.executable (with PyFlink)")
    ap.add_argument("--pythonpath", default=ROOT, help="where the client imports udfs from")
    ap.add_argument("--work", help="scratch directory (SQL script, client logs)")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("DEVLAB_TIMEOUT", "900")))
    ap.add_argument("--split", type=int, default=int(os.environ.get("DEVLAB_SPLIT", "0")),
                    help="read the input from N files per table (N source subtasks can get rows); 0: one file")
    a = ap.parse_args()
    if not a.flink_home:
        ap.error("--flink-home or FLINK_HOME is required")
    expect = bool(a.metrics) if a.expect_pool is None else a.expect_pool
    try:
        return run(a.flink_home, a.conf_dir, a.rest, a.metrics, a.accountholders, a.transactions, a.data_root,
                   a.out, a.python, a.pythonpath, a.work, a.timeout, expect, split=a.split)
    except (RuntimeError, subprocess.SubprocessError) as ex:
        log(f"FAIL: {ex}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
