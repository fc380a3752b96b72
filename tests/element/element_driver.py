"""Drive tests/element/member.mjs (matrix-js-sdk with Element's Rust crypto) from pytest.

One Node process per test holds every js client of that test; a request is
one JSON line, answered by one JSON line with the same id (requests may
overlap). The process's stderr (the SDK's warnings) goes to a file shown on
failure. Every request is bounded (the script's own timeout, then ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "member.mjs"
NODE_MODULES = HERE / "node_modules" / "matrix-js-sdk"
WAIT_MS = 30_000

FIGURES: dict[str, str] = {}  # printed in the terminal summary (conftest.py)


def missing() -> str | None:
    """Why the js clients cannot run here (None: they can)."""
    if shutil.which("node") is None:
        return "no `node` on PATH"
    if not NODE_MODULES.is_dir():
        return (
            "tests/element/node_modules is missing: run scripts/element-deps.sh (./dev test does)"
        )
    return None


class JsError(RuntimeError):
    """The js client answered an error (its stack is in the message)."""


class Element:
    """The js clients of one test. `await Element.start(log_path)`, then `call(...)`."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read(), name="element reader")

    @classmethod
    async def start(cls, log_path: Path) -> Element:
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
        try:
            proc = await asyncio.create_subprocess_exec(
                "node",
                str(SCRIPT),
                cwd=HERE,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
                limit=2**24,
            )
        finally:
            log.close()
        self = cls(proc, log_path)
        ready = asyncio.get_running_loop().create_future()
        self._waiting[0] = ready
        await asyncio.wait_for(ready, 60)
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            fut = self._waiting.pop(msg.get("id"), None)
            if fut is not None and not fut.done():
                fut.set_result(msg)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(JsError("the js process ended\n" + self.log_tail()))

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def call(self, op: str, **args: Any) -> dict[str, Any]:
        """One request; its answer (without id/ok), or JsError."""
        assert self.proc.stdin is not None
        req_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = fut
        args.setdefault("timeoutMs", WAIT_MS)
        self.proc.stdin.write((json.dumps({"id": req_id, "op": op, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        msg = await asyncio.wait_for(fut, args["timeoutMs"] / 1000 + 30)
        if "error" in msg:
            raise JsError(f"{op}: {msg['error']}")
        return {k: v for k, v in msg.items() if k not in ("id", "ok")}

    async def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
