"""The homeserver admin's steps of docs/federation.md (section 2), on a real Synapse.

An ADMIN_TOKEN made as the docs say (register_new_matrix_user --admin with the
shared secret, then a password login), the rate-limit exemption `vecinos matrix
setup` prints for the bot, and the session logged out again. A bot's own token
cannot do it: the bot is never an admin.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from federation.homeserver import Homeserver

pytestmark = pytest.mark.synapse


def register_new_matrix_user(hs: Homeserver, user: str, password: str, *admin: str) -> None:
    script = shutil.which("register_new_matrix_user", path=str(Path(sys.executable).parent))
    assert script is not None, "matrix-synapse installs register_new_matrix_user"
    done = subprocess.run(
        [script, "-c", str(hs.config_path), "-u", user, "-p", password, *admin, hs.base_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


async def log_in(http: aiohttp.ClientSession, hs: Homeserver, user: str, password: str) -> str:
    body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}}
    async with http.post(
        f"{hs.base_url}/_matrix/client/v3/login", json={**body, "password": password}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["access_token"]


async def test_the_documented_admin_token_exempts_the_bot(homeserver: Homeserver) -> None:
    suffix = uuid.uuid4().hex[:6]
    admin, bot = f"admin-{suffix}", f"vecinos-{suffix}"
    register_new_matrix_user(homeserver, admin, "an admin's long password", "--admin")
    register_new_matrix_user(homeserver, bot, "the bot's long password", "--no-admin")
    url = (
        f"{homeserver.base_url}/_synapse/admin/v1/users/"
        f"{homeserver.user_id(bot)}/override_ratelimit"
    )
    async with aiohttp.ClientSession() as http:
        bot_token = await log_in(http, homeserver, bot, "the bot's long password")
        refused = {"Authorization": f"Bearer {bot_token}"}
        async with http.post(url, json={}, headers=refused) as resp:
            assert resp.status == 403  # only a server admin may

        token = await log_in(http, homeserver, admin, "an admin's long password")
        auth = {"Authorization": f"Bearer {token}"}
        async with http.post(url, json={}, headers=auth) as resp:  # the curl `setup` prints
            assert resp.status == 200, await resp.text()
            assert await resp.json() == {"messages_per_second": 0, "burst_count": 0}
        async with http.get(url, headers=auth) as resp:
            assert await resp.json() == {"messages_per_second": 0, "burst_count": 0}

        logout = f"{homeserver.base_url}/_matrix/client/v3/logout"
        async with http.post(logout, headers=auth) as resp:
            assert resp.status == 200
        async with http.get(url, headers=auth) as resp:
            assert resp.status == 401  # the admin session is gone
