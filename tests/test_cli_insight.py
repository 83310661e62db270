"""``campaign compare``, ``spend`` and ``campaign report --by COLUMN --html``, end to end."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from targetsms_analytics.cli import cli
from targetsms_analytics.emulator import Emulator

CONTACTS = "name,phone,segment\n" + "".join(
    f"Клиент {i},7916{i:07d},{'vip' if i % 2 else 'new'}\n" for i in range(30)
)


@pytest.fixture
def emu(monkeypatch, tmp_path):
    """An emulator with no throttle window and instant lifecycles; the CLI points at it."""
    monkeypatch.chdir(tmp_path)
    outcomes = {"deliver": 0.7, "expired": 0.3}
    with Emulator(throttle_interval=0.0, delivery_delay=(0, 0), outcomes=outcomes, seed=3) as e:
        monkeypatch.setenv("TARGETSMS_URL", e.url)
        monkeypatch.setenv("TARGETSMS_USER", "demo")
        monkeypatch.setenv("TARGETSMS_PASSWORD", "demo")
        yield e


@pytest.fixture
def run(tmp_path):
    store = tmp_path / "j.sqlite"

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def two_campaigns(emu, run, tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text(CONTACTS, encoding="utf-8")
    assert run("balance").exit_code == 0
    for name, text in (("spring", "Привет, {name}!"), ("autumn", "Скидка, {name}!")):
        sent = run("campaign", "send", str(csv), "--text", text, "--sender", "SHOP",
                   "--campaign", name)  # fmt: skip
        assert sent.exit_code == 0, sent.output
        assert run("campaign", "refresh", "--campaign", name).exit_code == 0
    assert run("balance").exit_code == 0
    return emu


def test_compare_two_campaigns_against_the_first(two_campaigns, run, tmp_path):
    out = tmp_path / "cmp.csv"
    result = run("campaign", "compare", "spring", "autumn", "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert "difference, pp" in result.stdout and "p-value" in result.stdout
    assert "autumn:" in result.stdout and ("real difference" in result.stdout
                                           or "may be noise" in result.stdout)  # fmt: skip
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table.loc[table["baseline"], "campaign"].tolist() == ["spring"]
    assert table["messages"].tolist() == [30, 30]


def test_compare_by_a_column_within_campaigns(two_campaigns, run):
    result = run("campaign", "compare", "spring", "--by", "operator")
    assert result.exit_code == 0, result.output
    assert "baseline" in result.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("spring",), "bad_input"),
        (("spring", "autumn", "--baseline", "winter"), "unknown_baseline"),
        (("spring", "nope"), "unknown_campaign"),
        (("spring", "autumn", "--by", "city"), "bad_grouping"),
    ],
)
def test_compare_bad_input_is_one_line_not_a_traceback(two_campaigns, run, args, code):
    result = run("campaign", "compare", *args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error {code}:"), result.stderr
    assert "Traceback" not in result.output


def test_spend_reconciles_the_journal(two_campaigns, run, tmp_path):
    out = tmp_path / "spend.csv"
    result = run("spend", "--csv", str(out))
    assert result.exit_code == 0, result.output
    assert "spent from balance, ₽" in result.stdout and "Estimate = " in result.stdout
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["messages"].sum() == 60 and not table["mismatch"].any()
    weekly = run("spend", "--freq", "W")
    assert weekly.exit_code == 0, weekly.output


def test_spend_without_snapshots_says_what_to_do_and_a_bad_freq_is_bad_input(emu, run):
    result = run("spend")
    assert result.exit_code == 0 and "two balance snapshots" in result.stdout
    bad = run("spend", "--freq", "fortnightly")
    assert bad.exit_code == 2 and bad.stderr.startswith("error bad_freq:")


def test_report_by_hour_and_a_list_of_columns_and_html(two_campaigns, run, tmp_path):
    for by in ("hour", "operator,hour", "region"):
        result = run("campaign", "report", "--campaign", "spring", "--by", by)
        assert result.exit_code == 0, result.output
        assert "total" in result.stdout
    page = tmp_path / "r.html"
    result = run("campaign", "report", "--campaign", "spring", "--html", str(page))
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    for section in ("headline", "Glossary", "Failures by operator", "Spend reconciled"):
        assert section in text
    words = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)  # base64 may spell RUR
    assert "RUR" not in words and "RUB" not in words and "₽" in words


@pytest.mark.parametrize("freq", ["M", "W", "D"])
def test_spend_by_month_week_and_day_as_the_help_says(two_campaigns, run, freq):
    result = run("spend", "--freq", freq)
    assert result.exit_code == 0, result.output
    assert "spent from balance, ₽" in result.stdout


@pytest.mark.parametrize("freq", ["0D", "MS"])
def test_spend_with_a_frequency_without_periods_is_one_error_line(two_campaigns, run, freq):
    result = run("spend", "--freq", freq)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error bad_freq:"), result.stderr
    assert "Traceback" not in result.output


def test_compare_by_a_contact_column_that_is_no_identifier(emu, run, tmp_path):
    csv = tmp_path / "c.csv"
    csv.write_text(CONTACTS.replace(",segment\n", ",my seg\n", 1), encoding="utf-8")
    for name in ("spring", "autumn"):
        sent = run("campaign", "send", str(csv), "--text", "Привет, {name}!", "--sender", "SHOP",
                   "--campaign", name)  # fmt: skip
        assert sent.exit_code == 0, sent.output
        assert run("campaign", "refresh", "--campaign", name).exit_code == 0
    result = run("campaign", "compare", "spring", "autumn", "--by", "my seg")
    assert result.exit_code == 0, result.output
    assert "new:" in result.stdout or "vip:" in result.stdout
    both = run("campaign", "compare", "spring", "autumn", "--by", "campaign,my seg")
    assert both.exit_code == 0, both.output


@pytest.mark.parametrize("by", ["hour,hour", "operator,operator", "messages"])
def test_report_by_a_repeated_or_clashing_column_is_one_error_line(two_campaigns, run, by):
    result = run("campaign", "report", "--campaign", "spring", "--by", by)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error bad_grouping:"), result.stderr
    assert "Traceback" not in result.output
