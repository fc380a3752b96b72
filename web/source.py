"""Turning the request's connection into a SourceRef, and nothing else.

The client's address is read here only to be handed to the node inside a
SourceRef (which hashes it with an in-memory key at once). It is never
logged, stored, or put anywhere else.

- IPv6 addresses are cut to a prefix (`[web] ipv6_prefix`, /56 by default):
  one household or phone is usually given a /56 (or a /64 inside one), so a
  finer key would let one subscriber count as 256 sources, and the prefix
  says less about the host.
- Behind a trusted proxy the address is X-Forwarded-For's last hop, in any
  form proxies write it: `a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]`,
  `[v6]:port`. A last hop that is none of these (a proxy's "unknown" or an
  obfuscated name) is still that client's own key: it never falls back to
  the proxy's address, which every reporter would share.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from node.outcome import SourceRef
from scoring.model import Channel
from web.context import SETTINGS

DEFAULT_IPV6_PREFIX = 56
MAX_FORWARDED_HOP = 100  # characters of an unparseable last hop kept as its key


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # "[v6]" or "[v6]:port"
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # "a.b.c.d:port"
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def address_bytes(text: str | None, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> bytes | None:
    """The key of an address: IPv4 as is, IPv6 cut to its prefix; None when not an address."""
    if not text:
        return None
    address = _parse(text)
    if address is None:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.packed
        network = ipaddress.IPv6Network((address, ipv6_prefix), strict=False)
        return b"v6/" + bytes([ipv6_prefix]) + network.network_address.packed
    return address.packed


def _peer_bytes(request: web.Request, ipv6_prefix: int) -> bytes:
    transport = request.transport
    if transport is None:
        return b""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        found = address_bytes(str(peer[0]), ipv6_prefix)
        if found is not None:
            return found
    return b""  # a unix socket or a vanished peer: one shared identity


def web_source(
    request: web.Request,
    *,
    trust_forwarded_for: bool,
    ipv6_prefix: int = DEFAULT_IPV6_PREFIX,
) -> SourceRef:
    """The SourceRef of a web request (behind a trusted proxy: X-Forwarded-For's last hop)."""
    if trust_forwarded_for:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        if forwarded:
            last = forwarded[-1].rsplit(",", 1)[-1].strip()
            if last:
                found = address_bytes(last, ipv6_prefix)
                hop = last[:MAX_FORWARDED_HOP].encode("utf-8", "replace")
                identity = found if found is not None else b"hop:" + hop
                return SourceRef(Channel.WEB, identity)
    return SourceRef(Channel.WEB, _peer_bytes(request, ipv6_prefix))


def request_source(request: web.Request) -> SourceRef:
    """web_source() with the app's settings ([web] trust_forwarded_for, ipv6_prefix)."""
    settings = request.app[SETTINGS]
    return web_source(
        request,
        trust_forwarded_for=settings.trust_forwarded_for,
        ipv6_prefix=settings.ipv6_prefix,
    )
