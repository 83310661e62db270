"""The journal's former home: everything now lives in :mod:`targetsms_analytics.store`.

Kept so that ``from targetsms_analytics.journal import Journal, open_journal`` keeps working.

Example::

    >>> from targetsms_analytics.journal import Journal
    >>> Journal(":memory:").schema_version
    3
"""

from __future__ import annotations

from .store import (
    DEFAULT_ENDPOINT,
    DEFAULT_STALE_AFTER,
    OUTCOMES,
    SCHEMA_VERSION,
    SQLITE_MIGRATIONS,
    STORE_ENV,
    BatchTicket,
    Journal,
    JournalError,
    account_of,
    check_store,
    default_store_path,
    expand_contacts,
    open_journal,
    request_fingerprint,
)

#: SQLite's migrations (see :mod:`targetsms_analytics.store.schema`).
MIGRATIONS = SQLITE_MIGRATIONS

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_STALE_AFTER",
    "MIGRATIONS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "BatchTicket",
    "Journal",
    "JournalError",
    "account_of",
    "check_store",
    "default_store_path",
    "expand_contacts",
    "open_journal",
    "request_fingerprint",
]
