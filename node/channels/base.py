"""The one small interface every text channel (Signal, Telegram, SMS) implements.

A channel sends one short text (node.responders.short_text: no
description, under 160 characters) to its configured recipients over an
aiohttp session it is handed. It raises ChannelError: retry=True for what
may pass later (connection refused, timeout, HTTP 429 or 5xx), retry=False
for what never will (a bad token, a refused number). It never logs the
text, a number or a secret.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp

RETRY_STATUSES = frozenset({408, 425, 429})


class ChannelError(Exception):
    """A text was not sent; `retry` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class TextChannel(Protocol):
    """What node.channels.dispatch needs of a channel."""

    name: str

    async def send(self, http: aiohttp.ClientSession, text: str, key: str) -> None:
        """Send `text` to every recipient; `key` names the notice (a retry skips
        recipients that already have it). ChannelError when not sent."""
        ...


def check_status(name: str, status: int) -> None:
    """ChannelError for an HTTP status that is not a success."""
    if 200 <= status < 300:
        return
    retry = status >= 500 or status in RETRY_STATUSES
    raise ChannelError(f"{name}: HTTP {status}", retry=retry)


async def post(
    name: str,
    http: aiohttp.ClientSession,
    url: str,
    **kwargs: object,
) -> None:
    """POST and check the status; network failures are retryable ChannelErrors."""
    try:
        async with http.post(url, **kwargs) as resp:  # type: ignore[arg-type]
            await resp.read()
            check_status(name, resp.status)
    except ChannelError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise ChannelError(f"{name}: {type(exc).__name__}", retry=True) from None
