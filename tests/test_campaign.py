"""send_campaign / estimate_campaign: through real HTTP to the emulator, crash-safe, no SMS twice."""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics import TargetSMSClient
from targetsms_analytics.batching import pack
from targetsms_analytics.campaign import (
    CAMPAIGN_COLUMNS,
    DEFAULT_PRICE_PER_PART,
    estimate_campaign,
    mark_outcome,
    resend_unknown,
    send_campaign,
    summarize_estimate,
)
from targetsms_analytics.contacts import read_contacts
from targetsms_analytics.emulator import Emulator
from targetsms_analytics.errors import (
    AccountError,
    ConnectError,
    ContentError,
    InputError,
    SenderError,
    TransportError,
)
from targetsms_analytics.journal import Journal, account_of
from targetsms_analytics.protocol import build_url, send_params
from targetsms_analytics.statuses import load_statuses

ROOT = Path(__file__).resolve().parents[1]
GREETING = "Здравствуйте, {name}! Скидка 20% на всё до воскресенья в магазине SHOP. Ждём вас!"


def sends(emu: Emulator) -> list[dict]:
    return [e for e in emu.log if e["op"] == "send"]


def assert_nobody_twice(emu: Emulator) -> None:
    counts = Counter(emu.sent_phones())
    twice = {p: n for p, n in counts.items() if n > 1}
    assert not twice, f"got the SMS more than once: {twice}"


def assert_ids_belong_to_their_phones(emu: Emulator, result: pd.DataFrame) -> None:
    sent = result[result["outcome"] == "sent"]
    assert sent["sms_id"].notna().all()
    assert sent["sms_id"].is_unique
    for sms_id, msisdn, text, parts in sent[["sms_id", "msisdn", "text", "parts"]].itertuples(
        index=False
    ):
        message = emu.messages[sms_id]
        assert (message.phone, message.text, message.parts) == (msisdn, text, parts)


@pytest.fixture
def journal():
    with Journal(":memory:") as j:
        yield j


@pytest.fixture
def rich(emulator):
    emulator.top_up("demo", 100_000)
    return emulator


# ---------------------------------------------------------------- a messy CRM export


def messy_contacts(rows: int = 2000, seed: int = 7) -> tuple[pd.DataFrame, list[tuple]]:
    """A CRM export typed every which way, and what should happen to each row.

    Returns the frame and, per row, ``(msisdn, outcome, error_code)`` as expected.
    """
    rng = random.Random(seed)
    names = ["Анна", "Олег", "Мария", "Иван", "Ольга", "Пётр", "Зоя", "Лев", "Юлия", "Ян"]
    prefixes = ["916", "926", "903", "950", "999", "985", "964", "977"]
    good: list[str] = []
    phones: list[object] = []
    people: list[object] = []
    expected: list[tuple] = []

    def fresh() -> str:
        msisdn = f"7{rng.choice(prefixes)}{len(good) + 1000000:07d}"
        good.append(msisdn)
        return msisdn

    def typed(msisdn: str) -> object:
        d = msisdn[1:]
        return rng.choice(
            [
                f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
                f"8 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
                msisdn,
                int(msisdn),
                float(msisdn),
                d,
                f" +7{d} ",
            ]
        )

    specials = [
        ("+7 900 000-00-00", "79000000000", "rejected", "phone_stop_listed"),
        ("8 999 999 99 99", "79999999999", "rejected", "phone_stop_listed"),
        (79111111111, "79111111111", "rejected", "phone_stop_listed"),
        *[
            (f"+7 701 100 00 {k:02d}", f"770110000{k:02d}", "rejected",
             "direction_closed_for_account")
            for k in range(6)
        ],
        *[
            (f"+44 7911 1234{k:02d}", f"4479111234{k:02d}", "rejected", "direction_closed")
            for k in range(6)
        ],
    ]  # fmt: skip
    special_at = {rng.randrange(rows): s for s in specials}
    seen_specials: set[str] = set()
    for i in range(rows):
        name: object = rng.choice(names)
        roll = rng.random()
        if i in special_at:
            raw, msisdn, outcome, code = special_at[i]
            if msisdn in seen_specials:
                outcome, code = "duplicate", "duplicate_recipient"
            seen_specials.add(msisdn)
            phones.append(raw)
            expected.append((msisdn, outcome, code))
        elif roll < 0.06:
            phones.append(rng.choice([None, np.nan, "", "   ", pd.NA]))
            expected.append((None, "invalid", "phone_missing"))
        elif roll < 0.09:
            phones.append(rng.choice(["abc", "12345", "тел. нет", "7916"]))
            expected.append((None, "invalid", "phone_invalid"))
        elif roll < 0.11:
            msisdn = f"7495{rng.randrange(10**7):07d}"
            phones.append(f"+7 495 {msisdn[4:7]}-{msisdn[7:9]}-{msisdn[9:]}")
            expected.append((msisdn, "invalid", "not_mobile"))
        elif roll < 0.19 and good:
            msisdn = rng.choice(good)
            phones.append(typed(msisdn))
            expected.append((msisdn, "duplicate", "duplicate_recipient"))
        elif roll < 0.22:
            msisdn = fresh()
            phones.append(typed(msisdn))
            name = rng.choice([None, np.nan, "", " "])
            good.remove(msisdn)  # never sent: a later repeat of it is the first valid row
            expected.append((msisdn, "invalid", "template_value_missing"))
        else:
            msisdn = fresh()
            phones.append(typed(msisdn))
            expected.append((msisdn, "sent", None))
        people.append(name)
    frame = pd.DataFrame({"phone": phones, "name": people, "crm_id": range(10_000, 10_000 + rows)})
    frame.index = pd.Index([f"r{i}" for i in range(rows)])
    return frame, expected


def test_a_2000_row_messy_list_gets_every_outcome_right_and_nobody_twice(rich, client, journal):
    contacts, expected = messy_contacts()
    result = send_campaign(
        client, contacts, GREETING, "SHOP", campaign="messy", store=journal, progress=False
    )

    # Shape: the input unchanged, then the result columns; one row per input row, in order.
    assert list(result.columns) == [*contacts.columns, *CAMPAIGN_COLUMNS, "account"]
    assert result.index.equals(contacts.index)
    pd.testing.assert_frame_equal(result[contacts.columns], contacts)

    got = list(zip(result["msisdn"], result["outcome"], result["error_code"], strict=True))
    wrong = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected, strict=True)) if g != e]
    assert not wrong, wrong[:10]
    assert set(result["outcome"]) == {"sent", "invalid", "duplicate", "rejected"}

    assert_nobody_twice(rich)
    assert_ids_belong_to_their_phones(rich, result)
    sent = result[result["outcome"] == "sent"]
    assert sorted(rich.sent_phones()) == sorted(sent["msisdn"])
    assert (sent["text"] == "Здравствуйте, " + sent["name"] + GREETING[20:]).all()
    assert set(sent["parts"]) == {2}

    # As few requests as the URL limit allows: per text, the packing plus the splits that
    # isolated the refused numbers; and no URL over the limit.
    log = sends(rich)
    for entry in log:
        p = entry["params"]
        url = build_url(
            rich.url, send_params("demo", "demo", p["sadr"], entry["phones"], p["text"])
        )
        assert len(url) <= 2000
    floor = 0
    for text, group in sent.groupby("text"):
        base = client.send_url_length("SHOP", [], text)
        floor += len(pack(list(group["msisdn"]), base_length=base, max_url_length=2000))
    rejected = int((result["outcome"] == "rejected").sum())
    assert floor <= len(log) <= floor + rejected * 2 * math.ceil(math.log2(200))
    assert result.attrs["summary"]["requests"] == len(log)

    # Again with the same campaign: the full result, nothing sent.
    again = send_campaign(
        client, contacts, GREETING, "SHOP", campaign="messy", store=journal, progress=False
    )
    pd.testing.assert_frame_equal(again, result)
    assert len(sends(rich)) == len(log)


def test_a_second_call_sends_only_the_rows_without_a_record(rich, client, journal):
    first = pd.DataFrame({"phone": ["79161230001", "79161230002"], "name": ["A", "B"]})
    send_campaign(client, first, "Hi {name}", "SHOP", campaign="c", store=journal, progress=False)
    more = pd.DataFrame(
        {"phone": ["8 916 123-00-02", "79161230003", "79161230001"], "name": ["B", "C", "A"]}
    )
    result = send_campaign(
        client, more, "Hi {name}", "SHOP", campaign="c", store=journal, progress=False
    )
    assert result["outcome"].tolist() == ["sent", "sent", "sent"]
    assert_nobody_twice(rich)
    assert sorted(rich.sent_phones()) == ["79161230001", "79161230002", "79161230003"]
    assert len(sends(rich)) == 3  # A, B; then only C


def test_without_a_campaign_name_running_the_same_cell_twice_sends_once(rich, client):
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    first = send_campaign(client, contacts, "Акция!", "SHOP", progress=False)
    second = send_campaign(client, contacts, "Акция!", "SHOP", progress=False)
    assert first.attrs["campaign"] == second.attrs["campaign"]
    assert first.attrs["campaign"].startswith("auto-")
    assert second["sms_id"].tolist() == first["sms_id"].tolist()
    assert len(rich.sent_phones()) == 2
    rich.expire_throttle()  # the same URL again within the interval would be refused
    other = send_campaign(client, contacts, "Акция!", "SHOP", campaign="again", progress=False)
    assert other["outcome"].tolist() == ["sent", "sent"]  # a new name sends on purpose


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("contacts", "text", "sender", "error", "field"),
    [
        (pd.DataFrame({"phone": []}), "Hi", "SHOP", InputError, None),
        (pd.DataFrame(), "Hi", "SHOP", InputError, "phone"),
        (pd.DataFrame({"tel": ["79161234567"]}), "Hi", "SHOP", InputError, "phone"),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi {name}", "SHOP", InputError, "name"),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi {} there", "SHOP", InputError, "text"),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi {name", "SHOP", InputError, "text"),
        (pd.DataFrame({"phone": ["79161234567"]}), "", "SHOP", InputError, "text"),
        (pd.DataFrame({"phone": ["79161234567"]}), "  \n", "SHOP", InputError, "text"),
        (pd.DataFrame({"phone": ["79161234567"], "outcome": ["x"]}), "Hi", "SHOP", InputError,
         "outcome"),
        (["79161234567"], "Hi", "SHOP", InputError, None),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi", "VERYLONGSENDER", SenderError, None),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi", "7916123456789012", SenderError, None),
        (pd.DataFrame({"phone": ["79161234567"]}), "Hi", "", SenderError, None),
    ],
)  # fmt: skip
def test_bad_input_fails_before_any_request(
    emulator, client, journal, contacts, text, sender, error, field
):
    with pytest.raises(error) as info:
        send_campaign(client, contacts, text, sender, campaign="bad", store=journal, progress=False)
    assert emulator.log == []
    assert journal.campaign_messages("bad").empty
    if field is not None:
        assert info.value.field == field
        assert field in str(info.value)
    if error is SenderError:
        assert info.value.code in ("sender_too_long", "sender_missing")


def test_a_template_field_with_no_column_is_named(emulator, client):
    contacts = pd.DataFrame({"phone": ["79161234567"], "name": ["Анна"]})
    with pytest.raises(InputError, match=r"\{city\}"):
        send_campaign(client, contacts, "{name} из {city}", "SHOP", progress=False)
    assert emulator.log == []


def test_none_nan_ints_and_floats_as_phones(rich, client, journal):
    contacts = pd.DataFrame(
        {"phone": [None, np.nan, 79161234567, 79161234568.0, 9161234569, pd.NA, 0, 1.5, True]},
        dtype=object,
    )
    result = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert (
        result["outcome"].tolist()
        == ["invalid", "invalid", "sent", "sent", "sent"] + ["invalid"] * 4
    )
    assert result["error_code"].tolist()[:2] == ["phone_missing", "phone_missing"]
    assert result["msisdn"].tolist()[2:5] == ["79161234567", "79161234568", "79161234569"]
    assert sorted(rich.sent_phones()) == ["79161234567", "79161234568", "79161234569"]


def test_missing_template_values_make_rows_invalid_and_nothing_else_is_touched(
    rich, client, journal
):
    contacts = pd.DataFrame(
        {
            "phone": ["79161234561", "79161234562", "79161234563", "79161234564"],
            "name": ["Анна", None, "  ", "Олег"],
            "amount": [10.5, 3.0, 1.0, np.nan],
        }
    )
    result = send_campaign(
        client, contacts, "{name}: {amount} ₽", "SHOP", store=journal, progress=False
    )
    assert result["outcome"].tolist() == ["sent", "invalid", "invalid", "invalid"]
    assert result["error_code"].tolist()[1:] == ["template_value_missing"] * 3
    assert "{amount}" in result["error_text"].iloc[3]
    assert result["text"].iloc[0] == "Анна: 10.5 ₽"
    assert rich.sent_phones() == ["79161234561"]


def test_all_rows_invalid_sends_nothing(emulator, client, journal):
    contacts = pd.DataFrame({"phone": [None, "abc", "+7 495 123-45-67"]})
    result = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert result["outcome"].tolist() == ["invalid"] * 3
    assert emulator.log == []


def test_a_bad_option_fails_before_any_request(emulator, client):
    contacts = pd.DataFrame({"phone": ["79161234567"]})
    with pytest.raises(InputError, match="concurrency"):
        send_campaign(client, contacts, "Hi", "SHOP", concurrency=0, progress=False)
    assert emulator.log == []


# ---------------------------------------------------------------- what the service says


def test_a_refused_recipient_is_isolated_and_everyone_else_gets_the_sms(rich, client, journal):
    phones = [f"7916{i:07d}" for i in range(100)]
    phones[37] = "79000000000"
    phones[81] = "77011234567"
    contacts = pd.DataFrame({"phone": phones})
    result = send_campaign(client, contacts, "Акция", "SHOP", store=journal, progress=False)
    assert result["outcome"].value_counts().to_dict() == {"sent": 98, "rejected": 2}
    assert result["error_code"].iloc[37] == "phone_stop_listed"
    assert result["error_code"].iloc[81] == "direction_closed_for_account"
    assert_nobody_twice(rich)
    assert_ids_belong_to_their_phones(rich, result)
    # every piece of the split was a different URL: nothing throttled
    assert not [e for e in sends(rich) if "Попытка" in (e["answer"] or "")]


def test_insufficient_funds_gives_queued(emulator, client, journal):
    emulator.accounts["demo"].kopecks = 0
    emulator.accounts["demo"].packages.clear()
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    result = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert result["outcome"].tolist() == ["queued", "queued"]
    assert result["error_code"].tolist() == ["insufficient_funds"] * 2
    assert result["sms_id"].isna().all()
    again = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert again["outcome"].tolist() == ["queued", "queued"]
    assert len(sends(emulator)) == 1


def test_duplicate_request_from_the_service_is_recorded_not_resent(rich, client, journal):
    contacts = pd.DataFrame({"phone": ["79161234567"]})
    send_campaign(client, contacts, "Hi", "SHOP", campaign="a", store=journal, progress=False)
    result = send_campaign(client, contacts, "Hi", "SHOP", campaign="b", store=journal,
                           progress=False)  # fmt: skip
    assert result["outcome"].tolist() == ["duplicate"]
    assert result["error_code"].tolist() == ["duplicate_request"]
    assert len(sends(rich)) == 2 and len(rich.sent_phones()) == 1


def test_an_unmoderated_sender_stops_the_campaign_and_a_later_call_continues(rich, client, journal):
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(300)]})
    with pytest.raises(SenderError) as info:
        send_campaign(
            client, contacts, "Hi", "NEWBRAND", campaign="c", store=journal, progress=False
        )
    assert info.value.code == "sender_not_moderated"
    assert info.value.campaign == "c"
    partial = info.value.result
    assert partial["outcome"].isna().all()
    assert set(partial["error_code"]) == {"not_sent"}
    assert rich.sent_phones() == []
    assert set(journal.batches("c")["state"]) == {"failed"}
    assert set(journal.batches("c")["answer_code"]) == {"sender_not_moderated"}

    rich.accounts["demo"].senders["NEWBRAND"].moderated = True
    result = send_campaign(
        client, contacts, "Hi", "NEWBRAND", campaign="c", store=journal, progress=False
    )
    assert (result["outcome"] == "sent").all()
    assert_nobody_twice(rich)
    assert len(rich.sent_phones()) == 300


def test_a_blocked_account_stops_the_campaign(emulator, make_client, journal):
    client = make_client(user="blocked", password="blocked")
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"], "name": ["A", "B"]})
    with pytest.raises(AccountError) as info:
        send_campaign(
            client, contacts, "Hi {name}", "SHOP", store=journal, concurrency=1, progress=False
        )
    assert info.value.code == "account_blocked"
    assert info.value.result["outcome"].isna().all()
    assert len(sends(emulator)) == 1  # stopped after the first answer
    assert emulator.sent_phones("blocked") == []


def test_a_rejected_text_stops_the_campaign_after_journaling(rich, client, journal):
    names = ["Анна", "Олег", "casino royale", "Мария", "Иван"]
    contacts = pd.DataFrame({"phone": [f"7916123456{i}" for i in range(5)], "name": names})
    with pytest.raises(ContentError) as info:
        send_campaign(
            client, contacts, "Hi {name}", "SHOP", campaign="c", store=journal, concurrency=1,
            progress=False,
        )  # fmt: skip
    assert info.value.code == "text_rejected"
    partial = info.value.result
    assert partial["outcome"].tolist()[:2] == ["sent", "sent"]
    assert partial["outcome"].iloc[2:].isna().all()
    assert rich.sent_phones() == ["79161234560", "79161234561"]
    fixed = contacts.assign(name=["Анна", "Олег", "Роял", "Мария", "Иван"])
    result = send_campaign(
        client, fixed, "Hi {name}", "SHOP", campaign="c", store=journal, progress=False
    )
    assert (result["outcome"] == "sent").all()
    assert result["text"].iloc[2] == "Hi Роял"
    assert_nobody_twice(rich)


# ---------------------------------------------------------------- lost answers


def test_dropped_answers_and_5xx_become_unknown_never_resent(rich, client, journal):
    contacts = pd.DataFrame(
        {"phone": [f"7916123{i:04d}" for i in range(40)], "code": [f"{i:04d}" for i in range(40)]}
    )
    rich.inject("drop_after", count=2, op="send")
    rich.inject("error_5xx", count=2, op="send")
    result = send_campaign(
        client, contacts, "Код {code}", "SHOP", campaign="c", store=journal, concurrency=1,
        progress=False,
    )  # fmt: skip
    unknown = result[result["outcome"] == "unknown"]
    assert len(unknown) == 4
    assert (result["outcome"] == "sent").sum() == 36
    assert set(unknown["error_code"]) <= {"transport", "unknown_response"}
    assert unknown["sms_id"].isna().all()
    assert_nobody_twice(rich)
    assert_ids_belong_to_their_phones(rich, result)
    # The two dropped answers were processed: those people did get the SMS.
    arrived = [m for m in unknown["msisdn"] if m in rich.sent_phones()]
    lost = [m for m in unknown["msisdn"] if m not in rich.sent_phones()]
    assert len(arrived) == 2 and len(lost) == 2

    # Not resent automatically.
    requests = len(sends(rich))
    again = send_campaign(
        client, contacts, "Код {code}", "SHOP", campaign="c", store=journal, progress=False
    )
    assert (again["outcome"] == "unknown").sum() == 4
    assert len(sends(rich)) == requests

    # The user checked: two arrived, two did not.
    assert mark_outcome("c", arrived, "sent", store=journal, note="seen in the panel") == arrived
    rich.expire_throttle()  # a resend is the same URL as the lost request: a minute passes
    resent = resend_unknown(client, "c", msisdns=lost, store=journal, progress=False)
    assert sorted(resent["msisdn"]) == sorted(lost)
    assert (resent["outcome"] == "sent").all()
    final = send_campaign(
        client, contacts, "Код {code}", "SHOP", campaign="c", store=journal, progress=False
    )
    assert (final["outcome"] == "sent").all()
    assert_nobody_twice(rich)
    assert sorted(rich.sent_phones()) == sorted(final["msisdn"])
    marked = final.set_index("msisdn").loc[arrived]
    assert set(marked["error_code"]) == {"marked_by_user"} and marked["sms_id"].isna().all()


def test_garbled_answers_and_resets_become_unknown(rich, client, journal):
    contacts = pd.DataFrame({"phone": [f"7916123{i:04d}" for i in range(12)], "n": range(12)})
    rich.inject("garble", count=3, op="send")
    rich.inject("reset_before", count=1, op="send")
    result = send_campaign(
        client, contacts, "N {n}", "SHOP", store=journal, concurrency=1, progress=False
    )
    assert (result["outcome"] == "unknown").sum() == 4
    assert (result["outcome"] == "sent").sum() == 8
    assert_nobody_twice(rich)


def test_a_run_of_lost_answers_stops_the_campaign(rich, client, journal):
    contacts = pd.DataFrame({"phone": [f"7916123{i:04d}" for i in range(30)], "n": range(30)})
    rich.inject("error_5xx", count=100, op="send")
    with pytest.raises(TransportError) as info:
        send_campaign(
            client, contacts, "N {n}", "SHOP", campaign="c", store=journal, concurrency=1,
            max_unknown_streak=3, progress=False,
        )  # fmt: skip
    partial = info.value.result
    assert (partial["outcome"] == "unknown").sum() == 3
    assert partial["outcome"].isna().sum() == 27
    rich.clear_faults()
    result = send_campaign(
        client, contacts, "N {n}", "SHOP", campaign="c", store=journal, progress=False
    )
    assert (result["outcome"] == "sent").sum() == 27
    assert (result["outcome"] == "unknown").sum() == 3


def test_an_unreachable_service_stops_without_marking_anyone_unknown(journal):
    """Issue 8 item 11: a request that certainly never left was `unknown` in 0.1; it is `rejected`
    with the transport code, and the next call sends it (nothing of it arrived)."""
    from targetsms_analytics.client import RetryPolicy, TargetSMSClient

    with Emulator() as emu:
        url, port = emu.url, emu.port
    client = TargetSMSClient(
        "demo", "demo", url=url, retry=RetryPolicy(base_delay=0.001, max_delay=0.002)
    )
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"], "n": [1, 2]})
    with pytest.raises(TransportError) as info:
        send_campaign(client, contacts, "N {n}", "SHOP", store=journal, progress=False)
    assert isinstance(info.value, ConnectError)  # it certainly never left
    first = info.value.result
    assert "unknown" not in set(first["outcome"])
    assert set(first["outcome"].dropna()) == {"rejected"}
    assert set(first["error_code"]) <= {"transport", "not_sent"}
    assert first["error_text"].str.startswith("never sent").any()
    with Emulator(port=port) as emu:  # the service is back at the same address
        again = send_campaign(
            client, contacts, "N {n}", "SHOP", campaign=info.value.campaign, store=journal,
            progress=False,
        )  # fmt: skip
        assert sorted(emu.sent_phones()) == ["79161234567", "79161234568"]
    assert set(again["outcome"]) == {"sent"}


def test_mark_outcome_accepts_any_number_format_and_only_changes_unknown_rows(journal):
    t = journal.begin_batch("c", ["79161234567"], "Hi", 1, sender="SHOP", user="demo", url="x")
    journal.finish_batch(t.id, "unknown", error_code="transport")
    with pytest.raises(InputError):
        mark_outcome("c", ["79161234567"], "delivered", store=journal)
    assert mark_outcome("c", "+7 (916) 123-45-67", "rejected", store=journal) == ["79161234567"]
    assert mark_outcome("c", "79161234567", "sent", store=journal) == []
    assert journal.records("c")["79161234567"]["status"] == "rejected"


def test_mark_outcome_marks_the_recipients_of_a_batch_whose_sender_is_gone(journal):
    """Review: a batch left in flight by a sender that is gone shows as `unknown` (in_progress)
    in a result frame, but mark_outcome changed nothing there (resend_unknown recovers it
    first); one whose sender is still sending is left alone."""
    token = journal.begin_run("c", account=account_of("demo", "x"))
    gone = journal.begin_batch("c", ["79161234567"], "Hi", 1, sender="SHOP", user="demo",
                               url="x", token=token)  # fmt: skip
    journal.end_run(token)  # (its run is over, its answer never came: e.g. Ctrl-C)
    live = journal.begin_run("c", account=account_of("demo", "x"))
    journal.begin_batch("c", ["79161234568"], "Hi", 1, sender="SHOP", user="demo", url="x",
                        token=live)  # fmt: skip
    phones = ["79161234567", "79161234568"]
    assert mark_outcome("c", phones, "sent", store=journal) == ["79161234567"]
    records = journal.records("c")
    assert records["79161234567"]["status"] == "sent" and gone.phones == ["79161234567"]
    assert records["79161234568"]["status"] == "inflight"  # its sender's answer is still to come
    journal.end_run(live)


# ---------------------------------------------------------------- crashes and concurrency


def test_kill_9_mid_campaign_then_resume_sends_nobody_twice(tmp_path):
    rows, campaign = 600, "killed"
    store = str(tmp_path / "journal.sqlite")
    worker = str(ROOT / "tests" / "_campaign_worker.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with Emulator(throttle_interval=1.0, latency=0.02) as emu:
        emu.top_up("demo", 100_000)
        args = [sys.executable, worker, emu.url, store, campaign, str(rows)]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(store):
                try:
                    with Journal(store) as j:
                        done = int((j.campaign_messages(campaign)["outcome"] == "sent").sum())
                except sqlite3.OperationalError:
                    done = 0
                if done >= 100:
                    break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        killed_at = len(emu.sent_phones())
        assert 100 <= killed_at < rows

        with Journal(store) as j:
            inflight = j.campaign_messages(campaign).query("outcome == 'inflight'")
            assert len(inflight) <= 4  # one recipient per request, four workers

        resume = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert resume.returncode == 0, resume.stderr[-2000:]

        assert_nobody_twice(emu)
        with Journal(store) as j:
            messages = j.campaign_messages(campaign)
        assert len(messages) == rows
        assert set(messages["outcome"]) <= {"sent", "unknown"}
        unknown = messages[messages["outcome"] == "unknown"]
        assert len(unknown) == len(inflight)
        assert set(unknown["error_code"]) <= {"interrupted"}
        sent = messages[messages["outcome"] == "sent"]
        for sms_id, msisdn in sent[["sms_id", "msisdn"]].itertuples(index=False):
            assert emu.messages[sms_id].phone == msisdn
        # Every SMS the emulator issued is accounted for: sent with its id, or unknown.
        issued = set(emu.sent_phones())
        assert set(sent["msisdn"]) <= issued
        assert issued <= set(sent["msisdn"]) | set(unknown["msisdn"])


def test_two_runs_at_once_on_one_file_send_nobody_twice(rich, make_client, tmp_path):
    store = tmp_path / "j.sqlite"
    contacts = pd.DataFrame({"phone": [f"7916123{i:04d}" for i in range(200)], "n": range(200)})
    rich.latency = 0.005
    results: list[pd.DataFrame] = []

    def run() -> None:
        client = make_client()
        results.append(
            send_campaign(
                client, contacts, "N {n}", "SHOP", campaign="c", store=store, progress=False
            )
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_nobody_twice(rich)
    assert len(rich.sent_phones()) == 200
    final = send_campaign(make_client(), contacts, "N {n}", "SHOP", campaign="c", store=store,
                          progress=False)  # fmt: skip
    assert (final["outcome"] == "sent").all()


def test_the_password_is_never_journaled_or_shown(emulator, make_client, tmp_path, capsys):
    emulator.add_account("alice", "s3cr3t-pa55", balance=1000)
    client = make_client(user="alice", password="s3cr3t-pa55")
    store = tmp_path / "j.sqlite"
    contacts = pd.DataFrame({"phone": ["79161234567", "79000000000"], "n": [1, 2]})
    result = send_campaign(client, contacts, "N", "SHOP", store=store, progress=True)
    captured = capsys.readouterr()
    assert "rcpt" in captured.err and "req/s" in captured.err
    dump = "\n".join(sqlite3.connect(store).iterdump())
    for where in (dump, captured.out, captured.err, result.to_string(), repr(result.attrs)):
        assert "s3cr3t" not in where


# ---------------------------------------------------------------- estimates


def test_estimate_makes_no_request_and_reports_what_a_send_would_do(rich, client, journal):
    contacts, expected = messy_contacts(400, seed=3)
    estimate = estimate_campaign(contacts, GREETING, client=client, sender="SHOP")
    assert rich.log == []
    assert list(estimate.columns) == [*contacts.columns, *CAMPAIGN_COLUMNS]
    local = [
        "ready" if outcome in ("sent", "rejected") else outcome for _m, outcome, _c in expected
    ]
    assert estimate["outcome"].tolist() == local
    summary = estimate.attrs["summary"]
    assert summary == summarize_estimate(estimate)
    ready = estimate[estimate["outcome"] == "ready"]
    assert summary["recipients"] == len(ready)
    assert summary["invalid"] == local.count("invalid")
    assert summary["duplicates"] == local.count("duplicate")
    assert summary["parts"] == ready["parts"].sum() == 2 * len(ready)
    assert summary["expected_cost"] == round(summary["parts"] * DEFAULT_PRICE_PER_PART, 2)

    result = send_campaign(client, contacts, GREETING, "SHOP", store=journal, progress=False)
    assert (estimate["outcome"] == "ready").tolist() == result["outcome"].isin(
        ["sent", "rejected"]
    ).tolist()
    assert estimate["text"].tolist() == result["text"].tolist()
    # The send packed exactly as estimated; splits came on top.
    first_requests = journal.batches().query("parent.isna()")
    assert summary["requests"] == len(first_requests)


def test_estimate_counts_requests_and_cost():
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(1000)]})
    summary = estimate_campaign(contacts, "Hi", price_per_part=1.15).attrs["summary"]
    assert summary["recipients"] == 1000 and summary["parts"] == 1000
    assert summary["requests"] == 7  # 166 numbers fit a 2000-character URL
    assert summary["expected_cost"] == 1150.0
    personal = contacts.assign(n=range(1000))
    assert estimate_campaign(personal, "N {n}").attrs["summary"]["requests"] == 1000


def test_estimate_rejects_bad_input_like_send():
    with pytest.raises(InputError):
        estimate_campaign(pd.DataFrame({"phone": []}), "Hi")
    with pytest.raises(InputError, match="name"):
        estimate_campaign(pd.DataFrame({"phone": ["79161234567"]}), "Hi {name}")
    with pytest.raises(SenderError):
        estimate_campaign(pd.DataFrame({"phone": ["79161234567"]}), "Hi", sender="X" * 12)


# ---------------------------------------------------------------- review: regressions


def test_without_a_name_fixing_or_adding_rows_and_rerunning_sends_only_the_new_ones(
    rich, client, journal
):
    contacts = pd.DataFrame({"phone": ["79161230001", "79161230002", "7916123000"]})  # a typo
    first = send_campaign(client, contacts, "Акция!", "SHOP", store=journal, progress=False)
    assert first["outcome"].tolist() == ["sent", "sent", "invalid"]
    fixed = pd.DataFrame({"phone": ["79161230001", "79161230002", "79161230003", "79161230004"]})
    second = send_campaign(client, fixed, "Акция!", "SHOP", store=journal, progress=False)
    assert_nobody_twice(rich)
    assert len(rich.sent_phones()) == 4
    assert second.attrs["campaign"] == first.attrs["campaign"]
    assert second["outcome"].tolist() == ["sent"] * 4
    assert second["sms_id"].tolist()[:2] == first["sms_id"].tolist()[:2]


def test_mark_outcome_and_resend_unknown_read_national_formats(rich, client, journal):
    phones = ["79161234567", "79161234568", "79161234569"]
    t = journal.begin_batch("c", phones, "Hi", 1, sender="SHOP", user="demo", url=client.url)
    journal.finish_batch(t.id, "unknown", error_code="transport")
    assert mark_outcome("c", "89161234567", "sent", store=journal) == ["79161234567"]
    assert mark_outcome("c", [9161234568], "rejected", store=journal) == ["79161234568"]
    later = lambda: datetime.now(UTC) + timedelta(minutes=5)  # noqa: E731 (the window has passed)
    resent = resend_unknown(
        client, "c", msisdns="8 916 123 45 69", store=journal, progress=False, clock=later
    )
    assert resent["msisdn"].tolist() == ["79161234569"]
    assert resent["outcome"].tolist() == ["sent"]
    assert rich.sent_phones() == ["79161234569"]


@pytest.mark.parametrize("sender", ["VERYLONGSENDER", "7916123456789012", "", "   "])
def test_a_bad_sender_is_an_input_error_naming_the_field(emulator, client, journal, sender):
    contacts = pd.DataFrame({"phone": ["79161234567"]})
    with pytest.raises(InputError) as info:
        send_campaign(client, contacts, "Hi", sender, store=journal, progress=False)
    assert isinstance(info.value, SenderError)  # and still a SenderError, as the service says
    assert info.value.field == "sender" and "sender" in str(info.value)
    with pytest.raises(InputError):
        estimate_campaign(contacts, "Hi", sender=sender)
    assert emulator.log == []


def test_cells_that_are_not_phone_values_at_all_are_invalid_rows(rich, client, journal):
    contacts = pd.DataFrame(
        {"phone": pd.Series([[79161234567], {"n": 1}, "79161234567", {1, 2}], dtype=object)}
    )
    result = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert result["outcome"].tolist() == ["invalid", "invalid", "sent", "invalid"]
    assert rich.sent_phones() == ["79161234567"]


def test_a_number_too_long_for_the_service_is_invalid_before_any_request(rich, client, journal):
    phones = [f"7916123{i:04d}" for i in range(20)]
    phones[7] = "+43 664 1234567890"  # a valid Austrian mobile, 15 digits: the service refuses it
    contacts = pd.DataFrame({"phone": phones})
    result = send_campaign(client, contacts, "Hi", "SHOP", store=journal, progress=False)
    assert result["outcome"].iloc[7] == "invalid"
    assert result["error_code"].iloc[7] == "phone_too_long"
    assert result["msisdn"].iloc[7] == "436641234567890"
    assert (result["outcome"].drop(index=7) == "sent").all()
    assert len(sends(rich)) == 1  # one request, no splitting
    estimate = estimate_campaign(contacts, "Hi")
    assert estimate["error_code"].iloc[7] == "phone_too_long"


def test_sms_ids_are_logged_when_a_deferred_answer_cannot_be_written(rich, client, journal, caplog):
    """A final answer is written behind the worker's back (finish_batch(wait=False)) while
    batches are left to send: should that write fail, the ids are logged, the campaign stops
    with the error and the batch stays in flight (unknown next time), as when the write was the
    worker's own. (One worker, two requests: the first one's answer is deferred.)"""
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"], "name": ["А", "Б"]})
    real, real_finish = journal._answer_work, journal.finish_batch
    returned, written_after_return = [], []

    def broken(batch_id, outcome, *args):
        work = real(batch_id, outcome, *args)
        if outcome != "sent":
            return work

        def failing(c):
            written_after_return.append(batch_id in returned)
            raise sqlite3.OperationalError("disk I/O error")

        return failing

    def finish(batch_id, outcome, **kw):
        real_finish(batch_id, outcome, **kw)
        returned.append(batch_id)

    journal._answer_work, journal.finish_batch = broken, finish
    with caplog.at_level("ERROR", logger="targetsms_analytics"):
        with pytest.raises(sqlite3.OperationalError):
            send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="c", store=journal,
                          progress=False, concurrency=1)  # fmt: skip
    assert written_after_return and all(written_after_return)  # deferred: written later
    assert len(sends(rich)) == 1  # the run stopped: the second request never went out
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for sms_id, msisdn in zip(rich.messages, rich.sent_phones(), strict=True):
        assert f"{msisdn}={sms_id}" in logged
    journal._answer_work, journal.finish_batch = real, real_finish
    again = send_campaign(client, contacts, "Hi {name}", "SHOP", campaign="c", store=journal,
                          progress=False, concurrency=1)  # fmt: skip
    assert again["outcome"].tolist() == ["unknown", "sent"]
    assert len(sends(rich)) == 2


def test_sms_ids_are_logged_when_the_answer_cannot_be_journaled(rich, client, journal, caplog):
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    real = journal.finish_batch

    def broken(batch_id, outcome, **kw):
        if outcome == "sent":
            raise sqlite3.OperationalError("disk I/O error")
        return real(batch_id, outcome, **kw)

    journal.finish_batch = broken
    with caplog.at_level("ERROR", logger="targetsms_analytics"):
        with pytest.raises(sqlite3.OperationalError):
            send_campaign(client, contacts, "Hi", "SHOP", campaign="c", store=journal,
                          progress=False)  # fmt: skip
    ids = [m for m, msg in rich.messages.items()]
    assert len(ids) == 2
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for sms_id, msisdn in zip(ids, rich.sent_phones(), strict=True):
        assert f"{msisdn}={sms_id}" in logged
    journal.finish_batch = real
    # The batch stayed in flight: the next call takes it as unknown and sends nobody again.
    again = send_campaign(client, contacts, "Hi", "SHOP", campaign="c", store=journal,
                          progress=False)  # fmt: skip
    assert again["outcome"].tolist() == ["unknown", "unknown"]
    assert len(sends(rich)) == 1


def test_the_estimated_url_length_is_exact_for_awkward_texts(make_client):
    from targetsms_analytics.campaign import _url_lengths

    client = make_client(password="p@ss&w0rd%+ é")
    texts = ["Hi", "a,b & c+d%20", "Привет 👍\nновая строка", "~!*'();:@&=+$,/?#[]", " "]
    for sender in ("SHOP", "79001234567"):
        base = _url_lengths(lambda s: client.send_url_length(s, [], ""))
        for text in texts:
            assert base(sender, text) == client.send_url_length(sender, [], text)


def test_waiting_out_a_refused_request_claims_nobody_meanwhile(rich, client, journal, monkeypatch):
    import targetsms_analytics.campaign as campaign_module

    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    with pytest.raises(SenderError):
        send_campaign(client, contacts, "Hi", "NEWBRAND", campaign="c", store=journal,
                      progress=False)  # fmt: skip
    rich.accounts["demo"].senders["NEWBRAND"].moderated = True
    during: list[list[str]] = []

    def wait(seconds: float) -> bool:
        # What the journal says while the rerun waits (killed now, they would be unsent,
        # sendable, not unknown); then the service's window ends without a real sleep.
        during.append(journal.campaign_messages("c")["outcome"].tolist())
        rich.expire_throttle()
        return False  # not stopped

    class WaitingRun(campaign_module._Run):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._wait = wait

    monkeypatch.setattr(campaign_module, "_Run", WaitingRun)
    result = send_campaign(client, contacts, "Hi", "NEWBRAND", campaign="c", store=journal,
                           progress=False)  # fmt: skip
    assert during and during[0] == ["pending", "pending"]  # the same URL as the refused one
    assert result["outcome"].tolist() == ["sent", "sent"]
    assert len(sends(rich)) == 2


def test_a_whole_number_column_with_blanks_renders_without_a_decimal_point():
    contacts = pd.DataFrame(
        {"phone": ["79161234561", "79161234562", "79161234563"], "code": [1234, None, 7]}
    )
    assert contacts["code"].dtype == "float64"  # what pandas makes of an int column with a blank
    estimate = estimate_campaign(contacts, "Код {code}, талон {code|нет}")
    assert estimate["text"].tolist() == ["Код 1234, талон 1234", None, "Код 7, талон 7"]
    assert estimate["error_code"].iloc[1] == "template_value_missing"
    real = estimate_campaign(contacts.assign(code=[1.5, 2.0, None]), "Сумма {code}")
    assert real["text"].tolist()[:2] == ["Сумма 1.5", "Сумма 2.0"]


def test_two_processes_sending_one_campaign_on_one_file_send_nobody_twice(tmp_path):
    rows, campaign = 120, "both"
    store = str(tmp_path / "journal.sqlite")
    worker = str(ROOT / "tests" / "_campaign_worker.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with Emulator(throttle_interval=1.0, latency=0.01) as emu:
        emu.top_up("demo", 100_000)
        args = [sys.executable, worker, emu.url, store, campaign, str(rows)]
        procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]  # fmt: skip
        outs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _out, err in outs]
        assert_nobody_twice(emu)
        assert len(emu.sent_phones()) == rows
        with Journal(store) as j:
            messages = j.campaign_messages(campaign)
        assert (messages["outcome"] == "sent").sum() == rows
        for sms_id, msisdn in messages[["sms_id", "msisdn"]].itertuples(index=False):
            assert emu.messages[sms_id].phone == msisdn


# ---------------------------------------------------------------- issue 8: resend exactly


def test_resending_part_of_a_lost_request_is_refused_and_the_whole_is_repeated_exactly(tmp_path):
    """Regression (issue 8 item 7): a subset used to be repacked into a new URL, which the
    service does not refuse as a repeat: those who had the SMS got a second one."""
    phones = ["79161234561", "79161234562", "79161234563"]
    contacts = pd.DataFrame({"phone": phones})
    with Emulator(throttle_interval=30.0) as emu, Journal(tmp_path / "j.sqlite") as journal:
        emu.top_up("demo", 1000)
        client = TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=30.0, timeout=5.0)
        emu.inject("drop_after", op="send")  # processed, the answer lost: all three got it
        result = send_campaign(
            client, contacts, "Hi", "SHOP", campaign="c", store=journal, progress=False
        )
        assert result["outcome"].tolist() == ["unknown"] * 3
        assert sorted(emu.sent_phones()) == phones

        with pytest.raises(InputError, match="part of a lost request") as info:
            resend_unknown(client, "c", msisdns=phones[:2], store=journal, progress=False)
        assert info.value.field == "msisdns"
        assert len(sends(emu)) == 1  # nothing sent
        assert set(journal.campaign_messages("c")["outcome"]) == {"unknown"}

        resent = resend_unknown(client, "c", store=journal, progress=False)
        assert len(sends(emu)) == 2
        assert sends(emu)[1]["query"] == sends(emu)[0]["query"]  # the very same request
        assert resent["outcome"].tolist() == ["duplicate"] * 3  # the service: it arrived before
        assert sorted(emu.sent_phones()) == phones  # nobody got a second SMS
        client.close()


def test_a_resend_whose_claim_fails_leaves_them_unknown_and_the_next_run_sends_nobody_twice(
    tmp_path, monkeypatch
):
    """Review: resend_unknown released the lost request's recipients to `pending` in one
    transaction and claimed them in another; when the claim failed (a busy or full disk, a
    lost connection) they stood `pending`, and the next send_campaign packed them with someone
    new into another request, which the service does not refuse as a repeat: twice."""
    phones = ["79161234561", "79161234562"]
    contacts = pd.DataFrame({"phone": phones})
    with Emulator(throttle_interval=1.0) as emu, Journal(tmp_path / "j.sqlite") as journal:
        emu.top_up("demo", 1000)
        client = TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=1.0, timeout=5.0)
        emu.inject("drop_after", op="send")  # processed, the answer lost: both got it
        send_campaign(client, contacts, "Hi", "SHOP", campaign="c", store=journal, progress=False)
        claim = journal._claim

        def busy(c, *args):
            claim(c, *args)
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(journal, "_claim", busy)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            resend_unknown(client, "c", store=journal, progress=False)
        monkeypatch.undo()
        assert set(journal.campaign_messages("c")["outcome"]) == {"unknown"}
        more = pd.DataFrame({"phone": [*phones, "79161234563"]})
        result = send_campaign(client, more, "Hi", "SHOP", campaign="c", store=journal,
                               progress=False)  # fmt: skip
        assert result["outcome"].tolist() == ["unknown", "unknown", "sent"]
        assert sorted(emu.sent_phones()) == [*phones, "79161234563"]  # each once
        client.close()


def test_after_the_window_a_subset_is_resent_as_asked(tmp_path):
    phones = ["79161234561", "79161234562", "79161234563"]
    with Emulator(throttle_interval=30.0) as emu, Journal(tmp_path / "j.sqlite") as journal:
        emu.top_up("demo", 1000)
        client = TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=30.0, timeout=5.0)
        t = journal.begin_batch("c", phones, "Hi", 1, sender="SHOP", user="demo", url=client.url)
        journal.finish_batch(t.id, "unknown", error_code="transport")  # it never arrived
        later = lambda: datetime.now(UTC) + timedelta(seconds=36)  # noqa: E731
        resent = resend_unknown(
            client, "c", msisdns=phones[1:], store=journal, progress=False, clock=later
        )
        assert resent["outcome"].tolist() == ["sent", "sent"]
        assert sorted(emu.sent_phones()) == phones[1:]
        client.close()


# ---------------------------------------------------------------- windows, A/B, rate cap (issue 10)

MOSCOW = [f"7916123456{i}" for i in range(3)]  # Europe/Moscow by the numbering plan
VLADIVOSTOK = [f"7924123456{i}" for i in range(3)]  # Asia/Vladivostok
EIGHT_MOSCOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)  # 08:00 Moscow, 15:00 Vladivostok


class FakeClock:
    """Wall time that moves only when the code under test sleeps (thread-safe).

    Work between two looks at the clock takes no time, so each thread also keeps the time it
    last saw (:meth:`seen`): a worker that reads the clock, is let through by the rate cap or
    the window, and sends, sent at that time - even if another worker's sleep has since moved
    :attr:`at` on while this one was still journaling (on a busy machine, any amount of that).
    """

    def __init__(self, start: datetime) -> None:
        self.at = start
        self.slept = 0.0
        self.lock = threading.Lock()
        self._thread = threading.local()

    def now(self) -> datetime:
        with self.lock:
            self._thread.seen = self.at
            return self.at

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.at += timedelta(seconds=seconds)
            self.slept += seconds
            self._thread.seen = self.at

    def seen(self) -> datetime:
        """The time this thread last read (or slept until); ``now()`` if it never looked."""
        seen = getattr(self._thread, "seen", None)
        return self.now() if seen is None else seen


def test_a_window_holds_those_outside_it_and_a_later_call_sends_them_once(tmp_path, rich, client):
    store = tmp_path / "j.sqlite"
    contacts = pd.DataFrame({"phone": MOSCOW + VLADIVOSTOK, "name": list("абвгде")})
    fake = FakeClock(EIGHT_MOSCOW)
    send = lambda: send_campaign(  # noqa: E731
        client, contacts, "Доброе утро, {name}!", "SHOP", campaign="w", store=store,
        window=("09:00", "21:00"), clock=fake.now, progress=False,
    )  # fmt: skip
    first = send()
    assert first["outcome"].tolist() == ["scheduled"] * 3 + ["sent"] * 3
    opens = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
    assert (first["not_before"].iloc[:3] == opens).all()
    assert sorted(rich.sent_phones()) == VLADIVOSTOK
    with Journal(store) as journal:
        held = journal.campaign_messages("w").set_index("msisdn").loc[MOSCOW]
        assert set(held["outcome"]) == {"scheduled"} and (held["not_before"] == opens).all()
        assert journal.records("w")[MOSCOW[0]]["contact"] == {"name": "а"}

    requests = len(sends(rich))
    fake.at = opens - timedelta(minutes=1)  # not yet
    assert send()["outcome"].tolist() == first["outcome"].tolist()
    assert len(sends(rich)) == requests

    fake.at = opens
    second = send()
    assert second["outcome"].tolist() == ["sent"] * 6
    assert send()["outcome"].tolist() == ["sent"] * 6
    assert sorted(rich.sent_phones()) == sorted(MOSCOW + VLADIVOSTOK)
    assert_nobody_twice(rich)


def test_wait_sends_everyone_as_their_window_opens_without_real_waiting(tmp_path, rich, client):
    contacts = pd.DataFrame({"phone": MOSCOW + VLADIVOSTOK})
    fake = FakeClock(datetime(2026, 12, 1, 12, 30, tzinfo=UTC))  # 15:30 Moscow, 22:30 Vladivostok
    result = send_campaign(
        client, contacts, "Привет", "SHOP", campaign="w", store=tmp_path / "j.sqlite",
        window=("09:00", "21:00"), wait=True, clock=fake.now, sleep=fake.sleep, progress=False,
    )  # fmt: skip
    assert result["outcome"].tolist() == ["sent"] * 6
    assert fake.at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)  # 09:00 next day in Vladivostok
    assert rich.sent_phones() == MOSCOW + VLADIVOSTOK
    assert_nobody_twice(rich)


def test_wait_stops_at_until_and_ctrl_c_while_waiting_loses_nothing(tmp_path, rich, client):
    store = tmp_path / "j.sqlite"
    contacts = pd.DataFrame({"phone": MOSCOW + VLADIVOSTOK})
    fake = FakeClock(EIGHT_MOSCOW)
    options = dict(campaign="w", store=store, window=("09:00", "21:00"), progress=False)
    result = send_campaign(
        client, contacts, "Hi", "SHOP", wait=True, until=EIGHT_MOSCOW + timedelta(minutes=30),
        clock=fake.now, sleep=fake.sleep, **options,
    )  # fmt: skip
    assert result["outcome"].tolist() == ["scheduled"] * 3 + ["sent"] * 3
    assert fake.slept == 0  # the window opens after the deadline: no point waiting

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        send_campaign(
            client, contacts, "Hi", "SHOP", wait=True, clock=fake.now, sleep=interrupted, **options
        )
    fake.at = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    final = send_campaign(client, contacts, "Hi", "SHOP", clock=fake.now, **options)
    assert final["outcome"].tolist() == ["sent"] * 6
    assert_nobody_twice(rich)


def test_ab_variants_with_a_holdout_the_holdout_is_journaled_and_never_sent(tmp_path, rich, client):
    store = tmp_path / "j.sqlite"
    phones = [f"7916{i:07d}" for i in range(300)]
    contacts = pd.DataFrame({"phone": phones, "name": ["Анна"] * 300})
    variants = {"A": "A: скидка, {name}!", "B": "B: {name}, только сегодня"}
    result = send_campaign(
        client, contacts, variants, "SHOP", campaign="ab", store=store, holdout=0.2, seed=7,
        progress=False,
    )  # fmt: skip
    held = result[result["variant"] == "holdout"]
    assert 30 < len(held) < 90
    assert set(held["outcome"]) == {"holdout"} and held["sms_id"].isna().all()
    treated = result[result["variant"] != "holdout"]
    assert set(treated["outcome"]) == {"sent"} and set(treated["variant"]) == {"A", "B"}
    assert all(t.startswith(v) for t, v in zip(treated["text"], treated["variant"], strict=True))
    assert not set(held["msisdn"]) & set(rich.sent_phones())  # the emulator never saw them
    assert sorted(rich.sent_phones()) == sorted(treated["msisdn"])
    for entry in sends(rich):  # each request carries one variant's text
        assert entry["params"]["text"][0] in "AB"
    # the same split on a second call (and an estimate of the same campaign), nothing resent
    again = send_campaign(
        client, contacts, variants, "SHOP", campaign="ab", store=store, holdout=0.2, seed=7,
        progress=False,
    )  # fmt: skip
    assert again["variant"].tolist() == result["variant"].tolist()
    estimate = estimate_campaign(contacts, variants, campaign="ab", holdout=0.2, seed=7)
    assert estimate["variant"].tolist() == result["variant"].tolist()
    per_variant = estimate.attrs["variants"].set_index("variant")
    assert per_variant.loc["holdout", "recipients"] == len(held)
    assert per_variant.loc["holdout", "expected_cost"] == 0
    assert per_variant.loc[["A", "B"], "recipients"].sum() == len(treated)
    with Journal(store) as journal:
        journaled = journal.campaign_messages("ab").set_index("msisdn")
        assert (journaled.loc[held["msisdn"], "outcome"] == "holdout").all()
        assert (journaled.loc[treated["msisdn"], "variant"] == treated["variant"].values).all()
    statuses = load_statuses("ab", store=store)
    assert set(statuses["variant"].dropna()) == {"A", "B"}
    assert_nobody_twice(rich)


def test_the_rate_cap_holds_on_the_emulator_across_workers(tmp_path, rich, client, monkeypatch):
    per_minute = 120
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(300)]})
    fake = FakeClock(EIGHT_MOSCOW)
    seen: list[tuple[float, int]] = []
    real_send = client.send

    def timed_send(sender, phones, text):
        # when the rate cap let this request out (its worker's last look at the clock), not
        # fake.now(): other workers' sleeps move that on while this one journals the batch
        seen.append(((fake.seen() - EIGHT_MOSCOW).total_seconds(), len(phones)))
        return real_send(sender, phones, text)

    monkeypatch.setattr(client, "send", timed_send)
    result = send_campaign(
        client, contacts, "Hi", "SHOP", campaign="r", store=tmp_path / "j.sqlite",
        max_per_minute=per_minute, concurrency=4, clock=fake.now, sleep=fake.sleep,
        progress=False,
    )  # fmt: skip
    assert (result["outcome"] == "sent").all()
    assert len(rich.sent_phones()) == 300
    capacity = per_minute // 6
    assert max(n for _, n in seen) <= capacity  # one request never exceeds the bucket
    total = 0
    for t, n in sorted(seen):
        total += n
        assert total <= capacity + per_minute * t / 60 + 1e-6  # never ahead of the rate
    assert fake.slept == pytest.approx((300 - capacity) * 60 / per_minute)
    for start, _ in seen:  # and no minute saw more than N plus the burst
        in_minute = sum(n for t, n in seen if start <= t < start + 60)
        assert in_minute <= per_minute + capacity


def test_bad_planning_arguments_raise_naming_them_and_nothing_is_sent(emulator, client):
    contacts = pd.DataFrame({"phone": ["79161234567"], "name": ["Анна"]})
    cases = [
        ({"window": ("25:00", "9")}, "window"),
        ({"holdout": 1.5}, "holdout"),
        ({"max_per_minute": 0}, "max_per_minute"),
        ({"max_per_minute": -5}, "max_per_minute"),
        ({"max_parts": 0}, "max_parts"),
        ({"until": datetime(2026, 12, 1)}, "until"),
    ]
    for options, field in cases:
        with pytest.raises(InputError) as info:
            send_campaign(client, contacts, "Hi", "SHOP", progress=False, **options)
        assert info.value.field == field, options
    for text in ({}, {"holdout": "x"}, {"A": "Hi {name.upper}"}):
        with pytest.raises(InputError) as info:
            send_campaign(client, contacts, text, "SHOP", progress=False)
        assert info.value.field == "text"
    assert emulator.log == []


def test_a_ten_thousand_character_text_is_never_sent(emulator, client, tmp_path):
    """Regression (issue 8 item 9): it went out as 150 parts per recipient."""
    contacts = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    result = send_campaign(
        client, contacts, "a" * 10_000, "SHOP", store=tmp_path / "j.sqlite", progress=False
    )
    assert result["outcome"].tolist() == ["invalid"] * 2
    assert set(result["error_code"]) == {"too_many_parts"}
    assert emulator.log == []


def test_a_two_megabyte_csv_field_never_becomes_a_request(emulator, client, tmp_path):
    """Regression (issue 8 item 9): a 2 MB URL carrying the password went out (414, unknown)."""
    path = tmp_path / "big.csv"
    path.write_text(
        "phone;note\n79161234567;" + "ы" * 2_000_000 + "\n79161234568;коротко\n", encoding="utf-8"
    )
    contacts = read_contacts(path)
    result = send_campaign(
        client, contacts, "{note}", "SHOP", store=tmp_path / "j.sqlite", progress=False,
        max_parts=100_000,
    )  # fmt: skip
    assert result["outcome"].tolist() == ["invalid", "sent"]
    assert result["error_code"].iloc[0] == "url_too_long"
    assert all(len(e["query"]) <= 2000 for e in emulator.log)
    assert emulator.sent_phones() == ["79161234568"]


def test_a_window_estimate_says_who_is_sendable_now_and_when_the_rest_are():
    contacts = pd.DataFrame({"phone": MOSCOW + VLADIVOSTOK})
    estimate = estimate_campaign(
        contacts, "Hi", window=("09:00", "21:00"), clock=lambda: EIGHT_MOSCOW
    )
    summary = estimate.attrs["summary"]
    assert (summary["recipients"], summary["sendable_now"], summary["scheduled"]) == (6, 3, 3)
    schedule = estimate.attrs["schedule"]
    assert schedule["recipients"].tolist() == [3]
    assert schedule["not_before"].tolist() == [pd.Timestamp("2026-12-01 06:00", tz="UTC")]


def test_the_readme_reach_example_runs_as_written(monkeypatch, capsys):
    """README "Templates, send windows, a rate cap and A/B tests": its example, at 12:00 UTC."""
    import targetsms_analytics.campaign as campaign_module

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\n# Reach:") + len("```python\n")
    code = text[start : text.index("```", start)]
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(
        campaign_module, "utc_now", lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    )
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert set(result["outcome"].dropna()) >= {"sent", "holdout", "scheduled"}
    assert set(namespace["statuses"]["variant"].dropna()) == {"A", "B"}
    assert "variant" in capsys.readouterr().out


# ---------------------------------------------------------------- issue 8 item 6 (store: _Run)


def _refused_run(client, tmp_path, *, wall, clock=None):
    from datetime import UTC, datetime

    from targetsms_analytics.campaign import _Run
    from targetsms_analytics.journal import Journal

    journal = Journal(tmp_path / "clock.sqlite3")
    ticket = journal.begin_batch("c", ["79001234567"], "Hi", 1, sender="SHOP",
                                 user=client.user, url=client.url)  # fmt: skip
    journal.finish_batch(ticket.id, "pending", error_code="sender_not_moderated", error_text="no")
    refused_at = journal.last_refusal(ticket.fingerprint)
    assert refused_at is not None and abs(datetime.now(UTC) - refused_at).total_seconds() < 60
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return True  # as if stopped while waiting: nothing is claimed, nothing sent

    run = _Run(client, journal, "c", concurrency=1, progress=False, total=1,
               max_unknown_streak=None, wall=lambda: refused_at + wall, wait=wait,
               **({} if clock is None else {"clock": clock}))  # fmt: skip
    return run, journal, ticket, waits


def test_a_wall_clock_set_back_still_waits_out_the_whole_interval(client, emulator, tmp_path):
    """Clock set back an hour: 0.1 saw a negative elapsed time, repeated the refused request at
    once and the service answered duplicate_request (final `duplicate`, no SMS sent)."""
    from datetime import timedelta

    run, journal, _ticket, waits = _refused_run(client, tmp_path, wall=-timedelta(hours=1))
    run._batch("SHOP", "Hi", 1, ["79001234567"])
    assert waits == [pytest.approx(client.throttle_interval + 0.05)]
    assert emulator.sent_phones() == []
    assert journal.records("c")["79001234567"]["status"] == "pending"
    journal.close()


def test_a_refusal_seen_by_this_run_is_timed_on_the_monotonic_clock(client, emulator, tmp_path):
    from datetime import timedelta

    ticks = iter([100.0, 100.25])
    run, journal, ticket, waits = _refused_run(
        client, tmp_path, wall=timedelta(hours=1), clock=lambda: next(ticks)
    )
    run._refused[ticket.fingerprint] = run._clock()  # refused at 100.0 (monotonic)
    run._batch("SHOP", "Hi", 1, ["79001234567"])  # the wall clock jumped an hour ahead meanwhile
    assert waits == [pytest.approx(client.throttle_interval - 0.25 + 0.05)]
    assert emulator.sent_phones() == []
    journal.close()


@pytest.mark.parametrize(
    "template", ["Hi {name.__class__}", "Hi {name.upper}", "Hi {name[0]}", "Hi {0}", "{name!r}"]
)
def test_a_template_that_would_evaluate_is_refused_and_nothing_is_sent(
    emulator, client, tmp_path, template
):
    """Regression (issue 8 item 8): `Hi {name.__class__}` sent `Hi <class 'str'>` to people."""
    contacts = pd.DataFrame({"phone": ["79161234567"], "name": ["Анна"]})
    with pytest.raises(InputError) as info:
        send_campaign(client, contacts, template, "SHOP", store=tmp_path / "j", progress=False)
    assert info.value.code == "template_invalid" and info.value.field == "text"
    with pytest.raises(InputError):
        estimate_campaign(contacts, template)
    assert emulator.log == []


def test_an_empty_name_takes_the_templates_fallback(rich, client, tmp_path):
    contacts = pd.DataFrame({"phone": ["79161234561", "79161234562"], "Имя": ["Анна", " "]})
    result = send_campaign(
        client, contacts, "Здравствуйте, {Имя|друзья}!", "SHOP", store=tmp_path / "j",
        progress=False,
    )  # fmt: skip
    assert result["text"].tolist() == ["Здравствуйте, Анна!", "Здравствуйте, друзья!"]
    assert result["outcome"].tolist() == ["sent", "sent"]


def test_a_pending_recipient_outside_its_window_is_scheduled_then_sent(tmp_path, rich, client):
    store = tmp_path / "j.sqlite"
    with Journal(store) as journal:  # a run stopped before sending it (say, sender moderation)
        t = journal.begin_batch(
            "w", [MOSCOW[0]], "Hi", 1, sender="SHOP", user=client.user, url=client.url
        )
        journal.finish_batch(t.id, "pending", error_code="sender_not_moderated", error_text="no")
    contacts = pd.DataFrame({"phone": [MOSCOW[0]]})
    fake = FakeClock(EIGHT_MOSCOW)
    options = dict(campaign="w", store=store, window="09:00-21:00", clock=fake.now, progress=False)
    held = send_campaign(client, contacts, "Hi", "SHOP", **options)
    assert held["outcome"].tolist() == ["scheduled"]
    assert "sendable from 2026-12-01 06:00 UTC" in held["error_text"].iloc[0]
    fake.at += timedelta(hours=1)
    assert send_campaign(client, contacts, "Hi", "SHOP", **options)["outcome"].tolist() == ["sent"]
    assert rich.sent_phones() == [MOSCOW[0]]


def test_a_window_that_closes_during_a_paced_run_holds_the_rest(
    tmp_path, rich, client, monkeypatch
):
    """Checked per request, not once per call: with the rate cap, a run that starts at 20:59
    in Moscow is still sending at 21:00; nobody gets an SMS after the window closed."""
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(200)]})
    closes = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # 21:00 in Moscow
    fake = FakeClock(closes - timedelta(minutes=1))
    sent_at: list[datetime] = []
    real_send = client.send

    def timed_send(sender, phones, text):
        sent_at.append(fake.seen())  # when the gate let it out (see FakeClock.seen)
        return real_send(sender, phones, text)

    monkeypatch.setattr(client, "send", timed_send)
    result = send_campaign(
        client, contacts, "Hi", "SHOP", campaign="late", store=tmp_path / "j.sqlite",
        window=("09:00", "21:00"), max_per_minute=120, concurrency=3, clock=fake.now,
        sleep=fake.sleep, progress=False,
    )  # fmt: skip
    assert sent_at and max(sent_at) < closes
    counts = result["outcome"].value_counts().to_dict()
    assert counts["sent"] == len(rich.sent_phones()) and 100 <= counts["sent"] <= 160
    assert counts["sent"] + counts["scheduled"] == 200
    later = result.loc[result["outcome"] == "scheduled", "not_before"]
    assert (later == datetime(2026, 12, 2, 6, 0, tzinfo=UTC)).all()  # 09:00 the next day
    assert_nobody_twice(rich)


def test_snapshot_balance_brackets_the_sends_so_spend_reconciles(tmp_path):
    """send_campaign(snapshot_balance=True): one snapshot before the first request, one after."""
    store = tmp_path / "j.sqlite"
    prices = {k: 1.25 for k in ("МТС", "Мегафон", "BeeLine", "Tele2", "Yota", "Остальные")}
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(8)]})
    with (
        Emulator(throttle_interval=0.0, delivery_delay=(0, 0), prices=prices) as emu,
        ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=0.0) as client,
    ):
        emu.add_account("demo", "demo", balance=50.0)
        result = send_campaign(
            client, contacts, "Привет", "SHOP", campaign="a", store=store, progress=False,
            snapshot_balance=True,
        )  # fmt: skip
        assert set(result["outcome"]) == {"sent"}
        ts.fetch_statuses(client, "a", store=store, progress=False)
    snapshots = ts.Journal(store).balance_snapshots()
    assert snapshots["amount"].tolist() == [50.0, 40.0]
    row = ts.reconcile_spend(store).iloc[0]
    assert row["cost_by_statuses"] == 10.0 and row["spend_by_balance"] == 10.0
    assert not row["mismatch"]


def test_a_resend_that_stops_leaves_everyone_unknown_so_nothing_is_repacked(tmp_path):
    """Review: resend_unknown released every chosen recipient to `pending` before sending; when it
    stopped on its first request, the next send_campaign repacked all of them into a new request
    and everybody whose first SMS had arrived got a second one."""
    from targetsms_analytics.journal import account_of

    store = tmp_path / "j.sqlite3"
    phones = [f"791612{i:05d}" for i in range(6)]
    with Emulator(throttle_interval=60.0) as emu:
        client = TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=60.0)
        account = account_of(client.user, client.url)
        with Journal(store) as journal:
            journal.ensure_campaign("r", user=client.user, url=client.url, sender="SHOP",
                                    template="Hi")  # fmt: skip
            for group in (phones[:3], phones[3:]):  # two requests whose answers were lost
                ticket = journal.begin_batch("r", group, "Hi", 1, sender="SHOP",
                                             user=client.user, url=client.url, account=account)  # fmt: skip
                client.send("SHOP", group, "Hi")  # they did arrive
                journal.finish_batch(
                    ticket.id, "unknown", error_code="transport", error_text="lost"
                )
        send, calls = client.send, []

        def blocked_once(*args, **kwargs):
            calls.append(args)
            if len(calls) == 1:
                raise AccountError("account_blocked", "Аккаунт заблокирован.")
            return send(*args, **kwargs)

        client.send = blocked_once
        with pytest.raises(AccountError):
            resend_unknown(client, "r", store=store, progress=False, concurrency=1)
        client.send = send
        with Journal(store) as journal:
            assert set(journal.campaign_messages("r")["outcome"]) == {"unknown"}
        result = send_campaign(client, pd.DataFrame({"phone": phones}), "Hi", "SHOP",
                               campaign="r", store=store, progress=False)  # fmt: skip
        assert set(result["outcome"]) == {"unknown"}
        assert sorted(emu.sent_phones()) == sorted(phones)  # each got the SMS exactly once


def test_a_later_call_without_a_window_keeps_the_journaled_not_before(tmp_path, rich, client):
    """Review: a call without window= sent every scheduled recipient at once (03:00 in Moscow)."""
    store = tmp_path / "j.sqlite"
    contacts = pd.DataFrame({"phone": MOSCOW + VLADIVOSTOK})
    fake = FakeClock(EIGHT_MOSCOW)
    first = send_campaign(client, contacts, "Привет", "SHOP", campaign="w", store=store,
                          window=("09:00", "21:00"), clock=fake.now, progress=False)  # fmt: skip
    assert first["outcome"].tolist() == ["scheduled"] * 3 + ["sent"] * 3
    again = lambda: send_campaign(  # noqa: E731
        client, contacts, "Привет", "SHOP", campaign="w", store=store, clock=fake.now,
        progress=False,
    )  # fmt: skip
    assert again()["outcome"].tolist() == first["outcome"].tolist()
    assert sorted(rich.sent_phones()) == VLADIVOSTOK
    fake.at = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 09:00 in Moscow: due now
    assert again()["outcome"].tolist() == ["sent"] * 6
    assert_nobody_twice(rich)


def test_a_nul_in_one_contact_field_makes_that_row_invalid_and_the_rest_go_out(
    rich, client, journal
):
    """Review: a NUL from one CRM cell passed planning, then the client refused it mid-send and
    stopped the whole campaign at that row, on every retry."""
    contacts = pd.DataFrame({"phone": ["79161234501", "79161234502", "79161234503"],
                             "name": ["Ann", "Bob\x00", "Cid"]})  # fmt: skip
    estimate = estimate_campaign(contacts, "Hi {name}")
    assert estimate["outcome"].tolist() == ["ready", "invalid", "ready"]
    assert estimate["error_code"][1] == "text_invalid"
    result = send_campaign(client, contacts, "Hi {name}", "SHOP", store=journal, progress=False)
    assert result["outcome"].tolist() == ["sent", "invalid", "sent"]
    assert sorted(rich.sent_phones()) == ["79161234501", "79161234503"]
    with pytest.raises(InputError) as info:
        estimate_campaign(contacts, "Hi\x00 {name}")
    assert info.value.code == "text_invalid"


def _cell_by_cell(frame: pd.DataFrame, phone_column: str, positions: list[int]) -> list[dict]:
    """The rule for the journal's contact columns: every other cell through ``_json_safe``."""
    from targetsms_analytics.campaign import _json_safe

    at = [j for j, c in enumerate(frame.columns) if c != phone_column]
    others = [frame.columns[j] for j in at]
    rows = frame.iloc[positions, at].itertuples(index=False, name=None)
    return [{str(k): _json_safe(v) for k, v in zip(others, row, strict=True)} for row in rows]


def test_contact_columns_convert_every_dtype_as_cell_by_cell_does():
    """_contact_columns converts column by column (3x faster on 1,000 rows); what the journal
    stores must be what the cell-by-cell rule gives, nullable and numpy dtypes alike."""
    import json

    from targetsms_analytics.campaign import _contact_columns

    frame = pd.DataFrame({
        "phone": ["1", "2", "3"],
        "i": [1, 2, 3], "u8": np.array([1, 2, 3], dtype=np.uint8), "b": [True, False, True],
        "f": [1.0, np.nan, 2.5], "f32": np.array([1.5, np.nan, 2], dtype=np.float32),
        "o": ["a", None, np.nan],
        "I": pd.array([1, None, 3], dtype="Int64"), "F": pd.array([1.5, None, 3], dtype="Float64"),
        "B": pd.array([True, None, False], dtype="boolean"),
        "s": pd.array(["x", None, "z"], dtype="string"), "c": pd.Categorical(["u", None, "u"]),
        "dt": pd.to_datetime(["2020-01-01", None, "2021-01-01"]),
        "dtz": pd.to_datetime(["2020-01-01", None, "2021-01-01"]).tz_localize("UTC"),
        "td": pd.to_timedelta([1, None, 3], unit="s"),
    })  # fmt: skip
    got = _contact_columns(frame, "phone", [2, 0, 1])
    assert json.dumps(got) == json.dumps(_cell_by_cell(frame, "phone", [2, 0, 1]))
    assert got[2]["I"] is None and got[2]["f"] is None and got[0]["u8"] == 3


@given(
    st.lists(
        st.tuples(
            st.integers(-(2**40), 2**40),
            st.floats(allow_infinity=False),
            st.one_of(st.none(), st.text(max_size=5)),
        ),
        min_size=1,
        max_size=20,
    ),
    st.randoms(),
)
def test_contact_columns_match_the_cell_by_cell_rule(rows, rnd):
    import json

    from targetsms_analytics.campaign import _contact_columns

    frame = pd.DataFrame(rows, columns=["n", "x", "name"])
    frame.insert(0, "phone", [str(k) for k in range(len(rows))])
    positions = list(range(len(rows)))
    rnd.shuffle(positions)
    got = _contact_columns(frame, "phone", positions)
    assert json.dumps(got) == json.dumps(_cell_by_cell(frame, "phone", positions))


def test_the_journal_keeps_each_rows_other_columns_as_their_json(tmp_path, emulator, client):
    """send_campaign hands the journal the contact columns encoded already (column by column):
    the stored text is what encoding each row's dict gives, and reads back as that dict."""
    from targetsms_analytics.campaign import _contact_columns
    from targetsms_analytics.store._common import json_or_none

    contacts = pd.DataFrame({
        "phone": ["79161234501", "79161234502", "79161234503"],
        "name": ["Анна", 'О"лег', None], "code": [1, 2, 3], "score": [1.5, np.nan, 2.0],
        "vip": [True, False, True], "since": pd.to_datetime(["2020-01-01", None, "2021-06-01"]),
    })  # fmt: skip
    store = tmp_path / "j.sqlite"
    result = send_campaign(client, contacts, "Hi {code}", "SHOP", campaign="c", store=store,
                           progress=False)  # fmt: skip
    assert (result["outcome"] == "sent").all()
    expected = _contact_columns(contacts, "phone", [0, 1, 2])
    with Journal(store) as journal:
        stored = dict(journal._query("SELECT msisdn, contact FROM messages"))
        records = journal.records("c")
    for phone, row in zip(contacts["phone"], expected, strict=True):
        assert stored[phone] == json_or_none(row)
        assert records[phone]["contact"] == row


def test_contact_columns_with_a_repeated_column_name_keep_the_last():
    """A frame may repeat a column name (selecting by name would give each twice)."""
    from targetsms_analytics.campaign import _contact_columns

    frame = pd.DataFrame([["1", "a", 2.0], ["2", "b", np.nan]], columns=["phone", "x", "x"])
    assert _contact_columns(frame, "phone", [1, 0]) == [{"x": None}, {"x": 2.0}]
    assert _contact_columns(frame, "phone", [1, 0]) == _cell_by_cell(frame, "phone", [1, 0])


def test_waiting_for_another_senders_requests_says_whom_it_waits_for(tmp_path, caplog):
    """Review (a new user): a sender paused mid-request (Ctrl-Z) left the other waiting in
    silence for minutes. After a few seconds the wait is logged once, naming the sender (host,
    pid) and what ends it; it ends when that sender's answer is journaled."""
    import logging
    import socket

    from targetsms_analytics import campaign as campaign_mod
    from targetsms_analytics.store import account_of

    url = "http://127.0.0.1:9/sendsms.php"
    account = account_of("demo", url)
    store = tmp_path / "j.sqlite3"
    with ts.Journal(store) as journal, ts.Journal(store) as other:
        token = other.begin_run("c", account=account)  # (alive: this process, a run not ended)
        ticket = other.begin_batch("c", ["79001234567"], "Hi", 1, sender="SHOP", user="demo",
                                   url=url, token=token)  # fmt: skip
        clock = [0.0]

        def sleep(seconds: float) -> None:  # (no real waiting: the clock moves)
            clock[0] += seconds
            if clock[0] > campaign_mod._TELL_AFTER + 1:
                other.finish_batch(ticket.id, "sent", sms_ids=["7"], phones=ticket.phones)

        with caplog.at_level(logging.WARNING, logger="targetsms_analytics"):
            left = campaign_mod._settle(journal, "c", account, [("79001234567",)],
                                        sleep=sleep, clock=lambda: clock[0])  # fmt: skip
        other.end_run(token)
    said = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert left == [] and len(said) == 1
    assert f"{socket.gethostname()} pid {os.getpid()}" in said[0] and "Ctrl-C is safe" in said[0]


def test_a_campaign_sent_on_with_another_text_or_sender_is_warned_of(client, journal, caplog):
    """Review (a new user): ``spring`` sent again under the same name with another text and
    sender mixed both in one campaign without a word. It still sends (new recipients get the new
    text), and says so once; the same text again says nothing."""
    import logging

    first = pd.DataFrame({"phone": ["79161234567"]})
    later = pd.DataFrame({"phone": ["79161234567", "79161234568"]})
    with caplog.at_level(logging.WARNING, logger="targetsms_analytics"):
        send_campaign(client, first, "Hi", "SHOP", campaign="spring", store=journal,
                      progress=False)  # fmt: skip
        send_campaign(client, first, "Hi", "SHOP", campaign="spring", store=journal,
                      progress=False)  # fmt: skip
        assert not [r for r in caplog.records if "began with another" in r.getMessage()]
        result = send_campaign(client, later, "Bye", "TargetSMS", campaign="spring", store=journal,
                               progress=False)  # fmt: skip
    said = [r.getMessage() for r in caplog.records if "began with another" in r.getMessage()]
    assert len(said) == 1 and "another text and sender" in said[0]
    assert result["text"].tolist() == ["Hi", "Bye"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="targetsms_analytics"):  # (review)
        with pytest.raises(SenderError):  # refused: nobody was sent anything
            send_campaign(client, first, "Hi", "NOSUCHSNDR", campaign="autumn",
                          store=journal, progress=False)  # fmt: skip
        send_campaign(client, first, "Hi", "SHOP", campaign="autumn", store=journal,
                      progress=False)  # fmt: skip
        send_campaign(client, later, "Hi", "SHOP", campaign="autumn", store=journal,
                      progress=False)  # fmt: skip
    assert not [r for r in caplog.records if "began with another" in r.getMessage()]
    assert journal.campaign_info("autumn")["sender"] == "SHOP"  # (the refused one forgotten)
