"""The store interface: one ``Journal`` class, its aggregates as mixins, two backends below it.

``Journal(store)`` returns the backend the store names: a file path gives a
:class:`~targetsms_analytics.store.sqlite.SQLiteJournal`, a ``postgresql://`` URL a
:class:`~targetsms_analytics.store.postgres.PostgresJournal`. Everything above the store sees only
the methods defined here and in the aggregate mixins (campaigns and sends, statuses, balance).

Writes go through :meth:`Journal._grouped`: concurrent writers hand their work to whichever of
them is committing, which runs all waiting work in one transaction and commits once - *group
commit*. An intent is still committed before its request; the fsync is shared. A batch's answer
need not hold its worker up: ``finish_batch(wait=False)`` defers it (:meth:`Journal._defer`) to
the next intent's transaction (SQLite) or to the answer writer's connection (PostgreSQL), and
:meth:`Journal.flush` waits until every deferred answer is written.

Example::

    >>> with Journal(":memory:") as j:
    ...     j.schema_version
    3
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import InputError, JournalError
from . import schema
from ._common import DEFAULT_STALE_AFTER, default_store_path, is_postgres_url, store_from_env
from .balance import BalanceMixin
from .campaigns import CampaignsMixin
from .statuses import StatusesMixin

__all__ = ["Journal"]

logger = logging.getLogger("targetsms_analytics")


def _nothing(c: Any) -> None:
    """A write of nothing: committed, it tells that everything queued before it is."""


def _report(on_error: Callable[[BaseException], Any], exc: BaseException) -> None:
    try:
        on_error(exc)
    except Exception:  # a reporting callback must not break the commit path
        pass


class _Work:
    """One writer's share of a group commit."""

    __slots__ = ("done", "durable", "error", "fn", "on_error", "result", "rows", "wake")

    def __init__(
        self,
        fn: Callable[[Any], Any],
        durable: bool,
        on_error: Callable[[BaseException], Any] | None = None,
        rows: int = 1,
    ) -> None:
        self.fn = fn
        self.durable = durable
        #: The message rows it writes, about: what it adds to a group's commit (``_GROUP_ROWS``).
        self.rows = rows
        #: Set for deferred work, which no writer waits for: it hears of its error this way.
        self.on_error = on_error
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.wake = threading.Event()


class Journal(CampaignsMixin, StatusesMixin, BalanceMixin):
    """The journal of campaigns, batches, messages, statuses and balance snapshots.

    ``store``: a file path (SQLite, the default backend), a ``postgresql://user@host:port/db`` URL
    (PostgreSQL, a team's shared store), ``":memory:"`` (tests), or None for
    ``$TARGETSMS_STORE`` / the user data dir. Other URLs are refused (``InputError``); so is a
    file that holds other tables, or a journal written by a newer release (``JournalError``),
    which are left untouched. ``readonly=True`` only reads (reports, read-only media).
    ``stale_after`` seconds after its start an in-flight batch counts as lost even if its owner
    seems alive.

    Example::

        >>> with Journal(":memory:") as j:
        ...     j.campaigns().empty
        True
    """

    #: ``sqlite`` or ``postgresql``.
    backend = "abstract"
    #: Name of this backend's migration list in :mod:`~targetsms_analytics.store.schema`.
    _migrations_name = "SQLITE_MIGRATIONS"
    #: The column that keeps insertion order (SQLite's rowid, PostgreSQL's ``seq``).
    _seq = "rowid"
    #: How a list of ids joins a table, list first (SQLite: CROSS JOIN fixes the order).
    _cross = "CROSS JOIN"

    def __new__(cls, path: Any = None, *args: Any, **kwargs: Any) -> Journal:
        if cls is Journal:
            if path is None:
                env = store_from_env()
                path = env if env and is_postgres_url(env) else None
            if is_postgres_url(path):
                from .postgres import PostgresJournal

                cls = PostgresJournal
            else:
                from .sqlite import SQLiteJournal

                cls = SQLiteJournal
        return super().__new__(cls)

    def _setup(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self._lock = threading.RLock()
        self._gc = threading.Lock()
        self._gc_queue: list[_Work] = []
        self._gc_busy = False
        self._known_campaigns: set[tuple[str, str]] = set()
        # Answers written behind the sender's back (see _defer): a queue, one writer thread.
        self._answers = threading.Condition()
        self._answer_queue: list[_Work] = []
        self._answers_queued = 0  # answers handed to the writer, and written (or failed)
        self._answers_written = 0
        self._answer_poked = False
        self._answer_thread: threading.Thread | None = None
        self._deferred_by = threading.local()  # each worker's last deferred answer

    # ------------------------------------------------------------ plumbing (backends)

    def _tx(self, *, durable: bool = False) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _write(
        self, statements: Sequence[tuple[str, Sequence[Any]]], *, returning: bool = False
    ) -> list[Any] | None:
        """``statements`` (sql with ``?`` placeholders, params) in one transaction, not durable
        (see ``_tx``); with ``returning``, the rows of the first one (its ``RETURNING``), else
        their results unread. PostgreSQL sends them as one query."""
        rows = None
        with self._tx() as c:
            for sql, params in statements:
                cur = c.execute(sql, params)
                if returning and rows is None:
                    rows = cur.fetchall()
        return rows

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:  # pragma: no cover
        raise NotImplementedError

    def _query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Rows read by position only (a backend may make them cheaper)."""
        return self._query(sql, params)

    def _ids(self, alias: str) -> str:  # pragma: no cover - abstract
        """A table of the strings in the next parameter: columns ``value`` and ``key`` (order)."""
        raise NotImplementedError

    def _ids_param(self, values: Sequence[str]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - abstract
        """Close the connection.

        Example: ``journal.close()``.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"Journal({self.path!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The highest migration applied to this journal.

        Example: ``Journal(":memory:").schema_version == SCHEMA_VERSION``.
        """
        return int(self._query("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0][0])

    def _migrations(self) -> list[schema.Migration]:
        return getattr(schema, self._migrations_name)

    def _too_new(self, current: int) -> JournalError:
        known = len(self._migrations())
        return JournalError(
            f"{self.path} has schema version {current}; this toolkit knows up to {known}: "
            "upgrade targetsms-analytics (the journal was left untouched)",
            code="journal_too_new",
        )

    def _apply_migrations(self, c: Any, current: int) -> None:
        """Apply the migrations after ``current`` inside the caller's transaction."""
        steps = self._migrations()
        if current > len(steps):
            raise self._too_new(current)
        from ._common import iso, now_utc

        for version in range(current + 1, len(steps) + 1):
            step = steps[version - 1]
            if callable(step):
                step(c)
            else:
                schema.run_script(c, step)
            c.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, iso(now_utc())),
            )

    # ------------------------------------------------------------ group commit

    def _grouped(self, fn: Callable[[Any], Any], *, durable: bool = False, rows: int = 1) -> Any:
        """Run ``fn(conn)`` in a transaction shared with the other writers waiting now.

        The first writer to arrive commits for those queued behind it: one transaction, one
        commit (should it fail, each writer's work again alone: an error reaches only its own
        writer), as long as their ``rows`` (message rows written, about) stay within
        ``_GROUP_ROWS``; the next waiting writer then leads the next group. Returns when
        ``fn``'s work is committed. Each writer sleeps on its own event: a commit wakes exactly
        the writers it committed, and the next leader, no one else.
        """
        work = _Work(fn, durable, rows=rows)
        batch: list[_Work] = []
        try:
            with self._gc:
                self._gc_queue.append(work)
                if not self._gc_busy:  # nobody commits now: this writer leads
                    work.wake.set()  # (before busy: an interrupt between them hands it on)
                    self._gc_busy = True
            work.wake.wait()  # set when committed, or when this writer is to lead a group
            if not work.done:
                with self._gc:
                    batch, self._gc_queue = self._group_of(work)
                self._commit_group(batch)
        except BaseException:
            # Ctrl-C before this writer's group was taken (while queued, or just as it was
            # to lead): out of the queue, its work never run, and the lead handed on, so that
            # the writers behind it (and flush(), close()) are not left waiting for ever.
            if not batch:
                self._leave(work)
            raise
        finally:
            if batch:
                self._finish_group(batch, work)
        if work.error is not None:
            raise work.error
        return work.result

    def _finish_group(self, batch: list[_Work], lead: _Work) -> None:
        """After ``lead`` committed ``batch`` (or tried to): what was not done gets an error
        (an interrupt mid-commit: nothing is known), failed deferred answers are reported,
        the next writer waiting leads, and the group's writers are woken."""
        with self._gc:
            for item in batch:
                if not item.done:
                    item.error = item.error or JournalError("the group commit failed")
                    item.done = True
        try:
            # Deferred answers that failed are reported before anyone is woken: a flush() that
            # returns has heard of them.
            for item in batch:
                if item.error is not None and item.on_error is not None:
                    _report(item.on_error, item.error)
        finally:  # (Ctrl-C in a report's logging: the lead is handed on all the same)
            with self._gc:
                riders_left = self._next_leader()
            for item in batch:
                if item is not lead:
                    item.wake.set()
            if riders_left:
                self._poke_answer_writer()

    def _next_leader(self) -> bool:  # with self._gc held
        """Wake the first writer waiting in the queue to lead the next group (deferred answers
        ride along with it); none: the group commit is idle, and True if deferred answers are
        left (the answer writer is to commit them)."""
        waiting = next((w for w in self._gc_queue if w.on_error is None), None)
        if waiting is not None:
            waiting.wake.set()
            return False
        self._gc_busy = False
        return bool(self._gc_queue)

    def _leave(self, work: _Work) -> None:
        """A writer interrupted while queued (Ctrl-C) leaves the queue, its work never run; one
        that was to lead (the first, or woken to lead the next group) hands that on, so the
        writers behind it are not left waiting for ever (and nor is every later one, flush()
        and close() included). One that a group took already is that group's to finish."""
        with self._gc:
            if work not in self._gc_queue:
                return
            self._gc_queue.remove(work)
            if not work.wake.is_set():  # another writer leads
                return
            riders_left = self._next_leader()
        if riders_left:
            self._poke_answer_writer()

    def _group_of(self, lead: _Work) -> tuple[list[_Work], list[_Work]]:  # with self._gc held
        """(the group ``lead`` commits, the writers left queued), both in queue order: ``lead``,
        and those whose rows fit within ``_GROUP_ROWS`` with it. A big intent (a shared text's
        batch of ~140 recipients) is committed alone, and its request leaves while the next one
        is written: a request waiting for a group of them waited for every row of it, where a
        commit of its own costs ~1 ms (measured, SQLite, 7 shared-text requests, mean of 5
        alternating runs: 16 workers 0.52 -> 0.54 of the bare pool, 4 workers unchanged at
        0.63). Small ones (a personal text's one recipient) share a commit as before.
        Deferred answers riding along (``_RIDE_ROWS`` rows at most, one per worker) are always
        taken, as before: a commit takes every one queued before it (``_commit_riders``
        counts on that)."""
        rows = lead.rows
        group: list[_Work] = []
        left: list[_Work] = []
        for item in self._gc_queue:
            if item is lead or item.on_error is not None:  # (answers riding along: always)
                group.append(item)
            elif rows + item.rows <= self._GROUP_ROWS:
                rows += item.rows
                group.append(item)
            else:
                left.append(item)
        return group, left

    def _commit_group(self, batch: list[_Work]) -> None:
        """All the work in one transaction; should one fail, each again in its own, so that an
        error reaches only its own writer (rare: a bad batch id, a full disk)."""
        try:
            with self._tx(durable=any(w.durable for w in batch)) as c:
                for item in batch:
                    item.result = item.fn(c)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for item in batch:
                    try:
                        with self._tx(durable=item.durable) as c:
                            item.result = item.fn(c)
                    except Exception as own:
                        item.error = own
        for item in batch:
            item.done = True

    # ------------------------------------------------------------ deferred answers

    #: Whether a run's first requests gain by having their intents committed together
    #: (:meth:`begin_batches`): PostgreSQL yes (a new campaign's rows written with the intents,
    #: each row once, no connection per worker for them); SQLite no, its group
    #: commit shares those commits already, and each worker's first request leaves as soon as
    #: its own intent is in (measured: 4 workers, 7 shared-text requests, 0.66 -> 0.63).
    first_intents_together = False
    #: True (SQLite, one writer at a time): deferred answers wait in the group-commit queue and
    #: ride along with the next intent's transaction (one commit, one fsync for both); the
    #: answer writer commits those no intent takes within ``_RIDE_WAIT``. False (PostgreSQL,
    #: whose connections commit in parallel): the answer writer writes them on its own
    #: connection, and a worker has at most one answer waiting (it waits for the older one).
    _ride_along = False
    #: Seconds a riding-along answer waits for a writer to take it before the answer writer
    #: commits it itself (a worker's last answer, or one followed by a wait for a window).
    _RIDE_WAIT = 0.02
    #: The most message rows an answer may have to ride along with an intent.
    _RIDE_ROWS = 16
    #: The most message rows a group commit takes on behind its leader's (see
    #: :meth:`_group_of`): ~64 rows cost about what a commit of their own does.
    _GROUP_ROWS = 64

    def _defer(
        self,
        fn: Callable[[Any], Any],
        on_error: Callable[[BaseException], Any],
        *,
        rows: int = 1,
    ) -> None:
        """Write ``fn(conn)`` soon and return at once.

        A sender that journals an answer this way goes on to its next intent without waiting
        for the commit; the answer is committed with the next group (SQLite) or by the answer
        writer (should that fail, each again alone: ``on_error(exc)`` is called for those that
        fail, from the thread that committed). :meth:`flush` waits until everything deferred so
        far is written. An answer of more than ``_RIDE_ROWS`` rows (a shared text's batch) does
        not ride along: the next intent, and so its request, would wait for it to be written; the
        answer writer commits it at once (an intent that arrives meanwhile still waits, SQLite
        having one writer at a time).
        """
        if self._ride_along and rows <= self._RIDE_ROWS:
            with self._gc:
                self._gc_queue.append(_Work(fn, False, on_error, rows))
                idle = not self._gc_busy
            if idle:  # nobody commits now: the answer writer will, unless a writer comes first
                self._poke_answer_writer()
            return
        local = self._deferred_by
        older = getattr(local, "work", None)
        while older is not None and not older.done:  # the writer lags: at most one per worker
            if not older.wake.wait(1.0):
                with self._answers:  # (should the writer be gone, another takes over)
                    self._start_answer_writer()
        work = local.work = _Work(fn, False, on_error, rows)
        with self._answers:
            self._answer_queue.append(work)
            self._answers_queued += 1
            self._start_answer_writer()
            self._answers.notify_all()

    def _commit_riders(self) -> None:
        """Commit the deferred answers no intent has taken (SQLite: those in the queue)."""
        if not self._ride_along:
            return
        with self._gc:
            pending = any(w.on_error is not None for w in self._gc_queue) or self._gc_busy
        if pending:  # a commit of nothing: queued after them, it returns once they are in
            self._grouped(_nothing)

    def _poke_answer_writer(self) -> None:
        with self._answers:
            self._answer_poked = True
            self._start_answer_writer()
            self._answers.notify_all()

    def _start_answer_writer(self) -> None:  # with self._answers held
        thread = self._answer_thread
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=self._write_answers, name="targetsms-journal-answers", daemon=True
            )
            thread.start()
            self._answer_thread = thread

    def _write_answers(self) -> None:
        """The answer writer: commits what is queued, until nothing comes for a second.

        It never dies of a failed write: the answers it had taken get the error (their
        ``on_error`` hears of it) and it goes on with the next ones.
        """
        me = threading.current_thread()
        self._answer_writer_started()
        while True:
            with self._answers:
                if not self._answer_queue and not self._answer_poked and not self._ending():
                    self._answers.wait(timeout=1.0)
                if not self._answer_queue and not self._answer_poked:  # idle: the next starts
                    if self._answer_thread is me:  # another
                        self._answer_thread = None
                    self._answers.notify_all()
                    return
                queued, self._answer_queue = self._answer_queue, []
                poked, self._answer_poked = self._answer_poked, False
            try:
                if queued:
                    self._write_queued(queued)
            except Exception as exc:  # _write_queued reports its own; this is the unforeseen
                for work in queued:
                    if not work.done:
                        work.error = exc
                        _report(work.on_error, exc)
                        work.done = True
                        work.wake.set()
            finally:
                with self._answers:
                    self._answers_written += len(queued)
                    self._answers.notify_all()
            if poked:  # answers riding along: give a writer a moment to take them (flush() and
                time.sleep(self._RIDE_WAIT)  # the next intent commit them sooner)
                try:
                    self._commit_riders()
                except Exception as exc:  # they stay queued: the next writer or flush() tries
                    logger.warning("the journal could not write deferred answers: %s", exc)

    def _ending(self) -> bool:
        """Whether the journal is closed (PostgreSQL): an idle answer writer ends at once."""
        return False

    def _answer_writer_started(self) -> None:
        """Backend hook, on the answer writer's thread before it waits for its first answer
        (PostgreSQL: it opens its connection; see :meth:`_warm_answer_writer`)."""

    def _warm_answer_writer(self) -> None:
        """Start the answer writer now, before any answer is queued (it connects meanwhile, and
        waits a second for the first answer as usual). PostgreSQL does so in :meth:`warm_up`,
        once a run's first requests may go: its answers' connection is opened while their
        requests are out, not once the first answer has come (a backend starting takes ~5 ms,
        and every answer queued behind it waited), nor before (it would delay those intents,
        or those requests: measured, 1.5 ms between the intents' commit and the requests)."""
        with self._answers:
            self._start_answer_writer()

    def _write_queued(self, queued: list[_Work]) -> None:
        """Commit ``queued`` in one transaction; should that fail, each alone (errors go to
        their ``on_error``). Each item is marked done, and its waiter woken, either way."""

        def all_of(c: Any) -> None:
            for work in queued:
                work.fn(c)

        try:
            try:
                self._grouped(all_of, rows=sum(w.rows for w in queued))
                return
            except Exception:  # one of them failed: each again alone, so the error finds its owner
                pass
            for work in queued:
                try:
                    self._grouped(work.fn, rows=work.rows)
                except Exception as exc:
                    work.error = exc
                    _report(work.on_error, exc)
        finally:
            for work in queued:
                work.done = True
                work.wake.set()

    def warm_up(self, senders: int, *, launches: int = 0) -> None:
        """Have a connection ready for each of ``senders`` threads that will write soon (claim a
        batch) and have none yet, and one for the answers: PostgreSQL starts its answer writer
        and opens them in the background and returns at once, so that a run's workers find one
        when their first answers come and they go on to their next batch, instead of connecting
        then (~5 ms, on the request's path); SQLite needs none. ``launches``: reserved batches
        to launch (see :meth:`launch_batch`) by threads with no connection of their own:
        PostgreSQL opens one connection that launches them all. Call it once the run's first
        requests may go (a thread started before them would delay them). Best effort: a
        connection that cannot be opened now is opened (and its error reported) when a thread
        needs it.

        Example: ``journal.warm_up(3, launches=4)``.
        """

    def connected_here(self) -> bool:
        """Whether this thread can write without opening a connection first: SQLite always;
        PostgreSQL once the thread has a connection of its own. A sender without one hands its
        answers to the answer writer rather than connect for them.

        Example: ``Journal(":memory:").connected_here()`` is True.
        """
        return True

    def flush(self) -> None:
        """Wait until every answer journaled with ``wait=False`` is committed.

        Example: ``journal.flush()`` (``send_campaign`` does this before its run ends).
        """
        self._commit_riders()
        with self._answers:
            target = self._answers_queued  # those deferred so far, not the ones still coming
            while self._answers_written < target:
                if threading.current_thread() is self._answer_thread:
                    return  # called from the writer itself: it is writing them
                self._start_answer_writer()  # (should the writer be gone, another takes over)
                self._answers.wait(timeout=1.0)

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


# Re-exported for the type checker and the backends.
__all__ += ["DEFAULT_STALE_AFTER", "default_store_path"]
