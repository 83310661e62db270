"""delivery_report, latency_seconds and the balance helpers, on hand-built frames and property tests."""

from __future__ import annotations

import datetime as dt
import doctest
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics import analytics
from targetsms_analytics.analytics import (
    REPORT_COLUMNS,
    delivery_report,
    latency_seconds,
    packages_frame,
    spend_between,
)

STATES = ["deliver", "not_deliver", "expired", "partly_deliver", "send"]
MSK = "Europe/Moscow"
T0 = pd.Timestamp("2024-05-01 12:00:00", tz="UTC")


def statuses(
    states: list[str | None],
    *,
    campaign: list[str | None] | None = None,
    latency: list[float | None] | None = None,
    num_parts: list[int | None] | None = None,
    price: float | list[float | None] = 2.0,
    **extra: list,
) -> pd.DataFrame:
    """A status frame shaped like fetch_statuses' output; ``latency`` in seconds after T0."""
    n = len(states)
    changed = [
        None if s == "send" or (latency is not None and latency[i] is None) else T0
        for i, s in enumerate(states)
    ]
    lat = latency if latency is not None else [1.0] * n
    changed_at = pd.Series(
        [
            pd.NaT if c is None else (c + pd.Timedelta(seconds=lat[i])).tz_convert(MSK)
            for i, c in enumerate(changed)
        ],
        dtype=f"datetime64[ns, {MSK}]",
    )
    parts = pd.array(num_parts if num_parts is not None else [1] * n, dtype="Int64")
    prices = pd.Series(price if isinstance(price, list) else [price] * n, dtype=float)
    frame = pd.DataFrame(
        {
            "sms_id": [str(1000 + i) for i in range(n)],
            "msisdn": [f"7916{i:07d}" for i in range(n)],
            "campaign": campaign if campaign is not None else ["c"] * n,
            "state": pd.Series(states, dtype=object),
            "is_final": [s not in (None, "send") for s in states],
            "changed_at": changed_at,
            "num_parts": parts,
            "price": prices,
            "sent_at": pd.Series([T0] * n, dtype="datetime64[ns, UTC]"),
            "error_code": [None if s is not None else "transport" for s in states],
        }
    )
    frame["cost"] = frame["num_parts"].astype(float) * frame["price"]
    for name, values in extra.items():
        frame[name] = values
    return frame


# ---------------------------------------------------------------- shape


def test_report_has_by_columns_first_then_report_columns_with_a_range_index():
    report = delivery_report(statuses(["deliver", "send"]), by="campaign")
    assert list(report.columns) == ["campaign", *REPORT_COLUMNS]
    assert isinstance(report.index, pd.RangeIndex)
    assert report.loc[0, "campaign"] == "c"


def test_counts_and_parts_are_int64_and_ratios_float():
    report = delivery_report(statuses(["deliver", "send", None]))
    for column in ("messages", *STATES, "failed_fetch", "final"):
        assert report[column].dtype == np.int64, column
    assert report["parts"].dtype == np.int64
    assert report.iloc[0].dtype == np.float64  # a row stays plain floats: NaN, never pd.NA
    for column in ("delivery_rate", "pending_share", "cost", "cost_per_delivered"):
        assert report[column].dtype == np.float64, column


def test_by_none_gives_one_total_row_without_key_columns():
    report = delivery_report(statuses(["deliver", "expired", "send"], campaign=["a", "b", "c"]))
    assert len(report) == 1
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert report.loc[0, "messages"] == 3


def test_all_five_state_columns_even_when_absent_from_the_data():
    report = delivery_report(statuses(["deliver"]))
    assert report.loc[
        0, ["deliver", "not_deliver", "expired", "partly_deliver", "send"]
    ].tolist() == [
        1,
        0,
        0,
        0,
        0,
    ]


# ---------------------------------------------------------------- math


def test_rates_cost_and_cost_per_delivered():
    frame = statuses(
        ["deliver", "deliver", "not_deliver", "expired", "send"],
        num_parts=[1, 2, 1, 1, 3],
        price=2.5,
    )
    row = delivery_report(frame).iloc[0]
    assert row["messages"] == 5
    assert row["final"] == 4
    assert row["delivery_rate"] == 0.5
    assert row["pending_share"] == 0.2
    assert row["parts"] == 8
    assert row["cost"] == 20.0
    # over final messages only: (1 + 2 + 1 + 1) parts × 2.5 / 2 delivered; the pending 3 parts
    # would make it 10.0 and let it fall as they turn final
    assert row["cost_per_delivered"] == 6.25


def test_cost_is_filled_from_parts_times_price_where_missing():
    frame = statuses(["deliver", "deliver"], num_parts=[2, 3], price=[1.5, 2.0])
    frame.loc[1, "cost"] = np.nan
    assert delivery_report(frame).loc[0, "cost"] == 3.0 + 6.0
    assert delivery_report(frame.drop(columns="cost")).loc[0, "cost"] == 9.0


def test_unknown_parts_count_zero_and_unknown_cost_is_nan_not_free():
    frame = statuses(["send", "deliver"], num_parts=[None, None], price=[None, None])
    row = delivery_report(frame).iloc[0]
    assert row["parts"] == 0
    assert np.isnan(row["cost"]) and np.isnan(row["cost_per_delivered"])
    report = delivery_report(frame[["sms_id", "state"]])
    assert report.loc[0, "parts"] == 0 and np.isnan(report.loc[0, "cost"])


def test_latency_percentiles_interpolate_linearly_like_numpy():
    frame = statuses(["deliver", "expired", "not_deliver", "deliver"], latency=[40, 10, 30, 20])
    row = delivery_report(frame).iloc[0]
    assert row["latency_p50_s"] == 25.0
    assert row["latency_p90_s"] == 37.0
    assert row["latency_p90_s"] == np.percentile([10, 20, 30, 40], 90)


def test_latency_of_a_single_message_is_both_percentiles():
    row = delivery_report(statuses(["deliver"], latency=[7.5])).iloc[0]
    assert (row["latency_p50_s"], row["latency_p90_s"]) == (7.5, 7.5)


def test_latency_counts_only_final_rows_with_both_times():
    frame = statuses(["deliver", "deliver", "send", "expired"], latency=[10, None, None, 30])
    frame.loc[3, "sent_at"] = pd.NaT
    assert latency_seconds(frame).tolist()[0] == 10.0
    assert np.isnan(latency_seconds(frame).iloc[1:]).all()
    row = delivery_report(frame).iloc[0]
    assert row["latency_p50_s"] == 10.0 and row["latency_p90_s"] == 10.0


def test_latency_compares_instants_across_time_zones():
    frame = pd.DataFrame(
        {
            "state": ["deliver"],
            "sent_at": [pd.Timestamp("2024-05-01 09:00:00", tz="UTC")],
            "changed_at": [pd.Timestamp("2024-05-01 12:00:05", tz=MSK)],
        }
    )
    assert latency_seconds(frame).tolist() == [5.0]


def test_naive_timestamps_are_read_as_moscow_time():
    frame = pd.DataFrame(
        {
            "state": ["deliver"],
            "sent_at": [pd.Timestamp("2024-05-01 09:00:00", tz="UTC")],
            "changed_at": [pd.Timestamp("2024-05-01 12:01:00")],
        }
    )
    assert latency_seconds(frame).tolist() == [60.0]


def test_latency_seconds_keeps_the_index_and_is_nan_without_time_columns():
    frame = statuses(["deliver", "deliver"], latency=[3, 4]).set_index("sms_id")
    seconds = latency_seconds(frame)
    assert seconds.name == "latency_s"
    assert seconds.index.equals(frame.index)
    assert np.isnan(latency_seconds(frame.drop(columns="sent_at"))).all()


def test_latency_accepts_text_timestamps_with_mixed_offsets():
    frame = pd.DataFrame(
        {
            "state": ["deliver", "deliver"],
            "sent_at": ["2024-05-01T09:00:00+00:00", "2024-05-01T12:00:00+03:00"],
            "changed_at": ["2024-05-01T12:00:10+03:00", "2024-05-01T09:00:20+00:00"],
        }
    )
    assert latency_seconds(frame).tolist() == [10.0, 20.0]


# ---------------------------------------------------------------- edges


def test_empty_frame_gives_a_total_row_of_zeros_and_nan():
    for frame in (pd.DataFrame(), statuses([]).iloc[:0]):
        row = delivery_report(frame).iloc[0]
        assert row["messages"] == 0 and row["final"] == 0
        for column in ("delivery_rate", "pending_share", "cost_per_delivered", "latency_p50_s"):
            assert np.isnan(row[column]), column


def test_empty_frame_by_a_column_gives_no_rows_but_every_column():
    for by in ("campaign", ["campaign", "sender"], "date", "operator"):
        report = delivery_report(pd.DataFrame(), by=by)
        keys = [by] if isinstance(by, str) else by
        assert report.empty
        assert list(report.columns) == [*keys, *REPORT_COLUMNS]


def test_all_pending_group_gives_nan_rates_not_errors():
    frame = statuses(["send", "send", "deliver"], campaign=["wait", "wait", "done"])
    report = delivery_report(frame, by="campaign").set_index("campaign")
    assert report.loc["wait", "final"] == 0
    assert report.loc["wait", "pending_share"] == 1.0
    for column in ("delivery_rate", "cost_per_delivered", "latency_p50_s", "latency_p90_s"):
        assert np.isnan(report.loc["wait", column]), column
    assert report.loc["done", "delivery_rate"] == 1.0


def test_missing_states_count_as_failed_fetch():
    frame = statuses(["deliver", None, np.nan, "send"])
    row = delivery_report(frame).iloc[0]
    assert row["failed_fetch"] == 2
    assert row["messages"] == 4
    assert row["final"] == 1
    assert row["delivery_rate"] == 1.0


def test_states_match_ignoring_case_and_blanks_and_unknown_ones_are_failed_fetch():
    frame = pd.DataFrame({"state": [" DELIVER", "Expired", "bogus"]})
    row = delivery_report(frame).iloc[0]
    assert (row["deliver"], row["expired"], row["failed_fetch"]) == (1, 1, 1)


def test_categorical_states_and_keys():
    frame = statuses(["deliver", "send", "deliver"], campaign=["b", "a", "b"])
    frame["state"] = frame["state"].astype("category")
    frame["campaign"] = pd.Categorical(frame["campaign"], categories=["a", "b", "unused"])
    report = delivery_report(frame, by="campaign")
    assert report["campaign"].tolist() == ["a", "b"]
    assert report["deliver"].tolist() == [0, 2]


def test_a_missing_key_is_a_group_of_its_own():
    frame = statuses(["deliver", "send", "expired"], campaign=["a", None, None])
    report = delivery_report(frame, by="campaign")
    assert report["messages"].tolist() == [1, 2]
    assert report["campaign"].iloc[0] == "a"
    assert pd.isna(report["campaign"].iloc[1])


def test_groups_are_sorted_by_key():
    frame = statuses(["deliver"] * 3, campaign=["Осень", "Весна", "Лето"])
    assert delivery_report(frame, by="campaign")["campaign"].tolist() == ["Весна", "Лето", "Осень"]


def test_list_by_groups_on_every_combination_present():
    frame = statuses(
        ["deliver", "expired", "deliver", "send"],
        campaign=["a", "a", "b", "a"],
        sender=["SHOP", "INFO", "SHOP", "SHOP"],
    )
    report = delivery_report(frame, by=["campaign", "sender"])
    assert report[["campaign", "sender"]].values.tolist() == [
        ["a", "INFO"],
        ["a", "SHOP"],
        ["b", "SHOP"],
    ]
    assert report["messages"].tolist() == [1, 2, 1]
    assert report["delivery_rate"].tolist() == [0.0, 1.0, 1.0]


def test_unknown_by_column_raises_key_error_and_report_names_are_refused():
    with pytest.raises(KeyError, match="nope"):
        delivery_report(statuses(["deliver"]), by="nope")
    with pytest.raises(ValueError, match="messages"):
        delivery_report(statuses(["deliver"]), by="messages")
    with pytest.raises(ValueError, match="repeated"):
        delivery_report(statuses(["deliver"]), by=["campaign", "campaign"])


# ---------------------------------------------------------------- derived keys


def test_date_is_the_moscow_day_of_sent_at_across_midnight_utc():
    sent = pd.to_datetime(
        ["2024-05-01 20:59:59", "2024-05-01 21:00:00", "2024-05-01 23:30:00"], utc=True
    )
    frame = pd.DataFrame({"state": ["deliver", "deliver", "expired"], "sent_at": sent})
    report = delivery_report(frame, by="date")
    assert report["date"].tolist() == [dt.date(2024, 5, 1), dt.date(2024, 5, 2)]
    assert report["messages"].tolist() == [1, 2]


def test_date_falls_back_to_changed_at_then_is_missing():
    frame = pd.DataFrame(
        {
            "state": ["deliver", "deliver", "send"],
            "sent_at": pd.to_datetime(["2024-05-01 10:00", None, None], utc=True),
            "changed_at": pd.to_datetime(
                ["2024-05-01 13:00", "2024-05-03 00:10", None]
            ).tz_localize(MSK),
        }
    )
    report = delivery_report(frame, by="date")
    assert report["date"].tolist()[:2] == [dt.date(2024, 5, 1), dt.date(2024, 5, 3)]
    assert report["date"].iloc[2] is None
    assert report["messages"].sum() == 3


def test_date_needs_a_time_column():
    with pytest.raises(KeyError, match="sent_at"):
        delivery_report(pd.DataFrame({"state": ["deliver"]}), by="date")


def test_an_existing_date_column_is_used_as_it_is():
    frame = statuses(["deliver", "send"], date=["2024-01-01", "2024-01-02"])
    assert delivery_report(frame, by="date")["date"].tolist() == ["2024-01-01", "2024-01-02"]


def test_operator_comes_from_the_numbering_plan_and_no_number_is_nan():
    frame = pd.DataFrame(
        {
            "msisdn": ["79161111111", "79031111111", "79161111111", None, "79162222222", ""],
            "state": ["deliver", "expired", "deliver", None, "send", None],
        }
    )
    report = delivery_report(frame, by="operator")
    assert report["operator"].tolist()[:2] == ["Билайн", "МТС"]
    assert pd.isna(report["operator"].iloc[2]) and len(report) == 3  # no unused brand listed
    assert report["messages"].tolist() == [1, 3, 2]
    assert report["deliver"].tolist() == [0, 2, 0]
    numeric = frame.iloc[:3].assign(msisdn=[79161111111, 79031111111, 79161111111])
    assert delivery_report(numeric, by="operator")["operator"].tolist() == ["Билайн", "МТС"]


def test_an_existing_operator_column_is_used_without_phones(monkeypatch):
    monkeypatch.setitem(sys.modules, "targetsms_analytics.phones", None)  # import would fail
    frame = statuses(["deliver", "send"], operator=["Tele2", "Tele2"])
    assert delivery_report(frame, by="operator")["operator"].tolist() == ["Tele2"]


def test_operator_without_msisdn_raises_key_error():
    with pytest.raises(KeyError, match="msisdn"):
        delivery_report(pd.DataFrame({"state": ["deliver"]}), by="operator")


def test_operator_from_real_carrier_data():
    phones = pytest.importorskip("targetsms_analytics.phones")
    numbers = pd.Series(["79161234567", "79031234567", "79261234567", "70000000000"])
    expected = phones.operators(numbers)
    frame = pd.DataFrame({"msisdn": numbers, "state": ["deliver", "expired", "deliver", "send"]})
    report = delivery_report(frame, by="operator")
    assert report["messages"].sum() == 4
    assert set(report["operator"]) == set(expected)
    by_name = report.set_index("operator")["messages"]
    for name, count in expected.value_counts().items():
        assert by_name[name] == count


# ---------------------------------------------------------------- properties

state_values = st.sampled_from([*STATES, None])
rows = st.lists(
    st.tuples(
        state_values,
        st.sampled_from(["a", "b", "Весна", None]),
        st.sampled_from(["S1", "S2"]),
        st.one_of(st.none(), st.integers(1, 5)),
        st.one_of(st.none(), st.floats(0, 10, allow_nan=False)),
        st.one_of(st.none(), st.integers(0, 86_400 * 3)),
    ),
    max_size=40,
)


def frame_from(data: list[tuple]) -> pd.DataFrame:
    sent = pd.Timestamp("2024-05-01 20:00", tz="UTC")
    return pd.DataFrame(
        {
            "state": pd.Series([r[0] for r in data], dtype=object),
            "campaign": pd.Series([r[1] for r in data], dtype=object),
            "sender": [r[2] for r in data],
            "num_parts": pd.array([r[3] for r in data], dtype="Int64"),
            "price": pd.Series([r[4] for r in data], dtype=float),
            "sent_at": pd.Series([sent] * len(data), dtype="datetime64[ns, UTC]"),
            "changed_at": pd.Series(
                [
                    pd.NaT if r[5] is None else (sent + pd.Timedelta(seconds=r[5])).tz_convert(MSK)
                    for r in data
                ],
                dtype=f"datetime64[ns, {MSK}]",
            ),
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.sampled_from([None, "campaign", ["campaign", "sender"], "date", ["sender"]]))
def test_counts_add_up_for_any_frame_and_grouping(data, by):
    frame = frame_from(data)
    report = delivery_report(frame, by=by)
    assert report["messages"].sum() == len(frame)
    assert (report[[*STATES, "failed_fetch"]].sum(axis=1) == report["messages"]).all()
    assert (report["final"] == report[STATES[:4]].sum(axis=1)).all()
    rate = report["delivery_rate"]
    assert ((rate >= 0) & (rate <= 1) | rate.isna()).all()
    assert (rate.isna() == (report["final"] == 0)).all()
    p50, p90 = report["latency_p50_s"], report["latency_p90_s"]
    assert ((p50 <= p90) | (p50.isna() & p90.isna())).all()
    keys = [] if by is None else [by] if isinstance(by, str) else by
    assert not report[keys].duplicated().any() if keys else len(report) == 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_report_by_campaign_equals_a_row_by_row_reference(data):
    frame = frame_from(data)
    report = delivery_report(frame, by="campaign")
    latency = latency_seconds(frame)
    for i, row in report.iterrows():
        key = row["campaign"]
        part = frame[frame["campaign"].isna()] if pd.isna(key) else frame[frame["campaign"] == key]
        assert row["messages"] == len(part), i
        for state in STATES:
            assert row[state] == (part["state"] == state).sum()
        cost = part["num_parts"].astype(float) * part["price"]
        if cost.notna().any():
            assert row["cost"] == pytest.approx(cost.sum())
        else:
            assert np.isnan(row["cost"])
        lat = latency[part.index].dropna().to_numpy()
        if len(lat):
            assert row["latency_p50_s"] == np.percentile(lat, 50)
            assert row["latency_p90_s"] == np.percentile(lat, 90)
        else:
            assert np.isnan(row["latency_p50_s"])
        delivered = (part["state"] == "deliver").sum()
        final_cost = cost[part["state"].isin(STATES[:4])]
        if delivered and final_cost.notna().any():
            assert row["cost_per_delivered"] == pytest.approx(final_cost.sum() / delivered)
        if lat.size:
            assert row["latency_p99_s"] == np.percentile(lat, 99)
        low, high = row["delivery_rate_low"], row["delivery_rate_high"]
        if row["final"]:
            assert 0 <= low <= row["delivery_rate"] <= high <= 1
        else:
            assert np.isnan(low) and np.isnan(high)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50),
    st.integers(1, 4),
    st.sampled_from([20_000, 0]),  # the per-group sort, and lexsort past the threshold
)
def test_group_percentiles_equal_numpy_bit_for_bit(values, ngroups, threshold):
    codes = np.arange(len(values)) % ngroups
    arr = np.array(values)
    saved = analytics._SEGMENT_SORT_GROUPS
    analytics._SEGMENT_SORT_GROUPS = threshold
    try:
        p50, p90 = analytics._group_quantiles(codes, arr, ngroups, (0.5, 0.9))
    finally:
        analytics._SEGMENT_SORT_GROUPS = saved
    for g in range(ngroups):
        chunk = arr[codes == g]
        if len(chunk):
            assert p50[g] == np.percentile(chunk, 50)
            assert p90[g] == np.percentile(chunk, 90)
        else:
            assert np.isnan(p50[g])


# ---------------------------------------------------------------- speed


@pytest.mark.slow
def test_a_quarter_million_rows_by_campaign_and_date_add_up():
    # Only correctness at scale here; the speed (1M rows in 2 s) is measured, never asserted, by
    # benchmarks/bench_report.py: a timed assert fails on a busy machine.
    n = 250_000
    rng = np.random.default_rng(0)
    states = np.array(STATES, dtype=object)
    sent = T0 + pd.to_timedelta(rng.integers(0, 86_400 * 7, n), unit="s")
    frame = pd.DataFrame(
        {
            "campaign": pd.array(
                np.array([f"Акция {i}" for i in range(40)], dtype=object)[rng.integers(0, 40, n)],
                dtype="str",
            ),
            "state": states[rng.integers(0, 5, n)],
            "sent_at": sent,
            "changed_at": (sent + pd.to_timedelta(rng.integers(1, 600, n), unit="s")).tz_convert(
                MSK
            ),
            "num_parts": rng.integers(1, 4, n),
            "price": 3.2,
        }
    )
    for by in ("campaign", "date"):
        report = delivery_report(frame, by=by)
        assert report["messages"].sum() == n


# ---------------------------------------------------------------- balance


def test_packages_frame_from_a_balance_largest_first_and_catch_all_last():
    balance = ts.parse_balance("445.6 RUR\nОстальные:50,МТС:3,Россия:361,Yota:3,BeeLine:7")
    frame = packages_frame(balance)
    assert list(frame.columns) == ["direction", "remaining"]
    # directions are named as lookup_numbers names operators (BeeLine -> Билайн, Yota -> Скартел)
    assert frame["direction"].tolist() == ["Россия", "Билайн", "МТС", "Скартел", "Остальные"]
    assert frame["remaining"].dtype == np.int64


def test_packages_frame_from_a_frame_sums_repeated_directions_and_handles_empty():
    raw = pd.DataFrame({"direction": ["МТС ", "MTS", "Tele2"], "remaining": ["2", 3, None]})
    frame = packages_frame(raw)
    assert frame.values.tolist() == [["МТС", 5], ["Т2", 0]]  # one name per operator, summed
    for empty in (pd.DataFrame(), None, types.SimpleNamespace(packages=None)):
        out = packages_frame(empty)
        assert out.empty and list(out.columns) == ["direction", "remaining"]


def snapshots(amounts: list[float], currency: str | list[str] = "RUR") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "taken_at": pd.date_range("2024-05-01 10:00", periods=len(amounts), freq="D", tz=MSK),
            "amount": amounts,
            "currency": currency,
        }
    )


def test_spend_between_splits_falls_into_spent_and_rises_into_topped_up():
    moves = spend_between(snapshots([500.0, 420.5, 1420.5, 1420.5]))
    assert list(moves.columns) == [
        "from",
        "to",
        "currency",
        "amount_before",
        "amount_after",
        "spent",
        "topped_up",
    ]
    assert moves["spent"].tolist() == [79.5, 0.0, 0.0]
    assert moves["topped_up"].tolist() == [0.0, 1000.0, 0.0]
    assert moves["from"].iloc[1] == moves["to"].iloc[0]
    assert moves["from"].dtype == pd.DatetimeTZDtype(unit=moves["from"].dtype.unit, tz=MSK)


def test_spend_between_sorts_by_time_first():
    frame = snapshots([300.0, 200.0, 100.0]).iloc[::-1]
    moves = spend_between(frame)
    assert moves["amount_before"].tolist() == [300.0, 200.0]
    assert moves["spent"].tolist() == [100.0, 100.0]


def test_spend_between_gives_nan_across_a_currency_change():
    moves = spend_between(snapshots([100.0, 5.0, 4.0], currency=["RUR", "USD", "USD"]))
    assert np.isnan(moves.loc[0, "spent"]) and np.isnan(moves.loc[0, "topped_up"])
    assert moves.loc[1, "spent"] == 1.0 and moves.loc[1, "currency"] == "USD"


def test_spend_between_needs_two_snapshots():
    for frame in (snapshots([]), snapshots([100.0])):
        assert spend_between(frame).empty
        assert "spent" in spend_between(frame).columns


# ---------------------------------------------------------------- docs and imports


@pytest.mark.parametrize("module", ["targetsms_analytics.analytics", "targetsms_analytics.plots"])
def test_docstring_examples_run(module):
    mod = __import__(module, fromlist=["_"])
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_functions_have_docstrings_with_an_example():
    from targetsms_analytics import plots

    for module in (analytics, plots):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                assert obj.__doc__ and "Example" in obj.__doc__, name


def test_importing_the_package_and_the_plots_module_does_not_import_matplotlib():
    code = (
        "import sys, targetsms_analytics, targetsms_analytics.analytics, targetsms_analytics.plots;"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
