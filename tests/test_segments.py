"""SMS part counting: GSM 03.38 septets, UCS-2 units, and boundaries that never split a pair."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics.segments import (
    GSM_BASIC,
    GSM_EXTENSION,
    count_parts,
    encoding,
    split_parts,
)

EMOJI = "😀"  # outside the BMP: a surrogate pair, 2 UTF-16 units
EURO = "€"  # GSM extension table: escape + code, 2 septets


def septets(part: str) -> int:
    return sum(2 if ch in GSM_EXTENSION else 1 for ch in part)


def units(part: str) -> int:
    return len(part.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 153 * 3, 3),
        ("a" * (153 * 3 + 1), 4),
        # extension characters cost two septets
        (EURO * 80, 1),
        (EURO * 80 + "a", 2),
        ("a" * 159 + EURO, 2),
        ("a" * 158 + EURO, 1),
        ("^{}\\[~]|" * 10, 1),
        ("^{}\\[~]|" * 10 + "a", 2),
        ("\f" * 81, 2),
        # an escape pair is never split: the euro moves to the next part
        ("a" * 152 + EURO + "a" * 152, 3),
        ("a" * 151 + EURO + "a" * 153, 2),
        ("a" * 152 + EURO + "a" * 151, 2),
        (EURO * 77, 1),
        (EURO * 81, 2),
        (EURO * 152, 2),
        (EURO * 153, 3),
        # UCS-2
        ("я" * 70, 1),
        ("я" * 71, 2),
        ("я" * 134, 2),
        ("я" * 135, 3),
        ("Привет, мир!", 1),
        ("a" * 69 + "я", 1),
        ("a" * 70 + "я", 2),
        # an emoji is two units and never split
        (EMOJI * 35, 1),
        (EMOJI * 35 + "a", 2),
        ("я" * 69 + EMOJI, 2),
        ("я" * 66 + EMOJI + "я" * 66, 3),
        ("я" * 65 + EMOJI + "я" * 66, 2),
        (EMOJI * 67, 3),
        # one non-GSM character turns the whole text to UCS-2
        ("a" * 100 + "ы", 2),
        ("a" * 69 + "`", 1),
        ("a" * 70 + "`", 2),
        # extension characters cost one unit in UCS-2
        (EURO * 69 + "я", 1),
    ],
)
def test_count_parts_table(text: str, parts: int) -> None:
    assert count_parts(text) == parts
    assert len(split_parts(text)) == parts
    assert "".join(split_parts(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "gsm7"),
        ("Hello, world! @£$¥ 100%", "gsm7"),
        ("ΔΦΓΛΩΠΨΣΘΞ ÄÖÑÜ§¿äöñüà ÆæßÉ", "gsm7"),
        ("{[~]}|^\\€\f", "gsm7"),
        ("line\nbreak\r", "gsm7"),
        ("Привет", "ucs2"),
        ("ok 👍", "ucs2"),
        ("back`tick", "ucs2"),
        ("tab\there", "ucs2"),
        ("ç", "ucs2"),  # only the capital Ç is in the table
        ("\x1b", "ucs2"),  # the escape itself is not a character
    ],
)
def test_encoding(text: str, expected: str) -> None:
    assert encoding(text) == expected


def test_gsm_tables_are_the_standard_sizes() -> None:
    # 128 positions, minus the escape; 10 extension characters in the default table
    assert len(GSM_BASIC) == 127
    assert len(GSM_EXTENSION) == 10
    assert not GSM_BASIC & GSM_EXTENSION


def test_split_parts_of_euro_at_boundary_moves_pair_to_next_part() -> None:
    parts = split_parts("a" * 152 + EURO + "a" * 152)
    assert [len(p) for p in parts] == [152, 152, 1]
    assert parts[1].startswith(EURO)


def test_split_parts_of_emoji_at_boundary_keeps_surrogate_pair() -> None:
    parts = split_parts("я" * 66 + EMOJI + "я" * 66)
    assert parts[0] == "я" * 66
    assert parts[1].startswith(EMOJI)


# ----------------------------------------------------------------- properties

GSM_CHARS = sorted(GSM_BASIC | GSM_EXTENSION)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=700)
# Heavy on the characters that matter at boundaries: one-unit, two-unit, and encoding switchers.
mixed_text = st.text(
    alphabet=st.sampled_from(["a", " ", EURO, "^", "я", EMOJI, "\f", "ы", "1"]), max_size=700
)
any_text = st.one_of(gsm_text, mixed_text, st.text(max_size=400))


@given(any_text)
@settings(max_examples=400)
def test_split_parts_invariants(text: str) -> None:
    parts = split_parts(text)
    assert "".join(parts) == text
    assert len(parts) == count_parts(text)
    assert all(parts)


@given(any_text)
@settings(max_examples=400)
def test_each_part_fits_its_encoding(text: str) -> None:
    parts = split_parts(text)
    if encoding(text) == "gsm7":
        cost, single, multi = septets, 160, 153
    else:
        cost, single, multi = units, 70, 67
    if len(parts) == 1:
        assert cost(parts[0]) <= single
    for part in parts:
        if len(parts) > 1:
            assert cost(part) <= multi
    # greedy: no part could take the next part's first character
    for part, after in itertools.pairwise(parts):
        assert cost(part + after[0]) > multi


@given(any_text, any_text)
@settings(max_examples=400)
def test_parts_are_monotone_in_appended_text(text: str, more: str) -> None:
    assert count_parts(text) <= count_parts(text + more)


@given(any_text)
def test_count_parts_matches_a_char_by_char_reference(text: str) -> None:
    if encoding(text) == "gsm7":
        widths, single, multi = [2 if ch in GSM_EXTENSION else 1 for ch in text], 160, 153
    else:
        widths, single, multi = [2 if ord(ch) > 0xFFFF else 1 for ch in text], 70, 67
    if not text:
        expected = 0
    elif sum(widths) <= single:
        expected = 1
    else:
        expected, used = 1, 0
        for w in widths:
            if used + w > multi:
                expected, used = expected + 1, 0
            used += w
    assert count_parts(text) == expected
