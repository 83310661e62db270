"""The SQLite backend: one file in WAL mode, the embedded default.

One connection behind a lock serves every thread of the process; another process may read (or
send) at the same time. Writes take ``BEGIN IMMEDIATE``: one writer at a time, so a claim needs
no row locks. Intents commit with ``synchronous=FULL`` (on disk before the request leaves, even
across a power loss), everything else with ``NORMAL`` (safe across a crash of the process).
Concurrent writers share commits (group commit, see :mod:`~targetsms_analytics.store.base`), and
answers ride along with the next intent's transaction. While a run sends, WAL checkpoints run in
a thread of their own instead of inside a commit.

Example::

    >>> with SQLiteJournal(":memory:") as j:
    ...     j.backend, j.schema_version
    ('sqlite', 3)
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import JournalError
from ._common import DEFAULT_STALE_AFTER, check_store, default_store_path
from .base import Journal
from .campaigns import _CLAIMED_INSERT, _CLAIMED_UPSERT

__all__ = ["SQLiteJournal"]

logger = logging.getLogger("targetsms_analytics")

#: SQLite's default: a commit checkpoints the WAL once it holds this many pages.
_AUTOCHECKPOINT = 1000
#: Seconds between the checkpointer's passes while runs send.
_CHECKPOINT_EVERY = 0.5


class SQLiteJournal(Journal):
    """The journal in a SQLite file (see the module docstring and :class:`Journal`).

    ``path``: a file path, ``":memory:"`` (tests), or None for ``$TARGETSMS_STORE`` / the user
    data dir. ``readonly=True`` opens the file for reading only (nothing is written, not even WAL
    files where the medium is read-only); a file that does not exist then reads as an empty
    journal and is not created.

    Example: ``SQLiteJournal("journal.sqlite3").journal_mode == "wal"``.
    """

    backend = "sqlite"
    _migrations_name = "SQLITE_MIGRATIONS"
    _seq = "rowid"
    _ride_along = True

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
        self._setup(stale_after)
        self.path = str(path)
        memory = self.path == ":memory:"
        self.readonly = readonly and not memory
        self._sync = ""
        missing = self.readonly and not Path(self.path).expanduser().is_file()
        if missing:  # nothing journaled there yet: an empty view, and the file is not created
            self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif self.readonly:
            self._conn = self._connect_readonly(timeout)
        else:
            if not memory:
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
                # a journal of a newer release is refused before anything of it changes
                if self._has_schema() and self.schema_version > len(self._migrations()):
                    raise self._too_new(self.schema_version)
                self._use_wal(timeout)
            # WAL with synchronous=NORMAL survives a crash of the process (kill -9) without an
            # fsync per commit; intents are committed with FULL (see _tx) so that they survive a
            # power loss too: an answer lost that way leaves its batch in flight, hence unknown.
            self._set_sync("NORMAL")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise
        # Reads from other threads use their own connection: WAL lets them read while a writer
        # commits, instead of queueing behind the write lock.
        self._timeout = timeout
        self._readers_local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._use_readers = not memory
        # While runs send, WAL checkpoints happen in a thread of their own (see _run_started).
        self._runs = 0
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None

    # ------------------------------------------------------------ opening

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

    def _has_schema(self) -> bool:
        return bool(
            self._query(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            )
        )

    def _check_version(self, *, readonly: bool) -> None:
        current = self.schema_version if self._has_schema() else 0
        known = len(self._migrations())
        if current > known:
            raise self._too_new(current)
        if readonly and current < known:
            raise JournalError(
                f"{self.path} has schema version {current}, older than this toolkit's "
                f"{known}: open it once for writing (e.g. send or refresh) to upgrade it",
                code="journal_outdated",
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

    def _migrate(self) -> None:
        # A file already at this version needs no write lock: a reporting process only reads.
        if self._has_schema() and self.schema_version == len(self._migrations()):
            return
        self._check_version(readonly=False)
        with self._tx() as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            self._apply_migrations(c, int(current[0]))

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Close the connection (a ``":memory:"`` journal is gone afterwards).

        Example: ``journal.close()``.
        """
        self.flush()  # answers still being written
        with self._lock:
            checkpointer, self._checkpointer = getattr(self, "_checkpointer", None), None
            self._runs = 0
        if checkpointer is not None:  # a run that never ended (its process goes on)
            checkpointer[1].set()
            checkpointer[0].join()
        with self._lock:
            self._conn.close()
            for reader in getattr(self, "_readers", []):
                reader.close()

    # ------------------------------------------------------------ checkpoints

    def _run_started(self, token: str) -> None:
        """While a run sends, no commit checkpoints the WAL: a checkpoint writes the pages back
        to the database file and fsyncs it, which on a slow disk takes long enough (0.1-1.5 s
        was seen) to hold up every worker's next intent. A checkpointer thread does it instead,
        on its own connection (PASSIVE: it never blocks a writer)."""
        if not self._use_readers:  # ":memory:" has no WAL
            return
        with self._lock:
            self._runs += 1
            if self._runs == 1:
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                done = threading.Event()
                thread = threading.Thread(
                    target=self._checkpoint_until,
                    args=(done,),
                    name="targetsms-journal-checkpoint",
                    daemon=True,
                )
                self._checkpointer = (thread, done)
                thread.start()

    def _run_ended(self, token: str) -> None:
        if not self._use_readers:
            return
        checkpointer = None
        with self._lock:
            self._runs = max(0, self._runs - 1)
            if self._runs == 0:
                self._conn.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT}")
                checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            thread, done = checkpointer
            done.set()
            thread.join()

    def _checkpoint_until(self, done: threading.Event) -> None:
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            while not done.wait(_CHECKPOINT_EVERY):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next commit after the run checkpoints
                    logger.debug("%s: background checkpoint failed: %s", self.path, exc)
        finally:
            conn.close()

    def _tx(self, *, durable: bool = False) -> _Transaction:
        return _Transaction(self, durable)

    def _set_sync(self, mode: str) -> None:
        if self._sync != mode:  # caller holds the lock, outside any transaction
            self._conn.execute(f"PRAGMA synchronous = {mode}")
            self._sync = mode

    def _query(self, sql: str, params: Sequence[Any] = (), *, rows: Any = sqlite3.Row) -> list:
        """Read on this thread's reader connection (the writer's for ``:memory:``); ``rows``:
        the cursor's row factory (None: plain tuples, cheaper by the thousand)."""
        if getattr(self, "_use_readers", False):
            return self._fetch(self._reader(), sql, params, rows)
        with self._lock:
            return self._fetch(self._conn, sql, params, rows)

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, params: Sequence[Any], rows: Any) -> list:
        cursor = conn.cursor()
        cursor.row_factory = rows
        return cursor.execute(sql, params).fetchall()

    def _query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._query(sql, params, rows=None)

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._readers_local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            self._readers_local.conn = conn
            with self._lock:
                self._readers.append(conn)
        return conn

    def _claimed_rows(
        self, c: sqlite3.Connection, batch: tuple[Any, ...], rows: Sequence[tuple[str, str | None]]
    ) -> None:
        """As the base, several rows in one statement (their msisdns and contacts as one JSON
        array): one step in C, where ``executemany`` takes the GIL back after each row, and on
        a shared text's batch (~140 rows) waits each time for the other threads' Python
        (measured, 1,000 recipients in 7 requests at 16 workers, means of 6 x 6 runs: 45.2 ->
        44.4 ms; a batch of 143 rows alone: 0.51 -> 0.30 ms)."""
        if len(rows) < 2:
            super()._claimed_rows(c, batch, rows)
            return
        account, campaign, text, parts, sender, variant, batch_id, now = batch
        c.execute(
            _CLAIMED_INSERT + " SELECT ?, ?, json_extract(j.value, '$[0]'), ?, ?, ?, ?,"
            " json_extract(j.value, '$[1]'), ?, 'inflight', ? FROM json_each(?) AS j"
            " WHERE true" + _CLAIMED_UPSERT,  # (WHERE: an upsert's SELECT needs one)
            (account, campaign, text, parts, sender, variant, batch_id, now,
             json.dumps(rows, ensure_ascii=False)),
        )  # fmt: skip

    def _ids(self, alias: str) -> str:
        return f"json_each(?) {alias}"

    def _ids_param(self, values: Sequence[str]) -> Any:
        return json.dumps(list(values))

    @property
    def journal_mode(self) -> str:
        """SQLite's journal mode for this connection (``wal`` for a file).

        Example: ``Journal("x.sqlite3").journal_mode == "wal"``.
        """
        return str(self._query("PRAGMA journal_mode")[0][0]).lower()


class _Transaction:
    """``with journal._tx() as conn``: the lock, then BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""

    def __init__(self, journal: SQLiteJournal, durable: bool) -> None:
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
            elif self.journal._conn.in_transaction:  # (SQLite ends it itself on some errors:
                self.journal._conn.execute("ROLLBACK")  # a full disk; the error is that one)
        finally:
            self.journal._lock.release()
