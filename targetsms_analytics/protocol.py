"""The TargetSMS protocol as pure functions: build each request, parse each answer, redact secrets.

No I/O here: the client sends what these functions build and hands the answers back to them.

Example::

    >>> build_url("https://sms.targetsms.ru/sendsms.php",
    ...           send_params("me", "pw", "SHOP", ["79001234567", "79001234568"], "Hi"))
    'https://sms.targetsms.ru/sendsms.php?user=me&pwd=pw&sadr=SHOP&dadr=79001234567,79001234568&text=Hi'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, quote_plus, urlencode
from zoneinfo import ZoneInfo

import pandas as pd
import phpserialize

from .errors import ERROR_TEXTS, InputError, UnknownResponseError, error_for_code

__all__ = [
    "FINAL_STATES",
    "MOSCOW",
    "STATES",
    "Balance",
    "StatusDetail",
    "balance_params",
    "build_url",
    "check_answer",
    "encode_query",
    "match_error",
    "parse_balance",
    "parse_send",
    "parse_status",
    "parse_status_detail",
    "redact",
    "redact_forms",
    "secret_forms",
    "send_params",
    "status_params",
    "validate_send",
]

MOSCOW = ZoneInfo("Europe/Moscow")
#: Every state of an SMS, in the order reports show them.
STATES: tuple[str, ...] = ("deliver", "not_deliver", "expired", "partly_deliver", "send")
#: States that never change again (never fetched again).
FINAL_STATES: frozenset[str] = frozenset({"deliver", "not_deliver", "expired", "partly_deliver"})
REDACTED = "***"
MAX_KEPT_TEXT = 500
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


# ---------------------------------------------------------------- requests


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """Percent-encode query parameters in UTF-8, keeping commas literal (``%2C`` would waste room).

    Example::

        >>> encode_query([("dadr", "79001234567,79001234568"), ("text", "Привет & пока")])
        'dadr=79001234567,79001234568&text=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82%20%26%20%D0%BF%D0%BE%D0%BA%D0%B0'
    """
    return urlencode(list(params), quote_via=quote, safe=",")


def build_url(base_url: str, params: Iterable[tuple[str, str]]) -> str:
    """The full request URL exactly as the client sends it (its length is what the limit counts).

    Example: ``build_url(DEFAULT_URL, balance_params("me", "pw"))``.
    """
    return f"{base_url}?{encode_query(params)}"


def send_params(
    user: str, password: str, sender: str, phones: Sequence[str], text: str
) -> list[tuple[str, str]]:
    """Parameters of a send: ``user, pwd, sadr, dadr, text`` (several phones joined by commas).

    Example: ``send_params("me", "pw", "SHOP", ["79001234567"], "Hi")``.
    """
    return [
        ("user", user),
        ("pwd", password),
        ("sadr", sender),
        ("dadr", ",".join(phones)),
        ("text", text),
    ]


def status_params(
    user: str, password: str, sms_id: str, *, detail: bool = False
) -> list[tuple[str, str]]:
    """Parameters of a status (``detail=False``) or detailed status (``detail=True``) request.

    Example: ``status_params("me", "pw", "1179038981", detail=True)``.
    """
    params = [("user", user), ("pwd", password), ("smsid", str(sms_id))]
    if detail:
        params.append(("detail", "1"))
    return params


def balance_params(user: str, password: str) -> list[tuple[str, str]]:
    """Parameters of a balance request.

    Example: ``balance_params("me", "pw")``.
    """
    return [("user", user), ("pwd", password), ("balance", "1")]


# ---------------------------------------------------------------- local checks


def _alnum_sender_ok(sender: str) -> bool:
    numeric = sender.isascii() and sender.isdigit()
    return len(sender) <= (15 if numeric else 11)


def validate_send(sender: str, phones: Sequence[str], text: str) -> None:
    """Raise what the service would answer for these arguments, without a request.

    Checks the sender (missing; over 11 characters, or 15 digits for a numeric one), the text
    (missing; holding a NUL character, which no SMS can carry: ``InputError`` ``text_invalid``)
    and the phones (none; one of 15 or more characters).

    Example: ``validate_send("SHOP", ["79001234567"], "")`` raises ``ContentError`` ``text_missing``.
    """
    sender = "" if sender is None else str(sender).strip()
    if not sender:
        raise error_for_code("sender_missing")
    if not _alnum_sender_ok(sender):
        raise error_for_code("sender_too_long")
    if text is None or not str(text).strip():
        raise error_for_code("text_missing")
    if "\x00" in str(text):
        raise InputError(
            "text_invalid",
            "the text holds a NUL character (\\x00), which an SMS cannot carry",
            field="text",
        )
    if not phones or not all(phones):
        raise error_for_code("phone_missing")
    if any(len(phone) >= 15 for phone in phones):
        raise error_for_code("phone_too_long")


# ---------------------------------------------------------------- secrets


def secret_forms(secret: str) -> tuple[str, ...]:
    """Every form ``secret`` can take in a URL or a log line, longest first (for ``redact_forms``).

    Raw, percent-encoded with and without safe characters, ``+`` for spaces, and each of those with
    lower-case escapes (some tools print ``%2f``). Example: ``"p%40ss" in secret_forms("p@ss")``.
    """
    if not secret:
        return ()
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe=","),
        quote_plus(secret, safe=""),
        quote(secret, safe="/"),
    }
    # Some tools print percent-escapes in lower case; only the escapes change, not the letters.
    forms |= {_ESCAPE.sub(lambda m: m.group().lower(), f) for f in forms}
    return tuple(sorted(forms, key=len, reverse=True))


_PWD_VALUE = re.compile(r"(?i)(\bpwd=)[^&\s'\"]*")


def redact_forms(text: str, forms: Iterable[str]) -> str:
    """``text`` with each of ``forms`` (from ``secret_forms``) and every ``pwd=`` value redacted.

    Example: ``redact_forms("pwd=x&p@ss", secret_forms("p@ss")) == "pwd=***&***"``.
    """
    if not text:
        return text
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    # Whatever the encoding, the value of a pwd parameter is a secret.
    if "pwd=" in text or "PWD=" in text.upper():
        text = _PWD_VALUE.sub(r"\1" + REDACTED, text)
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove each secret from ``text``: raw, percent-encoded (both ways) and as a ``pwd=`` value.

    Example::

        >>> redact("GET /sendsms.php?user=me&pwd=p%40ss%26w", ["p@ss&w"])
        'GET /sendsms.php?user=me&pwd=***'
    """
    if not text:
        return text
    for secret in secrets:
        text = redact_forms(text, secret_forms(secret))
    return redact_forms(text, ())


def _kept(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_KEPT_TEXT else text[:MAX_KEPT_TEXT] + "…"


# ---------------------------------------------------------------- errors


def _norm(text: str) -> str:
    text = " ".join(text.split()).casefold()
    return text.rstrip(".").rstrip()


_ERROR_BY_NORM: dict[str, str] = {_norm(text): code for code, text in ERROR_TEXTS.items()}


def match_error(text: str) -> str | None:
    """The API.md ``code`` of an error answer, or None when ``text`` is not a known error.

    Tolerant of surrounding whitespace, inner runs of spaces, letter case and a missing final period.

    Example::

        >>> match_error(" аккаунт заблокирован \\n")
        'account_blocked'
    """
    return _ERROR_BY_NORM.get(_norm(text))


def check_answer(text: str, secrets: Iterable[str] = ()) -> str:
    """Raise the right ``TargetSMSError`` if ``text`` is an error answer; return it stripped if not.

    Example: ``check_answer("Закончились SMS.")`` raises ``AccountError`` with code ``out_of_sms``.
    """
    code = match_error(text)
    if code is not None:
        raise error_for_code(code, redact(text.strip(), secrets))
    return text.strip()


def _unknown(text: str, what: str, secrets: Iterable[str]) -> UnknownResponseError:
    # Redact before truncating (a cut must not leave half a password) and before repr (which
    # would escape quotes and backslashes in it).
    return UnknownResponseError(text=f"{redact(what, secrets)}: {_kept(redact(text, secrets))!r}")


# ---------------------------------------------------------------- answers


def parse_send(text: str, expected: int, *, secrets: Iterable[str] = ()) -> list[str]:
    """SMS ids from a send answer, one per phone in ``dadr`` order.

    Raises the API error for an error text and ``UnknownResponseError`` when the count of ids is not
    ``expected``. Every parser takes ``secrets`` to redact from the text an error keeps.

    Example::

        >>> parse_send("1178440060,1178440061", 2)
        ['1178440060', '1178440061']
    """
    body = check_answer(text, secrets)
    ids = [part.strip() for part in body.split(",")]
    if not all(i.isascii() and i.isdigit() for i in ids):
        raise _unknown(text, "send answer is not a list of SMS ids", secrets)
    if len(ids) != expected:
        raise _unknown(text, f"send answer has {len(ids)} ids for {expected} phones", secrets)
    return ids


def parse_status(text: str, *, secrets: Iterable[str] = ()) -> str:
    """The state word of a status answer (one of ``STATES``).

    Example::

        >>> parse_status("deliver\\n")
        'deliver'
    """
    state = check_answer(text, secrets).lower()
    if state not in STATES:
        raise _unknown(text, "not a known SMS state", secrets)
    return state


@dataclass(frozen=True)
class StatusDetail:
    """One SMS's detailed status; ``cost`` is ``num_parts * price`` (``price`` is per part).

    Example::

        >>> d = StatusDetail("1", "deliver", None, 2, 1.15)
        >>> round(d.cost, 2)
        2.3
    """

    sms_id: str
    state: str
    changed_at: datetime | None
    num_parts: int
    price: float

    @property
    def cost(self) -> float:
        return self.num_parts * self.price

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


def _as_str(value: object) -> str:
    if isinstance(value, float) and value.is_integer():  # d:1178440061; is an id too
        return str(int(value))
    return str(value)


def _detail_of(data: dict) -> StatusDetail | None:
    """The ``StatusDetail`` of a decoded array, or None when a key is missing or a value is bad."""
    data = {_as_str(k): v for k, v in data.items()}
    try:
        when = _as_str(data.get("time_change_state") or "").strip()
        return StatusDetail(
            sms_id=_as_str(data["id_sms"]).strip(),
            state=_as_str(data["state_sms"]).strip().lower(),
            changed_at=(
                datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=MOSCOW)
                if when
                else None
            ),
            num_parts=int(float(_as_str(data["num_parts"]))),
            price=float(_as_str(data["price"]).replace(",", ".")),
        )
    except (KeyError, ValueError, TypeError):
        return None


def parse_status_detail(text: str, *, secrets: Iterable[str] = ()) -> StatusDetail:
    """Parse a detailed-status answer (a PHP ``serialize()``d array) into a ``StatusDetail``.

    Strings and numbers alike are accepted for every value; extra keys are ignored; an empty
    ``time_change_state`` gives ``changed_at=None``, otherwise a tz-aware Moscow datetime.

    Example::

        >>> parse_status_detail('a:5:{s:6:"id_sms";s:1:"7";s:17:"time_change_state";s:0:"";'
        ...     's:9:"state_sms";s:4:"send";s:9:"num_parts";i:1;s:5:"price";d:0.8;}').state
        'send'
    """
    body = check_answer(text, secrets)
    # Errors are raised outside the except clauses, so no exception holding a piece of the
    # answer rides along as __context__.
    try:
        data = phpserialize.loads(body.encode("utf-8"), decode_strings=True)
    except Exception:
        data = None
    if not isinstance(data, dict):
        raise _unknown(text, "detailed status is not a PHP serialized array", secrets)
    detail = _detail_of(data)
    if detail is None:
        raise _unknown(text, "detailed status lacks a key or has a bad value", secrets)
    if detail.state not in STATES:
        raise _unknown(text, "detailed status has an unknown state", secrets)
    return detail


@dataclass(frozen=True, eq=False)
class Balance:
    """Account balance: money ``amount`` in ``currency`` and the SMS left per direction.

    ``packages`` is a DataFrame with columns ``direction`` and ``remaining``.

    Example::

        >>> b = parse_balance("445.6 RUR\\nРоссия:361,МТС:1")
        >>> b.amount, b.currency, b.packages["remaining"].sum()
        (445.6, 'RUR', np.int64(362))
    """

    amount: float
    currency: str
    packages: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"Balance(amount={self.amount!r}, currency={self.currency!r}, "
            f"directions={len(self.packages)})"
        )


_AMOUNT = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)[ \t\r]*([^\s,:\d][^\s,:]*)?[ \t\r]*(?:[,\n]|$)")


def parse_balance(text: str, *, secrets: Iterable[str] = ()) -> Balance:
    """Parse a balance answer: ``445.6 RUR`` then ``direction:remaining`` pairs.

    The pairs may follow a newline or a comma; any direction name is accepted.

    Example::

        >>> parse_balance("445.6 RUR\\nРоссия:361,МТС:1").packages["direction"].tolist()
        ['Россия', 'МТС']
    """
    body = check_answer(text, secrets)
    head = _AMOUNT.match(body)
    if head is None:
        raise _unknown(text, "balance answer does not start with an amount", secrets)
    amount = float(head.group(1).replace(",", "."))
    currency = head.group(2) or ""
    directions: list[str] = []
    remaining: list[int] = []
    for piece in re.split(r"[,\n]", body[head.end() :]):
        piece = piece.strip()
        if not piece:
            continue
        name, sep, count = piece.rpartition(":")
        count = count.strip()
        if not sep or not name.strip() or not re.fullmatch(r"-?\d+", count):
            raise _unknown(text, f"balance pair {piece!r} is not direction:remaining", secrets)
        directions.append(name.strip())
        remaining.append(int(count))
    packages = pd.DataFrame(
        {
            "direction": pd.Series(directions, dtype="object"),
            "remaining": pd.Series(remaining, dtype="int64"),
        }
    )
    return Balance(amount, currency, packages)
