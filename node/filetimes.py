"""File metadata at the hour: no file or directory of the data dir dates an event.

A file's modification time would otherwise record the latest write (the
WAL's: the latest report), a day key's the day's first report, confirm or
archive, a directory's the latest key created or shredded. So:
- after each write the node sets the database, its WAL and SHM back to the
  start of the hour (Node, after every commit);
- after a key is created or shredded, the key and its directory (node.keys);
- at every publication tick and when the node closes, every file and
  directory of the data dir (set_back_tree).

Both the access and the modification time are set to the hour's start.

What a program cannot set, and so remains (docs/deploy.md): the change time
(ctime) of every file, which the kernel sets to "now" on any write or
metadata change (including this one), so a file's ctime is the time of its
latest write or of the latest tick; the creation (birth) time that ext4,
btrfs and others keep; and the access time of a file read after the last
set-back, on a file system mounted with `relatime` (the default) or
`strictatime`. Mount the data volume with `noatime`, and encrypt the disk:
a powered-off disk then yields none of them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path


def hour_start(moment: datetime) -> int:
    """The epoch second at the start of `moment`'s hour."""
    seconds = int(moment.astimezone(UTC).timestamp())
    return seconds - seconds % 3600


def set_back(paths: Iterable[Path], moment: datetime) -> None:
    """Set each existing path's access and modification time to the start of the hour."""
    stamp = hour_start(moment)
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.utime(path, (stamp, stamp), follow_symlinks=False)


def set_back_tree(root: Path, moment: datetime) -> int:
    """set_back() every file and directory under `root` (deepest first), and `root`."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, topdown=False):
        base = Path(folder)
        found += [base / name for name in names]
        found += [base / name for name in dirs]
    found.append(root)
    set_back(found, moment)
    return len(found)
