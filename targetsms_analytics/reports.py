"""The campaign report, built once for the CLI (``campaign report --html``), the demo and the dashboard.

Presentation: takes frames that were read or fetched elsewhere (statuses, the campaign result,
balances, the reconciliation) and decides what people see: a headline row, alerts in plain
words, tables with one vocabulary (state labels, units in the headers, ₽ as the one currency
sign, times in Moscow time with the zone named) and the figures. :func:`build_report` returns a
:class:`Report`; ``report.html(title)`` renders it with a glossary.

Example::

    from targetsms_analytics.reports import build_report

    report = build_report(statuses, by="operator", result=result,
                          snapshots=journal.balance_snapshots())
    print(report.headline)
    print("\\n".join(report.alerts))
    Path("spring.html").write_text(report.html("Spring campaign"), encoding="utf-8")
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .groupings import SERVICE_TZ

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CURRENCY",
    "GLOSSARY",
    "MONEY_SENTENCE",
    "STATE_LABELS",
    "Report",
    "alerts",
    "build_report",
    "display_frame",
    "estimate_lines",
    "headline",
    "money",
    "report_with_total",
    "terminal_report",
]

#: The one currency sign of every report, table header and plot (TargetSMS bills in roubles).
CURRENCY = "₽"

#: What people read for each API state (tables, legends and the glossary use these).
STATE_LABELS: dict[str, str] = {
    "deliver": "delivered",
    "not_deliver": "not delivered",
    "expired": "expired",
    "partly_deliver": "partly delivered",
    "send": "pending",
    "failed_fetch": "fetch failed",
}

#: Estimate, cost and spent side by side, in one sentence.
MONEY_SENTENCE = (
    "Estimate = the list price of what would be sent, before sending; cost = parts × price of "
    "the SMS the service accepted (from their statuses); spent = what left the money balance "
    "between two balance snapshots, which is less than the cost when prepaid SMS packages paid "
    "for part of it."
)

#: The glossary at the end of the HTML report.
GLOSSARY: dict[str, str] = {
    "delivered": "the operator confirmed delivery (API state deliver)",
    "not delivered": "the operator could not deliver it (not_deliver)",
    "expired": "the phone was unreachable until the SMS expired (expired)",
    "partly delivered": "only some parts of a long SMS arrived (partly_deliver)",
    "pending": "sent, no final status yet (send)",
    "fetch failed": "the status could not be fetched (see error_code)",
    "final": "delivered, not delivered, expired or partly delivered",
    "delivery rate": "delivered ÷ final messages; pending ones do not count",
    "95 % interval": "Wilson score interval: the rate is in this range with 95 % confidence",
    "difference, pp": "a group's delivery rate minus the baseline's, in percentage points",
    "p-value": (
        "two-proportion z-test: the chance of a difference at least this large if both groups "
        "had the same rate; below 0.05 it is unlikely to be noise (unreliable for tiny groups)"
    ),
    "cost": "parts × price per part of the SMS the service accepted, in ₽",
    "cost per delivered": "cost of the final messages ÷ delivered messages, in ₽",
    "paid from packages": "prepaid SMS parts used, valued at the mean price per part (estimate)",
    "spent": "how much the money balance fell between snapshots; rises are top-ups",
    "latency": "seconds from sending to the final status",
    "hour": "local hour of sending in the recipient's time zone (Moscow when unknown)",
    "MSK": "Moscow time (UTC+3), the service's clock; every time in this report is in it",
}

#: Display names (with units) of the raw columns; columns not listed keep their name.
_COLUMN_LABELS: dict[str, str] = {
    **STATE_LABELS,
    "delivery_rate": "delivery rate",
    "delivery_rate_low": "rate low (95 %)",
    "delivery_rate_high": "rate high (95 %)",
    "pending_share": "pending share",
    "failure_rate": "failure rate",
    "parts": "SMS parts",
    "cost": f"cost, {CURRENCY}",
    "price": f"price per part, {CURRENCY}",
    "cost_per_delivered": f"cost per delivered, {CURRENCY}",
    "cost_per_delivered_diff": f"cost per delivered vs baseline, {CURRENCY}",
    "failed_cost": f"cost of failures, {CURRENCY}",
    "latency_p50_s": "latency p50, s",
    "latency_p90_s": "latency p90, s",
    "latency_p99_s": "latency p99, s",
    "diff": "difference, pp",
    "diff_low": "difference low (95 %), pp",
    "diff_high": "difference high (95 %), pp",
    "p_value": "p-value",
    "amount": f"balance, {CURRENCY}",
    "amount_before": f"balance before, {CURRENCY}",
    "amount_after": f"balance after, {CURRENCY}",
    "spent": f"spent, {CURRENCY}",
    "topped_up": f"topped up, {CURRENCY}",
    "cost_by_statuses": f"cost by statuses, {CURRENCY}",
    "parts_from_packages": "parts from packages",
    "paid_from_packages": f"paid from packages (est.), {CURRENCY}",
    "expected_spend": f"expected from money, {CURRENCY}",
    "spend_by_balance": f"spent from balance, {CURRENCY}",
    "top_ups": f"top-ups, {CURRENCY}",
    "difference": f"difference, {CURRENCY}",
    "taken_at": "taken at",
    "changed_at": "changed at",
    "sent_at": "sent at",
    "from": "from",
    "to": "to",
    "time_zone": "time zone",
    "error_code": "error code",
    "error_text": "error",
    "unbracketed": "outside snapshots",
}
_MONEY = frozenset(c for c, label in _COLUMN_LABELS.items() if label.endswith(f", {CURRENCY}"))
_POINTS = frozenset({"diff", "diff_low", "diff_high"})
_SHARES = frozenset(
    {"delivery_rate", "delivery_rate_low", "delivery_rate_high", "pending_share", "failure_rate"}
)
#: Currency codes the service and the journal use for roubles.
_ROUBLES = frozenset({"RUR", "RUB", "₽", "РУБ", "РУБ."})
_NIGHT = frozenset({21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7})


# ---------------------------------------------------------------- formatting


def money(value: float | None, sign: str = CURRENCY) -> str:
    """``1234.5 -> '1 234.50 ₽'``; ``—`` for a missing value.

    Example::

        >>> money(325.2)
        '325.20 ₽'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value:,.2f}".replace(",", " ") + f" {sign}"


def currency_sign(code: Any) -> str:
    """The report's sign for a currency code: ``₽`` for RUR/RUB, else the code itself.

    Example::

        >>> currency_sign("RUR"), currency_sign("USD")
        ('₽', 'USD')
    """
    if code is None or (isinstance(code, float) and np.isnan(code)):
        return CURRENCY
    text = str(code).strip()
    return CURRENCY if text.upper() in _ROUBLES else text


def _cell(value: Any, column: str) -> str:
    from .html_report import MISSING, _format_cell, _is_missing

    if _is_missing(value):
        return MISSING
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if column in _POINTS and isinstance(value, int | float):
        return f"{value * 100:+.1f}"
    if column == "p_value" and isinstance(value, int | float):
        return "< 0.001" if value < 0.001 else f"{value:.3f}"
    if column in _SHARES and isinstance(value, int | float):
        return f"{value * 100:.1f} %"
    if column in _MONEY and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.2f}".replace(",", " ")
    if column == "currency":
        return currency_sign(value)
    if isinstance(value, pd.Timestamp) and value.tzinfo is not None:
        value = value.tz_convert(SERVICE_TZ)
        if column == "period":  # a calendar period (Moscow): its first day says it
            return value.strftime("%Y-%m-%d")
    return _format_cell(value, column)


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as people read it: every cell as text, columns renamed with their unit.

    States get their labels (``deliver`` → ``delivered``), money columns ``, ₽`` and two
    decimals, rates percentages, differences percentage points, times Moscow time with the zone
    (``MSK``), currency codes the one sign ₽. The index is dropped.

    Example::

        >>> import pandas as pd
        >>> display_frame(pd.DataFrame({"deliver": [3], "cost": [12.4], "delivery_rate": [0.75]}))
          delivered cost, ₽ delivery rate
        0         3   12.40        75.0 %
    """
    out = {}
    for name in frame.columns:
        column = str(name)
        label = _COLUMN_LABELS.get(column, column)
        values = frame[name].tolist()
        if column == "state":
            values = [STATE_LABELS.get(str(v), v) if isinstance(v, str) else v for v in values]
        out[label] = [_cell(v, column) for v in values]
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), dtype=object)


# ---------------------------------------------------------------- report tables


def report_with_total(
    statuses: pd.DataFrame, by: str | Sequence[str] | None = None
) -> pd.DataFrame:
    """``delivery_report(statuses, by)`` with a last row ``total`` for all messages.

    Without ``by`` it is the one-row total itself, labelled ``total`` in a ``group`` column.
    With several ``by`` columns the first holds ``total``.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"campaign": ["a", "b"], "state": ["deliver", "expired"]})
        >>> report_with_total(statuses, "campaign")[["campaign", "messages", "deliver"]]
          campaign  messages  deliver
        0        a         1        1
        1        b         1        0
        2    total         2        1
    """
    from .analytics import _keys, delivery_report

    keys = _keys(by)
    total = delivery_report(statuses)
    if not keys:
        total.insert(0, "group", "total")
        return total
    report = delivery_report(statuses, by=keys)
    for k in keys:
        report[k] = report[k].astype(object)
        total.insert(keys.index(k), k, "total" if k == keys[0] else "")
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
    "delivery_rate_low",
    "delivery_rate_high",
    "cost",
    "cost_per_delivered",
    "latency_p50_s",
)

#: The columns of the HTML report's delivery tables (the CSV has them all).
_TABLE_COLUMNS: tuple[str, ...] = (
    *TERMINAL_COLUMNS[:-1],
    "failed_fetch",
    "parts",
    "latency_p50_s",
    "latency_p90_s",
)


def terminal_report(report: pd.DataFrame) -> pd.DataFrame:
    """The report's key columns and :data:`TERMINAL_COLUMNS` (fits an 120-column terminal).

    Example: ``print(text_table(terminal_report(report_with_total(statuses, "operator"))))``.
    """
    from .analytics import REPORT_COLUMNS

    keys = [c for c in report.columns if c not in REPORT_COLUMNS]
    return _merge_interval(report[keys + [c for c in TERMINAL_COLUMNS if c in report.columns]])


def _merge_interval(table: pd.DataFrame) -> pd.DataFrame:
    """``delivery_rate_low`` / ``_high`` as one display column ``95 % interval``: ``76.0–92.2 %``."""
    if not {"delivery_rate_low", "delivery_rate_high", "delivery_rate"} <= set(table.columns):
        return table
    table = table.copy()
    low, high = table.pop("delivery_rate_low"), table.pop("delivery_rate_high")
    table.insert(
        list(table.columns).index("delivery_rate") + 1,
        "95 % interval",
        [
            "—" if pd.isna(a) else f"{a * 100:.1f}–{b * 100:.1f} %"
            for a, b in zip(low, high, strict=True)
        ],
    )
    return table


def _table(report: pd.DataFrame, max_groups: int | None = None) -> pd.DataFrame:
    """The report's columns for the HTML page, the interval in one column ``76.0–92.2 %``.

    With ``max_groups``, the largest groups by messages are kept (in their order), the others
    summed into one row ``other (N)`` before the total.
    """
    from .analytics import REPORT_COLUMNS

    keys = [c for c in report.columns if c not in REPORT_COLUMNS]
    if max_groups is not None and len(report) - 1 > max_groups + 1:
        body, total = report.iloc[:-1], report.iloc[[-1]]
        keep = body["messages"].nlargest(max_groups).index.sort_values()
        rest = body.drop(index=keep)
        from .stats import wilson_interval

        summed = ("messages", *STATE_LABELS, "final", "parts", "cost")
        other = total.copy()
        for c in other.columns:
            other[c] = rest[c].sum() if c in summed and c in rest.columns else np.nan
        other[keys[0]] = f"other ({len(rest)})"
        final, deliver = float(rest["final"].sum()), float(rest["deliver"].sum())
        if final:
            low, high = wilson_interval(deliver, final)
            other["delivery_rate"] = deliver / final
            other["delivery_rate_low"], other["delivery_rate_high"] = low[0], high[0]
        report = pd.concat([body.loc[keep], other, total], ignore_index=True)
    columns = [c for c in _TABLE_COLUMNS if c in report.columns]
    if "failed_fetch" in columns and not report["failed_fetch"].any():
        columns.remove("failed_fetch")
    return _merge_interval(report[keys + columns])


#: The estimate's counts as people read them: (label, key of ``estimate.attrs["summary"]``).
_ESTIMATE_COUNTS: tuple[tuple[str, str], ...] = (
    ("rows in the file", "rows"),
    ("recipients", "recipients"),
    ("invalid", "invalid"),
    ("duplicates", "duplicates"),
    ("SMS parts", "parts"),
    ("requests", "requests"),
)


def estimate_lines(summary: Mapping[str, Any]) -> list[str]:
    """The estimate's summary as aligned lines for a terminal (the demo and the CLI print them).

    Example: ``print("\\n".join(estimate_lines(estimate.attrs["summary"])))``.
    """
    lines = [f"  {label:<22}{summary[key]}" for label, key in _ESTIMATE_COUNTS if key in summary]
    lines.append(
        f"  {'expected cost':<22}{money(summary['expected_cost'])}"
        f"  (at {money(summary['price_per_part'])} per part; prepaid packages make it cheaper)"
    )
    return lines


def _estimate_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    rows = [(label, str(summary[key])) for label, key in _ESTIMATE_COUNTS if key in summary]
    rows += [
        ("price per part", money(summary["price_per_part"])),
        ("expected cost", money(summary["expected_cost"])),
    ]
    return pd.DataFrame(rows, columns=["estimate", "value"])


def _packages_change(before: Any, after: Any) -> pd.DataFrame:
    from .analytics import packages_frame

    start = packages_frame(before).rename(columns={"remaining": "before"})
    end = packages_frame(after).rename(columns={"remaining": "after"})
    frame = start.merge(end, on="direction", how="outer").fillna(0)
    seen = dict.fromkeys([*start["direction"], *end["direction"]])
    order = {d: i for i, d in enumerate(seen)}
    frame = frame.iloc[frame["direction"].map(order).argsort(kind="stable")].reset_index(drop=True)
    frame["before"] = frame["before"].astype("int64")
    frame["after"] = frame["after"].astype("int64")
    frame["used"] = frame["before"] - frame["after"]
    # directions with nothing before, after or used say nothing
    keep = (frame[["before", "after", "used"]] != 0).any(axis=1)
    return frame[keep].reset_index(drop=True)


# ---------------------------------------------------------------- headline and alerts


def _derive(statuses: pd.DataFrame, key: str) -> pd.Series | None:
    from .analytics import _key_column

    try:
        return _key_column(statuses, key) if len(statuses) else None
    except (KeyError, ValueError, TypeError):
        return None


def headline(
    statuses: pd.DataFrame, *, spent: float | None = None, from_packages: float | None = None
) -> pd.DataFrame:
    """One row of what matters: sent, delivered % with its interval, failed, cost, spent, per delivered.

    ``spent`` (money that left the balance) and ``from_packages`` (value paid by packages) come
    from the reconciliation when there is one. Cells are display text.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"state": ["deliver"] * 9 + ["expired"],
        ...                          "num_parts": 1, "price": 1.2})
        >>> headline(statuses).iloc[0]["delivered"]
        '90.0 % (59.6–98.2 %)'
    """
    from .analytics import delivery_report
    from .insight import FAILURE_STATES

    row = delivery_report(statuses).iloc[0]
    rate = row["delivery_rate"]
    delivered = (
        "—"
        if np.isnan(rate)
        else f"{rate * 100:.1f} % ({row['delivery_rate_low'] * 100:.1f}–"
        f"{row['delivery_rate_high'] * 100:.1f} %)"
    )
    failed = int(sum(row[s] for s in FAILURE_STATES))
    cells = {
        "sent": str(int(row["messages"])),
        "delivered": delivered,
        "failed": f"{failed}"
        + (f" ({failed / row['messages'] * 100:.1f} %)" if row["messages"] else ""),
        "pending": str(int(row["send"])),
        f"cost, {CURRENCY}": money(row["cost"], "").strip(),
    }
    if from_packages is not None:
        cells[f"paid from packages (est.), {CURRENCY}"] = money(from_packages, "").strip()
    if spent is not None:
        cells[f"spent from balance, {CURRENCY}"] = money(spent, "").strip()
    cells[f"cost per delivered, {CURRENCY}"] = money(row["cost_per_delivered"], "").strip()
    return pd.DataFrame([cells])


def _share(part: float, whole: float) -> float:
    return part / whole if whole else float("nan")


def alerts(
    statuses: pd.DataFrame,
    *,
    result: pd.DataFrame | None = None,
    reconciliation: pd.DataFrame | None = None,
    snapshots: pd.DataFrame | None = None,
) -> list[str]:
    """Plain-words notes on what looks off: unknown operators, rows lost to an empty field,
    night-time expiry, pending messages, an operator far below the rest, spend mismatches.

    Example::

        >>> import pandas as pd
        >>> result = pd.DataFrame({"outcome": ["invalid"] * 9, "error_code":
        ...     "template_value_missing", "error_text": "no value for {Имя}"})
        >>> alerts(pd.DataFrame({"state": []}), result=result)
        ['9 rows lost to an empty {Имя}.']
    """
    from .analytics import delivery_report

    notes: list[str] = []
    n = len(statuses)
    if result is not None and "error_code" in result.columns:
        codes = result["error_code"].astype(object)
        empty = result[codes == "template_value_missing"]
        if len(empty) and "error_text" in empty.columns:
            for text, count in empty["error_text"].astype(str).value_counts().items():
                field_name = re.sub(r"^no value for ", "", text)
                notes.append(f"{count} rows lost to an empty {field_name}.")
        other = result[
            codes.notna()
            & (codes != "template_value_missing")
            & ~result.get("outcome", pd.Series("", index=result.index)).isin(["sent", "duplicate"])
        ]
        if len(other):
            reasons = ", ".join(f"{k} {v}" for k, v in other["error_code"].value_counts().items())
            notes.append(f"{len(other)} rows were not sent: {reasons}.")
    if n:
        operator = _derive(statuses, "operator")
        has_number = (
            statuses["msisdn"].astype(str).str.strip().ne("") & statuses["msisdn"].notna()
            if "msisdn" in statuses.columns
            else None
        )
        if operator is not None and has_number is not None and has_number.any():
            nameless = operator.isna() | operator.astype(str).str.strip().str.lower().isin(
                ["", "unknown", "неизвестно", "nan"]
            )
            unknown = _share(float((nameless & has_number).sum()), float(has_number.sum()))
            if unknown >= 0.05:
                notes.append(f"{unknown * 100:.0f} % of numbers have no known operator.")
        report = delivery_report(statuses)
        pending = int(report["send"].iloc[0])
        if pending:
            notes.append(
                f"{pending} SMS ({pending / n * 100:.0f} %) are not final yet: "
                "the rates may still move; refresh the statuses."
            )
        notes += _night_alert(statuses)
        notes += _weak_operator_alert(statuses, report)
    if reconciliation is not None and len(reconciliation):
        for row in reconciliation[reconciliation["mismatch"].astype(bool)].itertuples():
            day = pd.Timestamp(row.period).strftime("%Y-%m-%d")
            notes.append(f"Spend on {day} does not add up: {row.note}.")
    elif n and (snapshots is None or len(snapshots) < 2):
        notes.append(
            "No two balance snapshots bracket these sends, so the spend cannot be checked: "
            "take one before and one after a campaign (targetsms balance)."
        )
    return notes


def _night_alert(statuses: pd.DataFrame) -> list[str]:
    hour = _derive(statuses, "hour")
    if hour is None or "state" not in statuses.columns:
        return []
    state = statuses["state"].astype(object).to_numpy()
    final = np.isin(state, ["deliver", "not_deliver", "expired", "partly_deliver"])
    expired = state == "expired"
    known = hour.notna().to_numpy()
    night = known & np.isin(hour.fillna(-1).to_numpy(dtype=int), list(_NIGHT))
    day = known & ~night
    n_night, n_day = int((final & night).sum()), int((final & day).sum())
    if n_night < 10 or n_day < 10:
        return []
    s_night = (expired & night).sum() / n_night
    s_day = (expired & day).sum() / n_day
    if s_night > 0 and s_night >= 2 * s_day:
        times = "twice" if s_day and s_night / s_day < 3 else f"{s_night / max(s_day, 1e-9):.0f} ×"
        if not s_day:
            times = "far above"
        return [
            f"Expired share at night (21:00–08:00, recipient's time) is {times} the day's: "
            f"{s_night * 100:.1f} % vs {s_day * 100:.1f} %."
        ]
    return []


def _weak_operator_alert(statuses: pd.DataFrame, total: pd.DataFrame) -> list[str]:
    from .analytics import delivery_report

    if _derive(statuses, "operator") is None:
        return []
    overall = total["delivery_rate"].iloc[0]
    if np.isnan(overall):
        return []
    report = delivery_report(statuses, by="operator")
    notes = []
    for row in report.itertuples():
        if (
            row.final >= 20
            and row.delivery_rate_high < overall
            and not pd.isna(row.operator)
            and str(row.operator).lower() != "unknown"
        ):
            notes.append(
                f"{row.operator} delivers {row.delivery_rate * 100:.1f} % "
                f"({row.delivery_rate_low * 100:.1f}–{row.delivery_rate_high * 100:.1f} %), "
                f"below the overall {overall * 100:.1f} %."
            )
    return notes


# ---------------------------------------------------------------- the report


@dataclass
class Report:
    """What a campaign report shows: built by :func:`build_report`, rendered by :meth:`html`.

    ``headline`` is a one-row frame of display text; ``alerts`` plain sentences; ``tables`` raw
    frames by section title (shown through :func:`display_frame`); ``figures`` matplotlib
    figures by title; ``notes`` lines under the title.

    Example: ``Path("r.html").write_text(build_report(statuses).html("Spring"), encoding="utf-8")``.
    """

    headline: pd.DataFrame
    alerts: list[str] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def display_tables(self) -> dict[str, pd.DataFrame]:
        """The tables as people read them (:func:`display_frame`)."""
        return {name: display_frame(frame) for name, frame in self.tables.items()}

    def html(self, title: str, notes: Sequence[str] = ()) -> str:
        """The self-contained HTML page: headline, alerts, tables, figures, glossary."""
        from .html_report import render_report

        return render_report(
            title,
            self.display_tables(),
            self.figures,
            notes=[*self.notes, *notes],
            headline=self.headline,
            alerts=self.alerts,
            glossary=GLOSSARY,
        )


def _comparison_key(statuses: pd.DataFrame, by: str) -> str | None:
    for key in ("variant", "campaign"):
        if key != by and key in statuses.columns and statuses[key].nunique(dropna=True) >= 2:
            return key
    return None


def build_report(
    statuses: pd.DataFrame,
    *,
    by: str | Sequence[str] = "operator",
    result: pd.DataFrame | None = None,
    balance: Any = None,
    balance_after: Any = None,
    snapshots: pd.DataFrame | None = None,
    reconciliation: pd.DataFrame | None = None,
    estimate: Mapping[str, Any] | None = None,
    compare_by: str | None = None,
    baseline: Any = None,
) -> Report:
    """The whole campaign report: headline, alerts, tables and figures, each only when its data is there.

    Tables: the estimate (``estimate``: ``estimate.attrs["summary"]``), money (estimate vs cost
    vs spent, from ``reconciliation``), delivery ``by`` a column with a total row, by date and by
    region, the comparison (``compare_by``, else ``variant`` or ``campaign`` when there are
    several), failures by reason (with ``result``'s refusals), recipients not sent, packages
    (``balance``, with ``balance_after`` before/after/used), the reconciliation and the balance
    snapshots. Figures: states, delivery rate with intervals, comparison, failures,
    operator × hour heatmap, cost, latency, packages, spend vs cost, balance history.

    Example::

        report = build_report(statuses, by="operator", result=result)
        report.figures.keys()
    """
    from . import plots
    from .analytics import _keys, delivery_report, packages_frame
    from .insight import compare, failure_report

    keys = _keys(by)
    label = ", ".join(keys)
    tables: dict[str, pd.DataFrame] = {}
    figures: dict[str, Figure] = {}
    has_times = "sent_at" in statuses.columns or "changed_at" in statuses.columns
    reconciled = reconciliation is not None and len(reconciliation) > 0
    spent = from_packages = None
    if reconciled:
        spent = float(np.nansum(reconciliation["spend_by_balance"]))
        from_packages = float(reconciliation["paid_from_packages"].sum())
    notes = [MONEY_SENTENCE] if (estimate is not None or reconciled) else []

    if estimate is not None:
        tables["Estimate"] = _estimate_table(estimate)
    if reconciled or estimate is not None:
        tables["Money: estimate, cost, spent"] = _money_table(statuses, estimate, reconciliation)
    grouped = delivery_report(statuses, by=keys)
    tables[f"Delivery by {label}"] = _table(report_with_total(statuses, keys))
    if "date" not in keys and has_times:
        tables["Delivery by date"] = _table(report_with_total(statuses, "date"))
    region = _derive(statuses, "region") if "region" not in keys else None
    if region is not None and region.notna().any():
        tables["Delivery by region"] = _table(
            report_with_total(statuses.assign(region=region.to_numpy()), "region"), max_groups=15
        )
    key = compare_by or _comparison_key(statuses, keys[0] if keys else "")
    comparison = None
    if key is not None and key in statuses.columns:
        comparison = compare(statuses, by=key, baseline=baseline)
        tables[f"Comparison by {key}"] = comparison
    # refusals at send time are listed under "Recipients not sent" (most have no operator)
    failures = failure_report(statuses, by=keys)
    tables[f"Failures by {label}"] = failures
    if result is not None and "outcome" in result.columns:
        problems = result[~result["outcome"].astype(object).isin(["sent", "holdout", "scheduled"])]
        if len(problems):
            wide = ("text", "parts", "sms_id", "batch")
            tables["Recipients not sent"] = problems[
                [c for c in problems.columns if c not in wide]
            ].reset_index(drop=True)
    if balance is not None and balance_after is not None:
        tables["Packages: SMS left before, after, used"] = _packages_change(balance, balance_after)
    elif balance is not None:
        tables["Packages: SMS left per direction"] = packages_frame(balance)
    if reconciled:
        tables["Spend reconciled against the balance"] = reconciliation
    if snapshots is not None and len(snapshots) >= 2:
        tables["Balance snapshots"] = snapshots

    figures[f"Delivery rate by {label}"] = plots.plot_delivery_rate(grouped)
    figures[f"SMS states by {label}"] = plots.plot_states(grouped)
    if comparison is not None:
        figures[f"Comparison by {key}"] = plots.plot_compare(comparison)
    figures[f"Failures by {label}"] = plots.plot_failures(failures)
    if "sent_at" in statuses.columns and _derive(statuses, "operator") is not None:
        figures["Delivery rate by operator and local hour"] = plots.plot_heatmap(statuses)
    figures[f"Cost by {label}"] = plots.plot_cost(grouped)
    figures[f"Delivery latency by {label}"] = plots.plot_latency_cdf(statuses, by=keys)
    if balance is not None:
        title = "SMS left per direction" + (", before" if balance_after is not None else "")
        figures[title] = plots.plot_balance_packages(balance)
    if reconciled:
        figures["Spend: statuses against the balance"] = plots.plot_spend(reconciliation)
    if snapshots is not None and len(snapshots) >= 3:
        figures["Balance over time"] = plots.plot_balance_history(snapshots)

    return Report(
        headline=headline(statuses, spent=spent, from_packages=from_packages),
        alerts=alerts(statuses, result=result, reconciliation=reconciliation, snapshots=snapshots),
        tables=tables,
        figures=figures,
        notes=notes,
    )


def _money_table(
    statuses: pd.DataFrame,
    estimate: Mapping[str, Any] | None,
    reconciliation: pd.DataFrame | None,
) -> pd.DataFrame:
    from .analytics import delivery_report

    rows: list[tuple[str, str, str]] = []
    if estimate is not None:
        rows.append(("estimate", money(estimate["expected_cost"]), "list price, before sending"))
    cost = delivery_report(statuses)["cost"].iloc[0]
    rows.append(("cost", money(cost), "parts × price of the accepted SMS (statuses)"))
    if reconciliation is not None and len(reconciliation):
        parts = int(reconciliation["parts_from_packages"].sum())
        rows.append(
            (
                "paid from packages",
                money(float(reconciliation["paid_from_packages"].sum())),
                f"{parts} prepaid SMS parts, valued at the mean price per part",
            )
        )
        rows.append(
            (
                "spent",
                money(float(np.nansum(reconciliation["spend_by_balance"]))),
                "what left the money balance between snapshots",
            )
        )
    return pd.DataFrame(rows, columns=["what", "value", "meaning"])
