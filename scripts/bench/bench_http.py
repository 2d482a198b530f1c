"""Embedding API under load: `flinkfn serve` at 1/16/64 concurrent clients,
side by side with `flinkfn embed` alone on the same texts and with a
gunicorn + sentence-transformers API (scripts/bench/st_api.py, preloaded model, the
users' own kind of service; needs `make ref-venv`) run twice: with seed 002's
settings and tuned (BASELINES).

    make bench-http                 (writes the "HTTP API" section of BENCHMARKS.md)
    python3 scripts/bench/bench_http.py --no-write --rows 512

A benchmark, not a test. The load generator is this script: threads with
keep-alive connections over loopback, each posting `--batch` texts per
request to POST /embed until the level's `--rows` texts are embedded or
`--timeout` seconds pass (bounded in count and time; it stops by itself).
For each level it reports rows/s, request latency p50/p99 and the server's
peak RSS (sampled from /proc every 100 ms). `flinkfn embed` alone embeds the
same texts from stdin (peak RSS from /usr/bin/time). The texts are the golden
file's (inference/testdata/golden-minilm.jsonl.gz) repeated. The machine is
shared: the load average before and after is printed with the table.
"""

import argparse
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

REPO = Path(fs.ROOT)
import bench_harness  # noqa: E402  (write_section)

SECTION = "## HTTP API"

# The gunicorn + sentence-transformers baselines: (name, st_api.py's
# environment, gunicorn flags). Seed 002's production guide: a worker per
# vCPU, 2 torch threads, at most 4 texts per encode batch, gc after every
# request, workers restarted after 50 requests, a 120 s timeout, the worker
# heartbeat in /dev/shm; no warm-up in the master (with 2 torch threads it
# makes the forked workers hang: st_api.py's ST_WARM). Tuned: the fastest
# settings found here for the same service (a torch thread per core across
# the workers, batches of 32, no forced gc, no restarts).
BASELINES = [
    ("gunicorn + sentence-transformers, seed 002's settings (`-w %d`)",
     {"ST_THREADS": "2", "ST_BATCH": "4", "ST_GC": "1", "ST_WARM": "0"},
     ["--timeout", "120", "--max-requests", "50", "--worker-tmp-dir", "/dev/shm"]),
    ("gunicorn + sentence-transformers, tuned (`-w %d`, 1 torch thread each)",
     {"ST_THREADS": "1", "ST_BATCH": "32", "ST_GC": "0", "ST_WARM": "1"},
     ["--timeout", "600"]),
]


def golden_texts(n):
    texts = fs.golden_lines()
    return [texts[i % len(texts)] for i in range(n)]


def tree(pid):
    """pid and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def memory_kib(pid):
    """(RSS, PSS) summed over the process tree: the workers of a preloading
    server share the model's pages, which RSS counts once per process and
    PSS divides among them."""
    pids = tree(pid)
    return (sum(fs.proc_kib(p, "status", "VmRSS") for p in pids), sum(fs.proc_kib(p, "smaps_rollup", "Pss") for p in pids))


def embed_alone(binary, texts, env):
    with tempfile.TemporaryFile() as f:
        f.write(("\n".join(texts) + "\n").encode())
        f.seek(0)
        start = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "embed"], stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env, timeout=900, check=True, text=True)
        took = time.perf_counter() - start
    rss = int(r.stderr.strip().splitlines()[-1])
    return {"rows_s": len(texts) / took, "rss_mib": rss / 1024, "took": took}


class Server:
    """A server on a free loopback port: cmd(port) is its command line, ready
    its readiness path."""

    def __init__(self, cmd, env, log, ready="/readyz"):
        self.port = fs.free_port()
        self.proc = subprocess.Popen(cmd(self.port), stdout=log, stderr=log, env=env)
        try:
            fs.wait_ready("http://127.0.0.1:%d%s" % (self.port, ready), self.proc, 300, what=cmd(self.port)[0],
                          interval=0.1)
        except RuntimeError as e:
            self.stop()
            raise SystemExit("%s (log: %s)" % (e, log.name))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def load(port, pid, texts, clients, batch, timeout):
    """Posts len(texts)/batch requests from `clients` threads."""
    bodies = [json.dumps({"inputs": texts[i:i + batch]}).encode() for i in range(0, len(texts), batch)]
    lock = threading.Lock()
    nxt = [0]
    lat, errors, rows = [], [], [0]
    deadline = time.perf_counter() + timeout
    peak = [0, 0]
    done = threading.Event()

    def sample():
        while not done.wait(0.25):
            rss, pss = memory_kib(pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        while time.perf_counter() < deadline:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(bodies):
                return
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/embed", body=bodies[i], headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except OSError as e:
                errors.append(str(e))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
                continue
            took = time.perf_counter() - t0
            if resp.status != 200:
                errors.append("%d %s" % (resp.status, data[:200]))
                continue
            n = len(json.loads(data))
            with lock:
                lat.append(took)
                rows[0] += n

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"clients": clients, "rows": rows[0], "rows_s": rows[0] / wall, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "rss_mib": peak[0] / 1024, "pss_mib": peak[1] / 1024, "errors": errors, "wall": wall}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flinkfn", default=os.environ.get("FLINKFN_BIN", str(REPO / ".cache" / "bin" / "flinkfn")))
    p.add_argument("--rows", type=int, default=2048, help="texts per level (and for flinkfn embed)")
    p.add_argument("--batch", type=int, default=32, help="texts per request")
    p.add_argument("--clients", default="1,16,64")
    p.add_argument("--timeout", type=int, default=300, help="seconds per level at most")
    p.add_argument("--gunicorn", default=str(REPO / ".cache" / "ref-venv" / "bin" / "gunicorn"),
                   help="the baselines' gunicorn (scripts/bench/st_api.py; \"\" skips them)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="gunicorn workers (seed 002: one per vCPU)")
    p.add_argument("--variants", default="fp32,int8", help="model variants `flinkfn serve` runs, one server each")
    p.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    a = p.parse_args()
    env = dict(os.environ, FLINKFN_HOME=os.environ.get("FLINKFN_HOME", str(REPO / ".cache")))
    texts = golden_texts(a.rows)
    load_before = os.getloadavg()
    print("load average before: %.1f %.1f %.1f" % load_before, flush=True)

    alone = embed_alone(a.flinkfn, texts, env)
    print("flinkfn embed alone: %.1f rows/s, peak RSS %.0f MiB" % (alone["rows_s"], alone["rss_mib"]), flush=True)

    def flinkfn_serve(variant):
        return lambda port: [a.flinkfn, "serve", "--http", "127.0.0.1:%d" % port, "--variant", variant,
                             "--memory-limit", "0", "--max-queued", "1024", "--request-timeout", "%ds" % a.timeout]

    servers = [("`flinkfn serve`" + ("" if v == "fp32" else " `--variant %s`" % v), flinkfn_serve(v), "/readyz", env)
               for v in a.variants.split(",") if v]
    if a.gunicorn and Path(a.gunicorn).exists():
        for name, st_env, flags in BASELINES:
            servers.append((name % a.workers, lambda port, flags=flags: [
                a.gunicorn, "--preload", "-w", str(a.workers), "-b", "127.0.0.1:%d" % port, *flags,
                "--chdir", str(REPO / "scripts" / "bench"), "st_api:app"], "/health", dict(env, **st_env)))
    elif a.gunicorn:
        print("no %s: run `make ref-venv` for the gunicorn baselines" % a.gunicorn, flush=True)
    results = []
    for name, cmd, ready, senv in servers:
        with tempfile.NamedTemporaryFile(prefix="bench-http-", suffix=".log", delete=False) as log:
            srv = Server(cmd, senv, log, ready)
            try:
                # warm every worker and the connection path
                load(srv.port, srv.proc.pid, texts[:a.batch * 2 * a.workers], a.workers, a.batch, a.timeout)
                for c in [int(x) for x in a.clients.split(",")]:
                    r = load(srv.port, srv.proc.pid, texts, c, a.batch, a.timeout)
                    r["name"] = name
                    results.append(r)
                    print("%s, %2d clients: %.1f rows/s (%d rows in %.1fs), p50 %.0f ms, p99 %.0f ms, RSS %.0f MiB, PSS %.0f MiB, errors %d%s" % (
                        name, c, r["rows_s"], r["rows"], r["wall"], r["p50_ms"], r["p99_ms"], r["rss_mib"], r["pss_mib"],
                        len(r["errors"]), (": " + r["errors"][0]) if r["errors"] else ""), flush=True)
            finally:
                srv.stop()
            os.unlink(log.name)
    load_after = os.getloadavg()
    print("load average after: %.1f %.1f %.1f" % load_after, flush=True)

    L = [SECTION, "",
         "`make bench-http` (scripts/bench/bench_http.py: %d texts per level, %d texts per `POST /embed`, keep-alive "
         "clients over loopback; `flinkfn serve` all-MiniLM-L6-v2 with its defaults: 16 requests in the "
         "batcher, 32-row batches of at most 1,024 tokens). %s; %d cores; load average %.1f before, %.1f after." % (
             a.rows, a.batch, datetime.date.today().isoformat(), os.cpu_count(), load_before[0], load_after[0]), "",
         "| server | clients | rows/s | vs `flinkfn embed` | p50 | p99 | peak RSS (all processes) | peak PSS | errors |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
         "| `flinkfn embed` alone (stdin, model load included) | – | %.1f | 100 %% | – | – | %.0f MiB | – | 0 |" % (
             alone["rows_s"], alone["rss_mib"])]
    for r in results:
        L.append("| %s | %d | %.1f | %.0f %% | %.0f ms | %.0f ms | %.0f MiB | %.0f MiB | %d |" % (
            r["name"], r["clients"], r["rows_s"], 100 * r["rows_s"] / alone["rows_s"], r["p50_ms"], r["p99_ms"],
            r["rss_mib"], r["pss_mib"], len(r["errors"])))
    L += ["", "Side by side at each level (rows/s: `flinkfn serve` ÷ gunicorn; memory: `flinkfn serve`'s peak ÷ "
          "gunicorn's, RSS summed over its processes / PSS):", "",
          "| `flinkfn serve` | gunicorn baseline | clients | × rows/s | RSS share | PSS share |",
          "|---|---|---:|---:|---:|---:|"]
    ours = [r for r in results if r["name"].startswith("`flinkfn serve`")]
    theirs = [r for r in results if not r["name"].startswith("`flinkfn serve`")]
    for o in ours:
        for t in theirs:
            if t["clients"] == o["clients"] and t["rows_s"] > 0:
                L.append("| %s | %s | %d | %.2f× | %.0f %% | %.0f %% |" % (
                    o["name"], t["name"].split(", ", 1)[1], o["clients"], o["rows_s"] / t["rows_s"],
                    100 * o["rss_mib"] / t["rss_mib"], 100 * o["pss_mib"] / t["pss_mib"]))
    text = "\n".join(L) + "\n"
    print(text)
    if not a.no_write:
        bench_harness.write_section(Path(a.out), text, SECTION)
        print("wrote %s" % a.out)


if __name__ == "__main__":
    main()
