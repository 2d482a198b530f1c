#!/usr/bin/env python3
"""Train the tiny XLM-RoBERTa-style tokenizer of inference/testdata/models/tiny-xlmr.

Runs in the reference venv (scripts/ref_venv.sh pins sentencepiece, babel, transformers and
tokenizers):

    .cache/ref-venv/bin/python scripts/gen_xlmr_tokenizer.py inference/testdata/models/tiny-xlmr

1. The training text is CLDR's locale data shipped in PyPI `babel`: the names of territories,
   languages, scripts and currencies and the month and day names of every locale, in every
   script CLDR covers (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Bengali, Tamil, Thai,
   CJK, Hangul, kana, Georgian, Armenian, Ethiopic, ...).
2. sentencepiece trains a Unigram model on it the way XLM-R's was made: nmt_nfkc normalization
   (the precompiled charsmap), add_dummy_prefix, pieces <unk>=0 <s>=1 </s>=2, vocabulary 8,000,
   character_coverage 0.9995 (rare characters stay <unk>). One thread and a fixed random seed:
   the model is the same bytes on every run.
3. The model becomes a HuggingFace tokenizer.json shaped like the published XLM-R family's
   (intfloat/multilingual-e5-*, BAAI/bge-m3), i.e. what transformers 4.x's XLMRobertaConverter
   wrote: the fairseq vocabulary layout (<s>=0 <pad>=1 </s>=2 <unk>=3, the spm pieces from id 4
   shifted by one, <mask> last), normalizer Sequence[Precompiled, Replace(" {2,}" -> " ")],
   pre_tokenizer Metaspace("▁", prepend_scheme always, split), post_processor
   TemplateProcessing "<s> $A </s>", <mask> with lstrip. The vocabulary is the one
   transformers' own XLMRobertaConverter builds (its vocab() is called on the spm proto).

Writes sentencepiece.bpe.model (the spm model, as the XLM-R repos name it) and tokenizer.json
into the output directory, and prints how transformers 5.x's own conversion would differ.
"""
import argparse
import json
import os
import sys
import tempfile

VOCAB_SIZE = 8000


def corpus():
    """CLDR strings of every babel locale, sorted (deterministic), deduplicated."""
    import babel.localedata
    from babel import Locale

    out = set()
    for ident in babel.localedata.locale_identifiers():
        try:
            loc = Locale.parse(ident)
        except (ValueError, babel.UnknownLocaleError):
            continue
        for names in (loc.territories, loc.languages, loc.scripts, loc.currencies):
            out.update(v for v in names.values() if isinstance(v, str))
        for table in (loc.months, loc.days):
            for ctx in table.values():
                for width in ctx.values():
                    out.update(v for v in width.values() if isinstance(v, str))
    return sorted(s for s in out if s.strip())


def train(workdir, lines):
    import sentencepiece as spm

    text = os.path.join(workdir, "cldr.txt")
    with open(text, "w", encoding="utf-8") as f:
        for s in lines:
            f.write(s.replace("\n", " ") + "\n")
    prefix = os.path.join(workdir, "spm")
    spm.set_random_generator_seed(20261203)
    spm.SentencePieceTrainer.train(
        input=text, model_prefix=prefix, model_type="unigram", vocab_size=VOCAB_SIZE,
        normalization_rule_name="nmt_nfkc", character_coverage=0.9995, add_dummy_prefix=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, shuffle_input_sentence=False,
        input_sentence_size=0, minloglevel=2)
    proto = spm_proto().ModelProto()
    with open(prefix + ".model", "rb") as f:
        proto.ParseFromString(f.read())
    # The trainer records its (temporary) input and output paths: drop them, same bytes each run.
    proto.trainer_spec.ClearField("input")
    proto.trainer_spec.model_prefix = "sentencepiece.bpe"
    return proto.SerializeToString(deterministic=True)


def spm_proto():
    """sentencepiece's model proto module. transformers prefers sentencepiece's own generated
    module, which needs protobuf >= 7 where apache-flink pins 5.x; transformers' copy works on
    protobuf 4+, so the converter is pointed at it."""
    import transformers.convert_slow_tokenizer as conv
    from transformers.utils import sentencepiece_model_pb2_new as pb

    conv.import_protobuf = lambda error_message="": pb
    return pb


def to_hf(model_bytes):
    """The tokenizer.json transformers 4.x's XLMRobertaConverter wrote for XLM-R models."""
    from tokenizers import AddedToken, Regex, Tokenizer, normalizers, pre_tokenizers, processors, decoders
    from tokenizers.models import Unigram
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    proto = spm_proto().ModelProto()
    proto.ParseFromString(model_bytes)
    assert proto.trainer_spec.model_type == 1, "not a Unigram model"
    vocab = XLMRobertaConverter.vocab(None, proto)  # fairseq layout, <mask> last
    tok = Tokenizer(Unigram(vocab, unk_id=XLMRobertaConverter.unk_id(None, proto), byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    ids = {p: i for i, (p, _) in enumerate(vocab)}
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    tok.add_special_tokens([
        AddedToken("<s>", normalized=False, special=True),
        AddedToken("<pad>", normalized=False, special=True),
        AddedToken("</s>", normalized=False, special=True),
        AddedToken("<unk>", normalized=False, special=True),
        AddedToken("<mask>", lstrip=True, normalized=False, special=True),
    ])
    return tok, proto


def transformers5_differences(model_path, ours):
    """What transformers 5.x's XLMRobertaConverter makes of the same spm model, as key paths."""
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    class Slow:  # the two things the converter asks of a slow tokenizer
        vocab_file = model_path
        add_prefix_space = True

        def convert_tokens_to_ids(self, t):
            return {"<s>": 0, "</s>": 2}[t]

    theirs = json.loads(XLMRobertaConverter(Slow()).converted().to_str())
    diffs = []
    for key in ("normalizer", "pre_tokenizer", "post_processor", "model"):
        a, b = dict(ours[key] or {}), dict(theirs[key] or {})
        for d in (a, b):
            d.pop("vocab", None)
            for n in d.get("normalizers", []):
                n.pop("precompiled_charsmap", None)
        if a != b:
            diffs.append(f"{key}: ours {json.dumps(a)} / transformers 5: {json.dumps(b)}")
    if ours["model"]["vocab"] != theirs["model"]["vocab"]:
        diffs.append("model.vocab differs")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    args = ap.parse_args()
    lines = corpus()
    with tempfile.TemporaryDirectory() as tmp:
        model = train(tmp, lines)
    tok, proto = to_hf(model)
    os.makedirs(args.outdir, exist_ok=True)
    model_path = os.path.join(args.outdir, "sentencepiece.bpe.model")
    with open(model_path, "wb") as f:
        f.write(model)
    tok.save(os.path.join(args.outdir, "tokenizer.json"), pretty=True)
    data = json.loads(tok.to_str())
    print(f"trained on {len(lines)} CLDR strings: {len(proto.pieces)} spm pieces, "
          f"{tok.get_vocab_size()} ids; wrote {args.outdir}/tokenizer.json and sentencepiece.bpe.model",
          file=sys.stderr)
    for d in transformers5_differences(model_path, data):
        print("transformers 5 conversion differs: " + d, file=sys.stderr)


if __name__ == "__main__":
    main()
