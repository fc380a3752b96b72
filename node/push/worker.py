"""The fan-out worker: a child process that encrypts and posts one change's pushes.

Encrypting a payload per subscriber (RFC 8291) and making thousands of
HTTPS requests is CPU the reporters' event loop must not wait for, so the
node (node.push.sender) hands each fan-out to this process: one JSON line
on stdin per job, one JSON line on stdout per result. Subscriptions cross
the pipe in memory only; nothing is written to disk or logged here but
exception class names.

Job: {"vapid_pem": path, "contact": str, "allow_hosts": [...],
      "headers": {...}, "payloads": {lang: base64}, "concurrency": int,
      "timeout": float, "retry_delay": float,
      "subscriptions": [{"id", "endpoint", "p256dh", "auth", "lang"}, ...]}
Result: {"sent": int, "failed": int, "gone": [ids the push service no longer knows]}

Run by the node as `python -m node.push.worker`; it ends when stdin closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher

from node.push.endpoints import PublicOnlyResolver, PushHosts
from node.push.keys import VapidSigner

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
GONE = frozenset({404, 410})


async def fan_out(job: dict[str, Any]) -> dict[str, Any]:
    """Encrypt and post every subscription of one job (see the module doc)."""
    signer = VapidSigner(Path(job["vapid_pem"]).read_bytes(), job["contact"])
    hosts = PushHosts.parse(job["allow_hosts"])
    payloads = {lang: base64.b64decode(text) for lang, text in job["payloads"].items()}
    headers: dict[str, str] = job["headers"]
    limit = asyncio.Semaphore(int(job["concurrency"]))
    result: dict[str, Any] = {"sent": 0, "failed": 0, "gone": []}
    connector = aiohttp.TCPConnector(
        resolver=PublicOnlyResolver(hosts), limit=int(job["concurrency"]), ttl_dns_cache=300
    )
    timeout = aiohttp.ClientTimeout(sock_connect=job["timeout"], sock_read=job["timeout"])
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False
    ) as client:

        async def one(sub: dict[str, str]) -> None:
            info = {
                "endpoint": sub["endpoint"],
                "keys": {"p256dh": sub["p256dh"], "auth": sub["auth"]},
            }
            async with limit:
                try:
                    body = WebPusher(info).encode(payloads[sub["lang"]], "aes128gcm")["body"]
                except Exception:  # a key the browser gave but that cannot encrypt
                    result["failed"] += 1
                    return
                status = await _post(client, signer, sub["endpoint"], body, headers, job)
            if status is not None and status < 300:
                result["sent"] += 1
            elif status in GONE:
                result["gone"].append(sub["id"])
            else:
                result["failed"] += 1

        await asyncio.gather(*(one(sub) for sub in job["subscriptions"]))
    return result


async def _post(
    client: aiohttp.ClientSession,
    signer: VapidSigner,
    endpoint: str,
    body: bytes,
    headers: dict[str, str],
    job: dict[str, Any],
) -> int | None:
    """The push service's status (after one retry of a retryable one); None: no answer."""
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    status = None
    for attempt in range(2):
        auth = signer.authorization(audience, datetime.now(UTC))  # real time: services check it
        try:
            async with client.post(
                endpoint, data=body, headers={**headers, **auth}, allow_redirects=False
            ) as response:
                status = response.status
                with contextlib.suppress(aiohttp.ClientError):
                    await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = None
        if status is not None and status not in RETRYABLE:
            return status
        if attempt == 0:
            await asyncio.sleep(job["retry_delay"])
    return status


WORKER_NICENESS = 10  # background work: the reporters' process gets the CPU first


def main() -> None:
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    for line in sys.stdin:
        try:
            result = asyncio.run(fan_out(json.loads(line)))
        except Exception as exc:  # a broken job answers, and the worker lives on
            result = {"sent": 0, "failed": -1, "gone": [], "error": type(exc).__name__}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
