"""A small ipywidgets dashboard: pick a campaign and a grouping, refresh statuses, look; compare.

Two views: "Report" (headline, alerts, the report table and plots, as in the HTML report) and
"Compare" (campaigns or variants against a baseline, with an interval and a p-value).

Example (in Jupyter)::

    import targetsms_analytics as ts
    from targetsms_analytics.widgets import dashboard

    dashboard(store="journal.sqlite3", client=ts.connect())
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

from .analytics import delivery_report
from .html_report import figure_png
from .journal import Journal, open_journal
from .statuses import fetch_statuses, load_statuses

if TYPE_CHECKING:
    import ipywidgets

    from .client import TargetSMSClient

__all__ = ["COMPARE_BY", "GROUPINGS", "Dashboard", "dashboard"]

#: What the report can be grouped by (label → ``delivery_report``'s ``by``).
GROUPINGS: dict[str, str | None] = {
    "total": None,
    "operator": "operator",
    "region": "region",
    "hour": "hour",
    "date": "date",
    "campaign": "campaign",
    "variant": "variant",
}
#: What the "Compare" view can compare (label → ``compare``'s ``by``).
COMPARE_BY: dict[str, str] = {"campaign": "campaign", "variant": "variant", "operator": "operator"}
_ALL = "(all campaigns)"


class Dashboard:
    """The dashboard's state and widgets; ``.widget`` is what Jupyter displays.

    ``refresh()`` fetches statuses for the chosen campaign (needs a client), ``update()`` redraws
    the table and plots from what the journal holds. Both run headless.

    Example::

        board = Dashboard(store="journal.sqlite3", client=client)
        board.refresh()
        board.report            # the last report frame
    """

    def __init__(
        self,
        store: str | Journal | None = None,
        client: TargetSMSClient | None = None,
        *,
        concurrency: int = 8,
        account: str | None = None,
    ) -> None:
        import ipywidgets as w

        from .journal import account_of

        self.store = store
        self.client = client
        # Only this account's campaigns (default: the client's; without a client, every account).
        self.account = account or (client and account_of(client.user, client.url)) or None
        self.concurrency = concurrency
        self.statuses = pd.DataFrame()
        self.report = pd.DataFrame()
        self.figures: dict[str, Any] = {}

        self.campaign = w.Dropdown(description="Campaign", options=self._campaign_options())
        self.grouping = w.ToggleButtons(description="Group by", options=list(GROUPINGS))
        self.refresh_button = w.Button(
            description="Refresh statuses",
            icon="refresh",
            button_style="primary",
            disabled=client is None,
            tooltip="Fetch the statuses that are not final yet" if client else "No client given",
        )
        self.progress = w.IntProgress(value=0, min=0, max=1, description="Statuses")
        self.message = w.HTML()
        self.headline = w.HTML()
        self.alerts = w.HTML()
        self.table = w.HTML()
        # Plots are Image widgets in a Box, never display() into an Output widget: a notebook
        # executor (nbclient, nbconvert, papermill) mimics an Output widget by sending comm
        # messages to the kernel while the cell runs, which stalls or hangs the run on a busy
        # machine (jupyter/nbclient#312). See _show.
        self.plots = w.Box(layout=w.Layout(flex_flow="row wrap"))
        report_view = w.VBox(
            [
                w.HBox([self.campaign, self.refresh_button]),
                self.grouping,
                w.HBox([self.progress, self.message]),
                self.headline,
                self.alerts,
                self.table,
                self.plots,
            ]
        )
        # The "Compare" view: campaigns (or variants…) against a baseline, with a test.
        self.comparison = pd.DataFrame()
        self.compare_campaigns = w.SelectMultiple(
            description="Campaigns", options=self.campaign.options[1:], rows=6
        )
        self.compare_by = w.Dropdown(description="Compare by", options=list(COMPARE_BY))
        self.compare_button = w.Button(description="Compare", icon="balance-scale")
        self.compare_message = w.HTML()
        self.compare_table = w.HTML()
        self.compare_plot = w.Box()  # Image widgets too (see self.plots)
        compare_view = w.VBox(
            [
                w.HBox([self.compare_campaigns, w.VBox([self.compare_by, self.compare_button])]),
                self.compare_message,
                self.compare_table,
                self.compare_plot,
            ]
        )
        self.views = w.Tab(children=[report_view, compare_view])
        self.views.set_title(0, "Report")
        self.views.set_title(1, "Compare")
        self.widget: ipywidgets.Widget = w.VBox(
            [w.HTML("<h3>TargetSMS delivery dashboard</h3>"), self.views]
        )
        self.campaign.observe(lambda _: self.update(), names="value")
        self.grouping.observe(lambda _: self.update(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.compare_button.on_click(lambda _: self.compare())
        self.update()

    # -- data

    def _campaigns(self, journal: Journal) -> pd.DataFrame:
        campaigns = journal.campaigns()
        if self.account is not None:
            campaigns = campaigns[campaigns["account"] == self.account]
        return campaigns

    def _campaign_options(self) -> list[str]:
        with open_journal(self.store) as journal:
            names = self._campaigns(journal)
        listed = [] if names.empty else names["campaign"].astype(str).tolist()
        return [_ALL, *dict.fromkeys(listed)]

    def _ids(self) -> list[str]:
        with open_journal(self.store) as journal:
            campaigns = self._campaigns(journal)
            if self.campaign.value != _ALL:
                campaigns = campaigns[campaigns["campaign"] == self.campaign.value]
            ids: list[str] = []
            for name, account in zip(campaigns["campaign"], campaigns["account"], strict=True):
                messages = journal.campaign_messages(name, account=account)
                ids += messages["sms_id"].dropna().astype(str).tolist()
        return ids

    # -- actions

    def refresh(self) -> None:
        """Fetch the chosen campaign's statuses that are not final yet, then redraw."""
        if self.client is None:
            self.message.value = "No client: pass <code>client=</code> to refresh statuses."
            return
        ids = self._ids()
        self.progress.max, self.progress.value = max(1, len(ids)), 0
        self.refresh_button.disabled = True
        self.message.value = f"Fetching {len(ids)} statuses…"
        try:
            self.statuses = fetch_statuses(
                self.client,
                ids,
                store=self.store,
                concurrency=self.concurrency,
                progress=False,
                on_progress=lambda done, _total: setattr(self.progress, "value", done),
            )
            self.progress.value = self.progress.max
            failed = int(self.statuses["error_code"].notna().sum())
            self.message.value = f"{len(ids)} statuses" + (f", {failed} failed" if failed else "")
        except Exception as exc:  # shown in the dashboard rather than lost in a callback
            self.message.value = f"<b>Refresh failed:</b> {html.escape(str(exc))}"
        finally:
            self.refresh_button.disabled = False
        self.update(fetched=True)

    def update(self, *, fetched: bool = False) -> None:
        """Redraw the headline, alerts, report table and plots for the campaign and grouping."""
        from . import plots
        from .insight import failure_report
        from .reports import alerts, display_frame, headline

        if not fetched:
            self.statuses = load_statuses(self._ids(), store=self.store, account=self.account)
        by = GROUPINGS[self.grouping.value]
        try:
            self.report = delivery_report(self.statuses, by=by)
        except KeyError as exc:  # e.g. by hour without send times: say so, show the total
            self.message.value = f"Cannot group by {html.escape(str(by))}: {html.escape(str(exc))}"
            by = None
            self.report = delivery_report(self.statuses)
        # the same headline, alerts, labels and units as the HTML report (reports.py)
        self.headline.value = display_frame(headline(self.statuses)).to_html(index=False)
        notes = alerts(self.statuses) if len(self.statuses) else []
        self.alerts.value = (
            "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>" if notes else ""
        )
        self.table.value = display_frame(self.report).to_html(index=False)
        self.figures = {
            "delivery_rate": plots.plot_delivery_rate(self.report),
            "states": plots.plot_states(self.report),
            "failures": plots.plot_failures(failure_report(self.statuses, by=by)),
            "cost": plots.plot_cost(self.report),
            "latency": plots.plot_latency_cdf(self.statuses, by=by),
        }
        _show(self.plots, self.figures.values())
        if tuple(self.compare_campaigns.options) != tuple(self.campaign.options[1:]):
            self.compare_campaigns.options = self.campaign.options[1:]

    def compare(self) -> None:
        """The "Compare" view: the chosen campaigns' delivery rates against the first, tested."""
        from . import plots
        from .insight import compare
        from .reports import display_frame

        names = list(self.compare_campaigns.value)
        by = COMPARE_BY[self.compare_by.value]
        if not names or (by == "campaign" and len(names) < 2):
            self.compare_message.value = "Pick two campaigns or more (Ctrl/Shift-click)."
            return
        with open_journal(self.store) as journal:
            campaigns = self._campaigns(journal)
            ids: list[str] = []
            for name in names:  # in the order picked: the first is the baseline
                for account in campaigns.loc[campaigns["campaign"] == name, "account"]:
                    messages = journal.campaign_messages(name, account=account)
                    ids += messages["sms_id"].dropna().astype(str).tolist()
        statuses = load_statuses(ids, store=self.store, account=self.account)
        baseline = names[0] if by == "campaign" else None
        try:
            self.comparison = compare(statuses, by=by, baseline=baseline)
        except (KeyError, ValueError) as exc:
            self.compare_message.value = f"<b>Cannot compare:</b> {html.escape(str(exc))}"
            return
        self.compare_message.value = (
            "Difference from the baseline, its 95 % interval and the p-value of a two-proportion "
            "z-test (unreliable for groups of a few messages)."
        )
        self.compare_table.value = display_frame(self.comparison).to_html(index=False)
        self.figures["compare"] = plots.plot_compare(self.comparison)
        _show(self.compare_plot, [self.figures["compare"]])


def _show(box: Any, figures: Any) -> None:
    """Show ``figures`` in ``box`` as PNG ``Image`` widgets, closing the ones they replace.

    PNG rather than the Figure: a Figure only shows where the inline backend is on. Image widgets
    rather than an Output widget: see ``Dashboard.plots`` (jupyter/nbclient#312).
    """
    import ipywidgets as w

    old = box.children
    box.children = tuple(w.Image(value=figure_png(f), format="png") for f in figures)
    for image in old:
        image.close()


def dashboard(
    store: str | Journal | None = None,
    client: TargetSMSClient | None = None,
    *,
    concurrency: int = 8,
    account: str | None = None,
) -> ipywidgets.Widget:
    """Build the dashboard widget: campaign and grouping pickers, a refresh button, table, plots.

    ``account`` (``user@host[:port]``) limits it to that account's campaigns; the default is the
    client's account, or every account when there is no client.

    Example (in Jupyter)::

        from targetsms_analytics.widgets import dashboard
        dashboard(store="journal.sqlite3", client=ts.connect())
    """
    board = Dashboard(store, client, concurrency=concurrency, account=account)
    board.widget.dashboard = board  # so a notebook can reach the state behind the widget
    return board.widget
