#!/usr/bin/env python3
"""The GPU checks scripts/bench/gpu_check.sh runs on a machine with an NVIDIA GPU.

    python3 scripts/bench/gpu_check.py [--bin .cache/bin/flinkfn] [--models M ...] [--only vectors,memory,oom,bench]

Standard library only (the device's python3 has no project venv). Each
check prints one line starting with PASS, FAIL or INFO and the numbers; the
exit status is 1 when any check failed.

  vectors  `flinkfn embed --device cuda:0` vs `flinkfn embed` (CPU, fp32)
           on the golden texts: cosine >= 0.9999 for every text, per model;
           the fp16 variant on the GPU is reported (>= 0.999 expected).
  memory   `flinkfn serve --device cuda:0 --gpu-memory-fraction F` with F
           giving a 2 GiB limit: while 8 clients send batches of 32 long
           texts, nvidia-smi's per-process memory of the server stays
           <= limit + the CUDA context and libraries' allowance (1 GiB);
           /metrics and /health report total, limit and used.
  oom      the same with a limit too small for the largest batch but
           above the weights (192 MiB; MiniLM's fp32 weights are 87 MiB):
           the server starts (its warm-up batch fails alone), a large
           request gets 507 out_of_memory naming --gpu-memory-fraction,
           /readyz stays 200 and a one-text request is answered.
  bench    rows/s of `flinkfn embed --device cuda:0` vs raw ONNX Runtime
           CUDA from Python (scripts/bench/bench_gpu_ort.py) on the same texts.
"""

import argparse
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: flinkfn_scripts
import flinkfn_scripts as fs  # noqa: E402

ROOT = fs.ROOT
FAILED = []


def report(ok, name, msg):
    word = {True: "PASS", False: "FAIL", None: "INFO"}[ok]
    if ok is False:
        FAILED.append(name)
    print(f"{word} {name}: {msg}", flush=True)


def golden_texts():
    out = []
    with gzip.open(os.path.join(ROOT, "inference", "testdata", "golden-minilm.jsonl.gz"), "rt") as f:
        for line in f:
            t = json.loads(line).get("text")
            if t is not None and "\n" not in t and "\r" not in t:
                out.append(t)
    return out


def long_texts(n, words=400):
    base = "account holder transaction merchant payment reference settlement"
    return [f"{i} " + " ".join([base] * (words // 7)) for i in range(n)]


def embed(bin_, texts, *args, env=None):
    p = subprocess.run([bin_, "embed", *args], input="\n".join(texts) + "\n", capture_output=True, text=True,
                       env=env, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"flinkfn embed {' '.join(args)}: exit {p.returncode}: {p.stderr[-2000:]}")
    return [json.loads(l) for l in p.stdout.splitlines()]


def check_vectors(bin_, models):
    texts = golden_texts()
    for m in models:
        cpu = embed(bin_, texts, "--model", m)
        t0 = time.time()
        gpu = embed(bin_, texts, "--model", m, "--device", "cuda:0")
        took = time.time() - t0
        cs = [fs.cosine(a, b) for a, b in zip(cpu, gpu)]
        worst = min(range(len(cs)), key=lambda i: cs[i])
        report(len(cs) == len(texts) and cs[worst] >= 0.9999, f"vectors {m}",
               f"cuda:0 fp32 vs CPU fp32 on {len(cs)} golden texts: worst cosine {cs[worst]:.7f} "
               f"({texts[worst][:40]!r}), mean {sum(cs) / len(cs):.7f} (floor 0.9999; GPU run {took:.1f}s with load)")
        try:
            g16 = embed(bin_, texts, "--model", m, "--device", "cuda:0", "--variant", "fp16")
        except RuntimeError as e:
            report(None, f"vectors {m} fp16", f"not run: {e}")
            continue
        cs = [fs.cosine(a, b) for a, b in zip(cpu, g16)]
        report(min(cs) >= 0.999, f"vectors {m} fp16", f"cuda:0 fp16 vs CPU fp32: worst cosine {min(cs):.7f}, "
               f"mean {sum(cs) / len(cs):.7f} (floor 0.999)")


def http(method, url, body=None, timeout=120):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, bin_, model, fraction, log):
        self.port = fs.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w")
        self.p = subprocess.Popen([bin_, "serve", "--http", f"127.0.0.1:{self.port}", "--model", model,
                                   "--device", "cuda:0", "--gpu-memory-fraction", repr(fraction),
                                   "--max-inputs", "64", "--request-timeout", "120s"],
                                  stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=180):
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                return False
            try:
                if http("GET", self.url + "/readyz", timeout=2)[0] == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.3)
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
        self.log.close()


def gpu_total():
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", "0"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) << 20


def process_used(pid):
    """nvidia-smi's memory of process pid on the GPUs, in bytes (None: not listed)."""
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid) and parts[1].isdigit():
            return int(parts[1]) << 20
    return None


def check_memory(bin_, model, outdir):
    total = gpu_total()
    limit = 2 << 30
    fraction = limit / total
    s = Server(bin_, model, fraction, os.path.join(outdir, "serve-memory.log"))
    try:
        if not s.wait_ready():
            report(False, "memory", f"flinkfn serve did not become ready (log {s.log.name})")
            return
        peak, stop = [0], threading.Event()

        def poll():
            while not stop.is_set():
                u = process_used(s.p.pid)
                if u:
                    peak[0] = max(peak[0], u)
                time.sleep(0.2)

        threading.Thread(target=poll, daemon=True).start()
        body = {"inputs": long_texts(32)}
        codes = []

        def client():
            for _ in range(6):
                codes.append(http("POST", s.url + "/embed", body)[0])

        ts = [threading.Thread(target=client) for _ in range(8)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        stop.set()
        time.sleep(0.3)
        metrics = http("GET", s.url + "/metrics")[1].decode()
        health = json.loads(http("GET", s.url + "/health")[1])
        gauge = [l for l in metrics.splitlines() if l.startswith("flinkfn_gpu_memory_limit_bytes")]
        got_limit = float(gauge[0].split()[-1]) if gauge else -1
        allowance = 1 << 30
        ok = (all(c == 200 for c in codes) and 0 < peak[0] <= limit + allowance
              and abs(got_limit - int(fraction * total)) <= 1 and health.get("gpu"))
        report(ok, "memory", f"limit {limit / 2**30:.2f} GiB (--gpu-memory-fraction {fraction:.5f} of {total / 2**30:.1f} GiB): "
               f"server's peak GPU memory {peak[0] / 2**30:.2f} GiB over {len(codes)} requests of 32 long texts "
               f"(allowed: limit + {allowance / 2**30:.0f} GiB for the CUDA context and libraries); statuses "
               f"{sorted(set(codes))}; /metrics limit {got_limit:.0f}; /health gpu {health.get('gpu')}")
    finally:
        s.stop()


def check_oom(bin_, model, outdir):
    total = gpu_total()
    fraction = (192 << 20) / total
    s = Server(bin_, model, fraction, os.path.join(outdir, "serve-oom.log"))
    try:
        if not s.wait_ready():
            report(False, "oom", f"flinkfn serve with a 192 MiB limit did not become ready (log {s.log.name})")
            return
        code, body = http("POST", s.url + "/embed", {"inputs": long_texts(64)})
        msg = body.decode(errors="replace")
        ready = http("GET", s.url + "/readyz")[0]
        small, _ = http("POST", s.url + "/embed", {"inputs": ["a short text"]})
        ok = code == 507 and "out_of_memory" in msg and "--gpu-memory-fraction" in msg and ready == 200 and small == 200
        report(ok, "oom", f"192 MiB limit: 64 long texts -> {code} {msg[:300]}; then /readyz {ready}, one short text {small}")
    finally:
        s.stop()


def check_bench(bin_, models, outdir):
    texts = golden_texts()
    texts = (texts * (4000 // len(texts) + 1))[:4000]
    path = os.path.join(outdir, "bench-texts.txt")
    with open(path, "w") as f:
        f.write("\n".join(texts) + "\n")
    for m in models:
        mdir = os.path.join(os.environ.get("FLINKFN_HOME") or os.path.join(ROOT, ".cache"), "models", m)
        embed(bin_, texts[:64], "--model", m, "--device", "cuda:0")  # load once: caches warm
        t0 = time.time()
        embed(bin_, texts, "--model", m, "--device", "cuda:0", "--batch", "1024")
        ours = len(texts) / (time.time() - t0)
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "bench", "bench_gpu_ort.py"), "--model-dir", mdir,
                            "--texts", path, "--provider", "cuda", "--json", "--bin", bin_], capture_output=True, text=True)
        if p.returncode != 0:
            report(None, f"bench {m}", f"flinkfn embed cuda:0 {ours:.0f} rows/s (process start and load included); "
                   f"raw ONNX Runtime: {p.stderr.strip()[-500:]}")
            continue
        raw = json.loads(p.stdout.strip().splitlines()[-1])
        report(None, f"bench {m}", f"{len(texts)} texts: flinkfn embed --device cuda:0 {ours:.0f} rows/s (process start and "
               f"load included) vs raw ONNX Runtime {raw['onnxruntime']} CUDA from Python {raw['rows_per_s']:.0f} rows/s "
               f"(load excluded, batches of {raw['batch']}) = {100 * ours / raw['rows_per_s']:.0f} %")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, ".cache", "bin", "flinkfn"))
    ap.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", "bge-small-en-v1.5"])
    ap.add_argument("--only", default="vectors,memory,oom,bench")
    ap.add_argument("--out", default=os.environ.get("OUT") or "/tmp/flinkfn-gpu-check")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    only = set(args.only.split(","))
    steps = [("vectors", lambda: check_vectors(args.bin, args.models)),
             ("memory", lambda: check_memory(args.bin, args.models[0], args.out)),
             ("oom", lambda: check_oom(args.bin, args.models[0], args.out)),
             ("bench", lambda: check_bench(args.bin, args.models, args.out))]
    for name, f in steps:
        if name not in only:
            continue
        t0 = time.time()
        try:
            f()
        except Exception as e:  # a check that breaks is a failed check; go on with the next
            report(False, name, f"{type(e).__name__}: {e}")
        print(f"  ({name}: {time.time() - t0:.0f}s)", flush=True)
    print(f"{'FAILED: ' + ', '.join(FAILED) if FAILED else 'all GPU checks passed'}", flush=True)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
