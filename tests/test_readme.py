"""The README's Python quick start runs as written (against the emulator, as it says it does)."""

from __future__ import annotations

from pathlib import Path

import targetsms_analytics as ts

ROOT = Path(__file__).resolve().parents[1]


def _quick_start() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\nimport pandas as pd") + len("```python\n")
    return text[start : text.index("```", start)]


def test_quick_start_runs_against_the_emulator(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the demo contacts are package data: any folder will do
    monkeypatch.setenv("TARGETSMS_USER", "")  # no credentials (and no .env): the emulator
    monkeypatch.setenv("TARGETSMS_PASSWORD", "")
    namespace: dict = {}
    exec(compile(_quick_start(), "README.md", "exec"), namespace)
    client = namespace["client"]
    try:
        assert ts.emulator_of(client) is not None
        assert namespace["result"]["outcome"].value_counts()["sent"] > 200
        assert namespace["statuses"]["is_final"].all()
        assert namespace["balance"].amount < 445.6
    finally:
        ts.emulator_of(client).stop()
