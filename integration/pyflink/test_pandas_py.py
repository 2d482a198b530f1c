"""Unit tests of the pandas paths of the Python stubs (no JVM, no worker, no
PyTorch): a batch arrives as PyFlink hands it to a func_type="pandas"
function (pyarrow -> pandas with date_as_object, as pyflink.table.utils.
arrow_to_pandas does), renders the same texts as the row-at-a-time function,
and is embedded with one encode call; the pandas declarations keep the
Python identity flinkfn resolves."""

import datetime
import decimal
import gzip
import json

import pyarrow as pa
import pytest

from pyflink.table import DataTypes
from udfs import _embedding, ah_embed_udf, builtin as b, embed_udf, txn_embed_udf

from pyflinkrun import REPO

GOLDEN = REPO / "inference" / "testdata" / "golden-minilm.jsonl.gz"


def golden_rows(fn):
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return [g["row"] | {"_text": g["text"]} for g in map(json.loads, f) if g.get("fn") == fn]


def as_pandas(columns, types):
    """Columns of Python values -> the pandas Series PyFlink gives a pandas UDF."""
    batch = pa.RecordBatch.from_arrays([pa.array(c, type=t) for c, t in zip(columns, types)],
                                       names=["f%d" % i for i in range(len(columns))])
    return [c.to_pandas(date_as_object=True) for c in pa.Table.from_batches([batch]).itercolumns()]


class FakeModel:
    """Records the encode calls; a text's vector is [len(text), 1, 0...]."""

    def __init__(self):
        self.calls = []

    def encode(self, texts, convert_to_numpy=True):
        import numpy as np
        self.calls.append(list(texts) if isinstance(texts, list) else texts)
        if isinstance(texts, str):
            return np.array([len(texts), 1.0], dtype="float64")
        return np.array([[len(t), 1.0] for t in texts], dtype="float64")


@pytest.fixture
def fake_model(monkeypatch):
    m = FakeModel()
    monkeypatch.setitem(_embedding._state, "model", m)
    return m


AH_TYPES = [pa.string()] * 7 + [pa.date32()]
TXN_TYPES = [pa.string(), pa.string(), pa.decimal128(12, 2), pa.string(), pa.string(), pa.string(), pa.string(),
             pa.timestamp("ms")]


def ah_values(r):
    dob = datetime.date.fromisoformat(r["date_of_birth"]) if r["date_of_birth"] else None
    return [r["name"], r["address"], r["city"], r["country"], r["nationality"], r["occupation"], r["segment"], dob]


def txn_values(r):
    return [r["merchant"], r["mcc"], decimal.Decimal(r["amount"]), r["currency"], r["channel"], r["country"],
            r["description"], datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")]


@pytest.mark.parametrize("fn, values, types", [("ah_embed", ah_values, AH_TYPES), ("txn_embed", txn_values, TXN_TYPES)])
def test_render_series_equals_row_at_a_time(fn, values, types):
    rows = [values(r) for r in golden_rows(fn)]
    assert len(rows) >= 100
    # NULL in every column of some rows (pandas holds them as None / NaT).
    rows.append([None] * 8)
    rows.append([None] * 7 + [rows[0][7]])
    rows.append(rows[1][:7] + [None])
    tmpl = _embedding.template(fn)
    cols = as_pandas(list(zip(*rows)), types)
    assert [type(c).__name__ for c in cols] == ["Series"] * 8
    got = _embedding.render_series(tmpl, cols)
    assert got == [_embedding.render(tmpl, r) for r in rows]
    assert got[:len(rows) - 3] == [r["_text"] for r in golden_rows(fn)]
    assert got[-3] is None


def test_integer_column_with_null_renders_as_integer():
    # pandas holds an integer column with a NULL as float64.
    tmpl = {"columns": ["a", "b"], "parts": ["a={a}", "b={b}"], "separator": " "}
    a, bcol = as_pandas([[5411, None, -3], ["x", "y", None]], [pa.int64(), pa.string()])
    assert str(a.dtype) == "float64"
    assert _embedding.render_series(tmpl, [a, bcol]) == ["a=5411 b=x", "b=y", "a=-3"]
    # A SQL literal argument arrives as one Python value.
    assert _embedding.render_series(tmpl, [7, bcol]) == ["a=7 b=x", "a=7 b=y", "a=7"]


def test_pandas_embedding_is_one_encode_per_batch(fake_model):
    rows = [ah_values(r) for r in golden_rows("ah_embed")[:5]] + [[None] * 8]
    cols = as_pandas(list(zip(*rows)), AH_TYPES)
    out = ah_embed_udf.ah_embed_pandas._func(*cols)
    assert type(out).__name__ == "Series" and len(out) == 6
    assert len(fake_model.calls) == 1 and len(fake_model.calls[0]) == 5
    assert out[5] is None
    for v, r in zip(out[:5], golden_rows("ah_embed")[:5]):
        assert str(v.dtype) == "float32" and v.tolist() == [len(r["_text"]), 1.0]
    # Row-at-a-time: one encode per row, the same vector.
    one = ah_embed_udf.ah_embed._func(*rows[0])
    assert one == out[0].tolist()
    texts = as_pandas([["a", None, "", "bcd"]], [pa.string()])[0]
    e = embed_udf.embed_pandas._func(texts)
    assert [None if v is None else v.tolist() for v in e] == [[1.0, 1.0], None, [0.0, 1.0], [3.0, 1.0]]
    t = txn_embed_udf.txn_embed_pandas._func(*as_pandas(list(zip(*[txn_values(r) for r in golden_rows("txn_embed")[:3]])),
                                                        TXN_TYPES))
    assert len(t) == 3 and all(v is not None for v in t)


def test_pandas_declarations_keep_the_python_identity():
    for wrapper, module, name in [(embed_udf.embed_pandas, "udfs.embed_udf", "embed"),
                                  (ah_embed_udf.ah_embed_pandas, "udfs.ah_embed_udf", "ah_embed"),
                                  (txn_embed_udf.txn_embed_pandas, "udfs.txn_embed_udf", "txn_embed"),
                                  (b.upper_pandas, "udfs.builtin", "upper"),
                                  (b.length_pandas, "udfs.builtin", "length"),
                                  (b.pandas(b.id_decimal, DataTypes.DECIMAL(10, 2)), "udfs.builtin", "id_decimal")]:
        assert wrapper._func_type == "pandas"
        assert (wrapper._func.__module__, wrapper._func.__qualname__) == (module, name)
    p = b.pandas(b.id_decimal, DataTypes.DECIMAL(10, 2))
    assert p._input_types == [DataTypes.DECIMAL(10, 2)] and p._result_type == DataTypes.DECIMAL(10, 2)
    with pytest.raises(TypeError, match="not a udfs.builtin scalar function"):
        b.pandas(b.series)


def test_builtin_series_bodies():
    s = as_pandas([["straße", None, "😀x"]], [pa.string()])[0]
    assert b.upper._func(s).tolist() == ["STRASSE", None, "😀X"]
    n = b.length._func(s)
    assert n.tolist() == [6, None, 2]
    assert b.reject._func(s) is s
    with pytest.raises(ValueError, match="rejected input 'BAD"):
        b.reject._func(as_pandas([["ok", "BAD1"]], [pa.string()])[0])
