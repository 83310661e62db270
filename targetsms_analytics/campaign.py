"""Send a personalised SMS campaign from a DataFrame, crash-safe, with a result row per input row.

``send_campaign`` normalizes the numbers, renders the template per row, drops invalid rows and
repeats, packs the recipients of each distinct text into as few requests as the URL limit allows,
and sends them from a pool of worker threads. Every request follows "write intent, send, write
result" in the :class:`~targetsms_analytics.journal.Journal`, so a crash, a sleeping laptop or a
lost answer never makes anyone get the SMS twice and never loses an SMS id:

- a recipient is identified within a campaign by its msisdn; a second call with the same
  ``campaign`` returns the stored record and sends only rows without one;
- a batch refused for one recipient (stop list, closed direction…) is split in halves until the bad
  numbers stand alone; everyone else still gets the SMS;
- account, sender and content errors stop the campaign and raise (the error carries ``.result``
  and ``.campaign``); rows not yet sent stay unsent and a later call continues;
- ``insufficient_funds`` gives ``queued``; a lost answer gives ``unknown``, never resent
  automatically: check, then call :func:`resend_unknown` or :func:`mark_outcome`.

Example::

    import pandas as pd
    import targetsms_analytics as ts

    contacts = pd.DataFrame({"phone": ["+7 916 123-45-67", "8 (926) 765 43 21"],
                             "name": ["Анна", "Олег"]})
    ts.estimate_campaign(contacts, "Здравствуйте, {name}!").attrs["summary"]
    result = ts.send_campaign(client, contacts, "Здравствуйте, {name}!", "SHOP", campaign="spring")
    result[["msisdn", "sms_id", "outcome"]]
"""

from __future__ import annotations

import hashlib
import logging
import string
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .batching import DEFAULT_MAX_URL_LENGTH, pack
from .client import DEFAULT_URL
from .errors import (
    AccountError,
    ConnectError,
    ContentError,
    InputError,
    QueuedForFundsError,
    RecipientError,
    SenderError,
    SenderInputError,
    TargetSMSError,
    ThrottledError,
    TransportError,
    UnknownResponseError,
)
from .journal import (
    OUTCOMES,
    BatchTicket,
    Journal,
    account_of,
    open_journal,
    request_fingerprint,
)
from .phones import check_phone, normalize_phones
from .protocol import build_url, send_params
from .segments import count_parts

if TYPE_CHECKING:
    from .client import TargetSMSClient

__all__ = [
    "CAMPAIGN_COLUMNS",
    "DEFAULT_PRICE_PER_PART",
    "SenderInputError",
    "estimate_campaign",
    "mark_outcome",
    "resend_unknown",
    "send_campaign",
    "summarize_estimate",
]

logger = logging.getLogger("targetsms_analytics")

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
#: Assumed price of one SMS part (RUB) for ``estimate_campaign`` when none is given.
DEFAULT_PRICE_PER_PART = 1.20
#: Stop the campaign after this many batches in a row ended ``unknown`` (the service is unreachable
#: or answering garbage: better to stop than to turn every remaining recipient into ``unknown``).
DEFAULT_MAX_UNKNOWN_STREAK = 10
# Placeholders for an estimate made without a client (the URL length depends on them).
_ESTIMATE_URL = DEFAULT_URL
_ESTIMATE_USER = "u" * 16
_ESTIMATE_PASSWORD = "p" * 16
_ESTIMATE_SENDER = "S" * 11
# Errors that stop a campaign: nothing else in it can succeed until the user acts.
_STOPPING = (AccountError, SenderError, ContentError)
#: The service takes numbers shorter than this (API.md ``phone_too_long``).
_MAX_PHONE_LENGTH = 15
_PHONE_PROBLEMS = {
    "phone_missing": "no phone number",
    "phone_invalid": "not a valid phone number",
    "not_mobile": "not a mobile number",
    "phone_too_long": f"{_MAX_PHONE_LENGTH} digits or more: the service refuses such numbers",
}


# ---------------------------------------------------------------- planning (pure)


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


# ---------------------------------------------------------------- sending


class _Run:
    """One call's worker pool: claims, sends, splits and journals batches; counts progress."""

    def __init__(
        self,
        client: TargetSMSClient,
        journal: Journal,
        campaign: str,
        *,
        concurrency: int,
        progress: bool,
        total: int,
        max_unknown_streak: int | None,
        account: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] | None = None,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.campaign = campaign
        self.account = account or account_of(client.user, client.url)
        # Refusals this run saw, by fingerprint, on the monotonic clock: the wall clock may be set
        # back (or forward) while a run waits out the service's identical-request window.
        self._clock = clock
        self._wall = wall or (lambda: datetime.now(UTC))
        self._refused: dict[str, float] = {}
        self.concurrency = concurrency
        self.max_unknown_streak = max_unknown_streak
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.requests = 0
        self.streak = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.token = ""
        self._wait = wait or self.stop.wait
        self.bar = None
        if progress and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=campaign, unit="rcpt", dynamic_ncols=True)

    def run(self, batches: Sequence[tuple[str, str, int | None, list[str]]]) -> None:
        """Send ``batches`` from ``concurrency`` workers that take them one by one, in order.

        An error that stops the campaign is kept in ``self.error``; a bug or an interrupt is raised.
        Either way no new batch starts, and requests under way finish and journal their answers.
        """
        self.token = self.journal.begin_run(self.campaign, account=self.account)
        queue = iter(batches)
        take = threading.Lock()

        def worker() -> None:
            while not self.stop.is_set():
                with take:
                    batch = next(queue, None)
                if batch is None:
                    return
                self._batch(*batch)

        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="targetsms-send") as pool:
                workers = [pool.submit(worker) for _ in range(min(self.concurrency, len(batches)))]
                try:
                    for future in as_completed(workers):
                        future.result()
                except BaseException:  # Ctrl-C in a notebook, or a bug in a worker
                    self.stop.set()
                    raise
        finally:
            try:
                self.journal.end_run(self.token)
            except Exception as exc:  # the journal failed meanwhile: its batches go stale
                logger.error("%s: could not end the run in the journal: %s", self.campaign, exc)
            if self.bar is not None:
                self._postfix()
                self.bar.close()

    def _postfix(self) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.bar.set_postfix_str(f"{self.requests / elapsed:.1f} req/s", refresh=False)

    def _done(self, recipients: int, *, answered: bool | None, request: bool = True) -> None:
        with self._lock:
            self.requests += int(request)
            if answered is True:
                self.streak = 0
            elif answered is False:
                self.streak += 1
            if self.bar is not None:
                self._postfix()
                self.bar.update(recipients)

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def _send(self, sender: str, text: str, phones: list[str]) -> tuple[str, Any]:
        """One request: ``("sent", ids)``, or the outcome the service's answer means and the error.

        Outcomes besides the journal's: ``split`` (refused for a recipient, several in the batch),
        ``stop`` (an account, sender or content error: nothing else can go out) and ``unreachable``
        (the request certainly never left). A bug or an interrupt is raised.
        """
        try:
            return "sent", self.client.send(sender, phones, text)
        except RecipientError as exc:
            return ("split" if len(phones) > 1 else "rejected"), exc
        except QueuedForFundsError as exc:
            return "queued", exc
        except ThrottledError as exc:  # the identical request already reached the service
            return "duplicate", exc
        except (*_STOPPING, InputError) as exc:
            return "stop", exc
        except ConnectError as exc:  # certainly never left this machine
            return "unreachable", exc
        except TransportError as exc:  # ReadError: it may have arrived
            return "unknown", exc
        except UnknownResponseError as exc:
            return "unknown", exc

    def _batch(
        self,
        sender: str,
        text: str,
        parts: int | None,
        phones: list[str],
        parent: int | None = None,
    ) -> None:
        # Wait out the service's window after a refusal of this very request before claiming
        # anyone: a process killed while waiting leaves them unsent, not unknown.
        client = self.client
        fingerprint = request_fingerprint(client.url, client.user, sender, phones, text)
        if self._wait_out(fingerprint, self.journal.last_refusal(fingerprint)):
            return
        ticket = self.journal.begin_batch(
            self.campaign,
            phones,
            text,
            parts,
            sender=sender,
            user=client.user,
            url=client.url,
            parent=parent,
            token=self.token,
            account=self.account,
        )
        skipped = len(phones) - len(ticket.phones)
        if skipped:  # another run holds them, or they have an outcome already
            self._done(skipped, answered=None, request=False)
        n = len(ticket.phones)
        if not n:
            return
        if self._wait_out(
            ticket.fingerprint, ticket.refused_at
        ):  # stopped (or fewer claimed, and that was refused)
            self._record(ticket, "pending")
            return
        try:
            outcome, answer = self._send(sender, text, ticket.phones)
        except BaseException as exc:  # a bug or an interrupt: the request may have gone out
            why = f"{type(exc).__name__} while sending; the request may have reached the service"
            self._record(ticket, "unknown", "unexpected", why)
            self._done(n, answered=False)
            self._fail(exc)
            raise
        if outcome == "sent":
            self._record(ticket, "sent", ids=answer)
            self._done(n, answered=True)
            return
        code, why = answer.code, answer.text
        if outcome in ("stop", "split"):  # the service answered: its window for this request opened
            self._refused[ticket.fingerprint] = self._clock()
        if outcome in ("stop", "unreachable"):  # not sent: its recipients stay unsent
            self._record(ticket, "pending", code, why)
            self._done(0, answered=None, request=isinstance(answer, _STOPPING))
            self._fail(answer)
        elif outcome == "split":
            # Refused for someone in it: split until the bad numbers stand alone. Each half is a
            # different URL, so the identical-request interval does not apply.
            self._record(ticket, "split", code, why)
            self._done(0, answered=True)
            half = n // 2
            self._batch(sender, text, parts, ticket.phones[:half], ticket.id)
            self._batch(sender, text, parts, ticket.phones[half:], ticket.id)
        else:  # rejected, queued, duplicate, unknown
            self._record(ticket, outcome, code, why)
            self._done(n, answered=outcome != "unknown")
            limit = self.max_unknown_streak
            if outcome == "unknown" and limit is not None and self.streak >= limit:
                logger.warning(
                    "%s: %d batches in a row lost their answer; stopping the campaign",
                    self.campaign,
                    self.streak,
                )
                self._fail(answer)

    def _record(
        self,
        ticket: BatchTicket,
        outcome: str,
        code: str | None = None,
        why: str | None = None,
        *,
        ids: list[str] | None = None,
    ) -> None:
        """Journal a batch's answer. Should that fail (disk full, a lock held too long), log what
        the service said - every SMS id with its phone - and raise: the batch stays in flight,
        hence ``unknown`` for the next call, never resent, and no id is lost.
        """
        try:
            self.journal.finish_batch(
                ticket.id, outcome, sms_ids=ids, error_code=code, error_text=why
            )
        except BaseException as exc:
            said = ", ".join(f"{p}={i}" for p, i in zip(ticket.phones, ids or [], strict=False))
            logger.error(
                "%s: batch %d: could not journal the answer %s (%s): %s",
                self.campaign,
                ticket.id,
                outcome if code is None else f"{outcome} ({code})",
                type(exc).__name__,
                said or "no SMS ids",
            )
            raise

    def _wait_out(self, fingerprint: str, refused_at: datetime | None) -> bool:
        """Wait until the identical-request interval since this request's last refusal has passed.

        A rerun after a stop (say, once the sender is moderated) rebuilds the very URLs that were
        refused; sent again within the interval the service would answer ``duplicate_request``.
        A refusal this run saw is timed on the monotonic clock; one from the journal (another run
        or process) on the wall clock, where a negative elapsed time - the clock was set back - is
        taken as "just now": the full interval is waited. Returns True when the run is stopped
        (meanwhile or already).
        """
        mark = self._refused.get(fingerprint)
        if mark is not None:
            elapsed = self._clock() - mark
        elif refused_at is not None:
            elapsed = (self._wall() - refused_at).total_seconds()
        else:
            return self.stop.is_set()
        interval = float(getattr(self.client, "throttle_interval", 60.0))
        elapsed = max(elapsed, 0.0)
        if elapsed < interval:
            return self._wait(interval - elapsed + 0.05)
        return self.stop.is_set()


# ---------------------------------------------------------------- results


def _result(
    contacts: pd.DataFrame, plan: _Plan, records: dict[str, dict], extra: dict[int, int] | None
) -> pd.DataFrame:
    n = len(contacts)
    cols: dict[str, list[Any]] = {
        "msisdn": list(plan.msisdn),
        "text": list(plan.text),
        "parts": list(plan.parts),
        "sms_id": [None] * n,
        "outcome": list(plan.outcome),
        "error_code": list(plan.error_code),
        "error_text": list(plan.error_text),
        "batch": [None] * n,
    }
    for msisdn, i in plan.recipients.items():
        rec = records.get(msisdn)
        if extra is not None:  # an estimate: the planned request number
            cols["outcome"][i] = "ready"
            cols["batch"][i] = extra.get(i)
            continue
        if rec is None or rec["status"] == "pending":
            cols["outcome"][i] = None
            cols["error_code"][i] = "not_sent"
            cols["error_text"][i] = "not sent yet: call send_campaign again to continue"
            continue
        status = rec["status"]
        cols["text"][i] = rec["text"]
        cols["parts"][i] = rec["parts"]
        cols["sms_id"][i] = rec["sms_id"]
        cols["batch"][i] = rec["batch"]
        cols["error_code"][i] = rec["error_code"]
        cols["error_text"][i] = rec["error_text"]
        if status == "inflight":
            cols["outcome"][i] = "unknown"
            cols["error_code"][i] = "in_progress"
            cols["error_text"][i] = "another run is sending it right now"
        else:
            cols["outcome"][i] = status
    result = contacts.copy()
    for name in CAMPAIGN_COLUMNS:
        values = cols[name]
        if name in ("parts", "batch"):
            result[name] = pd.array(values, dtype="Int64")
        else:
            result[name] = pd.Series(values, index=contacts.index, dtype=object)
    return result


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["outcome"].value_counts(dropna=False)
    out = {k: int(counts.get(k, 0)) for k in (*OUTCOMES, "invalid")}
    out["not_sent"] = int(frame["outcome"].isna().sum())
    return out


def _check_options(concurrency: int, max_url_length: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise InputError(text="concurrency must be an int of at least 1", field="concurrency")
    if not isinstance(max_url_length, int) or max_url_length < 100:
        raise InputError(
            text="max_url_length must be an int of at least 100", field="max_url_length"
        )


def _validate_sender(sender: Any) -> None:
    """Refuse locally the senders the service would refuse for their form (SenderInputError)."""
    from .protocol import validate_send

    if not isinstance(sender, str):
        raise InputError(
            text=f"the sender must be a str, not {type(sender).__name__}", field="sender"
        )
    try:
        validate_send(sender, ["79000000001"], "x")
    except SenderError as exc:
        rule = "up to 11 Latin letters or digits, or up to 15 digits"
        raise SenderInputError(
            exc.code, f"{sender!r}: {rule} ({exc.text})", field="sender"
        ) from None


# ---------------------------------------------------------------- public API


def send_campaign(
    client: TargetSMSClient,
    contacts: pd.DataFrame,
    text: str,
    sender: str,
    *,
    phone_column: str = "phone",
    campaign: str | None = None,
    store: str | PathLike[str] | Journal | None = None,
    max_url_length: int = DEFAULT_MAX_URL_LENGTH,
    concurrency: int = 4,
    progress: bool = True,
    mobile_only: bool = True,
    max_unknown_streak: int | None = DEFAULT_MAX_UNKNOWN_STREAK,
) -> pd.DataFrame:
    """Send ``text`` (a ``str.format`` template over the row's columns) to every reachable row once.

    Returns one row per input row, in input order, with the input's index and columns unchanged,
    then ``msisdn, text, parts, sms_id, outcome, error_code, error_text, batch`` (``outcome``:
    ``sent``, ``queued``, ``invalid``, ``duplicate``, ``rejected``, ``unknown``; missing only when
    the campaign stopped before the row was sent). ``result.attrs`` holds ``campaign``, ``store``
    and ``summary`` (counts per outcome, requests made).

    - Bad input raises ``InputError`` before any request: no such phone column, an empty frame,
      empty text, a template field with no column, a missing or too-long sender (then a
      :class:`SenderInputError`, also a ``SenderError``). A row whose number is missing, not a
      mobile or 15 digits long, or that lacks a template value, is ``invalid``; a number already
      in an earlier row is ``duplicate`` (``error_code='duplicate_recipient'``).
    - ``campaign`` names the run in the journal (``store``: a path, a ``Journal``,
      or None for ``$TARGETSMS_STORE`` / the user data dir). Call again with the same name to
      continue after a crash: rows with a record come back as recorded, the rest are sent.
      Without a name, one is derived from the account, sender and template (not the contacts),
      so re-running the cell - even after fixing or adding rows - sends only the rows without a
      record (pass a new name to send the same text to the same people again on purpose).
    - A batch refused for one recipient is split until the bad numbers stand alone (``rejected``);
      ``insufficient_funds`` is ``queued``; a lost answer is ``unknown`` and never resent
      automatically (see :func:`resend_unknown`, :func:`mark_outcome`). After
      ``max_unknown_streak`` lost answers in a row the campaign stops.
    - Account, sender and content errors (and a service that cannot be reached) stop the campaign
      after journaling, and are raised with ``.result`` (the frame so far) and ``.campaign``.
    - ``concurrency`` worker threads send; a tqdm bar (``progress=False`` turns it off) shows
      recipients and requests per second.
    - A request the service refused earlier (the stop above, or a split) is not repeated within
      ``client.throttle_interval`` of that refusal: the worker waits it out, as the service would
      answer ``duplicate_request``.

    Example::

        result = send_campaign(client, contacts, "Здравствуйте, {name}!", "SHOP",
                               campaign="spring", concurrency=8)
        result["outcome"].value_counts()
    """
    _check_options(concurrency, max_url_length)
    plan = _plan(contacts, text, phone_column, mobile_only)
    _validate_sender(sender)
    name = campaign or _auto_name(client.user, sender, text)
    base_length = _url_lengths(lambda s: client.send_url_length(s, [], ""))
    with open_journal(store, sending=True) as journal:
        account = journal.ensure_campaign(
            name, user=client.user, url=client.url, sender=sender, template=text
        )
        recovered = journal.recover_inflight(name, account=account)
        if recovered:
            logger.warning("%s: %d interrupted batch(es) marked unknown", name, recovered)
        records = journal.records(name, plan.recipients, account=account)
        todo = [
            (m, sender, plan.text[i], plan.parts[i])
            for m, i in plan.recipients.items()
            if m not in records or records[m]["status"] == "pending"
        ]
        batches = _group_batches(todo, base_length, max_url_length)
        run = _Run(
            client,
            journal,
            name,
            concurrency=concurrency,
            progress=progress,
            total=len(todo),
            max_unknown_streak=max_unknown_streak,
            account=account,
        )
        error: BaseException | None = None
        try:
            run.run(batches)
        finally:
            error = run.error
            records = journal.records(name, plan.recipients, account=account)
            result = _result(contacts, plan, records, None)
            if "account" not in result.columns:
                result["account"] = pd.Series(account, index=result.index, dtype=object)
            summary = _counts(result)
            summary["requests"] = run.requests
            result.attrs.update(campaign=name, account=account, store=journal.path, summary=summary)
    if error is not None:
        if isinstance(error, TargetSMSError):
            error.result = result  # type: ignore[attr-defined]
            error.campaign = name  # type: ignore[attr-defined]
        raise error
    return result


def estimate_campaign(
    contacts: pd.DataFrame,
    text: str,
    *,
    phone_column: str = "phone",
    sender: str | None = None,
    client: TargetSMSClient | None = None,
    max_url_length: int = DEFAULT_MAX_URL_LENGTH,
    mobile_only: bool = True,
    price_per_part: float | None = None,
) -> pd.DataFrame:
    """What ``send_campaign`` would do, without a request: the same rows, ``outcome='ready'``.

    ``batch`` holds the planned request number. ``result.attrs["summary"]`` (also
    :func:`summarize_estimate`) gives ``recipients, invalid, duplicates, parts, requests,
    price_per_part, expected_cost``. The request count is exact with a ``client`` and ``sender``
    (the URL holds the login and password); without them it assumes 16-character credentials, an
    11-character sender and the real service's URL. ``price_per_part`` defaults to
    :data:`DEFAULT_PRICE_PER_PART`; SMS paid from packages cost less.

    Example::

        >>> import pandas as pd
        >>> frame = pd.DataFrame({"phone": ["+7 916 123-45-67", "8 916 123 45 67", None],
        ...                       "name": ["Анна", "Анна", "Олег"]})
        >>> est = estimate_campaign(frame, "Здравствуйте, {name}!")
        >>> est["outcome"].tolist()
        ['ready', 'duplicate', 'invalid']
        >>> est.attrs["summary"]["requests"], est.attrs["summary"]["parts"]
        (1, 1)
    """
    if not isinstance(max_url_length, int) or max_url_length < 100:
        raise InputError(
            text="max_url_length must be an int of at least 100", field="max_url_length"
        )
    plan = _plan(contacts, text, phone_column, mobile_only)
    if sender is not None:
        _validate_sender(sender)

    def empty_length(sender_: str) -> int:
        if client is not None:
            return client.send_url_length(sender_, [], "")
        params = send_params(_ESTIMATE_USER, _ESTIMATE_PASSWORD, sender_, [], "")
        return len(build_url(_ESTIMATE_URL, params))

    chosen = sender or _ESTIMATE_SENDER
    positions = list(plan.recipients.items())
    batches = _group_batches(
        [(m, chosen, plan.text[i], plan.parts[i]) for m, i in positions],
        _url_lengths(empty_length),
        max_url_length,
    )
    request_of: dict[str, int] = {}
    for k, (_s, _t, _p, phones) in enumerate(batches, start=1):
        for phone in phones:
            request_of[phone] = k
    planned = {i: request_of[m] for m, i in positions}
    result = _result(contacts, plan, {}, planned)
    result.attrs["summary"] = summarize_estimate(result, price_per_part=price_per_part)
    return result


def summarize_estimate(
    estimate: pd.DataFrame, *, price_per_part: float | None = None
) -> dict[str, float | int]:
    """Totals of an :func:`estimate_campaign` frame.

    Keys: ``rows, recipients, invalid, duplicates, parts, requests, price_per_part,
    expected_cost`` (``parts × price_per_part``, default :data:`DEFAULT_PRICE_PER_PART`).

    Example::

        summary = summarize_estimate(estimate_campaign(contacts, "Hi {name}"), price_per_part=1.15)
        print(f"{summary['recipients']} people, {summary['expected_cost']:.2f} RUB")
    """
    price = DEFAULT_PRICE_PER_PART if price_per_part is None else float(price_per_part)
    ready = estimate["outcome"] == "ready"
    parts = int(estimate.loc[ready, "parts"].sum())
    return {
        "rows": len(estimate),
        "recipients": int(ready.sum()),
        "invalid": int((estimate["outcome"] == "invalid").sum()),
        "duplicates": int((estimate["outcome"] == "duplicate").sum()),
        "parts": parts,
        "requests": int(estimate.loc[ready, "batch"].nunique()),
        "price_per_part": price,
        "expected_cost": round(parts * price, 2),
    }


def _msisdns(values: Iterable[Any] | str | int) -> list[str]:
    """The journal keys the user may mean: each value normalized as ``send_campaign`` does it (so
    ``8 916…`` and ``916…`` find ``7916…``), and a string of digits also as it is (an msisdn of
    a foreign number the Russian default region reads otherwise)."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        values = [values]
    out: list[str] = []
    for value in values:
        normalized = check_phone(value, mobile_only=False)[0]
        if normalized:
            out.append(normalized)
        raw = str(value).strip()
        if raw.isascii() and raw.isdigit():
            out.append(raw)
    return list(dict.fromkeys(out))


def mark_outcome(
    campaign: str,
    msisdns: Iterable[Any] | str,
    outcome: str,
    *,
    store: str | PathLike[str] | Journal | None = None,
    note: str | None = None,
    account: str | None = None,
) -> list[str]:
    """Record what you found out about ``unknown`` recipients; returns the msisdns changed.

    ``outcome``: ``sent`` (it arrived), ``rejected`` (it did not, and should not be sent again) or
    ``pending`` (it did not: the next ``send_campaign`` call with this campaign sends it). Only
    recipients now ``unknown`` change; ``error_code`` becomes ``marked_by_user``, ``error_text`` the
    ``note``. Numbers may be given in any format :func:`~targetsms_analytics.phones.check_phone`
    reads.

    Example::

        unknown = result.query("outcome == 'unknown'")["msisdn"]
        mark_outcome("spring", unknown, "sent", note="seen in the provider's panel")
    """
    if outcome not in ("sent", "rejected", "pending"):
        raise InputError(
            text=f"outcome must be 'sent', 'rejected' or 'pending', not {outcome!r}",
            field="outcome",
        )
    with open_journal(store) as journal:
        return journal.set_outcome(campaign, _msisdns(msisdns), outcome, note=note, account=account)


def resend_unknown(
    client: TargetSMSClient,
    campaign: str,
    *,
    msisdns: Iterable[Any] | str | None = None,
    store: str | PathLike[str] | Journal | None = None,
    max_url_length: int = DEFAULT_MAX_URL_LENGTH,
    concurrency: int = 4,
    progress: bool = True,
) -> pd.DataFrame:
    """Send again the ``unknown`` recipients of a campaign, after you checked they got nothing.

    ``msisdns`` limits it to those numbers (default: every ``unknown`` one). Each is sent with its
    journaled text and sender, through the same journaled path as :func:`send_campaign`. Returns the
    journal rows of the recipients resent (see ``Journal.campaign_messages``). Resending within the
    identical-request interval of the lost request gives ``duplicate`` (``duplicate_request``): the
    first one did arrive.

    Example::

        resend_unknown(client, "spring", msisdns=["79161234567"])
    """
    _check_options(concurrency, max_url_length)
    account = account_of(client.user, client.url)
    with open_journal(store, sending=True) as journal:
        journal.recover_inflight(campaign, account=account)
        records = journal.records(campaign, account=account)
        wanted = None if msisdns is None else set(_msisdns(msisdns))
        chosen = [
            m
            for m, r in records.items()
            if r["status"] == "unknown" and (wanted is None or m in wanted)
        ]
        released = set(journal.set_outcome(campaign, chosen, "pending", account=account))
        todo = [
            (m, records[m]["sender"], records[m]["text"], records[m]["parts"])
            for m in chosen
            if m in released
        ]
        batches = _group_batches(
            todo, _url_lengths(lambda s: client.send_url_length(s, [], "")), max_url_length
        )
        run = _Run(
            client,
            journal,
            campaign,
            concurrency=concurrency,
            progress=progress,
            total=len(todo),
            max_unknown_streak=None,
            account=account,
        )
        run.run(batches)
        frame = journal.campaign_messages(campaign, account=account)
        frame = frame[frame["msisdn"].isin(released)].reset_index(drop=True)
    if run.error is not None:
        if isinstance(run.error, TargetSMSError):
            run.error.result = frame  # type: ignore[attr-defined]
            run.error.campaign = campaign  # type: ignore[attr-defined]
        raise run.error
    return frame
