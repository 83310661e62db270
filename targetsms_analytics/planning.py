"""Rows → plan: the pure half of a campaign, with no request, journal or clock.

:func:`~targetsms_analytics.campaign.send_campaign` and
:func:`~targetsms_analytics.campaign.estimate_campaign` are the façade; this module checks the
input, normalizes the phones, renders the template per row, counts parts, marks invalid rows and
repeats, and groups the recipients into requests that fit the URL limit.

Example::

    >>> render(parse_template("Здравствуйте, {Имя|друзья}!"), {"Имя": None})
    'Здравствуйте, друзья!'
    >>> assign_variants(["79161234567"], ["A", "B"], holdout=0.1, seed=7, campaign="spring")
    ['B']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .batching import pack
from .errors import InputError
from .phones import _check_values
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
    "variant",
    "not_before",
)
#: The most SMS parts one recipient's text may take unless ``max_parts=`` says otherwise.
DEFAULT_MAX_PARTS = 10

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
    """Per input row (by position): msisdn, variant, rendered text, parts, and the local verdict."""

    msisdn: list[str | None]
    text: list[str | None]
    parts: list[int | None]
    outcome: list[str | None]  # "invalid", "duplicate" or None (a recipient to send or hold)
    error_code: list[str | None]
    error_text: list[str | None]
    variant: list[str | None]
    recipients: dict[str, int] = field(default_factory=dict)  # msisdn -> first row position


# ---------------------------------------------------------------- templates


@dataclass(frozen=True)
class Field:
    """A placeholder of a template: the column ``name``, and the text used when its value is
    missing or empty (``fallback``; None: such a row is ``invalid``)."""

    name: str
    fallback: str | None = None


#: A parsed template: literal text and placeholders, in order.
Template = tuple["str | Field", ...]

# Characters that would make str.format evaluate something: attribute, index, conversion, spec.
_FORBIDDEN = frozenset(".[]!:")


def parse_template(template: str, *, argument: str = "text") -> Template:
    """Parse ``template``: plain ``{column}``, ``{column|fallback}`` and escaped ``{{`` / ``}}``.

    Nothing is evaluated: ``{name.__class__}``, ``{name.upper}``, ``{name[0]}``, ``{0}``, ``{}``,
    ``{name!r}`` and ``{name:>10}`` are refused, as are unbalanced braces. The template is the
    same for every row, so a bad one is an :class:`InputError` (code ``template_invalid``,
    ``field`` = ``argument``) before anything is sent, rather than every row ``invalid``.
    Spaces around a column name are ignored; the fallback is literal text (no braces).

    Example::

        >>> parse_template("Hi {name|друзья}, {{promo}}")
        ('Hi ', Field(name='name', fallback='друзья'), ', {promo}')
    """
    if not isinstance(template, str):
        raise InputError(
            text=f"the text must be a str, not {type(template).__name__}", field=argument
        )
    pieces: list[str | Field] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char == "}":
            if template.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise _template_error(argument, "a single '}' (write '}}' for a literal brace)")
        if char != "{":
            j = i + 1
            while j < n and template[j] not in "{}":
                j += 1
            literal.append(template[i:j])
            i = j
            continue
        if template.startswith("{{", i):
            literal.append("{")
            i += 2
            continue
        close = template.find("}", i + 1)
        inner = template[i + 1 : close] if close >= 0 else template[i + 1 :]
        if close < 0 or "{" in inner:
            raise _template_error(argument, "a '{' that is not closed (write '{{' for a brace)")
        name, bar, fallback = inner.partition("|")
        name = name.strip()
        placeholder = "{" + inner + "}"
        if not name or name.isdigit():
            raise _template_error(
                argument, f"{placeholder} names no column: write a column, e.g. {{name}}"
            )
        if _FORBIDDEN & set(name):
            raise _template_error(
                argument,
                f"{placeholder}: only {{column}} or {{column|fallback}} are allowed"
                " (no attributes, indexes, conversions or formats)",
            )
        if literal:
            pieces.append("".join(literal))
            literal = []
        pieces.append(Field(name, fallback if bar else None))
        i = close + 1
    if literal:
        pieces.append("".join(literal))
    return tuple(pieces)


def _template_error(argument: str, why: str) -> InputError:
    return InputError("template_invalid", f"not a valid template: {why}", field=argument)


def template_fields(template: Template) -> list[str]:
    """The column names a parsed template uses, in order of first use.

    Example::

        >>> template_fields(parse_template("{a} {b|x} {a}"))
        ['a', 'b']
    """
    return list(dict.fromkeys(p.name for p in template if isinstance(p, Field)))


def render(template: Template, values: Mapping[str, str | None]) -> str:
    """The template with each placeholder replaced by its value (already text), or its fallback
    when the value is None or blank. Values are inserted as they are, never parsed again.

    Raises ``KeyError`` with the column name when a value is missing and there is no fallback.

    Example::

        >>> render(parse_template("Hi {name|друзья}!"), {"name": " "})
        'Hi друзья!'
    """
    pattern, holes = _compile(template)
    args: list[str] = []
    for name, fallback in holes:
        value = values.get(name)
        if value is None or not value.strip():
            if fallback is None:
                raise KeyError(name)
            value = fallback
        args.append(value)
    return pattern.format(*args)


def _compile(template: Template) -> tuple[str, list[tuple[str, str | None]]]:
    """A positional ``str.format`` pattern (literals escaped, placeholders ``{0}``, ``{1}``…) and
    the ``(column, fallback)`` of each placeholder: rendering a row is one C-level ``format``,
    and the values go in as arguments, never parsed as format syntax."""
    pattern: list[str] = []
    holes: list[tuple[str, str | None]] = []
    for piece in template:
        if isinstance(piece, str):
            pattern.append(escape(piece))
        else:
            pattern.append(f"{{{len(holes)}}}")
            holes.append((piece.name, piece.fallback))
    return "".join(pattern), holes


def escape(text: str) -> str:
    """``text`` as a template that renders to itself (braces doubled).

    Example::

        >>> escape("{x}")
        '{{x}}'
    """
    return text.replace("{", "{{").replace("}", "}}")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: a value, not a missing one
        return False


_SCALARS = (str, int, float, np.generic, pd.Timestamp, datetime, date, Decimal)


def _as_text(value: Any) -> str | None:
    """A cell as template text: None when missing, ``str`` for scalars; containers (lists,
    dicts…) raise ``TypeError`` (a row whose value is not text is ``invalid``)."""
    if _is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if not isinstance(value, _SCALARS):
        raise TypeError(type(value).__name__)
    return str(value)


#: A cell that is no text at all (a list, a dict…): its row is ``invalid``.
_NOT_TEXT = object()


def _column_texts(column: pd.Series) -> list[Any]:
    """Each cell of a template column as text, None (missing or blank) or ``_NOT_TEXT``."""
    out: list[Any] = []
    for value in _template_values(column):
        if type(value) is str:
            out.append(value if value.strip() else None)
            continue
        try:
            out.append(_as_text(value))
        except TypeError:
            out.append(_NOT_TEXT)
    return out


def _template_values(column: pd.Series) -> list[Any]:
    """A column's values for a template. A float column holding only whole numbers is an int
    column that pandas turned into floats for its blanks: it gives ints, so ``{code}`` renders
    ``1234``, not ``1234.0``."""
    if column.dtype.kind == "f":
        values = column.dropna().to_numpy()
        if len(values) and np.isfinite(values).all() and (values == np.trunc(values)).all():
            return [None if v != v else int(v) for v in column.tolist()]
    return column.tolist()


# ---------------------------------------------------------------- variants


#: The variant (and outcome) of a control recipient: assigned, journaled, never sent.
HOLDOUT = "holdout"
#: The variant name of a single text sent with a holdout.
MAIN_VARIANT = "main"


def check_variants(text: Any, holdout: Any) -> dict[str | None, str]:
    """The templates by variant name: ``{None: text}`` for a plain text without a holdout,
    ``{"main": text}`` for a plain text with one, the dict itself for A/B variants.

    Raises :class:`InputError` naming the argument for an empty dict, a name that is not a
    non-empty str or is ``"holdout"``, a template that is not a non-empty str, or a ``holdout``
    that is not a number in ``[0, 1)``.

    Example::

        >>> check_variants({"A": "Hi {name}", "B": "Hello"}, 0.1)
        {'A': 'Hi {name}', 'B': 'Hello'}
    """
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or holdout != holdout:
        raise InputError(
            text=f"holdout must be a number in [0, 1), not {holdout!r}", field="holdout"
        )
    if not 0 <= holdout < 1:
        raise InputError(
            text=f"holdout must be a share in [0, 1) (0.1 = 10 % control), not {holdout!r}",
            field="holdout",
        )
    if isinstance(text, Mapping):
        if not text:
            raise InputError(
                text="the variants dict is empty: give at least one text", field="text"
            )
        variants: dict[str | None, str] = {}
        for name, template in text.items():
            if not isinstance(name, str) or not name.strip():
                raise InputError(
                    text=f"a variant name must be a non-empty str, not {name!r}", field="text"
                )
            if name.strip().lower() == HOLDOUT:
                raise InputError(
                    text=f"variant name {name!r} clashes with the holdout group: rename it",
                    field="text",
                )
            if not isinstance(template, str) or not template.strip():
                raise InputError("text_missing", f"variant {name!r} has no text", field="text")
            variants[name] = _without_nul(template)
        return variants
    if not isinstance(text, str) or not text.strip():
        raise InputError("text_missing", "the text is empty", field="text")
    return {MAIN_VARIANT if holdout else None: _without_nul(text)}


def _without_nul(template: str) -> str:
    """A template holding NUL is refused up front (no SMS can carry it; the client refuses it)."""
    if "\x00" in template:
        raise InputError("text_invalid", "the text holds a NUL character (\\x00)", field="text")
    return template


def assign_variants(
    msisdns: Sequence[str | None],
    names: Sequence[str | None],
    *,
    holdout: float = 0.0,
    seed: object = None,
    campaign: str = "",
) -> list[str | None]:
    """The variant of each recipient, or ``"holdout"``, from a stable hash.

    ``sha256(f"{seed}|{campaign}|{msisdn}")`` read as a number ``u`` in [0, 1): ``u < holdout``
    is the holdout, the rest is cut in equal shares among ``names`` (sorted, so the order of a
    dict does not matter). The same person gets the same assignment in every call and process;
    a missing msisdn gets None. ``names == [None]`` (one plain text, no holdout) gives None.

    Example::

        >>> assign_variants(["79161234567", None], ["A", "B"], holdout=0.1, seed=7, campaign="x")
        ['A', None]
    """
    order = sorted(names, key=lambda v: "" if v is None else v)
    k = len(order)
    if k == 1 and not holdout:  # one text, no control group: nothing to draw
        return [None if m is None else order[0] for m in msisdns]
    prefix = f"{'' if seed is None else seed}|{campaign}|".encode()
    out: list[str | None] = []
    for msisdn in msisdns:
        if msisdn is None:
            out.append(None)
            continue
        digest = hashlib.sha256(prefix + msisdn.encode("utf-8")).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        if u < holdout:
            out.append(HOLDOUT)
        else:
            share = (u - holdout) / (1 - holdout)
            out.append(order[min(int(share * k), k - 1)])
    return out


# ---------------------------------------------------------------- the plan


def _check_input(contacts: Any, phone_column: Any) -> None:
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
    clash = [c for c in CAMPAIGN_COLUMNS if c in contacts.columns]
    if clash:
        raise InputError(
            text=f"the contacts already have result column(s) {clash}: rename or drop them",
            field=str(clash[0]),
        )
    if contacts.columns.duplicated().any():
        dup = contacts.columns[contacts.columns.duplicated()][0]
        raise InputError(text="the contacts have two columns of this name", field=str(dup))


def check_max_parts(max_parts: Any) -> int:
    """``max_parts`` as an int of at least 1, or an :class:`InputError` naming it.

    Example::

        >>> check_max_parts(10)
        10
    """
    if isinstance(max_parts, bool) or not isinstance(max_parts, int) or max_parts < 1:
        raise InputError(
            text=f"max_parts must be an int of at least 1, not {max_parts!r}", field="max_parts"
        )
    return max_parts


def _phones(values: pd.Series, mobile_only: bool) -> tuple[list[str | None], list[str | None]]:
    """(msisdns, error codes) as :func:`normalize_phones` gives them, plus what a send needs: a
    number the service would refuse as too long is ``phone_too_long`` (its msisdn kept, as for
    ``not_mobile``)."""
    msisdns, codes = _check_values(values.tolist(), mobile_only, "RU")
    for i, (msisdn, code) in enumerate(zip(msisdns, codes, strict=True)):
        if code is None and msisdn is not None and len(msisdn) >= _MAX_PHONE_LENGTH:
            codes[i] = "phone_too_long"
    return msisdns, codes


def row_names(contacts: pd.DataFrame) -> list[str]:
    """How messages name each row: ``line N`` (1-based, the header is line 1) when the frame came
    from a file (:func:`~targetsms_analytics.contacts.read_contacts` puts the lines in
    ``attrs["line_numbers"]``, by original position), else ``row <index label>``.

    Example::

        >>> row_names(pd.DataFrame({"phone": ["1", "2"]}, index=["a", "b"]))
        ["row 'a'", "row 'b'"]
    """
    lines = contacts.attrs.get("line_numbers")
    labels = list(contacts.index)
    if lines is not None:
        lines = list(lines)
        # A shorter frame labelled 0..k-1 may have been filtered and re-indexed: its labels no
        # longer point at the rows read, so only the labels are named.
        relabelled = len(labels) != len(lines) and labels == list(range(len(labels)))
        if not relabelled and all(
            isinstance(label, int | np.integer) and 0 <= label < len(lines) for label in labels
        ):
            return [f"line {lines[int(label)]}" for label in labels]
    return [f"row {label!r}" for label in labels]


def _parts(text: str, max_parts: int) -> int:
    """The SMS parts of ``text``; a text longer than ``153 × max_parts`` characters is surely
    over the limit, and its count is estimated from the length (a 2 MB cell costs nothing)."""
    if len(text) > max(160, 153 * max_parts):
        return -(-len(text) // 153)  # at least this many
    return count_parts(text)


def _plan(
    contacts: pd.DataFrame,
    variants: Mapping[str | None, str],
    phone_column: str,
    mobile_only: bool,
    *,
    campaign: str = "",
    holdout: float = 0.0,
    seed: object = None,
    max_parts: int = DEFAULT_MAX_PARTS,
    url_length: Callable[[str], int] | None = None,
    max_url_length: int | None = None,
) -> _Plan:
    """Check and render every row: the verdict per row, before any request.

    ``variants`` comes from :func:`check_variants`. ``url_length(text)`` is the length of the
    send URL of ``text`` with an empty ``dadr``: a row whose URL exceeds ``max_url_length`` even
    with this one recipient is ``invalid`` (``url_too_long``), never sent.
    """
    _check_input(contacts, phone_column)
    parsed = {name: parse_template(template) for name, template in variants.items()}
    fields = list(dict.fromkeys(f for t in parsed.values() for f in template_fields(t)))
    for name in fields:
        if name not in contacts.columns:
            columns = ", ".join(map(repr, contacts.columns))
            raise InputError(
                text=f"template field {{{name}}} has no column (columns: {columns})", field=name
            )
    n = len(contacts)
    msisdns, codes = _phones(contacts[phone_column], mobile_only)
    assigned = assign_variants(
        [m if c is None else None for m, c in zip(msisdns, codes, strict=True)],
        list(parsed),
        holdout=holdout,
        seed=seed,
        campaign=campaign,
    )
    plan = _Plan(
        msisdn=msisdns,
        text=[None] * n,
        parts=[None] * n,
        outcome=[None if code is None else "invalid" for code in codes],
        error_code=codes,
        error_text=[None if code is None else _PHONE_PROBLEMS.get(code, code) for code in codes],
        variant=assigned,
    )
    columns = {name: _column_texts(contacts[name]) for name in fields}
    compiled = {variant: _compile(template) for variant, template in parsed.items()}
    parts_of: dict[str, int] = {}
    url_of: dict[str, int] = {}

    def invalid(i: int, code: str, why: str) -> None:
        plan.outcome[i] = "invalid"
        plan.error_code[i] = code
        plan.error_text[i] = why

    for i in range(n):
        variant = assigned[i]
        if plan.outcome[i] is not None or variant == HOLDOUT:
            continue
        pattern, holes = compiled[variant]
        args: list[str] = []
        for name, fallback in holes:
            value = columns[name][i]
            if value is None:
                if fallback is None:
                    invalid(
                        i,
                        "template_value_missing",
                        f"no value for {{{name}}} (or write {{{name}|fallback}})",
                    )
                    break
                value = fallback
            elif value is _NOT_TEXT:
                invalid(i, "template_invalid", f"{{{name}}} holds no text (a list, a dict…)")
                break
            args.append(value)
        else:
            rendered = pattern.format(*args)
            if not rendered.strip():
                invalid(i, "text_missing", "the rendered text is empty")
                continue
            if "\x00" in rendered:  # the client refuses it: one row, not the whole campaign
                invalid(i, "text_invalid", "the text holds a NUL character (\\x00)")
                continue
            parts = parts_of.get(rendered)
            if parts is None:
                parts = parts_of[rendered] = _parts(rendered, max_parts)
            if parts > max_parts:
                invalid(
                    i,
                    "too_many_parts",
                    f"the text takes {parts} SMS parts or more, over max_parts={max_parts}",
                )
                continue
            if url_length is not None and max_url_length is not None:
                base = url_of.get(rendered)
                if base is None:
                    base = url_of[rendered] = url_length(rendered)
                if base + len(plan.msisdn[i] or "") > max_url_length:
                    invalid(
                        i,
                        "url_too_long",
                        f"the request for this text alone is longer than {max_url_length}"
                        " characters; shorten the text",
                    )
                    continue
            plan.text[i] = rendered
            plan.parts[i] = parts
    names: list[str] | None = None
    for i in range(n):
        if plan.outcome[i] is not None:
            continue
        msisdn = plan.msisdn[i]
        assert msisdn is not None
        first = plan.recipients.setdefault(msisdn, i)
        if first != i:
            if names is None:
                names = row_names(contacts)
            plan.outcome[i] = "duplicate"
            plan.error_code[i] = "duplicate_recipient"
            plan.error_text[i] = f"the same recipient as {names[first]}"
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


class Batch(NamedTuple):
    """One planned request: recipients of one sender, text and variant."""

    sender: str
    text: str
    parts: int | None
    phones: list[str]
    variant: str | None = None


def _group_batches(
    items: Iterable[tuple[Any, ...]],
    base_length: Callable[[str, str], int],
    max_url_length: int,
    *,
    max_batch: int | None = None,
) -> list[Batch]:
    """The requests to make, from ``(msisdn, sender, text, parts[, variant])`` items.

    Recipients of one sender, text and variant share requests (packed by
    :func:`~targetsms_analytics.batching.pack`), at most ``max_batch`` per request (a rate cap's
    bucket); batches come in the order of their first recipient. ``base_length(sender, text)``
    is the URL length with an empty ``dadr``.
    """
    groups: dict[tuple[str, str, str | None], tuple[int | None, list[str]]] = {}
    position: dict[str, int] = {}
    for k, item in enumerate(items):
        msisdn, sender, text, parts = item[:4]
        key = (sender, text, item[4] if len(item) > 4 else None)
        group = groups.get(key)
        if group is None:
            group = groups[key] = (parts, [])
        group[1].append(msisdn)
        position.setdefault(msisdn, k)
    batches: list[Batch] = []
    for (sender, text, variant), (parts, phones) in groups.items():
        base = base_length(sender, text)
        if len(phones) == 1 and base + len(phones[0]) <= max_url_length:
            chunks = [phones]  # a personal text: nothing to pack
        else:
            chunks = pack(phones, base_length=base, max_url_length=max_url_length)
        for chunk in chunks:
            step = len(chunk) if max_batch is None else max_batch
            for j in range(0, len(chunk), step):
                batches.append(Batch(sender, text, parts, chunk[j : j + step], variant))
    batches.sort(key=lambda b: position[b.phones[0]])
    return batches


def template_key(variants: Mapping[str | None, str]) -> str:
    """One string for the templates of a call (the automatic campaign name hashes it): the text
    itself for a single one, else the variants as sorted JSON.

    Example::

        >>> template_key({None: "Hi"}), template_key({"B": "b", "A": "a"})
        ('Hi', '{"A": "a", "B": "b"}')
    """
    if len(variants) == 1:
        return next(iter(variants.values()))
    return json.dumps(dict(sorted(variants.items())), ensure_ascii=False)


def _auto_name(user: str, sender: str, template: str) -> str:
    """The campaign of a call without a name: one per account, sender and template.

    Not the contacts: a list fixed or extended and sent again must not send everyone again.
    """
    digest = hashlib.sha256()
    for piece in (user, sender, template):
        digest.update(piece.encode("utf-8") + b"\x00")
    return f"auto-{digest.hexdigest()[:16]}"
