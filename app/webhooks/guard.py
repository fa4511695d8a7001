"""No server-side request forgery (SPEC §5.7): which URLs an endpoint may have, and which
addresses a message may go to.

At creation and before every attempt the URL's host is resolved (through a resolver that tests
replace) and every address must be public; the attempt then connects to the address that was
checked (app/webhooks/client.py pins it), never to a second resolution, so a name that answers a
public address to the check and a private one to the connection (DNS rebinding) gains nothing.
With an egress allow-list, a host outside it is refused before anything is resolved.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from app.config.settings import Settings

MAX_URL_LENGTH = 2000
# The host's addresses for a port, as strings (IPv6 without brackets).
Resolver = Callable[[str, int], Awaitable[list[str]]]
# Unique-local IPv6 (RFC 4193); `is_private` covers it too, named here because SPEC §5.7 names it.
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class UrlRefused(Exception):
    """A URL (or what its host resolves to) that no message may be sent to; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address its attempt connects to."""

    url: httpx.URL
    host: str
    port: int
    address: str


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses, from the system's resolver (in a thread: getaddrinfo blocks)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public(address: str) -> bool:
    """Whether an address is one a message may go to: not loopback, private, link-local (the
    cloud metadata address), unique-local, multicast, reserved or unspecified; an IPv4-mapped IPv6
    address is judged as its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _UNIQUE_LOCAL:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class AddressGuard:
    """The URL rules and the address check of these settings, with a resolver."""

    def __init__(self, settings: Settings, resolver: Resolver = system_resolver) -> None:
        self.allow_private = settings.webhook_allow_private
        self.allowed_hosts = frozenset(settings.webhook_allowed_hosts)
        self.resolver = resolver

    def check_url(self, url: str) -> httpx.URL:
        """The parsed URL when its form is allowed (https, length, no user information, host in
        the allow-list); UrlRefused otherwise. Resolves nothing."""
        if len(url) > MAX_URL_LENGTH:
            raise UrlRefused("too_long")
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise UrlRefused("malformed") from None
        schemes = ("https", "http") if self.allow_private else ("https",)
        if parsed.scheme not in schemes:
            raise UrlRefused("scheme")
        if parsed.userinfo:
            raise UrlRefused("userinfo")
        if not parsed.host:
            raise UrlRefused("malformed")
        if self.allowed_hosts and parsed.host.lower() not in self.allowed_hosts:
            raise UrlRefused("host_not_allowed")
        return parsed

    async def target(self, url: str) -> Target:
        """Check the URL, resolve its host and check every address: the address to connect to."""
        parsed = self.check_url(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        host = parsed.host
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await self.resolver(host, port)
            except (OSError, UnicodeError):
                raise UrlRefused("unresolvable") from None
        if not addresses:
            raise UrlRefused("unresolvable")
        if not self.allow_private and not all(is_public(address) for address in addresses):
            raise UrlRefused("private_address")
        return Target(parsed, host, port, addresses[0])
