"""How many send requests 100,000 recipients of one text take, against the lower bound.

Run: ``/work/venv/bin/python benchmarks/bench_packing.py``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targetsms_analytics.batching import base_url_length, lower_bound, pack
from targetsms_analytics.protocol import build_url, send_params

URL = "https://sms.targetsms.ru/sendsms.php"
USER, PASSWORD, SENDER = "shop-analytics", "p@ss&w0rd%+", "SHOP"
N = 100_000

TEXTS = {
    "latin": "Hello! Our spring sale starts tomorrow: -30% on everything until Sunday. shop.example",
    "cyrillic": "Здравствуйте! Весенняя распродажа начинается завтра: скидка 30% на всё до воскресенья.",
}


def russian_phones(n: int, rng: random.Random) -> list[str]:
    return [f"79{rng.randrange(10**9):09d}" for _ in range(n)]


def mixed_phones(n: int, rng: random.Random) -> list[str]:
    """98% Russian mobiles, 2% foreign numbers of 10 to 13 digits."""
    foreign = ["1650253{:04d}", "44791112{:04d}", "38050123{:04d}", "9725212{:05d}"]
    return [
        rng.choice(foreign).format(rng.randrange(10**4)) if rng.random() < 0.02 else p
        for p in russian_phones(n, rng)
    ]


def run(label: str, phones: list[str], text: str) -> None:
    base = base_url_length(URL, send_params(USER, PASSWORD, SENDER, [], text))
    started = time.perf_counter()
    batches = pack(phones, base_length=base)
    seconds = time.perf_counter() - started
    bound = lower_bound(phones, base_length=base)
    tight = lower_bound(phones, base_length=base, tight=True)
    longest = max(
        len(build_url(URL, send_params(USER, PASSWORD, SENDER, b, text))) for b in batches
    )
    print(
        f"{label:<22} base URL {base:>4} chars | requests {len(batches):>5} | "
        f"lower bound {bound:>5} (+{len(batches) - bound}) | tight bound {tight:>5} "
        f"(+{len(batches) - tight}) | longest URL {longest} | pack {seconds * 1000:.0f} ms"
    )


def main() -> None:
    rng = random.Random(20240501)
    russian = russian_phones(N, rng)
    mixed = mixed_phones(N, rng)
    print(f"{N:,} recipients, one text, max URL length 2000")
    for name, text in TEXTS.items():
        run(f"{name} / 11-digit", russian, text)
        run(f"{name} / mixed lengths", mixed, text)


if __name__ == "__main__":
    main()
