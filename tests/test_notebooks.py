"""The demo notebooks run top to bottom on the emulator, fast, and are committed without outputs.

Each notebook runs in a fresh ``python3`` kernel (the ipykernel of this interpreter) with the
notebook's folder as working directory, with no credentials (so ``ts.connect()`` starts the
emulator) and no ``MPLBACKEND`` (so figures come back as ``image/png`` outputs, as in Jupyter).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CONTACTS = ROOT / "targetsms_analytics" / "data" / "contacts_demo.csv"
GENERATOR = ROOT / "data" / "make_contacts_demo.py"

#: Seconds one cell may take before the run fails (a guard against hangs, not a speed target:
#: the notebooks' speed is never asserted, it varies with the machine's load).
CELL_TIMEOUT = 120
#: Notebooks that must show at least one figure.
WITH_FIGURES = {"03_delivery_and_cost.ipynb", "04_balance.ipynb"}


def kernel_env() -> dict[str, str]:
    """The kernel's environment: this one, minus credentials and the test suite's Agg backend."""
    env = dict(os.environ)
    # Empty rather than absent: load_env_file() never overrides a variable that is set, so a
    # developer's .env with real credentials cannot make a test run reach the real service.
    env["TARGETSMS_USER"] = ""
    env["TARGETSMS_PASSWORD"] = ""
    env.pop("TARGETSMS_URL", None)
    env.pop("MPLBACKEND", None)  # tests/conftest.py sets Agg; the kernel must use its inline one
    return env


def execute(nb: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh python3 kernel; raise on the first error."""
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=kernel_env())
    return nb


def outputs(nb: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in outputs(nb) if out["output_type"] == "stream")


def test_there_are_five_notebooks():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_send_campaign.ipynb",
        "03_delivery_and_cost.ipynb",
        "04_balance.ipynb",
        "05_dashboard.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs (clear them)"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


def test_notebooks_match_their_build_script():
    """notebooks/_build.py is their source: edit it, then run ``python notebooks/_build.py``."""
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import _build
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    stale = [
        name
        for name, factory in _build.NOTEBOOKS.items()
        if (NOTEBOOK_DIR / name).read_text(encoding="utf-8") != _build.render(factory)
    ]
    assert not stale, f"regenerate with `python notebooks/_build.py`: {stale}"


@pytest.mark.slow
def test_kernel_runs_this_interpreter():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")]
    )
    execute(nb, NOTEBOOK_DIR)
    assert stream_text(nb).strip() == sys.prefix


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_emulator(path):
    nb = nbformat.read(path, as_version=4)
    execute(nb, path.parent)  # raises CellExecutionError on the first failing cell

    assert "built-in TargetSMS emulator" in stream_text(nb), "it did not run on the emulator"
    assert not [o for o in outputs(nb) if o["output_type"] == "error"]
    if path.name in WITH_FIGURES:
        pngs = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
        assert pngs, f"{path.name} displayed no figure"


# ------------------------------------------------------------------ the demo contacts


def _contacts() -> list[dict[str, str]]:
    with CONTACTS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_demo_contacts_are_as_messy_as_documented():
    from targetsms_analytics.phones import check_phone, operator_of

    rows = _contacts()
    assert list(rows[0]) == ["name", "phone", "city", "segment"]
    assert 280 <= len(rows) <= 320
    checked = [check_phone(r["phone"]) for r in rows]
    msisdns = [m for m, err in checked if err is None]
    problems = [err for _m, err in checked if err is not None]

    assert problems.count("not_mobile") >= 2  # landlines
    assert problems.count("phone_invalid") + problems.count("phone_missing") >= 3
    assert len(msisdns) - len(set(msisdns)) >= 10  # the same person typed twice
    assert "79000000000" in msisdns  # on the emulator's stop list
    assert any(m.startswith("44") for m in msisdns)  # a UK mobile
    assert any(m.startswith("77") for m in msisdns)  # a Kazakh mobile
    assert sum(1 for r in rows if not r["name"].strip()) >= 3
    shapes = {r["phone"] for r in rows}
    assert any(s.startswith("+7 (") for s in shapes)
    assert any(s.startswith("8 ") for s in shapes)
    assert any(s.startswith("007") for s in shapes)
    assert any(s.endswith(".0") for s in shapes)
    operators = {operator_of(m) for m in msisdns if m.startswith("79")}
    assert {"МТС", "МегаФон", "Билайн", "Т2"} <= operators


def test_demo_contacts_generator_is_deterministic():
    sys.path.insert(0, str(GENERATOR.parent))
    try:
        import make_contacts_demo
    finally:
        sys.path.remove(str(GENERATOR.parent))
    assert make_contacts_demo.OUT == CONTACTS
    assert make_contacts_demo.make_rows() == make_contacts_demo.make_rows()
    assert len(make_contacts_demo.make_rows()) == len(_contacts())
