"""The journal: the only code that touches SQLite.

One file (WAL mode) holds what the toolkit knows about past work, so a crashed notebook, a second
process or a later report can read it back:

::

    schema_version      version, applied_at           one row per applied migration
    campaigns           name, user, sender, template, created_at, updated_at
    batches             id, campaign, parent (the batch it was split from), state (inflight, done,
                        split, failed, unknown), recipients (JSON), size, text_hash,
                        fingerprint, sender, owner_pid, owner_host, owner_token, started_at,
                        finished_at, answer_code, answer_text
    messages            campaign, msisdn (unique together), text, parts, sender, batch, status,
                        sms_id, error_code, error_text, created_at, sent_at
    statuses            sms_id, state, changed_at, num_parts, price, fetched_at
    balance_snapshots   id, taken_at, amount, currency
    packages            snapshot, direction, remaining

Sending follows "write intent, send, write result": :meth:`Journal.begin_batch` claims the
recipients (status ``inflight``) and records the batch - recipients, a hash of the text and a
fingerprint of the request *without the password*, the owner's pid/host - in one committed
transaction before the request; :meth:`Journal.finish_batch` commits the answer right after it.
A batch left ``inflight`` by a process that is gone becomes ``unknown`` in
:meth:`Journal.recover_inflight`; it is never resent automatically.

Message ``status`` values: ``inflight`` (claimed, request under way), ``pending`` (no outcome: may be
sent by the next run), and the outcomes ``sent``, ``queued``, ``rejected``, ``duplicate``,
``unknown``. A message row is created only when a send is attempted; invalid and duplicate input
rows are recomputed from the input on every run.

A batch the service refused for one recipient is ``split``: its messages return to ``pending``
before the halves are journaled as new batches (``parent`` = the split one). A batch that never
left, or that hit an error stopping the campaign, is ``failed`` and its messages ``pending``.

Datetimes are stored as ISO 8601 UTC text and returned tz-aware (UTC). The password and the request
URL are never stored: a fingerprint is the SHA-256 of the request without ``pwd``.

Example::

    >>> j = Journal(":memory:")
    >>> ticket = j.begin_batch("spring", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
    ...                        url="http://127.0.0.1/sendsms.php")
    >>> j.finish_batch(ticket.id, "sent", sms_ids=["1178440060"])
    >>> j.campaign_messages("spring")[["msisdn", "sms_id", "outcome"]].values.tolist()
    [['79001234567', '1178440060', 'sent']]
"""

from __future__ import annotations

import hashlib
import json
import os
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

import pandas as pd

from .errors import JournalError
from .protocol import FINAL_STATES, encode_query, send_params

__all__ = [
    "MIGRATIONS",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "BatchTicket",
    "Journal",
    "JournalError",
    "default_store_path",
    "request_fingerprint",
]

#: Environment variable that overrides the default journal file.
STORE_ENV = "TARGETSMS_STORE"
#: A batch still ``inflight`` after this many seconds is taken as lost, whoever owns it.
DEFAULT_STALE_AFTER = 900.0
#: Message outcomes a journal row may hold (``inflight`` and ``pending`` are not outcomes).
OUTCOMES: tuple[str, ...] = ("sent", "queued", "rejected", "duplicate", "unknown")
_BATCH_STATES = ("inflight", "done", "split", "failed", "unknown")

# Tokens of the runs alive in this process: an in-flight batch owned by this pid but by a token not
# listed here was left behind by an interrupted run (KeyboardInterrupt in a notebook kernel).
_LIVE_TOKENS: set[str] = set()
_LIVE_LOCK = threading.Lock()


def default_store_path() -> Path:
    """The journal file used when none is given: ``$TARGETSMS_STORE`` or the user data dir.

    Example: ``print(default_store_path())`` shows the file ``Journal()`` opens, e.g.
    ``~/.local/share/targetsms-analytics/journal.sqlite3`` on Linux.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("targetsms-analytics")) / "journal.sqlite3"


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

Migration = str | Callable[[sqlite3.Connection], None]

# When the service last answered this very request (fingerprint) with a refusal: a stop or a split.
_REFUSAL_SQL = (
    "SELECT MAX(finished_at) FROM batches WHERE fingerprint = ?"
    " AND state IN ('failed', 'split') AND answer_code IS NOT NULL"
    " AND answer_code NOT IN ('transport', 'invalid_input')"
)

#: Ordered migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``. Append, never
#: edit: a file records the versions applied to it in ``schema_version``.
MIGRATIONS: list[Migration] = [_V1]
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


def request_fingerprint(url: str, user: str, sender: str, phones: Sequence[str], text: str) -> str:
    """SHA-256 of the send request as it goes out, with the password left out.

    Example::

        >>> len(request_fingerprint("http://h/sendsms.php", "demo", "SHOP", ["79001234567"], "Hi"))
        64
    """
    params = [(k, v) for k, v in send_params(user, "", sender, phones, text) if k != "pwd"]
    base = url.split("?", 1)[0]
    return hashlib.sha256(f"{base}?{encode_query(params)}".encode()).hexdigest()


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
    seems alive.

    Example::

        >>> with Journal(":memory:") as j:
        ...     j.schema_version
        1
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 30.0,
        stale_after: float = DEFAULT_STALE_AFTER,
    ) -> None:
        if path is None:
            path = default_store_path()
        self.path = str(path)
        self.stale_after = stale_after
        if self.path != ":memory:" and not self.path.startswith("file:"):
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Autocommit mode: every write goes through _tx (BEGIN IMMEDIATE ... COMMIT).
        self._conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._use_wal(timeout)
        # WAL with synchronous=NORMAL survives a crash of the process (kill -9) without an fsync
        # per commit; intents are committed with FULL (see _tx) so that they survive a power loss
        # too: an answer lost that way leaves its batch in flight, hence unknown, never resent.
        self._sync = ""
        self._set_sync("NORMAL")
        self._migrate()

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
        has_table = self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        if has_table and self.schema_version == len(MIGRATIONS):
            return
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            current = int(current[0])
            if current > len(MIGRATIONS):
                raise JournalError(
                    f"{self.path} has schema version {current}; this toolkit knows up to "
                    f"{len(MIGRATIONS)}: upgrade targetsms-analytics"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                step = MIGRATIONS[version - 1]
                if callable(step):
                    step(c)
                else:
                    for statement in step.split(";"):
                        if statement.strip():
                            c.execute(statement)
                c.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, _iso(_now())),
                )

    # ------------------------------------------------------------ campaigns and runs

    @staticmethod
    def new_run_token() -> str:
        """Register a sending run of this process; its in-flight batches are not orphans.

        Example: ``token = Journal.new_run_token(); ...; Journal.end_run(token)``.
        """
        token = uuid.uuid4().hex
        with _LIVE_LOCK:
            _LIVE_TOKENS.add(token)
        return token

    @staticmethod
    def end_run(token: str) -> None:
        """Unregister a run started with :meth:`new_run_token`.

        Example: ``Journal.end_run(token)``.
        """
        with _LIVE_LOCK:
            _LIVE_TOKENS.discard(token)

    def ensure_campaign(
        self, name: str, *, user: str | None = None, sender: str | None = None, template: str = ""
    ) -> None:
        """Create the campaign row if it does not exist (an existing one keeps its values).

        Example: ``journal.ensure_campaign("spring", user="demo", sender="SHOP", template="Hi")``.
        """
        now = _iso(_now())
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO campaigns (name, user, sender, template, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (name, user, sender, template, now, now),
            )

    def campaign_info(self, name: str) -> dict[str, Any] | None:
        """The campaign row as a dict (name, user, sender, template, created_at…), or None.

        Example: ``journal.campaign_info("spring")["sender"]``.
        """
        rows = self._query("SELECT * FROM campaigns WHERE name = ?", (name,))
        return dict(rows[0]) if rows else None

    def campaigns(self) -> pd.DataFrame:
        """One row per campaign: who and when, and how many messages ended in each status.

        Columns: ``campaign, user, sender, created_at, updated_at, messages, sent, queued,
        rejected, duplicate, unknown, inflight, pending, parts, batches``.

        Example: ``journal.campaigns().set_index("campaign")["sent"]``.
        """
        rows = self._query(
            """
            SELECT c.name AS campaign, c.user, c.sender, c.created_at, c.updated_at,
                   COUNT(m.msisdn) AS messages,
                   SUM(m.status = 'sent') AS sent, SUM(m.status = 'queued') AS queued,
                   SUM(m.status = 'rejected') AS rejected,
                   SUM(m.status = 'duplicate') AS duplicate,
                   SUM(m.status = 'unknown') AS unknown,
                   SUM(m.status = 'inflight') AS inflight,
                   SUM(m.status = 'pending') AS pending,
                   SUM(CASE WHEN m.status = 'sent' THEN m.parts ELSE 0 END) AS parts,
                   (SELECT COUNT(*) FROM batches b WHERE b.campaign = c.name) AS batches
            FROM campaigns c LEFT JOIN messages m ON m.campaign = c.name
            GROUP BY c.name ORDER BY c.created_at, c.name
            """
        )
        cols = [
            "campaign", "user", "sender", "created_at", "updated_at", "messages", "sent",
            "queued", "rejected", "duplicate", "unknown", "inflight", "pending", "parts",
            "batches",
        ]  # fmt: skip
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        for col in cols[5:]:
            frame[col] = frame[col].fillna(0).astype("int64")
        for col in ("created_at", "updated_at"):
            frame[col] = _times(frame[col])
        return frame

    # ------------------------------------------------------------ messages

    _MESSAGE_SQL = """
        SELECT m.sms_id, m.msisdn, m.campaign, m.sender, m.text, m.parts, m.sent_at,
               m.status AS outcome, m.error_code, m.error_text, m.batch, m.created_at
        FROM messages m
    """
    _MESSAGE_COLS = (
        "sms_id", "msisdn", "campaign", "sender", "text", "parts", "sent_at", "outcome",
        "error_code", "error_text", "batch", "created_at",
    )  # fmt: skip

    def _message_frame(self, rows: list[sqlite3.Row]) -> pd.DataFrame:
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(self._MESSAGE_COLS))
        frame["parts"] = frame["parts"].astype("Int64")
        frame["batch"] = frame["batch"].astype("Int64")
        frame["sent_at"] = _times(frame["sent_at"])
        frame["created_at"] = _times(frame["created_at"])
        return frame

    def campaign_messages(self, campaign: str) -> pd.DataFrame:
        """Every message row of a campaign, in the order they were first recorded.

        Columns: ``sms_id, msisdn, campaign, sender, text, parts, sent_at, outcome, error_code,
        error_text, batch, created_at``; ``outcome`` is the journal status (``sent``, ``queued``,
        ``rejected``, ``duplicate``, ``unknown``, or ``inflight``/``pending`` for no outcome yet).

        Example: ``journal.campaign_messages("spring").query("outcome == 'unknown'")``.
        """
        rows = self._query(
            self._MESSAGE_SQL + " WHERE m.campaign = ? ORDER BY m.rowid", (campaign,)
        )
        return self._message_frame(rows)

    def message_info(self, sms_ids: Iterable[str]) -> pd.DataFrame:
        """What the journal knows of these SMS ids: one row per distinct known id, in asked order.

        Same columns as :meth:`campaign_messages`; ids the journal does not know are left out.

        Example: ``journal.message_info(["1178440060"])["msisdn"]``.
        """
        ids = list(dict.fromkeys(str(i) for i in sms_ids))
        rows = self._query(
            "SELECT m.sms_id, m.msisdn, m.campaign, m.sender, m.text, m.parts, m.sent_at,"
            " m.status, m.error_code, m.error_text, m.batch, m.created_at"
            " FROM json_each(?) j CROSS JOIN messages m ON m.sms_id = j.value ORDER BY j.key",
            (json.dumps(ids),),
        )
        frame = self._message_frame(rows)
        return frame.drop_duplicates("sms_id").reset_index(drop=True)

    def records(self, campaign: str, msisdns: Iterable[str] | None = None) -> dict[str, dict]:
        """The message rows of a campaign keyed by msisdn (all of them, or only ``msisdns``).

        Each value has ``status, sms_id, text, parts, batch, error_code, error_text, sender``.

        Example: ``journal.records("spring")["79001234567"]["status"]``.
        """
        sql = (
            "SELECT m.msisdn, m.status, m.sms_id, m.text, m.parts, m.batch, m.error_code,"
            " m.error_text, m.sender FROM "
        )
        if msisdns is None:
            rows = self._query(sql + "messages m WHERE m.campaign = ?", (campaign,))
        else:
            # CROSS JOIN keeps json_each outside: one primary-key look-up per msisdn asked.
            rows = self._query(
                sql + "json_each(?) j CROSS JOIN messages m"
                " ON m.campaign = ? AND m.msisdn = j.value",
                (json.dumps(list(msisdns)), campaign),
            )
        return {r["msisdn"]: dict(r) for r in rows}

    def set_outcome(
        self,
        campaign: str,
        msisdns: Iterable[str],
        outcome: str,
        *,
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
        wanted = list(dict.fromkeys(msisdns))
        marks = ",".join("?" for _ in only_from)
        changed: list[str] = []
        with self._tx() as c:
            rows = c.execute(
                "SELECT m.msisdn FROM json_each(?) j CROSS JOIN messages m"
                f" ON m.campaign = ? AND m.msisdn = j.value WHERE m.status IN ({marks})"
                " ORDER BY j.key",
                (json.dumps(wanted), campaign, *only_from),
            ).fetchall()
            changed = [r[0] for r in rows]
            if outcome == "pending":
                c.execute(
                    "UPDATE messages SET status = 'pending', batch = NULL, sms_id = NULL,"
                    " error_code = NULL, error_text = NULL, sent_at = NULL"
                    " WHERE campaign = ? AND msisdn IN (SELECT value FROM json_each(?))",
                    (campaign, json.dumps(changed)),
                )
            else:
                c.execute(
                    "UPDATE messages SET status = ?, error_code = ?, error_text = ?"
                    " WHERE campaign = ? AND msisdn IN (SELECT value FROM json_each(?))",
                    (outcome, "marked_by_user", note, campaign, json.dumps(changed)),
                )
            self._touch(c, campaign)
        return changed

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
    ) -> BatchTicket:
        """Claim ``phones`` for a request and commit the batch as in flight, before the request.

        Within one ``BEGIN IMMEDIATE`` transaction: the phones with no message row, or a
        ``pending`` one, are claimed (status ``inflight``); phones that another run holds or that
        already have an outcome are left out. The batch row keeps the claimed recipients, the text's
        hash, a fingerprint of the request without the password, and this process's pid, host
        and run ``token``. Returns the ticket; ``ticket.phones`` may be empty (nothing to send).

        Example: ``journal.begin_batch("c", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
        url=client.url)``.
        """
        now = _iso(_now())
        with self._tx(durable=True) as c:
            have = {
                r[0]: r[1]
                for r in c.execute(
                    "SELECT m.msisdn, m.status FROM json_each(?) j CROSS JOIN messages m"
                    " ON m.campaign = ? AND m.msisdn = j.value",
                    (json.dumps(list(phones)), campaign),
                )
            }
            claimed = [p for p in dict.fromkeys(phones) if p not in have or have[p] == "pending"]
            fingerprint = request_fingerprint(url, user, sender, claimed, text)
            if not claimed:
                return BatchTicket(0, [], fingerprint)
            refused = c.execute(_REFUSAL_SQL, (fingerprint,)).fetchone()[0]
            c.execute(
                "INSERT OR IGNORE INTO campaigns (name, user, sender, template, created_at,"
                " updated_at) VALUES (?, ?, ?, NULL, ?, ?)",
                (campaign, user, sender, now, now),
            )
            cur = c.execute(
                "INSERT INTO batches (campaign, parent, state, recipients, size, text_hash,"
                " fingerprint, sender, owner_pid, owner_host, owner_token, started_at)"
                " VALUES (?, ?, 'inflight', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    campaign, parent, json.dumps(claimed), len(claimed), _text_hash(text),
                    fingerprint, sender, os.getpid(), socket.gethostname(), token, now,
                ),
            )  # fmt: skip
            batch_id = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO messages (campaign, msisdn, text, parts, sender, batch, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, 'inflight', ?)"
                " ON CONFLICT (campaign, msisdn) DO UPDATE SET text = excluded.text,"
                " parts = excluded.parts, sender = excluded.sender, batch = excluded.batch,"
                " status = 'inflight', sms_id = NULL, error_code = NULL, error_text = NULL,"
                " sent_at = NULL",
                [(campaign, p, text, parts, sender, batch_id, now) for p in claimed],
            )
            self._touch(c, campaign)
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
                "SELECT campaign, recipients FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no batch {batch_id}")
            campaign, phones = row[0], json.loads(row[1])
            if outcome == "sent":
                if sms_ids is None or len(sms_ids) != len(phones):
                    raise ValueError(f"batch {batch_id}: {len(phones)} phones, ids {sms_ids!r}")
                c.executemany(
                    "UPDATE messages SET status = 'sent', sms_id = ?, error_code = NULL,"
                    " error_text = NULL, sent_at = ? WHERE campaign = ? AND msisdn = ?"
                    " AND batch = ?",
                    [
                        (str(i), now, campaign, p, batch_id)
                        for p, i in zip(phones, sms_ids, strict=True)
                    ],
                )
                state = "done"
            elif outcome in ("pending", "split"):
                c.execute(
                    "UPDATE messages SET status = 'pending', batch = NULL WHERE batch = ?"
                    " AND status = 'inflight'",
                    (batch_id,),
                )
                state = "split" if outcome == "split" else "failed"
            elif outcome in OUTCOMES:
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
            self._touch(c, campaign)

    def batches(self, campaign: str | None = None) -> pd.DataFrame:
        """The batch rows (one per request or intended request), oldest first.

        Columns: ``id, campaign, parent, state, size, recipients (list), text_hash, fingerprint,
        sender, owner_pid, owner_host, started_at, finished_at, answer_code, answer_text``.

        Example: ``journal.batches("spring")["state"].value_counts()``.
        """
        sql = (
            "SELECT id, campaign, parent, state, size, recipients, text_hash, fingerprint, sender,"
            " owner_pid, owner_host, started_at, finished_at, answer_code, answer_text"
            " FROM batches"
        )
        if campaign is None:
            rows = self._query(sql + " ORDER BY id")
        else:
            rows = self._query(sql + " WHERE campaign = ? ORDER BY id", (campaign,))
        cols = [
            "id", "campaign", "parent", "state", "size", "recipients", "text_hash",
            "fingerprint", "sender", "owner_pid", "owner_host", "started_at", "finished_at",
            "answer_code", "answer_text",
        ]  # fmt: skip
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["parent"] = frame["parent"].astype("Int64")
        frame["recipients"] = frame["recipients"].map(json.loads)
        frame["started_at"] = _times(frame["started_at"])
        frame["finished_at"] = _times(frame["finished_at"])
        return frame

    def recover_inflight(self, campaign: str | None = None, *, now: datetime | None = None) -> int:
        """Turn in-flight batches whose owner is gone into ``unknown``; return how many.

        A batch is orphaned when its owner process on this host no longer exists, when it belongs
        to this process but to no live run (an interrupted call), or when it started more than
        ``stale_after`` seconds ago (owners on other hosts cannot be checked). Its request may have
        reached the service, so its messages become ``unknown`` (``error_code='interrupted'``),
        never resent automatically.

        Example: ``journal.recover_inflight("spring")``.
        """
        now_dt = now or _now()
        host, me = socket.gethostname(), os.getpid()
        sql = "SELECT id, owner_pid, owner_host, owner_token, started_at FROM batches"
        sql += " WHERE state = 'inflight'" + (" AND campaign = ?" if campaign else "")
        rows = self._query(sql, (campaign,) if campaign else ())
        with _LIVE_LOCK:
            live = set(_LIVE_TOKENS)
        orphans = []
        for r in rows:
            age = (now_dt - pd.Timestamp(r["started_at"]).to_pydatetime()).total_seconds()
            if age > self.stale_after:
                orphans.append(r["id"])
            elif r["owner_host"] == host:
                if r["owner_pid"] == me:
                    if r["owner_token"] not in live:
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

    def _touch(self, c: sqlite3.Connection, campaign: str) -> None:
        c.execute("UPDATE campaigns SET updated_at = ? WHERE name = ?", (_iso(_now()), campaign))

    # ------------------------------------------------------------ statuses

    def save_statuses(self, records: Iterable[Any] | pd.DataFrame) -> int:
        """Store detailed statuses; a final state already stored is never overwritten.

        ``records``: ``StatusDetail`` objects, dicts, or a DataFrame, with ``sms_id, state,
        changed_at, num_parts, price`` and optionally ``fetched_at`` (default: now). Returns the
        number of rows written.

        Example: ``journal.save_statuses([client.status_detail("1178440060")])``.
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
                "INSERT INTO statuses (sms_id, state, changed_at, num_parts, price, fetched_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sms_id) DO UPDATE SET"
                " state = excluded.state, changed_at = excluded.changed_at,"
                " num_parts = excluded.num_parts, price = excluded.price,"
                f" fetched_at = excluded.fetched_at WHERE statuses.state NOT IN ({marks})",
                [(*r, *finals) for r in rows],
            )
            return c.total_changes - before

    def statuses(self, sms_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Stored statuses: one row per distinct known id, in the order asked (or all).

        Columns: ``sms_id, state, is_final, changed_at, num_parts, price, fetched_at``.

        Example: ``journal.statuses(ids).query("not is_final")["sms_id"]  # still to fetch``.
        """
        cols = "s.sms_id, s.state, s.changed_at, s.num_parts, s.price, s.fetched_at"
        if sms_ids is None:
            rows = self._query(f"SELECT {cols} FROM statuses s ORDER BY s.rowid")
        else:
            ids = list(dict.fromkeys(str(i) for i in sms_ids))
            rows = self._query(
                f"SELECT {cols} FROM json_each(?) j CROSS JOIN statuses s ON s.sms_id = j.value"
                " ORDER BY j.key",
                (json.dumps(ids),),
            )
        names = ["sms_id", "state", "changed_at", "num_parts", "price", "fetched_at"]
        frame = pd.DataFrame([tuple(r) for r in rows], columns=names)
        frame.insert(2, "is_final", frame["state"].isin(FINAL_STATES).astype(bool))
        frame["changed_at"] = _times(frame["changed_at"])
        frame["fetched_at"] = _times(frame["fetched_at"])
        frame["num_parts"] = frame["num_parts"].astype("Int64")
        frame["price"] = frame["price"].astype("float64")
        return frame

    # ------------------------------------------------------------ balance

    def save_balance(self, balance: Any, taken_at: datetime | None = None) -> int:
        """Store a balance snapshot (a ``Balance``: amount, currency, packages); return its id.

        Example: ``journal.save_balance(client.balance())``.
        """
        when = _iso(taken_at or _now())
        packages = getattr(balance, "packages", None)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO balance_snapshots (taken_at, amount, currency) VALUES (?, ?, ?)",
                (when, float(balance.amount), getattr(balance, "currency", None)),
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

    def balance_snapshots(self) -> pd.DataFrame:
        """Every balance snapshot, oldest first: ``taken_at, amount, currency``.

        Example: ``journal.balance_snapshots().plot(x="taken_at", y="amount")``.
        """
        rows = self._query(
            "SELECT taken_at, amount, currency FROM balance_snapshots ORDER BY taken_at, id"
        )
        frame = pd.DataFrame([tuple(r) for r in rows], columns=["taken_at", "amount", "currency"])
        frame["taken_at"] = _times(frame["taken_at"])
        frame["amount"] = frame["amount"].astype("float64")
        return frame

    def package_history(self) -> pd.DataFrame:
        """SMS left per direction in every snapshot, oldest first: ``taken_at, direction, remaining``.

        Example: ``journal.package_history().pivot(index="taken_at", columns="direction")``.
        """
        rows = self._query(
            "SELECT s.taken_at, p.direction, p.remaining FROM packages p"
            " JOIN balance_snapshots s ON s.id = p.snapshot ORDER BY s.taken_at, s.id, p.rowid"
        )
        frame = pd.DataFrame(
            [tuple(r) for r in rows], columns=["taken_at", "direction", "remaining"]
        )
        frame["taken_at"] = _times(frame["taken_at"])
        frame["remaining"] = frame["remaining"].astype("int64")
        return frame


class _Transaction:
    """``with journal._tx() as conn``: the lock, then BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""

    def __init__(self, journal: Journal, durable: bool) -> None:
        self.journal = journal
        self.durable = durable

    def __enter__(self) -> sqlite3.Connection:
        self.journal._lock.acquire()
        try:
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


@contextmanager
def open_journal(store: str | os.PathLike[str] | Journal | None) -> Iterator[Journal]:
    """Yield a ``Journal`` for ``store``: a path, ``":memory:"``, a ``Journal``, or None (default).

    A journal opened here is closed on exit; one passed in is left open for its owner.

    Example::

        with open_journal(None) as journal:
            journal.campaigns()
    """
    if isinstance(store, Journal):
        yield store
        return
    journal = Journal(store)
    try:
        yield journal
    finally:
        journal.close()
