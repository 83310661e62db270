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

import pandas as pd

from .errors import InputError
from .insight import reconcile
from .journal import Journal, open_journal

__all__ = ["reconcile_spend", "store_statuses"]


def _one_account(journal: Journal, account: str | None) -> str | None:
    """``account``, or the journal's only one; several and none named is ambiguous."""
    if account is not None:
        return account
    seen: set[str] = set()
    for frame in (journal.campaigns(), journal.balance_snapshots()):
        if "account" in frame.columns:
            seen |= set(frame["account"].dropna().astype(str))
    if len(seen) > 1:
        raise InputError(
            "ambiguous_account",
            f"the journal holds several accounts: {', '.join(sorted(seen))}; say which with "
            "account= (--account on the command line)",
            field="account",
        )
    return next(iter(seen), None)


_EMPTY_COLUMNS = ["sms_id", "campaign", "state", "sent_at", "num_parts", "price"]


def store_statuses(journal: Journal, account: str | None = None) -> pd.DataFrame:
    """Every campaign's statuses the journal holds for ``account`` (all when None), no request.

    Example: ``store_statuses(Journal("journal.sqlite3"), "demo@127.0.0.1:8000")["cost"].sum()``.
    """
    from .statuses import load_statuses

    campaigns = journal.campaigns()
    if account is not None and "account" in campaigns.columns:
        campaigns = campaigns[campaigns["account"].astype(str) == account]
    if campaigns.empty:
        return pd.DataFrame(columns=_EMPTY_COLUMNS)
    frames = []
    pairs = campaigns[["campaign", *(["account"] if "account" in campaigns.columns else [])]]
    for row in pairs.drop_duplicates().itertuples(index=False):
        owner = getattr(row, "account", None)
        frame = load_statuses(row.campaign, store=journal, account=owner)
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=_EMPTY_COLUMNS)
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
    a ``Journal``, or the default journal) for ``account`` (``user@host``; may be left out when
    the journal holds one account only, else ``InputError`` ``ambiguous_account``), then
    returns :func:`~targetsms_analytics.insight.reconcile` (see there for the columns: cost by
    statuses, paid from packages vs from money, spend by balance, top-ups, difference, mismatch).

    The snapshots must bracket the sends: take one before and one after each campaign
    (``ts.snapshot_balance(client, store=...)``, or ``targetsms balance`` on the command line).
    With fewer than two snapshots the result
    has no rows. Makes no request.

    Example::

        ts.reconcile_spend("journal.sqlite3", freq="W").query("mismatch")
    """
    try:  # what reconcile does with it: a period per timestamp (MS, ME and 0D have none)
        pd.Timestamp("2024-01-01").to_period(freq)
    except (ValueError, TypeError):
        raise InputError(
            "bad_freq", f"not a period frequency: {freq!r} (try D, W or M)", field="freq"
        ) from None
    with open_journal(store, readonly=True) as journal:
        account = _one_account(journal, account)
        statuses = store_statuses(journal, account)
        snapshots = journal.balance_snapshots(account=account)
        packages = journal.package_history(account=account)
    return reconcile(
        statuses,
        snapshots,
        packages,
        freq=freq,
        tolerance=tolerance,
        min_tolerance=min_tolerance,
    )
