"""Reports for people: one self-contained HTML file, and plain-text tables for the terminal.

Presentation only: the functions here take frames and figures that were computed elsewhere and lay
them out. Every piece of text (titles, column names, cells, notes) is HTML-escaped; figures are
embedded as ``data:image/png;base64`` images, and the style sheet is inline, so the file opens
anywhere, offline, and loads nothing from anywhere.

Example::

    from targetsms_analytics.analytics import delivery_report
    from targetsms_analytics.plots import plot_states

    report = delivery_report(statuses, by="operator")
    html = render_report("Spring campaign", {"By operator": report},
                         {"States": plot_states(report)}, notes=["Emulator run"])
    Path("report.html").write_text(html, encoding="utf-8")
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["figure_png", "format_frame", "render_report", "text_table"]

#: What an empty cell (None, NaN, NA, NaT) shows.
MISSING = "—"

#: Columns whose values are shares of 1, shown as percentages.
_SHARE_WORDS = ("rate", "share")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       margin: 2rem auto; max-width: 1240px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
ul.notes { color: #555; padding-left: 1.2rem; }
nav { font-size: .9rem; margin: .8rem 0; }
nav a { margin-right: 1rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; white-space: nowrap; }
th { background: #f3f5f7; text-align: left; vertical-align: bottom; white-space: normal; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #fafafa; }
p.rows { color: #777; font-size: .8rem; margin: 0; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
footer { margin-top: 3rem; color: #999; font-size: .8rem; }
table.headline { font-size: 1rem; margin: 1rem 0; }
table.headline th { background: #eef4fb; }
table.headline td { font-size: 1.15rem; font-weight: 600; text-align: right; }
ul.alerts { background: #fff6e0; border-left: 4px solid #e0a000; padding: .6rem 1rem .6rem 2rem;
            margin: 1rem 0; }
ul.alerts li { margin: .2rem 0; }
dl.glossary { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem;
              font-size: .9rem; }
dl.glossary dt { font-weight: 600; }
dl.glossary dd { margin: 0; color: #333; }
"""

#: A cell of display text that is a number (with an optional unit): right-aligned.
_NUMBER_TEXT = re.compile(r"^(—|[<>]?\s?[-+−]?[\d\s ]*[\d][\d\s .,–]*(\s?(%|₽|pp|s))?(\s\(.*\))?)$")


# ---------------------------------------------------------------- cell formatting


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return bool(isinstance(value, float) and math.isnan(value))
    except TypeError:  # pragma: no cover - exotic scalars
        return False


def _format_cell(value: Any, column: str) -> str:
    if _is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp | _dt.datetime):
        stamp = pd.Timestamp(value)
        text = stamp.strftime("%Y-%m-%d %H:%M:%S")
        # The journal's UTC and the service's Moscow time meet in one report: name the zone.
        return f"{text} {stamp.strftime('%Z')}" if stamp.tzinfo is not None else text
    if isinstance(value, _dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
        if _is_missing(value):
            return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        name = column.lower()
        if any(word in name for word in _SHARE_WORDS):
            return f"{value * 100:.1f} %"
        if name.endswith("_s"):
            return f"{value:.1f}"
        if value.is_integer() and abs(value) < 1e15 and name not in ("cost", "price", "amount"):
            return str(int(value))
        return f"{value:.2f}"
    return str(value)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype
    )


def format_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every cell as display text: rates as percentages, money with 2 decimals.

    Empty cells become ``—``; booleans ``yes``/``no``; datetimes ``YYYY-MM-DD HH:MM:SS`` in their
    own zone, named when they have one (``MSK``, ``UTC``); columns named ``*rate*``/``*share*`` are
    shares of 1 shown as ``85.0 %``; ``*_s`` columns (seconds) keep one decimal. The index is
    dropped.

    Example::

        >>> import pandas as pd
        >>> format_frame(pd.DataFrame({"delivery_rate": [0.85], "cost": [12.4], "n": [3]}))
          delivery_rate   cost  n
        0        85.0 %  12.40  3
    """
    out = {}
    for name in frame.columns:
        column = str(name)
        out[column] = [_format_cell(v, column) for v in frame[name].tolist()]
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)), dtype=object)


def text_table(frame: pd.DataFrame, *, max_rows: int | None = 200) -> str:
    """A plain-text table of ``frame`` for the terminal (formatted as :func:`format_frame`).

    At most ``max_rows`` rows are shown (``None``: all), with a note of how many were left out.

    Example::

        >>> import pandas as pd
        >>> print(text_table(pd.DataFrame({"direction": ["Россия"], "remaining": [20]})))
        direction remaining
           Россия        20
    """
    if frame.columns.empty:
        return "(no columns)"
    if frame.empty:
        return "  ".join(str(c) for c in frame.columns) + "\n(no rows)"
    shown = frame if max_rows is None else frame.head(max_rows)
    text = format_frame(shown).to_string(index=False)
    if len(shown) < len(frame):
        text += f"\n… {len(frame) - len(shown)} more rows"
    return text


# ---------------------------------------------------------------- HTML pieces


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (what the HTML report embeds).

    Example: ``Path("states.png").write_bytes(figure_png(plot_states(report)))``.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _anchor(index: int, kind: str) -> str:
    return f"{kind}-{index}"


def _looks_numeric(series: pd.Series) -> bool:
    """Display text that is numbers throughout (``12.40``, ``85.0 %``, ``—``)."""
    if series.dtype != object or series.empty:
        return False
    values = [v for v in series.tolist() if isinstance(v, str)]
    return (
        len(values) == len(series)
        and any(v != MISSING for v in values)
        and all(_NUMBER_TEXT.match(v.strip()) for v in values)
    )


def _html_table(frame: pd.DataFrame, *, max_rows: int | None, css: str = "") -> str:
    shown = frame if max_rows is None else frame.head(max_rows)
    numeric = [_is_numeric(frame[c]) or _looks_numeric(frame[c]) for c in frame.columns]
    text = format_frame(shown)
    # cost_per_delivered may break after an underscore: a wide report then fits the page
    head = "".join(f"<th>{html.escape(str(c)).replace('_', '_<wbr>')}</th>" for c in frame.columns)
    rows = []
    first = frame.columns[0] if len(frame.columns) else None
    for i in range(len(text)):
        cells = "".join(
            f'<td class="num">{html.escape(v)}</td>' if is_num else f"<td>{html.escape(v)}</td>"
            for v, is_num in zip(text.iloc[i].tolist(), numeric, strict=True)
        )
        total = first is not None and str(shown.iloc[i][first]).strip().lower() == "total"
        rows.append(f'<tr class="total">{cells}</tr>' if total else f"<tr>{cells}</tr>")
    note = ""
    if len(shown) < len(frame):
        note = f'<p class="rows">First {len(shown)} of {len(frame)} rows.</p>'
    elif len(frame) > 10:
        note = f'<p class="rows">{len(frame)} rows.</p>'
    body = "\n".join(rows) if rows else f'<tr><td colspan="{len(frame.columns)}">no rows</td></tr>'
    klass = f' class="{css}"' if css else ""
    return (
        f'<div class="scroll"><table{klass}>\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{body}\n</tbody></table></div>\n{note}"
    )


def render_report(
    title: str,
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Figure] | None = None,
    notes: Iterable[str] | str = (),
    *,
    max_rows: int | None = 500,
    footer: str | None = "Generated by targetsms-analytics.",
    headline: pd.DataFrame | None = None,
    alerts: Iterable[str] = (),
    glossary: Mapping[str, str] | None = None,
) -> str:
    """One self-contained HTML page: a title, notes, the tables, then the figures as inline PNG.

    ``tables`` and ``figures`` map a section heading to a DataFrame / matplotlib Figure, shown in
    the given order. Everything is escaped; images are ``data:image/png;base64`` URIs and the CSS
    is inline, so the page needs nothing else. A table row whose first cell is ``total`` is shown
    in bold. Tables longer than ``max_rows`` are cut, with a note (``None``: never cut).
    ``headline`` (a one-row frame) is shown big under the title, ``alerts`` as a highlighted list
    under it, and ``glossary`` (term → meaning) as the last section.

    Example::

        >>> import pandas as pd
        >>> page = render_report("Demo <1>", {"Packages": pd.DataFrame({"direction": ["МТС"],
        ...                                                             "remaining": [2]})})
        >>> "Demo &lt;1&gt;" in page and "<td>МТС</td>" in page
        True
    """
    figures = figures or {}
    note_list = [notes] if isinstance(notes, str) else list(notes)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if headline is not None and len(headline.columns):
        parts.append(_html_table(pd.DataFrame(headline), max_rows=1, css="headline"))
    alert_list = list(alerts)
    if alert_list:
        items = "".join(f"<li>{html.escape(str(a))}</li>" for a in alert_list)
        parts.append(f'<ul class="alerts" aria-label="alerts">{items}</ul>')
    if note_list:
        items = "".join(f"<li>{html.escape(str(n))}</li>" for n in note_list)
        parts.append(f'<ul class="notes">{items}</ul>')
    links = [
        f'<a href="#{_anchor(i, "table")}">{html.escape(name)}</a>' for i, name in enumerate(tables)
    ] + [
        f'<a href="#{_anchor(i, "figure")}">{html.escape(name)}</a>'
        for i, name in enumerate(figures)
    ]
    if glossary:
        links.append('<a href="#glossary">Glossary</a>')
    if len(links) > 1:
        parts.append("<nav>" + "".join(links) + "</nav>")
    for i, (name, frame) in enumerate(tables.items()):
        parts.append(f'<h2 id="{_anchor(i, "table")}">{html.escape(name)}</h2>')
        parts.append(_html_table(pd.DataFrame(frame), max_rows=max_rows))
    for i, (name, fig) in enumerate(figures.items()):
        data = base64.b64encode(figure_png(fig)).decode("ascii")
        label = html.escape(name)
        parts.append(f'<h2 id="{_anchor(i, "figure")}">{label}</h2>')
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{label}"></figure>')
    if glossary:
        terms = "".join(
            f"<dt>{html.escape(str(t))}</dt><dd>{html.escape(str(m))}</dd>"
            for t, m in glossary.items()
        )
        parts.append(f'<h2 id="glossary">Glossary</h2>\n<dl class="glossary">{terms}</dl>')
    if footer:
        parts.append(f"<footer>{html.escape(footer)}</footer>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
