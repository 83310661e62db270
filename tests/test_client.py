"""The client through real HTTP to the emulator (and a few pure pieces of it)."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
import traceback
from urllib.parse import quote

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import targetsms_analytics as ts
from targetsms_analytics import protocol
from targetsms_analytics.client import (
    HandlerAdapter,
    RetryPolicy,
    should_retry_read,
    should_retry_send,
)
from targetsms_analytics.emulator import Emulator
from targetsms_analytics.errors import ERROR_TEXTS

SECRET = "p@ss&w%rd+Пароль"


def sends(emu) -> list[dict]:
    return [entry for entry in emu.log if entry["op"] == "send"]


@pytest.fixture
def unthrottled():
    """An emulator and a client with no identical-request interval: for tests about other things."""
    with Emulator(throttle_interval=0.0, speed=0) as emu:  # states move only by emu.advance()
        client = ts.TargetSMSClient(
            "demo", "demo", url=emu.url, throttle_interval=0.0, retry=RetryPolicy(base_delay=0.01)
        )
        yield emu, client
        client.close()


class FakeClock:
    """A monotonic clock that moves only when told, and a ``sleep`` that moves it (thread-safe)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


DETAIL = (
    'a:5:{s:6:"id_sms";s:1:"7";s:17:"time_change_state";s:0:"";s:9:"state_sms";s:4:"send";'
    's:9:"num_parts";i:1;s:5:"price";d:0.8;}'
)


class FakeService:
    """The service's identical-request rule on a fake clock, as a ``HandlerAdapter`` handler."""

    def __init__(self, clock, interval: float, answer=None) -> None:
        self.clock, self.interval = clock, interval  # the service's clock, often the client's
        self.answer = answer or (lambda query: DETAIL if "detail=1" in query else "send")
        self.log: list[tuple[float, str]] = []
        self.refused = 0
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, request):
        query = request.url.partition("?")[2]
        with self._lock:
            now = self.clock()
            self.log.append((now, query))
            last = self._seen.get(query)
            if last is not None and now - last < self.interval:
                self.refused += 1
                return 200, ERROR_TEXTS["duplicate_request"]
            self._seen[query] = now
        return 200, self.answer(query)


def fake_client(handler, clock: FakeClock | None = None, **settings) -> ts.TargetSMSClient:
    """A client whose transport is ``handler`` and whose time is ``clock`` (no network, no waiting)."""
    clock = clock or FakeClock()
    settings.setdefault("retry", RetryPolicy(base_delay=0.01, jitter=lambda: 0.0))
    return ts.TargetSMSClient(
        "me",
        settings.pop("password", SECRET),
        url="http://127.0.0.1:1/sendsms.php",
        transport=HandlerAdapter(handler),
        clock=clock,
        sleep=clock.sleep,
        **settings,
    )


# ---------------------------------------------------------------- construction


def test_plain_http_is_refused_except_on_loopback():
    with pytest.raises(ValueError, match="https"):
        ts.TargetSMSClient("u", "p", url="http://sms.targetsms.ru/sendsms.php")
    ts.TargetSMSClient("u", "p", url="http://sms.example.org/sendsms.php", allow_insecure=True)
    for url in ("http://127.0.0.1:1/x", "http://localhost:1/x", "http://[::1]:1/x"):
        ts.TargetSMSClient("u", "p", url=url)
    assert ts.TargetSMSClient("u", "p").url == ts.DEFAULT_URL.replace("http:", "https:")
    assert ts.DEFAULT_URL.startswith("https://")


def test_loopback_ignores_proxy_settings(emulator, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a dead proxy: using it would fail
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    client = ts.TargetSMSClient(
        "demo", "demo", url=emulator.url, retry=RetryPolicy(base_delay=0.01)
    )
    assert client.balance().currency == "RUR"
    assert ts.TargetSMSClient("u", "p")._session.trust_env  # the real service honours them


class _Capture(HandlerAdapter):
    """Records what each request carried: the URL, the headers and the adapter's settings."""

    def __init__(self) -> None:
        super().__init__(lambda request: (200, "1234"))
        self.seen: list[tuple[str, dict, dict]] = []

    def send(self, request, **kwargs):
        self.seen.append((request.url, dict(request.headers), kwargs))
        return super().send(request, **kwargs)


def test_the_lean_send_path_carries_what_session_get_would(monkeypatch):
    """Our own session sends a request prepared by hand (no re-parsing of the URL, the
    environment's settings read once per change): the same URL, headers, proxies, CA bundle
    and timeout as ``Session.get``, including after the environment changes."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    url = "https://sms.example.org/sendsms.php"
    lean = _Capture()
    ours = ts.TargetSMSClient("me", SECRET, url=url, transport=lean)
    plain = _Capture()
    session = requests.Session()
    session.mount("https://", plain)
    session.headers["User-Agent"] = ts.TargetSMSClient("u", "p")._session.headers["User-Agent"]
    theirs = ts.TargetSMSClient("me", SECRET, url=url, session=session)

    def both(phone: str) -> None:
        ours.send("SHOP", [phone], "Привет, {мир} & 100%")
        theirs.send("SHOP", [phone], "Привет, {мир} & 100%")

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy-a.example:3128")
    both("79001234567")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy-b.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company-ca.pem")
    both("79001234568")
    monkeypatch.setenv("NO_PROXY", "sms.example.org")
    both("79001234569")
    assert len(lean.seen) == len(plain.seen) == 3
    for (url_a, headers_a, kw_a), (url_b, headers_b, kw_b) in zip(
        lean.seen, plain.seen, strict=True
    ):
        assert url_a == url_b
        assert headers_a == headers_b
        assert kw_a == kw_b
    assert lean.seen[0][2]["proxies"]["https"] == "http://proxy-a.example:3128"
    assert lean.seen[1][2]["proxies"]["https"] == "http://proxy-b.example:3128"
    assert lean.seen[1][2]["verify"] == "/etc/ssl/certs/company-ca.pem"
    assert "https" not in lean.seen[2][2]["proxies"]  # NO_PROXY names the host
    params = protocol.send_params("me", SECRET, "SHOP", ["79001234567"], "Привет, {мир} & 100%")
    assert lean.seen[0][0] == protocol.build_url(url, params)


@pytest.fixture
def redirector(emulator):
    """A server on loopback that answers every request with a 302 to the emulator."""
    import http.server
    from urllib.parse import urlsplit

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", f"{emulator.url}?{urlsplit(self.path).query}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sendsms.php"
    server.shutdown()
    server.server_close()


def test_a_redirect_is_followed_as_session_get_follows_it(redirector, emulator):
    """Review: the lean path left the request without a cookie jar, and requests' redirect
    handling stores cookies in it: every redirect ended in an AttributeError."""
    client = ts.TargetSMSClient("demo", "demo", url=redirector, throttle_interval=1.0,
                                retry=RetryPolicy(base_delay=0.01))  # fmt: skip
    assert client._own_session  # the lean path
    assert client.balance().currency == "RUR"
    assert len(client.send("SHOP", ["79161234567"], "Hi")) == 1
    assert emulator.sent_phones() == ["79161234567"]


@pytest.fixture
def local_server():
    """``start(handle)``: a loopback HTTP/1.1 server whose GETs ``handle(request_handler)``
    answers; returns its ``http://127.0.0.1:port``."""
    import http.server

    servers = []

    def start(handle):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                handle(self)

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    start.servers = servers
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _answer(handler, body: bytes, headers: dict[str, str] | None = None, length=None) -> None:
    handler.send_response(200)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)


def test_our_session_sends_without_requests_response_machinery(emulator, monkeypatch):
    """The lean path goes straight to the adapter's urllib3 pool (measured: about a quarter of
    a send's CPU in this process is requests' Session.send and Response around it)."""
    calls = []
    send = requests.Session.send
    monkeypatch.setattr(requests.Session, "send", lambda *a, **k: calls.append(1) or send(*a, **k))
    client = ts.TargetSMSClient("demo", "demo", url=emulator.url, throttle_interval=1.0)
    assert len(client.send("SHOP", ["79161234567"], "Привет")) == 1
    assert client.balance().currency == "RUR"
    assert calls == []


def _urllib3_errors():
    from urllib3 import exceptions as u

    pool = None
    return [
        u.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")),
        OSError("network is down"),
        u.ClosedPoolError(pool, "closed"),
        u.MaxRetryError(pool, "/", u.NewConnectionError(pool, "refused")),
        u.MaxRetryError(pool, "/", u.ConnectTimeoutError(pool, "connect timed out")),
        u.MaxRetryError(pool, "/", u.SSLError("bad certificate")),
        u.MaxRetryError(pool, "/", u.ProxyError("proxy", OSError("down"))),
        u.MaxRetryError(pool, "/", u.ResponseError("too many 500 error responses")),
        u.MaxRetryError(pool, "/", u.ProtocolError("reset")),
        u.ProxyError("proxy", OSError("down")),
        u.SSLError("bad certificate"),
        u.ReadTimeoutError(pool, "/", "read timed out"),
        u.InvalidHeader("bad header"),
    ]


@pytest.mark.parametrize("error", _urllib3_errors(), ids=lambda e: type(e).__name__ + (
    f"-{type(e.reason).__name__}" if hasattr(e, "reason") else ""))  # fmt: skip
def test_the_lean_path_fails_as_requests_would(error, monkeypatch):
    """Each error of urllib3's urlopen becomes, on the lean path, what it becomes through
    requests' Session.send: the same error, text and "never sent" verdict."""
    import urllib3

    def fail(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", fail)
    url = "http://127.0.0.1:9/sendsms.php?user=demo&pwd=demo&sadr=SHOP"
    seen = []
    for lean in (True, False):
        client = ts.TargetSMSClient("demo", "demo", url="http://127.0.0.1:9/sendsms.php")
        if not lean:
            client._direct = None  # requests' own Session.send
        with pytest.raises(ts.TransportError) as info:
            client._get(url)
        seen.append((type(info.value), info.value.text, info.value.retryable))
    assert seen[0] == seen[1]


def test_a_proxy_from_the_environment_still_carries_the_request(local_server, monkeypatch):
    """With a proxy for the service's URL the request goes through requests' own path, to the
    proxy (an absolute URL in the request line), not straight to the service."""
    seen = []

    def proxy(handler):
        seen.append(handler.path)
        _answer(handler, b"1234567")

    address = local_server(proxy)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("http_proxy", address)
    client = ts.TargetSMSClient(
        "me", SECRET, url="http://sms.example.org/sendsms.php", allow_insecure=True
    )
    assert client.send("SHOP", ["79161234567"], "Hi") == ["1234567"]
    assert len(seen) == 1 and seen[0].startswith("http://sms.example.org/sendsms.php?user=me&")


def test_a_cookie_the_service_sets_is_sent_back_as_session_get_would(local_server):
    cookies = []

    def service(handler):
        cookies.append(handler.headers.get("Cookie"))
        first = len(cookies) == 1
        _answer(handler, b"1234", {"Set-Cookie": "sid=abc; Path=/"} if first else None)

    client = ts.TargetSMSClient("demo", "demo", url=local_server(service) + "/sendsms.php")
    assert client.send("SHOP", ["79161234567"], "Hi") == ["1234"]
    assert client.send("SHOP", ["79161234568"], "Hi") == ["1234"]
    assert cookies == [None, "sid=abc"]


def test_a_compressed_answer_is_read_as_requests_reads_it(local_server):
    """The lean path reads the body decoded (Content-Encoding), as Response.content does."""
    import gzip

    encodings = []

    def service(handler):
        encodings.append(handler.headers.get("Accept-Encoding"))
        _answer(handler, gzip.compress(b"1234"), {"Content-Encoding": "gzip"})

    client = ts.TargetSMSClient("demo", "demo", url=local_server(service) + "/sendsms.php")
    assert client._direct is not None
    assert client.send("SHOP", ["79161234567"], "Hi") == ["1234"]
    assert "gzip" in encodings[0]


def test_an_answer_cut_short_is_a_read_error_never_a_connect_error(local_server):
    """The request arrived: a body shorter than announced must not look "never sent"."""

    def service(handler):
        _answer(handler, b"12", length=10)
        handler.close_connection = True

    client = ts.TargetSMSClient(
        "demo", "demo", url=local_server(service) + "/sendsms.php",
        retry=RetryPolicy(base_delay=0.01),
    )  # fmt: skip
    with pytest.raises(ts.TransportError) as info:
        client.send("SHOP", ["79161234567"], "Hi")
    assert type(info.value) is ts.ReadError


def _self_signed(tmp_path):
    """(certificate, key) files for 127.0.0.1, made by the ``openssl`` command."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(local_server, tmp_path):
    """``(url, ca_file)``: a loopback HTTPS server answering ``1234`` with a self-signed
    certificate for 127.0.0.1 (made by the ``openssl`` command)."""
    import ssl

    cert, key = _self_signed(tmp_path)
    seen = []

    def service(handler):
        seen.append(handler.path)
        _answer(handler, b"1234")

    address = local_server(service)
    port = int(address.rsplit(":", 1)[1])
    server = next(s for s in local_server.servers if s.server_address[1] == port)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return f"https://127.0.0.1:{port}/sendsms.php", str(cert), seen


def test_https_is_verified_on_the_lean_path(tls_server):
    """The service's certificate is checked: an unknown one fails as TLS (nothing sent), the
    CA bundle given to the session makes it pass."""
    url, ca_file, seen = tls_server
    client = ts.TargetSMSClient("demo", "demo", url=url, retry=RetryPolicy(base_delay=0.01))
    with pytest.raises(ts.ConnectError, match="TLS"):
        client.send("SHOP", ["79161234567"], "Hi")
    assert seen == []
    trusting = ts.TargetSMSClient("demo", "demo", url=url)
    trusting._session.verify = ca_file  # as Session.get would take it (REQUESTS_CA_BUNDLE)
    assert trusting._direct is not None
    assert trusting.send("SHOP", ["79161234567"], "Hi") == ["1234"]
    assert len(seen) == 1 and seen[0].startswith("/sendsms.php?user=demo&")


@pytest.fixture
def garbling_tls_server(tmp_path):
    """``(url, ca_file, received)``: a loopback HTTPS server that reads each request, answers
    ``mode["status"]`` (the status line and part of the body, or nothing) and then breaks the
    TLS stream with a garbled record."""
    import os
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received, mode, done = [], {"status": True}, threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                tls = context.wrap_socket(conn, server_side=True)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += tls.recv(4096)
                received.append(data.split(b"\r\n")[0])
                if mode["status"]:
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12")
                os.write(tls.fileno(), b"\x17\x03\x03\x00\x05garbage-not-a-record")
                time.sleep(0.2)
                tls.close()
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/sendsms.php", str(cert), received, mode
    done.set()
    listener.close()


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "session"])
@pytest.mark.parametrize("status", [True, False], ids=["in-body", "before-status"])
def test_tls_broken_after_the_request_left_is_a_read_error(garbling_tls_server, lean, status):
    """Review: every TLS error was "never sent" (ConnectError, sent again by the next run), also
    one that broke the answer after the service had the request: that one may have arrived."""
    url, ca_file, received, mode = garbling_tls_server
    mode["status"] = status
    client = ts.TargetSMSClient("demo", "demo", url=url, retry=RetryPolicy(base_delay=0.01))
    client._session.verify = ca_file
    if not lean:
        client._direct = None  # requests' own Session.send
    with pytest.raises(ts.TransportError) as info:
        client.send("SHOP", ["79161234567"], "Hi")
    assert type(info.value) is ts.ReadError, info.value.text
    assert len(received) == 1 and received[0].startswith(b"GET /sendsms.php?user=demo&")


def test_repr_has_no_password():
    client = ts.TargetSMSClient("me", SECRET)
    assert SECRET not in repr(client) and "me" in repr(client)


def test_from_env(monkeypatch):
    monkeypatch.setenv("TARGETSMS_USER", "demo")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "demo")
    monkeypatch.setenv("TARGETSMS_URL", "http://127.0.0.1:9/sendsms.php")
    client = ts.TargetSMSClient.from_env(timeout=3)
    assert (client.user, client.url, client.timeout) == (
        "demo",
        "http://127.0.0.1:9/sendsms.php",
        3,
    )


def test_from_env_without_credentials(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ts.InputError) as info:
        ts.TargetSMSClient.from_env()
    assert info.value.code == "missing_credentials"
    assert "TARGETSMS_USER" in str(info.value)


def test_from_env_reads_a_dotenv_file(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("TARGETSMS_USER=fromfile\nTARGETSMS_PASSWORD=x\n")
    monkeypatch.chdir(tmp_path)
    assert ts.TargetSMSClient.from_env().user == "fromfile"
    monkeypatch.delenv("TARGETSMS_USER")
    monkeypatch.delenv("TARGETSMS_PASSWORD")


def test_connection_pool_is_sized_for_concurrency():
    client = ts.TargetSMSClient("u", "p", pool_size=32)
    adapter = client._session.get_adapter("https://sms.targetsms.ru/")
    assert adapter._pool_maxsize == 32


# ---------------------------------------------------------------- retry policy (pure)


def test_backoff_sequence_with_jitter_fixed():
    none = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=lambda: 0.0)
    assert [none.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    full = RetryPolicy(base_delay=0.5, max_delay=4.0, jitter=lambda: 0.999999)
    assert [round(full.backoff(n), 3) for n in range(1, 5)] == [0.5, 0.5, 1.0, 2.0]


def test_retry_predicates():
    never_left = ts.ConnectError(text="refused")
    maybe = ts.ReadError(text="reset")
    throttled = protocol.error_for_code("duplicate_request")
    assert should_retry_send(never_left)
    assert not should_retry_send(maybe)
    assert not should_retry_send(throttled)
    assert should_retry_read(maybe) and should_retry_read(throttled)
    assert not should_retry_read(ts.UnknownResponseError(text="?"))
    assert not should_retry_read(protocol.error_for_code("account_blocked"))


# ---------------------------------------------------------------- operations


def test_send_to_one_number(client, emulator):
    (sms_id,) = client.send("SHOP", "79161234567", "Привет!")
    assert emulator.messages[sms_id].phone == "79161234567"


def test_send_to_several_numbers_keeps_the_order(client, emulator):
    phones = ["79161234567", "79261234567", "79031234567"]
    ids = client.send("SHOP", phones, "Hello")
    assert len(ids) == 3 and len(set(ids)) == 3
    assert [emulator.messages[i].phone for i in ids] == phones
    assert f"&dadr={','.join(phones)}&" in sends(emulator)[0]["query"]  # commas stay literal


def test_status_and_detail_before_and_after_final(unthrottled):
    emulator, client = unthrottled
    (sms_id,) = client.send("SHOP", ["79161234567"], "Hello there")
    assert client.status(sms_id) == "send"
    detail = client.status_detail(sms_id)
    assert detail.state == "send" and detail.changed_at is None
    assert detail.num_parts == 1 and detail.price > 0
    emulator.advance(3600)
    final = emulator.state_of(sms_id)
    assert final in ts.FINAL_STATES
    assert client.status(sms_id) == final
    after = client.status_detail(sms_id)
    assert after.state == final and after.is_final
    assert after.changed_at is not None and after.changed_at.tzinfo is not None
    assert after.changed_at.utcoffset().total_seconds() == 3 * 3600
    assert after.cost == pytest.approx(after.num_parts * after.price)


def test_balance_goes_down_by_parts_times_price(unthrottled):
    emulator, _ = unthrottled
    emulator.add_account("rich", "rich", balance=1000.0)
    rich = ts.TargetSMSClient("rich", "rich", url=emulator.url, throttle_interval=0.0)
    before = rich.balance()
    assert before.currency == "RUR" and before.amount == pytest.approx(1000.0)
    (sms_id,) = rich.send("SHOP", ["79161234567"], "Ж" * 100)  # UCS-2, 2 parts
    detail = rich.status_detail(sms_id)
    assert detail.num_parts == 2
    after = rich.balance()
    assert before.amount - after.amount == pytest.approx(detail.cost, abs=0.01)


def test_snapshot_balance_saves_each_snapshot_in_the_journal(unthrottled, tmp_path):
    from targetsms_analytics.journal import Journal

    _, client = unthrottled
    path = tmp_path / "snapshots.sqlite3"
    first = ts.snapshot_balance(client, store=path)
    client.send("SHOP", ["79161234567", "79261234567"], "x" * 200)  # 2 parts each
    second = ts.snapshot_balance(client, store=str(path))
    client.balance()  # a plain balance: no snapshot
    with Journal(path) as journal:
        snapshots = journal.balance_snapshots()
        history = journal.package_history()
    assert snapshots["amount"].tolist() == [first.amount, second.amount]
    assert snapshots["taken_at"].is_monotonic_increasing
    assert len(history) == len(first.packages) + len(second.packages)
    spend = ts.spend_between(snapshots)
    assert spend["spent"].iloc[0] == pytest.approx(first.amount - second.amount)


def test_balance_packages_frame(client):
    balance = client.balance()
    assert list(balance.packages.columns) == ["direction", "remaining"]
    assert "Россия" in set(balance.packages["direction"])


# ---------------------------------------------------------------- errors


def test_local_checks_raise_the_service_codes_without_a_request(client, emulator):
    cases = [
        (("", ["79161234567"], "x"), "sender_missing"),
        (("ABCDEFGHIJKL", ["79161234567"], "x"), "sender_too_long"),
        (("1234567890123456", ["79161234567"], "x"), "sender_too_long"),
        (("SHOP", ["79161234567"], "  "), "text_missing"),
        (("SHOP", [], "x"), "phone_missing"),
        (("SHOP", ["7916123456789012"], "x"), "phone_too_long"),
    ]
    for args, code in cases:
        with pytest.raises(ts.TargetSMSError) as info:
            client.send(*args)
        assert info.value.code == code
        assert info.value.text == ERROR_TEXTS[code]
    assert emulator.log == []
    assert client.send("79001234567", ["79161234567"], "a numeric sender is fine")


# Each service-side error, reached by a real condition through HTTP.
SERVICE_ERRORS = [
    ("account_blocked", ts.AccountError, "blocked", ("SHOP", ["79161234567"], "x")),
    ("phone_stop_listed", ts.RecipientError, "demo", ("SHOP", ["79000000000"], "x")),
    ("direction_closed_for_account", ts.RecipientError, "demo", ("SHOP", ["77011234567"], "x")),
    ("direction_closed", ts.RecipientError, "demo", ("SHOP", ["447911123456"], "x")),
    ("text_rejected", ts.ContentError, "demo", ("SHOP", ["79161234567"], "Казино!")),
    ("link_missing", ts.ContentError, "demo", ("LINKS", ["79161234567"], "no link")),
    ("sender_unknown", ts.SenderError, "demo", ("NOSUCH", ["79161234567"], "x")),
    ("sender_not_moderated", ts.SenderError, "demo", ("NEWBRAND", ["79161234567"], "x")),
]


@pytest.mark.parametrize(
    "code,family,user,args", SERVICE_ERRORS, ids=[c[0] for c in SERVICE_ERRORS]
)
def test_service_errors_through_http(make_client, emulator, code, family, user, args):
    client = make_client(user, user)
    with pytest.raises(family) as info:
        client.send(*args)
    assert info.value.code == code
    assert info.value.text == ERROR_TEXTS[code]
    assert len(sends(emulator)) == 1  # API errors are answers: never retried


def test_out_of_sms_and_provider_out_of_sms(emulator):
    emulator.add_account("pkg", "pkg", package_only=True, packages={"Россия": 0})
    client = ts.TargetSMSClient("pkg", "pkg", url=emulator.url, throttle_interval=1.0)
    with pytest.raises(ts.AccountError) as info:
        client.send("SHOP", ["79161234567"], "x")
    assert info.value.code == "out_of_sms"
    emulator.provider_sms_left = 0
    demo = ts.TargetSMSClient("demo", "demo", url=emulator.url, throttle_interval=1.0)
    with pytest.raises(ts.AccountError) as info:
        demo.send("SHOP", ["79161234567"], "y")
    assert info.value.code == "provider_out_of_sms"


def test_insufficient_funds_is_queued(emulator):
    emulator.add_account("poor", "poor", balance=0.5)
    client = ts.TargetSMSClient("poor", "poor", url=emulator.url, throttle_interval=1.0)
    with pytest.raises(ts.QueuedForFundsError) as info:
        client.send("SHOP", ["79161234567"], "x")
    assert info.value.code == "insufficient_funds"
    assert emulator.sent_phones("poor") == []
    emulator.top_up("poor", 100)
    assert emulator.sent_phones("poor") == ["79161234567"]


def test_every_error_text_from_the_service_maps_to_its_code(emulator):
    """Requests the client would refuse locally, sent raw, so the service's own answers are seen."""
    raw = [
        ({"sadr": "", "dadr": "79161234567", "text": "x"}, "sender_missing"),
        ({"sadr": "ABCDEFGHIJKL", "dadr": "79161234567", "text": "x"}, "sender_too_long"),
        ({"sadr": "SHOP", "dadr": "79161234567", "text": ""}, "text_missing"),
        ({"sadr": "SHOP", "dadr": "", "text": "x"}, "phone_missing"),
        ({"sadr": "SHOP", "dadr": "7916123456789012", "text": "x"}, "phone_too_long"),
    ]
    for params, code in raw:
        body = requests.get(emulator.url, params={"user": "demo", "pwd": "demo", **params}).text
        assert protocol.match_error(body) == code, body


def test_wrong_password_is_an_unknown_response(make_client):
    client = make_client("demo", "wrong")
    with pytest.raises(ts.UnknownResponseError) as info:
        client.balance()
    assert info.value.code == "unknown_response" and info.value.text


def test_unknown_sms_id_is_an_unknown_response(client):
    with pytest.raises(ts.UnknownResponseError):
        client.status_detail("1")


# ---------------------------------------------------------------- throttling


def test_identical_read_waits_out_the_interval_and_succeeds():
    clock = FakeClock()
    service = FakeService(clock, interval=60.0)
    client = fake_client(service, clock, throttle_interval=60.0)
    assert client.status("7") == "send"
    clock.now += 10.0
    assert client.status("7") == "send"
    assert clock.slept == [50.0]  # the rest of the interval, on the client's clock
    assert service.refused == 0 and [t for t, _ in service.log] == [1000.0, 1060.0]


def test_identical_read_through_the_emulator_is_never_refused(make_client, emulator):
    emulator.throttle_interval = 0.2  # the emulator keeps real time: a short window
    client = make_client(throttle_interval=0.2)
    (sms_id,) = client.send("SHOP", ["79161234567"], "x")
    client.status(sms_id)
    assert client.status(sms_id) == "send"
    answers = [e["answer"] for e in emulator.log if e["op"] == "status"]
    assert len(answers) == 2 and not any("Попытка" in a for a in answers)


def test_throttled_read_from_elsewhere_waits_and_succeeds():
    clock = FakeClock()
    service = FakeService(clock, interval=60.0)
    first = fake_client(service, clock, throttle_interval=60.0)
    second = fake_client(service, clock, throttle_interval=60.0)  # they share no memory
    first.status_detail("7")
    clock.now += 5.0
    assert second.status_detail("7").state == "send"
    assert service.refused == 1 and len(service.log) == 3
    # it knew nothing of the first read: refused, it waits a whole interval from the refusal
    assert clock.slept == [pytest.approx(60.05)]
    assert service.log[-1][0] - service.log[0][0] >= 60.0


def test_duplicate_send_is_not_retried(client, emulator):
    client.send("SHOP", ["79161234567"], "same text")
    with pytest.raises(ts.ThrottledError) as info:
        client.send("SHOP", ["79161234567"], "same text")
    assert info.value.code == "duplicate_request"
    assert len(sends(emulator)) == 2
    assert emulator.sent_phones() == ["79161234567"]


def test_different_reads_are_not_throttled():
    clock = FakeClock()
    client = fake_client(FakeService(clock, interval=60.0), clock, throttle_interval=60.0)
    for sms_id in ("1", "2", "3"):
        client.status_detail(sms_id)
    client.status("1")  # a status is not the same request as a detailed status
    assert clock.slept == []


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("fault", ["error_5xx", "reset_before"])
def test_reads_retry_through_5xx_and_resets(client, emulator, fault):
    (sms_id,) = client.send("SHOP", ["79161234567"], "x")
    emulator.inject(fault, count=2, op="detail")
    assert client.status_detail(sms_id).state == "send"
    assert [e["fault"] for e in emulator.log if e["op"] == "detail"] == [fault, fault, None]


def test_read_whose_answer_was_dropped_is_retried(make_client, emulator):
    emulator.throttle_interval = 0.2  # a short real window: the emulator keeps real time
    client = make_client(throttle_interval=0.2)
    emulator.inject("drop_after", count=1, op="balance")
    assert client.balance().currency == "RUR"
    # the dropped one counted as a request: the retry was refused, waited, then answered
    balance_log = [e for e in emulator.log if e["op"] == "balance"]
    assert [e["fault"] for e in balance_log] == ["drop_after", None, None]
    assert "Попытка" in balance_log[1]["answer"]


def test_garbled_html_on_a_read_is_retried_as_a_transport_fault(client, emulator):
    emulator.inject("garble", count=1, op="balance")
    try:
        assert client.balance().currency == "RUR"
    except ts.UnknownResponseError:
        pytest.fail("a garbled balance answer should not surface when a retry succeeds")
    assert next(e["fault"] for e in emulator.log if e["op"] == "balance") == "garble"


@pytest.mark.parametrize("fault", ["error_5xx", "drop_after", "reset_before"])
def test_send_whose_answer_is_lost_is_never_repeated(client, emulator, fault):
    emulator.inject(fault, count=1, op="send")
    with pytest.raises(ts.ReadError):
        client.send("SHOP", ["79161234567"], "x")
    assert len(sends(emulator)) == 1
    assert emulator.sent_phones() == (["79161234567"] if fault == "drop_after" else [])


def test_garbled_send_answer_is_not_repeated(client, emulator):
    emulator.inject("garble", count=1, op="send")
    with pytest.raises((ts.TransportError, ts.UnknownResponseError)):
        client.send("SHOP", ["79161234567"], "x")
    assert emulator.sent_phones() == ["79161234567"]
    assert len(sends(emulator)) == 1


def _dead_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_dead_port_is_a_connect_error():
    client = ts.TargetSMSClient(
        "demo",
        SECRET,
        url=f"http://127.0.0.1:{_dead_port()}/sendsms.php",
        timeout=2,
        sleep=lambda seconds: None,
    )
    with pytest.raises(ts.ConnectError) as info:
        client.send("SHOP", ["79161234567"], "x")
    with pytest.raises(ts.ConnectError):
        client.balance()
    text = "".join(traceback.format_exception(info.value))
    assert SECRET not in text and quote(SECRET, safe="") not in text


def test_read_timeout_is_a_transport_error(emulator):
    emulator.latency = 1.0
    client = ts.TargetSMSClient(
        "demo", "demo", url=emulator.url, timeout=0.2, retry=RetryPolicy(read_attempts=2)
    )
    with pytest.raises(ts.ReadError):
        client.send("SHOP", ["79161234567"], "x")


# ---------------------------------------------------------------- secrets


def test_no_password_in_exceptions_tracebacks_or_logs(unthrottled, caplog):
    emulator, _ = unthrottled
    emulator.add_account("secret", SECRET, balance=10.0)
    encoded = quote(SECRET, safe="")
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line, query string included
    for name in ("urllib3", "urllib3.connectionpool", "targetsms_analytics"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    client = ts.TargetSMSClient(
        "secret",
        SECRET,
        url=emulator.url,
        throttle_interval=0.0,
        retry=RetryPolicy(base_delay=0.01),
    )
    (sms_id,) = client.send("SHOP", ["79161234567"], "x")
    client.status_detail(sms_id)
    client.balance()
    emulator.inject("error_5xx", count=1, op="balance")
    client.balance()
    failures = []
    for call in (
        lambda: client.send("SHOP", ["79000000000"], "x"),
        lambda: ts.TargetSMSClient(
            "secret",
            SECRET,
            url=f"http://127.0.0.1:{_dead_port()}/sendsms.php",
            retry=RetryPolicy(base_delay=0.01),
        ).balance(),
    ):
        with pytest.raises(ts.TargetSMSError) as info:
            call()
        failures.append(info.value)
    emulator.inject("drop_after", count=1, op="send")
    with pytest.raises(ts.TransportError) as info:
        client.send("SHOP", ["79161234568"], "x")
    failures.append(info.value)

    assert any("sendsms.php?" in r.getMessage() for r in caplog.records), "urllib3 logged no URL"
    for record in caplog.records:
        line = record.getMessage()
        assert SECRET not in line and encoded not in line, line
    for exc in failures:
        text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
        assert SECRET not in text and encoded not in text and encoded.lower() not in text
    assert SECRET not in caplog.text and encoded not in caplog.text
    assert SECRET not in repr(emulator.log) and encoded not in repr(emulator.log)


# ---------------------------------------------------------------- concurrency


def test_client_is_thread_safe(client, emulator):
    ids = client.send("SHOP", [f"7916{n:07d}" for n in range(40)], "x")
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def worker(chunk):
        try:
            for sms_id in chunk:
                results[sms_id] = client.status_detail(sms_id).state
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40 and set(results.values()) == {"send"}


def test_keep_alive_reuses_one_connection():
    with Emulator(throttle_interval=1.0) as emu:
        client = ts.TargetSMSClient("demo", "demo", url=emu.url, throttle_interval=1.0)
        ids = client.send("SHOP", [f"7916{n:07d}" for n in range(50)], "x")
        for sms_id in ids:
            client.status_detail(sms_id)
        assert len({entry["client"] for entry in emu.log}) == 1  # one TCP connection for all 51


# ---------------------------------------------------------------- review additions


class CannedAdapter(requests.adapters.BaseAdapter):
    """A transport that answers every request with ``answer(url)`` (HTTP 200), no network."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer
        self.urls: list[str] = []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        response = requests.Response()
        response.status_code = 200
        response._content = self.answer(request.url).encode("utf-8")
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass


def canned_client(answer, password=SECRET, **settings) -> tuple[ts.TargetSMSClient, CannedAdapter]:
    adapter = CannedAdapter(answer)
    session = requests.Session()
    session.mount("http://", adapter)
    client = ts.TargetSMSClient(
        "me",
        password,
        url=f"http://127.0.0.1:{_dead_port()}/sendsms.php",
        session=session,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.02, jitter=lambda: 0.0),
        **settings,
    )
    return client, adapter


def chain_text(exc: BaseException) -> str:
    """Everything an exception can show: its traceback and every chained exception's text."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), getattr(seen, "text", "")]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def assert_no_secret(text: str, secret: str = SECRET) -> None:
    encoded = quote(secret, safe="")
    assert secret not in text and encoded not in text and encoded.lower() not in text, text


def test_concurrent_identical_reads_are_sent_one_interval_apart():
    clock = FakeClock()
    service = FakeService(clock, interval=60.0)
    client = fake_client(service, clock, throttle_interval=60.0)
    start = threading.Barrier(3)

    def read():
        start.wait()
        client.status("7")

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(service.log) == 3 and service.refused == 0
    stamps = sorted(t for t, _ in service.log)
    assert all(b - a >= 60.0 for a, b in itertools.pairwise(stamps))


def test_transport_errors_chain_no_secret(emulator):
    client = ts.TargetSMSClient(
        "demo", SECRET, url=f"http://127.0.0.1:{_dead_port()}/sendsms.php", retry=RetryPolicy(0)
    )
    for call in (lambda: client.send("SHOP", ["79161234567"], "x"), client.balance):
        with pytest.raises(ts.TransportError) as info:
            call()
        assert_no_secret(chain_text(info.value))


def test_tracebacks_with_locals_show_no_password():
    """IPython's verbose mode, rich and pytest --showlocals print every frame's locals."""
    client = ts.TargetSMSClient(
        "demo",
        SECRET,
        url=f"http://127.0.0.1:{_dead_port()}/sendsms.php",
        retry=RetryPolicy(connect_attempts=2, base_delay=0.01),
    )
    with pytest.raises(ts.TransportError) as info:
        client.status_detail("1")
    frames = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    text = "".join(frames.format())
    assert "params" in text  # the locals are there...
    assert_no_secret(text)  # ...without the password
    assert_no_secret(repr(vars(client)))


def test_unknown_and_html_answers_that_echo_the_url_are_redacted():
    def echo(url):
        return f"Unexpected request {url} (password {SECRET})"

    client, _ = canned_client(echo)
    with pytest.raises(ts.UnknownResponseError) as info:
        client.balance()
    assert "Unexpected request" in info.value.text
    assert_no_secret(chain_text(info.value))

    client, _ = canned_client(lambda url: f"<html><body>404: {url}</body></html>")
    with pytest.raises(ts.TransportError) as info:
        client.send("SHOP", ["79161234567"], "x")
    assert "html" in info.value.text.lower()
    assert_no_secret(chain_text(info.value))


def test_a_session_passed_in_is_used_as_is():
    client, adapter = canned_client(lambda url: "1179038981")
    assert client.send("SHOP", ["79161234567"], "x") == ["1179038981"]
    assert len(adapter.urls) == 1


def test_own_session_identifies_the_client():
    from targetsms_analytics.client import USER_AGENT

    assert ts.TargetSMSClient("u", "p")._session.headers["User-Agent"] == USER_AGENT


def test_from_env_takes_an_explicit_url(monkeypatch):
    monkeypatch.setenv("TARGETSMS_USER", "demo")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "demo")
    monkeypatch.setenv("TARGETSMS_URL", "http://127.0.0.1:9/sendsms.php")
    client = ts.TargetSMSClient.from_env(url="http://127.0.0.1:10/sendsms.php")
    assert client.url == "http://127.0.0.1:10/sendsms.php"


def test_read_marks_do_not_grow_without_bound():
    """One mark per id read: a long session over a big campaign must not keep them all."""
    client, _ = canned_client(lambda url: "send", password="pw", throttle_interval=0.0)
    for n in range(3000):
        client.status(str(n))
    assert len(client._last_read) < 2100


def test_connection_refused_is_retried_with_backoff_for_every_operation(caplog):
    caplog.set_level(logging.WARNING, logger="targetsms_analytics")
    client = ts.TargetSMSClient(
        "demo",
        "demo",
        url=f"http://127.0.0.1:{_dead_port()}/sendsms.php",
        retry=RetryPolicy(connect_attempts=3, base_delay=0.01, jitter=lambda: 0.0),
    )
    for call in (lambda: client.send("SHOP", ["79161234567"], "x"), client.balance):
        caplog.clear()
        with pytest.raises(ts.TransportError):
            call()
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert len(retries) == 2
        assert "retrying in 0.01s" in retries[0] and "retrying in 0.02s" in retries[1]


def test_a_numeric_sender_means_ascii_digits():
    from targetsms_analytics.protocol import validate_send

    with pytest.raises(ts.SenderError) as info:
        validate_send("١٢٣٤٥٦٧٨٩٠١٢", ["79161234567"], "x")  # 12 Arabic-Indic digits
    assert info.value.code == "sender_too_long"
    validate_send("790012345678901", ["79161234567"], "x")  # 15 digits: fine


def test_retry_budget_is_counted_per_kind():
    policy = RetryPolicy(connect_attempts=5, read_attempts=2, throttle_attempts=3)
    assert policy.budget(protocol.error_for_code("duplicate_request")) == ("throttled", 3)
    assert policy.budget(ts.ConnectError()) == ("transport", 5)
    assert policy.budget(ts.ReadError()) == ("transport", 2)


def test_a_none_phone_is_a_missing_phone(client, emulator):
    with pytest.raises(ts.RecipientError) as info:
        client.send("SHOP", ["79161234567", None], "x")
    assert info.value.code == "phone_missing"
    assert emulator.log == []


# ---------------------------------------------------------------- issue 8 and 12 regressions

_HANG_SCRIPT = """
import gc, logging, sys, threading, time
import targetsms_analytics as ts

log = logging.getLogger("targetsms_analytics")
log.propagate = False
log.addHandler(logging.NullHandler())
stop = time.monotonic() + float(sys.argv[1])

def make():
    while time.monotonic() < stop:
        client = ts.TargetSMSClient("u", "secret-password", url="http://127.0.0.1:9/sendsms.php")
        client.me = client  # a reference cycle: only the garbage collector frees it

def warn():
    while time.monotonic() < stop:
        log.warning("throttled %s", "again")

gc.set_threshold(1, 1, 1)
threads = [threading.Thread(target=make) for _ in range(2)]
threads += [threading.Thread(target=warn) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("done")
"""


def test_logging_never_hangs_when_a_dead_client_is_finalized_inside_a_log_call():
    """Issue 8.1: the filter and the finalizer shared a lock; the old code hangs within seconds."""
    import subprocess
    import sys

    try:
        out = subprocess.run(
            [sys.executable, "-c", _HANG_SCRIPT, "5"], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail("logging hung: a finalizer blocked inside the log filter")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"


def test_each_client_has_its_own_log_filter_that_retires_with_it():
    import gc

    from targetsms_analytics import client as client_mod

    assert not hasattr(client_mod, "_SECRETS")  # no process-wide registry of passwords
    first = ts.TargetSMSClient("me", "first-password", url="http://127.0.0.1:1/sendsms.php")
    guard = first._log_guard
    for name in client_mod._GUARDED_LOGGERS:
        assert guard in logging.getLogger(name).filters
    del first
    gc.collect()
    assert guard.secret is None  # retired by the finalizer, without a lock
    second = ts.TargetSMSClient("me", "second-password", url="http://127.0.0.1:1/sendsms.php")
    filters = logging.getLogger("urllib3.connectionpool").filters
    assert guard not in filters and second._log_guard in filters


def test_log_records_are_cleaned_of_every_live_clients_password(caplog):
    caplog.set_level(logging.INFO, logger="targetsms_analytics")
    clients = [  # noqa: F841 - they must stay alive
        ts.TargetSMSClient("a", "alpha-secret", url="http://127.0.0.1:1/sendsms.php"),
        ts.TargetSMSClient("b", SECRET, url="http://127.0.0.1:1/sendsms.php"),
    ]
    try:
        raise ValueError(f"boom {SECRET}")
    except ValueError:
        logging.getLogger("targetsms_analytics").exception("GET ?pwd=%s and alpha-secret", SECRET)
    assert "alpha-secret" not in caplog.text
    assert_no_secret(caplog.text)
    assert "boom" in caplog.text  # the traceback is kept, cleaned


BAD_URLS = [
    "http://evil.example\\@127.0.0.1:8000/sendsms.php",  # urllib3 connects to evil.example
    "http://evil.example\\.127.0.0.1:8000/sendsms.php",
    "http://user:pw@127.0.0.1:8000/sendsms.php",
    "https://user@sms.targetsms.ru/sendsms.php",
    "http://127.0.0.1:8000/send sms.php",
    "http://127.0.0.1:8000/sendsms.php\t",
    "http://127.0.0.1\n.evil.example/sendsms.php",
    "http://127.0.0.1:8000/\x00",
    "http://127.0.0.1:8000/\x7f",
    "http://127.0.0.1\u200b.evil.example/sendsms.php",
    "http://127.0.0.1:99999/sendsms.php",
    "http://127.0.0.1:8000/sendsms.php?pwd=x",
    "http://127.0.0.1:8000/sendsms.php#frag",
    "http:///sendsms.php",
    "sms.targetsms.ru/sendsms.php",
    "ftp://127.0.0.1/sendsms.php",
]


@pytest.mark.parametrize("url", BAD_URLS, ids=range(len(BAD_URLS)))
def test_urls_read_differently_by_parsers_or_with_userinfo_are_refused(url):
    with pytest.raises(ts.InputError) as info:
        ts.TargetSMSClient("me", SECRET, url=url)
    assert info.value.code == "invalid_url" and info.value.field == "url"
    assert isinstance(info.value, ValueError)


def test_the_loopback_rule_is_checked_on_the_host_urllib3_connects_to():
    with pytest.raises(ts.InputError) as info:
        ts.TargetSMSClient("me", "pw", url="http://127.0.0.2.evil.example:80/sendsms.php")
    assert info.value.code == "invalid_url" and "refusing plain http://" in info.value.text
    ts.TargetSMSClient("me", "pw", url="http://LOCALHOST:8000/sendsms.php")
    ts.TargetSMSClient("me", "pw", url="http://[::1]:8000/sendsms.php")


def test_a_url_with_a_password_is_never_echoed():
    for url in ("ftp://ftpuser:hunter2-secret@files.example/x", "http://u:hunter2-secret@h/x"):
        with pytest.raises(ts.InputError) as info:
            ts.TargetSMSClient("me", "pw", url=url)
        assert "hunter2-secret" not in chain_text(info.value)
        assert "ftpuser" not in chain_text(info.value) and "files.example" not in str(info.value)


def test_dotenv_of_a_parent_folder_is_not_read(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        "TARGETSMS_USER=parent\nTARGETSMS_PASSWORD=x\nTARGETSMS_URL=http://127.0.0.1:9/x\n"
    )
    child = tmp_path / "a" / "b"
    child.mkdir(parents=True)
    monkeypatch.chdir(child)
    monkeypatch.delenv("TARGETSMS_URL", raising=False)
    assert not ts.credentials_available()
    with pytest.raises(ts.InputError) as info:
        ts.TargetSMSClient.from_env()
    assert info.value.code == "missing_credentials"
    import os

    assert "TARGETSMS_URL" not in os.environ


def _interrupt_main_when_it_waits_for_an_answer(main: int, done: threading.Event) -> None:
    """Send SIGINT (Ctrl-C) to the main thread once it is blocked reading the HTTP answer."""
    import signal
    import sys

    while not done.is_set():
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code.co_name in ("readinto", "_read_status", "getresponse"):
                signal.pthread_kill(main, signal.SIGINT)
                return
            frame = frame.f_back
        done.wait(0.005)


def test_ctrl_c_during_a_request_leaves_no_password_in_traceback_locals():
    """Issue 8.5: urllib3's frames hold the full query string; %xmode Verbose printed it."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    # Ctrl-C as in a terminal or a notebook: a process started in the background (CI, nohup)
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_request()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_request() -> None:
    with Emulator(throttle_interval=0.0, latency=30.0) as emu:
        client = ts.TargetSMSClient("demo", SECRET, url=emu.url, timeout=60)
        done = threading.Event()
        watcher = threading.Thread(
            target=_interrupt_main_when_it_waits_for_an_answer,
            args=(threading.main_thread().ident, done),
            daemon=True,
        )
        watcher.start()
        try:
            with pytest.raises(KeyboardInterrupt) as info:
                client.balance()
        finally:
            done.set()
            watcher.join()
    frames = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    files = [frame.filename for frame in frames.stack]
    assert any("urllib3" in f or "http/client" in f for f in files)  # interrupted mid-request
    assert_no_secret("".join(frames.format()))


def test_a_clock_going_back_counts_as_just_now():
    """Issue 8.6: with the clock set back, an identical read still waits a whole interval."""
    clock = FakeClock(now=5000.0)
    # The service's own clock only moves with the time really spent (the client's sleeps).
    service = FakeService(lambda: 5000.0 + sum(clock.slept), interval=60.0)
    client = fake_client(service, clock, throttle_interval=60.0)
    client.status("7")
    clock.now -= 3600.0  # the client's clock jumps back an hour
    assert client.read_wait("status", "7") == 60.0
    client.status("7")
    assert clock.slept == [60.0]
    assert service.refused == 0


def _wrapped(reason: Exception) -> requests.exceptions.ConnectionError:
    from urllib3.exceptions import MaxRetryError

    return requests.exceptions.ConnectionError(MaxRetryError(None, "/sendsms.php", reason))


def _never_sent_errors() -> list[Exception]:
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    return [
        requests.exceptions.InvalidURL("Failed to parse: bad port"),
        requests.exceptions.InvalidHeader("bad header"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        _wrapped(NameResolutionError("sms.example", None, socket.gaierror("no such host"))),
        _wrapped(NewConnectionError(None, "Connection refused")),
    ]


def _maybe_sent_errors() -> list[Exception]:
    from urllib3.exceptions import ProtocolError

    return [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectionError(ProtocolError("aborted", ConnectionResetError())),
        requests.exceptions.ChunkedEncodingError("cut"),
    ]


@pytest.mark.parametrize("error", _never_sent_errors(), ids=lambda e: type(e).__name__)
def test_requests_that_certainly_never_left_are_connect_errors(error):
    """Issue 11: a bad URL, DNS failure, refusal, an error before writing: never sent."""

    def fail(request):
        raise error

    client = fake_client(fail)
    with pytest.raises(ts.ConnectError) as info:
        client.send("SHOP", ["79161234567"], "x")
    assert info.value.code == "transport"
    assert should_retry_send(info.value)


@pytest.mark.parametrize("error", _maybe_sent_errors(), ids=lambda e: type(e).__name__)
def test_a_send_that_may_have_arrived_is_a_read_error_and_not_repeated(error):
    calls = []

    def fail(request):
        calls.append(request.url)
        raise error

    client = fake_client(fail)
    with pytest.raises(ts.ReadError):
        client.send("SHOP", ["79161234567"], "x")
    assert len(calls) == 1


def test_a_pooled_connection_idle_too_long_is_not_reused():
    """Issue 8.11: reuse a kept-alive connection only while it is fresh (the server's idle
    timeout could close it just as a send is written, and that send would be unknown)."""
    clock = FakeClock()
    with Emulator(throttle_interval=0.0, keep_alive_timeout=30.0) as emu:
        client = ts.TargetSMSClient(
            "demo", "demo", url=emu.url, throttle_interval=0.0, max_idle=2.0, clock=clock
        )
        client.balance()
        clock.now += 1.0
        client.balance()  # fresh: reused
        clock.now += 2.5
        client.balance()  # idle longer than max_idle: a new connection
        ports = [entry["client"][1] for entry in emu.log]
    assert ports[0] == ports[1] != ports[2]


def test_a_client_drops_idle_connections_before_the_server_does():
    """With max_idle under the server's keep-alive timeout, no send meets a closing connection."""
    with Emulator(throttle_interval=0.0, keep_alive_timeout=0.2) as emu:
        client = ts.TargetSMSClient(
            "demo", "demo", url=emu.url, throttle_interval=0.0, max_idle=0.05
        )
        for _ in range(3):
            assert client.send("SHOP", ["79161234567"], "x")  # never a ReadError
            time.sleep(0.1)  # idle past max_idle (a real pause, not a throttle window)
        assert len({entry["client"] for entry in emu.log}) == 3


def test_a_text_with_nul_is_refused_before_any_request(client, emulator):
    with pytest.raises(ts.InputError) as info:
        client.send("SHOP", ["79161234567"], "Hi\x00there")
    assert info.value.code == "text_invalid" and info.value.field == "text"
    assert "NUL" in str(info.value)
    assert emulator.log == []


def test_throttle_waits_are_logged_at_info_and_faults_at_warning(caplog):
    caplog.set_level(logging.INFO, logger="targetsms_analytics")
    clock = FakeClock()
    service = FakeService(clock, interval=60.0)
    first = fake_client(service, clock, throttle_interval=60.0)
    second = fake_client(service, clock, throttle_interval=60.0)
    first.status("7")
    second.status("7")  # refused (it did not know), waits, answered
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert retries and all(r.levelno == logging.INFO for r in retries)

    caplog.clear()
    flaky = iter([(502, "<html>bad gateway</html>"), (200, "send")])
    fake_client(lambda request: next(flaky)).status("8")
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.WARNING]


def test_balance_with_a_store_still_saves_but_is_deprecated(tmp_path):
    from targetsms_analytics.journal import Journal

    client = fake_client(lambda request: (200, "445.6 RUR\nРоссия:361"))
    path = tmp_path / "j.sqlite3"
    with pytest.warns(DeprecationWarning, match="snapshot_balance"):
        client.balance(store=path)
    with Journal(path) as journal:
        assert journal.balance_snapshots()["amount"].tolist() == [445.6]


def test_the_client_knows_no_emulator():
    import ast
    import inspect

    from targetsms_analytics import client as client_mod

    assert not hasattr(ts.TargetSMSClient("u", "p"), "emulator")
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(client_mod))):
        names |= {getattr(node, "id", ""), getattr(node, "attr", ""), getattr(node, "module", "")}
    assert not [n for n in names if n and "emulator" in n.lower()]  # docstrings aside


def test_a_transport_and_a_session_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        ts.TargetSMSClient(
            "u", "p", session=requests.Session(), transport=HandlerAdapter(lambda r: (200, ""))
        )


_URL_PIECES = st.sampled_from(
    ["127.0.0.1", "localhost", "evil.example", "@", "\\", ":", ":8000", "/", "//", "?", "#", "%40",
     "%5C", " ", "\t", "user", "[::1]", ".", "sendsms.php", "\x00", "\u3002"]
)  # fmt: skip


@given(st.sampled_from(["http://", "https://", "HTTP://"]), st.lists(_URL_PIECES, max_size=8))
@settings(max_examples=300, deadline=None)
def test_an_accepted_url_connects_where_the_loopback_rule_looked(scheme, pieces):
    """Property: whatever the URL, the client refuses it or urllib3 connects to the host we checked."""
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    url = scheme + "".join(pieces)
    try:
        client = ts.TargetSMSClient("me", "pw", url=url)
    except ts.InputError as exc:
        assert exc.code == "invalid_url"
        return
    connects_to = parse_url(client.url).host.strip("[]")
    assert connects_to == urlsplit(client.url).hostname
    assert parse_url(client.url).auth is None
    if client.url.lower().startswith("http://"):
        assert connects_to in ("127.0.0.1", "localhost", "::1")


@pytest.mark.parametrize("how", ["init", "from_env"])
def test_a_refused_client_leaves_no_password_in_traceback_locals(how, monkeypatch, tmp_path):
    """Review: a rejected URL raised from __init__ with the password a plain str local (and a
    half-built client whose repr crashed the capture)."""
    import traceback

    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("TARGETSMS_USER", "u")
    monkeypatch.setenv("TARGETSMS_PASSWORD", "s3cretPW")
    monkeypatch.setenv("TARGETSMS_URL", "http://example.com/sendsms.php")
    with pytest.raises(ts.InputError) as info:
        if how == "init":
            ts.TargetSMSClient("u", "s3cretPW", url="http://example.com/sendsms.php")
        else:
            ts.TargetSMSClient.from_env()
    stack = traceback.TracebackException(info.type, info.value, info.tb, capture_locals=True).stack
    ours = [f for f in stack if "targetsms_analytics" in f.filename]  # the test's own frame
    assert ours and all("s3cretPW" not in str(f.locals) for f in ours)  # quotes it, of course
    assert "s3cretPW" not in str(info.value)


def test_a_password_that_is_not_a_str_is_bad_input():
    with pytest.raises(ts.InputError, match="password"):
        ts.TargetSMSClient("u", 123456)  # type: ignore[arg-type]
    with pytest.raises(ts.InputError):
        ts.TargetSMSClient("u", "   ")
