"""Claim every one-time key of a device, as any account on the homeserver can (/keys/claim).

Used by the tests of keys that cannot run out (tests/federation/test_keys.py,
tests/element). Claims until the homeserver hands out the device's fallback
key (or nothing): returns how many one-time keys and fallback keys it got.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from federation.homeserver import Homeserver

MAX_CLAIMS = 200  # more than any pool (nio keeps 50)


@dataclass(frozen=True)
class Drained:
    one_time: int  # one-time keys claimed
    fallback: bool  # the fallback key was handed out once the pool was empty


async def drain_one_time_keys(hs: Homeserver, user_id: str, device_id: str) -> Drained:
    claimer = await hs.register(f"claimer-{device_id.lower()}", "a claimer's password")
    headers = {"Authorization": f"Bearer {claimer.access_token}"}
    body = {"one_time_keys": {user_id: {device_id: "signed_curve25519"}}}
    one_time = 0
    async with aiohttp.ClientSession(headers=headers) as http:
        for _ in range(MAX_CLAIMS):
            async with http.post(f"{hs.base_url}/_matrix/client/v3/keys/claim", json=body) as r:
                assert r.status == 200, r.status
                got = (await r.json())["one_time_keys"].get(user_id, {}).get(device_id, {})
            if not got:
                return Drained(one_time, False)
            [key] = got.values()
            if key.get("fallback"):
                return Drained(one_time, True)
            one_time += 1
    raise AssertionError(f"more than {MAX_CLAIMS} one-time keys")
