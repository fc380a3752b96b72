"""`vecinos matrix setup` while the node runs without Matrix: it says to restart the node.

A node without Matrix holds no bot lock, so set-up goes ahead; the bot only
starts with `vecinos run`, and the operator is told so. After the restart the
node runs its bot and `status` shows both parts.
"""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from federation.homeserver import Homeserver
from node.setup import init_chapter

pytestmark = pytest.mark.synapse

VECINOS = [sys.executable, "-m", "node.cli"]
WAIT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Running:
    """A `vecinos run` subprocess whose output lines a thread reads."""

    def __init__(self, data: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [*VECINOS, "run", "--data", str(data), "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            if text in line:
                return line

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT)


def test_setup_tells_to_restart_a_running_node(homeserver: Homeserver, tmp_path: Path) -> None:
    data = tmp_path / "c"
    init_chapter(data, "Sur de San Diego")
    secret = tmp_path / "secret"
    secret.write_text(homeserver.registration_secret + "\n")
    node = Running(data, free_port())
    try:
        node.wait_for("Matrix is off")
        done = subprocess.run(
            [*VECINOS, "matrix", "setup", "--data", str(data), "--homeserver",
             homeserver.base_url, "--user", homeserver.user_id(f"bot-{uuid.uuid4().hex[:6]}"),
             "--registration-secret-file", str(secret)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "ADMIN_TOKEN is the access token of a homeserver admin account" in done.stdout
        last = done.stdout.strip().splitlines()[-1]
        assert last.startswith(f"The node is running (pid {node.proc.pid}) without Matrix")
        assert "restart it" in last
        assert node.stop() == 0
        node = Running(data, free_port())
        node.wait_for("Matrix: bot @bot-")
        status = subprocess.run(
            [*VECINOS, "status", "--data", str(data)], capture_output=True, text=True, timeout=120
        )
        assert f"node: running (pid {node.proc.pid}), serving http://127.0.0.1:" in status.stdout
        assert "login valid" in status.stdout
    finally:
        node.stop()
