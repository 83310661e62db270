"""A small ipywidgets dashboard: pick a campaign and a grouping, refresh statuses, look.

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
from .html_report import figure_png, format_frame
from .journal import Journal, open_journal
from .statuses import fetch_statuses, load_statuses

if TYPE_CHECKING:
    import ipywidgets

    from .client import TargetSMSClient

__all__ = ["GROUPINGS", "Dashboard", "dashboard"]

#: What the report can be grouped by (label → ``delivery_report``'s ``by``).
GROUPINGS: dict[str, str | None] = {
    "total": None,
    "operator": "operator",
    "date": "date",
    "campaign": "campaign",
}
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
        self.table = w.HTML()
        # Plots are Image widgets, not display() into an Output widget: a notebook executor
        # (nbclient, nbconvert, papermill) mimics an Output widget by sending comm messages to
        # the kernel while the cell runs, which can stall or hang the run (jupyter/nbclient#312).
        self.plots = w.Box(layout=w.Layout(flex_flow="row wrap"))
        self.widget: ipywidgets.Widget = w.VBox(
            [
                w.HTML("<h3>TargetSMS delivery dashboard</h3>"),
                w.HBox([self.campaign, self.refresh_button]),
                self.grouping,
                w.HBox([self.progress, self.message]),
                self.table,
                self.plots,
            ]
        )
        self.campaign.observe(lambda _: self.update(), names="value")
        self.grouping.observe(lambda _: self.update(), names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
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
        """Redraw the report table and the plots for the chosen campaign and grouping."""
        from . import plots

        if not fetched:
            self.statuses = load_statuses(self._ids(), store=self.store, account=self.account)
        by = GROUPINGS[self.grouping.value]
        self.report = delivery_report(self.statuses, by=by)
        self.table.value = format_frame(self.report).to_html(index=False)
        self.figures = {
            "states": plots.plot_states(self.report),
            "delivery_rate": plots.plot_delivery_rate(self.report),
            "cost": plots.plot_cost(self.report),
            "latency": plots.plot_latency_cdf(self.statuses, by=by),
        }
        # PNG rather than the Figure: a Figure only shows where the inline backend is on
        import ipywidgets as w

        old = self.plots.children
        self.plots.children = tuple(
            w.Image(value=figure_png(figure), format="png") for figure in self.figures.values()
        )
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
