"""Benchmark: bulk detailed statuses from the emulator, and parsing detailed-status answers.

Prints measured figures (never asserts):

- 5,000 detailed statuses at 20 ms emulator latency, concurrency 16, through ``fetch_statuses``:
  wall time against the ideal (5,000 × 20 ms / 16) — target within 1.25× — and against the naive
  sequential loop over the same ids;
- parsing 100,000 detailed-status answers with ``parse_status_detail``.

Run: ``python benchmarks/bench_statuses.py [--n 5000] [--latency 0.02] [--concurrency 16]``
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import targetsms_analytics as ts
from targetsms_analytics.emulator import Emulator, php_serialize
from targetsms_analytics.journal import Journal
from targetsms_analytics.statuses import fetch_statuses


def bench_fetch(n: int, latency: float, concurrency: int) -> None:
    with Emulator(throttle_interval=60.0, latency=0.0) as emu, tempfile.TemporaryDirectory() as tmp:
        emu.add_account("bench", "bench", balance=1e9)
        sender = ts.TargetSMSClient("bench", "bench", url=emu.url, pool_size=4)
        sample_size = max(1, n // 10)
        all_ids: list[str] = []
        phones = [f"7916{i:07d}" for i in range(n + sample_size)]
        for start in range(0, len(phones), 150):
            all_ids += sender.send("SHOP", phones[start : start + 150], f"bench {start}")
        # The naive loop gets ids of its own: asking the same ids again within the minute would
        # (rightly) be refused as identical requests.
        ids, sample = all_ids[:n], all_ids[n:]
        client = ts.TargetSMSClient(
            "bench", "bench", url=emu.url, throttle_interval=60.0, pool_size=concurrency
        )
        emu.latency = latency
        ideal = n * latency / concurrency
        with Journal(Path(tmp) / "bench.sqlite3") as journal:
            started = time.perf_counter()
            frame = fetch_statuses(
                client, ids, store=journal, concurrency=concurrency, progress=False
            )
            ours = time.perf_counter() - started
        assert frame["error_code"].isna().all(), frame["error_code"].value_counts()

        naive_client = ts.TargetSMSClient("bench", "bench", url=emu.url)
        started = time.perf_counter()
        for sms_id in sample:
            naive_client.status_detail(sms_id)
        naive = (time.perf_counter() - started) * n / len(sample)

    print(f"fetch_statuses: {n} ids, latency {latency * 1000:.0f} ms, concurrency {concurrency}")
    print(f"  ours      {ours:7.2f} s")
    print(f"  ideal     {ideal:7.2f} s   ratio ours/ideal = {ours / ideal:.2f}  (target <= 1.25)")
    print(
        f"  naive     {naive:7.2f} s   (sequential loop, extrapolated from {len(sample)} ids)"
        f"   speed-up = {naive / ours:.1f}x"
    )


def bench_parse(n: int) -> None:
    rng = random.Random(1)
    answers = []
    for i in range(n):
        state = rng.choice(ts.STATES)
        data = {
            "id_sms": str(1179038981 + i) if i % 2 else 1179038981 + i,
            "time_change_state": "" if state == "send" else "2026-11-25 12:00:00",
            "state_sms": state,
            "num_parts": rng.randint(1, 4),
            "price": rng.choice(["1.15", 0.95, 1.2]),
        }
        if state == "partly_deliver":
            data["comment"] = "Статус не получен"
        answers.append(php_serialize(data))
    started = time.perf_counter()
    for text in answers:
        ts.parse_status_detail(text)
    took = time.perf_counter() - started
    print(f"parse_status_detail: {n} answers in {took:.2f} s  ({took / n * 1e6:.1f} µs each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--parse", type=int, default=100_000)
    args = parser.parse_args()
    bench_fetch(args.n, args.latency, args.concurrency)
    bench_parse(args.parse)


if __name__ == "__main__":
    main()
