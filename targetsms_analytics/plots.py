"""Figures for delivery reports, latency and balance.

Every function returns a :class:`matplotlib.figure.Figure` of a fixed size, built without pyplot (so
no figure is left open in pyplot's registry and nothing is shown by itself); Jupyter displays the
returned figure, and ``fig.savefig("states.png")`` writes it. Empty input gives a figure that says
"no data". Text falls back to DejaVu Sans (bundled with matplotlib, with Cyrillic and ₽) for glyphs
the configured font lacks.

matplotlib is imported inside the functions: importing this module, or the package, stays cheap.

Example::

    >>> import pandas as pd
    >>> from targetsms_analytics.analytics import delivery_report
    >>> statuses = pd.DataFrame({"campaign": ["Весна", "Весна", "Осень"],
    ...                          "state": ["deliver", "expired", "send"]})
    >>> fig = plot_states(delivery_report(statuses, by="campaign"))
    >>> fig.axes[0].get_title()
    'SMS states by campaign'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .analytics import (
    SERVICE_TZ,
    _group,
    _keys,
    delivery_report,
    latency_seconds,
    packages_frame,
    spend_between,
)
from .protocol import STATES
from .reports import STATE_LABELS as _STATE_LABELS  # one vocabulary for tables and plots
from .reports import currency_sign as _sign

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FIGSIZE",
    "STATE_COLORS",
    "plot_balance_history",
    "plot_balance_packages",
    "plot_compare",
    "plot_cost",
    "plot_delivery_rate",
    "plot_failures",
    "plot_heatmap",
    "plot_latency_cdf",
    "plot_spend",
    "plot_states",
]

#: Size of every figure, in inches (at 100 dpi: 1000 × 600 pixels).
FIGSIZE: tuple[float, float] = (10.0, 6.0)
#: One color per state, the same in every figure.
STATE_COLORS: dict[str, str] = {
    "deliver": "#2ca02c",
    "not_deliver": "#d62728",
    "expired": "#ff7f0e",
    "partly_deliver": "#9467bd",
    "send": "#7f7f7f",
    "failed_fetch": "#8c564b",
}
_MAX_LABEL = 32
_FALLBACK_FONT = "DejaVu Sans"
_CDF_POINTS = 2000


# ---------------------------------------------------------------- plumbing


@contextmanager
def _figure(title: str, ncols: int = 1, **subplots: Any) -> Iterator[tuple[Figure, list[Axes]]]:
    """A fixed-size constrained-layout figure whose text falls back to DejaVu Sans per glyph."""
    import matplotlib
    from matplotlib.figure import Figure

    families = list(matplotlib.rcParams["font.family"])
    if _FALLBACK_FONT not in families:
        families.append(_FALLBACK_FONT)
    with matplotlib.rc_context({"font.family": families}):
        fig = Figure(figsize=FIGSIZE, layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False, **subplots)[0].tolist()
        if ncols > 1:
            fig.suptitle(title)
        else:
            axes[0].set_title(title)
        yield fig, axes
        # Tick labels are made at draw time, after this context: give them the families now.
        for ax in axes:
            ax.tick_params(labelfontfamily=families)


def _rows_top_down(ax: Axes, rows: int) -> None:
    """First group on top; room for at least 6 rows so one or two bars stay bar-shaped.

    The spare room is split above and below, so no empty band hangs under the last bar.
    """
    pad = max(6 - rows, 0) / 2
    ax.set_ylim(rows - 0.5 + pad, -0.5 - pad)


def _no_data(ax: Axes, note: str = "no data") -> None:
    ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _label(value: Any) -> str:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return "(none)"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value)


def _key_columns(report: pd.DataFrame) -> list[str]:
    """The ``by`` columns of a report: those before ``messages``."""
    columns = list(report.columns)
    return columns[: columns.index("messages")] if "messages" in columns else []


def _group_labels(report: pd.DataFrame) -> list[str]:
    keys = _key_columns(report)
    if not keys:
        return ["total"] * len(report)
    parts = [[_label(v) for v in report[k]] for k in keys]
    return [_short(" · ".join(p)) for p in zip(*parts, strict=True)]


def _by_text(report: pd.DataFrame) -> str:
    keys = _key_columns(report)
    return " by " + ", ".join(keys) if keys else ""


def _is_report(frame: pd.DataFrame) -> bool:
    return "messages" in frame.columns and all(s in frame.columns for s in STATES)


def _largest(report: pd.DataFrame, max_groups: int, column: str = "messages") -> pd.DataFrame:
    """At most ``max_groups`` rows, the largest by ``column``, in the report's own order."""
    if len(report) <= max_groups:
        return report
    keep = report[column].fillna(0).nlargest(max_groups).index.sort_values()
    return report.loc[keep]


def _note_hidden(fig: Figure, shown: int, total: int, what: str = "groups") -> None:
    if shown < total:
        fig.text(
            0.995, 0.005, f"showing {shown} of {total} {what}", ha="right", va="bottom", fontsize=8
        )


def _money(value: float, sign: str = "₽") -> str:
    return f"{value:,.2f}".replace(",", " ") + f" {sign}"


def _thousands(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _as_frame(data: Any) -> pd.DataFrame:
    return data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)


# ---------------------------------------------------------------- reports


def plot_states(
    report_or_statuses: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    *,
    percent: bool = False,
    max_groups: int = 30,
) -> Figure:
    """Messages per state, stacked, one horizontal bar per group.

    Takes a :func:`~targetsms_analytics.analytics.delivery_report` (its ``by`` columns name the bars)
    or a status frame, which is reported ``by`` first. ``percent=True`` scales each bar to 100 %.
    With more than ``max_groups`` groups the largest are shown, and a note says so.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"campaign": ["Весна", "Осень"], "state": ["deliver", "send"]})
        >>> fig = plot_states(statuses, by="campaign", percent=True)
        >>> fig.axes[0].get_xlabel()
        'share of messages, %'
    """
    frame = _as_frame(report_or_statuses)
    if _is_report(frame):
        if by is not None and _keys(by) != _key_columns(frame):
            raise ValueError("by= regroups a status frame; this is already a report")
        report = frame
    else:
        report = delivery_report(frame, by=by)
    shown = _largest(report, max_groups)
    unit = "share of messages, %" if percent else "messages"
    with _figure("SMS states" + _by_text(report)) as (fig, (ax,)):
        if shown["messages"].sum() == 0:
            _no_data(ax)
            return fig
        labels = _group_labels(shown)
        y = np.arange(len(shown))
        total = shown["messages"].to_numpy(dtype=float)
        left = np.zeros(len(shown))
        for state in (*STATES, "failed_fetch"):
            if state not in shown.columns:
                continue
            counts = shown[state].to_numpy(dtype=float)
            if state == "failed_fetch" and not counts.any():
                continue
            width = np.divide(counts * 100, total, out=np.zeros_like(counts), where=total > 0)
            width = width if percent else counts
            ax.barh(
                y,
                width,
                left=left,
                color=STATE_COLORS[state],
                label=_STATE_LABELS[state],
                height=0.8,
            )
            left += width
        ax.set_yticks(y, labels, fontsize=9 if len(shown) <= 15 else 7)
        _rows_top_down(ax, len(y))
        ax.set_xlabel(unit)
        ax.set_ylabel(", ".join(_key_columns(report)) or "")
        if percent:
            ax.set_xlim(0, 100)
        fig.legend(loc="outside lower center", ncols=6, fontsize=8, frameon=False)
        ax.grid(axis="x", alpha=0.3)
        _note_hidden(fig, len(shown), len(report))
    return fig


def plot_delivery_rate(report: pd.DataFrame, *, max_groups: int = 30) -> Figure:
    """Delivery rate (delivered / final) per group, in %, with the overall rate as a dashed line.

    Each bar carries its 95 % Wilson interval (``delivery_rate_low`` / ``_high``) when the report
    has it. Groups with no final message yet are labelled "no final states" instead of a bar.

    Example::

        >>> import pandas as pd
        >>> from targetsms_analytics.analytics import delivery_report
        >>> statuses = pd.DataFrame({"campaign": ["a", "a", "b"],
        ...                          "state": ["deliver", "expired", "deliver"]})
        >>> fig = plot_delivery_rate(delivery_report(statuses, by="campaign"))
        >>> fig.axes[0].get_xlabel()
        'delivery rate, %'
    """
    report = _as_frame(report)
    with _figure("Delivery rate" + _by_text(report)) as (fig, (ax,)):
        if "delivery_rate" not in report.columns or report.empty:
            _no_data(ax)
            return fig
        shown = _largest(report, max_groups, "final")
        rate = shown["delivery_rate"].to_numpy(dtype=float) * 100
        y = np.arange(len(shown))
        size = 8 if len(shown) <= 15 else 7
        ax.barh(y, np.nan_to_num(rate), color=STATE_COLORS["deliver"], height=0.7)
        if {"delivery_rate_low", "delivery_rate_high"} <= set(shown.columns):
            low = shown["delivery_rate_low"].to_numpy(dtype=float) * 100
            high = shown["delivery_rate_high"].to_numpy(dtype=float) * 100
            has = ~np.isnan(rate) & ~np.isnan(low)
            if has.any():
                ax.errorbar(
                    rate[has],
                    y[has],
                    xerr=[rate[has] - low[has], high[has] - rate[has]],
                    fmt="none",
                    ecolor="#222222",
                    elinewidth=1.2,
                    capsize=4,
                    label="95 % interval",
                )
        for row, r in zip(y, rate, strict=True):
            # inside the bar's base, clear of the overall line; outside when there is no bar
            inside = not np.isnan(r) and r >= 12
            ax.text(
                1 if inside else max(np.nan_to_num(r), 0) + 1,
                row,
                "no final states" if np.isnan(r) else f"{r:.1f} %",
                va="center",
                fontsize=size,
                color="white" if inside else "#333333",
            )
        ax.set_yticks(y, _group_labels(shown), fontsize=9 if len(shown) <= 15 else 7)
        _rows_top_down(ax, len(y))
        ax.set_xlim(0, 100)
        ax.set_xlabel("delivery rate, %")
        ax.set_ylabel(", ".join(_key_columns(report)) or "")
        final = report["final"].sum() if "final" in report.columns else 0
        if len(report) > 1 and final > 0:
            overall = report["deliver"].sum() / final * 100
            ax.axvline(
                overall,
                color="#333333",
                linestyle="--",
                linewidth=1,
                label=f"overall {overall:.1f} %",
            )
        if ax.get_legend_handles_labels()[0]:
            fig.legend(loc="outside lower right", fontsize=8, frameon=False, ncols=2)
        ax.grid(axis="x", alpha=0.3)
        _note_hidden(fig, len(shown), len(report))
    return fig


def plot_cost(report: pd.DataFrame, *, currency: str = "₽", max_groups: int = 30) -> Figure:
    """Cost and cost per delivered message per group, in two panels sharing the groups (₽).

    Example::

        >>> import pandas as pd
        >>> from targetsms_analytics.analytics import delivery_report
        >>> statuses = pd.DataFrame({"campaign": ["a", "b"], "state": ["deliver", "expired"],
        ...                          "num_parts": [1, 2], "price": [3.1, 3.1]})
        >>> fig = plot_cost(delivery_report(statuses, by="campaign"))
        >>> [ax.get_xlabel() for ax in fig.axes]
        ['cost, ₽', 'cost per delivered SMS, ₽']
    """
    report = _as_frame(report)
    sign = _sign(currency)
    title = "Cost" + _by_text(report)
    with _figure(title, ncols=2, sharey=True) as (fig, (left, right)):
        left.set_xlabel(f"cost, {sign}")
        right.set_xlabel(f"cost per delivered SMS, {sign}")
        if "cost" not in report.columns or not report["cost"].notna().any():
            _no_data(left)
            _no_data(right)
            return fig
        shown = _largest(report, max_groups, "cost")
        y = np.arange(len(shown))
        labels = _group_labels(shown)
        for ax, column, color in (
            (left, "cost", "#1f77b4"),
            (right, "cost_per_delivered", "#17becf"),
        ):
            values = shown[column].to_numpy(dtype=float)
            bars = ax.barh(y, np.nan_to_num(values), color=color, height=0.7)
            texts = ["—" if np.isnan(v) else _money(v, sign) for v in values]
            ax.bar_label(bars, texts, padding=3, fontsize=7)
            top = np.nanmax(values) if np.isfinite(values).any() else 1.0
            ax.set_xlim(0, (top or 1.0) * 1.3)
            ax.grid(axis="x", alpha=0.3)
        left.set_yticks(y, labels, fontsize=9 if len(shown) <= 15 else 7)
        _rows_top_down(left, len(y))
        left.set_ylabel(", ".join(_key_columns(report)) or "")
        _note_hidden(fig, len(shown), len(report))
    return fig


def plot_latency_cdf(
    statuses: pd.DataFrame, by: str | Sequence[str] | None = None, *, max_groups: int = 10
) -> Figure:
    """Share of final messages whose status arrived within x seconds of sending, one line per group.

    Uses :func:`~targetsms_analytics.analytics.latency_seconds`; the x axis turns logarithmic when the
    latencies span more than two decades. The ``max_groups`` groups with most latencies are drawn.

    Example::

        >>> import pandas as pd
        >>> sent = pd.Timestamp("2024-05-01 09:00", tz="UTC")
        >>> statuses = pd.DataFrame({"state": ["deliver", "deliver", "expired"],
        ...                          "sent_at": [sent] * 3,
        ...                          "changed_at": sent + pd.to_timedelta([5, 9, 60], unit="s")})
        >>> fig = plot_latency_cdf(statuses)
        >>> fig.axes[0].get_xlabel()
        'latency (sent → final status), s'
    """
    statuses = _as_frame(statuses)
    keys = _keys(by)
    with _figure("Delivery latency CDF" + (" by " + ", ".join(keys) if keys else "")) as (
        fig,
        (ax,),
    ):
        ax.set_xlabel("latency (sent → final status), s")
        ax.set_ylabel("final messages, %")
        seconds = latency_seconds(statuses).to_numpy(dtype=float)
        known = ~np.isnan(seconds)
        if not known.any():
            _no_data(ax, "no data: no final message with both times")
            return fig
        codes, labels = _group(statuses, keys)
        names = _group_labels(labels.assign(messages=0)) if keys else ["all messages"]
        counts = np.bincount(codes[known], minlength=len(labels))
        order = [g for g in np.argsort(-counts, kind="stable")[:max_groups] if counts[g] > 0]
        values = seconds[known]
        positive = values[values > 0]
        if len(positive) == len(values) and positive.max() / positive.min() > 100:
            ax.set_xscale("log")
        known_codes = codes[known]
        for g in sorted(order):
            group = np.sort(values[known_codes == g])
            n = len(group)
            p50 = np.percentile(group, 50)
            share = np.arange(1, n + 1) / n * 100
            if n > _CDF_POINTS:  # a step per message adds nothing visible past a few thousand
                pick = np.unique(np.linspace(0, n - 1, _CDF_POINTS).astype(np.intp))
                group, share = group[pick], share[pick]
            label = f"{names[g]} (n={_thousands(n)}, p50={_thousands(p50)} s)"
            # one or two latencies make a step too short to see: mark the points
            marker = "o" if n <= 3 else None
            ax.step(group, share, where="post", label=label, linewidth=1.5, marker=marker)
        for level in (50, 90):
            ax.axhline(level, color="#999999", linestyle=":", linewidth=1)
        ax.set_ylim(0, 101)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        _note_hidden(fig, len(order), int((counts > 0).sum()))
    return fig


# ---------------------------------------------------------------- balance


def plot_balance_packages(balance_or_packages: Any, *, max_directions: int = 30) -> Figure:
    """SMS left per direction (country or operator) as horizontal bars, largest first.

    Takes a ``Balance`` (its amount goes in the title) or a packages frame (``direction``,
    ``remaining``).

    Example::

        >>> import targetsms_analytics as ts
        >>> fig = plot_balance_packages(ts.parse_balance("445.6 RUR\\nРоссия:361,МТС:1,Мегафон:1"))
        >>> fig.axes[0].get_title()
        'SMS left per direction — balance 445.60 ₽'
    """
    listed = packages_frame(balance_or_packages)
    # A direction with nothing left is a bar of zero: say how many instead of listing them.
    packages = listed[listed["remaining"] > 0].reset_index(drop=True)
    empty_directions = len(listed) - len(packages)
    title = "SMS left per direction"
    amount = getattr(balance_or_packages, "amount", None)
    if amount is not None:
        title += " — balance " + _money(
            float(amount), _sign(getattr(balance_or_packages, "currency", None))
        )
    with _figure(title) as (fig, (ax,)):
        ax.set_xlabel("SMS left")
        if packages.empty:
            _no_data(ax)
            return fig
        shown = packages.head(max_directions)
        y = np.arange(len(shown))
        bars = ax.barh(y, shown["remaining"].to_numpy(), color="#1f77b4", height=0.7)
        ax.bar_label(bars, [_thousands(v) for v in shown["remaining"]], padding=3, fontsize=8)
        ax.set_yticks(
            y, [_short(d) for d in shown["direction"]], fontsize=9 if len(shown) <= 15 else 7
        )
        _rows_top_down(ax, len(y))
        ax.set_xlim(0, max(int(shown["remaining"].max()), 1) * 1.15)
        ax.set_ylabel("direction")
        ax.grid(axis="x", alpha=0.3)
        _note_hidden(fig, len(shown), len(packages), "directions")
        if empty_directions:
            fig.text(
                0.005,
                0.005,
                f"{empty_directions} more directions with 0 SMS left",
                ha="left",
                va="bottom",
                fontsize=8,
            )
    return fig


def plot_balance_history(snapshots: pd.DataFrame) -> Figure:
    """Balance amount over time (Moscow time), one line per currency; top-ups marked with ▲.

    ``snapshots`` has ``taken_at`` (tz-aware), ``amount`` and optionally ``currency``, as the journal's
    ``balance_snapshots()`` returns. The amount is drawn as steps: it holds until the next snapshot.

    Example::

        >>> import pandas as pd
        >>> snapshots = pd.DataFrame({
        ...     "taken_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 10:00"], utc=True),
        ...     "amount": [500.0, 420.5], "currency": "RUR"})
        >>> fig = plot_balance_history(snapshots)
        >>> fig.axes[0].get_ylabel()
        'balance, ₽'
    """
    import matplotlib.dates as mdates

    snapshots = _as_frame(snapshots)
    with _figure("Balance over time") as (fig, (ax,)):
        ax.set_xlabel("time (Moscow)")
        usable = (
            not snapshots.empty
            and {"taken_at", "amount"} <= set(snapshots.columns)
            and pd.to_numeric(snapshots["amount"], errors="coerce").notna().any()
        )
        currencies = (
            snapshots["currency"].fillna("RUR") if "currency" in snapshots.columns else None
        )
        signs = sorted({_sign(c) for c in currencies}) if currencies is not None else ["₽"]
        ax.set_ylabel("balance, " + (signs[0] if len(signs) == 1 else "in each currency"))
        if not usable:
            _no_data(ax)
            return fig
        frame = snapshots.assign(
            _when=_moscow_wall_time(snapshots["taken_at"]),
            _amount=pd.to_numeric(snapshots["amount"], errors="coerce"),
            _currency=currencies if currencies is not None else "RUR",
        ).dropna(subset=["_when", "_amount"])
        for currency, rows in frame.groupby("_currency", sort=True):
            rows = rows.sort_values("_when", kind="stable")
            sign = _sign(currency)
            ax.step(
                rows["_when"].to_numpy(),
                rows["_amount"].to_numpy(),
                where="post",
                marker="o",
                markersize=3,
                label=f"balance, {sign}",
            )
            moves = spend_between(rows[["taken_at", "amount"]].assign(currency=currency))
            up = moves["topped_up"].to_numpy(dtype=float) > 0
            if up.any():
                when = rows["_when"].to_numpy()[1:][up]
                ax.plot(
                    when,
                    moves["amount_after"].to_numpy()[up],
                    linestyle="none",
                    marker="^",
                    markersize=9,
                    color="#2ca02c",
                    label=f"top-up, {sign}",
                )
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylim(bottom=min(0.0, float(frame["_amount"].min()) * 1.05))
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    return fig


def _moscow_wall_time(values: pd.Series) -> pd.Series:
    """Instants as naive Moscow wall-clock times (matplotlib would draw tz-aware ones in UTC)."""
    parsed = values
    if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
        parsed = pd.to_datetime(parsed, errors="coerce", utc=True)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(SERVICE_TZ).dt.tz_localize(None)
    return parsed


# ---------------------------------------------------------------- insight


def plot_compare(comparison: pd.DataFrame, *, max_groups: int = 30) -> Figure:
    """Each group's delivery rate minus the baseline's, in percentage points, with its 95 % interval.

    Takes :func:`~targetsms_analytics.insight.compare`'s frame. An interval that crosses 0 means
    the difference may be noise; the p-value is written beside each bar.

    Example::

        >>> import pandas as pd
        >>> from targetsms_analytics.insight import compare
        >>> statuses = pd.DataFrame({"variant": ["A"] * 50 + ["B"] * 50,
        ...                          "state": ["deliver"] * 90 + ["expired"] * 10})
        >>> plot_compare(compare(statuses, by="variant")).axes[0].get_xlabel()
        'delivery rate minus the baseline, percentage points'
    """
    frame = _as_frame(comparison)
    keys = (
        [c for c in frame.columns[: list(frame.columns).index("baseline")]]
        if ("baseline" in frame.columns)
        else []
    )
    base_rows = frame[frame["baseline"].astype(bool)] if "baseline" in frame.columns else frame
    base_name = _group_labels(base_rows[keys].assign(messages=0))[0] if len(base_rows) else ""
    with _figure(f"Delivery rate against {base_name or 'the baseline'}") as (fig, (ax,)):
        ax.set_xlabel("delivery rate minus the baseline, percentage points")
        if frame.empty or "diff" not in frame.columns:
            _no_data(ax)
            return fig
        shown = _largest(frame, max_groups, "messages")
        y = np.arange(len(shown))
        diff = shown["diff"].to_numpy(dtype=float) * 100
        low = shown["diff_low"].to_numpy(dtype=float) * 100
        high = shown["diff_high"].to_numpy(dtype=float) * 100
        p_values = shown["p_value"].to_numpy(dtype=float)
        base = shown["baseline"].to_numpy(dtype=bool)
        colors = np.where(
            base,
            "#7f7f7f",
            np.where(diff >= 0, STATE_COLORS["deliver"], STATE_COLORS["not_deliver"]),
        )
        ax.barh(y, np.nan_to_num(diff), color=colors, height=0.6)
        has = ~np.isnan(low) & ~np.isnan(diff)
        if has.any():
            ax.errorbar(
                diff[has],
                y[has],
                xerr=[diff[has] - low[has], high[has] - diff[has]],
                fmt="none",
                ecolor="#222222",
                capsize=4,
                label="95 % interval of the difference",
            )
        ax.axvline(0, color="#333333", linewidth=1)
        span = np.nanmax(np.abs(np.r_[low[has], high[has], diff[~np.isnan(diff)], 1.0]))
        ax.set_xlim(-span * 1.45, span * 1.45)
        for row, d, p, b, hi in zip(y, diff, p_values, base, high, strict=True):
            if b:
                text = "baseline"
            elif np.isnan(d):
                text = "no final states"
            else:
                text = f"{d:+.1f} pp, p = {p:.3f}" if not np.isnan(p) else f"{d:+.1f} pp"
            x = (hi if not np.isnan(hi) else max(np.nan_to_num(d), 0)) + span * 0.04
            ax.text(x, row, text, va="center", fontsize=8, color="#333333")
        ax.set_yticks(y, _group_labels(shown[keys].assign(messages=0)), fontsize=9)
        _rows_top_down(ax, len(y))
        ax.set_ylabel(", ".join(keys))
        ax.grid(axis="x", alpha=0.3)
        if has.any():
            fig.legend(loc="outside lower right", fontsize=8, frameon=False)
        _note_hidden(fig, len(shown), len(frame))
    return fig


_FAILURE_COLUMNS = ("not_deliver", "expired", "partly_deliver", "failed_fetch")


def plot_failures(failures: pd.DataFrame, *, max_groups: int = 30) -> Figure:
    """Failed messages per group, stacked by reason (the colors of :data:`STATE_COLORS`).

    Takes :func:`~targetsms_analytics.insight.failure_report`'s frame; the bar's end is labelled
    with the failure rate.

    Example::

        >>> import pandas as pd
        >>> from targetsms_analytics.insight import failure_report
        >>> statuses = pd.DataFrame({"campaign": ["a", "a", "b"],
        ...                          "state": ["deliver", "expired", "not_deliver"]})
        >>> plot_failures(failure_report(statuses, by="campaign")).axes[0].get_xlabel()
        'failed messages'
    """
    frame = _as_frame(failures)
    with _figure("Failures by reason" + _by_text(frame)) as (fig, (ax,)):
        ax.set_xlabel("failed messages")
        if frame.empty or "failures" not in frame.columns or frame["messages"].sum() == 0:
            _no_data(ax)
            return fig
        if frame["failures"].sum() == 0:
            _no_data(ax, "no failures: every final message was delivered")
            return fig
        shown = _largest(frame, max_groups, "failures")
        y = np.arange(len(shown))
        left = np.zeros(len(shown))
        for reason in _FAILURE_COLUMNS:
            counts = shown[reason].to_numpy(dtype=float)
            if not counts.any():  # a reason nobody hit is not worth a legend entry
                continue
            ax.barh(
                y,
                counts,
                left=left,
                color=STATE_COLORS[reason],
                label=_STATE_LABELS[reason],
                height=0.7,
            )
            left += counts
        rates = shown["failure_rate"].to_numpy(dtype=float)
        for row, end, rate in zip(y, left, rates, strict=True):
            ax.text(end, row, f"  {rate * 100:.1f} %", va="center", fontsize=8, color="#333333")
        ax.set_xlim(0, max(left.max(), 1) * 1.18)
        ax.set_yticks(y, _group_labels(shown), fontsize=9 if len(shown) <= 15 else 7)
        _rows_top_down(ax, len(y))
        ax.set_ylabel(", ".join(_key_columns(frame)))
        ax.grid(axis="x", alpha=0.3)
        fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        _note_hidden(fig, len(shown), len(frame))
    return fig


def plot_heatmap(
    statuses_or_report: pd.DataFrame,
    rows: str = "operator",
    columns: str = "hour",
    *,
    min_final: int = 1,
    max_rows: int = 20,
) -> Figure:
    """Delivery rate (%) for each ``rows`` × ``columns`` cell, e.g. operator × local hour of sending.

    Takes a status frame (reported by ``[rows, columns]``) or such a report. Cells with fewer than
    ``min_final`` final messages are left blank; each cell shows its rate and, below, its count
    of final messages.

    Example::

        >>> import pandas as pd
        >>> statuses = pd.DataFrame({"operator": ["МТС", "Билайн"], "hour": [9, 22],
        ...                          "state": ["deliver", "expired"]})
        >>> plot_heatmap(statuses).axes[0].get_xlabel()
        'hour (local time of the recipient)'
    """
    from matplotlib.colors import LinearSegmentedColormap

    frame = _as_frame(statuses_or_report)
    report = frame if _is_report(frame) else delivery_report(frame, by=[rows, columns])
    label = "hour (local time of the recipient)" if columns == "hour" else columns
    with _figure(f"Delivery rate by {rows} and {columns}") as (fig, (ax,)):
        ax.set_xlabel(label)
        ax.set_ylabel(rows)
        usable = report[report["final"] >= max(min_final, 1)] if len(report) else report
        if usable.empty:
            _no_data(ax)
            return fig
        names = usable[rows].astype(object).map(_label)
        cols = usable[columns]
        if columns == "hour":  # the hours between the first and the last seen, none skipped
            seen = pd.to_numeric(cols, errors="coerce").dropna().astype(int)
            col_values = list(range(int(seen.min()), int(seen.max()) + 1)) if len(seen) else []
        else:
            col_values = sorted(cols.dropna().unique().tolist(), key=str)
        totals = (
            usable.groupby(names, sort=False)["final"]
            .sum()
            .sort_values(ascending=False, kind="stable")
        )
        row_values = totals.index[:max_rows].tolist()
        grid = np.full((len(row_values), len(col_values)), np.nan)
        counts = np.zeros_like(grid)
        row_at = {v: i for i, v in enumerate(row_values)}
        col_at = {v: i for i, v in enumerate(col_values)}
        for name, col, rate, final in zip(
            names, cols, usable["delivery_rate"], usable["final"], strict=True
        ):
            if name in row_at and not pd.isna(col) and col in col_at:
                grid[row_at[name], col_at[col]] = rate * 100
                counts[row_at[name], col_at[col]] = final
        cmap = LinearSegmentedColormap.from_list(
            "rate", ["#d62728", "#ffdd71", "#2ca02c"]
        ).with_extremes(bad="#f3f3f3")
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=100, aspect="auto")
        small = len(col_values) > 12
        for (i, j), value in np.ndenumerate(grid):
            if np.isnan(value):
                continue
            text = f"{value:.0f}" if small else f"{value:.0f} %"
            ax.text(j, i - 0.12, text, ha="center", va="center", fontsize=7 if small else 8)
            ax.text(
                j,
                i + 0.25,
                f"n={counts[i, j]:.0f}",
                ha="center",
                va="center",
                fontsize=5.5,
                color="#444444",
            )
        ax.set_xticks(range(len(col_values)), [_label(v) for v in col_values], fontsize=8)
        ax.set_yticks(range(len(row_values)), [_short(str(v)) for v in row_values], fontsize=9)
        fig.colorbar(image, ax=ax, label="delivery rate, %", shrink=0.8)
        _note_hidden(fig, len(row_values), len(totals), rows + " values")
    return fig


def plot_spend(reconciliation: pd.DataFrame, *, currency: str = "₽") -> Figure:
    """Spend over time: cost by statuses (paid from packages and from money) against the balance.

    Takes :func:`~targetsms_analytics.insight.reconcile`'s (``ts.reconcile_spend``'s) frame: per
    period, a bar of what the statuses cost split into packages and money, and a marker for what
    left the balance; periods flagged as a mismatch are marked with "!".

    Example::

        >>> import pandas as pd
        >>> frame = pd.DataFrame({"period": pd.to_datetime(["2024-05-01"]).tz_localize(
        ...     "Europe/Moscow"), "paid_from_packages": [5.0], "expected_spend": [10.0],
        ...     "spend_by_balance": [10.0], "mismatch": [False]})
        >>> plot_spend(frame).axes[0].get_ylabel()
        'amount, ₽'
    """
    frame = _as_frame(reconciliation)
    sign = _sign(currency)
    with _figure("Spend: statuses against the balance (Moscow time)") as (fig, (ax,)):
        ax.set_ylabel(f"amount, {sign}")
        ax.set_xlabel("period (Moscow time)")
        if frame.empty or "period" not in frame.columns:
            _no_data(ax, "no data: take balance snapshots before and after sending")
            return fig
        x = np.arange(len(frame))
        packages = frame["paid_from_packages"].fillna(0).to_numpy(dtype=float)
        money = frame["expected_spend"].fillna(0).to_numpy(dtype=float)
        spent = frame["spend_by_balance"].to_numpy(dtype=float)
        ax.bar(x, money, color="#1f77b4", width=0.6, label=f"cost paid from money, {sign}")
        ax.bar(
            x,
            packages,
            bottom=money,
            color="#aec7e8",
            width=0.6,
            label=f"cost paid from packages (estimate), {sign}",
        )
        ax.plot(
            x,
            spent,
            linestyle="none",
            marker="D",
            markersize=8,
            color="#d62728",
            label=f"spent from the balance, {sign}",
        )
        top = np.nanmax(np.r_[money + packages, np.nan_to_num(spent), 1.0])
        if "mismatch" in frame.columns:
            for xi, flag in zip(x, frame["mismatch"].fillna(False).astype(bool), strict=True):
                if flag:
                    ax.text(xi, top * 1.05, "!", ha="center", color="#d62728", fontsize=14)
        ax.set_ylim(0, top * 1.2)
        periods = pd.to_datetime(frame["period"])
        ax.set_xticks(
            x,
            [p.strftime("%Y-%m-%d") if not pd.isna(p) else "—" for p in periods],
            fontsize=8,
            rotation=30 if len(x) > 8 else 0,
        )
        ax.set_xlim(-0.6, max(len(x), 3) - 0.4)
        ax.grid(axis="y", alpha=0.3)
        fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig
