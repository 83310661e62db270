"""Every figure renders to PNG on empty, one-row and large input, Cyrillic included, warning-free."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import targetsms_analytics as ts
from targetsms_analytics import plots
from targetsms_analytics.analytics import delivery_report
from targetsms_analytics.insight import compare, failure_report, reconcile

# A missing glyph is only a warning in matplotlib: make every warning fail the test.
pytestmark = pytest.mark.filterwarnings("error")

MSK = "Europe/Moscow"
STATES = ["deliver", "not_deliver", "expired", "partly_deliver", "send"]
PNG = b"\x89PNG\r\n\x1a\n"


def synthetic(n: int, groups: int, seed: int = 0) -> pd.DataFrame:
    """A status frame with Cyrillic campaign names, pending rows, failed fetches and two days."""
    rng = np.random.default_rng(seed)
    names = np.array([f"Акция «Весна-{i}» для клиентов" for i in range(groups)], dtype=object)
    states = np.array([*STATES, None], dtype=object)
    state = states[rng.choice(6, n, p=[0.75, 0.08, 0.05, 0.02, 0.08, 0.02])]
    sent = pd.Timestamp("2024-05-01 19:00", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 6 * 3600, n), unit="s"
    )
    changed = (sent + pd.to_timedelta(rng.lognormal(3, 1.5, n), unit="s")).tz_convert(MSK)
    final = pd.Series(state).isin(STATES[:4]).to_numpy()
    frame = pd.DataFrame(
        {
            "sms_id": np.arange(n).astype(str),
            "msisdn": [f"7916{i:07d}" for i in range(n)],
            "campaign": names[rng.integers(0, groups, n)],
            "state": state,
            "is_final": final,
            "changed_at": pd.Series(changed).where(final),
            "num_parts": pd.array(rng.integers(1, 4, n), dtype="Int64"),
            "price": 3.25,
            "sent_at": sent,
            "error_code": np.where(pd.isna(state), "transport", None),
        }
    )
    frame["cost"] = frame["num_parts"].astype(float) * frame["price"]
    return frame


SIZES = {
    "empty": synthetic(0, 1),
    "one_row": synthetic(1, 1),
    "large": synthetic(10_000, 30),
}
BALANCE = ts.parse_balance(
    "445.6 RUR\nРоссия:361,МТС:1,Мегафон:1,Skylink:1,Yota:1,Байкалвестком:1,Уралсвязьинформ:1,"
    "Енисейтелеком:1,НСС:1,Мотив:1,Tele2:1,СМАРТС:1,Ростелеком:1,BeeLine:1,Остальные:1"
)


def history(n: int) -> pd.DataFrame:
    amounts = np.r_[np.linspace(1000, 200, (n + 1) // 2), np.linspace(1200, 900, n // 2)]
    return pd.DataFrame(
        {
            "taken_at": pd.date_range("2024-05-01", periods=n, freq="6h", tz="UTC"),
            "amount": amounts[:n],
            "currency": "RUR",
        }
    )


def packages(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"direction": [f"Оператор №{i}" for i in range(n)], "remaining": np.arange(n) * 7}
    )


def build(kind: str, size: str) -> Figure:
    frame = SIZES[size]
    rows = {"empty": 0, "one_row": 1, "large": 1000}[size]
    if kind == "states":
        return plots.plot_states(frame, by="campaign")
    if kind == "states_percent":
        return plots.plot_states(delivery_report(frame, by="campaign"), percent=True)
    if kind == "delivery_rate":
        return plots.plot_delivery_rate(delivery_report(frame, by="campaign"))
    if kind == "cost":
        return plots.plot_cost(delivery_report(frame, by="campaign"))
    if kind == "latency_cdf":
        return plots.plot_latency_cdf(frame, by="campaign")
    if kind == "balance_packages":
        return plots.plot_balance_packages(BALANCE if size == "large" else packages(rows))
    if kind == "balance_history":
        return plots.plot_balance_history(history(rows))
    if kind == "compare":
        return plots.plot_compare(compare(frame, by="campaign"))
    if kind == "failures":
        return plots.plot_failures(failure_report(frame, by="campaign"))
    if kind == "heatmap":
        return plots.plot_heatmap(frame.assign(operator=frame["campaign"].str[:12]))
    if kind == "spend":
        return plots.plot_spend(reconcile(frame, history(max(rows // 100, rows and 2))))
    raise AssertionError(kind)


KINDS = [
    "states",
    "states_percent",
    "delivery_rate",
    "cost",
    "latency_cdf",
    "balance_packages",
    "balance_history",
    "compare",
    "failures",
    "heatmap",
    "spend",
]


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", KINDS)
def test_every_plot_renders_to_png_without_warnings(kind, size):
    before = plt.get_fignums()
    fig = build(kind, size)
    assert isinstance(fig, Figure)
    data = png(fig)
    assert data.startswith(PNG)
    assert tuple(fig.get_size_inches()) == plots.FIGSIZE
    assert fig.axes[0].get_title() or fig.get_suptitle()
    assert plt.get_fignums() == before  # nothing left open in pyplot


@pytest.mark.parametrize("kind", KINDS)
def test_empty_input_says_no_data(kind):
    fig = build(kind, "empty")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("no data") for t in texts), texts


def test_a_missing_glyph_would_fail_these_tests():
    # The guard works: a glyph DejaVu Sans lacks raises under warnings-as-errors.
    fig = Figure()
    fig.text(0.5, 0.5, "漢")
    with pytest.raises(UserWarning, match=r"[Gg]lyph"):
        png(fig)


def test_cyrillic_renders_even_when_the_configured_font_lacks_it():
    with matplotlib.rc_context({"font.family": "cmr10", "axes.formatter.use_mathtext": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig = plots.plot_states(SIZES["large"], by="campaign")
            png(fig)


def test_axis_labels_carry_units():
    report = delivery_report(SIZES["large"], by="campaign")
    assert plots.plot_delivery_rate(report).axes[0].get_xlabel() == "delivery rate, %"
    assert [ax.get_xlabel() for ax in plots.plot_cost(report).axes] == [
        "cost, ₽",
        "cost per delivered SMS, ₽",
    ]
    assert plots.plot_latency_cdf(SIZES["large"]).axes[0].get_xlabel().endswith(", s")
    assert plots.plot_balance_history(history(5)).axes[0].get_ylabel() == "balance, ₽"
    assert plots.plot_states(report, percent=True).axes[0].get_xlabel() == "share of messages, %"


def test_each_state_has_its_own_color_in_every_figure():
    fig = plots.plot_states(SIZES["large"], by="campaign")
    ax = fig.axes[0]
    colors = {}
    for container in ax.containers:
        label = container.get_label()
        colors[label] = {to_hex(p.get_facecolor()) for p in container.patches}
    for state, color in plots.STATE_COLORS.items():
        label = plots._STATE_LABELS[state]
        if label in colors:
            assert colors[label] == {color}, state
    assert len(colors) >= 5


def test_bars_add_up_to_messages_per_group():
    report = delivery_report(SIZES["large"], by="campaign")
    ax = plots.plot_states(report).axes[0]
    ends = np.zeros(len(report))
    for container in ax.containers:
        ends = np.maximum(ends, [p.get_x() + p.get_width() for p in container.patches])
    assert ends.tolist() == report["messages"].astype(float).tolist()


def test_more_groups_than_max_shows_the_largest_and_says_so():
    report = delivery_report(SIZES["large"], by="campaign")
    fig = plots.plot_states(report, max_groups=5)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == 5
    assert any("showing 5 of 30" in t.get_text() for t in fig.texts)


def test_group_labels_join_list_keys_and_name_missing_values():
    frame = SIZES["large"].assign(campaign=lambda f: f["campaign"].where(f.index % 7 != 0))
    report = delivery_report(frame.assign(sender="ИНФО"), by=["campaign", "sender"])
    labels = plots._group_labels(report)
    assert "(none) · ИНФО" in labels
    assert all(len(label) <= plots._MAX_LABEL for label in labels)
    png(plots.plot_delivery_rate(report))


def test_plot_states_refuses_to_regroup_a_report():
    report = delivery_report(SIZES["large"], by="campaign")
    with pytest.raises(ValueError, match="report"):
        plots.plot_states(report, by="sender")
    plots.plot_states(report, by="campaign")  # the report's own grouping is fine


def test_delivery_rate_marks_groups_without_final_states():
    frame = pd.DataFrame({"campaign": ["ждёт", "готово"], "state": ["send", "deliver"]})
    fig = plots.plot_delivery_rate(delivery_report(frame, by="campaign"))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "no final states" in texts and "100.0 %" in texts
    png(fig)


def test_latency_cdf_by_date_and_total_and_log_scale():
    frame = SIZES["large"]
    fig = plots.plot_latency_cdf(frame, by="date")
    assert fig.axes[0].get_xscale() == "log"  # lognormal latencies span decades
    assert len(fig.axes[0].get_legend().get_texts()) == 2  # two Moscow days
    png(fig)
    fig = plots.plot_latency_cdf(frame)
    lines = fig.axes[0].get_lines()
    assert max(np.max(line.get_ydata()) for line in lines) == 100.0
    png(fig)


def test_balance_packages_title_has_the_amount_and_bars_follow_packages_frame():
    fig = plots.plot_balance_packages(BALANCE)
    ax = fig.axes[0]
    assert ax.get_title() == "SMS left per direction — balance 445.60 ₽"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Россия" and labels[-1] == "Остальные"


def test_balance_history_marks_top_ups_and_draws_one_line_per_currency():
    fig = plots.plot_balance_history(history(10))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["balance, ₽", "top-up, ₽"]
    mixed = pd.concat([history(4), history(4).assign(currency="USD", amount=[9.0, 8, 7, 6])])
    fig = plots.plot_balance_history(mixed)
    assert fig.axes[0].get_ylabel() == "balance, in each currency"
    png(fig)


def test_balance_history_shows_moscow_wall_time():
    snapshots = pd.DataFrame(
        {"taken_at": pd.to_datetime(["2024-05-01 21:30"], utc=True), "amount": [10.0]}
    )
    ax = plots.plot_balance_history(snapshots).axes[0]
    x = pd.Timestamp(ax.get_lines()[0].get_xdata()[0])
    assert (x.day, x.hour, x.minute) == (2, 0, 30)


# ---------------------------------------------------------------- insight plots and defects


def test_few_bars_leave_no_empty_band_under_the_last_bar():
    fig = plots.plot_delivery_rate(delivery_report(synthetic(50, 2), by="campaign"))
    bottom, top = fig.axes[0].get_ylim()
    # two rows at y = 0 and 1: the spare room is split evenly above and below
    assert bottom - 1 == pytest.approx(0 - top)


def test_delivery_rate_bars_carry_their_wilson_interval():
    report = delivery_report(synthetic(300, 3), by="campaign")
    fig = plots.plot_delivery_rate(report)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "95 % interval" in labels


def test_a_single_latency_is_drawn_with_a_visible_marker():
    frame = synthetic(400, 2)
    one = frame[frame["state"] == "deliver"].head(1).assign(campaign="единственное")
    fig = plots.plot_latency_cdf(pd.concat([frame, one]), by="campaign")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    single = next(v for k, v in lines.items() if k.startswith("единственное"))
    assert single.get_marker() == "o"


def test_directions_with_nothing_left_are_not_drawn_but_counted():
    balance = ts.parse_balance("10 RUR\nРоссия:5,МТС:0,Yota:0")
    fig = plots.plot_balance_packages(balance)
    assert len(fig.axes[0].patches) == 1
    assert any("2 more directions with 0 SMS left" in t.get_text() for t in fig.texts)


def test_heatmap_cells_hold_the_rate_of_each_operator_and_hour():
    statuses = pd.DataFrame(
        {
            "operator": ["МТС", "МТС", "Билайн", "Билайн"],
            "hour": [9, 9, 23, 23],
            "state": ["deliver", "expired", "expired", "expired"],
        }
    )
    fig = plots.plot_heatmap(statuses)
    image = fig.axes[0].get_images()[0].get_array()
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert image.shape == (2, 15) and sorted(rows) == ["Билайн", "МТС"]  # hours 9 to 23
    mts, beeline = rows.index("МТС"), rows.index("Билайн")
    assert image[mts, 0] == 50.0 and image[beeline, 14] == 0.0 and image.mask[mts, 5]


def test_compare_plot_says_which_group_is_the_baseline():
    statuses = synthetic(500, 3)
    fig = plots.plot_compare(compare(statuses, by="campaign"))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("baseline") == 1 and any("p = " in t for t in texts)
