"""What a plain (non-editable) install ships: the demo contacts as package data, the dev extra."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_the_wheel_ships_the_demo_contacts(tmp_path):
    pytest.importorskip("setuptools")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "--quiet", "--wheel-dir", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("targetsms_analytics-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = archive.read("targetsms_analytics/data/contacts_demo.csv")
    assert "targetsms_analytics/demo.py" in names
    assert shipped == (ROOT / "targetsms_analytics" / "data" / "contacts_demo.csv").read_bytes()
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "benchmarks/"))]


def test_the_demo_reads_its_contacts_through_importlib_resources():
    from importlib.resources import files

    from targetsms_analytics.demo import DEMO_CONTACTS

    expected = files("targetsms_analytics").joinpath("data", "contacts_demo.csv")
    assert str(DEMO_CONTACTS) == str(expected)
    assert DEMO_CONTACTS.read_text(encoding="utf-8").startswith("name,phone,city,segment\n")


def test_the_dev_extra_has_what_the_notebooks_instructions_need():
    dev = " ".join(_pyproject()["project"]["optional-dependencies"]["dev"])
    for name in ("nbconvert", "nbclient", "nbformat", "ipykernel", "pytest", "hypothesis"):
        assert name in dev


def test_package_data_is_declared():
    data = _pyproject()["tool"]["setuptools"]["package-data"]["targetsms_analytics"]
    assert "data/*.csv" in data


def test_the_cli_imports_nothing_but_run_demo_from_the_demo():
    import ast

    tree = ast.parse((ROOT / "targetsms_analytics" / "cli.py").read_text(encoding="utf-8"))
    from_demo = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "demo"
        for alias in node.names
    }
    assert from_demo == {"run_demo"}  # the `demo` command runs it; shared helpers live elsewhere
