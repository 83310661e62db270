"""The public contract: ARCHITECTURE.md's names exist, __all__ is sorted, documented and light."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

import targetsms_analytics as ts

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"

CONTRACT = [
    "TargetSMSClient", "DEFAULT_URL", "StatusDetail", "Balance", "parse_balance",
    "parse_status_detail", "count_parts", "normalize_phone", "TargetSMSError", "ThrottledError",
    "TransportError", "UnknownResponseError", "send_campaign", "estimate_campaign",
    "fetch_statuses", "delivery_report", "Emulator",
]  # fmt: skip


def documented_names() -> list[str]:
    """The names docs/api.md lists under its public-surface sections, one ``- `name` —`` line each."""
    text = API_DOC.read_text(encoding="utf-8")
    surface = text.split("## Moved or dropped", 1)[0]
    return re.findall(r"^- `(\w+)` — ", surface, flags=re.MULTILINE)


def test_contract_names_are_exported():
    for name in CONTRACT:
        assert name in ts.__all__, name
        assert getattr(ts, name) is not None


def test_all_equals_the_documented_public_surface():
    """Adding (or dropping) a public name means documenting it in docs/api.md."""
    documented = documented_names()
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert sorted(ts.__all__) == sorted(documented)


def test_internals_are_not_exported():
    for name in ("match_error", "redact", "summarize_estimate", "check_phone", "normalize_phones"):
        assert name not in ts.__all__


def test_all_is_sorted_and_resolvable():
    constants = [n for n in ts.__all__ if n.isupper()]
    classes = [n for n in ts.__all__ if n[0].isupper() and not n.isupper()]
    functions = [n for n in ts.__all__ if n[0].islower()]
    assert ts.__all__ == sorted(constants) + sorted(classes) + sorted(functions)
    for name in ts.__all__:
        assert hasattr(ts, name), name


def test_public_names_have_docstrings_with_an_example():
    for name in ts.__all__:
        obj = getattr(ts, name)
        if callable(obj) and not name.isupper():
            doc = obj.__doc__ or ""
            assert doc.strip(), f"{name} has no docstring"
            assert "xample" in doc or ">>>" in doc, f"{name}'s docstring has no example"


HEAVY = ["http.server", "socketserver", "targetsms_analytics.emulator", "matplotlib",
         "ipywidgets", "click"]  # fmt: skip


def test_import_stays_light():
    """Issue 12: the emulator (http.server), matplotlib, ipywidgets and click load on use only."""
    code = (
        "import sys, targetsms_analytics\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
        "targetsms_analytics.Emulator\n"
        "print('http.server' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


def test_unknown_attributes_still_raise():
    with pytest.raises(AttributeError):
        ts.no_such_name  # noqa: B018
    assert "Emulator" in dir(ts)
