"""How tests/data/journal-0.1.sqlite3 was made: with the 0.1 journal (git show 7a46acd:targetsms_analytics/journal.py).

Kept for the record; it runs only against 0.1 code (SCHEMA_VERSION 1). Usage: python make_journal_0_1.py OUT
"""

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from targetsms_analytics.journal import SCHEMA_VERSION, Journal
from targetsms_analytics.protocol import Balance, StatusDetail

assert SCHEMA_VERSION == 1
out = Path(sys.argv[1])
out.unlink(missing_ok=True)
URL = "https://sms.targetsms.ru/sendsms.php"
j = Journal(out)
j.ensure_campaign("spring", user="acme", sender="SHOP", template="Hi {name}")
tok = Journal.new_run_token()
# three sent in one batch
t = j.begin_batch(
    "spring",
    ["79001230001", "79001230002", "79001230003"],
    "Hi Ann",
    1,
    sender="SHOP",
    user="acme",
    url=URL,
    token=tok,
)
j.finish_batch(t.id, "sent", sms_ids=["5001", "5002", "5003"])
# one rejected
t = j.begin_batch(
    "spring", ["79001230004"], "Hi Bob", 1, sender="SHOP", user="acme", url=URL, token=tok
)
j.finish_batch(t.id, "rejected", error_code="phone_stop_listed", error_text="stop list")
# two pending: the campaign stopped (sender refused) -> failed batch, a refusal on record
t = j.begin_batch(
    "spring",
    ["79001230005", "79001230006"],
    "Hi Cy",
    1,
    sender="SHOP",
    user="acme",
    url=URL,
    token=tok,
)
j.finish_batch(t.id, "pending", error_code="sender_not_moderated", error_text="not moderated")
# one in flight, its process gone (recovered as unknown on the next run)
t = j.begin_batch(
    "spring", ["79001230007"], "Hi Di", 1, sender="SHOP", user="acme", url=URL, token="dead"
)
j._conn.execute(
    "UPDATE batches SET owner_pid = 999999999, started_at = '2026-11-01T10:00:00+00:00' WHERE id = ?",
    (t.id,),
)
Journal.end_run(tok)
# a second campaign, all sent
j.ensure_campaign("autumn", user="acme", sender="SHOP", template="Sale")
t = j.begin_batch(
    "autumn", ["79001230001", "79001230008"], "Sale", 1, sender="SHOP", user="acme", url=URL
)
j.finish_batch(t.id, "sent", sms_ids=["6001", "6002"])
j.save_statuses(
    [
        StatusDetail("5001", "deliver", datetime(2026, 11, 1, 10, 1, tzinfo=UTC), 1, 1.2),
        StatusDetail("5002", "not_deliver", datetime(2026, 11, 1, 10, 2, tzinfo=UTC), 1, 1.2),
        StatusDetail("5003", "send", None, 1, 1.2),
        StatusDetail("6001", "deliver", datetime(2026, 11, 2, 9, 0, tzinfo=UTC), 1, 1.1),
    ]
)
pk = pd.DataFrame({"direction": ["MTS", "Beeline"], "remaining": [100, 50]})
j.save_balance(Balance(445.6, "RUB", pk), taken_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
j.save_balance(
    Balance(440.8, "RUB", pk.assign(remaining=[96, 50])),
    taken_at=datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
)
j._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
j._conn.execute("PRAGMA journal_mode = DELETE")
j.close()
raw = sqlite3.connect(out)
raw.execute("VACUUM")
raw.close()
print("ok", out.stat().st_size)
