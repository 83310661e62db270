"""Benchmark delivery_report on a synthetic million-row status frame (prints figures, never asserts).

    python benchmarks/bench_report.py [--rows 1000000] [--repeat 3] [--unique-numbers 1000000]

For each grouping it prints the best wall time of ``--repeat`` runs against the 2 s target, and the
peak memory one run allocates (tracemalloc, measured in a separate run so that tracing does not slow
the timed ones). Every report carries the Wilson interval of the delivery rate and the p99 latency.
``by="operator"`` and ``by="region"`` are timed twice: deriving them from ``msisdn`` (one
numbering-plan lookup per distinct number) and with the column already present, so the cost of the
lookup shows apart from the report's own. ``hour`` is the local hour of sending in the recipient's
time zone; ``compare`` and ``failure_report`` are timed by campaign.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from targetsms_analytics.analytics import delivery_report
from targetsms_analytics.insight import compare, failure_report

TARGET_S = 2.0
STATES = np.array(
    ["deliver", "not_deliver", "expired", "partly_deliver", "send", None], dtype=object
)
STATE_P = [0.78, 0.07, 0.05, 0.02, 0.07, 0.01]
#: Russian mobile prefixes (DEF codes) of several operators, so the carrier lookup has work to do.
DEF_CODES = np.array([900, 903, 905, 909, 915, 916, 919, 925, 926, 953, 958, 977, 985, 995, 999])


def synthetic_statuses(rows: int, unique_numbers: int, campaigns: int = 50) -> pd.DataFrame:
    """A frame shaped like ``fetch_statuses``' result, with realistic shares of states."""
    rng = np.random.default_rng(42)
    numbers = (
        (70_000_000_000 + DEF_CODES[rng.integers(0, len(DEF_CODES), unique_numbers)] * 10_000_000)
        + rng.integers(0, 10_000_000, unique_numbers)
    ).astype(str)
    msisdn = numbers[rng.integers(0, unique_numbers, rows)] if unique_numbers < rows else numbers
    names = np.array([f"Акция «Весна-{i}»" for i in range(campaigns)], dtype=object)
    state = STATES[rng.choice(len(STATES), rows, p=STATE_P)]
    final = pd.Series(state).isin(STATES[:4]).to_numpy()
    sent = pd.Timestamp("2024-05-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 7 * 86_400, rows), unit="s"
    )
    changed = (sent + pd.to_timedelta(rng.lognormal(3, 1.5, rows), unit="s")).tz_convert(
        "Europe/Moscow"
    )
    parts = pd.array(rng.integers(1, 4, rows), dtype="Int64")
    frame = pd.DataFrame(
        {
            "sms_id": np.arange(10**9, 10**9 + rows).astype(str),
            "msisdn": msisdn,
            "campaign": names[rng.integers(0, campaigns, rows)],
            "state": state,
            "is_final": final,
            "changed_at": pd.Series(changed).where(final),
            "num_parts": parts,
            "price": 3.25,
            "sent_at": sent,
            "error_code": np.where(pd.isna(state), "transport", None),
        }
    )
    frame["cost"] = frame["num_parts"].astype(float) * frame["price"]
    return frame


def best_time(fn, repeat: int) -> tuple[float, pd.DataFrame]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_mib(fn) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--unique-numbers", type=int, default=None, help="default: one per row")
    args = parser.parse_args()
    unique = args.unique_numbers or args.rows

    start = time.perf_counter()
    frame = synthetic_statuses(args.rows, unique)
    print(
        f"synthetic frame: {len(frame):,} rows, {frame['msisdn'].nunique():,} distinct numbers, "
        f"{frame.memory_usage(deep=True).sum() / 2**20:,.0f} MiB, built in "
        f"{time.perf_counter() - start:.1f} s; {os.cpu_count()} CPUs; pandas {pd.__version__}"
    )
    with_operator = None
    try:
        from targetsms_analytics.phones import operators

        start = time.perf_counter()
        with_operator = frame.assign(operator=operators(frame["msisdn"]).to_numpy())
        print(f"(precomputing an operator column took {time.perf_counter() - start:.2f} s)")
    except ImportError:
        print("targetsms_analytics.phones is missing: by='operator' is skipped")

    with_region = None
    try:
        from targetsms_analytics.numbering import lookup_numbers

        start = time.perf_counter()
        found = lookup_numbers(frame["msisdn"].to_numpy())
        with_region = frame.assign(
            region=found["region"].to_numpy(), time_zone=found["time_zone"].to_numpy()
        )
        print(
            f"(precomputing region and time_zone columns took {time.perf_counter() - start:.2f} s)"
        )
    except ImportError:
        print("targetsms_analytics.numbering is missing: by='region' is skipped")

    cases: list[tuple[str, pd.DataFrame | None, object]] = [
        ("None (total)", frame, None),
        ("campaign", frame, "campaign"),
        ("date", frame, "date"),
        ("['campaign', 'date']", frame, ["campaign", "date"]),
        (
            "operator (derived from msisdn)",
            frame if with_operator is not None else None,
            "operator",
        ),
        ("operator (column present)", with_operator, "operator"),
        ("region (derived from msisdn)", frame if with_region is not None else None, "region"),
        ("region (column present)", with_region, "region"),
        ("hour (zone derived)", frame if with_region is not None else None, "hour"),
        ("hour (time_zone present)", with_region, "hour"),
        ("[operator, hour] (operator present)", with_operator, ["operator", "hour"]),
    ]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'by':<32} {'groups':>6} {'best s':>7} {'target':>7} {'peak MiB':>9}")
    for label, data, by in cases:
        if data is None:
            continue
        # the numbering lookup dominates the derived cases: once is enough to see it
        repeat = 1 if "derived" in label else args.repeat
        seconds, report = best_time(lambda d=data, b=by: delivery_report(d, by=b), repeat)
        peak = peak_mib(lambda d=data, b=by: delivery_report(d, by=b))
        verdict = "ok" if seconds < TARGET_S else "OVER"
        print(f"{label:<32} {len(report):>6} {seconds:>7.3f} {verdict:>7} {peak:>9.0f}")
    for label, fn in (
        ("compare(by='campaign')", lambda: compare(frame, by="campaign")),
        ("failure_report(by='campaign')", lambda: failure_report(frame, by="campaign")),
    ):
        seconds, result = best_time(fn, args.repeat)
        verdict = "ok" if seconds < TARGET_S else "OVER"
        print(f"{label:<32} {len(result):>6} {seconds:>7.3f} {verdict:>7} {'':>9}")
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nmax RSS {rss_after:,.0f} MiB (grew {rss_after - rss_before:,.0f} MiB over the reports;"
        f" the frame itself is resident before)"
    )


if __name__ == "__main__":
    main()
