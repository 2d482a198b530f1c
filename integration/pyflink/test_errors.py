"""flinkfn's refusals, seen from a PyFlink job script: a @udf defined in the
script (__main__) and python.execution-mode: thread each fail the job with a
message that names the function or the setting and says the fix, and states
it once per level of Flink's cause chain. A pandas @udf of a function
flinkfn knows runs.

Runs errors_job.py once, in its own interpreter (PyFlink gateway JVM and
local MiniCluster), with python.executable = $FLINKFN_BIN.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyflinkrun import HERE, REPO, VENV_PYTHON, FLINKFN_BIN, RUN_TIMEOUT_S, TARGET  # noqa: E402


@pytest.fixture(scope="module")
def failures():
    assert FLINKFN_BIN.is_file(), "flinkfn binary not found at %s (make build)" % FLINKFN_BIN
    TARGET.mkdir(exist_ok=True)
    out, log = TARGET / "errors.json", TARGET / "errors.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    with open(log, "w", encoding="utf-8") as logf:
        p = subprocess.run([str(VENV_PYTHON), str(HERE / "errors_job.py"), "--executable", str(FLINKFN_BIN), "--out", str(out)],
                           env=env, stdout=logf, stderr=subprocess.STDOUT, cwd=str(REPO), timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0 and out.exists(), "errors_job.py failed (rc=%s), see %s" % (p.returncode, log)
    return json.loads(out.read_text(encoding="utf-8"))


def _error(failures, case):
    r = failures[case]
    assert "error" in r, "%s: the job did not fail; rows: %s" % (case, r.get("rows"))
    return r["error"]


def _once_per_level(text, phrase):
    assert phrase in text
    for line in text.splitlines():
        assert line.count(phrase) <= 1, "%r repeated within one level: %s" % (phrase, line[:2000])


def test_main_udf_explains_main_and_the_ways_out(failures):
    e = _error(failures, "main_udf")
    for want in ["unknown function __main__.shout", "defined in the job script itself",
                 'templates entry "shout" with "module": "__main__"', "FLINKFN_TEMPLATES",
                 'README "Adding a function"', "stock Python worker", "python.executable"]:
        assert want in e, "lacks %r:\n%s" % (want, e[-6000:])
    _once_per_level(e, "Registered:")
    _once_per_level(e, "Ways out")


def test_pandas_udf_runs(failures):
    # Pandas functions run on flinkfn (Arrow batches); see test_pandas.py for the comparison with the stock worker.
    r = failures["pandas_udf"]
    assert r.get("rows") == [[1, "A"], [2, "B"]], r.get("error", r)[-6000:] if "error" in r else r


def test_thread_mode_says_process_mode(failures):
    e = _error(failures, "thread_mode")
    for want in ["python.execution-mode: thread", "set python.execution-mode: process"]:
        assert want in e, "lacks %r:\n%s" % (want, e[-6000:])
