"""SMS through Twilio's REST API, one message per recipient.

POST {api_url}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded
To, From (or MessagingServiceSid) and Body, with HTTP Basic auth
AccountSid:AuthToken. A retry skips the recipients that already got the
notice (remembered in memory, by notice key). A number Twilio refuses (a
4xx: not a mobile, opted out) does not keep the text from the others: it
is skipped, and the refusal raised once everyone else has had their try.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import aiohttp

from node.channels.base import ChannelError, post

REMEMBER = 200  # notice keys whose recipients are remembered across retries


class TwilioChannel:
    name = "sms"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        to: Sequence[str],
        *,
        from_number: str = "",
        messaging_service_sid: str = "",
        api_url: str = "https://api.twilio.com",
    ) -> None:
        self.url = f"{api_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._headers = {"Authorization": aiohttp.encode_basic_auth(account_sid, auth_token)}
        self.to = list(to)
        self.sender = (
            {"MessagingServiceSid": messaging_service_sid}
            if messaging_service_sid
            else {"From": from_number}
        )
        self._done: OrderedDict[str, set[str]] = OrderedDict()

    def __repr__(self) -> str:  # never show the token
        return "TwilioChannel()"

    async def send(self, http: aiohttp.ClientSession, text: str, key: str) -> None:
        done = self._done.setdefault(key, set())
        while len(self._done) > REMEMBER:
            self._done.popitem(last=False)
        refused: ChannelError | None = None
        for number in self.to:
            if number in done:
                continue
            form = {"To": number, **self.sender, "Body": text}
            try:
                await post(self.name, http, self.url, data=form, headers=self._headers)
            except ChannelError as exc:
                if exc.retry:
                    raise
                refused = exc
            done.add(number)
        self._done.pop(key, None)
        if refused is not None:
            raise refused
