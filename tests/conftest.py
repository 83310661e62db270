"""Shared fixtures: a real emulator on 127.0.0.1 and a client pointed at it."""

from __future__ import annotations

import os

import matplotlib
import pytest

from targetsms_analytics import RetryPolicy, TargetSMSClient
from targetsms_analytics.emulator import Emulator

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

#: Back-off short and without jitter, so retry tests are fast and repeatable.
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=lambda: 0.0)


@pytest.fixture
def emulator():
    """A fresh emulator with a 1 s identical-request interval."""
    with Emulator(throttle_interval=1.0) as emu:
        yield emu


@pytest.fixture
def make_client(emulator):
    """Build clients for the emulator (``make_client(user="blocked", password="blocked")``)."""
    made: list[TargetSMSClient] = []

    def make(user: str = "demo", password: str = "demo", **settings) -> TargetSMSClient:
        settings.setdefault("throttle_interval", emulator.throttle_interval)
        settings.setdefault("retry", FAST_RETRY)
        settings.setdefault("timeout", 5.0)
        client = TargetSMSClient(user, password, url=emulator.url, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    """A client for the emulator's demo account."""
    return make_client()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """Never touch the user's real journal or credentials from a test."""
    monkeypatch.setenv("TARGETSMS_STORE", str(tmp_path / "journal.sqlite"))
    for name in ("TARGETSMS_USER", "TARGETSMS_PASSWORD", "TARGETSMS_URL"):
        monkeypatch.delenv(name, raising=False)
