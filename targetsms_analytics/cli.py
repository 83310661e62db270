"""``targetsms``: the command line, a thin layer of parsing and printing over the library.

::

    targetsms demo                                     the whole thing against an emulator
    targetsms send --sender SHOP --text "Привет" 79001234567
    targetsms status 1179038981 1179038982             or: targetsms status --campaign spring
    targetsms balance
    targetsms campaign send contacts.csv --text "Здравствуйте, {name}!" --sender SHOP \\
        --campaign spring [--estimate-only]
    targetsms campaign refresh --campaign spring --wait 600
    targetsms campaign report --campaign spring --by operator --html spring.html
    targetsms campaign compare spring autumn [--by variant]
    targetsms spend [--freq W]
    targetsms emulator --port 8000
    targetsms numbering update DEF-9xx.csv             a newer registry of mobile ranges

Credentials come from ``TARGETSMS_USER``, ``TARGETSMS_PASSWORD`` and ``TARGETSMS_URL`` (or a
``.env`` file); the journal from ``--store``, ``TARGETSMS_STORE`` (or ``.env``) or the user data
dir. Exit codes: 0 done, 1 the service refused (``error <code>: <text>``), 2 bad input or missing credentials (one line on
stderr, no traceback), 3 ``campaign send`` finished but some recipients ended ``unknown`` (a line
says what to do), 130 ``campaign send`` stopped by Ctrl-C (a line says what to do).

Example::

    from click.testing import CliRunner
    from targetsms_analytics.cli import cli

    CliRunner().invoke(cli, ["campaign", "send", "c.csv", "--text", "Hi", "--sender", "SHOP",
                             "--campaign", "x", "--estimate-only"])
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import click
import pandas as pd

from .errors import InputError, TargetSMSError

__all__ = ["EXIT_INPUT", "EXIT_SERVICE", "EXIT_UNKNOWN", "cli", "main"]

#: Exit code when the service (or the network) refused: ``error <code>: <text>`` on stderr.
EXIT_SERVICE = 1
#: Exit code for bad input and missing credentials (click's own usage errors use it too).
EXIT_INPUT = 2
#: Exit code of ``campaign send`` when some recipients ended ``unknown`` (the answer was lost).
EXIT_UNKNOWN = 3

_REPORT_BY = ("operator", "date", "region", "time_zone", "hour", "variant", "campaign", "sender")
#: Status-frame columns that are not something to group by.
_NOT_GROUPS = frozenset(
    {"sms_id", "msisdn", "state", "is_final", "changed_at", "num_parts", "price", "cost",
     "sent_at", "error_code", "text", "fetched_at", "not_before", "contact"}
)  # fmt: skip
_STATUS_COLUMNS = ("sms_id", "msisdn", "state", "changed_at", "num_parts", "price", "cost")


# ---------------------------------------------------------------- errors and logging


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    raise click.exceptions.Exit(code)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class _Group(click.Group):
    """A click group that turns the library's errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import JournalError

        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:  # a global option after the command
            global_ = exc.option_name in ("--store", "-v", "--verbose", "-vv")
            if global_ and "global option" not in exc.message:  # (once: groups nest)
                exc.message = (
                    f"{exc.message.rstrip('.')}: {exc.option_name} is a global option, given"
                    f" before the command (targetsms {exc.option_name} ... campaign list)"
                )
            raise
        except InputError as exc:
            if exc.code == "missing_credentials":
                _fail(
                    "targetsms: missing credentials: set TARGETSMS_USER and TARGETSMS_PASSWORD "
                    "(and TARGETSMS_URL for a non-default service) in the environment or a .env "
                    "file; `targetsms demo` needs none",
                    EXIT_INPUT,
                )
            _fail(f"error {exc.code}: {_one_line(exc.text)}", EXIT_INPUT)
        except TargetSMSError as exc:
            _fail(f"error {exc.code}: {_one_line(exc.text)}", EXIT_SERVICE)
        except JournalError as exc:
            _fail(f"error journal: {_one_line(str(exc))}", EXIT_SERVICE)
        except sqlite3.Error as exc:
            _fail(
                f"error journal: {_one_line(str(exc))}: {_store_path(ctx)} "
                "(choose another file with --store)",
                EXIT_SERVICE,
            )
        except OSError as exc:
            if exc.filename is None:  # not about a file the user named: a bug, show it all
                raise
            _fail(f"error file: {exc.strerror or exc}: {exc.filename}", EXIT_INPUT)


class _EchoHandler(logging.Handler):
    """Log records to whatever ``sys.stderr`` is now (click's test runner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # pragma: no cover - logging must never break the command
            self.handleError(record)


class _ThrottleWaitsAreInfo(logging.Filter):
    """A wait for the identical-request interval is normal: INFO (``-v``), never a WARNING line.

    The client logs every retry, waits for ``duplicate_request`` included, at WARNING; here the
    CLI shows those only at ``-v`` and labels them INFO.
    """

    def __init__(self, verbose: int) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and _is_throttle_wait(record):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return record.levelno >= (logging.WARNING if self.verbose == 0 else logging.DEBUG)


def _is_throttle_wait(record: logging.LogRecord) -> bool:
    args = record.args if isinstance(record.args, tuple) else ()
    return "retrying" in str(record.msg) and "duplicate_request" in (str(a) for a in args)


_HANDLER = _EchoHandler()
_HANDLER.setFormatter(logging.Formatter("targetsms: %(levelname)s: %(message)s"))


def _setup_logging(verbose: int) -> Callable[[], None]:
    """Warnings (``-v`` info, ``-vv`` debug and HTTP lines) on stderr; returns the undo.

    Undone when the command ends, so running commands in-process (tests, ``main(argv)``) leaves
    the loggers as they were.
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    for old in [f for f in _HANDLER.filters if isinstance(f, _ThrottleWaitsAreInfo)]:
        _HANDLER.removeFilter(old)
    _HANDLER.addFilter(_ThrottleWaitsAreInfo(verbose))
    names = ["targetsms_analytics"]
    if verbose >= 2:  # requests' and urllib3's own lines (the client's filter redacts their URLs)
        names += ["urllib3", "requests"]
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(level)
        logger.addHandler(_HANDLER)

    def undo() -> None:
        for logger, previous in saved:
            logger.removeHandler(_HANDLER)
            logger.setLevel(previous)

    return undo


# ---------------------------------------------------------------- shared helpers


def _client() -> Any:
    """A client from the environment (or ``.env``); a bad URL is bad input, exit 2."""
    from .client import TargetSMSClient

    try:
        return TargetSMSClient.from_env()
    except InputError:
        raise
    except ValueError as exc:
        raise InputError("invalid_url", f"TARGETSMS_URL: {exc}") from None


def _store(ctx: click.Context) -> str | None:
    return ctx.find_root().obj["store"]


def _store_path(ctx: click.Context) -> str:
    from .journal import default_store_path

    return str((ctx.find_root().obj or {}).get("store") or default_store_path())


def _progress() -> bool:
    return sys.stderr.isatty()


def _echo_table(frame: pd.DataFrame, *, max_rows: int | None = 200) -> None:
    from .html_report import text_table

    click.echo(text_table(frame, max_rows=max_rows))


def _counts_line(series: pd.Series) -> str:
    counts = series.astype(object).fillna("none").value_counts()
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _read_csv(path: str, phone_column: str | None) -> tuple[pd.DataFrame, str]:
    from .contacts import find_phone_column, read_contacts

    contacts = read_contacts(path)
    column = find_phone_column(contacts, phone_column or "phone", aliases=phone_column is None)
    return contacts, column


def _valid_text(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A ``--text`` that is valid Unicode: bytes that are not UTF-8 are one line, exit 2.

    Python hands undecodable command-line bytes over as lone surrogates (``\\udcff``); they would
    fail much later, in the journal or the URL, as a traceback.
    """
    if value is None:
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start]
        byte = f"0x{ord(bad) - 0xDC00:02X}" if 0xDC80 <= ord(bad) <= 0xDCFF else repr(bad)
        option = param.opts[0] if param.opts else str(param.name)
        raise InputError(
            "text_encoding",
            f"{option} is not valid UTF-8 (byte {byte} at character {exc.start + 1}): "
            "set a UTF-8 locale in the terminal (LANG=ru_RU.UTF-8) or fix the script that "
            "builds the command",
            field=param.name,
        ) from None
    return value


# ---- campaign send: variants, windows, rate cap (planning)

_NAME_COLUMNS = ("name", "имя", "фио", "first name", "full name", "клиент", "client", "фамилия")


def _templates(text: str | None, variants: tuple[str, ...]) -> str | dict[str, str]:
    """``--text`` or the ``--variant NAME=TEXT`` options as send_campaign's ``text``."""
    if variants and text is not None:
        raise InputError(text="give --text or --variant, not both", field="--variant")
    if not variants:
        if text is None:
            raise InputError(text="give the text: --text or --variant NAME=TEXT", field="--text")
        return text
    out: dict[str, str] = {}
    for item in variants:
        name, eq, body = item.partition("=")
        if not eq or not name.strip() or name.strip() in out:
            raise InputError(
                text=f"--variant {item!r}: write NAME=TEXT, names unique", field="--variant"
            )
        out[name.strip()] = body
    return out


def _until(value: str | None) -> datetime | None:
    """``--until`` as a tz-aware time: ISO 8601, the machine's local zone when none is given."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone()
    except ValueError:
        raise InputError(
            text=f"--until {value!r}: write e.g. 2026-12-02T21:00", field="--until"
        ) from None


def _echo_plan(estimate: pd.DataFrame) -> None:
    """Per variant (parts, cost) and when the scheduled recipients become sendable."""
    summary = estimate.attrs["summary"]
    variants = estimate.attrs.get("variants")
    if variants is not None and (variants["variant"] != "-").any():
        click.echo("variants:")
        _echo_table(variants, max_rows=None)
    schedule = estimate.attrs.get("schedule")
    if schedule is not None and len(schedule):
        click.echo(f"sendable now: {summary['sendable_now']}; the rest when their window opens:")
        _echo_table(schedule, max_rows=10)


def _not_sent(
    frame: pd.DataFrame, contacts: pd.DataFrame, column: str, template: str | dict[str, str]
) -> pd.DataFrame:
    """The rows not sent, named by file line, with the name column next to the phone."""
    from .planning import parse_template, row_names, template_fields

    lowered = {str(c).strip().lower(): c for c in contacts.columns if c != column}
    name = next((lowered[a] for a in _NAME_COLUMNS if a in lowered), None)
    if name is None:
        texts = template.values() if isinstance(template, dict) else [template]
        fields = [f for t in texts for f in template_fields(parse_template(t))]
        name = next((f for f in fields if f in contacts.columns and f != column), None)
    table = frame[[column]].copy()
    table.insert(0, "where", row_names(frame))  # the subset keeps the file's line numbers
    if name is not None:
        table[name] = frame[name]
    for extra in ("outcome", "error_code", "error_text"):
        table[extra] = frame[extra]
    return table


def _statuses_table(statuses: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in _STATUS_COLUMNS if c in statuses.columns]
    if "error_code" in statuses.columns and statuses["error_code"].notna().any():
        columns.append("error_code")
    return statuses[columns]


def _summary_text(statuses: pd.DataFrame) -> str:
    final = int(statuses.drop_duplicates("sms_id")["is_final"].sum())
    total = int(statuses["sms_id"].nunique())
    states = statuses["state"].astype(object).fillna("fetch failed")
    return f"{final} of {total} final; states: {_counts_line(states)}"


# ---------------------------------------------------------------- the group


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    metavar="PATH|URL",
    default=None,
    help="Journal: a SQLite file, or postgresql://user@host:port/db for a team's store. "
    "Default: $TARGETSMS_STORE (a .env file counts), else a file in the user data dir. "
    "Give it before the command: targetsms --store URL campaign list.",
)
@click.option("-v", "--verbose", count=True, help="Log more: -v retries and answers, -vv HTTP.")
@click.version_option(package_name="targetsms-analytics", prog_name="targetsms")
@click.pass_context
def cli(ctx: click.Context, store: str | None, verbose: int) -> None:
    """Send SMS campaigns through TargetSMS and report on delivery and cost.

    Credentials: TARGETSMS_USER, TARGETSMS_PASSWORD and optional TARGETSMS_URL, in the environment
    or a .env file. Try `targetsms demo` first: it needs none.
    """
    ctx.call_on_close(_setup_logging(verbose))
    ctx.ensure_object(dict)
    ctx.obj["store"] = store
    ctx.obj["verbose"] = verbose


# ---------------------------------------------------------------- single commands


@cli.command(short_help="Send one text to one or several phones.")
@click.option("--sender", required=True, help="Sender name (up to 11 letters, or 15 digits).")
@click.option("--text", required=True, callback=_valid_text, help="Message text.")
@click.option(
    "--campaign",
    default=None,
    help="Journal name for this send (default: derived from sender, text and phones, so the "
    "same command run twice does not send twice).",
)
@click.argument("phones", nargs=-1, required=True)
@click.pass_context
def send(ctx: click.Context, sender: str, text: str, campaign: str | None, phones: tuple) -> None:
    """Send one text to the phones given; print an SMS id per phone."""
    from .campaign import send_campaign

    client = _client()
    contacts = pd.DataFrame({"phone": pd.Series(list(phones), dtype=object)})
    result = send_campaign(
        client, contacts, text, sender, campaign=campaign, store=_store(ctx), progress=False
    )
    columns = ["phone", "msisdn", "sms_id", "outcome", "error_code"]
    if result["error_text"].notna().any():
        columns.append("error_text")
    shown = result[columns]
    _echo_table(shown, max_rows=None)
    name = result.attrs.get("campaign")
    summary = result.attrs.get("summary", {})
    click.echo(f"campaign {name}: {_counts_line(result['outcome'])}")
    if summary.get("requests", 0) == 0 and (result["outcome"] == "sent").any():
        click.echo(
            "nothing new was sent: these recipients already have a record in this campaign "
            "(pass --campaign NEW to send again on purpose)",
            err=True,
        )
    if not result["outcome"].isin(["sent", "queued"]).any():
        raise click.exceptions.Exit(EXIT_SERVICE)


@cli.command(short_help="Detailed statuses of SMS ids, or of a campaign.")
@click.argument("ids", nargs=-1)
@click.option("--campaign", default=None, help="Every SMS of this journal campaign.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.pass_context
def status(ctx: click.Context, ids: tuple, campaign: str | None, concurrency: int) -> None:
    """Show the detailed status of SMS ids, or of every SMS of a campaign."""
    from .statuses import fetch_statuses

    if bool(ids) == bool(campaign):
        raise click.UsageError("give SMS ids or --campaign NAME (one of the two)")
    bad = [i for i in ids if not i.isdigit()]
    if bad:
        raise click.BadParameter(f"SMS ids are digits, not {bad[0]!r}", param_hint="IDS")
    client = _client()
    statuses = fetch_statuses(
        client,
        campaign if campaign else list(ids),
        store=_store(ctx),
        concurrency=concurrency,
        progress=_progress(),
    )
    _echo_table(_statuses_table(statuses))
    click.echo(_summary_text(statuses))
    failed = statuses["error_code"].notna()
    if len(statuses) and failed.all():
        first = statuses.loc[failed, "error_code"].iloc[0]
        _fail(f"error {first}: no status could be fetched (see the warnings above)", EXIT_SERVICE)


@cli.command(short_help="Money and SMS left per direction (saves a snapshot).")
@click.pass_context
def balance(ctx: click.Context) -> None:
    """Show the money balance and SMS left per direction; save a snapshot to the journal."""
    from .analytics import packages_frame
    from .balances import snapshot_balance
    from .journal import Journal

    client = _client()
    with Journal(_store(ctx)) as journal:
        current = snapshot_balance(client, store=journal)
        where = journal.path
    click.echo(f"balance: {current.amount:.2f} {current.currency}")
    packages = packages_frame(current)
    if len(packages):
        _echo_table(packages, max_rows=None)
    click.echo(f"snapshot saved to {where}", err=True)


# ---------------------------------------------------------------- campaign


@cli.group(cls=_Group, short_help="Send a CSV campaign, refresh it, report on it.")
def campaign() -> None:
    """Send a campaign from a CSV, refresh its statuses, and report on it."""


@campaign.command("list", short_help="Every campaign in the store: who sent it, when, outcomes.")
@click.pass_context
def campaign_list(ctx: click.Context) -> None:
    """List every campaign of every account in the store, with who sent it (OS user@host), when,
    and how many recipients ended in each outcome: recipients the journal holds, one per
    number (invalid numbers and repeated rows never reach it: the send's result lists them)."""
    from .store import campaigns

    frame = campaigns(_store(ctx))
    if frame.empty:
        click.echo(f"no campaigns in the store {frame.attrs['store']}", err=True)
        return
    columns = ["campaign", "account", "sent_by", "first_run_at", "last_run_at", "messages",
               "sent", "queued", "rejected", "duplicate", "unknown", "scheduled", "holdout",
               "pending", "inflight"]  # fmt: skip
    shown = frame[columns].copy()
    for col in ("first_run_at", "last_run_at"):
        shown[col] = shown[col].dt.strftime("%Y-%m-%d %H:%M").fillna("—")
    shown["sent_by"] = shown["sent_by"].replace("", "—")
    _echo_table(shown, max_rows=None)


@campaign.command("send", short_help="Send a personalised campaign from a CSV.")
@click.argument("csv_file", metavar="CSV", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--text",
    default=None,
    callback=_valid_text,
    help='Template over the CSV columns: "Привет, {name|друзья}!".',
)
@click.option("--sender", required=True, help="Sender name (up to 11 letters, or 15 digits).")
@click.option("--campaign", "name", required=True, help="Campaign name in the journal.")
@click.option(
    "--variant",
    "variants",
    multiple=True,
    metavar="NAME=TEXT",
    callback=lambda ctx, param, values: tuple(_valid_text(ctx, param, v) for v in values),
    help="An A/B variant (repeat it; instead of --text).",
)
@click.option("--holdout", type=float, default=0.0, help="Share never sent (control): 0.1 = 10%.")
@click.option("--seed", default=None, help="Seed of the stable A/B/holdout assignment.")
@click.option("--window", default=None, metavar="HH:MM-HH:MM", help="Local send window.")
@click.option("--wait", "wait_window", is_flag=True, help="Keep running until all are sent.")
@click.option(
    "--until", default=None, metavar="ISO-TIME", help="With --wait: stop waiting then (local)."
)
@click.option("--max-per-minute", type=float, default=None, help="Rate cap: SMS per minute.")
@click.option("--max-parts", type=int, default=10, show_default=True, help="SMS parts per text.")
@click.option(
    "--phone-column", default=None, help="Column with the phones (default: phone, телефон…)."
)
@click.option("--estimate-only", is_flag=True, help="Show the estimate; send nothing.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--result",
    "result_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the per-row result (or estimate) to this CSV, with the input's separator and "
    "encoding (Excel opens it as it opened the input).",
)
@click.option(
    "--sep",
    type=click.Choice([",", ";", "tab"]),
    default=None,
    help="Separator of the --result file (default: the input's).",
)
@click.option(
    "--encoding",
    "result_encoding",
    default=None,
    callback=lambda _ctx, _param, value: _valid_encoding(value),
    help="Encoding of the --result file, e.g. utf-8 or cp1251 (default: the input's).",
)
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Send without asking (needed when stdin is not a terminal and the service is real).",
)
@click.pass_context
def campaign_send(
    ctx: click.Context,
    csv_file: str,
    text: str,
    sender: str,
    name: str,
    phone_column: str | None,
    estimate_only: bool,
    concurrency: int,
    result_path: str | None,
    variants: tuple[str, ...],
    holdout: float,
    seed: str | None,
    window: str | None,
    wait_window: bool,
    until: str | None,
    max_per_minute: float | None,
    max_parts: int,
    sep: str | None,
    result_encoding: str | None,
    yes: bool,
) -> None:
    """Send a personalised campaign to the rows of a CSV (cp1251 or UTF-8, ';' or ',').

    On the real service (any URL that is not loopback) the estimate is shown and a terminal is
    asked to confirm; --yes skips the question, and is required when stdin is not a terminal.
    Exit code 3 when some recipients ended unknown (their answer was lost).
    """
    from .campaign import estimate_campaign, send_campaign
    from .reports import estimate_lines

    def write_result(frame: pd.DataFrame) -> None:
        if result_path:
            _write_result_csv(frame, result_path, contacts.attrs, sep, result_encoding)

    template = _templates(text, variants)
    deadline = _until(until)
    plan_options = {"holdout": holdout, "seed": seed, "window": window, "max_parts": max_parts}
    contacts, column = _read_csv(csv_file, phone_column)
    click.echo(
        f"{csv_file}: {len(contacts)} rows ({contacts.attrs['encoding']}, "
        f"separator {contacts.attrs['separator']!r}), phone column {column!r}"
    )
    client = None if estimate_only else _client()
    estimate = estimate_campaign(
        contacts,
        template,
        phone_column=column,
        sender=sender,
        client=client,
        campaign=name,
        **plan_options,
    )
    click.echo("estimate:")
    for line in estimate_lines(estimate.attrs["summary"]):
        click.echo(line)
    _echo_plan(estimate)
    problems = estimate[~estimate["outcome"].isin(["ready", "scheduled", "holdout"])]
    if len(problems):
        click.echo(f"not to be sent ({len(problems)}):")
        _echo_table(_not_sent(problems, contacts, column, template), max_rows=20)
    if estimate_only:
        write_result(estimate)
        return
    if not yes and not _is_loopback_url(client.url):
        _confirm_real_send(estimate.attrs["summary"], client.url)
    try:
        result = send_campaign(
            client,
            contacts,
            template,
            sender,
            phone_column=column,
            campaign=name,
            store=_store(ctx),
            concurrency=concurrency,
            progress=_progress(),
            wait=wait_window,
            until=deadline,
            max_per_minute=max_per_minute,
            **plan_options,
        )
    except KeyboardInterrupt:  # (the requests under way were answered and journaled first)
        click.echo(
            f"interrupted: campaign {name} stopped; every request that went out is journaled. "
            "Run the same command again to send the rest: nobody is sent twice "
            f"(see `targetsms campaign report --campaign {name}`).",
            err=True,
        )
        raise SystemExit(130) from None
    write_result(result)
    summary = result.attrs.get("summary", {})
    click.echo(
        f"campaign {name}: {_counts_line(result['outcome'])} "
        f"({summary.get('requests', 0)} requests)"
    )
    failed = result[~result["outcome"].isin(["sent", "invalid", "duplicate", "holdout"])]
    if len(failed):
        _echo_table(_not_sent(failed, contacts, column, template), max_rows=20)
    scheduled = result.loc[result["outcome"] == "scheduled", "not_before"]
    if len(scheduled):
        click.echo(
            f"{len(scheduled)} scheduled for their send window: run the same command again from "
            f"{scheduled.min():%Y-%m-%d %H:%M} UTC (or add --wait)",
            err=True,
        )
    unknown = int((result["outcome"] == "unknown").sum())
    if unknown:
        _fail(
            f"{unknown} recipient(s) ended unknown: the request may have reached the service but "
            "its answer was lost, so they may have the SMS. Do not send again under a new "
            f"campaign name: wait a minute, run `targetsms campaign refresh --campaign {name}`, "
            "then resend or mark them (`targetsms campaign resend-unknown` or `campaign mark`;"
            " ts.resend_unknown / ts.mark_outcome in Python)",
            EXIT_UNKNOWN,
        )
    click.echo(f"next: targetsms campaign refresh --campaign {name}", err=True)


def _is_loopback_url(url: str) -> bool:
    """True for the emulator and anything else on this machine (no real SMS, no money)."""
    from urllib3.util import parse_url

    from .client import _is_loopback

    try:  # read as the client reads it: urllib3's parser is the one that connects
        return _is_loopback(parse_url(url).host)
    except ValueError:  # urllib3's LocationParseError is a ValueError
        return False


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _confirm_real_send(summary: dict[str, Any], url: str) -> None:
    """Ask a terminal before real SMS go out; without a terminal, demand --yes (exit 2)."""
    recipients, cost = summary.get("recipients", 0), summary.get("expected_cost", 0.0)
    if not _stdin_is_terminal():
        _fail(
            f"campaign send to the real service ({url}) needs --yes when stdin is not a "
            "terminal: check the estimate above (or run with --estimate-only), then add --yes",
            EXIT_INPUT,
        )
    from .reports import currency_sign

    sign = currency_sign(summary.get("currency"))
    question = f"Send {recipients} SMS for about {cost:.2f} {sign} through {url}?"
    if not click.confirm(question, default=False, err=True):
        _fail("not confirmed: nothing sent", EXIT_SERVICE)  # like click's "Aborted!"


def _valid_encoding(name: str | None) -> str | None:
    """The codec's canonical name (``cp1251``, ``utf-8``); an unknown one is bad input, exit 2."""
    import codecs

    if name is None:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(
            "bad_encoding", f"unknown encoding {name!r} (try utf-8 or cp1251)", field="encoding"
        ) from None


#: ``--sep`` names a tab as ``tab``.
_SEPARATORS = {",": ",", ";": ";", "tab": "\t"}


def _write_result_csv(
    frame: pd.DataFrame,
    path: str,
    source: dict[str, Any],
    sep: str | None,
    encoding: str | None,
) -> None:
    """``frame`` as CSV with the input's separator and encoding unless ``--sep``/``--encoding``.

    UTF-8 gets a BOM (Excel needs it to show Cyrillic); characters the encoding cannot hold (an
    emoji in a cp1251 file) become ``?`` rather than failing after the send.
    """
    separator = _SEPARATORS[sep] if sep else str(source.get("separator") or ",")
    codec = _valid_encoding(encoding or str(source.get("encoding") or "utf-8"))
    if codec == "utf-8":
        codec = "utf-8-sig"
    frame.to_csv(
        path, index=False, sep=separator, encoding=codec, errors="replace", float_format="%.10g"
    )


_ACCOUNT_HELP = (
    "The campaign's account, user@host[:port], when several accounts have a campaign of this name."
)


@campaign.command("refresh", short_help="Fetch the statuses that are not final yet.")
@click.option("--campaign", "name", required=True, help="Campaign name in the journal.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=None,
    help="Keep refreshing at the allowed pace until every status is final or SECONDS pass.",
)
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--account", default=None, help=_ACCOUNT_HELP)
@click.pass_context
def campaign_refresh(
    ctx: click.Context, name: str, wait: float | None, concurrency: int, account: str | None
) -> None:
    """Fetch the campaign's statuses that are not final yet into the journal."""
    from .statuses import fetch_statuses, wait_for_final

    client = _client()
    if wait is None:
        statuses = fetch_statuses(
            client,
            name,
            store=_store(ctx),
            concurrency=concurrency,
            progress=_progress(),
            account=account,
        )
    else:
        statuses = wait_for_final(
            client,
            name,
            store=_store(ctx),
            timeout=wait,
            concurrency=concurrency,
            progress=_progress(),
            account=account,
        )
    click.echo(f"campaign {name}: {_summary_text(statuses)}")
    errors = statuses["error_code"].dropna()
    if len(errors):
        click.echo(f"failed to fetch {len(errors)}: {_counts_line(errors)}", err=True)


@campaign.command("mark", short_help="Record what you found out about unknown recipients.")
@click.option("--campaign", "name", required=True, help="Campaign name in the journal.")
@click.option(
    "--outcome",
    type=click.Choice(["sent", "rejected", "pending"]),
    required=True,
    help="sent: it arrived; rejected: it did not, and must not be sent again; pending: it did "
    "not, and the next `campaign send` of this campaign sends it.",
)
@click.option("--note", default=None, help="What you found out (kept as the error text).")
@click.option("--account", default=None, help=_ACCOUNT_HELP)
@click.argument("phones", nargs=-1, required=True)
@click.pass_context
def campaign_mark(
    ctx: click.Context,
    name: str,
    outcome: str,
    note: str | None,
    account: str | None,
    phones: tuple[str, ...],
) -> None:
    """Mark unknown recipients (PHONE..., any format) as sent, rejected or pending once you know
    what became of them (the provider's panel, the recipient): only unknown ones change."""
    from .campaign import mark_outcome

    changed = mark_outcome(name, phones, outcome, store=_store(ctx), note=note, account=account)
    click.echo(f"campaign {name}: {len(changed)} recipient(s) marked {outcome}")
    if len(changed) < len(set(phones)):
        click.echo("the others were not unknown: left as they are", err=True)


@campaign.command("resend-unknown", short_help="Send the unknown recipients again.")
@click.option("--campaign", "name", required=True, help="Campaign name in the journal.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--yes", is_flag=True, help="Do not ask before sending to the real service.")
@click.argument("phones", nargs=-1)
@click.pass_context
def campaign_resend_unknown(
    ctx: click.Context, name: str, concurrency: int, yes: bool, phones: tuple[str, ...]
) -> None:
    """Send again the campaign's unknown recipients (or only PHONE...), once you checked they
    got nothing: each lost request is repeated exactly as it was, so within the service's
    identical-request interval the service refuses it if the first one arrived."""
    from .campaign import resend_unknown

    client = _client()
    if not yes and not _is_loopback_url(client.url):
        click.confirm(
            f"send the unknown recipients of campaign {name} again, for real, on {client.url}?",
            abort=True,
        )
    rows = resend_unknown(
        client, name, msisdns=list(phones) or None, store=_store(ctx),
        concurrency=concurrency, progress=_progress(),
    )  # fmt: skip
    if rows.empty:
        click.echo(f"campaign {name}: no unknown recipients to send again", err=True)
        return
    click.echo(f"campaign {name}: {_counts_line(rows['outcome'])}")


def _write_report_json(report: pd.DataFrame, path: str) -> None:
    frame = report.copy()
    for column in frame.columns:
        if frame[column].dtype == object or isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].map(
                lambda v: v.isoformat() if hasattr(v, "isoformat") else v
            )
    Path(path).write_text(
        frame.to_json(orient="records", force_ascii=False, indent=2, date_format="iso") + "\n",
        encoding="utf-8",
    )


def _report_by(statuses: pd.DataFrame, by: str | None) -> list[str]:
    """``--by`` as a list of columns (``operator,hour``); bad input when one cannot be had."""
    from .analytics import _key_column

    if not by:
        return []
    keys = [k.strip() for k in by.split(",") if k.strip()]
    for key in keys:
        try:
            _key_column(statuses.head(1), key)
        except (KeyError, ValueError) as exc:
            contact = [c for c in statuses.columns if c not in _NOT_GROUPS]
            have = ", ".join(dict.fromkeys([*_REPORT_BY, *contact]))
            raise InputError(
                "bad_grouping",
                f"cannot group by {key!r} ({str(exc).strip(chr(34) + chr(39))}); "
                f"try one of: {have}",
                field="by",
            ) from None
    return keys


def _journal_statuses(
    journal: Any, names: Sequence[str], account: str | None = None
) -> pd.DataFrame:
    from .statuses import load_statuses

    frames = []
    for name in names:
        statuses = load_statuses(name, store=journal, account=account)
        if statuses.empty:
            raise InputError(
                "no_messages", f"campaign {name!r} has no sent SMS in the journal", field="campaign"
            )
        frames.append(statuses)
    return pd.concat(frames, ignore_index=True)


@campaign.command("report", short_help="Delivery, cost and latency, from the journal.")
@click.option("--campaign", "name", required=True, help="Campaign name in the journal.")
@click.option(
    "--by",
    default=None,
    metavar="COLUMN[,COLUMN]",
    help="Group the report (plus a total): operator, date, region, time_zone, hour, variant, "
    "campaign, sender or any contact column (segment, city…); several with commas.",
)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the report as CSV.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write it as JSON.")
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Write an HTML report with plots."
)
@click.option("--account", default=None, help=_ACCOUNT_HELP)
@click.pass_context
def campaign_report(
    ctx: click.Context,
    name: str,
    by: str | None,
    csv_path: str | None,
    json_path: str | None,
    html_path: str | None,
    account: str | None,
) -> None:
    """Delivery, cost and latency of a campaign, from the journal (no request made)."""
    from .contacts import write_frame_csv
    from .journal import open_journal
    from .reports import display_frame, report_with_total, terminal_report
    from .spending import reconcile_spend

    with open_journal(_store(ctx), readonly=True) as journal:  # a report only reads
        statuses = _journal_statuses(journal, [name], account)
        account = journal.resolve_account(name, account)
        snapshots = journal.balance_snapshots(account=account)
        history = journal.package_history(account=account)
        reconciliation = reconcile_spend(journal, account=account)
    keys = _report_by(statuses, by)
    report = report_with_total(statuses, keys or None)
    _echo_table(display_frame(terminal_report(report)))
    pending = int((statuses["state"] == "send").sum())
    if pending:
        click.echo(
            f"{pending} SMS not final yet: run `targetsms campaign refresh --campaign {name}`",
            err=True,
        )
    if csv_path:
        write_frame_csv(report, csv_path)
        click.echo(f"wrote {csv_path}", err=True)
    if json_path:
        _write_report_json(report, json_path)
        click.echo(f"wrote {json_path}", err=True)
    if html_path:
        _write_report_html(
            name, statuses, keys or ["operator"], snapshots, history, reconciliation, html_path
        )
        click.echo(f"wrote {html_path}", err=True)


def _write_report_html(
    name: str,
    statuses: pd.DataFrame,
    by: list[str],
    snapshots: pd.DataFrame,
    history: pd.DataFrame,
    reconciliation: pd.DataFrame,
    path: str,
) -> None:
    from .reports import build_report

    latest = None
    if len(history):
        last = history["taken_at"].max()
        latest = history.loc[history["taken_at"] == last, ["direction", "remaining"]]
    if len(reconciliation) and "sent_at" in statuses.columns:
        # only the periods this campaign sent in
        days = pd.to_datetime(statuses["sent_at"], utc=True).dt.tz_convert("Europe/Moscow")
        wanted = set(days.dt.strftime("%Y-%m-%d").dropna())
        mask = reconciliation["period"].dt.strftime("%Y-%m-%d").isin(wanted)
        reconciliation = reconciliation[mask].reset_index(drop=True)
    report = build_report(
        statuses,
        by=by,
        balance=latest,
        snapshots=snapshots if len(snapshots) else None,
        reconciliation=reconciliation,
    )
    notes = [
        f"Campaign {name!r}: {statuses['sms_id'].nunique()} SMS; {_summary_text(statuses)}.",
        f"From the journal, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
    ]
    Path(path).write_text(report.html(f"Campaign {name}", notes), encoding="utf-8")


@campaign.command(
    "compare", short_help="Compare delivery of campaigns, or of variants, with a test."
)
@click.argument("names", nargs=-1, required=True, metavar="CAMPAIGN [CAMPAIGN…]")
@click.option(
    "--by",
    default="campaign",
    show_default=True,
    help="Compare by this column (variant, operator, segment…) across the named campaigns.",
)
@click.option(
    "--baseline", default=None, help="The group the others are compared with (default: the first)."
)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the table as CSV.")
@click.option("--account", default=None, help=_ACCOUNT_HELP)
@click.pass_context
def campaign_compare(
    ctx: click.Context,
    names: tuple,
    by: str,
    baseline: str | None,
    csv_path: str | None,
    account: str | None,
) -> None:
    """Delivery rate of each campaign (or variant) against the first, with a 95 % interval and
    a p-value (two-proportion z-test; unreliable for groups of a few messages)."""
    from .contacts import write_frame_csv
    from .insight import compare
    from .journal import open_journal
    from .reports import display_frame

    if by == "campaign" and len(names) < 2:
        raise InputError("bad_input", "name two campaigns or more to compare", field="campaign")
    with open_journal(_store(ctx), readonly=True) as journal:
        statuses = _journal_statuses(journal, list(dict.fromkeys(names)), account)
    keys = _report_by(statuses, by)
    if baseline is None and keys == ["campaign"]:
        baseline = names[0]
    table = compare(statuses, by=keys, baseline=baseline)
    _echo_table(display_frame(table))
    for _, row in table[~table["baseline"]].iterrows():  # by key: a column may be `my seg`
        label = " · ".join(str(row[k]) for k in keys) if len(keys) > 1 else row[keys[0]]
        p_value, diff, low, high = (row[c] for c in ("p_value", "diff", "diff_low", "diff_high"))
        if pd.isna(p_value):
            continue
        verdict = "a real difference" if p_value < 0.05 else "may be noise"
        click.echo(
            f"{label}: {diff * 100:+.1f} pp ({low * 100:+.1f} to "
            f"{high * 100:+.1f}), p = {p_value:.3f}: {verdict}"
        )
    if csv_path:
        write_frame_csv(table, csv_path)
        click.echo(f"wrote {csv_path}", err=True)


@cli.command(short_help="Spend by statuses against the balance snapshots, per day or week.")
@click.option(
    "--freq",
    default="D",
    show_default=True,
    help="Period: D (day), W (week), M (month), or any pandas frequency.",
)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the table as CSV.")
@click.option("--account", default=None, help=_ACCOUNT_HELP)
@click.pass_context
def spend(ctx: click.Context, freq: str, csv_path: str | None, account: str | None) -> None:
    """What the statuses say was spent against what left the balance, from the journal.

    Needs balance snapshots before and after the sends (`targetsms balance` takes one).
    """
    from .contacts import write_frame_csv
    from .reports import MONEY_SENTENCE, display_frame
    from .spending import reconcile_spend

    table = reconcile_spend(_store(ctx), account=account, freq=freq)
    if table.empty:
        click.echo(
            "no spend to reconcile: the journal needs two balance snapshots or more, one before "
            "and one after sending (`targetsms balance` takes one)"
        )
        return
    _echo_table(display_frame(table))
    click.echo(MONEY_SENTENCE)
    flagged = int(table["mismatch"].sum())
    if flagged:
        click.echo(f"{flagged} period(s) do not add up: see the note column", err=True)
    if csv_path:
        write_frame_csv(table, csv_path)
        click.echo(f"wrote {csv_path}", err=True)


# ---------------------------------------------------------------- numbering plan


@cli.group(
    "numbering", cls=_Group, short_help="The numbering plan table: operator, region, time zone."
)
def numbering_group() -> None:
    """The Russian numbering plan table behind operators, regions and time zones of numbers.

    A table built from the regulator's registry ships with the package; `numbering update` builds
    your own from a newer registry file (DEF-9xx.csv, the same format), used from then on.
    """


@numbering_group.command("update", short_help="Rebuild the table from a newer DEF-9xx.csv file.")
@click.argument("registry_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--date",
    "registry_date",
    default=None,
    help="The registry's date, e.g. 2024-05-01 (default: the file's modification date).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Take a file with far fewer ranges than the shipped table (an extract, not the registry).",
)
def numbering_update(registry_file: Path, registry_date: str | None, force: bool) -> None:
    """Rebuild the operator/region/time-zone table from REGISTRY_FILE (the regulator's
    DEF-9xx.csv: `;`-separated, UTF-8 or cp1251). The new table goes to the user data dir (or
    $TARGETSMS_NUMBERING); a file that cannot be read or checked leaves the table as it was."""
    import hashlib

    from . import numbering

    raw = registry_file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1251")
        except UnicodeDecodeError:
            raise InputError("bad_registry", f"{registry_file}: not UTF-8 or cp1251 text") from None
    registry = numbering.parse_registry(text, source=str(registry_file))
    table = numbering.build_table(registry)
    shipped = numbering.shipped_range_count()
    if len(table) < shipped // 2 and not force:
        raise InputError(
            "bad_registry",
            f"{registry_file}: {len(table)} ranges, the shipped table has {shipped}: this looks "
            "like an extract, and every other number would look up as unknown (--force to take it)",
        )
    dated = "given" if registry_date is not None else "the file's modification date"
    if registry_date is None:
        registry_date = datetime.fromtimestamp(registry_file.stat().st_mtime).date().isoformat()
    source = f"{registry_file.name} sha256:{hashlib.sha256(raw).hexdigest()}"
    data = numbering.table_bytes(table, registry_date=registry_date, source=source)
    target = numbering.user_table_path()
    _replace_atomically(target, data, check=lambda path: numbering.read_table(path.read_bytes()))
    unzoned = sorted(set(table.loc[table["time_zone"].isna(), "region"].dropna()))
    click.echo(
        f"numbering table: {len(table)} ranges, {table['operator'].nunique()} operators, "
        f"registry {registry_date} ({dated}), from {registry_file} -> {target}"
    )
    if set(unzoned) - {"Российская Федерация"}:
        click.echo(f"regions without a known time zone (lookups give none): {', '.join(unzoned)}")


@numbering_group.command("info", short_help="Which numbering table is in use, and its date.")
def numbering_info() -> None:
    """Show the registry date, source and path of the table lookups use."""
    from .numbering import table_info

    for key, value in table_info().items():
        click.echo(f"{key}: {value}")


def _replace_atomically(target: Path, data: bytes, *, check: Callable[[Path], object]) -> None:
    """Write ``data`` next to ``target``, ``check`` it read back, then rename it over ``target``."""
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        check(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- emulator and demo


@cli.command(short_help="Run the TargetSMS emulator on 127.0.0.1.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--fast",
    is_flag=True,
    help="The demo's preset: lifecycles ×100, a 2 s identical-request interval (the options "
    "below still win).",
)
@click.option(
    "--speed",
    default=None,
    type=float,
    help="Virtual-time factor of lifecycles.  [default: 1, --fast: 100]",
)
@click.option(
    "--throttle-interval",
    default=None,
    type=click.FloatRange(min=0),
    help="Seconds within which an identical request is refused.  [default: 60, --fast: 2]",
)
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds per request.",
)
@click.option("--seed", default=None, type=int, help="Random seed for outcomes.  [default: 0]")
def emulator(
    port: int,
    fast: bool,
    speed: float | None,
    throttle_interval: float | None,
    latency: float,
    seed: int | None,
) -> None:
    """Run a TargetSMS-compatible server on 127.0.0.1 until Ctrl-C (user demo, password demo).

    Real time and the service's 60 s identical-request interval by default; --fast runs as the
    demo does (statuses final within seconds, `campaign refresh --wait` quick).
    """
    from .connect import DEMO_EMULATOR
    from .emulator import serve

    options: dict[str, Any] = dict(DEMO_EMULATOR) if fast else {"speed": 1.0, "seed": 0}
    options.setdefault("throttle_interval", 60.0)
    given = {"speed": speed, "throttle_interval": throttle_interval, "seed": seed}
    options.update({key: value for key, value in given.items() if value is not None})
    try:
        serve(port, latency=latency, **options)
    except OSError as exc:  # the port is taken, or not ours to take
        _fail(
            f"error emulator: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
            "pick another --port (0 takes any free one)",
            EXIT_INPUT,
        )


@cli.command(short_help="A whole campaign against a built-in emulator.")
@click.option(
    "--out",
    "out_dir",
    default="targetsms-demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Directory for the report, CSVs, plots and the demo's journal.",
)
@click.pass_context
def demo(ctx: click.Context, out_dir: str) -> None:
    """Run a whole campaign against a built-in emulator: no credentials, no network."""
    from .demo import run_demo

    run_demo(
        out_dir,
        echo=click.echo,
        progress=True,
        quiet_logs=ctx.find_root().obj["verbose"] == 0,
    )


# ---------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> None:
    """The ``targetsms`` console script.

    Example: ``main(["balance"])`` (exits with the command's code, like the script).
    """
    cli.main(args=list(argv) if argv is not None else None, prog_name="targetsms")
