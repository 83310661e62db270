"""reports.py: one vocabulary, the headline, plain-words alerts, and the report's sections."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from targetsms_analytics import reports
from targetsms_analytics.reports import (
    GLOSSARY,
    build_report,
    display_frame,
    headline,
    money,
)

T0 = pd.Timestamp("2024-05-01 09:00", tz="UTC")  # 12:00 in Moscow


def frame(n_day: int = 40, n_night: int = 40, night_expired: int = 8, day_expired: int = 2):
    """Moscow numbers: ``n_day`` sent at 12:00 MSK, ``n_night`` at 23:00 MSK."""
    rows = []
    for i in range(n_day):
        rows.append((T0, "expired" if i < day_expired else "deliver"))
    for i in range(n_night):
        rows.append((T0 + pd.Timedelta(hours=11), "expired" if i < night_expired else "deliver"))
    data = pd.DataFrame(rows, columns=["sent_at", "state"])
    data["msisdn"] = [f"7916{i:07d}" for i in range(len(data))]
    data["num_parts"] = 1
    data["price"] = 1.25
    return data


def test_display_frame_speaks_one_vocabulary_with_units():
    raw = pd.DataFrame(
        {
            "deliver": [3],
            "send": [1],
            "delivery_rate": [0.75],
            "cost": [12.4],
            "diff": [-0.1],
            "p_value": [0.0004],
            "currency": ["RUR"],
            "taken_at": [pd.Timestamp("2024-05-01 09:00", tz="UTC")],
        }
    )
    shown = display_frame(raw)
    assert list(shown.columns) == [
        "delivered",
        "pending",
        "delivery rate",
        "cost, ₽",
        "difference, pp",
        "p-value",
        "currency",
        "taken at",
    ]
    assert shown.iloc[0].tolist() == [
        "3",
        "1",
        "75.0 %",
        "12.40",
        "-10.0",
        "< 0.001",
        "₽",
        "2024-05-01 12:00:00 MSK",  # UTC in the journal, Moscow time on the page
    ]


def test_money_has_one_sign():
    assert money(1234.5) == "1 234.50 ₽" and money(float("nan")) == "—"


def test_headline_has_the_rate_with_its_interval_and_spend():
    row = headline(frame(), spent=90.0, from_packages=10.0).iloc[0]
    assert row["sent"] == "80"
    assert row["delivered"].startswith("87.5 % (")
    assert row["failed"] == "10 (12.5 %)"
    assert row["spent from balance, ₽"] == "90.00"
    assert row["paid from packages (est.), ₽"] == "10.00"


def test_alerts_in_plain_words():
    notes = reports.alerts(frame(), snapshots=None)
    assert any(n.startswith("Expired share at night") and "20.0 % vs 5.0 %" in n for n in notes)
    assert any("spend cannot be checked" in n for n in notes)
    unknown = frame().assign(msisdn=["70000000000"] * 40 + [f"7916{i:07d}" for i in range(40)])
    assert "50 % of numbers have no known operator." in reports.alerts(unknown)
    result = pd.DataFrame(
        {
            "outcome": ["invalid"] * 3 + ["sent"],
            "error_code": ["template_value_missing"] * 2 + ["phone_invalid", None],
            "error_text": ["no value for {Имя}"] * 2 + ["not a valid phone number", None],
        }
    )
    notes = reports.alerts(frame(), result=result)
    assert "2 rows lost to an empty {Имя}." in notes
    assert "1 rows were not sent: phone_invalid 1." in notes


def test_no_night_alert_when_nights_are_no_worse():
    notes = reports.alerts(frame(night_expired=2))
    assert not any(n.startswith("Expired share") for n in notes)


def test_report_sections_and_figures_only_where_their_data_is():
    data = frame()
    data["variant"] = ["A", "B"] * 40
    report = build_report(data, by="operator")
    assert "Comparison by variant" in report.tables
    assert "Delivery rate by operator and local hour" in report.figures
    assert "Spend reconciled against the balance" not in report.tables
    page = report.html("Test")
    assert '<table class="headline">' in page and "Glossary" in page
    for term in GLOSSARY:
        assert term in page


def test_report_of_an_empty_frame_is_defined():
    empty = pd.DataFrame({"sms_id": [], "msisdn": [], "state": [], "sent_at": []})
    report = build_report(empty, by="operator")
    assert report.headline.iloc[0]["sent"] == "0"
    assert report.headline.iloc[0]["delivered"] == "—"
    assert report.alerts == []
    assert "<h1>Empty</h1>" in report.html("Empty")


def test_a_long_grouping_keeps_the_largest_and_sums_the_rest():
    data = frame()
    data["city"] = [f"город {i % 30}" for i in range(len(data))]
    table = reports._table(reports.report_with_total(data, "city"), max_groups=5)
    assert len(table) == 7 and table["city"].iloc[-2] == "other (25)"
    assert table["messages"].iloc[:-1].sum() == table["messages"].iloc[-1] == len(data)
    assert not np.isnan(table["delivery_rate"].iloc[-2])


def test_docstring_examples_run():
    assert doctest.testmod(reports).failed == 0


@pytest.mark.parametrize("by", ["segment", ["segment", "hour"]])
def test_report_by_a_contact_column(by):
    data = frame().assign(segment=["vip", "new"] * 40)
    report = build_report(data, by=by)
    assert any(name.startswith("Delivery by segment") for name in report.tables)
