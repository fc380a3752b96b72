"""Which push-service endpoints the node sends to: the browsers' push services only.

A subscription's endpoint is a URL the browser got from its push service; the
node POSTs to it. Taken from anyone, it would make the node a request proxy
(server-side request forgery) into the chapter's own network. So:
- by default only the push services of the browsers people use are allowed,
  over HTTPS on port 443 (KNOWN_PUSH_HOSTS: exact hosts, or a suffix
  starting with a dot);
- `[push] allow_hosts = "host:port, ..."` adds hosts the operator trusts (a
  self-hosted push service, the tests' stand-in); these may use http;
- at send time, a known push host must resolve to public addresses only
  (no loopback, private, link-local, multicast or reserved address), so a
  poisoned DNS answer cannot point the node inward.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

MAX_ENDPOINT_CHARS = 1024  # real endpoints are under 500 characters

# The push services of Chrome/Edge/Brave/Opera/Samsung (FCM), Firefox (Mozilla
# autopush), Safari on macOS and iOS (Apple), and Edge on Windows (WNS).
KNOWN_PUSH_HOSTS: tuple[str, ...] = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    ".push.apple.com",
    ".notify.windows.com",
)


class EndpointRefused(ValueError):
    """The endpoint is not a push service the node sends to; `code` is a message id."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class PushHosts:
    """The allow-list: known push services plus the operator's own `allow_hosts`."""

    extra: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, allow_hosts: Iterable[str]) -> PushHosts:
        """From `[push] allow_hosts` entries "host:port" (ValueError names a bad one)."""
        found = set()
        for entry in allow_hosts:
            host, sep, port = entry.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{entry!r} is not host:port")
            found.add((host.strip("[]").lower(), int(port)))
        return cls(frozenset(found))

    def is_known(self, host: str) -> bool:
        return any(
            host == known or (known.startswith(".") and host.endswith(known))
            for known in KNOWN_PUSH_HOSTS
        )

    def is_extra(self, host: str, port: int) -> bool:
        return (host, port) in self.extra

    def check(self, endpoint: object) -> str:
        """The endpoint if the node may send to it, else EndpointRefused."""
        if not isinstance(endpoint, str) or not endpoint:
            raise EndpointRefused("push_endpoint_missing")
        if len(endpoint) > MAX_ENDPOINT_CHARS or any(c.isspace() for c in endpoint):
            raise EndpointRefused("push_endpoint_invalid")
        try:
            parts = urlsplit(endpoint)
            port = parts.port
        except ValueError as exc:
            raise EndpointRefused("push_endpoint_invalid") from exc
        host = (parts.hostname or "").lower()
        if not host or parts.username or parts.password or parts.fragment:
            raise EndpointRefused("push_endpoint_invalid")
        if parts.scheme not in ("https", "http"):
            raise EndpointRefused("push_endpoint_invalid")
        default_port = 443 if parts.scheme == "https" else 80
        if self.is_extra(host, port or default_port):
            return endpoint
        if parts.scheme != "https" or (port not in (None, 443)) or not self.is_known(host):
            raise EndpointRefused("push_endpoint_not_allowed")
        return endpoint


def public_address(address: str) -> bool:
    """True for a globally routable unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    """aiohttp resolver: known push hosts must resolve to public addresses only.

    Hosts the operator added in allow_hosts resolve as they are (they may be
    on loopback, like the tests' stand-in).
    """

    def __init__(self, hosts: PushHosts) -> None:
        self.hosts = hosts
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if self.hosts.is_extra(host.lower(), port):
            return found
        safe = [r for r in found if public_address(r["host"])]
        if not safe:
            raise OSError(f"{host} resolves to no public address")
        return safe

    async def close(self) -> None:
        await self._inner.close()
