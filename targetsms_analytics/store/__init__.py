"""The store: the only code that touches a database, with one interface and two backends.

- :class:`Journal` - campaigns and sends (intents and answers), statuses, balance snapshots, by
  account; ``Journal(path)`` is SQLite (the embedded default), ``Journal("postgresql://…")``
  PostgreSQL (a team's shared store, several senders at once).
- :func:`open_journal` - the ``with`` form every caller uses; :func:`campaigns` - every campaign
  of every account, who sent it and how it went.
- Modules by aggregate: :mod:`.campaigns` (campaigns and sends), :mod:`.statuses`,
  :mod:`.balance`, :mod:`.schema` (schema and migrations); backends :mod:`.sqlite`,
  :mod:`.postgres`.

Example::

    >>> with open_journal(":memory:") as journal:
    ...     journal.backend
    'sqlite'
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from ..errors import InputError, JournalError
from ._common import (
    DEFAULT_ENDPOINT,
    DEFAULT_STALE_AFTER,
    OUTCOMES,
    STORE_ENV,
    BatchTicket,
    account_of,
    check_store,
    default_store_path,
    encode_dicts,
    expand_contacts,
    is_postgres_url,
    redact_url,
    request_fingerprint,
    store_from_env,
)
from .base import Journal
from .schema import POSTGRES_MIGRATIONS, SCHEMA_VERSION, SQLITE_MIGRATIONS

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_STALE_AFTER",
    "OUTCOMES",
    "POSTGRES_MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_MIGRATIONS",
    "STORE_ENV",
    "BatchTicket",
    "Journal",
    "JournalError",
    "Store",
    "account_of",
    "campaigns",
    "check_store",
    "default_store_path",
    "encode_dicts",
    "expand_contacts",
    "is_postgres_url",
    "open_journal",
    "redact_url",
    "request_fingerprint",
]

#: What ``store=`` accepts everywhere: a path, a ``postgresql://`` URL, a ``Journal``, or None.
Store = str | os.PathLike[str] | Journal | None


def _refuse_in_memory(store: object) -> None:
    resolved = store if store is not None else store_from_env() or default_store_path()
    if str(resolved) == ":memory:":
        raise InputError(
            "store_in_memory",
            "store ':memory:' forgets everything when the call returns, so a second call would "
            "send everyone again: give a journal file (or a Journal object you keep)",
            field="store",
        )


@contextmanager
def open_journal(
    store: Store, *, readonly: bool = False, sending: bool = False
) -> Iterator[Journal]:
    """Yield a ``Journal`` for ``store``: a path, a ``postgresql://`` URL, ``":memory:"``, a
    ``Journal``, or None (``$TARGETSMS_STORE``, else the user data dir).

    A journal opened here is closed on exit; one passed in is left open for its owner.
    ``readonly``: read only (reports; an older SQLite journal on writable media is upgraded
    first). ``sending``: refuse ``":memory:"`` (given or from ``$TARGETSMS_STORE``): a journal
    that forgets would let the next call send everyone again.

    Example::

        with open_journal("postgresql://me@db:5432/team") as journal:
            journal.campaigns()
    """
    if isinstance(store, Journal):
        yield store
        return
    if sending:
        _refuse_in_memory(store)
    try:
        journal = Journal(store, readonly=readonly)
    except JournalError as exc:
        if exc.code != "journal_outdated":
            raise
        journal = Journal(store)  # an older journal on writable media: upgrade it in place
    try:
        yield journal
    finally:
        journal.close()


def campaigns(store: Store = None) -> pd.DataFrame:
    """Every campaign of every account in the store: who sent it, when, and counts by outcome.

    One row per (account, campaign); columns as :meth:`Journal.campaigns` - ``campaign, account,
    user, sender, os_user, os_host, created_at, updated_at``, a count per outcome, ``parts``,
    ``batches``, ``sent_by`` (``os_user@host`` of every sending run), ``first_run_at``,
    ``last_run_at``; ``attrs["store"]`` names the store read (no password).

    Example::

        ts.campaigns(store="postgresql://me@db:5432/team")[["campaign", "account", "sent_by", "sent"]]
    """
    with open_journal(store, readonly=True) as journal:
        frame = journal.campaigns()
        frame.attrs["store"] = journal.path  # (which store: never its password)
        return frame
