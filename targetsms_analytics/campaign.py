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
  automatically: check, then call :func:`resend_unknown` or :func:`mark_outcome`;
- send windows in the recipient's local time (``scheduled``), A/B variants with a holdout
  (``holdout``) and a rate cap are arguments of :func:`send_campaign`; the pure rules live in
  :mod:`~targetsms_analytics.planning` (rows → plan) and :mod:`~targetsms_analytics.schedule`.

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

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from os import PathLike
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .balances import save_snapshot
from .batching import DEFAULT_MAX_URL_LENGTH
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
from .phones import check_phone
from .planning import (
    CAMPAIGN_COLUMNS,
    DEFAULT_MAX_PARTS,
    HOLDOUT,
    Batch,
    _auto_name,
    _group_batches,
    _Plan,
    _plan,
    _url_lengths,
    check_max_parts,
    check_variants,
    template_key,
)
from .protocol import build_url, send_params
from .schedule import (
    SendWindow,
    TokenBucket,
    check_max_per_minute,
    parse_window,
    utc_now,
    window_openings,
)
from .store import encode_dicts

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

#: Assumed price of one SMS part (RUB) for ``estimate_campaign`` when none is given.
DEFAULT_PRICE_PER_PART = 1.20
#: Stop the campaign after this many batches in a row ended ``unknown`` (the service is unreachable
#: or answering garbage: better to stop than to turn every remaining recipient into ``unknown``).
DEFAULT_MAX_UNKNOWN_STREAK = 10
# Passes over the recipients other senders left unsent (each pass sends what is left).
_MAX_PASSES = 5
# Placeholders for an estimate made without a client (the URL length depends on them).
_ESTIMATE_URL = DEFAULT_URL
_ESTIMATE_USER = "u" * 16
_ESTIMATE_PASSWORD = "p" * 16
_ESTIMATE_SENDER = "S" * 11
#: ``error_code`` of recipients ``rejected`` because their request certainly never left this
#: machine (a ``ConnectError``): the next ``send_campaign`` call sends them again.
NEVER_SENT_CODE = "transport"

# Errors that stop a campaign: nothing else in it can succeed until the user acts.
_STOPPING = (AccountError, SenderError, ContentError)


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
        gate: Callable[[list[str], threading.Event], list[str]] | None = None,
        contacts: _EncodedContacts | None = None,
        resend: bool = False,
    ) -> None:
        # resend_unknown: each batch's recipients leave `unknown` only when their batch is
        # claimed, and go back to `unknown` (never `pending`) if it does not go out
        self.resend = resend
        self.gate = gate  # rate cap and send window, checked per batch (planning)
        self.contacts = contacts  # the input rows' other columns, for the journal
        self.client = client
        self.journal = journal
        self.campaign = campaign
        self.account = account or account_of(client.user, client.url)
        # Refusals this run saw, by fingerprint, on the monotonic clock: the wall clock may be set
        # back (or forward) while a run waits out the service's identical-request window.
        self._clock = clock
        self._wall = wall or (lambda: datetime.now(UTC))
        self._refused: dict[str, float] = {}
        self._known_refusals: dict[str, datetime] = {}
        self.concurrency = concurrency
        self.max_unknown_streak = max_unknown_streak
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.requests = 0
        self.streak = 0
        #: Recipients a claim left out: another run holds them, or they have an outcome already.
        self.skipped = 0
        #: Batches no worker has taken yet: once none is left, a worker has no next request to
        #: go on to, and writes its answers itself (in parallel with the others, on PostgreSQL)
        #: instead of handing them to the journal's one answer writer.
        self._left = 0
        #: msisdn -> its record as this run journaled it (a final answer), so that a run that
        #: sent everyone itself need not read them back (see :meth:`records_after`).
        self.journaled: dict[str, dict[str, Any]] = {}
        self._batches: dict[int, tuple[str, str, int | None, str | None]] = {}
        self._journal_failed = False
        # A paced, windowed or resending run reads the journal back: it never needs them.
        self._keep = gate is None and not resend
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self.token = ""
        self._wait = wait or self.stop.wait
        self.bar = None
        if progress and total:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=campaign, unit="rcpt", dynamic_ncols=True)

    def run(
        self,
        batches: Sequence[tuple[str, str, int | None, list[str]]],
        prepare: Sequence[tuple[str, str, str | None, int | None]] | None = None,
    ) -> None:
        """Send ``batches`` from ``concurrency`` workers that take them one by one, in order.
        ``prepare``: the recipients to give their rows first (see ``Journal.prepare``).

        An error that stops the campaign is kept in ``self.error``; a bug or an interrupt is raised.
        Either way no new batch starts, and requests under way finish and journal their answers.
        """
        self.token = self.journal.begin_run(self.campaign, account=self.account)
        # Refusals recorded before this run whose window may still be open: one query, not one
        # per batch (a refusal by a sender running now comes back with its ticket).
        interval = float(getattr(self.client, "throttle_interval", 60.0))
        self._known_refusals = self.journal.recent_refusals(
            self._wall() - timedelta(seconds=interval + 1.0)
        )
        take = threading.Lock()
        arrived = threading.Condition(take)  # a first request's ticket, committed
        self._left = len(batches)
        tickets: dict[int, BatchTicket] = {}  # the first requests' intents, not yet taken
        queue = enumerate(batches)
        ready = threading.Event()  # set once those are all committed (or could not be)

        def deliver(k: int, ticket: BatchTicket) -> None:
            with arrived:
                tickets[k] = ticket
                arrived.notify_all()

        def worker() -> None:
            while not self.stop.is_set():
                with arrived:
                    k, batch = next(queue, (None, None))
                    self._left = max(self._left - 1, 0)
                    # A first request goes once its own intent is committed; any other batch
                    # (a reserved one too) once they all are and the journal is warming up:
                    # its recipients' rows are written with them, and its launch or claim
                    # finds the connections warm_up opens (else its thread opened its own).
                    # (Woken at once; the timeout in case Ctrl-C lands between ready.set()
                    # and notify_all() in the main thread.)
                    while (
                        not ready.is_set()
                        and not self.stop.is_set()
                        and (batch is not None and (k not in tickets or tickets[k].reserved))
                    ):
                        arrived.wait(0.05)
                    ticket = tickets.pop(k, None)
                if batch is None:
                    return
                variant = batch[4] if len(batch) > 4 else None
                self._batch(*batch[:4], variant=variant, ticket=ticket)

        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="targetsms-send") as pool:
                try:
                    try:
                        # The workers start first and wait: each request goes out as soon as its
                        # intent is committed, not after the threads before it have started.
                        n = min(self.concurrency, len(batches))
                        workers = [pool.submit(worker) for _ in range(n)]
                        made = self._first_intents(batches, prepare, deliver)
                        if made:  # the workers launch or claim the batches after these
                            launches = sum(t.reserved for t in made.values())
                            self._warm_up(min(n, len(batches) - len(made)), launches)
                    except BaseException:
                        self.stop.set()  # (a worker with no ticket claims nothing now)
                        raise
                    finally:
                        with arrived:  # whatever happened: no worker waits for ever
                            ready.set()
                            arrived.notify_all()
                    for future in as_completed(workers):
                        future.result()
                except BaseException:  # Ctrl-C in a notebook, or a bug in a worker
                    self.stop.set()
                    raise
        finally:
            try:
                for ticket in tickets.values():  # claimed, never sent: the run stopped first
                    if ticket.phones:
                        try:
                            self._record(ticket, *self._not_sent())
                        except Exception:  # logged by _record: it stays in flight (unknown)
                            self._journal_failed = True
            finally:
                try:
                    self.journal.flush()  # the answers written behind the workers' backs
                    self.journal.end_run(self.token)
                except Exception as exc:  # the journal failed meanwhile: its batches go stale
                    self._journal_failed = True
                    logger.error("%s: could not end the run in the journal: %s", self.campaign, exc)
                if self.bar is not None:
                    self._postfix()
                    self.bar.close()

    def _first_intents(
        self,
        batches: Sequence[tuple[str, str, int | None, list[str]]],
        prepare: Sequence[tuple[str, str, str | None, int | None]] | None,
        deliver: Callable[[int, BatchTicket], Any],
    ) -> dict[int, BatchTicket]:
        """The intents of the first request of each worker, committed together (one commit
        instead of one per request, and on PostgreSQL no connection per worker for them, and a
        new campaign's rows written with them: there a few rows a transaction, which lets the
        first requests go while the next are written), and with them the workers' second
        requests, claimed ahead (``reserved``: each goes in flight with one row just before its
        request, see ``Journal.launch_batch``, instead of a claim of all its recipients after
        the first answer). Each ticket is handed to ``deliver(index, ticket)`` once committed
        (a worker waits for it); returns them all, batch index -> ticket. ``prepare`` is given
        its rows either way.

        Only where the journal gains by it (``Journal.first_intents_together``), for runs with
        nothing to do before a claim (no rate cap or send window, not a resend), and not for a
        request the service refused lately (it waits that out first).
        """
        client = self.client
        first, ahead = [], []
        together = self.journal.first_intents_together
        if together and self.gate is None and not self.resend and not self.stop.is_set():
            for k, batch in enumerate(batches[: 2 * self.concurrency]):
                sender, text, _, phones = batch[:4]
                fingerprint = self._fingerprint_to_check(sender, text, phones)
                if fingerprint is None or fingerprint not in self._known_refusals:
                    (first if k < self.concurrency else ahead).append(k)
        if len(first) < 2 or len({batches[k][0] for k in first}) != 1:
            if prepare is not None:
                self.journal.prepare(self.campaign, prepare, account=self.account)
            return {}
        ahead = [k for k in ahead if batches[k][0] == batches[first[0]][0]]
        wanted = []
        for k in first + ahead:
            sender, text, parts, phones = batches[k][:4]
            wanted.append(
                {
                    "phones": phones,
                    "text": text,
                    "parts": parts,
                    "variant": batches[k][4] if len(batches[k]) > 4 else None,
                    "contacts": self._contacts_of(phones),
                    "reserved": k >= self.concurrency,
                }
            )
        indexes = first + ahead
        made: dict[int, BatchTicket] = {}

        def each(k: int, ticket: BatchTicket) -> None:
            made[indexes[k]] = ticket
            deliver(indexes[k], ticket)

        self.journal.begin_batches(
            self.campaign, wanted, sender=batches[first[0]][0], user=client.user,
            url=client.url, token=self.token, account=self.account, prepare=prepare, each=each,
        )  # fmt: skip
        return made

    def _warm_up(self, claimers: int, launches: int) -> None:
        """Have the journal ready a connection for the answers, one for ``launches`` batches
        claimed ahead, and one for each of ``claimers`` workers, which will claim a batch once
        their first requests (their intents committed for them) are answered: opened while
        those requests are out (see ``Journal.warm_up``)."""
        try:
            self.journal.warm_up(claimers, launches=launches)
        except Exception as exc:  # each worker connects when it claims, as without it
            logger.debug("%s: the journal could not warm up: %s", self.campaign, exc)

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
        variant: str | None = None,
        ticket: BatchTicket | None = None,
    ) -> None:
        """Claim, send and journal one batch (``ticket``: its intent, already committed)."""
        if ticket is None:
            claimed = self._claim(sender, text, parts, phones, parent, variant)
            if claimed is None:
                return
            ticket, phones = claimed
        self._go(ticket, sender, text, parts, phones, variant)

    def _claim(
        self,
        sender: str,
        text: str,
        parts: int | None,
        phones: list[str],
        parent: int | None,
        variant: str | None,
    ) -> tuple[BatchTicket, list[str]] | None:
        """Commit a batch's intent: its ticket and the phones it asked for (those the gate let
        through); None when there is nothing to send (stopped, or the gate let nobody through)."""
        # Wait out the service's window after a refusal of this very request before claiming
        # anyone: a process killed while waiting leaves them unsent, not unknown.
        client = self.client
        fingerprint = self._fingerprint_to_check(sender, text, phones)
        if fingerprint is not None:
            if self._wait_out(fingerprint, self._known_refusals.get(fingerprint)):
                return None
        elif self.stop.is_set():
            return None
        if self.gate is not None:  # max_per_minute, window: wait and check before claiming anyone
            phones = self.gate(phones, self.stop)
            if not phones:
                return None
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
            variant=variant,
            contacts=self._contacts_of(phones),
            # the lost request, repeated: its recipients leave unknown as they are claimed
            resend=self.resend and parent is None,
        )
        return ticket, phones

    def _fingerprint_to_check(self, sender: str, text: str, phones: list[str]) -> str | None:
        """The request's fingerprint, to look for among the refusals, when some request was
        refused lately (this run, or in the journal's last interval); else None: in the usual
        run none is, and no fingerprint is computed (those of 7 requests of 143 phones: ~2 ms)."""
        if not (self._refused or self._known_refusals):
            return None
        client = self.client
        return request_fingerprint(client.url, client.user, sender, phones, text)

    def _contacts_of(self, phones: list[str]) -> dict[str, Any] | None:
        """The input rows' other columns of ``phones``, as the journal keeps them."""
        if self.contacts is None:
            return None
        return self.contacts.of(phones)

    def _go(
        self,
        ticket: BatchTicket,
        sender: str,
        text: str,
        parts: int | None,
        phones: list[str],
        variant: str | None,
    ) -> None:
        """Send a claimed batch and journal its answer (splitting it when refused for one);
        ``phones``: those its claim asked for."""
        skipped = len(phones) - len(ticket.phones)
        if skipped:  # another run holds them, or they have an outcome already
            self._skip(skipped)
        n = len(ticket.phones)
        if not n:
            return
        if self._keep:
            self._batches[ticket.id] = (sender, text, parts, variant)
        if self._wait_out(
            ticket.fingerprint, ticket.refused_at
        ):  # stopped (or fewer claimed, and that was refused)
            self._record(ticket, *self._not_sent())
            return
        if ticket.reserved and not self._launch(ticket):
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
        if outcome == "stop":  # not sent: its recipients stay unsent
            self._record(ticket, *self._not_sent(code, why))
            self._done(0, answered=None, request=isinstance(answer, _STOPPING))
            self._fail(answer)
        elif outcome == "unreachable":
            # Certainly never left: `rejected` with the transport code, so the frame says why;
            # the next send_campaign call sends them again (see _release_never_sent).
            if self.resend:
                self._record(ticket, *self._not_sent(code, why))
            else:
                self._record(ticket, "rejected", NEVER_SENT_CODE, f"never sent: {why}")
            self._done(n, answered=None, request=False)
            self._fail(answer)
        elif outcome == "split":
            # Refused for someone in it: split until the bad numbers stand alone. Each half is a
            # different URL, so the identical-request interval does not apply.
            self._record(ticket, "split", code, why)
            self._done(0, answered=True)
            half = n // 2
            self._batch(sender, text, parts, ticket.phones[:half], ticket.id, variant)
            self._batch(sender, text, parts, ticket.phones[half:], ticket.id, variant)
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

    def _launch(self, ticket: BatchTicket) -> bool:
        """Put a batch claimed ahead in flight before its request (see ``Journal.launch_batch``):
        False when it is not to be sent. Taken back meanwhile (this run was taken for gone: its
        recipients are pending again, for whoever sends next), it counts as skipped; should the
        journal fail, it goes back to pending if it can (else it stays reserved: pending once
        its run counts as gone) and the error is raised, as a failed claim's is."""
        try:
            launched = self.journal.launch_batch(ticket.id, token=self.token)
        except BaseException:
            try:
                self._record(ticket, *self._not_sent())
            except Exception:  # logged by _record
                self._journal_failed = True
            raise
        if not launched:
            self._skip(len(ticket.phones))
        return launched

    def _skip(self, n: int) -> None:
        """``n`` recipients this run will not send: someone else holds them or sent them."""
        with self._lock:
            self.skipped += n
        self._done(n, answered=None, request=False)

    def _not_sent(
        self, code: str | None = None, why: str | None = None
    ) -> tuple[str, str | None, str | None]:
        """What a batch that did not go out becomes: ``pending`` (the next call sends it), or for
        a resend ``unknown`` again, since the first, lost request may have arrived: a later call
        must not repack these recipients into a request the service cannot recognize."""
        if not self.resend:
            return ("pending", code, why)
        said = f": {why}" if why else ""
        return ("unknown", code or "resend_stopped", f"the resend did not go out{said}")

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
        the service said - every SMS id with its phone - and stop the run with the error: the
        batch stays in flight, hence ``unknown`` for the next call, never resent, and no id is
        lost.

        A final answer is handed to the journal's answer writer (``wait=False``): the worker
        goes on to its next request while it is committed, usually together with the other
        workers' intents; :meth:`run` waits for those writes before the run ends. Once no batch
        is left to take, the worker commits its answers itself. ``split`` and ``pending`` are
        committed before this returns (their recipients are claimed again next).
        """

        def failed(exc: BaseException) -> None:
            said = ", ".join(f"{p}={i}" for p, i in zip(ticket.phones, ids or [], strict=False))
            logger.error(
                "%s: batch %d: could not journal the answer %s (%s): %s",
                self.campaign,
                ticket.id,
                outcome if code is None else f"{outcome} ({code})",
                type(exc).__name__,
                said or "no SMS ids",
            )

        def deferred_failed(exc: BaseException) -> None:
            failed(exc)
            self._fail(exc)

        # With no batch left to take, this worker has no next request to go on to: it writes
        # its final answer itself (errors as for a deferred one: logged, and the run stops),
        # unless it would have to open a connection for it (a PostgreSQL worker whose intents
        # were all committed for it: the answer writer's one connection takes it sooner).
        now = self._left == 0 and outcome in OUTCOMES and self.journal.connected_here()
        try:
            self.journal.finish_batch(
                ticket.id, outcome, sms_ids=ids, error_code=code, error_text=why,
                phones=ticket.phones, wait=now, on_error=deferred_failed,
            )  # fmt: skip
        except Exception as exc:
            if not now:
                failed(exc)
                raise
            deferred_failed(exc)
            return
        except BaseException as exc:
            failed(exc)
            raise
        self._remember(ticket, outcome, code, why, ids)

    def _remember(
        self,
        ticket: BatchTicket,
        outcome: str,
        code: str | None,
        why: str | None,
        ids: list[str] | None,
    ) -> None:
        """Keep what :meth:`_record` handed to the journal, as ``Journal.records`` reads it."""
        if not self._keep:
            return
        if outcome not in OUTCOMES:  # pending or split: claimed again, or left unsent
            with self._lock:
                for phone in ticket.phones:
                    self.journaled.pop(phone, None)
            return
        sender, text, parts, variant = self._batches[ticket.id]
        sent = outcome == "sent"
        with self._lock:
            for k, phone in enumerate(ticket.phones):
                self.journaled[phone] = {
                    "status": outcome,
                    "sms_id": str(ids[k]) if sent and ids is not None else None,
                    "text": text,
                    "parts": parts,
                    "batch": ticket.id,
                    "error_code": None if sent else code,
                    "error_text": None if sent else why,
                    "sender": sender,
                    "variant": variant,
                }

    def records_after(
        self, before: Mapping[str, dict[str, Any]], todo: Iterable[str]
    ) -> dict[str, dict[str, Any]] | None:
        """The records of a run that claimed and answered every one of ``todo`` itself, with no
        error: ``before`` (read before the run) overlaid with what the run journaled. None when
        that is not certain (an error, recipients another sender held, one not answered): then
        the journal must be read. The caller checks that nobody else changed the campaign
        meanwhile (``Journal.changed_since``); a record another sender had in flight before the
        run makes it None here.

        A claim keeps a row's ``not_before``; the rest of each record is the answer itself.
        """
        if self.error is not None or self.skipped or self._journal_failed or not self._keep:
            return None
        journaled = self.journaled
        if any(m not in journaled for m in todo):
            return None
        if any(r["status"] == "inflight" for r in before.values()):
            return None  # another sender's: its answer may have come meanwhile
        out = dict(before)
        for m, rec in journaled.items():
            old = before.get(m)
            rec["not_before"] = None if old is None else old.get("not_before")
            out[m] = rec
        return out

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


def _settle(
    journal: Journal,
    name: str,
    account: str,
    todo: list[tuple[Any, ...]],
    *,
    poll: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utc_now,
    clock: Callable[[], float] = time.monotonic,
) -> list[tuple[Any, ...]]:
    """Wait until none of ``todo``'s recipients is in flight (another sender's batches are
    answered, or recovered as ``unknown`` once their sender is gone); return the items still
    unsent (no record, ``pending``, or ``scheduled`` and due by ``now``). A wait longer than
    ``_TELL_AFTER`` seconds is logged once, naming the senders waited for."""
    phones = [t[0] for t in todo]
    started = clock()
    deadline = started + journal.stale_after + 60.0
    told = False
    while True:
        records = journal.records(name, phones, account=account, contact=False)
        waiting = [m for m, r in records.items() if r["status"] == "inflight"]
        if not waiting:
            break
        if journal.recover_inflight(name, account=account) == 0:
            if clock() > deadline:
                break
            if not told and clock() - started >= _TELL_AFTER:
                told = True
                logger.warning(
                    "%s: waiting for %d recipient(s) in flight in another sender (%s): until its"
                    " answers are journaled, or it counts as gone (its connection lost, or after"
                    " %.0f s); Ctrl-C is safe, run again later to send the rest",
                    name, len(waiting), _senders_of(journal, name, account, records, waiting),
                    journal.stale_after,
                )  # fmt: skip
            sleep(poll)
    due = now()
    return [
        t
        for t in todo
        if t[0] not in records
        or records[t[0]]["status"] == "pending"
        or (records[t[0]]["status"] == "scheduled" and not _still_scheduled(records[t[0]], due))
    ]


#: Seconds of waiting for another sender's requests in flight before saying so.
_TELL_AFTER = 5.0


def _senders_of(
    journal: Journal, name: str, account: str, records: Mapping[str, dict], waiting: list[str]
) -> str:
    """``"host pid 123, …"``: who holds the batches ``waiting``'s recipients are in flight in."""
    ids = {records[m]["batch"] for m in waiting}
    frame = journal.batches(name, account=account)
    owners = frame.loc[frame["id"].isin(ids), ["owner_host", "owner_pid"]].drop_duplicates()
    said = [f"{h} pid {p}" for h, p in owners.itertuples(index=False)]
    return ", ".join(said[:3]) + (f" and {len(said) - 3} more" if len(said) > 3 else "")


# ---------------------------------------------------------------- results


# The dtype pandas gives a column of no times (to_datetime of Nones, utc=True).
_NO_TIMES = pd.to_datetime(pd.Series([None], dtype=object), utc=True).dtype


def _result(
    contacts: pd.DataFrame,
    plan: _Plan,
    records: dict[str, dict],
    extra: dict[int, int] | None,
    opens: dict[str, datetime] | None = None,
    now: datetime | None = None,
    *,
    account: str | None = None,
) -> pd.DataFrame:
    """The result frame: the plan, overlaid with the journal's records (or, for an estimate,
    with ``extra``: the planned request per row). ``opens`` (msisdn → when the recipient's window
    opens) marks the rows an estimate would hold. ``account``: a last column of it (unless the
    input has a column of that name)."""
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
        "variant": list(plan.variant),
        "not_before": [None] * n,
    }
    outcome, error_code, error_text = cols["outcome"], cols["error_code"], cols["error_text"]
    for msisdn, i in plan.recipients.items():
        rec = records.get(msisdn)
        if extra is not None:  # an estimate: the planned request number, or held
            if plan.variant[i] == HOLDOUT:
                outcome[i] = HOLDOUT
            elif opens is not None and now is not None and opens[msisdn] > now:
                outcome[i] = "scheduled"
                cols["not_before"][i] = opens[msisdn]
                cols["batch"][i] = extra.get(i)
            else:
                outcome[i] = "ready"
                cols["batch"][i] = extra.get(i)
            continue
        status = None if rec is None else rec["status"]
        if status is None or status == "pending":
            outcome[i] = None
            error_code[i] = "not_sent"
            error_text[i] = "not sent yet: call send_campaign again to continue"
            continue
        # What was done decides: a row sent before a holdout was asked for stays its variant.
        cols["variant"][i] = HOLDOUT if status == HOLDOUT else rec.get("variant")
        if status in ("scheduled", HOLDOUT):
            outcome[i] = status
            cols["not_before"][i] = when = _timestamp(rec.get("not_before"))
            error_code[i] = rec["error_code"]
            error_text[i] = rec["error_text"] or (
                "the control group: never sent"
                if status == HOLDOUT
                else f"waits for its send window: sendable from {when:%Y-%m-%d %H:%M} UTC"
                if when is not None
                else "waits for its send window"
            )
            continue
        cols["text"][i] = rec["text"]
        cols["parts"][i] = rec["parts"]
        cols["sms_id"][i] = rec["sms_id"]
        cols["batch"][i] = rec["batch"]
        if status == "inflight":
            outcome[i] = "unknown"
            error_code[i] = "in_progress"
            error_text[i] = "another run is sending it right now"
        else:
            outcome[i] = status
            error_code[i] = rec["error_code"]
            error_text[i] = rec["error_text"]
    index = contacts.index
    added: dict[str, Any] = {}
    for name in CAMPAIGN_COLUMNS:
        values = cols[name]
        if name in ("parts", "batch"):
            added[name] = pd.array(values, dtype="Int64")
        elif name == "not_before":
            if any(v is not None for v in values):
                added[name] = pd.to_datetime(pd.Series(values, index=index), utc=True)
            else:  # (the usual case: what to_datetime makes of Nones, without parsing them)
                added[name] = pd.Series(pd.NaT, index=index, dtype=_NO_TIMES)
        else:
            added[name] = pd.Series(values, index=index, dtype=object)
    if account is not None and "account" not in contacts.columns:
        added["account"] = pd.Series(account, index=index, dtype=object)
    # One frame put beside the input, not ten columns inserted one by one (the input has none
    # of these names, see planning._check_input). Measured, 1,000 rows: 2.0 -> 1.6 ms.
    result = pd.concat([contacts, pd.DataFrame(added, index=index)], axis=1)
    return result.__finalize__(contacts)  # (its attrs, as contacts.copy() kept them)


def _timestamp(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    return (
        stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    ).to_pydatetime()


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    counts = Counter(frame["outcome"].tolist())  # (an object column: str or None)
    out = {k: counts.get(k, 0) for k in dict.fromkeys((*OUTCOMES, "invalid", "scheduled", HOLDOUT))}
    out["not_sent"] = counts.get(None, 0)
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


def _campaign_plan(
    contacts: pd.DataFrame,
    variants: Mapping[str | None, str],
    phone_column: str,
    mobile_only: bool,
    *,
    user: str,
    sender: str,
    campaign: str | None,
    holdout: float,
    seed: object,
    max_parts: int,
    base_length: Callable[[str, str], int],
    max_url_length: int,
) -> tuple[str, _Plan]:
    """The campaign's name (given, or derived from account, sender and templates) and its plan:
    the same for ``send_campaign`` and ``estimate_campaign``, so an estimate plans what a send
    would (A/B assignment included, which hashes the name)."""
    name = campaign or _auto_name(user, sender, template_key(variants))
    plan = _plan(
        contacts,
        variants,
        phone_column,
        mobile_only,
        campaign=name,
        holdout=holdout,
        seed=seed,
        max_parts=max_parts,
        url_length=lambda t: base_length(sender, t),
        max_url_length=max_url_length,
    )
    return name, plan


def _still_scheduled(record: Mapping[str, Any] | None, now: datetime) -> bool:
    """A recipient a call with ``window=`` scheduled for later, which is not yet due: a call
    without ``window=`` keeps the journaled ``not_before`` (pass a window to decide anew)."""
    if record is None or record["status"] != "scheduled":
        return False
    not_before = record.get("not_before")
    return not_before is not None and not_before > now


def _snapshot_after(client: TargetSMSClient, journal: Journal, name: str) -> None:
    """The closing balance snapshot; a failure is logged, never raised over the campaign's result."""
    try:
        save_snapshot(client.balance(), journal, user=client.user, url=client.url)
    except TargetSMSError as exc:
        logger.warning("%s: no balance snapshot after sending (%s)", name, exc.code)


def _release_never_sent(
    journal: Journal, name: str, account: str, recipients: Iterable[str]
) -> list[str]:
    """Make sendable again the recipients whose request certainly never left (``rejected`` with
    :data:`NEVER_SENT_CODE`: refused connection, DNS failure…); nothing of theirs arrived.
    Returns the records of ``recipients`` as they are now (a read the caller need not repeat)."""
    records = journal.records(name, recipients, account=account, contact=False)
    again = [
        m
        for m, r in records.items()
        if r["status"] == "rejected" and r["error_code"] == NEVER_SENT_CODE
    ]
    if again:
        journal.set_outcome(name, again, "pending", account=account, only_from=("rejected",))
        logger.info("%s: %d recipient(s) whose request never left are sent again", name, len(again))
        records = journal.records(name, recipients, account=account, contact=False)
    return records


# ---------------------------------------------------------------- public API


def _check_until(until: Any) -> datetime | None:
    if until is None:
        return None
    if not isinstance(until, datetime) or until.tzinfo is None:
        raise InputError(text=f"until must be a tz-aware datetime, not {until!r}", field="until")
    return until.astimezone(UTC)


def _time_zones(msisdns: Sequence[str]) -> list[str | None]:
    """Each recipient's IANA time zone from the numbering plan (None: unknown, i.e. Moscow)."""
    if not msisdns:
        return []
    try:
        from .numbering import lookup_numbers
    except ImportError:  # no numbering plan in this build: everyone is on Moscow time
        return [None] * len(msisdns)
    zones = lookup_numbers(list(msisdns))["time_zone"].tolist()
    return [z if isinstance(z, str) and z else None for z in zones]


def _zones(plan: _Plan) -> dict[str, str | None]:
    """msisdn → IANA time zone, for the recipients to send (not the holdout)."""
    todo = [m for m, i in plan.recipients.items() if plan.variant[i] != HOLDOUT]
    return dict(zip(todo, _time_zones(todo), strict=True))


def _openings(
    zones: dict[str, str | None] | None, window: SendWindow | None, now: datetime
) -> dict[str, datetime] | None:
    """msisdn → when its window opens (``now`` when open), for the recipients to send."""
    if window is None or zones is None:
        return None
    return dict(zip(zones, window_openings(list(zones.values()), now, window), strict=True))


class _Gate:
    """Checked by each batch just before its recipients are claimed: waits for the rate cap's
    tokens, then drops those whose window closed meanwhile (a long or paced run), journaling
    them as ``scheduled``. Returns the phones that may go now."""

    def __init__(
        self,
        bucket: TokenBucket | None,
        window: SendWindow | None,
        zones: dict[str, str | None] | None,
        clock: Callable[[], datetime],
        hold: Callable[[list[tuple[str, str, datetime | None]]], None],
    ) -> None:
        self.bucket = bucket
        self.window = window
        self.zones = zones or {}
        self.clock = clock
        self.hold = hold

    def __call__(self, phones: list[str], stop: threading.Event) -> list[str]:
        phones = self._in_window(phones)  # no tokens spent on those that cannot go anyway
        if not phones or self.bucket is None:
            return phones
        if not self.bucket.acquire(len(phones), stop):
            return []
        return self._in_window(phones)  # the wait for tokens may have outlasted the window

    def _in_window(self, phones: list[str]) -> list[str]:
        if self.window is None or not phones:
            return phones
        now = self.clock()
        opens = window_openings([self.zones.get(p) for p in phones], now, self.window)
        late = [(p, "scheduled", t) for p, t in zip(phones, opens, strict=True) if t > now]
        if late:
            self.hold(late)
            return [p for p, t in zip(phones, opens, strict=True) if t <= now]
        return phones


def _contact_columns(
    contacts: pd.DataFrame, phone_column: str, positions: Sequence[int]
) -> list[dict[str, Any]]:
    """The row's other columns (JSON-safe) for the journal, by position."""
    keys, columns = _contact_table(contacts, phone_column, positions)
    if not keys:
        return [{} for _ in positions]
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


class _EncodedContacts:
    """The input rows' other columns as the journal stores them (JSON, see ``encode_dicts``),
    encoded batch by batch as each is claimed: the first request waits for its own rows only,
    and the others are encoded by their workers while it is out.

    ``positions``: msisdn -> its row's position in ``contacts``.
    """

    def __init__(
        self, contacts: pd.DataFrame, phone_column: str, positions: Mapping[str, int]
    ) -> None:
        self._positions = positions
        self._keys, self._columns = _contact_table(contacts, phone_column)

    def of(self, phones: Sequence[str]) -> dict[str, Any]:
        """msisdn (a recipient of the plan) -> its row's encoded columns (``{}``: none)."""
        if not self._keys:
            return {p: {} for p in phones}
        at = [self._positions[p] for p in phones]
        encoded = encode_dicts(self._keys, [[column[i] for i in at] for column in self._columns])
        return dict(zip(phones, encoded, strict=True))


def _contact_table(
    contacts: pd.DataFrame, phone_column: str, positions: Sequence[int] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """The rows' other columns, by position (None: every row, in order): (their names as
    text, one list of JSON-safe values per column); no names when there are no other columns
    or no rows."""
    at = [j for j, c in enumerate(contacts.columns) if c != phone_column]  # names may repeat
    rows = len(contacts) if positions is None else len(positions)
    if not at or not rows:
        return [], []
    columns = []
    for j in at:  # column by column: one conversion per column, not per cell
        series = contacts.iloc[:, j]
        kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"  # not nullable
        values = series.tolist()
        if positions is not None:
            values = [values[p] for p in positions]
        if kind in "iub":  # numpy ints and bools: tolist() gives Python ones, never missing
            columns.append(values)
        elif kind == "f":
            columns.append([None if v != v else v for v in values])
        elif set(map(type, values)) == {str}:  # (text: JSON-safe as it is)
            columns.append(values)
        else:
            columns.append([_json_safe(v) for v in values])
    return [str(contacts.columns[j]) for j in at], columns


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if value != value else value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _describe_wait(opens: Iterable[datetime]) -> str:
    """``"120 at 06:00Z, 37 at 07:00Z"``: who waits for which hour (UTC), soonest first."""
    counts = Counter(opens)
    shown = [f"{n} at {t:%d %b %H:%M}Z" for t, n in sorted(counts.items())[:3]]
    if len(counts) > 3:
        shown.append(f"{sum(n for t, n in sorted(counts.items())[3:])} later")
    return ", ".join(shown)


def send_campaign(
    client: TargetSMSClient,
    contacts: pd.DataFrame,
    text: str | Mapping[str, str],
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
    max_parts: int = DEFAULT_MAX_PARTS,
    window: tuple[str, str] | str | None = None,
    wait: bool = False,
    until: datetime | None = None,
    max_per_minute: float | None = None,
    holdout: float = 0.0,
    seed: object = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], Any] | None = None,
    snapshot_balance: bool = False,
) -> pd.DataFrame:
    """Send ``text`` (a template over the row's columns) to every reachable row once.

    Returns one row per input row, in input order, with the input's index and columns unchanged,
    then ``msisdn, text, parts, sms_id, outcome, error_code, error_text, batch, variant,
    not_before`` (``outcome``: ``sent``, ``queued``, ``invalid``, ``duplicate``, ``rejected``,
    ``unknown``, ``scheduled``, ``holdout``; missing only when the campaign stopped before the row
    was sent). ``result.attrs`` holds ``campaign``, ``store`` and ``summary`` (counts per
    outcome, requests made).

    - The template: plain ``{column}``, ``{column|fallback}`` (the fallback when the cell is
      empty) and ``{{``/``}}`` for braces. Nothing is evaluated: ``{name.upper}``, ``{name[0]}``,
      ``{0}`` or a format spec raise ``InputError`` (``template_invalid``) before any request.
    - Bad input raises ``InputError`` before any request: no such phone column, an empty frame,
      empty text, a template field with no column, a missing or too-long sender (then a
      :class:`SenderInputError`, also a ``SenderError``), a bad ``window``, ``holdout``,
      ``max_per_minute``… (the error names the argument). A row whose number is missing, not a
      mobile or 15 digits long, that lacks a template value, whose text takes more than
      ``max_parts`` SMS parts (``too_many_parts``) or whose request would be longer than
      ``max_url_length`` even for this one recipient (``url_too_long``) is ``invalid``; a number
      already in an earlier row is ``duplicate`` (``error_code='duplicate_recipient'``, naming
      the file line when the frame came from :func:`~targetsms_analytics.contacts.read_contacts`).
    - ``campaign`` names the run in the journal (``store``: a path, a ``Journal``, or None for
      ``$TARGETSMS_STORE`` / the user data dir). Call again with the same name to continue after
      a crash: rows with a record come back as recorded, the rest are sent. Without a name, one
      is derived from the account, sender and template(s) (not the contacts), so re-running
      the cell - even after fixing or adding rows - sends only the rows without a record (pass
      a new name to send the same text to the same people again on purpose).
    - **A/B**: ``text`` may be a dict ``{"A": "…", "B": "…"}``. Each recipient gets a variant, or
      with ``holdout=0.1`` a tenth of them the control group, by a stable hash of ``seed``, the
      campaign and the msisdn: the same on every call and in every process (column
      ``variant``). Holdout rows have outcome ``holdout``: journaled, never sent.
    - **Send windows**: with ``window=("09:00", "21:00")`` a recipient is sent only while their
      local time (time zone from the numbering plan; unknown: Moscow) is inside it (a window may
      cross midnight), checked again just before each request (a window that closes during a
      long run holds the rest). The others are ``scheduled`` (journaled, ``not_before`` = when
      their window opens); a later call sends those whose window has opened, nobody twice (a call
      without ``window`` keeps their journaled ``not_before``).
      ``wait=True`` keeps the call running until everyone is sent or ``until`` (tz-aware) passes,
      with a progress bar of who waits for which hour; Ctrl-C while waiting leaves nothing half
      done. ``clock`` (tz-aware now) and ``sleep`` are injectable.
    - **Rate cap**: ``max_per_minute=N`` lets at most N recipients per minute out in the long run,
      across all workers (a token bucket holding 10 seconds' worth; requests shrink to fit it).
    - ``snapshot_balance=True`` journals a balance snapshot before the first request and after
      the last one, so :func:`~targetsms_analytics.reconcile_spend` can set what left the
      account against what the statuses cost (snapshots must bracket the sends).
    - A batch refused for one recipient is split until the bad numbers stand alone (``rejected``);
      ``insufficient_funds`` is ``queued``; a lost answer is ``unknown`` and never resent
      automatically (see :func:`resend_unknown`, :func:`mark_outcome`). After
      ``max_unknown_streak`` lost answers in a row the campaign stops.
    - Account, sender and content errors (and a service that cannot be reached) stop the campaign
      after journaling, and are raised with ``.result`` (the frame so far) and ``.campaign``.
      Recipients whose request certainly never left (connection refused, DNS failure…) are
      ``rejected`` with ``error_code='transport'``; the next call sends them again.
    - ``concurrency`` worker threads send; a tqdm bar (``progress=False`` turns it off) shows
      recipients and requests per second.

    Example::

        result = send_campaign(client, contacts, {"A": "Скидка 20%, {name|друзья}!",
                                                  "B": "{name|Друзья}, только сегодня -20%"},
                               "SHOP", campaign="spring", holdout=0.1, seed=7,
                               window=("09:00", "21:00"), max_per_minute=600)
        result.groupby("variant")["outcome"].value_counts()
    """
    _check_options(concurrency, max_url_length)
    check_max_parts(max_parts)
    variants = check_variants(text, holdout)
    send_window = None if window is None else parse_window(window)
    rate = check_max_per_minute(max_per_minute)
    deadline = _check_until(until)
    _validate_sender(sender)
    base_length = _url_lengths(lambda s: client.send_url_length(s, [], ""))
    name, plan = _campaign_plan(
        contacts, variants, phone_column, mobile_only, user=client.user, sender=sender,
        campaign=campaign, holdout=holdout, seed=seed, max_parts=max_parts,
        base_length=base_length, max_url_length=max_url_length,
    )  # fmt: skip
    now = clock or utc_now
    pause = sleep or time.sleep
    bucket = None
    if rate is not None:
        bucket = TokenBucket(
            rate,
            clock=(lambda: now().timestamp()) if clock is not None else None,
            sleep=sleep,
        )
    with open_journal(store, sending=True) as journal:
        template = template_key(variants)
        account, mark = journal.create_campaign(
            name, user=client.user, url=client.url, sender=sender, template=template
        )
        records: dict[str, dict] | None = {}  # a campaign this call created has none to read
        if mark is None:
            _warn_if_changed(journal, name, account, sender, template)
            recovered = journal.recover_inflight(name, account=account)
            if recovered:
                logger.warning(
                    "%s: %d interrupted batch(es) recovered: unknown where the request may have"
                    " gone out, pending again where it never did (claimed ahead)",
                    name,
                    recovered,
                )
            mark = journal.activity(name, account=account)  # nobody else's changes since: below
            records = _release_never_sent(journal, name, account, plan.recipients)
        if snapshot_balance:  # before the first request: a failure here has sent nothing
            save_snapshot(client.balance(), journal, user=client.user, url=client.url)
        requests = 0
        error: BaseException | None = None
        bar = None
        initial = 0
        zones = None if send_window is None else _zones(plan)

        def hold(held: Sequence[tuple[str, str, datetime | None]]) -> None:
            _hold(journal, name, account, sender, contacts, phone_column, plan, held)

        gate = None
        if bucket is not None or send_window is not None:
            gate = _Gate(bucket, send_window, zones, now, hold)

        def read() -> tuple[tuple[int, str | None], dict[str, dict]]:
            """The campaign's mark (see Journal.changed_since), then its records."""
            return journal.activity(name, account=account), journal.records(
                name, plan.recipients, account=account, contact=False
            )

        final: dict[str, dict] | None = None
        try:
            while True:
                started = now()
                opens = _openings(zones, send_window, started)
                if records is None:  # the first pass has them from _release_never_sent
                    mark, records = read()
                held = _to_hold(plan, records, opens, started)
                if held:
                    hold(held)
                    mark, records = read()
                todo = [
                    (m, sender, plan.text[i], plan.parts[i], plan.variant[i])
                    for m, i in plan.recipients.items()
                    if plan.variant[i] != HOLDOUT
                    and (m not in records or records[m]["status"] in ("pending", "scheduled"))
                    and (
                        opens[m] <= started
                        if opens is not None
                        else not _still_scheduled(records.get(m), started)
                    )
                ]
                batches = _group_batches(
                    todo,
                    base_length,
                    max_url_length,
                    max_batch=None if bucket is None else bucket.capacity,
                )
                run = _Run(
                    client,
                    journal,
                    name,
                    concurrency=concurrency,
                    progress=progress,
                    total=len(todo),
                    max_unknown_streak=max_unknown_streak,
                    account=account,
                    gate=gate,
                    contacts=_EncodedContacts(contacts, phone_column, plan.recipients),
                )
                known = None  # the records after this pass, when the run alone decided them
                try:
                    run.run(batches, prepare=todo)
                    # Other senders of this campaign (processes, machines): wait for their
                    # answers, and send what they left (one that died before claiming them).
                    for _ in range(_MAX_PASSES):
                        if run.error is not None:
                            break
                        if gate is None and not run.skipped:
                            # this run claimed (and answered) every one of them itself
                            known = run.records_after(records, (t[0] for t in todo))
                            if known is not None and journal.changed_since(
                                name, mark, account=account, token=run.token
                            ):
                                known = None  # someone else's batch, mark or hold meanwhile
                            break
                        left = _settle(journal, name, account, todo, now=now)
                        if not left:
                            break
                        run.run(
                            _group_batches(
                                left,
                                base_length,
                                max_url_length,
                                max_batch=None if bucket is None else bucket.capacity,
                            )
                        )
                finally:
                    requests += run.requests
                error = run.error
                records = None  # changed by the run: read again when needed
                if error is not None or not wait or opens is None:
                    final = known
                    break
                records = journal.records(name, plan.recipients, account=account, contact=False)
                waiting = [
                    r["not_before"] or opens.get(m, started)
                    for m, r in records.items()
                    if r["status"] == "scheduled"
                ]
                if not waiting:
                    break
                next_at = max(min(waiting), now())
                if deadline is not None and next_at > deadline:
                    logger.info(
                        "%s: %d recipient(s) still scheduled at the deadline", name, len(waiting)
                    )
                    break
                if progress and bar is None:
                    from tqdm.auto import tqdm

                    bar = tqdm(total=len(waiting), desc=f"{name}: waiting", unit="rcpt")
                    initial = len(waiting)
                if bar is not None:
                    bar.n = initial - len(waiting)
                    bar.set_postfix_str(_describe_wait(waiting), refresh=True)
                while (left := (next_at - now()).total_seconds()) > 0:
                    pause(min(left, 60.0))
            if snapshot_balance:
                _snapshot_after(client, journal, name)
        finally:
            if bar is not None:
                bar.close()
            records = final  # the run's own (records_after), when it alone decided them all
            if records is None:
                records = journal.records(name, plan.recipients, account=account, contact=False)
            result = _result(contacts, plan, records, None, account=account)
            summary = _counts(result)
            summary["requests"] = requests
            result.attrs.update(campaign=name, account=account, store=journal.path, summary=summary)
    if error is not None:
        if isinstance(error, TargetSMSError):
            error.result = result  # type: ignore[attr-defined]
            error.campaign = name  # type: ignore[attr-defined]
        raise error
    return result


def _warn_if_changed(journal: Journal, name: str, account: str, sender: str, template: str) -> None:
    """Warn when a campaign goes on with another text or sender than it began with: those
    already sent keep theirs, the rest get the new one (a new message wants a new name). One
    that sent nobody anything yet took the new ones (see ``Journal.ensure_campaign``)."""
    info = journal.campaign_info(name, account=account) or {}
    changed = [
        what
        for what, before, now in (("text", info.get("template"), template),
                                  ("sender", info.get("sender"), sender))
        if before and before != now
    ]  # fmt: skip
    if changed:
        logger.warning(
            "%s: this campaign began with another %s; recipients already sent keep theirs and"
            " the rest get this one. For a new message, give a new campaign name",
            name, " and ".join(changed),
        )  # fmt: skip


def _hold(
    journal: Journal,
    name: str,
    account: str,
    sender: str,
    contacts: pd.DataFrame,
    phone_column: str,
    plan: _Plan,
    held: Sequence[tuple[str, str, datetime | None]],
) -> None:
    """Journal recipients this call does not send now: ``(msisdn, status, not_before)`` with
    status ``holdout`` (never sent) or ``scheduled`` (its window is closed)."""
    if not held:
        return
    positions = [plan.recipients[m] for m, _status, _when in held]
    rows = [
        {
            "msisdn": m,
            "text": plan.text[i],
            "parts": plan.parts[i],
            "sender": sender,
            "variant": plan.variant[i],
            "status": status,
            "not_before": not_before,
            "contact": contact,
        }
        for (m, status, not_before), i, contact in zip(
            held, positions, _contact_columns(contacts, phone_column, positions), strict=True
        )
    ]
    journal.hold(name, rows, account=account)


def _to_hold(
    plan: _Plan, records: dict[str, dict], opens: dict[str, datetime] | None, now: datetime
) -> list[tuple[str, str, datetime | None]]:
    """Who to journal before anyone is sent: the holdout, and those whose window is closed
    (with no record yet, or not sent yet: pending; scheduled: its not_before is refreshed)."""
    held: list[tuple[str, str, datetime | None]] = []
    for m, i in plan.recipients.items():
        if m in records and records[m]["status"] not in ("pending", "scheduled"):
            continue
        if plan.variant[i] == HOLDOUT:
            held.append((m, HOLDOUT, None))
        elif opens is not None and opens[m] > now:
            held.append((m, "scheduled", opens[m]))
    return held


def estimate_campaign(
    contacts: pd.DataFrame,
    text: str | Mapping[str, str],
    *,
    phone_column: str = "phone",
    sender: str | None = None,
    client: TargetSMSClient | None = None,
    max_url_length: int = DEFAULT_MAX_URL_LENGTH,
    mobile_only: bool = True,
    price_per_part: float | None = None,
    max_parts: int = DEFAULT_MAX_PARTS,
    campaign: str | None = None,
    window: tuple[str, str] | str | None = None,
    holdout: float = 0.0,
    seed: object = None,
    clock: Callable[[], datetime] | None = None,
) -> pd.DataFrame:
    """What ``send_campaign`` would do, without a request: the same rows, ``outcome='ready'``.

    ``batch`` holds the planned request number. With a ``window``, recipients outside it now are
    ``scheduled`` with ``not_before`` (when their window opens); with a ``holdout`` (and A/B
    variants as a dict ``text``) control rows are ``holdout``. ``result.attrs["summary"]`` (also
    :func:`summarize_estimate`) gives ``recipients, invalid, duplicates, parts, requests,
    price_per_part, expected_cost`` plus ``sendable_now, scheduled, holdout``;
    ``attrs["schedule"]`` counts recipients per opening time and ``attrs["variants"]`` gives
    recipients, parts and cost per variant. The request count is exact with a ``client`` and
    ``sender`` (the URL holds the login and password); without them it assumes 16-character
    credentials, an 11-character sender and the real service's URL. The A/B split equals the
    send's when ``campaign`` (and ``seed``) are the same.

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
    check_max_parts(max_parts)
    variants = check_variants(text, holdout)
    send_window = None if window is None else parse_window(window)
    if sender is not None:
        _validate_sender(sender)

    def empty_length(sender_: str) -> int:
        if client is not None:
            return client.send_url_length(sender_, [], "")
        params = send_params(_ESTIMATE_USER, _ESTIMATE_PASSWORD, sender_, [], "")
        return len(build_url(_ESTIMATE_URL, params))

    chosen = sender or _ESTIMATE_SENDER
    base_length = _url_lengths(empty_length)
    name, plan = _campaign_plan(
        contacts, variants, phone_column, mobile_only,
        user=client.user if client is not None else "", sender=chosen, campaign=campaign,
        holdout=holdout, seed=seed, max_parts=max_parts, base_length=base_length,
        max_url_length=max_url_length,
    )  # fmt: skip
    now = (clock or utc_now)()
    opens = _openings(None if send_window is None else _zones(plan), send_window, now)
    positions = [(m, i) for m, i in plan.recipients.items() if plan.variant[i] != HOLDOUT]
    batches = _group_batches(
        [(m, chosen, plan.text[i], plan.parts[i], plan.variant[i]) for m, i in positions],
        base_length,
        max_url_length,
    )
    request_of: dict[str, int] = {}
    for k, batch in enumerate(batches, start=1):
        for phone in batch.phones:
            request_of[phone] = k
    planned = {i: request_of[m] for m, i in positions}
    result = _result(contacts, plan, {}, planned, opens, now)
    result.attrs["summary"] = summarize_estimate(result, price_per_part=price_per_part)
    result.attrs["campaign"] = name
    price = result.attrs["summary"]["price_per_part"]
    going = result[result["outcome"].isin(["ready", "scheduled"])]
    per_variant = (
        going.groupby(going["variant"].fillna("-"), sort=True)
        .agg(recipients=("msisdn", "size"), parts=("parts", "sum"))
        .reset_index()
    )
    per_variant["parts"] = per_variant["parts"].astype(int)
    per_variant["expected_cost"] = (per_variant["parts"] * price).round(2)
    held = int((result["outcome"] == HOLDOUT).sum())
    if held:
        per_variant.loc[len(per_variant)] = [HOLDOUT, held, 0, 0.0]
    result.attrs["variants"] = per_variant
    later = result.loc[result["outcome"] == "scheduled", "not_before"]
    result.attrs["schedule"] = (
        later.value_counts().sort_index().rename_axis("not_before").reset_index(name="recipients")
    )
    return result


def summarize_estimate(
    estimate: pd.DataFrame, *, price_per_part: float | None = None
) -> dict[str, float | int]:
    """Totals of an :func:`estimate_campaign` frame.

    Keys: ``rows, recipients, invalid, duplicates, parts, requests, price_per_part,
    expected_cost`` (``parts × price_per_part``, default :data:`DEFAULT_PRICE_PER_PART`),
    ``sendable_now``, ``scheduled`` (recipients counts include them) and ``holdout``.

    Example::

        summary = summarize_estimate(estimate_campaign(contacts, "Hi {name}"), price_per_part=1.15)
        print(f"{summary['recipients']} people, {summary['expected_cost']:.2f} RUB")
    """
    price = DEFAULT_PRICE_PER_PART if price_per_part is None else float(price_per_part)
    outcome = estimate["outcome"]
    going = outcome.isin(["ready", "scheduled"])
    parts = int(estimate.loc[going, "parts"].sum())
    return {
        "rows": len(estimate),
        "recipients": int(going.sum()),
        "invalid": int((outcome == "invalid").sum()),
        "duplicates": int((outcome == "duplicate").sum()),
        "parts": parts,
        "requests": int(estimate.loc[going, "batch"].nunique()),
        "price_per_part": price,
        "expected_cost": round(parts * price, 2),
        "sendable_now": int((outcome == "ready").sum()),
        "scheduled": int((outcome == "scheduled").sum()),
        "holdout": int((outcome == HOLDOUT).sum()),
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
    reads. A batch still in flight whose sender is gone (``in_progress`` in a result frame) is
    made ``unknown`` first (see ``Journal.recover_inflight``), so its recipients can be marked.

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
        # A batch whose sender is gone (the frame shows it unknown, in_progress) is unknown
        # first, as resend_unknown has it; one whose sender is sending it still is left alone.
        journal.recover_inflight(campaign, account=account)
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
    clock: Callable[[], datetime] | None = None,
) -> pd.DataFrame:
    """Send again the ``unknown`` recipients of a campaign, after you checked they got nothing.

    ``msisdns`` limits it to those numbers (default: every ``unknown`` one). Each lost request is
    repeated exactly as it was (same recipients in the same order, same text and sender: the same
    URL), so within the service's identical-request interval the service itself refuses it if
    the first one arrived (``duplicate``, ``duplicate_request``: nobody gets it twice).

    A subset of a lost request's recipients would be a new request the service cannot recognize:
    while the interval since that request may still be open (``client.throttle_interval`` plus
    ``client.timeout``) this raises ``InputError`` (``field='msisdns'``) naming the requests and
    how long to wait, and sends nothing. After it, the subset is sent as you asked (``clock``:
    the current time, tz-aware, injectable for tests). Returns the
    journal rows of the recipients resent (see ``Journal.campaign_messages``).

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
        now = (clock or utc_now)()
        batches = _original_requests(client, journal, campaign, records, chosen, now, account)
        released = set(chosen)  # each leaves `unknown` only as its batch is claimed (_Run.resend)
        run = _Run(
            client,
            journal,
            campaign,
            concurrency=concurrency,
            progress=progress,
            total=sum(len(b.phones) for b in batches),
            max_unknown_streak=None,
            account=account,
            resend=True,
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


def _original_requests(
    client: TargetSMSClient,
    journal: Journal,
    campaign: str,
    records: dict[str, dict],
    chosen: Sequence[str],
    now: datetime,
    account: str,
) -> list[Batch]:
    """The requests that lost their answer, rebuilt exactly, for the ``chosen`` recipients.

    Raises ``InputError`` (nothing sent) when only part of a request is chosen while the
    service's identical-request interval since it may still be open.
    """
    if not chosen:
        return []
    by_batch: dict[Any, list[str]] = {}
    for m in chosen:
        by_batch.setdefault(records[m]["batch"], []).append(m)
    frame = journal.batches(campaign, account=account)
    known = {int(row.id): row for row in frame.itertuples(index=False)}
    interval = float(getattr(client, "throttle_interval", 60.0))
    margin = float(getattr(client, "timeout", 30.0) or 30.0)
    out: list[Batch] = []
    partial: list[str] = []
    for batch_id, members in by_batch.items():
        first = records[members[0]]
        original = (
            known.get(int(batch_id)) if batch_id is not None and batch_id == batch_id else None
        )
        if original is None:  # no request on record: nothing to protect, send as chosen
            out.append(
                Batch(first["sender"], first["text"], first["parts"], members, first.get("variant"))
            )
            continue
        phones = list(original.recipients)
        sender = original.sender or first["sender"]
        if set(members) == set(phones):
            out.append(Batch(sender, first["text"], first["parts"], phones, first.get("variant")))
            continue
        started = _timestamp(original.started_at)
        elapsed = 0.0 if started is None else (now - started).total_seconds()
        left = interval + margin - max(elapsed, 0.0)
        if left > 0:
            partial.append(
                f"request {int(batch_id)} ({len(members)} of its {len(phones)} recipients;"
                f" wait {left:.0f} s or choose all of them)"
            )
            continue
        members_set = set(members)
        out.append(
            Batch(
                sender,
                first["text"],
                first["parts"],
                [p for p in phones if p in members_set],
                first.get("variant"),
            )
        )
    if partial:
        raise InputError(
            "resend_refused",
            "resending only part of a lost request now would be a new request, which the"
            " service does not refuse as a repeat, so people who got the first one would get it"
            " twice; nothing was sent: " + "; ".join(partial),
            field="msisdns",
        )
    return out
