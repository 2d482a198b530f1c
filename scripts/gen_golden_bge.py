#!/usr/bin/env python3
"""Writes the golden embedding fixture of bge-small-en-v1.5.

One-off (its output, inference/testdata/golden-bge-small.jsonl.gz, is committed).

Reference used: ONNX Runtime from Python on the same ONNX file flinkfn runs
(the installed .cache/models/bge-small-en-v1.5/model.onnx, from LangChain4j's
jar on Maven Central), with HuggingFace `tokenizers` on the same tokenizer.json,
CLS pooling and L2 normalisation in numpy. No registry package ships
BAAI/bge-small-en-v1.5's original PyTorch weights (PyPI has only wrappers that
download them from the model hub at run time), so sentence-transformers on the
original weights is not available here. What this fixture checks in flinkfn is
therefore its own tokenizer (Go, against HF tokenizers), its padding and
batching (flinkfn runs mixed-length batches, the reference one text at a
time), CLS pooling and normalisation; the export itself is the one
sentence-transformers users load through LangChain4j and transformers.js.

The tokenization is sentence-transformers' for this model (its
sentence_bert_config.json: max_seq_length 512, do_lower_case true):
the text as it is (sentence-transformers 6 does not strip it), lower-cased,
truncated to 512 ids including [CLS] and [SEP]. The script asserts that
lower-casing first and stripping change no ids (the tokenizer's
BertNormalizer lower-cases and drops outer whitespace anyway), so flinkfn,
which does neither before its tokenizer, gives the same ids.

    make setup      # installs .cache/models/bge-small-en-v1.5
    make ref-venv   # .cache/ref-venv: onnxruntime, tokenizers, numpy
    .cache/ref-venv/bin/python scripts/gen_golden_bge.py

Each line: {"text", "ids", "vector" (384 float32)}. The texts: every text of
inference/testdata/golden-minilm.jsonl.gz (tokenizer hard cases, rendered
account holders and transactions) plus long texts that truncate at 512.
Deterministic byte for byte.
"""

import argparse
import gzip
import io
import json
import os

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SEQ_LENGTH = 512

LONG = [
    " ".join(["transaction"] * 700),
    " ".join(f"payment {i} to merchant number {i * 7}" for i in range(120)),
    "The quick brown fox jumps over the lazy dog. " * 80,
    "Zoë Ångström paid 12.50 EUR at Café Müller, Łódź; " * 40,
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(ROOT, ".cache", "models", "bge-small-en-v1.5"))
    ap.add_argument("--texts", default=os.path.join(ROOT, "inference", "testdata", "golden-minilm.jsonl.gz"))
    ap.add_argument("--out", default=os.path.join(ROOT, "inference", "testdata", "golden-bge-small.jsonl.gz"))
    args = ap.parse_args()

    with open(os.path.join(args.model_dir, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["pooling"] == "cls" and manifest["max_seq_length"] == MAX_SEQ_LENGTH, manifest

    with gzip.open(args.texts, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    texts = [t for t in texts if t is not None] + LONG

    tok = Tokenizer.from_file(os.path.join(args.model_dir, manifest["tokenizer"]))
    tok.no_padding()
    tok.enable_truncation(MAX_SEQ_LENGTH)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(args.model_dir, manifest["variants"]["fp32"]), opts,
                                providers=["CPUExecutionProvider"])

    truncated = 0
    with gzip.GzipFile(args.out, "wb", mtime=0) as gz, io.TextIOWrapper(gz, encoding="utf-8") as out:
        for text in texts:
            ids = tok.encode(text.lower()).ids
            assert ids == tok.encode(text).ids, f"lower-casing changes the ids of {text!r}"
            assert ids == tok.encode(text.strip()).ids, f"stripping changes the ids of {text!r}"
            if len(ids) == MAX_SEQ_LENGTH:
                truncated += 1
            x = np.array([ids], dtype=np.int64)
            hidden = sess.run(["last_hidden_state"], {"input_ids": x, "attention_mask": np.ones_like(x),
                                                      "token_type_ids": np.zeros_like(x)})[0]
            v = hidden[0, 0].astype(np.float64)
            v = (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)
            rec = {"text": text, "ids": ids, "vector": [float(str(x)) for x in v]}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"{len(texts)} texts ({truncated} truncated at {MAX_SEQ_LENGTH}) -> {args.out}")


if __name__ == "__main__":
    main()
