"""The store interface on both backends (conformance), and PostgreSQL's several senders.

PostgreSQL tests need a server: set ``TARGETSMS_TEST_POSTGRES`` to a URL such as
``postgresql://postgres@127.0.0.1:5432/test``. The session creates a fresh database of a unique
name there and drops it at the end; without the variable those tests are skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics.emulator import Emulator
from targetsms_analytics.errors import InputError, JournalError
from targetsms_analytics.store import SCHEMA_VERSION, STORE_ENV, Journal, account_of
from targetsms_analytics.store import schema as schema_mod
from targetsms_analytics.store._common import batch_fields, iso, request_fingerprint

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "TARGETSMS_TEST_POSTGRES"
URL = "http://127.0.0.1:9/sendsms.php"
ACCOUNT = "demo@127.0.0.1:9"


# ---------------------------------------------------------------- fixtures


def _admin_connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _backends(watch) -> int:
    """How many sessions the database has (``watch`` is one of them)."""
    return watch.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    ).fetchone()[0]


def _until(condition, what: str) -> None:
    """Until ``condition()`` holds (a minute at most, else the test fails saying ``what``)."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _until_waiting_for_a_lock(watch, query: str, errors: list | None = None) -> None:
    """Until a session whose statement is ``LIKE query`` waits for a lock (a minute at most;
    ``errors``: a thread's, which end the wait)."""

    def waiting() -> bool:
        assert not errors, errors
        return bool(watch.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            (query,),
        ).fetchall())  # fmt: skip

    _until(waiting, f"{query} never waited")


def _answer_writers_connection(j: Journal):
    """The connection of ``j``'s answer writer, once it has one (else None)."""
    return next(
        (c for t, c in list(j._owners.items()) if t.name == "targetsms-journal-answers"), None
    )


def _connect_in_a_thread(j: Journal, catch: type[BaseException], name: str = "other") -> list:
    """The errors of type ``catch`` that ``j`` raised opening a connection for a new thread."""
    failed: list[BaseException] = []

    def connect() -> None:
        try:
            j._thread_conn()
        except catch as exc:
            failed.append(exc)

    thread = threading.Thread(target=connect, name=name)
    thread.start()
    thread.join(60)
    return failed


def _too_many_clients(*args, **kwargs):
    """psycopg.connect of a server that takes no more clients."""
    import psycopg

    raise psycopg.OperationalError("sorry, too many clients already")


def _answered_behind(j: Journal, tickets) -> list[BaseException]:
    """Each ticket answered ``sent`` (ids: its id and the phone) with ``wait=False``, then
    flushed: the errors reported."""
    errors: list[BaseException] = []
    for t in tickets:
        j.finish_batch(t.id, "sent", sms_ids=[f"{t.id}{p}" for p in t.phones],
                       phones=t.phones, wait=False, on_error=errors.append)  # fmt: skip
    j.flush()
    return errors


@pytest.fixture(scope="session")
def pg_database():
    """A fresh database for this test session (dropped at the end); its URL."""
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1/test)")
    pytest.importorskip("psycopg", reason="pip install targetsms-analytics[postgres]")
    name = f"targetsms_store_{uuid.uuid4().hex[:12]}"
    with _admin_connect(server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database):
    """The session database, emptied: a new journal for each test."""
    with _admin_connect(pg_database) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        # Sessions an earlier test closed end on the server a moment later (longer on a busy
        # machine): let them go first, a few seconds at most, so that tests counting sessions
        # count their own only.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _backends(conn) > 1:
            time.sleep(0.01)
    return pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """A store of each backend: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "journal.sqlite3")
    return request.getfixturevalue("pg_url")


def begin(j: Journal, phones, text="Hi", campaign="c", **kw):
    kw.setdefault("sender", "SHOP")
    kw.setdefault("user", "demo")
    kw.setdefault("url", URL)
    return j.begin_batch(campaign, phones, text, 1, **kw)


# ---------------------------------------------------------------- conformance


def test_the_backend_follows_the_store(store):
    with Journal(store) as j:
        assert j.backend == ("postgresql" if store.startswith("postgresql") else "sqlite")
        assert j.schema_version == SCHEMA_VERSION
        assert j.campaigns().empty and j.batches().empty and j.statuses().empty


def test_an_intent_is_visible_to_another_connection_before_the_answer(store):
    with Journal(store) as sender, Journal(store) as reporter:
        ticket = begin(sender, ["79001234567", "79001234568"])
        seen = reporter.campaign_messages("c")
        assert seen["outcome"].tolist() == ["inflight", "inflight"]
        assert reporter.batches("c")["state"].tolist() == ["inflight"]
        sender.finish_batch(ticket.id, "sent", sms_ids=["11", "12"])
        seen = reporter.campaign_messages("c")
        assert seen["sms_id"].tolist() == ["11", "12"]
        assert seen["outcome"].tolist() == ["sent", "sent"]
        assert str(seen["sent_at"].dt.tz) == "UTC"


def test_a_deferred_answer_is_committed_by_flush(store):
    """finish_batch(wait=False) returns before the commit; flush() waits for it."""
    with Journal(store) as sender, Journal(store) as reporter:
        ticket = begin(sender, ["79001234567", "79001234568"])
        other = begin(sender, ["79001234569"])
        errors = []
        sender.finish_batch(ticket.id, "sent", sms_ids=["11", "12"], phones=ticket.phones,
                            wait=False, on_error=errors.append)  # fmt: skip
        sender.finish_batch(other.id, "rejected", error_code="phone_stop_listed",
                            phones=other.phones, wait=False, on_error=errors.append)  # fmt: skip
        sender.flush()
        seen = reporter.campaign_messages("c").set_index("msisdn")
        assert seen["outcome"].to_dict() == {
            "79001234567": "sent", "79001234568": "sent", "79001234569": "rejected",
        }  # fmt: skip
        assert seen["sms_id"].loc["79001234568"] == "12"
        assert set(reporter.batches("c")["state"]) == {"done"}
        assert errors == []


def test_sqlite_a_large_answer_does_not_wait_to_ride_along_with_the_next_intent(tmp_path):
    """SQLite commits a small deferred answer with the next intent (one commit for both), but a
    shared text's answer of many rows would hold that intent, and so its request, for as long as
    it takes to write: the answer writer commits it at once instead."""
    with Journal(str(tmp_path / "j.sqlite3")) as j:
        big = begin(j, [f"7900{i:07d}" for i in range(100)], text="shared")
        small = begin(j, ["79110000001"], text="personal")
        j._RIDE_WAIT = 30.0  # a rider waits this long for an intent before the writer takes it
        j.finish_batch(big.id, "sent", sms_ids=[str(i) for i in range(100)], phones=big.phones,
                       wait=False)  # fmt: skip
        # handed to the answer writer, not left in the queue for the next intent to carry
        assert j._answers_queued == 1
        assert not any(w.on_error is not None for w in j._gc_queue)
        j.flush()
        assert {r["status"] for r in j.records("c", big.phones).values()} == {"sent"}
        j.finish_batch(small.id, "sent", sms_ids=["x"], phones=small.phones, wait=False)
        assert j._answers_queued == 1  # this one rides along
        begin(j, ["79110000002"], text="next")  # takes the small one along
        assert j.records("c", small.phones)[small.phones[0]]["status"] == "sent"


def test_sqlite_a_group_commit_takes_writers_while_their_rows_fit(tmp_path):
    """Small intents (a personal text's one recipient) share one commit; a big one (a shared
    text's batch) is committed on its own, so that its request does not wait for the rows of
    the others queued with it. The leader is always in its group, wherever it is queued, and so
    is every answer riding along."""
    from targetsms_analytics.store.base import _Work

    with Journal(str(tmp_path / "j.sqlite3")) as j:
        limit = j._GROUP_ROWS

        def work(rows: int) -> _Work:
            return _Work(lambda c: None, True, rows=rows)

        small = [work(1) for _ in range(limit + 5)]
        j._gc_queue = list(small)
        group, left = j._group_of(small[0])
        assert group == small[:limit] and left == small[limit:]  # the leader's row and 63 more

        big = [work(140) for _ in range(3)]
        j._gc_queue = [big[0], small[0], big[1], big[2]]
        group, left = j._group_of(big[1])
        assert group == [big[1]] and left == [big[0], small[0], big[2]]  # (queue order kept)

        j._gc_queue = [small[0], big[0], small[1]]
        group, left = j._group_of(small[0])
        assert group == [small[0], small[1]] and left == [big[0]]

        # answers riding along go with every commit, whatever its rows: a commit takes every
        # one queued before it
        rider = _Work(lambda c: None, False, on_error=lambda exc: None, rows=16)
        j._gc_queue = [rider, big[0], big[1]]
        group, left = j._group_of(big[1])
        assert group == [rider, big[1]] and left == [big[0]]


def test_sqlite_flush_commits_every_answer_riding_along_more_than_a_group_takes(tmp_path):
    """Small answers wait in the queue for the next intent to take them along; flush() commits
    them all, though a group takes only so many rows (_GROUP_ROWS) at a time."""
    with Journal(str(tmp_path / "j.sqlite3")) as j:
        j._RIDE_WAIT = 30.0  # (the answer writer would commit them after this long)
        tickets = [begin(j, [f"79{k:02d}{i:07d}" for i in range(10)]) for k in range(12)]
        for ticket in tickets:
            ids = [f"{ticket.id}-{i}" for i in range(10)]
            j.finish_batch(ticket.id, "sent", sms_ids=ids, phones=ticket.phones, wait=False)
        riders = sum(w.rows for w in j._gc_queue if w.on_error is not None)
        assert riders > j._GROUP_ROWS  # (queued, more rows than one group takes)
        j.flush()
        records = j.records("c", [p for t in tickets for p in t.phones])
        assert len(records) == 120 and {r["status"] for r in records.values()} == {"sent"}


def _interrupt_marked_writers(monkeypatch, *, once_woken: bool) -> None:
    """Writers of the group commit whose work is marked ``interrupted`` get Ctrl-C as they wait
    on their event: at once, or once it is set (``once_woken``: committed, or to lead)."""
    from targetsms_analytics.store import base

    class Interrupted(threading.Event):
        def wait(self, timeout=None):
            if once_woken:
                super().wait(timeout)
            raise KeyboardInterrupt

    real = base._Work

    def make(fn, durable, on_error=None, rows=1):
        work = real(fn, durable, on_error, rows)
        if getattr(fn, "interrupted", False):
            work.wake = Interrupted()
        return work

    monkeypatch.setattr(base, "_Work", make)


def _a_later_writer_commits(j) -> None:
    """A writer after an interrupted one commits (nobody left leading would keep it waiting),
    and the journal closes."""
    done = []
    after = threading.Thread(target=lambda: done.append(j._grouped(lambda c: "ok")), daemon=True)
    after.start()
    after.join(30)
    assert done == ["ok"], "a later writer waits for ever"
    j.close()


def test_sqlite_the_first_writer_interrupted_as_it_is_to_lead_hands_the_lead_on(tmp_path,
                                                                              monkeypatch):  # fmt: skip
    """Review: Ctrl-C reaching the writer that leads at once (nobody committing) before it took
    its group left the group commit busy with nobody leading: every later writer, flush() and
    close() would wait for ever. Its work never runs, and the next writer commits."""
    # (no `with`: should the lead be left taken, close() would wait too, and the test hang)
    j = Journal(str(tmp_path / "j.sqlite3"))
    _interrupt_marked_writers(monkeypatch, once_woken=True)
    ran = []

    def first(c):
        ran.append("first")

    first.interrupted = True
    with pytest.raises(KeyboardInterrupt):
        j._grouped(first)
    assert ran == [] and j._gc_queue == [] and not j._gc_busy
    _a_later_writer_commits(j)


def test_sqlite_a_ctrl_c_as_a_failed_answer_is_reported_hands_the_lead_on(tmp_path):
    """Review: Ctrl-C landing in the report of a failed deferred answer (its logging), on the
    writer that led the group (the main thread's flush() or end_run), left the group commit
    busy with nobody leading: every later writer, and close(), waited for ever."""
    from targetsms_analytics.store.base import _Work

    def lost_answer(c):
        raise RuntimeError("the disk is full")

    def report(exc):  # (the logging a Ctrl-C lands in)
        raise KeyboardInterrupt

    # (no `with`: should the lead be left taken, close() would wait too, and the test hang)
    j = Journal(str(tmp_path / "j.sqlite3"))
    with j._gc:  # a deferred answer riding along, queued as _defer queues it
        j._gc_queue.append(_Work(lost_answer, False, report, 1))
    with pytest.raises(KeyboardInterrupt):
        j._grouped(lambda c: "led")
    assert j._gc_queue == [] and not j._gc_busy
    _a_later_writer_commits(j)


@pytest.mark.parametrize("woken", [False, True], ids=["while-waiting", "as-it-leads"])
def test_sqlite_a_writer_interrupted_in_the_queue_leaves_nobody_waiting(tmp_path, monkeypatch,
                                                                        woken):  # fmt: skip
    """Ctrl-C reaches a writer queued behind a commit, before or just as it is woken to lead the
    next group: its work is never run, the writer queued behind it commits, and the journal
    goes on (before, nobody led again: every later writer, flush() and close() hung)."""
    # (no `with`: should a writer be left waiting, close() would wait too, and the test hang)
    j = Journal(str(tmp_path / "j.sqlite3"))
    hold, inside = threading.Event(), threading.Event()
    commit_group = j._commit_group

    def slow(batch):
        if not inside.is_set():
            inside.set()
            assert hold.wait(30)
        commit_group(batch)

    j._commit_group = slow
    _interrupt_marked_writers(monkeypatch, once_woken=woken)
    ran, outcome = [], {}

    def write(name, interrupted=False):
        def fn(c):
            ran.append(name)

        fn.interrupted = interrupted
        try:
            j._grouped(fn, rows=100)
            outcome[name] = "committed"
        except KeyboardInterrupt:
            outcome[name] = "interrupted"

    def queued(n):
        deadline = time.monotonic() + 30
        while len(j._gc_queue) < n and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(j._gc_queue) >= n

    threads = [threading.Thread(target=write, args=("a",), daemon=True)]
    threads[0].start()
    assert inside.wait(30)  # a commits (held), alone
    if woken:  # m waits in the queue, then b behind it
        threads.append(threading.Thread(target=write, args=("m", True), daemon=True))
        threads[-1].start()
        queued(1)
    threads.append(threading.Thread(target=write, args=("b",), daemon=True))
    threads[-1].start()
    queued(2 if woken else 1)
    if not woken:  # m is interrupted at once, with b queued before it
        write("m", interrupted=True)
    hold.set()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a writer waits for ever"
    assert outcome == {"a": "committed", "m": "interrupted", "b": "committed"}
    assert sorted(ran) == ["a", "b"]  # m's work never ran
    assert j._gc_queue == [] and not j._gc_busy
    _a_later_writer_commits(j)  # the journal goes on


def test_a_resends_claim_takes_unknown_recipients_in_its_own_transaction(store, monkeypatch):
    """Review: resend_unknown released a lost request's recipients to `pending`, then claimed
    them in a second transaction; when that one failed they stood `pending`, and the next run
    packed them into another request (the service could not tell it for a repeat): twice.
    begin_batch(resend=True) claims them from `unknown` itself; if it fails, they stay so."""
    phones = ["79001234567", "79001234568"]
    with Journal(store) as j:
        lost = begin(j, phones)
        j.finish_batch(lost.id, "unknown", error_code="transport", error_text="lost")
        assert begin(j, phones).phones == []  # (unknown: no ordinary claim takes them)
        claim = j._claim

        def fails(c, *args):
            claim(c, *args)  # (after the release, in the same transaction)
            raise RuntimeError("the claim failed")

        monkeypatch.setattr(j, "_claim", fails)
        with pytest.raises(RuntimeError, match="claim failed"):
            begin(j, phones, resend=True)
        monkeypatch.undo()
        assert {r["status"] for r in j.records("c", phones).values()} == {"unknown"}
        again = begin(j, phones, resend=True)
        assert again.phones == phones
        assert {r["status"] for r in j.records("c", phones).values()} == {"inflight"}


def test_begin_batch_takes_any_iterable_of_phones(store):
    with Journal(store) as j:
        ticket = begin(j, iter(["79001234567", "79001234568", "79001234567"]))
        assert ticket.phones == ["79001234567", "79001234568"]


def test_sqlite_big_intents_claimed_at_once_are_each_committed_and_claimed_once(tmp_path):
    """Workers that claim big batches at once are committed in several groups, each claim once."""
    with Journal(str(tmp_path / "j.sqlite3")) as j:
        commits = []
        commit_group = j._commit_group

        def counted(batch):
            commits.append(len(batch))
            commit_group(batch)

        j._commit_group = counted
        phones = [[f"79{k:02d}{i:07d}" for i in range(100)] for k in range(6)]
        go = threading.Barrier(len(phones))
        tickets = {}

        def claim(k: int) -> None:
            go.wait()
            tickets[k] = begin(j, phones[k], text="shared")

        threads = [threading.Thread(target=claim, args=(k,)) for k in range(len(phones))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {k: t.phones for k, t in tickets.items()} == dict(enumerate(phones))
        assert commits == [1] * len(phones)  # (100 rows each: more than a group takes on)
        records = j.records("c", [p for ps in phones for p in ps])
        assert len(records) == 600 and {r["status"] for r in records.values()} == {"inflight"}


def test_close_writes_the_deferred_answers(store):
    with Journal(store) as sender:
        ticket = begin(sender, ["79001234567"])
        sender.finish_batch(ticket.id, "sent", sms_ids=["5"], phones=ticket.phones, wait=False)
    with Journal(store) as reporter:
        assert reporter.campaign_messages("c")["sms_id"].tolist() == ["5"]


def test_a_deferred_answer_that_fails_is_reported_and_leaves_only_its_batch_in_flight(store):
    with Journal(store) as j:
        good = begin(j, ["79001234567"])
        errors = []
        j.finish_batch(10_000, "sent", sms_ids=["1"], phones=["79000000000"], wait=False,
                       on_error=errors.append)  # fmt: skip
        j.finish_batch(good.id, "sent", sms_ids=["2"], phones=good.phones, wait=False,
                       on_error=errors.append)  # fmt: skip
        j.flush()
        assert len(errors) == 1 and isinstance(errors[0], KeyError)
        assert j.campaign_messages("c")["sms_id"].tolist() == ["2"]  # the good one went in


def test_postgres_a_worker_has_at_most_one_answer_waiting_to_be_written(pg_url):
    """Answers written behind the worker's back must not pile up (each is an SMS id a crash
    would lose): a worker's second answer waits until its first is written."""
    with Journal(pg_url) as j:
        first, second = begin(j, ["79001234567"]), begin(j, ["79001234568"])
        release, real = threading.Event(), j._write_queued

        def slow(queued):
            release.wait(30)
            real(queued)

        j._write_queued = slow
        answered = []

        def worker():
            for t, sms_id in ((first, "1"), (second, "2")):
                j.finish_batch(t.id, "sent", sms_ids=[sms_id], phones=t.phones, wait=False)
                answered.append(t.id)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(0.5)
        assert answered == [first.id]  # the second waits for the first to be written
        release.set()
        thread.join(30)
        assert answered == [first.id, second.id]
        j.flush()
        assert j.campaign_messages("c")["sms_id"].tolist() == ["1", "2"]


def test_postgres_answers_written_together_survive_one_that_fails(pg_url):
    """The answer writer sends its answers as one pipeline; should one fail in the database,
    each is written alone: the others go in, the failing one reaches its on_error."""
    from targetsms_analytics.store.base import _Work
    from targetsms_analytics.store.postgres import _OneStatement

    with Journal(pg_url) as j:
        good = [begin(j, [f"7900123456{i}"]) for i in range(3)]
        works = [
            j._answer_work(t.id, "sent", [str(i)], None, None, t.phones) for i, t in enumerate(good)
        ]

        bad = _OneStatement("SELECT * FROM no_such_table", {}, 0)
        errors = []
        queued = [_Work(fn, False, errors.append) for fn in [*works[:2], bad, *works[2:]]]
        j._write_queued(queued)
        assert all(w.done for w in queued)
        assert len(errors) == 1 and "no_such_table" in str(errors[0])
        assert j.campaign_messages("c")["sms_id"].tolist() == ["0", "1", "2"]
        # and together, when none fails (one missing batch is reported, the rest go in)
        more = [begin(j, [f"7900765432{i}"]) for i in range(3)]
        queued = [
            _Work(
                j._answer_work(t.id, "sent", [f"x{i}"], None, None, t.phones), False, errors.append
            )
            for i, t in enumerate(more)
        ]
        queued.append(
            _Work(j._answer_work(99_999, "sent", ["y"], None, None, ["79000000000"]), False,
                  errors.append)
        )  # fmt: skip
        j._write_queued(queued)
        assert all(w.done for w in queued)
        assert len(errors) == 2 and isinstance(errors[1], KeyError)
        assert j.campaign_messages("c")["sms_id"].tolist()[3:] == ["x0", "x1", "x2"]


def test_postgres_a_single_queued_answer_is_one_statement_and_reports_its_error(pg_url):
    """The answer writer's lone answer: one statement (its own transaction), no BEGIN and
    COMMIT round trips; a missing batch reaches on_error, a good answer goes in."""
    from targetsms_analytics.store.base import _Work

    with Journal(pg_url) as j:
        t = begin(j, ["79001234567"])
        errors = []
        missing = _Work(j._answer_work(99_999, "sent", ["y"], None, None, ["79000000000"]), False,
                        errors.append)  # fmt: skip
        j._write_queued([missing])
        assert missing.done and len(errors) == 1 and isinstance(errors[0], KeyError)
        sent = []
        raw = j._thread_conn().raw
        real = type(raw).execute
        good = _Work(j._answer_work(t.id, "sent", ["1"], None, None, t.phones), False,
                     errors.append)  # fmt: skip
        try:
            type(raw).execute = lambda self, q, *a, **k: sent.append(q) or real(self, q, *a, **k)
            j._write_queued([good])
        finally:
            type(raw).execute = real
        assert good.done and len(errors) == 1
        assert not [q for q in sent if str(q).strip().upper() in ("BEGIN", "COMMIT")]
        assert j.campaign_messages("c")["sms_id"].tolist() == ["1"]


def test_postgres_a_pipeline_is_all_or_nothing_whichever_side_fails(pg_url):
    """_pipelined's statements are one transaction: should one fail in the database, or on this
    side before it is sent (review: a value the driver cannot encode; psycopg still ends the
    pipeline with a Sync, which commits what was sent in an implicit transaction), none of
    them is written; when none fails they commit together."""
    from targetsms_analytics.store.postgres import _pipelined

    with Journal(pg_url) as j:
        a, b = begin(j, ["79001234567"]), begin(j, ["79001234568"])
        works = [j._answer_work(t.id, "sent", [str(i)], None, None, t.phones)
                 for i, t in enumerate((a, b))]  # fmt: skip
        raw = j._thread_conn().raw
        first = (works[0].sql, works[0].params)
        with pytest.raises(Exception, match="no_such_table"):
            _pipelined(raw, [first, ("SELECT * FROM no_such_table", {})])
        with pytest.raises(UnicodeEncodeError):
            _pipelined(raw, [first, ("SELECT %(x)s", {"x": "c\ud800"})])
        assert j.campaign_messages("c")["sms_id"].isna().all()  # rolled back, both times
        _pipelined(raw, [(w.sql, w.params) for w in works])
        rows = raw.execute("SELECT xmin::text, status FROM messages ORDER BY msisdn").fetchall()
        assert [r[1] for r in rows] == ["sent", "sent"] and rows[0][0] == rows[1][0]


_JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=6),
)  # fmt: skip


@given(
    st.lists(st.sampled_from(["name", "n", 'q"u', "имя", "\\", ""]), min_size=1, max_size=5),
    st.data(),
)
def test_encode_dicts_is_the_text_of_each_dict(keys, data):
    """Column by column, the same text as json_or_none of each row's dict: duplicate keys
    (first place, last value), escapes, NaN and infinities, big ints, mixed columns."""
    from targetsms_analytics.store._common import JSONText, encode_dicts, json_or_none

    n = data.draw(st.integers(0, 6))
    kinds = st.sampled_from(["str", "int", "any"])
    columns = []
    for _ in keys:
        kind = data.draw(kinds)
        values = {"str": st.text(max_size=4), "int": st.integers(-5, 2**40)}.get(kind, _JSON_VALUES)
        columns.append(data.draw(st.lists(values, min_size=n, max_size=n)))
    got = encode_dicts(keys, columns)
    want = [json_or_none(dict(zip(keys, row, strict=True))) for row in zip(*columns, strict=True)]
    assert got == want
    assert all(type(t) is JSONText and type(json_or_none(t)) is str for t in got)


def test_records_without_the_contacts_are_the_same_records(store):
    with Journal(store) as j:
        t = begin(j, ["79001234567", "79001234568"], contacts={"79001234567": {"name": "Анна"}})
        j.finish_batch(t.id, "sent", sms_ids=["1", "2"])
        full = j.records("c")
        assert full["79001234567"]["contact"] == {"name": "Анна"}
        assert full["79001234568"]["contact"] is None
        lean = j.records("c", ["79001234568", "79001234567"], contact=False)
        assert lean == {m: {k: v for k, v in r.items() if k != "contact"} for m, r in full.items()}


def test_postgres_answers_whose_writer_cannot_connect_are_reported_and_nothing_hangs(
    pg_url, monkeypatch
):
    """Review: a connection failure in the answer writer left its answers neither written nor
    reported (their SMS ids silently dropped), then hung the worker's next answer and flush()."""
    from targetsms_analytics.store.postgres import PostgresJournal

    with Journal(pg_url) as j:
        tickets = [begin(j, [f"7900000000{i}"]) for i in range(6)]
        real = PostgresJournal._thread_conn

        def refused(self):
            if threading.current_thread().name == "targetsms-journal-answers":
                raise OSError("connection failed: sorry, too many clients already")
            return real(self)

        monkeypatch.setattr(PostgresJournal, "_thread_conn", refused)
        errors: list[int] = []

        def worker(mine):  # two answers each: the second waits for the first to be done
            for t in mine:
                j.finish_batch(t.id, "sent", sms_ids=[f"id{t.id}"], phones=t.phones, wait=False,
                               on_error=lambda exc, t=t: errors.append(t.id))  # fmt: skip

        workers = [threading.Thread(target=worker, args=(tickets[k::3],)) for k in range(3)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        flushing = threading.Thread(target=j.flush)
        flushing.start()
        flushing.join(60)
        assert not flushing.is_alive() and not any(w.is_alive() for w in workers)
        assert sorted(errors) == sorted(t.id for t in tickets)  # every one reported
        monkeypatch.setattr(PostgresJournal, "_thread_conn", real)
        assert set(j.batches("c")["state"]) == {"inflight"}  # hence unknown, never resent


@pytest.mark.parametrize("new_campaign", [True, False])
def test_postgres_warm_up_connects_the_answer_writer_before_the_first_answer(
    pg_url, monkeypatch, new_campaign
):
    """Once a run's first intents are committed (begin_batches) and its requests may go,
    warm_up has the answer writer connect while they are out: their answers are written on
    that connection, with none to open then (here: none could be)."""
    import psycopg

    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        items = [(p, "SHOP", "Hi", 1) for p in phones]
        if not new_campaign:  # the rows are there already: the one-statement intents
            j.prepare("c", items, account=ACCOUNT)
        tickets = _begin_batches(j, _wave(phones), prepare=items)
        assert [t.phones for t in tickets] == [phones[:2], phones[2:]]
        assert _answer_writers_connection(j) is None  # (not before the requests may go)
        j.warm_up(0)
        _until(lambda: _answer_writers_connection(j), "the answer writer never connected")

        monkeypatch.setattr(psycopg, "connect", _too_many_clients)
        assert _answered_behind(j, tickets) == []
        sent = j.campaign_messages("c").set_index("msisdn")
        assert sent.loc[phones, "sms_id"].tolist() == [
            f"{t.id}{p}" for t in tickets for p in t.phones
        ]


def test_postgres_warm_up_opens_connections_the_next_threads_write_on(pg_url, monkeypatch):
    """warm_up(n) opens n connections in the background, those spare or being opened counted;
    n threads that need one then write on them, with none to open (here: none could be)."""
    import psycopg

    from targetsms_analytics.store.postgres import PostgresJournal

    # (the answer writer it starts too, whose connection would be free once it idles, is not
    # the point: see test_postgres_warm_up_connects_the_answer_writer_before_the_first_answer)
    monkeypatch.setattr(PostgresJournal, "_warm_answer_writer", lambda self: None)
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        before = _backends(watch)
        j.warm_up(2)
        j.warm_up(2)  # (being opened: they count)
        _until(lambda: len(j._spares) == 2 and not j._warmers, "never warmed up")
        assert _backends(watch) == before + 2
        j.warm_up(1)  # (spare: they count)
        assert _backends(watch) == before + 2 and not j._warmers

        monkeypatch.setattr(psycopg, "connect", _too_many_clients)
        hold, errors, tried = threading.Event(), [], []

        def write(k: int) -> None:
            try:
                j._thread_conn().execute("SELECT 1")
            except Exception as exc:
                errors.append(exc)
            tried.append(k)
            hold.wait(60)  # (alive: its connection is not given to the next thread)

        threads = [threading.Thread(target=write, args=(k,)) for k in range(3)]
        for t in threads:
            t.start()
        _until(lambda: len(tried) == 3, "the threads never wrote")
        hold.set()
        for t in threads:
            t.join(60)
        assert len(errors) == 1 and "too many clients" in str(errors[0])  # the third: none left
        assert _backends(watch) == before + 2


def test_postgres_reserved_batches_launch_on_the_journals_one_launcher(pg_url, monkeypatch):
    """warm_up(launches=) opens one connection that launches reserved batches for threads
    with none of their own (their first intents were committed for them): they launch with
    no connection to open (here: none could be). One whose session ended is not used: the
    thread launches on its own connection, and the next warm_up opens a launcher again."""
    import psycopg

    from targetsms_analytics.store.postgres import PostgresJournal

    monkeypatch.setattr(PostgresJournal, "_warm_answer_writer", lambda self: None)
    phones = [f"7900123456{i}" for i in range(6)]
    wave = [{**b, "reserved": k > 0} for k, b in enumerate(_wave(phones))]
    real_connect = psycopg.connect
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        tickets = _begin_batches(j, wave)
        assert [t.reserved for t in tickets] == [False, True, True]
        before = _backends(watch)
        j.warm_up(0, launches=2)
        j.warm_up(0, launches=2)  # (being opened, then open: one)
        _until(lambda: j._launcher_ready.is_set(), "the launcher never opened")
        assert j._launcher is not None and _backends(watch) == before + 1
        assert "UPDATE batches SET state = 'inflight'" in " ".join(
            _prepared_statements(j._launcher)
        )  # (warm: the launch is ready before the first one)

        monkeypatch.setattr(psycopg, "connect", _too_many_clients)
        launched, errors = [], []

        def launch(ticket) -> None:
            try:
                launched.append(j.launch_batch(ticket.id))
            except Exception as exc:
                errors.append(exc)

        threads = [threading.Thread(target=launch, args=(t,)) for t in tickets[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == [] and launched == [True, True]
        assert _backends(watch) == before + 1
        assert set(j.batches("c")["state"]) == {"inflight"}

        # Its session ended: a thread launches on a connection of its own.
        pid = j._launcher.raw.info.backend_pid
        watch.execute("SELECT pg_terminate_backend(%s)", (pid,))
        _until(lambda: _backends(watch) == before, "the launcher's session never ended")
        again = [{**b, "reserved": True} for b in _wave(["79001234570", "79001234571"])]
        more = _begin_batches(j, again)
        monkeypatch.setattr(psycopg, "connect", real_connect)
        thread = threading.Thread(target=launch, args=(more[0],))
        thread.start()
        thread.join(60)
        assert errors == [] and launched == [True, True, True]
        j.warm_up(0, launches=1)  # a new launcher
        _until(lambda: j._launcher_ready.is_set(), "the launcher never opened again")
        assert j._launcher is not None and not j._launcher.raw.closed


def _prepared_statements(conn) -> list[str]:
    """The statements prepared in ``conn``'s server session."""
    rows = conn.raw.execute("SELECT statement FROM pg_prepared_statements").fetchall()
    return sorted(r["statement"] for r in rows)


def test_postgres_connections_opened_ahead_are_ready_for_intents_and_answers(pg_url):
    """A connection warm_up() opens, and the answer writer's, prepare the intent and the
    answer while nothing waits for them (a new session's first answer took ~3x as long); that
    writes and locks nothing, and the statements the senders then run are those very ones
    (nothing more is prepared for them)."""
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        items = [(p, "SHOP", "Hi", 1) for p in phones]
        j.prepare("c", items, account=ACCOUNT)
        j.warm_up(1)
        _until(lambda: len(j._spares) == 1 and not j._warmers, "never warmed up")
        (spare,) = j._spares
        ready = _prepared_statements(spare)
        assert len(ready) == 2
        assert any("INSERT INTO batches" in q for q in ready)  # the intent
        assert any("SET status = 'sent'" in q for q in ready)  # the answer
        assert j.batches("c").empty
        assert set(j.campaign_messages("c")["outcome"]) == {"pending"}
        assert not watch.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()

        tickets = _begin_batches(j, _wave(phones[:2], 1))  # (rows exist: one statement each)
        j.warm_up(0)
        _until(lambda: _answer_writers_connection(j), "the answer writer never connected")
        writer = _answer_writers_connection(j)
        _until(lambda: _prepared_statements(writer) == ready, "the answer writer never got ready")
        assert _answered_behind(j, tickets) == []
        assert _prepared_statements(writer) == ready

        done = []

        def claim_and_answer() -> None:  # a sender's thread: on the spare, as warmed
            t = j.begin_batch("c", phones[2:], "Hi", 1, sender="SHOP", user="demo", url=URL)
            j.finish_batch(t.id, "sent", sms_ids=["1", "2"], phones=t.phones)
            done.append(j._thread_conn())

        thread = threading.Thread(target=claim_and_answer)
        thread.start()
        thread.join(60)
        assert done == [spare]
        assert _prepared_statements(spare) == ready
        sent = j.campaign_messages("c").set_index("msisdn")
        assert sent.loc[phones, "sms_id"].tolist() == [
            f"{t.id}{p}" for t in tickets for p in t.phones
        ] + ["1", "2"]


def test_postgres_warm_up_interrupted_leaves_no_connection_to_wait_for(pg_url, monkeypatch):
    """Review: a Ctrl-C as warm_up() started its threads could leave one counted that never ran;
    the next thread that needed a connection then waited for it (the store's whole timeout)."""
    started = threading.Thread.start
    calls: list[str] = []

    def start(thread):
        if thread.name == "targetsms-journal-connect":
            calls.append(thread.name)
            if len(calls) == 2:
                raise KeyboardInterrupt  # (before the second thread runs)
        return started(thread)

    with Journal(pg_url) as j:
        j._timeout = 3600.0  # (what a thread would wait for a connection that never comes)
        monkeypatch.setattr(threading.Thread, "start", start)
        with pytest.raises(KeyboardInterrupt):
            j.warm_up(2)
        monkeypatch.undo()
        _until(lambda: len(j._spares) == 1 and not j._warmers, "the started one never connected")
        hold, errors = threading.Event(), []

        def write() -> None:
            try:
                j._thread_conn().execute("SELECT 1")
            except Exception as exc:
                errors.append(exc)
            hold.wait(60)  # (alive: its connection is not given to the next thread)

        first = threading.Thread(target=write)  # takes the spare
        first.start()
        _until(lambda: not j._spares, "the spare was never taken")
        second = threading.Thread(target=write)  # none spare, none coming: connects
        second.start()
        _until(lambda: second in j._owners, "the second thread waited for a connection")
        hold.set()
        first.join(60)
        second.join(60)
        assert errors == []


def test_postgres_a_thread_that_needs_a_connection_as_warm_up_opens_one_waits_for_it(
    pg_url, monkeypatch
):
    """A thread that needs a connection while warm_up() is opening one takes that one when it is
    ready (begun earlier, it is ready sooner) rather than open another: a run holds no more
    connections than it has threads."""
    import psycopg

    real = psycopg.connect
    let_go, connecting = threading.Event(), []

    def connect(*args, **kwargs):
        connecting.append(threading.current_thread().name)
        if threading.current_thread().name == "targetsms-journal-connect":
            let_go.wait(60)
        return real(*args, **kwargs)

    from targetsms_analytics.store.postgres import PostgresJournal

    # (warm_up's answer writer, whose connection would be free once it idles, is not the point)
    monkeypatch.setattr(PostgresJournal, "_warm_answer_writer", lambda self: None)
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        before = _backends(watch)
        monkeypatch.setattr(psycopg, "connect", connect)
        j.warm_up(1)
        _until(lambda: connecting, "warm_up never connected")
        waiter = threading.Thread(target=lambda: j._thread_conn().execute("SELECT 1"))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and connecting == ["targetsms-journal-connect"]  # it waits
        let_go.set()
        waiter.join(60)
        assert not waiter.is_alive() and connecting == ["targetsms-journal-connect"]
        assert _backends(watch) == before + 1 and j._owners.get(waiter) is not None


def test_postgres_the_answer_writer_leaves_the_senders_spare_connections_to_them(pg_url):
    """Review: the answer writer, connecting once a run's spares were being opened, waited for
    one and took it; a worker then connected on its request's path."""
    with Journal(pg_url) as j:
        j.warm_up(1)
        _until(lambda: len(j._spares) == 1 and not j._warmers, "never warmed up")
        spare = j._spares[0]
        j._warm_answer_writer()
        _until(lambda: _answer_writers_connection(j), "the answer writer never connected")
        assert j._spares == [spare]
        assert _connect_in_a_thread(j, Exception) == [] and not j._spares  # a sender's


def test_postgres_a_closed_journal_warms_up_nothing_and_connects_for_nothing(pg_url, monkeypatch):
    """Review: a closed journal connected (fully) before saying it was closed."""
    import psycopg

    j = Journal(pg_url)
    j.close()
    connected: list[str] = []
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: connected.append("connect"))
    started = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start",
                        lambda t: connected.append(t.name) or started(t))  # fmt: skip
    j.warm_up(2)
    failed = _connect_in_a_thread(j, JournalError)
    assert len(failed) == 1 and "closed" in str(failed[0])
    assert connected == ["other"]  # (_connect_in_a_thread's own thread), no connect
    assert not j._warmers and not j._spares


def test_postgres_a_runs_workers_claim_on_connections_opened_while_their_first_requests_are_out(
    pg_url, client, emulator, monkeypatch
):
    """A run's first intents are committed for its workers (no connection of their own); those
    that go on to claim a next batch find one opened meanwhile (warm_up), not connect then, and
    the batches claimed ahead launch on the journal's launcher, opened meanwhile too."""
    import psycopg

    real = psycopg.connect
    connected: list[str] = []

    def connect(*args, **kwargs):
        connected.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", connect)
    send = type(client).send

    def slow_first(self, *args, **kwargs):  # the first requests are out until the warm-up ends
        # (two spares for the two claims, and the launcher)
        _until(lambda: connected.count("targetsms-journal-connect") == 3, "never warmed up")
        return send(self, *args, **kwargs)

    monkeypatch.setattr(type(client), "send", slow_first)
    phones = [f"791612345{i:02d}" for i in range(12)]  # 6 requests: 2 first, 2 ahead, 2 claimed
    result = ts.send_campaign(
        client, pd.DataFrame({"phone": phones}), "Hi", "SHOP", campaign="w", store=pg_url,
        concurrency=2, max_url_length=client.send_url_length("SHOP", phones[:2], "Hi") + 2,
        progress=False,
    )  # fmt: skip
    assert list(result["outcome"]) == ["sent"] * 12
    assert len(emulator.log) == 6  # (more requests than the workers' first and ahead: claimed)
    assert not [name for name in connected if name.startswith("targetsms-send")]


def test_postgres_a_connection_opened_as_the_journal_closes_is_closed_at_once(pg_url):
    """A thread (the answer writer, warming up) that connects while the journal closes does not
    keep a connection nobody will close: it is closed, and the thread hears so."""
    j = Journal(pg_url)
    j.close()
    with _admin_connect(pg_url) as watch:
        # (the closed journal's session ends on the server a moment after it is closed here)
        _until(lambda: _backends(watch) == 1, "the closed journal's session never ended")
        failed = _connect_in_a_thread(j, JournalError)
        assert len(failed) == 1 and "closed" in str(failed[0])
        _until(lambda: _backends(watch) == 1, "the connection opened as it closed was kept")


def _terminate(url: str, *pids: int) -> None:
    """End these server sessions, as a server restart or a dropped network would."""
    with _admin_connect(url) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _every_session_ended(pg_url: str, j: Journal) -> None:
    """End every session of the journal (its own, its threads', spare or left by threads that
    ended), as a server restart would, and wait until each has heard so."""
    conns = [*j._owners.values(), *j._free, *j._spares]
    _terminate(pg_url, *(c.raw.info.backend_pid for c in conns))
    for c in conns:  # (the server's last word arrives)
        select.select([c.raw.pgconn.socket], [], [], 60)


def test_postgres_a_lost_connection_is_the_journals_error_and_the_next_call_connects_again(
    pg_url,
):
    """Review: after a lost connection the journal raised the driver's OperationalError, and
    again on every later call ("the connection is closed"), until a new journal was made."""
    from targetsms_analytics.store import postgres as pg

    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pg, "_lost", lambda raw: raw.closed)  # (as after a network gone)
            _every_session_ended(pg_url, j)
            with pytest.raises(JournalError) as lost:
                j.campaigns()
        assert lost.value.code == "store_unavailable" and lost.value.retryable
        assert pg_url in str(lost.value) and "call again" in str(lost.value)
        assert list(j.campaigns()["campaign"]) == ["c"]  # connected again
        assert not j._conn.generic  # (with the journal's first connection's settings)


def test_postgres_send_campaign_after_the_server_restarted_goes_on(pg_url, client, emulator):
    """Review: after a server restart, the next calls took connections the server had ended
    (the journal's, and those of ended threads): they failed, and a worker that got one after
    its request went out lost the answer (`unknown`, its SMS ids only in the log). Sessions
    the server ended while idle are noticed before they are used: the next call sends."""
    frame = pd.DataFrame({"phone": [f"791612345{i:02d}" for i in range(24)]})
    shared = client.send_url_length("SHOP", list(frame["phone"][:2]), "Hi") + 2
    args = (client, frame, "Hi", "SHOP")
    with Journal(pg_url) as j:
        first = ts.send_campaign(*args, campaign="a", store=j, concurrency=4,
                                 max_url_length=shared, progress=False)  # fmt: skip
        assert len(j._all) >= 5  # (its own, the answer writer's, the workers')
        _every_session_ended(pg_url, j)
        # (another text: not the identical requests the service refuses within its interval)
        again = ts.send_campaign(client, frame, "Hi!", "SHOP", campaign="b", store=j,
                                 concurrency=4, max_url_length=shared + 3,
                                 progress=False)  # fmt: skip
    for result in (first, again):
        assert list(result["outcome"]) == ["sent"] * 24
    assert Counter(emulator.sent_phones()) == Counter(list(frame["phone"]) * 2)


def test_postgres_send_campaign_on_a_connection_lost_unnoticed_says_so_then_goes_on(
    pg_url, client, emulator, monkeypatch
):
    """A session lost with no word from the server (a network gone): the next call raises the
    journal's error, naming the store, having sent nothing; the one after that sends everyone
    once, on the same journal."""
    from targetsms_analytics.store import postgres as pg

    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(4)]})
    with Journal(pg_url) as j:
        j.ensure_campaign("other", user="demo", url=URL, sender="SHOP")
        monkeypatch.setattr(pg, "_lost", lambda raw: raw.closed)  # (no word noticed)
        _every_session_ended(pg_url, j)
        with pytest.raises(JournalError, match="unavailable") as lost:
            ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="w", store=j,
                             progress=False)  # fmt: skip
        assert lost.value.code == "store_unavailable" and pg_url in str(lost.value)
        assert emulator.sent_phones() == []
        result = ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="w", store=j,
                                  progress=False)  # fmt: skip
    assert list(result["outcome"]) == ["sent"] * 4
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])


def test_postgres_a_process_with_many_files_open_keeps_its_connections(pg_url):
    """Review: select() takes no descriptor above 1023, and its error read as a lost session:
    with many files open the journal could not even open (it reconnected on every call)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip(f"needs 1,200 open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with Journal(pg_url) as j:
            assert j._raw.fileno() > 1023
            pid = j._raw.info.backend_pid
            j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
            assert list(j.campaigns()["campaign"]) == ["c"]
            assert j._raw.info.backend_pid == pid  # (the same session throughout)
    finally:
        for fd in held:
            os.close(fd)


def test_postgres_a_run_whose_lock_went_with_its_session_claims_nothing_more(pg_url):
    """Review: with lost sessions replaced silently, a run whose lock's session ended went on
    claiming, while other senders took it for dead (its batches in flight `unknown` to them,
    and resend_unknown could send them again): it stops, on every thread, and the journal goes
    on for the rest."""
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        token = j.begin_run("c", account=ACCOUNT)
        _every_session_ended(pg_url, j)
        errors: list[BaseException] = []

        def claim() -> None:
            try:
                j.begin_batch("c", phones[:2], "Hi", 1, sender="SHOP", user="demo", url=URL,
                              token=token)  # fmt: skip
            except JournalError as exc:
                errors.append(exc)

        worker = threading.Thread(target=claim)
        worker.start()
        worker.join(60)
        assert len(errors) == 1 and errors[0].code == "store_unavailable"
        assert "run's lock" in str(errors[0])
        with pytest.raises(JournalError, match="run's lock"):  # (the run's own thread too)
            j.begin_batch("c", phones[2:], "Hi", 1, sender="SHOP", user="demo", url=URL,
                          token=token)  # fmt: skip
        assert j.records("c", phones, account=ACCOUNT) == {}  # nobody claimed
        j.end_run(token)
        assert list(j.campaigns()["campaign"]) == ["c"]  # the rest goes on
        again = j.begin_run("c", account=ACCOUNT)
        ticket = j.begin_batch("c", phones, "Hi", 1, sender="SHOP", user="demo", url=URL,
                               token=again)  # fmt: skip
        assert ticket.phones == phones
        j.end_run(again)


def test_postgres_a_claim_looks_at_its_runs_lock_outside_the_journals_lock(pg_url, monkeypatch):
    """Every claim looks whether its run's lock is still held (a system call on the lock's
    session): not under the journal's lock, which every other sender's claim waits for."""
    import targetsms_analytics.store.postgres as pg

    real, held_while_looking = pg._lost, []

    def lost(raw):
        free = []  # whether another thread can take the journal's lock now

        def take() -> None:
            free.append(j._lock.acquire(timeout=0))
            if free[0]:
                j._lock.release()

        other = threading.Thread(target=take)
        other.start()
        other.join(10)
        held_while_looking.append(free != [True])
        return real(raw)

    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        token = j.begin_run("c", account=ACCOUNT)
        monkeypatch.setattr(pg, "_lost", lost)
        j._check_run_locks(token)
        monkeypatch.undo()
        assert held_while_looking == [False]
        j.end_run(token)


def test_postgres_a_run_that_lost_its_lock_still_writes_its_answers_and_others_go_on(pg_url):
    """Review: a run whose lock's session ended failed its answers too (requests out, hence
    `unknown`), and stopped every other run of the journal: only its claims stop."""
    phones = [f"7900123456{i}" for i in range(6)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        j.prepare("c", [(p, "SHOP", "Hi", 1) for p in phones], account=ACCOUNT)
        mine = j.begin_run("c", account=ACCOUNT)
        ticket = j.begin_batch("c", phones[:2], "Hi", 1, sender="SHOP", user="demo", url=URL,
                               token=mine)  # fmt: skip
        other: dict = {}
        go, done = threading.Event(), threading.Event()

        def another_run() -> None:  # its lock on this thread's own session
            other["token"] = j.begin_run("c", account=ACCOUNT)
            go.wait(60)
            try:
                other["ticket"] = j.begin_batch("c", phones[2:4], "Hi", 1, sender="SHOP",
                                                user="demo", url=URL, token=other["token"])  # fmt: skip
                j.end_run(other["token"])
            except Exception as exc:
                other["error"] = exc
            done.set()

        thread = threading.Thread(target=another_run)
        thread.start()
        _until(lambda: "token" in other, "the other run never began")
        _terminate(pg_url, j._raw.info.backend_pid)  # (the session that holds mine's lock)
        select.select([j._raw.pgconn.socket], [], [], 60)
        go.set()
        done.wait(60)
        thread.join(60)
        assert "error" not in other and other["ticket"].phones == phones[2:4]
        answered: list = []
        answer = threading.Thread(target=lambda: answered.append(j.finish_batch(
            ticket.id, "sent", sms_ids=["1", "2"], phones=ticket.phones, wait=True)))  # fmt: skip
        answer.start()
        answer.join(60)
        assert answered == [None]
        with pytest.raises(JournalError, match="run's lock"):
            j.begin_batch("c", phones[4:], "Hi", 1, sender="SHOP", user="demo", url=URL,
                          token=mine)  # fmt: skip
        records = j.records("c", phones, account=ACCOUNT)
        assert [records[p]["status"] for p in phones] == ["sent"] * 2 + ["inflight"] * 2 + [
            "pending"
        ] * 2
        j.end_run(mine)


def test_postgres_a_lock_or_statement_timeout_is_not_an_unavailable_store(pg_url):
    """Review: every OperationalError read as "the store is unavailable", a lock timeout too."""
    import psycopg

    with Journal(pg_url) as j, _admin_connect(pg_url) as other:
        j._raw.execute("SET lock_timeout = 50")
        other.execute("BEGIN")
        other.execute("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        other.execute("ROLLBACK")


def test_postgres_an_answer_whose_writers_connection_was_lost_is_written_on_a_new_one(pg_url):
    """The answer writer's session ended while it waited: the answer it is then given is
    written all the same (answers may be written again: the same values), none reported."""
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        items = [(p, "SHOP", "Hi", 1) for p in phones]
        tickets = _begin_batches(j, _wave(phones), prepare=items)
        j.warm_up(0)
        _until(lambda: _answer_writers_connection(j), "the answer writer never connected")
        _terminate(pg_url, _answer_writers_connection(j).raw.info.backend_pid)
        assert _answered_behind(j, tickets) == []
        sent = j.campaign_messages("c").set_index("msisdn")
        assert sent.loc[phones, "outcome"].tolist() == ["sent"] * 4


def test_postgres_a_deferred_answer_that_cannot_be_written_reports_the_journals_error(
    pg_url, monkeypatch
):
    """The answer writer cannot connect (the server refuses clients): the answer's on_error
    hears the journal's error, which names the store, not the driver's."""
    import psycopg

    phones = [f"7900123456{i}" for i in range(2)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        j.prepare("c", [(p, "SHOP", "Hi", 1) for p in phones], account=ACCOUNT)
        ticket = j.begin_batch("c", phones, "Hi", 1, sender="SHOP", user="demo", url=URL)

        monkeypatch.setattr(psycopg, "connect", _too_many_clients)
        errors: list[BaseException] = []
        j.finish_batch(ticket.id, "sent", sms_ids=["1", "2"], phones=ticket.phones, wait=False,
                       on_error=errors.append)  # fmt: skip
        j.flush()
        assert [type(e) for e in errors] == [JournalError]
        assert errors[0].code == "store_unavailable" and "too many clients" in str(errors[0])
        monkeypatch.undo()
        assert set(j.batches("c")["state"]) == {"inflight"}  # hence unknown, never resent


def test_postgres_a_lost_connection_of_a_thread_that_ended_is_not_given_to_the_next(pg_url):
    """A thread whose connection was lost ended: the next thread gets a connection that works,
    not that one (connections of ended threads are given to new ones)."""
    with Journal(pg_url) as j:
        errors: list[BaseException] = []

        def lose() -> None:
            conn = j._thread_conn()
            _terminate(pg_url, conn.raw.info.backend_pid)
            try:
                conn.execute("SELECT 1")
            except Exception as exc:  # (how a thread learns it)
                errors.append(exc)

        thread = threading.Thread(target=lose)
        thread.start()
        thread.join(60)
        assert len(errors) == 1
        lost = j._owners[thread]
        assert _connect_in_a_thread(j, Exception) == []
        assert lost.raw not in j._all and lost not in j._free


def test_postgres_a_closed_journal_leaves_no_session_behind(pg_url, monkeypatch):
    """close() waits for the journal's threads that were connecting (the answer writer and
    warm_up's, here slow to connect): once it returns, none of its sessions is left, nor
    appears later (tests counting sessions, and a server near its connection limit, see it)."""
    import psycopg

    real = psycopg.connect

    def slow(*args, **kwargs):
        if threading.current_thread().name.startswith("targetsms-journal"):
            time.sleep(0.3)
        return real(*args, **kwargs)

    with _admin_connect(pg_url) as watch:
        before = _backends(watch)
        j = Journal(pg_url)
        monkeypatch.setattr(psycopg, "connect", slow)
        j.warm_up(2)  # (the answer writer and two spares, all connecting)
        mine = [j._answer_thread, *j._warmers]
        assert len(mine) == 3
        j.close()
        assert not any(t.is_alive() for t in mine)
        # (sessions closed here end on the server a moment later)
        _until(lambda: _backends(watch) == before, "a session of the closed journal was kept")
        seen = set()
        for _ in range(50):  # (half a second: nothing of it connects any more)
            seen.add(_backends(watch))
            time.sleep(0.01)
        assert seen == {before}


def test_postgres_a_connection_whose_session_setup_fails_is_closed(pg_url, monkeypatch):
    """Review: a thread's new connection whose session settings failed was left open."""
    import psycopg

    real = psycopg.Connection.execute

    def execute(self, query, *args, **kwargs):
        if threading.current_thread().name == "setup-fails" and "tcp_keepalives" in str(query):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real(self, query, *args, **kwargs)

    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        before = _backends(watch)
        monkeypatch.setattr(psycopg.Connection, "execute", execute)
        failed = _connect_in_a_thread(j, psycopg.OperationalError, name="setup-fails")
        monkeypatch.undo()
        assert len(failed) == 1
        # (a session closed here ends on the server a moment later)
        _until(lambda: _backends(watch) == before, "the connection whose setup failed was kept")
        assert j.campaigns().empty  # (the journal's own connection is fine)


def test_split_and_pending_answers_are_written_before_finish_batch_returns(store):
    """Their recipients are claimed again at once: they are never deferred."""
    with Journal(store) as j:
        whole = begin(j, ["79001234567", "79000000000"])
        j.finish_batch(whole.id, "split", error_code="phone_stop_listed", wait=False)
        assert set(j.campaign_messages("c")["outcome"]) == {"pending"}
        assert begin(j, ["79001234567"], parent=whole.id).phones == ["79001234567"]
        stopped = begin(j, ["79000000000"])
        j.finish_batch(stopped.id, "pending", error_code="sender_not_moderated", wait=False)
        assert begin(j, ["79000000000"]).phones == ["79000000000"]


def test_recipients_with_a_record_are_not_claimed_again(store):
    with Journal(store) as j:
        first = begin(j, ["79001234567", "79001234568"])
        second = begin(j, ["79001234568", "79001234569"])
        assert second.phones == ["79001234569"]
        j.finish_batch(first.id, "sent", sms_ids=["1", "2"])
        assert begin(j, ["79001234567", "79001234568"]).phones == []
        assert begin(j, ["79001234567"], campaign="other").phones == ["79001234567"]
        # another account: another campaign
        assert begin(j, ["79001234567"], url="http://127.0.0.1:10/x").phones == ["79001234567"]


def test_a_split_batch_returns_its_messages_to_pending_for_the_halves(store):
    with Journal(store) as j:
        whole = begin(j, ["79001234567", "79000000000"])
        j.finish_batch(whole.id, "split", error_code="phone_stop_listed", error_text="stop")
        assert set(j.campaign_messages("c")["outcome"]) == {"pending"}
        left = begin(j, ["79001234567"], parent=whole.id)
        right = begin(j, ["79000000000"], parent=whole.id)
        j.finish_batch(left.id, "sent", sms_ids=["5"])
        j.finish_batch(right.id, "rejected", error_code="phone_stop_listed", error_text="stop")
        messages = j.campaign_messages("c").set_index("msisdn")
        assert messages.loc["79001234567", "outcome"] == "sent"
        assert messages.loc["79000000000", "outcome"] == "rejected"
        assert messages.loc["79000000000", "error_code"] == "phone_stop_listed"
        batches = j.batches("c")
        assert batches["state"].tolist() == ["split", "done", "done"]
        assert batches["parent"].tolist()[1:] == [whole.id, whole.id]
        assert j.last_refusal(whole.fingerprint) is not None


def test_claims_from_many_threads_never_overlap(store):
    phones = [f"7900{i:07d}" for i in range(200)]
    claimed: list[list[str]] = []
    lock = threading.Lock()
    with Journal(store) as j:

        def worker(offset: int) -> None:
            for start in range(0, 200, 20):
                chunk = phones[(start + offset) % 200 :][:20]
                t = begin(j, chunk)
                if t.phones:
                    j.finish_batch(t.id, "sent", sms_ids=[str(p) for p in t.phones])
                with lock:
                    claimed.append(t.phones)

        threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flat = [p for chunk in claimed for p in chunk]
        assert sorted(flat) == sorted(set(flat)) == sorted(phones)
        assert (j.campaign_messages("c")["outcome"] == "sent").sum() == 200


def test_a_failed_write_in_a_group_commit_fails_only_its_writer(store):
    with Journal(store) as j:
        t = begin(j, ["79001234567"])
        errors: list[BaseException] = []

        def bad() -> None:
            try:
                j.finish_batch(999_999, "sent", sms_ids=["1"])
            except KeyError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=bad) for _ in range(3)]
        for th in threads:
            th.start()
        j.finish_batch(t.id, "sent", sms_ids=["7"])
        for th in threads:
            th.join()
        assert len(errors) == 3
        assert j.records("c")["79001234567"]["sms_id"] == "7"


def test_set_outcome_hold_and_message_info(store):
    with Journal(store) as j:
        a = begin(j, ["79001234567", "79001234568"], variant="A",
                  contacts={"79001234567": {"city": "Omsk"}})  # fmt: skip
        j.finish_batch(a.id, "unknown", error_code="transport", error_text="reset")
        assert j.set_outcome("c", ["79001234567"], "sent", note="seen") == ["79001234567"]
        assert j.set_outcome("c", ["79001234568"], "pending") == ["79001234568"]
        assert begin(j, ["79001234568"]).phones == ["79001234568"]
        rows = [{"msisdn": "79001234569", "text": "Hi", "parts": 1, "sender": "SHOP",
                 "variant": None, "status": "holdout", "not_before": None, "contact": None}]  # fmt: skip
        assert j.hold("c", rows, account=ACCOUNT) == 1
        assert begin(j, ["79001234569"]).phones == []
        messages = j.campaign_messages("c").set_index("msisdn")
        assert messages.loc["79001234567", "outcome"] == "sent"
        assert messages.loc["79001234567", "city"] == "Omsk"
        assert messages.loc["79001234569", "outcome"] == "holdout"
        t = begin(j, ["79001234570", "79001234571"], text="Hello")
        j.finish_batch(t.id, "sent", sms_ids=["100", "101"])
        info = j.message_info(["101", "nope", "100"])
        assert info["sms_id"].tolist() == ["101", "100"]
        assert info["msisdn"].tolist() == ["79001234571", "79001234570"]


def test_statuses_and_balance(store):
    with Journal(store) as j:
        j.save_statuses([ts.StatusDetail("1", "send", None, 1, 1.15),
                         ts.StatusDetail("2", "deliver", None, 2, 1.2)], account=ACCOUNT)  # fmt: skip
        written = j.save_statuses([ts.StatusDetail("1", "not_deliver", None, 1, 1.15),
                                   ts.StatusDetail("2", "send", None, 2, 1.2)], account=ACCOUNT)  # fmt: skip
        assert written == 1  # a final state is never overwritten
        stored = j.statuses(["2", "1", "3"], account=ACCOUNT)
        assert stored["state"].tolist() == ["deliver", "not_deliver"]
        assert j.statuses(["1"], account="other@h").empty
        packages = pd.DataFrame({"direction": ["МТС", "Билайн"], "remaining": [5, 7]})
        j.save_balance(ts.Balance(445.6, "RUB", packages), account=ACCOUNT)
        j.save_balance(ts.Balance(400.0, "RUB", packages), account="other@h")
        assert j.balance_snapshots(account=ACCOUNT)["amount"].tolist() == [445.6]
        assert j.package_history(account=ACCOUNT)["remaining"].tolist() == [5, 7]


def test_a_name_used_by_two_accounts_needs_the_account(store):
    with Journal(store) as j:
        begin(j, ["79001234567"], campaign="spring")
        begin(j, ["79001234567"], campaign="spring", url="http://127.0.0.1:10/x")
        with pytest.raises(InputError, match="several accounts"):
            j.records("spring")
        assert len(j.records("spring", account=ACCOUNT)) == 1


def test_inflight_recovery_follows_the_run(store):
    with Journal(store) as sender, Journal(store) as other:
        token = sender.begin_run("c", account=ACCOUNT)
        begin(sender, ["79001234567"], token=token)
        assert other.recover_inflight("c") == 0  # its run is alive
        sender.end_run(token)  # e.g. KeyboardInterrupt: the run is over, the answer never came
        assert other.recover_inflight("c") == 1
        assert other.records("c")["79001234567"]["status"] == "unknown"


def test_a_reserved_batch_is_claimed_and_goes_in_flight_once(store):
    """begin_batch(reserved=True) claims its recipients ahead of the request (nobody else can
    claim them) without putting the batch in flight; launch_batch does, once."""
    with Journal(store) as sender, Journal(store) as other:
        token = sender.begin_run("c", account=ACCOUNT)
        t = begin(sender, ["79001234561", "79001234562"], token=token, reserved=True)
        assert t.reserved and t.phones == ["79001234561", "79001234562"]
        assert sender.batches("c")["state"].tolist() == ["reserved"]
        mine = other.begin_run("c", account=ACCOUNT)
        assert begin(other, ["79001234562", "79001234563"], token=mine).phones == ["79001234563"]
        assert other.recover_inflight("c") == 0  # their runs are alive
        assert sender.launch_batch(t.id, token=token) is True
        assert sender.batches("c").set_index("id").loc[t.id, "state"] == "inflight"
        assert sender.launch_batch(t.id, token=token) is False  # (in flight already)
        sender.finish_batch(t.id, "sent", sms_ids=["1", "2"], phones=t.phones)
        sender.end_run(token)
        assert sender.message_info(["2"])["msisdn"].tolist() == ["79001234562"]


def test_a_reserved_batch_whose_run_is_gone_goes_back_to_pending_not_unknown(store):
    """Its request never went out (it goes in flight first): recovered, its recipients are
    pending again for any sender, and the batch cannot be launched any more; a batch in
    flight in the same run becomes unknown as before."""
    with Journal(store) as sender, Journal(store) as other:
        token = sender.begin_run("c", account=ACCOUNT)
        out = begin(sender, ["79001234561"], token=token)
        ahead = begin(sender, ["79001234562", "79001234563"], token=token, reserved=True)
        sender.end_run(token)  # (gone: its answers never came)
        assert other.recover_inflight("c") == 2
        records = other.records("c")
        assert records["79001234561"]["status"] == "unknown"
        assert {records[p]["status"] for p in ahead.phones} == {"pending"}
        states = other.batches("c").set_index("id")["state"]
        assert (states[out.id], states[ahead.id]) == ("unknown", "failed")
        assert sender.launch_batch(ahead.id) is False
        mine = other.begin_run("c", account=ACCOUNT)
        assert begin(other, ahead.phones, token=mine).phones == ahead.phones  # anyone may send
        assert other.recover_inflight("c") == 0


def test_a_reserved_batch_launched_as_it_is_recovered_is_left_to_its_sender(store, monkeypatch):
    """Review: recovery took a batch for orphaned while it was reserved, and its sender
    launched it before the re-check: it became unknown under its sender's feet (whose split or
    pending answer then left its recipients unknown, never sent). The re-check is for the state
    it was judged in: a batch launched meanwhile is left alone (looked at again next time)."""
    with Journal(store) as sender, Journal(store) as other:
        token = sender.begin_run("c", account=ACCOUNT)
        ahead = begin(sender, ["79001234562", "79001234563"], token=token, reserved=True)
        real = type(other)._orphaned

        def launched_meanwhile(self, row, now):
            if row["id"] == ahead.id:
                assert sender.launch_batch(ahead.id, token=token)
                return True  # (judged gone while reserved)
            return real(self, row, now)

        monkeypatch.setattr(type(other), "_orphaned", launched_meanwhile)
        assert other.recover_inflight("c") == 0
        monkeypatch.undo()
        assert sender.batches("c")["state"].tolist() == ["inflight"]
        assert {r["status"] for r in sender.records("c").values()} == {"inflight"}
        sender.finish_batch(ahead.id, "split", error_code="phone_stop_listed", phones=ahead.phones)
        assert {r["status"] for r in sender.records("c").values()} == {"pending"}


def test_campaigns_lists_every_account_with_who_sent_it(store):
    with Journal(store) as j:
        token = j.begin_run("spring", account=ACCOUNT)
        t = begin(j, ["79001234567", "79001234568"], campaign="spring", token=token)
        j.finish_batch(t.id, "sent", sms_ids=["1", "2"])
        j.end_run(token)
        begin(j, ["79001234567"], campaign="spring", url="http://127.0.0.1:10/x")
    listed = ts.campaigns(store=store).set_index("account")
    assert set(listed.index) == {ACCOUNT, "demo@127.0.0.1:10"}
    row = listed.loc[ACCOUNT]
    assert (row["campaign"], row["sent"], row["messages"]) == ("spring", 2, 2)
    assert "@" in row["sent_by"] and row["first_run_at"] is not pd.NaT
    assert listed.loc["demo@127.0.0.1:10", "inflight"] == 1


# ---------------------------------------------------------------- migrations, both backends


def _migrations_name(store: str) -> str:
    return "POSTGRES_MIGRATIONS" if store.startswith("postgresql") else "SQLITE_MIGRATIONS"


def test_migrations_are_numbered_applied_in_order_and_only_once(store, monkeypatch):
    Journal(store).close()
    name = _migrations_name(store)
    calls: list[int] = []

    def v3(conn) -> None:
        calls.append(3)
        conn.execute("ALTER TABLE campaigns ADD COLUMN note TEXT")

    v4 = "CREATE TABLE extra (x INTEGER); INSERT INTO extra (x) SELECT COUNT(*) FROM campaigns"
    monkeypatch.setattr(schema_mod, name, [*getattr(schema_mod, name), v3, v4])
    with Journal(store) as j:
        assert j.schema_version == SCHEMA_VERSION + 2
        j.ensure_campaign("spring", user="demo")
        assert "note" in j.campaign_info("spring")
    with Journal(store) as j:
        assert j.schema_version == SCHEMA_VERSION + 2
    assert calls == [3]


def test_a_failing_migration_leaves_the_journal_at_its_old_version(store, monkeypatch):
    Journal(store).close()
    name = _migrations_name(store)

    def broken(conn) -> None:
        conn.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(schema_mod, name, [*getattr(schema_mod, name), broken])
    with pytest.raises(RuntimeError, match="boom"):
        Journal(store)
    monkeypatch.undo()
    with Journal(store) as j:
        assert j.schema_version == SCHEMA_VERSION


def test_a_version_2_journal_upgrades_to_3_and_finds_every_sms_id(store, monkeypatch):
    """Schema 3 (PostgreSQL: ids looked up in message_ids, messages.sms_id no longer indexed
    so that answers update rows in place): a journal written at version 2 keeps every row and
    finds each id, those answered before the upgrade and after it, by either answer path."""
    from targetsms_analytics.store import postgres

    name = _migrations_name(store)
    monkeypatch.setattr(schema_mod, name, getattr(schema_mod, name)[:2])
    # Written as the code of schema 2 did: no message_ids (the answer without it).
    old_sent = (
        postgres._FAST_ANSWER["sent"]
        .replace(
            "RETURNING messages.account, messages.campaign, messages.msisdn, messages.sms_id", ""
        )
        .split("), x AS (")[0]
        + ")"
        + postgres._BATCH_DONE
    )
    monkeypatch.setitem(postgres._FAST_ANSWER, "sent", old_sent)
    monkeypatch.setattr(postgres.PostgresJournal, "_ids_written", lambda *a: None)
    with Journal(store) as j:
        assert j.schema_version == 2
        t = begin(j, ["79001234561", "79001234562"])
        j.finish_batch(t.id, "sent", sms_ids=["s1", "s2"], phones=t.phones)
        u = begin(j, ["79001234563"])
        j.finish_batch(u.id, "sent", sms_ids=["s3"])  # (its phones read from the batch)
        before = j.campaign_messages("c")
    monkeypatch.undo()
    with Journal(store) as j:
        assert j.schema_version == SCHEMA_VERSION == 3
        pd.testing.assert_frame_equal(j.campaign_messages("c"), before)
        v = begin(j, ["79001234564", "79001234565"])
        j.finish_batch(v.id, "sent", sms_ids=["s4", "s5"], phones=v.phones)
        w = begin(j, ["79001234566"])
        j.finish_batch(w.id, "sent", sms_ids=["s6"])
        found = j.message_info(["s6", "s1", "nope", "s4", "s3", "s2", "s5"])
        assert found["sms_id"].tolist() == ["s6", "s1", "s4", "s3", "s2", "s5"]
        assert found["msisdn"].tolist() == [f"7900123456{k}" for k in (6, 1, 4, 3, 2, 5)]
        if store.startswith("postgresql"):
            indexes = {r[0] for r in j._query_tuples(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'messages'"
            )}  # fmt: skip
            assert "messages_sms_id" not in indexes and "messages_batch" in indexes
            ids = j._query_tuples("SELECT sms_id FROM message_ids ORDER BY sms_id")
            assert [r[0] for r in ids] == ["s1", "s2", "s3", "s4", "s5", "s6"]


def test_postgres_an_older_release_open_across_the_upgrade_loses_no_sms_id(pg_url, monkeypatch):
    """Review: a process of the previous release, its journal opened at version 2, answers
    after another process upgraded it to 3; its answer writes no message_ids row, and its id
    was not found by message_info (nor load_statuses' columns). Ids message_ids does not name
    are looked for in the messages themselves."""
    from targetsms_analytics.store import postgres

    monkeypatch.setattr(schema_mod, "POSTGRES_MIGRATIONS", schema_mod.POSTGRES_MIGRATIONS[:2])
    old = Journal(pg_url)  # the older release's process
    assert old.schema_version == 2
    t = begin(old, ["79001234561"])  # its request is out
    u = begin(old, ["79001234562"])
    monkeypatch.undo()
    with Journal(pg_url) as new:  # a new release opens it: upgraded
        assert new.schema_version == 3
        v2_sent = (
            postgres._FAST_ANSWER["sent"]
            .replace(
                "RETURNING messages.account, messages.campaign, messages.msisdn, messages.sms_id",
                "",
            )
            .split("), x AS (")[0]
            + ")"
            + postgres._BATCH_DONE
        )
        with monkeypatch.context() as m:  # the answer as schema 2's code writes it
            m.setitem(postgres._FAST_ANSWER, "sent", v2_sent)
            old.finish_batch(t.id, "sent", sms_ids=["s1"], phones=t.phones)
        new.finish_batch(u.id, "sent", sms_ids=["s2"], phones=u.phones)
        assert new.records("c")["79001234561"]["sms_id"] == "s1"
        found = new.message_info(["s2", "nope", "s1"])
        assert found["sms_id"].tolist() == ["s2", "s1"]
        assert found["msisdn"].tolist() == ["79001234562", "79001234561"]
        assert new.message_info(["s1"], account=ACCOUNT)["msisdn"].tolist() == ["79001234561"]
    old.close()


def test_postgres_the_upgrade_to_3_gives_way_to_a_transaction_left_open(pg_url, monkeypatch):
    """Review: the upgrade's index drop waited for every session using the messages table (a
    transaction an analyst left open), and every sender queued behind it. It waits a while,
    then fails saying what to do, changing nothing; once that transaction ends it goes."""
    import psycopg

    full = list(schema_mod.POSTGRES_MIGRATIONS)
    monkeypatch.setattr(schema_mod, "POSTGRES_MIGRATIONS", full[:2])
    Journal(pg_url).close()
    monkeypatch.setattr(
        schema_mod, "POSTGRES_MIGRATIONS", [*full[:2], full[2].replace("'10s'", "'200ms'")]
    )
    holder = psycopg.connect(pg_url)  # (not autocommit: its transaction stays open)
    try:
        holder.execute("SELECT count(*) FROM messages").fetchone()
        with pytest.raises(JournalError, match="transaction left open") as info:
            Journal(pg_url)
        assert info.value.code == "store_unavailable"
        with _admin_connect(pg_url) as watch:
            assert watch.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 2
    finally:
        holder.close()
    with Journal(pg_url) as j:
        assert j.schema_version == 3


def test_an_id_a_message_no_longer_has_is_not_found(store):
    """message_info finds the messages that have an id now: one sent again under a new id
    (its first answer lost, resent, answered) is found by the new id, not by the old one."""
    with Journal(store) as j:
        t = begin(j, ["79001234561"])
        j.finish_batch(t.id, "sent", sms_ids=["old"], phones=t.phones)
        j.set_outcome("c", ["79001234561"], "pending", account=ACCOUNT, only_from=("sent",))
        u = begin(j, ["79001234561"])
        j.finish_batch(u.id, "sent", sms_ids=["new"], phones=u.phones)
        assert j.message_info(["old"]).empty
        assert j.message_info(["new", "old"])["batch"].tolist() == [u.id]


def test_a_newer_journal_is_refused_and_left_untouched(store):
    with Journal(store) as j:
        begin(j, ["79001234567"])
        with j._tx() as c:
            c.execute("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00+00:00')")
    with pytest.raises(JournalError, match="99") as info:
        Journal(store)
    assert "upgrade targetsms-analytics" in str(info.value)
    assert info.value.code == "journal_too_new"
    with pytest.raises(JournalError):
        ts.campaigns(store=store)


def test_an_unsupported_store_url_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in ("mysql://root:pw@db/x", "redis://h/0", "sqlite+pysqlite://x"):
        with pytest.raises(InputError) as info:
            Journal(url)
        assert info.value.code == "store_unsupported" and "pw" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_postgres_url_is_refused_not_made_a_journal_file(tmp_path, monkeypatch):
    """Review (a new user): ``postgresql:/…`` (one slash) or ``postgresql//…`` sent a campaign
    into a SQLite file of that name, which the team never saw (the password, if any, became a
    folder name). Both are refused, naming neither the URL nor its password."""
    monkeypatch.chdir(tmp_path)
    for url in ("postgresql:/me:S3cret@db/team", "postgresql//me@db/team", "Postgres:db/team"):
        with pytest.raises(InputError) as info:
            Journal(url)
        assert info.value.code == "store_unsupported" and "S3cret" not in str(info.value)
        assert "postgresql://user@host:port/db" in str(info.value)
    with Journal("postgresql.sqlite3"):  # (a file whose name merely begins so is one)
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["postgresql.sqlite3"]


@contextlib.contextmanager
def _fresh_database():
    """The URL of a new, empty database on the test server, dropped afterwards."""
    server = os.environ[PG_ENV]
    name = f"targetsms_fresh_{uuid.uuid4().hex[:10]}"
    with _admin_connect(server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        with _admin_connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_listing_a_database_this_role_may_not_set_up_says_what_to_do(pg_url):
    """Review: a report on an empty database whose role may not create tables (PostgreSQL 15's
    default for a database another role owns) ended in the driver's traceback; one that holds
    another application's tables in another schema got the journal's beside them."""
    server = os.environ[PG_ENV]
    role = f"targetsms_reader_{uuid.uuid4().hex[:6]}"
    try:
        with _fresh_database() as url:
            with _admin_connect(server) as admin:
                admin.execute(f'CREATE ROLE "{role}" LOGIN')
            scheme, rest = url.split("://", 1)
            as_reader = f"{scheme}://{role}@{rest.split('@', 1)[1] if '@' in rest else rest}"
            with pytest.raises(JournalError) as info:
                ts.campaigns(store=as_reader)
            assert "may not create the journal's tables" in str(info.value)
            assert "GRANT CREATE ON SCHEMA" in str(info.value)
            with _admin_connect(url) as db:
                db.execute("CREATE SCHEMA crm")
                db.execute("CREATE TABLE crm.customers (id int)")
            with pytest.raises(JournalError) as info:
                ts.campaigns(store=url)
            assert "holds no journal yet" in str(info.value)
            with _admin_connect(url) as db:
                tables = db.execute(
                    "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                    " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
                ).fetchall()
            assert tables == [("crm.customers",)]
    finally:
        with _admin_connect(server) as admin:  # (after its database: it owns nothing else)
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_postgres_a_dotenv_store_url_serves_journal_campaigns_and_the_cli(
    pg_url, tmp_path, monkeypatch
):
    """Review: ``Journal()`` with a postgresql:// TARGETSMS_STORE (the environment or .env)
    raised TypeError (no default path); every way in reads a .env URL on its own."""
    from click.testing import CliRunner

    from targetsms_analytics.cli import cli

    with Journal(pg_url) as j:
        j.ensure_campaign("from-env", user="demo", url="http://127.0.0.1:9/sendsms.php")
    (tmp_path / ".env").write_text(f"TARGETSMS_STORE={pg_url}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(STORE_ENV, "x")  # (so that the value .env sets goes afterwards)
    monkeypatch.delenv(STORE_ENV)
    with Journal() as j:
        assert j.backend == "postgresql" and "from-env" in set(j.campaigns()["campaign"])
    os.environ.pop(STORE_ENV)
    assert "from-env" in set(ts.campaigns()["campaign"])
    os.environ.pop(STORE_ENV)
    result = CliRunner().invoke(cli, ["campaign", "list"], catch_exceptions=False)
    assert result.exit_code == 0 and "from-env" in result.output, result.output


def test_a_store_url_with_spaces_around_it_is_refused(tmp_path, monkeypatch):
    """Review: " postgresql://…" (pasted with a space) became a SQLite file named after it."""
    monkeypatch.chdir(tmp_path)
    for url in (" postgresql://me:S3cret@db/team", "\tpostgres://me@db/team"):
        with pytest.raises(InputError) as info:
            Journal(url)
        assert "spaces or a line break" in str(info.value) and "S3cret" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_postgres_an_empty_database_lists_no_campaigns_and_an_upper_case_scheme_works(pg_url):
    """Review (a new user): the README's first team step, listing a new, empty database, said
    it "needs an upgrade: open it once for writing" (and no command does that alone); a URL
    written ``PostgreSQL://`` was recognised, then refused by libpq."""
    with _fresh_database() as url:
        assert ts.campaigns(store=url).empty  # (the journal is set up, as a send would)
        rest = url.split("://", 1)[1]
        with Journal(f"PostgreSQL://{rest}") as j:
            assert j.backend == "postgresql" and j.campaigns().empty


def test_postgres_a_store_that_cannot_be_opened_says_what_to_do(pg_url, monkeypatch):
    """Review (a new user): every failure to open was code ``journal`` with libpq's words and
    no next step, a server that was merely down included."""
    import psycopg

    server = os.environ[PG_ENV]
    missing = f"{server.rsplit('/', 1)[0]}/targetsms_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(JournalError) as info:
        Journal(missing)
    assert info.value.code == "journal" and not info.value.retryable
    assert "does not exist" in str(info.value) and "Create the database first" in str(info.value)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(JournalError) as info:
        Journal(f"postgresql://me:S3cret@127.0.0.1:{port}/team")
    assert info.value.code == "store_unavailable" and info.value.retryable
    assert "host and port" in str(info.value) and "S3cret" not in str(info.value)
    nobody = f"{server.split('://', 1)[0]}://nosuchrole_{uuid.uuid4().hex[:6]}@" + (
        server.split("@", 1)[1] if "@" in server else server.split("://", 1)[1]
    )
    with pytest.raises(JournalError) as info:  # (review: not "create the database")
        Journal(nobody)
    assert info.value.code == "journal" and "Check the user" in str(info.value)
    with pytest.raises(JournalError) as info:  # (review: a wrong URL stays wrong)
        Journal(f"{pg_url}{'&' if '?' in pg_url else '?'}no_such_option=1")
    assert info.value.code == "journal" and not info.value.retryable
    monkeypatch.setattr(psycopg, "connect", _too_many_clients)
    with pytest.raises(JournalError) as info:
        Journal(pg_url)
    assert info.value.code == "store_unavailable" and "lower concurrency" in str(info.value)


def test_a_postgres_database_of_another_application_is_refused(pg_url):
    with _admin_connect(pg_url) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(JournalError, match="not a targetsms journal"):
        Journal(pg_url)
    with _admin_connect(pg_url) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]  # fmt: skip
    assert names == ["customers"]


def test_a_missing_driver_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(JournalError) as info:
        Journal("postgresql://postgres@127.0.0.1:1/none")
    assert "pip install targetsms-analytics[postgres]" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_password_of_a_store_url_is_never_shown(pg_url):
    user_url = pg_url.replace("postgres@", "postgres:not-the-password@", 1)
    with Journal(user_url) as j:  # trust auth: any password is accepted, none is shown
        assert "not-the-password" not in j.path and "not-the-password" not in repr(j)


# ---------------------------------------------------------------- sending, both backends


def test_send_campaign_and_statuses_end_to_end(store, client, emulator):
    contacts = pd.DataFrame({"phone": [f"7916{n:07d}" for n in range(25)],
                             "name": [f"N{n}" for n in range(25)]})  # fmt: skip
    result = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="spring",
                              store=store, progress=False, concurrency=4)  # fmt: skip
    assert (result["outcome"] == "sent").all()
    again = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="spring",
                             store=store, progress=False)  # fmt: skip
    assert again["sms_id"].tolist() == result["sms_id"].tolist()
    assert Counter(emulator.sent_phones()).most_common(1)[0][1] == 1
    emulator.advance(3600)
    statuses = ts.fetch_statuses(client, "spring", store=store, progress=False)
    assert statuses["is_final"].all()
    assert sorted(statuses["sms_id"]) == sorted(result["sms_id"])
    assert statuses["state"].tolist() == [emulator.state_of(i) for i in statuses["sms_id"]]
    assert ts.load_statuses("spring", store=store)["state"].tolist() == statuses["state"].tolist()


def test_mixing_scenario_on_both_backends(store, client, emulator):
    with Emulator(throttle_interval=1.0, seed=3) as other_emu:
        other_emu.add_account("acme", "pw", balance=100.0)
        other = ts.TargetSMSClient("acme", "pw", url=other_emu.url, throttle_interval=1.0)
        contacts = pd.DataFrame({"phone": ["79161230001", "79161230002", "79161230003"]})
        first = ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="spring", store=store,
                                 progress=False)  # fmt: skip
        second = ts.send_campaign(other, contacts, "Hi", "SHOP", campaign="spring", store=store,
                                  progress=False)  # fmt: skip
        assert (first["outcome"] == "sent").all() and (second["outcome"] == "sent").all()
        assert other_emu.sent_phones("acme") == contacts["phone"].tolist()
        statuses = ts.fetch_statuses(other, "spring", store=store, progress=False)
        assert set(statuses["account"]) == {account_of("acme", other_emu.url)}
        other.close()


# ---------------------------------------------------------------- several senders (PostgreSQL)

_SENDER = """
import json, sys
import pandas as pd
import targetsms_analytics as ts
url, store, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(n)], "code": range(n)})
client = ts.TargetSMSClient("demo", "demo", url=url, throttle_interval=60.0, timeout=30.0)
print("started", flush=True)
result = ts.send_campaign(client, contacts, "Code {code}", "SHOP", campaign="team", store=store,
                          progress=False, concurrency=4)
print(json.dumps({"tag": tag, "outcomes": result["outcome"].value_counts().to_dict(),
                  "ids": result["sms_id"].tolist()}), flush=True)
"""


def _senders(emu_url: str, store: str, n: int, count: int = 2) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_SENDER), emu_url, store, str(n), str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for k in range(count)
    ]


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def busy_emulator():
    with Emulator(throttle_interval=60.0, latency=0.004) as emu:
        emu.top_up("demo", 1_000_000)
        yield emu


def test_postgres_one_process_sends_everyone_once(pg_url, busy_emulator):
    proc = _senders(busy_emulator.url, pg_url, 300, count=1)[0]
    report = _finish(proc)
    assert report["outcomes"] == {"sent": 300}
    counts = Counter(busy_emulator.sent_phones())
    assert len(counts) == 300 and max(counts.values()) == 1


def test_postgres_two_processes_send_one_campaign_nobody_twice(pg_url, busy_emulator):
    n = 3000
    procs = _senders(busy_emulator.url, pg_url, n)
    reports = [_finish(p) for p in procs]
    counts = Counter(busy_emulator.sent_phones())
    assert len(counts) == n and max(counts.values()) == 1  # all sent, nobody twice
    for report in reports:  # each returns the full frame: the other's rows as sent, their ids
        assert report["outcomes"] == {"sent": n}
    assert reports[0]["ids"] == reports[1]["ids"]
    with Journal(pg_url) as j:
        runs = j.batches("team")["owner_pid"].value_counts()
    assert len(runs) == 2 and runs.min() > n // 10  # both really sent a share


def test_postgres_a_sender_killed_mid_run_leaves_its_batch_unknown_and_the_rest_sent(
    pg_url, busy_emulator
):
    n = 3000
    victim, survivor = _senders(busy_emulator.url, pg_url, n)
    deadline = time.monotonic() + 120
    in_flight: set[int] = set()
    with Journal(pg_url) as j:
        while time.monotonic() < deadline:
            batches = j.batches() if j.campaign_accounts("team") else pd.DataFrame()
            if len(batches) and (batches["owner_pid"] == victim.pid).sum() > 200:
                # Freeze it, then see what it has in flight: that is what the kill interrupts.
                os.kill(victim.pid, signal.SIGSTOP)
                time.sleep(0.3)
                batches = j.batches("team")
                mine = batches[(batches["owner_pid"] == victim.pid)]
                in_flight = set(mine.loc[mine["state"] == "inflight", "id"])
                if in_flight:
                    break
                os.kill(victim.pid, signal.SIGCONT)
            time.sleep(0.02)
        assert in_flight, "the victim never had a batch in flight"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        report = _finish(survivor)
        batches = j.batches("team")
        messages = j.campaign_messages("team")
    counts = Counter(busy_emulator.sent_phones())
    assert max(counts.values()) == 1  # nobody twice
    unknown = messages[messages["outcome"] == "unknown"]
    assert set(unknown["batch"]) == in_flight  # exactly the dead sender's in-flight batches
    assert set(batches.loc[batches["id"].isin(in_flight), "state"]) == {"unknown"}
    # Its concurrency is 4: per worker at most one request in flight and one answer not yet
    # written (answers are written behind the worker's back, at most one waiting each).
    assert 1 <= len(unknown) <= 2 * 4
    assert set(unknown["error_code"]) == {"interrupted"}
    sent = messages[messages["outcome"] == "sent"]
    assert len(sent) + len(unknown) == n  # everyone else sent
    assert set(sent["msisdn"]) <= set(counts)
    assert report["outcomes"] == {"sent": n - len(unknown), "unknown": len(unknown)}


# ---------------------------------------------------------------- the command line


def test_campaign_list_and_a_store_url_on_the_command_line(store, client, emulator, monkeypatch):
    from click.testing import CliRunner

    from targetsms_analytics.cli import cli

    contacts = pd.DataFrame({"phone": ["79161230001", "79161230002"]})
    ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="spring", store=store,
                     progress=False)  # fmt: skip
    result = CliRunner().invoke(cli, ["--store", store, "campaign", "list"])
    assert result.exit_code == 0, result.output
    assert "spring" in result.stdout and account_of("demo", emulator.url) in result.stdout
    monkeypatch.setenv("TARGETSMS_STORE", store)  # the environment names the store too
    listed = ts.campaigns()
    assert listed["campaign"].tolist() == ["spring"] and listed["sent"].tolist() == [2]


def test_the_store_docstring_examples_run():
    import doctest
    import importlib

    for name in ("", "._common", ".base", ".sqlite", ".schema"):
        module = importlib.import_module(f"targetsms_analytics.store{name}")
        assert doctest.testmod(module).failed == 0, name


# ---------------------------------------------------------------- fast paths (prepared runs)


def _prepared(j: Journal, phones: list[str]) -> None:
    j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
    j.prepare("c", [(p, "SHOP", "Hi", 1) for p in phones], account=ACCOUNT)


def test_a_prepared_run_claims_only_the_free_recipients_and_journals_answers(store):
    """PostgreSQL sends a prepared run's intents and answers as one statement each: it must
    still skip what another sender holds, keep the order, and write every answer."""
    phones = ["79001234561", "79001234562", "79001234563", "79001234564"]
    with Journal(store) as other, Journal(store) as j:
        _prepared(other, phones)
        _prepared(j, phones)
        held = begin(other, [phones[1]])
        t = begin(j, phones[::-1])  # all but the held one, in the order asked
        assert t.phones == [phones[3], phones[2], phones[0]]
        assert t.fingerprint == request_fingerprint(URL, "demo", "SHOP", t.phones, "Hi")
        assert begin(j, [phones[0]]).phones == []  # in flight now
        j.finish_batch(t.id, "sent", sms_ids=["3", "2", "0"], phones=t.phones)
        other.finish_batch(held.id, "rejected", error_code="phone_stop_listed", phones=held.phones)
        records = j.records("c")
        assert {p: r["sms_id"] for p, r in records.items() if r["status"] == "sent"} == {
            phones[3]: "3",
            phones[2]: "2",
            phones[0]: "0",
        }
        assert records[phones[1]]["status"] == "rejected"
        assert set(j.batches("c")["state"]) == {"done"}
        with pytest.raises(KeyError):
            j.finish_batch(999_999, "sent", sms_ids=["1"], phones=[phones[0]])
        assert j.records("c")[phones[0]]["sms_id"] == "0"  # left alone


def test_a_prepared_run_sees_the_last_refusal_and_splits_back_to_pending(store):
    phones = ["79001234561", "79001234562"]
    with Journal(store) as j:
        _prepared(j, phones)
        first = begin(j, phones)
        j.finish_batch(first.id, "split", error_code="phone_invalid", error_text="no",
                       phones=first.phones)  # fmt: skip
        assert {r["status"] for r in j.records("c").values()} == {"pending"}
        again = begin(j, phones)  # the very request refused a moment ago
        assert again.phones == phones and again.refused_at is not None
        j.finish_batch(again.id, "pending", phones=again.phones)
        assert set(j.batches("c")["state"]) == {"split", "failed"}


def test_postgres_claims_look_recipients_up_by_key_without_statistics(pg_url):
    """Regression: with no statistics on a freshly filled table, the claim scanned every row
    of the campaign (filtering the msisdns) for each batch: O(campaign) per request."""
    from targetsms_analytics.store.postgres import _CLAIM_SQL

    phones = [f"7900{i:07d}" for i in range(3000)]
    with Journal(pg_url) as j:
        _prepared(j, phones)
        plan = "\n".join(
            r[0]
            for r in j._query(
                "EXPLAIN (ANALYZE, COSTS OFF) " + _CLAIM_SQL, (phones[10:12], ACCOUNT, "c")
            )
        )
    assert "Rows Removed by Filter" not in plan, plan
    assert "msisdn = w.value" in plan, plan


@given(
    st.lists(
        st.none()
        | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
    )
)
def test_postgres_array_literals_come_back_as_the_values_they_were_made_of(pg_database, values):
    """Intents and answers send their lists as one array literal (``_array``), not as lists the
    driver dumps element by element: quotes, backslashes, braces, commas, NULL, the word NULL,
    blanks and every other character must arrive as they were."""
    import psycopg

    from targetsms_analytics.store.postgres import _array

    with psycopg.connect(pg_database, autocommit=True) as conn:
        got = conn.execute("SELECT CAST(%s AS text[])", (_array(values),)).fetchone()[0]
        assert got == values
        ints = [None if v is None else len(v) for v in values]
        assert conn.execute("SELECT CAST(%s AS integer[])", (_array(ints),)).fetchone()[0] == ints


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://team@db:5432/sms?password=s3cr3t-pw",
        "postgresql://team:pa/s3cr3t-pw@db/sms",
        "postgresql://team:s3cr3t-pw@db:5432/sms?sslmode=require",
        "postgresql://team@db/sms?sslpassword=s3cr3t-pw&passfile=/s3cr3t-pw",
    ],
)
def test_a_store_url_never_shows_its_password(url):
    """Review: ?password= and a raw '/' in the password went through redact_url untouched."""
    from targetsms_analytics.store._common import redact_url

    shown = redact_url(url)
    assert "s3cr3t" not in shown and shown.startswith("postgresql://team@db")


def test_a_postgres_journal_serving_many_runs_keeps_a_bounded_number_of_connections(pg_url):
    """Review: every run's thread pool opened `concurrency` connections that stayed open until the
    journal closed; a notebook or a wait=True loop ran into 'too many clients'."""
    contacts = pd.DataFrame({"phone": [f"791612{i:05d}" for i in range(40)]})
    with Journal(pg_url) as journal, Emulator(throttle_interval=1.0) as emu:
        client = ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=1.0)
        opened = []
        for k in range(4):
            result = ts.send_campaign(client, contacts, f"Hi {k} {{phone}}", "SHOP",
                                   campaign=f"c{k}", store=journal, progress=False,
                                   concurrency=8)  # fmt: skip
            assert set(result["outcome"]) == {"sent"}
            opened.append(len(journal._all))
        # one per worker, the journal's own, its answer writer's and its launcher's, however
        # many runs
        assert max(opened) <= 8 + 3


def _skip_unless_probes_are_the_servers_defaults(j: Journal) -> None:
    """These tests expect the journal's probes where the server has none of its own: skip on a
    server whose configuration (or the database's, the role's) chooses some."""
    chosen = j._query(
        "SELECT name FROM pg_settings WHERE name LIKE 'tcp%' AND source NOT IN"
        " ('default', 'session', 'client')"
    )
    if chosen:
        pytest.skip(f"the server chooses its own TCP settings: {[r[0] for r in chosen]}")


def test_postgres_sessions_have_the_server_probe_a_vanished_sender(pg_url):
    """Liveness across machines: a sender whose network is gone must lose its run lock in about
    a minute and a half, not when the OS gives up on the TCP connection (about two hours)."""

    def settings(j: Journal) -> tuple:
        names = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count",
                 "tcp_user_timeout", "synchronous_commit")  # fmt: skip
        return tuple(j._thread_conn().execute(f"SHOW {n}").fetchone()[0] for n in names)

    with Journal(pg_url) as j:
        if j._raw.info.host.startswith("/"):
            pytest.skip("the server is reached by a Unix socket, which has no TCP probes")
        _skip_unless_probes_are_the_servers_defaults(j)
        worker: list[tuple] = []
        thread = threading.Thread(target=lambda: worker.append(settings(j)))  # its own session
        thread.start()
        thread.join()
        assert settings(j) == worker[0] == ("30", "10", "6", "90000", "on")


def _tcp_options(raw) -> tuple[int, int]:
    """(TCP_KEEPIDLE in seconds, TCP_USER_TIMEOUT in ms) of a connection's socket, as set."""
    sock = socket.socket(fileno=raw.pgconn.socket)
    try:
        return (sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))  # fmt: skip
    finally:
        sock.detach()  # (the descriptor stays the connection's)


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux socket options")
def test_postgres_tcp_settings_the_url_gives_are_kept(pg_url):
    """Review: the journal's probes replaced those the user's URL chose, on both sides (a
    keyword argument overrides the URL's option; a SET, the URL's ``options``). Ours fill in
    only what nobody set, and each side gives up on unacknowledged data once its probes would
    have (idle + interval x count, with the probes as chosen), unless that was chosen too."""
    own = "keepalives_idle=7&options=-c%20tcp_keepalives_idle%3D45%20-c%20tcp_user_timeout%3D5000"
    probes = "options=-c%20tcp_keepalives_idle%3D20%20-c%20tcp_keepalives_count%3D2"
    join = "&" if "?" in pg_url else "?"
    seen: dict[str, tuple] = {}

    def look(j: Journal, who: str) -> None:
        c = j._thread_conn()
        server = tuple(
            c.execute(f"SHOW {n}").fetchone()[0]
            for n in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_user_timeout")
        )
        seen[who] = (*_tcp_options(c.raw), *server)  # fmt: skip

    with (
        Journal(f"{pg_url}{join}{own}") as j,
        Journal(pg_url) as plain,
        Journal(f"{pg_url}{join}{probes}") as chosen,
    ):
        if j._raw.info.host.startswith("/"):
            pytest.skip("the server is reached by a Unix socket, which has no TCP probes")
        _skip_unless_probes_are_the_servers_defaults(j)
        look(j, "own")
        thread = threading.Thread(target=look, args=(j, "worker"))  # a sender's connection
        thread.start()
        thread.join()
        look(plain, "plain")
        look(chosen, "chosen")
    assert seen["own"] == seen["worker"] == (7, (7 + 10 * 6) * 1000, "45", "10", "5000")
    assert seen["plain"] == (30, 90_000, "30", "10", "90000")
    assert seen["chosen"] == (30, 90_000, "20", "10", str((20 + 10 * 2) * 1000))


def test_postgres_connect_options_fill_in_only_what_the_url_leaves(monkeypatch):
    """The journal's TCP options never override the URL's or its service's; the time to give up
    on unacknowledged data follows the probes (on Linux it replaces their count), none when the
    URL turns them off; an older libpq (before 12, which would refuse to connect) gets none."""
    psycopg = pytest.importorskip("psycopg")
    import targetsms_analytics.store.postgres as pg

    monkeypatch.setattr(psycopg.pq, "version", lambda: 150_000)
    monkeypatch.delenv("PGSERVICE", raising=False)
    base = "postgresql://u@db.example:5432/team"
    assert pg._connect_options(base) == {
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
        "keepalives_count": 6, "tcp_user_timeout": 90_000,
    }  # fmt: skip
    assert pg._connect_options(
        f"{base}?keepalives_idle=5&keepalives_interval=2&keepalives_count=3"
    ) == {"keepalives": 1, "tcp_user_timeout": 11_000}
    assert pg._connect_options(f"{base}?keepalives=0&keepalives_idle=7") == {}
    assert "tcp_user_timeout" not in pg._connect_options(f"{base}?tcp_user_timeout=5000")
    assert pg._connect_options(f"{base}?service=team") == {}
    monkeypatch.setenv("PGSERVICE", "team")
    assert pg._connect_options(base) == {}
    monkeypatch.delenv("PGSERVICE")
    monkeypatch.setattr(psycopg.pq, "version", lambda: 110_000)
    assert "tcp_user_timeout" not in pg._connect_options(base)


def _end_run_in_a_thread(j: Journal, token: str) -> list[BaseException]:
    """``j.end_run(token)`` from a thread of its own (its own, healthy connection writes the
    run's end, not the one that holds the run's lock): what it raised."""
    errors: list[BaseException] = []

    def end() -> None:
        try:
            j.end_run(token)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=end)
    thread.start()
    thread.join()
    return errors


def test_postgres_begin_run_holds_its_lock_with_its_row_or_neither(pg_url, monkeypatch):
    """begin_run takes the run's lock and writes its row with the key in one round trip: the
    row names the lock it holds; should the row fail to be written (here: a token already
    registered), the lock it took is let go (a session lock outlives its transaction) and the
    error is raised; the journal goes on."""
    from targetsms_analytics.store import postgres

    held = (
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database ="
        " (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY objid"
    )
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        token = j.begin_run("c", account=ACCOUNT)
        ((key, ended),) = watch.execute(
            "SELECT lock_key, ended_at FROM runs WHERE token = %s", (token,)
        ).fetchall()
        assert ended is None and key == j._run_locks[token][0]
        assert [r[0] for r in watch.execute(held)] == [key]

        keys = iter([key + 1])
        monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(token))
        monkeypatch.setattr(postgres.random, "randint", lambda a, b: next(keys))
        with pytest.raises(Exception, match=r"runs_pkey|duplicate key"):
            j.begin_run("c", account=ACCOUNT)
        assert [r[0] for r in watch.execute(held)] == [key]
        monkeypatch.undo()

        other = j.begin_run("c", account=ACCOUNT)
        j.end_run(token)
        j.end_run(other)
        assert not watch.execute(held).fetchall()


def test_postgres_end_run_whose_lock_connection_cannot_unlock_lets_the_lock_go(pg_url):
    """Review: when the unlock failed on a connection whose session still lived (here: left
    mid-statement, so the driver refuses it), end_run returned and the run's lock stayed held,
    so other senders took the ended run for alive. The connection is closed: the lock goes."""
    with Journal(pg_url) as j, _admin_connect(pg_url) as watch:
        token = j.begin_run("c", account=ACCOUNT)
        key, conn = j._run_locks[token]
        conn.raw.pgconn.send_query(b"SELECT 1")  # (a statement whose answer nobody reads)
        assert _end_run_in_a_thread(j, token) == [] and conn.raw.closed
        held = (
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        _until(lambda: not watch.execute(held, (key,)).fetchall(), "the run's lock stayed held")


def test_postgres_end_run_whose_lock_session_vanished_without_a_word(pg_url, monkeypatch):
    """Review: ``end_run`` committed the run's end, then raised ``store_unavailable`` when the
    unlock met a session that had ended unnoticed (a network gone says nothing: here the
    server's last word is not looked at). The lock went with that session: the run is over."""
    import targetsms_analytics.store.postgres as pg

    with Journal(pg_url) as j:
        token = j.begin_run("c", account=ACCOUNT)
        lock = j._run_locks[token][1].raw
        _terminate(pg_url, lock.info.backend_pid)
        select.select([lock.pgconn.socket], [], [], 60)  # (ended)
        monkeypatch.setattr(pg, "_lost", lambda raw: raw.closed)  # unnoticed
        errors = _end_run_in_a_thread(j, token)
        monkeypatch.undo()
        assert errors == []
        ended = j._query("SELECT ended_at FROM runs WHERE token = ?", (token,))
        assert ended[0][0] is not None
        assert token not in j._run_locks
        again = j.begin_run("c", account=ACCOUNT)  # the journal goes on
        j.end_run(again)


def test_postgres_a_lock_in_another_database_does_not_keep_a_dead_run_alive(pg_url):
    """Advisory locks are per database: another journal on the same server whose run drew the
    same key must not make this journal's dead run look alive."""
    with _fresh_database() as other:
        sender = Journal(pg_url)
        token = sender.begin_run("c", account=ACCOUNT)
        begin(sender, ["79001234567"], token=token)
        key = sender._run_locks[token][0]
        with _admin_connect(other) as elsewhere:
            from targetsms_analytics.store.postgres import _LOCK_NAMESPACE

            elsewhere.execute("SELECT pg_advisory_lock(%s, %s)", (_LOCK_NAMESPACE, key))
            sender.close()  # killed: its connection, hence its lock, is gone; the run never ended
            with Journal(pg_url) as j:
                assert j.recover_inflight("c") == 1
                assert j.records("c")["79001234567"]["status"] == "unknown"


def _at_once(*calls) -> list[BaseException]:
    """Run the calls each in a thread of its own, started together; the errors they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(fn) -> None:
        start.wait()
        try:
            fn()
        except Exception as exc:  # the caller looks at them
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _held(phones: list[str], status: str) -> list[dict]:
    """hold()'s rows for ``phones``, in that order."""
    return [{"msisdn": p, "text": "Hi", "parts": 1, "sender": "SHOP", "variant": None,
             "status": status, "not_before": None, "contact": None} for p in phones]  # fmt: skip


def _hold_and_prepare_at_once(url: str, phones: list[str]) -> list[BaseException]:
    """One journal holds ``phones`` back (in reverse order) while another prepares their rows;
    returns the errors either raised, after checking every recipient has its row."""
    held = _held(phones[::-1], "holdout")
    with Journal(url) as one, Journal(url) as other:
        errors = _at_once(
            lambda: one.hold("c", held, account=ACCOUNT),
            lambda: other.prepare("c", [(p, "SHOP", "Hi", 1) for p in phones], account=ACCOUNT),
        )
        if not errors:
            assert len(one.records("c", account=ACCOUNT)) == len(phones)
    return errors


def test_postgres_hold_and_prepare_of_the_same_rows_at_once_do_not_deadlock(pg_url):
    """Two senders of one campaign: one holds recipients back (a send window, a holdout) while
    the other prepares the same recipients' rows. hold() wrote them in the caller's order and
    prepare() in msisdn order, so each waited for a row the other had: PostgreSQL aborted one
    with a deadlock."""
    assert _hold_and_prepare_at_once(pg_url, [f"7916{i:07d}" for i in range(3000)]) == []


def test_postgres_rows_are_written_in_one_order_whatever_the_databases_collation():
    """Review: prepare() sorted by the database's collation, hold() as Python sorts (by code
    point). Under a numeric collation (ICU ``en-u-kn-true``) numbers of different lengths sort
    differently ("79161234567" before "491701234567"), and the two deadlocked again."""
    server = os.environ.get(PG_ENV)
    if not server:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    name = f"targetsms_icu_{uuid.uuid4().hex[:10]}"
    import psycopg

    with _admin_connect(server) as admin:
        try:
            admin.execute(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu'
                " ICU_LOCALE 'en-u-kn-true' LOCALE 'C.UTF-8'"
            )
        except psycopg.Error as exc:  # a server built without ICU
            pytest.skip(f"the server cannot make a database with a numeric ICU collation: {exc}")
    try:
        url = f"{server.rsplit('/', 1)[0]}/{name}"
        phones = [f"7916{i:07d}" for i in range(1500)] + [f"4917{i:08d}" for i in range(1500)]
        assert _hold_and_prepare_at_once(url, phones) == []
    finally:
        with _admin_connect(server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _answer_and_hold_at_once(one: Journal, other: Journal, campaign: str, phones: list[str]):
    """``other`` claims ``phones``; then its answer and ``one``'s hold of the same recipients run
    at once. Returns the errors either raised."""
    other.ensure_campaign(campaign, user="demo", url=URL, sender="SHOP")
    other.prepare(campaign, [(p, "SHOP", "Hi", 1) for p in phones], account=ACCOUNT)
    ticket = begin(other, phones, campaign=campaign)
    assert len(ticket.phones) == len(phones)
    held = _held(sorted(phones, reverse=True), "scheduled")  # in neither the claim's order
    ids = [str(i) for i in range(len(phones))]
    return _at_once(
        lambda: other.finish_batch(ticket.id, "sent", sms_ids=ids, phones=ticket.phones),
        lambda: one.hold(campaign, held, account=ACCOUNT),
    )


def test_postgres_hold_and_another_senders_answer_at_once_do_not_deadlock(pg_url):
    """Review: hold()'s upsert locked every conflicting row, also rows in flight that it would
    not write, while the other sender's answer locked its batch's rows in its own order: a
    deadlock in about one run of two (PostgreSQL aborted the answer or the hold). A hold now
    never locks a row it does not write."""
    rnd = random.Random(7)
    with Journal(pg_url) as one, Journal(pg_url) as other:
        for k in range(12):
            phones = [f"79{rnd.randrange(10**9):09d}" for _ in range(400)]
            assert _answer_and_hold_at_once(one, other, f"c{k}", phones) == []
            records = one.records(f"c{k}", account=ACCOUNT)
            assert {r["status"] for r in records.values()} == {"sent"}  # the hold wrote none


def test_a_newer_sqlite_journal_keeps_its_journal_mode_when_refused(tmp_path):
    """Review: the file was switched to WAL before its version was checked."""
    import sqlite3

    path = tmp_path / "newer.sqlite3"
    with Journal(path) as j:
        with j._tx() as c:
            c.execute("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00+00:00')")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    with pytest.raises(JournalError, match="99"):
        Journal(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


_ZONES = (
    st.none()
    | st.just(dt.UTC)
    | st.builds(lambda minutes: dt.timezone(dt.timedelta(minutes=minutes)), st.integers(-900, 900))
)


@given(st.datetimes(min_value=dt.datetime(1970, 1, 2), timezones=_ZONES))
def test_iso_writes_a_datetime_as_pandas_does(value):
    """iso() has a fast path for datetime (every intent and answer is stamped): its text must
    be the one the journal always wrote (pandas' isoformat in UTC; naive taken as UTC)."""
    ts_ = pd.Timestamp(value)
    expected = (ts_.tz_localize("UTC") if ts_.tzinfo is None else ts_.tz_convert("UTC")).isoformat()
    assert iso(value) == expected
    assert iso(pd.Timestamp(value)) == expected


# ---------------------------------------------------------------- a run's own records


@pytest.mark.parametrize(
    "scenario",
    ["shared_with_refusals", "personal", "lost_answers", "resumed", "ab_holdout", "was_scheduled"],
)
def test_a_run_that_sent_everyone_itself_returns_what_the_journal_holds(store, scenario):
    """send_campaign builds its result from the records its run journaled, without reading them
    back, when the run claimed and answered every recipient itself: those records must be, field
    by field, what the journal holds (splits, refusals, lost answers, earlier calls' rows, A/B
    variants and the holdout included)."""
    from targetsms_analytics.campaign import _Run

    seen: list[dict] = []
    original = _Run.records_after

    def spy(self, before, todo):
        out = original(self, before, todo)
        if out is not None:
            seen.append(out)
        return out

    phones = [f"7916123{i:04d}" for i in range(120)]
    # stop-listed numbers inside a shared request: it is split until they stand alone
    phones[7], phones[64] = "79000000000", "79999999999"
    contacts = pd.DataFrame({"phone": phones, "name": [f"Имя {i}" for i in range(120)]})
    text: object = "Скидка 20% до воскресенья"
    kwargs: dict = {}
    with Emulator(throttle_interval=60.0) as emu, Journal(store) as journal:
        emu.top_up("demo", 100_000)
        client = ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=60.0)
        if scenario == "personal":
            text = "Здравствуйте, {name}!"
        elif scenario == "lost_answers":
            text = "Здравствуйте, {name}!"
            emu.inject("drop_after", count=2, op="send")
            kwargs["concurrency"] = 1
        elif scenario == "resumed":  # an earlier call sent the first 50
            ts.send_campaign(client, contacts.iloc[:50], text, "SHOP", campaign="c",
                             store=journal, progress=False)  # fmt: skip
        elif scenario == "ab_holdout":
            text = {"A": "Скидка 20%, {name}", "B": "{name}, только сегодня -20%"}
            kwargs.update(holdout=0.2, seed=7)
        elif scenario == "was_scheduled":  # held at night by a window; now due, sent without one
            night = dt.datetime(2026, 12, 6, 0, 0, tzinfo=dt.UTC)
            held = ts.send_campaign(client, contacts, text, "SHOP", campaign="c", store=journal,
                                    progress=False, window=("09:00", "21:00"),
                                    clock=lambda: night)  # fmt: skip
            assert set(held["outcome"]) == {"scheduled"}
            kwargs["clock"] = lambda: night + dt.timedelta(hours=12)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_Run, "records_after", spy)
            result = ts.send_campaign(client, contacts, text, "SHOP", campaign="c", store=journal,
                                      progress=False, **kwargs)  # fmt: skip
        assert len(seen) == 1, "the run's own records were not used"
        stored = journal.records("c", list(seen[0]), contact=False)
        assert seen[0] == stored
        assert set(stored) == set(result["msisdn"])
        assert result.loc[result["msisdn"] == "79000000000", "outcome"].item() == "rejected"
        if scenario == "lost_answers":
            assert (result["outcome"] == "unknown").sum() == 2
        if scenario == "was_scheduled":  # the claim kept when each was held until
            assert all(r["not_before"] is not None for r in stored.values())


def _generic_plan(conn, name: str, sql: str, values: dict) -> str:
    """PostgreSQL's generic plan of ``sql`` (psycopg's %(name)s form), as a sender would run it."""
    import re

    from psycopg import sql as pgsql

    names: list[str] = []

    def number(match):
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    query = re.sub(r"%\((\w+)\)s", number, sql)
    types = {
        "n": "bigint",
        "parent": "bigint",
        "id": "bigint",
        "pid": "integer",
        "parts": "integer",
    }
    conn.execute(f"PREPARE {name}({', '.join(types.get(n, 'text') for n in names)}) AS {query}")
    explain = pgsql.SQL("EXPLAIN EXECUTE {}({})").format(
        pgsql.Identifier(name), pgsql.SQL(", ").join(pgsql.Literal(values.get(n)) for n in names)
    )
    return "\n".join(r[0] for r in conn.execute(explain).fetchall())


def test_postgres_senders_plan_their_statements_once_and_find_rows_by_key(pg_url):
    """Sending sessions use generic plans (PostgreSQL otherwise plans the intent anew for every
    request, which cost more server time than running it): those plans must still find every
    row by key, never scan the messages or the batches, however large the journal."""
    from targetsms_analytics.store.postgres import _FAST_ANSWER, _FAST_INTENT

    with Journal(pg_url) as j:
        for k in range(40):  # one large campaign and many small ones (skew across campaigns)
            account = j.ensure_campaign(f"c{k}", user="demo", url=URL, sender="SHOP")
            rows = 6000 if k == 1 else 3
            j.prepare(f"c{k}", [(f"7916{i:07d}", "SHOP", "Hi", 1) for i in range(rows)],
                      account=account)  # fmt: skip
        j._thread_conn().raw.execute("ANALYZE messages")
        got: list = []
        worker = threading.Thread(target=lambda: got.append(j._thread_conn()))
        worker.start()
        worker.join()
        conn = got[0].raw  # a sending thread's own session
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "force_generic_plan"
        values = {"a": ACCOUNT, "c": "c1", "phones": "{79160000001}", "sorted": "{79160000001}",
                  "n": 1, "contacts": "{NULL}", "id": 5, "ids": "{1}", "outcome": "rejected"}  # fmt: skip
        plans = {
            "intent": _generic_plan(conn, "intent", _FAST_INTENT, values),
            "sent": _generic_plan(conn, "sent", _FAST_ANSWER["sent"], values),
            "rejected": _generic_plan(conn, "rejected", _FAST_ANSWER["rejected"], values),
        }
    for what, plan in plans.items():
        assert "Seq Scan on messages" not in plan and "Seq Scan on batches" not in plan, plan
        assert "Index Scan" in plan, (what, plan)
    # the claim looks each recipient up by its full key, the answers by their batch
    assert "messages_pkey" in plans["intent"] and "msisdn = w.value" in plans["intent"]
    assert "messages_batch" in plans["sent"] and "messages_batch" in plans["rejected"]


def test_postgres_sending_sessions_prepare_only_their_hot_statements(pg_url):
    """Review: with generic plans, a sending session's look-ups by part of a key (a campaign:
    set_outcome, records) read the whole campaign of a large journal. Only the hot statements
    (intents, answers) are prepared there, so only they get generic plans."""
    phones = [f"7916{i:07d}" for i in range(20)]
    with Journal(pg_url) as j:
        account = j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        j.prepare("c", [(p, "SHOP", "Hi", 1) for p in phones], account=account)
        names: list = []

        def sender() -> None:
            for phone in phones:
                ticket = begin(j, [phone], account=account)
                j.finish_batch(ticket.id, "unknown", error_code="transport", phones=[phone])
                j.records("c", [phone], account=account)
                j.set_outcome("c", [phone], "pending", account=account)
                j.recover_inflight("c", account=account)
            names.extend(
                r[0] for r in j._thread_conn().raw.execute(
                    "SELECT statement FROM pg_prepared_statements").fetchall()
            )  # fmt: skip

        worker = threading.Thread(target=sender)
        worker.start()
        worker.join()
    assert names, "nothing was prepared: the hot statements plan anew each time"
    assert all("INSERT INTO batches" in n or "UPDATE batches" in n for n in names), names


@pytest.mark.parametrize("how", ["alone", "pipelined", "by_the_worker"])
def test_postgres_answers_are_planned_once_from_the_first(pg_url, how):
    """A shared text's run has a few answers, each written once: their statement is prepared
    from the first (not after psycopg's default five executions), so the next ones are not
    planned again: a lone answer and a pipeline of them (the answer writer's), and one a worker
    writes itself."""
    from targetsms_analytics.store.base import _Work

    with Journal(pg_url) as j:
        tickets = [begin(j, [f"7900123456{i}"]) for i in range(2)]
        works = [
            _Work(j._answer_work(t.id, "sent", [f"{t.id}"], None, None, t.phones), False)
            for t in tickets
        ]
        if how == "alone":
            j._write_queued(works[:1])
        elif how == "pipelined":
            j._write_queued(works)
        else:
            j._commit_answer(works[0].fn)
        assert not any(w.error for w in works)
        names = [r[0] for r in j._thread_conn().raw.execute(
            "SELECT statement FROM pg_prepared_statements").fetchall()]  # fmt: skip
        answered = 1 if how != "pipelined" else 2
        assert j.campaign_messages("c")["sms_id"].notna().sum() == answered
    assert any("UPDATE messages SET status = 'sent'" in n for n in names), names


@pytest.mark.parametrize("meanwhile", ["answer_of_a_batch_in_flight", "mark_outcome"])
def test_a_result_shows_what_others_did_to_the_campaign_during_the_run(store, meanwhile):
    """Review: a run that sent all it claimed built its result from its own records and the
    ones read before it, so what another sender did meanwhile (the answer of a batch it had in
    flight; someone marking an unknown recipient) was missing from the frame. The journal is
    read back then."""
    x, y, z = "79161234567", "79161234568", "79161234569"
    with Emulator(throttle_interval=60.0) as emu, Journal(store) as other:
        emu.top_up("demo", 1000)
        client = ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=60.0)
        account = other.ensure_campaign("c", user="demo", url=client.url, sender="SHOP")
        token = other.begin_run("c", account=account)  # alive: its batch is not an orphan
        ticket = other.begin_batch("c", [x], "Hi", 1, sender="SHOP", user="demo",
                                   url=client.url, token=token, account=account)  # fmt: skip
        if meanwhile == "mark_outcome":
            other.finish_batch(ticket.id, "unknown", error_code="transport", phones=[x])
        real_send = client.send

        def send(sender, phones, text):
            ids = real_send(sender, phones, text)
            if meanwhile == "mark_outcome":
                other.set_outcome("c", [x], "sent", account=account, note="seen in the panel")
            elif other.batches("c")["state"].iloc[0] == "inflight":
                other.finish_batch(ticket.id, "sent", sms_ids=["999"], phones=[x])
            return ids

        client.send = send
        result = ts.send_campaign(client, pd.DataFrame({"phone": [x, y, z]}), "Hi", "SHOP",
                                  campaign="c", store=store, progress=False)  # fmt: skip
        other.end_run(token)
        stored = other.records("c", [x, y, z], contact=False)
    frame = result.set_index("msisdn")
    assert stored[x]["status"] == "sent"
    assert frame.loc[x, "outcome"] == "sent", frame
    assert (frame.loc[[y, z], "outcome"] == "sent").all()


# ---------------------------------------------------------------- several intents, one commit


def _wave(phones: list[str], size: int = 2) -> list[dict]:
    return [
        {"phones": phones[k : k + size], "text": "Hi", "parts": 1, "variant": "A",
         "contacts": {p: {"name": f"n{p[-1]}"} for p in phones[k : k + size]}}
        for k in range(0, len(phones), size)
    ]  # fmt: skip


def _begin_batches(j: Journal, batches: list[dict], **kw):
    return j.begin_batches("c", batches, sender="SHOP", user="demo", url=URL, **kw)


def test_a_campaign_name_is_stored_as_given_whatever_its_characters(store):
    """ensure_campaign's statements go together (PostgreSQL: one query, its values bound on
    this side): quotes, semicolons, percent signs and backslashes are a name like any other."""
    name = "O'Brien; DROP TABLE runs; -- 100% \\ $1 ?"
    with Journal(store) as j:
        account = j.ensure_campaign(name, user="demo", url=URL, sender="SHOP", template="Hi")
        info = j.campaign_info(name, account=account)
        assert (info["name"], info["sender"], info["template"]) == (name, "SHOP", "Hi")
        token = j.begin_run(name, account=account)
        j.end_run(token)
        assert j.campaigns()["campaign"].tolist() == [name]


def test_create_campaign_gives_a_mark_only_to_the_call_that_created_the_campaign(store):
    """create_campaign: ``(account, mark)``; the mark (as activity gives it) only when this very
    call wrote the campaign's row, None when it was there already (this journal's or another's),
    and changed_since sees a change made after it."""
    with Journal(store) as j, Journal(store) as other:
        account, mark = j.create_campaign("c", user="demo", url=URL, sender="SHOP", template="Hi")
        assert account == ACCOUNT
        assert mark == j.activity("c", account=ACCOUNT) and mark[0] == 0
        again = j.create_campaign("c", user="demo", url=URL, sender="SHOP", template="Hi")
        assert again == (ACCOUNT, None)
        assert other.create_campaign("c", user="demo", url=URL, sender="SHOP")[1] is None
        assert not j.changed_since("c", mark, account=ACCOUNT, token="run")
        begin(other, ["79001234567"], token="theirs")
        assert j.changed_since("c", mark, account=ACCOUNT, token="run")
        assert j.ensure_campaign("d", user="demo", url=URL) == ACCOUNT  # (the account only)
        assert j.create_campaign("d", user="demo", url=URL)[1] is None


def test_a_new_campaign_another_sender_joins_at_once_is_still_sent_once(store, client, emulator):
    """A call that created the campaign reads nothing back before sending (nothing was there):
    another sender that joins right after, and sends some of the recipients first, is still
    seen: those come back as its (its SMS ids), the rest are sent, nobody twice."""
    contacts = pd.DataFrame({"phone": [f"7916123{i:04d}" for i in range(8)]})
    with Journal(store) as j, Journal(store) as other:
        create = j.create_campaign
        joined: list = []

        def create_then_another_sender(*args, **kwargs):
            made = create(*args, **kwargs)
            assert made[1] is not None  # (this call created it)
            theirs = ts.send_campaign(client, contacts.iloc[:3], "Hi", "SHOP", campaign="c",
                                      store=other, progress=False)  # fmt: skip
            joined.append(theirs)
            return made

        j.create_campaign = create_then_another_sender
        result = ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="c", store=j,
                                  concurrency=2, progress=False)  # fmt: skip
    assert (result["outcome"] == "sent").all()
    assert result["sms_id"].iloc[:3].tolist() == joined[0]["sms_id"].tolist()
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])  # (each once)


def test_statements_written_together_are_all_or_nothing(store):
    """Journal._write: should one statement fail, none of them is committed, the error is
    raised, and the journal goes on (PostgreSQL: the transaction is rolled back)."""
    with Journal(store) as j:
        insert = (
            "INSERT INTO campaigns (account, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            ("a@h", "c", "2026-12-07", "2026-12-07"),
        )
        with pytest.raises(Exception, match=r"no_such_table|no such table|does not exist"):
            j._write([insert, ("UPDATE no_such_table SET x = ?", (1,))])
        assert j.campaign_info("c", account="a@h") is None
        j._write([insert])
        assert j.campaign_info("c", account="a@h")["name"] == "c"


def test_begin_batches_claims_a_new_campaigns_first_batches_with_its_rows(store):
    """A run's first intents, each handed to ``each`` once committed; on PostgreSQL a new
    campaign's rows are written with them, each row once: the first requests' rows with their
    batches (these small ones in one transaction), then the rows no batch took."""
    phones = [f"7900123456{i}" for i in range(7)]
    with Journal(store) as j, Journal(store) as other:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        token = j.begin_run("c", account=ACCOUNT)
        handed: list = []

        def each(k, ticket):  # what another connection sees as each ticket is handed over
            handed.append((k, ticket, {p: r["batch"] for p, r in other.records("c").items()}))

        tickets = _begin_batches(
            j, _wave(phones[:6]), token=token, prepare=[(p, "SHOP", "Hi", 1) for p in phones],
            each=each,
        )  # fmt: skip
        assert [t.phones for t in tickets] == [phones[0:2], phones[2:4], phones[4:6]]
        assert [(k, t) for k, t, _ in handed] == list(enumerate(tickets))
        assert len({t.id for t in tickets}) == 3 and all(t.refused_at is None for t in tickets)
        assert tickets[1].fingerprint == request_fingerprint(URL, "demo", "SHOP", phones[2:4], "Hi")
        seen = other.records("c", account=ACCOUNT)  # committed: another connection sees them
        assert {p: r["status"] for p, r in seen.items() if r["status"] == "inflight"} == {
            p: "inflight" for p in phones[:6]
        }
        assert [seen[p]["batch"] for p in phones[:6]] == [t.id for t in tickets for _ in (0, 1)]
        assert seen[phones[2]]["variant"] == "A"
        assert seen[phones[3]]["contact"] == {"name": "n3"}
        batches = other.batches("c").set_index("id")
        assert list(batches.loc[[t.id for t in tickets], "state"]) == ["inflight"] * 3
        assert list(batches.loc[[t.id for t in tickets], "size"]) == [2, 2, 2]
        if j.backend == "postgresql":  # the one recipient no batch took has its row, pending
            assert seen[phones[6]]["status"] == "pending"
            # (small batches: written together, see test_postgres_a_new_campaigns_first_...)
            assert [h[2] for h in handed] == [{p: t.id for t in tickets for p in t.phones}] * 3
            import psycopg

            with psycopg.connect(store) as conn:  # each batch with its rows, each row once
                written = conn.execute(
                    "SELECT m.msisdn, m.xmin::text, b.xmin::text FROM messages m"
                    " LEFT JOIN batches b ON b.id = m.batch ORDER BY m.msisdn"
                ).fetchall()
            assert all(row[1] == row[2] for row in written[:6])
            assert len({row[1] for row in written}) == 2  # the batches, then the rest
        assert begin(other, phones).phones == [phones[6]]  # the rest are held
        for t in tickets:
            j.finish_batch(t.id, "sent", sms_ids=[f"id{p}" for p in t.phones], phones=t.phones)
        j.end_run(token)
        records = j.records("c", account=ACCOUNT)
        assert {records[p]["sms_id"] for p in phones[:6]} == {f"id{p}" for p in phones[:6]}


def test_a_ctrl_c_as_a_ticket_is_handed_over_sends_back_those_not_handed_yet(store):
    """Review: tickets committed together were kept one by one as each was handed over; a
    Ctrl-C in ``each`` left the rest in flight with no owner (unknown, never sent). Now the one
    being handed stays the caller's (in flight: it may have gone), the others go back to
    pending."""
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(store) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")

        def each(k, ticket):
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            _begin_batches(j, _wave(phones, 1), prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                           each=each)  # fmt: skip
        statuses = {p: r["status"] for p, r in j.records("c", account=ACCOUNT).items()}
    assert statuses == {phones[0]: "inflight", **{p: "pending" for p in phones[1:]}}


def test_postgres_a_new_campaigns_first_requests_are_written_a_few_rows_a_step(pg_url, monkeypatch):
    """A new campaign's first requests are written a few rows a transaction: each takes the
    batches that fit within ``_GROUP_ROWS`` rows (here 4), at least one: a big batch goes on its
    own, as soon as it is written, small ones together; every batch with its own rows (text,
    parts, variant and contact its own), and the rows no batch took after them. Each ticket is
    handed over once its own transaction is committed (the next are written meanwhile)."""
    import psycopg

    from targetsms_analytics.store.postgres import PostgresJournal

    monkeypatch.setattr(PostgresJournal, "_GROUP_ROWS", 4)
    phones = [f"790012345{i:02d}" for i in range(15)]
    wave = [*_wave(phones[:4], 1), *_wave(phones[4:14], 5)]  # 1, 1, 1, 1, 5, 5 recipients
    wave[1] = {**wave[1], "text": "Другой текст", "parts": None, "variant": None}
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        handed: list = []

        def each(k, ticket):  # its batch and rows, as another connection sees them
            with psycopg.connect(pg_url) as conn:
                seen = conn.execute(
                    "SELECT COUNT(*) FROM messages WHERE batch = %s", (ticket.id,)
                ).fetchone()[0]
            handed.append((k, seen))

        tickets = _begin_batches(j, wave, prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                                 each=each)  # fmt: skip
        assert handed == [(k, len(b["phones"])) for k, b in enumerate(wave)]  # committed
        assert [t.phones for t in tickets] == [b["phones"] for b in wave]
        records = j.records("c", account=ACCOUNT)
        assert [records[p]["batch"] for p in phones[:14]] == [
            t.id for t in tickets for _ in t.phones
        ]
        assert {records[p]["status"] for p in phones[:14]} == {"inflight"}
        assert records[phones[14]]["status"] == "pending"
        mine = records[phones[1]]  # (written with other batches: its own text and parts)
        assert (mine["text"], mine["parts"], mine["variant"]) == ("Другой текст", None, None)
        assert records[phones[7]]["contact"] == {"name": "n7"}
        assert records[phones[8]]["variant"] == "A" and records[phones[8]]["parts"] == 1
        with psycopg.connect(pg_url) as conn:
            steps = conn.execute(
                "SELECT array_agg(id ORDER BY id) FROM batches GROUP BY xmin::text ORDER BY min(id)"
            ).fetchall()
            rest = conn.execute(
                "SELECT m.xmin::text NOT IN (SELECT xmin::text FROM batches) FROM messages m"
                " WHERE msisdn = %s",
                (phones[14],),
            ).fetchone()[0]
        ids = [t.id for t in tickets]
        assert [s[0] for s in steps] == [ids[:4], ids[4:5], ids[5:]]
        assert rest  # (its own transaction, after them)


def test_a_new_campaigns_rows_keep_every_character_of_their_text_and_contact(store):
    """The first intents of a new campaign are written as array parameters on PostgreSQL, the
    rows no batch took with COPY: texts with a line break, a tab or a backslash, contacts whose
    JSON holds escapes, quotes and Cyrillic, and rows not in a batch (no contact, an empty
    text) come back exactly as given."""
    phones = [f"7900123456{i}" for i in range(5)]
    texts = ["Скидка 20%\nдо воскресенья", "tab\there \\N", 'кавычки "и" \\ слэш']
    contacts = {
        phones[0]: {"name": 'О"лег\t\\', "note": "строка\nвторая"},
        phones[1]: {"code": 7, "empty": None},
        phones[2]: {},
    }
    batches = [
        {"phones": [p], "text": t, "parts": 2, "contacts": {p: contacts[p]}}
        for p, t in zip(phones[:3], texts, strict=True)
    ]
    prepare = [(p, "SHOP", t, 2) for p, t in zip(phones, [*texts, "", None], strict=True)]
    with Journal(store) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        tickets = _begin_batches(j, batches, token=j.begin_run("c", account=ACCOUNT),
                                 prepare=prepare)  # fmt: skip
        assert [t.phones for t in tickets] == [[p] for p in phones[:3]]
        records = j.records("c", account=ACCOUNT)
        backend = j.backend
    assert [records[p]["text"] for p in phones[:3]] == texts
    assert [records[p]["status"] for p in phones[:3]] == ["inflight"] * 3
    # (the rest: PostgreSQL gives them their rows up front; SQLite writes none before a claim)
    rest = [(records[p]["status"], records[p]["text"]) for p in phones[3:] if p in records]
    assert rest == ([("pending", "")] * 2 if backend == "postgresql" else [])
    assert [records[p]["contact"] for p in phones[:3]] == [contacts[p] for p in phones[:3]]
    assert [records[p]["batch"] for p in phones[:3]] == [t.id for t in tickets]


def test_begin_batches_leaves_out_what_has_an_outcome_or_another_sender_holds(store):
    """A campaign with rows already (a rerun): each batch claims only its free recipients."""
    phones = [f"7900123456{i}" for i in range(6)]
    with Journal(store) as j, Journal(store) as other:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        done = begin(j, [phones[0]])
        j.finish_batch(done.id, "sent", sms_ids=["s0"], phones=done.phones)
        _prepared(other, phones)
        held = begin(other, [phones[3]])
        items = [(p, "SHOP", "Hi", 1) for p in phones]
        tickets = _begin_batches(j, _wave(phones, 3), prepare=items)
        assert [t.phones for t in tickets] == [phones[1:3], phones[4:6]]
        assert all(t.id for t in tickets) and tickets[0].id != tickets[1].id
        assert _begin_batches(j, []) == []
        other.finish_batch(held.id, "rejected", error_code="phone_stop_listed", phones=held.phones)
        records = j.records("c", account=ACCOUNT)
        assert records[phones[0]]["sms_id"] == "s0" and records[phones[3]]["status"] == "rejected"
        assert {records[p]["status"] for p in phones[1:3] + phones[4:6]} == {"inflight"}


def test_postgres_begin_batches_gives_way_to_a_sender_that_wrote_the_rows_first(
    pg_url, monkeypatch
):
    """Two senders start a new campaign at once: the one whose rows are written first keeps
    them; the other's statement of a batch and its rows, which waited for them, fails on the
    key and is rolled back, and it claims what is left the usual way: nobody is claimed twice,
    no batch is left half written."""
    import psycopg

    from targetsms_analytics.store.postgres import PostgresJournal

    monkeypatch.setattr(PostgresJournal, "_GROUP_ROWS", 2)  # (a transaction per batch)
    phones = [f"7900123456{i}" for i in range(6)]
    with Journal(pg_url) as j, psycopg.connect(pg_url, autocommit=True) as first:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        first.execute("BEGIN")  # another sender's prepare, not committed yet
        first.execute(
            "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, status,"
            " created_at) VALUES (%s, 'c', %s, 'Hi', 1, 'SHOP', 'pending', '2026-01-01')",
            (ACCOUNT, phones[3]),
        )
        got: list = []
        tried: list = []
        attempt = j._prepare_and_begin

        def spy(*args, **kwargs):
            tried.append(attempt(*args, **kwargs))
            return tried[-1]

        j._prepare_and_begin = spy
        items = [(p, "SHOP", "Hi", 1) for p in phones]
        worker = threading.Thread(
            target=lambda: got.append(_begin_batches(j, _wave(phones), prepare=items))
        )
        worker.start()
        with _admin_connect(pg_url) as watch:  # (outside `first`'s transaction: fresh views)
            _until_waiting_for_a_lock(watch, "WITH b AS (%")  # for the row `first` wrote
        first.execute("COMMIT")
        worker.join(30)
        tickets = got[0]
        # the first batch was written before; the second's statement gave way (rolled back),
        # and the usual path claimed it (the third, sent after it, was written as it came)
        assert tried == [False]
        assert [t.phones for t in tickets] == [phones[0:2], phones[2:4], phones[4:6]]
        records = j.records("c", account=ACCOUNT)
        assert [records[p]["batch"] for p in phones] == [t.id for t in tickets for _ in (0, 1)]
        batches = j.batches("c")
        assert sorted(batches["id"]) == sorted(t.id for t in tickets)  # none rolled back left
        assert set(batches["state"]) == {"inflight"}


def test_postgres_a_first_request_that_fails_to_be_written_stops_and_sends_back_the_rest(
    pg_url, monkeypatch
):
    """A new campaign's first requests go as one pipeline, each its own transaction: should one
    fail (here a value the server refuses), its error is raised once the others' outcomes are
    read: the batch handed before it stays the caller's (in flight), the one after it, which
    the server committed regardless, goes back to pending with it; nothing is left in flight
    without a ticket, and the connection works."""
    import psycopg

    from targetsms_analytics.store import postgres

    monkeypatch.setattr(postgres.PostgresJournal, "_GROUP_ROWS", 2)  # (a statement per batch)
    real = postgres._first_step

    def first_step(*args):
        params = real(*args)
        if "79001234563" in params[15]:  # the second batch's rows: a part count that is none
            params[17] = params[17].replace('"1"', '"one"', 1)
        return params

    monkeypatch.setattr(postgres, "_first_step", first_step)
    phones = [f"7900123456{i}" for i in range(6)]
    handed: list = []
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):
            _begin_batches(j, _wave(phones), prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                           each=lambda k, ticket: handed.append(ticket))  # fmt: skip
        monkeypatch.undo()
        assert [t.phones for t in handed] == [phones[:2]]
        statuses = {p: r["status"] for p, r in j.records("c", account=ACCOUNT).items()}
        assert statuses == {**dict.fromkeys(phones[:2], "inflight"),
                            **dict.fromkeys(phones[4:], "pending")}  # fmt: skip
        states = dict(zip(j.batches("c")["id"], j.batches("c")["state"], strict=True))
        assert states[handed[0].id] == "inflight" and sorted(states.values()) == [
            "failed",
            "inflight",
        ]


def test_postgres_a_new_campaigns_first_requests_are_written_with_a_socket_above_1023(pg_url):
    """Review: the first requests' pipeline waited for its socket with select(), which takes no
    descriptor above 1023 (a notebook with many files open): every new campaign failed, its
    first requests committed and left in flight. It waits with poll(), as _lost does."""
    r, w = os.pipe()
    fds = [r, w]
    try:
        while fds[-1] < 1100:
            fds.append(os.dup(r))
        phones = [f"7900123456{i}" for i in range(6)]
        with Journal(pg_url) as j:
            assert j._thread_conn().raw.pgconn.socket > 1023
            j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
            tickets = _begin_batches(
                j, _wave(phones), prepare=[(p, "SHOP", "Hi", 1) for p in phones]
            )
            assert [t.phones for t in tickets] == [phones[0:2], phones[2:4], phones[4:6]]
    finally:
        for fd in fds:
            os.close(fd)


def test_postgres_a_ctrl_c_as_a_committed_first_request_is_read_sends_it_back(pg_url, monkeypatch):
    """Review: a Ctrl-C after a first request's commit was read and before its ticket was
    stored left it in flight with no ticket (``unknown`` later, though never sent): those read
    committed go back to pending with the rest."""
    from targetsms_analytics.store import postgres

    monkeypatch.setattr(postgres.PostgresJournal, "_GROUP_ROWS", 2)  # (a statement per batch)
    real = postgres._fast_ticket
    calls = {"n": 0}

    def fast_ticket(*args):  # (the first ticket made: where the interrupt lands)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real(*args)

    phones = [f"7900123456{i}" for i in range(6)]
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        monkeypatch.setattr(postgres, "_fast_ticket", fast_ticket)
        with pytest.raises(KeyboardInterrupt):
            _begin_batches(j, _wave(phones[:4]), prepare=[(p, "SHOP", "Hi", 1) for p in phones])
        monkeypatch.undo()
        statuses = {p: r["status"] for p, r in j.records("c", account=ACCOUNT).items()}
        assert statuses == dict.fromkeys(phones[:4], "pending")


def test_postgres_a_ctrl_c_as_the_pipeline_is_left_leaves_the_connection_usable(
    pg_url, monkeypatch
):
    """Review: a Ctrl-C landing just before the first requests' pipeline left pipeline mode
    left the connection in it: psycopg's next statement on it then waited for ever (no Sync,
    no result). Its next use takes it out of the mode first."""
    from targetsms_analytics.store import postgres

    real = postgres._OneByOne.leave
    calls = {"n": 0}

    def leave(raw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real(raw)

    monkeypatch.setattr(postgres._OneByOne, "leave", staticmethod(leave))
    phones = [f"7900123456{i}" for i in range(6)]
    out: list = []
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")

        def go() -> None:
            with pytest.raises(KeyboardInterrupt):
                _begin_batches(j, _wave(phones), prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                               each=lambda k, ticket: None)  # fmt: skip
            out.append({p: r["status"] for p, r in j.records("c", account=ACCOUNT).items()})

        thread = threading.Thread(target=go, daemon=True)
        thread.start()
        thread.join(60)  # (a watchdog, not a timing: it returns at once, or hangs for ever)
        assert not thread.is_alive(), "the connection's next statement hung"
        assert calls["n"] == 2  # (left at its next use)
    assert out == [dict.fromkeys(phones, "inflight")]  # (each handed over before: the caller's)


def _interrupt_in(func, text: str, when):
    """A tracer that raises KeyboardInterrupt once, in ``func`` at its line containing
    ``text``, as ``when(frame)`` holds: a Ctrl-C landing between two exact bytecodes."""
    import inspect

    src, first = inspect.getsourcelines(func)
    line = first + next(i for i, text_ in enumerate(src) if text in text_)
    done = {"n": 0}

    def local(frame, event, arg):
        if event == "line" and frame.f_lineno == line and not done["n"] and when(frame):
            done["n"] = 1
            raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code is func.__code__ else None

    return tracer, done


@pytest.mark.parametrize("window", ["read, not counted", "counted, not listed"])
def test_postgres_a_ctrl_c_as_a_step_is_read_leaves_none_in_flight_without_a_ticket(
    pg_url, monkeypatch, window
):
    """Second review: a Ctrl-C landing as a first requests' step was being read (its Sync read,
    not counted yet; counted, not listed committed) left the counts one place off, and a batch
    the server committed in flight with no ticket (``unknown`` at the next run, never sent).
    After an interrupt the server says which were committed."""
    from targetsms_analytics.store import postgres

    monkeypatch.setattr(postgres.PostgresJournal, "_GROUP_ROWS", 2)  # (a statement per batch)
    pq = postgres._driver().pq
    if window == "read, not counted":

        def when(frame):
            result = frame.f_locals.get("result")
            return (result is not None and result.status == pq.ExecStatus.PIPELINE_SYNC
                    and frame.f_locals["self"].read == 1)  # fmt: skip

        tracer, done = _interrupt_in(postgres._OneByOne.__iter__, "if result is None:", when)
    else:
        tracer, done = _interrupt_in(
            postgres._OneByOne.__iter__, "error, self.error = self.error, None",
            lambda frame: frame.f_locals["self"].read == 2,
        )  # fmt: skip
    phones = [f"7900123456{i}" for i in range(8)]
    handed: list = []
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        sys.settrace(tracer)
        try:
            with pytest.raises(KeyboardInterrupt):
                _begin_batches(j, _wave(phones), prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                               each=lambda k, ticket: handed.append(ticket))  # fmt: skip
        finally:
            sys.settrace(None)
        assert done["n"], "the interrupt never came"
        records = j.records("c", account=ACCOUNT)
    mine = {p for t in handed for p in t.phones}
    assert handed and {records[p]["status"] for p in mine} == {"inflight"}  # (the caller's)
    assert {p: r["status"] for p, r in records.items() if p not in mine} == dict.fromkeys(
        [p for p in phones if p not in mine], "pending"
    )


def test_postgres_an_each_that_uses_the_journal_mid_pipeline_is_told_and_loses_nothing(
    pg_url, monkeypatch
):
    """Second review: an ``each`` (begin_batches' callback) that used the journal on the thread
    still reading the first requests' pipeline closed its connection: the run's lock went
    with it, and the batches committed after were left in flight with no ticket. It is now
    refused with the journal's error; those not handed go back to pending, and the run claims
    on."""
    from targetsms_analytics.store import postgres

    monkeypatch.setattr(postgres.PostgresJournal, "_GROUP_ROWS", 2)
    phones = [f"7900123456{i}" for i in range(8)]
    handed: list = []
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        token = j.begin_run("c", account=ACCOUNT)

        def each(k, ticket):
            handed.append(ticket)
            j.campaign_info("c", account=ACCOUNT)

        with pytest.raises(JournalError, match="first requests"):
            _begin_batches(j, _wave(phones), prepare=[(p, "SHOP", "Hi", 1) for p in phones],
                           each=each, token=token)  # fmt: skip
        records = j.records("c", account=ACCOUNT)
        mine = {p for t in handed for p in t.phones}
        assert {p: r["status"] for p, r in records.items() if p not in mine} == dict.fromkeys(
            [p for p in phones if p not in mine], "pending"
        )
        again = _begin_batches(j, _wave(phones[6:]), token=token)  # (the lock is there)
        assert [t.phones for t in again] == [phones[6:]]


@pytest.mark.parametrize("seed", range(3))
def test_postgres_a_new_campaigns_first_rows_keep_every_character(pg_url, seed):
    """The first requests' rows go as array literals: quotes, backslashes, braces, commas,
    ``NULL`` as a text, line breaks, tabs, Cyrillic and emoji come back exactly as given,
    in texts, variants and contacts (from the review)."""
    nasty = ['"', "\\", '\\"', "{", "}", ",", "NULL", "null", " lead", "trail ", "", "\n",
             "\r\n", "\t", "'", "$1", "%s", "Скидка", "😀", "a,b", '{"x"}', "{NULL}", "\\N",
             '""', "\x01"]  # fmt: skip
    rnd = random.Random(seed)
    phones = [f"790012345{i:02d}" for i in range(len(nasty))]
    batches, prepare = [], []
    for k, p in enumerate(phones):
        text = "".join(rnd.choice(nasty) for _ in range(4)) + nasty[k]
        contact = {"name": "".join(rnd.choice(nasty) for _ in range(3)), nasty[k] or "k": nasty[k]}
        batches.append({"phones": [p], "text": text, "parts": 1,
                        "variant": rnd.choice([None, "A", "NULL", '"']), "contacts": {p: contact}})  # fmt: skip
        prepare.append((p, "SHOP", text, 1))
    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        assert len(_begin_batches(j, batches, prepare=prepare)) == len(batches)
        records = j.records("c", account=ACCOUNT)
    for b in batches:
        mine = records[b["phones"][0]]
        assert mine["status"] == "inflight"
        assert (mine["text"], mine["variant"]) == (b["text"], b["variant"])
        assert mine["contact"] == b["contacts"][b["phones"][0]]


def test_a_batchs_claimed_rows_keep_every_character_and_the_contact_they_had(store):
    """A batch's claimed rows (SQLite: written in one statement, as a JSON array): contacts
    with quotes, backslashes, escapes, line breaks, Cyrillic and emoji come back as given; a
    recipient that had a row (held, with a contact) is taken over and keeps its contact when
    the batch gives none; one with no contact at all has none."""
    nasty = {"name": 'О"лег\t\\ \\u0041 😀', "note": "строка\nвторая", "x": [1, None, "{,}"]}
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(store) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        j.hold("c", [{"msisdn": phones[3], "text": "Hi", "parts": 1, "sender": "SHOP",
                      "variant": None, "status": "scheduled", "not_before": None,
                      "contact": {"kept": "да"}}], account=ACCOUNT)  # fmt: skip
        ticket = begin(
            j, phones, 'Скидка "20%"\n{x}', contacts={phones[0]: nasty, phones[1]: {"n": 1}}
        )
        assert ticket.phones == phones
        records = j.records("c", account=ACCOUNT)
    assert [records[p]["contact"] for p in phones] == [nasty, {"n": 1}, None, {"kept": "да"}]
    assert {records[p]["text"] for p in phones} == {'Скидка "20%"\n{x}'}
    assert {records[p]["status"] for p in phones} == {"inflight"}
    assert {records[p]["batch"] for p in phones} == {ticket.id}


def test_changed_since_sees_another_runs_batch_or_a_mark_but_not_its_own_run(store):
    """changed_since: False while only run ``token`` added batches since the mark; True once
    another run has a batch since, or the campaign's messages were marked (updated_at)."""
    phones = [f"7900123456{i}" for i in range(4)]
    with Journal(store) as j, Journal(store) as other:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        done = begin(j, [phones[0]])  # before the mark: not a change
        mark = j.activity("c", account=ACCOUNT)
        assert not j.changed_since("c", mark, account=ACCOUNT, token="run")
        begin(j, [phones[1]], token="run")
        assert not j.changed_since("c", mark, account=ACCOUNT, token="run")
        theirs = begin(other, [phones[2]], token="theirs")
        assert j.changed_since("c", mark, account=ACCOUNT, token="run")
        assert not j.changed_since("c", j.activity("c", account=ACCOUNT), account=ACCOUNT,
                                   token="run")  # fmt: skip
        mark = j.activity("c", account=ACCOUNT)
        j.finish_batch(done.id, "unknown", phones=done.phones)
        other.finish_batch(theirs.id, "sent", sms_ids=["s2"], phones=theirs.phones)
        assert not j.changed_since("c", mark, account=ACCOUNT, token="run")  # (answers)
        other.set_outcome("c", [phones[0]], "sent", account=ACCOUNT)
        assert j.changed_since("c", mark, account=ACCOUNT, token="run")


def test_connected_here_says_whether_this_thread_has_a_connection(store):
    with Journal(store) as j:
        j.campaigns()
        assert j.connected_here()
        seen: list[bool] = []

        def other_thread() -> None:
            seen.append(j.connected_here())
            j.records("c", account=ACCOUNT)
            seen.append(j.connected_here())

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert seen == ([False, True] if j.backend == "postgresql" else [True, True])


def test_first_intents_no_worker_took_go_back_to_pending(store, client, emulator, monkeypatch):
    """A run commits its first requests' intents and hands each to a worker: should it stop
    before the workers take them (Ctrl-C, an error), those batches never went out and must not
    come back `unknown` (resend_unknown territory): the next call sends them, once."""
    from targetsms_analytics import campaign as campaign_mod
    from targetsms_analytics.store.sqlite import SQLiteJournal

    # (SQLite's runs claim their first requests one by one: the same mechanism, forced here)
    monkeypatch.setattr(SQLiteJournal, "first_intents_together", True)
    made = []
    original = campaign_mod._Run._first_intents

    def then_stop(self, batches, prepare, deliver):
        def stopped_first(k, ticket):  # each committed, the run stops before a worker takes it
            self.stop.set()
            deliver(k, ticket)

        tickets = original(self, batches, prepare, stopped_first)
        made.append(len(tickets))
        return tickets

    monkeypatch.setattr(campaign_mod._Run, "_first_intents", then_stop)
    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(6)], "name": list("abcdef")})
    args = (client, contacts, "Hi {name}", "SHOP")
    ts.send_campaign(*args, campaign="w", store=store, concurrency=3, progress=False)
    # (three first requests' intents, and the next three claimed ahead: reserved)
    assert made == [6] and emulator.sent_phones() == []
    with Journal(store) as j:
        assert set(j.batches("w")["state"]) == {"failed"}
        assert {r["status"] for r in j.records("w").values()} <= {"pending"}
    monkeypatch.undo()
    result = ts.send_campaign(*args, campaign="w", store=store, concurrency=3, progress=False)
    assert list(result["outcome"]) == ["sent"] * 6
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])


def test_postgres_a_new_campaigns_first_request_goes_before_the_next_intent_is_written(
    pg_url, client, emulator, monkeypatch
):
    """Each first request of a new campaign goes out as soon as its own intent is committed,
    while the next ones are written: with the second's row held by another session (not
    committed), the first request reaches the service, nobody else's row written yet (all in
    one transaction, none would be; here each batch has a transaction of its own, as a shared
    text's big batches have). Once the other session lets go, the rest follow."""
    from targetsms_analytics.store.postgres import PostgresJournal

    monkeypatch.setattr(PostgresJournal, "_GROUP_ROWS", 1)
    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(6)], "name": list("abcdef")})
    done: list = []
    Journal(pg_url).close()  # (its tables)
    with _admin_connect(pg_url) as holder, _admin_connect(pg_url) as watch:
        holder.execute("BEGIN")
        holder.execute(  # (the second request's row, as another sender's prepare would)
            "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, status,"
            " created_at) VALUES (%s, 'w', '79161234501', 'Hi b', 1, 'SHOP', 'pending', '')",
            (account_of(client.user, client.url),),
        )
        thread = threading.Thread(target=lambda: done.append(ts.send_campaign(
            client, contacts, "Hi {name}", "SHOP", campaign="w", store=pg_url, concurrency=3,
            progress=False,
        )))  # fmt: skip
        thread.start()
        # (watchdogs, not timings: each returns once it is so)
        _until_waiting_for_a_lock(watch, "WITH b AS (%")
        _until(emulator.sent_phones, "the first request never reached the emulator")
        with Journal(pg_url) as other:
            written = sorted(other.records("w"))
        holder.execute("ROLLBACK")
        thread.join(60)
    assert emulator.sent_phones()[:1] == ["79161234500"]
    assert written == ["79161234500"]  # the first request's row alone
    assert list(done[0]["outcome"]) == ["sent"] * 6
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])  # each once


def test_postgres_a_reserved_batch_waits_for_the_journals_warm_up_not_for_a_connection(
    pg_url, client, emulator, monkeypatch
):
    """Review (stress run): a first request answered before the run had warmed the journal up
    let its worker launch its reserved batch at once, on a connection of its own (the launcher
    was not opened yet), and claim the next on another: more connections than a run holds.
    Reserved batches and claims wait for warm_up; here it waits for the first answers."""
    cls = _journal_class(pg_url)
    real = cls.warm_up
    counted: list[int] = []

    def warm_up(self, *args, **kwargs):  # (a watchdog, not a timing: it returns once answered)
        _until(lambda: len(emulator.sent_phones()) >= 2, "the first answers never came")
        counted.append(len(self._all))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "warm_up", warm_up)
    contacts = pd.DataFrame(
        {"phone": [f"7916123450{i}" for i in range(8)], "name": list("abcdefgh")}
    )
    with Journal(pg_url) as journal:
        result = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="w",
                                  store=journal, concurrency=2, progress=False)  # fmt: skip
        opened = len(journal._all)
    assert counted and list(result["outcome"]) == ["sent"] * 8
    # the journal's own, the answer writer's, the launcher's, and one for each worker
    assert opened <= 3 + 2
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])  # each once


def _journal_class(store: str) -> type:
    with Journal(store) as j:
        return type(j)


def _reserving(monkeypatch, store: str) -> list[int]:
    """Runs of both backends claim their workers' second requests ahead (SQLite's claim one by
    one: the same mechanism, forced here); the batches launched, by id, are listed."""
    from targetsms_analytics.store.sqlite import SQLiteJournal

    monkeypatch.setattr(SQLiteJournal, "first_intents_together", True)
    launched: list[int] = []
    cls = _journal_class(store)
    real = cls.launch_batch

    def spy(self, batch_id, *, token=None):
        launched.append(batch_id)
        return real(self, batch_id, token=token)

    monkeypatch.setattr(cls, "launch_batch", spy)
    return launched


def test_a_run_claims_its_workers_second_requests_ahead_and_sends_each_once(
    store, client, emulator, monkeypatch
):
    """The first requests' intents and the next ones, reserved, in one transaction: each of
    those goes in flight (one row) just before its request; everyone is sent once."""
    launched = _reserving(monkeypatch, store)
    contacts = pd.DataFrame(
        {"phone": [f"7916123450{i}" for i in range(7)], "name": list("abcdefg")}
    )
    result = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="w", store=store,
                              concurrency=2, progress=False)  # fmt: skip
    assert list(result["outcome"]) == ["sent"] * 7
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])
    with Journal(store) as j:
        batches = j.batches("w")
        assert set(batches["state"]) == {"done"}
        assert sorted(launched) == sorted(batches["id"])[2:4]  # the 3rd and 4th requests


def test_a_reserved_batch_taken_back_is_sent_by_the_next_pass_once(
    store, client, emulator, monkeypatch
):
    """Should a run's reserved batch be taken back before its request (its run taken for gone:
    its recipients pending again), launch_batch says so and the run sends none of it; it sends
    them in its next pass, as any pending recipients, once."""
    from targetsms_analytics.store.sqlite import SQLiteJournal

    monkeypatch.setattr(SQLiteJournal, "first_intents_together", True)
    cls = _journal_class(store)
    real = cls.launch_batch
    calls: list[int] = []
    taken: list[bool] = []
    lock = threading.Lock()

    def taken_back_first(self, batch_id, *, token=None):
        with lock:  # (both workers may launch at once)
            calls.append(batch_id)
            if len(calls) == 1:  # as recover_inflight does for a run it takes for gone
                phones = self.batches("w").set_index("id").loc[batch_id, "recipients"]
                self.finish_batch(batch_id, "pending", phones=phones)
        launched = real(self, batch_id, token=token)
        with lock:
            taken.append(launched)
        return launched

    monkeypatch.setattr(cls, "launch_batch", taken_back_first)
    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(6)], "name": list("abcdef")})
    result = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="w", store=store,
                              concurrency=2, progress=False)  # fmt: skip
    assert sorted(taken) == [False, True]
    assert list(result["outcome"]) == ["sent"] * 6
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])  # each once


def test_a_reserved_batch_the_journal_could_not_launch_is_sent_once_by_the_next_call(
    store, client, emulator, monkeypatch
):
    """launch_batch failing (the store gone a moment) stops the run with the error, as a
    failed claim does; that batch never went out: back to pending, the next call sends it."""
    _reserving(monkeypatch, store)
    cls = _journal_class(store)
    real = cls.launch_batch

    def fail_once(self, batch_id, *, token=None):
        monkeypatch.setattr(cls, "launch_batch", real)
        raise JournalError("store_unavailable", "the store went away")

    monkeypatch.setattr(cls, "launch_batch", fail_once)
    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(6)], "name": list("abcdef")})
    args = (client, contacts, "Hi {name}", "SHOP")
    with pytest.raises(JournalError, match="went away"):
        ts.send_campaign(*args, campaign="w", store=store, concurrency=2, progress=False)
    with Journal(store) as j:
        assert "unknown" not in {r["status"] for r in j.records("w").values()}
    result = ts.send_campaign(*args, campaign="w", store=store, concurrency=2, progress=False)
    assert list(result["outcome"]) == ["sent"] * 6
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])


def test_postgres_a_new_campaigns_copy_and_another_senders_prepare_do_not_deadlock(pg_url):
    """Review: a new campaign's first rows are written in the order prepare() does (byte
    order, each transaction), so two senders that both wait for a row a third session holds
    never deadlock once it lets go: the one that holds the first rows goes on, the other waits
    for it (in the opposite order each would hold rows the other waits for)."""
    phones = [f"790012345{i:02d}" for i in range(12)]
    items = [(p, "SHOP", "Hi", 1) for p in phones]
    with (
        Journal(pg_url) as j,
        Journal(pg_url) as other,
        _admin_connect(pg_url) as third,
        _admin_connect(pg_url) as watch,
    ):
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        third.execute("BEGIN")  # holds a row in the middle, not committed yet
        third.execute(
            "INSERT INTO messages (account, campaign, msisdn, text, parts, sender, status,"
            " created_at) VALUES (%s, 'c', %s, 'Hi', 1, 'SHOP', 'pending', '2026-01-01')",
            (ACCOUNT, phones[6]),
        )
        errors: list[BaseException] = []
        got: list = []

        def run(fn) -> threading.Thread:
            def target() -> None:
                try:
                    got.append(fn())
                except BaseException as exc:
                    errors.append(exc)

            thread = threading.Thread(target=target)
            thread.start()
            return thread

        copying = run(lambda: _begin_batches(j, _wave(phones, size=4), prepare=items))
        _until_waiting_for_a_lock(watch, "WITH b AS (%", errors)
        preparing = run(lambda: other.prepare("c", items, account=ACCOUNT))
        _until_waiting_for_a_lock(watch, "INSERT INTO messages%", errors)
        third.execute("ROLLBACK")
        copying.join(60)
        preparing.join(60)
        assert not errors, errors
        tickets = next(g for g in got if g is not None)
        assert [t.phones for t in tickets] == [phones[0:4], phones[4:8], phones[8:12]]
        records = j.records("c", account=ACCOUNT)
        assert sorted(records) == phones and {r["status"] for r in records.values()} == {"inflight"}


def test_postgres_begin_batches_releases_what_it_committed_when_a_later_batch_fails(
    pg_url, monkeypatch
):
    """The pipelined intents commit together; a batch journaled after them (its recipients were
    not all free) may fail: the committed ones go back to pending before the error is raised,
    never left in flight with no ticket (they would come back `unknown`, never sent)."""
    phones = [f"7900123456{i}" for i in range(6)]
    with Journal(pg_url) as j, Journal(pg_url) as other:
        _prepared(j, phones)
        _prepared(other, phones)
        held = begin(other, [phones[2]])  # batch 2 cannot be claimed whole: it goes alone

        def broken(*args, **kwargs):
            raise JournalError("the connection was lost")

        monkeypatch.setattr(j, "_grouped", broken)  # the batch claimed alone cannot commit
        with pytest.raises(JournalError, match="connection was lost"):
            _begin_batches(j, _wave(phones))
        records = j.records("c", account=ACCOUNT)
        assert {p: records[p]["status"] for p in phones if p != phones[2]} == {
            p: "pending" for p in phones if p != phones[2]
        }
        assert records[phones[2]]["batch"] == held.id
        mine = j.batches("c").query("id != @held.id")
        assert len(mine) == 2 and set(mine["state"]) == {"failed"}


@pytest.mark.parametrize("new_campaign", [True, False])
def test_postgres_begin_batches_starts_no_thread_and_warm_up_survives_one_that_cannot_start(
    pg_url, monkeypatch, new_campaign
):
    """The first intents' tickets come back with no thread started (a thread starting there
    held their requests up); warm_up, called once they may go, starts the answer writer, best
    effort: a thread that cannot start costs nothing (it is started again for the first
    answer), and every answer is written."""
    phones = [f"7900123456{i}" for i in range(4)]
    items = [(p, "SHOP", "Hi", 1) for p in phones]
    real_start = threading.Thread.start
    started: list[str] = []

    def start(thread):
        started.append(thread.name)
        if thread.name == "targetsms-journal-answers" and len(started) == 1:
            raise RuntimeError("can't start new thread")
        real_start(thread)

    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        if not new_campaign:
            j.prepare("c", items, account=ACCOUNT)
        monkeypatch.setattr(threading.Thread, "start", start)
        tickets = _begin_batches(j, _wave(phones), prepare=items)
        assert [t.phones for t in tickets] == [phones[:2], phones[2:]] and started == []
        j.warm_up(0)
        assert started == ["targetsms-journal-answers"]
        for t in tickets:
            j.finish_batch(t.id, "sent", sms_ids=list(t.phones), phones=t.phones, wait=False)
        j.flush()
        monkeypatch.undo()
        assert set(j.campaign_messages("c")["outcome"]) == {"sent"}


def test_postgres_a_ctrl_c_as_the_run_warms_up_leaves_nobody_unknown_or_sent_twice(
    pg_url, client, emulator, monkeypatch
):
    """Review (the answer writer used to start inside begin_batches, which released the
    intents on an interrupt): a Ctrl-C as the run starts its answer writer, its first requests
    let go already, stops the run; what went out is journaled, the rest is pending (none
    unknown), and the next call sends the rest, nobody twice."""
    real_start = threading.Thread.start
    started: list[str] = []

    def start(thread):
        if thread.name == "targetsms-journal-answers" and not started:
            started.append(thread.name)
            raise KeyboardInterrupt
        real_start(thread)

    contacts = pd.DataFrame(
        {"phone": [f"7916123450{i}" for i in range(8)], "name": list("abcdefgh")}
    )
    args = (client, contacts, "Hi {name}", "SHOP")
    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt):
        ts.send_campaign(*args, campaign="w", store=pg_url, concurrency=2, progress=False)
    monkeypatch.undo()
    assert started
    with Journal(pg_url) as j:
        assert {r["status"] for r in j.records("w").values()} <= {"sent", "pending"}
    result = ts.send_campaign(*args, campaign="w", store=pg_url, concurrency=2, progress=False)
    assert list(result["outcome"]) == ["sent"] * 8
    assert sorted(emulator.sent_phones()) == sorted(contacts["phone"])


@pytest.mark.parametrize("where", ["sending", "reading", "copy"])
def test_postgres_a_ctrl_c_as_a_new_campaign_is_written_leaves_nothing_in_flight_and_the_journal_usable(
    pg_url, monkeypatch, where
):
    """A Ctrl-C as a new campaign's rows are written: as its first requests' statements are
    sent, as their results are awaited (the server commits what it was sent regardless), or
    after ``COPY … FROM STDIN`` (the rows no first request took) went out and before its answer
    came (review: psycopg then had no copy object to end it with, the rollback failed, and
    every later statement of that connection failed, "another command is already in
    progress"). Whatever was committed goes back to pending (no ticket reached the caller);
    nothing is left in flight, and the connection works."""
    import psycopg
    import psycopg.waiting

    from targetsms_analytics.store import postgres

    phones = [f"7900123456{i}" for i in range(6)]
    items = [(p, "SHOP", "Hi", 1) for p in phones]
    armed = {"on": False, "came": False}
    real_copy, real_wait = psycopg.Cursor.copy, psycopg.waiting.wait
    real_flush, real_result = postgres._OneByOne._flush, postgres._OneByOne._result

    def copy(self, *args, **kwargs):
        armed["on"] = True
        return real_copy(self, *args, **kwargs)

    def wait(gen, *args, **kwargs):
        if armed["on"]:  # the COPY statement goes out, and Ctrl-C lands before its answer
            armed["on"] = False
            armed["came"] = True
            next(gen)
            raise KeyboardInterrupt
        return real_wait(gen, *args, **kwargs)

    def once(real):
        def interrupted(self, *args, **kwargs):
            if not armed["came"]:
                armed["came"] = True
                raise KeyboardInterrupt
            return real(self, *args, **kwargs)

        return interrupted

    with Journal(pg_url) as j:
        j.ensure_campaign("c", user="demo", url=URL, sender="SHOP")
        if where == "copy":
            monkeypatch.setattr(psycopg.Cursor, "copy", copy)
            monkeypatch.setattr(psycopg.waiting, "wait", wait)
        elif where == "sending":  # (its Sync queued, not flushed yet)
            monkeypatch.setattr(postgres._OneByOne, "_flush", once(real_flush))
        else:
            monkeypatch.setattr(postgres._OneByOne, "_result", once(real_result))
        with pytest.raises(KeyboardInterrupt):
            _begin_batches(j, _wave(phones[:4]), prepare=items)
        assert armed["came"], "the interrupt never came"
        monkeypatch.undo()
        records = j.records("c", account=ACCOUNT)  # (and the connection works)
        statuses = {p: r["status"] for p, r in records.items()}
        assert statuses == {p: "pending" for p in phones[:4]}
        assert set(j.batches("c")["state"]) == {"failed"}
        tickets = _begin_batches(j, _wave(phones[:4]), prepare=items)
        assert [t.phones for t in tickets] == [phones[:2], phones[2:4]]
        assert j.records("c", account=ACCOUNT)[phones[5]]["status"] == "pending"


def test_a_worker_that_cannot_start_stops_the_run_instead_of_hanging(store, client, monkeypatch):
    """Workers start before the first intents and wait for them: should starting one fail, the
    others must be let go (and stop) rather than wait for ever."""
    from concurrent.futures import ThreadPoolExecutor

    from targetsms_analytics import campaign as campaign_mod

    class OneThreadOnly(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            if getattr(self, "_started_one", False):
                raise RuntimeError("can't start new thread")
            self._started_one = True
            return super().submit(*args, **kwargs)

    monkeypatch.setattr(campaign_mod, "ThreadPoolExecutor", OneThreadOnly)
    contacts = pd.DataFrame({"phone": [f"7916123450{i}" for i in range(4)], "name": list("abcd")})
    raised: list[BaseException] = []

    def send() -> None:
        try:
            ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="t", store=store,
                             concurrency=2, progress=False)  # fmt: skip
        except BaseException as exc:  # the test looks at it
            raised.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(120)  # a watchdog, not a timing: it returns at once, or hangs for ever
    assert not thread.is_alive(), "send_campaign hung"
    assert [type(e) for e in raised] == [RuntimeError]


def test_a_campaign_nobody_was_sent_anything_takes_its_new_sender_and_text(store):
    """A sender or text the service refused, corrected: the campaign takes the new ones, until
    someone has been sent something (then its row keeps what it began with)."""
    url = "http://127.0.0.1:9/sendsms.php"
    with Journal(store) as j:
        account = j.ensure_campaign("c", user="demo", url=url, sender="NOSUCHSNDR", template="Hi")
        j.ensure_campaign("c", account=account, sender="SHOP", template="Hello")
        info = j.campaign_info("c", account=account)
        assert (info["sender"], info["template"]) == ("SHOP", "Hello")
        ticket = begin(j, ["79001234567"], text="Hello", campaign="c", account=account)
        j.finish_batch(ticket.id, "sent", sms_ids=["1"], phones=ticket.phones)
        j.ensure_campaign("c", account=account, sender="OTHER", template="Bye")  # (kept)
        assert j.campaign_info("c", account=account)["sender"] == "SHOP"


def test_batch_fields_give_begin_batch_each_argument_of_a_batch():
    """begin_batches' batches become begin_batch's arguments: the optional ones None (or False)
    when absent, and what a batch gives passed on as it is."""
    assert batch_fields({"phones": ["79001234567"], "text": "Hi"}) == {
        "phones": ["79001234567"], "text": "Hi", "parts": None, "parent": None,
        "variant": None, "contacts": None, "reserved": False,
    }  # fmt: skip
    full = {"phones": ["79001234567"], "text": "Hi", "parts": 2, "parent": 7, "variant": "B",
            "contacts": {"79001234567": {"name": "Ann"}}, "reserved": 1}  # fmt: skip
    assert batch_fields(full) == {**full, "reserved": True}


def test_sqlite_a_full_disk_reaches_the_caller_as_itself(tmp_path):
    """Review: on a full disk SQLite ends the transaction itself; the ROLLBACK after it failed
    ("no transaction is active") and hid the real error from the sender and the log."""
    import sqlite3

    j = Journal(str(tmp_path / "j.sqlite3"))
    try:
        pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
        j._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # (a disk that fills up)
        phones = [f"7900{i:07d}" for i in range(2000)]
        with pytest.raises(sqlite3.OperationalError, match="full"):
            j.begin_batch("c", phones, "x" * 200, 1, sender="SHOP", user="demo", url=URL)
        j._conn.execute("PRAGMA max_page_count = 1073741823")
        ticket = begin(j, phones[:2])  # the journal goes on
        assert ticket.phones == phones[:2]
    finally:
        j.close()
