"""The lock `vecinos run` holds on its data dir: one node per chapter, and how others know.

DATA/run.lock (0600) is held with an exclusive flock by the `vecinos run`
process for as long as it runs, and names its pid and web address as JSON.
The kernel drops the lock when the process ends, however it ends (SIGKILL
included), so a leftover file never reads as "running". A second `vecinos
run` on the same data dir is refused; `vecinos status` and `vecinos matrix
setup` read who runs. The file's times are set back to the hour, as every
file of the data dir: none dates anything finer.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

RUN_LOCK = "run.lock"
TRIES = 5  # `vecinos status` holds a shared lock for an instant: try again before refusing


class RunLockError(RuntimeError):
    """The run lock cannot be taken (worded for the operator)."""


class NodeRunning(RunLockError):
    """Another process runs this chapter's node."""


@dataclass(frozen=True)
class RunningNode:
    pid: int
    web: str  # "http://127.0.0.1:8080/", or "" while it starts


def _hour_back(fd: int) -> None:
    stamp = int(time.time()) // 3600 * 3600
    with contextlib.suppress(OSError):
        os.utime(fd, (stamp, stamp))


def _read(fd: int) -> RunningNode | None:
    try:
        raw = json.loads(os.pread(fd, 512, 0).decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        raw = {}
    pid = raw.get("pid") if isinstance(raw, dict) else None
    if not isinstance(pid, int):
        return None
    web = raw.get("web")
    return RunningNode(pid, web if isinstance(web, str) else "")


class RunLock:
    """The exclusive flock on DATA/run.lock, for the life of `vecinos run`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / RUN_LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise RunLockError(f"cannot write {self.path}: {exc.strerror}") from None
        for attempt in range(TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt < TRIES - 1:
                    time.sleep(0.05)
        else:
            other = _read(fd)
            os.close(fd)
            pid = f" (pid {other.pid})" if other else ""
            raise NodeRunning(
                f"this chapter's node is already running{pid}: stop it first "
                "(`vecinos status` says where it serves)"
            )
        self._fd = fd
        self.announce("")

    def announce(self, web: str) -> None:
        """Write this process's pid and web address into the lock."""
        if self._fd is None:
            return
        body = json.dumps({"pid": os.getpid(), "web": web}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, body, 0)
        _hour_back(self._fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                _hour_back(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_node(data_dir: Path) -> RunningNode | None:
    """The `vecinos run` process of this data dir and where it serves, or None."""
    try:
        fd = os.open(Path(data_dir) / RUN_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: a node runs
            return _read(fd) or RunningNode(0, "")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
