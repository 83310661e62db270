"""The HTTP front of the emulator: a threading, keep-alive HTTP/1.1 server on loopback."""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from urllib.parse import parse_qsl

from . import texts
from .state import Account, EmulatorState, operation_of

ENDPOINT = "/sendsms.php"


class _Handler(BaseHTTPRequestHandler):
    """One connection; serves requests until the client closes it or it idles out."""

    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "TargetSMS-Emulator/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds

    def setup(self) -> None:
        self.timeout = self.server.emulator.keep_alive_timeout
        super().setup()

    def log_message(self, format: str, *args: object) -> None:
        """Silence http.server's stderr request log."""

    def _write(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        length: int | None = None,
        close: bool = False,
    ) -> None:
        """Status line, headers and body in one write."""
        if close:
            self.close_connection = True
        reason = self.responses.get(status, ("",))[0]
        head = [
            f"HTTP/1.1 {status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body) if length is None else length}",
        ]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def do_GET(self) -> None:
        emulator = self.server.emulator
        path, _, raw_query = self.path.partition("?")
        params = dict(
            parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace")
        )
        if path != ENDPOINT:
            emulator._log(
                "none",
                params,
                self.client_address,
                query=raw_query,
                answer=None,
                status=404,
                path=path,
            )
            self._write(404, texts.NOT_FOUND.encode())
            return
        op = operation_of(params)
        fault = emulator._take_fault(op)
        latency = emulator.latency
        if latency > 0:
            emulator.sleep(latency)
        if fault == "error_5xx":
            status = emulator._next_5xx()
            emulator._log(
                op,
                params,
                self.client_address,
                query=raw_query,
                answer=None,
                fault=fault,
                status=status,
            )
            reason = self.responses.get(status, ("",))[0]
            page = texts.HTML_ERROR_PAGE.format(code=status, reason=reason)
            self._write(status, page.encode(), "text/html", close=True)
            return
        if fault == "reset_before":
            emulator._log(
                op, params, self.client_address, query=raw_query, answer=None, fault=fault
            )
            self._reset()
            return
        answer, _ids = emulator._process(
            raw_query, params, op, fault=fault, client=self.client_address
        )
        body = answer.encode("utf-8")
        if fault == "drop_after":
            self.close_connection = True
        elif fault == "garble":
            self._garble(body)
        else:
            self._write(200, body)

    def _garble(self, body: bytes) -> None:
        variant = self.server.emulator._next_garble()
        if variant == "html":
            page = texts.HTML_ERROR_PAGE.format(code=200, reason="OK").encode()
            self._write(200, page, "text/html; charset=utf-8", close=True)
        elif variant == "truncated":
            # Announce the whole body, send half of it, hang up: an incomplete read.
            self._write(200, body[: len(body) // 2], length=len(body), close=True)
        else:
            self._write(200, b"", close=True)

    def _reset(self) -> None:
        """Abort the connection with a TCP RST and no answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS look-up that can stall.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._connections_lock:
            self._connections.add(sock)
        return sock, address

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exception(), OSError):
            return  # a client that went away (reset, broken pipe, timeout)
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class Emulator(EmulatorState):
    """A TargetSMS-compatible HTTP server on loopback, for demos and integration tests.

    It speaks the protocol of ``API.md`` on ``GET /sendsms.php``: send, status, detailed status and
    balance, with accounts, senders, billing, packages, a stop list, the one-a-minute throttle,
    message lifecycles on a virtual clock, and scripted or random transport faults.

    Default accounts: ``demo``/``demo`` (445.6 RUR and small per-direction packages; Kazakhstan
    closed) and ``blocked``/``blocked``. See ``state.py`` for the order of checks.

    Inspection: ``messages`` (id -> :class:`Message`), ``queue`` (sends waiting for a top-up),
    ``accounts``, and ``log``: one dict per request received, with ``time`` (virtual, Moscow),
    ``mono``, ``client`` (address, port), ``path``, ``op`` (send/status/detail/balance/none),
    ``user``, ``params`` (without ``pwd``), ``query`` (the raw query string, ``pwd`` value masked),
    ``phones``, ``answer`` (None when not processed),
    ``status`` (HTTP status, None when nothing was answered), ``fault`` and ``ids`` issued.

    Faults (``inject`` / ``fault_rates``): ``error_5xx`` (502, 503, 500 in turn, HTML body, before
    processing), ``reset_before`` (TCP reset, nothing processed), ``drop_after`` (processed, then
    the connection closes unanswered), ``garble`` (processed, then in turn: a 200 HTML page, a body
    cut in half under the full Content-Length then hang-up, an empty 200 body).

    Example::

        with Emulator(throttle_interval=0.5) as emu:
            r = requests.get(emu.url, params={"user": "demo", "pwd": "demo", "sadr": "SHOP",
                                              "dadr": "79161234567", "text": "Hello"})
            sms_id = r.text                     # '1179038981'
            emu.advance(3600)                   # every lifecycle is final now
            emu.state_of(sms_id)                # 'deliver' (seeded)
            emu.inject("drop_after", op="send") # the next send is processed, its answer lost
    """

    def __init__(
        self,
        port: int = 0,
        throttle_interval: float = 60.0,
        *,
        host: str = "127.0.0.1",
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
        keep_alive_timeout: float = 120.0,
    ) -> None:
        super().__init__(
            throttle_interval,
            latency=latency,
            speed=speed,
            delivery_delay=delivery_delay,
            outcomes=outcomes,
            seed=seed,
            accounts=accounts,
            stop_list=stop_list,
            prices=prices,
            provider_sms_left=provider_sms_left,
            rejected_words=rejected_words,
            fault_rates=fault_rates,
        )
        self.host = host
        self.port = port
        #: Seconds an idle keep-alive connection is kept open before the server closes it.
        self.keep_alive_timeout = keep_alive_timeout
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT/sendsms.php`` (the port is known once started)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() or use `with`")
        return f"http://{self.host}:{self.port}{ENDPOINT}"

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._server is not None

    def start(self) -> Emulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"targetsms-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<Emulator {where} messages={len(self.messages)}>"


def serve(port: int = 8000, **options: object) -> None:
    """Run an emulator in the foreground until Ctrl-C, printing its URL and demo credentials.

    ``options`` are :class:`Emulator`'s keyword arguments (``host``, ``speed``, ``latency``, ...).
    """
    emulator = Emulator(port, **options)  # type: ignore[arg-type]
    emulator.start()
    print(f"TargetSMS emulator at {emulator.url}", flush=True)
    print("  credentials: user=demo pwd=demo   (blocked account: user=blocked pwd=blocked)")
    print("  senders: TargetSMS, SHOP, 79001234567 (NEWBRAND: unmoderated, LINKS: needs a link)")
    print(f"  throttle: {emulator.throttle_interval:g} s   lifecycle speed: x{emulator.speed:g}")
    print(f"  export TARGETSMS_USER=demo TARGETSMS_PASSWORD=demo TARGETSMS_URL={emulator.url}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        emulator.stop()
