"""Pandas (vectorized) scalar functions: built-ins of udfs.builtin declared
@udf(..., func_type="pandas") over a table with NULLs and extremes.

    pandas_job.py --executable PYTHON_OR_FLINKFN --python-files udfs.zip [--batch-sizes 1,7,1000] --out rows.json

Every type of Flink's Arrow path (BOOLEAN, TINYINT..BIGINT, FLOAT, DOUBLE,
CHAR/VARCHAR, BINARY/VARBINARY, DECIMAL, DATE, TIME, TIMESTAMP(3/6),
TIMESTAMP_LTZ, ARRAYs, ROW) through the pandas-declared identity functions
(Table API, builtin.pandas), upper/length declared pandas-style in SQL DDL,
nested pandas calls and row-at-a-time functions in one SELECT. The same job
runs with python.executable = the stock Python worker and flinkfn
(test_pandas.py compares them), once per Arrow batch size.
"""

import argparse
import datetime
import decimal
import json
import os
import sys

from pyflink.table import DataTypes, EnvironmentSettings, TableEnvironment

from udfs import builtin

ROWS = [
    (1, "straße", 7, 1.5, True, decimal.Decimal("12345678901234567890.123456789012345678"),
     datetime.date(2024, 2, 29), datetime.datetime(2024, 2, 29, 23, 59, 59, 123000),
     -128, -32768, -9223372036854775808, 3.4028234663852886e38, bytearray(b"\x00\xff"), datetime.time(23, 59, 59), [1, None, -1]),
    (2, None, None, None, None, None, None, None, None, None, 42, None, None, None, None),
    (3, "", -2147483648, -1.7976931348623157e308, False, decimal.Decimal("-0.000000000000000001"),
     datetime.date(1970, 1, 1), datetime.datetime(1970, 1, 1, 0, 0, 0),
     127, 32767, 9223372036854775807, -3.4028234663852886e38, bytearray(), datetime.time(0, 0, 0), []),
    (4, "😀 ǆ ﬁ", 2147483647, 5e-324, True, decimal.Decimal("0"),
     datetime.date(1, 1, 1), datetime.datetime(1969, 12, 31, 23, 59, 59, 999000),
     0, 0, 0, 1.401298464324817e-45, bytearray(b"\x80" * 300), datetime.time(12, 30, 0), [None]),
    (5, "abc", 0, -0.0, None, decimal.Decimal("1.5"), datetime.date(9999, 12, 31), datetime.datetime(2000, 1, 1, 12, 0, 0, 1000),
     None, 1, -1, float("inf"), bytearray(b"abc"), None, [1 << 53, -(1 << 53)]),
    (6, "x" * 1000, 1, 3.141592653589793, True, None, None, datetime.datetime(2038, 1, 19, 3, 14, 8),
     1, -1, 1, float("-inf"), None, datetime.time(0, 0, 1), None),
    (7, "Ωmega", -1, 1e300, False, decimal.Decimal("99999999999999999999.999999999999999999"), datetime.date(2000, 2, 29),
     None, -1, None, 1 << 53, -0.0, bytearray(b"\xe2\x82"), datetime.time(1, 2, 3), [0] * 50),
]

# A ROW column (a NULL row, rows with NULL fields; no BIGINT extremes: pandas
# holds its field a, which has NULLs, as float64) and TIME(3) text (cast in
# the query, so that the milliseconds reach the function on Flink 1.20 too,
# whose from_elements source drops them). No MAP column: Flink's Arrow writer
# loses MAP arguments after the first batch, flinkfn refuses them (Go tests).
NESTED = {
    1: ((1, "x"), "01:02:03.456"),
    2: (None, None),
    3: ((None, None), "00:00:00"),
    4: ((None, "😀"), "23:59:59.999"),
    5: ((1 << 40, ""), "12:00:00.001"),
    6: ((-7, None), None),
    7: ((0, "Ωmega"), "00:00:00.5"),
}
ROWS = [r + NESTED[r[0]] for r in ROWS]

ROW_T = DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()), DataTypes.FIELD("b", DataTypes.STRING())])

SCHEMA = DataTypes.ROW([
    DataTypes.FIELD("k", DataTypes.BIGINT()),
    DataTypes.FIELD("s", DataTypes.STRING()),
    DataTypes.FIELD("i", DataTypes.INT()),
    DataTypes.FIELD("d", DataTypes.DOUBLE()),
    DataTypes.FIELD("b", DataTypes.BOOLEAN()),
    DataTypes.FIELD("dm", DataTypes.DECIMAL(38, 18)),
    DataTypes.FIELD("dt", DataTypes.DATE()),
    DataTypes.FIELD("ts", DataTypes.TIMESTAMP(3)),
    DataTypes.FIELD("ti", DataTypes.TINYINT()),
    DataTypes.FIELD("si", DataTypes.SMALLINT()),
    # No NULL among the BIGINT extremes: the stock worker hands pandas an
    # integer column with a NULL as float64 and fails to convert 2**63-1 back
    # (ArrowInvalid: truncated); the same for the elements of ARRAY<BIGINT>
    # when any element of the column is NULL. flinkfn has no such limit (its
    # Go tests).
    DataTypes.FIELD("bi", DataTypes.BIGINT()),
    DataTypes.FIELD("f", DataTypes.FLOAT()),
    DataTypes.FIELD("bt", DataTypes.BYTES()),
    DataTypes.FIELD("tm", DataTypes.TIME()),
    DataTypes.FIELD("arr", DataTypes.ARRAY(DataTypes.BIGINT())),
    DataTypes.FIELD("r", ROW_T),
    DataTypes.FIELD("t3", DataTypes.STRING()),
])

# (SQL name, the built-in, its pandas result type (None: its own), the argument expression)
FUNCTIONS = [
    ("id_string_p", builtin.id_string, None, "s"),
    ("id_int_p", builtin.id_int, None, "i"),
    ("id_double_p", builtin.id_double, None, "d"),
    ("id_boolean_p", builtin.id_boolean, None, "b"),
    ("id_decimal_p", builtin.id_decimal, None, "dm"),
    ("id_decimal_10_2_p", builtin.id_decimal, DataTypes.DECIMAL(10, 2), "CAST(dm / 1e12 AS DECIMAL(10, 2))"),
    ("id_date_p", builtin.id_date, None, "dt"),
    ("id_timestamp_p", builtin.id_timestamp, None, "ts"),
    ("id_timestamp_6_p", builtin.id_timestamp, DataTypes.TIMESTAMP(6), "CAST(ts AS TIMESTAMP(6))"),
    ("id_timestamp_ltz_p", builtin.id_timestamp_ltz, None, "CAST(ts AS TIMESTAMP_LTZ(3))"),
    ("id_tinyint_p", builtin.id_tinyint, None, "ti"),
    ("id_smallint_p", builtin.id_smallint, None, "si"),
    ("id_bigint_p", builtin.id_bigint, None, "bi"),
    ("id_float_p", builtin.id_float, None, "f"),
    ("id_binary_p", builtin.id_binary, None, "bt"),
    ("id_varbinary_3_p", builtin.id_binary, DataTypes.VARBINARY(3), "CAST(bt AS VARBINARY(3))"),
    ("id_char_p", builtin.id_string, DataTypes.CHAR(3), "CAST(s AS CHAR(3))"),
    ("id_time_p", builtin.id_time, None, "tm"),
    ("id_array_p", builtin.id_array, None, "arr"),
    ("id_array_string_p", builtin.id_array, DataTypes.ARRAY(DataTypes.STRING()), "ARRAY[s, UPPER(s), CAST(NULL AS STRING)]"),
    # ROW argument and result (a DataFrame on the stock worker; a NULL row
    # reaches it as a row of NULL fields), and a pandas ROW result as the
    # argument of another (Flink 1.20 cannot CAST a ROW(...) built in SQL).
    ("id_row_p", builtin.id_row, ROW_T, "r"),
    ("id_row_nested_p", builtin.id_row, ROW_T, "id_row_p(r)"),
    # TIME(3): on Flink 1.20 the milliseconds are gone before any worker sees
    # the batch (test_pandas.py says why).
    ("id_time_3_p", builtin.id_time, DataTypes.TIME(3), "CAST(t3 AS TIME(3))"),
]


def _json(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return "x'" + bytes(v).hex() + "'"
    if isinstance(v, (list, tuple)):
        return [_json(e) for e in v]
    return str(v)


def run(executable, python_files, batch_sizes):
    """The same SELECT once per Arrow batch size; {batch size: sorted rows}."""
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("restart-strategy.type", "none")
    conf.set("python.executable", executable)
    conf.set("table.local-time-zone", "UTC")
    if python_files:
        conf.set("python.files", python_files)
    t_env.create_temporary_view("src", t_env.from_elements(ROWS, SCHEMA))
    cols = []
    for name, wrapper, rt, arg in FUNCTIONS:
        t_env.create_temporary_function(name, builtin.pandas(wrapper, rt))
        call = "%s(%s)" % (name, arg)
        # The client's collect() cannot pickle a TIMESTAMP_LTZ (Instant), read
        # an ARRAY with a NULL element nor a float Infinity/NaN: these are
        # compared as Flink's text of the value.
        text = any(w in name for w in ("ltz", "array", "float", "double", "row", "time_3"))
        cols.append("CAST(%s AS STRING)" % call if text else call)
    # SQL DDL: the pandas declarations of udfs.builtin.
    t_env.execute_sql("CREATE TEMPORARY FUNCTION upper_p AS 'udfs.builtin.upper_pandas' LANGUAGE PYTHON")
    t_env.execute_sql("CREATE TEMPORARY FUNCTION length_p AS 'udfs.builtin.length_pandas' LANGUAGE PYTHON")
    cols += ["upper_p(s)", "length_p(s)"]
    # Nested pandas calls and row-at-a-time functions in the same SELECT.
    t_env.create_temporary_function("length_row", builtin.length)
    t_env.execute_sql("CREATE TEMPORARY FUNCTION upper_row AS 'udfs.builtin.upper' LANGUAGE PYTHON")
    cols += ["upper_p(id_string_p(s))", "length_row(upper_p(s))", "upper_row(s)", "length_p(upper_row(s))"]
    out = {}
    for bs in batch_sizes:
        conf.set("python.fn-execution.arrow.batch.size", str(bs))
        with t_env.execute_sql("SELECT k, %s FROM src" % ", ".join(cols)).collect() as it:
            out[str(bs)] = sorted([[_json(v) for v in r] for r in it], key=lambda r: r[0])
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executable", required=True)
    p.add_argument("--python-files", default="")
    p.add_argument("--batch-sizes", default="3", help="python.fn-execution.arrow.batch.size values, comma-separated")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    # Real worker processes (python.executable), not PyFlink's in-client loopback workers.
    os.environ["_python_worker_execution_mode"] = "process"
    try:
        result = {"rows": run(a.executable, a.python_files, [int(x) for x in a.batch_sizes.split(",")])}
    except Exception as e:  # noqa: BLE001 - reported to the test
        import traceback
        result = {"error": "%s: %s\n%s" % (type(e).__name__, e, traceback.format_exc())}
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
