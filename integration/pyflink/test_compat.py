"""PyFlink compatibility: the same jobs on the stock Python worker and on flinkfn.

Runs compat_jobs.py twice, each time in a fresh interpreter (own PyFlink
gateway JVM and local MiniCluster, ``_python_worker_execution_mode=process``,
parallelism 1):

* stock:   python.executable = stock-python.sh, which execs the venv's Python
           (and records that a worker process really started);
* flinkfn: python.executable = $FLINKFN_BIN (default <repo>/.cache/bin/flinkfn).

and asserts per query that both produce the same rows (as multisets: Flink
does not promise an order across the UNIONs the planner builds), that
error queries fail on both with the expected message, and that the flinkfn
half really ran flinkfn: flinkfn appends its pid to $FLINKFN_MARKER_FILE
when it starts as a worker, a file the stock half never writes.

Run with integration/pyflink/run.sh (sets PYTHONPATH and the venv python).
Artifacts (results JSON, driver logs) go to integration/pyflink/target/.
"""

import collections
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import compat_jobs  # noqa: E402  (query names only; does not import PyFlink)

VENV_PYTHON = Path(os.environ.get("COMPAT_PYTHON", REPO / ".cache" / "venv" / "bin" / "python"))
FLINKFN_BIN = Path(os.environ.get("FLINKFN_BIN", REPO / ".cache" / "bin" / "flinkfn"))
STOCK_WRAPPER = HERE / "stock-python.sh"
RUN_TIMEOUT_S = int(os.environ.get("COMPAT_RUN_TIMEOUT_S", "900"))
TARGET = HERE / "target"


# ---------------------------------------------------------------------------
# Comparing results.

def compare_rows(stock_rows, flinkfn_rows):
    """Returns a list of difference lines (empty when the multisets match)."""
    a = collections.Counter(json.dumps(r, ensure_ascii=False) for r in stock_rows)
    b = collections.Counter(json.dumps(r, ensure_ascii=False) for r in flinkfn_rows)
    diff = []
    for row, n in sorted((a - b).items()):
        diff.append("only stock   (x%d): %s" % (n, row))
    for row, n in sorted((b - a).items()):
        diff.append("only flinkfn (x%d): %s" % (n, row))
    return diff


def _tail(text, n=6000):
    return text if len(text) <= n else "...\n" + text[-n:]


def _cause(text, n=4000):
    """The most useful part of a Flink error: its last 'Caused by' onward."""
    i = text.rfind("Caused by:")
    return _tail(text[i:] if i >= 0 else text, n)


# ---------------------------------------------------------------------------
# Running the two halves.

def _run_half(name, executable, udfs_zip):
    TARGET.mkdir(exist_ok=True)
    out = TARGET / ("%s.json" % name)
    log = TARGET / ("%s.log" % name)
    flinkfn_marker = TARGET / ("%s.flinkfn-marker" % name)
    stock_marker = TARGET / ("%s.stock-marker" % name)
    for p in (out, log, flinkfn_marker, stock_marker):
        if p.exists():
            p.unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["FLINKFN_MARKER_FILE"] = str(flinkfn_marker)
    env["STOCK_MARKER_FILE"] = str(stock_marker)
    env["STOCK_PYTHON"] = str(VENV_PYTHON)
    cmd = [str(VENV_PYTHON), str(HERE / "compat_jobs.py"),
           "--executable", str(executable),
           "--client-executable", str(VENV_PYTHON),
           "--python-files", str(udfs_zip),
           "--out", str(out)]
    with open(log, "w", encoding="utf-8") as logf:
        # Own session: on timeout we kill the driver, its JVM and the workers.
        proc = subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                cwd=str(REPO), start_new_session=True)
        try:
            rc = proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = "timeout after %ds" % RUN_TIMEOUT_S

    def lines(p):
        return [ln for ln in p.read_text().splitlines() if ln.strip()] if p.exists() else []
    return {
        "rc": rc,
        "results": json.loads(out.read_text(encoding="utf-8")) if out.exists() else None,
        "log": log.read_text(encoding="utf-8", errors="replace"),
        "flinkfn_marker": lines(flinkfn_marker),
        "stock_marker": lines(stock_marker),
    }


@pytest.fixture(scope="session")
def udfs_zip(tmp_path_factory):
    """python.files: the udfs package as a zip (Flink puts it on the workers' PYTHONPATH)."""
    z = tmp_path_factory.mktemp("pyfiles") / "udfs.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in sorted((REPO / "udfs").glob("*.py")):
            f.write(p, "udfs/" + p.name)
    return z


@pytest.fixture(scope="session")
def stock(udfs_zip):
    assert VENV_PYTHON.exists(), "no venv python at %s (run scripts/setup/setup.sh)" % VENV_PYTHON
    half = _run_half("stock", STOCK_WRAPPER, udfs_zip)
    assert half["results"] is not None, "stock half produced no results (rc=%s):\n%s" % (
        half["rc"], _tail(half["log"]))
    return half


@pytest.fixture(scope="session")
def flinkfn(udfs_zip):
    assert FLINKFN_BIN.is_file() and os.access(FLINKFN_BIN, os.X_OK), (
        "flinkfn binary not found at %s (build it: go build -o .cache/bin/flinkfn ./cmd/flinkfn, "
        "or set FLINKFN_BIN)" % FLINKFN_BIN)
    half = _run_half("flinkfn", FLINKFN_BIN, udfs_zip)
    assert half["results"] is not None, "flinkfn half produced no results (rc=%s):\n%s" % (
        half["rc"], _tail(half["log"]))
    return half


# ---------------------------------------------------------------------------
# Tests.

def test_compare_rows_detects_differences():
    base = [["+I", "1", "'A'"], ["+I", "2", "None"]]
    assert compare_rows(base, list(reversed(base))) == []
    assert compare_rows(base, [["+I", "1", "'a'"], ["+I", "2", "None"]]) != []
    assert compare_rows(base, base + [base[0]]) != []      # duplicate row
    assert compare_rows(base, base[:1]) != []              # missing row
    assert compare_rows(base, [["-D", "1", "'A'"], base[1]]) != []  # row kind


def test_stock_half_ran_python_worker_processes(stock):
    assert stock["stock_marker"], (
        "the stock half never started a Python worker process through python.executable "
        "(loopback mode?); driver log:\n" + _tail(stock["log"]))
    assert not stock["flinkfn_marker"], "FLINKFN_MARKER_FILE written during the stock half"


def test_flinkfn_half_ran_flinkfn(flinkfn):
    assert flinkfn["flinkfn_marker"], (
        "flinkfn did not write FLINKFN_MARKER_FILE: the flinkfn half did not run flinkfn as its "
        "worker (or flinkfn does not implement the marker); driver log:\n" + _tail(flinkfn["log"]))
    for line in flinkfn["flinkfn_marker"]:
        assert line.split()[0].isdigit(), "marker line is not '<pid> ...': %r" % line
    assert not flinkfn["stock_marker"], "a stock Python worker ran during the flinkfn half"


@pytest.mark.parametrize("query", list(compat_jobs.QUERIES))
def test_same_results(query, stock, flinkfn):
    kind, text = compat_jobs.QUERIES[query]
    s = stock["results"].get(query)
    f = flinkfn["results"].get(query)
    assert s is not None and f is not None, "query %s missing from a half's results" % query
    what = "%s (%s)" % (query, text or "Table API")
    if kind == "error":
        assert "error" in s, "stock half: %s did not fail" % what
        assert "error" in f, "flinkfn half: %s did not fail; rows: %s" % (what, f.get("rows"))
        for want in compat_jobs.EXPECTED_ERRORS[query]:
            assert want in s["error"], "stock half: error of %s lacks %r:\n%s" % (
                what, want, _cause(s["error"]))
            assert want in f["error"], "flinkfn half: error of %s lacks %r:\n%s" % (
                what, want, _cause(f["error"]))
        return
    assert "rows" in s, "stock half failed on %s (the test itself is broken):\n%s" % (
        what, _cause(s["error"]))
    assert s["rows"], "stock half returned no rows for %s" % what
    assert "rows" in f, "flinkfn half failed on %s:\n%s" % (what, _cause(f["error"]))
    diff = compare_rows(s["rows"], f["rows"])
    assert not diff, "results differ for %s:\n%s" % (what, "\n".join(diff))
