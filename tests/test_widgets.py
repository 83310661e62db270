"""The dashboard builds and refreshes headless (no browser, no kernel)."""

from __future__ import annotations

import ipywidgets
import pandas as pd
import pytest

import targetsms_analytics as ts
from targetsms_analytics.journal import Journal
from targetsms_analytics.widgets import GROUPINGS, Dashboard, dashboard


@pytest.fixture
def store(tmp_path, client):
    path = str(tmp_path / "board.sqlite3")
    contacts = pd.DataFrame({"phone": [f"7916{n:07d}" for n in range(12)] + ["79261234567"]})
    ts.send_campaign(
        client, contacts, "Привет!", "SHOP", campaign="spring", store=path, progress=False
    )
    ts.send_campaign(
        client, contacts.head(3), "Hi", "SHOP", campaign="autumn", store=path, progress=False
    )
    return path


def test_dashboard_builds_from_the_journal_alone(store):
    widget = dashboard(store=store)
    assert isinstance(widget, ipywidgets.VBox)
    board = widget.dashboard
    assert board.campaign.options[0] == "(all campaigns)"
    assert set(board.campaign.options[1:]) == {"spring", "autumn"}
    assert board.refresh_button.disabled  # no client, no refresh
    assert board.report["messages"].sum() == 16
    assert board.report["send"].sum() == 16  # never fetched: sent, no status yet
    assert set(board.figures) == {"states", "delivery_rate", "cost", "latency"}


def test_refresh_fetches_and_redraws(store, client, emulator):
    board = Dashboard(store=store, client=client)
    board.campaign.value = "spring"
    board.refresh()
    assert board.progress.value == board.progress.max == 13
    assert (board.statuses["state"] == "send").all()
    emulator.advance(3600)
    board.refresh()
    assert board.statuses["is_final"].all()
    assert board.report["messages"].item() == 13
    assert board.report["deliver"].item() == sum(
        emulator.state_of(i) == "deliver" for i in board.statuses["sms_id"]
    )
    assert "<table" in board.table.value and "delivery_rate %" in board.table.value
    for label in GROUPINGS:
        board.grouping.value = label
        assert len(board.figures) == 4
    board.grouping.value = "operator"
    assert len(board.report) >= 1 and "operator" in board.report.columns


def test_refresh_failure_is_shown_not_raised(store, tmp_path):
    dead = ts.TargetSMSClient("demo", "demo", url="http://127.0.0.1:9/sendsms.php", timeout=1)
    board = Dashboard(store=store, client=dead)
    board.refresh()
    assert "statuses" in board.message.value
    assert board.statuses["error_code"].eq("transport").all()


def test_empty_journal(tmp_path):
    with Journal(tmp_path / "empty.sqlite3") as journal:
        board = Dashboard(store=journal)
        assert board.report["messages"].sum() == 0
        assert board.campaign.options == ("(all campaigns)",)
