"""``targetsms demo``: a whole campaign against the embedded emulator, in well under a minute.

No credentials and no network: an :class:`~targetsms_analytics.emulator.Emulator` runs on loopback
with compressed time (``connect.DEMO_EMULATOR``). The demo loads :data:`DEMO_CONTACTS` (a
deliberately messy CRM export, package data), shows the estimate, sends a personal template, refreshes the
statuses until every one is final, prints the report by operator, and writes an HTML report with
the plots plus CSVs into the output directory. Its journal lives in that directory too, never in
the user's real one.

This module also holds the small helpers the command line shares with the demo: a report with a
total row (:func:`report_with_total`) and the sections of an HTML campaign report
(:func:`report_sections`).

Example::

    from targetsms_analytics.demo import run_demo

    html = run_demo("targetsms-demo")      # prints as it goes; returns the report's path
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .contacts import find_phone_column, read_contacts, write_frame_csv
from .errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure


__all__ = [
    "DEMO_CAMPAIGN",
    "DEMO_CONTACTS",
    "DEMO_SENDER",
    "DEMO_TEMPLATE",
    "estimate_lines",
    "report_sections",
    "report_with_total",
    "run_demo",
    "terminal_report",
]

#: The demo's contacts, package data (``targetsms_analytics/data/contacts_demo.csv``; see
#: ``data/README.md`` in the repository): ``pd.read_csv(DEMO_CONTACTS, dtype=str)`` from any folder.
DEMO_CONTACTS: Traversable = resources.files(__package__).joinpath("data", "contacts_demo.csv")
DEMO_TEMPLATE = "Здравствуйте, {name}! Скидка 15% для вас до конца недели."
DEMO_SENDER = "SHOP"
DEMO_CAMPAIGN = "demo-discount-15"
#: Seconds the demo waits at most for final statuses (the emulator makes them final in ~2 s).
DEMO_TIMEOUT = 45.0

Echo = Callable[[str], Any]


# ---------------------------------------------------------------- reports


def report_with_total(statuses: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """``delivery_report(statuses, by)`` with a last row ``total`` for all messages.

    Without ``by`` it is the one-row total itself, labelled ``total`` in a ``group`` column.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"campaign": ["a", "b"], "state": ["deliver", "expired"]})
        >>> report_with_total(statuses, "campaign")[["campaign", "messages", "deliver"]]
          campaign  messages  deliver
        0        a         1        1
        1        b         1        0
        2    total         2        1
    """
    from .analytics import delivery_report

    key = by or "group"
    total = delivery_report(statuses)
    total.insert(0, key, "total")
    if by is None:
        return total
    report = delivery_report(statuses, by=by)
    report[by] = report[by].astype(object)
    return pd.concat([report, total], ignore_index=True)


#: The report columns shown in the terminal (the files get them all).
TERMINAL_COLUMNS: tuple[str, ...] = (
    "messages",
    "deliver",
    "not_deliver",
    "expired",
    "partly_deliver",
    "send",
    "delivery_rate",
    "parts",
    "cost",
    "cost_per_delivered",
    "latency_p50_s",
)


def terminal_report(report: pd.DataFrame) -> pd.DataFrame:
    """The report's key columns and :data:`TERMINAL_COLUMNS` (fits an 120-column terminal).

    Example: ``print(text_table(terminal_report(report_with_total(statuses, "operator"))))``.
    """
    from .analytics import REPORT_COLUMNS

    keys = [c for c in report.columns if c not in REPORT_COLUMNS]
    return report[keys + [c for c in TERMINAL_COLUMNS if c in report.columns]]


def report_sections(
    statuses: pd.DataFrame,
    *,
    by: str = "operator",
    result: pd.DataFrame | None = None,
    balance: Any = None,
    balance_after: Any = None,
    snapshots: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Figure]]:
    """Tables and figures of a campaign report, ready for ``html_report.render_report``.

    Tables: the report ``by`` a column with a total row, the report by date, problem rows of
    ``result`` (anything not ``sent``), the balance packages (with ``balance_after``: before,
    after and used) and spending between ``snapshots``. Figures: states, delivery rate and cost
    by group, the latency CDF, the packages of ``balance`` and the balance history (3 snapshots
    or more), each only when its data is there.

    Example::

        tables, figures = report_sections(statuses, by="operator", balance=client.balance())
        Path("r.html").write_text(render_report("Spring", tables, figures), encoding="utf-8")
    """
    from .analytics import delivery_report, packages_frame, spend_between
    from .plots import (
        plot_balance_history,
        plot_balance_packages,
        plot_cost,
        plot_delivery_rate,
        plot_latency_cdf,
        plot_states,
    )

    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    grouped = delivery_report(statuses, by=by)
    tables[f"Delivery by {by}"] = report_with_total(statuses, by)
    if by != "date" and ("sent_at" in statuses.columns or "changed_at" in statuses.columns):
        tables["Delivery by date"] = report_with_total(statuses, "date")
    if result is not None and "outcome" in result.columns:
        problems = result[result["outcome"].astype(object) != "sent"]
        if len(problems):
            # The rendered text, parts, id and batch say nothing about why: leave them out.
            wide = ("text", "parts", "sms_id", "batch")
            columns = [c for c in problems.columns if c not in wide]
            tables["Recipients not sent"] = problems[columns].reset_index(drop=True)
    if balance is not None and balance_after is not None:
        tables["Balance packages: before, after, used"] = _packages_change(balance, balance_after)
    elif balance is not None:
        tables["Balance packages (SMS left per direction)"] = packages_frame(balance)
    if snapshots is not None and len(snapshots) >= 2:
        tables["Balance snapshots"] = snapshots
        tables["Spent between snapshots"] = spend_between(snapshots)

    figures[f"SMS states by {by}"] = plot_states(grouped)
    figures[f"Delivery rate by {by}"] = plot_delivery_rate(grouped)
    figures[f"Cost by {by}"] = plot_cost(grouped)
    figures[f"Delivery latency by {by}"] = plot_latency_cdf(statuses, by=by)
    if balance is not None:
        label = "SMS left per direction" + (", before" if balance_after is not None else "")
        figures[label] = plot_balance_packages(balance)
    if snapshots is not None and len(snapshots) >= 3:  # two points make no history worth a plot
        figures["Balance over time"] = plot_balance_history(snapshots)
    return tables, figures


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(p for p in keep.split("_") if p)[:60] or "figure"


# ---------------------------------------------------------------- the demo


#: The estimate's counts as people read them: (label, key of ``estimate.attrs["summary"]``).
_ESTIMATE_COUNTS: tuple[tuple[str, str], ...] = (
    ("rows in the file", "rows"),
    ("recipients", "recipients"),
    ("invalid", "invalid"),
    ("duplicates", "duplicates"),
    ("SMS parts", "parts"),
    ("requests", "requests"),
)


def estimate_lines(summary: dict[str, Any]) -> list[str]:
    """The estimate's summary as aligned lines for a terminal (the demo and the CLI print them).

    Example: ``print("\\n".join(estimate_lines(estimate.attrs["summary"])))``.
    """
    lines = [f"  {label:<22}{summary[key]}" for label, key in _ESTIMATE_COUNTS]
    lines.append(
        f"  {'expected cost':<22}{summary['expected_cost']:.2f} RUB"
        f"  (at {summary['price_per_part']:.2f} per part; packages make it cheaper)"
    )
    return lines


def _estimate_table(summary: dict[str, Any]) -> pd.DataFrame:
    """The same summary as a two-column table for the HTML report."""
    rows = [(label, str(summary[key])) for label, key in _ESTIMATE_COUNTS]
    rows += [
        ("price per part", f"{summary['price_per_part']:.2f} RUB"),
        ("expected cost", f"{summary['expected_cost']:.2f} RUB"),
    ]
    return pd.DataFrame(rows, columns=["estimate", "value"])


def _packages_change(before: Any, after: Any) -> pd.DataFrame:
    from .analytics import packages_frame

    start = packages_frame(before).rename(columns={"remaining": "before"})
    end = packages_frame(after).rename(columns={"remaining": "after"})
    # Keep the starting order (most SMS first); directions only in one snapshot go last.
    frame = start.merge(end, on="direction", how="outer").fillna(0)
    seen = dict.fromkeys([*start["direction"], *end["direction"]])
    order = {d: i for i, d in enumerate(seen)}
    frame = frame.iloc[frame["direction"].map(order).argsort(kind="stable")]
    frame = frame.reset_index(drop=True)
    frame["before"] = frame["before"].astype("int64")
    frame["after"] = frame["after"].astype("int64")
    frame["used"] = frame["before"] - frame["after"]
    return frame


@contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Hide the library's warnings (retry notes) for the demo's clean console output."""
    logger = logging.getLogger("targetsms_analytics")
    level = logger.level
    if enabled:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _remove_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_demo(
    out_dir: str | Path = "targetsms-demo",
    *,
    echo: Echo = print,
    progress: bool = True,
    contacts_path: str | Path | None = None,
    quiet_logs: bool = True,
) -> Path:
    """Run the whole demo against an embedded emulator and return the HTML report's path.

    Writes into ``out_dir`` (created if needed): ``report.html``, ``campaign_result.csv``,
    ``statuses.csv``, ``report_by_operator.csv``, ``report_by_date.csv``,
    ``balance_packages.csv``, ``plots/*.png`` and the demo's own ``journal.sqlite3`` (replaced on
    each run). ``echo`` receives every line meant for people; ``progress`` shows tqdm bars on
    stderr; ``quiet_logs`` hides the library's warnings (retry notes) meanwhile.
    ``contacts_path`` replaces :data:`DEMO_CONTACTS` (same columns: ``name``, ``phone``).
    Raises ``InputError`` when the contacts file is missing.

    Example::

        path = run_demo("/tmp/demo", echo=lambda line: None, progress=False)
        print(path.read_text(encoding="utf-8")[:100])
    """
    from .analytics import packages_frame
    from .balances import snapshot_balance
    from .client import TargetSMSClient
    from .connect import DEMO_EMULATOR
    from .emulator import Emulator
    from .html_report import figure_png, render_report, text_table
    from .journal import Journal
    from .statuses import wait_for_final

    started = time.monotonic()
    source = Path(contacts_path) if contacts_path is not None else DEMO_CONTACTS
    if not source.is_file():
        raise InputError(
            "missing_demo_data",
            f"the demo contacts file {source} is missing: reinstall the package "
            "(pip install --force-reinstall targetsms-analytics); or try `targetsms campaign "
            "send YOUR.csv --estimate-only ...`",
            field="csv",
        )
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "plots").mkdir(exist_ok=True)
    journal_path = out / "journal.sqlite3"
    _remove_journal(journal_path)

    from .campaign import estimate_campaign, send_campaign

    with ExitStack() as files:  # a real file even if the package is not on disk
        contacts = read_contacts(files.enter_context(resources.as_file(source)))
    phone_column = find_phone_column(contacts)
    echo("TargetSMS demo: an emulator on loopback, compressed time, no credentials, no network.")
    echo(
        f"Contacts: {source.name}: {len(contacts)} rows "
        f"({contacts.attrs['encoding']}, separator {contacts.attrs['separator']!r})"
    )
    echo(f"Template: {DEMO_TEMPLATE}")

    with (
        _quiet(quiet_logs),
        Emulator(**DEMO_EMULATOR) as emu,
        TargetSMSClient(
            "demo", "demo", url=emu.url, throttle_interval=emu.throttle_interval
        ) as client,
        Journal(journal_path) as journal,
    ):
        before = snapshot_balance(client, store=journal)
        echo(f"Balance before: {before.amount:.2f} {before.currency}")

        estimate = estimate_campaign(
            contacts, DEMO_TEMPLATE, phone_column=phone_column, sender=DEMO_SENDER, client=client
        )
        summary = estimate.attrs["summary"]
        echo("")
        echo("Estimate (no request made):")
        for line in estimate_lines(summary):
            echo(line)
        reasons = estimate.loc[estimate["outcome"] != "ready", "error_code"].value_counts()
        if len(reasons):
            echo("  not sent, by reason:  " + ", ".join(f"{k} {v}" for k, v in reasons.items()))

        echo("")
        echo(f"Sending campaign {DEMO_CAMPAIGN!r} from {DEMO_SENDER}…")
        result = send_campaign(
            client,
            contacts,
            DEMO_TEMPLATE,
            DEMO_SENDER,
            phone_column=phone_column,
            campaign=DEMO_CAMPAIGN,
            store=journal,
            progress=progress,
        )
        counts = result["outcome"].value_counts(dropna=False)
        echo(
            "Outcomes: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"  ({result.attrs['summary']['requests']} requests)"
        )

        echo("Refreshing statuses until every one is final…")
        statuses = wait_for_final(
            client, DEMO_CAMPAIGN, store=journal, timeout=DEMO_TIMEOUT, progress=progress
        )
        pending = int((~statuses["is_final"]).sum())
        echo(
            f"Statuses: {int(statuses['is_final'].sum())} final"
            + (f", {pending} still pending (timeout)" if pending else "")
        )

        after = snapshot_balance(client, store=journal)
        snapshots = journal.balance_snapshots()
        spent = before.amount - after.amount
        echo(f"Balance after: {after.amount:.2f} {after.currency} (spent {spent:.2f})")

    by_operator = report_with_total(statuses, "operator")
    by_date = report_with_total(statuses, "date")
    echo("")
    echo("Delivery by operator:")
    echo(text_table(terminal_report(by_operator)))

    write_frame_csv(result, out / "campaign_result.csv")
    write_frame_csv(statuses, out / "statuses.csv")
    write_frame_csv(by_operator, out / "report_by_operator.csv")
    write_frame_csv(by_date, out / "report_by_date.csv")
    write_frame_csv(packages_frame(after), out / "balance_packages.csv")

    tables, figures = report_sections(
        statuses,
        by="operator",
        result=result,
        balance=before,
        balance_after=after,
        snapshots=snapshots,
    )
    tables = {"Estimate": _estimate_table(summary), **tables}
    for name, fig in figures.items():
        (out / "plots" / f"{_slug(name)}.png").write_bytes(figure_png(fig))
    elapsed = time.monotonic() - started
    notes = [
        f"Campaign {DEMO_CAMPAIGN!r}, sender {DEMO_SENDER}, template: {DEMO_TEMPLATE}",
        f"Contacts: {source.name}, {len(contacts)} rows; {summary['recipients']} recipients.",
        "Run against the embedded TargetSMS emulator: no real SMS was sent. Its clock runs "
        f"×{DEMO_EMULATOR['speed']:g}, so latencies are in the emulator's (virtual) seconds.",
        f"Balance {before.amount:.2f} → {after.amount:.2f} {after.currency}; "
        f"demo ran in {elapsed:.1f} s.",
    ]
    page = render_report("TargetSMS demo campaign report", tables, figures, notes=notes)
    report_path = out / "report.html"
    report_path.write_text(page, encoding="utf-8")
    echo("")
    echo(f"Files in {out}:")
    for name in _listing(out):
        echo(f"  {name}")
    echo(f"Done in {time.monotonic() - started:.1f} s. Open the report: {report_path}")
    return report_path


def _listing(out: Path) -> list[str]:
    wanted = (
        "report.html",
        "campaign_result.csv",
        "statuses.csv",
        "report_by_operator.csv",
        "report_by_date.csv",
        "balance_packages.csv",
        "plots/",
        "journal.sqlite3",
    )
    return [n for n in wanted if (out / n.rstrip("/")).exists()]
