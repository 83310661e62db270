"""ts.snapshot_balance: the orchestration that asks the client and writes the journal."""

from __future__ import annotations

import pytest

import targetsms_analytics as ts
from targetsms_analytics.client import HandlerAdapter
from targetsms_analytics.journal import Journal


def canned(answer: str) -> ts.TargetSMSClient:
    return ts.TargetSMSClient(
        "me",
        "pw",
        url="http://127.0.0.1:1/sendsms.php",
        throttle_interval=0.0,
        transport=HandlerAdapter(lambda request: (200, answer)),
    )


def test_snapshot_balance_returns_the_balance_and_saves_it(tmp_path):
    path = tmp_path / "journal.sqlite3"
    balance = ts.snapshot_balance(canned("445.6 RUR\nРоссия:361,МТС:1"), store=path)
    assert (balance.amount, balance.currency) == (445.6, "RUR")
    with Journal(path) as journal:
        assert journal.balance_snapshots()["amount"].tolist() == [445.6]
        assert len(journal.package_history()) == 2


def test_snapshot_balance_uses_the_default_store(monkeypatch, tmp_path):
    path = tmp_path / "default.sqlite3"
    monkeypatch.setenv("TARGETSMS_STORE", str(path))
    ts.snapshot_balance(canned("10 RUR"))
    with Journal(path) as journal:
        assert journal.balance_snapshots()["amount"].tolist() == [10.0]


def test_a_failed_balance_saves_nothing(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with pytest.raises(ts.UnknownResponseError):
        ts.snapshot_balance(canned("what?"), store=path)
    with Journal(path) as journal:
        assert journal.balance_snapshots().empty
