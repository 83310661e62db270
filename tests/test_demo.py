"""``targetsms demo`` end to end, and the HTML report it writes."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from targetsms_analytics.cli import cli
from targetsms_analytics.demo import DEMO_CONTACTS, report_with_total, run_demo
from targetsms_analytics.errors import InputError
from targetsms_analytics.html_report import format_frame, render_report, text_table

SCRIPT = Path(sys.executable).with_name("targetsms.exe" if os.name == "nt" else "targetsms")
DEMO_FILES = (
    "report.html",
    "campaign_result.csv",
    "statuses.csv",
    "report_by_operator.csv",
    "report_by_date.csv",
    "balance_packages.csv",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_demo_output(out: Path) -> None:
    for name in DEMO_FILES:
        assert (out / name).is_file(), name
    assert (out / "journal.sqlite3").is_file()  # the demo's own journal, inside the out dir
    plots = sorted((out / "plots").iterdir())
    assert len(plots) >= 8 and {p.suffix for p in plots} == {".png"}  # with the insight plots

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for heading in (
        "Estimate",
        "Money: estimate, cost, spent",
        "Delivery by operator",
        "Delivery by date",
        "Failures by operator",
        "Recipients not sent",
        "Spend reconciled against the balance",
        "Glossary",
    ):
        assert f">{heading}</h2>" in page
    assert page.count("<table>") >= 5 and '<table class="headline">' in page
    assert "rows lost to an empty {name}" in page  # an alert in plain words
    assert "Estimate = the list price" in page  # estimate vs cost vs spent, in one sentence
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) >= 5
    assert base64.b64decode(images[0]).startswith(PNG_MAGIC)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # no external assets

    result = pd.read_csv(out / "campaign_result.csv", encoding="utf-8-sig", dtype=str)
    contacts = pd.read_csv(DEMO_CONTACTS, dtype=str)
    assert len(result) == len(contacts)  # one row per input row
    assert result["phone"].fillna("").tolist() == contacts["phone"].fillna("").tolist()
    assert set(result["outcome"]) <= {"sent", "invalid", "duplicate", "rejected", "queued"}
    assert (result["outcome"] == "sent").sum() > 200

    statuses = pd.read_csv(out / "statuses.csv", encoding="utf-8-sig", dtype={"sms_id": str})
    assert len(statuses) == (result["outcome"] == "sent").sum()
    assert statuses["is_final"].all()  # refreshed until final

    by_operator = pd.read_csv(out / "report_by_operator.csv", encoding="utf-8-sig")
    assert by_operator["operator"].iloc[-1] == "total"
    assert by_operator["messages"].iloc[-1] == len(statuses)
    assert by_operator["messages"].iloc[:-1].sum() == len(statuses)
    by_date = pd.read_csv(out / "report_by_date.csv", encoding="utf-8-sig")
    assert by_date["date"].iloc[-1] == "total"
    packages = pd.read_csv(out / "balance_packages.csv", encoding="utf-8-sig")
    assert list(packages.columns) == ["direction", "remaining"]
    assert "Россия" in set(packages["direction"])


@pytest.mark.slow
def test_demo_runs_end_to_end_in_a_tmp_dir_within_budget(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    stdout = result.stdout
    for words in ("recipients", "invalid", "duplicates", "parts", "expected cost", "total"):
        assert words in stdout
    assert "operator" in stdout and "delivery rate" in stdout and "cost, ₽" in stdout
    assert "RUB" not in stdout and "RUR" not in stdout  # one currency sign
    printed = re.search(r"Open the report: (.+)$", stdout.strip().splitlines()[-1])
    assert printed is not None
    assert Path(printed.group(1)).is_file()
    assert Path(printed.group(1)) == (out / "report.html").resolve()
    _check_demo_output(out)
    # the user's journal ($TARGETSMS_STORE in tests) was never touched
    assert not Path(os.environ["TARGETSMS_STORE"]).exists()


@pytest.mark.slow
def test_demo_as_a_console_script_twice_in_the_same_dir(tmp_path):
    out = tmp_path / "targetsms-demo"
    for _ in range(2):  # a second run replaces the demo's journal instead of resuming it
        done = subprocess.run(
            [str(SCRIPT), "demo"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=tmp_path,
            timeout=120,
            env={**os.environ, "MPLBACKEND": "Agg"},
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert str(out / "report.html") in done.stdout
    _check_demo_output(out)


def test_run_demo_without_contacts_raises_a_clear_input_error(tmp_path):
    with pytest.raises(InputError) as info:
        run_demo(tmp_path / "out", echo=lambda line: None, contacts_path=tmp_path / "none.csv")
    assert info.value.code == "missing_demo_data"
    assert "none.csv" in info.value.text and "missing" in info.value.text
    assert not (tmp_path / "out").exists()


def test_the_demo_contacts_are_package_data():
    root = Path(__file__).resolve().parents[1]
    assert Path(str(DEMO_CONTACTS)) == root / "targetsms_analytics" / "data" / "contacts_demo.csv"
    assert DEMO_CONTACTS.is_file()


# ---------------------------------------------------------------- the HTML report


def test_render_report_escapes_every_text():
    evil = "<script>alert(1)</script>"
    frame = pd.DataFrame({evil: [evil, "a & b"], "n": [1, 2]})
    page = render_report(evil, {evil: frame}, {}, notes=[evil])
    assert "<script>" not in page
    # title, h1, note, h2, column header, cell
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6
    assert "a &amp; b" in page


def test_render_report_embeds_figures_as_png_data_uris():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    page = render_report("t", {}, {"A line": fig})
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page)
    assert data is not None
    assert base64.b64decode(data.group(1)).startswith(PNG_MAGIC)
    assert 'alt="A line"' in page


def test_render_report_marks_the_total_row_and_aligns_numbers():
    statuses = pd.DataFrame(
        {"campaign": ["a", "a", "b"], "state": ["deliver", "expired", "deliver"]}
    )
    page = render_report("r", {"By campaign": report_with_total(statuses, "campaign")})
    assert '<tr class="total"><td>total</td><td class="num">3</td>' in page
    assert '<td class="num">66.7 %</td>' in page


def test_format_frame_shows_rates_money_and_missing_values():
    frame = pd.DataFrame(
        {
            "delivery_rate": [0.8619, None],
            "cost": [311.0, 2.345],
            "latency_p50_s": [82.32, float("nan")],
            "is_final": [True, False],
            "parts": pd.array([3, None], dtype="Int64"),
            "when": pd.to_datetime(["2024-05-01 12:00:07", None]).tz_localize("Europe/Moscow"),
        }
    )
    shown = format_frame(frame)
    assert shown.iloc[0].tolist() == [
        "86.2 %",
        "311.00",
        "82.3",
        "yes",
        "3",
        "2024-05-01 12:00:07 MSK",
    ]
    assert shown.iloc[1].tolist() == ["—", "2.35", "—", "no", "—", "—"]


def test_text_table_cuts_long_tables_and_says_so():
    text = text_table(pd.DataFrame({"n": range(10)}), max_rows=3)
    assert text.splitlines()[-1] == "… 7 more rows"
    assert text_table(pd.DataFrame({"n": []})).endswith("(no rows)")


def test_datetimes_say_their_zone_so_tables_in_utc_and_moscow_do_not_mislead():
    # The journal keeps balance snapshots in UTC, statuses come in Moscow time: one report shows both.
    when = pd.Timestamp("2024-05-01 09:00:07", tz="UTC")
    shown = format_frame(
        pd.DataFrame(
            {
                "taken_at": [when],
                "changed_at": [when.tz_convert("Europe/Moscow")],
                "naive": [when.tz_localize(None)],
            }
        )
    )
    assert shown.iloc[0].tolist() == [
        "2024-05-01 09:00:07 UTC",
        "2024-05-01 12:00:07 MSK",
        "2024-05-01 09:00:07",
    ]


def test_long_column_names_may_break_after_underscores_so_reports_fit_the_page():
    statuses = pd.DataFrame({"operator": ["МТС"], "state": ["deliver"]})
    page = render_report("r", {"By operator": report_with_total(statuses, "operator")})
    assert "<th>cost_<wbr>per_<wbr>delivered</th>" in page
    assert "<th>operator</th>" in page
