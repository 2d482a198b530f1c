#!/usr/bin/env python3
"""Deterministic synthetic banking data: account holders and transactions.

    gen_sample_data.py --out DIR [--accountholders N] [--transactions M] [--seed S]

writes DIR/accountholders.jsonl and DIR/transactions.jsonl (one JSON object a
line, the columns of the demo's tables). The same arguments always give the
same bytes. About 4 % of optional fields are null and a few texts are empty or
very long, so NULL handling and truncation are exercised. Standard library
only; importable (`rows_accountholders`, `rows_transactions`) by the golden
vector and benchmark scripts.
"""

import argparse
import datetime
import decimal
import json
import os
import random

FIRST = ["José", "Zoë", "Müller", "Ångström", "Łukasz", "Nguyễn Thị", "Søren", "François", "Ana", "Mohammed",
         "Aoife", "Björn", "Chloé", "Dmitri", "Emeka", "Fatima", "Giulia", "Hiroshi", "Ingrid", "Jürgen",
         "Kateřina", "Luis", "Małgorzata", "Noémie", "Oğuz", "Priya", "Quentin", "Raúl", "Siobhán", "Tomás",
         "Ute", "Valentina", "Wei", "Xóchitl", "Yusuf", "Zdeněk", "Ægir", "Đorđe", "Şebnem", "İlker",
         "美咲", "王芳", "김민준", "Ольга", "Αλέξανδρος", "أحمد", "John", "Mary", "Peter", "Sarah"]
LAST = ["García", "Müller", "Ångström", "Kowalski", "Nguyễn", "Østergaard", "Dubois", "Silva", "Rahman", "O'Brien",
        "Lindqvist", "Lefèvre", "Ivanov", "Okafor", "Haddad", "Rossi", "Tanaka", "Johansson", "Schröder", "Novák",
        "Fernández", "Wiśniewska", "Girard", "Yılmaz", "Sharma", "Moreau", "Pérez", "Ní Bhriain", "Costa", "Weiß",
        "佐藤", "李", "박", "Смирнова", "Παπαδόπουλος", "العلي", "Smith", "Jones", "Brown", "Taylor"]
CITIES = [("Paris", "FR"), ("Łódź", "PL"), ("München", "DE"), ("Zürich", "CH"), ("Köln", "DE"), ("Malmö", "SE"),
          ("København", "DK"), ("São Paulo", "BR"), ("Hà Nội", "VN"), ("Reykjavík", "IS"), ("İstanbul", "TR"),
          ("Kraków", "PL"), ("Sevilla", "ES"), ("Dublin", "IE"), ("Amsterdam", "NL"), ("London", "GB"),
          ("New York", "US"), ("東京", "JP"), ("서울", "KR"), ("Москва", "RU"), ("Αθήνα", "GR"), ("Lisboa", "PT"),
          ("Wien", "AT"), ("Praha", "CZ"), ("Lagos", "NG"), ("Mumbai", "IN"), ("Montréal", "CA"), ("Bogotá", "CO")]
STREETS = ["Rue de Rivoli", "Hauptstraße", "ul. Piotrkowska", "Bahnhofstrasse", "Calle Mayor", "Main Street",
           "Strøget", "Avenida Paulista", "Phố Huế", "Laugavegur", "İstiklal Caddesi", "Karl Johans gate",
           "Via Roma", "Kärntner Straße", "Nørrebrogade", "High Street", "銀座通り", "Rua Augusta"]
OCCUPATIONS = ["nurse", "software engineer", "teacher", "accountant", "self-employed carpenter", "student",
               "retired", "physician", "sales manager", "farmer", "lawyer", "chef", "pilot", "civil servant",
               "architect", "unemployed", "artist", "truck driver", "pharmacist", "consultant"]
SEGMENTS = ["retail", "premier", "private banking", "small business", "student", "wealth management"]
MERCHANTS = [("Carrefour Market", "5411"), ("REWE", "5411"), ("Biedronka", "5411"), ("Tesco Express", "5411"),
             ("Café de Flore", "5812"), ("McDonald's", "5814"), ("Starbucks", "5814"), ("Deutsche Bahn", "4112"),
             ("Uber *Trip", "4121"), ("Shell", "5541"), ("Amazon.de", "5942"), ("Zalando SE", "5651"),
             ("Apple.com/bill", "5818"), ("Netflix.com", "4899"), ("IKEA", "5712"), ("Booking.com", "4722"),
             ("Ryanair", "3246"), ("Pharmacie Centrale", "5912"), ("Żabka", "5499"), ("Mercado Libre", "5399"),
             ("ATM Withdrawal", "6011"), ("Western Union", "4829"), ("Steam Games", "5816"), ("Spotify", "5815"),
             ("Casino Barrière", "7995"), ("Crypto Exchange Ltd", "6051"), ("Hôtel Le Meurice", "7011"),
             ("セブン-イレブン", "5499"), ("스타벅스", "5814"), ("Vodafone", "4814")]
CURRENCIES = {"FR": "EUR", "PL": "PLN", "DE": "EUR", "CH": "CHF", "SE": "SEK", "DK": "DKK", "BR": "BRL",
              "VN": "VND", "IS": "ISK", "TR": "TRY", "ES": "EUR", "IE": "EUR", "NL": "EUR", "GB": "GBP",
              "US": "USD", "JP": "JPY", "KR": "KRW", "RU": "RUB", "GR": "EUR", "PT": "EUR", "AT": "EUR",
              "CZ": "CZK", "NG": "NGN", "IN": "INR", "CA": "CAD", "CO": "COP"}
CHANNELS = ["card_present", "contactless", "ecommerce", "atm", "mobile_app", "bank_transfer", "direct_debit"]
DESCRIPTIONS = ["groceries", "monthly subscription", "train ticket Paris → Lyon", "dinner for two",
                "refund", "cash withdrawal", "salary advance", "online order #{n}", "fuel", "hotel stay 3 nights",
                "gift 🎁", "rent share", "payment to a friend", "", "invoice {n} – consulting services",
                "café crème et croissant", "Überweisung Miete", "zakupy spożywcze", "ラーメン", "租金"]


def _maybe(rng, value, p=0.04):
    return None if rng.random() < p else value


def rows_accountholders(n, seed=7):
    rng = random.Random(seed * 1_000_003 + 1)
    for i in range(n):
        city, country = rng.choice(CITIES)
        nationality = country if rng.random() < 0.8 else rng.choice(CITIES)[1]
        dob = datetime.date(1940, 1, 1) + datetime.timedelta(days=rng.randrange(0, 365 * 66))
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        address = f"{rng.randrange(1, 300)} {rng.choice(STREETS)}"
        if i % 997 == 13:  # a few very long addresses: far over 256 tokens once rendered
            address = ", ".join([address] * 60)
        yield {
            "account_id": f"AH{i:07d}",
            "name": _maybe(rng, name, 0.01),
            "address": _maybe(rng, address),
            "city": _maybe(rng, city),
            "country": country,
            "occupation": _maybe(rng, rng.choice(OCCUPATIONS)),
            "segment": _maybe(rng, rng.choice(SEGMENTS)),
            "date_of_birth": _maybe(rng, dob.isoformat()),
            "nationality": _maybe(rng, nationality),
        }


def rows_transactions(m, accountholders, seed=7):
    rng = random.Random(seed * 1_000_003 + 2)
    owner = random.Random(seed * 1_000_003 + 3)  # so the rows don't depend on the number of account holders
    start = datetime.datetime(2026, 1, 1)
    for i in range(m):
        merchant, mcc = rng.choice(MERCHANTS)
        country = rng.choice(CITIES)[1] if rng.random() < 0.3 else "FR"
        cents = int(rng.lognormvariate(7.5, 1.3))
        amount = decimal.Decimal(cents).scaleb(-2).quantize(decimal.Decimal("0.01"))
        if rng.random() < 0.1:
            amount = -amount
        desc = rng.choice(DESCRIPTIONS).format(n=rng.randrange(10000, 99999))
        ts = start + datetime.timedelta(seconds=rng.randrange(0, 300 * 86400), milliseconds=rng.randrange(1000))
        yield {
            "txn_id": f"TX{i:09d}",
            "account_id": f"AH{owner.randrange(accountholders):07d}",
            "merchant": _maybe(rng, merchant, 0.02),
            "mcc": _maybe(rng, mcc),
            "amount": str(amount),
            "currency": CURRENCIES.get(country, "EUR"),
            "channel": _maybe(rng, rng.choice(CHANNELS)),
            "country": _maybe(rng, country),
            "description": _maybe(rng, desc),
            "event_time": ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}",
        }


def write_jsonl(path, rows):
    tmp = path + ".part"
    n = 0
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
            n += 1
    os.replace(tmp, path)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--accountholders", type=int, default=10_000)
    ap.add_argument("--transactions", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    n = write_jsonl(os.path.join(a.out, "accountholders.jsonl"), rows_accountholders(a.accountholders, a.seed))
    m = write_jsonl(os.path.join(a.out, "transactions.jsonl"),
                    rows_transactions(a.transactions, a.accountholders, a.seed))
    print(f"{n} account holders, {m} transactions in {a.out}")


if __name__ == "__main__":
    main()
