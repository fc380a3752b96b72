"""What federation/ gets from the node (Node.matrix_settings and friends): the
chapter's values as plain data, a re-read that keeps the last lists on a broken
file, the signing key, texts and places, without federation opening a node file."""

from __future__ import annotations

from pathlib import Path

from signedjson.key import get_verify_key

from node.keys import load_signing_key
from node.service import open_node, read_matrix_settings, record_matrix_bot
from node.setup import KEYS_DIR, init_chapter
from tests.support import set_config


async def test_settings_reread_signing_key_texts_and_places(tmp_path: Path) -> None:
    data = tmp_path / "c"
    chapter_id = init_chapter(data, "Sur")
    set_config(data, "matrix", "responders", '"@ana:example.org, @bo:example.org"')
    set_config(data, "retention", "unverified_hours", "12")
    node = await open_node(data)
    try:
        settings = node.matrix_settings()
        assert settings.data_dir == data and settings.chapter_id == chapter_id
        assert settings.homeserver == "" and settings.user_id == ""
        assert settings.responders == ("@ana:example.org", "@bo:example.org")
        assert settings.retention_ms == 12 * 3_600_000
        assert read_matrix_settings(data) == settings

        path = record_matrix_bot(data, "https://hs.example.org", "@bot:example.org")
        set_config(data, "matrix", "responders", '"@ana:example.org"')
        fresh = node.reread_matrix_settings()
        assert fresh is not None and path == data / "vecinos.toml"
        assert (fresh.homeserver, fresh.user_id) == ("https://hs.example.org", "@bot:example.org")
        assert fresh.responders == ("@ana:example.org",)
        assert node.matrix_settings() == settings  # as the node started

        path.write_text("[matrix\n")  # broken: a re-read gives nothing, the caller keeps its own
        assert node.reread_matrix_settings() is None

        key = node.signing_key()
        assert get_verify_key(key) == get_verify_key(load_signing_key(data / KEYS_DIR))
        assert "es" in node.languages and "en" in node.languages
        assert node.text("member_ask_type", "es") != node.text("member_ask_type", "en")
        highway = node.highways()[0]
        assert node.highway(highway.lower()) == highway
        assert node.highway("Q-999") is None
    finally:
        await node.close()
