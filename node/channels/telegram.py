"""Telegram through the Bot API: POST {api_url}/bot<token>/sendMessage with chat_id and text.

The token is a secret (from the config or a 0600 file in the data dir): it
is part of the URL, so no URL of this channel is ever logged.
"""

from __future__ import annotations

import aiohttp

from node.channels.base import post


class TelegramChannel:
    name = "telegram"

    def __init__(self, token: str, chat_id: str, api_url: str = "https://api.telegram.org") -> None:
        self._url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self.chat_id = chat_id

    def __repr__(self) -> str:  # never show the token
        return "TelegramChannel()"

    async def send(self, http: aiohttp.ClientSession, text: str, key: str) -> None:
        body = {
            "chat_id": self.chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        await post(self.name, http, self._url, json=body)
