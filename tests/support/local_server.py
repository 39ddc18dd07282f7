"""A threaded HTTP server on 127.0.0.1 (random port) for tests, with hostile behaviours built in.

Import it as ``from support.local_server import LocalServer, Response`` (pytest puts ``tests/`` on
``sys.path``). Typical use::

    with LocalServer() as server:
        server.route("/feed.xml", body=rss_bytes, headers={"Content-Type": "application/rss+xml"})
        server.handler("/echo", lambda req: Response(body=req.headers["user-agent"].encode()))
        client = HttpClient(user_agent="test", allow_hosts=server.allow_hosts, per_host_interval=0)
        client.fetch(server.url("/feed.xml"))
        assert server.requests_to("/feed.xml")[0].headers["user-agent"] == "test"

Built-in behaviours: ``redirect``, ``redirect_loop``, ``redirect_chain``, ``retry_after`` (429/503),
``conditional`` (ETag / Last-Modified with 304), ``drip_headers``, ``drip_body``, ``reset_mid_body``,
``oversized``, ``compression_bomb`` / ``gzip_bomb``; ``raw`` gives a handler the connection itself.
``LocalServer(tls=server_ssl_context)`` serves HTTPS.

Routes match the path without its query string; unknown paths get 404. Every request is logged in
``server.requests`` (method, path, lower-case headers, arrival time) before it is answered. Hostile
routes (drips, resets, bombs) stop on their own after a bounded time or size, and when the server stops.
"""

from __future__ import annotations

import email.utils
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

_BOMB_CACHE: dict[tuple[int, str], bytes] = {}
_BOMB_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it; ``time`` is ``time.monotonic()`` when its headers were read."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    time: float
    client_port: int


@dataclass(frozen=True)
class Response:
    """A complete response; ``Content-Length`` and ``Connection: close`` are added for you."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


class Connection:
    """The raw client connection handed to ``LocalServer.raw`` handlers, for misbehaving on purpose."""

    def __init__(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        self._handler = handler
        self._stopping = stopping

    def write(self, data: bytes) -> None:
        """Send bytes as they are (status line and headers included, if you want any)."""
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def send_head(self, status: int, headers: Mapping[str, str]) -> None:
        """Send a status line and headers, nothing else."""
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def sleep(self, seconds: float) -> bool:
        """Wait; False when the server is stopping (the handler should then return)."""
        return not self._stopping.wait(seconds)

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of an orderly close."""
        sock = self._handler.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


Handler = Callable[[ReceivedRequest], Response]
RawHandler = Callable[[ReceivedRequest, Connection], None]


def _reason(status: int) -> str:
    return BaseHTTPRequestHandler.responses.get(status, ("Unknown",))[0]


def _bomb(size: int, encoding: str) -> bytes:
    """``size`` zero bytes compressed with ``encoding`` (gzip, deflate, raw-deflate); cached."""
    key = (size, encoding)
    with _BOMB_LOCK:
        if key not in _BOMB_CACHE:
            wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding]
            compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
            block = bytes(1024 * 1024)
            parts = [compressor.compress(block) for _ in range(size // len(block))]
            parts.append(compressor.compress(bytes(size % len(block))))
            parts.append(compressor.flush())
            _BOMB_CACHE[key] = b"".join(parts)
        return _BOMB_CACHE[key]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._dispatch(self)

    def do_HEAD(self) -> None:
        self.server.owner._dispatch(self)

    def do_POST(self) -> None:
        self.server.owner._dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test output stays readable; ``server.requests`` has what matters

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the connection was reset on purpose or by the client


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalServer


class LocalServer:
    """The test server; use it as a context manager (or ``start()``/``stop()``)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        """``tls`` is a server-side context (certificate loaded) to serve HTTPS instead of HTTP."""
        self._tls = tls
        self._routes: dict[str, RawHandler] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[ReceivedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        server = _Server(("127.0.0.1", 0), _RequestHandler)
        server.owner = self
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return int(self._server.server_address[1])

    @property
    def host_port(self) -> str:
        """``127.0.0.1:PORT``, the form ``HttpClient(allow_hosts=...)`` and NEWS_ALLOW_HOSTS take."""
        return f"127.0.0.1:{self.port}"

    @property
    def allow_hosts(self) -> frozenset[str]:
        return frozenset({self.host_port})

    @property
    def base_url(self) -> str:
        return f"{'https' if self._tls else 'http'}://{self.host_port}"

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """Absolute URL of ``path``; ``host`` replaces 127.0.0.1 (e.g. a name your resolver maps here)."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host or '127.0.0.1'}:{self.port}{path}"

    # -- request log ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path == path]

    # -- routes -----------------------------------------------------------------------------------

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer ``path`` with a fixed response (str bodies are sent as UTF-8)."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        response = Response(status=status, body=data, headers=dict(headers or {}))
        self.handler(path, lambda _req: response)

    def handler(self, path: str, fn: Handler) -> None:
        """Answer ``path`` with whatever ``fn(request)`` returns."""

        def run(request: ReceivedRequest, conn: Connection) -> None:
            self._send(conn, fn(request), head_only=request.method == "HEAD")

        self.raw(path, run)

    def raw(self, path: str, fn: RawHandler) -> None:
        """Let ``fn(request, connection)`` write the response bytes itself (hostile behaviours)."""
        with self._lock:
            self._routes[path] = fn

    # -- built-in hostile and protocol behaviours ------------------------------------------------

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.route(path, status=status, headers={"Location": location})

    def redirect_loop(self, path_a: str, path_b: str) -> None:
        """``path_a`` redirects to ``path_b`` and back, forever."""
        self.redirect(path_a, path_b)
        self.redirect(path_b, path_a)

    def redirect_chain(self, prefix: str, hops: int, body: bytes = b"end") -> str:
        """``prefix/0`` -> ``prefix/1`` -> ... -> ``prefix/<hops>`` (which answers ``body``); returns the start."""
        for i in range(hops):
            self.redirect(f"{prefix}/{i}", f"{prefix}/{i + 1}")
        self.route(f"{prefix}/{hops}", body)
        return f"{prefix}/0"

    def retry_after(
        self,
        path: str,
        retry_after: str | None,
        *,
        status: int = 429,
        times: int = 1,
        then: Response | None = None,
    ) -> None:
        """The first ``times`` requests get ``status`` with ``Retry-After`` (omitted if None), then ``then``."""
        served = {"count": 0}
        final = then or Response(body=b"ok")

        def run(request: ReceivedRequest) -> Response:
            with self._lock:
                served["count"] += 1
                refuse = served["count"] <= times
            if not refuse:
                return final
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return Response(status=status, body=b"slow down", headers=headers)

        self.handler(path, run)

    def conditional(
        self,
        path: str,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve ``body`` with validators; answer 304 when If-None-Match / If-Modified-Since match them."""
        base = dict(headers or {})
        if etag:
            base["ETag"] = etag
        if last_modified:
            base["Last-Modified"] = last_modified

        def run(request: ReceivedRequest) -> Response:
            inm = request.headers.get("if-none-match")
            ims = request.headers.get("if-modified-since")
            if etag and inm is not None:
                fresh = etag in {t.strip() for t in inm.split(",")} or inm.strip() == "*"
            elif last_modified and ims:
                fresh = _http_date(ims) >= _http_date(last_modified)
            else:
                fresh = False
            return Response(status=304, headers=base) if fresh else Response(body=body, headers=base)

        self.handler(path, run)

    def drip_headers(self, path: str, *, interval: float = 0.1, max_seconds: float = 10.0) -> None:
        """Send the status line, then one header byte every ``interval`` seconds, never finishing."""

        def run(request: ReceivedRequest, conn: Connection) -> None:
            conn.write(b"HTTP/1.1 200 OK\r\n")
            self._drip(conn, b"X-Drip: " + b"a" * 10_000, interval, max_seconds)

        self.raw(path, run)

    def drip_body(
        self, path: str, *, interval: float = 0.1, max_seconds: float = 10.0, declared: int = 1_000_000
    ) -> None:
        """Send complete headers (Content-Length ``declared``), then one body byte every ``interval``."""

        def run(request: ReceivedRequest, conn: Connection) -> None:
            conn.send_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(declared)})
            self._drip(conn, b"<", interval, max_seconds, length=declared)

        self.raw(path, run)

    def reset_mid_body(self, path: str, *, sent: int = 4096, declared: int = 100_000) -> None:
        """Promise ``declared`` bytes, send ``sent`` of them, then reset the connection."""

        def run(request: ReceivedRequest, conn: Connection) -> None:
            conn.send_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(declared)})
            conn.write(b"x" * sent)
            conn.sleep(0.05)  # let the client read what was sent before the RST discards it
            conn.reset()

        self.raw(path, run)

    def oversized(self, path: str, size: int, *, declare_length: bool = True) -> None:
        """Stream ``size`` bytes, announced by Content-Length or (``declare_length=False``) by nothing."""

        def run(request: ReceivedRequest, conn: Connection) -> None:
            headers = {"Content-Type": "application/xml"}
            if declare_length:
                headers["Content-Length"] = str(size)
            else:
                headers["Connection"] = "close"  # body ends when the connection closes
            conn.send_head(200, headers)
            block = b"y" * 65536
            left = size
            while left > 0 and not self._stopping.is_set():
                conn.write(block[: min(left, len(block))])
                left -= len(block)

        self.raw(path, run)

    def compression_bomb(self, path: str, size: int = 64 * 1024 * 1024, *, encoding: str = "gzip") -> None:
        """A small body that inflates to ``size`` zero bytes; ``encoding``: gzip, deflate or raw-deflate."""
        header = "deflate" if encoding == "raw-deflate" else encoding
        self.route(
            path, _bomb(size, encoding), headers={"Content-Encoding": header, "Content-Type": "text/xml"}
        )

    def gzip_bomb(self, path: str, size: int = 64 * 1024 * 1024) -> None:
        self.compression_bomb(path, size, encoding="gzip")

    # -- internals --------------------------------------------------------------------------------

    def _drip(
        self, conn: Connection, data: bytes, interval: float, max_seconds: float, *, length: int | None = None
    ) -> None:
        """Send ``length`` bytes (default ``len(data)``) cycling through ``data``, one per ``interval``."""
        until = time.monotonic() + max_seconds
        for i in range(length if length is not None else len(data)):
            if time.monotonic() > until or not conn.sleep(interval):
                return
            conn.write(data[i % len(data) : i % len(data) + 1])

    def _send(self, conn: Connection, response: Response, *, head_only: bool = False) -> None:
        headers = {"Content-Length": str(len(response.body)), "Connection": "close"}
        if response.status in (204, 304):
            del headers["Content-Length"]
        headers.update(response.headers)
        conn.send_head(response.status, headers)
        if response.body and not head_only and response.status not in (204, 304):
            conn.write(response.body)

    def _dispatch(self, handler: _RequestHandler) -> None:
        handler.close_connection = True
        parts = urlsplit(handler.path)
        request = ReceivedRequest(
            method=handler.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            time=time.monotonic(),
            client_port=int(handler.client_address[1]),
        )
        with self._lock:
            self._requests.append(request)
            fn = self._routes.get(parts.path)
        conn = Connection(handler, self._stopping)
        try:
            if fn is None:
                self._send(conn, Response(status=404, body=b"not found"))
            else:
                fn(request, conn)
        except OSError:
            pass  # the client gave up, which is what hostile routes are for


def _http_date(value: str) -> float:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 0.0
