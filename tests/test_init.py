"""The public contract: ARCHITECTURE.md's names exist, __all__ is sorted and complete."""

import subprocess
import sys

import targetsms_analytics as ts

CONTRACT = [
    "TargetSMSClient", "DEFAULT_URL", "StatusDetail", "Balance", "parse_balance",
    "parse_status_detail", "count_parts", "normalize_phone", "TargetSMSError", "ThrottledError",
    "TransportError", "UnknownResponseError", "send_campaign", "estimate_campaign",
    "fetch_statuses", "delivery_report", "Emulator",
]  # fmt: skip


def test_contract_names_are_exported():
    for name in CONTRACT:
        assert name in ts.__all__, name
        assert getattr(ts, name) is not None


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


def test_import_stays_light():
    code = "import sys, targetsms_analytics; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
