"""Shared fixtures: a real emulator on 127.0.0.1 and a client pointed at it; test settings.

Hypothesis runs under a profile without deadlines (a busy machine makes any per-example time
limit flaky): ``default`` (100 examples; what a test's own ``@settings`` does not override),
``quick`` (20, for a fast local loop) and ``thorough`` (1,000, for a nightly run). Choose with
``HYPOTHESIS_PROFILE=quick pytest``.
"""

from __future__ import annotations

import os
import socket

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

from targetsms_analytics import RetryPolicy, TargetSMSClient
from targetsms_analytics.emulator import Emulator

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

_NO_DEADLINE = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("default", max_examples=100, **_NO_DEADLINE)
settings.register_profile("quick", max_examples=20, **_NO_DEADLINE)
settings.register_profile("thorough", max_examples=1000, **_NO_DEADLINE)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

#: Back-off short and without jitter, so retry tests are fast and repeatable.
FAST_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=lambda: 0.0)


@pytest.fixture
def emulator():
    """A fresh emulator with a 1 s identical-request interval, its lifecycle clock standing still.

    ``speed=0``: an SMS stays ``send`` until the test moves the virtual clock on with
    ``emulator.advance(seconds)`` (or sets ``emulator.speed``), never because a busy machine took
    longer than the 5 s delivery delay between sending and looking.
    """
    with Emulator(throttle_interval=1.0, speed=0) as emu:
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


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (taken from the OS, then released; never a fixed 9)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
