"""Benchmark: send 20,000 recipients to the emulator at 20 ms latency; wall time against the ideal.

The ideal is ``requests × latency / concurrency``: what the worker pool would take if the client,
the journal (an fsync per intent) and the emulator cost nothing. Two runs by default:

- ``shared``: one text for everyone, so recipients are packed ~160 to a request (few requests);
- ``personal``: ``"Здравствуйте, {name}! Ваш код {code}."`` makes every text unique: one request
  per recipient, which is where per-request overhead shows.

Usage::

    python benchmarks/bench_send.py                       # 20,000 rows, 20 ms, concurrency 4
    python benchmarks/bench_send.py --concurrency 4,16 --modes personal --rows 5000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from targetsms_analytics.campaign import send_campaign
from targetsms_analytics.client import TargetSMSClient
from targetsms_analytics.emulator import Emulator
from targetsms_analytics.journal import Journal

TEXTS = {
    "shared": "Акция: скидка 20% на всё до воскресенья!",
    "personal": "Здравствуйте, {name}! Ваш код {code}.",
}


def contacts(rows: int) -> pd.DataFrame:
    phones = [f"+7 (9{16 + i % 3}) {i // 10000:03d}-{i % 10000 // 100:02d}-{i % 100:02d}"
              for i in range(rows)]  # fmt: skip
    return pd.DataFrame(
        {"phone": phones, "name": [f"Клиент {i}" for i in range(rows)], "code": range(rows)}
    )


def run(mode: str, rows: int, latency: float, concurrency: int, store: str) -> dict:
    frame = contacts(rows)
    with Emulator(throttle_interval=60.0, latency=latency) as emu:
        emu.top_up("demo", 10_000_000)
        client = TargetSMSClient(
            "demo", "demo", url=emu.url, throttle_interval=60.0, pool_size=max(16, concurrency)
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = ":memory:" if store == "memory" else str(Path(tmp) / "journal.sqlite")
            with Journal(path) as journal:
                started = time.perf_counter()
                result = send_campaign(
                    client, frame, TEXTS[mode], "SHOP", campaign=f"bench-{mode}", store=journal,
                    concurrency=concurrency, progress=False,
                )  # fmt: skip
                wall = time.perf_counter() - started
        client.close()
        requests = sum(1 for e in emu.log if e["op"] == "send")
        twice = [p for p, n in Counter(emu.sent_phones()).items() if n > 1]
    sent = int((result["outcome"] == "sent").sum())
    assert sent == rows and not twice, (sent, len(twice))
    ideal = requests * latency / concurrency
    return {
        "mode": mode,
        "concurrency": concurrency,
        "recipients": sent,
        "requests": requests,
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "wall/ideal": round(wall / ideal, 2) if ideal else float("nan"),
        "overhead_ms/request": round((wall - ideal) / requests * concurrency * 1000, 2),
        "rcpt/s": round(sent / wall),
        "req/s": round(requests / wall, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--concurrency", default="4", help="comma-separated worker counts")
    parser.add_argument(
        "--modes",
        default="shared,personal",
        help="comma-separated: shared (one text), personal (a text per row)",
    )
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    args = parser.parse_args(argv)
    rows = []
    for mode in args.modes.split(","):
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            rows.append(run(mode.strip(), args.rows, args.latency, concurrency, args.store))
            print(rows[-1], flush=True)
    print()
    print(f"{args.rows} recipients, {args.latency * 1000:g} ms latency, journal: {args.store}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
