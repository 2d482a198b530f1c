"""What the scripts under scripts/ (setup/, fixtures/, bench/, devlab/) share:
the source tree's root, a prefixed log, a free loopback port, HTTP probes,
waiting for a server's readiness path (the pool's /readyz), Prometheus text
parsing, the golden texts and vectors, the UDF arguments of a sample row,
cosine, /proc memory readings and
SHA-256 of a file. Standard library only: every venv and python3 can import
it. A script in a subfolder imports it with

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import flinkfn_scripts as fs  # noqa: E402

ROOT comes from this file's path as given (links not resolved), like the
scripts' own: scripts/devlab/devlab_check_test.sh runs a copy of the tree
whose folders are links.
"""

import datetime
import decimal
import gzip
import hashlib
import json
import math
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The golden fixture of all-MiniLM-L6-v2 (scripts/fixtures/gen_golden.py):
# one JSON object a line, {"text", "vector"}.
GOLDEN_MINILM = os.path.join(ROOT, "inference", "testdata", "golden-minilm.jsonl.gz")


def logger(prefix, stream=None):
    """A log function printing "[prefix] msg" to stream (default stdout),
    flushed at once."""
    def log(msg):
        print(f"[{prefix}] {msg}", file=stream or sys.stdout, flush=True)
    return log


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body as text); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def http_ok(url, timeout=2):
    """Whether url answers 200."""
    return http_get(url, timeout)[0] == 200


def wait_until(what, cond, timeout, procs=(), interval=0.5):
    """Polls cond() until it is true; calls check() on each of procs between
    polls (it raises when a process has died). Returns the seconds waited;
    raises RuntimeError naming `what` after timeout seconds."""
    t0 = time.monotonic()
    while not cond():
        for p in procs:
            p.check()
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{what}: not ready after {timeout} s")
        time.sleep(interval)
    return time.monotonic() - t0


def wait_ready(url, proc, timeout, what="server", interval=0.2):
    """Waits until url (a server's readiness path: the pool's /readyz)
    answers 200 while the subprocess proc runs. Returns the seconds waited;
    raises RuntimeError when proc exits first or after timeout seconds."""

    class _Alive:
        @staticmethod
        def check():
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited ({proc.returncode}) before {url} answered 200")

    return wait_until(f"{what} ({url})", lambda: http_ok(url), timeout, procs=(_Alive,), interval=interval)


_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            v = float(m.group(3))
        except ValueError:
            continue
        out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), v))
    return out


def metric(metrics, name, agg=sum):
    """agg over the values of the samples called name (None when none)."""
    vals = [v for n, _, v in metrics if n == name]
    return agg(vals) if vals else None


def metric_by(metrics, name, label):
    """{value of label: sample value} of the samples called name."""
    return {lab.get(label, ""): v for n, lab, v in metrics if n == name}


def golden(path=GOLDEN_MINILM):
    """(text, vector) pairs of a golden fixture, rows without text left out."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            if g.get("text"):
                out.append((g["text"], g.get("vector")))
    return out


def golden_lines(path=GOLDEN_MINILM):
    """The golden texts that fit on one line (what `flinkfn embed` and
    line-per-text clients can send unchanged)."""
    return [t for t, _ in golden(path) if "\n" not in t and "\r" not in t]


def typed_ah(r):
    """The arguments ah_embed receives for an account-holder row of
    fixtures/gen_sample_data.py (a JSON object): DATE as datetime.date."""
    dob = r["date_of_birth"]
    return (r["name"], r["address"], r["city"], r["country"], r["nationality"], r["occupation"], r["segment"],
            datetime.date.fromisoformat(dob) if dob else None)


def typed_txn(r):
    """The arguments txn_embed receives for a transaction row: DECIMAL as
    decimal.Decimal, TIMESTAMP(3) as datetime.datetime."""
    ts = datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
    return (r["merchant"], r["mcc"], decimal.Decimal(r["amount"]), r["currency"], r["channel"], r["country"],
            r["description"], ts)


def cosine(a, b):
    """Cosine similarity of two vectors (0 when one is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def proc_kib(pid, path, field):
    """A "Field: N kB" value of /proc/PID/<path> (status, smaps_rollup) in
    KiB; 0 when the process or the field is gone."""
    try:
        with open(f"/proc/{pid}/{path}", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_bytes(pid):
    """The process's resident set (VmRSS) in bytes; raises when unknown."""
    kib = proc_kib(pid, "status", "VmRSS")
    if not kib:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return kib * 1024


def sha256(path):
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
