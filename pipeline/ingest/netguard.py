"""The SSRF guard: which URLs and addresses the crawler may fetch.

Feeds and article links come from the outside world, so a link may point at the metadata service, the
database host or the loopback interface. ``check_url`` refuses non-HTTP schemes and literal non-public
addresses up front; ``pipeline.ingest.http`` resolves names itself and vets the address it actually connects to
with ``is_public_address``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import unquote

import httpx

from pipeline.errors import BlockedURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Spelled out rather than read from ``ipaddress.is_global``: its answers changed between 3.11 patch
# releases, and a guard must not move under us.
_V4_BLOCKED: tuple[ipaddress.IPv4Network, ...] = (
    _V4("0.0.0.0/8"),  # "this network"; 0.0.0.0 reaches the local host on Linux
    _V4("10.0.0.0/8"),
    _V4("100.64.0.0/10"),  # carrier-grade NAT
    _V4("127.0.0.0/8"),
    _V4("169.254.0.0/16"),  # link-local, incl. the cloud metadata service 169.254.169.254
    _V4("172.16.0.0/12"),
    _V4("192.0.0.0/24"),  # IETF protocol assignments
    _V4("192.0.2.0/24"),  # documentation (TEST-NET-1)
    _V4("192.88.99.0/24"),  # 6to4 relay anycast
    _V4("192.168.0.0/16"),
    _V4("198.18.0.0/15"),  # benchmarking
    _V4("198.51.100.0/24"),  # documentation (TEST-NET-2)
    _V4("203.0.113.0/24"),  # documentation (TEST-NET-3)
    _V4("224.0.0.0/4"),  # multicast
    _V4("240.0.0.0/4"),  # reserved, incl. broadcast 255.255.255.255
)

# Only global unicast space can be public; inside it, these blocks are not.
_V6_GLOBAL_UNICAST = _V6("2000::/3")
_V6_BLOCKED: tuple[ipaddress.IPv6Network, ...] = (
    _V6("2001::/23"),  # IETF protocol assignments (Teredo is handled before this check)
    _V6("2001:db8::/32"),  # documentation
    _V6("2002::/16"),  # 6to4 (handled before this check; listed so a miss fails closed)
    _V6("3fff::/20"),  # documentation
    _V6("5f00::/16"),  # SRv6 segment identifiers
)
# Forms that carry an IPv4 address in their last 32 bits; they are as public as that address.
_V6_EMBEDDING_LOW32: tuple[ipaddress.IPv6Network, ...] = (
    _V6("::ffff:0:0/96"),  # IPv4-mapped
    _V6("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    _V6("::/96"),  # IPv4-compatible (deprecated); :: and ::1 embed 0.0.0.0 / 0.0.0.1, both blocked
    _V6("64:ff9b::/96"),  # NAT64 well-known prefix
)
_V6_TEREDO = _V6("2001::/32")
_V6_6TO4 = _V6("2002::/16")

# Names that are non-public by definition (RFC 6761, RFC 8375, ICANN's .internal).
_NON_PUBLIC_NAMES = ("localhost", "localhost.localdomain")
_NON_PUBLIC_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address stands for, or ``()`` when it embeds none."""
    if any(ip in net for net in _V6_EMBEDDING_LOW32):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in _V6_6TO4:
        return (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in _V6_TEREDO:
        server, client = ip.teredo or (None, None)
        return tuple(a for a in (server, client) if a is not None)
    return ()


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for addresses on the public internet; every local, private or special range is False."""
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in _V4_BLOCKED)
    if ip.scope_id:
        return False
    embedded = _embedded_ipv4(ip)
    if embedded:
        return all(is_public_address(v4) for v4 in embedded)
    return ip in _V6_GLOBAL_UNICAST and not any(ip in net for net in _V6_BLOCKED)


def _loose_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse the IPv4 spellings that resolvers accept (``2130706433``, ``0x7f.1``, ``0177.0.0.1``).

    Follows inet_aton and the WHATWG URL host parser: 1-4 dot-separated parts, each decimal, octal
    (leading 0) or hex (0x); the last part fills the remaining bytes. None when ``host`` is a name.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        low = part.lower()
        if low.startswith("0x"):
            digits, base, alphabet = low[2:], 16, "0123456789abcdef"
        elif len(low) > 1 and low.startswith("0"):
            digits, base, alphabet = low[1:], 8, "01234567"
        else:
            digits, base, alphabet = low, 10, "0123456789"
        # int() alone would accept "1_0", "+1" and spaces; resolvers do not.
        if (not digits and base == 10) or any(c not in alphabet for c in digits):
            return None
        numbers.append(int(digits, base) if digits else 0)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def literal_ip(host: str) -> IPAddress | None:
    """The address a URL host names literally (any IPv4 spelling, bracket-less IPv6), else None."""
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    return _loose_ipv4(candidate)


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in resolver order; literals are returned without a lookup.

    ``pipeline.ingest.http`` calls this through the module (so tests can monkeypatch it). Raises OSError
    (``socket.gaierror``) when the name does not resolve.
    """
    literal = literal_ip(host)
    if literal is not None:
        return [literal]
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found


def host_key(host: str, port: int) -> str:
    """The ``host:port`` form that ``allow_hosts`` holds (lower case, no brackets, no trailing dot)."""
    return f"{host.strip('[]').rstrip('.').lower()}:{port}"


def check_url(url: str, *, allow_hosts: frozenset[str] = frozenset()) -> None:
    """Raise BlockedURLError unless ``url`` is http(s) with a host that is not a known non-public target.

    Literal addresses in any spelling are vetted here; names are vetted again, on the address actually
    connected to, by ``pipeline.ingest.http``. A ``host:port`` pair in ``allow_hosts`` skips the address checks.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as e:
        raise BlockedURLError(f"invalid URL: {e}", url=url) from e
    scheme = parsed.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(f"scheme {scheme or '(none)'!r} is not allowed, only http and https", url=url)
    host = parsed.raw_host.decode("ascii", errors="replace")
    if not host:
        raise BlockedURLError("URL has no host", url=url)
    port = parsed.port or DEFAULT_PORTS[scheme]
    if host_key(host, port) in allow_hosts:
        return
    # A resolver would also read a percent-decoded host, so vet both spellings.
    for spelling in {host, unquote(host)}:
        ip = literal_ip(spelling)
        if ip is not None and not is_public_address(ip):
            raise BlockedURLError(f"address {ip} is not public", url=url)
        name = spelling.rstrip(".").lower()
        if name in _NON_PUBLIC_NAMES or name.endswith(_NON_PUBLIC_SUFFIXES):
            raise BlockedURLError(f"host {name!r} is not public", url=url)
