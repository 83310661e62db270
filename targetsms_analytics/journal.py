"""The journal: the only code that touches the database (SQLite here).

One file (WAL mode) holds what the toolkit knows about past work, so a crashed notebook, a second
process or a later report can read it back. Every record belongs to an **account**, the service
user and endpoint written ``user@host[:port]`` (:func:`account_of`; never the password):

::

    schema_version      version, applied_at           one row per applied migration
    campaigns           account, name (unique together), login, endpoint, sender, template,
                        os_user, os_host, created_at, updated_at
    runs                token, account, campaign, pid, host, os_user, started_at, ended_at
    batches             id, account, campaign, parent (the batch it was split from), state
                        (inflight, done, split, failed, unknown), recipients (JSON), size,
                        text_hash, fingerprint, sender, variant, owner_pid, owner_host,
                        owner_token, started_at, finished_at, answer_code, answer_text
    messages            account, campaign, msisdn (unique together), text, parts, sender, variant,
                        contact (JSON), not_before, batch, status, sms_id, error_code,
                        error_text, created_at, sent_at
    statuses            account, sms_id (unique together), state, changed_at, num_parts, price,
                        fetched_at
    balance_snapshots   id, account, taken_at, amount, currency
    packages            snapshot, direction, remaining

Sending follows "write intent, send, write result": :meth:`Journal.begin_batch` claims the
recipients (status ``inflight``) and records the batch - recipients, a hash of the text and a
fingerprint of the request *without the password*, the owner's pid/host/run - in one committed
transaction before the request; :meth:`Journal.finish_batch` commits the answer right after it.
A batch left ``inflight`` by a run that is gone becomes ``unknown`` in
:meth:`Journal.recover_inflight`; it is never resent automatically.

Message ``status`` values: ``inflight`` (claimed, request under way), ``pending`` (no outcome: may be
sent by the next run), ``scheduled`` (held for its send window, ``not_before``: claimable like
``pending`` when the caller decides it is time), and the outcomes ``sent``, ``queued``,
``rejected``, ``duplicate``, ``unknown`` and ``holdout`` (a control recipient: never claimed, never
sent). A message row is created when a send is attempted or a row is held (:meth:`Journal.hold`);
invalid and duplicate input rows are recomputed from the input on every run.

A batch the service refused for one recipient is ``split``: its messages return to ``pending``
before the halves are journaled as new batches (``parent`` = the split one). A batch that never
left, or that hit an error stopping the campaign, is ``failed`` and its messages ``pending``.

Datetimes are stored as ISO 8601 UTC text and returned tz-aware (UTC). The password and the request
URL are never stored: a fingerprint is a SHA-256 of the request's fields without the password.

A journal written by 0.1 (schema version 1, no accounts) is upgraded in place when opened for
writing: its records get the user they recorded and the default endpoint
(``user@sms.targetsms.ru``).

Example::

    >>> j = Journal(":memory:")
    >>> ticket = j.begin_batch("spring", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
    ...                        url="http://127.0.0.1/sendsms.php")
    >>> j.finish_batch(ticket.id, "sent", sms_ids=["1178440060"])
    >>> j.campaign_messages("spring")[["account", "msisdn", "sms_id", "outcome"]].values.tolist()
    [['demo@127.0.0.1', '79001234567', '1178440060', 'sent']]
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pandas as pd

from .errors import InputError, JournalError
from .protocol import FINAL_STATES

__all__ = [
    "DEFAULT_ENDPOINT",
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
    "open_journal",
    "request_fingerprint",
]

#: Environment variable that overrides the default journal file.
STORE_ENV = "TARGETSMS_STORE"
#: A batch still ``inflight`` after this many seconds is taken as lost, whoever owns it.
DEFAULT_STALE_AFTER = 900.0
#: Message outcomes a journal row may hold (``inflight`` and ``pending`` are not outcomes;
#: ``scheduled`` waits for its send window and is claimable like ``pending``; ``holdout`` is a
#: control recipient, never sent).
OUTCOMES: tuple[str, ...] = (
    "sent",
    "queued",
    "rejected",
    "duplicate",
    "unknown",
    "scheduled",
    "holdout",
)
# What the answer to a request can make of its messages.
_SEND_OUTCOMES = ("sent", "queued", "rejected", "duplicate", "unknown")
# Message statuses a run may claim.
_CLAIMABLE = ("pending", "scheduled")
_BATCH_STATES = ("inflight", "done", "split", "failed", "unknown")
#: The service's endpoint, the one a 0.1 journal's records are given when upgraded (the same as
#: ``client.DEFAULT_URL``; the journal does not import the client).
DEFAULT_ENDPOINT = "https://sms.targetsms.ru/sendsms.php"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_FORM = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")


def account_of(user: str, url: str) -> str:
    """The account a client works for, as the journal keys it: ``user@host[:port]``.

    The port is written only when it is not the scheme's default; the password is never part of it.

    Example::

        >>> account_of("acme", "https://sms.targetsms.ru/sendsms.php")
        'acme@sms.targetsms.ru'
        >>> account_of("demo", "http://127.0.0.1:8421/sendsms.php")
        'demo@127.0.0.1:8421'
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    return f"{user}@{host}" + (f":{port}" if port is not None and port != default else "")


def check_store(store: object) -> None:
    """Refuse a ``store=`` that looks like a URL of a kind this release cannot open.

    A file path (SQLite) is the store; ``postgresql://…`` and any other ``scheme://`` are refused
    with an :class:`InputError` naming only the scheme (a URL may hold a password).

    Example: ``check_store("journal.sqlite3")`` passes; ``check_store("mysql://me@db/j")`` raises
    ``InputError`` with ``code='store_unsupported'``.
    """
    if not isinstance(store, str | os.PathLike):
        return
    match = _URL_FORM.match(os.fspath(store))  # type: ignore[arg-type]
    if match is None:
        return
    scheme = match.group(1).lower()
    raise InputError(
        "store_unsupported",
        f"a store of the kind {scheme}:// is not supported: give the path of a journal file "
        "(SQLite)",
        field="store",
    )


def default_store_path() -> Path:
    """The journal file used when none is given: ``$TARGETSMS_STORE`` or the user data dir.

    Example: ``print(default_store_path())`` shows the file ``Journal()`` opens, e.g.
    ``~/.local/share/targetsms-analytics/journal.sqlite3`` on Linux.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        check_store(env)
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("targetsms-analytics")) / "journal.sqlite3"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without passwd entry)
        return ""


# ---------------------------------------------------------------- schema

_V1 = """
CREATE TABLE campaigns (
    name        TEXT PRIMARY KEY,
    user        TEXT,
    sender      TEXT,
    template    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign     TEXT NOT NULL REFERENCES campaigns(name),
    parent       INTEGER REFERENCES batches(id),
    state        TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    size         INTEGER NOT NULL,
    text_hash    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    sender       TEXT,
    owner_pid    INTEGER,
    owner_host   TEXT,
    owner_token  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    answer_code  TEXT,
    answer_text  TEXT
);
CREATE INDEX batches_campaign_state ON batches(campaign, state);
CREATE INDEX batches_fingerprint ON batches(fingerprint);
CREATE TABLE messages (
    campaign    TEXT NOT NULL REFERENCES campaigns(name),
    msisdn      TEXT NOT NULL,
    text        TEXT NOT NULL,
    parts       INTEGER,
    sender      TEXT,
    batch       INTEGER REFERENCES batches(id),
    status      TEXT NOT NULL,
    sms_id      TEXT,
    error_code  TEXT,
    error_text  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (campaign, msisdn)
);
CREATE INDEX messages_batch ON messages(batch);
CREATE INDEX messages_sms_id ON messages(sms_id);
CREATE TABLE statuses (
    sms_id      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    changed_at  TEXT,
    num_parts   INTEGER,
    price       REAL,
    fetched_at  TEXT NOT NULL
);
CREATE TABLE balance_snapshots (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at  TEXT NOT NULL,
    amount    REAL NOT NULL,
    currency  TEXT
);
CREATE TABLE packages (
    snapshot   INTEGER NOT NULL REFERENCES balance_snapshots(id),
    direction  TEXT NOT NULL,
    remaining  INTEGER NOT NULL
);
CREATE INDEX packages_snapshot ON packages(snapshot);
"""

# Version 2: every record belongs to an account; runs are registered (liveness, who sent);
# messages carry an A/B variant, the input row's other columns and a not-before time.
_V2_TABLES = """
CREATE TABLE campaigns (
    account     TEXT NOT NULL,
    name        TEXT NOT NULL,
    login       TEXT,
    endpoint    TEXT,
    sender      TEXT,
    template    TEXT,
    os_user     TEXT,
    os_host     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE INDEX campaigns_name ON campaigns(name);
CREATE TABLE runs (
    token       TEXT PRIMARY KEY,
    account     TEXT,
    campaign    TEXT,
    pid         INTEGER,
    host        TEXT,
    os_user     TEXT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT
);
CREATE TABLE batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account      TEXT NOT NULL,
    campaign     TEXT NOT NULL,
    parent       INTEGER,
    state        TEXT NOT NULL,
    recipients   TEXT NOT NULL,
    size         INTEGER NOT NULL,
    text_hash    TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    sender       TEXT,
    variant      TEXT,
    owner_pid    INTEGER,
    owner_host   TEXT,
    owner_token  TEXT,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    answer_code  TEXT,
    answer_text  TEXT
);
CREATE INDEX batches_campaign_state ON batches(account, campaign, state);
CREATE INDEX batches_state ON batches(state);
CREATE INDEX batches_fingerprint ON batches(fingerprint);
CREATE TABLE messages (
    account     TEXT NOT NULL,
    campaign    TEXT NOT NULL,
    msisdn      TEXT NOT NULL,
    text        TEXT NOT NULL,
    parts       INTEGER,
    sender      TEXT,
    variant     TEXT,
    contact     TEXT,
    not_before  TEXT,
    batch       INTEGER,
    status      TEXT NOT NULL,
    sms_id      TEXT,
    error_code  TEXT,
    error_text  TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    PRIMARY KEY (account, campaign, msisdn)
);
CREATE INDEX messages_batch ON messages(batch);
CREATE INDEX messages_sms_id ON messages(sms_id);
CREATE TABLE statuses (
    account     TEXT NOT NULL,
    sms_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    changed_at  TEXT,
    num_parts   INTEGER,
    price       REAL,
    fetched_at  TEXT NOT NULL,
    PRIMARY KEY (account, sms_id)
);
CREATE TABLE balance_snapshots (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    account   TEXT NOT NULL,
    taken_at  TEXT NOT NULL,
    amount    REAL NOT NULL,
    currency  TEXT
);
CREATE INDEX balance_snapshots_account ON balance_snapshots(account, taken_at);
CREATE TABLE packages (
    snapshot   INTEGER NOT NULL REFERENCES balance_snapshots(id),
    direction  TEXT NOT NULL,
    remaining  INTEGER NOT NULL
);
CREATE INDEX packages_snapshot ON packages(snapshot);
"""

_V1_TABLES = ("campaigns", "batches", "messages", "statuses", "balance_snapshots", "packages")


def _script(c: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            c.execute(statement)


def _v2(c: sqlite3.Connection) -> None:
    """0.1 → 2: accounts everywhere. Records get the user they recorded and the default endpoint;
    statuses the account of the message that holds their id; balance snapshots (which recorded no
    user) the journal's only account, or ``""`` (unattributed) when it had several. Fingerprints
    are recomputed in the new form so that a refusal recorded by 0.1 is still waited out."""
    for index in (
        "batches_campaign_state",
        "batches_fingerprint",
        "messages_batch",
        "messages_sms_id",
        "packages_snapshot",
    ):
        c.execute(f"DROP INDEX IF EXISTS {index}")
    for table in _V1_TABLES:
        c.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
    _script(c, _V2_TABLES)
    at_default = account_of("", DEFAULT_ENDPOINT)  # "@sms.targetsms.ru"
    c.execute(
        "INSERT INTO campaigns (account, name, login, endpoint, sender, template, created_at,"
        " updated_at) SELECT COALESCE(user, '') || ?, name, user, ?, sender, template,"
        " created_at, updated_at FROM campaigns_v1 ORDER BY rowid",
        (at_default, DEFAULT_ENDPOINT),
    )
    accounts = [r[0] for r in c.execute("SELECT DISTINCT account FROM campaigns")]
    only = accounts[0] if len(accounts) == 1 else ""
    c.execute(
        "INSERT INTO batches (id, account, campaign, parent, state, recipients, size, text_hash,"
        " fingerprint, sender, owner_pid, owner_host, owner_token, started_at, finished_at,"
        " answer_code, answer_text) SELECT b.id, COALESCE(c.account, ?), b.campaign, b.parent,"
        " b.state, b.recipients, b.size, b.text_hash, b.fingerprint, b.sender, b.owner_pid,"
        " b.owner_host, b.owner_token, b.started_at, b.finished_at, b.answer_code, b.answer_text"
        " FROM batches_v1 b LEFT JOIN campaigns c ON c.name = b.campaign ORDER BY b.id",
        (only,),
    )
    c.execute(
        "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, batch, status,"
        " sms_id, error_code, error_text, created_at, sent_at) SELECT COALESCE(c.account, ?),"
        " m.campaign, m.msisdn, m.text, m.parts, m.sender, m.batch, m.status, m.sms_id,"
        " m.error_code, m.error_text, m.created_at, m.sent_at FROM messages_v1 m"
        " LEFT JOIN campaigns c ON c.name = m.campaign ORDER BY m.rowid",
        (only,),
    )
    c.execute(
        "INSERT INTO statuses (account, sms_id, state, changed_at, num_parts, price, fetched_at)"
        " SELECT COALESCE((SELECT m.account FROM messages m WHERE m.sms_id = s.sms_id LIMIT 1),"
        " ?), s.sms_id, s.state, s.changed_at, s.num_parts, s.price, s.fetched_at"
        " FROM statuses_v1 s ORDER BY s.rowid",
        (only,),
    )
    c.execute(
        "INSERT INTO balance_snapshots (id, account, taken_at, amount, currency)"
        " SELECT id, ?, taken_at, amount, currency FROM balance_snapshots_v1 ORDER BY id",
        (only,),
    )
    c.execute(
        "INSERT INTO packages (snapshot, direction, remaining)"
        " SELECT snapshot, direction, remaining FROM packages_v1 ORDER BY rowid"
    )
    rows = c.execute(
        "SELECT b.id, b.account, b.campaign, b.recipients, b.sender, c.login FROM batches b"
        " LEFT JOIN campaigns c ON c.account = b.account AND c.name = b.campaign"
    ).fetchall()
    for batch_id, account, campaign, recipients, sender, login in rows:
        phones = json.loads(recipients)
        if not phones:
            continue
        text = c.execute(
            "SELECT text FROM messages WHERE account = ? AND campaign = ? AND msisdn = ?",
            (account, campaign, phones[0]),
        ).fetchone()
        if text is not None:
            fingerprint = request_fingerprint(
                DEFAULT_ENDPOINT, login or "", sender or "", phones, text[0]
            )
            c.execute("UPDATE batches SET fingerprint = ? WHERE id = ?", (fingerprint, batch_id))
    for table in ("packages", "messages", "batches", "campaigns", "statuses", "balance_snapshots"):
        c.execute(f"DROP TABLE {table}_v1")


Migration = str | Callable[[sqlite3.Connection], None]

# When the service last answered this very request (fingerprint) with a refusal: a stop or a split.
_REFUSAL_SQL = (
    "SELECT MAX(finished_at) FROM batches WHERE fingerprint = ?"
    " AND state IN ('failed', 'split') AND answer_code IS NOT NULL"
    " AND answer_code NOT IN ('transport', 'invalid_input')"
)

#: Ordered migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``. Append, never
#: edit: a file records the versions applied to it in ``schema_version``.
MIGRATIONS: list[Migration] = [_V1, _v2]
#: The schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------- helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | pd.Timestamp | str | None) -> str | None:
    """ISO 8601 UTC text; naive datetimes are taken as UTC."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat()


def _times(values: Iterable[str | None]) -> pd.Series:
    series = pd.to_datetime(pd.Series(list(values), dtype="object"), utc=True, format="ISO8601")
    return series.astype("datetime64[ns, UTC]")


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=False)


def request_fingerprint(url: str, user: str, sender: str, phones: Sequence[str], text: str) -> str:
    """SHA-256 of a send request's fields - endpoint, user, sender, phones, text - never the password.

    Two requests with the same fingerprint are the same request to the service (its
    identical-request window). The fields are hashed directly, not the wire form: the journal
    builds no requests.

    Example::

        >>> len(request_fingerprint("http://h/sendsms.php", "demo", "SHOP", ["79001234567"], "Hi"))
        64
    """
    fields = ["targetsms-send/2", url.split("?", 1)[0], user, sender, list(phones), text]
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        import psutil  # optional: exact on every platform
    except ImportError:  # pragma: no cover - psutil is present in the dev environment
        if sys.platform == "win32":
            return True  # unknowable without psutil: the stale timeout decides
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return psutil.pid_exists(pid)


@dataclass(frozen=True)
class BatchTicket:
    """A batch recorded as in flight: its ``id`` and the ``phones`` this run claimed, in order.

    ``refused_at``: when the service last refused this very request (same fingerprint), if it did;
    the service refuses an identical request within its interval, so the sender waits it out.

    Example: ``ticket = journal.begin_batch(...); client.send(sender, ticket.phones, text)``.
    """

    id: int
    phones: list[str]
    fingerprint: str
    refused_at: datetime | None = None


# ---------------------------------------------------------------- the journal


class Journal:
    """The SQLite journal of campaigns, batches, messages, statuses and balance snapshots.

    ``path``: a file path, ``":memory:"`` (tests), or None for :func:`default_store_path`. One
    connection behind a lock serves every thread of the process; a file is opened in WAL mode with a
    busy timeout, so another process may read (or send) at the same time. Intents
    (:meth:`begin_batch`) commit with ``synchronous=FULL``: on disk before the request leaves, even
    across a power loss; everything else with ``NORMAL``, safe across a crash of the process.
    ``stale_after`` seconds after its start an in-flight batch counts as lost even if its owner
    seems alive. ``readonly=True`` opens the file for reading only (nothing is written, not even
    WAL files where the medium is read-only); it must be a journal of the current schema, and a
    file that does not exist reads as an empty journal (it is not created).

    A URL (``mysql://…``) is refused with an ``InputError``; a file that holds other tables and no
    journal, or one written by a newer release, with a ``JournalError``, and is left untouched.

    Example::

        >>> with Journal(":memory:") as j:
        ...     j.schema_version
        2
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        stale_after: float = DEFAULT_STALE_AFTER,
        readonly: bool = False,
    ) -> None:
        if path is None:
            path = default_store_path()
        check_store(path)
        self.path = str(path)
        self.stale_after = stale_after
        memory = self.path == ":memory:"
        self.readonly = readonly and not memory
        self._lock = threading.RLock()
        self._sync = ""
        missing = self.readonly and not Path(self.path).expanduser().is_file()
        if missing:  # nothing journaled there yet: an empty view, and the file is not created
            self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif self.readonly:
            self._conn = self._connect_readonly(timeout)
        else:
            if not memory and not self.path.startswith("file:"):
                Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: every write goes through _tx (BEGIN IMMEDIATE ... COMMIT).
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._check_is_journal()
            if missing:
                self.readonly = False
                self._migrate()
                self.readonly = True
                return
            if self.readonly:
                self._check_version(readonly=True)
                return
            if not memory:
                self._use_wal(timeout)
            # WAL with synchronous=NORMAL survives a crash of the process (kill -9) without an
            # fsync per commit; intents are committed with FULL (see _tx) so that they survive a
            # power loss too: an answer lost that way leaves its batch in flight, hence unknown.
            self._set_sync("NORMAL")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _connect_readonly(self, timeout: float) -> sqlite3.Connection:
        """Open the file with ``mode=ro``; on read-only media, where SQLite cannot create the WAL
        index beside a WAL file, as ``immutable`` (nobody can change such a file meanwhile)."""
        file = Path(self.path).expanduser()
        uri = "file:" + quote(str(file.resolve())) + "?mode=ro"
        for suffix in ("", "&immutable=1"):
            conn = sqlite3.connect(
                uri + suffix,
                uri=True,
                timeout=timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
                if suffix:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_is_journal(self) -> None:
        try:
            tables = {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"{self.path} is not a journal ({exc}); choose another file"
            ) from None
        tables.discard("sqlite_sequence")
        if tables and "schema_version" not in tables:
            names = ", ".join(sorted(tables)[:5])
            raise JournalError(
                f"{self.path} is not a targetsms journal (it holds other tables: {names}); "
                "it was left untouched: choose another file"
            )

    def _check_version(self, *, readonly: bool) -> None:
        current = self.schema_version if self._has_schema() else 0
        if current > len(MIGRATIONS):
            raise JournalError(
                f"{self.path} has schema version {current}; this toolkit knows up to "
                f"{len(MIGRATIONS)}: upgrade targetsms-analytics (the journal was left untouched)"
            )
        if readonly and current < len(MIGRATIONS):
            raise JournalError(
                f"{self.path} has schema version {current}, older than this toolkit's "
                f"{len(MIGRATIONS)}: open it once for writing (e.g. send or refresh) to upgrade it",
                code="journal_outdated",
            )

    def _has_schema(self) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            )
        )

    def _use_wal(self, timeout: float) -> None:
        """Switch the file to WAL, waiting (up to ``timeout``) for a lock SQLite does not wait for.

        Taking a new file to WAL needs a lock for which SQLite answers "database is locked" at once,
        without its busy handler: two processes creating the journal together would crash one.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a read-only medium
            raise JournalError(f"cannot switch {self.path} to WAL (got {mode})")

    # ------------------------------------------------------------ plumbing

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a ``":memory:"`` journal is gone afterwards).

        Example: ``journal.close()``.
        """
        with self._lock:
            self._conn.close()

    def _tx(self, *, durable: bool = False) -> _Transaction:
        return _Transaction(self, durable)

    def _set_sync(self, mode: str) -> None:
        if self._sync != mode:  # caller holds the lock, outside any transaction
            self._conn.execute(f"PRAGMA synchronous = {mode}")
            self._sync = mode

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for this connection (``wal`` for a file).

        Example: ``Journal("x.sqlite3").journal_mode == "wal"``.
        """
        return str(self._query("PRAGMA journal_mode")[0][0]).lower()

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this file.

        Example: ``Journal(":memory:").schema_version == SCHEMA_VERSION``.
        """
        return int(self._query("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])

    def _migrate(self) -> None:
        # A file already at this version needs no write lock: a reporting process only reads.
        if self._has_schema() and self.schema_version == len(MIGRATIONS):
            return
        self._check_version(readonly=False)
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            current = int(current[0])
            if current > len(MIGRATIONS):  # another process upgraded it meanwhile
                raise JournalError(
                    f"{self.path} has schema version {current}; this toolkit knows up to "
                    f"{len(MIGRATIONS)}: upgrade targetsms-analytics"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                step = MIGRATIONS[version - 1]
                if callable(step):
                    step(c)
                else:
                    _script(c, step)
                c.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, _iso(_now())),
                )

    # ------------------------------------------------------------ accounts

    def campaign_accounts(self, name: str) -> list[str]:
        """The accounts that have a campaign of this name, oldest first.

        Example: ``journal.campaign_accounts("spring")  # ['acme@sms.targetsms.ru']``.
        """
        rows = self._query(
            "SELECT account FROM campaigns WHERE name = ? ORDER BY created_at, account", (name,)
        )
        return [r[0] for r in rows]

    def resolve_account(self, name: str, account: str | None = None) -> str | None:
        """The account of campaign ``name``: ``account`` if it has one of that name, None if none.

        Without ``account``, a name that several accounts use raises ``InputError``
        (``ambiguous_campaign``) listing them: nothing ever crosses accounts silently.

        Example: ``journal.resolve_account("spring")  # 'acme@sms.targetsms.ru'``.
        """
        accounts = self.campaign_accounts(name)
        if account is not None:
            return account if account in accounts else None
        if len(accounts) > 1:
            raise InputError(
                "ambiguous_campaign",
                f"campaign {name!r} exists in several accounts: {', '.join(accounts)}; "
                "say which with account= (--account on the command line)",
                field="account",
            )
        return accounts[0] if accounts else None

    # ------------------------------------------------------------ campaigns and runs

    def begin_run(self, campaign: str | None = None, *, account: str | None = None) -> str:
        """Register a sending run of this process; its in-flight batches are not orphans.

        The registration lives in the journal, not in the process: any ``Journal`` of this file
        sees the run alive until :meth:`end_run`.

        Example: ``token = journal.begin_run("spring", account=a); ...; journal.end_run(token)``.
        """
        token = uuid.uuid4().hex
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs (token, account, campaign, pid, host, os_user, started_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token, account, campaign, os.getpid(), socket.gethostname(), _os_user(),
                    _iso(_now()),
                ),
            )  # fmt: skip
        return token

    def end_run(self, token: str) -> None:
        """Mark a run started with :meth:`begin_run` as over.

        Example: ``journal.end_run(token)``.
        """
        with self._tx() as c:
            c.execute("UPDATE runs SET ended_at = ? WHERE token = ?", (_iso(_now()), token))

    def ensure_campaign(
        self,
        name: str,
        *,
        account: str | None = None,
        user: str | None = None,
        url: str | None = None,
        sender: str | None = None,
        template: str = "",
    ) -> str:
        """Create the campaign row if it does not exist (an existing one keeps its values).

        ``account`` defaults to :func:`account_of` ``(user, url)`` (``url``: the default endpoint).
        Returns the account.

        Example: ``journal.ensure_campaign("spring", user="demo", url=client.url, sender="SHOP")``.
        """
        if account is None:
            if user is None:
                raise InputError(text="a campaign needs its account (or user and url)")
            account = account_of(user, url or DEFAULT_ENDPOINT)
        now = _iso(_now())
        with self._tx() as c:
            self._insert_campaign(c, account, name, user, url, sender, template, now)
        return account

    @staticmethod
    def _insert_campaign(
        c: sqlite3.Connection,
        account: str,
        name: str,
        user: str | None,
        url: str | None,
        sender: str | None,
        template: str | None,
        now: str | None,
    ) -> None:
        c.execute(
            "INSERT OR IGNORE INTO campaigns (account, name, login, endpoint, sender, template,"
            " os_user, os_host, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account, name, user, None if url is None else url.split("?", 1)[0], sender,
                template, _os_user(), socket.gethostname(), now, now,
            ),
        )  # fmt: skip

    def campaign_info(self, name: str, *, account: str | None = None) -> dict[str, Any] | None:
        """The campaign row as a dict (name, account, user, sender, template, created_at…), or None.

        A name that several accounts use needs ``account`` (else ``InputError``).

        Example: ``journal.campaign_info("spring")["sender"]``.
        """
        account = self.resolve_account(name, account)
        if account is None:
            return None
        rows = self._query(
            "SELECT * FROM campaigns WHERE account = ? AND name = ?", (account, name)
        )
        info = dict(rows[0])
        info["user"] = info.pop("login", None)
        return info

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign of every account: who and when, and messages per status.

        Columns: ``campaign, account, user, sender, os_user, os_host, created_at, updated_at,
        messages, sent, queued, rejected, duplicate, unknown, scheduled, holdout, inflight,
        pending, parts, batches`` (``os_user``/``os_host``: who created it, on which machine).

        Example: ``journal.campaigns().set_index(["account", "campaign"])["sent"]``.
        """
        rows = self._query(
            """
            SELECT c.name AS campaign, c.account, c.login AS "user", c.sender, c.os_user,
                   c.os_host, c.created_at, c.updated_at,
                   COUNT(m.msisdn) AS messages,
                   SUM(m.status = 'sent') AS sent, SUM(m.status = 'queued') AS queued,
                   SUM(m.status = 'rejected') AS rejected,
                   SUM(m.status = 'duplicate') AS duplicate,
                   SUM(m.status = 'unknown') AS unknown,
                   SUM(m.status = 'scheduled') AS scheduled,
                   SUM(m.status = 'holdout') AS holdout,
                   SUM(m.status = 'inflight') AS inflight,
                   SUM(m.status = 'pending') AS pending,
                   SUM(CASE WHEN m.status = 'sent' THEN m.parts ELSE 0 END) AS parts,
                   (SELECT COUNT(*) FROM batches b
                    WHERE b.account = c.account AND b.campaign = c.name) AS batches
            FROM campaigns c
            LEFT JOIN messages m ON m.account = c.account AND m.campaign = c.name
            GROUP BY c.account, c.name ORDER BY c.created_at, c.name, c.account
            """
        )
        cols = [
            "campaign", "account", "user", "sender", "os_user", "os_host", "created_at",
            "updated_at", "messages", "sent", "queued", "rejected", "duplicate", "unknown",
            "scheduled", "holdout", "inflight", "pending", "parts", "batches",
        ]  # fmt: skip
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        for col in cols[8:]:
            frame[col] = frame[col].fillna(0).astype("int64")
        for col in ("created_at", "updated_at"):
            frame[col] = _times(frame[col])
        return frame

    # ------------------------------------------------------------ messages

    _MESSAGE_SQL = """
        SELECT m.sms_id, m.msisdn, m.campaign, m.account, m.sender, m.text, m.parts, m.sent_at,
               m.status AS outcome, m.error_code, m.error_text, m.batch, m.created_at,
               m.variant, m.not_before, m.contact
        FROM messages m
    """
    _MESSAGE_COLS = (
        "sms_id", "msisdn", "campaign", "account", "sender", "text", "parts", "sent_at", "outcome",
        "error_code", "error_text", "batch", "created_at", "variant", "not_before", "contact",
    )  # fmt: skip

    def _message_frame(self, rows: list[sqlite3.Row]) -> pd.DataFrame:
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(self._MESSAGE_COLS))
        frame["parts"] = frame["parts"].astype("Int64")
        frame["batch"] = frame["batch"].astype("Int64")
        frame["sent_at"] = _times(frame["sent_at"])
        frame["created_at"] = _times(frame["created_at"])
        frame["not_before"] = _times(frame["not_before"])
        return expand_contacts(frame)

    def campaign_messages(self, campaign: str, *, account: str | None = None) -> pd.DataFrame:
        """Every message row of a campaign, in the order they were first recorded.

        Columns: ``sms_id, msisdn, campaign, account, sender, text, parts, sent_at, outcome,
        error_code, error_text, batch, created_at, variant, not_before``, then one column per key
        of the rows' contact data (the input row's other columns; a key that clashes with a column
        above is left out). ``outcome`` is the journal status (``sent``, ``queued``, ``rejected``,
        ``duplicate``, ``unknown``, ``scheduled``, ``holdout``, or ``inflight``/``pending``).
        A name that several accounts use needs ``account`` (else ``InputError``).

        Example: ``journal.campaign_messages("spring").query("outcome == 'unknown'")``.
        """
        account = self.resolve_account(campaign, account)
        rows = self._query(
            self._MESSAGE_SQL + " WHERE m.account = ? AND m.campaign = ? ORDER BY m.rowid",
            (account, campaign),
        )
        return self._message_frame(rows)

    def message_info(self, sms_ids: Iterable[str], *, account: str | None = None) -> pd.DataFrame:
        """What the journal knows of these SMS ids: one row per distinct known id, in asked order.

        Same columns as :meth:`campaign_messages`; ids the journal does not know (in ``account``,
        when given) are left out.

        Example: ``journal.message_info(["1178440060"], account="demo@127.0.0.1:8421")["msisdn"]``.
        """
        ids = list(dict.fromkeys(str(i) for i in sms_ids))
        sql = self._MESSAGE_SQL.replace(
            "FROM messages m", "FROM json_each(?) j CROSS JOIN messages m ON m.sms_id = j.value"
        )
        params: list[Any] = [json.dumps(ids)]
        if account is not None:
            sql += " WHERE m.account = ?"
            params.append(account)
        rows = self._query(sql + " ORDER BY j.key, m.rowid", params)
        frame = self._message_frame(rows)
        return frame.drop_duplicates("sms_id").reset_index(drop=True)

    def records(
        self,
        campaign: str,
        msisdns: Iterable[str] | None = None,
        *,
        account: str | None = None,
    ) -> dict[str, dict]:
        """The message rows of a campaign keyed by msisdn (all of them, or only ``msisdns``).

        Each value has ``status, sms_id, text, parts, batch, error_code, error_text, sender,
        variant, not_before`` (tz-aware or None) and ``contact`` (a dict or None).

        Example: ``journal.records("spring", account=a)["79001234567"]["status"]``.
        """
        account = self.resolve_account(campaign, account)
        if account is None:
            return {}
        sql = (
            "SELECT m.msisdn, m.status, m.sms_id, m.text, m.parts, m.batch, m.error_code,"
            " m.error_text, m.sender, m.variant, m.not_before, m.contact FROM "
        )
        if msisdns is None:
            rows = self._query(
                sql + "messages m WHERE m.account = ? AND m.campaign = ?", (account, campaign)
            )
        else:
            # CROSS JOIN keeps json_each outside: one primary-key look-up per msisdn asked.
            rows = self._query(
                sql + "json_each(?) j CROSS JOIN messages m"
                " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value",
                (json.dumps(list(msisdns)), account, campaign),
            )
        out: dict[str, dict] = {}
        for r in rows:
            rec = dict(r)
            rec["contact"] = None if rec["contact"] is None else json.loads(rec["contact"])
            nb = rec["not_before"]
            rec["not_before"] = None if nb is None else datetime.fromisoformat(nb)
            out[rec.pop("msisdn")] = rec
        return out

    def set_outcome(
        self,
        campaign: str,
        msisdns: Iterable[str],
        outcome: str,
        *,
        account: str | None = None,
        only_from: Sequence[str] = ("unknown",),
        note: str | None = None,
    ) -> list[str]:
        """Set the status of the given messages that are now in one of ``only_from``.

        ``outcome`` is one of :data:`OUTCOMES` or ``pending`` (sendable again). Returns the
        msisdns changed. Used by the user-facing ``mark_outcome`` / ``resend_unknown``.

        Example: ``journal.set_outcome("spring", ["79001234567"], "sent", note="arrived")``.
        """
        if outcome not in (*OUTCOMES, "pending"):
            raise ValueError(f"outcome must be one of {(*OUTCOMES, 'pending')}, not {outcome!r}")
        account = self.resolve_account(campaign, account)
        if account is None:
            return []
        wanted = list(dict.fromkeys(msisdns))
        marks = ",".join("?" for _ in only_from)
        changed: list[str] = []
        with self._tx() as c:
            rows = c.execute(
                "SELECT m.msisdn FROM json_each(?) j CROSS JOIN messages m"
                " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value"
                f" WHERE m.status IN ({marks}) ORDER BY j.key",
                (json.dumps(wanted), account, campaign, *only_from),
            ).fetchall()
            changed = [r[0] for r in rows]
            where = (
                " WHERE account = ? AND campaign = ? AND msisdn IN (SELECT value FROM json_each(?))"
            )
            if outcome == "pending":
                c.execute(
                    "UPDATE messages SET status = 'pending', batch = NULL, sms_id = NULL,"
                    " error_code = NULL, error_text = NULL, sent_at = NULL" + where,
                    (account, campaign, json.dumps(changed)),
                )
            else:
                c.execute(
                    "UPDATE messages SET status = ?, error_code = ?, error_text = ?" + where,
                    (outcome, "marked_by_user", note, account, campaign, json.dumps(changed)),
                )
            self._touch(c, account, campaign)
        return changed

    def hold(self, campaign: str, rows: Iterable[dict[str, Any]], *, account: str) -> int:
        """Record recipients that are not sent now: ``scheduled`` (later) or ``holdout`` (never).

        ``rows``: dicts with ``msisdn, text, parts, sender, variant, status`` (``'scheduled'`` or
        ``'holdout'``), ``not_before`` (a datetime or None) and ``contact`` (a dict or None).
        A row with no record, or one ``pending`` or ``scheduled``, is written (inserted or
        updated); a row with an outcome or in flight is never touched. Returns how many were
        written.

        Example::

            journal.hold("spring", [{"msisdn": "79001234567", "text": "Hi", "parts": 1,
                                     "sender": "SHOP", "variant": None, "status": "holdout",
                                     "not_before": None, "contact": {"city": "Omsk"}}],
                         account="demo@127.0.0.1:8421")
        """
        now = _iso(_now())
        values = []
        for row in rows:
            status = row.get("status")
            if status not in ("scheduled", "holdout"):
                raise ValueError(f"hold: status must be 'scheduled' or 'holdout', not {status!r}")
            values.append(
                (
                    account, campaign, str(row["msisdn"]), row.get("text") or "",
                    row.get("parts"), row.get("sender"), row.get("variant"),
                    _json_or_none(row.get("contact")), _iso(row.get("not_before")), status, now,
                )
            )  # fmt: skip
        if not values:
            return 0
        with self._tx() as c:
            self._insert_campaign(c, account, campaign, None, None, values[0][5], None, now)
            before = c.total_changes
            c.executemany(
                "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant,"
                " contact, not_before, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (account, campaign, msisdn) DO UPDATE SET text = excluded.text,"
                " parts = excluded.parts, sender = excluded.sender, variant = excluded.variant,"
                " contact = excluded.contact, not_before = excluded.not_before,"
                " status = excluded.status, batch = NULL"
                " WHERE messages.status IN ('pending', 'scheduled')",
                values,
            )
            written = c.total_changes - before
            self._touch(c, account, campaign)
        return written

    # ------------------------------------------------------------ batches

    def begin_batch(
        self,
        campaign: str,
        phones: Sequence[str],
        text: str,
        parts: int | None,
        *,
        sender: str,
        user: str,
        url: str,
        parent: int | None = None,
        token: str | None = None,
        variant: str | None = None,
        contacts: dict[str, dict[str, Any]] | None = None,
        account: str | None = None,
    ) -> BatchTicket:
        """Claim ``phones`` for a request and commit the batch as in flight, before the request.

        Within one ``BEGIN IMMEDIATE`` transaction: the phones with no message row, or a
        ``pending`` or ``scheduled`` one, are claimed (status ``inflight``); phones that another
        run holds, ``holdout`` ones and those with an outcome are left out. The batch row keeps the
        claimed recipients, the text's hash, a fingerprint of the request without the password,
        the ``variant``, and this process's pid, host and run ``token``; each message keeps its
        ``variant`` and ``contacts[msisdn]`` (the input row's other columns, as JSON).
        ``account`` defaults to :func:`account_of` ``(user, url)``. Returns the ticket;
        ``ticket.phones`` may be empty (nothing to send).

        Example: ``journal.begin_batch("c", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
        url=client.url)``.
        """
        account = account or account_of(user, url)
        now = _iso(_now())
        contacts = contacts or {}
        with self._tx(durable=True) as c:
            have = {
                r[0]: r[1]
                for r in c.execute(
                    "SELECT m.msisdn, m.status FROM json_each(?) j CROSS JOIN messages m"
                    " ON m.account = ? AND m.campaign = ? AND m.msisdn = j.value",
                    (json.dumps(list(phones)), account, campaign),
                )
            }
            claimed = [p for p in dict.fromkeys(phones) if have.get(p, "pending") in _CLAIMABLE]
            fingerprint = request_fingerprint(url, user, sender, claimed, text)
            if not claimed:
                return BatchTicket(0, [], fingerprint)
            refused = c.execute(_REFUSAL_SQL, (fingerprint,)).fetchone()[0]
            self._insert_campaign(c, account, campaign, user, url, sender, None, now)
            cur = c.execute(
                "INSERT INTO batches (account, campaign, parent, state, recipients, size,"
                " text_hash, fingerprint, sender, variant, owner_pid, owner_host, owner_token,"
                " started_at) VALUES (?, ?, ?, 'inflight', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    account, campaign, parent, json.dumps(claimed), len(claimed),
                    _text_hash(text), fingerprint, sender, variant, os.getpid(),
                    socket.gethostname(), token, now,
                ),
            )  # fmt: skip
            batch_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant,"
                " contact, batch, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'inflight', ?)"
                " ON CONFLICT (account, campaign, msisdn) DO UPDATE SET text = excluded.text,"
                " parts = excluded.parts, sender = excluded.sender, variant = excluded.variant,"
                " contact = COALESCE(excluded.contact, messages.contact), batch = excluded.batch,"
                " status = 'inflight', sms_id = NULL, error_code = NULL, error_text = NULL,"
                " sent_at = NULL",
                [
                    (
                        account, campaign, p, text, parts, sender, variant,
                        _json_or_none(contacts.get(p)), batch_id, now,
                    )
                    for p in claimed
                ],
            )  # fmt: skip
            self._touch(c, account, campaign)
        refused_at = None if refused is None else datetime.fromisoformat(refused)
        return BatchTicket(batch_id, claimed, fingerprint, refused_at)

    def last_refusal(self, fingerprint: str) -> datetime | None:
        """When the service last refused this very request (see :func:`request_fingerprint`).

        A refusal - the campaign stopped, or the batch was split - still opened the service's
        identical-request window, so the same request sent again must wait it out. None when the
        request was never refused.

        Example: ``journal.last_refusal(request_fingerprint(url, user, sender, phones, text))``.
        """
        value = self._query(_REFUSAL_SQL, (fingerprint,))[0][0]
        return None if value is None else datetime.fromisoformat(value)

    def finish_batch(
        self,
        batch_id: int,
        outcome: str,
        *,
        sms_ids: Sequence[str] | None = None,
        error_code: str | None = None,
        error_text: str | None = None,
    ) -> None:
        """Commit a batch's answer, right after its request.

        ``outcome``: ``sent`` (``sms_ids`` in the batch's phone order), ``queued``, ``rejected``,
        ``duplicate`` or ``unknown`` for every message of the batch; ``split`` when the service
        refused the batch for a recipient and it will be sent again in halves, or ``pending`` when
        the request certainly did not go out or the campaign stops (both: its messages become
        sendable again, before any half is journaled; the batch keeps the answer as ``split`` or
        ``failed``). Messages of the batch that another run has since re-claimed are left alone.

        Example: ``journal.finish_batch(ticket.id, "rejected", error_code="phone_stop_listed")``.
        """
        now = _iso(_now())
        with self._tx() as c:
            row = c.execute(
                "SELECT account, campaign, recipients FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no batch {batch_id}")
            account, campaign, phones = row[0], row[1], json.loads(row[2])
            if outcome == "sent":
                if sms_ids is None or len(sms_ids) != len(phones):
                    raise ValueError(f"batch {batch_id}: {len(phones)} phones, ids {sms_ids!r}")
                c.executemany(
                    "UPDATE messages SET status = 'sent', sms_id = ?, error_code = NULL,"
                    " error_text = NULL, sent_at = ? WHERE batch = ? AND msisdn = ?",
                    [(str(i), now, batch_id, p) for p, i in zip(phones, sms_ids, strict=True)],
                )
                state = "done"
            elif outcome in ("pending", "split"):
                c.execute(
                    "UPDATE messages SET status = 'pending', batch = NULL WHERE batch = ?"
                    " AND status = 'inflight'",
                    (batch_id,),
                )
                state = "split" if outcome == "split" else "failed"
            elif outcome in _SEND_OUTCOMES:
                c.execute(
                    "UPDATE messages SET status = ?, error_code = ?, error_text = ?,"
                    " sent_at = CASE WHEN ? = 'queued' THEN ? ELSE sent_at END WHERE batch = ?",
                    (outcome, error_code, error_text, outcome, now, batch_id),
                )
                state = "unknown" if outcome == "unknown" else "done"
            else:
                raise ValueError(f"unknown outcome {outcome!r}")
            c.execute(
                "UPDATE batches SET state = ?, finished_at = ?, answer_code = ?, answer_text = ?"
                " WHERE id = ?",
                (state, now, error_code, error_text, batch_id),
            )
            self._touch(c, account, campaign)

    def batches(self, campaign: str | None = None, *, account: str | None = None) -> pd.DataFrame:
        """The batch rows (one per request or intended request), oldest first.

        Columns: ``id, account, campaign, parent, state, size, recipients (list), text_hash,
        fingerprint, sender, variant, owner_pid, owner_host, started_at, finished_at,
        answer_code, answer_text``.

        Example: ``journal.batches("spring")["state"].value_counts()``.
        """
        cols = [
            "id", "account", "campaign", "parent", "state", "size", "recipients", "text_hash",
            "fingerprint", "sender", "variant", "owner_pid", "owner_host", "started_at",
            "finished_at", "answer_code", "answer_text",
        ]  # fmt: skip
        sql = f"SELECT {', '.join(cols)} FROM batches"
        if campaign is None:
            rows = self._query(sql + " ORDER BY id")
        else:
            account = self.resolve_account(campaign, account)
            rows = self._query(
                sql + " WHERE account = ? AND campaign = ? ORDER BY id", (account, campaign)
            )
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["parent"] = frame["parent"].astype("Int64")
        frame["recipients"] = frame["recipients"].map(json.loads)
        frame["started_at"] = _times(frame["started_at"])
        frame["finished_at"] = _times(frame["finished_at"])
        return frame

    def recover_inflight(
        self,
        campaign: str | None = None,
        *,
        account: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Turn in-flight batches whose owner is gone into ``unknown``; return how many.

        A batch is orphaned when its owner process on this host no longer exists, when it belongs
        to this process but to no live run (an interrupted call: its run ended, see
        :meth:`begin_run`), or when it started more than ``stale_after`` seconds ago (owners on
        other hosts cannot be checked). Its request may have reached the service, so its messages
        become ``unknown`` (``error_code='interrupted'``), never resent automatically.

        Example: ``journal.recover_inflight("spring", account=a)``.
        """
        now_dt = now or _now()
        host, me = socket.gethostname(), os.getpid()
        sql = (
            "SELECT b.id, b.owner_pid, b.owner_host, b.owner_token, b.started_at,"
            " r.token IS NOT NULL AND r.ended_at IS NULL AS live"
            " FROM batches b LEFT JOIN runs r ON r.token = b.owner_token"
            " WHERE b.state = 'inflight'"
        )
        params: list[Any] = []
        if campaign is not None:
            sql += " AND b.campaign = ?"
            params.append(campaign)
            if account is not None:
                sql += " AND b.account = ?"
                params.append(account)
        rows = self._query(sql, params)
        orphans = []
        for r in rows:
            age = (now_dt - pd.Timestamp(r["started_at"]).to_pydatetime()).total_seconds()
            if age > self.stale_after:
                orphans.append(r["id"])
            elif r["owner_host"] == host:
                if r["owner_pid"] == me:
                    if not r["live"]:
                        orphans.append(r["id"])
                elif not _pid_alive(int(r["owner_pid"])):
                    orphans.append(r["id"])
        text = "the sending process stopped before the answer was journaled"
        for batch_id in orphans:
            with self._tx() as c:
                # Re-check under the write lock: the owner may have finished meanwhile.
                still = c.execute(
                    "SELECT 1 FROM batches WHERE id = ? AND state = 'inflight'", (batch_id,)
                ).fetchone()
                if still is None:
                    continue
                c.execute(
                    "UPDATE messages SET status = 'unknown', error_code = 'interrupted',"
                    " error_text = ? WHERE batch = ? AND status = 'inflight'",
                    (text, batch_id),
                )
                c.execute(
                    "UPDATE batches SET state = 'unknown', finished_at = ?,"
                    " answer_code = 'interrupted', answer_text = ? WHERE id = ?",
                    (_iso(now_dt), text, batch_id),
                )
        return len(orphans)

    def _touch(self, c: sqlite3.Connection, account: str, campaign: str) -> None:
        c.execute(
            "UPDATE campaigns SET updated_at = ? WHERE account = ? AND name = ?",
            (_iso(_now()), account, campaign),
        )

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
        now = _iso(_now())
        rows = []
        for rec in items:
            get = rec.get if isinstance(rec, dict) else lambda k, d=None, r=rec: getattr(r, k, d)
            num_parts, price = get("num_parts"), get("price")
            rows.append(
                (
                    account,
                    str(get("sms_id")),
                    str(get("state")),
                    _iso(get("changed_at")),
                    None if num_parts is None or pd.isna(num_parts) else int(num_parts),
                    None if price is None or pd.isna(price) else float(price),
                    _iso(get("fetched_at")) or now,
                )
            )
        finals = tuple(sorted(FINAL_STATES))
        marks = ",".join("?" for _ in finals)
        with self._tx() as c:
            before = c.total_changes
            c.executemany(
                "INSERT INTO statuses (account, sms_id, state, changed_at, num_parts, price,"
                " fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, sms_id) DO UPDATE"
                " SET state = excluded.state, changed_at = excluded.changed_at,"
                " num_parts = excluded.num_parts, price = excluded.price,"
                f" fetched_at = excluded.fetched_at WHERE statuses.state NOT IN ({marks})",
                [(*r, *finals) for r in rows],
            )
            return c.total_changes - before

    def statuses(
        self, sms_ids: Iterable[str] | None = None, *, account: str | None = None
    ) -> pd.DataFrame:
        """Stored statuses: one row per distinct known id, in the order asked (or all).

        Columns: ``sms_id, state, is_final, changed_at, num_parts, price, fetched_at, account``.
        Without ``account``, an id stored for several accounts gives its first one.

        Example: ``journal.statuses(ids, account=a).query("not is_final")["sms_id"]``.
        """
        cols = "s.sms_id, s.state, s.changed_at, s.num_parts, s.price, s.fetched_at, s.account"
        where, params = ("", []) if account is None else (" WHERE s.account = ?", [account])
        if sms_ids is None:
            rows = self._query(f"SELECT {cols} FROM statuses s{where} ORDER BY s.rowid", params)
        else:
            ids = list(dict.fromkeys(str(i) for i in sms_ids))
            rows = self._query(
                f"SELECT {cols} FROM json_each(?) j CROSS JOIN statuses s ON s.sms_id = j.value"
                f"{where} ORDER BY j.key, s.rowid",
                [json.dumps(ids), *params],
            )
        names = ["sms_id", "state", "changed_at", "num_parts", "price", "fetched_at", "account"]
        frame = pd.DataFrame([tuple(r) for r in rows], columns=names)
        if sms_ids is not None:
            frame = frame.drop_duplicates("sms_id").reset_index(drop=True)
        frame.insert(2, "is_final", frame["state"].isin(FINAL_STATES).astype(bool))
        frame["changed_at"] = _times(frame["changed_at"])
        frame["fetched_at"] = _times(frame["fetched_at"])
        frame["num_parts"] = frame["num_parts"].astype("Int64")
        frame["price"] = frame["price"].astype("float64")
        return frame

    # ------------------------------------------------------------ balance

    def save_balance(
        self, balance: Any, taken_at: datetime | None = None, *, account: str | None = None
    ) -> int:
        """Store a balance snapshot of ``account`` (a ``Balance``: amount, currency, packages).

        Returns its id. Without ``account`` the snapshot is unattributed (``""``).

        Example: ``journal.save_balance(client.balance(), account=account_of(client.user,
        client.url))``.
        """
        when = _iso(taken_at or _now())
        packages = getattr(balance, "packages", None)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO balance_snapshots (account, taken_at, amount, currency)"
                " VALUES (?, ?, ?, ?)",
                (account or "", when, float(balance.amount), getattr(balance, "currency", None)),
            )
            snap = int(cur.lastrowid or 0)
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
        rows = self._query(
            "SELECT taken_at, amount, currency, account FROM balance_snapshots"
            f"{where} ORDER BY taken_at, id",
            params,
        )
        frame = pd.DataFrame(
            [tuple(r) for r in rows], columns=["taken_at", "amount", "currency", "account"]
        )
        frame["taken_at"] = _times(frame["taken_at"])
        frame["amount"] = frame["amount"].astype("float64")
        return frame

    def package_history(self, *, account: str | None = None) -> pd.DataFrame:
        """SMS left per direction in every snapshot (of ``account``, or all), oldest first:
        ``taken_at, direction, remaining, account``.

        Example: ``journal.package_history().pivot(index="taken_at", columns="direction")``.
        """
        where, params = ("", []) if account is None else (" WHERE s.account = ?", [account])
        rows = self._query(
            "SELECT s.taken_at, p.direction, p.remaining, s.account FROM packages p"
            f" JOIN balance_snapshots s ON s.id = p.snapshot{where}"
            " ORDER BY s.taken_at, s.id, p.rowid",
            params,
        )
        frame = pd.DataFrame(
            [tuple(r) for r in rows], columns=["taken_at", "direction", "remaining", "account"]
        )
        frame["taken_at"] = _times(frame["taken_at"])
        frame["remaining"] = frame["remaining"].astype("int64")
        return frame


def expand_contacts(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace a frame's ``contact`` column (JSON objects) by one column per key, in first-seen
    order; a key that clashes with an existing column is left out.

    Example: ``expand_contacts(frame)["city"]`` after rows were sent with ``contacts=``.
    """
    if "contact" not in frame.columns:
        return frame
    raw = frame["contact"]
    frame = frame.drop(columns="contact")
    if raw.isna().all():
        return frame
    dicts = [json.loads(v) if isinstance(v, str) else {} for v in raw]
    keys = [k for k in dict.fromkeys(k for d in dicts for k in d) if k not in frame.columns]
    for key in keys:
        frame[key] = pd.Series([d.get(key) for d in dicts], index=frame.index, dtype=object)
    return frame


class _Transaction:
    """``with journal._tx() as conn``: the lock, then BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""

    def __init__(self, journal: Journal, durable: bool) -> None:
        self.journal = journal
        self.durable = durable

    def __enter__(self) -> sqlite3.Connection:
        self.journal._lock.acquire()
        try:
            if self.journal.readonly:
                raise JournalError(f"{self.journal.path} was opened read-only")
            self.journal._set_sync("FULL" if self.durable else "NORMAL")
            self.journal._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.journal._lock.release()
            raise
        return self.journal._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self.journal._conn.execute("COMMIT")
            else:
                self.journal._conn.execute("ROLLBACK")
        finally:
            self.journal._lock.release()


def _refuse_in_memory(store: object) -> None:
    resolved = store if store is not None else default_store_path()
    if str(resolved) == ":memory:":
        raise InputError(
            "store_in_memory",
            "store ':memory:' forgets everything when the call returns, so a second call would "
            "send everyone again: give a journal file (or a Journal object you keep)",
            field="store",
        )


@contextmanager
def open_journal(
    store: str | os.PathLike[str] | Journal | None,
    *,
    readonly: bool = False,
    sending: bool = False,
) -> Iterator[Journal]:
    """Yield a ``Journal`` for ``store``: a path, ``":memory:"``, a ``Journal``, or None (default).

    A journal opened here is closed on exit; one passed in is left open for its owner.
    ``readonly``: open the file for reading only (reports). ``sending``: refuse ``":memory:"``
    (given or from ``$TARGETSMS_STORE``): a journal that forgets would let the next call send
    everyone again.

    Example::

        with open_journal(None) as journal:
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
