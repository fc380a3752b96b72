"""Creating a chapter's data dir (`vecinos init`) and checking one before use.

A data dir holds: vecinos.toml (the config), vecinos.db (SQLite, unless a
database URL is configured), keys/ (0700) with signing.key (the chapter's
alert-signing key: back it up) and desc/ (the description keys, 0600 each:
never back them up, retention destroys them on purpose). Init refuses to
touch a dir that already holds a chapter.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from pathlib import Path

from node.config import CONFIG_NAME, render_template
from node.keys import create_signing_key
from node.store import database_url, make_engine

KEYS_DIR = "keys"
DESCRIPTION_KEYS_DIR = "desc"  # inside keys/: destroyed on the retention schedule


class DataDirError(Exception):
    """A data dir problem, worded for the operator in one line."""


def chapter_slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:32]
    return slug or "chapter"


def init_chapter(data_dir: Path, chapter: str) -> str:
    """Create a chapter in `data_dir`; returns its chapter id."""
    if not chapter.strip():
        raise DataDirError("the chapter needs a name: --chapter NAME")
    if (data_dir / CONFIG_NAME).exists():
        raise DataDirError(f"{data_dir} already holds a chapter; refusing to overwrite it")
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"{data_dir} exists and is not a directory")
    if (data_dir / KEYS_DIR).exists():
        raise DataDirError(
            f"{data_dir} holds keys but no {CONFIG_NAME}: an earlier init stopped half-way; "
            "move the dir away (or restore its config from your backup)"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    keys_dir = data_dir / KEYS_DIR
    keys_dir.mkdir(mode=0o700, exist_ok=True)
    (keys_dir / DESCRIPTION_KEYS_DIR).mkdir(mode=0o700, exist_ok=True)
    create_signing_key(keys_dir)
    chapter_id = f"{chapter_slug(chapter)}-{secrets.token_hex(3)}"
    make_engine(database_url(data_dir, "")).dispose()
    text = render_template({("chapter", "name"): chapter.strip(), ("chapter", "id"): chapter_id})
    fd = os.open(data_dir / CONFIG_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return chapter_id


def check_data_dir(data_dir: Path) -> Path:
    """The config path of an initialised data dir, or a DataDirError saying what is wrong."""
    if not data_dir.exists():
        raise DataDirError(
            f"no data dir at {data_dir}: create one with "
            f"`vecinos init --data {data_dir} --chapter NAME`"
        )
    if not data_dir.is_dir():
        raise DataDirError(f"{data_dir} is not a directory")
    config = data_dir / CONFIG_NAME
    if not config.exists():
        raise DataDirError(
            f"{data_dir} holds no chapter (no {CONFIG_NAME}): run "
            f"`vecinos init --data {data_dir} --chapter NAME`"
        )
    if not (data_dir / KEYS_DIR).is_dir():
        raise DataDirError(f"{data_dir / KEYS_DIR} is missing: restore it from your backup")
    return config
