"""What federation keeps in DATA/matrix besides the bot's own files, and the bot lock.

DATA/matrix/ (0700) holds:
- matrix-credentials.json (0600) and crypto-store/: the bot's login and
  keys (federation.bot; back them up with the data dir);
- rooms.json (0600): the chapter's own room ids, written by `vecinos matrix
  setup`: {"member_room": "!...", "responders_room": "!...", "to_leave": []}
  (to_leave: rooms of removed neighbours the bot has yet to leave).
  Neighbours' federation rooms live with the neighbours in the node's database;
- bot.lock: held (flock) by the one process that runs the bot, with its pid
  inside. A second process must never open the same crypto store, so
  commands that need the bot refuse while the node runs, and commands that
  change neighbours ask the running node (SIGHUP) to set up rooms itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

MATRIX_DIR = "matrix"
ROOMS_FILE = "rooms.json"
LOCK_FILE = "bot.lock"


class BotBusy(RuntimeError):
    """Another process (the running node) holds the bot."""


def matrix_dir(data_dir: Path) -> Path:
    path = Path(data_dir) / MATRIX_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


@dataclass(frozen=True)
class ChapterRooms:
    """The chapter's own rooms (empty strings until `vecinos matrix setup`)."""

    member_room: str = ""
    responders_room: str = ""
    to_leave: tuple[str, ...] = ()


def load_rooms(data_dir: Path) -> ChapterRooms:
    try:
        raw = json.loads((Path(data_dir) / MATRIX_DIR / ROOMS_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ChapterRooms()
    if not isinstance(raw, dict):
        return ChapterRooms()
    leave = raw.get("to_leave")
    return ChapterRooms(
        member_room=str(raw.get("member_room") or ""),
        responders_room=str(raw.get("responders_room") or ""),
        to_leave=tuple(str(r) for r in leave) if isinstance(leave, list) else (),
    )


def save_rooms(data_dir: Path, rooms: ChapterRooms) -> None:
    path = matrix_dir(data_dir) / ROOMS_FILE
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(rooms), handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class BotLock:
    """An exclusive flock on DATA/matrix/bot.lock for as long as a process runs the bot."""

    def __init__(self, data_dir: Path) -> None:
        self.path = matrix_dir(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise BotBusy(
                "the chapter's node is running and holds the Matrix bot: stop it, run this "
                "command, then start the node again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> BotLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def running_node_pid(data_dir: Path) -> int | None:
    """The pid of the process that holds the bot (the running node), or None."""
    path = Path(data_dir) / MATRIX_DIR / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def notify_running_node(data_dir: Path) -> bool:
    """Ask the running node to reconcile its rooms with its neighbours (SIGHUP)."""
    pid = running_node_pid(data_dir)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except (ProcessLookupError, PermissionError):
        return False
    return True
