"""Make ``contacts_demo.csv``: a synthetic, deliberately messy CRM export for the demo notebooks.

Deterministic (seeded): running it again rewrites the same bytes. Nothing here is a real customer.

    python data/make_contacts_demo.py            # writes targetsms_analytics/data/contacts_demo.csv
    python data/make_contacts_demo.py --check    # exits 1 if the committed file differs

The mix (see README.md): Russian mobiles of four operators typed in the shapes people and spreadsheets
produce, the same person entered twice with the number typed differently, a few blank names, a few
values that are no phone number at all, two landlines, two foreign mobiles (UK, Kazakhstan) and one
number on the emulator's stop list.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

SEED = 20240501
#: Package data (``targetsms demo`` reads it through importlib.resources, from any folder).
OUT = Path(__file__).resolve().parents[1] / "targetsms_analytics" / "data" / "contacts_demo.csv"
COLUMNS = ("name", "phone", "city", "segment")

#: Unique people with a valid Russian mobile; with the extra rows below the file has 300 rows.
N_PEOPLE = 276
N_DUPLICATES = 15
N_BLANK_NAMES = 8

#: DEF codes (the three digits after +7) per operator, with how often each is drawn. Each code
#: belongs to that operator in the emulator's table (targetsms_analytics/emulator/operators.py).
OPERATOR_CODES: dict[str, dict[int, float]] = {
    "MTS": {916: 3, 915: 1, 985: 1, 982: 5, 987: 5},
    "MegaFon": {926: 4, 925: 2, 920: 2, 929: 2},
    "Beeline": {c: 1 for c in (903, 905, 906, 909, 960, 961, 962, 963, 964, 965, 966, 967, 968)},
    "Tele2": {c: 1 for c in (900, 901, 902, 904, 950, 951, 952, 953, 977, 991, 995)},
}
OPERATOR_WEIGHTS = {"MTS": 0.32, "MegaFon": 0.27, "Beeline": 0.23, "Tele2": 0.18}

#: phonenumbers' carrier data (English names) must agree with the emulator, so that a report "by
#: operator" names the same operators as the balance packages. A drawn number whose range
#: phonenumbers gives to someone else (Tele2's DEF codes hold MVNO ranges such as МОТИВ) is drawn
#: again. The old MTS ranges 915/916/985 have no carrier data at all: they stay, and report "unknown".
CARRIER_NAMES: dict[str, frozenset[str]] = {
    "MTS": frozenset({"MTS"}),
    "MegaFon": frozenset({"MegaFon"}),
    "Beeline": frozenset({"Beeline"}),
    "Tele2": frozenset({"T2", "Tele2"}),
}
NO_CARRIER_DATA = frozenset({915, 916, 985})

#: The emulator refuses these (API.md: phone_stop_listed); generated numbers must avoid them.
STOP_LIST = frozenset({"79000000000", "79999999999", "79111111111"})

FEMALE = (
    "Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана",
    "Юлия", "Анастасия", "Дарья", "Ксения", "Виктория", "Алина", "Полина", "Марина", "Людмила",
    "Галина", "Валентина", "Софья", "Вера", "Надежда", "Кристина",
)  # fmt: skip
MALE = (
    "Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Максим", "Иван", "Михаил", "Евгений",
    "Николай", "Владимир", "Артём", "Павел", "Роман", "Олег", "Игорь", "Кирилл", "Денис", "Юрий",
    "Виктор", "Илья", "Никита", "Константин", "Григорий",
)  # fmt: skip
CITIES = {
    "Москва": 30, "Санкт-Петербург": 14, "Новосибирск": 6, "Екатеринбург": 6, "Казань": 6,
    "Нижний Новгород": 5, "Самара": 4, "Краснодар": 5, "Ростов-на-Дону": 4, "Воронеж": 3,
    "Пермь": 3, "Уфа": 3, "Тверь": 2, "Тула": 2, "Ярославль": 2,
}  # fmt: skip
SEGMENTS = {"постоянный": 45, "новый": 25, "VIP": 10, "спящий": 20}


def shapes(national: str) -> list[tuple[str, float]]:
    """How people type the 10-digit national number ``9161234567``, with how often."""
    a, b, c, d = national[:3], national[3:6], national[6:8], national[8:]
    return [
        (f"+7 ({a}) {b}-{c}-{d}", 0.22),
        (f"8 {a} {b} {c} {d}", 0.14),
        (f"8({a}){b}{c}{d}", 0.10),
        (national, 0.10),
        (f"7{national}", 0.14),
        (f"+7{national}", 0.08),
        (f"007 {a} {b} {c} {d}", 0.03),
        (f"7{national}.0", 0.05),  # a float column that went through Excel
        (f"+7-{a}-{b}-{c}-{d}", 0.05),
        (f"8 ({a}) {b}-{c}{d}", 0.05),
        (f" 8-{a}-{b}-{c}-{d} ", 0.04),  # stray spaces around the value
    ]


def typed(rng: random.Random, national: str, *, avoid: str | None = None) -> str:
    """One way of typing ``national``; not the shape ``avoid`` (for a re-typed duplicate)."""
    options = [(s, w) for s, w in shapes(national) if s != avoid]
    return rng.choices([s for s, _ in options], weights=[w for _, w in options])[0]


def pick(rng: random.Random, weighted: dict):
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def carrier_agrees(operator: str, code: int, national: str) -> bool:
    """True when phonenumbers names the same operator for this number as the emulator would."""
    import phonenumbers
    from phonenumbers import carrier

    name = carrier.name_for_number(phonenumbers.parse("+7" + national), "en")
    if code in NO_CARRIER_DATA:
        return name == ""
    return name in CARRIER_NAMES[operator]


def make_rows(seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    seen: set[str] = set(s[1:] for s in STOP_LIST)
    people: list[dict[str, str]] = []
    while len(people) < N_PEOPLE:
        operator = pick(rng, OPERATOR_WEIGHTS)
        code = pick(rng, OPERATOR_CODES[operator])
        national = f"{code}{rng.randrange(10**7):07d}"
        if national in seen or not carrier_agrees(operator, code, national):
            continue
        seen.add(national)
        name = rng.choice(FEMALE if rng.random() < 0.55 else MALE)
        people.append(
            {
                "name": name,
                "phone": typed(rng, national),
                "city": pick(rng, CITIES),
                "segment": pick(rng, SEGMENTS),
                "_national": national,
            }
        )
    for person in rng.sample(people, N_BLANK_NAMES):
        person["name"] = ""

    rows = list(people)
    # The same person entered again, the number typed another way, the name sometimes sloppier.
    for original in rng.sample(people, N_DUPLICATES):
        twin = dict(original)
        twin["phone"] = typed(rng, original["_national"], avoid=original["phone"])
        if twin["name"] and rng.random() < 0.4:
            twin["name"] = rng.choice(
                [twin["name"].lower(), twin["name"] + " ", twin["name"].upper()]
            )
        if rng.random() < 0.3:
            twin["segment"] = pick(rng, SEGMENTS)
        at = rows.index(original) + rng.randrange(5, 120)
        rows.insert(min(at, len(rows)), twin)

    def extra(phone: str, name: str | None = None) -> dict[str, str]:
        return {
            "name": rng.choice(FEMALE + MALE) if name is None else name,
            "phone": phone,
            "city": pick(rng, CITIES),
            "segment": pick(rng, SEGMENTS),
        }

    specials = [
        extra("12345"),  # not a phone number
        extra("n/a"),
        extra(""),  # blank
        extra("8 916 123"),  # cut short
        extra("+7 495 123-45-67"),  # Moscow landline: cannot receive SMS
        extra("8 (812) 555-12-34"),  # St Petersburg landline
        extra("+44 7911 123456"),  # a UK mobile
        extra("+7 701 234 56 78"),  # a Kazakh mobile (Kcell): +7, but not Russia
        extra("79000000000"),  # on the emulator's stop list
    ]
    for special in specials:
        rows.insert(rng.randrange(len(rows) + 1), special)
    return [{k: row[k] for k in COLUMNS} for row in rows]


def render(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the file, write nothing")
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"where to write (default {OUT.name})"
    )
    args = parser.parse_args(argv)
    text = render(make_rows())
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out}: {'up to date' if same else 'DIFFERS'}")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
