"""A real `vecinos run` in a child process, for the fault and fuzz suites.

The child runs exactly the console script's code (`python -m node.cli run`),
in its own process group, with its output read continuously (so its pipe
never fills) and kept for the tests to search. `kill()` sends a signal and
reaps it; `stop()` is the clean SIGTERM path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NodeProcess:
    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.output = bytearray()
        self._reader: asyncio.Task[None] | None = None
        self._more = asyncio.Event()  # set whenever output arrives

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "node.cli",
            "run",
            "--data",
            str(self.data),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            process_group=0,
        )
        serving = asyncio.Event()
        self._reader = asyncio.create_task(self._read(serving))
        try:
            await asyncio.wait_for(serving.wait(), START_TIMEOUT)
        except TimeoutError:
            await self.kill(signal.SIGKILL)
            raise AssertionError(f"`vecinos run` did not start:\n{self.text}") from None
        if self.proc.returncode is not None:
            raise AssertionError(f"`vecinos run` exited:\n{self.text}")

    async def _read(self, serving: asyncio.Event) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while chunk := await self.proc.stdout.read(65536):
            self.output += chunk
            self._more.set()
            if b"serving on" in self.output:
                serving.set()
        serving.set()  # exited: start() reports it

    async def publish(self) -> None:
        """A publication tick now (SIGUSR1, as an operator may): public reads show what is
        stored. Awaited by the line the node prints."""
        line = b"published on request"
        before = self.output.count(line)
        os.kill(self.pid, signal.SIGUSR1)

        async def printed() -> None:
            while self.output.count(line) <= before:
                self._more.clear()
                await self._more.wait()

        await asyncio.wait_for(printed(), 30)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def kill(self, sig: int = signal.SIGKILL) -> int:
        """Signal the child's process group and reap it; its exit code."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        code = await asyncio.wait_for(self.proc.wait(), 30)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 10)
        return code

    async def stop(self) -> int:
        """SIGTERM (the operator's Ctrl-C path): the node shuts down cleanly."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        return await self.kill(signal.SIGTERM)

    async def ensure_dead(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            await self.kill(signal.SIGKILL)


async def submit(
    http: aiohttp.ClientSession, base: str, body: dict, source: str, lang: str = "en"
) -> tuple[int, dict]:
    """POST a report as if from `source` (X-Forwarded-For, for a node that trusts it)."""
    headers = {"X-Forwarded-For": source, "Accept-Language": lang}
    async with http.post(f"{base}/api/v1/reports", json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def source_address(n: int) -> str:
    """A distinct documentation-range-free address per n (10.x.y.z)."""
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
