"""HttpClient against a local server: limits, redirects, retries, politeness and the SSRF guard."""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from support.local_server import LocalServer, ReceivedRequest, Response

from pipeline.errors import (
    BlockedURLError,
    DeadlineExceededError,
    FetchError,
    RetryLaterError,
    TooLargeError,
)
from pipeline.ingest import netguard
from pipeline.ingest.http import DEFAULT_ACCEPT, FetchRequest, HttpClient, parse_retry_after
from pipeline.models import HttpResult

UA = "chip-news-monitor-tests/0.1 (+https://example.invalid/contact)"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


def make_client(server: LocalServer, **overrides: Any) -> HttpClient:
    options: dict[str, Any] = {
        "user_agent": UA,
        "allow_hosts": server.allow_hosts,
        "per_host_interval": 0.0,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "deadline": 3.0,
    }
    options.update(overrides)
    return HttpClient(**options)


@pytest.fixture
def client(server: LocalServer) -> Iterator[HttpClient]:
    with make_client(server) as c:
        yield c


class FakeResolver:
    """Maps names to addresses and records each lookup."""

    def __init__(self, names: dict[str, Sequence[str]]) -> None:
        self.names = names
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[netguard.IPAddress]:
        self.calls.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in self.names[host]]


# -- the ordinary path ------------------------------------------------------------------------------


def test_fetch_returns_body_and_lower_case_headers(server: LocalServer, client: HttpClient) -> None:
    server.route("/feed.xml", RSS, headers={"Content-Type": "application/rss+xml", "X-Custom": "1"})
    result = client.fetch(server.url("/feed.xml"))
    assert result.status == 200
    assert result.body == RSS
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["x-custom"] == "1"
    assert result.url == result.final_url == server.url("/feed.xml")
    assert not result.not_modified
    assert result.elapsed_s >= 0


def test_sends_the_given_user_agent_and_feed_accept(server: LocalServer, client: HttpClient) -> None:
    server.route("/feed.xml", RSS)
    client.fetch(server.url("/feed.xml"))
    client.fetch(server.url("/feed.xml"), accept="text/html")
    first, second = server.requests_to("/feed.xml")
    assert first.headers["user-agent"] == UA
    assert first.headers["accept"] == DEFAULT_ACCEPT
    assert "application/rss+xml" in first.headers["accept"]
    assert second.headers["accept"] == "text/html"
    assert "gzip" in first.headers["accept-encoding"]
    assert "br" not in first.headers["accept-encoding"]


def test_gzip_and_deflate_bodies_are_decoded(server: LocalServer, client: HttpClient) -> None:
    server.route("/gz", gzip.compress(RSS), headers={"Content-Encoding": "gzip"})
    server.route("/zlib", zlib.compress(RSS), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    server.route("/raw", raw.compress(RSS) + raw.flush(), headers={"Content-Encoding": "deflate"})
    server.route(
        "/two-members",
        gzip.compress(RSS[:20]) + gzip.compress(RSS[20:]),
        headers={"Content-Encoding": "gzip"},
    )
    for path in ("/gz", "/zlib", "/raw", "/two-members"):
        result = client.fetch(server.url(path))
        assert result.body == RSS, path
        # The body is decoded, so headers describing the wire form would mislead a parser.
        assert "content-encoding" not in result.headers
        assert "content-length" not in result.headers


def test_corrupt_gzip_is_a_fetch_error(server: LocalServer, client: HttpClient) -> None:
    server.route("/bad", b"\x1f\x8b\x08\x00garbage-garbage", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="corrupt gzip"):
        client.fetch(server.url("/bad"))


def test_unknown_content_encoding_is_refused(server: LocalServer, client: HttpClient) -> None:
    server.route("/br", b"\x0b\x02\x80hello\x03", headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        client.fetch(server.url("/br"))


# -- conditional GET ------------------------------------------------------------------------------


def test_etag_round_trip_gives_not_modified(server: LocalServer, client: HttpClient) -> None:
    server.conditional("/feed.xml", RSS, etag='"v1"')
    first = client.fetch(server.url("/feed.xml"))
    assert first.status == 200
    assert first.etag == '"v1"'
    second = client.fetch(server.url("/feed.xml"), etag=first.etag)
    assert second == HttpResult(
        url=server.url("/feed.xml"),
        final_url=server.url("/feed.xml"),
        status=304,
        headers=second.headers,
        body=b"",
        elapsed_s=second.elapsed_s,
        not_modified=True,
    )
    assert server.requests_to("/feed.xml")[1].headers["if-none-match"] == '"v1"'
    assert client.fetch(server.url("/feed.xml"), etag='"v0"').status == 200


def test_last_modified_round_trip_gives_not_modified(server: LocalServer, client: HttpClient) -> None:
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.conditional("/feed.xml", RSS, last_modified=stamp)
    first = client.fetch(server.url("/feed.xml"))
    assert first.last_modified == stamp
    second = client.fetch(server.url("/feed.xml"), last_modified=first.last_modified)
    assert second.not_modified
    assert second.status == 304
    assert second.body == b""
    sent = server.requests_to("/feed.xml")
    assert "if-modified-since" not in sent[0].headers
    assert sent[1].headers["if-modified-since"] == stamp


# -- time limits ------------------------------------------------------------------------------------


# A dripping server never lets a read time out; only the overall deadline ends the response (without it
# the drip would run to its own end and the fetch would succeed). Durations are asserted from below only:
# under load a deadline fires late, never early.


def test_header_drip_is_cut_at_the_deadline(server: LocalServer) -> None:
    server.drip_headers("/drip", interval=0.05)
    with make_client(server, deadline=0.6, read_timeout=5.0) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as info:
            client.fetch(server.url("/drip"))
        took = time.monotonic() - started
    assert took >= 0.55
    assert info.value.url == server.url("/drip")


def test_body_drip_is_cut_at_the_deadline(server: LocalServer) -> None:
    server.drip_body("/drip", interval=0.05)
    with make_client(server, deadline=0.6, read_timeout=5.0) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            client.fetch(server.url("/drip"))
        took = time.monotonic() - started
    assert took >= 0.55


def test_silence_longer_than_read_timeout_is_a_plain_timeout(server: LocalServer) -> None:
    server.drip_body("/stall", interval=3.0)
    with make_client(server, deadline=5.0, read_timeout=0.3) as client:
        with pytest.raises(FetchError, match="timed out waiting for data") as info:
            client.fetch(server.url("/stall"))
        assert not isinstance(info.value, DeadlineExceededError)


def test_slow_name_resolution_is_bounded_by_the_deadline(server: LocalServer) -> None:
    release = threading.Event()

    def slow_resolver(host: str, port: int) -> list[netguard.IPAddress]:
        release.wait(5)
        return [ipaddress.ip_address("127.0.0.1")]

    allow = frozenset({f"slow.test:{server.port}"})
    try:
        with make_client(server, allow_hosts=allow, resolver=slow_resolver, deadline=0.5) as client:
            # without the deadline the resolver answers after 5 s and the fetch succeeds
            with pytest.raises(DeadlineExceededError):
                client.fetch(server.url("/", host="slow.test"))
    finally:
        release.set()


# -- size limits ------------------------------------------------------------------------------------


def test_declared_oversize_fails_before_reading(server: LocalServer) -> None:
    # The body only drips, so reading any of it would end at the deadline, not in TooLargeError.
    server.drip_body("/big", declared=50 * 1024 * 1024, interval=1.0)
    with make_client(server, deadline=2.0) as client:
        with pytest.raises(TooLargeError, match="Content-Length 52428800 exceeds the cap of 1048576"):
            client.fetch(server.url("/big"), max_bytes=1024 * 1024)


def test_undeclared_oversize_stops_at_the_cap(server: LocalServer, client: HttpClient) -> None:
    server.oversized("/big", 8 * 1024 * 1024, declare_length=False)
    with pytest.raises(TooLargeError, match="exceeds the cap of 1048576"):
        client.fetch(server.url("/big"), max_bytes=1024 * 1024)


def test_body_exactly_at_the_cap_is_accepted(server: LocalServer, client: HttpClient) -> None:
    server.route("/exact", b"z" * 1000)
    assert len(client.fetch(server.url("/exact"), max_bytes=1000).body) == 1000
    with pytest.raises(TooLargeError):
        client.fetch(server.url("/exact"), max_bytes=999)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compression_bomb_stops_at_the_decompressed_cap(
    server: LocalServer, client: HttpClient, encoding: str
) -> None:
    server.compression_bomb("/bomb", 32 * 1024 * 1024, encoding=encoding)
    with pytest.raises(TooLargeError, match="decompressed"):
        client.fetch(server.url("/bomb"), max_bytes=1024 * 1024)


# -- redirects -------------------------------------------------------------------------------------


def test_redirects_are_followed_and_final_url_reported(server: LocalServer, client: HttpClient) -> None:
    server.route("/new/feed.xml", RSS)
    server.redirect("/old", "/moved", status=301)
    server.redirect("/moved", "new/feed.xml", status=308)  # relative to /moved
    result = client.fetch(server.url("/old"), etag='"e"')
    assert result.body == RSS
    assert result.url == server.url("/old")
    assert result.final_url == server.url("/new/feed.xml")
    assert [r.path for r in server.requests] == ["/old", "/moved", "/new/feed.xml"]
    assert all(r.headers["user-agent"] == UA for r in server.requests)


def test_unusable_redirect_location_is_a_fetch_error(server: LocalServer, client: HttpClient) -> None:
    server.redirect("/r", "http://[::1")
    with pytest.raises(FetchError, match="Invalid URL in location header"):
        client.fetch(server.url("/r"))


def test_redirect_loop_is_refused(server: LocalServer, client: HttpClient) -> None:
    server.redirect_loop("/a", "/b")
    with pytest.raises(FetchError, match="redirect loop"):
        client.fetch(server.url("/a"))
    assert len(server.requests) == 2


def test_too_many_redirects_are_refused(server: LocalServer) -> None:
    start = server.redirect_chain("/hop", 4)
    with make_client(server, max_redirects=3) as client:
        with pytest.raises(FetchError, match="more than 3 redirects"):
            client.fetch(server.url(start))
    with make_client(server, max_redirects=4) as client:
        assert client.fetch(server.url(start)).body == b"end"


@pytest.mark.parametrize(
    "target",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/", "file:///etc/passwd"],
)
def test_redirect_to_a_blocked_target_is_refused(
    server: LocalServer, client: HttpClient, target: str
) -> None:
    server.redirect("/r", target)
    with pytest.raises(BlockedURLError) as info:
        client.fetch(server.url("/r"))
    assert info.value.url.replace("///", "/") == target.replace("///", "/")  # file:/// comes back as file:/
    assert f"redirect from {server.url('/r')}" in str(info.value)


def test_redirect_to_a_local_host_outside_the_allow_list_is_refused(server: LocalServer) -> None:
    with LocalServer() as other, make_client(server) as client:
        other.route("/secret", b"internal")
        server.redirect("/r", other.url("/secret"))
        with pytest.raises(BlockedURLError):
            client.fetch(server.url("/r"))
        assert other.requests == []


def test_redirect_to_a_name_resolving_privately_is_refused_at_connect(server: LocalServer) -> None:
    resolver = FakeResolver({"cdn.example.com": ["10.1.2.3"]})
    server.redirect("/r", "http://cdn.example.com/feed.xml")
    with make_client(server, resolver=resolver) as client:
        with pytest.raises(BlockedURLError, match=r"non-public address 10\.1\.2\.3"):
            client.fetch(server.url("/r"))
    assert resolver.calls == ["cdn.example.com"]


# -- Retry-After ------------------------------------------------------------------------------------


def test_long_retry_after_raises_retry_later(server: LocalServer, client: HttpClient) -> None:
    server.retry_after("/feed", "120", status=429)
    with pytest.raises(RetryLaterError) as info:
        client.fetch(server.url("/feed"))
    assert info.value.retry_after == 120
    assert info.value.status == 429
    assert len(server.requests) == 1


def test_retry_after_as_http_date(server: LocalServer, client: HttpClient) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=600), usegmt=True)
    server.retry_after("/feed", later, status=503)
    with pytest.raises(RetryLaterError) as info:
        client.fetch(server.url("/feed"))
    assert 590 <= info.value.retry_after <= 600
    assert info.value.status == 503


def test_retry_after_is_clamped_to_the_maximum(server: LocalServer) -> None:
    server.retry_after("/feed", "99999999")
    with make_client(server, max_retry_after=900) as client:
        with pytest.raises(RetryLaterError) as info:
            client.fetch(server.url("/feed"))
    assert info.value.retry_after == 900


def test_short_retry_after_sleeps_and_retries_once(server: LocalServer, client: HttpClient) -> None:
    server.retry_after("/feed", "0.3", status=503, then=Response(body=RSS))
    started = time.monotonic()
    result = client.fetch(server.url("/feed"))
    assert result.body == RSS
    assert time.monotonic() - started >= 0.3
    first, second = server.requests_to("/feed")
    assert second.time - first.time >= 0.3


def test_a_past_date_counts_as_zero_and_retries(server: LocalServer, client: HttpClient) -> None:
    server.retry_after("/feed", "Wed, 21 Oct 2015 07:28:00 GMT", then=Response(body=RSS))
    assert client.fetch(server.url("/feed")).body == RSS


def test_only_one_short_retry(server: LocalServer, client: HttpClient) -> None:
    server.retry_after("/feed", "0", times=2)
    with pytest.raises(RetryLaterError) as info:
        client.fetch(server.url("/feed"))
    assert info.value.retry_after == 0
    assert len(server.requests) == 2


def test_503_without_retry_after_is_a_plain_failure(server: LocalServer, client: HttpClient) -> None:
    server.retry_after("/feed", None, status=503)
    with pytest.raises(FetchError) as info:
        client.fetch(server.url("/feed"))
    assert not isinstance(info.value, RetryLaterError)
    assert info.value.status == 503


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("soon", None), ("", None), (None, None), ("nan", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 May 2024 12:01:30 GMT", now=now) == 90.0


# -- other failures ---------------------------------------------------------------------------------


def test_http_error_status_names_the_url(server: LocalServer, client: HttpClient) -> None:
    with pytest.raises(FetchError) as info:
        client.fetch(server.url("/missing"))
    assert info.value.status == 404
    assert info.value.url == server.url("/missing")
    assert server.url("/missing") in str(info.value)


def test_reset_mid_body_is_a_clear_fetch_error(server: LocalServer, client: HttpClient) -> None:
    server.reset_mid_body("/reset")
    with pytest.raises(FetchError, match=r"connection broken mid-response|incomplete response") as info:
        client.fetch(server.url("/reset"))
    assert type(info.value) is FetchError


def test_connection_refused_is_a_clear_fetch_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with HttpClient(user_agent=UA, allow_hosts=frozenset({f"127.0.0.1:{port}"})) as client:
        with pytest.raises(FetchError, match="connection failed"):
            client.fetch(f"http://127.0.0.1:{port}/feed.xml")


def test_unresolvable_name_is_a_fetch_error(server: LocalServer) -> None:
    with make_client(server, resolver=FakeResolver({})) as client:
        with pytest.raises(FetchError, match=r"cannot resolve nowhere\.example"):
            client.fetch("http://nowhere.example/feed.xml")


# -- SSRF guard on the address connected to ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/",  # the server's own port, but no allow entry in this test
        "http://localhost:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f.0.0.1:{port}/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://127.0.0.1/",
    ],
)
def test_blocked_targets_are_never_contacted(server: LocalServer, url: str) -> None:
    resolver = FakeResolver({})
    target = url.format(port=server.port)
    with HttpClient(user_agent=UA, resolver=resolver, per_host_interval=0) as client:
        with pytest.raises(BlockedURLError) as info:
            client.fetch(target)
    assert info.value.url == target
    assert resolver.calls == []
    assert server.requests == []


def test_public_looking_name_resolving_to_loopback_is_blocked_at_connect(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []

    def fake_resolve_host(host: str, port: int) -> list[netguard.IPAddress]:
        looked_up.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(netguard, "resolve_host", fake_resolve_host)
    with make_client(server) as client:  # allows 127.0.0.1:PORT, not the name
        with pytest.raises(BlockedURLError, match=r"non-public address 127\.0\.0\.1"):
            client.fetch(server.url("/", host="feeds.example.com"))
    assert looked_up == ["feeds.example.com"]
    assert server.requests == []


def test_one_private_answer_among_public_ones_blocks_the_name(server: LocalServer) -> None:
    resolver = FakeResolver({"mixed.example.com": ["93.184.216.34", "127.0.0.1"]})
    with make_client(server, resolver=resolver) as client:
        with pytest.raises(BlockedURLError):
            client.fetch(server.url("/", host="mixed.example.com"))
    assert server.requests == []


def test_allowed_name_connects_to_the_resolved_address_with_its_host_header(server: LocalServer) -> None:
    server.route("/feed.xml", RSS)
    resolver = FakeResolver({"feeds.example.test": ["127.0.0.1"]})
    allow = frozenset({f"feeds.example.test:{server.port}"})
    with make_client(server, allow_hosts=allow, resolver=resolver) as client:
        result = client.fetch(server.url("/feed.xml", host="feeds.example.test"))
    assert result.body == RSS
    assert server.requests[0].headers["host"] == f"feeds.example.test:{server.port}"
    assert resolver.calls == ["feeds.example.test"]


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_tls_checks_the_certificate_against_the_name_not_the_address(tmp_path: Path) -> None:
    cert_file, key_file = _self_signed(tmp_path, "feeds.example.test")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    seen_sni: list[str | None] = []

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen_sni.append(name)

    server_ctx.sni_callback = record_sni
    client_ctx = ssl.create_default_context(cafile=str(cert_file))
    with LocalServer(tls=server_ctx) as server:
        server.route("/feed.xml", RSS)
        names = ["feeds.example.test", "other.example.test"]
        resolver = FakeResolver({n: ["127.0.0.1"] for n in names})
        allow = frozenset(f"{n}:{server.port}" for n in names)
        with make_client(server, allow_hosts=allow, resolver=resolver, ssl_context=client_ctx) as client:
            result = client.fetch(server.url("/feed.xml", host="feeds.example.test"))
            assert result.body == RSS
            assert seen_sni[0] == "feeds.example.test"
            assert server.requests[0].headers["host"] == f"feeds.example.test:{server.port}"
            with pytest.raises(FetchError, match="connection failed"):
                client.fetch(server.url("/feed.xml", host="other.example.test"))
    assert len(server.requests) == 1


# -- fetch_many and politeness ----------------------------------------------------------------------


def test_fetch_many_returns_good_results_despite_bad_ones(server: LocalServer) -> None:
    server.route("/a", b"A")
    server.route("/b", b"B")
    server.reset_mid_body("/reset")

    def resolver(host: str, port: int) -> list[netguard.IPAddress]:
        raise RuntimeError("resolver exploded")

    requests = [
        FetchRequest("a", server.url("/a")),
        FetchRequest("missing", server.url("/missing")),
        FetchRequest("blocked", "http://169.254.169.254/"),
        FetchRequest("reset", server.url("/reset")),
        FetchRequest("surprise", "http://boom.example.com/"),
        FetchRequest("b", server.url("/b"), max_bytes=10),
    ]
    with make_client(server, resolver=resolver) as client:
        results = dict((req.key, res) for req, res in client.fetch_many(requests, concurrency=3))
    assert set(results) == {r.key for r in requests}
    assert isinstance(results["a"], HttpResult) and results["a"].body == b"A"
    assert isinstance(results["b"], HttpResult) and results["b"].body == b"B"
    assert isinstance(results["missing"], FetchError) and results["missing"].status == 404
    assert isinstance(results["blocked"], BlockedURLError)
    assert isinstance(results["reset"], FetchError)
    surprise = results["surprise"]
    assert isinstance(surprise, FetchError)
    assert "unexpected RuntimeError" in str(surprise)
    assert isinstance(surprise.__cause__, RuntimeError)


def test_fetch_many_of_nothing_yields_nothing(client: HttpClient) -> None:
    assert list(client.fetch_many([])) == []


def test_requests_to_one_host_are_spaced(server: LocalServer) -> None:
    server.route("/p", b"ok")
    requests = [FetchRequest(str(i), server.url(f"/p?i={i}")) for i in range(4)]
    with make_client(server, per_host_interval=0.3) as client:
        results = list(client.fetch_many(requests, concurrency=4))
    assert all(isinstance(res, HttpResult) for _req, res in results)
    times = sorted(r.time for r in server.requests)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.25, gaps  # the client spaces starts by 0.3 s; arrival jitter eats a little


def test_different_hosts_proceed_in_parallel(server: LocalServer) -> None:
    # The first request to each host waits at a barrier for the other host's first request: only a client
    # that fetches the two hosts at the same time gets past it (a serial one breaks the barrier, 500).
    first_of_each = threading.Barrier(2, timeout=10)
    seen_hosts: set[str] = set()
    lock = threading.Lock()

    def handler(request: ReceivedRequest) -> Response:
        host = request.headers["host"].split(".")[0]
        with lock:
            first = host not in seen_hosts
            seen_hosts.add(host)
        if first:
            try:
                first_of_each.wait()
            except threading.BrokenBarrierError:
                return Response(status=500, body=b"hosts were fetched one after the other")
        return Response(body=b"ok")

    server.handler("/slow", handler)
    names = ["alpha.test", "beta.test"]
    resolver = FakeResolver({n: ["127.0.0.1"] for n in names})
    allow = frozenset(f"{n}:{server.port}" for n in names)
    requests = [FetchRequest(f"{n}{i}", server.url(f"/slow?{i}", host=n)) for i in range(2) for n in names]
    with make_client(server, allow_hosts=allow, resolver=resolver, per_host_interval=0.5) as client:
        results = list(client.fetch_many(requests, concurrency=4))
    assert all(isinstance(res, HttpResult) and res.status == 200 for _req, res in results), results

    def arrivals(name: str) -> list[float]:
        return sorted(r.time for r in server.requests if r.headers["host"].startswith(name))

    alpha, beta = arrivals("alpha.test"), arrivals("beta.test")
    assert alpha[1] - alpha[0] >= 0.42 and beta[1] - beta[0] >= 0.42  # each host's own spacing holds


def test_server_request_log_records_what_was_sent(server: LocalServer, client: HttpClient) -> None:
    seen: list[ReceivedRequest] = []

    def echo(request: ReceivedRequest) -> Response:
        seen.append(request)
        return Response(body=request.query.encode())

    server.handler("/echo", echo)
    assert client.fetch(server.url("/echo?x=1")).body == b"x=1"
    assert seen == server.requests
    assert seen[0].method == "GET" and seen[0].path == "/echo"
