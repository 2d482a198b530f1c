"""Python implementations of flinkfn's built-in functions.

Every public name here is a PyFlink ``@udf``/``@udtf`` whose Python body is the
reference semantics of the Go implementation that flinkfn registers under
the same Python identity (module ``udfs.builtin``, the function's name). The
stock PyFlink worker runs these bodies; flinkfn only reads the pickled
``(module, qualname)`` and runs Go. Keep the bodies and the Go code in step:
``integration/pyflink/test_compat.py`` runs the same jobs on both workers
and compares the results.

A decorated Python function needs fixed argument and result types, so the
type-generic functions (the ``id_*`` family, ``identity``) are declared with
a default type each. To use one with another type, re-declare it with
:func:`retype`; the pickled identity (and therefore the Go function flinkfn
runs) stays the same::

    from pyflink.table import DataTypes
    from udfs.builtin import id_decimal, retype
    id_dec_10_2 = retype(id_decimal, DataTypes.DECIMAL(10, 2))

Pandas-style (``func_type="pandas"``: one pandas Series per argument for a
whole Arrow batch) the scalar functions are the same functions declared with
:func:`pandas`, e.g. ``pandas(id_decimal, DataTypes.DECIMAL(10, 2))``; SQL DDL
names ``udfs.builtin.upper_pandas`` / ``length_pandas``. flinkfn runs the
same Go function either way. On the stock worker the bodies of the identity
family, ``upper``, ``length`` and ``reject`` take Series; ``describe``,
``row_to_string`` and ``row_upper`` are row-at-a-time only (pandas hands them
its own types: float64 for an integer column with NULLs, Timestamps,
DataFrames for rows).

All functions return NULL for a NULL argument unless their doc says
otherwise (``describe`` returns the string ``"NULL"``; the table functions
emit no rows).
"""

import datetime
import decimal
import math
import struct

from pyflink.table import DataTypes
from pyflink.table.udf import (UserDefinedScalarFunctionWrapper,
                               UserDefinedTableFunctionWrapper, udf, udtf)

__all__ = [
    "id_boolean", "id_tinyint", "id_smallint", "id_int", "id_bigint",
    "id_float", "id_double", "id_decimal", "id_string", "id_binary",
    "id_date", "id_time", "id_timestamp", "id_timestamp_ltz", "id_array",
    "id_map", "id_row", "identity",
    "upper", "length", "reject", "describe", "row_to_string", "row_upper",
    "split_words", "series",
    "retype", "pandas", "upper_pandas", "length_pandas",
]


# ---------------------------------------------------------------------------
# Identity, one per type family. Argument type = result type = the default
# shown; use retype() for another member of the family (e.g. DECIMAL(10, 2)).

def _identity_udf(default_type):
    """Decorator: a typed identity UDF whose argument type is its result type."""
    return udf(input_types=[default_type], result_type=default_type)


@_identity_udf(DataTypes.BOOLEAN())
def id_boolean(x):
    return x


@_identity_udf(DataTypes.TINYINT())
def id_tinyint(x):
    return x


@_identity_udf(DataTypes.SMALLINT())
def id_smallint(x):
    return x


@_identity_udf(DataTypes.INT())
def id_int(x):
    return x


@_identity_udf(DataTypes.BIGINT())
def id_bigint(x):
    return x


@_identity_udf(DataTypes.FLOAT())
def id_float(x):
    return x


@_identity_udf(DataTypes.DOUBLE())
def id_double(x):
    return x


@_identity_udf(DataTypes.DECIMAL(38, 18))
def id_decimal(x):
    return x


@_identity_udf(DataTypes.STRING())
def id_string(x):
    return x


@_identity_udf(DataTypes.BYTES())
def id_binary(x):
    return x


@_identity_udf(DataTypes.DATE())
def id_date(x):
    return x


@_identity_udf(DataTypes.TIME())
def id_time(x):
    return x


@_identity_udf(DataTypes.TIMESTAMP(3))
def id_timestamp(x):
    return x


@_identity_udf(DataTypes.TIMESTAMP_LTZ(3))
def id_timestamp_ltz(x):
    return x


@_identity_udf(DataTypes.ARRAY(DataTypes.BIGINT()))
def id_array(x):
    return x


@_identity_udf(DataTypes.MAP(DataTypes.STRING(), DataTypes.BIGINT()))
def id_map(x):
    return x


@_identity_udf(DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                              DataTypes.FIELD("b", DataTypes.STRING())]))
def id_row(x):
    return x


# The generic identity takes any argument; its declared result type must
# match the argument's type (flinkfn checks this when the bundle starts).
# The default is STRING; retype() it for other types.
@udf(result_type=DataTypes.STRING())
def identity(x):
    return x


# ---------------------------------------------------------------------------
# Strings.

@udf(input_types=[DataTypes.STRING()], result_type=DataTypes.STRING())
def upper(s):
    """Python's str.upper(): full Unicode case mapping ("straße" -> "STRASSE").

    Declared func_type="pandas", it gets a pandas Series (NULLs stay NULL)."""
    if s is None:
        return None
    if _is_series(s):
        return s.map(lambda v: None if v is None else v.upper())
    return s.upper()


def _pd_series(values, like):
    """A pandas result Series of Python values (object dtype, so that ints
    with a NULL stay ints) with the index of the argument Series like."""
    import pandas as pd
    return pd.Series(values, index=like.index, dtype=object)


def _is_series(x):
    """Whether a pandas function (func_type="pandas") got a pandas Series."""
    return type(x).__name__ == "Series" and hasattr(x, "map")


@udf(input_types=[DataTypes.STRING()], result_type=DataTypes.INT())
def length(s):
    """Number of Unicode code points (Python's len), not UTF-8 or UTF-16 units."""
    if s is None:
        return None
    if _is_series(s):
        # object dtype: pandas would make ints with a NULL float64, and
        # PyFlink's result conversion takes no extension dtype (Int32).
        return _pd_series([None if v is None else len(v) for v in s], s)
    return len(s)


@udf(input_types=[DataTypes.STRING()], result_type=DataTypes.STRING())
def reject(s):
    """Fails the row when s starts with "BAD" (to exercise error reporting)."""
    if _is_series(s):
        for v in s:
            if v is not None and v.startswith("BAD"):
                raise ValueError(f"rejected input {v!r}")
        return s
    if s is not None and s.startswith("BAD"):
        raise ValueError(f"rejected input {s!r}")
    return s


@udf(result_type=DataTypes.STRING())
def describe(x):
    """Renders any value as flinkfn's Go worker does (fn.Value.String).

    NULL -> "NULL" (a string, not NULL); booleans "true"/"false"; integers
    "42"; floats in Go's shortest form ("1.5", "1e+06", "NaN", "+Inf");
    decimals in plain notation keeping the scale ("1.50"); strings as is;
    bytes as x'0aff'; dates "2024-01-02"; times "12:34:56.000"; timestamps
    "2024-01-02T03:04:05.123000000" (TIMESTAMP_LTZ in UTC); arrays
    "[1, NULL]"; maps "{k=v, ...}"; rows "+I(1, a)".

    Known limits of the Python side: a FLOAT argument arrives as a Python
    float, so any float that is exactly a 32-bit float is rendered in the
    32-bit shortest form (a DOUBLE argument that happens to hold such a
    value, e.g. CAST(CAST(0.1 AS FLOAT) AS DOUBLE), renders "0.1" here but
    "0.10000000149011612" in Go); timestamps carry microseconds only.
    """
    return _describe(x)


# ---------------------------------------------------------------------------
# Rows.

@udf(result_type=DataTypes.STRING())
def row_to_string(row):
    """A whole ROW rendered like describe(): "+I(a, 1, NULL)"; NULL -> "NULL"."""
    return _describe(row)


# The result type is the argument's row type; the default matches id_row.
# retype() it for other rows.
@udf(input_types=[DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                                 DataTypes.FIELD("b", DataTypes.STRING())])],
     result_type=DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                                DataTypes.FIELD("b", DataTypes.STRING())]))
def row_upper(row):
    """The row with its text fields upper-cased (str.upper()); NULL -> NULL."""
    if row is None:
        return None
    from pyflink.common import Row
    return Row(*[v.upper() if isinstance(v, str) else v for v in row])


# ---------------------------------------------------------------------------
# Table functions.

@udtf(input_types=["STRING"], result_types="ROW<word STRING>")
def split_words(s):
    """One row per word of Python's s.split() (any Unicode whitespace)."""
    if s is None:
        return
    for w in s.split():
        yield w


@udtf(input_types=["BIGINT"], result_types="ROW<i BIGINT>")
def series(n):
    """Rows i = 0 .. n-1; nothing for NULL or n <= 0."""
    if n is None:
        return
    for i in range(n):
        yield i


# ---------------------------------------------------------------------------
# Helpers (module level: pickled by reference, so the stock worker imports
# this module; flinkfn never needs them).

def retype(fn, result_type, input_types=None):
    """Re-declares a built-in with other types, keeping its Python identity.

    For the identity functions and row_upper the argument type defaults to
    the result type; for the others the original argument types are kept unless
    input_types is given. Table functions take a row type string such as
    "ROW<i BIGINT>" (or a list of DataTypes) as result_type; PyFlink only
    accepts a string result row type together with string argument types
    (e.g. input_types=["BIGINT"]), as split_words and series declare them.
    """
    if input_types is None:
        if fn._func.__name__ in ("identity", "row_upper") or fn._func.__name__.startswith("id_"):
            input_types = [result_type]
        else:
            input_types = fn._input_types
    if isinstance(fn, UserDefinedTableFunctionWrapper):
        return udtf(fn._func, input_types=input_types, result_types=result_type,
                    deterministic=fn._deterministic, name=fn._name)
    if isinstance(fn, UserDefinedScalarFunctionWrapper):
        return udf(fn._func, input_types=input_types, result_type=result_type,
                   deterministic=fn._deterministic, name=fn._name)
    raise TypeError(f"retype: not a udfs.builtin function: {fn!r}")


def pandas(fn, result_type=None, input_types=None):
    """Declares a scalar built-in func_type="pandas" (a whole Arrow batch per
    call), keeping its Python identity, optionally with other types (as
    :func:`retype`)."""
    if not isinstance(fn, UserDefinedScalarFunctionWrapper):
        raise TypeError(f"pandas: not a udfs.builtin scalar function: {fn!r}")
    if result_type is None:
        result_type = fn._result_type
        if input_types is None:
            input_types = fn._input_types
    elif input_types is None:
        if fn._func.__name__ in ("identity", "row_upper") or fn._func.__name__.startswith("id_"):
            input_types = [result_type]
        else:
            input_types = fn._input_types
    return udf(fn._func, input_types=input_types, result_type=result_type, func_type="pandas",
               deterministic=fn._deterministic, name=fn._name)


# Pandas declarations for SQL DDL (CREATE TEMPORARY FUNCTION ... AS
# 'udfs.builtin.upper_pandas' LANGUAGE PYTHON); the same functions.
upper_pandas = pandas(upper)
length_pandas = pandas(length)


def _describe(x):
    if x is None:
        return "NULL"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if _is_float32(x):
            return _go_format_float(x, 32)
        return _go_format_float(x, 64)
    if isinstance(x, decimal.Decimal):
        s = format(x, "f")
        if s.startswith("-") and x.is_zero():
            # Go's big.Int has no negative zero: "-0.00" renders "0.00".
            s = s[1:]
        return s
    if isinstance(x, str):
        return x
    if isinstance(x, (bytes, bytearray, memoryview)):
        return "x'" + bytes(x).hex() + "'"
    if isinstance(x, datetime.datetime):
        # TIMESTAMP arrives naive; TIMESTAMP_LTZ arrives as the UTC wall
        # clock of its epoch millis tagged with the session zone (PyFlink's
        # coder), so dropping tzinfo gives the UTC rendering Go uses.
        return "%04d-%02d-%02dT%02d:%02d:%02d.%09d" % (
            x.year, x.month, x.day, x.hour, x.minute, x.second, x.microsecond * 1000)
    if isinstance(x, datetime.date):
        return "%04d-%02d-%02d" % (x.year, x.month, x.day)
    if isinstance(x, datetime.time):
        return "%02d:%02d:%02d.%03d" % (x.hour, x.minute, x.second, x.microsecond // 1000)
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_describe(e) for e in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(_describe(k) + "=" + _describe(v) for k, v in x.items()) + "}"
    # pyflink.common.Row (not imported at module level on purpose).
    if hasattr(x, "get_row_kind") and hasattr(x, "_values"):
        return str(x.get_row_kind()) + "(" + ", ".join(_describe(e) for e in x._values) + ")"
    return str(x)


def _is_float32(x):
    if math.isnan(x) or math.isinf(x):
        return True  # same text either way
    try:
        return struct.unpack("<f", struct.pack("<f", x))[0] == x
    except OverflowError:
        return False


def _shortest_digits(x, bits):
    """Shortest decimal digits that round-trip x (x > 0) at the given width.

    Returns (digits, dp): x ~= 0.digits * 10**dp, like Go's decimalSlice.
    """
    if bits == 64:
        text = repr(x)
    else:
        text = None
        for prec in range(1, 10):
            cand = "%.*e" % (prec - 1, x)
            try:
                back = struct.unpack("<f", struct.pack("<f", float(cand)))[0]
            except OverflowError:  # rounded past the largest float32
                continue
            if back == x:
                text = cand
                break
        if text is None:  # cannot happen: 9 digits always round-trip a float32
            text = "%.8e" % x
    sign, digits, exp = decimal.Decimal(text).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    return "".join(map(str, digits)), len(digits) + exp


def _go_format_float(x, bits):
    """strconv.FormatFloat(x, 'g', -1, bits): shortest round-trip digits,
    exponent form when the decimal exponent is < -4 or >= 6 ("1e+06",
    "1.2345e-05"), plain form otherwise ("123456", "0.0001")."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    x = abs(x)
    if x == 0:
        return sign + "0"
    digs, dp = _shortest_digits(x, bits)
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mant = digs[0] + ("." + digs[1:] if len(digs) > 1 else "")
        return "%s%se%s%02d" % (sign, mant, "-" if exp < 0 else "+", abs(exp))
    if dp <= 0:
        return sign + "0." + "0" * (-dp) + digs
    if dp >= len(digs):
        return sign + digs + "0" * (dp - len(digs))
    return sign + digs[:dp] + "." + digs[dp:]
