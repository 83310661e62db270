"""The PostgreSQL backend: one journal shared by a team, sent to from several machines at once.

``Journal("postgresql://user@host:port/db")`` (or ``TARGETSMS_STORE``) opens it; the driver is
psycopg 3, the optional extra ``pip install targetsms-analytics[postgres]``.

- **Claims**: the recipients of a batch get their rows (``pending``) and are then locked with
  ``SELECT … FOR UPDATE SKIP LOCKED``: a recipient another sender holds is skipped, never waited
  for, and each recipient is claimed by exactly one sender, on any machine.
- **Liveness**: each run holds a session advisory lock on its connection; PostgreSQL releases it
  the moment the connection dies (the process was killed), or once its TCP probes go unanswered
  (the machine or its network is gone: about a minute and a half, see ``_SESSION_SETUP``). An
  in-flight batch whose run's lock is gone becomes ``unknown`` (:meth:`Journal.recover_inflight`);
  recipients it had not claimed yet stay sendable by the others.
- **Commits**: every thread writes on a connection of its own and PostgreSQL flushes concurrent
  commits together. An intent is one statement in autocommit mode (one round trip), flushed
  before it returns (``synchronous_commit = on``, the sessions' setting). Answers are written by
  the answer writer on its own connection (see :meth:`Journal.finish_batch`'s ``wait=False``),
  as one statement each, several in one pipeline, flushed like intents; the other writes (a
  transaction of several statements) use ``synchronous_commit = off``. An answer updates its
  messages in place (``messages.sms_id`` is not indexed, pages keep room for the new versions);
  the ids it gave are looked up in ``message_ids``, written with it (schema 3).
- Migrations run under a transaction-level advisory lock: two processes opening a new database
  at once do not both create the schema.

Example::

    with Journal("postgresql://postgres@127.0.0.1:5432/team") as journal:
        journal.campaigns()
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import random
import re
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from ..errors import JournalError
from ._common import (
    CLAIMABLE,
    DEFAULT_STALE_AFTER,
    SEND_OUTCOMES,
    BatchTicket,
    Row,
    account_of,
    batch_fields,
    iso,
    json_or_none,
    now_utc,
    redact_url,
    request_fingerprint,
    store_from_env,
    text_hash,
)
from .base import Journal, _report
from .campaigns import _Handing
from .schema import _BACK_TO_PENDING, _LAUNCH_SQL, _REFUSAL_SQL

__all__ = ["INSTALL_HINT", "PostgresJournal"]

logger = logging.getLogger("targetsms_analytics")

#: What to install when the driver is missing.
INSTALL_HINT = "pip install targetsms-analytics[postgres]"
# First key of every advisory lock this toolkit takes (the second names the run or the purpose).
_LOCK_NAMESPACE = 0x7A5_35
_MIGRATION_LOCK = 0
# Every session: intents wait for the WAL flush (the rest turn it off, see _Transaction), and the
# server probes an idle client's TCP connection so that a sender whose machine or network is gone
# loses its run lock within about a minute and a half (30 s idle, then 6 probes 10 s apart), not
# after the operating system's default of about two hours. Each only where nobody chose one (the
# server's configuration, the database, the role, the URL's ``options``: a source other than
# the default). Then, unless chosen too, data the sender never acknowledged ends the session
# after as long as those probes would (tcp_user_timeout, their idle + interval x count; TCP
# would retransmit for about 15 minutes; on Linux it also takes the place of the probes' count).
# Ignored on a Unix socket (a setting of 0); through a pooler or TCP proxy the server probes the
# proxy, not the sender.
_SESSION_SETUP = (
    "SET synchronous_commit = on; SELECT set_config(d.name, d.value, false)"
    " FROM (VALUES ('tcp_keepalives_idle', '30'), ('tcp_keepalives_interval', '10'),"
    " ('tcp_keepalives_count', '6')) AS d(name, value)"
    " JOIN pg_settings s ON s.name = d.name WHERE s.source = 'default';"
    " SELECT set_config('tcp_user_timeout', CAST(1000 * (i.v + n.v * c.v) AS text), false)"
    " FROM pg_settings u"
    + "".join(
        f" CROSS JOIN (SELECT CASE WHEN setting ~ '^[0-9]+$' THEN CAST(setting AS bigint) END"
        f" AS v FROM pg_settings WHERE name = 'tcp_keepalives_{name}') AS {alias}"
        for name, alias in (("idle", "i"), ("interval", "n"), ("count", "c"))
    )
    + " WHERE u.name = 'tcp_user_timeout' AND u.source = 'default' AND i.v > 0"
    " AND n.v IS NOT NULL AND c.v IS NOT NULL"
)
# Sending threads' sessions plan their hot statements once (the intent and the answers, run on
# ``_Conn.fast``, which find every row by its full key or its batch): PostgreSQL otherwise plans
# the intent anew for each request (custom plans look cheaper for a one-element array), which
# costs more server time than running it (measured: 0.92 -> 0.58 ms an intent, one sender).
# Only prepared statements use the setting, and on these sessions only the hot ones are
# prepared (see ``_Conn.execute``).
_SENDER_SETUP = "; SET plan_cache_mode = force_generic_plan"
# This side's TCP probes too (the server's are set above): a session whose network vanished
# without a word (a partition, a proxy that dropped the flow) ends on this side as well, where
# an idle connection's check (_lost) sees it, instead of looking alive for ever; and a statement
# the server never acknowledged fails once the probes would have given up (tcp_user_timeout),
# not after TCP's 15 minutes of retransmissions (a sender stuck mid-intent, a run's lock that
# looked held). Those the URL or its service sets are theirs (see _connect_options).
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
               "keepalives_count": 6}  # fmt: skip
_HOST = socket.gethostname()
# Seconds close() waits for the journal's own threads (the answer writer, warm_up's) to end.
_CLOSE_WAIT = 2.0
_CLAIMABLE_SQL = ", ".join(f"'{s}'" for s in CLAIMABLE)
# Lock a batch's sendable recipients, skipping rows another sender holds (never waiting for
# them): one look-up by the full key per recipient, in the order given (sorted), whatever the
# planner's statistics say (with none, it would read every row of the campaign instead).
_CLAIM_SQL = f"""
    SELECT l.msisdn FROM unnest(CAST(? AS text[])) AS w(value) CROSS JOIN LATERAL (
        SELECT m.msisdn FROM messages m WHERE m.account = ? AND m.campaign = ?
        AND m.msisdn = w.value AND m.status IN ({_CLAIMABLE_SQL}) FOR UPDATE SKIP LOCKED
    ) AS l"""

# The intent of a batch whose recipients all have their rows (see prepare), as one statement:
# lock them (skipping any another sender holds), and only when every one was claimed insert the
# batch and mark its messages in flight; answer the batch id (NULL: nothing written) and the
# request's last refusal. Same effect as CampaignsMixin.begin_batch's transaction.
_FAST_INTENT = f"""
WITH c AS ({_CLAIM_SQL.replace("?", "%(sorted)s", 1).replace("?", "%(a)s", 1).replace("?", "%(c)s", 1)}
), b AS (
    INSERT INTO batches (account, campaign, parent, state, recipients, size, text_hash,
        fingerprint, sender, variant, owner_pid, owner_host, owner_token, started_at)
    SELECT %(a)s, %(c)s, %(parent)s, %(state)s, %(recipients)s, %(n)s, %(hash)s, %(fp)s,
        %(sender)s, %(variant)s, %(pid)s, %(host)s, %(token)s, %(now)s
    WHERE (SELECT COUNT(*) FROM c) = %(n)s
    RETURNING id
), m AS (
    INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant, contact,
        batch, status, created_at)
    SELECT %(a)s, %(c)s, u.msisdn, %(text)s, %(parts)s, %(sender)s, %(variant)s, u.contact,
        b.id, 'inflight', %(now)s
    FROM b, unnest(CAST(%(phones)s AS text[]), CAST(%(contacts)s AS text[])) AS u(msisdn, contact)
    ON CONFLICT (account, campaign, msisdn) DO UPDATE SET text = excluded.text,
        parts = excluded.parts, sender = excluded.sender, variant = excluded.variant,
        contact = COALESCE(excluded.contact, messages.contact), batch = excluded.batch,
        status = 'inflight', sms_id = NULL, error_code = NULL, error_text = NULL, sent_at = NULL
    RETURNING 1
)
SELECT (SELECT id FROM b), CASE WHEN (SELECT COUNT(*) FROM m) > 0 THEN ({_REFUSAL_SQL.replace("?", "%(fp)s")}) END
"""

# A transaction that does not wait for the server's WAL flush (all but the intents, see
# _Transaction), begun in one simple query.
_BEGIN_NOT_DURABLE = "BEGIN; SET LOCAL synchronous_commit = off"

# Journal.launch_batch's statement, as the driver takes it (prepared on the hot sessions).
_LAUNCH = _LAUNCH_SQL.replace("?", "%s")

# A new campaign's rows, as _prepare_and_begin writes them (no conflict clause: a row that exists
# already fails the COPY, and the transaction with it).
_COPY_MESSAGES = (
    "COPY messages (account, campaign, msisdn, text, parts, sender, variant, contact, batch,"
    " status, created_at) FROM STDIN"
)

# A step of a new campaign's first requests (see _prepare_and_begin): its batches, in flight,
# and their rows, in one statement (its own transaction), every parameter text (``$n``:
# sent as it is, not through the driver's placeholders). The rows go in in the order given
# (byte order, see _first_step): no cycle with another sender's rows.
_FIRST_STEP = """WITH b AS (
    INSERT INTO batches (id, account, campaign, parent, state, recipients, size, text_hash,
        fingerprint, sender, variant, owner_pid, owner_host, owner_token, started_at)
    SELECT v.id, $1, $2, v.parent, 'inflight', v.recipients, v.n, v.hash, v.fp, $3, v.variant,
        CAST($4 AS integer), $5, $6, v.started_at
    FROM unnest(CAST($7 AS bigint[]), CAST($8 AS bigint[]), CAST($9 AS text[]),
        CAST($10 AS integer[]), CAST($11 AS text[]), CAST($12 AS text[]), CAST($13 AS text[]),
        CAST($14 AS text[])) AS v(id, parent, recipients, n, hash, fp, variant, started_at)
)
INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant, contact, batch,
    status, created_at)
SELECT $1, $2, u.msisdn, u.text, u.parts, $3, u.variant, u.contact, u.batch, 'inflight', $15
FROM unnest(CAST($16 AS text[]), CAST($17 AS text[]), CAST($18 AS integer[]),
    CAST($19 AS text[]), CAST($20 AS text[]), CAST($21 AS bigint[])) WITH ORDINALITY
    AS u(msisdn, text, parts, variant, contact, batch, n)
ORDER BY u.n"""

# The last refusal of each of several requests (fingerprint, when), as _REFUSAL_SQL for one.
_REFUSALS_SQL = (
    _REFUSAL_SQL.replace("SELECT MAX(", "SELECT fingerprint, MAX(").replace(
        "fingerprint = ?", "fingerprint = ANY(CAST(%s AS text[]))"
    )
    + " GROUP BY fingerprint"
)

# One row of hold(): update it only if it is sendable (pending or scheduled), else insert it if
# it has no row. Unlike INSERT … ON CONFLICT DO UPDATE … WHERE, which locks the conflicting row
# even when the WHERE is false, a row in flight or with an outcome is never locked: a sender's
# answer, which locks its batch's rows in its own order, cannot end up waiting in a cycle with it.
_HOLD_ROW = """
WITH u AS (
    UPDATE messages SET text = %(text)s, parts = %(parts)s, sender = %(sender)s,
        variant = %(variant)s, contact = %(contact)s, not_before = %(not_before)s,
        status = %(status)s, batch = NULL
    WHERE account = %(account)s AND campaign = %(campaign)s AND msisdn = %(msisdn)s
        AND status IN ('pending', 'scheduled')
    RETURNING 1
), i AS (
    INSERT INTO messages (account, campaign, msisdn, text, parts, sender, variant, contact,
        not_before, status, created_at)
    SELECT %(account)s, %(campaign)s, %(msisdn)s, %(text)s, %(parts)s, %(sender)s, %(variant)s,
        %(contact)s, %(not_before)s, %(status)s, %(created_at)s
    WHERE NOT EXISTS (SELECT 1 FROM u)
    ON CONFLICT (account, campaign, msisdn) DO NOTHING
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM u) + (SELECT COUNT(*) FROM i)"""
_HOLD_COLUMNS = (
    "account", "campaign", "msisdn", "text", "parts", "sender", "variant", "contact",
    "not_before", "status", "created_at",
)  # fmt: skip

_BATCH_DONE = """, d AS (
    UPDATE batches SET state = %(state)s, finished_at = %(now)s, answer_code = %(code)s,
        answer_text = %(why)s WHERE id = %(id)s RETURNING id
) SELECT COUNT(*) FROM d"""
# A batch's answer with its recipients known, as one statement (finish_batch's transaction).
_FAST_ANSWER = {
    "sent": """WITH u AS (
    UPDATE messages SET status = 'sent', sms_id = v.sms_id, error_code = NULL, error_text = NULL,
        sent_at = %(now)s
    FROM unnest(CAST(%(phones)s AS text[]), CAST(%(ids)s AS text[])) AS v(msisdn, sms_id)
    WHERE messages.batch = %(id)s AND messages.msisdn = v.msisdn
    RETURNING messages.account, messages.campaign, messages.msisdn, messages.sms_id
), x AS (
    INSERT INTO message_ids (account, campaign, msisdn, sms_id)
    SELECT account, campaign, msisdn, sms_id FROM u ON CONFLICT DO NOTHING
)"""
    + _BATCH_DONE,
    "pending": f"""WITH u AS (
    {_BACK_TO_PENDING.replace("?", "%(id)s")} RETURNING 1
)"""
    + _BATCH_DONE,
    **{
        o: """WITH u AS (
    UPDATE messages SET status = %(outcome)s, error_code = %(code)s, error_text = %(why)s,
        sent_at = CASE WHEN %(outcome)s = 'queued' THEN %(now)s ELSE sent_at END
    WHERE batch = %(id)s RETURNING 1
)"""
        + _BATCH_DONE
        for o in SEND_OUTCOMES
        if o != "sent"
    },
}
_FAST_ANSWER["split"] = _FAST_ANSWER["pending"]


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise JournalError(
            f"a PostgreSQL store needs the psycopg driver: {INSTALL_HINT}",
            code="store_driver_missing",
        ) from None
    return psycopg


def _row_factory(cursor: Any) -> Any:
    names = [d.name for d in cursor.description] if cursor.description else []
    return lambda values: Row(values, names)


def _array(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of ``values`` (each quoted; None is NULL), for a parameter cast
    to ``text[]`` or ``integer[]``: one string, which the driver sends as it is, where a list
    is dumped element by element in Python (a few microseconds each, on every intent).

    Example: ``_array(["79001234567", None, 'a "b"'])`` is ``'{"79001234567",NULL,"a \\"b\\""}'``.
    """
    if not values:
        return "{}"
    try:  # the usual case, strings that need no escape: joined in one go
        joined = '","'.join(values)  # type: ignore[arg-type]
    except TypeError:  # None or a number among them
        joined = '"'
    if '"' not in joined and "\\" not in joined:
        return '{"' + joined + '"}'
    return (
        "{"
        + ",".join(
            "NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values
        )
        + "}"
    )


class _Conn:
    """The connection as the aggregates see it: ``?`` placeholders, like sqlite3."""

    _converted: ClassVar[dict[str, str]] = {}

    def __init__(self, raw: Any, *, generic: bool = False) -> None:
        self.raw = raw
        self._fast: Any = None
        #: A sending thread's session (generic plans, see ``_SENDER_SETUP``): only the hot
        #: statements, on :attr:`fast`, are prepared there; every other one is planned for its
        #: own values, as a look-up by part of a key (a campaign) must be.
        self.generic = generic

    @property
    def fast(self) -> Any:
        """A cursor of plain tuples, kept for the hot statements (intents and answers): no row
        names to read from the result's description, no new cursor per statement."""
        if self._fast is None:
            self._fast = self.raw.cursor(row_factory=_driver().rows.tuple_row)
        return self._fast

    @classmethod
    def _sql(cls, sql: str) -> str:
        out = cls._converted.get(sql)
        if out is None:
            out = cls._converted[sql] = sql.replace("?", "%s")
        return out

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        prepare = False if self.generic else None
        return self.raw.execute(self._sql(sql), tuple(params) or None, prepare=prepare)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(self._sql(sql), [tuple(r) for r in rows])
        return cursor


class PostgresJournal(Journal):
    """The journal in a PostgreSQL database (see the module docstring and :class:`Journal`).

    ``url``: ``postgresql://user[:password]@host[:port]/db`` (libpq's form; the password, if any,
    is never shown: ``journal.path`` is the URL without it). ``timeout``: seconds to connect.

    Example: ``PostgresJournal("postgresql://postgres@127.0.0.1:5432/team").backend``.
    """

    backend = "postgresql"
    _migrations_name = "POSTGRES_MIGRATIONS"
    _seq = "seq"
    _cross = "JOIN"
    _lock_key_column = "r.lock_key"
    _for_update = " FOR UPDATE"
    first_intents_together = True

    def __init__(
        self,
        path: str | None = None,
        *,
        timeout: float = 30.0,
        stale_after: float = DEFAULT_STALE_AFTER,
        readonly: bool = False,
    ) -> None:
        if path is None:  # Journal() with a postgresql:// URL in $TARGETSMS_STORE
            path = store_from_env()
        scheme, sep, rest = str(path).partition("://")
        path = scheme.lower() + sep + rest  # (libpq knows the scheme in lower case only)
        psycopg = _driver()
        self._setup(stale_after)
        self.path = redact_url(str(path))
        self.readonly = readonly
        self._run_locks: dict[str, tuple[int, _Conn]] = {}
        self._lost_runs: set[str] = set()  # runs whose lock went with its session
        self._closed = False
        self._prepared: set[tuple[str, str]] = set()
        try:
            raw = psycopg.connect(
                str(path),
                autocommit=True,
                connect_timeout=max(1, int(timeout)),
                row_factory=_row_factory,
                **_connect_options(str(path)),
            )
        except psycopg.Error as exc:
            said = _first_line(exc, str(path), self.path)
            unavailable = _passing(exc)  # (a wrong URL, database or password stays wrong)
            raise JournalError(
                f"cannot open the store {self.path}: {said}.{_what_to_do(exc)}",
                code="store_unavailable" if unavailable else "journal",
                retryable=unavailable,
            ) from None
        self._raw = raw
        self._conn = _Conn(raw)
        self._url = str(path)
        self._timeout = timeout
        self._local = threading.local()
        self._local.conn = self._conn
        self._all: list[Any] = [raw]
        # A worker thread's connection goes back to `_free` once the thread has ended, so a
        # journal that serves many runs (thread pools come and go) keeps a bounded number.
        self._owners: dict[threading.Thread, _Conn] = {threading.current_thread(): self._conn}
        self._free: list[_Conn] = []
        self._spares: list[_Conn] = []  # opened by warm_up() for senders
        self._warmers: set[threading.Thread] = set()  # warm_up()'s, opening a connection each
        self._waiting = 0  # threads waiting for one of those
        self._spare = threading.Condition(self._lock)  # notified as each is opened
        # One connection that launches reserved batches for the threads that have none of
        # their own (see launch_batch), opened by warm_up(launches=): set once it is open or
        # could not be; the thread that opens it, for close() to wait for.
        self._launcher: _Conn | None = None
        self._launcher_ready: threading.Event | None = None
        self._launcher_thread: threading.Thread | None = None
        self._launching = threading.Lock()  # held while the launcher runs a launch
        self._local.first = True  # this thread's connection is the journal's own
        try:
            self._migrate()
            self._raw.execute(_SESSION_SETUP)  # (the connection _migrate ended on)
            if readonly:
                self._raw.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        except BaseException:
            self._raw.close()
            raw.close()
            raise

    # ------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Close the connections (the run locks go with them).

        Example: ``journal.close()``.
        """
        self.flush()  # answers still being written
        with self._lock:
            self._closed = True  # (a connection being opened meanwhile is closed at once)
            for raw in self._all:
                raw.close()
            self._spare.notify_all()  # (a thread waiting for a spare one: none will come)
            threads = [*self._warmers, self._launcher_thread]
        with self._answers:  # (an idle answer writer ends now, not after its second)
            threads.append(self._answer_thread)
            self._answers.notify_all()
        # Its threads that were connecting close what they opened, and end: once this returns,
        # the journal holds no session on the server (a moment at most: bounded here).
        deadline = time.monotonic() + _CLOSE_WAIT
        for thread in threads:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0.0))

    def _thread_conn(self) -> _Conn:
        """This thread's connection: threads write in parallel, and PostgreSQL commits their
        transactions together (its own group commit). One whose server session has ended
        (its error was raised, or the server said so while it was idle) is replaced by a new
        one (a run whose lock went with it claims nothing more: see
        :meth:`_check_run_locks`; its answers are still written)."""
        if self._closed:  # (not a connection opened to be told so)
            raise self._closed_error()
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.raw in _PIPELINED:  # (an interrupted _OneByOne)
            _OneByOne.leave(conn.raw)
        if conn is not None and not _lost(conn.raw):
            return conn
        first = getattr(self._local, "first", False)  # the journal's own: its own settings
        if conn is not None:
            self._forget(conn)
            conn = None
        if not first:
            conn = self._reuse(spare=getattr(self._local, "spare", True))
        if conn is None:
            me = threading.current_thread()

            def mine(c: _Conn) -> None:
                self._owners[me] = c
                if first:
                    self._conn, self._raw = c, c.raw

            warm = getattr(self._local, "warm", False)
            conn = self._local.conn = self._open(mine, sender=not first, warm=warm)
        return conn

    def _check_run_locks(self, token: str | None) -> None:
        """Before a claim of run ``token``: raise the journal's error if its lock went with its
        connection's session. Other senders now take that run for dead (its batches in flight
        become ``unknown`` for them), so it must claim nothing more; its answers are still
        written, and other runs go on."""
        if token is None:
            return
        with self._lock:
            held = self._run_locks.get(token)
            lost = token in self._lost_runs
        # The check (a system call) outside the journal's lock: every claim and launch passes
        # here, and a thread that gives up the GIL under that lock keeps the others waiting.
        if held is not None and not lost and _lost(held[1].raw):
            with self._lock:
                if self._run_locks.get(token) is held:  # (not ended meanwhile)
                    del self._run_locks[token]  # (the server let it go)
                    self._lost_runs.add(token)
                lost = token in self._lost_runs
        if lost:
            raise self._unavailable("the connection that held this run's lock was lost")

    def _forget(self, conn: _Conn) -> None:
        """Drop this thread's connection, whose server session has ended."""
        self._discard(conn.raw)
        with self._lock:
            self._owners.pop(threading.current_thread(), None)
        self._local.conn = None

    def _discard(self, raw: Any) -> None:
        """Close ``raw`` and forget it (close() has no more to close)."""
        raw.close()
        with self._lock:
            if raw in self._all:
                self._all.remove(raw)

    def _closed_error(self) -> JournalError:
        return JournalError(f"the store {self.path} is closed")

    def _reraise(self, exc: BaseException) -> NoReturn:
        """Raise the driver's ``exc`` as the journal's error when it says the store is
        unavailable (a lost connection, a server shutting down, too many clients: the next
        call connects again); others (a deadlock, a lock or statement timeout) as they are."""
        if _means_unavailable(exc):
            raise self._unavailable(exc) from exc
        raise exc

    def _unavailable(self, exc: BaseException | str) -> JournalError:
        """What the driver said of a lost connection (or a server that cannot serve), as the
        journal's error: the store named (never its password), and what to do."""
        said = _first_line(exc, self._url, self.path)
        hint = _what_to_do(exc) if not isinstance(exc, str) else ""
        return JournalError(
            f"the store {self.path} is unavailable: {said}.{hint} Nothing is sent twice: once"
            " it is back, call again or run the same command again (a campaign goes on where it"
            " stopped)",
            code="store_unavailable",
            retryable=True,
        )

    def _open(self, keep: Any, *, sender: bool = True, warm: bool = False,
              launches: bool = False) -> _Conn:  # fmt: skip
        """A new connection with a sender's session settings (or the journal's own's), kept
        for close() and handed to ``keep`` under the journal's lock; none is left open should
        the journal close first (the caller then hears so) or its setup fail. ``warm``: opened
        ahead of need (while requests are out), it also readies the hot statements (see
        :func:`_warm_statements`; with ``launches``, the launch too) before it is handed
        over."""
        psycopg = _driver()
        raw = psycopg.connect(
            self._url,
            autocommit=True,
            connect_timeout=max(1, int(self._timeout)),
            row_factory=_row_factory,
            **_connect_options(self._url),
        )
        try:
            # Known to close() from now: a journal closed meanwhile ends this session (and the
            # locks of the statements it runs here) rather than leave it running them.
            with self._lock:
                if self._closed:
                    raise self._closed_error()
                self._all.append(raw)
            if self.readonly:
                raw.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            raw.execute(_SESSION_SETUP + _SENDER_SETUP if sender else _SESSION_SETUP)
            conn = _Conn(raw, generic=sender)
            if warm and not self.readonly:
                _warm_statements(conn, launches=launches)
            with self._lock:
                if self._closed:
                    raise self._closed_error()
                keep(conn)
        except BaseException:  # (a connection nobody would close otherwise)
            self._discard(raw)
            raise
        return conn

    def warm_up(self, senders: int, *, launches: int = 0) -> None:
        """As :meth:`Journal.warm_up`: the answer writer started (it connects), with
        ``launches`` the connection that launches reserved batches (see :meth:`launch_batch`),
        then connections for ``senders`` threads, each opened by a thread of its own (in
        parallel, as the threads would) and given to the next thread that needs one (not to
        the answer writer). Those spare already, being opened, or left by threads that have
        ended count.

        Example: ``journal.warm_up(3, launches=4)``.
        """
        if not self.readonly and not self._closed:
            try:
                self._warm_answer_writer()
            except Exception as exc:  # (started again for the first answer)
                logger.debug("%s: the answer writer could not start yet: %s", self.path, exc)
            if launches:
                self._open_launcher()
        threads: list[threading.Thread] = []
        try:
            with self._lock:
                self._collect_ended()
                more = senders - len(self._free) - len(self._spares) - len(self._warmers)
                if more <= 0 or self._closed or self.readonly:
                    return
                threads = [
                    threading.Thread(
                        target=self._open_spare, name="targetsms-journal-connect", daemon=True
                    )
                    for _ in range(more)
                ]
                self._warmers.update(threads)
            for thread in threads:
                try:
                    thread.start()
                except RuntimeError:  # no thread to be had: the senders connect themselves
                    break
        finally:
            # Threads that never started (none to be had, or Ctrl-C first) open nothing: no
            # sender waits for them. (A thread counts itself out as it ends, see _open_spare.)
            unstarted = [t for t in threads if t.ident is None]
            if unstarted:
                with self._lock:
                    self._warmers.difference_update(unstarted)
                    self._spare.notify_all()

    def _open_launcher(self) -> None:
        """Open the launcher in the background, unless it is open (and its session alive) or
        being opened."""
        with self._lock:
            ready, launcher = self._launcher_ready, self._launcher
            if ready is not None and not ready.is_set():
                return  # being opened
            if launcher is not None and not _lost(launcher.raw):
                return
            ready = self._launcher_ready = threading.Event()
            self._launcher = None
        if launcher is not None:  # (its session ended)
            self._discard(launcher.raw)

        def keep(conn: _Conn) -> None:  # (under the journal's lock)
            self._launcher = conn

        def open_it() -> None:
            try:
                self._open(keep, warm=True, launches=True)
            except Exception as exc:  # the launches go on their threads' own connections
                logger.debug("%s: could not open the launcher: %s", self.path, exc)
            finally:
                ready.set()

        thread = threading.Thread(target=open_it, name="targetsms-journal-connect", daemon=True)
        self._launcher_thread = thread
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: each launch on its thread's own connection
            ready.set()

    def _launch_connection(self) -> _Conn | None:
        """The launcher, once open (warm_up started it well before the first launch), for a
        thread with no connection of its own; None when there is none to use."""
        ready = self._launcher_ready
        if ready is None or self.connected_here():
            return None
        ready.wait(self._timeout)
        launcher = self._launcher
        if launcher is None or self._closed or _lost(launcher.raw):
            return None
        return launcher

    def _open_spare(self) -> None:
        try:
            self._open(self._spares.append, warm=True)
        except Exception as exc:  # the threads that need one connect, and hear the error
            logger.debug("%s: could not open a connection ahead: %s", self.path, exc)
        finally:
            with self._lock:
                self._warmers.discard(threading.current_thread())
                self._spare.notify_all()

    def connected_here(self) -> bool:
        """As :meth:`Journal.connected_here`: this thread has a connection of its own.

        Example: ``journal.connected_here()``.
        """
        return getattr(self._local, "conn", None) is not None

    def _reuse(self, *, spare: bool = True) -> _Conn | None:
        """A connection whose thread has ended (rolled back if it was left in a transaction),
        or with ``spare`` one :meth:`warm_up` opened; while it opens more than the threads
        already waiting for one, the next of those (begun before this thread needed one, it is
        ready sooner than a new one would be, and a run holds no more connections than it has
        threads). Connections whose server session has ended are closed, never given."""
        with self._lock:
            self._collect_ended()
            deadline = time.monotonic() + self._timeout
            while True:
                conn = self._take(self._free) or (self._take(self._spares) if spare else None)
                if conn is not None or not spare or self._closed:
                    break
                if len(self._warmers) <= self._waiting:  # none coming no one waits for
                    break
                self._waiting += 1
                try:
                    if not self._spare.wait(max(deadline - time.monotonic(), 0.0)):
                        break  # (the threads opening them are stuck: this one connects)
                finally:
                    self._waiting -= 1
            if conn is None:
                return None
            self._owners[threading.current_thread()] = conn
        if conn.raw.info.transaction_status != _driver().pq.TransactionStatus.IDLE:
            try:  # (its thread ended in a transaction)
                conn.raw.execute("ROLLBACK")
            except Exception:  # its session ended meanwhile: another
                self._forget(conn)
                return self._reuse(spare=spare)
        self._local.conn = conn
        return conn

    def _take(self, pool: list[_Conn]) -> _Conn | None:  # with self._lock held
        """The last of ``pool`` whose session has not ended; the others are closed."""
        while pool:
            conn = pool.pop()
            if not _lost(conn.raw):
                return conn
            self._discard(conn.raw)
        return None

    def _collect_ended(self) -> None:  # with self._lock held
        for thread in [t for t in self._owners if not t.is_alive()]:
            self._free.append(self._owners.pop(thread))

    def _tx(self, *, durable: bool = False) -> _Transaction:
        return _Transaction(self, durable)

    def _grouped(self, fn: Any, *, durable: bool = False, rows: int = 1) -> Any:
        try:
            with self._tx(durable=durable) as c:
                return fn(c)
        except _driver().OperationalError as exc:  # (a deferred answer's on_error hears it)
            self._reraise(exc)

    def _writable(self) -> None:
        """Raise the journal's error when it was opened read-only."""
        if self.readonly:
            raise JournalError(f"{self.path} was opened read-only")

    def _write(
        self, statements: Sequence[tuple[str, Sequence[Any]]], *, returning: bool = False
    ) -> list[Any] | None:
        """As :meth:`Journal._write`, in one round trip: BEGIN, the statements and COMMIT as one
        simple query, their parameters bound on this side (psycopg's ``ClientCursor``; measured,
        an insert and an update: 0.43 ms as four round trips, 0.21 as a pipeline, 0.06-0.16
        so). Should one fail, the server runs none after it, and the transaction is rolled
        back before the error is raised. As for every statement here, ``?`` is a placeholder
        only and a literal ``%`` is written ``%%`` (values are never part of the SQL text)."""
        self._writable()
        raw = self._thread_conn().raw
        psycopg = _driver()
        sql = "; ".join(
            [_BEGIN_NOT_DURABLE, *(_Conn._sql(q) for q, _ in statements), "COMMIT"]
        )  # fmt: skip
        try:
            cur = psycopg.ClientCursor(raw)
            cur.execute(sql, [v for _, p in statements for v in p])
        except BaseException:
            _roll_back(raw)
            raise
        if not returning:
            return None
        # (past the results of _BEGIN_NOT_DURABLE's statements, one a statement, to the first's)
        for _ in range(_BEGIN_NOT_DURABLE.count(";") + 1):
            cur.nextset()
        return cur.fetchall()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._thread_conn().execute(sql, params).fetchall()

    def _ids(self, alias: str) -> str:
        return f"unnest(CAST(? AS text[])) WITH ORDINALITY AS {alias}(value, key)"

    def _by_sms_id(self) -> str:
        # Through message_ids (schema 3: messages.sms_id has no index, see schema._PG_V3): the
        # messages that were given each id and still have it.
        # (A message written there twice comes back twice: message_info keeps one row an id.)
        return (
            f"FROM {self._ids('j')} JOIN message_ids x ON x.sms_id = j.value JOIN messages m"
            " ON m.account = x.account AND m.campaign = x.campaign AND m.msisdn = x.msisdn"
            " AND m.sms_id = j.value"
        )

    def _messages_by_id(self, ids: Sequence[str], account: str | None) -> list[Any]:
        """As the base, through message_ids; the ids it does not name are then looked for in
        the messages themselves (one scan): answers an older release wrote after the upgrade
        to schema 3 (its process had the journal open before) have no message_ids row."""
        rows = super()._messages_by_id(ids, account)
        found = {r[0] for r in rows}
        missing = [i for i in ids if i not in found]
        if not missing:
            return rows
        rows += super()._messages_by_id(missing, account, super()._by_sms_id())
        order = {i: k for k, i in enumerate(ids)}
        return sorted(rows, key=lambda r: order[r[0]])  # (stable: as recorded within an id)

    def _ids_written(self, c: Any, account: str, campaign: str,
                     pairs: Sequence[tuple[str, str]]) -> None:  # fmt: skip
        c.execute(
            "INSERT INTO message_ids (account, campaign, msisdn, sms_id) SELECT ?, ?, v.m, v.i"
            " FROM unnest(CAST(? AS text[]), CAST(? AS text[])) AS v(m, i) ON CONFLICT DO NOTHING",
            (account, campaign, _array([m for m, _ in pairs]), _array([i for _, i in pairs])),
        )

    def _ids_param(self, values: Sequence[str]) -> Any:
        return _array(values)

    @property
    def journal_mode(self) -> str:
        """``postgresql`` (SQLite answers its journal mode here).

        Example: ``journal.journal_mode``.
        """
        return "postgresql"

    # ------------------------------------------------------------ schema

    def _existing_tables(self) -> set[str]:
        rows = self._query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        return {r[0] for r in rows}

    def _migrate(self) -> None:
        tables = self._existing_tables()
        if tables and "schema_version" not in tables:
            names = ", ".join(sorted(tables)[:5])
            raise JournalError(
                f"{self.path} is not a targetsms journal (it holds other tables: {names}); "
                "it was left untouched: choose another database"
            )
        known = len(self._migrations())
        if "schema_version" in tables:
            current = self.schema_version
            if current > known:
                raise self._too_new(current)
            if current == known:
                return
        if self.readonly:
            # open_journal answers journal_outdated by opening it for writing, which upgrades it,
            # or sets up a database that holds nothing at all (in any schema); one that holds
            # another application's tables elsewhere is left to a deliberate write.
            empty = not tables and not self._query(
                "SELECT 1 FROM information_schema.tables WHERE table_schema NOT IN"
                " ('pg_catalog', 'information_schema') LIMIT 1"
            )
            what = "holds no journal yet" if not tables else "has an older journal"
            raise JournalError(
                f"{self.path} {what}: open it once for writing (e.g. send or refresh) to set it up",
                code="journal_outdated" if tables or empty else "journal",
            )
        try:
            self._apply_pending()
        except _driver().errors.LockNotAvailable:
            raise JournalError(
                f"{self.path}: could not upgrade the journal to version {known}: another session"
                " kept using its tables for 10 s (a transaction left open, in a notebook or a"
                " tool?). Nothing was changed: end that transaction (commit, or close that"
                " connection) and open the journal again",
                code="store_unavailable",
                retryable=True,
            ) from None
        except _driver().errors.InsufficientPrivilege as exc:
            said = _first_line(exc, self._url, self.path)
            raise JournalError(
                f"{self.path}: {said}. This role may not create the journal's tables: have the"
                " database's owner send once (or GRANT CREATE ON SCHEMA public TO this role)"
            ) from None

    def _apply_pending(self) -> None:
        with self._tx() as c:
            c.execute("SELECT pg_advisory_xact_lock(?, ?)", (_LOCK_NAMESPACE, _MIGRATION_LOCK))
            c.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            current = c.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
            self._apply_migrations(c, int(current[0]))

    # ------------------------------------------------------------ claims and liveness

    def _write_held(self, c: Any, values: list[tuple[Any, ...]]) -> int:
        """hold()'s rows one statement each (pipelined), in the order given (msisdn order), never
        locking a row it does not write (see ``_HOLD_ROW``)."""
        cursor = c.raw.cursor()
        rows = [dict(zip(_HOLD_COLUMNS, v, strict=True)) for v in values]
        cursor.executemany(_HOLD_ROW, rows, returning=True)
        written = 0
        while True:
            written += int(cursor.fetchone()[0])
            if not cursor.nextset():
                return written

    def _claim(
        self,
        c: Any,
        account: str,
        campaign: str,
        phones: list[str],
        text: str,
        parts: int | None,
        sender: str,
        now: str | None,
    ) -> list[str]:
        # The rows exist (see begin_batch): lock the sendable ones; rows another sender holds
        # are skipped, never waited for, so grouped claims cannot deadlock.
        rows = c.execute(_CLAIM_SQL, (sorted(phones), account, campaign)).fetchall()
        got = {r[0] for r in rows}
        return [p for p in phones if p in got]

    def begin_batch(self, campaign: str, phones: Sequence[str], text: str, *args: Any,
                    **kwargs: Any) -> Any:  # fmt: skip
        """As :meth:`Journal.begin_batch`; first the recipients' rows are made to exist
        (``pending``) in one statement of its own, in a fixed order (byte order, as Python sorts,
        whatever the database's collation): two senders inserting the same rows then never wait
        for each other in a cycle. Once :meth:`prepare` gave the campaign's run its rows, that
        statement is left out: a phone it was not given (no caller passes one) is not claimed."""
        self._check_run_locks(kwargs.get("token"))
        account = kwargs.get("account") or account_of(kwargs["user"], kwargs["url"])
        phones = list(phones)  # (any iterable: it is read more than once)
        if (account, campaign) in self._prepared:  # every recipient has its row already
            if (
                (account, campaign) in self._known_campaigns
                and not self.readonly
                and not kwargs.get("resend")  # (unknown ones: the general claim takes them)
            ):
                rest = {k: v for k, v in kwargs.items() if k != "account"}
                ticket = self._begin_fast(account, campaign, phones, text, *args, **rest)
                if ticket is not None:
                    return ticket
            return super().begin_batch(campaign, phones, text, *args, **kwargs)
        parts = args[0] if args else kwargs.get("parts")
        self._thread_conn().execute(
                "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, status,"
                " created_at) SELECT ?, ?, u.value, ?, ?, ?, 'pending', ?"
                " FROM unnest(CAST(? AS text[])) AS u(value) ORDER BY u.value COLLATE \"C\""
                " ON CONFLICT (account, campaign, msisdn) DO NOTHING",
                (account, campaign, text, parts, kwargs["sender"], iso(now_utc()),
                 [str(p) for p in phones]),
            )  # fmt: skip
        return super().begin_batch(campaign, phones, text, *args, **kwargs)

    def _begin_fast(self, account: str, campaign: str, phones: Sequence[str], text: str,
                    parts: int | None = None, *, sender: str, user: str, url: str,
                    parent: int | None = None, token: str | None = None,
                    variant: str | None = None, contacts: dict[str, Any] | None = None,
                    reserved: bool = False, **_: Any) -> BatchTicket | None:  # fmt: skip
        """The intent in one round trip: claim, batch row, messages and the last refusal in one
        statement, committed with ``synchronous_commit = on`` before this returns. Only when
        every recipient could be claimed; otherwise nothing is written and None is returned (the
        general path then claims the ones it can)."""
        intent = _fast_intent(
            account, campaign, phones, text, parts, sender=sender, user=user, url=url,
            parent=parent, token=token, variant=variant, contacts=contacts, reserved=reserved,
        )  # fmt: skip
        if intent is None:
            return None
        # One statement in autocommit mode is its own transaction, committed (and flushed:
        # the session's synchronous_commit is on) before execute() returns.
        row = self._thread_conn().fast.execute(_FAST_INTENT, intent[2]).fetchone()
        return _fast_ticket(intent, row)

    def begin_batches(self, campaign: str, batches: Sequence[Any], *, sender: str, user: str,
                      url: str, token: str | None = None, account: str | None = None,
                      prepare: Sequence[Any] | None = None,
                      each: Callable[[int, BatchTicket], Any] | None = None,
                      ) -> list[BatchTicket]:  # fmt: skip
        """As :meth:`Journal.begin_batches`: the one-statement intents (see :meth:`begin_batch`)
        sent as one pipeline in one transaction (one round trip, one commit); a batch whose
        recipients were not all claimable is then journaled on its own, as begin_batch does.

        With ``prepare`` on a campaign that has no rows yet, each recipient's row is written
        once, in flight or ``pending``, not written ``pending`` first and then claimed: the
        batches that are not ``reserved`` (first requests) with their rows, a few rows a
        transaction (all sent as one pipeline), each handed to ``each`` as soon as its
        transaction is committed (its request goes out while the next ones are written), then
        the reserved batches and the other rows in one (see :meth:`_prepare_and_begin`)."""
        self._check_run_locks(token)
        account = account or account_of(user, url)
        key = (account, campaign)
        handing = _Handing(len(batches), each)
        hand, out = handing.hand, handing.out
        try:
            if prepare is not None:
                if key in self._known_campaigns and not self.readonly:
                    if self._prepare_and_begin(key, prepare, batches, sender=sender, user=user,
                                               url=url, token=token, hand=hand):  # fmt: skip
                        self._prepared.add(key)
                        return handing.tickets()
                self.prepare(campaign, prepare, account=account)  # (rows not written yet)
            fast = key in self._prepared and key in self._known_campaigns and not self.readonly
            todo = [k for k, t in enumerate(out) if t is None]
            intents = {
                k: _fast_intent(
                    account, campaign, **batch_fields(batches[k]), sender=sender, user=user,
                    url=url, token=token,
                )
                for k in (todo if fast else ())
            }  # fmt: skip
            tried = [k for k, i in intents.items() if i is not None]
            cursors = _pipelined(
                self._thread_conn().raw, [(_FAST_INTENT, intents[k][2]) for k in tried]
            )
            # Committed already: should a batch journaled after them fail (or Ctrl-C come), those
            # not handed to `each` go back to pending before the error is raised, never left in
            # flight without a ticket.
            made: dict[int, BatchTicket] = {}
            for k, cur in zip(tried, cursors, strict=True):
                ticket = _fast_ticket(intents[k], cur.fetchone())
                if ticket is not None:
                    made[k] = ticket
            hand(made)
            # The rest on their own: the general claim where the one statement was tried (it
            # wrote nothing: not every recipient was free), else begin_batch from the start.
            alone = super().begin_batch if fast else self.begin_batch
            for k in todo:
                if out[k] is None:
                    hand({k: alone(
                        campaign, **batch_fields(batches[k]), sender=sender, user=user,
                        url=url, token=token, account=account,
                    )})  # fmt: skip
        except BaseException:
            self._release(campaign, handing.not_handed())
            raise
        return handing.tickets()

    def _prepare_and_begin(self, key: tuple[str, str], items: Sequence[Any],
                           batches: Sequence[Any], *, sender: str, user: str, url: str,
                           token: str | None,
                           hand: Callable[..., None]) -> bool:  # fmt: skip
        """A new campaign's rows and its first intents, each row written once, in byte order
        in each transaction (as prepare() writes them: no cycle with another sender's).

        First the batches that are not ``reserved`` (first requests) with their rows, in
        flight: each transaction takes those that fit within ``_GROUP_ROWS`` rows (at least
        one) and is one statement (``_FIRST_STEP``), all of them sent as one pipeline (see
        :class:`_OneByOne`); each is given to ``hand({index: ticket})`` once committed, so that
        its request goes out while the next are written, and the server writes the next with no
        round trip in between. Then the reserved batches and every other recipient's row
        (``pending``) in one transaction (``COPY``). True once every recipient has its row.

        Measured, send_campaign of 1,000 recipients in 7 requests at 16 workers: 63 -> 55 ms
        (the median of 30) with a transaction per first request against all in one (and a
        large campaign's other rows no longer hold up its first requests); 55.9 -> 52.0 ms
        (the mean of 6 x 6) with those sent as one pipeline against one after the other
        (BEGIN, an INSERT, a COPY and a COMMIT each: the server waited for this side, which
        shares the two cores with the workers' requests).

        Only when the campaign has no rows yet; should another sender write some of these
        meanwhile (a statement then fails on the key), that transaction is rolled back (those
        after it still run, and are handed over once committed) and False returned: the
        batches not handed are claimed the usual way, after prepare(). Should a Ctrl-C or
        another error come while the first are written, those the server committed all the
        same are kept, not handed (begin_batches sends them back to pending).

        ``COPY`` for the rest rather than ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO
        NOTHING``: no arrays to take apart and no conflict check before each row (measured,
        1,000 rows: 27 -> 15 ms, client and server); a pipeline takes no ``COPY``."""
        account, campaign = key
        intents = [
            _batch_row(
                account, campaign, b["phones"], b["text"], sender=sender, user=user, url=url,
                parent=b.get("parent"), token=token, variant=b.get("variant"),
                reserved=bool(b.get("reserved")),
            )
            for b in batches
        ]  # fmt: skip
        if not intents or any(i is None for i in intents):
            return False
        claimed = sum(len(i[0]) for i in intents)
        if len({p for i in intents for p in i[0]}) != claimed:  # a phone in two batches
            return False
        psycopg = _driver()
        raw = self._thread_conn().raw
        tuples = psycopg.rows.tuple_row
        with raw.pipeline():  # (one round trip; read only: each statement its own snapshot)
            looked = raw.cursor(row_factory=tuples).execute(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE account = %s AND campaign = %s),"
                " ARRAY(SELECT nextval(pg_get_serial_sequence('batches', 'id'))"
                " FROM generate_series(1, %s))",
                (account, campaign, len(intents)),
            )
            refusals = raw.cursor(row_factory=tuples).execute(
                _REFUSALS_SQL, (_array([i[1] for i in intents]),)
            )
        had, ids = looked.fetchone()
        refused = dict(refusals.fetchall())
        if had:
            return False
        ahead = [k for k, b in enumerate(batches) if b.get("reserved")]
        # Each transaction takes the batches that fit within _GROUP_ROWS rows (at least one,
        # as a group commit does): a shared text's batches (~143 recipients) one by one, each
        # request going as soon as it can; a wave of personal texts (one recipient each) in one
        # (measured, 16 recipients at 16 workers: 59 ms with one transaction each, 49 so).
        wave: list[list[int]] = []
        rows_in = 0
        for k in range(len(batches)):
            if k in ahead:
                continue
            n = len(intents[k][0])
            if not wave or rows_in + n > self._GROUP_ROWS:
                wave.append([k])
                rows_in = n
            else:
                wave[-1].append(k)
                rows_in += n
        now = iso(now_utc())
        owner = intents[0][2]  # (the run's: the same in every batch row)
        statements = (
            _first_step(account, campaign, sender, owner, now, [
                (ids[k], intents[k], batches[k]) for k in step
            ])
            for step in wave
        )  # fmt: skip
        gave_way = False
        pipeline = _OneByOne(raw)
        try:
            pipeline.send(statements)
            for n, error in pipeline:
                if error is None:
                    hand({k: _fast_ticket(intents[k], (ids[k], refused.get(intents[k][1])))
                          for k in wave[n]})  # fmt: skip
                elif isinstance(error, psycopg.errors.UniqueViolation):
                    gave_way = True  # someone else wrote some of them meanwhile
                else:
                    raise error
        except BaseException:  # those committed meanwhile go back to pending (begin_batches)
            # Which the server committed, as it says once every one has run (a step is one
            # statement, its batches there or not); else as read here, which an interrupt
            # landing as a result was read could miscount. (Those read already count: one may
            # have been read as the interrupt came, its ticket not stored yet; a ticket handed
            # over already stays the caller's.)
            read = list(pipeline.committed)
            read += [n for n, error in pipeline.drain() if error is None]
            pipeline.close()
            there = None if pipeline.broken else _batches_there(raw, [ids[st[0]] for st in wave])
            for n in read if there is None else [n for n in range(len(wave)) if there[n]]:
                hand({k: _fast_ticket(intents[k], (ids[k], None)) for k in wave[n]}, give=False)
            raise
        finally:
            pipeline.close()
        if gave_way:
            return False
        in_batches = {p for i in intents for p in i[0]}
        rows: dict[str, tuple[Any, ...]] = {
            str(i[0]): (i[2] or "", i[3], i[1], None, None, None, "pending")
            for i in items
            if str(i[0]) not in in_batches
        }
        for k in ahead:
            contacts = batches[k].get("contacts") or {}
            for p in intents[k][0]:
                rows[p] = (batches[k]["text"], batches[k].get("parts"), sender,
                           batches[k].get("variant"), json_or_none(contacts.get(p)), ids[k],
                           "inflight")  # fmt: skip
        if rows:
            phones = sorted(rows)
            try:
                with raw.transaction():
                    cur = raw.cursor(row_factory=tuples)
                    cur.executemany(  # (no batch: nothing sent)
                        "INSERT INTO batches (id, account, campaign, parent, state, recipients,"
                        " size, text_hash, fingerprint, sender, variant, owner_pid, owner_host,"
                        " owner_token, started_at) VALUES (%(id)s, %(a)s, %(c)s, %(parent)s,"
                        " %(state)s, %(recipients)s, %(n)s, %(hash)s, %(fp)s, %(sender)s,"
                        " %(variant)s, %(pid)s, %(host)s, %(token)s, %(now)s)",
                        [{**intents[k][2], "id": ids[k]} for k in ahead],
                    )
                    _copy_rows(cur, _COPY_MESSAGES,
                               ((account, campaign, p, *rows[p], now) for p in phones))  # fmt: skip
            except psycopg.errors.UniqueViolation:  # someone else wrote some of them meanwhile
                return False
            hand({k: _fast_ticket(intents[k], (ids[k], refused.get(intents[k][1]))) for k in ahead})
        return True

    def _write_queued(self, queued: list[Any]) -> None:
        """The answer writer's batch: its one-statement answers sent as one pipeline (see
        :func:`_pipelined`: one round trip, flushed like a single answer's); the rest, or all
        after an error, as the base does."""
        fast = [w for w in queued if isinstance(w.fn, _OneStatement)]
        if not fast or self.readonly:
            super()._write_queued(queued)
            return
        rest = [w for w in queued if not isinstance(w.fn, _OneStatement)]
        if rest:
            super()._write_queued(rest)
        try:
            try:
                statements = [(w.fn.sql, w.fn.params) for w in fast]
                answered = _pipelined(self._thread_conn().raw, statements, prepare=True)
            except Exception:
                # One of them failed, or the connection did: each alone, so that the error
                # finds its owner (the base reports and marks each one).
                super()._write_queued(fast)
                return
            for work, cur in zip(fast, answered, strict=True):
                if not cur.fetchone()[0]:
                    work.error = KeyError(f"no batch {work.fn.batch_id}")
                    _report(work.on_error, work.error)
        finally:  # whatever happened, nobody waits for these any longer
            for work in fast:
                work.done = True
                work.wake.set()

    def _answer_work(self, batch_id: int, outcome: str, sms_ids: Sequence[str] | None,
                     error_code: str | None, error_text: str | None,
                     phones: Sequence[str] | None) -> Any:  # fmt: skip
        """As :meth:`Journal._answer_work`; with ``phones`` (the ticket's), one statement (one
        round trip): the messages and the batch row together."""
        sql = _FAST_ANSWER.get(outcome)
        if phones is None or sql is None or self.readonly:
            return super()._answer_work(batch_id, outcome, sms_ids, error_code, error_text, phones)
        if outcome == "sent" and (sms_ids is None or len(sms_ids) != len(phones)):
            raise ValueError(f"batch {batch_id}: {len(phones)} phones, ids {sms_ids!r}")
        state = {"sent": "done", "pending": "failed", "split": "split", "unknown": "unknown"}
        params = {
            "id": batch_id, "now": iso(now_utc()), "code": error_code, "why": error_text,
            "state": state.get(outcome, "done"), "outcome": outcome,
            "phones": _array(phones),
            "ids": _array(sms_ids or ()),
        }  # fmt: skip
        return _OneStatement(sql, params, batch_id)

    def _commit_answer(self, work: Any, *, rows: int = 1) -> None:
        """One statement commits on its own (autocommit): no BEGIN/COMMIT round trips."""
        if isinstance(work, _OneStatement):
            work(self._thread_conn())
        else:
            super()._commit_answer(work, rows=rows)

    def launch_batch(self, batch_id: int, *, token: str | None = None) -> bool:
        """As :meth:`Journal.launch_batch`: one statement, flushed before it returns; a run
        whose lock went with its session launches nothing (raises). A thread with no
        connection of its own (its first intent was committed for it) launches on the
        journal's launcher, when :meth:`warm_up` opened one: the workers of a run whose every
        batch was claimed up front then need no connection each (a server session starting
        takes 20-50 ms of a busy machine's CPU, while the requests are out).

        Example: ``journal.launch_batch(ticket.id, token=token)``.
        """
        self._check_run_locks(token)
        self._writable()
        params = (iso(now_utc()), batch_id)
        launcher = self._launch_connection()
        if launcher is not None:
            with self._launching:
                return launcher.fast.execute(_LAUNCH, params).fetchone() is not None
        return self._thread_conn().fast.execute(_LAUNCH, params).fetchone() is not None

    def prepare(self, campaign: str, items: Sequence[tuple[str, str, str | None, int | None]],
                *, account: str) -> None:  # fmt: skip
        """Give every recipient of a run its row (``pending`` if it had none) in one statement,
        in a fixed order (byte order, as hold() writes them), so that claims only lock rows (never
        insert them) and cannot deadlock.

        ``items``: ``(msisdn, sender, text, parts)`` as the run will send them.
        """
        if items:
            self._thread_conn().execute(
                "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, status,"
                " created_at) SELECT ?, ?, u.m, u.t, u.p, u.s, 'pending', ?"
                " FROM unnest(CAST(? AS text[]), CAST(? AS text[]), CAST(? AS integer[]),"
                " CAST(? AS text[])) AS u(m, t, p, s) ORDER BY u.m COLLATE \"C\""
                " ON CONFLICT (account, campaign, msisdn) DO NOTHING",
                (account, campaign, iso(now_utc()), _array([i[0] for i in items]),
                 _array([i[2] or "" for i in items]), _array([i[3] for i in items]),
                 _array([i[1] for i in items])),
            )  # fmt: skip
        self._prepared.add((account, campaign))

    def _register_run(self, token: str, row: tuple[str, Sequence[Any]]) -> None:
        """As :meth:`Journal._register_run`: the run's session lock taken, its row written and
        the lock's key on it, in one transaction and one round trip (see :meth:`_write`), the
        lock first; before, the row was committed, then the lock taken and the key written (six
        round trips)."""
        self._writable()
        key = random.randint(1, 2**31 - 1)
        conn = self._thread_conn()  # the run's lock lives as long as this connection
        try:
            self._write([
                ("SELECT pg_advisory_lock(?, ?)", (_LOCK_NAMESPACE, key)),
                row,
                ("UPDATE runs SET lock_key = ? WHERE token = ?", (key, token)),
            ])  # fmt: skip
        except BaseException:
            # A session lock outlives the transaction that took it: let it go (or, should
            # that fail, the session with it), so that no run nobody registered holds it.
            try:
                conn.raw.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_NAMESPACE, key))
            except Exception:
                conn.raw.close()
            raise
        with self._lock:
            self._run_locks[token] = (key, conn)

    def _ending(self) -> bool:
        return self._closed

    def _answer_writer_started(self) -> None:
        try:
            self._local.spare = False  # (the senders' spares are theirs, whenever it connects)
            self._local.warm = True  # (before its first answer comes, see _warm_statements)
            self._thread_conn()
        except Exception as exc:  # the first answer connects again, and reports the error
            logger.debug("%s: the answer writer could not connect yet: %s", self.path, exc)

    def _run_ended(self, token: str) -> None:
        with self._lock:
            self._lost_runs.discard(token)
            held = self._run_locks.pop(token, None)
        if held is None or _lost(held[1].raw):  # (it went with its session)
            return
        key, conn = held
        try:
            conn.execute("SELECT pg_advisory_unlock(?, ?)", (_LOCK_NAMESPACE, key))
        except _driver().OperationalError as exc:
            if not _means_unavailable(exc):
                raise
            # Its session ended without a word (a network gone), or cannot be used: closed, so
            # that the lock surely goes with it (the connection's next user opens another).
            conn.raw.close()
            logger.debug("%s: run %s: its lock's connection was lost: %s", self.path, token, exc)

    def _lock_held(self, key: int) -> bool:
        # Advisory locks are per database: a run of another journal on the same server may
        # have drawn the same key.
        rows = self._query(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = CAST(? AS oid) AND objid = CAST(? AS oid) AND objsubid = 2",
            (_LOCK_NAMESPACE, key),
        )
        return bool(rows)

    def _orphaned(self, row: Any, now: Any) -> bool:
        key = row["lock_key"]
        if key is None:  # a run without a lock (an older writer): pid and age decide
            return super()._orphaned(row, now)
        return not row["live"] or not self._lock_held(int(key))


def _connect_options(url: str) -> dict[str, Any]:
    """The connection options the journal adds to ``url``: the TCP probes of ``_KEEPALIVES``
    it does not set itself (a keyword argument would override the URL's), and a
    ``tcp_user_timeout`` as long as the probes take to give up (idle + interval x count), unless
    the URL sets one or turns the probes off, or libpq is older than 12 (it knows none). Nothing
    for a URL that names a service (``service=``, ``PGSERVICE``): its file decides.

    Example: ``_connect_options("postgresql://u@db/team?keepalives_idle=5")["tcp_user_timeout"]``
    is ``65000``.
    """
    psycopg = _driver()
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = conninfo_to_dict(url)
    except Exception:  # (psycopg.connect says what is wrong with it)
        given = {}
    if "service" in given or os.environ.get("PGSERVICE"):
        return {}
    if str(given.get("keepalives", "1")).strip() == "0":
        return {}
    options: dict[str, Any] = {k: v for k, v in _KEEPALIVES.items() if k not in given}
    if "tcp_user_timeout" not in given and psycopg.pq.version() >= 120000:
        merged = {**_KEEPALIVES, **given}
        try:
            idle, interval, count = (
                int(merged[k])
                for k in ("keepalives_idle", "keepalives_interval", "keepalives_count")
            )
        except (TypeError, ValueError):  # (libpq says what is wrong with them)
            return options
        options["tcp_user_timeout"] = 1000 * (idle + interval * count)
    return options


def _lost(raw: Any) -> bool:
    """Whether a connection's server session has ended: closed, or idle with something to read
    (the server's last word as it ends a session, a restart or an administrator's; nothing
    else comes to an idle session of ours, and should it, this costs one reconnect). A session
    lost with no word (a network gone) shows on first use."""
    if raw.closed:
        return True
    if not raw.lock.acquire(blocking=False):  # a statement is on it (another thread's): alive
        return False
    try:
        pgconn = raw.pgconn
        if pgconn.transaction_status != _driver().pq.TransactionStatus.IDLE:
            return False
        try:
            fd = pgconn.socket
        except Exception:  # (no socket: a bad connection)
            return True
        return _wait(fd, timeout=0)
    finally:
        raw.lock.release()


# A connection lost or refused (SQLSTATE class 08, or none: said by the driver), the server
# shutting down or starting, too many clients: the store is unavailable, not the statement wrong.
_UNAVAILABLE = ("57P01", "57P02", "57P03", "53300")


def _first_line(exc: BaseException, url: str, path: str) -> str:
    """The first line of what the driver said, with the store's URL as ``path`` (no password)."""
    said = str(exc).replace(url, path).strip()
    return said.splitlines()[0] if said else type(exc).__name__


# What the server or libpq said at connection time, where psycopg gives no SQLSTATE: as one.
_SAID_STATES = (
    (re.compile(r'database ".*" does not exist'), "3D000"),
    (re.compile(r'role ".*" does not exist'), "28000"),
    (re.compile(r"password authentication failed|no password supplied"), "28P01"),
    (re.compile(r"too many clients"), "53300"),
    (re.compile(r"the database system is (?:starting up|shutting down)"), "57P03"),
)
# What libpq says of a server it cannot reach (yet): worth calling again.
_UNREACHABLE_WORDS = ("connection refused", "timeout expired", "timed out", "could not translate",
                      "resolve host", "server closed the connection", "no route to host",
                      "network is unreachable")  # fmt: skip


def _passing(exc: BaseException) -> bool:
    """Whether a failure to connect may pass by itself (the server down, starting, full, out of
    reach), rather than stay as it is (a wrong URL, database, user or password, TLS refused)."""
    state = _state(exc)
    if state is not None:
        return _unavailable_state(state)
    said = str(exc).lower()
    return any(words in said for words in _UNREACHABLE_WORDS)


def _state(exc: BaseException) -> str | None:
    """``exc``'s SQLSTATE, or the one its words mean (a connection refused at its start)."""
    state = getattr(exc, "sqlstate", None)
    if state is None:
        said = str(exc).lower()
        state = next((code for pattern, code in _SAID_STATES if pattern.search(said)), None)
    return state


def _what_to_do(exc: BaseException) -> str:
    """A sentence (with its leading space) on what to do about the driver's ``exc``, or ``""``."""
    state = _state(exc)
    if state == "3D000":
        return " Create the database first (createdb NAME, or CREATE DATABASE) or correct the URL."
    if state in ("28P01", "28000"):
        return " Check the user and its password (in ~/.pgpass or PGPASSWORD, not in the URL)."
    if state == "57P03":
        return " The server is starting or stopping: try again in a moment."
    if state == "53300":
        return (
            " The server takes no more connections: a run needs concurrency + 2 of them, so"
            " lower concurrency (or have the server's max_connections raised)."
        )
    if state is None and _passing(exc):
        return " Check that the server runs and that the URL's host and port are right."
    return ""


def _means_unavailable(exc: BaseException) -> bool:
    """Whether a statement's error says the store is unavailable (none from the server: the
    driver's own, a connection lost)."""
    state = getattr(exc, "sqlstate", None)
    return state is None or _unavailable_state(state)


def _unavailable_state(state: str) -> bool:
    return state.startswith("08") or state in _UNAVAILABLE


def _guarded(fn: Any) -> Any:
    """``fn`` (a public method of the journal), the driver's errors that say the store is
    unavailable raised as the journal's (see :meth:`PostgresJournal._reraise`)."""

    @functools.wraps(fn)
    def call(self: PostgresJournal, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except _driver().OperationalError as exc:
            self._reraise(exc)

    return call


for _name in dir(PostgresJournal):
    _attr = inspect.getattr_static(PostgresJournal, _name)
    if _name.startswith("_") or isinstance(_attr, staticmethod | classmethod):
        continue
    if isinstance(_attr, property):
        setattr(PostgresJournal, _name,
                property(_guarded(_attr.fget), _attr.fset, _attr.fdel, _attr.__doc__))  # fmt: skip
    elif inspect.isfunction(_attr):
        setattr(PostgresJournal, _name, _guarded(_attr))
del _name, _attr


def _copy_rows(cur: Any, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` written with ``sql`` (a ``COPY … FROM STDIN``) on ``cur``. Should anything stop
    it, a COPY the server still waits for data of is ended, so that the transaction can roll back
    and the connection stays usable: a Ctrl-C that lands after the statement went out and before
    its answer came leaves psycopg no copy object to end it with (every later statement would
    fail: "another command is already in progress")."""
    try:
        with cur.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
    except BaseException:
        pgconn = cur.connection.pgconn
        if pgconn.transaction_status == _driver().pq.TransactionStatus.ACTIVE:
            try:
                pgconn.put_copy_end(b"interrupted")
                while pgconn.get_result() is not None:
                    pass
            except Exception as exc:  # the connection is gone: the error raised says so
                logger.debug("could not end an interrupted COPY: %s", exc)
        raise


def _pipelined(raw: Any, statements: Sequence[tuple[str, Any]], *,
               prepare: bool | None = None) -> list[Any]:  # fmt: skip
    """``statements`` (sql, params) in one transaction sent as one pipeline (one round trip):
    their cursors, to read once it is committed (with the session's ``synchronous_commit = on``:
    flushed before this returns). An error rolls the transaction back (when the connection still
    can) and is raised. No statements: nothing is sent; one: sent alone, no BEGIN and COMMIT.

    The BEGIN is needed although PostgreSQL would run a pipeline's statements up to its Sync as
    one transaction anyway: should an error come on this side (a value the driver cannot encode,
    Ctrl-C between two statements), psycopg still ends the pipeline with a Sync, which would
    commit the statements sent before it; in an open transaction block it commits nothing.
    ``prepare``: as psycopg's ``execute`` takes it, for each statement.
    """
    if not statements:
        return []
    psycopg = _driver()
    tuples = psycopg.rows.tuple_row
    if len(statements) == 1:  # one statement in autocommit mode is its own transaction
        ((sql, params),) = statements
        return [raw.cursor(row_factory=tuples).execute(sql, params, prepare=prepare)]
    try:
        with raw.pipeline():
            raw.execute("BEGIN")
            cursors = [
                raw.cursor(row_factory=tuples).execute(q, p, prepare=prepare) for q, p in statements
            ]
            raw.execute("COMMIT")
    except BaseException:
        _roll_back(raw)
        raise
    return cursors


def _roll_back(raw: Any) -> None:
    """End the transaction a failed statement left ``raw`` in (when the connection still can:
    a broken one says so in the error its caller raises)."""
    psycopg = _driver()
    try:
        if not raw.closed and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raw.execute("ROLLBACK")
    except psycopg.Error:
        pass


def _fast_intent(account: str, campaign: str, phones: Sequence[str], text: str,
                 parts: int | None, *, sender: str, user: str, url: str, parent: int | None,
                 token: str | None, variant: str | None, contacts: dict[str, Any] | None,
                 reserved: bool = False) -> tuple[list[str], str, dict] | None:  # fmt: skip
    """``_FAST_INTENT``'s parameters for a batch: (its phones, its fingerprint, the parameters),
    or None when it has no phones."""
    batch = _batch_row(account, campaign, phones, text, sender=sender, user=user, url=url,
                       parent=parent, token=token, variant=variant, reserved=reserved)  # fmt: skip
    if batch is None:
        return None
    wanted, fingerprint, params = batch
    contacts = contacts or {}
    params.update(
        phones=_array(wanted), sorted=_array(sorted(wanted)), text=text, parts=parts,
        contacts=_array([json_or_none(contacts.get(p)) for p in wanted]),
    )  # fmt: skip
    return wanted, fingerprint, params


def _batch_row(account: str, campaign: str, phones: Sequence[str], text: str, *, sender: str,
               user: str, url: str, parent: int | None, token: str | None,
               variant: str | None, reserved: bool = False) -> tuple[list[str], str, dict] | None:  # fmt: skip
    """A batch row's parameters, as ``_FAST_INTENT`` and ``_prepare_and_begin`` write it:
    (its phones, its fingerprint, the parameters), or None when it has no phones."""
    wanted = list(dict.fromkeys(str(p) for p in phones))
    if not wanted:
        return None
    fingerprint = request_fingerprint(url, user, sender, wanted, text)
    params = {
        "a": account, "c": campaign, "n": len(wanted), "parent": parent,
        "recipients": json.dumps(wanted), "hash": text_hash(text), "fp": fingerprint,
        "sender": sender, "variant": variant, "pid": os.getpid(), "host": _HOST,
        "token": token, "now": iso(now_utc()), "state": "reserved" if reserved else "inflight",
    }  # fmt: skip
    return wanted, fingerprint, params


def _warm_statements(conn: _Conn, *, launches: bool = False) -> None:
    """Ready a connection opened ahead of need for its hot statements: the intent and the
    answers (with ``launches``, the launch of a reserved batch too), each run once, prepared
    (as a sender's session plans them, see ``_SENDER_SETUP``), for a batch no campaign has
    (account and campaign empty, batch 0), so that nothing is written or locked. A new server
    session otherwise reads the tables' and indexes' catalog entries and plans each statement
    at its first use (measured: a new session's first answer of 143 rows 6.8 ms, 2.2 ms once
    warm; its first intent ~4 ms), which would delay the answers or the next request it is
    opened for. Best effort: a failure here is the first statement's to raise again."""
    intent = _fast_intent("", "", ["0"], "", None, sender="", user="", url="", parent=None,
                          token="", variant=None, contacts=None)  # fmt: skip
    assert intent is not None
    params = {**intent[2], "n": -1}  # (never true: nothing is inserted whatever exists)
    answer = {"id": 0, "now": params["now"], "code": None, "why": None, "state": "done",
              "outcome": "sent", "phones": _array(()), "ids": _array(())}  # fmt: skip
    try:
        conn.fast.execute(_FAST_INTENT, params, prepare=True)
        conn.fast.execute(_FAST_ANSWER["sent"], answer, prepare=True)
        if launches:  # (no batch 0: no row)
            conn.fast.execute(_LAUNCH, (params["now"], 0), prepare=True)
    except Exception as exc:
        logger.debug("could not ready the hot statements: %s", exc)


def _fast_ticket(intent: tuple[list[str], str, dict], row: Any) -> BatchTicket | None:
    """The ticket ``_FAST_INTENT`` answered with ``row`` (its batch's id, its request's last
    refusal; as _prepare_and_begin has them too); None when it wrote nothing (someone else
    holds a recipient, or one has an outcome)."""
    if row[0] is None:
        return None
    refused = row[1]
    refused_at = None if refused is None else datetime.fromisoformat(refused)
    reserved = intent[2]["state"] == "reserved"
    return BatchTicket(int(row[0]), intent[0], intent[1], refused_at, reserved)


def _batches_there(raw: Any, ids: Sequence[int]) -> list[bool] | None:
    """Whether each of batches ``ids`` is in the journal (its transaction committed), as this
    connection sees it now; None when it cannot tell (its error is logged)."""
    try:
        cur = raw.cursor(row_factory=_driver().rows.tuple_row)
        found = {r[0] for r in cur.execute(
            "SELECT id FROM batches WHERE id = ANY(CAST(%s AS bigint[]))", (_array(ids),)
        ).fetchall()}  # fmt: skip
    except Exception as exc:
        logger.debug("could not tell which first requests were committed: %s", exc)
        return None
    return [i in found for i in ids]


def _first_step(account: str, campaign: str, sender: str, owner: dict[str, Any], now: str,
                batches: Sequence[tuple[int, tuple[list[str], str, dict], Any]],
                ) -> list[str | None]:  # fmt: skip
    """``_FIRST_STEP``'s parameters for ``batches`` (id, its ``_batch_row``, its batch dict):
    their rows in byte order; ``owner``: a batch row's parameters (its owner's pid, host and
    run token are every batch's)."""
    rows = sorted(
        (p, b["text"], b.get("parts"), b.get("variant"),
         json_or_none((b.get("contacts") or {}).get(p)), batch_id)
        for batch_id, (wanted, _, _), b in batches
        for p in wanted
    )  # fmt: skip
    params = [i[2] for _, i, _ in batches]
    columns = list(zip(*rows, strict=True))
    return [
        account, campaign, sender, str(owner["pid"]), owner["host"], owner["token"],
        *(_array([q[c] for q in params] if c != "id" else [b[0] for b in batches])
          for c in ("id", "parent", "recipients", "n", "hash", "fp", "variant", "now")),
        now, *(_array(c) for c in columns),
    ]  # fmt: skip


class _OneByOne:
    """Statements each in a transaction of its own, sent as one pipeline: the server runs each
    as soon as the one before is committed, with no round trip between them (a new campaign's
    first requests, see :meth:`PostgresJournal._prepare_and_begin`). Iterating gives
    ``(index, None)`` once statement ``index`` is committed, ``(index, error)`` once it failed
    (rolled back; the next still run), in order. :meth:`drain` reads the rest after an
    interrupt; :meth:`close` leaves the connection as it found it.

    Each statement is followed by its own Sync, which commits it (with the session's
    ``synchronous_commit = on``: flushed before the server says so), and is one statement: it
    is all written or not at all, whatever stops this side. Parameters are text, sent as
    they are (``$n`` placeholders), on libpq's interface (``psycopg.pq``): psycopg's
    pipeline reads every result queued before the one asked for.
    """

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.pg = raw.pgconn
        self.encoding = raw.info.encoding
        self.sent = self.synced = self.read = 0
        self.error: BaseException | None = None  # the statement being read failed
        self.committed: list[int] = []  # those read committed, in order
        self.broken = False
        self.open = True  # (until close(): its statements are being sent or read)
        _PIPELINED[raw] = weakref.ref(self)  # (first: should Ctrl-C come next, its next use
        # leaves the mode; a reference that keeps neither it nor the connection alive)
        self.pg.enter_pipeline_mode()

    def send(self, statements: Iterable[list[str | None]]) -> None:
        """Send each statement (``_FIRST_STEP``'s parameters) and its Sync, flushed at once:
        the first is under way while the next are built."""
        sql = _FIRST_STEP.encode()
        for params in statements:
            self.pg.send_query_params(
                sql, [None if v is None else v.encode(self.encoding) for v in params]
            )
            self.sent += 1
            self.pg.pipeline_sync()
            self.synced += 1
            self._flush()

    def _flush(self) -> None:
        """Send what libpq holds, reading what the server answers meanwhile (it could wait for
        this side to read before it reads on: libpq's advice for a non-blocking connection)."""
        while self.pg.flush():
            if _wait(self.pg.socket, write=True):
                self.pg.consume_input()

    def _result(self) -> Any:
        """The next result (None between those of two statements), waiting for it."""
        while True:
            self.pg.consume_input()
            if not self.pg.is_busy():
                return self.pg.get_result()
            _wait(self.pg.socket)

    def __iter__(self) -> Iterator[tuple[int, BaseException | None]]:
        pq = _driver().pq
        nothing = False
        while self.read < self.synced:
            result = self._result()
            if result is None:
                if nothing:  # (twice, libpq idle: nothing is queued, a Sync read as Ctrl-C
                    return  # came went uncounted; those after it are told one place early)
                nothing = True
                continue
            nothing = False
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                self.read += 1
                error, self.error = self.error, None
                if error is None:
                    self.committed.append(self.read - 1)
                yield self.read - 1, error
            elif result.status == pq.ExecStatus.FATAL_ERROR:
                self.error = _result_error(result, self.encoding)
            elif result.status != pq.ExecStatus.COMMAND_OK:  # pragma: no cover - defensive
                self.error = _driver().InterfaceError(f"unexpected result {result.status.name}")

    def drain(self) -> list[tuple[int, BaseException | None]]:
        """After an interrupt: the outcome of each statement sent and not read yet (the server
        runs them anyway). Should reading them fail too, the connection is closed and those read
        so far returned: the others stay as the server left them (a batch committed in flight
        is then ``unknown`` for the next run, never resent); a second Ctrl-C is raised. (The
        same for those after a Sync that the interrupt came as it was read: its count lost,
        they are told one place early, the last never; and the reading ends with libpq's
        queue, not waiting for a result that will not come.)"""
        done: list[tuple[int, BaseException | None]] = []
        try:
            if self.sent > self.synced:  # (a statement sent, its Sync not: one commits it)
                self.pg.pipeline_sync()
                self.synced = self.sent
            self._flush()
            done.extend(self)
        except Exception as exc:
            logger.debug("could not read what the pipeline committed: %s", exc)
            self._break()
        except BaseException:
            self._break()
            raise
        return done

    def _break(self) -> None:
        self.broken = True
        _PIPELINED.pop(self.raw, None)
        # (this thread's next statement opens a new connection, see _lost; should it be the
        # journal's own, the run's lock goes with it: the run claims nothing more, and other
        # senders take its batches in flight for unknown, as for any connection lost)
        self.raw.close()

    def close(self) -> None:
        """Leave pipeline mode (every result read), or close a connection left half-read (a
        Ctrl-C between a statement queued and counted): raises no error of its own, so as not
        to hide the one being raised (should a Ctrl-C stop it, the connection's next use in
        :meth:`PostgresJournal._thread_conn` does it, see :meth:`leave`)."""
        self.open = False
        if not self.broken:
            self.leave(self.raw)

    @staticmethod
    def leave(raw: Any) -> None:
        """Take ``raw`` out of pipeline mode, or close it when it cannot be (results unread);
        one whose pipeline is still being read (by a caller below on this very thread: an
        ``each`` that uses the journal) is left as it is, and the journal's error raised."""
        ref = _PIPELINED.get(raw)
        pipeline = None if ref is None else ref()
        try:
            if not raw.closed and raw.pgconn.pipeline_status != _driver().pq.PipelineStatus.OFF:
                raw.pgconn.exit_pipeline_mode()
        except Exception as exc:
            if pipeline is not None and pipeline.open:
                raise JournalError(
                    "the journal was used on the thread writing a new campaign's first"
                    " requests, before they were all written (from begin_batches' each?)"
                ) from exc
            logger.debug("could not leave pipeline mode: %s", exc)
            raw.close()
        _PIPELINED.pop(raw, None)


#: Connections an _OneByOne put in pipeline mode and has not taken out of it yet: raw -> it.
_PIPELINED: weakref.WeakKeyDictionary[Any, weakref.ref[_OneByOne]] = weakref.WeakKeyDictionary()


def _wait(fd: int, *, write: bool = False, timeout: float | None = None) -> bool:
    """Wait until socket ``fd`` is readable or, with ``write``, writable (``timeout`` seconds at
    most; None: as long as it takes); True once readable, closed or in error (any event but
    writable). poll() where there is one: select() takes no descriptor above 1023 (a process
    with many files open)."""
    if hasattr(select, "poll"):
        poll = select.poll()
        poll.register(fd, select.POLLIN | (select.POLLOUT if write else 0))
        readable = select.POLLIN | select.POLLERR | select.POLLHUP | select.POLLNVAL
        events = poll.poll(None if timeout is None else timeout * 1000)
        return any(event & readable for _, event in events)
    return bool(select.select([fd], [fd] if write else [], [], timeout)[0])  # pragma: no cover


def _result_error(result: Any, encoding: str) -> BaseException:
    """The driver's exception for a failed statement's ``result`` (by its SQLSTATE)."""
    pq = _driver().pq
    state = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()
    message = (result.error_message or b"").decode(encoding, "replace").strip()
    try:
        return _driver().errors.lookup(state)(message)
    except KeyError:  # (no SQLSTATE, or one this driver does not know)
        return _driver().DatabaseError(message)


class _OneStatement:
    """A batch's answer as one statement (see :meth:`PostgresJournal._answer_work`): called
    with a connection it runs there; the answer writer sends several in one pipeline."""

    __slots__ = ("batch_id", "params", "sql")

    def __init__(self, sql: str, params: dict[str, Any], batch_id: int) -> None:
        self.sql, self.params, self.batch_id = sql, params, batch_id

    def __call__(self, c: _Conn) -> None:
        row = c.fast.execute(self.sql, self.params, prepare=True).fetchone()
        if not row[0]:
            raise KeyError(f"no batch {self.batch_id}")


class _Transaction:
    """``with journal._tx() as conn``: BEGIN … COMMIT (ROLLBACK on error) on this thread's
    connection. Intents (``durable``) wait for the server's WAL flush; the rest use
    ``synchronous_commit = off`` (safe across a crash of this process; a server crash may lose
    the last answers, which leaves their batches in flight: unknown, never resent)."""

    def __init__(self, journal: PostgresJournal, durable: bool) -> None:
        self.journal = journal
        self.durable = durable

    def __enter__(self) -> _Conn:
        self.journal._writable()
        self.conn = self.journal._thread_conn()
        # (one round trip: statements without parameters go as one simple query)
        self.conn.execute("BEGIN" if self.durable else _BEGIN_NOT_DURABLE)
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
