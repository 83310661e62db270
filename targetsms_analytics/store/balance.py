"""Balance snapshots and the SMS left per direction, per account.

Example: ``journal.save_balance(client.balance(), account=a); journal.balance_snapshots()``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from ._common import iso, now_utc, times

__all__ = ["BalanceMixin"]


class BalanceMixin:
    """Balance snapshots (see the module docstring)."""

    # ------------------------------------------------------------ balance

    def save_balance(
        self, balance: Any, taken_at: datetime | None = None, *, account: str | None = None
    ) -> int:
        """Store a balance snapshot of ``account`` (a ``Balance``: amount, currency, packages).

        Returns its id. Without ``account`` the snapshot is unattributed (``""``).

        Example: ``journal.save_balance(client.balance(), account=account_of(client.user,
        client.url))``.
        """
        when = iso(taken_at or now_utc())
        packages = getattr(balance, "packages", None)
        with self._tx() as c:
            snap = int(
                c.execute(
                    "INSERT INTO balance_snapshots (account, taken_at, amount, currency)"
                    " VALUES (?, ?, ?, ?) RETURNING id",
                    (
                        account or "",
                        when,
                        float(balance.amount),
                        getattr(balance, "currency", None),
                    ),
                ).fetchone()[0]
            )
            if packages is not None and len(packages):
                c.executemany(
                    "INSERT INTO packages (snapshot, direction, remaining) VALUES (?, ?, ?)",
                    [
                        (snap, str(d), int(r))
                        for d, r in zip(packages["direction"], packages["remaining"], strict=True)
                    ],
                )
        return snap

    def balance_snapshots(self, *, account: str | None = None) -> pd.DataFrame:
        """Balance snapshots (of ``account``, or all), oldest first: ``taken_at, amount, currency,
        account``.

        Example: ``journal.balance_snapshots(account=a).plot(x="taken_at", y="amount")``.
        """
        where, params = ("", []) if account is None else (" WHERE account = ?", [account])
        return self._dated_frame(
            "SELECT taken_at, amount, currency, account FROM balance_snapshots"
            f"{where} ORDER BY taken_at, id",
            params,
            ["taken_at", "amount", "currency", "account"],
            ("amount", "float64"),
        )

    def package_history(self, *, account: str | None = None) -> pd.DataFrame:
        """SMS left per direction in every snapshot (of ``account``, or all), oldest first:
        ``taken_at, direction, remaining, account``.

        Example: ``journal.package_history().pivot(index="taken_at", columns="direction")``.
        """
        where, params = ("", []) if account is None else (" WHERE s.account = ?", [account])
        return self._dated_frame(
            "SELECT s.taken_at, p.direction, p.remaining, s.account FROM packages p"
            f" JOIN balance_snapshots s ON s.id = p.snapshot{where}"
            f" ORDER BY s.taken_at, s.id, p.{self._seq}",
            params,
            ["taken_at", "direction", "remaining", "account"],
            ("remaining", "int64"),
        )

    def _dated_frame(
        self, sql: str, params: list[Any], columns: list[str], typed: tuple[str, str]
    ) -> pd.DataFrame:
        """The rows of ``sql`` as a frame: ``taken_at`` as UTC times, ``typed[0]`` as
        ``typed[1]``."""
        frame = pd.DataFrame([tuple(r) for r in self._query(sql, params)], columns=columns)
        frame["taken_at"] = times(frame["taken_at"])
        frame[typed[0]] = frame[typed[0]].astype(typed[1])
        return frame
