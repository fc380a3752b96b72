"""Turning the request's connection into a SourceRef, and nothing else.

The client's address is read here only to be handed to the node inside a
SourceRef (which hashes it with an in-memory key at once). It is never
logged, stored, or put anywhere else. IPv6 addresses are cut to their /64
prefix: a single host usually holds a whole /64, and the prefix says less.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from node.outcome import SourceRef
from scoring.model import Channel


def _address_bytes(text: str | None) -> bytes | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[v6]:port" from some proxies
        text = text[1 : text.index("]")]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.packed
        return address.packed[:8]
    return address.packed


def _peer_bytes(request: web.Request) -> bytes:
    transport = request.transport
    if transport is None:
        return b""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, tuple) and peer:
        found = _address_bytes(str(peer[0]))
        if found is not None:
            return found
    return b""  # a unix socket or a vanished peer: one shared identity


def web_source(request: web.Request, *, trust_forwarded_for: bool) -> SourceRef:
    """The SourceRef of a web request (behind a trusted proxy: X-Forwarded-For's last hop)."""
    identity = b""
    if trust_forwarded_for:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        if forwarded:
            last = forwarded[-1].rsplit(",", 1)[-1]
            identity = _address_bytes(last) or b""
    if not identity:
        identity = _peer_bytes(request)
    return SourceRef(Channel.WEB, identity)
