"""The PyFlink jobs of the compatibility test, run once per worker.

Run as a script, in a fresh interpreter per worker (the PyFlink gateway JVM
and ``_python_worker_execution_mode`` are per process)::

    python compat_jobs.py --executable /path/to/python-or-flinkfn \\
        --client-executable /venv/bin/python --python-files udfs.zip \\
        --out results.json

It runs every query of QUERIES on one TableEnvironment (local MiniCluster,
parallelism 1, process-mode Python workers) and writes, per query, either
``{"rows": [...]}`` (each row as a list of repr() strings, row kind first)
or ``{"error": "<exception text with the Java cause chain>"}``.

Two kinds of input reach the UDFs:
* rows: views over ``from_elements`` tables, so arguments travel as row
  data on the data plane;
* constants: ``VALUES`` in SQL. Flink's planner turns a multi-row VALUES
  into a UNION of one-row projections, so every UDF argument becomes a
  literal (``UserDefinedFunction.inputs[].inputConstant``, pickled by
  Pyrolite). BYTES literals are rejected by Flink's planner for Python
  UDFs ("Unsupported type VARBINARY"), so constants skip BYTES.

test_compat.py imports this module for the query names only; importing it
does not import PyFlink.
"""

import argparse
import datetime
import decimal
import json
import os
import sys
import traceback

# ---------------------------------------------------------------------------
# Data.

# NULL, empty, blanks only, accented text, German sharp s (Python's
# str.upper() gives "STRASSE"), Greek, emoji incl. a skin-tone sequence,
# mixed whitespace (Python's str.split() splits on any Unicode whitespace:
# tab, newline, CR, \x1c-\x1f, NBSP, ideographic space, ...).
STRINGS = [
    "hello world",
    None,
    "",
    "   ",
    "café Ärger naïve",
    "straße",
    "emoji 😀 and 👍🏽 ok",
    "  leading, trailing  and   multiple spaces ",
    "tab\tnewline\ncr\rend",
    "nbsp\u00a0ideographic\u3000unit-sep\x1fend",
    "ΣΊΣΥΦΟΣ ñandú ǆ",
    "it's",
]

NUMBERS = [None, -1, 0, 1, 3]

# Floats: Go's shortest form, the exponent switch at 1e+06 / 1e-05, NaN,
# infinities, negative zero, extremes. Calcite cannot fold NaN/Infinity
# literals ("NumberFormatException: Infinite or NaN") and drops the sign of
# -0.0, so these only travel as rows.
# Values that a FLOAT cannot hold are NULL in the FLOAT column. The last two
# are FLOAT-only: as DOUBLEs they would hit describe()'s documented Python
# limit (a double that is exactly a float32 renders in the float32 form).
FLOATS = [1.5, 0.1, 100000.0, 123456.789, 1e6, 1234567.0, 1e-4, 1.2345e-5, -2.5e-300,
          1.7976931348623157e308, 5e-324, float("nan"), float("inf"), float("-inf"),
          -0.0, 0.0, None]
FLOAT32_ONLY = [3.4028234663852886e38, 1.401298464324817e-45, 0.10000000149011612]

_UTC = datetime.timezone.utc
_D = decimal.Decimal

# (column, SQL type, identity function, values by row). Row 2 is all NULL.
TYPED_COLUMNS = [
    ("bo", "BOOLEAN", "id_boolean", [True, None, False, True, False]),
    ("ti", "TINYINT", "id_tinyint", [1, None, -128, 127, 0]),
    ("si", "SMALLINT", "id_smallint", [-2, None, 32767, -32768, 0]),
    ("i", "INT", "id_int", [3, None, -2147483648, 2147483647, 0]),
    ("bi", "BIGINT", "id_bigint", [42, None, -9223372036854775808, 9223372036854775807, 0]),
    ("fl", "FLOAT", "id_float", [1.5, None, 3.25, -0.10000000149011612, 0.0]),
    ("db", "DOUBLE", "id_double", [0.1, None, -1e-7, 1e6, 0.0]),
    ("de", "DECIMAL(38, 18)", "id_decimal",
     [_D("12.345000000000000000"), None, _D("-0.000000000000000001"),
      _D("99999999999999999999.999999999999999999"), _D("0E-18")]),
    ("st", "STRING", "id_string", ["abc", None, "", "ünï 😀", " "]),
    ("bn", "BYTES", "id_binary", [bytearray(b"\x0a\xff"), None, bytearray(), bytearray(b"\x00"), bytearray(b"\x00\xff\x10")]),
    ("dt", "DATE", "id_date", [datetime.date(2024, 1, 2), None, datetime.date(1970, 1, 1),
                               datetime.date(9999, 12, 31), datetime.date(2000, 2, 29)]),
    ("tm", "TIME", "id_time", [datetime.time(12, 34, 56), None, datetime.time(0, 0, 0),
                               datetime.time(23, 59, 59), datetime.time(1, 2, 3)]),
    # Timestamps stay within what the stock worker's Cython coder decodes:
    # it keeps seconds in an int32 (later than 2038-01-19 03:14:07 wraps
    # around, e.g. 2262-04-11 comes back as 1990-01-27) and divides with C
    # semantics (pre-1970 values with a fraction of a second fail with
    # "microsecond must be in 0..999999").
    ("ts", "TIMESTAMP(3)", "id_timestamp",
     [datetime.datetime(2024, 1, 2, 3, 4, 5, 123000), None,
      datetime.datetime(1969, 7, 20, 20, 17, 40),
      datetime.datetime(2038, 1, 19, 3, 14, 7, 999000), datetime.datetime(2000, 2, 29, 12)]),
    ("ltz", "TIMESTAMP_LTZ(3)", "id_timestamp_ltz",
     [datetime.datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=_UTC), None,
      datetime.datetime(1970, 1, 1, tzinfo=_UTC),
      datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=_UTC),
      datetime.datetime(2000, 2, 29, 12, tzinfo=_UTC)]),
    ("arr", "ARRAY<BIGINT>", "id_array", [[1, 2], None, [None], [-1, 0, 1], []]),
    # (No NULL map values: from_elements' Java converter uses Collectors.toMap,
    # which throws NullPointerException on them.)
    ("mp", "MAP<STRING, BIGINT>", "id_map", [{"a": 1}, None, {"k": -7}, {"x": 1, "y": 2}, {}]),
    ("rw", "ROW<a BIGINT, b STRING>", "id_row", ["ROW:1:b", None, "ROW:None:None", "ROW:-5:",
                                                 "ROW:7:seven"]),
]

# Constant arguments (SQL literals) for describe(); no BYTES (see above).
CONSTANTS = [
    "TRUE", "CAST(NULL AS BOOLEAN)", "CAST(-128 AS TINYINT)", "CAST(-2 AS SMALLINT)",
    "2147483647", "CAST(-9223372036854775808 AS BIGINT)", "CAST(1.5 AS FLOAT)",
    "CAST(0.1 AS DOUBLE)", "CAST(1e6 AS DOUBLE)", "CAST(12.345 AS DECIMAL(10, 4))",
    "CAST('99999999999999999999.999999999999999999' AS DECIMAL(38, 18))",
    "'text ü 😀'", "CAST(NULL AS STRING)", "DATE '2024-01-02'", "TIME '12:34:56'",
    "TIMESTAMP '2024-01-02 03:04:05.123'", "TO_TIMESTAMP_LTZ(1704164645123, 3)",
]


def _sql_string(s):
    if s is None:
        return "CAST(NULL AS STRING)"
    return "'" + s.replace("'", "''") + "'"


def _strings_values_view():
    rows = ",\n  ".join("(%d, %s)" % (i + 1, _sql_string(s)) for i, s in enumerate(STRINGS))
    return ("CREATE TEMPORARY VIEW strs_values AS SELECT id, CAST(s AS STRING) AS s FROM (VALUES\n  "
            + rows + "\n) AS t(id, s)")


def _register_row_views(t_env):
    """Views over from_elements tables: UDF arguments arrive as row data."""
    from pyflink.common import Row
    from pyflink.table import DataTypes

    def schema(fields):
        return DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in fields])

    t_env.create_temporary_view("strs", t_env.from_elements(
        [(i + 1, s) for i, s in enumerate(STRINGS)],
        schema([("id", DataTypes.BIGINT()), ("s", DataTypes.STRING())])))
    t_env.create_temporary_view("nums", t_env.from_elements(
        [(n,) for n in NUMBERS], schema([("n", DataTypes.BIGINT())])))

    def as_float32(v):  # None where a FLOAT cannot hold the double
        if v is None or v != v or abs(v) == float("inf") or abs(v) <= 3.4028234663852886e38:
            return v
        return None
    pairs = [(as_float32(v), v) for v in FLOATS] + [(v, None) for v in FLOAT32_ONLY]
    t_env.create_temporary_view("floats", t_env.from_elements(
        [(i + 1, f, d) for i, (f, d) in enumerate(pairs)],
        schema([("k", DataTypes.BIGINT()), ("fl", DataTypes.FLOAT()),
                ("db", DataTypes.DOUBLE())])))

    types = {
        "BOOLEAN": DataTypes.BOOLEAN(), "TINYINT": DataTypes.TINYINT(),
        "SMALLINT": DataTypes.SMALLINT(), "INT": DataTypes.INT(), "BIGINT": DataTypes.BIGINT(),
        "FLOAT": DataTypes.FLOAT(), "DOUBLE": DataTypes.DOUBLE(),
        "DECIMAL(38, 18)": DataTypes.DECIMAL(38, 18), "STRING": DataTypes.STRING(),
        "BYTES": DataTypes.BYTES(), "DATE": DataTypes.DATE(), "TIME": DataTypes.TIME(),
        "TIMESTAMP(3)": DataTypes.TIMESTAMP(3), "TIMESTAMP_LTZ(3)": DataTypes.TIMESTAMP_LTZ(3),
        "ARRAY<BIGINT>": DataTypes.ARRAY(DataTypes.BIGINT()),
        "MAP<STRING, BIGINT>": DataTypes.MAP(DataTypes.STRING(), DataTypes.BIGINT()),
        "ROW<a BIGINT, b STRING>": DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                                                  DataTypes.FIELD("b", DataTypes.STRING())]),
    }

    def value(v):
        if isinstance(v, str) and v.startswith("ROW:"):
            _, a, b = v.split(":")
            return Row(None if a == "None" else int(a), None if b == "None" else b)
        return v
    n_rows = len(TYPED_COLUMNS[0][3])
    rows = [tuple([k + 1] + [value(c[3][k]) for c in TYPED_COLUMNS]) for k in range(n_rows)]
    t_env.create_temporary_view("typed", t_env.from_elements(
        rows, schema([("k", DataTypes.BIGINT())] + [(c[0], types[c[1]]) for c in TYPED_COLUMNS])))


# Functions registered through SQL DDL: <name>_py AS 'udfs.builtin.<name>'.
SQL_FUNCTIONS = ["upper", "length", "split_words", "series", "reject", "describe",
                 "row_to_string", "row_upper"] + [
    c[2] for c in TYPED_COLUMNS]


def _as_text(expr):
    """Results that PyFlink's collect() cannot bring back are cast to text in
    Java (same rendering for both halves): FLOAT/DOUBLE (NaN/Infinity fail:
    "malformed node or string"), TIMESTAMP_LTZ ("couldn't introspect
    javabean"), ARRAY and ROW holding NULLs ("EOFError: Ran out of input")."""
    return "CAST(%s AS STRING)" % expr


_TEXT_RESULTS = ("FLOAT", "DOUBLE", "TIMESTAMP_LTZ(3)", "ARRAY<BIGINT>", "ROW<a BIGINT, b STRING>")


# name -> (kind, text). kind "sql": a SELECT; "table": a Table API case
# implemented in _table_api(); "error": a SELECT expected to fail.
QUERIES = {
    # Strings as row data.
    "sql_strings": ("sql", "SELECT id, s, upper_py(s), length_py(s), length_py(upper_py(s)), "
                           "upper_py(upper_py(s)), describe_py(length_py(s)), reject_py(s) FROM strs"),
    "sql_split_words": ("sql", "SELECT id, word FROM strs, LATERAL TABLE(split_words_py(s)) AS w(word)"),
    "sql_split_words_left": (
        "sql", "SELECT id, word FROM strs LEFT JOIN LATERAL TABLE(split_words_py(s)) AS w(word) ON TRUE"),
    # Strings as constants (SQL VALUES).
    "sql_values_strings": ("sql", "SELECT id, upper_py(s), length_py(s) FROM strs_values"),
    "sql_values_split_words": (
        "sql", "SELECT id, word FROM strs_values, LATERAL TABLE(split_words_py(s)) AS w(word)"),
    # Table function over numbers.
    "sql_series": ("sql", "SELECT n, i FROM nums, LATERAL TABLE(series_py(n)) AS s(i)"),
    # Every type family as row data.
    "sql_identity_types": ("sql", "SELECT k, " + ", ".join(
        _as_text("%s_py(%s)" % (f, c)) if t in _TEXT_RESULTS else "%s_py(%s)" % (f, c)
        for c, t, f, _ in TYPED_COLUMNS) + " FROM typed"),
    "sql_describe_types": ("sql", "SELECT k, " + ", ".join(
        "describe_py(%s)" % c for c, _, _, _ in TYPED_COLUMNS) + " FROM typed"),
    "sql_floats": ("sql", "SELECT k, describe_py(fl), describe_py(db), "
                          + _as_text("id_float_py(fl)") + ", " + _as_text("id_double_py(db)")
                          + ", describe_py(id_double_py(db)) FROM floats"),
    "sql_rows": ("sql", "SELECT k, row_to_string_py(rw), " + _as_text("row_upper_py(rw)") + ", "
                        "row_to_string_py(ROW(k, st)), " + _as_text("row_upper_py(ROW(k, st))")
                        + " FROM typed"),
    # Constant arguments of many types.
    "sql_describe_constants": ("sql", "SELECT " + ", ".join(
        "describe_py(%s)" % c for c in CONSTANTS)),
    # Errors.
    "sql_reject_error": ("error", "SELECT id, reject_py(CASE WHEN id = 3 THEN 'BAD1' ELSE s END) FROM strs"),
    # Table API with the @udf objects themselves.
    "table_select": ("table", None),
    "table_join_lateral": ("table", None),
    "table_left_join_lateral": ("table", None),
}

# For "error" queries: substrings both workers' failures must contain.
# (Python raises ValueError("rejected input 'BAD1'"); the quoting of the
# value is not compared, only the message and the value.)
EXPECTED_ERRORS = {
    "sql_reject_error": ["rejected input", "BAD1"],
}

# Rows for the Table API half: (id BIGINT, s STRING).
TABLE_ROWS = [
    (1, "hello world"),
    (2, None),
    (3, ""),
    (4, "café Ärger"),
    (5, "straße"),
    (6, "emoji 😀 and 👍🏽"),
    (None, "  spaced   out  "),
    (-9223372036854775808, "min"),
    (9223372036854775807, "max"),
]


# ---------------------------------------------------------------------------
# Running.

def _row_to_json(row):
    kind = str(row.get_row_kind()) if hasattr(row, "get_row_kind") else "?"
    return [kind] + [repr(v) for v in row]


def _collect(table_result):
    with table_result.collect() as it:
        return [_row_to_json(r) for r in it]


def _error_text(exc):
    parts = ["%s: %s" % (type(exc).__name__, exc)]
    for attr in ("stackTrace", "java_exception"):
        v = getattr(exc, attr, None)
        if v is not None:
            parts.append(str(v))
    parts.append(traceback.format_exc())
    return "\n".join(parts)


def _table_api(t_env, name):
    from pyflink.table import DataTypes
    from pyflink.table.expressions import col
    from udfs.builtin import id_bigint, length, split_words, upper

    t = t_env.from_elements(TABLE_ROWS, DataTypes.ROW([
        DataTypes.FIELD("id", DataTypes.BIGINT()),
        DataTypes.FIELD("s", DataTypes.STRING())]))
    if name == "table_select":
        return t.select(col("id"), id_bigint(col("id")), upper(col("s")), length(col("s")),
                        length(upper(col("s"))))
    if name == "table_join_lateral":
        return t.join_lateral(split_words(col("s")).alias("word")).select(col("id"), col("word"))
    if name == "table_left_join_lateral":
        return t.left_outer_join_lateral(split_words(col("s")).alias("word")) \
            .select(id_bigint(col("id")), upper(col("word")))
    raise KeyError(name)


def run(executable, client_executable, python_files, time_zone):
    # Must be set before the TableEnvironment is created: it makes PyFlink
    # use real worker processes (python.executable) instead of loopback.
    os.environ["_python_worker_execution_mode"] = "process"
    from pyflink.table import EnvironmentSettings, TableEnvironment

    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("parallelism.default", "1")
    conf.set("restart-strategy.type", "none")
    conf.set("table.local-time-zone", time_zone)
    conf.set("python.executable", executable)
    conf.set("python.client.executable", client_executable)
    if python_files:
        conf.set("python.files", python_files)

    setup_errors = []
    try:
        _register_row_views(t_env)
    except Exception as e:
        setup_errors.append(_error_text(e))
    for stmt in [_strings_values_view()] + [
            "CREATE TEMPORARY FUNCTION %s_py AS 'udfs.builtin.%s' LANGUAGE PYTHON" % (f, f)
            for f in SQL_FUNCTIONS]:
        try:
            t_env.execute_sql(stmt)
        except Exception as e:  # reported with every query below
            setup_errors.append(_error_text(e))

    results = {}
    for name, (kind, text) in QUERIES.items():
        try:
            if setup_errors:
                raise RuntimeError("setup failed:\n" + "\n".join(setup_errors))
            if kind == "table":
                rows = _collect(_table_api(t_env, name).execute())
            else:
                rows = _collect(t_env.execute_sql(text))
            results[name] = {"rows": rows}
        except Exception as e:
            results[name] = {"error": _error_text(e)}
        print("[compat_jobs] %s: %s" % (name, "ok" if "rows" in results[name] else "ERROR"),
              file=sys.stderr, flush=True)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executable", required=True, help="python.executable for the workers")
    p.add_argument("--client-executable", default=sys.executable,
                   help="python.client.executable (planning-time Python for SQL DDL functions)")
    p.add_argument("--python-files", default="", help="python.files (e.g. a zip of udfs/)")
    p.add_argument("--time-zone", default="Asia/Shanghai", help="table.local-time-zone")
    p.add_argument("--out", required=True, help="JSON results file")
    a = p.parse_args(argv)
    results = run(a.executable, a.client_executable, a.python_files, a.time_zone)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
