"""Looking up operator, region and time zone of 1,000,000 numbers.

Run: ``.venv/bin/python benchmarks/bench_numbering.py [rows]``. Prints the wall seconds of
``ts.lookup_numbers`` on a list of distinct random msisdns (``79XXXXXXXXX`` strings, as
``normalize_phone`` gives them; a few percent junk), the 2 s target, and the ratio to a floor: plain
``numpy.searchsorted`` of the same numbers already as int64 over the same range starts (no parsing,
no output frame). Asserts nothing; takes the best of three runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from targetsms_analytics import numbering

ROWS = 1_000_000
TARGET_SECONDS = 2.0


def best_of(runs: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else ROWS
    rng = np.random.default_rng(7)
    national = 9_000_000_000 + rng.choice(10**9, size=rows, replace=False)
    phones = ("7" + national.astype(str).astype(object)).tolist()
    for i in rng.choice(rows, size=rows // 50, replace=False):  # 2 %: landlines, junk, blanks
        phones[i] = rng.choice(["74951234567", "", "abc", "7916123456"])
    numbering.lookup_numbers(phones[:10])  # load the table once, as any first call does
    starts = numbering._current_table().starts

    seconds, frame = best_of(3, lambda: numbering.lookup_numbers(phones))
    floor, _ = best_of(3, lambda: np.searchsorted(starts, national, side="right"))
    known = float((frame["operator"] != "unknown").mean())
    print(f"lookup_numbers: {rows:,} numbers in {seconds:.3f} s (target {TARGET_SECONDS:.1f} s)")
    print(f"numpy.searchsorted floor: {floor:.3f} s; ratio {seconds / floor:.1f}x")
    print(f"registry {frame.attrs['registry_date']}, {known:.1%} found")


if __name__ == "__main__":
    main()
