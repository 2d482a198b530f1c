"""Pandas (vectorized) scalar functions on flinkfn equal the stock worker:
pandas_job.py once with python.executable = the stock Python worker
(stock-python.sh, Arrow batches of 7 rows) and once with $FLINKFN_BIN (Arrow
batches of 1, 7 and 1000 rows), rows compared: every type of Flink's Arrow
path with NULLs and extremes (ROW and MAP columns and results included),
Table API and SQL DDL declarations, nested pandas calls and row-at-a-time
functions in one SELECT."""

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from pyflinkrun import HERE, REPO, VENV_PYTHON, FLINKFN_BIN, RUN_TIMEOUT_S, TARGET  # noqa: E402


@pytest.fixture(scope="module")
def udfs_zip(tmp_path_factory):
    z = tmp_path_factory.mktemp("pyfiles") / "udfs.zip"
    with zipfile.ZipFile(z, "w") as f:
        for p in sorted((REPO / "udfs").glob("*.py")):
            f.write(p, "udfs/" + p.name)
    return z


def _run(name, executable, udfs_zip, batch_sizes):
    TARGET.mkdir(exist_ok=True)
    out, log = TARGET / ("pandas-%s.json" % name), TARGET / ("pandas-%s.log" % name)
    if out.exists():
        out.unlink()
    env = dict(os.environ, STOCK_PYTHON=str(VENV_PYTHON),
               PYTHONPATH=os.pathsep.join([str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    with open(log, "w", encoding="utf-8") as logf:
        p = subprocess.run([str(VENV_PYTHON), str(HERE / "pandas_job.py"), "--executable", str(executable),
                            "--python-files", str(udfs_zip), "--batch-sizes", batch_sizes, "--out", str(out)],
                           env=env, stdout=logf, stderr=subprocess.STDOUT, cwd=str(REPO), timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0 and out.exists(), "pandas_job.py (%s) failed (rc=%s), see %s" % (name, p.returncode, log)
    r = json.loads(out.read_text(encoding="utf-8"))
    assert "rows" in r, "%s half failed:\n%s" % (name, r["error"][-6000:])
    return r["rows"]


def test_pandas_builtins_equal_the_stock_worker(udfs_zip):
    assert FLINKFN_BIN.is_file(), "flinkfn binary not found at %s (make build)" % FLINKFN_BIN
    stock = _run("stock", HERE / "stock-python.sh", udfs_zip, "7")["7"]
    flinkfn = _run("flinkfn", FLINKFN_BIN, udfs_zip, "1,7,1000")
    assert len(stock) == 7 and len(stock[0]) == 1 + 23 + 2 + 4
    # Spot checks that the stock half computed what the functions say.
    assert stock[0][1] == "straße" and stock[0][-6:] == ["STRASSE", 6, "STRASSE", 7, "STRASSE", 7]
    assert stock[1][1] is None and stock[1][-6:] == [None] * 6
    # ROW (id_row_p, id_row_nested_p): a NULL row comes back from the stock
    # worker as a row of NULL fields (PyFlink hands the pandas function a
    # DataFrame of the row's fields: pyflink/table/utils.py arrow_to_pandas).
    assert stock[0][21:23] == ["(1, x)", "(1, x)"], stock[0][21:23]
    assert stock[1][21:23] == ["(NULL, NULL)", "(NULL, NULL)"], stock[1][21:23]
    assert stock[2][21] == "(NULL, NULL)" and stock[3][21] == "(NULL, 😀)", stock[2:4]
    # TIME(3) (id_time_3_p). Flink 1.20's planner has no TIME precision
    # (flink-table-planner 1.20.3 FlinkTypeFactory: createFieldTypeFromLogicalType
    # maps TIME(p) to Calcite's TIME, toLogicalType maps it back to
    # new TimeType(), TIME(0); 2.x keeps it, FLINK-17224): the pandas operator
    # declares TIME(0), ArrowUtils makes that an Arrow time32[s] column and
    # TimeWriter writes readTime(...) / 1000. The stock worker gets no
    # milliseconds there, nor does flinkfn.
    from pyflink.version import __version__ as flink_version
    want_t3 = "01:02:03" if flink_version.startswith("1.20") else "01:02:03.456"
    assert stock[0][23] == want_t3 and stock[1][23] is None, (flink_version, stock[0][23])
    for bs in ("1", "7", "1000"):
        got = flinkfn[bs]
        assert got == stock, "batch size %s:\n" % bs + "\n".join(
            "stock   %s\nflinkfn %s" % (a, b) for a, b in zip(stock, got) if a != b)
