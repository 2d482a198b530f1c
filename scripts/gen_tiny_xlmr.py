#!/usr/bin/env python3
"""Builds the tiny XLM-RoBERTa model of inference/testdata/models/tiny-xlmr.

One-off (its output is committed; not in the test path). Runs in the reference
venv (scripts/ref_venv.sh: torch, transformers, sentence-transformers,
tokenizers, onnxruntime):

    .cache/ref-venv/bin/python scripts/gen_xlmr_tokenizer.py inference/testdata/models/tiny-xlmr
    .cache/ref-venv/bin/python scripts/gen_tiny_xlmr.py inference/testdata/models/tiny-xlmr

It proves flinkfn's path for XLM-R-family models (multilingual-e5, bge-m3, ...)
without their weights:

1. A randomly initialised transformers `XLMRobertaModel` (seed 20261203,
   hidden 32, 2 layers, 4 heads, feed-forward 64, initializer_range 0.2 so that
   texts get distinct vectors), vocabulary = the tokenizer.json in the folder
   (scripts/gen_xlmr_tokenizer.py), pad_token_id = padding_idx 1, bos 0,
   eos 2, max_position_embeddings 514 (= 512 + padding_idx + 1, as XLM-R's),
   no pooling layer. Like the published XLM-R exports its ONNX graph computes
   the position ids from input_ids != padding_idx and has no token_type_ids
   input (XLM-R's token type table has one row).
2. ONNX export with torch's TorchScript exporter, opset 17 (ONNX Runtime
   1.24.1, inference/runtime.json, runs up to opset 23), inputs input_ids and
   attention_mask, output last_hidden_state, dynamic batch and sequence:
   model.onnx, about 1.1 MB.
3. Golden vectors from sentence-transformers on the same PyTorch weights
   (Transformer with the tokenizer.json as a fast tokenizer, max_seq_length
   512, Pooling CLS resp. mean, Normalize), one text at a time:
   golden-cls.jsonl.gz and golden-mean.jsonl.gz, lines {"text", "ids",
   "vector"}; ids are sentence-transformers' (checked equal to HF tokenizers'
   on tokenizer.json with truncation at 512; sentence-transformers 6 hands the
   text to the tokenizer as it is, without stripping it, so trailing spaces
   give a "▁" token). The texts: multilingual names,
   addresses and sentences in many scripts, the hard cases of the MiniLM
   golden set, and long texts that truncate at 512. The script also runs the
   exported graph in ONNX Runtime on padded batches and checks it against the
   goldens (padding with the pad id 1 and with 0).
4. manifest.json (CLS pooling, max_seq_length 512, no token_type_ids, the
   files with their SHA-256; no registry source: the folder is the model).

Deterministic: the same bytes on every run (on one machine and torch build).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 20261203
MAX_SEQ_LENGTH = 512
OPSET = 17

TEXTS = [
    "José Müller", "Zoë Ångström", "Łódź, ul. Piotrkowska 12", "Nguyễn Thị Minh Khai", "İstanbul Şişli",
    "Straße", "Ørsted Søren Kierkegaard", "François Lefèvre-Dubois", "Ελληνικά γράμματα", "Москва, Красная площадь",
    "北京市朝阳区", "東京都渋谷区 ラーメン", "서울특별시 강남구", "مرحبا بالعالم", "שלום עולם", "हिन्दी पाठ",
    "বাংলা ভাষা", "தமிழ் நாடு", "ภาษาไทย กรุงเทพมหานคร", "ქართული ენა", "Հայաստան Երևան", "አዲስ አበባ",
    "payment 💳 for coffee ☕", "family 👨‍👩‍👧‍👦 and flag 🇫🇷", "emoji only 😀😃😄😁",
    "control\x00chars\x01here\x7f", "tab\tseparated\tvalues", "windows\r\nline\r\nends", "zero\u200bwidth\ufeffbom",
    "nbsp\u00a0between", "ideographic\u3000space", "many     spaces     inside", "   leading and trailing   ",
    "", " ", "A", "123456789", "1,234.56 EUR", "IBAN DE89 3704 0044 0532 0130 00", "user@example.com",
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ", "ﬁ ligature ﬂ", "e\u0301 combining acute", "Å vs A\u030a", "<s> and </s> and <pad>",
    "Der schnelle braune Fuchs springt über den faulen Hund.", "Le vif renard brun saute par-dessus le chien paresseux.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ", "我能吞下玻璃而不伤身体。", "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.", "Pchnąć w tę łódź jeża lub ośm skrzyń fig.", "Árvíztűrő tükörfúrógép",
    "Payment to REWE; Merchant category 5411; Amount: 49.15 EUR; Channel: POS; Country: DE",
    "Account holder: José Müller; Country: FR; Occupation: Ingénieur",
    " ".join(["transaction"] * 700),
    "Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag " * 60,
    "東京 大阪 名古屋 札幌 福岡 " * 150,
    " ".join(f"Zahlung {i} an Händler {i * 7} in Zürich" for i in range(90)),
]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build(vocab_size):
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(SEED)
    cfg = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=MAX_SEQ_LENGTH + 2, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, initializer_range=0.2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        attn_implementation="eager")
    model = XLMRobertaModel(cfg, add_pooling_layer=False).eval()
    return model


def export(model, path):
    ids = torch.tensor([[0, 100, 200, 300, 2], [0, 400, 2, 1, 1]], dtype=torch.int64)
    mask = (ids != 1).to(torch.int64)

    class Wrapped(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(
            Wrapped(model), (ids, mask), path, dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                          "last_hidden_state": {0: "batch", 1: "sequence"}})


def st_model(model, tokenizer_json, pooling, workdir):
    from sentence_transformers import SentenceTransformer, models
    from transformers import PreTrainedTokenizerFast

    d = os.path.join(workdir, "hf")
    if not os.path.exists(d):
        model.save_pretrained(d)
        tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_json, bos_token="<s>", eos_token="</s>",
                                      unk_token="<unk>", sep_token="</s>", cls_token="<s>", pad_token="<pad>",
                                      mask_token="<mask>", model_max_length=MAX_SEQ_LENGTH)
        tok.save_pretrained(d)
    tr = models.Transformer(d, max_seq_length=MAX_SEQ_LENGTH)
    pool = models.Pooling(tr.get_word_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[tr, pool, models.Normalize()], device="cpu")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?", default=os.path.join(ROOT, "inference", "testdata", "models", "tiny-xlmr"))
    args = ap.parse_args()
    out = args.outdir
    tokenizer_json = os.path.join(out, "tokenizer.json")

    from tokenizers import Tokenizer
    import onnxruntime as ort

    hf = Tokenizer.from_file(tokenizer_json)
    assert hf.token_to_id("<pad>") == 1 and hf.token_to_id("<s>") == 0 and hf.token_to_id("</s>") == 2
    hf.no_padding()
    hf.enable_truncation(MAX_SEQ_LENGTH)
    torch.set_num_threads(1)
    model = build(hf.get_vocab_size())
    onnx_path = os.path.join(out, "model.onnx")
    export(model, onnx_path)

    golden = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pooling in ("cls", "mean"):
            st = st_model(model, tokenizer_json, pooling, tmp)
            assert st.max_seq_length == MAX_SEQ_LENGTH
            rows = []
            for text in TEXTS:
                ids = st.tokenize([text])["input_ids"][0].tolist()
                want = hf.encode(text).ids  # sentence-transformers 6 does not strip texts
                assert ids == want, f"sentence-transformers ids {ids[:20]} != HF tokenizers {want[:20]} for {text!r}"
                v = st.encode([text], batch_size=1, convert_to_numpy=True)[0].astype(np.float32)
                rows.append({"text": text, "ids": ids, "vector": [float(str(x)) for x in v]})
            golden[pooling] = rows

    # The exported graph, in ONNX Runtime, on padded batches (pad 1 and pad 0), against the goldens.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"], sess.get_inputs()
    rows = golden["cls"]
    worst = {}
    for pad in (1, 0):
        for start in range(0, len(rows), 7):
            batch = rows[start:start + 7]
            n = max(len(r["ids"]) for r in batch)
            ids = np.full((len(batch), n), pad, dtype=np.int64)
            mask = np.zeros_like(ids)
            for i, r in enumerate(batch):
                ids[i, :len(r["ids"])] = r["ids"]
                mask[i, :len(r["ids"])] = 1
            h = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
            for i, r in enumerate(batch):
                k = start + i
                for pooling, v in (("cls", h[i, 0]), ("mean", h[i, :len(r["ids"])].mean(0))):
                    v = v / np.linalg.norm(v)
                    cos = float(np.dot(v, golden[pooling][k]["vector"]))
                    worst[(pad, pooling)] = min(worst.get((pad, pooling), 1.0), cos)
    for (pad, pooling), c in sorted(worst.items()):
        print(f"ONNX Runtime, padded batches of 7 (pad id {pad}), {pooling}: min cosine to the golden {c:.8f}",
              file=sys.stderr)
        assert c > 0.99999, (pad, pooling, c)

    vecs = np.array([r["vector"] for r in golden["cls"]])
    sims = vecs @ vecs.T
    off = sims[~np.eye(len(vecs), dtype=bool)]
    print(f"cls vectors of different texts: cosine {off.min():.3f} .. {np.median(off):.3f} (median) .. {off.max():.3f}",
          file=sys.stderr)

    for pooling, rows in golden.items():
        with gzip.GzipFile(os.path.join(out, f"golden-{pooling}.jsonl.gz"), "wb", mtime=0) as gz, \
                io.TextIOWrapper(gz, encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")

    manifest = {
        "name": "tiny-xlmr",
        "description": "randomly initialised 2-layer XLM-RoBERTa (hidden 32) for tests, written by scripts/gen_tiny_xlmr.py; "
                       "not a useful embedding model",
        "dims": 32,
        "pooling": "cls",
        "normalize": True,
        "max_seq_length": MAX_SEQ_LENGTH,
        "tokenizer": "tokenizer.json",
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "output": "last_hidden_state",
        "variants": {"fp32": "model.onnx"},
        "artifacts": [{"file": "model.onnx", "sha256": sha256(onnx_path)},
                      {"file": "tokenizer.json", "sha256": sha256(tokenizer_json)}],
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    truncated = sum(1 for r in golden["cls"] if len(r["ids"]) == MAX_SEQ_LENGTH)
    print(f"model.onnx {os.path.getsize(onnx_path)} bytes, {len(TEXTS)} texts ({truncated} at {MAX_SEQ_LENGTH} tokens) "
          f"-> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
