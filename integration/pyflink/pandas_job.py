"""Pandas (vectorized) scalar functions: built-ins of udfs.builtin declared
@udf(..., func_type="pandas") over a table with NULLs and extremes.

    pandas_job.py --executable PYTHON_OR_FLINKFN --python-files udfs.zip --out rows.json

The same job runs with python.executable = the stock Python worker and
flinkfn (test_pandas.py compares them). Arrow batches of 3 rows, so the
7 rows make several batches per bundle.
"""

import argparse
import datetime
import decimal
import json
import os
import sys

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment
from pyflink.table.udf import udf

from udfs import builtin

ROWS = [
    (1, "straße", 7, 1.5, True, decimal.Decimal("12345678901234567890.123456789012345678"),
     datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 23, 59, 59, 123000)),
    (2, None, None, None, None, None, None, None),
    (3, "", -2147483648, -1.7976931348623157e308, False, decimal.Decimal("-0.000000000000000001"),
     datetime.date(1970, 1, 1), datetime.datetime(1970, 1, 1, 0, 0, 0)),
    (4, "😀 ǆ ﬁ", 2147483647, 5e-324, True, decimal.Decimal("0"),
     datetime.date(1, 1, 1), datetime.datetime(1969, 12, 31, 23, 59, 59, 999000)),
    (5, "abc", 0, -0.0, None, decimal.Decimal("1.5"), datetime.date(9999, 12, 31), datetime.datetime(2000, 1, 1, 12, 0, 0, 1000)),
    (6, "x" * 1000, 1, 3.141592653589793, True, None, None, datetime.datetime(2038, 1, 19, 3, 14, 8)),
    (7, "Ωmega", -1, 1e300, False, decimal.Decimal("99999999999999999999.999999999999999999"), datetime.date(2000, 2, 29), None),
]

SCHEMA = DataTypes.ROW([
    DataTypes.FIELD("k", DataTypes.BIGINT()),
    DataTypes.FIELD("s", DataTypes.STRING()),
    DataTypes.FIELD("i", DataTypes.INT()),
    DataTypes.FIELD("d", DataTypes.DOUBLE()),
    DataTypes.FIELD("b", DataTypes.BOOLEAN()),
    DataTypes.FIELD("dm", DataTypes.DECIMAL(38, 18)),
    DataTypes.FIELD("dt", DataTypes.DATE()),
    DataTypes.FIELD("ts", DataTypes.TIMESTAMP(3)),
])


def _pandas(wrapper, result_type):
    # The module function itself (udfs.builtin.<name>), declared pandas-style.
    return udf(wrapper._func, result_type=result_type, func_type="pandas")


FUNCTIONS = [
    ("upper_p", builtin.upper, DataTypes.STRING(), "s"),
    ("id_int_p", builtin.id_int, DataTypes.INT(), "i"),
    ("id_double_p", builtin.id_double, DataTypes.DOUBLE(), "d"),
    ("id_boolean_p", builtin.id_boolean, DataTypes.BOOLEAN(), "b"),
    ("id_decimal_p", builtin.id_decimal, DataTypes.DECIMAL(38, 18), "dm"),
    ("id_date_p", builtin.id_date, DataTypes.DATE(), "dt"),
    ("id_timestamp_p", builtin.id_timestamp, DataTypes.TIMESTAMP(3), "ts"),
    ("id_string_p", builtin.id_string, DataTypes.STRING(), "s"),
]


def _json(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return repr(v)
    return str(v)


def run(executable, python_files):
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("restart-strategy.type", "none")
    conf.set("python.executable", executable)
    conf.set("python.fn-execution.arrow.batch.size", "3")
    if python_files:
        conf.set("python.files", python_files)
    t_env.create_temporary_view("src", t_env.from_elements(ROWS, SCHEMA))
    cols = []
    for name, wrapper, rt, arg in FUNCTIONS:
        t_env.create_temporary_function(name, _pandas(wrapper, rt))
        cols.append("%s(%s)" % (name, arg))
    # Nested pandas calls and a row-at-a-time function in the same SELECT.
    t_env.create_temporary_function("length_row", builtin.length)
    cols.append("upper_p(id_string_p(s))")
    cols.append("length_row(upper_p(s))")
    with t_env.execute_sql("SELECT k, %s FROM src" % ", ".join(cols)).collect() as it:
        return sorted([[_json(v) for v in r] for r in it], key=lambda r: r[0])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executable", required=True)
    p.add_argument("--python-files", default="")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    # Real worker processes (python.executable), not PyFlink's in-client loopback workers.
    os.environ["_python_worker_execution_mode"] = "process"
    try:
        result = {"rows": run(a.executable, a.python_files)}
    except Exception as e:  # noqa: BLE001 - reported to the test
        import traceback
        result = {"error": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
