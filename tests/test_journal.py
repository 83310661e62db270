"""The journal: schema and migrations, WAL, claims, in-flight recovery, statuses, balance."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

import targetsms_analytics as ts
from targetsms_analytics import journal as journal_mod
from targetsms_analytics.errors import InputError
from targetsms_analytics.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    default_store_path,
    open_journal,
    request_fingerprint,
)
from targetsms_analytics.protocol import Balance, StatusDetail
from targetsms_analytics.store import schema as schema_mod

URL = "http://127.0.0.1:9/sendsms.php"
ACCOUNT = "demo@127.0.0.1:9"
ROOT = Path(__file__).resolve().parents[1]


def begin(j: Journal, phones, text="Hi", campaign="c", **kw):
    kw.setdefault("sender", "SHOP")
    kw.setdefault("user", "demo")
    kw.setdefault("url", URL)
    return j.begin_batch(campaign, phones, text, 1, **kw)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )


# ---------------------------------------------------------------- schema


def test_a_new_file_is_in_wal_mode_with_the_current_schema_version(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        assert j.journal_mode == "wal"
        assert j.schema_version == SCHEMA_VERSION
    raw = sqlite3.connect(tmp_path / "j.sqlite")
    versions = [r[0] for r in raw.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_migrations_are_applied_in_order_and_only_once(tmp_path, monkeypatch):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    calls: list[int] = []

    def v2(conn: sqlite3.Connection) -> None:
        calls.append(2)
        conn.execute("ALTER TABLE campaigns ADD COLUMN note TEXT")

    v3 = "CREATE TABLE extra (x INTEGER); INSERT INTO extra (x) SELECT COUNT(*) FROM campaigns"
    monkeypatch.setattr(schema_mod, "SQLITE_MIGRATIONS", [*schema_mod.SQLITE_MIGRATIONS, v2, v3])
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION + 2
        j.ensure_campaign("spring", user="demo")
        assert "note" in j.campaign_info("spring")
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION + 2
    assert calls == [2]


def test_a_failing_migration_leaves_the_file_at_its_old_version(tmp_path, monkeypatch):
    path = tmp_path / "j.sqlite"
    Journal(path).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(schema_mod, "SQLITE_MIGRATIONS", [*schema_mod.SQLITE_MIGRATIONS, broken])
    with pytest.raises(RuntimeError, match="boom"):
        Journal(path)
    monkeypatch.undo()
    with Journal(path) as j:
        assert j.schema_version == SCHEMA_VERSION
        assert not j._query("SELECT name FROM sqlite_master WHERE name = 'half'")


def test_a_file_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00+00:00')")
    raw.commit()
    raw.close()
    with pytest.raises(JournalError, match="99"):
        Journal(path)


def test_the_default_store_follows_the_environment_then_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TARGETSMS_STORE", str(tmp_path / "sub" / "mine.sqlite"))
    assert default_store_path() == tmp_path / "sub" / "mine.sqlite"
    with Journal() as j:
        assert Path(j.path) == tmp_path / "sub" / "mine.sqlite"
    assert (tmp_path / "sub" / "mine.sqlite").exists()
    monkeypatch.setenv("TARGETSMS_STORE", "")  # (empty: unset, and a checkout's .env not read)
    import platformdirs

    expected = Path(platformdirs.user_data_dir("targetsms-analytics")) / "journal.sqlite3"
    assert default_store_path() == expected


# ---------------------------------------------------------------- batches and claims


def test_an_intent_is_visible_to_another_connection_before_the_answer(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as sender, Journal(path) as reporter:
        ticket = begin(sender, ["79001234567", "79001234568"])
        seen = reporter.campaign_messages("c")
        assert seen["outcome"].tolist() == ["inflight", "inflight"]
        assert reporter.batches("c")["state"].tolist() == ["inflight"]
        sender.finish_batch(ticket.id, "sent", sms_ids=["11", "12"])
        seen = reporter.campaign_messages("c")
        assert seen["sms_id"].tolist() == ["11", "12"]
        assert seen["outcome"].tolist() == ["sent", "sent"]
        assert str(seen["sent_at"].dt.tz) == "UTC"


def test_the_journal_keeps_no_password_and_no_url(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        t = begin(j, ["79001234567"], text="Привет", url="http://127.0.0.1:9/sendsms.php")
        j.finish_batch(t.id, "sent", sms_ids=["1"])
        batch = j.batches("c").iloc[0]
    assert batch["fingerprint"] == request_fingerprint(
        "http://127.0.0.1:9/sendsms.php", "demo", "SHOP", ["79001234567"], "Привет"
    )
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert "pwd" not in dump and "?" not in dump  # the endpoint (account) only, no request


def test_a_fingerprint_changes_with_the_request_but_not_with_the_password():
    a = request_fingerprint(URL, "demo", "SHOP", ["79001234567"], "Hi")
    assert a == request_fingerprint(URL + "?pwd=secret", "demo", "SHOP", ["79001234567"], "Hi")
    assert a != request_fingerprint(URL, "demo", "SHOP", ["79001234568"], "Hi")
    assert a != request_fingerprint(URL, "demo", "SHOP", ["79001234567"], "Hi!")


def test_an_answer_is_recorded_even_after_the_batch_was_given_up_as_unknown(tmp_path):
    j = Journal(":memory:", stale_after=0.0)
    t = begin(j, ["79001234567"])
    assert j.recover_inflight("c") == 1
    assert j.records("c")["79001234567"]["status"] == "unknown"
    j.finish_batch(t.id, "sent", sms_ids=["7"])  # the late answer is better knowledge
    assert j.records("c")["79001234567"]["sms_id"] == "7"


_CLAIMER = """
import json, sys
from targetsms_analytics.journal import Journal
j = Journal(sys.argv[1])
phones = [f"7900{i:07d}" for i in range(300)]
order = phones if sys.argv[2] == "up" else phones[::-1]
got = []
for k in range(0, 300, 15):
    t = j.begin_batch("c", order[k:k + 15], "Hi", 1, sender="SHOP", user="demo",
                      url="http://127.0.0.1:9/sendsms.php")
    if t.phones:
        j.finish_batch(t.id, "sent", sms_ids=t.phones)
    got += t.phones
print(json.dumps(got))
"""


def test_two_processes_on_one_file_never_claim_the_same_recipient(tmp_path):
    path = str(tmp_path / "j.sqlite")
    Journal(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, path, way], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for way in ("up", "down")
    ]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    a, b = set(outs[0]), set(outs[1])
    assert not a & b
    assert len(a | b) == 300
    with Journal(path) as j:
        assert (j.campaign_messages("c")["outcome"] == "sent").sum() == 300


def test_a_reader_is_not_blocked_by_a_writer_holding_a_transaction(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as writer, Journal(path, timeout=0.2) as reader:
        t = begin(writer, ["79001234567"])
        writer.finish_batch(t.id, "sent", sms_ids=["1"])
        with writer._tx() as c:  # an open write transaction in "another process"
            c.execute("UPDATE messages SET sms_id = '2'")
            assert reader.campaign_messages("c")["sms_id"].tolist() == ["1"]
        assert reader.campaign_messages("c")["sms_id"].tolist() == ["2"]


# ---------------------------------------------------------------- in-flight recovery

_DIES_MID_BATCH = """
import os, sys
from targetsms_analytics.journal import Journal
j = Journal(sys.argv[1])
t = j.begin_batch("c", ["79001234567", "79001234568"], "Hi", 1, sender="SHOP", user="demo",
                  url="http://127.0.0.1:9/sendsms.php", token=j.begin_run("c"))
os._exit(0)  # as if killed between the request and the answer
"""


def test_an_inflight_batch_of_a_dead_process_becomes_unknown(tmp_path):
    path = str(tmp_path / "j.sqlite")
    run_python(_DIES_MID_BATCH, path)
    with Journal(path) as j:
        assert j.campaign_messages("c")["outcome"].tolist() == ["inflight", "inflight"]
        assert j.recover_inflight("c") == 1
        messages = j.campaign_messages("c")
        assert messages["outcome"].tolist() == ["unknown", "unknown"]
        assert set(messages["error_code"]) == {"interrupted"}
        assert j.batches("c")["state"].tolist() == ["unknown"]
        assert j.recover_inflight("c") == 0
        # Never resent automatically: the recipients are not claimable.
        assert begin(j, ["79001234567", "79001234568"]).phones == []


def test_an_inflight_batch_of_a_live_run_is_left_alone_until_it_is_stale():
    j = Journal(":memory:")
    token = j.begin_run("c")
    try:
        begin(j, ["79001234567"], token=token)
        assert j.recover_inflight("c") == 0
        later = datetime.now(UTC) + timedelta(seconds=j.stale_after + 1)
        assert j.recover_inflight("c", now=later) == 1
    finally:
        j.end_run(token)


def test_an_inflight_batch_of_an_interrupted_run_in_this_process_is_recovered():
    j = Journal(":memory:")
    token = j.begin_run("c")
    begin(j, ["79001234567"], token=token)
    j.end_run(token)  # e.g. KeyboardInterrupt in a notebook: the kernel lives on
    assert j.recover_inflight() == 1
    assert j.records("c")["79001234567"]["status"] == "unknown"


def test_an_inflight_batch_of_a_live_process_on_this_host_is_left_alone(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        begin(j, ["79001234567"])
        with j._tx() as c:  # pretend the owner is our parent process, which is alive
            c.execute("UPDATE batches SET owner_pid = ?", (os.getppid(),))
        assert j.recover_inflight() == 0


# ---------------------------------------------------------------- user decisions


def test_set_outcome_changes_only_messages_in_the_allowed_states():
    j = Journal(":memory:", stale_after=0.0)
    a = begin(j, ["79001234567", "79001234568"])
    j.finish_batch(a.id, "unknown", error_code="transport", error_text="reset")
    b = begin(j, ["79001234569"])
    j.finish_batch(b.id, "sent", sms_ids=["9"])
    changed = j.set_outcome("c", ["79001234569", "79001234567"], "sent", note="checked")
    assert changed == ["79001234567"]
    records = j.records("c")
    assert records["79001234567"]["status"] == "sent"
    assert records["79001234567"]["error_code"] == "marked_by_user"
    assert records["79001234569"]["sms_id"] == "9"
    assert j.set_outcome("c", ["79001234568"], "pending") == ["79001234568"]
    assert begin(j, ["79001234568"]).phones == ["79001234568"]
    with pytest.raises(ValueError):
        j.set_outcome("c", ["79001234568"], "delivered")


# ---------------------------------------------------------------- reports


def test_message_info_answers_in_the_order_asked_and_skips_unknown_ids():
    j = Journal(":memory:")
    t = begin(j, ["79001234567", "79001234568"], text="Hello")
    j.finish_batch(t.id, "sent", sms_ids=["100", "101"])
    info = j.message_info(["101", "nope", "100", "101"])
    assert info["sms_id"].tolist() == ["101", "100"]
    assert info["msisdn"].tolist() == ["79001234568", "79001234567"]
    assert set(info["campaign"]) == {"c"} and set(info["sender"]) == {"SHOP"}
    assert set(info["text"]) == {"Hello"} and info["parts"].tolist() == [1, 1]


def test_campaigns_summarises_outcomes_per_campaign():
    j = Journal(":memory:")
    j.ensure_campaign("empty", user="demo", sender="SHOP", template="x")
    t = begin(j, ["79001234567", "79001234568"], campaign="spring")
    j.finish_batch(t.id, "sent", sms_ids=["1", "2"])
    t = begin(j, ["79001234569"], campaign="spring")
    j.finish_batch(t.id, "queued", error_code="insufficient_funds")
    summary = j.campaigns().set_index("campaign")
    assert summary.loc["spring", ["messages", "sent", "queued", "batches", "parts"]].tolist() == [
        3,
        2,
        1,
        2,
        2,
    ]
    assert summary.loc["empty", "messages"] == 0
    assert str(summary["created_at"].dt.tz) == "UTC"


def test_final_statuses_are_kept_and_never_overwritten():
    j = Journal(":memory:")
    moscow = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    j.save_statuses(
        [
            StatusDetail("1", "send", None, 1, 1.15),
            StatusDetail("2", "deliver", moscow, 2, 1.2),
        ],
        account=ACCOUNT,
    )
    written = j.save_statuses(
        pd.DataFrame(
            {
                "sms_id": ["1", "2"],
                "state": ["not_deliver", "send"],
                "changed_at": [moscow, None],
                "num_parts": [1, 2],
                "price": [1.15, 1.2],
            }
        ),
        account=ACCOUNT,
    )
    assert written == 1
    stored = j.statuses(["2", "1", "3"])
    assert stored["sms_id"].tolist() == ["2", "1"]
    assert stored["state"].tolist() == ["deliver", "not_deliver"]
    assert stored["is_final"].tolist() == [True, True]
    assert stored["changed_at"].iloc[0] == pd.Timestamp("2024-05-01 15:00", tz="UTC")
    assert str(stored["fetched_at"].dt.tz) == "UTC"
    assert len(j.statuses()) == 2


def test_statuses_keep_a_moscow_time_as_the_same_instant():
    from targetsms_analytics.protocol import MOSCOW

    j = Journal(":memory:")
    when = datetime(2024, 5, 1, 18, 0, tzinfo=MOSCOW)
    j.save_statuses([{"sms_id": "5", "state": "deliver", "changed_at": when, "num_parts": 1,
                      "price": 1.0}], account=ACCOUNT)  # fmt: skip
    assert j.statuses(["5"])["changed_at"].iloc[0] == pd.Timestamp(when)


def test_balance_snapshots_and_package_history():
    j = Journal(":memory:")
    packages = pd.DataFrame({"direction": ["Россия", "МТС"], "remaining": [361, 1]})
    first = datetime(2024, 5, 1, tzinfo=UTC)
    j.save_balance(Balance(445.6, "RUR", packages), taken_at=first)
    j.save_balance(Balance(400.0, "RUR", packages.assign(remaining=[300, 0])))
    snaps = j.balance_snapshots()
    assert snaps["amount"].tolist() == [445.6, 400.0]
    assert snaps["currency"].tolist() == ["RUR", "RUR"]
    assert snaps["taken_at"].iloc[0] == pd.Timestamp(first)
    history = j.package_history()
    assert history["direction"].tolist() == ["Россия", "МТС", "Россия", "МТС"]
    assert history["remaining"].tolist() == [361, 1, 300, 0]
    assert str(history["taken_at"].dt.tz) == "UTC"


def test_empty_reports_have_their_columns():
    j = Journal(":memory:")
    assert list(j.statuses().columns) == [
        "sms_id",
        "state",
        "is_final",
        "changed_at",
        "num_parts",
        "price",
        "fetched_at",
        "account",
    ]
    assert j.campaign_messages("none").empty and "sms_id" in j.campaign_messages("x")
    assert list(j.balance_snapshots().columns) == ["taken_at", "amount", "currency", "account"]
    assert list(j.package_history().columns) == ["taken_at", "direction", "remaining", "account"]
    assert j.campaigns().empty and j.batches().empty


def test_the_docstring_examples_run():
    import doctest

    from targetsms_analytics import campaign

    for module in (journal_mod, campaign):
        assert doctest.testmod(module).failed == 0


def test_last_refusal_is_when_the_service_refused_this_very_request():
    j = Journal(":memory:")
    fingerprint = request_fingerprint(URL, "demo", "SHOP", ["79001234567", "79001234568"], "Hi")
    assert j.last_refusal(fingerprint) is None
    t = begin(j, ["79001234567", "79001234568"])
    j.finish_batch(t.id, "pending", error_code="transport")  # never left: no refusal
    assert j.last_refusal(fingerprint) is None
    t = begin(j, ["79001234567", "79001234568"])
    j.finish_batch(t.id, "split", error_code="phone_stop_listed", error_text="stop")
    refused = j.last_refusal(fingerprint)
    assert refused is not None and refused.tzinfo is not None
    assert refused == j.batches("c")["finished_at"].iloc[-1]
    other = request_fingerprint(URL, "demo", "SHOP", ["79001234567"], "Hi")
    assert j.last_refusal(other) is None


def test_opening_a_new_file_waits_for_another_process_creating_it(tmp_path):
    # Taking a new file to WAL needs a lock SQLite does not wait for: two processes creating the
    # journal at once crashed one of them with "database is locked".
    path = tmp_path / "j.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE creating (x INTEGER)")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with Journal(path, timeout=10) as j:
            assert j.journal_mode == "wal"
            assert j.schema_version == SCHEMA_VERSION
    finally:
        release.join()
        other.close()


# ---------------------------------------------------------------- issue 9: store refusals


@pytest.mark.parametrize(
    "url",
    ["mysql://me:secret@db.example/journal", "sqlite+foo://x", "s3://b/k", "file:///tmp/j"],
)
def test_a_store_url_of_an_unsupported_kind_is_refused_and_nothing_is_created(
    url, tmp_path, monkeypatch
):
    # 0.1 turned "postgresql://…" into a SQLite file in a folder named "postgresql:".
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        Journal(url)
    assert info.value.code == "store_unsupported"
    assert "secret" not in str(info.value)  # a URL may hold a password: only its kind is named
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("TARGETSMS_STORE", url)
    with pytest.raises(InputError):
        Journal()


def test_a_sqlite_file_of_another_application_is_refused_untouched(tmp_path):
    path = tmp_path / "crm.sqlite"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT)")
    raw.execute("INSERT INTO customers (phone) VALUES ('79001234567')")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(JournalError, match="not a targetsms journal"):
        Journal(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.sqlite"]  # no -wal, no -shm
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    raw.close()


def test_a_file_that_is_no_database_is_refused_untouched(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("phone\n79001234567\n" * 100)
    before = path.read_bytes()
    with pytest.raises(JournalError, match="not a journal"):
        Journal(path)
    assert path.read_bytes() == before


def test_a_memory_store_is_refused_for_sending(monkeypatch):
    with pytest.raises(InputError) as info, open_journal(":memory:", sending=True):
        pass
    assert info.value.code == "store_in_memory"
    monkeypatch.setenv("TARGETSMS_STORE", ":memory:")
    with pytest.raises(InputError), open_journal(None, sending=True):
        pass
    with open_journal(":memory:") as j:  # reading (tests, examples) is fine
        assert j.schema_version == SCHEMA_VERSION


def test_send_campaign_refuses_a_memory_store_before_any_request(client, emulator):
    contacts = pd.DataFrame({"phone": ["79001234567"]})
    with pytest.raises(InputError, match="send everyone again"):
        ts.send_campaign(client, contacts, "Hi", "SHOP", store=":memory:", progress=False)
    assert emulator.sent_phones() == []


# ---------------------------------------------------------------- issue 8 item 14: read-only


def test_a_readonly_journal_reads_and_writes_nothing(tmp_path):
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        t = begin(j, ["79001234567"])
        j.finish_batch(t.id, "sent", sms_ids=["1"])
    before = path.read_bytes()
    with Journal(path, readonly=True) as r:
        assert r.campaign_messages("c")["sms_id"].tolist() == ["1"]
        with pytest.raises(JournalError, match="read-only"):
            r.ensure_campaign("x", user="demo")
    assert path.read_bytes() == before


def test_a_readonly_missing_journal_reads_as_empty_and_is_not_created(tmp_path):
    path = tmp_path / "none" / "j.sqlite"
    with Journal(path, readonly=True) as r:
        assert r.campaigns().empty
    assert not path.parent.exists()


def test_reading_a_01_journal_upgrades_it_when_the_medium_is_writable(tmp_path):
    path = tmp_path / "old.sqlite3"
    shutil.copyfile(ROOT / "tests" / "data" / "journal-0.1.sqlite3", path)
    with pytest.raises(JournalError, match="older"):
        Journal(path, readonly=True)
    with open_journal(path, readonly=True) as j:
        assert j.schema_version == SCHEMA_VERSION


_REPORT_ON_READONLY_MEDIA = r"""
set -e
mount --bind "$1" "$2"
mount -o remount,ro,bind "$2"
if touch "$2/probe" 2>/dev/null; then echo "not read-only"; exit 97; fi
"$3" -c 'from targetsms_analytics.cli import main; main()' --store "$2/journal.sqlite3" campaign report --campaign spring
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a ro mount")
@pytest.mark.parametrize("mode", ["delete", "wal"])
def test_campaign_report_works_on_read_only_media(tmp_path, mode):
    # An archived journal (often taken out of WAL first) on a read-only medium: 0.1 tried to
    # switch it to WAL and failed with "attempt to write a readonly database".
    src, media = tmp_path / "src", tmp_path / "media"
    src.mkdir()
    media.mkdir()
    with Journal(src / "journal.sqlite3") as j:
        t = begin(j, ["79001234567", "79001234568"], campaign="spring")
        j.finish_batch(t.id, "sent", sms_ids=["11", "12"])
        j.save_statuses([StatusDetail("11", "deliver", None, 1, 1.5)], account=ACCOUNT)
    raw = sqlite3.connect(src / "journal.sqlite3")
    raw.execute(f"PRAGMA journal_mode = {mode}")
    raw.close()
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare -m is not permitted here")
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", _REPORT_ON_READONLY_MEDIA, "sh", src, media, sys.executable],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deliver" in done.stdout


# ---------------------------------------------------------------- issue 9: new columns


def test_variant_and_contacts_are_kept_and_expanded_in_frames():
    j = Journal(":memory:")
    t = begin(j, ["79001234567", "79001234568"], variant="B",
              contacts={"79001234567": {"city": "Омск", "name": "Анна", "text": "clash"}})  # fmt: skip
    j.finish_batch(t.id, "sent", sms_ids=["1", "2"])
    messages = j.campaign_messages("c")
    assert messages["variant"].tolist() == ["B", "B"]
    assert messages["city"].tolist() == ["Омск", None]
    assert messages["name"].tolist() == ["Анна", None]
    assert messages["text"].tolist() == ["Hi", "Hi"]  # a clashing key does not replace a column
    assert j.batches("c")["variant"].tolist() == ["B"]
    record = j.records("c")["79001234567"]
    assert record["variant"] == "B" and record["contact"]["city"] == "Омск"


def test_hold_writes_scheduled_and_holdout_rows_and_never_touches_an_outcome():
    j = Journal(":memory:")
    sent = begin(j, ["79001234567"], campaign="spring")
    j.finish_batch(sent.id, "sent", sms_ids=["1"])
    when = datetime(2030, 1, 1, 6, 0, tzinfo=UTC)

    def row(msisdn, status, not_before=None):
        return {"msisdn": msisdn, "text": "Hi", "parts": 1, "sender": "SHOP", "variant": "A",
                "status": status, "not_before": not_before, "contact": {"city": "Omsk"}}  # fmt: skip

    written = j.hold(
        "spring",
        [row("79001234567", "holdout"), row("79001234568", "holdout"),
         row("79001234569", "scheduled", when)],
        account=ACCOUNT,
    )  # fmt: skip
    assert written == 2
    records = j.records("spring")
    assert records["79001234567"]["status"] == "sent"  # an outcome is never touched
    assert records["79001234568"]["status"] == "holdout"
    assert records["79001234569"]["status"] == "scheduled"
    assert records["79001234569"]["not_before"] == when
    messages = j.campaign_messages("spring").set_index("msisdn")
    assert messages.loc["79001234569", "not_before"] == pd.Timestamp(when)
    assert messages.loc["79001234568", "city"] == "Omsk"
    # scheduled is claimable (the caller decides when); holdout never
    ticket = begin(j, ["79001234568", "79001234569"], campaign="spring")
    assert ticket.phones == ["79001234569"]
    # a scheduled row may be re-held (a new window); a holdout one is an outcome
    assert j.hold("spring", [row("79001234568", "scheduled")], account=ACCOUNT) == 0
    summary = j.campaigns().set_index("campaign").loc["spring"]
    assert (summary["sent"], summary["holdout"], summary["inflight"]) == (1, 1, 1)
    with pytest.raises(ValueError):
        j.hold("spring", [row("79001234570", "sent")], account=ACCOUNT)


# ---------------------------------------------------------------- issue 12


def test_the_journal_builds_no_wire_request(monkeypatch):
    from targetsms_analytics import protocol

    def forbidden(*args, **kwargs):
        raise AssertionError("the journal must not build wire requests")

    monkeypatch.setattr(protocol, "send_params", forbidden)
    monkeypatch.setattr(protocol, "encode_query", forbidden)
    monkeypatch.setattr(protocol, "build_url", forbidden)
    j = Journal(":memory:")
    t = begin(j, ["79001234567"])
    assert t.fingerprint == request_fingerprint(URL, "demo", "SHOP", ["79001234567"], "Hi")
    store_dir = Path(journal_mod.__file__).parent / "store"
    for source in store_dir.glob("*.py"):
        assert "send_params" not in source.read_text(), source


def test_run_liveness_is_journal_state_seen_by_every_journal_of_the_file(tmp_path):
    # 0.1 kept live runs in a process-global set; now any Journal of the file sees a live run.
    assert not hasattr(journal_mod, "_LIVE_TOKENS")
    path = tmp_path / "j.sqlite"
    with Journal(path) as sender, Journal(path) as other:
        token = sender.begin_run("c", account=ACCOUNT)
        begin(sender, ["79001234567"], token=token)
        assert other.recover_inflight("c") == 0  # alive: another Journal object, same process
        sender.end_run(token)
        assert other.recover_inflight("c") == 1


def test_while_a_run_sends_the_wal_is_checkpointed_beside_it_not_in_its_commits(
    tmp_path, monkeypatch
):
    """A checkpoint inside a commit (SQLite's default) held every worker's next intent for as
    long as it took to write the pages back and fsync the file: up to 1.5 s was seen. During a
    run the checkpoints happen in a thread of their own."""
    import threading

    import targetsms_analytics.store.sqlite as backend

    monkeypatch.setattr(backend, "_CHECKPOINT_EVERY", 0.01)
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        before = path.stat().st_size
        token = j.begin_run("c", account="demo@x")
        assert j._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        names = {t.name for t in threading.enumerate()}
        assert "targetsms-journal-checkpoint" in names
        for i in range(50):
            phones = [f"7916{i:03d}{k:04d}" for k in range(40)]
            t = j.begin_batch("c", phones, "Hi", 1, sender="S", user="demo", url="http://x",
                              token=token, account="demo@x")  # fmt: skip
            j.finish_batch(t.id, "sent", sms_ids=[str(k) for k in range(40)], phones=t.phones)
        deadline = time.monotonic() + 30
        while path.stat().st_size == before and time.monotonic() < deadline:
            time.sleep(0.01)  # the pages reach the database file only by a checkpoint
        assert path.stat().st_size > before
        j.end_run(token)
        assert j._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        names = {t.name for t in threading.enumerate()}
        assert "targetsms-journal-checkpoint" not in names
