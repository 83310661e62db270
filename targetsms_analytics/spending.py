"""``reconcile_spend``: read statuses, balance snapshots and packages from the journal, reconcile.

Orchestration: the reading is here, the arithmetic in :func:`targetsms_analytics.insight.reconcile`
(pure).

Example::

    import targetsms_analytics as ts

    ts.snapshot_balance(client, store="journal.sqlite3")      # before the campaign
    ts.send_campaign(client, contacts, "Привет, {name}!", "SHOP", campaign="spring",
                     store="journal.sqlite3")
    ts.wait_for_final(client, "spring", store="journal.sqlite3")
    ts.snapshot_balance(client, store="journal.sqlite3")      # after it
    ts.reconcile_spend("journal.sqlite3")
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .errors import InputError
from .insight import reconcile
from .journal import Journal, open_journal

__all__ = ["reconcile_spend", "store_statuses"]


def _call(method: Any, account: str | None, *args: Any) -> Any:
    """``method(*args, account=account)``, or without ``account`` when none is asked for."""
    if account is None:
        return method(*args)
    try:
        return method(*args, account=account)
    except TypeError:
        raise InputError(
            "no_accounts", "this journal does not keep accounts apart: leave out account="
        ) from None


def store_statuses(journal: Journal, account: str | None = None) -> pd.DataFrame:
    """Every campaign's statuses the journal holds (no request), as one status frame.

    Example: ``store_statuses(Journal("journal.sqlite3"))["cost"].sum()``.
    """
    from .statuses import load_statuses

    campaigns = _call(journal.campaigns, account)
    if campaigns.empty:
        return pd.DataFrame(
            columns=["sms_id", "campaign", "state", "sent_at", "num_parts", "price"]
        )
    frames = []
    for name in campaigns["campaign"].astype(str).drop_duplicates():
        if account is None:
            frames.append(load_statuses(name, store=journal))
        else:
            frames.append(load_statuses(name, store=journal, account=account))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(
            columns=["sms_id", "campaign", "state", "sent_at", "num_parts", "price"]
        )
    return pd.concat(frames, ignore_index=True)


def reconcile_spend(
    store: str | Journal | None = None,
    *,
    account: str | None = None,
    freq: str = "D",
    tolerance: float = 0.05,
    min_tolerance: float = 1.0,
) -> pd.DataFrame:
    """Spend by statuses against spend by balance snapshots, per period, from the journal.

    Reads every campaign's statuses, the balance snapshots and the packages of ``store`` (a path,
    a ``Journal``, or the default journal) for ``account`` (all when the journal keeps one), then
    returns :func:`~targetsms_analytics.insight.reconcile` (see there for the columns: cost by
    statuses, paid from packages vs from money, spend by balance, top-ups, difference, mismatch).

    The snapshots must bracket the sends: take one before and one after each campaign
    (``ts.snapshot_balance(client, store=...)``, ``client.balance(store=...)``, or
    ``send_campaign(..., snapshot_balance=True)``). With fewer than two snapshots the result
    has no rows. Makes no request.

    Example::

        ts.reconcile_spend("journal.sqlite3", freq="W").query("mismatch")
    """
    try:
        pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise InputError("bad_freq", f"not a pandas frequency: {freq!r} (try D, W or M)") from None
    with open_journal(store) as journal:
        statuses = store_statuses(journal, account)
        snapshots = _call(journal.balance_snapshots, account)
        packages = _call(journal.package_history, account)
    return reconcile(
        statuses,
        snapshots,
        packages,
        freq=freq,
        tolerance=tolerance,
        min_tolerance=min_tolerance,
    )
