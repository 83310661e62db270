"""Contact files: a ragged row is an error naming the line, not shifted columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from targetsms_analytics.contacts import RaggedRowError, read_contacts, read_csv_strict
from targetsms_analytics.errors import InputError


def _write(tmp_path: Path, text: str, name: str = "contacts.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # every data row one field longer: pandas took the phones as row labels, shifting columns
        ("phone;name\n79123456787;Анна;VIP\n79123456788;Борис;VIP\n", 2),
        # only the first row: with index_col=False pandas dropped the extra field with a warning
        ("phone;name\n79123456787;Анна;VIP\n79123456788;Борис\n", 2),
        # a row further down
        ("phone;name\n79123456787;Анна\n79123456788;Борис\n79123456789;Вера;лишнее\n", 4),
        ("phone,name\n79123456787,Анна\n79123456788,Иванов, Борис\n", 3),
    ],
)
def test_a_ragged_row_is_an_error_naming_the_file_line(tmp_path, text: str, line: int) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=f"line {line} has") as info:
        read_contacts(path)
    assert str(path) in info.value.text


def test_a_quoted_separator_is_not_ragged(tmp_path) -> None:
    path = _write(tmp_path, 'phone;name\n79123456787;"Иванов; Борис"\n')
    frame = read_contacts(path)
    assert frame.to_dict("list") == {"phone": ["79123456787"], "name": ["Иванов; Борис"]}


def test_a_short_row_is_padded_with_missing_values(tmp_path) -> None:
    frame = read_contacts(_write(tmp_path, "phone;name\n79123456787\n79123456788;Борис\n"))
    assert frame["phone"].tolist() == ["79123456787", "79123456788"]
    assert pd.isna(frame["name"].iloc[0]) and frame["name"].iloc[1] == "Борис"


def test_read_csv_strict_names_the_line_across_quoted_newlines() -> None:
    text = 'a;b\n1;"two\nlines"\n3;4;5\n'
    with pytest.raises(RaggedRowError, match="line 4 has 3 fields but the header has 2"):
        read_csv_strict(text, sep=";")
