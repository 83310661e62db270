"""URL packing: every request within the limit, nobody lost or repeated, as few requests as possible."""

from __future__ import annotations

import warnings
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics.batching import (
    base_url_length,
    lower_bound,
    pack,
    pack_indices,
)
from targetsms_analytics.protocol import build_url, send_params

URL = "https://sms.targetsms.ru/sendsms.php"


def base_for(user: str, password: str, sender: str, text: str, url: str = URL) -> int:
    return base_url_length(url, send_params(user, password, sender, [], text))


def url_for(batch: list[str], user: str, password: str, sender: str, text: str) -> str:
    return build_url(URL, send_params(user, password, sender, batch, text))


def optimum_equal_length(n: int, length: int, base: int, limit: int) -> int:
    per_request = (limit - base + 1) // (length + 1)
    return -(-n // per_request)


def test_base_length_is_the_url_with_empty_dadr() -> None:
    base = base_for("me", "pw", "SHOP", "Hi")
    assert base == len(f"{URL}?user=me&pwd=pw&sadr=SHOP&dadr=&text=Hi")


def test_url_length_is_base_plus_phones_plus_commas() -> None:
    phones = ["79001234567", "447911123456", "16502530000"]
    base = base_for("me", "p&w", "SHOP", "Привет")
    for k in range(1, 4):
        url = url_for(phones[:k], "me", "p&w", "SHOP", "Привет")
        assert len(url) == base + sum(len(p) for p in phones[:k]) + (k - 1)
        assert "%2C" not in url


def test_pack_fills_requests_to_the_limit() -> None:
    phones = [f"79{i:09d}" for i in range(1000)]
    base = base_for("me", "pw", "SHOP", "Hello")
    batches = pack(phones, base_length=base)
    per_request = (2000 - base + 1) // 12
    assert [len(b) for b in batches[:-1]] == [per_request] * (len(batches) - 1)
    assert len(batches) == optimum_equal_length(1000, 11, base, 2000)
    assert all(len(url_for(b, "me", "pw", "SHOP", "Hello")) <= 2000 for b in batches)
    longest = url_for(batches[0], "me", "pw", "SHOP", "Hello")
    assert len(longest) > 2000 - 12  # one more phone would not fit


def test_cyrillic_text_costs_six_characters_a_letter_and_shrinks_capacity() -> None:
    phones = [f"79{i:09d}" for i in range(1000)]
    latin = "Privet" * 30
    cyrillic = "Привет" * 30
    base_latin, base_cyrillic = base_for("u", "p", "S", latin), base_for("u", "p", "S", cyrillic)
    assert base_cyrillic - base_latin == 5 * len(cyrillic)
    latin_batches = pack(phones, base_length=base_latin)
    cyrillic_batches = pack(phones, base_length=base_cyrillic)
    assert len(cyrillic_batches) > len(latin_batches)
    assert len(cyrillic_batches) == optimum_equal_length(1000, 11, base_cyrillic, 2000)
    assert all(len(url_for(b, "u", "p", "S", cyrillic)) <= 2000 for b in cyrillic_batches)


def test_password_with_reserved_characters_counts_encoded() -> None:
    password = "p&ss @100% +x"
    base = base_for("me", password, "SHOP", "Hi")
    assert base == len(build_url(URL, send_params("me", password, "SHOP", [], "Hi")))
    assert base > len(f"{URL}?user=me&pwd={password}&sadr=SHOP&dadr=&text=Hi")
    phones = [f"79{i:09d}" for i in range(500)]
    for batch in pack(phones, base_length=base):
        assert len(url_for(batch, "me", password, "SHOP", "Hi")) <= 2000


def test_pack_keeps_input_order_within_and_across_batches() -> None:
    phones = [f"79{i:09d}" for i in range(400)][::-1]
    batches = pack_indices(phones, base_length=1500)
    assert [i for batch in batches for i in batch] == list(range(400))


def test_repeated_phones_each_appear_once_per_occurrence() -> None:
    phones = ["79001234567"] * 7
    batches = pack_indices(phones, base_length=1950)
    assert sorted(i for b in batches for i in b) == list(range(7))


def test_mixed_lengths_are_packed_without_gaps_when_possible() -> None:
    # weights 12 and 13: 13 * 8 + 12 * 158 = 2000, so every request can be exactly full
    phones = ["79001234567"] * 1580 + ["447911123456"] * 80
    base = 2000 - 2000 + 1  # capacity 2000
    batches = pack(phones, base_length=base, max_url_length=2000)
    assert len(batches) == lower_bound(phones, base_length=base, max_url_length=2000) == 10


def test_too_long_phone_goes_alone_with_a_warning_that_hides_the_url() -> None:
    password = "s3cret&pw"
    text = "Привет" * 55  # 1980 encoded characters
    base = base_for("me", password, "SHOP", text)
    phones = ["79001234567", "79001234568"]
    with pytest.warns(UserWarning) as caught:
        batches = pack(phones, base_length=base)
    assert batches == [["79001234567"], ["79001234568"]]
    message = str(caught[0].message)
    assert "79001234567" in message and "79001234568" in message
    assert password not in message and "s3cret" not in message
    assert "http" not in message and "pwd" not in message
    assert caught[0].filename == __file__


def test_only_the_phones_that_do_not_fit_are_warned_about() -> None:
    phones = ["7" * 11, "7" * 41, "7" * 11]
    with pytest.warns(UserWarning, match="1 phone"):
        batches = pack_indices(phones, base_length=1960)
    assert batches == [[0, 2], [1]]


def test_no_warning_when_everything_fits() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pack(["79001234567"], base_length=100) == [["79001234567"]]


def test_empty_input() -> None:
    assert pack([], base_length=100) == []
    assert lower_bound([], base_length=100) == 0


# ----------------------------------------------------------------- properties

credentials = st.text(alphabet="abcXYZ019&@%+=? #/,ё", min_size=1, max_size=20)
texts = st.text(
    alphabet=st.sampled_from(list("Hello, world! ") + list("Привет") + ["😀", "&", "%", "€"]),
    min_size=1,
    max_size=250,
)
phone = st.from_regex(r"[1-9][0-9]{9,13}", fullmatch=True)


@given(
    st.lists(phone, max_size=600),
    credentials,
    credentials,
    texts,
    st.integers(min_value=300, max_value=2000),
)
@settings(max_examples=150, deadline=None)
def test_every_request_fits_and_nobody_is_lost_or_repeated(
    phones: list[str], user: str, password: str, text: str, limit: int
) -> None:
    base = base_for(user, password, "SHOP", text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = pack_indices(phones, base_length=base, max_url_length=limit)
    assert sorted(i for batch in batches for i in batch) == list(range(len(phones)))
    for batch in batches:
        assert batch == sorted(batch)
        url = url_for([phones[i] for i in batch], user, password, "SHOP", text)
        assert len(url) <= limit or len(batch) == 1
    assert [b[0] for b in batches] == sorted(b[0] for b in batches)
    fitting = [p for p in phones if base + len(p) <= limit]
    assert len(batches) >= lower_bound(phones, base_length=base, max_url_length=limit, tight=True)
    assert lower_bound(phones, base_length=base, max_url_length=limit) <= lower_bound(
        phones, base_length=base, max_url_length=limit, tight=True
    )
    if fitting:
        # every request but one is short of the capacity by less than the heaviest phone
        capacity = limit - base + 1
        heaviest = max(len(p) + 1 for p in fitting)
        total = sum(len(p) + 1 for p in fitting)
        oversize = len(phones) - len(fitting)
        assert len(batches) - oversize <= total // (capacity - heaviest + 1) + 1


@given(
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=10, max_value=14),
    st.integers(min_value=40, max_value=1900),
    st.integers(min_value=500, max_value=4000),
)
@settings(max_examples=300)
def test_equal_length_numbers_use_exactly_the_optimum(
    n: int, length: int, base: int, limit: int
) -> None:
    phones = ["7" * length] * n
    if base + length > limit:
        return
    batches = pack(phones, base_length=base, max_url_length=limit)
    assert len(batches) == optimum_equal_length(n, length, base, limit)
    assert len(batches) == lower_bound(phones, base_length=base, max_url_length=limit, tight=True)
    assert all(base + len(b) * (length + 1) - 1 <= limit for b in batches)


@given(st.lists(st.sampled_from([10, 11, 12, 13]), min_size=1, max_size=3000), st.data())
@settings(max_examples=100, deadline=None)
def test_mixed_lengths_stay_close_to_the_lower_bound(
    lengths: list[int], data: st.DataObject
) -> None:
    base = data.draw(st.integers(min_value=100, max_value=1900))
    phones = ["7" * n for n in lengths]
    batches = pack(phones, base_length=base)
    assert Counter(p for b in batches for p in b) == Counter(phones)
    assert len(batches) <= lower_bound(phones, base_length=base, tight=True) + 3
