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
import traceback
import unicodedata
import warnings
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, merge_cookies
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy
from tenacity import RetryCallState, Retrying, retry_if_exception
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    InvalidHeader,
    LocationParseError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
    SSLError,
)
from urllib3.util import Timeout, parse_url

from . import protocol
from .env import load_env_file
from .errors import (
    ConnectError,
    InputError,
    ReadError,
    TargetSMSError,
    ThrottledError,
    TransportError,
)
from .protocol import Balance, StatusDetail, validate_send

if TYPE_CHECKING:
    from .journal import Journal

__all__ = [
    "DEFAULT_MAX_IDLE",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "THROTTLE_INTERVAL",
    "HandlerAdapter",
    "RetryPolicy",
    "TargetSMSClient",
]

DEFAULT_URL = "https://sms.targetsms.ru/sendsms.php"
DEFAULT_TIMEOUT = 30.0
THROTTLE_INTERVAL = 60.0
DEFAULT_POOL_SIZE = 16
#: A pooled keep-alive connection idle longer than this (seconds) is closed, not reused: a server
#: that closes idle connections (Apache's default is after 5 s) may do so just as the request is
#: written, and a send lost that way may have arrived. Reconnecting costs a handshake, nothing more.
DEFAULT_MAX_IDLE = 2.0
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
#: Taken only while a client attaches its filter: never by a filter, never by a finalizer.
_ATTACH_LOCK = threading.Lock()


class _RedactingFilter(logging.Filter):
    """Cleans one client's password out of every log record; each client has its own.

    No lock anywhere on the logging path: ``filter`` reads only this object's ``secret``, and the
    client's finalizer only sets it to None (``retire``). A garbage collection that runs inside
    ``filter`` and finalizes a dead client therefore cannot block (the hang of issue 8, where the
    filter and the finalizer shared a lock). Retired filters are taken off the loggers when the next
    client attaches its own, by replacing each logger's filter list (copy-on-write), so a thread
    iterating the old list never skips a live filter. (A filter another thread adds to one of
    these loggers with ``addFilter`` at that very moment could be lost: add yours before clients.)
    """

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret: str | None = secret
        #: The forms the secret can take, computed once (a short password: only as pwd= values).
        self._forms = protocol.secret_forms(secret) if len(secret) >= _MIN_RAW_SECRET else ()

    def retire(self) -> None:
        """The client is gone: forget its password (no lock: this runs in a finalizer)."""
        self.secret, self._forms = None, ()

    def filter(self, record: logging.LogRecord) -> bool:
        forms = self._forms
        if self.secret is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record: leave it to logging's own error handling
            return True
        clean = protocol.redact_forms(message, forms)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:  # formatted here or by another client's filter
            record.exc_text = protocol.redact_forms(record.exc_text, forms)
        return True


def _guard_logs(owner: object, secret: str) -> _RedactingFilter:
    """Clean ``secret`` out of every log record for as long as ``owner`` lives."""
    guard = _RedactingFilter(secret)
    with _ATTACH_LOCK:
        for name in _GUARDED_LOGGERS:
            log = logging.getLogger(name)
            kept = [f for f in log.filters if not _retired(f)]
            log.filters = [*kept, guard]
    weakref.finalize(owner, guard.retire)
    return guard


def _retired(log_filter: object) -> bool:
    return isinstance(log_filter, _RedactingFilter) and log_filter.secret is None


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
    return isinstance(exc, ConnectError)


def should_retry_send(exc: BaseException) -> bool:
    """A send is retried only when the request certainly never left this machine."""
    return _never_sent(exc) and exc.retryable


def should_retry_read(exc: BaseException) -> bool:
    """Reads are idempotent: retry transport faults and the identical-request refusal."""
    return isinstance(exc, (TransportError, ThrottledError)) and exc.retryable


# ---------------------------------------------------------------- argument checks


def _as_phones(phones: str | Sequence[str]) -> list[str]:
    if isinstance(phones, str):
        return [p.strip() for p in phones.split(",") if p.strip()]
    return ["" if p is None else str(p).strip() for p in phones]  # None: a missing phone


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.lower().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bad_url_char(ch: str) -> bool:
    return ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _checked_url(url: object, *, allow_insecure: bool) -> str:
    """The service URL, or ``InputError`` ``invalid_url`` saying why not.

    The URL is read by the parser that connects (urllib3's ``parse_url``) and must read the same
    with ``urllib.parse``; userinfo, backslashes, whitespace and control characters are refused
    outright (``http://evil.example\\@127.0.0.1/`` connects to evil.example). No message echoes
    the URL: it may hold a password.
    """

    def bad(why: str) -> InputError:
        return InputError("invalid_url", why, field="url")

    if not isinstance(url, str) or not url:
        raise bad("the service URL must be a non-empty str")
    if any(_bad_url_char(ch) for ch in url):
        raise bad("the service URL holds a backslash, whitespace or a control character")
    try:
        parsed = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError):
        raise bad("the service URL cannot be parsed (a bad host or port?)") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise bad("the service URL must start with https:// (or http:// for loopback)")
    if parsed.auth is not None or "@" in split.netloc:
        raise bad("the service URL must not hold a user or password (they travel as user=, pwd=)")
    host = (parsed.host or "").lower().strip("[]")
    if not host:
        raise bad("the service URL has no host")
    if (scheme, host, parsed.port) != (split.scheme.lower(), split.hostname or "", split_port):
        raise bad("the service URL reads differently to different URL parsers")
    if parsed.query is not None or parsed.fragment is not None:
        raise bad("the service URL must not have a query or fragment (the client adds the query)")
    if scheme == "http" and not allow_insecure and not _is_loopback(host):
        raise bad(
            f"refusing plain http:// to {host}: the password travels in the URL. "
            "Use https://, or pass allow_insecure=True if you really mean it."
        )
    return url


# ---------------------------------------------------------------- transports


#: Per thread: whether the exchange under way has begun writing a request on one of our pools'
#: connections (a TLS error after that may come after the request reached the service).
_WIRE = threading.local()


def _marking(base: type[Any]) -> type[Any]:
    """A urllib3 connection class that notes in ``_WIRE`` when a request starts to be written
    (after the connection, and for HTTPS its TLS handshake, is made)."""

    class MarkingConnection(base):  # type: ignore[valid-type,misc]
        def request(self, *args: Any, **kwargs: Any) -> Any:
            _WIRE.sent = True
            return super().request(*args, **kwargs)

    return MarkingConnection


def _idle_limited(
    base: type[HTTPConnectionPool], max_idle: float, clock: Callable[[], float]
) -> type[HTTPConnectionPool]:
    """A urllib3 pool class that closes (so reconnects) a connection idle over ``max_idle`` s,
    and whose connections note when a request starts to go out (see ``_WIRE``)."""

    class IdleLimitedPool(base):  # type: ignore[valid-type,misc]
        ConnectionCls = _marking(base.ConnectionCls)

        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            since = getattr(conn, "_targetsms_idle_since", None)
            if since is not None and clock() - since > max_idle:
                conn.close()  # urllib3 opens it again before the request is written
            return conn

        def _put_conn(self, conn: Any) -> None:
            if conn is not None:
                conn._targetsms_idle_since = clock()
            super()._put_conn(conn)

    return IdleLimitedPool


@dataclass(frozen=True, slots=True)
class _Answer:
    """The service's answer as :meth:`TargetSMSClient._request` reads it."""

    status_code: int
    content: bytes


class _PoolAdapter(HTTPAdapter):
    """requests' adapter with urllib3 pools that never reuse a connection idle too long."""

    def __init__(self, *, max_idle: float, clock: Callable[[], float], **settings: Any) -> None:
        self._pool_classes = {
            "http": _idle_limited(HTTPConnectionPool, max_idle, clock),
            "https": _idle_limited(HTTPSConnectionPool, max_idle, clock),
        }
        super().__init__(**settings)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pool_classes)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(self._pool_classes)
        return manager

    def fetch(
        self, base: requests.PreparedRequest, target: str, headers: Any, *, timeout: Any,
        verify: Any, cert: Any,
    ) -> tuple[Any, bytes | None]:  # fmt: skip
        """GET ``target`` (path and query, already encoded) on ``base``'s host, with no proxy:
        the urllib3 response and its body (None for a redirect: left unread, for requests to
        follow). The pool, TLS settings, urllib3 arguments and errors (requests') are those of
        :meth:`send`, without ``Session.send`` and the ``Response`` around the answer: about a
        quarter of a send's CPU in this process (measured: 0.95 -> 0.72 ms a send, one thread,
        on a slow two-core machine).
        """
        try:
            pool = self.get_connection_with_tls_context(base, verify, proxies=None, cert=cert)
        except LocationValueError as e:
            raise requests.exceptions.InvalidURL(e) from None
        self.cert_verify(pool, base.url, verify, cert)
        try:
            response = pool.urlopen(
                method="GET", url=target, body=None, headers=headers, redirect=False,
                assert_same_host=False, preload_content=False, decode_content=False,
                retries=self.max_retries, timeout=_timeout(timeout),
                chunked=False,
            )  # fmt: skip
        except Exception as exc:
            raise _as_requests_error(exc, _URLOPEN_ERRORS) from None
        if response.get_redirect_location():
            return response, None  # requests follows it (see TargetSMSClient._get)
        try:
            body = response.read(decode_content=True)
        except Exception as exc:
            response.close()
            raise _as_requests_error(exc, _READ_ERRORS) from None
        finally:
            response.release_conn()
        return response, body


def _timeout(timeout: Any) -> Timeout:
    """``timeout`` (seconds, or ``(connect, read)``) as urllib3's, as ``HTTPAdapter.send`` reads it."""
    if isinstance(timeout, Timeout):
        return timeout
    if isinstance(timeout, tuple):
        connect, read = timeout
        return Timeout(connect=connect, read=read)
    return Timeout(connect=timeout, read=timeout)


_rx = requests.exceptions


def _after_retries(exc: MaxRetryError) -> Exception:
    """What ``HTTPAdapter.send`` raises for a ``MaxRetryError``, by its reason."""
    reason = exc.reason
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return _rx.ConnectTimeout(exc)
    ours = next((o for t, o in _RETRY_REASONS if isinstance(reason, t)), _rx.ConnectionError)
    return ours(exc)


#: ``HTTPAdapter.send``'s translation of urllib3's errors (requests 2.x), first match wins: of
#: ``urlopen``'s, of the reason of a ``MaxRetryError`` (else a ``ConnectionError``), and, as
#: ``Response.content`` has them, of the body's read (requests lets the last row through: any
#: error there comes after the request was sent).
_URLOPEN_ERRORS: tuple[tuple[Any, Callable[[Any], Exception]], ...] = (
    (ProtocolError | OSError, _rx.ConnectionError),
    (MaxRetryError, _after_retries),
    (ClosedPoolError, _rx.ConnectionError),
    (ProxyError, _rx.ProxyError),
    (SSLError, _rx.SSLError),
    (ReadTimeoutError, _rx.ReadTimeout),
    (InvalidHeader, _rx.InvalidHeader),
)
_RETRY_REASONS = (
    (ResponseError, _rx.RetryError),
    (ProxyError, _rx.ProxyError),
    (SSLError, _rx.SSLError),
)
_READ_ERRORS = (
    (ProtocolError, _rx.ChunkedEncodingError),
    (DecodeError, _rx.ContentDecodingError),
    (ReadTimeoutError, _rx.ConnectionError),
    (SSLError, _rx.SSLError),
    (HTTPError | OSError, _rx.ChunkedEncodingError),  # (never "nothing was sent")
)


def _as_requests_error(
    exc: Exception, table: Sequence[tuple[Any, Callable[[Any], Exception]]]
) -> Exception:
    """``exc`` as requests raises it: the first row of ``table`` whose type it is (see
    ``_URLOPEN_ERRORS``); any other error as it is."""
    for theirs, ours in table:
        if isinstance(exc, theirs):
            return ours(exc)
    return exc


class HandlerAdapter(BaseAdapter):
    """A transport that answers from a function instead of the network (httpx's ``MockTransport``).

    ``handler(request)`` gets the ``requests.PreparedRequest`` and returns ``(status, body)`` (body:
    str or bytes); it may raise a ``requests`` exception to fail the exchange
    (``requests.ConnectionError``, ``requests.ReadTimeout``…). For unit tests: no socket, no server.

    Example::

        transport = HandlerAdapter(lambda request: (200, "1179038981"))
        client = TargetSMSClient("me", "pw", url="http://127.0.0.1:1/sendsms.php",
                                 transport=transport)
        client.send("SHOP", ["79001234567"], "Hi")    # ['1179038981']
    """

    def __init__(
        self, handler: Callable[[requests.PreparedRequest], tuple[int, str | bytes]]
    ) -> None:
        super().__init__()
        self.handler = handler

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Answer ``request`` with what the handler returns."""
        status, body = self.handler(request)
        response = requests.Response()
        response.status_code = int(status)
        response._content = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        response.encoding = "utf-8"
        response.url, response.request = request.url or "", request
        return response

    def close(self) -> None:
        """Nothing to close."""


# ---------------------------------------------------------------- the client


class TargetSMSClient:
    """A thread-safe client for the TargetSMS HTTP GET API.

    Settings are keyword-only; ``url`` defaults to the real service over HTTPS. Plain ``http://`` is
    refused for anything but loopback unless ``allow_insecure=True``. Reads retry and wait out the
    identical-request interval; sends are never repeated when they may have arrived.

    Time is a parameter: ``clock`` (a monotonic clock, default ``time.monotonic``) dates the
    identical-request marks and ``sleep`` does every wait (throttle and back-off), so tests can run
    throttle windows without waiting. ``transport`` replaces the network (``HandlerAdapter``);
    ``session`` is a ``requests.Session`` used as it is. ``max_idle``: see ``DEFAULT_MAX_IDLE``.

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
        transport: BaseAdapter | None = None,
        retry: RetryPolicy | None = None,
        max_idle: float = DEFAULT_MAX_IDLE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # First of all: a refused URL or setting raises from this frame, and tracebacks that
        # show locals (%xmode Verbose, rich, pytest --showlocals) would print a plain str.
        if not isinstance(password, str):
            password = None  # type: ignore[assignment]  # not even its repr in the frame
            raise InputError("missing_credentials", "the password must be a str", field="password")
        password = _Hidden(password)
        if not user or not password.strip():
            raise InputError(
                "missing_credentials",
                "a user and a password are needed (TARGETSMS_USER, TARGETSMS_PASSWORD)",
            )
        url = _checked_url(url, allow_insecure=allow_insecure)
        if session is not None and transport is not None:
            raise ValueError("pass a session or a transport, not both")
        self.user = user
        self._password = _Hidden(password)
        self.url = url
        self.timeout = timeout
        self.throttle_interval = float(throttle_interval)
        self.pool_size = pool_size
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._log_guard = _guard_logs(self, password)
        own_session = session is None
        if session is None:  # a session passed in is the caller's transport: used as it is
            session = requests.Session()
            adapter = transport or _PoolAdapter(
                pool_connections=2,
                pool_maxsize=pool_size,
                max_retries=0,
                max_idle=max_idle,
                clock=clock,
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            # Loopback (the emulator) never goes through an HTTP_PROXY from the environment: the
            # password would travel to the proxy in plain http.
            session.trust_env = not _is_loopback(parse_url(url).host)
        self._session = session
        # Our own session sends through a lean path (see _get); the URL must be plain ASCII
        # (an IDN host is left to requests' own preparation).
        self._own_session = own_session and url.isascii()
        #: (environment, settings, no proxy): see _send_settings
        self._settings: tuple[tuple[str | None, ...], dict[str, Any], bool] | None = None
        #: Our own adapter, and a request naming the service's host: see _fetch.
        self._direct: tuple[_PoolAdapter, requests.PreparedRequest] | None = None
        path = urlsplit(url).path
        self._origin = len(url) - len(path)
        adapter = session.get_adapter(url) if self._own_session else None
        if type(adapter) is _PoolAdapter and path.startswith("/"):
            base = requests.PreparedRequest()
            try:
                base.prepare_url(url, None)
                self._direct = (adapter, base)
            except requests.exceptions.RequestException:  # requests says why at the first send
                pass
        #: When each identical read (op, sms_id) was last sent or answered (by ``clock``).
        self._last_read: dict[tuple[str, ...], float] = {}
        self._prune_at = _PRUNE_MIN
        self._lock = threading.Lock()

    # -- construction helpers

    @classmethod
    def from_env(cls, **settings: object) -> TargetSMSClient:
        """Build a client from ``TARGETSMS_USER``, ``TARGETSMS_PASSWORD`` and ``TARGETSMS_URL``.

        A ``.env`` file in the working directory (not its parents) is read too; the environment wins.

        An explicit ``url=`` wins over ``TARGETSMS_URL``.

        Example: ``client = TargetSMSClient.from_env(timeout=10)``.
        """
        load_env_file()
        user = os.environ.get("TARGETSMS_USER", "")
        password = _Hidden(os.environ.get("TARGETSMS_PASSWORD", ""))  # a frame local, hidden
        if not user or not password:
            raise InputError(
                "missing_credentials",
                "set TARGETSMS_USER and TARGETSMS_PASSWORD (in the environment or a .env file)",
            )
        url = settings.pop("url", None) or os.environ.get("TARGETSMS_URL") or DEFAULT_URL
        return cls(user, password, url=url, **settings)  # type: ignore[arg-type]

    def __repr__(self) -> str:  # also for a half-built client, in a traceback's locals
        return f"TargetSMSClient(user={getattr(self, 'user', '?')!r}, url={getattr(self, 'url', '?')!r})"

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
        retried only when the request certainly never left this machine (``ConnectError`` once the
        attempts are spent); if it may have arrived, ``ReadError`` or ``UnknownResponseError`` is
        raised and nothing is resent.

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

        ``store=`` is deprecated (the client does not write the journal): use
        ``ts.snapshot_balance(client, store=...)``, which asks and saves the snapshot.

        Example: ``client.balance().packages.sort_values("remaining")``.
        """
        params = protocol.balance_params(self.user, self._password)
        result = protocol.parse_balance(self._read(params, ("balance",)), secrets=self._secrets)
        if store is not None:
            warnings.warn(
                "client.balance(store=...) is deprecated and will be removed in the next release: "
                "use ts.snapshot_balance(client, store=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            from .balances import save_snapshot  # the orchestration layer, for one more release

            save_snapshot(result, store, user=self.user, url=self.url)
        return result

    def read_wait(self, op: str, sms_id: str | int | None = None) -> float:
        """Seconds until the identical read (``"status"``, ``"detail"``, ``"balance"``) is allowed.

        Schedulers use it to ask other ids first instead of sleeping. Example:
        ``client.read_wait("detail", "1179038981")``.
        """
        key = (op,) if sms_id is None else (op, str(sms_id))
        with self._lock:
            elapsed = self._elapsed(key, self._clock())
        if elapsed is None:
            return 0.0
        return max(0.0, self.throttle_interval - elapsed)

    # -- plumbing

    @property
    def _secrets(self) -> tuple[str, ...]:
        return (self._password,)

    def _elapsed(self, key: tuple[str, ...], now: float) -> float | None:
        """Seconds since the mark of ``key`` (None: no mark); call with the lock held.

        A mark in the future means the clock went back: that counts as "just now" (the mark moves
        to ``now``), so the identical request still waits a whole interval.
        """
        last = self._last_read.get(key)
        if last is None:
            return None
        if now < last:
            self._last_read[key] = now
            return 0.0
        return now - last

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
        """One exchange, retried by tenacity: ``retry`` says which failures, the policy how often.

        The first attempt is made before any retry machinery is built (most exchanges need
        none); should it fail in a way ``retry`` allows, tenacity takes over with that failure
        as its first attempt, so the attempts, waits and log lines are the same.
        """
        try:
            return self._exchange(params, op=op, key=key)
        except Exception as exc:
            if not retry(exc):
                raise
            first: list[Exception] = [exc]

        def attempt() -> str:
            if first:  # the failure seen above, as tenacity's attempt 1
                raise first.pop()
            return self._exchange(params, op=op, key=key)

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
            # Waiting out the identical-request interval is normal: INFO. Faults: WARNING.
            level = logging.INFO if isinstance(exc, ThrottledError) else logging.WARNING
            logger.log(
                level,
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
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(attempt)

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
            self._set_mark(key, previous if lost_in_transit else self._clock())

    def _claim(self, key: tuple[str, ...], op: str) -> float | None:
        """Wait until the identical read ``key`` is allowed, then mark it sent; returns the old mark.

        Check and mark happen under one lock, so threads reading the same id take turns.
        """
        while True:
            with self._lock:
                now = self._clock()
                previous = self._last_read.get(key)
                elapsed = self._elapsed(key, now)
                if elapsed is None or elapsed >= self.throttle_interval:
                    self._prune(now)
                    self._last_read[key] = now
                    return previous
                pause = self.throttle_interval - elapsed
            logger.debug("%s: waiting %.2fs for the identical-request interval", op, pause)
            self._sleep(pause)

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

    def _send_settings(self) -> tuple[dict[str, Any], bool]:
        """``proxies``, ``verify``, ``cert`` and ``stream`` from the environment, as
        ``Session.get`` would find them, computed again only when a variable they come from
        changes (reading them costs more than a request's own work on a fast network); and
        whether the service's URL goes through no proxy then."""
        env = tuple(os.environ.get(k) for k in _ENV_SETTINGS)
        cached = self._settings
        if cached is None or cached[0] != env:
            settings = self._session.merge_environment_settings(self.url, {}, None, None, None)
            direct = select_proxy(self.url, settings["proxies"]) is None and not settings["stream"]
            cached = self._settings = (env, settings, direct)
        return cached[1], cached[2]

    def _prepared(self, url: str) -> requests.PreparedRequest:
        """The GET of ``url`` (already encoded by :func:`protocol.build_url`) with the session's
        headers and cookies: what ``Session.get`` prepares, without parsing and re-quoting the
        URL it was given and without looking up ``~/.netrc`` (the password is in the URL)."""
        request = requests.PreparedRequest()
        request.method = "GET"
        request.url = url
        request.headers = CaseInsensitiveDict(self._session.headers)
        # A jar of its own, as Session.prepare_request gives it (a redirect stores cookies in it)
        request.prepare_cookies(merge_cookies(RequestsCookieJar(), self._session.cookies))
        return request

    def _get(self, url: str) -> requests.Response | _Answer:
        _WIRE.sent = False
        try:
            if not self._own_session:  # the caller's session: its own get(), as it is
                return self._session.get(url, timeout=self.timeout)
            settings, no_proxy = self._send_settings()
            if self._direct is not None and no_proxy and not self._session.cookies:
                return self._fetch(url, settings)
            return self._session.send(
                self._prepared(url),
                timeout=self.timeout,
                allow_redirects=True,
                **settings,
            )
        except requests.exceptions.SSLError as exc:
            if getattr(_WIRE, "sent", False):
                # Review: TLS broke after the request began to go out (the status line or body
                # garbled): it may have reached the service, so it is never "never sent".
                said = f"TLS failed after the request was sent: {exc}"
                error: TransportError = ReadError(text=protocol.redact(said, self._secrets))
            else:  # the handshake or the certificate: nothing was sent
                error = ConnectError(
                    text=protocol.redact(f"TLS failed: {exc}", self._secrets), retryable=False
                )
        except requests.exceptions.RequestException as exc:
            kind = ConnectError if _failed_before_sending(exc) else ReadError
            error = kind(text=protocol.redact(f"{type(exc).__name__}: {exc}", self._secrets))
        except BaseException as exc:
            # Ctrl-C (or a bug) inside requests/urllib3, whose frames hold the full URL, password
            # included, as plain str: verbose tracebacks (IPython, rich, pytest --showlocals)
            # print every frame's locals. Clear those frames before the exception goes up.
            _scrub(exc, self._secrets)
            raise
        # Raised outside the except clauses: requests' exception, whose message holds the full
        # URL, must not ride along as __context__.
        raise error

    def _fetch(self, url: str, settings: dict[str, Any]) -> requests.Response | _Answer:
        """Our own session's GET with no proxy and no cookies: straight to the adapter's urllib3
        pool (:meth:`_PoolAdapter.fetch`). A redirect, or an answer that sets a cookie, goes on
        as ``Session.send`` would take it from there (cookies kept, the redirect followed)."""
        adapter, base = self._direct
        verify, cert = settings["verify"], settings["cert"]
        response, body = adapter.fetch(
            base, url[self._origin:], self._session.headers, timeout=self.timeout,
            verify=verify, cert=cert,
        )  # fmt: skip
        if body is not None and "set-cookie" not in response.headers:
            return _Answer(response.status, body)
        request = self._prepared(url)
        extract_cookies_to_jar(self._session.cookies, request, response)
        if body is not None:
            return _Answer(response.status, body)
        first = adapter.build_response(request, response)
        followed = list(
            self._session.resolve_redirects(first, request, timeout=self.timeout, **settings)
        )
        return followed[-1] if followed else first

    def _request(self, params: list[tuple[str, str]], *, op: str) -> str:
        url = _Hidden(protocol.build_url(self.url, params))
        started = time.perf_counter()
        response = self._get(url)
        if logger.isEnabledFor(logging.DEBUG):  # redacting the URL costs more than sending it
            logger.debug(
                "GET %s -> %s, %d bytes, %.3fs",
                protocol.redact(url, self._secrets),
                response.status_code,
                len(response.content),
                time.perf_counter() - started,
            )
        if response.status_code != 200:
            raise ReadError(text=f"HTTP {response.status_code} from the service")
        text = response.content.decode("utf-8", errors="replace")
        stripped = text.strip()
        if not stripped:
            raise ReadError(text="empty answer")
        if stripped.startswith("<"):
            page = protocol.redact(stripped, self._secrets)[:120]
            raise ReadError(text=f"an HTML page instead of an answer: {page!r}")
        if "\ufffd" in text:
            raise ReadError(text="the answer is not UTF-8 text")
        try:
            protocol.check_answer(text, self._secrets)
        except TargetSMSError as exc:
            logger.info("%s: service answered %s", op, exc.code)
            raise
        return text


#: The environment variables requests reads for a request's proxies, CA bundle and TLS checks.
_ENV_SETTINGS = (
    "http_proxy", "https_proxy", "all_proxy", "no_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)  # fmt: skip

#: requests' errors raised before a connection was used: the URL or a header could not be built.
_BEFORE_ANY_CONNECTION = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidHeader,
)
#: urllib3's reasons that mean "no connection was made": refused, DNS, connect timeout, bad URL.
_NO_CONNECTION = (NewConnectionError, ConnectTimeoutError, LocationParseError, LocationValueError)


def _failed_before_sending(exc: requests.exceptions.RequestException) -> bool:
    """True when the request certainly never reached the server; anything else may have arrived.

    Never sent: a bad URL or header, DNS failure, connection refused, connect timeout (TLS
    failures are handled apart). A reset, a read timeout or a broken pipe on a kept-alive
    connection may come after the request was written: those are not.
    """
    if isinstance(exc, _BEFORE_ANY_CONNECTION):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, _NO_CONNECTION)
    return False


def _scrub(exc: BaseException, secrets: Sequence[str]) -> None:
    """Clear the finished frames under ``exc`` (and its chain) and redact its string arguments."""
    seen: set[int] = set()
    chained: BaseException | None = exc
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        traceback.clear_frames(chained.__traceback__)
        chained.args = tuple(
            protocol.redact(a, secrets) if isinstance(a, str) else a for a in chained.args
        )
        chained = chained.__cause__ or chained.__context__
