"""The project's one HTTP module: bounded, polite, SSRF-guarded GETs of feeds and article pages.

Every fetch is bounded in time (connect and read timeouts plus a wall-clock deadline enforced on each
socket operation, so a server dripping bytes into the headers or the body cannot hold a worker), in
size (decompressed bytes are counted, so a gzip bomb stops at the cap) and in hops (redirects are
followed here, one at a time, and every hop is vetted). Names are resolved here and the connection is
made to a vetted address, while the Host header, TLS SNI and certificate checks keep using the name.
"""

from __future__ import annotations

import email.utils
import logging
import math
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpcore
import httpx

from pipeline.errors import (
    BlockedURLError,
    DeadlineExceededError,
    FetchError,
    RetryLaterError,
    TooLargeError,
)
from pipeline.ingest import netguard
from pipeline.models import HttpResult

log = logging.getLogger(__name__)

FEED_MAX_BYTES = 15 * 1024 * 1024
PAGE_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)
# Only codings we can decompress with a bounded output buffer; br would need a package we do not ship.
ACCEPT_ENCODING = "gzip, deflate"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 503})
_CHUNK = 64 * 1024
_GZIP_WBITS = zlib.MAX_WBITS | 16
# Headers that describe the wire form; the body we return is already decoded.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

Resolver = Callable[[str, int], Sequence[netguard.IPAddress]]


@dataclass(frozen=True)
class FetchRequest:
    """One URL for ``HttpClient.fetch_many``; ``key`` (feed id or article id) comes back with the result."""

    key: str
    url: str
    max_bytes: int = FEED_MAX_BYTES
    etag: str | None = None
    last_modified: str | None = None
    accept: str | None = None


class _BlockedAddressError(Exception):
    """Raised inside the network backend; ``fetch`` turns it into BlockedURLError with the URL."""


class _Deadline:
    """The wall-clock limit of the fetch running on this thread; clamps each socket operation's timeout."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        # Whether the last clamped operation was limited by the deadline rather than its own timeout, so
        # a timeout exception can be told apart from an ordinary read timeout.
        self.binding = False

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def clamp(self, timeout: float | None, exc: type[httpcore.TimeoutException]) -> float:
        left = self.remaining()
        if left <= 0:
            self.binding = True
            raise exc("deadline exceeded")
        if timeout is not None and timeout < left:
            self.binding = False
            return timeout
        self.binding = True
        return left


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read, write and TLS handshake ends by the current fetch's deadline.

    The deadline is looked up per call (not per connection) because pooled connections are reused by
    later fetches on other threads.
    """

    def __init__(self, inner: httpcore.NetworkStream, local: threading.local) -> None:
        self._inner = inner
        self._local = local

    def _clamp(self, timeout: float | None, exc: type[httpcore.TimeoutException]) -> float | None:
        deadline: _Deadline | None = getattr(self._local, "deadline", None)
        return timeout if deadline is None else deadline.clamp(timeout, exc)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(
            ssl_context, server_hostname, self._clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls, self._local)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves the name itself, refuses non-public addresses, connects to a vetted address.

    httpcore still hands the original name to TLS, so SNI and certificate checks use the name.
    """

    def __init__(
        self, *, allow_hosts: frozenset[str], resolver: Resolver | None, local: threading.local
    ) -> None:
        self._allow_hosts = allow_hosts
        self._resolver = resolver
        self._local = local
        self._inner = httpcore.SyncBackend()
        # getaddrinfo cannot be interrupted; running it here lets the caller give up at its deadline.
        self._dns = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns")

    def _resolve(self, host: str, port: int, timeout: float) -> Sequence[netguard.IPAddress]:
        literal = netguard.literal_ip(host)
        if literal is not None:
            return [literal]
        resolver = self._resolver or netguard.resolve_host  # looked up per call so tests can monkeypatch
        future = self._dns.submit(resolver, host, port)
        try:
            return future.result(timeout=timeout)
        except FutureTimeoutError as e:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:.1f}s") from e
        except (OSError, UnicodeError, ValueError) as e:  # gaierror, or an IDNA label the resolver rejects
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        host = host.strip("[]")
        deadline: _Deadline | None = getattr(self._local, "deadline", None)

        def budget() -> float | None:
            return timeout if deadline is None else deadline.clamp(timeout, httpcore.ConnectTimeout)

        addresses = self._resolve(host, port, budget() or 30.0)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        if netguard.host_key(host, port) not in self._allow_hosts:
            refused = [ip for ip in addresses if not netguard.is_public_address(ip)]
            # One non-public answer refuses the name: a mixed answer is the shape of DNS rebinding.
            if refused:
                raise _BlockedAddressError(f"{host} resolves to non-public address {refused[0]}")
        last_error: Exception | None = None
        for ip in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=budget(),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as e:
                last_error = e
                continue
            return _DeadlineStream(stream, self._local)
        raise httpcore.ConnectError(f"cannot connect to {host}:{port}: {last_error}") from last_error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._dns.shutdown(wait=False, cancel_futures=True)


_HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    # Most specific first.
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _as_httpx(e: Exception) -> Exception:
    for source, target in _HTTPCORE_TO_HTTPX:
        if isinstance(e, source):
            return target(str(e) or type(e).__name__)
    return e


class _MappedStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._inner
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as e:
            raise _as_httpx(e) from e

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool that uses ``_GuardedBackend`` for every connection."""

    def __init__(self, backend: _GuardedBackend, ssl_context: ssl.SSLContext, max_connections: int) -> None:
        self._backend = backend
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool.handle_request(core_request)
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as e:
            raise _as_httpx(e) from e
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_MappedStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()
        self._backend.close()


class _HostSpacing:
    """At least ``interval`` seconds between request starts to one host, across threads.

    Each caller reserves the next free slot under the lock and sleeps outside it, so callers for one host
    queue up in order while other hosts proceed.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """The monotonic time at which this caller may start its request to ``host``."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self._interval
            return start


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or HTTP-date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return seconds if math.isfinite(seconds) else None


def _drain(decoder: Any, data: bytes) -> Iterator[bytes]:
    """Feed ``data`` to a zlib decompressor, yielding its output in pieces of at most ``_CHUNK`` bytes."""
    while True:
        out: bytes = decoder.decompress(data, _CHUNK)
        if out:
            yield out
        data = decoder.unconsumed_tail
        if not data and len(out) < _CHUNK:
            return


def _inflate(chunks: Iterable[bytes], coding: str, url: str) -> Iterator[bytes]:
    """Decompress one content-coding with bounded output per step, so a bomb is stopped at the cap."""
    is_gzip = coding in ("gzip", "x-gzip")
    decoder = zlib.decompressobj(_GZIP_WBITS if is_gzip else zlib.MAX_WBITS)
    # "deflate" arrives both zlib-wrapped (as specified) and raw (as some servers send it).
    probing = not is_gzip
    try:
        for chunk in chunks:
            data = chunk
            if probing and data:
                probing = False
                try:
                    out = decoder.decompress(data, _CHUNK)
                except zlib.error:
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = decoder.decompress(data, _CHUNK)
                if out:
                    yield out
                data = decoder.unconsumed_tail
            yield from _drain(decoder, data)
            while is_gzip and decoder.eof and decoder.unused_data.startswith(b"\x1f\x8b"):
                # Concatenated gzip members (RFC 1952 allows them): go on with the next one.
                rest = decoder.unused_data
                decoder = zlib.decompressobj(_GZIP_WBITS)
                yield from _drain(decoder, rest)
        tail = decoder.flush()
        if tail:
            yield tail
    except zlib.error as e:
        raise FetchError(f"corrupt {coding} body: {e}", url=url) from e


def _decoded(raw: Iterable[bytes], content_encoding: str, url: str) -> Iterable[bytes]:
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    stream = raw
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise FetchError(f"unsupported Content-Encoding {coding!r}", url=url)
        stream = _inflate(stream, coding, url)
    return stream


class _Hops:
    """Where one ``fetch`` is: the URL asked for, the hop being requested, and what limits it has used."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.current = url
        self.seen = {url}
        self.redirects = 0
        self.retried = False
        self.deadline: _Deadline | None = None

    def started(self) -> _Deadline:
        assert self.deadline is not None, "the deadline starts with the first request"
        return self.deadline


class HttpClient:
    """Thread-safe HTTP client for feeds and pages; see the module docstring for its guarantees.

    ``deadline`` bounds one ``fetch`` call from its first request start (after any politeness wait):
    redirects, a short Retry-After wait and its retry all fit inside it.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        allow_hosts: frozenset[str] = frozenset(),
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
        deadline: float = 30.0,
        max_redirects: int = 5,
        per_host_interval: float = 1.0,
        short_retry_after: float = 5.0,
        max_retry_after: float = 3600.0,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``resolver`` (host, port) -> addresses replaces DNS (tests); ``ssl_context`` replaces the CA store."""
        self.user_agent = user_agent
        self.allow_hosts = allow_hosts
        self.deadline = deadline
        self.max_redirects = max_redirects
        self.short_retry_after = short_retry_after
        self.max_retry_after = max_retry_after
        self._spacing = _HostSpacing(per_host_interval)
        self._local = threading.local()
        backend = _GuardedBackend(allow_hosts=allow_hosts, resolver=resolver, local=self._local)
        transport = _GuardedTransport(backend, ssl_context or httpx.create_ssl_context(), max_connections=64)
        self._client = httpx.Client(
            transport=transport,
            # No proxies or .netrc from the environment: a proxy would connect on our behalf, unvetted.
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=deadline
            ),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        max_bytes: int = FEED_MAX_BYTES,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> HttpResult:
        """GET ``url``; raises a FetchError subclass on any failure. A 304 gives ``not_modified=True``."""
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        hops = _Hops(url)
        try:
            return self._follow(hops, headers, max_bytes)
        except _BlockedAddressError as e:
            raise BlockedURLError(self._hop_message(str(e), url, hops.current), url=hops.current) from e
        except httpx.HTTPError as e:
            raise self._translate(e, hops) from e
        finally:
            self._local.deadline = None

    def _follow(self, hops: _Hops, headers: dict[str, str], max_bytes: int) -> HttpResult:
        """Request hop after hop until a final answer; every hop is vetted and waits for its host's turn."""
        while True:
            self._check_hop(hops.url, hops.current)
            hops.deadline = self._await_turn(hops.current, hops.deadline)
            self._local.deadline = hops.deadline
            request = self._client.build_request("GET", hops.current, headers=headers)
            response = self._client.send(request, stream=True)
            try:
                result = self._answer(hops, response, max_bytes)
            finally:
                response.close()
            if result is not None:
                return result

    def _answer(self, hops: _Hops, response: httpx.Response, max_bytes: int) -> HttpResult | None:
        """The result of one hop, or None after moving ``hops`` on to the next request (redirect, retry)."""
        status = response.status_code
        current = hops.current
        deadline = hops.started()
        location = response.headers.get("location")
        if status in REDIRECT_STATUSES and location:
            try:  # httpx already rejects most bad Locations while building its own next_request
                target = str(response.url.join(location.strip()))
            except httpx.InvalidURL as e:
                raise FetchError(
                    f"unusable redirect Location {location!r}", url=current, status=status
                ) from e
            hops.redirects += 1
            if hops.redirects > self.max_redirects:
                raise FetchError(f"more than {self.max_redirects} redirects", url=current, status=status)
            if target in hops.seen:
                raise FetchError(f"redirect loop back to {target}", url=current, status=status)
            log.debug("redirect %d: %s -> %s", status, current, target)
            hops.seen.add(target)
            hops.current = target
            return None
        if status == 304:
            return self._result(hops, response, b"", not_modified=True)
        if status in RETRY_STATUSES:
            wait = self._retry_wait(response, current)
            if wait <= self.short_retry_after and not hops.retried and wait < deadline.remaining():
                log.info("%s: HTTP %d, retrying once in %.1fs", current, status, wait)
                hops.retried = True
                time.sleep(wait)
                return None
            raise RetryLaterError(
                f"HTTP {status}, retry after {wait:.0f}s", url=current, status=status, retry_after=wait
            )
        if not 200 <= status < 300:
            raise FetchError(f"HTTP {status}", url=current, status=status)
        return self._result(hops, response, self._read_body(response, current, max_bytes, deadline))

    def _translate(self, e: httpx.HTTPError, hops: _Hops) -> FetchError:
        """The project's error for an httpx failure on the current hop."""
        url = hops.current
        if isinstance(e, httpx.TimeoutException):
            deadline = hops.deadline
            if deadline is not None and (deadline.binding or deadline.remaining() <= 0):
                return DeadlineExceededError(f"no complete response within {self.deadline:g}s", url=url)
            kind = "connecting" if isinstance(e, httpx.ConnectTimeout) else "waiting for data"
            return FetchError(f"timed out {kind}: {e}", url=url)
        if isinstance(e, httpx.ConnectError):
            return FetchError(f"connection failed: {e}", url=url)
        if isinstance(e, httpx.ReadError | httpx.WriteError):
            return FetchError(f"connection broken mid-response ({type(e).__name__}: {e})", url=url)
        if isinstance(e, httpx.RemoteProtocolError):
            # Also how httpx reports a body cut short by an orderly close, or a malformed Location.
            return FetchError(f"invalid or incomplete response: {e}", url=url)
        return FetchError(f"HTTP error {type(e).__name__}: {e}", url=url)

    @staticmethod
    def _hop_message(message: str, url: str, current: str) -> str:
        return message if current == url else f"{message}; reached by redirect from {url}"

    def _check_hop(self, url: str, current: str) -> None:
        try:
            netguard.check_url(current, allow_hosts=self.allow_hosts)
        except BlockedURLError as e:
            if current == url:
                raise
            reason = str(e).removesuffix(f" ({current})")
            raise BlockedURLError(self._hop_message(reason, url, current), url=current) from e

    def _await_turn(self, url: str, deadline: _Deadline | None) -> _Deadline:
        """Wait for this host's politeness slot; the deadline starts at the first request start."""
        host = httpx.URL(url).host.lower()
        start = self._spacing.reserve(host)
        wait = start - time.monotonic()
        if deadline is not None and wait >= deadline.remaining():
            raise DeadlineExceededError(f"no complete response within {self.deadline:g}s", url=url)
        if wait > 0:
            time.sleep(wait)
        return deadline or _Deadline(self.deadline)

    def _retry_wait(self, response: httpx.Response, url: str) -> float:
        seconds = parse_retry_after(response.headers.get("retry-after"))
        if seconds is None:
            raise FetchError(
                f"HTTP {response.status_code} without a usable Retry-After",
                url=url,
                status=response.status_code,
            )
        return min(max(seconds, 0.0), self.max_retry_after)

    def _read_body(self, response: httpx.Response, url: str, max_bytes: int, deadline: _Deadline) -> bytes:
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise TooLargeError(
                f"Content-Length {int(declared)} exceeds the cap of {max_bytes} bytes",
                url=url,
                status=response.status_code,
            )
        body = bytearray()
        for piece in _decoded(response.iter_raw(_CHUNK), response.headers.get("content-encoding", ""), url):
            body += piece
            if len(body) > max_bytes:
                raise TooLargeError(
                    f"body exceeds the cap of {max_bytes} bytes (decompressed)",
                    url=url,
                    status=response.status_code,
                )
            if deadline.remaining() <= 0:
                raise DeadlineExceededError(f"no complete response within {self.deadline:g}s", url=url)
        return bytes(body)

    def _result(
        self, hops: _Hops, response: httpx.Response, body: bytes, *, not_modified: bool = False
    ) -> HttpResult:
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _WIRE_HEADERS}
        deadline = hops.started()
        return HttpResult(
            url=hops.url,
            final_url=hops.current,
            status=response.status_code,
            headers=headers,
            body=body,
            elapsed_s=round(deadline.seconds - deadline.remaining(), 3),
            not_modified=not_modified,
        )

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, concurrency: int = 8
    ) -> Iterator[tuple[FetchRequest, HttpResult | FetchError]]:
        """Fetch concurrently, yielding each result (or its FetchError) as it completes, in any order."""
        if not requests:
            return
        pool = ThreadPoolExecutor(
            max_workers=max(1, min(concurrency, len(requests))), thread_name_prefix="fetch"
        )
        try:
            futures: dict[Future[HttpResult], FetchRequest] = {
                pool.submit(
                    self.fetch,
                    r.url,
                    max_bytes=r.max_bytes,
                    etag=r.etag,
                    last_modified=r.last_modified,
                    accept=r.accept,
                ): r
                for r in requests
            }
            for future in as_completed(futures):
                request = futures[future]
                outcome: HttpResult | FetchError
                try:
                    outcome = future.result()
                except FetchError as e:
                    outcome = e
                except Exception as e:  # one surprise must not stop the other fetches
                    log.warning("%s: unexpected error while fetching", request.url, exc_info=True)
                    outcome = FetchError(f"unexpected {type(e).__name__}: {e}", url=request.url)
                    outcome.__cause__ = e
                yield request, outcome
        finally:
            # A consumer that stops early must not wait for fetches it no longer wants.
            pool.shutdown(wait=False, cancel_futures=True)
