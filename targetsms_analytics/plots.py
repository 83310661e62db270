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

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FIGSIZE",
    "STATE_COLORS",
    "plot_balance_history",
    "plot_balance_packages",
    "plot_cost",
    "plot_delivery_rate",
    "plot_latency_cdf",
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
_STATE_LABELS: dict[str, str] = {
    "deliver": "delivered",
    "not_deliver": "not delivered",
    "expired": "expired",
    "partly_deliver": "partly delivered",
    "send": "pending",
    "failed_fetch": "fetch failed",
}
_CURRENCY_SIGNS = {"RUR": "₽", "RUB": "₽", "₽": "₽", "USD": "$", "EUR": "€"}
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
    """First group on top; room for at least 6 rows so one or two bars stay bar-shaped."""
    ax.set_ylim(max(rows, 6) - 0.5, -0.5)


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


def _sign(currency: Any) -> str:
    if currency is None or (isinstance(currency, float) and np.isnan(currency)):
        return "₽"  # TargetSMS bills in roubles
    return _CURRENCY_SIGNS.get(str(currency).strip().upper(), str(currency))


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

    Groups with no final message yet are labelled "no final states" instead of a bar.

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
            fig.legend(loc="outside lower right", fontsize=8, frameon=False)
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
            ax.step(group, share, where="post", label=label, linewidth=1.5)
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
    packages = packages_frame(balance_or_packages)
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
