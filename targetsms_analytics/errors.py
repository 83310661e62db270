"""Every exception the toolkit raises, in one place.

::

    TargetSMSError(code, text, retryable)      catch this for "anything from TargetSMS"
    ├── AccountError          provider_out_of_sms, out_of_sms, account_blocked
    ├── RecipientError        phone_missing, phone_stop_listed, direction_closed_for_account,
    │                         direction_closed, phone_too_long
    ├── QueuedForFundsError   insufficient_funds (the service sends after a top-up; no ids)
    ├── ContentError          text_rejected, text_missing, link_missing
    ├── SenderError           sender_missing, sender_too_long, sender_unknown, sender_not_moderated
    ├── ThrottledError        duplicate_request (an identical request within the interval)
    ├── TransportError        transport: the exchange failed (catch both kinds below at once)
    │   ├── ConnectError      never sent: refused, DNS, bad URL, connect timeout, TLS handshake;
    │   │                     the request certainly never left this machine (safe to send again)
    │   └── ReadError         may have arrived: timeout or reset after sending, non-200, empty or
    │                         HTML body; a send's outcome is unknown (never resent automatically)
    ├── UnknownResponseError  unknown_response: an answer that is neither a result nor a known error
    ├── InputError            invalid_input: bad arguments caught locally (names the row and field);
    │                         also text_invalid (a NUL in the text), invalid_url,
    │                         missing_credentials
    │   ├── SenderInputError  sender_missing, sender_too_long caught locally (also a SenderError)
    │   └── RaggedRowError    ragged_row: a CSV line with more fields than the header
    └── JournalError          journal: the journal (store) cannot be used as asked

``code`` is the stable English contract; ``text`` is the service's raw answer (or our message), with
secrets redacted by whoever raises it.
"""

from __future__ import annotations

__all__ = [
    "ERROR_TEXTS",
    "AccountError",
    "ConnectError",
    "ContentError",
    "InputError",
    "JournalError",
    "QueuedForFundsError",
    "RaggedRowError",
    "ReadError",
    "RecipientError",
    "SenderError",
    "SenderInputError",
    "TargetSMSError",
    "ThrottledError",
    "TransportError",
    "UnknownResponseError",
    "error_for_code",
]

#: The service's error texts (API.md), keyed by the stable code.
ERROR_TEXTS: dict[str, str] = {
    "provider_out_of_sms": "У нас закончились SMS. Для разрешения проблемы свяжитесь с менеджером.",
    "out_of_sms": "Закончились SMS.",
    "account_blocked": "Аккаунт заблокирован.",
    "phone_missing": "Укажите номер телефона.",
    "phone_stop_listed": "Номер телефона присутствует в стоп-листе.",
    "direction_closed_for_account": "Данное направление закрыто для вас.",
    "direction_closed": "Данное направление закрыто.",
    "insufficient_funds": (
        "Недостаточно средств для отправки SMS. SMS будет отправлена как только вы пополните счет "
        "по данному направлению."
    ),
    "text_rejected": "Текст SMS отклонен модератором.",
    "sender_missing": "Нет отправителя.",
    "sender_too_long": (
        "Отправитель не должен превышать 15 символов для цифровых номеров и 11 символов "
        "для буквенно-числовых."
    ),
    "phone_too_long": "Номер телефона должен быть меньше 15 символов.",
    "text_missing": "Нет текста сообщения.",
    "link_missing": "Нет ссылки.",
    "sender_unknown": "Такого отправителя Нет.",
    "sender_not_moderated": "Отправитель не прошел модерацию.",
    "duplicate_request": (
        "error: Попытка отправки более одного одинакового запроса в течение минуты"
    ),
}


class TargetSMSError(Exception):
    """Base of every TargetSMS error: ``code`` (stable), ``text`` (raw, redacted), ``retryable``.

    Example::

        try:
            client.send("SHOP", "79001234567", "Hello")
        except TargetSMSError as exc:
            print(exc.code, exc.text)
    """

    default_retryable = False

    def __init__(self, code: str, text: str = "", retryable: bool | None = None) -> None:
        self.code = code
        self.text = text
        self.retryable = self.default_retryable if retryable is None else retryable
        super().__init__(f"{code}: {text}" if text else code)

    def __reduce__(self):  # keep code/text across pickling (multiprocessing, joblib)
        return (self.__class__, (self.code, self.text, self.retryable))


class AccountError(TargetSMSError):
    """The account cannot send: blocked, or out of SMS (``account_blocked``, ``out_of_sms``…).

    Example: ``except AccountError: top up or call your manager``.
    """


class RecipientError(TargetSMSError):
    """The service refused a recipient: stop list, closed direction, bad or missing number.

    Example: ``except RecipientError as e: print(e.code)  # 'phone_stop_listed'``.
    """


class QueuedForFundsError(TargetSMSError):
    """``insufficient_funds``: the SMS is queued until a top-up; no ids came back.

    Example: ``except QueuedForFundsError: print("top up to release the queue")``.
    """


class ContentError(TargetSMSError):
    """The text was refused: rejected by the moderator, missing, or missing its link.

    Example: ``except ContentError as e: print(e.code)  # 'text_rejected'``.
    """


class SenderError(TargetSMSError):
    """The sender name was refused: missing, too long, unknown, not moderated.

    Example: ``except SenderError as e: print(e.code)  # 'sender_unknown'``.
    """


class ThrottledError(TargetSMSError):
    """``duplicate_request``: the same request was sent within the identical-request interval.

    Example: ``except ThrottledError: time.sleep(60)`` (the client already waits for reads).
    """

    default_retryable = True


class TransportError(TargetSMSError):
    """The exchange itself failed; never raised as such, but as one of its two kinds.

    ``ConnectError``: the request certainly never left this machine. ``ReadError``: it may have
    reached the service (so a send's outcome is unknown). ``except TransportError`` catches both.

    Example::

        try:
            client.send("SHOP", "79001234567", "Hello")
        except ConnectError:
            ...  # nothing went out: safe to try again later
        except ReadError:
            ...  # it may have been sent: look before sending again
    """

    default_retryable = True

    def __init__(
        self, code: str = "transport", text: str = "", retryable: bool | None = None
    ) -> None:
        super().__init__(code, text, retryable)

    @property
    def maybe_sent(self) -> bool:
        """Deprecated (use the class): True unless this is a ``ConnectError``.

        Example: ``isinstance(exc, ConnectError)`` instead of ``not exc.maybe_sent``.
        """
        import warnings

        warnings.warn(
            "TransportError.maybe_sent is deprecated: catch ConnectError (never sent) or "
            "ReadError (may have arrived) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return not isinstance(self, ConnectError)


class ConnectError(TransportError):
    """The request certainly never left this machine: refused, DNS failure, invalid URL, connect
    timeout, TLS handshake failure, or any error raised before the request was written.

    Sending again is safe (nothing arrived). Example: ``except ConnectError: retry later``.
    """


class ReadError(TransportError):
    """The request may have reached the service: a timeout or reset after sending, a non-200
    status, an empty, cut or HTML body. A send's outcome is unknown and is never repeated.

    Example: ``except ReadError: check the statuses before sending again``.
    """


class UnknownResponseError(TargetSMSError):
    """An answer that is neither a result nor a known error text (kept, truncated and redacted).

    Example: ``except UnknownResponseError as e: print(e.text)``.
    """

    def __init__(
        self, code: str = "unknown_response", text: str = "", retryable: bool | None = None
    ) -> None:
        super().__init__(code, text, retryable)


class InputError(TargetSMSError, ValueError):
    """Bad input caught before any request; names the ``row`` and ``field`` when it can.

    Example::

        InputError("invalid_input", "template field {name} has no column", field="name")
    """

    def __init__(
        self,
        code: str = "invalid_input",
        text: str = "",
        retryable: bool | None = None,
        *,
        row: object = None,
        field: str | None = None,
    ) -> None:
        where = []
        if row is not None:
            where.append(f"row {row!r}")
        if field is not None:
            where.append(f"field {field!r}")
        if where and text:
            text = f"{', '.join(where)}: {text}"
        super().__init__(code, text, retryable)
        self.row = row
        self.field = field

    def __reduce__(self):
        return (_rebuild_input_error, (self.code, self.text, self.row, self.field))


class SenderInputError(InputError, SenderError):
    """A sender refused before any request: an ``InputError`` (``field='sender'``) that is also
    the ``SenderError`` the service would answer (``code``: ``sender_missing``, ``sender_too_long``).

    Example: ``except InputError as exc: print(exc.field, exc.code)``.
    """

    def __reduce__(self):  # keep the class and the field across pickling
        return (self.__class__, (self.code, self.text), {"row": self.row, "field": self.field})


class RaggedRowError(InputError):
    """A CSV line has more fields than the header (say, an unquoted ``;`` in a name).

    ``RaggedRowError("line 3 has 4 fields but the header has 3")`` has ``code='ragged_row'``.
    Example: ``except InputError as exc: print(exc.code, exc.text)``.
    """

    def __init__(
        self, text: str = "", code: str = "ragged_row", retryable: bool | None = None
    ) -> None:
        super().__init__(code, text, retryable)

    def __reduce__(self):
        return (self.__class__, (self.text, self.code, self.retryable))


class JournalError(TargetSMSError):
    """The journal (store) cannot be used as asked: written by a newer release, not a journal…

    ``JournalError("text")`` has ``code='journal'``. Example: ``except JournalError as exc: print(exc)``.
    """

    def __init__(
        self, text: str = "", code: str = "journal", retryable: bool | None = None
    ) -> None:
        super().__init__(code, text, retryable)

    def __reduce__(self):
        return (self.__class__, (self.text, self.code, self.retryable))


def _rebuild_input_error(code: str, text: str, row: object, field: str | None) -> InputError:
    exc = InputError(code, text)
    exc.row, exc.field = row, field
    return exc


_FAMILY: dict[str, type[TargetSMSError]] = {
    "provider_out_of_sms": AccountError,
    "out_of_sms": AccountError,
    "account_blocked": AccountError,
    "phone_missing": RecipientError,
    "phone_stop_listed": RecipientError,
    "direction_closed_for_account": RecipientError,
    "direction_closed": RecipientError,
    "phone_too_long": RecipientError,
    "insufficient_funds": QueuedForFundsError,
    "text_rejected": ContentError,
    "text_missing": ContentError,
    "link_missing": ContentError,
    "sender_missing": SenderError,
    "sender_too_long": SenderError,
    "sender_unknown": SenderError,
    "sender_not_moderated": SenderError,
    "duplicate_request": ThrottledError,
}


def error_for_code(code: str, text: str | None = None) -> TargetSMSError:
    """Build the exception of the right family for an API.md ``code``.

    Example::

        >>> error_for_code("phone_stop_listed").__class__.__name__
        'RecipientError'
    """
    if code == "unknown_response":
        return UnknownResponseError(text=text or "")
    if code == "transport":  # the cautious kind: it may have arrived
        return ReadError(text=text or "")
    cls = _FAMILY.get(code)
    if cls is None:
        raise KeyError(f"no such error code: {code!r}")
    return cls(code, ERROR_TEXTS[code] if text is None else text)
