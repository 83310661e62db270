"""Build the numbering table shipped in the package from the regulator's DEF-9xx.csv.

Usage (from the repository root)::

    python scripts/build_numbering.py ../shared/data/numbering/DEF-9xx.csv --date 2023

writes ``targetsms_analytics/data/numbering.csv.gz``. Users refresh their own copy with
``targetsms numbering update FILE.csv`` instead; both go through ``numbering.build_table``.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from targetsms_analytics import numbering

OUT = Path(__file__).resolve().parents[1] / "targetsms_analytics" / "data" / numbering.TABLE_NAME


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path, help="the DEF-9xx.csv file")
    parser.add_argument(
        "--date", required=True, help="the registry's date, e.g. 2023 or 2024-05-01"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    raw = args.registry.read_bytes()
    registry = numbering.parse_registry(raw.decode("utf-8-sig"), source=str(args.registry))
    table = numbering.build_table(registry)
    source = f"{args.registry.name} sha256:{hashlib.sha256(raw).hexdigest()}"
    data = numbering.table_bytes(table, registry_date=args.date, source=source)
    numbering.read_table(data, source=str(args.out))  # what we write must read back
    args.out.write_bytes(data)
    unzoned = sorted(set(table.loc[table["time_zone"].isna(), "region"].dropna()))
    print(f"{args.out}: {len(table)} ranges, {len(data)} bytes; regions without a zone: {unzoned}")


if __name__ == "__main__":
    main()
