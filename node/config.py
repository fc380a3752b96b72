"""The chapter's config file (vecinos.toml): its schema, template and validation.

Rule: every key, its default, its allowed values and its one-line help live
in SCHEMA below, and nowhere else. `vecinos init` writes the template from
it (every default visible, commented); load_config() checks a file against it
and raises ConfigError naming the key and what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from scoring.defaults import LEVEL_FLOORS, ScoringConfig

CONFIG_NAME = "vecinos.toml"


class ConfigError(Exception):
    """A config problem, worded for the operator in one line."""


@dataclass(frozen=True)
class Key:
    section: str
    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[self.kind]
        if self.low is not None and self.high is not None:
            return f"{kind} between {_number(self.low)} and {_number(self.high)}"
        return kind

    def check(self, value: Any) -> Any:
        expected = self.kind
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if ok and self.choices is not None and value not in self.choices:
            ok = False
        if ok and self.low is not None and not (self.low <= value <= (self.high or value)):
            ok = False
        if not ok:
            raise ConfigError(
                f"[{self.section}] {self.name} must be {self.describe()}, got {value!r}"
            )
        return value


def _number(value: float) -> str:
    return f"{int(value):,}".replace(",", "_") if value == int(value) else f"{value:g}"


def _scoring_keys() -> list[Key]:
    """The scoring table's tunables, exposed as [scoring] keys (durations in hours/minutes)."""
    keys = []
    for f in fields(ScoringConfig):
        if f.name == "extra":
            continue
        default = f.default
        if isinstance(default, str):  # a level name (responder_level)
            keys.append(
                Key(
                    "scoring",
                    f.name,
                    default,
                    f.name.replace("_", " "),
                    choices=tuple(level.value for _, level in reversed(LEVEL_FLOORS)),
                )
            )
        elif isinstance(default, timedelta):
            if default < timedelta(hours=1):
                keys.append(
                    Key(
                        "scoring",
                        f.name + "_minutes",
                        int(default.total_seconds() // 60),
                        f"{f.name.replace('_', ' ')}, in minutes",
                        low=1,
                        high=24 * 60,
                    )
                )
            else:
                keys.append(
                    Key(
                        "scoring",
                        f.name + "_hours",
                        default.total_seconds() / 3600,
                        f"{f.name.replace('_', ' ')}, in hours",
                        low=0.5,
                        high=24 * 30,
                    )
                )
        elif isinstance(default, int):
            keys.append(
                Key("scoring", f.name, default, f.name.replace("_", " "), low=0, high=10_000)
            )
        elif f.name.startswith("prior_"):
            keys.append(
                Key(
                    "scoring", f.name, float(default), f.name.replace("_", " "), low=0.01, high=0.99
                )
            )
        elif f.name.endswith(("_similarity", "_weight", "_opacity", "_scale", "low_confidence")):
            keys.append(
                Key("scoring", f.name, float(default), f.name.replace("_", " "), low=0.0, high=1.0)
            )
        else:
            keys.append(
                Key(
                    "scoring",
                    f.name,
                    float(default),
                    f.name.replace("_", " "),
                    low=-10.0,
                    high=1000.0,
                )
            )
    return keys


SCHEMA: tuple[Key, ...] = (
    Key("chapter", "name", "", "the chapter's name, shown on its pages"),
    Key(
        "chapter",
        "id",
        "",
        "the chapter's id in alerts between chapters (set by init; never change it)",
    ),
    Key(
        "chapter",
        "default_language",
        "es",
        "language when a browser asks for none we have",
        choices=("en", "es"),
    ),
    Key(
        "chapter",
        "hotline",
        "1-844-363-1423",
        "emergency hotline shown on every page (default: United We Dream)",
    ),
    Key(
        "chapter", "gazetteer", "", "path of the gazetteer file; empty: the shipped default region"
    ),
    Key("web", "host", "127.0.0.1", "address to listen on; keep loopback behind a reverse proxy"),
    Key("web", "port", 8080, "port to listen on", low=1, high=65535),
    Key(
        "web",
        "trust_forwarded_for",
        False,
        "take the reporter's address from X-Forwarded-For (only behind your own reverse proxy)",
    ),
    Key(
        "web",
        "public_descriptions_from",
        "confirmed",
        "lowest status whose descriptions are public",
        choices=("never", "likely", "confirmed"),
    ),
    Key(
        "web",
        "public_url",
        "",
        "the node's public address, e.g. https://vecinos.example.org, for links in responder "
        "alerts; empty: no link",
    ),
    Key(
        "web",
        "secure_cookies",
        False,
        "mark moderator cookies Secure (set true when served over HTTPS, e.g. behind a proxy)",
    ),
    Key("web", "max_body_bytes", 16384, "largest request body accepted", low=1024, high=1_048_576),
    Key(
        "web",
        "tile_url",
        "",
        "map tiles, e.g. https://tiles.example.org/{z}/{x}/{y}.png (your own server: the browser "
        "asks it); empty: the map draws the areas without tiles",
    ),
    Key("web", "tile_attribution", "", "attribution text the tile server requires"),
    # --- reporter safety (issue 11) ---
    Key(
        "web",
        "publish_every_minutes",
        15,
        "new reports reach public pages and data only at these ticks, in no arrival order (a "
        "poller learns at most the tick; members and responders are told at once); 60 shows no "
        "more than the hour",
        choices=(5, 10, 15, 20, 30, 60),
    ),
    Key(
        "web",
        "ipv6_prefix",
        56,
        "an IPv6 reporter is counted by this prefix (one household or phone often holds a /56)",
        low=32,
        high=128,
    ),
    Key(
        "web",
        "header_timeout_seconds",
        20,
        "a connection that has not sent a whole request head in this time is closed (also the "
        "idle keep-alive time: keep your proxy's below it)",
        low=2,
        high=600,
    ),
    Key(
        "web",
        "body_timeout_seconds",
        30,
        "a request whose body has not arrived in this time gets a 408 and is closed",
        low=2,
        high=600,
    ),
    Key(
        "intake",
        "rate_limit_reports",
        5,
        "reports one source may send per window",
        low=1,
        high=1000,
    ),
    Key("intake", "rate_limit_window_minutes", 15, "rate-limit window", low=1, high=24 * 60),
    Key(
        "intake",
        "rate_limit_max_sources",
        100_000,
        "sources the rate limiter remembers at once (bounds its memory under a flood)",
        low=100,
        high=10_000_000,
    ),
    Key(
        "intake",
        "max_neighbours",
        50,
        "nearby reports a new report is scored against (bounds the work of a flood)",
        low=10,
        high=10_000,
    ),
    Key(
        "intake",
        "max_rescored",
        8,
        "nearby reports re-scored when a report arrives or is decided",
        low=1,
        high=1000,
    ),
    Key("intake", "max_description_chars", 1000, "longest description", low=50, high=10_000),
    Key("intake", "max_area_chars", 120, "longest area text", low=10, high=160),
    Key(
        "intake",
        "ticket_bits",
        16,
        "beyond the rate limit (a shared address: Tor, a big NAT), a report needs a proof of "
        "work of this many bits (about a second of a phone's JavaScript at 16)",
        low=8,
        high=26,
    ),
    Key(
        "intake",
        "ticket_wait_seconds",
        60,
        "... or, without JavaScript, sending again after this many seconds",
        low=5,
        high=3600,
    ),
    Key(
        "intake",
        "ticket_step",
        5,
        "both double every this many such reports from one address within the window",
        low=1,
        high=100,
    ),
    Key(
        "retention",
        "unverified_hours",
        24,
        "keep reports no moderator verified this long",
        low=1,
        high=24 * 30,
    ),
    Key(
        "retention",
        "verified_days",
        7,
        "keep confirmed and debunked reports this long",
        low=1,
        high=365,
    ),
    Key("retention", "archived_days", 30, "keep archived reports this long", low=1, high=365),
    Key("retention", "purge_every_minutes", 10, "how often retention runs", low=1, high=10),
    Key(
        "storage",
        "database_url",
        "",
        "empty: SQLite in the data dir; or postgresql+psycopg://user:pass@host/db",
    ),
    Key(
        "storage",
        "sqlite_synchronous",
        "FULL",
        "SQLite durability: FULL survives power loss, NORMAL only a process crash",
        choices=("FULL", "NORMAL"),
    ),
    Key(
        "federation",
        "share_threshold",
        0.7,
        "confidence from which an active cluster becomes an alert for neighbours",
        low=0.0,
        high=1.0,
    ),
    Key(
        "federation",
        "relay",
        False,
        "relay alerts accepted from a neighbour to the other neighbours (one hop; see "
        "docs/federation.md)",
    ),
    Key("matrix", "homeserver", "", "homeserver URL of the chapter's bot; empty: Matrix is off"),
    Key("matrix", "user_id", "", "the bot's Matrix ID, e.g. @vecinos-bot:example.org"),
    # --- responders (issue 4, parts 4-7) ---
    Key(
        "matrix",
        "responders",
        "",
        "Matrix IDs the bot invites into the responders room, comma-separated",
    ),
    Key(
        "matrix",
        "responder_moderators",
        "",
        "Matrix IDs the bot invites into the responders room and gives the moderator power "
        "level (they may !confirm, !debunk, !archive), comma-separated",
    ),
    Key(
        "matrix",
        "moderator_level",
        50,
        "power level in the responders room needed for !confirm, !debunk, !archive",
        low=1,
        high=100,
    ),
    Key(
        "matrix",
        "redact_member_messages",
        False,
        "redact a member's message once the bot has answered it (the homeserver keeps less)",
    ),
    Key("signal", "url", "", "signal-cli-rest-api base URL (http://127.0.0.1:8080); empty: off"),
    Key("signal", "number", "", "the registered Signal number that sends, e.g. +15550100"),
    Key("signal", "recipients", "", "numbers or group ids to send to, comma-separated"),
    Key("signal", "types", "raid", "report types sent on Signal, comma-separated"),
    Key("telegram", "chat_id", "", "the chat (group or channel) id to send to; empty: off"),
    Key("telegram", "token", "", "the bot token from @BotFather (or use token_file)"),
    Key("telegram", "token_file", "", "file in the data dir holding the token (mode 0600)"),
    Key("telegram", "types", "raid", "report types sent on Telegram, comma-separated"),
    Key("telegram", "api_url", "https://api.telegram.org", "Telegram Bot API base URL"),
    Key("sms", "account_sid", "", "Twilio Account SID (AC...); empty: SMS is off"),
    Key("sms", "auth_token", "", "Twilio auth token (or use auth_token_file)"),
    Key("sms", "auth_token_file", "", "file in the data dir holding the auth token (mode 0600)"),
    Key("sms", "from_number", "", "the Twilio number that sends (or set messaging_service_sid)"),
    Key("sms", "messaging_service_sid", "", "a Twilio Messaging Service (MG...) instead of from"),
    Key("sms", "to", "", "phone numbers to text, E.164, comma-separated"),
    Key("sms", "types", "raid", "report types sent by SMS, comma-separated"),
    Key("sms", "api_url", "https://api.twilio.com", "Twilio REST API base URL"),
    # --- Web Push for the public (issue 14; node/push) ---
    Key(
        "push",
        "enabled",
        True,
        "let people subscribe to alerts for their areas with Web Push (no account, no app store)",
    ),
    Key(
        "push",
        "allow_hosts",
        "",
        "push services besides the browsers' own, as host:port, comma-separated (a self-hosted "
        "service, a test stand-in); these may use http",
    ),
    Key(
        "push",
        "contact",
        "",
        "VAPID contact for push services, mailto: or https: (empty: [web] public_url)",
    ),
    Key("push", "expiry_days", 30, "a subscription not renewed is deleted after", low=1, high=365),
    Key(
        "push",
        "max_per_hour",
        6,
        "alert pushes one subscriber gets per hour at most (all-clears always go)",
        low=1,
        high=60,
    ),
    *_scoring_keys(),
)

_BY_SECTION: dict[str, dict[str, Key]] = {}
for _key in SCHEMA:
    _BY_SECTION.setdefault(_key.section, {})[_key.name] = _key


@dataclass(frozen=True)
class NodeConfig:
    """A validated config: `values[section][key]` plus the scoring table built from it."""

    path: Path
    values: dict[str, dict[str, Any]]
    scoring: ScoringConfig

    def get(self, section: str, name: str) -> Any:
        return self.values[section][name]

    def get_list(self, section: str, name: str) -> list[str]:
        """A comma-separated string key as a list (empty items dropped)."""
        return [part.strip() for part in str(self.get(section, name)).split(",") if part.strip()]

    @property
    def chapter_name(self) -> str:
        return self.get("chapter", "name")

    @property
    def chapter_id(self) -> str:
        return self.get("chapter", "id")

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.get("matrix", "homeserver"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_template(overrides: dict[tuple[str, str], Any]) -> str:
    """The config file `vecinos init` writes: every key, commented, defaults visible."""
    lines = [
        "# Vecinos chapter node configuration.",
        "# Every key is listed with its default. Uncomment a key to change it;",
        "# `vecinos run` refuses a value it does not understand and names the key.",
    ]
    section = None
    for key in SCHEMA:
        if key.section != section:
            section = key.section
            lines += ["", f"[{section}]"]
        allowed = f" ({key.describe()})" if key.choices or key.low is not None else ""
        lines.append(f"# {key.help}{allowed}")
        if (key.section, key.name) in overrides:
            lines.append(f"{key.name} = {_toml_value(overrides[(key.section, key.name)])}")
        else:
            lines.append(f"# {key.name} = {_toml_value(key.default)}")
    return "\n".join(lines) + "\n"


def set_values(path: Path, values: dict[tuple[str, str], Any]) -> None:
    """Set keys in an existing config file, rewriting only their lines.

    A key's line (commented out or not) in its section is replaced by
    `key = value`; a key with no line is added at the end of its section.
    Comments and every other line stay as the operator left them. The result
    is validated before it replaces the file (same mode, atomically).
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    for (section, name), value in values.items():
        key = _BY_SECTION.get(section, {}).get(name)
        if key is None:
            raise ConfigError(f"unknown key [{section}] {name}")
        line = f"{name} = {_toml_value(key.check(value))}"
        start = next((i for i, t in enumerate(lines) if t.strip() == f"[{section}]"), None)
        if start is None:
            lines += ["", f"[{section}]", line]
            continue
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        pattern = re.compile(rf"^\s*(#\s*)?{re.escape(name)}\s*=")
        found = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            lines.insert(end, line)
        else:
            lines[found] = line
    text = "\n".join(lines) + "\n"
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, path.stat().st_mode & 0o777)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        load_config(tmp)
    except ConfigError:
        tmp.unlink()
        raise
    os.replace(tmp, path)


def _scoring_from(values: dict[str, Any]) -> ScoringConfig:
    changes: dict[str, Any] = {}
    for f in fields(ScoringConfig):
        if f.name == "extra":
            continue
        if f.name + "_minutes" in values:
            changes[f.name] = timedelta(minutes=values[f.name + "_minutes"])
        elif f.name + "_hours" in values:
            changes[f.name] = timedelta(hours=values[f.name + "_hours"])
        else:
            changes[f.name] = type(f.default)(values[f.name])
    return replace(ScoringConfig(), **changes)


def load_config(path: Path) -> NodeConfig:
    """Read and validate a config file; ConfigError says which key and what is allowed."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no config file at {path}: run `vecinos init` first") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    values: dict[str, dict[str, Any]] = {
        section: {name: key.default for name, key in keys.items()}
        for section, keys in _BY_SECTION.items()
    }
    for section, table in raw.items():
        if section not in _BY_SECTION:
            allowed = ", ".join(f"[{s}]" for s in _BY_SECTION)
            raise ConfigError(f"unknown section [{section}] in {path.name}; sections are {allowed}")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table")
        for name, value in table.items():
            key = _BY_SECTION[section].get(name)
            if key is None:
                raise ConfigError(f"unknown key [{section}] {name} in {path.name}")
            values[section][name] = key.check(value)
    if not values["chapter"]["id"]:
        raise ConfigError("[chapter] id is empty: run `vecinos init` to create a chapter")
    if values["matrix"]["homeserver"] and not values["matrix"]["user_id"]:
        raise ConfigError("[matrix] user_id must be set when [matrix] homeserver is")
    return NodeConfig(path=path, values=values, scoring=_scoring_from(values["scoring"]))
