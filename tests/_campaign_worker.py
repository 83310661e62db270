"""Send (or resume) a campaign in its own process: the kill -9 test's victim.

Usage: ``python tests/_campaign_worker.py URL STORE CAMPAIGN ROWS``. Every row has its own text, so
every recipient is a request of its own and the campaign takes a while at 20 ms per request.
"""

from __future__ import annotations

import sys

import pandas as pd

from targetsms_analytics.campaign import send_campaign
from targetsms_analytics.client import RetryPolicy, TargetSMSClient

TEMPLATE = "Здравствуйте, {name}! Ваш код {code}."


def contacts(rows: int) -> pd.DataFrame:
    """The same ``rows`` recipients in every process (numbers in two formats)."""
    phones = [f"+7 916 {i // 10000:03d}-{i % 10000:04d}" for i in range(rows)]
    phones = [p if i % 2 else p.replace("+7 ", "8 ") for i, p in enumerate(phones)]
    return pd.DataFrame(
        {"phone": phones, "name": [f"Клиент {i}" for i in range(rows)], "code": range(rows)}
    )


def main(url: str, store: str, campaign: str, rows: str) -> None:
    client = TargetSMSClient(
        "demo", "demo", url=url, throttle_interval=1.0, timeout=10.0,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=lambda: 0.0),
    )  # fmt: skip
    result = send_campaign(
        client, contacts(int(rows)), TEMPLATE, "SHOP", campaign=campaign, store=store,
        concurrency=4, progress=False,
    )  # fmt: skip
    print(result["outcome"].value_counts().to_dict(), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
