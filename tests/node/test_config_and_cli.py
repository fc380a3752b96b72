"""The operator's side: init, the config file, and one-line errors from the CLI."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from node.config import ConfigError, load_config
from node.setup import DataDirError, init_chapter
from tests.support import set_config

VECINOS = [sys.executable, "-m", "node.cli"]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VECINOS, *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_init_creates_config_keys_and_database_privately(tmp_path: Path) -> None:
    data = tmp_path / "c"
    result = run_cli("init", "--data", str(data), "--chapter", "Sur de San Diego")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "keys" / "desc").stat().st_mode) == 0o700
    for private in (data / "vecinos.toml", data / "keys" / "signing.key"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert (data / "vecinos.db").exists()
    config = load_config(data / "vecinos.toml")
    assert config.chapter_name == "Sur de San Diego"
    assert config.chapter_id.startswith("sur-de-san-diego-")
    text = (data / "vecinos.toml").read_text()
    assert "# unverified_hours = 24" in text and "# prior_web = 0.3" in text


def test_init_refuses_to_overwrite_a_chapter(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    before = (tmp_path / "c" / "vecinos.toml").read_bytes()
    result = run_cli("init", "--data", str(tmp_path / "c"), "--chapter", "B")
    assert result.returncode == 1
    assert "already holds a chapter" in result.stderr and len(result.stderr.splitlines()) == 1
    assert (tmp_path / "c" / "vecinos.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        (
            "retention",
            "unverified_hours",
            '"soon"',
            "[retention] unverified_hours must be an integer",
        ),
        ("web", "port", "70000", "[web] port must be an integer between 1 and 65_535"),
        ("web", "public_descriptions_from", '"always"', "one of 'never', 'likely', 'confirmed'"),
        (
            "scoring",
            "prior_web",
            "1.5",
            "[scoring] prior_web must be a number between 0.01 and 0.99",
        ),
    ],
)
def test_bad_config_values_name_the_key(
    tmp_path: Path, section: str, key: str, value: str, message: str
) -> None:
    init_chapter(tmp_path / "c", "A")
    set_config(tmp_path / "c", section, key, value)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(tmp_path / "c" / "vecinos.toml")
    result = run_cli("purge", "--data", str(tmp_path / "c"))
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert key in result.stderr


def test_unknown_keys_and_sections_are_refused(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    path = tmp_path / "c" / "vecinos.toml"
    path.write_text(path.read_text() + "\n[retention]\nunverifed_hours = 3\n")
    with pytest.raises(ConfigError):
        load_config(path)
    init_chapter(tmp_path / "d", "A")
    path = tmp_path / "d" / "vecinos.toml"
    path.write_text(path.read_text() + "\n[retentoin]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(path)


@pytest.mark.parametrize("command", ["run", "purge"])
def test_missing_data_dir_is_one_clear_line(tmp_path: Path, command: str) -> None:
    result = run_cli(command, "--data", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "vecinos init" in result.stderr


def test_wrong_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli("purge", "--data", str(tmp_path / "empty"))
    assert result.returncode == 1 and "holds no chapter" in result.stderr
    with pytest.raises(DataDirError):
        init_chapter(tmp_path / "x", "  ")


def test_moderator_add_from_stdin(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    ok = run_cli(
        "moderator", "add", "luna", "--data", str(tmp_path / "c"), stdin="correct horse battery\n"
    )
    assert ok.returncode == 0, ok.stderr
    again = run_cli(
        "moderator", "add", "luna", "--data", str(tmp_path / "c"), stdin="correct horse battery\n"
    )
    assert again.returncode == 1 and "exists already" in again.stderr
    short = run_cli("moderator", "add", "sol", "--data", str(tmp_path / "c"), stdin="short\n")
    assert short.returncode == 1 and "at least" in short.stderr


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", "--data", str(tmp_path / "c"), "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_purge_prints_counts_only(tmp_path: Path) -> None:
    init_chapter(tmp_path / "c", "A")
    result = run_cli("purge", "--data", str(tmp_path / "c"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("purged 0 reports")
    assert os.path.exists(tmp_path / "c" / "vecinos.db")


def test_a_half_done_init_and_an_unreachable_database_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "half" / "keys").mkdir(parents=True)
    result = run_cli("init", "--data", str(tmp_path / "half"), "--chapter", "A")
    assert result.returncode == 1 and "stopped half-way" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    init_chapter(tmp_path / "c", "A")
    secret_url = '"postgresql+psycopg://vecinos:s3cret-pw@127.0.0.1:1/nowhere"'
    set_config(tmp_path / "c", "storage", "database_url", secret_url)
    result = run_cli("purge", "--data", str(tmp_path / "c"))
    assert result.returncode == 1 and "cannot use the database" in result.stderr
    assert "s3cret-pw" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
