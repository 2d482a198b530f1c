#!/usr/bin/env python3
"""Token ids from HuggingFace `tokenizers` for a sentencepiece Unigram (XLM-RoBERTa-style)
tokenizer.json, for inference/tokenizer's TestUnigramMatchesHuggingFace (and, with --graphemes and
--chars, the probes of TestPrecompiledGraphemes and TestPrecompiledCharacters).

    .cache/venv/bin/python scripts/gen_xlmr_fixture.py \\
        inference/testdata/models/tiny-xlmr/tokenizer.json inference/tokenizer/testdata/hf-xlmr-ids.jsonl.gz \\
        --graphemes inference/tokenizer/testdata/hf-xlmr-graphemes.txt.gz \\
        --chars inference/tokenizer/testdata/hf-xlmr-chars.txt.gz

Writes one JSON line per string: {"cat", "script", "text", "ids", "truncated", "normalized"},
gzipped with reproducible bytes; then the same for a sample of the strings (and all those of
category "special") under each of
VARIANTS (other shapes of tokenizer.json: "variant" names it, the first line holds the
patches). Texts are what sentence-transformers hands the tokenizer
(str(text).strip()), encoded with truncation at MAX_LEN ids including <s> and </s>, as
sentence-transformers asks (truncation=True, max_length=max_seq_length) and no padding.

The strings (fixed seed): sentences and words in 30 scripts (hand-written sentences, words
made of the tokenizer's own pieces of that script, random code points of the script's blocks),
the banking texts of gen_tokenizer_fixture.py, emoji and ZWJ/flag sequences, combining marks
(NFD forms, stacked and leading marks), full-width and half-width forms, NFKC-sensitive
characters (ligatures, Arabic presentation forms, Hangul jamo, compatibility ideographs),
odd whitespace and control characters, CR LF, special-token strings (<s>, <mask> with the
whitespace its lstrip takes, full-width look-alikes), very long words and texts longer than
MAX_LEN tokens, and random code points of every plane.
"""
import argparse
import gzip
import json
import os
import random
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer_fixture as base  # noqa: E402  (shared word lists and generators)

MAX_LEN = 256

# script -> (code point ranges, a few sentences)
SCRIPTS = {
    "latin": ([(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF)], [
        "Zażółć gęślą jaźń.", "Ça va très bien, merci!", "Müller & Söhne GmbH, Straße 5",
        "Nguyễn Thị Minh Khai", "Ångström Ørsted Æsir", "İstanbul'da kış", "Dziękuję bardzo",
        "Pražský hrad je krásný", "Árvíztűrő tükörfúrógép", "ŞİŞLİ ÇARŞI"]),
    "cyrillic": ([(0x400, 0x4FF)], [
        "Москва — столица России.", "Київ, вулиця Хрещатик", "Съешь же ещё этих мягких французских булок",
        "Ґудзик і їжак", "Беларусь", "Српска ћирилица", "Қазақ тілі"]),
    "greek": ([(0x370, 0x3FF), (0x1F00, 0x1FFF)], [
        "Καλημέρα κόσμε", "Ελλάδα", "ΑΘΗΝΑ", "ἐν ἀρχῇ ἦν ὁ λόγος", "Θεσσαλονίκη"]),
    "arabic": ([(0x600, 0x6FF), (0x750, 0x77F)], [
        "مرحبا بالعالم", "القاهرة", "اللغة العربية", "بِسْمِ اللَّهِ", "کتاب فارسی", "اردو زبان"]),
    "hebrew": ([(0x591, 0x5F4)], ["שלום עולם", "ירושלים", "עִבְרִית", "תל אביב-יפו"]),
    "devanagari": ([(0x900, 0x97F)], [
        "नमस्ते दुनिया", "हिन्दी भाषा", "क़ ख़ ग़ ज़", "भारत गणराज्य", "मराठी", "संस्कृतम्"]),
    "bengali": ([(0x980, 0x9FF)], ["বাংলা ভাষা", "ঢাকা", "আমি তোমাকে ভালোবাসি", "য়"]),
    "gurmukhi": ([(0xA00, 0xA7F)], ["ਪੰਜਾਬੀ", "ਸਤ ਸ੍ਰੀ ਅਕਾਲ"]),
    "gujarati": ([(0xA80, 0xAFF)], ["ગુજરાતી", "અમદાવાદ"]),
    "tamil": ([(0xB80, 0xBFF)], ["தமிழ்", "சென்னை", "வணக்கம் உலகம்"]),
    "telugu": ([(0xC00, 0xC7F)], ["తెలుగు", "హైదరాబాద్"]),
    "kannada": ([(0xC80, 0xCFF)], ["ಕನ್ನಡ", "ಬೆಂಗಳೂರು"]),
    "malayalam": ([(0xD00, 0xD7F)], ["മലയാളം", "തിരുവനന്തപുരം"]),
    "sinhala": ([(0xD80, 0xDFF)], ["සිංහල", "කොළඹ"]),
    "thai": ([(0xE01, 0xE5B)], ["ภาษาไทย", "สวัสดีครับ", "กรุงเทพมหานคร", "น้ำ ทำ ความ"]),
    "lao": ([(0xE81, 0xEDF)], ["ພາສາລາວ", "ວຽງຈັນ"]),
    "khmer": ([(0x1780, 0x17FF)], ["ភាសាខ្មែរ", "ភ្នំពេញ"]),
    "myanmar": ([(0x1000, 0x109F)], ["မြန်မာဘာသာ", "ရန်ကုန်"]),
    "tibetan": ([(0xF00, 0xFFF)], ["བོད་ཡིག", "ལྷ་ས"]),
    "georgian": ([(0x10A0, 0x10FF)], ["ქართული ენა", "თბილისი", "გამარჯობა"]),
    "armenian": ([(0x531, 0x58A)], ["Հայերեն", "Երևան", "Բարև ձեզ"]),
    "ethiopic": ([(0x1200, 0x137F)], ["አማርኛ", "አዲስ አበባ", "ሰላም ለዓለም"]),
    "cjk": ([(0x4E00, 0x9FFF), (0x3400, 0x4DBF)], [
        "中华人民共和国", "北京市朝阳区", "我爱你", "漢字文化圏", "東京都千代田区", "香港特別行政區"]),
    "hangul": ([(0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F)], [
        "한국어", "서울특별시", "안녕하세요 세계", "대한민국"]),
    "kana": ([(0x3041, 0x30FF), (0x31F0, 0x31FF)], [
        "ひらがな カタカナ", "こんにちは世界", "トウキョウ", "ありがとうございます", "ゔ ゞ ヷ"]),
    "mongolian": ([(0x1820, 0x1878)], ["ᠮᠣᠩᠭᠣᠯ"]),
    "cherokee": ([(0x13A0, 0x13F5)], ["ᏣᎳᎩ"]),
    "syriac": ([(0x710, 0x74A)], ["ܠܫܢܐ ܣܘܪܝܝܐ"]),
    "thaana": ([(0x780, 0x7B1)], ["ދިވެހި"]),
    "nko": ([(0x7C0, 0x7FA)], ["ߒߞߏ"]),
}

FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
HALFWIDTH = [chr(c) for c in range(0xFF61, 0xFFA0)]
NFKC_ODD = ["ﬁ", "ﬂ", "ﬀ", "ﬃ", "™", "℃", "№", "㍻", "㈱", "①", "⑩", "½", "²", "³", "ⁿ", "Ⅻ", "ſ", "ǅ",
            "ﷺ", "ﻻ", "ﺍ", "ﺑ", "ﭐ", "ﯼ", "㋀", "㎏", "㎞", "Ǆ", "ĳ", "…", "‥", "′″", "〝", "〟", "⁉",
            "\u0958", "\u0929", "\u09dc", "\u0e33", "\u0eb3", "\u1e9b\u0323", "\uf900", "\ufa10",
            "\u2126", "\u212b", "\u1100\u1161\u11a8", "\u1100\u1161", "\u3131\u314f", "\u00b5", "\u03d2\u0301"]
COMBINING = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u030c", "\u0323", "\u0327",
             "\u0328", "\u0331", "\u0334", "\u0345", "\u034f", "\u0361", "\u05b4", "\u0651", "\u093c",
             "\u094d", "\u0e48", "\u20dd", "\u20e3", "\ufe0f", "\u200d", "\u200c", "\u3099", "\u309a"]
EXTRA_EMOJI = ["👨‍👩‍👧‍👦", "🏳️‍🌈", "🇵🇱", "🇯🇵🇰🇷", "👍🏽", "1️⃣", "#️⃣", "❤️", "🫠", "🧑🏿‍💻", "☺", "✌️"]
SPECIAL = ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]


def script_of_piece(piece, ranges):
    body = piece.replace("▁", "")
    return body and all(any(lo <= ord(c) <= hi for lo, hi in ranges) for c in body)


def rand_in(rng, ranges):
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def gen_corpus(seed, vocab):
    rng = random.Random(seed)
    out = []

    def add(cat, script, s):
        out.append((cat, script, s))

    pieces = [p for p, _ in vocab if p not in SPECIAL]
    for script, (ranges, sentences) in SCRIPTS.items():
        own = [p.replace("▁", "") for p in pieces if script_of_piece(p, ranges)]
        own = [p for p in own if p]
        for s in sentences:
            add("sentences", script, s)
            add("sentences", script, s.upper())
            add("sentences", script, unicodedata.normalize("NFD", s))
            add("sentences", script, unicodedata.normalize("NFKD", s))
        for _ in range(90):
            if own:
                words = ["".join(rng.choice(own) for _ in range(rng.randint(1, 4)))
                         for _ in range(rng.randint(1, 8))]
                add("words", script, rng.choice([" ", " ", "  ", "\t", "-", ", ", ""]).join(words))
        for _ in range(40):
            s = "".join(rand_in(rng, ranges) if rng.random() < 0.85 else rng.choice(" .,1")
                        for _ in range(rng.randint(1, 30)))
            add("random_script", script, s)
        for _ in range(15):  # mixed with Latin banking text
            add("mixed", script, base.sprinkle(rng, base.banking(rng), sentences + own[:50], rng.randint(1, 4)))
    for _ in range(600):
        add("banking", "latin", base.banking(rng))
    for _ in range(300):
        add("names", "latin", base.name(rng))
    # emoji
    for s in base.EMOJI + EXTRA_EMOJI:
        add("emoji", "emoji", s)
        add("emoji", "emoji", f"ok{s}ok {s} end")
    for _ in range(150):
        add("emoji", "emoji", base.sprinkle(rng, base.banking(rng), base.EMOJI + EXTRA_EMOJI, rng.randint(1, 5)))
    # combining marks: after letters of every script, stacked, leading, alone
    for _ in range(400):
        script = rng.choice(list(SCRIPTS))
        ranges = SCRIPTS[script][0]
        s = "".join(rand_in(rng, ranges) + "".join(rng.choice(COMBINING) for _ in range(rng.randint(0, 3)))
                    for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.3:
            s = rng.choice(COMBINING) + s
        add("combining", script, s)
    for c in COMBINING:
        add("combining", "latin", c)
        add("combining", "latin", "a" + c)
        add("combining", "latin", "a" + c + c + "b " + c + " c")
        add("combining", "latin", "ﬁ" + c + " ™" + c + " ①" + c)
    # full-width, half-width and other NFKC-sensitive forms
    for _ in range(250):
        add("fullwidth", "fullwidth", "".join(rng.choice(FULLWIDTH + HALFWIDTH + [" ", "a"])
                                              for _ in range(rng.randint(1, 30))))
    for s in NFKC_ODD:
        add("nfkc", "compat", s)
        add("nfkc", "compat", f"x{s}y {s} {s}{s}")
    for _ in range(250):
        add("nfkc", "compat", base.sprinkle(rng, base.banking(rng), NFKC_ODD + FULLWIDTH, rng.randint(1, 6)))
    # whitespace and control characters
    for c in base.CONTROL + base.SPACES + ["\r\n", "\n\r", "\r\n\u0301", " \u0301", "\u200b", "\ufeff", "\u2060"]:
        add("control", "control", f"a{c}b")
        add("control", "control", f"{c}hello{c}{c}world{c}")
    for _ in range(350):
        base_text = base.banking(rng) if rng.random() < 0.6 else rng.choice(rng.choice(list(SCRIPTS.values()))[1])
        add("control", "control", base.sprinkle(rng, base_text, base.CONTROL + base.SPACES + [" ", "  ", "\r\n"],
                                                rng.randint(1, 8)))
    # special tokens, matched on the raw text; <mask> takes the whitespace on its left
    for s in ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "a<mask>b", "a <mask> b", "a\u3000\t <mask>",
              "a\u00a0<mask>", " <mask>", "<mask> <mask>", "<mask>  <mask>", "x <s> y", "<s><s>", "<<s>>",
              "<mask", "mask>", "＜ｓ＞", "＜mask＞", "<unk>ab<unk>", "<s>\u0301", "<mask>\u0301",
              "\u0301<mask>", "Zoë <mask> Müller", "<pad>" * 300, " \u2028<mask>", "a\x1c<mask>"]:
        add("special", "special", s)
    for _ in range(120):
        add("special", "special", base.sprinkle(rng, base.banking(rng), SPECIAL + [" <mask>", "  ", "<", ">"],
                                                rng.randint(1, 4)))
    # very long words and texts over MAX_LEN tokens
    for n in [50, 100, 101, 300, 1000]:
        add("long_words", "latin", "a" * n)
        add("long_words", "latin", "é" * n)
        add("long_words", "cjk", "漢" * n)
        add("long_words", "thai", "ก" * n)
        add("long_words", "latin", "x" + "\u0301" * n)
    for _ in range(60):
        script = rng.choice(list(SCRIPTS))
        ranges = SCRIPTS[script][0]
        add("long_words", script, "".join(rand_in(rng, ranges) for _ in range(rng.randint(100, 400))))
    for n in range(250, 260):
        add("truncation", "latin", " ".join(["the"] * n))
        add("truncation", "special", " ".join(["the"] * (n - 2)) + " <mask> x")
    for _ in range(80):
        script = rng.choice(list(SCRIPTS))
        add("truncation", script, " ".join(rng.choice(SCRIPTS[script][1]) for _ in range(rng.randint(40, 200))))
    for _ in range(40):
        add("truncation", "latin", " ".join(base.banking(rng) for _ in range(rng.randint(20, 60))))
    # random code points of every plane (surrogates excluded) and of the base corpus's blocks
    for _ in range(500):
        add("random", "random", "".join(base.rand_cp(rng) if rng.random() < 0.8 else rng.choice(" abc.\u0301")
                                        for _ in range(rng.randint(1, 40))))
    for _ in range(300):
        add("random", "random", "".join(chr(rng.choice([rng.randint(0, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
                                        for _ in range(rng.randint(1, 20))))
    add("empty", "empty", "")
    for s in [" ", "\t\n", "\u3000", "\u00a0", "\x00", "\u200b", "▁", "▁▁", "▁a", "a▁b", " ▁ "]:
        add("empty", "empty", s)
    return out


# Other shapes of the same tokenizer that published XLM-R-family files (or other converters)
# have, each checked on a sample of the corpus. A variant replaces top-level parts of
# tokenizer.json; "$charsmap" stands for the base file's precompiled_charsmap; "byte_fallback"
# sets the model's flag and "vocab_append" adds pieces at the end of its vocabulary.
PRECOMPILED = {"type": "Precompiled", "precompiled_charsmap": "$charsmap"}
METASPACE_ALWAYS = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
VARIANTS = {
    # older files: Precompiled alone, Metaspace with add_prefix_space, RobertaProcessing
    "legacy": {"normalizer": PRECOMPILED,
               "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
               "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                  "trim_offsets": True, "add_prefix_space": True}},
    # transformers 5's XLMRobertaConverter
    "transformers5-converter": {"normalizer": {"type": "Sequence", "normalizers": [
        PRECOMPILED, {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]}, "pre_tokenizer": METASPACE_ALWAYS},
    # transformers 5's XLMRobertaTokenizer class
    "transformers5-class": {"normalizer": PRECOMPILED, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, METASPACE_ALWAYS]}},
    "never-nosplit": {"pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never",
                                        "split": False},
                      "normalizer": {"type": "Sequence", "normalizers": [
                          PRECOMPILED, {"type": "Replace", "pattern": {"String": "a"}, "content": "ä"}]}},
    "byte-fallback": {"byte_fallback": True, "vocab_append": [[f"<0x{b:02X}>", -20.0] for b in range(256)]},
    # an added token whose id disagrees with the model's vocabulary: HF takes the vocabulary's
    # (and warns); <mask> with rstrip as well as lstrip
    "added-token-ids": {"added_tokens": [
        {"id": i, "content": c, "single_word": False, "lstrip": c == "<mask>", "rstrip": c == "<mask>",
         "normalized": False, "special": True}
        for i, c in [(0, "<s>"), (1, "<pad>"), (2, "</s>"), (3, "<unk>"), (7, "<mask>")]]},
}
VARIANT_SAMPLE = 600


def apply_variant(data, patch):
    """The base tokenizer.json (parsed) with a VARIANTS patch applied."""
    charsmap = data["normalizer"]["normalizers"][0]["precompiled_charsmap"]
    data = json.loads(json.dumps(data))
    for k, v in patch.items():
        if k == "byte_fallback":
            data["model"]["byte_fallback"] = v
        elif k == "vocab_append":
            data["model"]["vocab"] += v
        else:
            data[k] = json.loads(json.dumps(v).replace('"$charsmap"', json.dumps(charsmap)))
    return data


def encode_rows(tokenizer_json_str, corpus):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json_str)
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    texts = [str(t).strip() for _, _, t in corpus]  # sentence-transformers: str(text).strip()
    for (cat, script, text), enc in zip(corpus, tok.encode_batch(texts)):
        yield {"cat": cat, "script": script, "text": text, "ids": enc.ids,
               "truncated": len(enc.overflowing) > 0, "normalized": tok.normalizer.normalize_str(text)}


def cmd_fixture(args):
    with open(args.tokenizer_json, encoding="utf-8") as f:
        data = json.load(f)
    corpus = gen_corpus(args.seed, data["model"]["vocab"])
    cats = {}
    with open(args.out, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:  # reproducible bytes
        f.write(json.dumps({"variants": VARIANTS}, ensure_ascii=False).encode("utf-8") + b"\n")
        for row in encode_rows(json.dumps(data), corpus):
            cats[row["cat"]] = cats.get(row["cat"], 0) + 1
            f.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
        rng = random.Random(args.seed)
        for name, patch in VARIANTS.items():
            sample = rng.sample(corpus, VARIANT_SAMPLE) + [r for r in corpus if r[0] == "special"]
            for row in encode_rows(json.dumps(apply_variant(data, patch)), sample):
                row["variant"] = name
                f.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
    print(f"wrote {len(corpus)} strings in {len(SCRIPTS)} scripts to {args.out}: "
          + ", ".join(f"{k}={v}" for k, v in sorted(cats.items()))
          + f"; and {VARIANT_SAMPLE} + the special ones for each of {len(VARIANTS)} variants", file=sys.stderr)


def cmd_graphemes(args):
    """Grapheme clusters as HF's Precompiled sees them: U+00A0 (2 bytes, mapped to a space) and
    one BMP character form a cluster under 6 bytes; when the character joins the cluster
    (Extend, SpacingMark, ZWJ) the whole cluster becomes the space. Writes the ranges of BMP
    characters c for which normalize("\u00a0" + c) == normalize("\u00a0") (joined, or mapped
    to nothing or a space), one "lo hi" hex line each."""
    from tokenizers import Tokenizer

    norm = Tokenizer.from_file(args.tokenizer_json).normalizer
    alone = norm.normalize_str("\u00a0")
    ranges = []
    for c in range(0x10000):
        if 0xD800 <= c <= 0xDFFF or norm.normalize_str("\u00a0" + chr(c)) != alone:
            continue
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    with open(args.graphemes, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:
        for lo, hi in ranges:
            f.write(b"%x %x\n" % (lo, hi))
    print(f"wrote {len(ranges)} ranges of BMP characters that vanish after U+00A0 to {args.graphemes}",
          file=sys.stderr)


def cmd_chars(args):
    """Every character alone: the code points (surrogates excluded) whose normalization is not
    themselves, one "hex json-string" line each."""
    from tokenizers import Tokenizer

    norm = Tokenizer.from_file(args.tokenizer_json).normalizer
    n = 0
    with open(args.chars, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:
        for c in range(0x110000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            out = norm.normalize_str(chr(c))
            if out != chr(c):
                f.write(b"%x %s\n" % (c, json.dumps(out).encode()))
                n += 1
    print(f"wrote the {n} characters that the normalizer changes to {args.chars}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tokenizer_json")
    ap.add_argument("out")
    ap.add_argument("--graphemes", help="also write the grapheme probe (see cmd_graphemes) to this file")
    ap.add_argument("--chars", help="also write every character's normalization (see cmd_chars) to this file")
    ap.add_argument("--seed", type=int, default=20261203)
    args = ap.parse_args()
    cmd_fixture(args)
    if args.graphemes:
        cmd_graphemes(args)
    if args.chars:
        cmd_chars(args)


if __name__ == "__main__":
    main()
