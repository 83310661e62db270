"""Statuses: what the service said of each SMS id, per account; a final state is never overwritten.

Example: ``journal.save_statuses([client.status_detail(i)], account=a); journal.statuses([i])``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..protocol import FINAL_STATES
from ._common import iso, now_utc, one_account_per_id, times

__all__ = ["StatusesMixin"]


class StatusesMixin:
    """Statuses (see the module docstring)."""

    # ------------------------------------------------------------ statuses

    def save_statuses(self, records: Iterable[Any] | pd.DataFrame, *, account: str) -> int:
        """Store detailed statuses of ``account``; a final state already stored is never overwritten.

        ``records``: ``StatusDetail`` objects, dicts, or a DataFrame, with ``sms_id, state,
        changed_at, num_parts, price`` and optionally ``fetched_at`` (default: now). Returns the
        number of rows written.

        Example: ``journal.save_statuses([client.status_detail("1178440060")], account=a)``.
        """
        if isinstance(records, pd.DataFrame):
            items: Iterable[Any] = records.to_dict("records")
        else:
            items = records
        now = iso(now_utc())
        rows = []
        for rec in items:
            get = rec.get if isinstance(rec, dict) else lambda k, d=None, r=rec: getattr(r, k, d)
            num_parts, price = get("num_parts"), get("price")
            rows.append(
                (
                    account,
                    str(get("sms_id")),
                    str(get("state")),
                    iso(get("changed_at")),
                    None if num_parts is None or pd.isna(num_parts) else int(num_parts),
                    None if price is None or pd.isna(price) else float(price),
                    iso(get("fetched_at")) or now,
                )
            )
        finals = tuple(sorted(FINAL_STATES))
        marks = ",".join("?" for _ in finals)
        if not rows:
            return 0

        def work(c: Any) -> int:
            cur = c.executemany(
                "INSERT INTO statuses (account, sms_id, state, changed_at, num_parts, price,"
                " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, sms_id) DO UPDATE"
                " SET state = excluded.state, changed_at = excluded.changed_at,"
                " num_parts = excluded.num_parts, price = excluded.price,"
                f" fetched_at = excluded.fetched_at WHERE statuses.state NOT IN ({marks})",
                [(*r, *finals) for r in rows],
            )
            return max(int(cur.rowcount), 0)

        return self._grouped(work, rows=len(rows))

    def statuses(
        self, sms_ids: Iterable[str] | None = None, *, account: str | None = None
    ) -> pd.DataFrame:
        """Stored statuses: one row per distinct known id, in the order asked (or all).

        Columns: ``sms_id, state, is_final, changed_at, num_parts, price, fetched_at, account``.
        Without ``account``, an id stored for several accounts is refused (``InputError``).

        Example: ``journal.statuses(ids, account=a).query("not is_final")["sms_id"]``.
        """
        cols = "s.sms_id, s.state, s.changed_at, s.num_parts, s.price, s.fetched_at, s.account"
        where, params = ("", []) if account is None else (" WHERE s.account = ?", [account])
        if sms_ids is None:
            rows = self._query(
                f"SELECT {cols} FROM statuses s{where} ORDER BY s.{self._seq}", params
            )
        else:
            ids = list(dict.fromkeys(str(i) for i in sms_ids))
            rows = self._query(
                f"SELECT {cols} FROM {self._ids('j')} {self._cross} statuses s"
                f" ON s.sms_id = j.value{where} ORDER BY j.key, s.{self._seq}",
                [self._ids_param(ids), *params],
            )
        names = ["sms_id", "state", "changed_at", "num_parts", "price", "fetched_at", "account"]
        frame = pd.DataFrame([tuple(r) for r in rows], columns=names)
        if sms_ids is not None:
            frame = (
                one_account_per_id(frame)
                if account is None
                else frame.drop_duplicates("sms_id").reset_index(drop=True)
            )
        frame.insert(2, "is_final", frame["state"].isin(FINAL_STATES).astype(bool))
        frame["changed_at"] = times(frame["changed_at"])
        frame["fetched_at"] = times(frame["fetched_at"])
        frame["num_parts"] = frame["num_parts"].astype("Int64")
        frame["price"] = frame["price"].astype("float64")
        return frame
