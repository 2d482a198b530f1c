#!/usr/bin/env python3
"""Ground truth for inference/tokenizer, taken from the real HuggingFace `tokenizers` library.

Subcommands (run from the repository root with the project venv, which has `tokenizers`):

  fixture TOKENIZER_JSON OUT.jsonl.gz [--seed N]
      Generates a deterministic corpus of >= 5,000 strings (accented names, CJK, emoji, control
      characters, Unicode spaces, punctuation, long words, texts far over 256 tokens, banking-like
      texts, random code points, ...) and encodes each one exactly the way sentence-transformers
      does for all-MiniLM-L6-v2: `str(text).strip()`, then `Tokenizer.from_file(TOKENIZER_JSON)`
      with `no_padding()` and `enable_truncation(256)`, special tokens added. Writes gzip'ed JSON
      lines {"cat": CATEGORY, "text": TEXT, "ids": [IDS], "truncated": BOOL, "normalized": STR},
      where "normalized" is the BertNormalizer output for the whole (stripped) text.

  unicode OUT.txt.gz
      Probes every Unicode scalar value through the library's own components (BertNormalizer
      pieces, NFD, StripAccents, Lowercase, BertPreTokenizer) and writes run-length encoded lines
      "START END CLASS NFD LOWER" (hex code points; NFD/LOWER are '=' for identity, else a
      comma-separated hex list). CLASS is 5 characters:
        [0] clean_text: K kept, R removed, S mapped to ' '
        [1] handle_chinese_chars: C padded with spaces, - not
        [2] BertNormalizer strip_accents (NFD, then drop is_mark_nonspacing): M all removed,
            - not (for characters NFD leaves alone: M <=> is_mark_nonspacing)
        [3] BertPreTokenizer: W splits as whitespace, P isolated as punctuation, - neither
        [4] canonical combining class, for characters NFD leaves alone: Z non-zero, - zero
      inference/tokenizer/gen_tables.go turns this into the Go tables, and the Go test
      TestUnicodeTablesMatchHF checks every code point against it.

  crosscheck FIXTURE.jsonl.gz MODEL_DIR [--sample N]
      Run with a Python that has sentence_transformers: re-tokenizes the fixture's texts with
      SentenceTransformer(MODEL_DIR).tokenize and compares them with the fixture's ids.

Usage:
  .cache/venv/bin/python scripts/gen_tokenizer_fixture.py fixture \
      .cache/models/all-MiniLM-L6-v2/tokenizer.json inference/tokenizer/testdata/hf-ids.jsonl.gz
  .cache/venv/bin/python scripts/gen_tokenizer_fixture.py unicode \
      inference/tokenizer/testdata/hf-unicode.txt.gz
"""
import argparse
import gzip
import json
import random
import sys
import unicodedata

MAX_LEN = 256  # sentence-transformers max_seq_length for all-MiniLM-L6-v2

# ---------------------------------------------------------------------------------------------
# Corpus material
# ---------------------------------------------------------------------------------------------

FIRST = [
    "José", "Müller", "Ångström", "Zoë", "Søren", "Łukasz", "Nguyễn", "Thị", "Şükrü", "İsmail",
    "François", "Björn", "Ægir", "Øyvind", "Małgorzata", "Jürgen", "Chloé", "Renée", "Inês",
    "João", "Ýr", "Þór", "Đorđe", "Čestmír", "Ștefan", "Ţara", "Ğökhan", "Ñuño", "Maël",
    "Anaïs", "Gößmann", "Jiří", "Dvořák", "Ľudovít", "Ōtani", "Kōji", "Mārtiņš", "Ņina",
    "Αλέξανδρος", "Ελένη", "Дмитрий", "Ёлка", "Іван", "Ґанна", "محمد", "דוד", "अर्जुन", "Ananya",
    "Maria", "John", "Wei", "Hiroshi", "Sven", "Aoife", "Siobhán", "Eoghan", "Saoirse",
]
LAST = [
    "Müller", "García", "Łódź", "Nguyễn Thị Minh", "Øre", "Straße", "Groß", "Ålesund",
    "Özdemir", "Yılmaz", "Çelik", "Şahin", "Ibáñez", "Núñez", "Sánchez", "Lefèvre", "Dupré",
    "Kowalczyk", "Wiśniewski", "Brzęczyszczykiewicz", "Hernández", "O'Brien", "McDonald",
    "van der Berg", "de la Cruz", "Smith-Jones", "Schröder", "Kräuter", "Ærøskøbing",
    "Παπαδόπουλος", "Иванов", "Петрова", "Кузнецов", "李", "王", "张", "田中", "佐藤", "김", "박",
]
CITIES = [
    "Paris", "Łódź", "İstanbul", "Zürich", "München", "Köln", "Kraków", "Gdańsk", "São Paulo",
    "Reykjavík", "Malmö", "Göteborg", "Århus", "Tromsø", "Besançon", "Orléans", "Hà Nội",
    "Đà Nẵng", "Bogotá", "Medellín", "Córdoba", "Ciudad de México", "Montréal", "Québec",
    "Genève", "Düsseldorf", "Nürnberg", "Brașov", "Timișoara", "Plzeň", "České Budějovice",
    "東京", "大阪", "北京", "上海", "서울", "부산", "Αθήνα", "Москва", "Київ", "القاهرة",
]
STREETS = [
    "Rue de Rivoli", "Champs-Élysées", "Königsallee", "Bahnhofstraße", "Rua Augusta",
    "Calle de Alcalá", "Via del Corso", "Ulica Piotrkowska", "İstiklal Caddesi", "Strøget",
    "Main St.", "Baker Street", "Avenida Paulista", "Hauptstr.", "Place de l'Étoile",
    "銀座通り", "南京东路", "명동길", "Тверская улица",
]
COUNTRIES = ["FR", "DE", "PL", "TR", "ES", "PT", "BR", "VN", "JP", "CN", "KR", "GR", "RU", "UA",
             "US", "GB", "IE", "NO", "SE", "DK", "IS", "CH", "AT", "IT", "MX", "CA"]
OCCUPATIONS = ["nurse", "software engineer", "teacher", "plumber", "accountant", "café owner",
               "chef de cuisine", "Bäcker", "médecin", "architect", "data scientist", "pilot",
               "retired", "student", "self-employed", "Rechtsanwältin", "ingénieur"]
MERCHANTS = ["AMAZON MKTPLACE", "Amazon.de*2K4LX", "UBER *TRIP", "SPOTIFY AB", "Netflix.com",
             "LIDL Łódź 0123", "Carrefour Market", "Café de Flore", "Zürich Hbf SBB",
             "PAYPAL *STEAM GAMES", "APPLE.COM/BILL", "Starbucks #12345", "IKEA Älmhult",
             "Müller Drogerie", "Migros Genève", "スターバックス 渋谷", "GS25 편의점", "麦当劳",
             "MCDONALD'S", "SHELL 7-ELEVEN", "Tesco Stores 3345", "BOLT.EU/O/2308",
             "REWE Markt GmbH", "Żabka Z1234", "Biedronka", "Decathlon España"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "PLN", "TRY", "JPY", "CNY", "KRW", "€", "$", "£",
              "¥", "₺", "₩", "zł", "₫", "₹", "₽", "₴"]
WORDS = ("the of and to in is was for on that with as by at from this be are have it or an "
         "payment transfer account balance invoice refund card debit credit salary rent "
         "insurance subscription purchase withdrawal deposit interest fee charge monthly "
         "customer holder branch address occupation employer beneficiary reference").split()
CJK_SENT = [
    "我的银行账户余额不足。", "请在明天之前付款。", "北京是中国的首都", "他住在上海市浦东新区",
    "今日はいい天気ですね。", "ありがとうございます", "カタカナとひらがなの混在テキスト",
    "東京都渋谷区神南1-2-3", "안녕하세요, 반갑습니다.", "서울특별시 강남구 테헤란로 123",
    "한국어 텍스트와 English mixed", "日本語と中文と한국어", "𠀀𠀁𠀂 extension B 𪜀𫝀𫠠𬺰",
    "兀 compatibility 豈更車賈滑", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "半角ｶﾀｶﾅ ﾃｽﾄ",
    "〒150-0041 東京都", "《三国演义》「引号」『书名』【注】", "你好，世界！", "中文標點：；？！",
]
EMOJI = [
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "🇩🇪", "🇯🇵", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "❤️", "✔️",
    "1️⃣", "#️⃣", "👩🏻‍💻", "🧑‍🚀", "🤷‍♀️", "💶", "💳", "🏦", "☕", "🥰", "🫠", "🪿",
    "©", "®", "™", "⚠️", "☃", "♥", "🙈🙉🙊",
]
CONTROL = [chr(c) for c in list(range(0x00, 0x20)) + [0x7F, 0x80, 0x85, 0x9F]] + [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\ufffd", "\u00ad",
    "\u061c", "\u2066", "\u2069", "\u202e", "\ue000", "\U000f0000", "\U000e0001", "\u180e",
    "\ufff9", "\U0001d173", "\U00013430", "\u0890", "\u08e2",
]
SPACES = ["\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004", "\u2005",
          "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u2028", "\u2029", "\u202f",
          "\u205f", "\u3000", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e",
          "\x1f", "\x85", "  ", "     "]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "¡", "¿", "«", "»", "‹", "›", "“", "”", "„", "‘", "’", "‚", "–", "—", "―", "…", "·", "•",
    "‰", "′", "″", "§", "¶", "†", "‡", "※", "⁂", "、", "。", "・", "「", "」", "『", "』",
    "（", "）", "！", "？", "：", "；", "，", "．", "〜", "゠", "־", "׳", "״", "،", "؛", "؟",
    "।", "॥", "๏", "၊", "፡", "᠂", "⸮", "⸻", "⹂", "⹏", "⹝", "﹏", "＿", "¢", "£", "¤", "¥",
    "¦", "¨", "¬", "¯", "°", "±", "´", "µ", "¸", "×", "÷", "€", "₿", "№", "℃", "←", "∑",
    "√", "∞", "≈", "≠", "⌘", "␣", "■", "○", "★", "♪", "✓", "❗", "⟨", "⟩", "⦅", "⦆",
    "\u061d", "\u09fd", "\u0a76", "\u0c77", "\u0c84", "\u166d", "\u1b7d", "\u2e52", "\U00010ead",
]
UNICODE_EDGE = [
    "İstanbul", "İ", "i̇", "ı", "IĞDIR", "ß", "SS", "ẞ", "ﬁ", "ﬀ", "ﬃ", "ŉ", "ǰ", "ΐ", "ΰ", "և",
    "ΣΊΣΥΦΟΣ", "ὈΔΥΣΣΕΎΣ", "ς", "Å", "Å", "K", "Ω", "Ⅻ", "ⅻ", "Ⓐ", "ⓐ", "𝐀𝐁𝐂", "𝔄𝔅",
    "Ǆ", "ǅ", "ǆ", "Ǳ", "ǲ", "ǈ", "ᾈ", "ᾼ", "Ꭰ", "ꭰ", "Ᏸ", "Ა", "ა", "Ⰰ", "Ⴀ", "Ꙁ", "𐐀",
    "𞤀", "Ꟑ", "\u1c89", "\ua7cb", "\ua7dc", "\U00010d50", "\U00016ea0",
    "e\u0301", "e\u0301\u0327", "e\u0327\u0301", "a\u0308\u0304", "o\u0338", "a\u20dd",
    "\u0903", "\u093e", "\u09be", "\u0b3e", "\u0898\u0316", "a\u0898\u0316b", "a\u0316\u0898b",
    "\U0001d165\U0001d16d", "x\U0001d16d\U0001d165y", "x\U0001d165\u0301\U0001d16d",
    "\U00011938", "\U00011935\U00011930", "a" + "\u0301" * 40 + "b", "a" + "\u0316\u0301" * 20,
    "Z" + "\u0336" * 35 + "a\u0488\u0489", "\u1100\u1161\u11a8", "가각갂", "\u3131\u314f",
    "\uac00\u11a8", "ᄀᄀᄀ각ᆨᆨ", "क्षत्रिय", "ที่นี่", "ສະບາຍດີ", "བོད་སྐད", "ཀྵ", "ࢠ",
    "\u0f73\u0f75\u0f81", "\u0344", "\u0340\u0341", "\u2126", "\u212b\u212a", "\u1e9b\u0323",
    "Ωμέγα", "ΆΈΉΊΌΎΏ", "ϓϔ", "Ḁḁ", "ǞǟǠǡ", "ЍѐЀ", "ӢӣӮӯ", "Ñandú", "\ufb2a\ufb2b", "\ufb1d",
    "\u2adc", "\u0958\u0959", "\u09dc", "\u0f43", "\U0001d15e\U0001d15f", "\U0001d1bb",
]
SCRIPTS = [  # (lo, hi) blocks to draw random code points from
    (0x0020, 0x007E), (0x00A0, 0x00FF), (0x0100, 0x017F), (0x0180, 0x024F), (0x0250, 0x02AF),
    (0x02B0, 0x02FF), (0x0300, 0x036F), (0x0370, 0x03FF), (0x0400, 0x04FF), (0x0530, 0x058F),
    (0x0590, 0x05FF), (0x0600, 0x06FF), (0x0700, 0x074F), (0x0780, 0x07BF), (0x07C0, 0x07FF),
    (0x0800, 0x08FF), (0x0900, 0x097F), (0x0980, 0x09FF), (0x0A00, 0x0AFF), (0x0B00, 0x0BFF),
    (0x0C00, 0x0CFF), (0x0D00, 0x0DFF), (0x0E00, 0x0E7F), (0x0E80, 0x0EFF), (0x0F00, 0x0FFF),
    (0x1000, 0x109F), (0x10A0, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x139F), (0x13A0, 0x13FF),
    (0x1400, 0x167F), (0x1680, 0x16FF), (0x1700, 0x17FF), (0x1800, 0x18AF), (0x1900, 0x1AFF),
    (0x1B00, 0x1CFF), (0x1D00, 0x1DFF), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x20CF),
    (0x20D0, 0x20FF), (0x2100, 0x218F), (0x2190, 0x23FF), (0x2400, 0x27BF), (0x2800, 0x2BFF),
    (0x2C00, 0x2E7F), (0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3040, 0x30FF), (0x3100, 0x31FF),
    (0x3200, 0x33FF), (0x3400, 0x4DBF), (0x4DC0, 0x4DFF), (0x4E00, 0x9FFF), (0xA000, 0xA4CF),
    (0xA4D0, 0xA7FF), (0xA800, 0xABFF), (0xAC00, 0xD7AF), (0xD7B0, 0xD7FF), (0xE000, 0xF8FF),
    (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE00, 0xFE6F), (0xFE70, 0xFFFF), (0x10000, 0x1007F),
    (0x10080, 0x10FFF), (0x11000, 0x11FFF), (0x12000, 0x13FFF), (0x16800, 0x16FFF),
    (0x1B000, 0x1BFFF), (0x1D000, 0x1D24F), (0x1D400, 0x1D7FF), (0x1E000, 0x1EFFF),
    (0x1F000, 0x1F0FF), (0x1F100, 0x1F1FF), (0x1F300, 0x1F5FF), (0x1F600, 0x1F6FF),
    (0x1F900, 0x1FAFF), (0x20000, 0x2A6DF), (0x2A6E0, 0x2B81F), (0x2B820, 0x2CEAF),
    (0x2CEB0, 0x2FFFF), (0x30000, 0x3134F), (0xE0000, 0xE01EF), (0xF0000, 0x10FFFF),
]


def rand_cp(rng):
    lo, hi = rng.choice(SCRIPTS)
    while True:
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def name(rng):
    n = rng.choice(FIRST) + " " + rng.choice(LAST)
    r = rng.random()
    if r < 0.15:
        n = n.upper()
    elif r < 0.25:
        n = n.lower()
    elif r < 0.3:
        n = unicodedata.normalize("NFD", n)
    elif r < 0.35:
        n = unicodedata.normalize("NFKC", n)
    return n


def amount(rng):
    v = rng.choice([rng.randint(0, 99), rng.randint(100, 9999), rng.randint(10000, 9999999)])
    cents = rng.randint(0, 99)
    style = rng.randrange(6)
    if style == 0:
        s = f"{v:,}.{cents:02d}"
    elif style == 1:
        s = f"{v:,}".replace(",", ".") + f",{cents:02d}"
    elif style == 2:
        s = f"{v:,}".replace(",", "\u202f") + f",{cents:02d}"
    elif style == 3:
        s = f"-{v}.{cents:02d}"
    elif style == 4:
        s = f"{v}'{cents:02d}"
    else:
        s = str(v)
    cur = rng.choice(CURRENCIES)
    return rng.choice([f"{s} {cur}", f"{cur}{s}", f"{cur} {s}", f"{s}{cur}"])


def banking(rng):
    t = rng.randrange(8)
    if t == 0:
        return (f"Account holder {name(rng)}, lives at {rng.randint(1, 250)} {rng.choice(STREETS)}, "
                f"{rng.choice(CITIES)}, {rng.choice(COUNTRIES)}; occupation {rng.choice(OCCUPATIONS)}")
    if t == 1:
        return (f"{rng.choice(MERCHANTS)} {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d} "
                f"{amount(rng)} card ****{rng.randint(0, 9999):04d}")
    if t == 2:
        return (f"SEPA transfer to {name(rng)} IBAN {rng.choice(COUNTRIES)}{rng.randint(10, 99)} "
                f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)} "
                f"ref: INV-{rng.randint(1, 99999)}/{rng.randint(2019, 2026)} {amount(rng)}")
    if t == 3:
        return f"{name(rng)}\t{rng.choice(CITIES)}\t{amount(rng)}\r\n"
    if t == 4:
        return (f"Kontoinhaber: {name(rng)}, Straße: {rng.choice(STREETS)} {rng.randint(1, 99)}a, "
                f"PLZ {rng.randint(10000, 99999)} {rng.choice(CITIES)} — Beruf: {rng.choice(OCCUPATIONS)}")
    if t == 5:
        return (f"Payment of {amount(rng)} received from {name(rng)} ({rng.choice(MERCHANTS)}) on "
                f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z")
    if t == 6:
        return (f"{rng.choice(MERCHANTS)}\u00a0{amount(rng)}\u3000{rng.choice(CITIES)}"
                f"{rng.choice(EMOJI)} {rng.choice(['OK', 'declined', 'pending'])}")
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 25))]
    return " ".join(words).capitalize() + rng.choice([".", "!", "?", "", "..."])


def sprinkle(rng, text, pool, n):
    chars = list(text)
    for _ in range(n):
        chars.insert(rng.randint(0, len(chars)), rng.choice(pool))
    return "".join(chars)


def reorder_survivors():
    """Characters that HF's NFD reorders (non-zero canonical combining class) but whose
    strip_accents keeps (not is_mark_nonspacing): their relative order is visible in the ids."""
    from tokenizers import normalizers

    nfd = normalizers.NFD()
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    out = []
    for c in range(0x300, 0x110000):
        s = chr(c)
        if 0xD800 <= c <= 0xDFFF or nfd.normalize_str(s) != s or strip.normalize_str(s) != s:
            continue
        if (nfd.normalize_str("a" + s + "\u0334") != "a" + s + "\u0334"
                or nfd.normalize_str("a\u0345" + s) != "a\u0345" + s):
            out.append(s)
    return out


def gen_corpus(seed, survivors):
    rng = random.Random(seed)
    out = []

    def add(cat, s):
        out.append((cat, s))

    # empty and whitespace-only
    add("empty", "")
    for s in [" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\x00", "\ufeff", "\u200b", "\ufffd",
              "\x85", "\x1c\x1d\x1e\x1f", " \t\n\r\x0b\x0c", "\u2028\u2029", "\u180e", "\x7f"]:
        add("whitespace", s)
    for _ in range(120):
        add("whitespace", "".join(rng.choice(SPACES + CONTROL) for _ in range(rng.randint(1, 12))))
    # accented names
    for _ in range(700):
        add("names", name(rng) if rng.random() < 0.7 else f"{name(rng)}, {rng.choice(CITIES)}")
    for s in ["José", "Müller", "Ångström", "Łódź", "Nguyễn Thị", "Zoë", "Øre", "Ş", "İstanbul", "ß",
              "JOSÉ MÜLLER", "ÅNGSTRÖM", "ŁÓDŹ", "NGUYỄN THỊ", "ZOË", "ØRE", "İSTANBUL", "STRASSE"]:
        add("names", s)
    # Unicode edge cases
    for s in UNICODE_EDGE:
        add("unicode_edge", s)
        add("unicode_edge", f"prefix {s} suffix")
        add("unicode_edge", s.upper())
    for _ in range(250):
        add("unicode_edge", "".join(rng.choice(UNICODE_EDGE) for _ in range(rng.randint(1, 5))))
    # CJK
    for s in CJK_SENT:
        add("cjk", s)
    for _ in range(400):
        k = rng.randrange(4)
        if k == 0:
            s = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 30)))
        elif k == 1:
            s = "".join(chr(rng.randint(0x3041, 0x30FF)) for _ in range(rng.randint(1, 30)))
        elif k == 2:
            s = "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 20)))
        else:
            s = " ".join(rng.choice(CJK_SENT + WORDS) for _ in range(rng.randint(2, 8)))
        add("cjk", s)
    # emoji
    for s in EMOJI:
        add("emoji", s)
    for _ in range(300):
        add("emoji", sprinkle(rng, banking(rng) if rng.random() < 0.5 else "".join(
            rng.choice(EMOJI) for _ in range(rng.randint(1, 6))), EMOJI, rng.randint(1, 5)))
    # control characters and Unicode spaces inside text
    for c in CONTROL:
        add("control", f"a{c}b")
        add("control", f"{c}hello{c}")
    for s in SPACES:
        add("spaces", f"hello{s}world")
        add("spaces", f"{s}José{s}Müller{s}")
    for _ in range(500):
        base = banking(rng) if rng.random() < 0.7 else name(rng)
        add("control", sprinkle(rng, base, CONTROL + SPACES, rng.randint(1, 8)))
    # punctuation
    for p in PUNCT:
        add("punct", p)
        add("punct", f"a{p}b")
    for _ in range(300):
        add("punct", "".join(rng.choice(PUNCT + [" ", "a", "1", "é"]) for _ in range(rng.randint(1, 40))))
    # digits and amounts
    for _ in range(300):
        add("digits", rng.choice([amount(rng), str(rng.randint(0, 10**rng.randint(1, 30))),
                                  "".join(rng.choice("0123456789.,-/ ") for _ in range(rng.randint(1, 30))),
                                  "".join(chr(rng.choice([0x0660, 0x06F0, 0x0966, 0xFF10, 0x1D7CE]) + rng.randint(0, 9))
                                          for _ in range(rng.randint(1, 12)))]))
    # special-token strings (matched on the raw text by HF's AddedVocabulary)
    for s in ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[cls]", "[Sep]", "[ CLS ]", "[CLS][SEP]",
              "a[CLS]b", "hello [MASK] world", "[[SEP]]", "[CLS", "CLS]", "x[UNK]y[PAD]z",
              "José[SEP]Müller", "[MASK]" * 300, "[SEP]\u0301", "e[SEP]\u0301", "ab[CLS]\u0300c",
              "[ＣＬＳ]", "［CLS］", "[CL\u200bS]", "\u00a0[CLS]\u00a0", "[MASK]]", "[[MASK]"]:
        add("special", s)
    for _ in range(80):
        add("special", sprinkle(rng, banking(rng), ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[", "]"],
                                rng.randint(1, 4)))
    # very long words (> 100 chars -> [UNK]) and the 100-char boundary
    for n in [99, 100, 101, 102, 150, 1000]:
        add("long_words", "a" * n)
        add("long_words", "é" * n)
        add("long_words", "x" + "\u0301" * n)
        add("long_words", "ab" * (n // 2) + " tail")
    for _ in range(150):
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéüßø0123456789") for _ in range(rng.randint(80, 130)))
        add("long_words", f"{name(rng)} {w} {rng.choice(WORDS)}")
    # truncation: exactly around the 254-token content budget, and far over it
    for n in range(250, 261):
        add("truncation", " ".join(["the"] * n))
        add("truncation", " ".join(["the"] * (n - 1)) + " José")
        add("truncation", "x" * 0 + ", ".join(["paris"] * (n // 2)))
        add("truncation", " ".join(["the"] * (n - 2)) + " [SEP]")
    for _ in range(140):
        parts = [banking(rng) for _ in range(rng.randint(15, 60))]
        add("truncation", " ".join(parts))
    for _ in range(20):
        add("truncation", "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(250, 600))))
    # banking-like texts
    add("banking", "Account holder José Müller, lives at 12 Rue de Rivoli, Paris, FR; occupation nurse")
    for _ in range(1500):
        add("banking", banking(rng))
    # random code points from many blocks (combining marks included, surrogates excluded)
    for _ in range(1000):
        n = rng.randint(1, 40)
        add("random", "".join(rand_cp(rng) if rng.random() < 0.8 else rng.choice(" abc.\u0301") for _ in range(n)))
    for _ in range(200):
        n = rng.randint(1, 20)
        add("random", "".join(chr(rng.choice([rng.randint(0, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
                              for _ in range(n)))
    # canonical reordering: marks that survive strip_accents, next to each other, around dropped
    # marks (U+0301, class 230; U+0334, class 1), a class-0 mark (U+034F) and a mark newer than
    # HF's Unicode edition (U+0898, a starter for HF, class 230 for Go)
    for x in survivors:
        add("reorder", "a" + x + "\u0334b")
        add("reorder", "a\u0301" + x + "\u0898\u0316b")
    for _ in range(700):
        x, y = rng.choice(survivors), rng.choice(survivors)
        mid = rng.choice(["", "", "\u0301", "\u0334", "\u034f", "\u0898", "\u0316\u0301",
                          "\x00", "\u200b", "\ufffd", "\x7f\u0301"])  # removed before NFD
        add("reorder", rng.choice(["a", "क", "ا", "x ", "Ꭰ"]) + x + mid + y + rng.choice(["", "b", "\u0301", " z"]))
    # leading/trailing whitespace that Python's str.strip() removes
    for _ in range(150):
        add("strip", rng.choice(SPACES + [""]) * rng.randint(0, 3) + banking(rng) +
            rng.choice(SPACES + [""]) * rng.randint(0, 3))
    return out


def cmd_fixture(args):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(args.tokenizer_json)
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    corpus = gen_corpus(args.seed, reorder_survivors())
    texts = [str(t).strip() for _, t in corpus]  # sentence-transformers: str(text).strip()
    encs = tok.encode_batch(texts)
    counts = {}
    with open(args.out, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:  # reproducible bytes
        for (cat, text), enc in zip(corpus, encs):
            counts[cat] = counts.get(cat, 0) + 1
            row = {"cat": cat, "text": text, "ids": enc.ids, "truncated": len(enc.overflowing) > 0,
                   "normalized": tok.normalizer.normalize_str(text)}
            line = json.dumps(row, ensure_ascii=False)
            f.write(line.encode("utf-8") + b"\n")
    print(f"wrote {len(corpus)} strings to {args.out}: "
          + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), file=sys.stderr)


def cmd_unicode(args):
    from tokenizers import normalizers, pre_tokenizers

    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True,
                                         strip_accents=False, lowercase=False)
    nfd = normalizers.NFD()
    # BertNormalizer's strip_accents (NFD, then unicode_categories' is_mark_nonspacing) is not
    # normalizers.StripAccents (which drops every combining mark, Mn Mc and Me).
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    lower = normalizers.Lowercase()
    pre = pre_tokenizers.BertPreTokenizer()

    def hexlist(s):
        return ",".join("%x" % ord(x) for x in s)

    rows = []
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        s = chr(c)
        cl = clean.normalize_str(s)
        k0 = "R" if cl == "" else "S" if (cl == " " and s != " ") else "K" if cl == s else "?"
        k1 = "C" if chinese.normalize_str(s) != s else "-"
        k2 = "M" if strip.normalize_str(s) == "" else "-"
        parts = [p for p, _ in pre.pre_tokenize_str("a" + s + "b")]
        k3 = "W" if parts == ["a", "b"] else "P" if parts == ["a", s, "b"] else "-" if len(parts) == 1 else "?"
        n = nfd.normalize_str(s)
        k4 = "-"
        if n == s:
            # Non-zero combining class <=> canonical reordering moves it past a mark of class 1
            # (U+0334) or a mark of class 240 (U+0345) moves past it.
            if (nfd.normalize_str("a" + s + "\u0334") != "a" + s + "\u0334"
                    or nfd.normalize_str("a\u0345" + s) != "a\u0345" + s):
                k4 = "Z"
        lo = lower.normalize_str(s)
        cls = k0 + k1 + k2 + k3 + k4
        if "?" in cls:
            raise SystemExit(f"unexpected probe result for U+{c:04X}: {cls}")
        rows.append((c, cls, "=" if n == s else hexlist(n), "=" if lo == s else hexlist(lo)))
    groups = []
    for c, cls, n, lo in rows:
        g = groups[-1] if groups else None
        if g and g[1] == c - 1 and g[2:] == [cls, n, lo] and n == "=" and lo == "=":
            g[1] = c
        else:
            groups.append([c, c, cls, n, lo])
    with open(args.out, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:  # reproducible bytes
        for a, b, cls, n, lo in groups:
            f.write(("%x %x %s %s %s\n" % (a, b, cls, n, lo)).encode())
    print(f"wrote {len(groups)} ranges covering {len(rows)} code points to {args.out}", file=sys.stderr)


def cmd_crosscheck(args):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(args.model_dir, device="cpu")
    print(f"max_seq_length={model.max_seq_length}", file=sys.stderr)
    rows = [json.loads(line) for line in gzip.open(args.fixture, "rt", encoding="utf-8")]
    if args.sample and args.sample < len(rows):
        rows = random.Random(1).sample(rows, args.sample)
    bad = 0
    for i in range(0, len(rows), 64):
        chunk = rows[i:i + 64]
        feats = model.tokenize([r["text"] for r in chunk])
        for r, ids, mask in zip(chunk, feats["input_ids"].tolist(), feats["attention_mask"].tolist()):
            got = [t for t, m in zip(ids, mask) if m]
            if got != r["ids"]:
                bad += 1
                print(f"MISMATCH {r['text']!r}\n  fixture {r['ids']}\n  st      {got}", file=sys.stderr)
    print(f"crosscheck: {len(rows) - bad}/{len(rows)} identical", file=sys.stderr)
    if bad:
        raise SystemExit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fixture")
    p.add_argument("tokenizer_json")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=20240617)
    p.set_defaults(func=cmd_fixture)
    p = sub.add_parser("unicode")
    p.add_argument("out")
    p.set_defaults(func=cmd_unicode)
    p = sub.add_parser("crosscheck")
    p.add_argument("fixture")
    p.add_argument("model_dir")
    p.add_argument("--sample", type=int, default=0)
    p.set_defaults(func=cmd_crosscheck)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
