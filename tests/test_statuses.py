"""fetch_statuses and wait_for_final through real HTTP to the emulator."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

import targetsms_analytics as ts
from targetsms_analytics.journal import Journal
from targetsms_analytics.statuses import STATUS_COLUMNS, fetch_statuses, wait_for_final

PHONES = [f"7916{n:07d}" for n in range(30)]


def detail_requests(emu) -> int:
    return sum(1 for entry in emu.log if entry["op"] == "detail")


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "j.sqlite") as j:
        yield j


@pytest.fixture
def sent(client):
    return client.send("SHOP", PHONES, "Привет!")


def test_right_after_sending_every_state_is_send(client, emulator, journal, sent):
    frame = fetch_statuses(client, sent, store=journal, progress=False)
    assert list(frame.columns) == list(STATUS_COLUMNS)
    assert frame["sms_id"].tolist() == sent
    assert (frame["state"] == "send").all() and not frame["is_final"].any()
    assert frame["changed_at"].isna().all()
    assert frame["error_code"].isna().all()
    assert (frame["cost"] == frame["num_parts"] * frame["price"]).all()


def test_after_the_lifecycle_states_match_the_emulator_and_a_third_pass_is_free(
    client, emulator, journal, sent
):
    fetch_statuses(client, sent, store=journal, progress=False)
    emulator.advance(3600)
    second = fetch_statuses(client, sent, store=journal, concurrency=8, progress=False)
    assert second["state"].tolist() == [emulator.state_of(i) for i in sent]
    assert second["is_final"].all()
    assert second["changed_at"].notna().all()
    assert str(second["changed_at"].dt.tz) == "Europe/Moscow"
    before = detail_requests(emulator)
    third = fetch_statuses(client, sent, store=journal, progress=False)
    assert detail_requests(emulator) == before  # zero requests: every state is final
    pd.testing.assert_frame_equal(third, second)


def test_a_pending_reask_waits_without_stalling_the_others(client, emulator, journal, sent):
    fetch_statuses(client, sent[:1], store=journal, progress=False)  # sent[0] asked just now
    started = time.monotonic()
    frame = fetch_statuses(client, sent, store=journal, concurrency=4, progress=False)
    assert frame["error_code"].isna().all()
    detail_log = [e for e in emulator.log if e["op"] == "detail"]
    assert not any("Попытка" in e["answer"] for e in detail_log)  # never tripped the rule
    # the early re-ask went last, after every other id
    assert detail_log[-1]["params"]["smsid"] == sent[0]
    assert time.monotonic() - started >= 0.8


def test_throttled_rereads_wait_rather_than_fail(make_client, emulator, journal, sent):
    other = make_client()  # a second client: it does not know when the first one asked
    fetch_statuses(make_client(), sent[:5], store=journal, progress=False)
    frame = fetch_statuses(other, sent[:5], store=journal, progress=False)
    assert frame["error_code"].isna().all() and (frame["state"] == "send").all()
    assert any("Попытка" in e["answer"] for e in emulator.log if e["op"] == "detail")


def test_5xx_and_resets_on_reads_are_retried(client, emulator, journal, sent):
    emulator.inject("error_5xx", count=3, op="detail")
    emulator.inject("reset_before", count=3, op="detail")
    frame = fetch_statuses(client, sent, store=journal, progress=False)
    assert frame["error_code"].isna().all()
    assert len(frame) == len(sent)


def test_a_per_id_failure_does_not_abort_the_rest(client, journal, sent):
    asked = [*sent[:3], "1", sent[3]]
    frame = fetch_statuses(client, asked, store=journal, progress=False)
    assert frame["sms_id"].tolist() == asked
    assert frame.loc[frame["sms_id"] == "1", "error_code"].item() == "unknown_response"
    assert frame.loc[frame["sms_id"] != "1", "state"].eq("send").all()


def test_campaign_name_and_frame_inputs(client, emulator, journal):
    result = ts.send_campaign(
        client,
        pd.DataFrame({"phone": PHONES[:5]}),
        "Hi",
        "SHOP",
        campaign="spring",
        store=journal,
        progress=False,
    )
    by_name = fetch_statuses(client, "spring", store=journal, progress=False)
    assert set(by_name["sms_id"]) == set(result["sms_id"])
    assert (by_name["campaign"] == "spring").all()
    assert by_name["msisdn"].tolist() == [
        result.set_index("sms_id").loc[i, "msisdn"] for i in by_name["sms_id"]
    ]
    assert by_name["sent_at"].notna().all()
    by_frame = fetch_statuses(client, result, store=journal, progress=False)
    assert by_frame["sms_id"].tolist() == result["sms_id"].tolist()


def test_unknown_campaign_is_a_clear_error(client, journal):
    with pytest.raises(ts.InputError, match="no campaign"):
        fetch_statuses(client, "nope", store=journal, progress=False)


def test_wait_for_final_polls_until_final(client, emulator, journal, sent):
    emulator.speed = 1000  # delivery within (5..60 s) / 1000
    frame = wait_for_final(client, sent, store=journal, timeout=20, progress=False)
    assert frame["is_final"].all()
    assert frame["state"].tolist() == [emulator.state_of(i) for i in sent]


def test_wait_for_final_stops_at_the_deadline(client, emulator, journal, sent):
    emulator.speed = 0  # nothing turns final by itself, however slow the machine
    frame = wait_for_final(client, sent[:3], store=journal, timeout=1.5, progress=False)
    assert not frame["is_final"].any()
    asked = [e for e in emulator.log if e["op"] == "detail"]
    assert 3 <= len(asked) <= 6  # rounds 1 s apart (the throttle): at most two fit in 1.5 s


def test_load_statuses_counts_unfetched_messages_as_send(client, journal):
    contacts = pd.DataFrame({"phone": ["79161234567", "79261234567"]})
    ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="c", store=journal, progress=False)
    statuses = ts.load_statuses("c", store=journal)
    assert statuses["state"].tolist() == ["send", "send"]
    assert statuses["sender"].tolist() == ["SHOP", "SHOP"]
    assert statuses["num_parts"].tolist() == [1, 1]
    assert not statuses["is_final"].any()
    with pytest.raises(ts.InputError, match="campaigns: 'c'"):
        ts.load_statuses("nope", store=journal)
    unknown = ts.load_statuses(["42"], store=journal)
    assert unknown["state"].isna().all()


class _MonoClock:
    """A monotonic clock that moves only when someone sleeps (thread-safe)."""

    def __init__(self) -> None:
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.at

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.at += seconds


def test_a_pending_reask_goes_to_the_back_even_with_one_worker(
    make_client, emulator, journal, sent
):
    # One fake clock for the client and the emulator's throttle and log stamps: "the others were
    # asked within the interval" must not depend on how fast a busy machine asks five ids.
    fake = _MonoClock()
    emulator.monotonic = fake.now
    client = make_client(clock=fake.now, sleep=fake.sleep)
    fetch_statuses(client, sent[:1], store=journal, progress=False)  # sent[0] asked just now
    asked_at = emulator.log[-1]["mono"]
    fetch_statuses(client, sent[:6], store=journal, concurrency=1, progress=False)
    order = [e["params"]["smsid"] for e in emulator.log if e["op"] == "detail"][1:]
    assert order == [*sent[1:6], sent[0]]
    others = [e["mono"] for e in emulator.log if e["op"] == "detail"][1:-1]
    assert max(others) < asked_at + client.throttle_interval  # not held up by the early re-ask


class _BrokenClient:
    """Fails with a bug (not a service error) on the first id; counts what it was asked."""

    throttle_interval = 60.0
    user, url = "demo", "http://127.0.0.1:9/sendsms.php"

    def __init__(self):
        self.asked: list[str] = []

    def read_wait(self, op, sms_id=None):
        return 0.0

    def status_detail(self, sms_id):
        self.asked.append(sms_id)
        if len(self.asked) == 1:
            raise RuntimeError("a bug")
        time.sleep(0.01)
        return ts.StatusDetail(sms_id, "send", None, 1, 1.0)


def test_an_unexpected_error_stops_the_fetch_without_asking_the_rest(journal):
    broken = _BrokenClient()
    with pytest.raises(RuntimeError, match="a bug"):
        fetch_statuses(
            broken, [str(n) for n in range(50)], store=journal, concurrency=1, progress=False
        )
    assert len(broken.asked) < 10


def test_wait_for_final_asks_nothing_after_the_deadline(make_client, emulator, journal, sent):
    # One fake clock for the client, wait_for_final and the emulator's throttle and log stamps:
    # the rounds fall at 0 s and 2 s however slow the machine, and nothing turns final by itself.
    fake = _MonoClock()
    emulator.monotonic = fake.now
    emulator.speed = 0
    slow = make_client(throttle_interval=2.0, clock=fake.now, sleep=fake.sleep)  # stricter
    started = fake.now()
    frame = wait_for_final(
        slow, sent[:3], store=journal, timeout=3.0, progress=False, clock=fake.now,
        sleep=fake.sleep,
    )  # fmt: skip
    assert not frame["is_final"].any()
    stamps = [e["mono"] for e in emulator.log if e["op"] == "detail"]
    assert len(stamps) == 6  # two rounds: at 0 s and 2 s; the next would be at 4 s
    assert max(stamps) < started + 3.0


def test_an_interrupted_fetch_keeps_what_it_fetched(make_client, emulator, journal, sent):
    """Ctrl-C in a notebook mid-fetch: the statuses already fetched are in the journal."""
    client = make_client()
    real = client.status_detail
    calls = {"n": 0}

    def interrupted_after_five(sms_id):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real(sms_id)

    client.status_detail = interrupted_after_five
    emulator.advance(3600)
    with pytest.raises(KeyboardInterrupt):
        fetch_statuses(client, sent, store=journal, concurrency=1, progress=False)
    stored = journal.statuses(sent)
    assert len(stored) == 5 and stored["is_final"].all()


def test_on_progress_reports_each_answer_from_the_calling_thread(client, journal, sent):
    import threading

    seen: list[tuple[int, int, bool]] = []
    main = threading.current_thread()

    def report(done, total):
        seen.append((done, total, threading.current_thread() is main))

    fetch_statuses(client, sent, store=journal, progress=False, on_progress=report)
    assert [d for d, _, _ in seen] == list(range(1, len(sent) + 1))
    assert {t for _, t, _ in seen} == {len(sent)} and all(m for _, _, m in seen)


# ---------------------------------------------------------------- issue 8 items 14 and 15


@pytest.mark.parametrize("bad", ["4", 2.5, True, 0, -1, None])
def test_concurrency_must_be_an_int_of_at_least_one(client, journal, sent, bad):
    with pytest.raises(ts.InputError) as info:
        fetch_statuses(client, sent, store=journal, concurrency=bad, progress=False)
    assert info.value.field == "concurrency"
    assert "concurrency" in str(info.value)


def test_a_huge_concurrency_is_capped_at_the_pool_size_and_says_so(
    client, journal, sent, caplog, monkeypatch
):
    import concurrent.futures

    from targetsms_analytics import statuses as statuses_mod

    sizes: list[int] = []
    real = concurrent.futures.ThreadPoolExecutor

    def counting(max_workers=None, **kw):
        sizes.append(max_workers)
        return real(max_workers=max_workers, **kw)

    monkeypatch.setattr(statuses_mod, "ThreadPoolExecutor", counting)
    with caplog.at_level("WARNING", logger="targetsms_analytics"):
        frame = fetch_statuses(client, sent, store=journal, concurrency=10**6, progress=False)
    assert frame["error_code"].isna().all()
    assert sizes == [min(client.pool_size, len(sent))]
    assert any("capped at 16" in r.getMessage() for r in caplog.records)


def test_statuses_are_saved_every_few_seconds_not_only_every_500(client, sent):
    """Killed repeatedly, 0.1 journaled nothing until 500 statuses had arrived."""
    from targetsms_analytics.statuses import _fetch_many

    now = [0.0]

    def clock() -> float:  # a second passes between two readings
        now[0] += 1.0
        return now[0]

    saves: list[int] = []
    errors = _fetch_many(
        client,
        sent,
        lambda items: saves.append(len(items)),
        concurrency=1,
        progress=False,
        clock=clock,
        save_seconds=3.0,
    )
    assert errors == {}
    assert sum(saves) == len(sent) == 30
    assert saves == [3] * 10  # a save as soon as 3 (fake) seconds passed since the oldest unsaved


def test_statuses_are_saved_every_500_on_a_clock_that_stands_still(client, sent):
    from targetsms_analytics.statuses import _fetch_many

    saves: list[int] = []
    _fetch_many(client, sent, lambda items: saves.append(len(items)), concurrency=2,
                progress=False, clock=lambda: 0.0, save_every=7)  # fmt: skip
    assert saves == [7, 7, 7, 7, 2]


def test_statuses_never_cross_accounts_for_ids_two_services_share(tmp_path):
    """Review: two services number their SMS alike; a result frame of one account fetched with
    the other's client, or bare ids loaded without account=, mixed the two accounts."""
    from targetsms_analytics.emulator.state import Account

    store = tmp_path / "j.sqlite3"
    contacts = pd.DataFrame({"phone": ["79161234567", "79261234568", "79031234569"]})
    other = [Account("other", "pw2", kopecks=10**7)]
    with (
        ts.Emulator(throttle_interval=1.0) as first,
        ts.Emulator(throttle_interval=1.0, accounts=other) as second,
    ):
        demo = ts.TargetSMSClient("demo", "demo", url=first.url, throttle_interval=1.0)
        them = ts.TargetSMSClient("other", "pw2", url=second.url, throttle_interval=1.0)
        spring = ts.send_campaign(demo, contacts, "Hi", "SHOP", campaign="spring", store=store,
                                  progress=False)  # fmt: skip
        autumn = ts.send_campaign(them, contacts, "Hello", "SHOP", campaign="autumn",
                                  store=store, progress=False)  # fmt: skip
        assert set(spring["sms_id"]) == set(autumn["sms_id"])  # the same ids on both services
        mine = fetch_statuses(demo, spring, store=store, progress=False)
        assert set(mine["campaign"]) == {"spring"}
        with pytest.raises(ts.InputError, match="belong to demo@") as info:
            fetch_statuses(them, spring, store=store, progress=False)
        assert info.value.code == "account_mismatch"
    with pytest.raises(ts.InputError) as info:
        ts.load_statuses(list(autumn["sms_id"]), store=store)
    assert info.value.code == "ambiguous_account"
    theirs = ts.load_statuses(list(autumn["sms_id"]), store=store, account=autumn["account"][0])
    assert set(theirs["campaign"]) == {"autumn"}
    assert set(ts.load_statuses(autumn, store=store)["campaign"]) == {"autumn"}
