"""Read a member's room message (EN/ES free text or `!report ...`) into report fields.

Pure functions, no I/O: the member-room handler (federation.members) turns
the result into a ReportDraft. Nothing here logs or keeps the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Area(Protocol):
    name: str
    aliases: tuple[str, ...]


class Places(Protocol):
    """The chapter's places (node.service.Node is one): its areas, its highways' spelling."""

    def areas(self) -> Sequence[Area]: ...

    def highway(self, text: str) -> str | None: ...


# Type words (normalised: lower case, no accents), strongest type first: a
# raid seen with vans is a raid. Code words ("la migra", "ICE") name no type.
TYPE_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("raid", ("raid", "raids", "redada", "redadas", "operativo", "operativos")),
    (
        "checkpoint",
        ("checkpoint", "checkpoints", "reten", "retenes", "punto de control", "puntos de control"),
    ),
    ("patrol", ("patrol", "patrols", "patrulla", "patrullas", "patrol car", "patrullando")),
    (
        "vehicle",
        (
            "ice cream truck",
            "ice cream trucks",
            "vehicle",
            "vehicles",
            "vehiculo",
            "vehiculos",
            "camioneta",
            "camionetas",
            "van",
            "vans",
            "truck",
            "trucks",
            "suv",
            "suvs",
        ),
    ),
)
# One-word answers to "what did you see?" (also accepted as the command's type).
TYPE_CHOICES: dict[str, str] = {
    word: kind for kind, words in TYPE_PATTERNS for word in words if " " not in word
}

STILL_PHRASES = (
    "still there",
    "still here",
    "still active",
    "still going",
    "they are still",
    "they're still",
    "siguen ahi",
    "siguen aqui",
    "sigue ahi",
    "sigue aqui",
    "todavia estan",
    "todavia esta",
    "aun estan",
    "aun esta",
    "siguen",
    "active",
    "activo",
    "activa",
)
GONE_PHRASES = (
    "gone",
    "not active",
    "no longer active",
    "not there",
    "ya no",
    "they left",
    "left already",
    "no longer there",
    "not there anymore",
    "cleared",
    "ya se fueron",
    "se fueron",
    "ya se fue",
    "se fue",
    "ya no estan",
    "ya no esta",
    "ya no hay",
    "terminado",
)

SPANISH_WORDS = frozenset(
    [
        "en",
        "de",
        "la",
        "el",
        "los",
        "las",
        "del",
        "y",
        "que",
        "ya",
        "se",
        "siguen",
        "sigue",
        "ahi",
        "aqui",
        "hay",
        "esta",
        "estan",
        "tres",
        "dos",
        "cuatro",
        "cerca",
        "por",
        "redada",
        "reten",
        "camioneta",
        "camionetas",
        "patrulla",
        "vehiculo",
        "migra",
        "fueron",
        "todavia",
        "aun",
        "un",
        "una",
        "unos",
        "unas",
        "con",
        "sobre",
        "calle",
        "hacia",
        "desde",
        "vi",
        "vimos",
    ]
)
ENGLISH_WORDS = frozenset(
    [
        "on",
        "the",
        "in",
        "at",
        "near",
        "still",
        "there",
        "gone",
        "is",
        "are",
        "and",
        "of",
        "an",
        "by",
        "checkpoint",
        "raid",
        "truck",
        "trucks",
        "van",
        "vans",
        "patrol",
        "vehicle",
        "left",
        "three",
        "two",
        "four",
        "with",
        "saw",
        "we",
        "they",
        "at",
        "eastbound",
        "westbound",
        "northbound",
        "southbound",
        "here",
    ]
)

HIGHWAY = re.compile(r"\b(i|sr|hwy|highway|ca|interstate)[\s-]?(\d{1,3})\b")
WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str) -> str:
    """Lower case, accents dropped, punctuation to spaces, single spaces."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(WORD.findall(plain))


def _contains(haystack: str, phrase: str) -> bool:
    return f" {phrase} " in f" {haystack} "


@dataclass(frozen=True)
class MemberReport:
    """What a message says; None for what it does not say."""

    type: str | None
    area: str | None  # the gazetteer's name, only for a known area
    highway: str | None
    still_active: bool | None
    description: str
    language: str | None  # "es", "en" or None when unclear


def detect_language(text: str) -> str | None:
    words = normalize(text).split()
    es = sum(w in SPANISH_WORDS for w in words)
    en = sum(w in ENGLISH_WORDS for w in words)
    if es > en:
        return "es"
    if en > es:
        return "en"
    return None


def find_type(text: str) -> str | None:
    norm = normalize(text)
    for kind, words in TYPE_PATTERNS:
        if any(_contains(norm, w) for w in words):
            return kind
    return None


def find_still_active(text: str) -> bool | None:
    norm = normalize(text)
    if any(_contains(norm, p) for p in GONE_PHRASES):
        return False
    if any(_contains(norm, p) for p in STILL_PHRASES):
        return True
    return None


def find_highway(text: str, places: Places) -> str | None:
    for prefix, number in HIGHWAY.findall(normalize(text)):
        letters = "I" if prefix in ("i", "interstate") else "SR"
        found = places.highway(f"{letters}-{number}")
        if found is not None:
            return found
    return None


def find_area(text: str, places: Places) -> str | None:
    """The gazetteer area whose name or alias the text contains (never a guess)."""
    norm = normalize(text)
    best: tuple[int, str] | None = None
    for area in places.areas():
        for label in (area.name, *area.aliases):
            key = normalize(label)
            if key and _contains(norm, key) and (best is None or len(key) > best[0]):
                best = (len(key), area.name)
    return best[1] if best else None


def parse(text: str, places: Places) -> MemberReport:
    """Free text or `!report <type> <area> [active] <what you saw>`."""
    body = text.strip()
    kind: str | None
    if body.lower().startswith("!report"):
        rest = body[len("!report") :].strip()
        first, _, tail = rest.partition(" ")
        kind = TYPE_CHOICES.get(normalize(first)) or find_type(rest)
        scan = tail if TYPE_CHOICES.get(normalize(first)) else rest
        body = rest
    else:
        kind = find_type(body)
        scan = body
    return MemberReport(
        type=kind,
        area=find_area(scan, places),
        highway=find_highway(scan, places),
        still_active=find_still_active(scan),
        description=body,
        language=detect_language(body),
    )


def one_word_type(text: str) -> str | None:
    """A member's answer to "what did you see?" (a type word, maybe in a short phrase)."""
    return TYPE_CHOICES.get(normalize(text)) or find_type(text)
