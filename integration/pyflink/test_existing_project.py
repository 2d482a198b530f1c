"""A PyFlink team's existing project, moved to flinkfn without touching its code.

existing_project/ is what such a team's repository holds: udfs/ah_embed_udf.py
and udfs/txn_embed_udf.py with the team's own signatures (not flinkfn's
built-in ones) and sentence-transformers bodies (an f-string of the values,
SentenceTransformer(...).encode(text)), a job (job.py) and sample rows with
NULLs, blank strings, TIMESTAMP(3) with and without fractions and decimals
that Python prints in exponent notation. The only additions for flinkfn are
templates.json (both functions as flinkfn templates: "module", the team's
columns, "values": "python", "null": {"literal": "None"}) and the settings:
python.executable = $FLINKFN_BIN and FLINKFN_TEMPLATES = that file.

The job runs three ways, each one Flink job for both functions:

1. the default local run: `python job.py` (Table API registration) with no
   `_python_worker_execution_mode`, so PyFlink starts its loopback worker
   pool in the client and flinkfn must still serve every function;
2. SQL DDL `CREATE TEMPORARY FUNCTION ... LANGUAGE PYTHON`, python.files =
   the team's udfs folder, PROCESS mode;
3. Table API registration (create_temporary_function with the decorated
   objects imported from the team's package), PROCESS mode.

and each must give one row per input row with the vectors the team's own
Python gives (expected.jsonl.gz, written by
scripts/fixtures/gen_existing_project_fixture.py with the reference venv; cosine
>= 0.99999). flinkfn served every function: the venv running the job has no
sentence-transformers (any function run by Python fails the job with
ModuleNotFoundError), and flinkfn appended its pid to FLINKFN_MARKER_FILE.
The team's modules import sentence-transformers lazily (in udfs/_model.py,
on the first call), as a team does so that the client, which only plans the
job, can import them.
"""

import gzip
import json
import math
import os
import re
import subprocess
from pathlib import Path

import pytest

from pyflinkrun import HERE, REPO, VENV_PYTHON, FLINKFN_BIN, TARGET, run_logged  # noqa: E402

PROJECT = HERE / "existing_project"
TARGET = TARGET / "existing_project"


def expected():
    with gzip.open(PROJECT / "expected.jsonl.gz", "rt", encoding="utf-8") as f:
        return {(e["table"], e["key"]): e for e in map(json.loads, f)}


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def _tail(text, n=6000):
    return text if len(text) <= n else "...\n" + text[-n:]


def run_job(name, register, process_mode, extra_conf=(), templates=True):
    """Runs existing_project/job.py as the team would, with flinkfn as
    python.executable; returns rc, rows, log and flinkfn's marker lines."""
    assert FLINKFN_BIN.is_file(), "no flinkfn binary at %s (make build, or set FLINKFN_BIN)" % FLINKFN_BIN
    TARGET.mkdir(parents=True, exist_ok=True)
    out, log, marker = (TARGET / (name + s) for s in (".jsonl", ".log", ".flinkfn-marker"))
    for p in (out, log, marker):
        if p.exists():
            p.unlink()
    env = dict(os.environ)
    # The team's environment: its own project, not flinkfn's repository
    # (whose udfs package has the same name).
    env.pop("PYTHONPATH", None)
    env.pop("_python_worker_execution_mode", None)
    if process_mode:
        env["_python_worker_execution_mode"] = "process"
    env.pop("FLINKFN_TEMPLATES", None)
    if templates:
        env["FLINKFN_TEMPLATES"] = str(PROJECT / "templates.json")
    env["FLINKFN_MARKER_FILE"] = str(marker)
    conf = ["python.executable=%s" % FLINKFN_BIN,
            "python.client.executable=%s" % VENV_PYTHON,
            "parallelism.default=1",
            # flinkfn reserves the model's footprint from the slot's managed
            # memory for Python; the MiniCluster's default is too small.
            "taskmanager.memory.managed.size=1280m"] + list(extra_conf)
    cmd = [str(VENV_PYTHON), "job.py", "--data", str(PROJECT / "data"), "--out", str(out), "--register", register]
    for c in conf:
        cmd += ["--conf", c]
    rc = run_logged(cmd, env, PROJECT, log)
    rows = [json.loads(ln) for ln in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return {"rc": rc, "rows": rows, "log": log.read_text(encoding="utf-8", errors="replace"),
            "marker": marker.read_text().split("\n") if marker.exists() else []}


def check_run(run):
    assert run["rc"] == 0, "the team's job failed (rc=%s):\n%s" % (run["rc"], _tail(run["log"]))
    markers = [ln for ln in run["marker"] if ln.strip()]
    assert markers and all(ln.split()[0].isdigit() for ln in markers), (
        "flinkfn did not start as the Python worker (no FLINKFN_MARKER_FILE lines); driver log:\n" + _tail(run["log"]))
    want = expected()
    got = {}
    for r in run["rows"]:
        key = (r["table"], r["key"])
        assert key not in got, "duplicate output row %s" % (key,)
        got[key] = r["vector"]
    assert set(got) == set(want), "rows missing: %s; unexpected: %s" % (
        sorted(set(want) - set(got))[:10], sorted(set(got) - set(want))[:10])
    worst = (2.0, None)
    for key, e in want.items():
        v = got[key]
        # NULL columns render "None" (the team's f-string): every row has a vector.
        assert v is not None and len(v) == 384, "%s: %r" % (key, v if v is None else len(v))
        c = cosine(e["vector"], v)
        worst = min(worst, (c, key))
        assert c >= 0.99999, "%s: cosine %.8f to the team's vector; text %r" % (key, c, e["text"])
    print("%d rows, min cosine %.8f (%s)" % (len(got), worst[0], worst[1]))


def test_fixture_has_edge_cases():
    want = expected()
    assert len([k for k in want if k[0] == "ah"]) >= 50 and len([k for k in want if k[0] == "txn"]) >= 50
    texts = [e["text"] for e in want.values()]
    assert any(".796000" in t for t in texts), "no TIMESTAMP(3) with fractions"
    assert any(re.search(r"\d\d:\d\d:\d\d(?![.\d])", t) for t in texts), "no TIMESTAMP(3) without fractions"
    assert sum("None" in t for t in texts) >= 40, "few NULLs"
    assert any("E-8" in t for t in texts), "no decimal in exponent notation"


def test_team_modules_import_without_sentence_transformers():
    """The client (which has PyFlink but no sentence-transformers) can import
    the team's modules: the model is loaded lazily, on the first call."""
    p = subprocess.run([str(VENV_PYTHON), "-c",
                        "import importlib.util, sys\n"
                        "assert importlib.util.find_spec('sentence_transformers') is None, 'venv has sentence_transformers'\n"
                        "from udfs.ah_embed_udf import ah_embed\n"
                        "from udfs.txn_embed_udf import txn_embed\n"
                        "print(type(ah_embed).__name__, type(txn_embed).__name__)\n"],
                       cwd=str(PROJECT), env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["UserDefinedScalarFunctionWrapper"] * 2


def loopback_address(run):
    for ln in run["log"].splitlines():
        if ln.startswith("python.loopback-server.address:"):
            return ln.split(":", 1)[1].strip()
    raise AssertionError("job.py did not print its worker mode; log:\n" + _tail(run["log"]))


def test_default_local_run():
    """`python job.py` as PyFlink's quickstart runs it: PyFlink starts its
    loopback worker pool in the client, and flinkfn still serves every
    function (the client has no sentence-transformers)."""
    run = run_job("default-local", "table-api", process_mode=False)
    check_run(run)
    assert loopback_address(run) != "none", "PyFlink did not run in loopback mode: the test tests nothing"


def test_sql_ddl_with_python_files():
    run = run_job("ddl", "ddl", process_mode=True, extra_conf=["python.files=%s" % (PROJECT / "udfs")])
    check_run(run)
    assert loopback_address(run) == "none"


def test_table_api_registration():
    run = run_job("table-api", "table-api", process_mode=True)
    check_run(run)
    assert loopback_address(run) == "none"


def test_without_templates_file_the_error_says_the_fix():
    """Without FLINKFN_TEMPLATES flinkfn has its built-in ah_embed (8
    columns): the job fails at start with a message that names the template
    file in use, the call's column count and types, and the entry to write."""
    run = run_job("no-templates", "table-api", process_mode=True, templates=False)
    assert run["rc"] != 0, "the job ran with flinkfn's built-in 8-column templates"
    # Whichever function's bundle Flink sets up first fails the job.
    per_fn = {
        "ah_embed": ["calls it with 7 argument(s) (STRING, STRING, STRING, STRING, DECIMAL(12, 2), TIMESTAMP(3), BOOLEAN)",
                     '"columns": ["c1", "c2", "c3", "c4", "c5", "c6", "c7"]'],
        "txn_embed": ["calls it with 6 argument(s) (STRING, DECIMAL(12, 2), STRING, DECIMAL(18, 8), TIMESTAMP(3), STRING)",
                      '"columns": ["c1", "c2", "c3", "c4", "c5", "c6"]'],
    }
    failed = [f for f in per_fn if 'is flinkfn\'s template function "%s" from the built-in templates' % f in run["log"]]
    assert failed, "the failure does not explain the template mismatch:\n" + _tail(run["log"])
    for want in per_fn[failed[0]] + ["with 8 columns", "FLINKFN_TEMPLATES=<that file>"]:
        assert want in run["log"], "the failure lacks %r:\n%s" % (want, _tail(run["log"]))


@pytest.mark.parametrize("name", ["ah_embed_udf.py", "txn_embed_udf.py"])
def test_team_functions_are_plain_pyflink(name):
    """The fixture is what a team writes: an f-string and
    SentenceTransformer.encode, nothing of flinkfn's."""
    src = (PROJECT / "udfs" / name).read_text(encoding="utf-8")
    assert "@udf(result_type=DataTypes.ARRAY(DataTypes.FLOAT()))" in src
    assert 'f"' in src and "encoder().encode(text)" in src
    assert "flinkfn" not in src and "_embedding" not in src
