"""Text channels beyond Matrix (Signal, Telegram, SMS): which are on, and building them.

Each channel is off unless its section of vecinos.toml is filled in; a
half-filled section is a ConfigError naming what is missing. Channels get
only short responder texts (node.responders.short_text): no description.
The senders live in signal.py, telegram.py and twilio.py behind the one
interface of base.py; dispatch.py drains their queued notices.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from node.config import CONFIG_NAME, ConfigError, NodeConfig
from node.responders import MATRIX, Consumer
from scoring.model import ReportType

CHANNELS = ("signal", "telegram", "sms")

# section -> the keys that turn it on (any set) and those it then needs (all set).
_NEEDS: dict[str, tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "signal": (("url",), (("number",), ("recipients",))),
    "telegram": (("chat_id",), (("token", "token_file"),)),
    "sms": (
        ("account_sid",),
        (("auth_token", "auth_token_file"), ("to",), ("from_number", "messaging_service_sid")),
    ),
}


def enabled(config: NodeConfig, name: str) -> bool:
    """Whether a channel is configured (ConfigError when it is only half configured)."""
    on, needs = _NEEDS[name]
    if not any(config.get(name, key) for key in on):
        return False
    for alternatives in needs:
        if not any(config.get(name, key) for key in alternatives):
            keys = " or ".join(alternatives)
            raise ConfigError(f"[{name}] {keys} must be set when [{name}] {on[0]} is")
    return True


def channel_types(config: NodeConfig, name: str) -> frozenset[str]:
    kinds = config.get_list(name, "types")
    allowed = {t.value for t in ReportType}
    for kind in kinds:
        if kind not in allowed:
            raise ConfigError(
                f"[{name}] types must be report types ({', '.join(sorted(allowed))}), got {kind!r}"
            )
    return frozenset(kinds)


def consumers(config: NodeConfig) -> tuple[Consumer, ...]:
    """The Matrix room (when Matrix is on) and every configured channel."""
    found = [Consumer(MATRIX)] if config.matrix_enabled else []
    for name in CHANNELS:
        if enabled(config, name):
            found.append(Consumer(name, channel_types(config, name), short=True))
    return tuple(found)


def _private(path: Path, section: str) -> None:
    """ConfigError unless only its owner may read `path` (it holds a secret)."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"[{section}] {path} must be readable by its owner only (chmod 600)")


def read_secret(data_dir: Path, section: str, value: str, file_name: str) -> str:
    """A secret from the config, or from a file in the data dir (never logged).

    Either way the file that holds it must be private (mode 0600 or 0400).
    """
    path = data_dir / CONFIG_NAME if value else (data_dir / file_name).resolve()
    if not value and data_dir.resolve() not in path.parents:
        raise ConfigError(f"[{section}] the secret file must be inside the data dir")
    try:
        _private(path, section)
        if value:
            return value
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:
        why = os.strerror(exc.errno or 0)
        raise ConfigError(f"[{section}] cannot read {path}: {why}") from None


def build_channels(config: NodeConfig, data_dir: Path) -> list[Any]:
    """The configured channels (node.channels.base.TextChannel), ready to send."""
    from node.channels.signal import SignalChannel
    from node.channels.telegram import TelegramChannel
    from node.channels.twilio import TwilioChannel

    built: list[Any] = []
    if enabled(config, "signal"):
        built.append(
            SignalChannel(
                config.get("signal", "url"),
                config.get("signal", "number"),
                config.get_list("signal", "recipients"),
            )
        )
    if enabled(config, "telegram"):
        token = read_secret(
            data_dir,
            "telegram",
            config.get("telegram", "token"),
            config.get("telegram", "token_file"),
        )
        built.append(
            TelegramChannel(
                token, config.get("telegram", "chat_id"), config.get("telegram", "api_url")
            )
        )
    if enabled(config, "sms"):
        token = read_secret(
            data_dir, "sms", config.get("sms", "auth_token"), config.get("sms", "auth_token_file")
        )
        built.append(
            TwilioChannel(
                config.get("sms", "account_sid"),
                token,
                config.get_list("sms", "to"),
                from_number=config.get("sms", "from_number"),
                messaging_service_sid=config.get("sms", "messaging_service_sid"),
                api_url=config.get("sms", "api_url"),
            )
        )
    return built
