"""``targetsms demo``: a whole campaign against the embedded emulator, in well under a minute.

No credentials and no network: an :class:`~targetsms_analytics.emulator.Emulator` runs on loopback
with compressed time (``connect.DEMO_EMULATOR``). The demo loads :data:`DEMO_CONTACTS` (a
deliberately messy CRM export, package data), shows the estimate, sends a personal template, refreshes the
statuses until every one is final, prints the report by operator, and writes an HTML report with
the plots plus CSVs into the output directory. Its journal lives in that directory too, never in
the user's real one.

The report itself is :func:`targetsms_analytics.reports.build_report`, the same as
``targetsms campaign report --html`` and the dashboard show.

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
from typing import Any

from .contacts import find_phone_column, read_contacts, write_frame_csv
from .errors import InputError
from .reports import (
    CURRENCY,
    display_frame,
    estimate_lines,
    money,
    report_with_total,
    terminal_report,
)

__all__ = [
    "DEMO_CAMPAIGN",
    "DEMO_CONTACTS",
    "DEMO_SENDER",
    "DEMO_TEMPLATE",
    "estimate_lines",
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


def _slug(name: str) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in name.lower())
    return "_".join(p for p in keep.split("_") if p)[:60] or "figure"


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
    from .html_report import figure_png, text_table
    from .journal import Journal
    from .reports import build_report
    from .spending import reconcile_spend
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
        echo(f"Balance before: {money(before.amount)}")

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
        reconciliation = reconcile_spend(journal)
        spent = before.amount - after.amount
        cost = float(statuses["cost"].sum())
        echo(
            f"Balance after: {money(after.amount)}: spent {money(spent)} from money; the SMS "
            f"cost {money(cost)}, prepaid packages paid the rest "
            f"(≈ {money(float(reconciliation['paid_from_packages'].sum()))})."
        )

    by_operator = report_with_total(statuses, "operator")
    by_date = report_with_total(statuses, "date")
    echo("")
    echo("Delivery by operator:")
    echo(text_table(display_frame(terminal_report(by_operator))))

    write_frame_csv(result, out / "campaign_result.csv")
    write_frame_csv(statuses, out / "statuses.csv")
    write_frame_csv(by_operator, out / "report_by_operator.csv")
    write_frame_csv(by_date, out / "report_by_date.csv")
    write_frame_csv(packages_frame(after), out / "balance_packages.csv")

    report = build_report(
        statuses,
        by="operator",
        result=result,
        balance=before,
        balance_after=after,
        snapshots=snapshots,
        reconciliation=reconciliation,
        estimate=summary,
    )
    for line in report.alerts:
        echo(f"! {line}")
    for name, fig in report.figures.items():
        (out / "plots" / f"{_slug(name)}.png").write_bytes(figure_png(fig))
    elapsed = time.monotonic() - started
    notes = [
        f"Campaign {DEMO_CAMPAIGN!r}, sender {DEMO_SENDER}, template: {DEMO_TEMPLATE}",
        f"Contacts: {source.name}, {len(contacts)} rows; {summary['recipients']} recipients.",
        "Run against the embedded TargetSMS emulator: no real SMS was sent. Its clock runs "
        f"×{DEMO_EMULATOR['speed']:g}, so latencies are in the emulator's (virtual) seconds.",
        f"Balance {money(before.amount)} → {money(after.amount)}; demo ran in {elapsed:.1f} s. "
        f"Amounts are in roubles ({CURRENCY}); times in Moscow time (MSK).",
    ]
    page = report.html("TargetSMS demo campaign report", notes)
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
