"""Balance snapshots: ask the service for the balance and keep it in the journal (orchestration).

The client only talks HTTP and the journal only stores; this module joins the two, so spend over
time can be reported (``journal.balance_snapshots()``, ``ts.spend_between``).

Example::

    import targetsms_analytics as ts

    balance = ts.snapshot_balance(ts.connect(), store="journal.sqlite3")
    balance.packages.sort_values("remaining")
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import TargetSMSClient
    from .journal import Journal
    from .protocol import Balance

__all__ = ["save_snapshot", "snapshot_balance"]


def snapshot_balance(
    client: TargetSMSClient, store: str | os.PathLike[str] | Journal | None = None
) -> Balance:
    """Ask ``client`` for the balance, save it as a snapshot of its account in the journal, return it.

    ``store`` is a journal path or ``Journal``; None means the default journal (``TARGETSMS_STORE``
    or the user's data folder), as everywhere else.

    Example: ``ts.snapshot_balance(client, store="journal.sqlite3").amount``.
    """
    balance = client.balance()
    save_snapshot(balance, store, user=client.user, url=client.url)
    return balance


def save_snapshot(
    balance: Balance,
    store: str | os.PathLike[str] | Journal | None = None,
    *,
    user: str,
    url: str,
) -> None:
    """Save an already fetched ``balance`` of the account ``user`` at ``url`` in the journal.

    Example: ``save_snapshot(client.balance(), "journal.sqlite3", user=client.user, url=client.url)``.
    """
    from .journal import account_of, open_journal

    with open_journal(store) as journal:
        journal.save_balance(balance, account=account_of(user, url))
