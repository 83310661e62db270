"""Rows → plan: the pure half of a campaign, with no request, journal or clock.

:func:`~targetsms_analytics.campaign.send_campaign` and
:func:`~targetsms_analytics.campaign.estimate_campaign` are the façade; this module checks the
input, normalizes the phones, renders the template per row, counts parts, marks invalid rows and
repeats, and groups the recipients into requests that fit the URL limit.

Example::

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"phone": ["+7 916 123-45-67", "8 916 123 45 67"], "name": ["Анна", "Анна"]})
    >>> plan = _plan(frame, "Здравствуйте, {name}!", "phone", True)
    >>> plan.outcome, plan.text[0]
    ([None, 'duplicate'], 'Здравствуйте, Анна!')
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .batching import pack
from .errors import InputError
from .phones import normalize_phones
from .segments import count_parts

#: Columns ``send_campaign`` and ``estimate_campaign`` add after the input's own columns.
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "msisdn",
    "text",
    "parts",
    "sms_id",
    "outcome",
    "error_code",
    "error_text",
    "batch",
)

#: The service takes numbers shorter than this (API.md ``phone_too_long``).
_MAX_PHONE_LENGTH = 15
_PHONE_PROBLEMS = {
    "phone_missing": "no phone number",
    "phone_invalid": "not a valid phone number",
    "not_mobile": "not a mobile number",
    "phone_too_long": f"{_MAX_PHONE_LENGTH} digits or more: the service refuses such numbers",
}


@dataclass
class _Plan:
    """Per input row (by position): msisdn, rendered text, parts, and the local verdict."""

    msisdn: list[str | None]
    text: list[str | None]
    parts: list[int | None]
    outcome: list[str | None]  # "invalid", "duplicate" or None (a recipient to send)
    error_code: list[str | None]
    error_text: list[str | None]
    recipients: dict[str, int] = field(default_factory=dict)  # msisdn -> first row position


def _template_fields(template: str) -> list[str]:
    """The column names a ``str.format`` template refers to (root names, in order)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InputError(text=f"the text is not a valid template: {exc}", field="text") from None
    names: list[str] = []
    for _literal, name, spec, _conv in parsed:
        if name is None:
            continue
        root = name.split(".", 1)[0].split("[", 1)[0]
        if root == "" or root.isdigit():
            raise InputError(
                text="positional fields ({} or {0}) have no column: name one, e.g. {name}",
                field="text",
            )
        if spec and "{" in spec:
            raise InputError(text="nested fields in a format spec are not supported", field="text")
        names.append(root)
    return list(dict.fromkeys(names))


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: a value, not a missing one
        return False


def _check_input(contacts: Any, text: Any, phone_column: Any) -> list[str]:
    if not isinstance(contacts, pd.DataFrame):
        raise InputError(text=f"contacts must be a pandas DataFrame, not {type(contacts).__name__}")
    if phone_column not in contacts.columns:
        columns = ", ".join(map(repr, contacts.columns)) or "none"
        raise InputError(
            text=f"no phone column {phone_column!r} (columns: {columns}); pass phone_column=",
            field=str(phone_column),
        )
    if len(contacts) == 0:
        raise InputError(text="the contacts frame is empty: nobody to send to")
    if not isinstance(text, str) or not text.strip():
        raise InputError("text_missing", "the text is empty", field="text")
    clash = [c for c in CAMPAIGN_COLUMNS if c in contacts.columns]
    if clash:
        raise InputError(
            text=f"the contacts already have result column(s) {clash}: rename or drop them",
            field=str(clash[0]),
        )
    if contacts.columns.duplicated().any():
        dup = contacts.columns[contacts.columns.duplicated()][0]
        raise InputError(text="the contacts have two columns of this name", field=str(dup))
    fields = _template_fields(text)
    for name in fields:
        if name not in contacts.columns:
            columns = ", ".join(map(repr, contacts.columns))
            raise InputError(
                text=f"template field {{{name}}} has no column (columns: {columns})", field=name
            )
    return fields


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _phones(values: pd.Series, mobile_only: bool) -> pd.DataFrame:
    """:func:`normalize_phones`, plus what a send needs: a cell that is no phone value at all (a
    list, a dict) is ``phone_invalid``, and a number the service would refuse as too long is
    ``phone_too_long`` (its msisdn kept, as for ``not_mobile``)."""
    try:
        phones = normalize_phones(values, mobile_only=mobile_only)
    except TypeError:  # unhashable cells: "?" is no number
        values = values.map(lambda v: v if _hashable(v) else "?")
        phones = normalize_phones(values, mobile_only=mobile_only)
    too_long = phones["error_code"].isna() & (phones["msisdn"].str.len() >= _MAX_PHONE_LENGTH)
    phones.loc[too_long, "error_code"] = "phone_too_long"
    return phones


def _template_values(column: pd.Series) -> list[Any]:
    """A column's values for ``str.format``. A float column holding only whole numbers is an int
    column that pandas turned into floats for its blanks: it gives ints, so ``{code}`` renders
    ``1234``, not ``1234.0`` (and ``{code:05d}`` works)."""
    if column.dtype.kind == "f":
        values = column.dropna().to_numpy()
        if len(values) and np.isfinite(values).all() and (values == np.trunc(values)).all():
            return [None if v != v else int(v) for v in column.tolist()]
    return column.tolist()


def _plan(contacts: pd.DataFrame, template: str, phone_column: str, mobile_only: bool) -> _Plan:
    fields = _check_input(contacts, template, phone_column)
    n = len(contacts)
    labels = list(contacts.index)
    phones = _phones(contacts[phone_column].reset_index(drop=True), mobile_only)
    codes: list[str | None] = phones["error_code"].tolist()
    plan = _Plan(
        msisdn=phones["msisdn"].tolist(),
        text=[None] * n,
        parts=[None] * n,
        outcome=[None if code is None else "invalid" for code in codes],
        error_code=codes,
        error_text=[None if code is None else _PHONE_PROBLEMS.get(code, code) for code in codes],
    )
    columns = {name: _template_values(contacts[name]) for name in fields}
    shared = None if fields else template.format_map({})
    parts_of: dict[str, int] = {}
    for i in range(n):
        if shared is not None:
            rendered = shared
        else:
            values = {name: columns[name][i] for name in fields}
            missing = next((k for k, v in values.items() if _is_missing(v)), None)
            if missing is not None:
                if plan.outcome[i] is None:
                    plan.outcome[i] = "invalid"
                    plan.error_code[i] = "template_value_missing"
                    plan.error_text[i] = f"no value for {{{missing}}}"
                continue
            try:
                rendered = template.format_map(values)
            except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
                if plan.outcome[i] is None:
                    plan.outcome[i] = "invalid"
                    plan.error_code[i] = "template_error"
                    plan.error_text[i] = f"cannot render the text: {exc}"
                continue
        if not rendered.strip():
            if plan.outcome[i] is None:
                plan.outcome[i] = "invalid"
                plan.error_code[i] = "text_missing"
                plan.error_text[i] = "the rendered text is empty"
            continue
        plan.text[i] = rendered
        parts = parts_of.get(rendered)
        if parts is None:
            parts = parts_of[rendered] = count_parts(rendered)
        plan.parts[i] = parts
    for i in range(n):
        if plan.outcome[i] is not None:
            continue
        msisdn = plan.msisdn[i]
        assert msisdn is not None
        first = plan.recipients.setdefault(msisdn, i)
        if first != i:
            plan.outcome[i] = "duplicate"
            plan.error_code[i] = "duplicate_recipient"
            plan.error_text[i] = f"the same recipient as row {labels[first]!r}"
    return plan


# Bytes ``quote(value, safe=",")`` keeps as they are; every other byte of UTF-8 becomes ``%XX``.
_URL_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~,"


def _url_lengths(empty_length: Callable[[str], int]) -> Callable[[str, str], int]:
    """``base_length(sender, text)``: the length of the send URL with an empty ``dadr``.

    ``empty_length(sender)`` is that length with an empty text too, asked once per sender; a text
    adds the length of its percent-encoding as :func:`~targetsms_analytics.protocol.encode_query`
    makes it (``quote(text, safe=",")``), counted without building it: a million personal texts
    cost a million ``encode`` and ``translate`` calls, not a million URLs.
    """
    empty: dict[str, int] = {}

    def base_length(sender: str, text: str) -> int:
        if sender not in empty:
            empty[sender] = empty_length(sender)
        raw = text.encode("utf-8")
        return empty[sender] + len(raw) + 2 * len(raw.translate(None, _URL_SAFE))

    return base_length


def _group_batches(
    items: Iterable[tuple[str, str, str, int | None]],
    base_length: Callable[[str, str], int],
    max_url_length: int,
) -> list[tuple[str, str, int | None, list[str]]]:
    """``(sender, text, parts, phones)`` batches from ``(msisdn, sender, text, parts)`` items.

    Recipients of one sender and text share requests (packed by
    :func:`~targetsms_analytics.batching.pack`); batches come in the order of their first
    recipient. ``base_length(sender, text)`` is the URL length with an empty ``dadr``.
    """
    groups: dict[tuple[str, str], tuple[int | None, list[str]]] = {}
    position: dict[str, int] = {}
    for k, (msisdn, sender, text, parts) in enumerate(items):
        groups.setdefault((sender, text), (parts, []))[1].append(msisdn)
        position.setdefault(msisdn, k)
    batches: list[tuple[str, str, int | None, list[str]]] = []
    for (sender, text), (parts, phones) in groups.items():
        base = base_length(sender, text)
        if len(phones) == 1 and base + len(phones[0]) <= max_url_length:
            batches.append((sender, text, parts, phones))  # a personal text: nothing to pack
            continue
        for chunk in pack(phones, base_length=base, max_url_length=max_url_length):
            batches.append((sender, text, parts, chunk))
    batches.sort(key=lambda b: position[b[3][0]])
    return batches


def _auto_name(user: str, sender: str, template: str) -> str:
    """The campaign of a call without a name: one per account, sender and template.

    Not the contacts: a list fixed or extended and sent again must not send everyone again.
    """
    digest = hashlib.sha256()
    for piece in (user, sender, template):
        digest.update(piece.encode("utf-8") + b"\x00")
    return f"auto-{digest.hexdigest()[:16]}"
