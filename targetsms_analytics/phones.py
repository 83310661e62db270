"""Phone numbers: normalize what people type into E.164 digits, judge them, name their operator.

Every function here is pure. Parsing and validation are `phonenumbers`' (Google's libphonenumber
metadata); this module adds the shapes it reads wrong (the ``00`` international prefix with a Russian
default region), the values spreadsheets produce (ints, floats such as ``79001234567.0``, NaN,
``pd.NA``) and a fast path for the overwhelmingly common Russian mobile shapes, so that a million rows
normalize in seconds. The fast path is derived from the same metadata and property-tested to agree
exactly with the slow path.

Example::

    >>> normalize_phone("8 (900) 123-45-67"), normalize_phone("+44 7911 123456"), normalize_phone("abc")
    ('79001234567', '447911123456', None)
    >>> check_phone("+7 495 123-45-67")
    ('74951234567', 'not_mobile')
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from phonenumbers import carrier as _carrier

try:  # the table behind phonenumbers.carrier: {E.164 prefix: {language: name}}
    from phonenumbers.carrierdata import CARRIER_DATA as _CARRIER_DATA
    from phonenumbers.carrierdata import CARRIER_LONGEST_PREFIX as _CARRIER_PREFIX
except ImportError:  # pragma: no cover - layout of phonenumbers' generated data changed
    _CARRIER_DATA, _CARRIER_PREFIX = None, 0

__all__ = [
    "PHONE_INVALID",
    "PHONE_MISSING",
    "PHONE_NOT_MOBILE",
    "UNKNOWN_OPERATOR",
    "check_phone",
    "normalize_phone",
    "normalize_phones",
    "operator_of",
    "operators",
]

PHONE_MISSING = "phone_missing"
PHONE_INVALID = "phone_invalid"
PHONE_NOT_MOBILE = "not_mobile"
UNKNOWN_OPERATOR = "unknown"

#: Number types that can receive an SMS (where the metadata cannot tell fixed from mobile, we trust it).
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})

#: Cell values that mean "nothing here" once a column went through ``astype(str)`` or a CSV.
_MISSING_WORDS = frozenset({"nan", "none", "null", "<na>", "nat"})

# --------------------------------------------------------------------- the fast path
#
# A Russian mobile number typed as "+7 (900) 123-45-67", "8 900 123 45 67", "8(900)1234567",
# "9001234567" or "79001234567" ("007 900…" arrives here as "+7 900…"): drop the usual separators, match the prefix, then
# judge the 10-digit national number with the very patterns phonenumbers itself uses for RU. A number
# phonenumbers calls MOBILE must match the mobile pattern and none of the patterns it checks first
# (premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail). Anything else, or any
# other region, takes the slow path; tests/test_phones.py checks the two agree.

_FAST_SEPARATORS = str.maketrans("", "", " -().")
_FAST_SHAPE = re.compile(r"(?:\+7|7|8)?(9[0-9]{9})")
_FAST_MAX_LEN = 40  # phonenumbers refuses over-long input; the fast path leaves those to it


_TYPES_BEFORE_MOBILE = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _desc_pattern(desc: Any) -> str | None:
    if desc is None or desc.national_number_pattern is None:
        return None
    if desc.possible_length and 10 not in desc.possible_length:
        return None  # it never matches a 10-digit national number
    return desc.national_number_pattern


def _fast_patterns() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """(accept, reject): a 10-digit RU national number is MOBILE iff accept matches, reject doesn't.

    This mirrors ``phonenumbers.number_type``: the general pattern first, then the special types it
    tests before mobile, then the mobile pattern, each with its possible lengths.
    """
    meta = phonenumbers.PhoneMetadata.metadata_for_region("RU")
    general = _desc_pattern(meta.general_desc) if meta is not None else None
    mobile = _desc_pattern(meta.mobile) if meta is not None else None
    if general is None or mobile is None:  # pragma: no cover - metadata always ships RU
        return None, None
    special = [_desc_pattern(getattr(meta, name, None)) for name in _TYPES_BEFORE_MOBILE]
    reject = "|".join(f"(?:{p})" for p in special if p is not None)
    accept = re.compile(f"(?=(?:{general})$)(?:{mobile})")
    return accept, (re.compile(reject) if reject else None)


_RU_MOBILE, _RU_SPECIAL = _fast_patterns()


def _fast_ru(text: str) -> str | None:
    """``7XXXXXXXXXX`` when ``text`` is surely a valid Russian mobile, None when unsure."""
    if _RU_MOBILE is None or len(text) > _FAST_MAX_LEN:
        return None
    match = _FAST_SHAPE.fullmatch(text.translate(_FAST_SEPARATORS))
    if match is None:
        return None
    national = match.group(1)
    if _RU_MOBILE.fullmatch(national) is None:
        return None
    if _RU_SPECIAL is not None and _RU_SPECIAL.fullmatch(national) is not None:
        return None
    return "7" + national


# --------------------------------------------------------------------- the slow path

_INTERNATIONAL_00 = re.compile(r"^[ (\-.]*00(?=[^0])")


@lru_cache(maxsize=1 << 16)
def _check_slow(text: str, region: str | None) -> tuple[str | None, str | None]:
    """(msisdn, problem) by phonenumbers; problem is None (mobile), not_mobile or phone_invalid."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None, PHONE_INVALID
    if not phonenumbers.is_valid_number(number):
        return None, PHONE_INVALID
    msisdn = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    if phonenumbers.number_type(number) in MOBILE_TYPES:
        return msisdn, None
    return msisdn, PHONE_NOT_MOBILE


def _check_text(text: str, region: str | None) -> tuple[str | None, str | None]:
    text = text.strip()
    if not text or text.casefold() in _MISSING_WORDS:
        return None, PHONE_MISSING
    # A float column that went through astype(str): "79001234567.0".
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    # phonenumbers takes "00" as the international prefix only where the region dials it ("810" in
    # RU), so "007 900 123-45-67" would read as a national number. Nobody's national number starts
    # with "00", so "00" + country code is always the international form.
    if "00" in text[:8]:
        text = _INTERNATIONAL_00.sub("+", text, count=1)
    if region == "RU":
        msisdn = _fast_ru(text)
        if msisdn is not None:
            return msisdn, None
    return _check_slow(text, region)


def _check_any(raw: object, region: str | None) -> tuple[str | None, str | None]:
    """(msisdn, problem) for any cell value; problem as in ``_check_slow`` or phone_missing."""
    if type(raw) is str:
        return _check_text(raw, region)
    if raw is None or raw is pd.NA or raw is pd.NaT:
        return None, PHONE_MISSING
    if isinstance(raw, bool | np.bool_):
        return None, PHONE_INVALID
    if isinstance(raw, numbers.Integral):
        return _check_text(str(int(raw)), region)
    if isinstance(raw, numbers.Real):
        value = float(raw)
        if math.isnan(value):
            return None, PHONE_MISSING
        if not math.isfinite(value) or not value.is_integer():
            return None, PHONE_INVALID
        return _check_text(str(int(value)), region)
    if isinstance(raw, str):  # a str subclass, such as numpy.str_
        return _check_text(str(raw), region)
    return None, PHONE_INVALID


def _region(default_region: str | None) -> str | None:
    return default_region.upper() if default_region else None


# --------------------------------------------------------------------- public


def normalize_phone(raw: object, default_region: str | None = "RU") -> str | None:
    """The number as E.164 digits without the plus (``'79001234567'``), or None if it is not valid.

    Accepts what people and spreadsheets produce: ``+7 (900) 123-45-67``, ``8 900 123 45 67``,
    ``8(900)1234567``, ``9001234567``, ``79001234567`` (str, int or float such as ``79001234567.0``),
    ``007 900 123 45 67``, ``8 10 44 7911 123456``. Valid foreign numbers and valid landlines are kept:
    this function does not judge whether a number can receive SMS (see :func:`check_phone`).
    None, NaN, ``pd.NA``, blank text and anything phonenumbers does not call valid give None.
    An extension (``доб. 12``, ``ext 12``) is dropped: an SMS goes to the line itself.

    Example::

        >>> normalize_phone("+7 (900) 123-45-67"), normalize_phone(79001234567.0)
        ('79001234567', '79001234567')
        >>> normalize_phone("007 900 123 45 67"), normalize_phone("12345")
        ('79001234567', None)
    """
    msisdn, problem = _check_any(raw, _region(default_region))
    return msisdn if problem in (None, PHONE_NOT_MOBILE) else None


def check_phone(
    raw: object, *, mobile_only: bool = True, default_region: str | None = "RU"
) -> tuple[str | None, str | None]:
    """``(msisdn, error_code)`` for one value; ``error_code`` is None when the number can be sent to.

    ``error_code`` is ``"phone_missing"`` for None, NaN, ``pd.NA`` or blank text (also the words
    ``nan``/``None``/``null``/``<NA>`` that ``astype(str)`` leaves behind), ``"phone_invalid"`` for
    anything that is not a valid number (``msisdn`` None), and ``"not_mobile"`` for a valid number that
    is not a mobile (landline, toll-free…) when ``mobile_only``: then ``msisdn`` is still given, so a
    report can show which number it was. MOBILE and FIXED_LINE_OR_MOBILE both count as mobile.

    Example::

        >>> check_phone("8 900 123-45-67"), check_phone(None), check_phone("12")
        (('79001234567', None), (None, 'phone_missing'), (None, 'phone_invalid'))
        >>> check_phone("8 800 555-35-35"), check_phone("8 800 555-35-35", mobile_only=False)
        (('78005553535', 'not_mobile'), ('78005553535', None))
    """
    msisdn, problem = _check_any(raw, _region(default_region))
    if problem == PHONE_NOT_MOBILE and not mobile_only:
        return msisdn, None
    return msisdn, problem


def normalize_phones(
    values: Iterable[object] | pd.Series,
    *,
    mobile_only: bool = True,
    default_region: str | None = "RU",
) -> pd.DataFrame:
    """:func:`check_phone` over many values: a frame with columns ``msisdn`` and ``error_code``.

    Same length and order as ``values``, and the same index when ``values`` is a Series. Each distinct
    value is checked once, so a million rows with repeats cost only their distinct values, and the
    common Russian mobile shapes skip phonenumbers entirely. Both columns are ``object`` dtype holding
    ``str`` or None, exactly the pairs :func:`check_phone` returns.

    Example::

        >>> normalize_phones(["+7 900 123-45-67", None, "8 800 555 35 35"]).to_dict("list")
        {'msisdn': ['79001234567', None, '78005553535'], 'error_code': [None, 'phone_missing', 'not_mobile']}
    """
    if isinstance(values, pd.Series):
        series = values
    else:
        items = values if isinstance(values, list | tuple | np.ndarray) else list(values)
        series = pd.Series(items, dtype=object)
    region = _region(default_region)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    n_unique = len(uniques)
    # One slot per distinct value, plus a last one for missing values: factorize codes them -1, and
    # numpy's take() reads index -1 as that last slot.
    msisdns = np.empty(n_unique + 1, dtype=object)
    errors = np.empty(n_unique + 1, dtype=object)
    for i, raw in enumerate(uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)):
        msisdn, problem = _check_any(raw, region)
        if problem == PHONE_NOT_MOBILE and not mobile_only:
            problem = None
        msisdns[i] = msisdn
        errors[i] = problem
    msisdns[n_unique] = None
    errors[n_unique] = PHONE_MISSING
    return pd.DataFrame(
        {
            "msisdn": pd.Series(msisdns.take(codes), index=series.index, dtype=object),
            "error_code": pd.Series(errors.take(codes), index=series.index, dtype=object),
        },
        index=series.index,
    )


def _carrier_lookup(digits: str) -> str:
    """The longest-prefix lookup of ``phonenumbers.carrier.name_for_valid_number(number, "ru")``.

    Done on the table directly: a few dict lookups instead of parsing and formatting the number
    (10 µs), which matters for a million distinct numbers. Same rule: the longest prefix that has a
    Russian name or, failing that, an English one. Tests check it agrees with phonenumbers.
    """
    assert _CARRIER_DATA is not None
    for length in range(min(len(digits), _CARRIER_PREFIX), 0, -1):
        names = _CARRIER_DATA.get(digits[:length])
        if names is None:
            continue
        if "ru" in names:
            return names["ru"] or UNKNOWN_OPERATOR
        if "en" in names:
            return names["en"] or UNKNOWN_OPERATOR
    return UNKNOWN_OPERATOR


@lru_cache(maxsize=1 << 16)
def _carrier_by_parsing(digits: str) -> str:  # pragma: no cover - only without the table
    try:
        number = phonenumbers.parse("+" + digits, None)
    except NumberParseException:
        return UNKNOWN_OPERATOR
    return _carrier.name_for_valid_number(number, "ru") or UNKNOWN_OPERATOR


def operator_of(msisdn: str | int | None) -> str:
    """The mobile operator the number's range was allocated to, from phonenumbers' carrier data.

    ``msisdn`` is E.164 digits (``'79261234567'``; a leading ``+`` or an int are accepted too).
    Russian names where the data has them (``МегаФон``, ``Билайн``, ``Tele2``), else English; the
    string ``"unknown"`` where the data has none, and for None or a value that is not digits.
    Caution: with mobile number portability this is the ORIGINAL holder of the number range, not
    necessarily the subscriber's operator today, and the Russian data is patchy (whole MTS ranges
    such as 7916 are missing, so MTS is under-counted). The lookup reads only the number's prefix and
    does not re-check its type (landline ranges have no carrier data, so they give ``"unknown"``).

    Example::

        >>> operator_of("79261234567"), operator_of("79031234567"), operator_of(None)
        ('МегаФон', 'Билайн', 'unknown')
    """
    if isinstance(msisdn, int) and not isinstance(msisdn, bool) and msisdn > 0:
        msisdn = str(msisdn)
    if not isinstance(msisdn, str):
        return UNKNOWN_OPERATOR
    digits = msisdn.lstrip("+")
    if not (digits.isascii() and digits.isdigit()):
        return UNKNOWN_OPERATOR
    if _CARRIER_DATA is None:  # pragma: no cover
        return _carrier_by_parsing(digits)
    return _carrier_lookup(digits)


def operators(msisdns: Iterable[str | None] | pd.Series) -> pd.Series:
    """:func:`operator_of` for each value: a Series named ``operator``, same index (or 0..n-1).

    Vectorized for reports over millions of numbers: the distinct values are turned into integers
    once, then each prefix length of the carrier table is one ``searchsorted`` over all of them.

    Example::

        >>> operators(["79261234567", None]).tolist()
        ['МегаФон', 'unknown']
    """
    series = msisdns if isinstance(msisdns, pd.Series) else pd.Series(list(msisdns), dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = np.empty(len(uniques) + 1, dtype=object)
    names[:-1] = _operators_of_distinct(np.asarray(uniques, dtype=object))
    names[-1] = UNKNOWN_OPERATOR  # factorize's -1 (missing) takes the last slot
    return pd.Series(names.take(codes), index=series.index, dtype=object, name="operator")


@lru_cache(maxsize=1)
def _prefix_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per prefix length: the sorted prefixes (as ints) that name a carrier, and those names."""
    by_length: dict[int, dict[int, str]] = {}
    for prefix, names in (_CARRIER_DATA or {}).items():
        if "ru" in names:
            name = names["ru"] or UNKNOWN_OPERATOR
        elif "en" in names:
            name = names["en"] or UNKNOWN_OPERATOR
        else:
            continue  # _carrier_lookup goes on to a shorter prefix
        by_length.setdefault(len(prefix), {})[int(prefix)] = name
    tables = {}
    for length, table in by_length.items():
        keys = np.array(sorted(table), dtype=np.int64)
        tables[length] = (keys, np.array([table[k] for k in keys.tolist()], dtype=object))
    return tables


def _operators_of_distinct(values: np.ndarray) -> np.ndarray:
    """Longest-prefix carrier names for distinct values, as :func:`operator_of` gives them."""
    out = np.full(len(values), UNKNOWN_OPERATOR, dtype=object)
    if not len(values) or _CARRIER_DATA is None:
        if _CARRIER_DATA is None:  # pragma: no cover
            return np.array([operator_of(v) for v in values], dtype=object)
        return out
    digits = pd.Series(values, dtype=object).map(_as_digits, na_action="ignore")
    ok = digits.notna().to_numpy().copy()
    if not ok.any():
        return out
    long = ok & (digits.str.len() > 18).fillna(False).to_numpy()  # beyond int64: rare, slow path
    for i in np.flatnonzero(long):
        out[i] = _carrier_lookup(digits.iat[i])
    ok &= ~long
    if not ok.any():
        return out
    texts = digits[ok].astype(str)
    lengths = texts.str.len().to_numpy()
    numbers_ = texts.astype(np.int64).to_numpy()
    positions = np.flatnonzero(ok)
    tables = _prefix_tables()
    for n in np.unique(lengths):
        rows = lengths == n
        nums, where = numbers_[rows], positions[rows]
        found = np.zeros(len(nums), dtype=bool)
        for length in sorted((L for L in tables if L <= n), reverse=True):
            keys, names = tables[length]
            prefixes = nums // 10 ** int(n - length)
            slot = np.searchsorted(keys, prefixes).clip(max=len(keys) - 1)
            hit = (keys[slot] == prefixes) & ~found
            out[where[hit]] = names[slot[hit]]
            found |= hit
    return out


def _as_digits(value: object) -> str | None:
    """``value`` as E.164 digits (a leading ``+`` or an int allowed), or None, like operator_of."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if not isinstance(value, str):
        return None
    digits = value.lstrip("+")
    if digits.isascii() and digits.isdigit() and digits[0] != "0":
        return digits
    return None
