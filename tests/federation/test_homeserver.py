"""The test homeserver harness: closed configuration, clear start failures, no leftovers."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
import yaml

from federation.homeserver import Homeserver, HomeserverError

pytestmark = pytest.mark.synapse


def test_config_is_closed_and_loopback_only(homeserver: Homeserver) -> None:
    config = yaml.safe_load(homeserver.config_path.read_text())
    assert stat.S_IMODE(homeserver.config_path.stat().st_mode) == 0o600
    assert config["trusted_key_servers"] == []
    assert config["federation_domain_whitelist"] == []
    assert config["enable_registration"] is False
    assert config["url_preview_enabled"] is False
    assert config["presence"] == {"enabled": False}
    assert config["report_stats"] is False
    assert config["enable_metrics"] is False
    assert config["retention"]["enabled"] is True
    assert config["database"]["name"] == "sqlite3"
    assert len(config["registration_shared_secret"]) >= 32
    for key in ("rc_message", "rc_room_creation", "rc_joins_per_room"):
        assert config[key]["per_second"] >= 100, key
    assert config["rc_login"]["failed_attempts"]["burst_count"] >= 100
    assert [a for lst in config["listeners"] for a in lst["bind_addresses"]] == ["127.0.0.1"]
    # outbound connections: loopback is the only range not blocked
    assert "127.0.0.0/8" not in config["ip_range_blacklist"]
    assert "0.0.0.0/2" in config["ip_range_blacklist"] and "::/0" in config["ip_range_blacklist"]
    assert homeserver.running and homeserver.log_path.exists()


async def test_failed_start_raises_with_log_tail_and_leaves_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        hs = Homeserver(tmp_path / "hs", port=port, start_timeout=30)
        with pytest.raises(HomeserverError) as err:
            await hs.start()
    message = str(err.value)
    assert "homeserver.log" in message and "exited" in message
    assert "ddress" in message  # "Address already in use", from the log tail
    assert not hs.running

    # A configured data dir keeps its port and name; a conflicting request is refused.
    again = Homeserver(tmp_path / "hs")
    assert (again.port, again.server_name) == (port, "localhost")
    with pytest.raises(HomeserverError):
        Homeserver(tmp_path / "hs", port=port + 1)
