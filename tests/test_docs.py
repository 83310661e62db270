"""docs/protocol.md is the protocol as this toolkit implements it: its tables match the code."""

from __future__ import annotations

import re
from pathlib import Path

from targetsms_analytics import errors

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "docs" / "protocol.md"


def section(title: str) -> str:
    """The text of ``## title`` in docs/protocol.md, up to the next ``## ``."""
    text = PROTOCOL.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def error_table() -> dict[str, tuple[str, str]]:
    """``code -> (text, class name)`` from the error table."""
    rows = re.findall(r"^\| `(\w+)` \| (.+?) \| `(\w+)` \|", section("Errors"), re.M)
    return {code: (text, cls) for code, text, cls in rows}


def test_the_error_table_is_the_clients():
    table = error_table()
    assert len(table) == 17
    assert {code: text for code, (text, _cls) in table.items()} == errors.ERROR_TEXTS


def test_each_error_raises_the_documented_class():
    for code, (_text, cls) in error_table().items():
        raised = errors.error_for_code(code)
        assert type(raised).__name__ == cls, code
        assert raised.code == code and raised.text == errors.ERROR_TEXTS[code]


def test_the_states_table_is_the_clients():
    from targetsms_analytics.protocol import FINAL_STATES, STATES

    rows = re.findall(r"^\| `(\w+)` \| .+? \| (yes|no) \|", section("States of a message"), re.M)
    assert sorted(state for state, _final in rows) == sorted(STATES)
    assert {state for state, final in rows if final == "yes"} == set(FINAL_STATES)


def test_the_readme_links_to_the_repos_protocol_page_not_to_shared():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    assert "docs/protocol.md" in readme


def test_every_relative_link_in_the_readme_and_docs_exists():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: {target}"
