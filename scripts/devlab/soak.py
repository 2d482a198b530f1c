"""Soak: mixed Flink + HTTP load against one flinkfn pool for a fixed time.

    make soak                      # 30 minutes (SOAK_SECONDS=1800)
    make soak SOAK_SECONDS=300     # a shorter run

Run by scripts/devlab/devlab_local.py --soak SECONDS on its local cluster (Flink
JobManager + TaskManager, the pool with its HTTP API). For SECONDS:
  - the devlab job (the main job's SQL through Flink's SQL client) runs again
    and again; every run must FINISH with its rows, dims and golden vectors
    checked (devlab_job.run);
  - HTTP clients post the golden texts to the same pool's /v1/embeddings
    (OpenAI's shape) and /embed (TEI's), 8 texts a request, each vector
    compared with sentence-transformers' (cosine >= 0.99999);
  - the pool's RSS (/proc/PID/status VmRSS) is sampled every 10 s.
It fails on any job failure, any HTTP answer other than 200 or a wrong
vector, an RSS sample over the pool's budget (its --memory-limit), or RSS
that grows: the least-squares slope over the samples after the first
job, projected over the run, must stay under 5 % of the budget. The result
(runs, requests, RSS first/last/max, slope in MiB/hour) is printed and
written to .cache/devlab/soak.json.
"""

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import devlab_job  # noqa: E402  (same folder: the job, run in a loop)
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT
SAMPLE_EVERY = 10.0
WINDOW = 300.0  # seconds of RSS samples summarised together in the report
BATCH = 8


log = fs.logger("soak")


def windows(samples, start, width=WINDOW):
    """(start s, min, median, max) of the sample values in each width-second
    window from start on: the floor and the middle of a sawtooth that the
    jobs' sessions draw, which a slope alone can hide or exaggerate."""
    out = []
    t = start
    while True:
        w = sorted(v for s, v in samples if t <= s < t + width)
        if not w:
            return out
        out.append((round(t - start), w[0], w[len(w) // 2], w[-1]))
        t += width


def slope_per_hour(samples):
    """Least-squares slope of (seconds, bytes) samples, in bytes per hour."""
    n = len(samples)
    if n < 3:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples)
    return 3600 * sum((t - mt) * (v - mv) for t, v in samples) / den if den else 0.0


class HTTPLoad:
    """Clients that post golden texts to the pool until stopped."""

    def __init__(self, base, pairs, clients):
        self.base, self.pairs, self.clients = base, pairs, clients
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.requests, self.texts, self.min_cos = 0, 0, 1.0
        self.errors = []
        self.threads = [threading.Thread(target=self._client, args=(i,), name=f"http-{i}") for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(120)

    def _client(self, i):
        k = i * BATCH
        while not self.stop.is_set():
            batch = [self.pairs[(k + j) % len(self.pairs)] for j in range(BATCH)]
            k += BATCH * self.clients
            openai = (k // BATCH) % 2 == 0
            texts = [t for t, _ in batch]
            path, body = ("/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": texts}) if openai \
                else ("/embed", {"inputs": texts})
            req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    got = json.load(r)
            except urllib.error.HTTPError as e:
                self._error(f"{path}: HTTP {e.code}: {e.read()[:300]!r}")
                continue
            except (urllib.error.URLError, OSError, ValueError) as e:
                self._error(f"{path}: {e}")
                continue
            vecs = [d["embedding"] for d in got["data"]] if openai else got
            if len(vecs) != len(batch):
                self._error(f"{path}: {len(vecs)} vectors for {len(batch)} texts")
                continue
            worst = min(fs.cosine(v, g) for v, (_, g) in zip(vecs, batch))
            with self.lock:
                self.requests += 1
                self.texts += len(batch)
                self.min_cos = min(self.min_cos, worst)
            if worst < 0.99999:
                self._error(f"{path}: cosine {worst:.7f} to sentence-transformers' vector")

    def _error(self, msg):
        with self.lock:
            self.errors.append(msg)
        time.sleep(0.5)


def pool_budget(pool_http):
    """The pool's memory budget (flinkfn_memory_limit_bytes)."""
    with urllib.request.urlopen(f"http://{pool_http}/metrics", timeout=10) as r:
        samples = fs.parse_metrics(r.read().decode())
    limit = next((v for name, _, v in samples if name == "flinkfn_memory_limit_bytes"), 0)
    if not limit:
        raise RuntimeError(f"the pool at {pool_http} reports no flinkfn_memory_limit_bytes: start it with --memory-limit")
    return int(limit)


def run(home, conf_dir, rest, pool_http, pool_pid, seconds, env, alive, work, n_ah, n_tx, clients=4):
    """The soak; returns the exit status."""
    pairs = fs.golden()
    budget = pool_budget(pool_http)
    samples, over = [], []
    t0 = time.monotonic()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                v = fs.rss_bytes(pool_pid)
            except (OSError, RuntimeError):
                return
            samples.append((time.monotonic() - t0, v))
            if v > budget:
                over.append((time.monotonic() - t0, v))
            stop.wait(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, name="rss-sampler")
    sampler.start()
    load = HTTPLoad(f"http://{pool_http}", pairs, clients)
    load.start()
    runs, failed, warm = 0, 0, None
    try:
        log(f"{seconds} s of the devlab job ({n_ah:,} + {n_tx:,} rows a run) in a loop and {clients} HTTP clients "
            f"({BATCH} texts a request) against the pool at {pool_http}; pool RSS every {SAMPLE_EVERY:.0f} s, "
            f"budget {budget / 2**20:.1f} MiB")
        while time.monotonic() - t0 < seconds:
            rc = devlab_job.run(home, conf_dir, rest=rest, metrics=[f"http://{pool_http}/metrics"], n_ah=n_ah,
                                n_tx=n_tx, work=os.path.join(work, f"run-{runs}"), timeout=900, expect_pool=True,
                                env=env, alive=alive)
            runs += 1
            failed += rc != 0
            if warm is None:
                warm = time.monotonic() - t0
            with load.lock:
                log(f"after {time.monotonic() - t0:.0f} s: {runs} job run(s), {failed} failed; HTTP {load.requests:,} "
                    f"requests, {len(load.errors)} errors; pool RSS {samples[-1][1] / 2**20:.1f} MiB")
    finally:
        load.close()
        stop.set()
        sampler.join()
    took = time.monotonic() - t0
    steady = [s for s in samples if warm is not None and s[0] >= warm]
    slope = slope_per_hour(steady)  # 0 with fewer than 3 samples (then runs < 2 fails below)
    growth = slope * took / 3600
    mib = 2 ** 20
    result = {
        "seconds": round(took, 1), "job_runs": runs, "job_failures": failed,
        "http_requests": load.requests, "http_texts": load.texts, "http_errors": len(load.errors),
        "http_min_cosine": load.min_cos, "samples": len(samples), "budget_mib": budget / mib,
        "rss_first_mib": samples[0][1] / mib if samples else None, "rss_last_mib": samples[-1][1] / mib if samples else None,
        "rss_max_mib": max(v for _, v in samples) / mib if samples else None,
        "steady_samples": len(steady), "slope_mib_per_hour": slope / mib, "projected_growth_mib": growth / mib, "warm_up_s": warm,
        "rss_windows_mib": [[t, round(lo / mib, 1), round(med / mib, 1), round(hi / mib, 1)]
                            for t, lo, med, hi in windows(steady, warm or 0)],
    }
    with open(os.path.join(ROOT, ".cache", "devlab", "soak.json"), "w", encoding="utf-8") as f:
        json.dump({**result, "rss_samples": [(round(t, 1), v) for t, v in samples]}, f, indent=1)
    log("result: " + json.dumps(result))
    problems = []
    if failed:
        problems.append(f"{failed} of {runs} job runs failed (their FAIL lines are above)")
    if runs < 2:
        problems.append(f"only {runs} job run(s) in {took:.0f} s: give it more time (SOAK_SECONDS)")
    if load.errors:
        problems.append(f"{len(load.errors)} HTTP errors, first: {load.errors[0]}")
    if load.requests == 0:
        problems.append("no HTTP request succeeded")
    if over:
        problems.append(f"{len(over)} RSS samples over the budget of {budget / mib:.1f} MiB, "
                        f"first at {over[0][0]:.0f} s: {over[0][1] / mib:.1f} MiB")
    if growth > 0.05 * budget:
        problems.append(f"RSS grows: {slope / mib:.1f} MiB/hour after the first job, {growth / mib:.1f} MiB over "
                        f"the run (more than 5 % of the {budget / mib:.1f} MiB budget)")
    for p in problems:
        log(f"FAIL: {p}")
    if not problems:
        log(f"OK: {runs} job runs and {load.requests:,} HTTP requests in {took:.0f} s, no error; pool RSS "
            f"{result['rss_first_mib']:.1f} -> {result['rss_last_mib']:.1f} MiB (max {result['rss_max_mib']:.1f} of "
            f"{budget / mib:.1f} MiB budget), slope {slope / mib:+.2f} MiB/hour after the first job")
    for t, lo, med, hi in result["rss_windows_mib"]:
        log(f"RSS from {t} s after the first job, {WINDOW:.0f} s: min {lo} MiB, median {med} MiB, max {hi} MiB")
    return 1 if problems else 0
