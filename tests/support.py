"""Helpers the tests share that are not fixtures."""

from __future__ import annotations

import re
from pathlib import Path

from node.config import CONFIG_NAME


def set_config(data_dir: Path, section: str, key: str, value: str) -> None:
    """Uncomment-and-set one key in a chapter's vecinos.toml (value as TOML text)."""
    path = data_dir / CONFIG_NAME
    text = path.read_text()
    pattern = re.compile(rf"^(# )?{re.escape(key)} = .*$", re.MULTILINE)
    head, _, tail = text.partition(f"[{section}]\n")
    assert tail, f"no [{section}] in config"
    tail, count = pattern.subn(f"{key} = {value}", tail, count=1)
    assert count == 1, f"no {key} in [{section}]"
    path.write_text(f"{head}[{section}]\n{tail}")
