"""The ``targetsms`` command line, end to end against the emulator (in-process and as a script)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import targetsms_analytics as ts
from targetsms_analytics.cli import cli, main
from targetsms_analytics.contacts import find_phone_column, read_contacts
from targetsms_analytics.emulator import FIRST_SMS_ID
from targetsms_analytics.errors import InputError
from targetsms_analytics.journal import Journal

REPO = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("targetsms.exe" if os.name == "nt" else "targetsms")

CONTACTS_CSV = """name,phone,city
Анна,+7 916 123-45-67,Москва
Олег,8 (926) 765-43-21,Казань
Ирина,8 903 111 22 33,Самара
Павел,79501112233,Уфа
Анна,8-916-123-45-67,Москва
Никто,12345,Пермь
"""


@pytest.fixture(autouse=True)
def _no_dotenv_here(tmp_path, monkeypatch):
    """Run from a directory without a ``.env`` above it, so only the test's variables count."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "cli-journal.sqlite"


@pytest.fixture
def creds(emulator, monkeypatch):
    """Credentials pointing the CLI at the test emulator."""
    monkeypatch.setenv("TARGETSMS_URL", emulator.url)
    monkeypatch.setenv("TARGETSMS_USER", "demo")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "demo")
    return emulator


@pytest.fixture
def run(store):
    """Invoke the CLI in-process with ``--store`` set; returns click's Result."""

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--store", str(store), *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def contacts_csv(tmp_path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS_CSV, encoding="utf-8")
    return path


def _sends(emulator) -> list[dict]:
    return [entry for entry in emulator.log if entry["op"] == "send"]


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# ---------------------------------------------------------------- help and README


def _all_commands() -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in cli.commands.items():
        out.append((name, command))
        if isinstance(command, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in command.commands.items()]
    return out


#: The commands the README must show (the lead includes them; this list is the contract).
EXPECTED_COMMANDS = [
    "balance",
    "campaign",
    "campaign compare",
    "campaign list",
    "campaign mark",
    "campaign refresh",
    "campaign report",
    "campaign resend-unknown",
    "campaign send",
    "demo",
    "emulator",
    "numbering",
    "numbering info",
    "numbering update",
    "send",
    "spend",
    "status",
]


def test_the_command_set_is_the_documented_one():
    assert sorted(name for name, _ in _all_commands()) == EXPECTED_COMMANDS


@pytest.mark.parametrize("name", EXPECTED_COMMANDS)
def test_every_command_has_help_with_a_one_line_description(name):
    command = dict(_all_commands())[name]
    assert command.get_short_help_str(limit=200).strip(), f"{name} has no description"
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help or param.name in ("port", "concurrency", "seed"), param.name


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name, _command in _all_commands():
        assert name.split()[0] in result.output


def test_every_command_appears_in_the_readme():
    readme = REPO / "README.md"
    assert readme.is_file(), "README.md is missing at the repository root"
    text = readme.read_text(encoding="utf-8")
    for name, _command in _all_commands():
        if " " in name:  # a subcommand: `campaign send`
            assert name in text, f"README.md does not show `targetsms {name}`"
        else:
            assert f"targetsms {name}" in text, f"README.md does not show `targetsms {name}`"


def test_main_is_the_console_script_entry_point():
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0


# ---------------------------------------------------------------- single commands


def test_send_prints_one_id_per_phone_and_journals_them(creds, run, store):
    result = run("send", "--sender", "SHOP", "--text", "Привет!", "79161234567", "8 926 765 43 21")
    assert result.exit_code == 0, result.output
    assert str(FIRST_SMS_ID) in result.stdout
    assert str(FIRST_SMS_ID + 1) in result.stdout
    assert "sent 2" in result.stdout
    assert len(creds.sent_phones()) == 2
    with Journal(store) as journal:
        names = journal.campaigns()["campaign"].tolist()
    assert len(names) == 1 and names[0] in result.stdout


def test_the_same_send_twice_does_not_send_twice(creds, run):
    args = ("send", "--sender", "SHOP", "--text", "Один раз", "79161234567")
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 0
    assert "nothing new was sent" in again.stderr
    assert len(_sends(creds)) == 1


def test_send_to_a_stop_listed_number_fails_with_exit_1(creds, run):
    result = run("send", "--sender", "SHOP", "--text", "Привет", "79000000000")
    assert result.exit_code == 1
    assert "phone_stop_listed" in result.stdout


def test_status_by_ids_and_by_campaign(creds, run):
    sent = run(
        "send",
        "--campaign",
        "one",
        "--sender",
        "SHOP",
        "--text",
        "Hi",
        "79161234567",
        "79261234567",
    )
    assert sent.exit_code == 0, sent.output
    creds.advance(3600)  # every lifecycle is final now
    by_id = run("status", str(FIRST_SMS_ID))
    assert by_id.exit_code == 0, by_id.output
    assert "1 of 1 final" in by_id.stdout
    assert creds.state_of(str(FIRST_SMS_ID)) in by_id.stdout
    by_campaign = run("status", "--campaign", "one")
    assert by_campaign.exit_code == 0, by_campaign.output
    assert "2 of 2 final" in by_campaign.stdout
    assert "79261234567" in by_campaign.stdout


def test_status_needs_ids_or_a_campaign(creds, run):
    result = run("status")
    assert result.exit_code == 2
    assert "--campaign" in result.stderr


def test_status_of_an_unknown_campaign_is_bad_input(creds, run):
    result = run("status", "--campaign", "nope")
    assert result.exit_code == 2
    assert _one_error_line(result).startswith("error unknown_campaign:")


def test_balance_prints_packages_and_saves_a_snapshot(creds, run, store):
    result = run("balance")
    assert result.exit_code == 0, result.output
    assert "balance: 445.60 RUR" in result.stdout
    assert "Россия" in result.stdout and "remaining" in result.stdout
    with Journal(store) as journal:
        assert journal.balance_snapshots()["amount"].tolist() == [445.6]
        assert "МТС" in set(journal.package_history()["direction"])


def test_a_service_error_prints_code_and_text_and_exits_1(creds, run, monkeypatch):
    monkeypatch.setenv("TARGETSMS_USER", "blocked")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "blocked")
    result = run("balance")
    assert result.exit_code == 1
    assert _one_error_line(result) == "error account_blocked: Аккаунт заблокирован."


def test_the_password_is_never_printed(creds, run, monkeypatch):
    monkeypatch.setenv("TARGETSMS_PASSWORD", "s3cret-Pa55word")
    commands = (  # all different requests: an identical one within the interval would wait
        ("balance",),
        ("-vv", "status", str(FIRST_SMS_ID)),
        ("-v", "send", "--sender", "SHOP", "--text", "x", "79161234567"),
    )
    for args in commands:
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert "s3cret-Pa55word" not in result.output
        assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("balance",),
        ("send", "--sender", "SHOP", "--text", "Hi", "79161234567"),
        ("status", "1179038981"),
        ("campaign", "refresh", "--campaign", "spring"),
    ],
)
def test_missing_credentials_is_one_line_and_exit_2(run, args):
    result = run(*args)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "TARGETSMS_USER" in line and "TARGETSMS_PASSWORD" in line
    assert result.stdout == ""


def test_a_plain_http_url_off_loopback_is_bad_input(run, monkeypatch):
    monkeypatch.setenv("TARGETSMS_URL", "http://sms.example.com/sendsms.php")
    monkeypatch.setenv("TARGETSMS_USER", "demo")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "demo")
    result = run("balance")
    assert result.exit_code == 2
    assert _one_error_line(result).startswith("error invalid_url:")


# ---------------------------------------------------------------- CSV input


def test_a_cp1251_semicolon_csv_is_read_right(tmp_path):
    path = tmp_path / "crm.csv"
    path.write_bytes(
        "Имя;Телефон;Город\nАнна;+7 916 123-45-67;Москва\nОлег;007 926 765 43 21;Казань\n".encode(
            "cp1251"
        )
    )
    frame = read_contacts(path)
    assert (frame.attrs["encoding"], frame.attrs["separator"]) == ("cp1251", ";")
    assert list(frame.attrs["line_numbers"]) == [2, 3]
    assert list(frame.columns) == ["Имя", "Телефон", "Город"]
    assert frame["Телефон"].tolist() == ["+7 916 123-45-67", "007 926 765 43 21"]
    assert find_phone_column(frame) == "Телефон"


@pytest.mark.parametrize(
    ("encoding", "sep"), [("utf-8", ","), ("utf-8-sig", ","), ("utf-8-sig", ";"), ("utf-8", "\t")]
)
def test_utf8_csvs_with_or_without_bom_keep_phones_as_text(tmp_path, encoding, sep):
    path = tmp_path / "c.csv"
    rows = (
        ["name", "phone", "id"],
        ["Иванов, Иван", "+79161234567", "007"],
        ["Пётр", "0079161234568", ""],
    )
    text = "\n".join(sep.join(f'"{v}"' if sep in v or "," in v else v for v in r) for r in rows)
    path.write_bytes((text + "\n").encode(encoding))
    frame = read_contacts(path)
    assert list(frame.columns) == ["name", "phone", "id"]
    assert frame["phone"].tolist() == ["+79161234567", "0079161234568"]
    assert frame["name"].tolist() == ["Иванов, Иван", "Пётр"]
    assert frame.loc[0, "id"] == "007" and pd.isna(frame.loc[1, "id"])
    assert frame.attrs["separator"] == sep


def test_campaign_send_cp1251_csv_estimate_only_needs_no_credentials(emulator, run, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(CONTACTS_CSV.replace(",", ";").encode("cp1251"))
    result = run(
        "campaign", "send", str(path), "--text", "Здравствуйте, {name}!", "--sender", "SHOP",
        "--campaign", "spring", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cp1251" in result.stdout and "';'" in result.stdout
    assert re.search(r"recipients +4\n", result.stdout)
    assert re.search(r"invalid +1\n", result.stdout)
    assert re.search(r"duplicates +1\n", result.stdout)
    assert "expected cost" in result.stdout
    assert emulator.log == []  # nothing was asked of anyone


def test_a_csv_without_a_phone_column_is_one_line_and_exit_2(creds, run, tmp_path):
    path = tmp_path / "nophone.csv"
    path.write_text("name,city\nАнна,Москва\n", encoding="utf-8")
    result = run(
        "campaign", "send", str(path), "--text", "Hi", "--sender", "SHOP", "--campaign", "x"
    )
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert line.startswith("error no_phone_column:")
    assert "'name'" in line and "--phone-column" in line
    assert _sends(creds) == []


def test_a_named_phone_column_that_is_absent_is_bad_input(run, contacts_csv):
    result = run(
        "campaign", "send", str(contacts_csv), "--text", "Hi", "--sender", "SHOP",
        "--campaign", "x", "--phone-column", "mobile", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "'mobile'" in _one_error_line(result)


def test_a_template_field_without_a_column_is_bad_input(run, contacts_csv):
    result = run(
        "campaign", "send", str(contacts_csv), "--text", "Hi {surname}", "--sender", "SHOP",
        "--campaign", "x", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "{surname}" in _one_error_line(result)


# ---------------------------------------------------------------- campaign send, refresh, report


@pytest.fixture
def sent_campaign(creds, run, contacts_csv, tmp_path):
    """The contacts sent as campaign 'spring', every lifecycle made final."""
    result_csv = tmp_path / "result.csv"
    result = run(
        "campaign", "send", str(contacts_csv), "--text", "Здравствуйте, {name}!",
        "--sender", "SHOP", "--campaign", "spring", "--concurrency", "2",
        "--result", str(result_csv),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "campaign spring: sent 4" in result.stdout
    rows = pd.read_csv(result_csv, encoding="utf-8-sig", dtype=str)
    assert rows["outcome"].tolist() == ["sent", "sent", "sent", "sent", "duplicate", "invalid"]
    creds.advance(3600)
    return creds


def test_campaign_send_twice_sends_nobody_twice(sent_campaign, run, contacts_csv):
    again = run(
        "campaign", "send", str(contacts_csv), "--text", "Здравствуйте, {name}!",
        "--sender", "SHOP", "--campaign", "spring",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "(0 requests)" in again.stdout
    assert len(sent_campaign.sent_phones()) == 4


def test_campaign_refresh_then_report_in_every_format(sent_campaign, run, tmp_path):
    before = run("campaign", "report", "--campaign", "spring")
    assert before.exit_code == 0
    assert "not final yet" in before.stderr  # nothing fetched so far: all 'send'

    refreshed = run("campaign", "refresh", "--campaign", "spring")
    assert refreshed.exit_code == 0, refreshed.output
    assert "4 of 4 final" in refreshed.stdout

    out_csv, out_json, out_html = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "r.html"
    asked = len(sent_campaign.log)
    report = run(
        "campaign", "report", "--campaign", "spring", "--by", "operator",
        "--csv", str(out_csv), "--json", str(out_json), "--html", str(out_html),
    )  # fmt: skip
    assert report.exit_code == 0, report.output
    assert len(sent_campaign.log) == asked  # a report reads the journal only
    assert "total" in report.stdout and "delivery rate" in report.stdout
    assert "not final yet" not in report.stderr

    table = pd.read_csv(out_csv, encoding="utf-8-sig")
    assert table["operator"].iloc[-1] == "total"
    assert table["messages"].iloc[-1] == 4
    assert table["messages"].iloc[:-1].sum() == 4
    assert {"delivery_rate", "cost", "latency_p50_s"} <= set(table.columns)

    records = json.loads(out_json.read_text(encoding="utf-8"))
    assert records[-1]["operator"] == "total" and records[-1]["messages"] == 4

    page = out_html.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Delivery by operator" in page and "<table>" in page
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # nothing loaded from anywhere


@pytest.mark.parametrize("by", ["operator", "date", "campaign", "sender"])
def test_campaign_report_by_each_grouping(sent_campaign, run, tmp_path, by):
    assert run("campaign", "refresh", "--campaign", "spring").exit_code == 0
    out = tmp_path / f"{by}.csv"
    result = run("campaign", "report", "--campaign", "spring", "--by", by, "--csv", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={by: str})
    assert by in table.columns and table[by].iloc[-1] == "total"
    if by == "sender":
        assert table[by].tolist() == ["SHOP", "total"]


def test_campaign_refresh_wait_returns_once_all_are_final(sent_campaign, run):
    result = run("campaign", "refresh", "--campaign", "spring", "--wait", "30")
    assert result.exit_code == 0, result.output
    assert "4 of 4 final" in result.stdout
    # one round: each SMS asked once, then it returned rather than waiting out the 30 s
    asked = [e["params"]["smsid"] for e in sent_campaign.log if e["op"] == "detail"]
    assert len(asked) == len(set(asked)) == 4


def test_campaign_report_of_an_unknown_campaign_is_bad_input(run):
    result = run("campaign", "report", "--campaign", "nope")
    assert result.exit_code == 2
    assert _one_error_line(result).startswith("error unknown_campaign:")


def test_campaign_report_by_a_contact_column_and_an_unknown_grouping(sent_campaign, run):
    by_city = run("campaign", "report", "--campaign", "spring", "--by", "city")
    assert by_city.exit_code == 0, by_city.output  # the journal keeps the contact's columns
    assert "Москва" in by_city.stdout and "total" in by_city.stdout
    result = run("campaign", "report", "--campaign", "spring", "--by", "planet")
    assert result.exit_code == 2
    assert _one_error_line(result).startswith("error bad_grouping:")
    assert "operator" in result.stderr and "Traceback" not in result.output


def test_demo_without_its_contacts_file_says_so(run, monkeypatch, tmp_path):
    import targetsms_analytics.demo as demo

    monkeypatch.setattr(demo, "DEMO_CONTACTS", tmp_path / "missing.csv")
    result = run("demo", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert line.startswith("error missing_demo_data:") and "missing.csv" in line


def test_read_contacts_on_an_empty_file_is_bad_input(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_contacts(path)


# ---------------------------------------------------------------- the real console script


def _script(*args: str, env: dict[str, str] | None = None, cwd: Path, timeout: float = 60):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def test_the_console_script_without_credentials_exits_2_with_one_line(tmp_path):
    result = _script("balance", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TARGETSMS_USER" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_the_console_script_serves_an_emulator_that_the_cli_can_use(tmp_path):
    server = subprocess.Popen(
        [str(SCRIPT), "emulator", "--port", "0", "--throttle-interval", "1", "--speed", "100"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("TargetSMS emulator at http://127.0.0.1:"), first
        url = first.split(" at ", 1)[1].strip()
        env = {"TARGETSMS_URL": url, "TARGETSMS_USER": "demo", "TARGETSMS_PASSWORD": "demo"}
        store = str(tmp_path / "journal.sqlite")
        result = _script("--store", store, "balance", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "balance: 445.60 RUR" in result.stdout
        sent = _script(
            "--store", store, "send", "--sender", "SHOP", "--text", "Привет", "79161234567",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert str(FIRST_SMS_ID) in sent.stdout
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait(timeout=10)


# ---------------------------------------------------------------- bad paths and ports


def test_an_unusable_store_path_is_one_line_not_a_traceback(creds, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--store", str(blocker / "j.sqlite"), "balance"])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert line.startswith("error file:") and "a-file" in line


def test_a_store_sqlite_cannot_open_is_one_line_naming_the_store(creds, tmp_path):
    store = tmp_path / "dir.sqlite"
    store.mkdir()  # click checks --store is not a directory; TARGETSMS_STORE is not checked
    result = CliRunner().invoke(cli, ["balance"], env={"TARGETSMS_STORE": str(store)})
    assert result.exit_code == 1, result.output
    line = _one_error_line(result)
    assert line.startswith("error journal:") and str(store) in line and "--store" in line


def test_an_output_file_in_a_missing_folder_is_one_line_and_exit_2(sent_campaign, run, tmp_path):
    missing = tmp_path / "no-such-dir" / "r.html"
    result = run("campaign", "report", "--campaign", "spring", "--html", str(missing))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.splitlines()[-1]  # after the report and its "not final yet" note
    assert line.startswith("error file:") and str(missing) in line


def test_demo_into_an_unwritable_place_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--out", str(blocker / "out")])
    assert result.exit_code == 2, result.output
    assert _one_error_line(result).startswith("error file:")


def test_emulator_on_a_busy_port_is_one_line_and_exit_2(emulator):
    port = int(emulator.url.split(":")[2].split("/")[0])
    result = CliRunner().invoke(cli, ["emulator", "--port", str(port)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert str(port) in line and "--port" in line


def test_status_ids_must_be_digits(creds, run):
    result = run("status", "1179038981", "abc")
    assert result.exit_code == 2
    assert "'abc'" in result.stderr and "Traceback" not in result.output
    assert creds.log == []  # nothing asked of the service


def test_a_utf16_unicode_text_export_from_excel_is_read_right(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("Имя\tТелефон\nАнна\t+7 916 123-45-67\n".encode("utf-16"))  # with a BOM
    frame = read_contacts(path)
    assert (frame.attrs["encoding"], frame.attrs["separator"]) == ("utf-16", "\t")
    assert frame["Телефон"].tolist() == ["+7 916 123-45-67"]


def test_a_binary_file_is_refused_in_one_clear_line(run, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" * 4)
    result = run(
        "campaign", "send", str(path), "--text", "Hi", "--sender", "SHOP",
        "--campaign", "x", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert line.startswith("error bad_encoding:") and "photo.csv" in line
    assert "\x00" not in line and len(line) < 200


def test_status_of_an_id_the_service_does_not_know_says_the_fetch_failed(creds, run):
    result = run("status", "99999")
    assert result.exit_code == 1
    assert "0 of 1 final; states: fetch failed 1" in result.stdout
    assert "99999" in result.stderr and "Traceback" not in result.output


# ---------------------------------------------------------------- campaign send UX (issues 8, 12)


def _campaign_send(run, path, *extra: str, name: str = "spring"):
    return run(
        "campaign", "send", str(path), "--text", "Здравствуйте, {name}!", "--sender", "SHOP",
        "--campaign", name, *extra,
    )  # fmt: skip


def test_campaign_send_with_a_lost_answer_exits_3_and_says_what_to_do(creds, run, contacts_csv):
    creds.inject("drop_after", op="send")  # processed by the service, the answer lost
    result = _campaign_send(run, contacts_csv)
    assert result.exit_code == 3, result.output
    assert "unknown" in result.stdout  # the counts line and the table
    last = result.stderr.strip().splitlines()[-1]
    assert "ended unknown" in last and "campaign refresh --campaign spring" in last
    assert "Traceback" not in result.output


def test_campaign_send_with_every_answer_kept_exits_0(creds, run, contacts_csv):
    result = _campaign_send(run, contacts_csv)
    assert result.exit_code == 0, result.output
    assert "ended unknown" not in result.output


@pytest.mark.parametrize("command", ["send", "campaign send", "campaign send --variant"])
def test_invalid_utf8_in_text_is_one_line_and_exit_2(creds, run, contacts_csv, command):
    bad = "Привет \udcff\udcfe"  # how Python hands over the bytes b"\xff\xfe" from argv
    if command == "send":
        result = run("send", "--sender", "SHOP", "--text", bad, "79161234567")
    elif command == "campaign send":
        result = run("campaign", "send", str(contacts_csv), "--text", bad, "--sender", "SHOP",
                     "--campaign", "x")  # fmt: skip
    else:
        result = run("campaign", "send", str(contacts_csv), "--variant", "A=Привет",
                     "--variant", f"B={bad}", "--sender", "SHOP", "--campaign", "x")  # fmt: skip
    assert result.exit_code == 2, result.output
    line = _one_error_line(result)
    assert line.startswith("error text_encoding:") and "0xFF" in line and "UTF-8" in line
    assert ("--variant" if "variant" in command else "--text") in line
    assert _sends(creds) == []


def test_the_console_script_refuses_invalid_utf8_bytes_in_text(tmp_path):
    env = {**os.environ, "TARGETSMS_USER": "demo", "TARGETSMS_PASSWORD": "demo"}
    env["TARGETSMS_URL"] = "http://127.0.0.1:1/sendsms.php"  # never reached: refused first
    result = subprocess.run(
        [str(SCRIPT), "--store", str(tmp_path / "j.sqlite"), "send", "--sender", "SHOP",
         "--text", b"\xff\xfe caf\xe9", "79161234567"],
        capture_output=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    stderr = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error text_encoding:")


def test_result_csv_keeps_the_input_separator_and_encoding(creds, run, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(CONTACTS_CSV.replace(",", ";").encode("cp1251"))
    out = tmp_path / "sent.csv"
    result = _campaign_send(run, path, "--result", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    raw.decode("cp1251")  # not UTF-8: Russian Excel opens it as it opened the input
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = pd.read_csv(out, sep=";", encoding="cp1251", dtype=str)
    assert rows["name"].tolist()[:2] == ["Анна", "Олег"]
    assert rows["outcome"].tolist() == ["sent", "sent", "sent", "sent", "duplicate", "invalid"]


def test_result_csv_separator_and_encoding_can_be_chosen(creds, run, tmp_path, contacts_csv):
    out = tmp_path / "sent.csv"
    result = _campaign_send(
        run, contacts_csv, "--estimate-only", "--result", str(out), "--sep", ";",
        "--encoding", "cp1251",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, sep=";", encoding="cp1251", dtype=str)
    assert rows["name"].tolist()[0] == "Анна" and "outcome" in rows.columns


def test_an_unknown_result_encoding_is_refused_before_sending(creds, run, tmp_path, contacts_csv):
    result = _campaign_send(run, contacts_csv, "--result", str(tmp_path / "r.csv"),
                            "--encoding", "klingon")  # fmt: skip
    assert result.exit_code == 2
    assert _one_error_line(result).startswith("error bad_encoding:")
    assert _sends(creds) == []


@pytest.fixture
def real_service(creds, monkeypatch):
    """The emulator, seen by the CLI as the real service (not loopback)."""
    import targetsms_analytics.cli as cli_module

    monkeypatch.setattr(cli_module, "_is_loopback_url", lambda url: False)
    return creds


def test_real_service_without_a_terminal_needs_yes(real_service, run, contacts_csv):
    result = _campaign_send(run, contacts_csv)
    assert result.exit_code == 2, result.output
    assert "recipients" in result.stdout  # the estimate was shown first
    line = _one_error_line(result)
    assert "--yes" in line and "not a terminal" in line
    assert _sends(real_service) == []


def test_real_service_with_yes_sends_without_asking(real_service, run, contacts_csv):
    result = _campaign_send(run, contacts_csv, "--yes")
    assert result.exit_code == 0, result.output
    assert len(real_service.sent_phones()) == 4


@pytest.mark.parametrize(("answer", "code", "sent"), [("y\n", 0, 4), ("n\n", 1, 0), ("\n", 1, 0)])
def test_real_service_on_a_terminal_asks_first(
    real_service, store, contacts_csv, monkeypatch, answer, code, sent
):
    import targetsms_analytics.cli as cli_module

    monkeypatch.setattr(cli_module, "_stdin_is_terminal", lambda: True)
    result = CliRunner().invoke(
        cli,
        ["--store", str(store), "campaign", "send", str(contacts_csv), "--text", "Привет, {name}",
         "--sender", "SHOP", "--campaign", "spring"],
        input=answer,
    )  # fmt: skip
    assert result.exit_code == code, result.output
    assert "Send 4 SMS for about" in result.stderr
    assert len(real_service.sent_phones()) == sent


def test_the_emulator_on_loopback_is_sent_to_without_asking(creds, run, contacts_csv):
    from targetsms_analytics.cli import _is_loopback_url

    assert _is_loopback_url(creds.url)
    assert _is_loopback_url("http://localhost:8000/sendsms.php")
    assert _is_loopback_url("http://[::1]:8000/sendsms.php")
    assert not _is_loopback_url("https://sms.targetsms.ru/sendsms.php")
    assert not _is_loopback_url("http://127.0.0.1.example.com/sendsms.php")
    result = _campaign_send(run, contacts_csv)  # stdin is no terminal, and no --yes
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"speed": 1.0, "throttle_interval": 60.0}),
        (["--fast"], {"speed": 100.0, "throttle_interval": 2.0}),
        (["--fast", "--throttle-interval", "5"], {"speed": 100.0, "throttle_interval": 5.0}),
        (["--speed", "10"], {"speed": 10.0, "throttle_interval": 60.0}),
    ],
)
def test_emulator_fast_is_the_demo_preset(monkeypatch, args, expected):
    import targetsms_analytics.emulator as emulator_module

    seen: dict = {}
    monkeypatch.setattr(emulator_module, "serve", lambda port, **kw: seen.update(kw, port=port))
    result = CliRunner().invoke(cli, ["emulator", "--port", "0", *args])
    assert result.exit_code == 0, result.output
    assert {k: seen[k] for k in expected} == expected


def test_throttle_waits_are_info_not_warning(capsys):
    import logging

    from targetsms_analytics.cli import _setup_logging

    log = logging.getLogger("targetsms_analytics.client")
    retry = "%s: %s; retrying in %.2fs (attempt %d)"
    for verbose, shown in [(0, False), (1, True)]:
        undo = _setup_logging(verbose)
        try:
            log.warning(retry, "status", "duplicate_request", 1.5, 1)
            log.warning(retry, "status", "timeout", 0.1, 1)
        finally:
            undo()
        err = capsys.readouterr().err
        assert "WARNING: status: timeout" in err  # a real problem stays a warning
        assert "WARNING: status: duplicate_request" not in err
        assert ("INFO: status: duplicate_request" in err) == shown


# ---------------------------------------------------------------- campaign send: planning's options


def test_not_sent_rows_are_named_by_file_line_with_the_name_next_to_the_phone(
    emulator, run, tmp_path
):
    path = tmp_path / "crm.csv"
    path.write_text(
        "Имя;Телефон\nАнна;+7 916 123-45-67\n\nОлег;8 916 123 45 67\nИра;abc\n", encoding="utf-8"
    )
    result = run(
        "campaign", "send", str(path), "--text", "Здравствуйте, {Имя|друзья}!",
        "--sender", "SHOP", "--campaign", "x", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the same recipient as line 2" in result.stdout
    assert re.search(r"line 4 .*8 916 123 45 67 .*Олег .*duplicate", result.stdout)
    assert re.search(r"line 5 .*abc .*Ира .*invalid", result.stdout)
    assert emulator.log == []


def test_variants_and_a_holdout_show_parts_and_cost_per_variant(emulator, run, tmp_path):
    path = tmp_path / "list.csv"
    rows = "\n".join(f"+7916{i:07d}" for i in range(200))
    path.write_text("phone\n" + rows + "\n", encoding="utf-8")
    result = run(
        "campaign", "send", str(path), "--variant", "A=Скидка 20%", "--variant",
        "B=" + "Очень длинный текст " * 5, "--holdout", "0.2", "--seed", "7",
        "--sender", "SHOP", "--campaign", "ab", "--estimate-only",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    table = result.stdout.split("variants:")[1]
    assert re.search(r"\bA +\d+ +\d+ ", table) and re.search(r"\bB +\d+ +\d+ ", table)
    assert re.search(r"holdout +\d+ +0 ", table)
    assert emulator.log == []


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--window", "25:00-9", "window"),
        ("--holdout", "1.5", "holdout"),
        ("--max-per-minute", "0", "max_per_minute"),
        ("--variant", "holdout=x", "text"),
        ("--max-parts", "0", "max_parts"),
        ("--until", "tomorrow", "--until"),
    ],
)
def test_bad_planning_options_exit_2_naming_the_argument(
    creds, run, contacts_csv, option, value, named
):
    result = run(
        "campaign", "send", str(contacts_csv), "--sender", "SHOP", "--campaign", "x",
        *([] if option == "--variant" else ["--text", "Hi"]), option, value,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert creds.log == []


def test_campaign_send_ab_with_a_holdout_and_a_rate_cap(creds, run, tmp_path):
    creds.top_up("demo", 10_000)
    path = tmp_path / "list.csv"
    phones = [f"7916{i:07d}" for i in range(120)]
    path.write_text("phone;name\n" + "\n".join(f"{p};Анна" for p in phones) + "\n", "utf-8")
    out = tmp_path / "sent.csv"
    result = run(
        "campaign", "send", str(path), "--variant", "A=Привет, {name}", "--variant",
        "B=Здравствуйте, {name|друзья}", "--holdout", "0.25", "--seed", "7",
        "--max-per-minute", "6000", "--sender", "SHOP", "--campaign", "ab", "--result", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, sep=None, engine="python", encoding="utf-8-sig")
    held = frame[frame["variant"] == "holdout"]
    assert 10 < len(held) < 50 and set(held["outcome"]) == {"holdout"}
    assert set(frame.loc[frame["variant"] != "holdout", "outcome"]) == {"sent"}
    assert not set(held["msisdn"]) & set(creds.sent_phones())
    assert "holdout" in result.stdout


def test_loopback_is_read_as_the_client_reads_the_url():
    from targetsms_analytics.cli import _is_loopback_url

    # urllib3 (what connects) reads evil.example here; urllib.parse reads 127.0.0.1
    assert not _is_loopback_url("http://evil.example\\@127.0.0.1/sendsms.php")
    assert _is_loopback_url("http://LOCALHOST:8000/sendsms.php")


def test_the_confirmation_names_the_cost_in_roubles_as_the_tables_do(
    real_service, store, contacts_csv, monkeypatch
):
    import targetsms_analytics.cli as cli_module

    monkeypatch.setattr(cli_module, "_stdin_is_terminal", lambda: True)
    result = CliRunner().invoke(
        cli,
        ["--store", str(store), "campaign", "send", str(contacts_csv), "--text", "Привет, {name}",
         "--sender", "SHOP", "--campaign", "spring"],
        input="n\n",
    )  # fmt: skip
    assert "₽ through" in result.stderr and "RUB" not in result.stderr


def test_the_store_a_dotenv_file_names_serves_every_command(tmp_path, monkeypatch):
    """Review (a new user): with ``TARGETSMS_STORE`` in ``.env``, ``campaign send`` used it (the
    client reads ``.env``) but ``campaign list``, reports and ``ts.campaigns()`` looked at the
    default file. Every one reads it now; an empty store is named."""
    store = tmp_path / "team.sqlite3"
    with ts.Journal(store) as journal:
        journal.ensure_campaign("dotenv", user="demo", url="http://127.0.0.1:9/sendsms.php")
    (tmp_path / ".env").write_text(f"TARGETSMS_STORE={store}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TARGETSMS_STORE", "x")  # (so that the value .env sets goes afterwards)
    monkeypatch.delenv("TARGETSMS_STORE")
    result = CliRunner().invoke(cli, ["campaign", "list"], catch_exceptions=False)
    assert result.exit_code == 0 and "dotenv" in result.output, result.output
    os.environ.pop("TARGETSMS_STORE")  # (each from .env itself: the CLI has read it)
    assert list(ts.campaigns()["campaign"]) == ["dotenv"]
    os.environ.pop("TARGETSMS_STORE")
    with ts.Journal() as journal:
        assert journal.path == str(store)
    empty = tmp_path / "empty.sqlite3"
    result = CliRunner().invoke(cli, ["--store", str(empty), "campaign", "list"])
    assert f"no campaigns in the store {empty}" in result.output


def test_ctrl_c_during_campaign_send_says_what_to_do(creds, run, contacts_csv, monkeypatch):
    """Review (a new user): Ctrl-C printed only click's "Aborted!". It says the campaign stopped,
    that what went out is journaled, and that the same command sends the rest, nobody twice."""
    from targetsms_analytics.client import TargetSMSClient

    real, calls = TargetSMSClient.send, []

    def send(self, *args, **kwargs):  # (a user's Ctrl-C, as the second request starts)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TargetSMSClient, "send", send)
    args = ("campaign", "send", str(contacts_csv), "--text", "Здравствуйте, {name}!",
            "--sender", "SHOP", "--campaign", "spring", "--concurrency", "1")  # fmt: skip
    stopped = run(*args)
    assert stopped.exit_code == 130, stopped.output
    assert "interrupted: campaign spring stopped" in stopped.stderr
    assert "Run the same command again" in stopped.stderr and "Aborted" not in stopped.output
    monkeypatch.setattr(TargetSMSClient, "send", real)
    again = run(*args)
    phones = creds.sent_phones()
    assert len(phones) == len(set(phones)) == 3  # (the interrupted request: unknown, not resent)
    assert again.exit_code == 3 and "1 recipient(s) ended unknown" in again.stderr


def test_campaign_mark_and_resend_unknown_from_the_command_line(creds, run, store, contacts_csv):
    """Review (a new user): a campaign with unknown recipients pointed CLI users at Python
    (ts.resend_unknown / ts.mark_outcome). ``campaign resend-unknown`` sends a lost request
    again (here one that never reached the service: it goes out once), ``campaign mark``
    records what became of one whose answer was lost; the hint names both."""
    creds.inject("reset_before", op="send")  # (never reached the service; the sender cannot know)
    first = _campaign_send(run, contacts_csv, "--concurrency", "1")
    assert first.exit_code == 3 and "campaign resend-unknown" in first.stderr, first.output
    again = run("campaign", "resend-unknown", "--campaign", "spring")
    assert again.exit_code == 0 and "sent 1" in again.stdout, again.output
    phones = creds.sent_phones()
    assert len(phones) == len(set(phones)) == 4
    creds.advance(3600)
    creds.inject("drop_after", op="send")  # (reached the service, its answer lost)
    lost = _campaign_send(run, contacts_csv, "--concurrency", "1", name="autumn")
    assert lost.exit_code == 3, lost.output
    with ts.Journal(store) as journal:
        unknown = [m for m, r in journal.records("autumn").items() if r["status"] == "unknown"]
    marked = run("campaign", "mark", "--campaign", "autumn", "--outcome", "sent",
                 "--note", "seen in the panel", unknown[0], "+7 916 000-00-00")  # fmt: skip
    assert marked.exit_code == 0 and "1 recipient(s) marked sent" in marked.stdout
    assert "the others were not unknown" in marked.stderr
    with ts.Journal(store) as journal:
        record = journal.records("autumn")[unknown[0]]
    assert record["status"] == "sent" and record["error_text"] == "seen in the panel"


def test_a_global_option_after_the_command_says_where_it_goes():
    """Review (a new user): ``targetsms campaign list --store URL`` said only "No such option"."""
    result = CliRunner().invoke(cli, ["campaign", "list", "--store", "x.sqlite3"])
    assert result.exit_code == 2
    assert result.output.count("is a global option, given before the command") == 1
    assert "targetsms --store ... campaign list" in result.output
