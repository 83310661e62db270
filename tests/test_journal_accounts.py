"""Issue 9: every journal record belongs to an account; a 0.1 journal upgrades in place."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import requests
from requests.adapters import HTTPAdapter

import targetsms_analytics as ts
from targetsms_analytics.client import DEFAULT_URL
from targetsms_analytics.emulator import Emulator
from targetsms_analytics.errors import InputError
from targetsms_analytics.journal import (
    DEFAULT_ENDPOINT,
    SCHEMA_VERSION,
    Journal,
    account_of,
    request_fingerprint,
)
from targetsms_analytics.statuses import load_statuses

FIXTURE = Path(__file__).parent / "data" / "journal-0.1.sqlite3"
ACME = "acme@sms.targetsms.ru"
URL_A = "http://127.0.0.1:8001/sendsms.php"
URL_B = "http://127.0.0.1:8002/sendsms.php"


def test_the_default_endpoint_is_the_clients():
    assert DEFAULT_ENDPOINT == DEFAULT_URL


@pytest.mark.parametrize(
    ("user", "url", "expected"),
    [
        ("acme", "https://sms.targetsms.ru/sendsms.php", "acme@sms.targetsms.ru"),
        ("acme", "https://SMS.TargetSMS.ru:443/sendsms.php", "acme@sms.targetsms.ru"),
        ("acme", "https://sms.targetsms.ru:8443/sendsms.php", "acme@sms.targetsms.ru:8443"),
        ("demo", "http://127.0.0.1:8421/sendsms.php", "demo@127.0.0.1:8421"),
        ("demo", "http://127.0.0.1/sendsms.php", "demo@127.0.0.1"),
        ("demo", "http://[::1]:81/x", "demo@[::1]:81"),
    ],
)
def test_an_account_is_user_at_host_with_a_port_only_when_not_the_default(user, url, expected):
    assert account_of(user, url) == expected


def test_the_same_campaign_name_on_two_accounts_is_two_campaigns():
    j = Journal(":memory:")
    phones = ["79001234567", "79001234568"]
    a = j.begin_batch("spring", phones, "Hi", 1, sender="SHOP", user="demo", url=URL_A)
    j.finish_batch(a.id, "sent", sms_ids=["1", "2"])
    b = j.begin_batch("spring", phones, "Hi", 1, sender="SHOP", user="demo", url=URL_B)
    assert b.phones == phones  # another account: another campaign, everyone is claimed
    j.finish_batch(b.id, "sent", sms_ids=["1", "2"])  # the same ids, another service
    with pytest.raises(InputError, match="several accounts") as info:
        j.campaign_messages("spring")
    assert "demo@127.0.0.1:8001" in str(info.value) and "demo@127.0.0.1:8002" in str(info.value)
    assert info.value.code == "ambiguous_campaign"
    mine = j.campaign_messages("spring", account="demo@127.0.0.1:8002")
    assert mine["account"].tolist() == ["demo@127.0.0.1:8002"] * 2
    assert j.campaigns()["account"].tolist() == ["demo@127.0.0.1:8001", "demo@127.0.0.1:8002"]
    # statuses of the same id in two accounts are two rows
    j.save_statuses([ts.StatusDetail("1", "deliver", None, 1, 1.0)], account="demo@127.0.0.1:8001")
    j.save_statuses(
        [ts.StatusDetail("1", "not_deliver", None, 1, 2.0)], account="demo@127.0.0.1:8002"
    )
    assert j.statuses(["1"], account="demo@127.0.0.1:8002")["state"].tolist() == ["not_deliver"]
    assert j.statuses(["1"], account="demo@127.0.0.1:8001")["price"].tolist() == [1.0]
    assert len(j.statuses()) == 2


def test_balance_snapshots_are_per_account():
    j = Journal(":memory:")
    packages = pd.DataFrame({"direction": ["МТС"], "remaining": [5]})
    j.save_balance(ts.Balance(10.0, "RUB", packages), account="a@h")
    j.save_balance(ts.Balance(20.0, "RUB", packages), account="b@h")
    assert j.balance_snapshots(account="b@h")["amount"].tolist() == [20.0]
    assert j.package_history(account="a@h")["account"].tolist() == ["a@h"]
    assert len(j.balance_snapshots()) == 2


@pytest.fixture
def second_emulator():
    """Another service (another endpoint) with another user: ``acme``."""
    with Emulator(throttle_interval=1.0, seed=7) as emu:
        emu.add_account("acme", "acme-secret", balance=1000.0)
        yield emu


def test_mixing_scenario_a_second_account_sends_its_own_campaign(
    client, emulator, second_emulator, tmp_path
):
    """The issue's scenario: `spring` to three numbers on the emulator, then `spring` to the same
    numbers on another account with the same store: it must send, and statuses must come from
    that account's service."""
    store = str(tmp_path / "team.sqlite3")
    contacts = pd.DataFrame({"phone": ["79161230001", "79161230002", "79161230003"]})
    first = ts.send_campaign(client, contacts, "Hi", "SHOP", campaign="spring", store=store,
                             progress=False)  # fmt: skip
    assert first["outcome"].tolist() == ["sent"] * 3
    other = ts.TargetSMSClient("acme", "acme-secret", url=second_emulator.url,
                               throttle_interval=1.0, timeout=5.0)  # fmt: skip
    try:
        second = ts.send_campaign(other, contacts, "Hi", "SHOP", campaign="spring", store=store,
                                  progress=False)  # fmt: skip
        assert second["outcome"].tolist() == ["sent"] * 3
        # really sent by the second service, with its own ids
        assert second_emulator.sent_phones("acme") == contacts["phone"].tolist()
        assert emulator.sent_phones("demo") == contacts["phone"].tolist()  # not sent twice there
        assert set(second["account"]) == {account_of("acme", second_emulator.url)}
        assert set(first["account"]) == {account_of("demo", emulator.url)}
        second_emulator.advance(3600)
        statuses = ts.fetch_statuses(other, "spring", store=store, progress=False)
        assert statuses["sms_id"].tolist() == second["sms_id"].tolist()
        assert statuses["state"].tolist() == [second_emulator.state_of(i) for i in second["sms_id"]]
        assert set(statuses["account"]) == {account_of("acme", second_emulator.url)}
        # the first account's campaign was not touched: nothing fetched for it
        mine = load_statuses("spring", store=store, account=account_of("demo", emulator.url))
        assert (mine["state"] == "send").all()
        # a bare name used by both accounts is refused, naming both
        with pytest.raises(InputError, match="several accounts") as info:
            load_statuses("spring", store=store)
        assert account_of("acme", second_emulator.url) in str(info.value)
        # a client asked for another account's campaign refuses instead of asking its service
        with pytest.raises(InputError, match="not this client's"):
            ts.fetch_statuses(other, "spring", store=store, progress=False,
                              account=account_of("demo", emulator.url))  # fmt: skip
    finally:
        other.close()


# ---------------------------------------------------------------- the 0.1 fixture


@pytest.fixture
def old_journal(tmp_path) -> Path:
    path = tmp_path / "journal.sqlite3"
    shutil.copyfile(FIXTURE, path)
    return path


def _raw_counts(path: Path) -> dict[str, int]:
    raw = sqlite3.connect(path)
    try:
        tables = ("campaigns", "batches", "messages", "statuses", "balance_snapshots", "packages")
        return {t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        raw.close()


def test_the_fixture_is_a_01_journal(old_journal):
    raw = sqlite3.connect(old_journal)
    assert raw.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1
    columns = [r[1] for r in raw.execute("PRAGMA table_info(messages)")]
    assert "account" not in columns
    raw.close()


def test_a_01_journal_upgrades_in_place_without_losing_a_row(old_journal):
    before = _raw_counts(old_journal)
    with Journal(old_journal) as j:
        assert j.schema_version == SCHEMA_VERSION
    after = _raw_counts(old_journal)
    assert after == before
    with Journal(old_journal) as j:
        campaigns = j.campaigns().set_index("campaign")
        assert set(campaigns["account"]) == {ACME}
        assert campaigns.loc["spring", ["messages", "sent", "rejected", "pending", "inflight"]].tolist() == [7, 3, 1, 2, 1]  # fmt: skip
        assert j.campaign_info("spring")["user"] == "acme"
        messages = j.campaign_messages("spring")
        assert messages["msisdn"].tolist() == [f"7900123000{i}" for i in range(1, 8)]
        assert messages["sms_id"].tolist()[:3] == ["5001", "5002", "5003"]
        assert set(messages["account"]) == {ACME}
        assert set(j.statuses()["account"]) == {ACME}
        assert j.balance_snapshots(account=ACME)["amount"].tolist() == [445.6, 440.8]
        assert len(j.package_history(account=ACME)) == 4
        assert set(j.batches()["account"]) == {ACME}


def test_a_refusal_recorded_by_01_is_still_found_after_the_upgrade(old_journal):
    with Journal(old_journal) as j:
        fingerprint = request_fingerprint(
            DEFAULT_ENDPOINT, "acme", "SHOP", ["79001230005", "79001230006"], "Hi Cy"
        )
        assert j.last_refusal(fingerprint) is not None


def test_statuses_of_an_upgraded_journal(old_journal):
    statuses = load_statuses("spring", store=str(old_journal))
    by_id = statuses.set_index("sms_id")
    assert by_id.loc["5001", "state"] == "deliver"
    assert by_id.loc["5002", "state"] == "not_deliver"
    assert by_id.loc["5003", "state"] == "send"
    assert set(statuses["account"]) == {ACME}
    assert statuses["cost"].sum() == pytest.approx(3.6)


class _ToEmulator(HTTPAdapter):
    """The real service's URL, answered by the emulator (a transport for this test only)."""

    def __init__(self, base: str) -> None:
        super().__init__(max_retries=0)
        self.base = base

    def send(self, request, **kwargs):  # type: ignore[override]
        request.url = request.url.replace("https://sms.targetsms.ru", self.base, 1)
        return super().send(request, **kwargs)


def test_resume_of_an_upgraded_journal_sends_only_the_rest(old_journal, second_emulator):
    """0.1 stopped `spring` half-way: the resume sends only its two pending recipients; the one
    left in flight is unknown, the sent and the rejected are as recorded."""
    session = requests.Session()
    session.mount("https://", _ToEmulator(second_emulator.url.rsplit("/", 1)[0]))
    client = ts.TargetSMSClient("acme", "acme-secret", session=session, throttle_interval=1.0,
                                timeout=5.0)  # fmt: skip
    assert client.url == DEFAULT_URL
    contacts = pd.DataFrame(
        {
            "phone": [f"7900123000{i}" for i in range(1, 8)],
            "name": ["Ann", "Ann", "Ann", "Bob", "Cy", "Cy", "Di"],
        }
    )
    result = ts.send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="spring",
                              store=str(old_journal), progress=False)  # fmt: skip
    assert result["outcome"].tolist() == [
        "sent", "sent", "sent", "rejected", "sent", "sent", "unknown",
    ]  # fmt: skip
    assert result["sms_id"].tolist()[:3] == ["5001", "5002", "5003"]
    assert second_emulator.sent_phones("acme") == ["79001230005", "79001230006"]
    assert result.loc[6, "error_code"] == "interrupted"
    assert set(result["account"]) == {ACME}
