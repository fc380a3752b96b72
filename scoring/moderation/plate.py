"""Licence plates: US states' common forms and Mexican plates, in any case and spacing.

Rules kept here:
- Runs on the compact digits view: spelled digits are digits, spaced-out
  characters are joined ("siete a b c uno dos tres" reads "7abc123").
- A plate is letters and digits in one of the standard arrangements (PLATE_FORMS),
  written solid ("7ABC123", "abc1234") or split by any punctuation or spaces
  ("7.ABC.123", "7/ABC/123", "ABC 1234"). Split groups never include a word:
  "May 2025", "Ram 1500", "van 123" are not plates.
- After a plate word ("plate", "tag", "placas", "matrícula") any number or
  code counts, even partial ("ending in 45"), and badge numbers too.
- Vehicle models ("2500HD", "4Runner", "F-150"), highways ("I-805", "SR-94"),
  units ("10am", "5th") and "COVID19" are not plates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scoring.moderation.lexicon import (
    AGENCY_WORDS,
    COUNT_NOUNS,
    FUNCTION_WORDS,
    MONTHS_DAYS,
    STATE_CODES,
    STREET_SUFFIXES,
    VEHICLE_WORDS,
    count,
    words,
)
from scoring.moderation.normal import View

Span = tuple[int, int]

# L: a letter, D: a digit. California 1ABC234; ABC1234 (TX, NY, AZ, PA, ...);
# ABC123 / 123ABC (many states); 1ABC23 (MA); 1AB2345 (MD); AB12345 (IL, CT);
# A12BCD (NJ); 123A45 (NV); Mexico ABC1234 (ABC-12-34), ABC123D, AB1234C, AB12345.
PLATE_FORMS = words(
    """
        DLLLDDD DLLLDD DLLDDDD LLLDDDD LLLDDD DDDLLL LLDDDDD LDDLLL DDDLDD LLLDDDL
        LLDDDDL
        """
)
_SHAPE = str.maketrans("abcdefghijklmnopqrstuvwxyz0123456789", "L" * 26 + "D" * 10)
_TOKEN = re.compile(r"[a-z0-9]+")
_SEPARATOR = re.compile(r"[ .\-/_·*|:'\"]{1,3}")
# Letters that read as digits next to digits ("7ABC1O3").
_LOOKALIKE_DIGITS = re.compile(r"(?<=\d)[oil](?=\d|$)|(?<=\d)[oil](?=[oil]\d)")

# Letter groups that are codes, not plate letters.
_NOT_PLATE_LETTERS = (
    FUNCTION_WORDS
    | AGENCY_WORDS
    | VEHICLE_WORDS
    | MONTHS_DAYS
    | STREET_SUFFIXES
    | COUNT_NOUNS
    | words(
        """
            i sr ca us hwy hw rt rte route ruta exit salida carretera interstate
            autopista fwy az tx nm st calle av ave no num nr apt ste km mph kmh kph min
            mins hr hrs am pm lbs kg mm cm ft mi nb sb eb wb sur nte ote pte col tel ext
            pg covid sars h1n1 mp ar ak ss ms mr mrs dr lt sgt kw mx usa cal baja zip cp
            est fax ref pin ph po box
            """
    )
    | STATE_CODES
)
_MODEL = re.compile(
    r"(?:[ef]\d{3}|\d{4}(?:hd|xd)|\d?runner|rav\d|nv\d{3,4}|np\d{3}|z\d{2}|"
    r"covid\d{1,2}|h\dn\d|i\d{1,3}|sr\d{1,3}|ca\d{1,3}|us\d{1,3}|hwy\d{1,3}|"
    r"\d+(?:st|nd|rd|th|am|pm|hrs?|mins?|km|mi|mph|ft|lbs?|kg|x\d*))"
)
_KEYWORD = re.compile(
    r"\b(?:license\s+plates?|licen[cs]e|plates?|tags?|placas?|matriculas?|patentes?|"
    r"badges?|insignia|chapa)\b"
)
_FILLER = re.compile(
    r"(?:\s*(?:(?:number|num|nr|numero|de|is|es|era|was|were|are|read|reads|says|said|dice|"
    r"decia|con|del|la|el|su|sus|the|his|her|their|its|of|agente|agent|officer|oficial|"
    r"carro|van|camioneta|troca|patrulla|vehicle|car|truck|suv|from|de\s+la|"
    r"california|texas|arizona|nevada|baja|sonora|chihuahua|mexico|ca|tx|az|bc|"
    r"ending|ends|starting|starts|that|terminan?|terminaba|empiezan?|comienzan?|"
    r"que|in|with|en|con|son)\b|no\.|n[o°]\b|[:=#,\-\"'])\s*)*"
)
_CODE = re.compile(r"[a-z0-9](?:[a-z0-9]|[ .\-/_·]{1,3}(?=[a-z0-9])){0,11}")


def _shape(token: str) -> str:
    return token.translate(_SHAPE)


def _fix_lookalikes(joined: str) -> str:
    return _LOOKALIKE_DIGITS.sub(lambda m: "0" if m.group() == "o" else "1", joined)


def _is_plate(joined: str) -> bool:
    if not 5 <= len(joined) <= 8 or _MODEL.fullmatch(joined):
        return False
    return _shape(joined) in PLATE_FORMS or _shape(_fix_lookalikes(joined)) in PLATE_FORMS


# Letter groups that make a glued token a model, a year or a road, not a plate ("ram1500").
_SOLID_CODES = (AGENCY_WORDS | VEHICLE_WORDS | MONTHS_DAYS) | words(
    "i sr ca us hwy rt rte nb sb eb wb km mi mph am pm hrs covid"
)


def _word(token: str) -> bool:
    """A letter group that is a word or a code, which a plate's letters never are."""
    if token.isdigit() or len(token) == 1:
        return False
    return token in _NOT_PLATE_LETTERS or count(token) >= 2_000


def plates(view: View) -> Iterator[Span]:
    low = view.lower
    if _DIGIT.search(low):
        yield from _bare_plates(low)
    if _MAYBE_KEYWORD.search(low):
        yield from _keyword_plates(view, low)


_DIGIT = re.compile(r"\d")
_MAYBE_KEYWORD = re.compile(r"licen|plate|tag|placa|matricula|patente|badge|insignia|chapa")


def _bare_plates(low: str) -> Iterator[Span]:
    """Plates written alone: solid ("7abc123") or split by separators ("7.ABC.123")."""
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(low)]
    for i, (start, end, tok) in enumerate(tokens):
        if len(tok) > 8 or (len(tok) > 3 and tok.isalpha()):
            continue
        if _is_plate(tok) and not any(w in _SOLID_CODES for w in re.findall(r"[a-z]+", tok)):
            yield start, end
            continue
        joined, last_end, words = tok, end, _word(tok)
        for j in range(i + 1, min(i + 8, len(tokens))):
            s, e, nxt = tokens[j]
            if (len(nxt) > 3 and nxt.isalpha()) or not _SEPARATOR.fullmatch(low[last_end:s]):
                break
            joined += nxt
            words = words or _word(nxt)
            last_end = e
            if len(joined) > 8:
                break
            if not words and _is_plate(joined):
                yield start, last_end
                break


def _keyword_plates(view: View, low: str) -> Iterator[Span]:
    """After a plate word: any code, even partial ("placas que terminan en 45")."""
    for m in _KEYWORD.finditer(low):
        pos = _FILLER.match(low, m.end()).end()
        pos += len(low[pos:]) - len(low[pos:].lstrip())
        code = _CODE.match(low, pos)
        if not code:
            continue
        kept: list[str] = []
        end = pos
        groups = list(re.finditer(r"[a-z0-9]+", code.group()))
        for k, g in enumerate(groups):
            word = g.group()  # stop at the first plain word: "plates 100 feet away"
            glued = (  # "tag dam-1271": a word joined to digits is a plate's letters
                k + 1 < len(groups)
                and groups[k + 1].group().isdigit()
                and re.fullmatch(r"[ .\-/_]{1,3}", code.group()[g.end() : groups[k + 1].start()])
            )
            plain = word in FUNCTION_WORDS or (len(word) > 1 and _word(word) and not glued)
            if word.isalpha() and plain:
                break
            kept.append(word)
            end = pos + g.end()
        joined = "".join(kept)
        if not joined or not any(c.isdigit() for c in joined):
            if len(joined) >= 4 and joined.isalpha() and view.text[pos:end].isupper():
                yield m.start(), end  # a vanity plate: "plate NOICE"
            continue
        if joined.isdigit():
            after = re.match(r"\s*([a-z]+)", low[end : end + 20])
            if after and after.group(1) in COUNT_NOUNS:
                continue  # "plates 100 feet away", "placas 3 camionetas"
            if len(joined) < 2:
                continue
        yield m.start(), end
