"""Unit tests of the Python bodies in udfs/builtin.py (no JVM, no worker).

They pin the reference semantics that flinkfn's Go functions must match,
using the examples of the function docs (describe's rendering follows Go's
fn.Value.String / strconv.FormatFloat(x, 'g', -1, bits)).
"""

import datetime
import decimal
import struct

import pytest

from pyflink.common import Row
from udfs import builtin as b


def call(f, *args):
    return f._func(*args)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


@pytest.mark.parametrize("value, want", [
    (None, "NULL"), (True, "true"), (False, "false"), (42, "42"), (-9223372036854775808, "-9223372036854775808"),
    (1.5, "1.5"), (0.1, "0.1"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (1e-4, "0.0001"), (1.2345e-5, "1.2345e-05"), (1e21, "1e+21"), (-0.0, "-0"), (0.0, "0"),
    (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (5e-324, "5e-324"),
    (f32(0.1), "0.1"), (f32(123456.789), "123456.79"), (f32(3.4028234663852886e38), "3.4028235e+38"),
    (decimal.Decimal("1.50"), "1.50"), (decimal.Decimal("-0.00"), "0.00"), (decimal.Decimal("1E+3"), "1000"),
    (decimal.Decimal("-12.345000000000000000"), "-12.345000000000000000"),
    ("text ü 😀", "text ü 😀"), ("", ""), (b"\x0a\xff", "x'0aff'"), (bytearray(), "x''"),
    (datetime.date(2024, 1, 2), "2024-01-02"), (datetime.date(1, 1, 1), "0001-01-01"),
    (datetime.time(12, 34, 56), "12:34:56.000"), (datetime.time(1, 2, 3, 4000), "01:02:03.004"),
    (datetime.datetime(2024, 1, 2, 3, 4, 5, 123000), "2024-01-02T03:04:05.123000000"),
    (datetime.datetime(2024, 1, 2, 3, 4, 5, 123456), "2024-01-02T03:04:05.123456000"),
    ([1, None, 3], "[1, NULL, 3]"), ([], "[]"), ({"a": 1, "b": None}, "{a=1, b=NULL}"),
    (Row(1, "a", None), "+I(1, a, NULL)"), (Row(1, Row(2.5, [True])), "+I(1, +I(2.5, [true]))"),
])
def test_describe(value, want):
    assert call(b.describe, value) == want


def test_describe_ltz_renders_utc_wall_clock():
    # PyFlink decodes TIMESTAMP_LTZ as the UTC wall clock tagged with the
    # session zone; describe drops the tag, as Go renders UTC.
    import pytz
    v = pytz.timezone("Asia/Shanghai").localize(datetime.datetime(2024, 1, 2, 3, 4, 5, 123000))
    assert call(b.describe, v) == "2024-01-02T03:04:05.123000000"


def test_strings():
    assert call(b.upper, "straße café 😀") == "STRASSE CAFÉ 😀"
    assert call(b.upper, None) is None
    assert call(b.length, "👍🏽é") == 3
    assert call(b.length, None) is None
    assert call(b.reject, "fine") == "fine"
    assert call(b.reject, None) is None
    with pytest.raises(ValueError, match=r"^rejected input 'BAD1'$"):
        call(b.reject, "BAD1")


def test_rows():
    assert call(b.row_to_string, Row(1, "a", None)) == "+I(1, a, NULL)"
    assert call(b.row_to_string, None) == "NULL"
    assert list(call(b.row_upper, Row(1, "straße", None))) == [1, "STRASSE", None]
    assert call(b.row_upper, None) is None


def test_table_functions():
    assert list(call(b.split_words, " a\tb\x1fc\u3000d  ")) == ["a", "b", "c", "d"]
    assert list(call(b.split_words, "")) == []
    assert list(call(b.split_words, None)) == []
    assert list(call(b.series, 3)) == [0, 1, 2]
    assert list(call(b.series, 0)) == []
    assert list(call(b.series, -1)) == []
    assert list(call(b.series, None)) == []


def test_identity_and_retype():
    from pyflink.table import DataTypes
    for name in ("id_bigint", "id_string", "identity"):
        assert call(getattr(b, name), 7) == 7
    r = b.retype(b.id_decimal, DataTypes.DECIMAL(10, 2))
    assert r._func is b.id_decimal._func
    assert r._input_types == [DataTypes.DECIMAL(10, 2)]
    assert r._result_type == DataTypes.DECIMAL(10, 2)


def test_pickled_identity_is_module_and_name():
    """flinkfn identifies each function by the pickled (__module__, __qualname__)."""
    import cloudpickle
    import pickletools
    for name in b.__all__:
        if name in ("retype", "pandas"):
            continue
        f = getattr(b, name)
        assert f._func.__module__ == "udfs.builtin"
        # upper_pandas is upper declared func_type="pandas": the same function.
        assert f._func.__qualname__ == name.removesuffix("_pandas")
        name = f._func.__qualname__
        payload = cloudpickle.dumps(f._create_delegate_function())
        text = "\n".join(str(arg) for _, arg, _ in pickletools.genops(payload))
        assert "udfs.builtin" in text and name in text
