"""Derived groupings: region, time zone, local hour, variant, contact columns; counts add up."""

from __future__ import annotations

import doctest
import sys
import types

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics import groupings
from targetsms_analytics.analytics import delivery_report
from targetsms_analytics.groupings import local_hour

ZONES = {"7914": ("Приморский край", "Asia/Vladivostok"), "7916": ("Москва", "Europe/Moscow")}


@pytest.fixture
def numbering(monkeypatch):
    """A stand-in numbering plan: region and zone from the first four digits; counts its calls."""
    calls: list[list[str]] = []

    def lookup_numbers(msisdns):
        msisdns = [str(m) for m in msisdns]
        calls.append(msisdns)
        found = [ZONES.get(m[:4], (None, None)) for m in msisdns]
        return pd.DataFrame(
            {
                "msisdn": msisdns,
                "operator": ["МТС"] * len(msisdns),
                "region": [f[0] for f in found],
                "time_zone": [f[1] for f in found],
            }
        )

    def lookup_categorical(values, field):
        return pd.Categorical(lookup_numbers(values)[field])

    module = types.ModuleType("targetsms_analytics.numbering")
    module.lookup_numbers = lookup_numbers
    module.lookup_categorical = lookup_categorical
    monkeypatch.setitem(sys.modules, "targetsms_analytics.numbering", module)
    return calls


def frame(n: int = 6) -> pd.DataFrame:
    sent = pd.Timestamp("2024-05-01 12:30", tz="UTC")  # 22:30 in Vladivostok, 15:30 in Moscow
    return pd.DataFrame(
        {
            "msisdn": ["79141234567", "79161234567", "79141234567", "", None, "79031234567"][:n],
            "state": ["deliver", "expired", "deliver", "send", "not_deliver", "deliver"][:n],
            "sent_at": [sent] * n,
            "segment": ["vip", "vip", "new", None, "new", "new"][:n],
        }
    )


def test_region_and_time_zone_come_from_the_numbering_plan(numbering):
    report = delivery_report(frame(), by="region")
    assert report["messages"].sum() == 6
    by_region = dict(zip(report["region"].astype(object), report["messages"], strict=True))
    assert by_region["Приморский край"] == 2 and by_region["Москва"] == 1
    assert sum(v for k, v in by_region.items() if pd.isna(k)) == 3  # blank, missing, unknown
    assert len(numbering) == 1  # one vectorized lookup for the whole frame


def test_hour_is_the_local_hour_in_the_recipients_zone_moscow_when_unknown(numbering):
    hours = local_hour(frame())
    assert hours.tolist() == [22, 15, 22, 15, 15, 15]
    assert str(hours.dtype) == "Int64"


def test_hour_uses_an_existing_time_zone_column_and_is_na_without_sent_at():
    data = pd.DataFrame(
        {
            "sent_at": [pd.Timestamp("2024-05-01 21:30", tz="UTC"), pd.NaT],
            "time_zone": ["Europe/Kaliningrad", "Asia/Tokyo"],
        }
    )
    assert local_hour(data).tolist() == [23, pd.NA]
    with pytest.raises(KeyError, match="sent_at"):
        local_hour(pd.DataFrame({"state": ["deliver"]}))


def test_an_unknown_zone_name_falls_back_to_moscow():
    data = pd.DataFrame(
        {"sent_at": [pd.Timestamp("2024-05-01 09:00", tz="UTC")], "time_zone": ["Mars/Olympus"]}
    )
    assert local_hour(data).tolist() == [12]


def test_variant_absent_is_one_group_and_present_is_used():
    data = frame()
    assert delivery_report(data, by="variant")["messages"].tolist() == [6]
    data["variant"] = ["A", "B", "A", "B", "A", "B"]
    report = delivery_report(data, by="variant")
    assert report["variant"].tolist() == ["A", "B"] and report["messages"].tolist() == [3, 3]


def test_report_by_a_contact_column_and_a_list_of_keys(numbering):
    data = frame()
    report = delivery_report(data, by=["segment", "hour"])
    assert report["messages"].sum() == len(data)
    assert set(report.columns[:2]) == {"segment", "hour"}
    with pytest.raises(KeyError, match="city"):
        delivery_report(data, by="city")


def test_region_and_zone_from_the_real_numbering_plan():
    data = pd.DataFrame(
        {
            "msisdn": ["79161234567", "79221234567", "74951234567"],
            "sent_at": [pd.Timestamp("2024-05-01 12:30", tz="UTC")] * 3,
        }
    )
    zones = delivery_report(data, by="time_zone")
    assert set(zones["time_zone"].dropna()) == {"Europe/Moscow", "Asia/Yekaterinburg"}
    assert local_hour(data).tolist() == [15, 17, 15]  # Yekaterinburg is UTC+5


keys = st.sampled_from(["region", "time_zone", "hour", "variant", "segment", ["segment", "hour"]])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["79141234567", "79161234567", "79031234567", "", None]),
            st.sampled_from(["deliver", "expired", "send", None]),
            st.one_of(st.none(), st.integers(0, 3 * 86_400)),
            st.sampled_from(["a", "b", None]),
        ),
        max_size=25,
    ),
    keys,
)
def test_every_new_grouping_adds_up_to_the_number_of_rows(rows, by):
    data = pd.DataFrame(
        {
            "msisdn": [r[0] for r in rows],
            "state": [r[1] for r in rows],
            "sent_at": pd.Series(
                [
                    pd.NaT
                    if r[2] is None
                    else pd.Timestamp("2024-05-01", tz="UTC") + pd.Timedelta(seconds=r[2])
                    for r in rows
                ],
                dtype="datetime64[ns, UTC]",
            ),
            "segment": [r[3] for r in rows],
        }
    )
    report = delivery_report(data, by=by)
    assert report["messages"].sum() == len(data)
    assert np.all(
        report[["deliver", "expired", "send", "failed_fetch"]].sum(axis=1) <= report["messages"]
    )


def test_docstring_examples_run():
    assert doctest.testmod(groupings).failed == 0
