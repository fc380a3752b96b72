"""Signal through a signal-cli-rest-api endpoint (github.com/bbernhard/signal-cli-rest-api).

POST {url}/v2/send with JSON {"message", "number", "recipients"}: one
request reaches every recipient (numbers or group ids). The endpoint runs
beside the node (it holds the Signal account); keep it on loopback.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from node.channels.base import post


class SignalChannel:
    name = "signal"

    def __init__(self, url: str, number: str, recipients: Sequence[str]) -> None:
        self.url = url.rstrip("/") + "/v2/send"
        self.number = number
        self.recipients = list(recipients)

    async def send(self, http: aiohttp.ClientSession, text: str, key: str) -> None:
        body = {"message": text, "number": self.number, "recipients": self.recipients}
        await post(self.name, http, self.url, json=body)
