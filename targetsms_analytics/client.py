"""The one piece of code that talks HTTP to TargetSMS (or to the emulator).

Example::

    import targetsms_analytics as ts

    client = ts.TargetSMSClient.from_env()
    ids = client.send("SHOP", ["79001234567", "79001234568"], "Скидка 10% до пятницы")
    print(client.status_detail(ids[0]))
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception
from urllib3.exceptions import MaxRetryError, NewConnectionError

from . import protocol
from .errors import InputError, TargetSMSError, ThrottledError, TransportError, error_for_code
from .protocol import Balance, StatusDetail

if TYPE_CHECKING:
    from .journal import Journal

__all__ = [
    "DEFAULT_POOL_SIZE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "THROTTLE_INTERVAL",
    "RetryPolicy",
    "TargetSMSClient",
    "validate_send",
]

DEFAULT_URL = "https://sms.targetsms.ru/sendsms.php"
DEFAULT_TIMEOUT = 30.0
THROTTLE_INTERVAL = 60.0
DEFAULT_POOL_SIZE = 16
USER_AGENT = "targetsms-analytics/0.1"
#: The read marks are pruned of expired ones when they reach this many (and then twice the rest).
_PRUNE_MIN = 1024

logger = logging.getLogger("targetsms_analytics")


# ---------------------------------------------------------------- secrets in logs


class _Hidden(str):
    """A str whose repr hides it: the password and the URLs that carry it.

    Tracebacks that show locals (IPython's verbose mode, rich, pytest --showlocals), debuggers and
    ``vars(client)`` print values with ``repr``; the value itself still works as a str.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(protocol.REDACTED)


#: Passwords of the live clients (a count per password), so log records can be cleaned of them.
_SECRETS: Counter[str] = Counter()
_SECRETS_LOCK = threading.Lock()
#: Shorter passwords are only removed as ``pwd=`` values: cutting "p" out of every line would
#: garble the logs and hide nothing.
_MIN_RAW_SECRET = 4
#: Loggers that may print a request URL (urllib3 logs "GET /sendsms.php?...&pwd=..." at DEBUG).
_GUARDED_LOGGERS = (
    "targetsms_analytics",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "requests",
)


class _RedactingFilter(logging.Filter):
    """Rewrites log records so that no registered password reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _SECRETS_LOCK:
            secrets = tuple(s for s in _SECRETS if len(s) >= _MIN_RAW_SECRET)
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to logging's own error handling
            return True
        clean = protocol.redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, protocol.redact(text, secrets)
        return True


_FILTER = _RedactingFilter()


def _guard_logs(owner: object, secret: str) -> None:
    """Clean ``secret`` out of every log record for as long as ``owner`` lives."""
    with _SECRETS_LOCK:
        _SECRETS[secret] += 1
    weakref.finalize(owner, _forget, secret)
    for name in _GUARDED_LOGGERS:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)


def _forget(secret: str) -> None:
    with _SECRETS_LOCK:
        _SECRETS[secret] -= 1
        if _SECRETS[secret] <= 0:
            del _SECRETS[secret]


# ---------------------------------------------------------------- retry policy


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries, in small named pieces (API.md "Throttling and retries").

    - connection failures before the request left: every operation, exponential back-off + jitter;
    - reads: also 5xx, resets, timeouts and empty or HTML bodies (``read_attempts`` in all);
    - reads refused as ``duplicate_request``: wait out the interval (``throttle_attempts`` in all);
    - a send that may have reached the service is never repeated.

    Example: ``RetryPolicy(base_delay=0.01, jitter=lambda: 0.5)`` for fast, repeatable tests.
    """

    connect_attempts: int = 4
    read_attempts: int = 4
    throttle_attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 8.0
    #: A number in [0, 1): the share of the back-off that is randomised away.
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), jitter included.

        Exponential (base × 2^(attempt-1), capped), then between half and all of it, never below
        ``base_delay``: ``RetryPolicy(jitter=lambda: 0.0).backoff(3) == 0.8``.
        """
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return max(self.base_delay, delay * (1 - 0.5 * self.jitter()))

    def budget(self, exc: BaseException) -> tuple[str, int]:
        """The attempts allowed for failures like ``exc``: ``(kind, attempts)``, counted per kind.

        Example: ``RetryPolicy().budget(ThrottledError("duplicate_request")) == ("throttled", 3)``.
        """
        if isinstance(exc, ThrottledError):
            return "throttled", self.throttle_attempts
        if _never_sent(exc):
            return "transport", self.connect_attempts
        return "transport", self.read_attempts


def _never_sent(exc: BaseException) -> bool:
    return isinstance(exc, TransportError) and not exc.maybe_sent


def should_retry_send(exc: BaseException) -> bool:
    """A send is retried only when the request certainly never left this machine."""
    return _never_sent(exc) and exc.retryable


def should_retry_read(exc: BaseException) -> bool:
    """Reads are idempotent: retry transport faults and the identical-request refusal."""
    return isinstance(exc, (TransportError, ThrottledError)) and exc.retryable


# ---------------------------------------------------------------- argument checks


def load_env_file() -> None:
    """Read a ``.env`` file from the working directory (or above) into ``os.environ``.

    Variables already set win. Example: ``load_env_file(); os.environ.get("TARGETSMS_USER")``.
    """
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True), override=False)


def _alnum_sender_ok(sender: str) -> bool:
    numeric = sender.isascii() and sender.isdigit()
    return len(sender) <= (15 if numeric else 11)


def validate_send(sender: str, phones: Sequence[str], text: str) -> None:
    """Raise what the service would answer for these arguments, without a request.

    Checks the sender (missing; over 11 characters, or 15 digits for a numeric one), the text
    (missing) and the phones (none; one of 15 or more characters).

    Example: ``validate_send("SHOP", ["79001234567"], "")`` raises ``ContentError`` ``text_missing``.
    """
    sender = "" if sender is None else str(sender).strip()
    if not sender:
        raise error_for_code("sender_missing")
    if not _alnum_sender_ok(sender):
        raise error_for_code("sender_too_long")
    if text is None or not str(text).strip():
        raise error_for_code("text_missing")
    if not phones or not all(phones):
        raise error_for_code("phone_missing")
    if any(len(phone) >= 15 for phone in phones):
        raise error_for_code("phone_too_long")


def _as_phones(phones: str | Sequence[str]) -> list[str]:
    if isinstance(phones, str):
        return [p.strip() for p in phones.split(",") if p.strip()]
    return ["" if p is None else str(p).strip() for p in phones]  # None: a missing phone


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- the client


class TargetSMSClient:
    """A thread-safe client for the TargetSMS HTTP GET API.

    Settings are keyword-only; ``url`` defaults to the real service over HTTPS. Plain ``http://`` is
    refused for anything but loopback unless ``allow_insecure=True``. Reads retry and wait out the
    identical-request interval; sends are never repeated when they may have arrived.

    Example::

        with ts.Emulator(throttle_interval=1.0) as emu:
            client = ts.TargetSMSClient("demo", "demo", url=emu.url,
                                        throttle_interval=emu.throttle_interval)
            ids = client.send("SHOP", ["79161234567"], "Привет!")
            client.balance().packages
    """

    def __init__(
        self,
        user: str,
        password: str,
        *,
        url: str = DEFAULT_URL,
        timeout: float = DEFAULT_TIMEOUT,
        throttle_interval: float = THROTTLE_INTERVAL,
        pool_size: int = DEFAULT_POOL_SIZE,
        allow_insecure: bool = False,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not user or not password:
            raise InputError(
                "missing_credentials",
                "a user and a password are needed (TARGETSMS_USER, TARGETSMS_PASSWORD)",
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
            raise ValueError(
                f"refusing plain http:// to {parts.hostname}: the password travels in the URL. "
                "Use https://, or pass allow_insecure=True if you really mean it."
            )
        self.user = user
        self._password = _Hidden(password)
        self.url = url
        self.timeout = timeout
        self.throttle_interval = float(throttle_interval)
        self.pool_size = pool_size
        self.retry = retry or RetryPolicy()
        _guard_logs(self, password)
        if session is None:  # a session passed in is the caller's transport: used as it is
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            # Loopback (the emulator) never goes through an HTTP_PROXY from the environment: the
            # password would travel to the proxy in plain http.
            session.trust_env = not _is_loopback(parts.hostname)
        self._session = session
        #: When each identical read (op, sms_id) was last sent or answered (time.monotonic()).
        self._last_read: dict[tuple[str, ...], float] = {}
        self._prune_at = _PRUNE_MIN
        self._lock = threading.Lock()
        #: The embedded emulator this client talks to when ``connect()`` started one, else None.
        self.emulator: object | None = None

    # -- construction helpers

    @classmethod
    def from_env(cls, **settings: object) -> TargetSMSClient:
        """Build a client from ``TARGETSMS_USER``, ``TARGETSMS_PASSWORD`` and ``TARGETSMS_URL``.

        A ``.env`` file in the working directory (or above it) is read too; the environment wins.

        An explicit ``url=`` wins over ``TARGETSMS_URL``.

        Example: ``client = TargetSMSClient.from_env(timeout=10)``.
        """
        load_env_file()
        user = os.environ.get("TARGETSMS_USER", "")
        password = os.environ.get("TARGETSMS_PASSWORD", "")
        if not user or not password:
            raise InputError(
                "missing_credentials",
                "set TARGETSMS_USER and TARGETSMS_PASSWORD (in the environment or a .env file)",
            )
        url = settings.pop("url", None) or os.environ.get("TARGETSMS_URL") or DEFAULT_URL
        return cls(user, password, url=url, **settings)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"TargetSMSClient(user={self.user!r}, url={self.url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def __enter__(self) -> TargetSMSClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations

    def send(self, sender: str, phones: str | Sequence[str], text: str) -> list[str]:
        """Send ``text`` from ``sender`` to one or several phones; the ids come back in phone order.

        The arguments are checked locally first (same error codes as the service). A send is
        retried only when the request certainly never left this machine; if it may have arrived,
        ``TransportError(maybe_sent=True)`` or ``UnknownResponseError`` is raised and nothing is
        resent.

        Example: ``client.send("SHOP", ["79001234567", "79001234568"], "Hi")``.
        """
        phone_list = _as_phones(phones)
        validate_send(sender, phone_list, text)
        params = protocol.send_params(self.user, self._password, sender, phone_list, text)
        body = self._call(params, op="send", retry=should_retry_send)
        return protocol.parse_send(body, len(phone_list), secrets=self._secrets)

    def send_url_length(self, sender: str, phones: Sequence[str], text: str) -> int:
        """The exact length of the URL ``send`` would request (what the 2000-character limit counts).

        Example: ``client.send_url_length("SHOP", [], "Hi")`` is the length with an empty ``dadr``.
        """
        params = protocol.send_params(self.user, self._password, sender, list(phones), text)
        return len(protocol.build_url(self.url, params))

    def status(self, sms_id: str | int) -> str:
        """The state of one SMS: ``send``, ``deliver``, ``not_deliver``, ``expired``, ``partly_deliver``.

        Example: ``client.status("1179038981")``.
        """
        params = protocol.status_params(self.user, self._password, str(sms_id))
        body = self._read(params, ("status", str(sms_id)))
        return protocol.parse_status(body, secrets=self._secrets)

    def status_detail(self, sms_id: str | int) -> StatusDetail:
        """The detailed status of one SMS: state, ``changed_at``, ``num_parts``, ``price``, ``cost``.

        Example: ``client.status_detail("1179038981").cost``.
        """
        params = protocol.status_params(self.user, self._password, str(sms_id), detail=True)
        body = self._read(params, ("detail", str(sms_id)))
        return protocol.parse_status_detail(body, secrets=self._secrets)

    def balance(self, *, store: str | os.PathLike[str] | Journal | None = None) -> Balance:
        """The money balance and the SMS left per direction (``packages`` DataFrame).

        With ``store`` (a journal path or ``Journal``), the snapshot is saved there too, so spend
        over time can be reported (``journal.balance_snapshots()``, ``ts.spend_between``).

        Example: ``client.balance(store="journal.sqlite3").packages.sort_values("remaining")``.
        """
        params = protocol.balance_params(self.user, self._password)
        result = protocol.parse_balance(self._read(params, ("balance",)), secrets=self._secrets)
        if store is not None:
            from .journal import account_of, open_journal

            with open_journal(store) as journal:
                journal.save_balance(result, account=account_of(self.user, self.url))
        return result

    def read_wait(self, op: str, sms_id: str | int | None = None) -> float:
        """Seconds until the identical read (``"status"``, ``"detail"``, ``"balance"``) is allowed.

        Schedulers use it to ask other ids first instead of sleeping. Example:
        ``client.read_wait("detail", "1179038981")``.
        """
        key = (op,) if sms_id is None else (op, str(sms_id))
        with self._lock:
            last = self._last_read.get(key)
        if last is None:
            return 0.0
        return max(0.0, last + self.throttle_interval - time.monotonic())

    # -- plumbing

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._password,)

    def _read(self, params: list[tuple[str, str]], key: tuple[str, ...]) -> str:
        return self._call(params, op=key[0], retry=should_retry_read, key=key)

    def _call(
        self,
        params: list[tuple[str, str]],
        *,
        op: str,
        retry: Callable[[BaseException], bool],
        key: tuple[str, ...] | None = None,
    ) -> str:
        """One exchange, retried by tenacity: ``retry`` says which failures, the policy how often."""
        spent: Counter[str] = Counter()

        def out_of_attempts(state: RetryCallState) -> bool:
            kind, attempts = self.retry.budget(state.outcome.exception())  # type: ignore[union-attr]
            spent[kind] += 1
            return spent[kind] >= attempts

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ThrottledError) and key is not None:
                return self.read_wait(*key) + 0.05
            return self.retry.backoff(state.attempt_number)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "%s: %s; retrying in %.2fs (attempt %d)",
                op,
                getattr(exc, "code", type(exc).__name__),
                state.next_action.sleep if state.next_action else 0.0,
                state.attempt_number,
            )

        retrying = Retrying(
            retry=retry_if_exception(retry),
            stop=out_of_attempts,
            wait=wait,
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(self._exchange, params, op=op, key=key)

    def _exchange(
        self, params: list[tuple[str, str]], *, op: str, key: tuple[str, ...] | None
    ) -> str:
        """One request and its answer text; errors come back as ``TargetSMSError``s."""
        if key is None:
            return self._request(params, op=op)
        previous = self._claim(key, op)
        lost_in_transit = False
        try:
            return self._request(params, op=op)
        except TransportError:
            lost_in_transit = True
            raise
        finally:
            # A failed exchange most likely did not count as a request: retry it without waiting
            # the interval (if it did count, the service says duplicate_request and we wait then).
            # An answered one counts from the answer: the service saw the request before we saw
            # its answer, so this never starts the next identical request too early.
            self._set_mark(key, previous if lost_in_transit else time.monotonic())

    def _claim(self, key: tuple[str, ...], op: str) -> float | None:
        """Wait until the identical read ``key`` is allowed, then mark it sent; returns the old mark.

        Check and mark happen under one lock, so threads reading the same id take turns.
        """
        while True:
            with self._lock:
                now = time.monotonic()
                last = self._last_read.get(key)
                if last is None or now >= last + self.throttle_interval:
                    self._prune(now)
                    self._last_read[key] = now
                    return last
                pause = last + self.throttle_interval - now
            logger.debug("%s: waiting %.2fs for the identical-request interval", op, pause)
            time.sleep(pause)

    def _set_mark(self, key: tuple[str, ...], mark: float | None) -> None:
        with self._lock:
            if mark is None:
                self._last_read.pop(key, None)
            else:
                self._last_read[key] = mark

    def _prune(self, now: float) -> None:
        """Forget marks whose interval is over (call with the lock held)."""
        if len(self._last_read) < self._prune_at:
            return
        horizon = now - self.throttle_interval
        self._last_read = {k: t for k, t in self._last_read.items() if t > horizon}
        self._prune_at = max(_PRUNE_MIN, 2 * len(self._last_read))

    def _get(self, url: str) -> requests.Response:
        try:
            return self._session.get(url, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            error = TransportError(
                text=protocol.redact(f"TLS failed: {exc}", self._secrets),
                retryable=False,
                maybe_sent=False,
            )
        except requests.exceptions.RequestException as exc:
            error = TransportError(
                text=protocol.redact(f"{type(exc).__name__}: {exc}", self._secrets),
                maybe_sent=not _failed_before_sending(exc),
            )
        # Raised outside the except clauses: requests' exception, whose message holds the full
        # URL, must not ride along as __context__.
        raise error

    def _request(self, params: list[tuple[str, str]], *, op: str) -> str:
        url = _Hidden(protocol.build_url(self.url, params))
        started = time.perf_counter()
        response = self._get(url)
        elapsed = time.perf_counter() - started
        logger.debug(
            "GET %s -> %s, %d bytes, %.3fs",
            protocol.redact(url, self._secrets),
            response.status_code,
            len(response.content),
            elapsed,
        )
        if response.status_code != 200:
            raise TransportError(text=f"HTTP {response.status_code} from the service")
        text = response.content.decode("utf-8", errors="replace")
        stripped = text.strip()
        if not stripped:
            raise TransportError(text="empty answer")
        if stripped.startswith("<"):
            page = protocol.redact(stripped, self._secrets)[:120]
            raise TransportError(text=f"an HTML page instead of an answer: {page!r}")
        if "\ufffd" in text:
            raise TransportError(text="the answer is not UTF-8 text")
        try:
            protocol.check_answer(text, self._secrets)
        except TargetSMSError as exc:
            logger.info("%s: service answered %s", op, exc.code)
            raise
        return text


def _failed_before_sending(exc: requests.exceptions.RequestException) -> bool:
    """True when the request certainly never reached the server (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError)
    return False
