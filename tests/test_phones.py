"""Phone normalization: every way people type a number, the bulk path, and operators."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics import phones
from targetsms_analytics.phones import (
    check_phone,
    normalize_phone,
    normalize_phones,
    operator_of,
    operators,
)

MSISDN = "79001234567"


@pytest.mark.parametrize(
    "raw",
    [
        "+7 (900) 123-45-67",
        "+7(900)123-45-67",
        "+7 900 123 45 67",
        "8 900 123 45 67",
        "8 (900) 123-45-67",
        "8(900)1234567",
        "8-900-123-45-67",
        "8.900.123.45.67",
        "9001234567",
        "(900) 123-45-67",
        "79001234567",
        "+79001234567",
        " +7 900 123-45-67 ",
        "\t8 900 1234567\n",
        "+7\xa0900\xa0123\xa045\xa067",
        "007 900 123 45 67",
        "0079001234567",
        "810 7 900 123 45 67",
        "８９００１２３４５６７",  # full-width digits
        79001234567,
        9001234567,
        89001234567,
        79001234567.0,
        "79001234567.0",
        np.int64(79001234567),
        np.float64(79001234567.0),
    ],
)
def test_russian_mobile_shapes_normalize_to_e164_digits(raw: object) -> None:
    assert normalize_phone(raw) == MSISDN
    assert check_phone(raw) == (MSISDN, None)


@pytest.mark.parametrize(
    ("raw", "msisdn"),
    [
        ("+44 7911 123456", "447911123456"),
        ("0044 7911 123456", "447911123456"),
        ("8 10 44 7911 123456", "447911123456"),
        ("+1 650 253 0000", "16502530000"),
        ("+380 50 123 4567", "380501234567"),
    ],
)
def test_valid_foreign_numbers_are_kept(raw: str, msisdn: str) -> None:
    assert normalize_phone(raw) == msisdn


@pytest.mark.parametrize(
    "raw", [None, float("nan"), np.nan, pd.NA, pd.NaT, "", "   ", "nan", "None"]
)
def test_missing_values(raw: object) -> None:
    assert normalize_phone(raw) is None
    assert check_phone(raw) == (None, "phone_missing")


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "12",
        "12345",
        "900123456",  # one digit short
        "890012345678",  # one digit long
        "+7 930 001 2345",  # a hole in the 93x mobile ranges
        "+8 900 123 45 67",
        "7+9001234567",
        "0000000000",
        True,
        79001234567.5,
        float("inf"),
        [MSISDN],
        "-" * 300 + MSISDN,
    ],
)
def test_invalid_values(raw: object) -> None:
    assert normalize_phone(raw) is None
    assert check_phone(raw) == (None, "phone_invalid")


@pytest.mark.parametrize(
    ("raw", "msisdn"),
    [
        ("+7 495 123-45-67", "74951234567"),  # Moscow landline
        ("8 800 555 35 35", "78005553535"),  # toll free
        ("8 (812) 123-45-67", "78121234567"),
    ],
)
def test_landlines_are_valid_but_not_mobile(raw: str, msisdn: str) -> None:
    assert normalize_phone(raw) == msisdn
    assert check_phone(raw) == (msisdn, "not_mobile")
    assert check_phone(raw, mobile_only=False) == (msisdn, None)


def test_fixed_line_or_mobile_counts_as_mobile() -> None:
    # US numbers cannot be told apart: FIXED_LINE_OR_MOBILE
    number = phonenumbers.parse("+1 650 253 0000")
    assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE
    assert check_phone("+1 650 253 0000") == ("16502530000", None)


def test_default_region_reads_national_numbers() -> None:
    assert normalize_phone("07911 123456", default_region="GB") == "447911123456"
    assert normalize_phone("07911 123456", default_region="gb") == "447911123456"
    assert normalize_phone("8 900 123 45 67", default_region=None) is None
    assert normalize_phone("+7 900 123 45 67", default_region=None) == MSISDN


# ----------------------------------------------------------------- fast path == phonenumbers


def reference(
    raw: str, region: str = "RU", *, minus_rule: bool = True
) -> tuple[str | None, str | None]:
    """phonenumbers alone, with only the "00" prefix rewritten: what check_phone must agree with.

    One deliberate difference: a leading minus (``-79123456787``) is invalid, where phonenumbers
    drops it (issue 8, item 13)."""
    text = raw.strip()
    if not text:
        return None, "phone_missing"
    if minus_rule and text.lstrip("+ ").startswith("-"):
        return None, "phone_invalid"
    stripped = text.lstrip(" (-.")
    if stripped.startswith("00") and stripped[2:3] not in ("", "0"):
        text = "+" + stripped[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, "phone_invalid"
    if not phonenumbers.is_valid_number(number):
        return None, "phone_invalid"
    msisdn = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    kind = phonenumbers.number_type(number)
    mobile = kind in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    return msisdn, None if mobile else "not_mobile"


national = st.one_of(
    st.from_regex(r"9[0-9]{9}", fullmatch=True),
    st.from_regex(r"93[0-9]{8}", fullmatch=True),  # the 93x ranges have holes
    st.from_regex(r"9300[0-9]{6}", fullmatch=True),
    st.from_regex(r"[0-9]{9,11}", fullmatch=True),
    st.from_regex(r"8[0-9]{9}", fullmatch=True),
)
prefix = st.sampled_from(
    ["", "", "+7", "7", "8", "007", "+8", "+", "87", "+77", "00", "8 10 7", "810", "+7 8", "0"]
)
separators = st.text(alphabet=" -().", max_size=2)


@st.composite
def typed_numbers(draw: st.DrawFn) -> str:
    digits = draw(prefix) + draw(national)
    seps = draw(st.lists(separators, min_size=len(digits) + 1, max_size=len(digits) + 1))
    body = "".join(s + c for s, c in zip(seps, digits, strict=False)) + seps[-1]
    return draw(st.sampled_from(["", " ", "\t"])) + body + draw(st.sampled_from(["", " ", "\n"]))


@given(typed_numbers())
@settings(max_examples=3000)
def test_fast_path_agrees_with_phonenumbers(raw: str) -> None:
    fast = phones._fast_ru(raw.strip())  # check_phone tests the leading minus before this
    if fast is not None:
        assert reference(raw, minus_rule=False) == (fast, None)


@given(typed_numbers())
@settings(max_examples=1500)
def test_check_phone_agrees_with_phonenumbers(raw: str) -> None:
    assert check_phone(raw) == reference(raw)


@given(st.from_regex(r"9[0-9]{9}", fullmatch=True))
@settings(max_examples=1000)
def test_every_mobile_range_takes_the_fast_path_and_agrees(national_number: str) -> None:
    for shape in (f"+7{national_number}", f"8{national_number}", national_number):
        slow = reference(shape)
        fast = phones._fast_ru(shape)
        # the fast path says yes exactly when phonenumbers says "valid mobile"
        assert (fast is not None) == (slow[1] is None)
        if fast is not None:
            assert slow == (fast, None)
        assert check_phone(shape) == slow


@given(st.integers(min_value=0, max_value=10**15))
@settings(max_examples=500)
def test_ints_and_floats_read_like_their_digits(value: int) -> None:
    expected = check_phone(str(value))
    assert check_phone(value) == expected
    if value < 2**53:
        assert check_phone(float(value)) == expected


def test_fast_path_takes_the_common_shapes() -> None:
    for raw in ("+7 (900) 123-45-67", "8 900 123 45 67", "8(900)1234567", "9001234567", MSISDN):
        assert phones._fast_ru(raw) == MSISDN
    assert phones._fast_ru("+7 495 123-45-67") is None  # left to phonenumbers


# ----------------------------------------------------------------- bulk


def test_normalize_phones_keeps_order_index_and_agrees_with_check_phone() -> None:
    raw = ["+7 900 123-45-67", None, "abc", "8 800 555 35 35", 79001234567.0, "+7 900 123-45-67"]
    series = pd.Series(raw, index=[10, 3, 7, 1, 99, 5], dtype=object)
    frame = normalize_phones(series)
    assert list(frame.columns) == ["msisdn", "error_code"]
    assert list(frame.index) == [10, 3, 7, 1, 99, 5]
    assert list(frame.itertuples(index=False, name=None)) == [check_phone(r) for r in raw]
    loose = normalize_phones(series, mobile_only=False)
    assert loose.loc[1, "error_code"] is None


@pytest.mark.parametrize(
    "values",
    [
        ["9001234567", "x"],
        ("9001234567", "x"),
        np.array(["9001234567", "x"], dtype=object),
        iter(["9001234567", "x"]),
        pd.Series(["9001234567", "x"], dtype="str"),
    ],
)
def test_normalize_phones_accepts_any_iterable(values: object) -> None:
    frame = normalize_phones(values)  # type: ignore[arg-type]
    assert frame["msisdn"].tolist() == [MSISDN, None]
    assert frame["error_code"].tolist() == [None, "phone_invalid"]
    assert list(frame.index) == [0, 1]


def test_normalize_phones_of_numeric_columns() -> None:
    floats = pd.Series([79001234567.0, math.nan, 89001234567.0])
    assert normalize_phones(floats)["msisdn"].tolist() == [MSISDN, None, MSISDN]
    assert normalize_phones(floats)["error_code"].tolist() == [None, "phone_missing", None]
    ints = pd.Series([79001234567, None, 1], dtype="Int64")
    assert normalize_phones(ints).to_dict("list") == {
        "msisdn": [MSISDN, None, None],
        "error_code": [None, "phone_missing", "phone_invalid"],
    }


def test_normalize_phones_of_nothing() -> None:
    frame = normalize_phones([])
    assert list(frame.columns) == ["msisdn", "error_code"]
    assert len(frame) == 0


def test_normalize_phones_tells_values_apart_by_type_and_takes_unhashable_cells() -> None:
    # 1, 1.0 and True are equal as dict keys; each must get check_phone's own answer. A list
    # cell is no number (phone_invalid), not a TypeError for the whole column.
    raw = [79001234567, 79001234567.0, True, 1, ["79001234567"], {"a": 1}, math.nan, pd.NA]
    frame = normalize_phones(pd.Series(raw, dtype=object))
    assert list(frame.itertuples(index=False, name=None)) == [check_phone(r) for r in raw]
    assert frame["error_code"].tolist()[2:6] == ["phone_invalid"] * 4


@given(st.lists(st.one_of(typed_numbers(), st.none(), st.integers(0, 10**12)), max_size=30))
@settings(max_examples=200)
def test_normalize_phones_equals_check_phone_row_by_row(values: list[object]) -> None:
    frame = normalize_phones(pd.Series(values, dtype=object))
    assert list(frame.itertuples(index=False, name=None)) == [check_phone(v) for v in values]


# ----------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("msisdn", "name"),
    [
        ("79261234567", "МегаФон"),
        ("79031234567", "Билайн"),
        ("79001234567", "Т2"),
        ("79161234567", "МТС"),  # phonenumbers had no carrier for MTS's 7916
        ("79991234567", "Скартел"),  # Yota's ranges: one name, not "MegaFon"
        (None, "unknown"),
        ("", "unknown"),
        ("abc", "unknown"),
        ("74951234567", "unknown"),  # a landline is not in the mobile registry
        ("447911123456", "unknown"),  # nor is a foreign number
    ],
)
def test_operator_of(msisdn: str | None, name: str) -> None:
    assert operator_of(msisdn) == name


@given(st.from_regex(r"79[0-9]{9}", fullmatch=True))
@settings(max_examples=300)
def test_operator_of_is_the_numbering_plan_brand(msisdn: str) -> None:
    from targetsms_analytics.numbering import lookup_numbers

    assert operator_of(msisdn) == lookup_numbers([msisdn])["operator"].iat[0]


def test_operators_maps_a_series_keeping_its_index() -> None:
    series = pd.Series(["79261234567", None, "79261234567", "79031234567"], index=[4, 3, 2, 1])
    result = operators(series)
    assert result.name == "operator"
    assert list(result.index) == [4, 3, 2, 1]
    assert result.tolist() == ["МегаФон", "unknown", "МегаФон", "Билайн"]
    assert operators([]).tolist() == []


@given(
    st.lists(
        st.one_of(
            st.from_regex(r"\+?7[0-9]{10}", fullmatch=True),
            st.from_regex(r"[0-9]{1,22}", fullmatch=True),
            st.integers(min_value=-5, max_value=10**16),
            st.none(),
            st.text(max_size=5),
        ),
        max_size=60,
    )
)
@settings(max_examples=300)
def test_vectorized_operators_agree_with_operator_of(values: list) -> None:
    assert operators(values).tolist() == [operator_of(v) for v in values]


def test_operator_of_accepts_a_plus_or_an_int() -> None:
    assert operator_of("+79261234567") == operator_of(79261234567) == "МегаФон"
    assert operator_of(True) == "unknown"


# ----------------------------------------------------------------- issue 8, item 13


@pytest.mark.parametrize(
    "raw",
    [
        "79123456792;79123456793",  # phonenumbers read the first and dropped the second
        "79123456792; 79123456793",
        "+7 912 345-67-92;+7 912 345-67-93",
        "79123456792,79123456793",
        "79123456792/79123456793",
        "79123456792|79123456793",
        "79123456792\n79123456793",
        "79123456792\t79123456793",
        "79123456792 или 79123456793",
        "79123456792 79123456793",
    ],
)
def test_several_numbers_in_one_cell_are_invalid(raw: str) -> None:
    assert check_phone(raw) == (None, "phone_invalid")
    assert normalize_phone(raw) is None
    assert normalize_phones([raw, "79123456792"])["error_code"].tolist() == ["phone_invalid", None]


@pytest.mark.parametrize(
    "raw", ["-79123456787", " -7 912 345-67-87", "−79123456787", "+-79123456787", -79123456787,
            -79123456787.0, np.int64(-79123456787)],
)  # fmt: skip
def test_a_negative_number_is_invalid(raw: object) -> None:
    assert check_phone(raw) == (None, "phone_invalid")
    assert normalize_phones([raw])["error_code"].tolist() == ["phone_invalid"]


def test_a_number_with_a_short_extension_is_still_one_number() -> None:
    assert check_phone("8 912 345 67 92 доб. 12") == ("79123456792", None)
    assert check_phone("8-912-345-67-92") == ("79123456792", None)


@given(st.lists(st.from_regex(r"79[0-9]{9}", fullmatch=True), min_size=2, max_size=4),
       st.sampled_from([";", "; ", ",", " / ", "|", "\n"]))  # fmt: skip
def test_any_list_of_numbers_in_a_cell_is_invalid(numbers_: list[str], sep: str) -> None:
    assert check_phone(sep.join(numbers_))[1] == "phone_invalid"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "900123456.0",
            (None, "phone_invalid"),
        ),  # 900123456: the fast path must not read 9001234560
        ("9001234567.0", ("79001234567", None)),
        ("89001234567.0", ("79001234567", None)),
        ("8 (900) 123-45-67", ("79001234567", None)),
        ("nan", (None, "phone_missing")),
        ("79123456792;79123456793", (None, "phone_invalid")),
        ("007 900 123 45 67", ("79001234567", None)),
    ],
)
def test_the_fast_path_comes_first_only_where_nothing_else_could_apply(raw, expected) -> None:
    assert check_phone(raw) == expected
