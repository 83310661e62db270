"""ts.connect(): the real service with credentials, else an embedded emulator the client knows not."""

from __future__ import annotations

import pytest

import targetsms_analytics as ts


def test_without_credentials_connect_starts_an_emulator_the_client_does_not_hold(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # no .env here
    client = ts.connect()
    emu = ts.emulator_of(client)
    try:
        assert emu is not None and emu.running
        assert client.url == emu.url
        assert not hasattr(client, "emulator")  # production code does not know the emulator
        assert client.balance().currency == "RUR"
    finally:
        emu.stop()


def test_emulator_of_a_client_built_by_hand_is_none():
    assert ts.emulator_of(ts.TargetSMSClient("u", "p")) is None


def test_connect_without_an_emulator_needs_credentials(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ts.InputError) as info:
        ts.connect(emulator=False)
    assert info.value.code == "missing_credentials"


def test_credentials_in_a_parent_folder_do_not_count(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("TARGETSMS_USER=me\nTARGETSMS_PASSWORD=secret\n")
    child = tmp_path / "project"
    child.mkdir()
    monkeypatch.chdir(child)
    assert not ts.credentials_available()
    monkeypatch.chdir(tmp_path)
    assert ts.credentials_available()


def test_credentials_select_the_real_service(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TARGETSMS_USER", "me")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "secret")
    monkeypatch.setenv("TARGETSMS_URL", "http://127.0.0.1:9/sendsms.php")
    client = ts.connect()
    assert ts.emulator_of(client) is None
    assert (client.user, client.url) == ("me", "http://127.0.0.1:9/sendsms.php")
