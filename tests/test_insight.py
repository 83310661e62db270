"""compare, failure_report and reconcile: hand-built frames, and the emulator's ground truth."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import targetsms_analytics as ts
from targetsms_analytics import insight
from targetsms_analytics.errors import InputError
from targetsms_analytics.insight import (
    COMPARE_COLUMNS,
    RECONCILE_COLUMNS,
    compare,
    failure_report,
    reconcile,
)
from targetsms_analytics.stats import Z95

T0 = pd.Timestamp("2024-05-01 10:00", tz="UTC")


def two_variants(a=(90, 10), b=(80, 20), price=1.0) -> pd.DataFrame:
    rows = []
    for name, (ok, bad) in (("A", a), ("B", b)):
        rows += [(name, "deliver")] * ok + [(name, "expired")] * bad
    frame = pd.DataFrame(rows, columns=["variant", "state"])
    frame["num_parts"] = 1
    frame["price"] = price
    return frame


# ---------------------------------------------------------------- compare


def test_compare_against_hand_computed_difference_interval_and_p_value():
    result = compare(two_variants(), by="variant")
    assert list(result.columns) == ["variant", *COMPARE_COLUMNS]
    base, other = result.iloc[0], result.iloc[1]
    assert bool(base["baseline"]) and not bool(other["baseline"])
    assert base["diff"] == 0 and np.isnan(base["p_value"]) and np.isnan(base["diff_low"])
    assert other["diff"] == pytest.approx(-0.1)
    # unpooled se = √(0.16/100 + 0.09/100) = 0.05
    assert other["diff_low"] == pytest.approx(-0.1 - Z95 * 0.05)
    assert other["diff_high"] == pytest.approx(-0.1 + Z95 * 0.05)
    assert other["p_value"] == pytest.approx(0.04767, abs=1e-5)  # pooled z = 1.9803
    # cost per delivered: 100 / 90 vs 100 / 80
    assert other["cost_per_delivered_diff"] == pytest.approx(100 / 80 - 100 / 90)


def test_compare_with_a_named_baseline_and_several_keys():
    frame = two_variants()
    result = compare(frame, by="variant", baseline="B")
    assert result.loc[result["variant"] == "A", "diff"].item() == pytest.approx(0.1)
    frame["campaign"] = "x"
    result = compare(frame, by=["campaign", "variant"], baseline=("x", "B"))
    assert result["baseline"].tolist() == [False, True]


def test_compare_refuses_a_baseline_that_is_not_a_group():
    with pytest.raises(InputError) as info:
        compare(two_variants(), by="variant", baseline="C")
    assert info.value.code == "unknown_baseline" and "'A'" in info.value.text


def test_compare_of_an_empty_frame_a_single_group_and_a_group_without_final_states():
    empty = compare(pd.DataFrame({"campaign": [], "state": []}))
    assert empty.empty and list(empty.columns) == ["campaign", *COMPARE_COLUMNS]
    single = compare(two_variants(b=(0, 0)), by="variant")
    assert len(single) == 1 and bool(single["baseline"].iloc[0])
    pending = pd.DataFrame({"campaign": ["a", "a", "b"], "state": ["deliver", "expired", "send"]})
    row = compare(pending).iloc[1]
    assert np.isnan(row["delivery_rate"]) and np.isnan(row["p_value"]) and np.isnan(row["diff"])


# ---------------------------------------------------------------- failures


def test_failure_report_counts_failures_and_sorts_by_what_they_cost():
    frame = pd.DataFrame(
        {
            "operator": ["МТС", "МТС", "Билайн", "Билайн", "Билайн", "Т2"],
            "state": ["deliver", "not_deliver", "expired", "partly_deliver", None, "send"],
            "num_parts": [1, 1, 3, 1, 1, 1],
            "price": [1.0] * 6,
        }
    )
    report = failure_report(frame, by="operator")
    assert report["operator"].tolist() == ["Билайн", "МТС", "Т2"]
    row = report.iloc[0]
    assert (row["expired"], row["partly_deliver"], row["failed_fetch"]) == (1, 1, 1)
    assert row["failures"] == 3 and row["failure_rate"] == 1.0 and row["failed_cost"] == 5.0
    assert report["messages"].sum() == len(frame)
    total = failure_report(frame)
    assert total["failures"].item() == 4 and total["failure_rate"].item() == pytest.approx(4 / 6)


def test_failure_report_adds_refusals_at_send_time_by_error_code():
    statuses = pd.DataFrame({"state": ["deliver", "expired"], "num_parts": 1, "price": 1.0})
    result = pd.DataFrame(
        {
            "outcome": ["sent", "sent", "invalid", "invalid", "rejected", "duplicate"],
            "error_code": [
                None,
                None,
                "invalid_phone",
                "invalid_phone",
                "phone_stop_listed",
                "duplicate",
            ],
        }
    )
    row = failure_report(statuses, result=result).iloc[0]
    assert row["refused_invalid_phone"] == 2 and row["refused_phone_stop_listed"] == 1
    assert row["refused"] == 3 and "refused_duplicate" not in row.index


def test_failure_report_of_an_empty_frame():
    assert failure_report(pd.DataFrame({"campaign": [], "state": []}), by="campaign").empty
    assert failure_report(pd.DataFrame())["failures"].tolist() == [0]


def test_failure_counts_match_the_emulators_outcomes(tmp_path):
    outcomes = {"deliver": 0.4, "not_deliver": 0.2, "expired": 0.2, "partly_deliver": 0.2}
    phones = [f"7916{i:07d}" for i in range(40)] + [f"7903{i:07d}" for i in range(40)]
    contacts = pd.DataFrame({"phone": [*phones, "123", "79000000000"]})  # invalid, stop-listed
    with (
        ts.Emulator(throttle_interval=0.0, delivery_delay=(0, 0), outcomes=outcomes, seed=7) as emu,
        ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=0.0) as client,
    ):
        emu.add_account("demo", "demo", balance=1000.0)
        result = ts.send_campaign(
            client,
            contacts,
            "Привет",
            "SHOP",
            campaign="mix",
            store=tmp_path / "j.sqlite",
            progress=False,
        )
        statuses = ts.fetch_statuses(client, "mix", store=tmp_path / "j.sqlite", progress=False)
        truth = pd.Series([m.final_state for m in emu.messages.values()]).value_counts()
    report = failure_report(statuses, result=result).iloc[0]
    assert report["messages"] == 80
    for state in ("not_deliver", "expired", "partly_deliver"):
        assert report[state] == truth.get(state, 0)
    assert report["failures"] == 80 - truth["deliver"]
    assert report["refused"] == 2


# ---------------------------------------------------------------- reconciliation


def snaps(*amounts: float, step: str = "1h") -> pd.DataFrame:
    times = [T0 + i * pd.Timedelta(step) for i in range(len(amounts))]
    return pd.DataFrame({"taken_at": times, "amount": amounts, "currency": "RUR"})


def sent(minutes: list[float], parts: int = 1, price: float = 1.25) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sent_at": [T0 + pd.Timedelta(minutes=m) for m in minutes],
            "state": "deliver",
            "num_parts": parts,
            "price": price,
        }
    )


def test_reconcile_matches_cost_and_spend_and_reports_top_ups_not_negative_spend():
    statuses = sent([5, 10, 130])  # two in the first hour, one in the third
    result = reconcile(statuses, snaps(100.0, 97.5, 1097.5, 1096.25))
    assert list(result.columns) == list(RECONCILE_COLUMNS)
    row = result.iloc[0]
    assert row["messages"] == 3 and row["cost_by_statuses"] == 3.75
    assert row["spend_by_balance"] == 3.75 and row["top_ups"] == 1000.0
    assert row["difference"] == 0 and not row["mismatch"] and "top-up of 1000.00" in row["note"]


def test_a_top_up_between_the_same_two_snapshots_hides_spending_and_says_so():
    statuses = sent([5, 10, 70])  # the second hour's 1.25 nets with the top-up
    row = reconcile(statuses, snaps(100.0, 97.5, 1096.25)).iloc[0]
    assert row["spend_by_balance"] == 2.5 and row["top_ups"] == 998.75
    assert row["mismatch"] and "hides the spending" in row["note"]


def test_reconcile_flags_a_balance_that_fell_more_than_the_statuses_cost():
    result = reconcile(sent([5, 10]), snaps(100.0, 90.0))
    row = result.iloc[0]
    assert row["difference"] == 7.5 and row["mismatch"]
    assert "fell 7.50 more" in row["note"]


def test_reconcile_values_package_parts_and_expects_only_the_rest_from_money():
    packages = pd.DataFrame(
        {
            "taken_at": [T0, T0, T0 + pd.Timedelta("1h"), T0 + pd.Timedelta("1h")],
            "direction": ["Россия", "МТС", "Россия", "МТС"],
            "remaining": [3, 1, 0, 1],
        }
    )
    result = reconcile(sent([5, 10, 20, 30]), snaps(100.0, 98.75), packages)
    row = result.iloc[0]
    assert row["parts_from_packages"] == 3 and row["paid_from_packages"] == 3.75
    assert row["expected_spend"] == 1.25 and row["spend_by_balance"] == 1.25
    assert not row["mismatch"]


def test_reconcile_periods_follow_the_later_snapshot_and_unbracketed_sends_are_counted():
    statuses = sent([-30, 5, 60 * 24 + 5])  # before the first snapshot, day 1, day 2
    result = reconcile(statuses, snaps(100.0, 98.75, 97.5, step="1D"), freq="D")
    # the pairs (1 → 2 May] and (2 → 3 May] belong to 2 and 3 May; the early send to its own day
    assert result["period"].dt.day.tolist() == [1, 2, 3]
    assert str(result["period"].dt.tz) == "Europe/Moscow"
    assert result["unbracketed"].tolist() == [1, 0, 0]
    assert result["messages"].tolist() == [1, 1, 1]
    assert result["spend_by_balance"].isna().tolist() == [True, False, False]


def test_reconcile_with_no_or_one_snapshot_has_no_rows():
    for snapshots in (None, snaps(), snaps(100.0)):
        result = reconcile(sent([5]), snapshots)
        assert result.empty and list(result.columns) == list(RECONCILE_COLUMNS)


def test_reconcile_spend_on_the_emulator_with_a_top_up_between(tmp_path):
    store = tmp_path / "j.sqlite"
    prices = {k: 1.25 for k in ("МТС", "Мегафон", "BeeLine", "Tele2", "Yota", "Остальные")}
    contacts = pd.DataFrame({"phone": [f"7916{i:07d}" for i in range(12)]})
    with (
        ts.Emulator(throttle_interval=0.0, delivery_delay=(0, 0), prices=prices) as emu,
        ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=0.0) as client,
    ):
        emu.add_account("demo", "demo", balance=50.0, packages={"Россия": 4, "МТС": 2})
        ts.snapshot_balance(client, store=store)
        ts.send_campaign(
            client, contacts, "Привет", "SHOP", campaign="a", store=store, progress=False
        )
        ts.fetch_statuses(client, "a", store=store, progress=False)
        ts.snapshot_balance(client, store=store)
        emu.top_up("demo", 100.0)
        ts.snapshot_balance(client, store=store)
    result = ts.reconcile_spend(store)
    assert len(result) == 1
    row = result.iloc[0]
    assert row["messages"] == 12 and row["cost_by_statuses"] == 15.0
    assert row["parts_from_packages"] == 6 and row["paid_from_packages"] == 7.5
    assert row["spend_by_balance"] == 7.5 and row["expected_spend"] == 7.5
    assert row["top_ups"] == 100.0 and row["difference"] == 0 and not row["mismatch"]


def test_reconcile_spend_of_an_empty_journal_and_a_bad_frequency(tmp_path):
    assert ts.reconcile_spend(tmp_path / "empty.sqlite").empty
    with pytest.raises(InputError, match="frequency"):
        ts.reconcile_spend(tmp_path / "empty.sqlite", freq="fortnightly")


def test_docstring_examples_run():
    assert doctest.testmod(insight).failed == 0


def test_failure_report_does_not_count_queued_or_unknown_sends_as_refusals():
    # queued: waiting for money, not failed; unknown: the answer was lost, may be delivered
    statuses = pd.DataFrame({"state": ["deliver"], "num_parts": 1, "price": 1.0})
    result = pd.DataFrame(
        {
            "outcome": ["sent", "queued", "unknown", "invalid"],
            "error_code": [None, "insufficient_funds", "timeout", "invalid_phone"],
        }
    )
    row = failure_report(statuses, result=result).iloc[0]
    assert row["refused"] == 1 and row["refused_invalid_phone"] == 1
    assert "refused_insufficient_funds" not in row.index and "refused_timeout" not in row.index
    assert "refused_queued" not in row.index and "refused_unknown" not in row.index


@pytest.mark.parametrize("freq", ["MS", "ME", "0D", "-1D"])
def test_reconcile_spend_refuses_a_frequency_that_has_no_period(tmp_path, freq):
    with pytest.raises(InputError) as caught:
        ts.reconcile_spend(tmp_path / "empty.sqlite", freq=freq)
    assert caught.value.code == "bad_freq" and caught.value.field == "freq"


@pytest.mark.parametrize("by", [["hour", "hour"], "messages"])
def test_delivery_report_by_a_repeated_or_report_column_is_bad_grouping(by):
    statuses = pd.DataFrame({"state": ["deliver"], "num_parts": 1, "price": 1.0})
    with pytest.raises(InputError) as caught:
        ts.delivery_report(statuses, by=by)
    assert caught.value.code == "bad_grouping" and caught.value.field == "by"
