"""The dashboard builds and refreshes headless (no browser, no kernel)."""

from __future__ import annotations

import ipywidgets
import pandas as pd
import pytest

import targetsms_analytics as ts
from targetsms_analytics.journal import Journal
from targetsms_analytics.widgets import GROUPINGS, Dashboard, dashboard


@pytest.fixture
def store(tmp_path, client, emulator):
    # The emulator's lifecycle clock stands still: every SMS stays `send` until a test moves it
    # on with emulator.advance(), however long sending and refreshing take on a busy machine.
    emulator.speed = 0
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
    assert set(board.figures) == {"states", "delivery_rate", "failures", "cost", "latency"}
    assert "delivered" in board.headline.value and "not final yet" in board.alerts.value


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
    assert "<table" in board.table.value and "delivery rate" in board.table.value
    # formatted as in the HTML report and the terminal: a share of 1 shown in %
    rate = board.report["delivery_rate"].item()
    assert f"<td>{rate * 100:.1f} %</td>" in board.table.value
    for label in GROUPINGS:
        board.grouping.value = label
        assert len(board.figures) == 5
    board.grouping.value = "operator"
    assert len(board.report) >= 1 and "operator" in board.report.columns


def test_refresh_failure_is_shown_not_raised(store, client, monkeypatch):
    def unreachable(sms_id):  # the service cannot be reached (same account: same endpoint)
        raise ts.ConnectError("transport", "connection refused")

    monkeypatch.setattr(client, "status_detail", unreachable)
    board = Dashboard(store=store, client=client)
    board.refresh()
    assert board.message.value == "16 statuses, 16 failed"
    assert board.statuses["error_code"].eq("transport").all()


def test_a_client_of_another_account_sees_none_of_its_campaigns(store, closed_port):
    # Issue 9: a client of another account must not ask its service about these SMS ids.
    url = f"http://127.0.0.1:{closed_port}/sendsms.php"
    other = ts.TargetSMSClient("demo", "demo", url=url, timeout=1)
    board = Dashboard(store=store, client=other)
    assert board.campaign.options == ("(all campaigns)",)
    board.refresh()
    assert board.statuses.empty


def test_empty_journal(tmp_path):
    with Journal(tmp_path / "empty.sqlite3") as journal:
        board = Dashboard(store=journal)
        assert board.report["messages"].sum() == 0
        assert board.campaign.options == ("(all campaigns)",)


def test_refresh_shows_progress_as_statuses_arrive(store, client):
    board = Dashboard(store=store, client=client, concurrency=2)
    board.campaign.value = "spring"  # 13 SMS
    seen: list[int] = []
    board.progress.observe(lambda change: seen.append(change["new"]), names="value")
    board.refresh()
    assert board.progress.max == 13
    assert any(0 < v < 13 for v in seen), seen  # not just 0, then all at once
    assert seen == sorted(seen) and seen[-1] == 13
    assert len(board.statuses) == 13 and board.statuses["sms_id"].is_unique


def test_plots_are_shown_as_png_images_whatever_the_matplotlib_backend(store):
    # A bare Figure only shows as "<Figure size ...>" in a kernel where the inline backend was
    # never switched on (no %matplotlib, no pyplot import): the dashboard must not depend on it.
    import ipywidgets

    board = Dashboard(store=store)
    images = board.plots.children
    assert len(images) == len(board.figures) == 5
    for image in images:
        assert isinstance(image, ipywidgets.Image) and image.format == "png"
        assert bytes(image.value).startswith(b"\x89PNG")
    board.update()  # a redraw replaces the images and closes the old ones
    assert len(board.plots.children) == 5 and all(i.comm is None for i in images)


def test_the_dashboard_has_no_output_widget(store):
    # Executed notebooks (nbclient, nbconvert, papermill) answer an Output widget's captures with
    # comm messages to the kernel during the cell; that races the execute reply and stalled
    # notebook 05 for the whole cell timeout on a busy machine (jupyter/nbclient#312).
    import ipywidgets

    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    board = Dashboard(store=store)
    board.update()
    assert not [x for x in walk(board.widget) if isinstance(x, ipywidgets.Output)]


def test_compare_view_tests_campaigns_against_the_first_picked(store, client, emulator):
    board = Dashboard(store=store, client=client)
    assert board.views.get_title(1) == "Compare"
    board.compare()  # nothing picked: says what to do
    assert "Pick two campaigns" in board.compare_message.value
    emulator.advance(3600)
    board.refresh()
    board.compare_campaigns.value = ("autumn", "spring")
    board.compare()
    table = board.comparison
    assert table.loc[table["baseline"], "campaign"].tolist() == ["autumn"]
    assert table["messages"].sum() == 16
    assert "p-value" in board.compare_table.value and "compare" in board.figures
    (image,) = board.compare_plot.children
    assert bytes(image.value).startswith(b"\x89PNG")
