"""flinkfn on PyFlink's local defaults: `python job.py` with only
python.executable = $FLINKFN_BIN (and python.client.executable, parallelism
1); no taskmanager.memory.* settings and no _python_worker_execution_mode,
so PyFlink runs its loopback worker pool in the client, and the MiniCluster
has its default managed memory (128m).

* upper: a BATCH job with a GROUP BY aggregation over the built-in Python
  UDF udfs.builtin.upper (SQL DDL, LANGUAGE PYTHON). The aggregate takes its
  share of the slot's managed memory and Python gets 30 % of it, less than
  the worker reserves (framework 64 MiB + buffer 15 MiB). The job must still
  succeed with the right groups, and flinkfn must say so in the
  TaskManager's log (Flink's FLIP-88 policy: warn and go on) with the
  numbers and the managed size that fits.
* embed: udfs.embed_udf.embed on the same defaults: 384-dim vectors, and a
  WARN naming the model's footprint in the TaskManager's log.

The TaskManager's log: PyFlink's local MiniCluster runs in its gateway JVM,
which logs to $FLINK_LOG_DIR/flink-<user>-python-<host>.log
(pyflink_gateway_server.py; without FLINK_LOG_DIR <site-packages>/pyflink/log).
Each run gets its own FLINK_LOG_DIR under target/defaults/. flinkfn writes its
warnings to Flink's logging stream (Beam's Fn API logging), which the
TaskManager writes there. flinkfn served the functions: it appends its pid to
FLINKFN_MARKER_FILE.
"""

import collections
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest

from pyflinkrun import HERE, REPO, VENV_PYTHON, FLINKFN_BIN, RUN_TIMEOUT_S, TARGET, run_logged  # noqa: E402
TARGET = TARGET / "defaults"


def _tail(text, n=6000):
    return text if len(text) <= n else "...\n" + text[-n:]


def run_job(job, rows):
    """Runs defaults_job.py JOB over ROWS; returns rc, result rows, driver
    log, TaskManager log and flinkfn's marker lines."""
    assert FLINKFN_BIN.is_file(), "no flinkfn binary at %s (make build, or set FLINKFN_BIN)" % FLINKFN_BIN
    work = TARGET / job
    if work.exists():
        shutil.rmtree(work)
    logdir = work / "flink-log"
    logdir.mkdir(parents=True)
    data, out, log, marker = (work / n for n in ("data.jsonl", "out.jsonl", "driver.log", "flinkfn-marker"))
    with open(data, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)  # the client imports udfs.* to plan the job
    env["FLINK_LOG_DIR"] = str(logdir)
    env["FLINKFN_MARKER_FILE"] = str(marker)
    # PyFlink's defaults and flinkfn's: nothing that sets memory or the mode.
    for k in ("_python_worker_execution_mode", "FLINK_CONF_DIR", "FLINKFN_FLINK_CONF", "FLINKFN_POOL",
              "FLINKFN_MEMORY_LIMIT", "FLINKFN_MEMORY_POLICY", "FLINKFN_TEMPLATES", "FLINKFN_LOG_LEVEL"):
        env.pop(k, None)
    cmd = [str(VENV_PYTHON), str(HERE / "defaults_job.py"), job, str(data), str(out)]
    rc = run_logged(cmd, env, work, log)
    tm_logs = sorted(logdir.glob("*.log"))
    run = {
        "rc": rc,
        "rows": [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()] if out.exists() else [],
        "log": log.read_text(encoding="utf-8", errors="replace"),
        "tm_log_files": tm_logs,
        "tm_log": "".join(p.read_text(encoding="utf-8", errors="replace") for p in tm_logs),
        "marker": [ln for ln in marker.read_text().splitlines() if ln.strip()] if marker.exists() else [],
    }
    assert run["rc"] == 0, "job %s failed (rc=%s):\n%s" % (job, run["rc"], _tail(run["log"]))
    assert run["marker"] and all(ln.split()[0].isdigit() for ln in run["marker"]), (
        "flinkfn did not start as the Python worker (no FLINKFN_MARKER_FILE lines); driver log:\n" + _tail(run["log"]))
    addr = [ln.split(":", 1)[1].strip() for ln in run["log"].splitlines()
            if ln.startswith("python.loopback-server.address:")]
    assert addr and addr[0] != "none", "PyFlink did not run in loopback mode (its local default):\n" + _tail(run["log"])
    assert tm_logs, "no TaskManager log in FLINK_LOG_DIR=%s (files: %s)" % (logdir, os.listdir(logdir))
    return run


def flip88_warnings(run):
    """The TaskManager log's lines with flinkfn's FLIP-88 warning."""
    lines = [ln for ln in run["tm_log"].splitlines() if "FLIP-88" in ln]
    assert lines, ("no FLIP-88 warning in the TaskManager's log %s; flinkfn lines there:\n%s" % (
        [str(p) for p in run["tm_log_files"]],
        "\n".join(ln for ln in run["tm_log"].splitlines() if "flinkfn" in ln)[-6000:]))
    for ln in lines:
        print("TaskManager log: " + ln)
    return lines


LOCAL_MANAGED_MIB = 128  # the MiniCluster's managed memory when nothing sets it


def numbers(line):
    """(budget MiB, reserved MiB with this reservation, advised managed size MiB)."""
    budget = re.search(r"in the (\d+(?:\.\d+)?) MiB budget", line)
    reserved = re.search(r"reserved now (\d+(?:\.\d+)?) MiB", line)
    advised = re.search(r"taskmanager\.memory\.managed\.size: (\d+)m", line)
    assert budget and reserved and advised, "FLIP-88 warning without its numbers: " + line
    return float(budget.group(1)), float(reserved.group(1)), int(advised.group(1))


def check_flip88(line):
    assert re.search(r"\bWARN\b", line), line
    assert "Python worker memory short" in line, line
    assert "_PYTHON_WORKER_MEMORY_LIMIT" in line, line  # the budget's source
    budget, reserved, advised = numbers(line)
    assert budget < reserved, line
    # The advised size gives Python enough: the share of the slot's managed
    # memory Python gets in this job is budget / 128m.
    assert advised * budget / LOCAL_MANAGED_MIB >= reserved - 0.1, line


UPPER_ROWS = [
    {"name": "alice", "amount": 1}, {"name": "Alice", "amount": 2}, {"name": "ALICE", "amount": 4},
    {"name": "bob", "amount": 8}, {"name": "straße", "amount": 16}, {"name": "STRASSE", "amount": 32},
    {"name": "éclair", "amount": 64}, {"name": "", "amount": 128}, {"name": None, "amount": 256},
    {"name": None, "amount": 512},
]


@pytest.fixture(scope="module")
def upper_run():
    return run_job("upper", UPPER_ROWS)


def test_group_by_with_python_udf_on_defaults(upper_run):
    run = upper_run
    want = collections.defaultdict(lambda: [0, 0])
    for r in UPPER_ROWS:
        g = want[None if r["name"] is None else r["name"].upper()]
        g[0] += 1
        g[1] += r["amount"]
    got = {}
    for r in run["rows"]:
        assert r["u"] not in got, "duplicate group %r" % r["u"]
        got[r["u"]] = [r["n"], r["total"]]
    assert got == dict(want)
    warns = flip88_warnings(run)
    check_flip88(warns[0])
    # The worker's own reservations (no model): framework and buffer.
    assert any("framework" in ln for ln in warns), warns


EMBED_TEXTS = ["a card payment at a coffee shop", "Überweisung an Max Mustermann", "", None]


@pytest.fixture(scope="module")
def embed_run():
    return run_job("embed", [{"k": "t%d" % i, "text": t} for i, t in enumerate(EMBED_TEXTS)])


def test_embed_on_defaults(embed_run):
    run = embed_run
    got = {r["k"]: r["v"] for r in run["rows"]}
    assert set(got) == {"t%d" % i for i in range(len(EMBED_TEXTS))}
    for i, t in enumerate(EMBED_TEXTS):
        v = got["t%d" % i]
        if t is None:
            assert v is None
        else:
            assert v is not None and len(v) == 384, (t, v if v is None else len(v))
            assert abs(sum(x * x for x in v) - 1) < 1e-3, "not normalised: %r" % t
    warns = flip88_warnings(run)
    for ln in warns:
        check_flip88(ln)
    # The model's footprint is named in the warning for its reservation.
    model = [ln for ln in warns if re.search(r"model \S*all-MiniLM-L6-v2\S* \(\d+(\.\d+)? MiB\)", ln)]
    assert model, "no FLIP-88 warning naming the model's footprint:\n" + "\n".join(warns)


@pytest.mark.parametrize("job", ["upper", "embed"])
def test_advised_managed_size_is_the_one_that_fits(job, request):
    """The advised taskmanager.memory.managed.size is the smallest that fits
    (to the MiB, plus rounding of the printed numbers), not several times it."""
    run = request.getfixturevalue(job + "_run")
    for ln in flip88_warnings(run):
        budget, reserved, advised = numbers(ln)
        fits = math.ceil(reserved * LOCAL_MANAGED_MIB / budget)
        assert advised <= fits * 1.02 + 1, "advised %dm, %dm fits: %s" % (advised, fits, ln)
