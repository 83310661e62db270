"""Planning a 1,000,000-row campaign: normalize phones, render, count parts, group by text, pack.

Run: ``/work/venv/bin/python benchmarks/bench_planning.py [rows]``. Prints wall seconds per stage and the
total against the 30 s target; asserts nothing. The rows are messy on purpose: a dozen ways of typing a
Russian mobile, ints and floats, landlines, foreign numbers, junk, blanks, NaN and repeats.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targetsms_analytics.batching import base_url_length, lower_bound, pack
from targetsms_analytics.phones import normalize_phones
from targetsms_analytics.protocol import send_params
from targetsms_analytics.segments import count_parts

ROWS = 1_000_000
TARGET_SECONDS = 30.0
URL = "https://sms.targetsms.ru/sendsms.php"
USER, PASSWORD, SENDER = "shop-analytics", "p@ss&w0rd%+", "SHOP"
TEMPLATE = (
    "Здравствуйте, {name}! Для вас скидка {discount}% на весь ассортимент до 31 мая. Ваш SHOP"
)

NAMES = (
    "Александр Алексей Анастасия Анна Андрей Артём Валерия Виктория Владимир Дарья Дмитрий Екатерина "
    "Елена Иван Ирина Кирилл Ксения Максим Мария Михаил Наталья Никита Ольга Павел Полина Роман "
    "Светлана Сергей София Татьяна Юлия Ярослав Ivan Maria John Anna"
).split()
T = TypeVar("T")


def typed(rng: random.Random) -> object:
    """One phone cell, typed the way real spreadsheets have them."""
    n = f"9{rng.randrange(10**9):09d}"
    shape = rng.random()
    if shape < 0.20:
        return f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}"
    if shape < 0.35:
        return f"8 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}"
    if shape < 0.45:
        return f"8({n[:3]}){n[3:]}"
    if shape < 0.55:
        return n
    if shape < 0.70:
        return "7" + n
    if shape < 0.78:
        return int("7" + n)
    if shape < 0.84:
        return float("7" + n)
    if shape < 0.86:
        return f"007 {n[:3]} {n[3:6]} {n[6:8]} {n[8:]}"
    if shape < 0.88:
        return f"+7 495 {rng.randrange(10**7):07d}"  # Moscow landline
    if shape < 0.90:
        return f"+44 7911 {rng.randrange(10**6):06d}"  # UK mobile
    if shape < 0.93:
        return rng.choice(["", None, float("nan"), "не указан", "12345", "+7 900"])
    return f"+7{n}"


def messy_rows(rows: int, seed: int = 7) -> pd.DataFrame:
    rng = random.Random(seed)
    phones = [typed(rng) for _ in range(rows)]
    # about 3% of rows repeat an earlier recipient
    for i in rng.sample(range(1, rows), rows // 33):
        phones[i] = phones[rng.randrange(i)]
    return pd.DataFrame(
        {
            "phone": pd.Series(phones, dtype=object),
            "name": [rng.choice(NAMES) for _ in range(rows)],
            "discount": [rng.choice((5, 10, 15, 20, 25, 30)) for _ in range(rows)],
        }
    )


def timed(label: str, stages: dict[str, float], fn: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = fn()
    stages[label] = time.perf_counter() - started
    print(f"  {label:<34} {stages[label]:7.2f} s", flush=True)
    return result


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    print(f"generating {rows:,} messy rows…", flush=True)
    contacts = messy_rows(rows)
    print(f"planning {rows:,} rows (target: under {TARGET_SECONDS:.0f} s in total)")
    stages: dict[str, float] = {}

    checked = timed("normalize_phones", stages, lambda: normalize_phones(contacts["phone"]))
    texts = timed(
        "render template (str.format)",
        stages,
        lambda: [
            TEMPLATE.format(name=name, discount=discount)
            for name, discount in zip(contacts["name"], contacts["discount"], strict=True)
        ],
    )
    parts = timed("count_parts (every row)", stages, lambda: [count_parts(t) for t in texts])

    def group() -> dict[str, list[str]]:
        plan = pd.DataFrame({"msisdn": checked["msisdn"], "text": texts})
        plan = plan[checked["error_code"].isna()].drop_duplicates("msisdn")
        return {
            text: msisdns.tolist() for text, msisdns in plan.groupby("text", sort=False)["msisdn"]
        }

    groups = timed("group sendable rows by text", stages, group)

    def pack_all() -> tuple[int, int, int]:
        requests = bound = tight = 0
        for text, phones in groups.items():
            base = base_url_length(URL, send_params(USER, PASSWORD, SENDER, [], text))
            requests += len(pack(phones, base_length=base))
            bound += lower_bound(phones, base_length=base)
            tight += lower_bound(phones, base_length=base, tight=True)
        return requests, bound, tight

    requests, bound, tight = timed("pack (base length + pack + bounds)", stages, pack_all)
    total = sum(stages.values())
    print(f"  {'total':<34} {total:7.2f} s   (target {TARGET_SECONDS:.0f} s)")

    # The same work as the library does it: planning.py's checks (templates that never evaluate,
    # max_parts, url_too_long, A/B assignment) on top of the stages above.
    from targetsms_analytics.campaign import estimate_campaign

    frame = contacts.assign(discount=contacts["discount"].astype(str))
    timed("estimate_campaign (one text)", stages, lambda: estimate_campaign(frame, TEMPLATE))
    variants = {"A": TEMPLATE, "B": TEMPLATE.replace("Здравствуйте", "Добрый день")}
    timed(
        "estimate_campaign (A/B + holdout)",
        stages,
        lambda: estimate_campaign(frame, variants, holdout=0.1, seed=7, campaign="bench"),
    )

    errors = checked["error_code"].value_counts(dropna=False)
    sendable = sum(len(p) for p in groups.values())
    print(
        f"rows {rows:,}: sendable {sendable:,} after de-duplication; "
        + ", ".join(f"{k}: {v:,}" for k, v in errors.items() if isinstance(k, str))
    )
    print(
        f"distinct texts {len(groups):,}; parts per text {min(parts)}-{max(parts)}; "
        f"requests {requests:,} (lower bound {bound:,}, tight lower bound {tight:,})"
    )


if __name__ == "__main__":
    main()
