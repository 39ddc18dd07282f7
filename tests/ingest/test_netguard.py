"""The SSRF guard: address classification, IPv4 spellings, URL checks, resolution."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from pipeline.errors import BlockedURLError
from pipeline.ingest import netguard
from pipeline.ingest.netguard import check_url, is_public_address, literal_ip, resolve_host
from pipeline.settings import parse_allow_hosts

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "169.254.0.1",
    "100.64.0.1",
    "100.127.255.254",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "2001:db8::1",
    "3fff::1",
    "100::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:0:127.0.0.1",
    "::127.0.0.1",
    "::10.0.0.1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "64:ff9b::127.0.0.1",
    "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::1",
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "11.0.0.1",
    "100.63.255.255",
    "100.128.0.1",
    "169.253.255.255",
    "172.15.255.255",
    "172.32.0.1",
    "192.167.255.255",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:82b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, client 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_accepted(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("10.1.65535", "10.1.255.255"),
        ("169.254.43518", "169.254.169.254"),
        ("[::1]", "::1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_literal_ip_reads_every_ipv4_spelling(host: str, expected: str) -> None:
    assert literal_ip(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    "host", ["example.com", "1.2.3.example", "256.0.0.1", "1.2.3.4.5", "1_0.0.0.1", "08.0.0.1", "+1", ""]
)
def test_literal_ip_leaves_names_alone(host: str) -> None:
    assert literal_ip(host) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/feed",
        "http://localhost/",
        "http://LOCALHOST./admin",
        "http://api.localhost/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[fd00::1]:8080/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://%31%32%37.0.0.1/",
        "http://user:pass@10.0.0.1/",
        "https://192.168.0.1/",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ftp://ftp.example.com/feed.xml",
        "gopher://example.com/",
        "data:text/plain,hi",
        "http:///no-host",
        "//example.com/relative",
        "",
    ],
)
def test_check_url_blocks(url: str) -> None:
    with pytest.raises(BlockedURLError) as info:
        check_url(url)
    assert info.value.url == url
    assert url in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/feed.xml",
        "http://news.example.org:8080/rss?x=1",
        "http://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "HTTPS://Example.COM/",
    ],
)
def test_check_url_allows_public_http(url: str) -> None:
    check_url(url)  # must not raise


def test_allow_hosts_exempts_exact_host_and_port_only() -> None:
    allow = parse_allow_hosts("127.0.0.1:8000, localhost:9000, [::1]:8443")
    check_url("http://127.0.0.1:8000/feed.xml", allow_hosts=allow)
    check_url("http://localhost:9000/", allow_hosts=allow)
    check_url("https://[::1]:8443/", allow_hosts=allow)
    for url in (
        "http://127.0.0.1:8001/",
        "http://127.0.0.1/",
        "http://localhost:8000/",
        "http://[::1]:8000/",
    ):
        with pytest.raises(BlockedURLError):
            check_url(url, allow_hosts=allow)


def test_allow_hosts_uses_the_default_port() -> None:
    check_url("https://10.1.2.3/", allow_hosts=frozenset({"10.1.2.3:443"}))
    with pytest.raises(BlockedURLError):
        check_url("http://10.1.2.3/", allow_hosts=frozenset({"10.1.2.3:443"}))


def test_resolve_host_returns_literals_without_a_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dns(*args: object, **kwargs: object) -> list[object]:
        raise AssertionError("literal addresses must not be looked up")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert resolve_host("0x7f.1", 80) == [ipaddress.ip_address("127.0.0.1")]
    assert resolve_host("::1", 80) == [ipaddress.ip_address("::1")]


def test_resolve_host_keeps_every_distinct_answer_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%2", 80, 0, 2)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
    ]
    monkeypatch.setattr(netguard.socket, "getaddrinfo", lambda *a, **k: answers)
    assert resolve_host("news.example.com", 80) == [
        ipaddress.ip_address("93.184.216.34"),
        ipaddress.ip_address("fe80::1"),
    ]
