"""The chapter's config file (vecinos.toml): one declaration that validates and documents.

Rules:
- Every key is one `Key(section, name, default, help, ...)` line in SCHEMA
  below, and nowhere else: its type (the default's), its allowed values or
  range, its unit and its one-line help. [scoring] keys come from
  scoring/defaults.py's ScoringConfig, with each field's range, unit and
  help in SCORING below, keyed by the field's name.
- From SCHEMA this module builds a pydantic model (one per section, unknown
  keys and sections forbidden) that load_config() validates a file with, and
  the template `vecinos init` writes (every key with its help, unit and
  range, its default commented out).
- A problem is one ConfigError line: the key, what is allowed, what was
  given, and for a misspelt key, section or choice, the nearest known one.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic_core import PydanticCustomError

from scoring.defaults import LEVEL_FLOORS, ScoringConfig

CONFIG_NAME = "vecinos.toml"
LEVELS = tuple(level.value for _, level in reversed(LEVEL_FLOORS))  # unverified .. confirmed
DID_YOU_MEAN_CUTOFF = 0.6  # difflib ratio: "rate_limt_reports" -> "rate_limit_reports"


class ConfigError(Exception):
    """A config problem, worded for the operator in one line."""


@dataclass(frozen=True)
class Key:
    """One config key. Its type is its default's; `low`/`high` bound numbers (inclusive);
    `unit` names what a number counts; `valid` checks what a type and a range cannot say
    (it returns None, or what is wrong, worded to follow "[section] name ...")."""

    section: str
    name: str
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    unit: str = ""
    valid: Callable[[Any], str | None] | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        """What the key accepts, in words: "an integer between 1 and 1_440, in minutes"."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "text"}[self.kind]
        if self.low is not None and self.high is not None:
            kind += f" between {_number(self.low)} and {_number(self.high)}"
        elif self.low is not None:
            kind += f" of at least {_number(self.low)}"
        elif self.high is not None:
            kind += f" of at most {_number(self.high)}"
        return kind + (f", in {self.unit}" if self.unit else "")

    @cached_property
    def annotation(self) -> Any:
        """The key's pydantic type: strict (no "5" for 5), its choices, range and check."""
        described = self.help + (f" ({self.unit})" if self.unit else "")
        listed = {"enum": list(self.choices)} if self.choices is not None else None
        extra: list[Any] = [
            Strict(),
            Field(ge=self.low, le=self.high, description=described, json_schema_extra=listed),
        ]
        if self.choices is not None:
            extra.append(AfterValidator(_one_of(self.choices)))
        if self.valid is not None:
            extra.append(AfterValidator(_raising(self.valid)))
        return Annotated[self.kind, *extra]

    @cached_property
    def _adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.annotation)

    def check(self, value: Any) -> Any:
        """The value as the config holds it, or ConfigError saying what is allowed."""
        try:
            return _plain(self, self._adapter.validate_python(value))
        except ValidationError as exc:
            raise ConfigError(_value_problem(self, exc.errors()[0], value)) from None


def _one_of(choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise PydanticCustomError("not_a_choice", "not one of the allowed values")
        return value

    return check


def _raising(valid: Callable[[Any], str | None]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        problem = valid(value)
        if problem:
            raise ValueError(problem)
        return value

    return check


def _number(value: float) -> str:
    return f"{int(value):,}".replace(",", "_") if value == int(value) else f"{value:g}"


def _plain(key: Key, value: Any) -> Any:
    return float(value) if key.kind is float else value


def _near(word: str, known: list[str]) -> str | None:
    """The known word closest to `word` (case aside), if any is close."""
    folded = {k.casefold(): k for k in known}
    found = difflib.get_close_matches(word.casefold(), folded, n=1, cutoff=DID_YOU_MEAN_CUTOFF)
    return folded[found[0]] if found else None


def time_zone_problem(name: str) -> str | None:
    """What is wrong with a [chapter] timezone value (empty: the gazetteer's zone)."""
    if not name:
        return None
    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    hint = _near(name, sorted(zoneinfo.available_timezones()))
    return f"must be an IANA time zone name such as 'America/Los_Angeles', got {name!r}" + (
        f"; did you mean {hint!r}?" if hint else ""
    )


# -- [scoring]: each ScoringConfig field's range, unit and help --------------------------


@dataclass(frozen=True)
class Tunable:
    """How one ScoringConfig field reads in [scoring]: help, range (timedeltas for
    durations: the key is then NAME_minutes or NAME_hours), unit, or allowed words."""

    help: str
    low: float | timedelta | None = None
    high: float | timedelta | None = None
    unit: str = ""
    choices: tuple[str, ...] | None = None


H = timedelta(hours=1)
M = timedelta(minutes=1)

# One line per field of scoring/defaults.py's ScoringConfig, whose comments give the why.
# tests/node/test_config_and_cli.py checks that every field has one.
SCORING: dict[str, Tunable] = {
    "prior_web": Tunable(
        "probability that one anonymous web report is true, before corroboration (0.3: possible)",
        0.01,
        0.99,
    ),
    "prior_member": Tunable(
        "the same for a vetted member's report (member room; 0.35: with one anonymous witness "
        "0.69, likely, below sharing)",
        0.01,
        0.99,
    ),
    "prior_moderator": Tunable("the same for a moderator's own report", 0.01, 0.99),
    "corroboration_llr": Tunable(
        "evidence each independent nearby report adds, times its similarity (1.4: two web "
        "witnesses minutes apart reach likely, a member and one witness 0.69)",
        0.0,
        5.0,
        "log-odds",
    ),
    "anonymous_max_confidence": Tunable(
        "trust tiers: evidence made only of anonymous web reports (no member, moderator or "
        "confirmed report of the type) stops here, however many (0.65: likely, shown and sent "
        "to responders as needs verification; keep it below [federation] share_threshold so "
        "anonymous sources alone are never shared)",
        0.0,
        1.0,
    ),
    "single_member_max_confidence": Tunable(
        "trust tiers: evidence vouched by one member only (no second member, moderator or "
        "confirmation), with any number of anonymous witnesses, stops here (0.69: likely, a "
        "verifier is asked; below [federation] share_threshold: one member's mistake and "
        "passers-by are not shared; 1.0 shares on one member's word)",
        0.0,
        1.0,
    ),
    "second_member_similarity": Tunable(
        "trust tiers: a second member lifts single_member_max_confidence only when their report "
        "matches the first this much (type x distance x time; 0.5: within about 2.7 km at the "
        "same time, or the same place about 1.6 h apart; a member two areas away saw something "
        "else, or elsewhere)",
        0.0,
        1.0,
    ),
    "other_type_dominance": Tunable(
        "a report whose place has this many times as many independent sources naming another "
        "type is probably that event misnamed: held below sharing like anonymous evidence "
        "(3: a checkpoint's 20 witnesses and 3 who say patrol; 0 turns it off)",
        0.0,
        100.0,
    ),
    "max_other_type_llr": Tunable(
        "most evidence reports of other types add to an incident, however many (0.42: one "
        "such report's worth; a flood of vans does not make a lone raid report likely)",
        0.0,
        10.0,
        "log-odds",
    ),
    "max_corroboration_llr": Tunable(
        "most evidence corroboration adds (2.0: corroboration alone stops below confirmed)",
        0.0,
        10.0,
        "log-odds",
    ),
    "radius_km": Tunable(
        "reports corroborate up to this distance between their areas' centroids", 0.1, 100.0, "km"
    ),
    "window": Tunable("... and up to this time apart", H, 24 * H),
    "other_type_weight": Tunable(
        "how much a nearby report of another type counts (a patrol next to a raid)",
        0.0,
        1.0,
    ),
    "confirmed_neighbour_weight": Tunable(
        "a nearby report a moderator confirmed counts this many times", 1.0, 10.0
    ),
    "near_duplicate_similarity": Tunable(
        "descriptions at least this alike (shared word shingles) are one copy-pasted "
        "source and are flagged",
        0.3,
        1.0,
    ),
    "template_similarity": Tunable(
        "descriptions at least this alike once numbers are masked are one templated source "
        "(a botnet's skeleton with swapped words and numbers; 0.5: every pair of one template "
        "is above it, 0.3 % of honest pairs are), not flagged",
        0.1,
        1.0,
    ),
    "history_llr": Tunable(
        "evidence from confirmed past activity in the area at the same hour of the week",
        0.0,
        5.0,
        "log-odds",
    ),
    "history_saturation": Tunable(
        "confirmed past matches that give the whole history evidence", 1, 1000, "matches"
    ),
    "anomaly_llr": Tunable(
        "evidence added (negative: taken away) for an unknown area or an unusual hour",
        -5.0,
        0.0,
        "log-odds",
    ),
    "unusual_hour_min_reports": Tunable(
        "an hour is unusual for an area only once the area has had this many reports",
        1,
        10_000,
        "reports",
    ),
    "burst_sources": Tunable(
        "this many new sources of one type in one area arriving within the burst window, "
        "where nothing was ever confirmed, are a burst (a state of the incident; sent to "
        "review)",
        2,
        1000,
        "sources",
    ),
    "burst_window": Tunable("the burst window", M, 2 * H),
    "burst_llr_cap": Tunable(
        "most evidence anonymous corroboration adds in a burst (1.4: one witness; true raids "
        "start as bursts and still reach likely)",
        0.0,
        10.0,
        "log-odds",
    ),
    "long_description_chars": Tunable(
        "a description this long on a low-confidence report sends it to review",
        20,
        10_000,
        "characters",
    ),
    "low_confidence": Tunable("... low meaning a confidence up to this", 0.0, 1.0),
    "priority_active": Tunable(
        "review queue: priority of a still-active report (above all other terms together, so "
        "active reports come first)",
        0.0,
        100.0,
        "points",
    ),
    "impact_raid": Tunable("review queue: priority of a raid", 0.0, 100.0, "points"),
    "impact_checkpoint": Tunable("review queue: priority of a checkpoint", 0.0, 100.0, "points"),
    "impact_patrol": Tunable("review queue: priority of a patrol", 0.0, 100.0, "points"),
    "impact_vehicle": Tunable("review queue: priority of a vehicle", 0.0, 100.0, "points"),
    "priority_threshold_band": Tunable(
        "review queue: a confidence this close to a level's floor is near it (up to 1 point: "
        "a decision there changes most)",
        0.0,
        0.5,
    ),
    "priority_possible_floor_weight": Tunable(
        "review queue: how much nearness to the possible floor (0.3) counts, against 1 for "
        "likely and confirmed",
        0.0,
        1.0,
    ),
    "priority_per_reason": Tunable(
        "review queue: priority per reason for review", 0.0, 10.0, "points"
    ),
    "expiry_vehicle": Tunable(
        "a vehicle stays active this long after its report's hour", M * 30, 72 * H
    ),
    "expiry_patrol": Tunable(
        "a patrol stays active this long after its report's hour", M * 30, 72 * H
    ),
    "expiry_checkpoint": Tunable(
        "a checkpoint stays active this long after its report's hour", M * 30, 72 * H
    ),
    "expiry_raid": Tunable("a raid stays active this long after its report's hour", M * 30, 72 * H),
    "gone_to_end": Tunable(
        '"gone" from this many independent sources ends a report (a moderator\'s alone does)',
        1,
        100,
        "sources",
    ),
    "gone_per_source": Tunable(
        'anonymous "gone"s needed beyond gone_to_end per independent source of the report '
        "(2: a raid five people reported needs ten; a moderator's gone ends it alone; "
        "otherwise a well-reported incident lasts until it expires)",
        0.0,
        100.0,
        "follow-ups",
    ),
    "max_anonymous_extension": Tunable(
        'anonymous "still there" extends a report at most this far past its own hour (a '
        "moderator's is not limited)",
        timedelta(0),
        72 * H,
    ),
    "member_gone_weight": Tunable(
        'a vetted member\'s "gone" counts as this many anonymous ones (2 = gone_to_end: one '
        "member ends what one person reported, a crowd's report needs more)",
        0.0,
        100.0,
        "follow-ups",
    ),
    "max_member_extension": Tunable(
        'a vetted member\'s "still there" extends a report at most this far past its own hour '
        "(a long checkpoint stays on; a compromised account cannot keep a fake on for a day)",
        timedelta(0),
        72 * H,
    ),
    "min_opacity": Tunable("opacity of a report on the map once it has faded", 0.0, 1.0),
    "min_scale": Tunable("size of a report's marker once it has faded", 0.0, 1.0),
    "fade_over": Tunable("reports fade to those over this time", timedelta(0), 30 * 24 * H),
    "debunk_visible": Tunable(
        "a debunked report stays listed, as debunked, this long", timedelta(0), 30 * 24 * H
    ),
    "responder_level": Tunable(
        "active reports at this level or above are posted to the responders (their room, SMS, "
        "Signal, Telegram)",
        choices=LEVELS,
    ),
}


def _duration_key(name: str, default: timedelta, doc: Tunable) -> Key:
    """A timedelta field as NAME_minutes (an integer) under an hour, else NAME_hours."""
    minutes = default < H
    unit, size = ("minutes", M) if minutes else ("hours", H)

    def amount(value: float | timedelta | None) -> float | None:
        if not isinstance(value, timedelta):
            return value
        return int(value / size) if minutes else value / size

    value = amount(default)
    return Key(
        "scoring",
        f"{name}_{unit}",
        value,
        doc.help,
        low=amount(doc.low),
        high=amount(doc.high),
        unit=unit,
    )


def _scoring_keys() -> list[Key]:
    """The scoring table's fields as [scoring] keys (durations in minutes or hours)."""
    keys = []
    for f in fields(ScoringConfig):
        if f.name == "extra":
            continue
        doc = SCORING.get(f.name, Tunable(f.name.replace("_", " ")))
        default = f.default
        if isinstance(default, timedelta):
            keys.append(_duration_key(f.name, default, doc))
        elif isinstance(default, str):  # a level (choices), or words the table itself checks
            keys.append(Key("scoring", f.name, default, doc.help, choices=doc.choices))
        else:
            kind = float if isinstance(default, float) else type(default)
            low, high = (
                (kind(doc.low) if doc.low is not None else None),
                (kind(doc.high) if doc.high is not None else None),
            )
            keys.append(
                Key("scoring", f.name, kind(default), doc.help, low=low, high=high, unit=doc.unit)
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
    Key(
        "chapter",
        "timezone",
        "",
        "the chapter's time zone for every time volunteers read, an IANA name such as "
        "America/Los_Angeles; empty: the gazetteer's (stored times stay UTC hours)",
        valid=time_zone_problem,
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
    Key(
        "web",
        "max_body_bytes",
        16384,
        "largest request body accepted",
        low=1024,
        high=1_048_576,
        unit="bytes",
    ),
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
        unit="reports",
    ),
    Key(
        "intake",
        "rate_limit_window_minutes",
        15,
        "rate-limit window",
        low=1,
        high=24 * 60,
        unit="minutes",
    ),
    Key(
        "intake",
        "rate_limit_max_sources",
        100_000,
        "sources the rate limiter remembers at once (bounds its memory under a flood)",
        low=100,
        high=10_000_000,
        unit="sources",
    ),
    Key(
        "intake",
        "max_neighbours",
        50,
        "nearby reports a new report is scored against (bounds the work of a flood)",
        low=10,
        high=10_000,
        unit="reports",
    ),
    Key(
        "intake",
        "max_rescored",
        8,
        "nearby reports re-scored when a report arrives or is decided",
        low=1,
        high=1000,
        unit="reports",
    ),
    Key(
        "intake",
        "max_description_chars",
        1000,
        "longest description",
        low=50,
        high=10_000,
        unit="characters",
    ),
    Key("intake", "max_area_chars", 120, "longest area text", low=10, high=160, unit="characters"),
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
        unit="hours",
    ),
    Key(
        "retention",
        "verified_days",
        7,
        "keep confirmed and debunked reports this long",
        low=1,
        high=365,
        unit="days",
    ),
    Key(
        "retention",
        "archived_days",
        30,
        "keep archived reports this long",
        low=1,
        high=365,
        unit="days",
    ),
    Key(
        "retention",
        "purge_every_minutes",
        10,
        "how often retention runs",
        low=1,
        high=10,
        unit="minutes",
    ),
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
        "verifiers",
        "",
        "Matrix IDs the bot invites into the responders room and gives verifier_level (they "
        "may !claim a notice that needs verification and answer it), comma-separated",
    ),
    Key(
        "matrix",
        "verifier_level",
        10,
        "power level in the responders room needed to !claim and answer a verification "
        "(moderators have more, so they may too)",
        low=1,
        high=100,
    ),
    # --- responders: no transient pages, verifier dispatch (issue 10, parts 4 and 7) ---
    Key(
        "responders",
        "hold_minutes",
        3,
        "a local cluster must stay at [scoring] responder_level this long before responders are "
        "paged (0: at once; a moderator's or verifier's confirm pages at once). Why 3: on "
        "bench.accuracy it halved the notices later downgraded while open, as 5 or 10 did, "
        "at the least delay (figures in docs/responders.md)",
        low=0,
        high=60,
        unit="minutes",
    ),
    Key(
        "responders",
        "verify_types",
        "raid,checkpoint",
        "report types whose notices ask the room for a verifier when their incident needs "
        "verification (anonymous evidence only, or one member's word), comma-separated "
        "(empty: none)",
    ),
    Key(
        "responders",
        "offer_minutes",
        10,
        "an unclaimed verification is offered again in its thread this often",
        low=1,
        high=240,
        unit="minutes",
    ),
    Key(
        "responders",
        "claim_minutes",
        20,
        "a claim not answered by its ETA plus this is dropped and offered again",
        low=1,
        high=240,
        unit="minutes",
    ),
    Key(
        "matrix",
        "redact_member_messages",
        False,
        "redact a member's message once the bot has answered it (the homeserver keeps less)",
    ),
    Key(
        "signal",
        "url",
        "",
        "signal-cli-rest-api base URL, e.g. http://127.0.0.1:8090 (map its port 8080 elsewhere: "
        "the node has it); empty: off",
    ),
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


def _section_model(section: str, keys: dict[str, Key]) -> type[BaseModel]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{section.title()}Section",
        __config__=ConfigDict(extra="forbid"),
        **{name: (key.annotation, key.default) for name, key in keys.items()},
    )


_SECTIONS = {section: _section_model(section, keys) for section, keys in _BY_SECTION.items()}
# The whole file as one pydantic model, built from SCHEMA: what load_config validates with.
ConfigModel: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "VecinosConfig",
    __config__=ConfigDict(extra="forbid"),
    **{section: (model, model()) for section, model in _SECTIONS.items()},
)


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
        "# Every key is listed with its help, what it accepts and its default. Uncomment a key",
        "# to change it; `vecinos run` refuses a value it does not understand and names the key.",
    ]
    for section, keys in _BY_SECTION.items():  # grouped by section, in order of first mention
        lines += ["", f"[{section}]"]
        if section == "scoring":
            lines.append("# The scoring model's thresholds; their reasons: scoring/defaults.py.")
        for key in keys.values():
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
    try:
        return replace(ScoringConfig(), **changes)
    except ValueError as exc:  # a value only the whole table can check
        raise ConfigError(f"[scoring] {exc}") from exc


# -- problems, one line each ---------------------------------------------------------------


def _value_problem(key: Key, error: Any, value: Any) -> str:
    where = f"[{key.section}] {key.name}"
    if error["type"] == "value_error":  # the key's own check (valid=) said what is wrong
        return f"{where} {error['ctx']['error']}"
    line = f"{where} must be {key.describe()}, got {_toml_value(value)}"
    if key.choices and isinstance(value, str) and all(isinstance(c, str) for c in key.choices):
        hint = _near(value, [str(c) for c in key.choices])
        if hint is not None:
            line += f"; did you mean {hint!r}?"
    return line


def _unknown_key(section: str, name: str, file: str) -> str:
    line = f"unknown key [{section}] {name} in {file}"
    hint = _near(name, list(_BY_SECTION[section]))
    if hint is not None:
        return f"{line}; did you mean {hint}?"
    elsewhere = [s for s, keys in _BY_SECTION.items() if name in keys]
    if elsewhere:
        return f"{line}: it belongs in [{elsewhere[0]}]"
    return line


def _unknown_section(section: str, file: str) -> str:
    line = f"unknown section [{section}] in {file}"
    hint = _near(section, list(_BY_SECTION))
    if hint is not None:
        return f"{line}; did you mean [{hint}]?"
    return line + "; sections are " + ", ".join(f"[{s}]" for s in _BY_SECTION)


def _problem(error: Any, raw: dict[str, Any], file: str) -> str:
    loc = error["loc"]
    section = str(loc[0])
    if len(loc) == 1:
        if error["type"] == "extra_forbidden":
            return _unknown_section(section, file)
        return f"[{section}] must be a table of keys, got {_toml_value(raw.get(section))}"
    name = str(loc[1])
    if error["type"] == "extra_forbidden":
        return _unknown_key(section, name, file)
    return _value_problem(_BY_SECTION[section][name], error, raw[section][name])


def _in_file_order(raw: dict[str, Any]) -> Callable[[Any], tuple[int, int]]:
    sections = list(raw)

    def position(error: Any) -> tuple[int, int]:
        loc = error["loc"]
        first = sections.index(loc[0]) if loc[0] in sections else len(sections)
        table = raw.get(loc[0])
        names = list(table) if isinstance(table, dict) else []
        second = names.index(loc[1]) if len(loc) > 1 and loc[1] in names else -1
        return first, second

    return position


def load_config(path: Path) -> NodeConfig:
    """Read and validate a config file; ConfigError says which key and what is allowed."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no config file at {path}: run `vecinos init` first") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=_in_file_order(raw))  # the first in the file first
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(_problem(errors[0], raw, path.name) + more) from None
    values: dict[str, dict[str, Any]] = {
        section: {
            name: _plain(key, getattr(getattr(model, section), name)) for name, key in keys.items()
        }
        for section, keys in _BY_SECTION.items()
    }
    if not values["chapter"]["id"]:
        raise ConfigError("[chapter] id is empty: run `vecinos init` to create a chapter")
    if values["matrix"]["homeserver"] and not values["matrix"]["user_id"]:
        raise ConfigError("[matrix] user_id must be set when [matrix] homeserver is")
    return NodeConfig(path=path, values=values, scoring=_scoring_from(values["scoring"]))
