"""Accounts, messages, billing, lifecycles and the request logic of the emulator (no HTTP here).

Everything mutable lives in :class:`EmulatorState` behind one re-entrant lock; the HTTP layer
(``server.py``) only parses the request, sleeps the configured latency outside the lock, and calls
:meth:`EmulatorState._process`.

Order of checks for every request on ``/sendsms.php`` (the first that fails answers):

1. throttle: the same raw query string within ``throttle_interval`` seconds (real, monotonic time)
   of the last identical request that was *not itself refused by the throttle* is refused with the
   duplicate text. Every request that passes the throttle opens a new window, whatever its answer
   (an API error too); a refused one does not move the window. Injected ``error_5xx`` and
   ``reset_before`` faults happen before this step and leave no trace.
2. credentials: unknown user or wrong password -> ``Неверный логин или пароль`` (not an API.md text);
   a blocked account -> ``Аккаунт заблокирован.``.
3. the operation: ``balance`` (non-empty, not ``0``) -> balance; else ``smsid`` present -> status
   (``detail=1`` -> detailed status); else send.

Send checks, in this order:

1. ``sadr`` empty -> sender_missing; longer than 15 (all digits) or 11 (otherwise) -> sender_too_long;
   not registered for the account -> sender_unknown; not moderated -> sender_not_moderated.
2. ``text`` empty (or only whitespace) -> text_missing; contains a rejected word (case-insensitive
   substring) -> text_rejected; the sender requires a link and the text has no ``http(s)://`` ->
   link_missing.
3. ``dadr`` empty -> phone_missing. It is split on commas and each number is stripped; then number by
   number in ``dadr`` order (the first bad number answers, and refuses the WHOLE request):
   empty -> phone_missing; 15+ characters -> phone_too_long; on the stop list -> phone_stop_listed;
   not 11 ASCII digits starting with 7 -> direction_closed; its country or operator closed for the
   account -> direction_closed_for_account.
4. billing for the whole request (parts = the text's parts, the same for every number):
   total parts above the provider-wide stock -> provider_out_of_sms; then each message in order is
   paid from the operator's package, else the country's package ("Россия"), when that has at least
   ``parts`` left, else from money (``parts * price``). A ``package_only`` account with no package
   left -> out_of_sms; not enough money -> insufficient_funds and the whole request is queued (no
   ids; nothing charged). :meth:`EmulatorState.top_up` issues queued requests in FIFO order, each
   one whole, stopping at the first that still cannot be paid.
5. success: one id per number, increasing, comma-separated in ``dadr`` order.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from . import texts
from .gsm import sms_parts
from .operators import DEFAULT_PRICES, OTHERS, RUSSIA, classify
from .phpser import php_serialize

MOSCOW = ZoneInfo("Europe/Moscow")

FAULT_KINDS: tuple[str, ...] = ("error_5xx", "reset_before", "drop_after", "garble")
OPERATIONS: tuple[str, ...] = ("send", "status", "detail", "balance", "none")
FINAL_STATES: tuple[str, ...] = ("deliver", "not_deliver", "expired", "partly_deliver")

DEFAULT_OUTCOMES: dict[str, float] = {
    "deliver": 0.85,
    "not_deliver": 0.07,
    "expired": 0.05,
    "partly_deliver": 0.03,
}
FIRST_SMS_ID = 1179038981
DEFAULT_STOP_LIST: tuple[str, ...] = ("79000000000", "79999999999", "79111111111")
DEFAULT_REJECTED_WORDS: tuple[str, ...] = ("казино", "casino")

#: The demo account's packages: the directions of the manual's example, smaller numbers.
DEMO_PACKAGES: dict[str, int] = {
    "Россия": 20,
    "МТС": 2,
    "Мегафон": 2,
    "Skylink": 0,
    "Yota": 1,
    "Байкалвестком": 0,
    "Уралсвязьинформ": 0,
    "Енисейтелеком": 0,
    "НСС": 0,
    "Мотив": 0,
    "Tele2": 2,
    "СМАРТС": 0,
    "Ростелеком": 0,
    "BeeLine": 2,
    "Остальные": 0,
}

COMMENTS: dict[str, str] = {
    "partly_deliver": "Статус не получен",
    "not_deliver": "Абонент недоступен",
    "expired": "Истек срок жизни сообщения",
}

_LINK = re.compile(r"https?://\S", re.IGNORECASE)
_PWD_VALUE = re.compile(r"((?:^|&)pwd=)[^&]*")
_HTTP_5XX = (502, 503, 500)
_GARBLE_VARIANTS = ("html", "truncated", "empty")


@dataclass
class Sender:
    """A sender name registered for an account."""

    name: str
    moderated: bool = True
    link_required: bool = False


def default_senders() -> dict[str, Sender]:
    """The senders every default account has: three good ones, one unmoderated, one link-only."""
    senders = [
        Sender("TargetSMS"),
        Sender("SHOP"),
        Sender("79001234567"),
        Sender("NEWBRAND", moderated=False),
        Sender("LINKS", link_required=True),
    ]
    return {s.name: s for s in senders}


@dataclass
class Account:
    """An emulated account. Money is kept in kopecks to stay exact."""

    user: str
    password: str
    kopecks: int = 0
    packages: dict[str, int] = field(default_factory=dict)
    package_only: bool = False
    closed_directions: set[str] = field(default_factory=set)
    blocked: bool = False
    senders: dict[str, Sender] = field(default_factory=default_senders)
    currency: str = "RUR"

    @property
    def balance(self) -> float:
        """Money left, in roubles."""
        return self.kopecks / 100


@dataclass
class Message:
    """One SMS the emulator accepted. Its fate is decided at send time."""

    id: str
    user: str
    phone: str
    sender: str
    text: str
    parts: int
    price: float  # roubles per part
    country: str
    operator: str
    sent_at: datetime  # Europe/Moscow, wall clock
    final_state: str
    final_at: datetime  # sent_at + the delay: what time_change_state reports
    due: datetime  # when the state turns final on the (compressed) virtual clock
    paid_from: str  # a package direction or "money"
    comment: str | None = None
    via_top_up: bool = False
    detail_style: tuple[str, str, str] = ("s", "i", "d")
    clock: Callable[[], datetime] | None = field(default=None, repr=False, compare=False)

    def state_at(self, now: datetime) -> str:
        """``send`` before ``due`` on the virtual clock, the final state from then on."""
        return self.final_state if now >= self.due else "send"

    @property
    def state(self) -> str:
        """The current state on the emulator's virtual clock."""
        if self.clock is None:
            raise RuntimeError("message has no clock")
        return self.state_at(self.clock())

    @property
    def cost(self) -> float:
        """``parts * price``."""
        return round(self.parts * self.price, 2)


@dataclass
class QueuedSend:
    """A send refused for insufficient funds: issued whole by a later top-up."""

    user: str
    sender: str
    text: str
    targets: list[tuple[str, str, str]]  # (phone, country, operator)
    parts: int
    queued_at: datetime

    @property
    def phones(self) -> list[str]:
        """The recipients, in ``dadr`` order."""
        return [t[0] for t in self.targets]


def operation_of(params: Mapping[str, str]) -> str:
    """``balance``, ``detail``, ``status`` or ``send``, from the query parameters."""
    if params.get("balance", "") not in ("", "0"):
        return "balance"
    if "smsid" in params:
        return "detail" if params.get("detail") == "1" else "status"
    return "send"


def format_amount(kopecks: int) -> str:
    """``44560 -> '445.6'``, ``100 -> '1'``: up to two decimals, no trailing zeros."""
    whole, frac = divmod(kopecks, 100)
    return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")


class EmulatorState:
    """The emulated service without its HTTP front (see :class:`Emulator`)."""

    def __init__(
        self,
        throttle_interval: float = 60.0,
        *,
        latency: float = 0.0,
        speed: float = 1.0,
        delivery_delay: tuple[float, float] = (5.0, 60.0),
        outcomes: Mapping[str, float] | None = None,
        seed: int | None = 0,
        accounts: Iterable[Account] | None = None,
        stop_list: Iterable[str] | None = None,
        prices: Mapping[str, float] | None = None,
        provider_sms_left: int | None = None,
        rejected_words: Iterable[str] | None = None,
        fault_rates: Mapping[str, float] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self.throttle_interval = float(throttle_interval)
        self.latency = float(latency)
        #: The clock of the identical-request window and the log's ``mono`` stamps, and how the
        #: server waits out ``latency``: tests replace them to run without real waits.
        self.monotonic: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], object] = time.sleep
        lo, hi = delivery_delay
        if not 0 <= lo <= hi:
            raise ValueError("delivery_delay must be (low, high) with 0 <= low <= high")
        self.delivery_delay = (float(lo), float(hi))
        self.outcomes = dict(DEFAULT_OUTCOMES if outcomes is None else outcomes)
        unknown = set(self.outcomes) - set(FINAL_STATES)
        if unknown or not any(v > 0 for v in self.outcomes.values()):
            raise ValueError(f"outcomes must weigh the final states {FINAL_STATES}")
        self.stop_list: set[str] = set(DEFAULT_STOP_LIST if stop_list is None else stop_list)
        self.prices: dict[str, float] = dict(DEFAULT_PRICES if prices is None else prices)
        self.provider_sms_left = provider_sms_left
        self.rejected_words: list[str] = [
            w.casefold()
            for w in (DEFAULT_REJECTED_WORDS if rejected_words is None else rejected_words)
        ]
        self.fault_rates: dict[str, float] = dict(fault_rates or {})
        for kind in self.fault_rates:
            self._check_fault(kind)

        self.accounts: dict[str, Account] = {}
        if accounts is None:
            self.add_account(
                "demo",
                "demo",
                balance=445.6,
                packages=DEMO_PACKAGES,
                closed_directions={"Казахстан"},
            )
            self.add_account("blocked", "blocked", balance=100.0, blocked=True)
        else:
            for account in accounts:
                self.accounts[account.user] = account

        self.log: list[dict] = []
        self.messages: dict[str, Message] = {}
        self.queue: list[QueuedSend] = []
        self._next_id = FIRST_SMS_ID
        self._rng = random.Random(seed)
        self._fault_rng = random.Random(None if seed is None else seed + 1)
        self._scripted: list[list] = []  # [kind, remaining, op]
        self._throttle: dict[str, float] = {}
        self._n5xx = 0
        self._ngarble = 0

        self._speed = float(speed)
        self._t0_epoch = time.time()
        self._t0_mono = time.monotonic()
        self._offset = 0.0

    # ----------------------------------------------------------------- configuration

    def add_account(
        self,
        user: str,
        password: str,
        *,
        balance: float = 0.0,
        packages: Mapping[str, int] | None = None,
        package_only: bool = False,
        closed_directions: Iterable[str] = (),
        blocked: bool = False,
        senders: Iterable[Sender] | None = None,
    ) -> Account:
        """Create (or replace) an account; it gets the default senders unless ``senders`` is given."""
        account = Account(
            user=user,
            password=password,
            kopecks=round(balance * 100),
            packages=dict(packages or {}),
            package_only=package_only,
            closed_directions=set(closed_directions),
            blocked=blocked,
        )
        if senders is not None:
            account.senders = {s.name: s for s in senders}
        with self._lock:
            self.accounts[user] = account
        return account

    def add_sender(
        self, user: str, name: str, *, moderated: bool = True, link_required: bool = False
    ) -> Sender:
        """Register a sender name for ``user``."""
        sender = Sender(name, moderated=moderated, link_required=link_required)
        with self._lock:
            self.accounts[user].senders[name] = sender
        return sender

    # ----------------------------------------------------------------- virtual clock

    @property
    def speed(self) -> float:
        """Virtual seconds per real second for message lifecycles (changing it keeps ``now()``)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._lock:
            now = self._virtual_epoch()
            self._t0_mono = time.monotonic()
            self._t0_epoch = now - self._offset
            self._speed = float(value)

    def _virtual_epoch(self) -> float:
        elapsed = time.monotonic() - self._t0_mono
        return self._t0_epoch + elapsed * self._speed + self._offset

    def now(self) -> datetime:
        """The virtual clock, in Europe/Moscow."""
        return datetime.fromtimestamp(self._virtual_epoch(), MOSCOW)

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward by ``seconds`` (throttling keeps real time)."""
        with self._lock:
            self._offset += float(seconds)

    def expire_throttle(self) -> None:
        """Close every identical-request window, as if ``throttle_interval`` had passed.

        Example: ``emu.expire_throttle()`` instead of ``time.sleep(emu.throttle_interval)``.
        """
        with self._lock:
            self._throttle.clear()

    # ----------------------------------------------------------------- inspection

    def state_of(self, sms_id: str | int) -> str:
        """The current state of an SMS (KeyError when the id was never issued)."""
        with self._lock:
            return self.messages[str(sms_id)].state_at(self.now())

    def sent_phones(self, user: str = "demo") -> list[str]:
        """Every phone an SMS id was issued to for ``user``, in id order, repeats kept."""
        with self._lock:
            return [m.phone for m in self.messages.values() if m.user == user]

    def balance_of(self, user: str = "demo") -> float:
        """Money left on ``user``'s account, in roubles."""
        with self._lock:
            return self.accounts[user].balance

    # ----------------------------------------------------------------- faults

    @staticmethod
    def _check_fault(kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")

    def inject(self, fault: str, count: int = 1, op: str | None = None) -> None:
        """Script ``count`` faults of kind ``fault`` for the next requests (of operation ``op``).

        Scripted faults are consumed in the order injected: each request takes the first entry
        whose ``op`` matches (``None`` matches any operation). 404s never take a fault.
        """
        self._check_fault(fault)
        if op is not None and op not in OPERATIONS:
            raise ValueError(f"unknown op {op!r}; expected one of {OPERATIONS}")
        if count > 0:
            with self._lock:
                self._scripted.append([fault, int(count), op])

    def clear_faults(self) -> None:
        """Forget scripted faults and random fault rates."""
        with self._lock:
            self._scripted.clear()
            self.fault_rates.clear()

    def _take_fault(self, op: str) -> str | None:
        with self._lock:
            for entry in self._scripted:
                if entry[2] is None or entry[2] == op:
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._scripted.remove(entry)
                    return entry[0]
            for kind, rate in self.fault_rates.items():
                if rate > 0 and self._fault_rng.random() < rate:
                    self._check_fault(kind)
                    return kind
        return None

    def _next_5xx(self) -> int:
        with self._lock:
            self._n5xx += 1
            return _HTTP_5XX[(self._n5xx - 1) % len(_HTTP_5XX)]

    def _next_garble(self) -> str:
        with self._lock:
            self._ngarble += 1
            return _GARBLE_VARIANTS[(self._ngarble - 1) % len(_GARBLE_VARIANTS)]

    # ----------------------------------------------------------------- money

    def top_up(self, user: str, amount: float) -> list[str]:
        """Add ``amount`` roubles to ``user``; queued sends then go out. Returns the ids issued."""
        issued: list[str] = []
        with self._lock:
            account = self.accounts[user]
            account.kopecks += round(amount * 100)
            for queued in [q for q in self.queue if q.user == user]:
                total = queued.parts * len(queued.targets)
                if self.provider_sms_left is not None and total > self.provider_sms_left:
                    break
                plan = self._plan(account, queued.targets, queued.parts)
                if isinstance(plan, str):
                    break
                self.queue.remove(queued)
                issued += self._issue(
                    account,
                    queued.sender,
                    queued.text,
                    queued.targets,
                    queued.parts,
                    plan,
                    via_top_up=True,
                )
        return issued

    def _price_kopecks(self, operator: str) -> int:
        price = self.prices.get(operator, self.prices.get(OTHERS, 1.30))
        return round(price * 100)

    def _plan(
        self, account: Account, targets: list[tuple[str, str, str]], parts: int
    ) -> str | tuple[list[str], dict[str, int], int]:
        """Who pays each message: a package direction or "money"; or an error text."""
        packages = dict(account.packages)
        kopecks = account.kopecks
        sources: list[str] = []
        for _phone, country, operator in targets:
            for direction in dict.fromkeys((operator, country)):
                if packages.get(direction, 0) >= parts:
                    packages[direction] -= parts
                    sources.append(direction)
                    break
            else:
                if account.package_only:
                    return texts.OUT_OF_SMS
                cost = parts * self._price_kopecks(operator)
                if kopecks < cost:
                    return texts.INSUFFICIENT_FUNDS
                kopecks -= cost
                sources.append("money")
        return sources, packages, kopecks

    def _issue(
        self,
        account: Account,
        sender: str,
        text: str,
        targets: list[tuple[str, str, str]],
        parts: int,
        plan: tuple[list[str], dict[str, int], int],
        *,
        via_top_up: bool = False,
    ) -> list[str]:
        sources, packages, kopecks = plan
        account.packages.update(packages)
        account.kopecks = kopecks
        if self.provider_sms_left is not None:
            self.provider_sms_left -= parts * len(targets)
        # Time is compressed only for *when* a state turns final (the virtual clock); the stamps a
        # client sees tell the uncompressed story, so reported latencies are the configured delays.
        sent_at = datetime.now(MOSCOW)
        sent_virtual = self.now()
        weights = [self.outcomes.get(s, 0.0) for s in FINAL_STATES]
        ids: list[str] = []
        for (phone, country, operator), source in zip(targets, sources, strict=True):
            sms_id = str(self._next_id)
            self._next_id += 1
            final_state = self._rng.choices(FINAL_STATES, weights)[0]
            delay = self._rng.uniform(*self.delivery_delay)
            comment = COMMENTS.get(final_state)
            if final_state != "partly_deliver" and self._rng.random() < 0.5:
                comment = None
            style = (
                "i" if self._rng.random() < 0.2 else "s",
                "s" if self._rng.random() < 0.3 else "i",
                self._rng.choice(("d", "d", "s", "s2")),
            )
            self.messages[sms_id] = Message(
                id=sms_id,
                user=account.user,
                phone=phone,
                sender=sender,
                text=text,
                parts=parts,
                price=self._price_kopecks(operator) / 100,
                country=country,
                operator=operator,
                sent_at=sent_at,
                final_state=final_state,
                final_at=sent_at + timedelta(seconds=delay),
                due=sent_virtual + timedelta(seconds=delay),
                paid_from=source,
                comment=comment,
                via_top_up=via_top_up,
                detail_style=style,
                clock=self.now,
            )
            ids.append(sms_id)
        return ids

    # ----------------------------------------------------------------- requests

    def _process(
        self,
        raw_query: str,
        params: dict[str, str],
        op: str,
        *,
        fault: str | None = None,
        client: object = None,
    ) -> tuple[str, list[str]]:
        """Throttle, authenticate and run one request; log it. Returns (answer, ids issued)."""
        with self._lock:
            mono = self.monotonic()
            last = self._throttle.get(raw_query)
            ids: list[str] = []
            if last is not None and mono - last < self.throttle_interval:
                answer = texts.DUPLICATE_REQUEST
            else:
                self._remember(raw_query, mono)
                answer, ids = self._dispatch(params, op)
            self._log(
                op, params, client, query=raw_query, answer=answer, ids=ids, fault=fault, status=200
            )
            return answer, ids

    def _remember(self, raw_query: str, mono: float) -> None:
        if len(self._throttle) > 10_000:
            horizon = mono - self.throttle_interval
            self._throttle = {k: t for k, t in self._throttle.items() if t > horizon}
        self._throttle[raw_query] = mono

    def _log(
        self,
        op: str,
        params: Mapping[str, str],
        client: object,
        *,
        query: str = "",
        answer: str | None,
        ids: list[str] | None = None,
        fault: str | None = None,
        status: int | None = None,
        path: str = "/sendsms.php",
    ) -> None:
        raw_phones = params.get("dadr", "") if op == "send" else ""
        phones = [p.strip() for p in raw_phones.split(",") if p.strip()]
        entry = {
            "time": self.now(),
            "mono": self.monotonic(),
            "client": client,
            "path": path,
            "op": op,
            "user": params.get("user"),
            "params": {k: v for k, v in params.items() if k != "pwd"},
            "query": _PWD_VALUE.sub(r"\1***", query),
            "phones": phones,
            "answer": answer,
            "status": status,
            "fault": fault,
            "ids": list(ids or []),
        }
        with self._lock:
            self.log.append(entry)

    def _dispatch(self, params: Mapping[str, str], op: str) -> tuple[str, list[str]]:
        account = self.accounts.get(params.get("user", ""))
        if account is None or account.password != params.get("pwd"):
            return texts.BAD_CREDENTIALS, []
        if account.blocked:
            return texts.ACCOUNT_BLOCKED, []
        if op == "balance":
            return self._balance(account), []
        if op in ("status", "detail"):
            message = self.messages.get(params.get("smsid", "").strip())
            if message is None or message.user != account.user:
                return texts.UNKNOWN_SMS_ID, []
            if op == "status":
                return message.state_at(self.now()), []
            return self._detail(message), []
        return self._send(account, params)

    @staticmethod
    def _balance(account: Account) -> str:
        first = f"{format_amount(account.kopecks)} {account.currency}"
        if not account.packages:
            return first
        pairs = ",".join(f"{d}:{n}" for d, n in account.packages.items())
        return f"{first}\n{pairs}"

    def _detail(self, message: Message) -> str:
        state = message.state_at(self.now())
        final = state != "send"
        id_style, parts_style, price_style = message.detail_style
        price: object
        if price_style == "d":
            price = message.price
        elif price_style == "s":
            price = format_amount(round(message.price * 100))
        else:
            price = f"{message.price:.2f}"
        array: dict[str, object] = {
            "id_sms": int(message.id) if id_style == "i" else message.id,
            "time_change_state": message.final_at.strftime("%Y-%m-%d %H:%M:%S") if final else "",
            "state_sms": state,
            "num_parts": message.parts if parts_style == "i" else str(message.parts),
            "price": price,
        }
        if final and message.comment:
            array["comment"] = message.comment
        return php_serialize(array)

    def _send(self, account: Account, params: Mapping[str, str]) -> tuple[str, list[str]]:
        error, sender, text, targets = self._validate_send(account, params)
        if error:
            return error, []
        parts = sms_parts(text)
        total = parts * len(targets)
        if self.provider_sms_left is not None and total > self.provider_sms_left:
            return texts.PROVIDER_OUT_OF_SMS, []
        plan = self._plan(account, targets, parts)
        if plan == texts.INSUFFICIENT_FUNDS:
            self.queue.append(QueuedSend(account.user, sender, text, targets, parts, self.now()))
            return plan, []
        if isinstance(plan, str):
            return plan, []
        ids = self._issue(account, sender, text, targets, parts, plan)
        return ",".join(ids), ids

    def _validate_send(
        self, account: Account, params: Mapping[str, str]
    ) -> tuple[str | None, str, str, list[tuple[str, str, str]]]:
        sender = params.get("sadr", "").strip()
        text = params.get("text", "")
        if not sender:
            return texts.SENDER_MISSING, sender, text, []
        numeric = sender.isascii() and sender.isdigit()
        if len(sender) > (15 if numeric else 11):
            return texts.SENDER_TOO_LONG, sender, text, []
        info = account.senders.get(sender)
        if info is None:
            return texts.SENDER_UNKNOWN, sender, text, []
        if not info.moderated:
            return texts.SENDER_NOT_MODERATED, sender, text, []
        if not text.strip():
            return texts.TEXT_MISSING, sender, text, []
        folded = text.casefold()
        if any(word in folded for word in self.rejected_words):
            return texts.TEXT_REJECTED, sender, text, []
        if info.link_required and not _LINK.search(text):
            return texts.LINK_MISSING, sender, text, []
        raw = params.get("dadr", "")
        if not raw.strip():
            return texts.PHONE_MISSING, sender, text, []
        targets: list[tuple[str, str, str]] = []
        for phone in (p.strip() for p in raw.split(",")):
            if not phone:
                return texts.PHONE_MISSING, sender, text, []
            if len(phone) >= 15:
                return texts.PHONE_TOO_LONG, sender, text, []
            if phone in self.stop_list:
                return texts.PHONE_STOP_LISTED, sender, text, []
            direction = classify(phone)
            if direction is None:
                return texts.DIRECTION_CLOSED, sender, text, []
            country, operator = direction
            if country in account.closed_directions or operator in account.closed_directions:
                return texts.DIRECTION_CLOSED_FOR_ACCOUNT, sender, text, []
            targets.append((phone, country, operator))
        return None, sender, text, targets


__all__ = [
    "DEFAULT_OUTCOMES",
    "DEFAULT_STOP_LIST",
    "FAULT_KINDS",
    "FIRST_SMS_ID",
    "MOSCOW",
    "RUSSIA",
    "Account",
    "EmulatorState",
    "Message",
    "QueuedSend",
    "Sender",
]
