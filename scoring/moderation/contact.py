"""Ways to reach or find a person: phone numbers, e-mail, social handles, links.

Rules kept here:
- Phones: the phonenumbers library's matcher (US and Mexico, VALID leniency)
  on the digits view, where spelled digits and O/I/l look-alikes are already
  digits, plus one fallback for separators it does not take ("619_555_0187",
  spaced-out digits, "044"/"+52 1" mobile prefixes); toll-free and emergency
  numbers are organisations, not people, and stay.
- E-mail: any written form of "@" and "." ("at", "arroba", "(at)", "[dot]",
  "punto", spaced out) with a known provider or a real top-level domain.
- Handles: "@" before a user name (letters with a digit, "_" or an inner
  "."), or any user name after a social network's name ("IG maria_lopez88",
  "fb/maria.lopez.5"); "@Vons", "@ the corner", "@5pm" are SMS-style "at".
- Links: every URL or bare domain, also defanged ("hxxps", "[.]", "dot com
  slash"); a link to a map host is a place (coordinates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher, PhoneNumberType

from scoring.moderation.lexicon import FUNCTION_WORDS, count, words
from scoring.moderation.normal import View

Span = tuple[int, int]

# --------------------------------------------------------------------------
# Phones

_NOT_PERSONAL = frozenset(
    {PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST}
)
_MAYBE_PHONE = re.compile(
    r"\d(?:[^a-zA-Z0-9\n]{0,3}\d){6,}"
)  # cheap pre-check: seven digits, close
_RUN = re.compile(r"(?<![\w.,])\+?\d(?:[ .,\-/_~()\u00b7*]{0,3}\d){6,16}\)?(?![\w])")
_LOCAL7 = re.compile(
    r"\b(?:call|text|phone|cell|cel|celular|number|numero|num|whats\w*|wa|tel|telefono|llam\w*|"
    r"marque\w*|marca\w*|mensaje|sms|contact\w*)\b[^\d\n]{0,14}(\d{3}[ .\-/_]{1,2}\d{4})(?![\d])",
)


def _personal(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.number_type(number) not in _NOT_PERSONAL


def _counting(groups: list[str]) -> bool:
    """'10 20 30 40 50', '1 2 3 4 5 6 7': a list counting up, not a number."""
    if len(groups) < 3:
        return False
    values = [int(g) for g in groups]
    return all(a < b for a, b in pairwise(values)) and (len({len(g) for g in groups}) == 1)


def _fallback_ok(digits: str, groups: list[str], plus: bool) -> bool:
    if _counting(groups):
        return False
    if digits.startswith(("00", "011")):
        digits = digits[2:] if digits.startswith("00") else digits[3:]
        plus = True
    elif digits.startswith(("044", "045")) and len(digits) == 13:  # Mexican mobile prefix
        digits = "52" + digits[3:]
        plus = True
    if digits.startswith("521") and len(digits) == 13:  # the "1" Mexico dropped in 2019
        digits = "52" + digits[3:]
    n = len(digits)
    if plus:
        candidate = "+" + digits
    elif n == 10:
        candidate = digits
    elif (n == 11 and digits[0] == "1") or (n in (12, 13) and digits.startswith("52")):
        candidate = "+" + digits
    else:
        return False
    for region in ("US", "MX"):
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number) and _personal(number):
            return True
    return False


_CANDIDATE = re.compile(r"[+(]?\d(?:[^a-zA-Z0-9\n]{0,3}\d){6,}\)?")
_WINDOW = 40  # characters: longer than any written phone number
_MAX_WINDOWS = 8  # the matcher's cost per text stays bounded; the fallback reads the rest


_DATE = re.compile(r"(?:19|20)\d\d[-/.]\d\d?[-/.]\d\d?\b|\d\d?[-/.]\d\d?[-/.](?:19|20)\d\d\b")


def _windows(text: str) -> Iterator[tuple[int, str]]:
    """The text around each short run of digits: where a phone number can be."""
    runs = 0
    for m in _CANDIDATE.finditer(text):
        start, end = max(0, m.start() - 2), min(len(text), m.end() + 2)
        if end - start <= _WINDOW and runs < _MAX_WINDOWS:
            runs += 1
            yield start, text[start:end]


def phones(view: View) -> Iterator[Span]:
    t = view.text
    if not _MAYBE_PHONE.search(t):
        return
    for start, piece in _windows(t):  # the matcher reads only the digits and around them
        for region in ("US", "MX"):
            for match in PhoneNumberMatcher(piece, region, leniency=Leniency.VALID):
                if _personal(match.number):
                    yield start + match.start, start + match.end
    for m in _RUN.finditer(t):
        groups = re.findall(r"\d+", m.group())
        if _DATE.match(m.group()):
            continue  # "2025-06-01 14:00", "06/01/2025 14": a date and a time
        if _fallback_ok("".join(groups), groups, m.group().startswith("+")):
            yield m.start(), m.end()
    for m in _LOCAL7.finditer(view.lower):
        yield m.start(1), m.end(1)


# --------------------------------------------------------------------------
# E-mail

PROVIDERS = (
    "gmail googlemail yahoo ymail hotmail outlook live msn icloud me aol proton protonmail pm "
    "gmx mail yandex zoho tutanota tuta fastmail prodigy telmex infinitum riseup disroot posteo"
)
_PROVIDER = "(?:" + "|".join(sorted(PROVIDERS.split(), key=len, reverse=True)) + ")"
TLDS = words(
    """
        com net org edu gov mil int io co me us mx ca uk de fr es it ch nl se no dk fi
        br ar cl pe ve ec gt hn sv ni cr pa cu do pr info biz app dev xyz online site
        social email cc tv ly gl be to im la ai ws tk ml gq cf ga ru cn jp in au nz eu
        """
)
_AT = (
    r"(?:\s*@\s*|\s*[(\[{<]\s*(?:at|arroba|@)\s*[)\]}>]\s*|\s+(?:at|arroba)\s+|"
    rf"\s+en\s+(?={_PROVIDER}\b))"
)
_DOT = r"(?:\.|\s*[(\[{<]\s*(?:dot|punto|\.)\s*[)\]}>]\s*|\s+(?:dot|punto)\s+|\s+\.\s*|\.\s+)"
_EMAIL = re.compile(
    rf"(?<![\w%+\-])(?P<local>[a-z0-9_%+\-]{{1,64}}(?:{_DOT}[a-z0-9_%+\-]{{1,64}}){{0,4}})"
    rf"(?P<at>{_AT})(?P<domain>[a-z0-9\-]{{1,63}}(?:{_DOT}[a-z0-9\-]{{1,63}}){{0,4}})"
)
_LABEL = re.compile(r"[a-z0-9\-]+")
_MAYBE_EMAIL = re.compile(
    rf"@|\barroba\b|[(\[{{<]\s*at\s*[)\]}}>]|\b(?:at|en)\s+{_PROVIDER}\b|"
    r"\bat\s+[a-z0-9\-]+\s*(?:\.|\bdot\b|\bpunto\b)\s*[a-z]{2,}"
)


def emails(view: View) -> Iterator[Span]:
    low = view.lower
    if not _MAYBE_EMAIL.search(low):
        return
    pos = 0
    while (m := _EMAIL.search(low, pos)) is not None:
        pos = m.start() + 1  # a rejected candidate may hide one that starts inside it
        labels = _LABEL.findall(m.group("domain"))
        local = m.group("local")
        written_at = "@" in m.group("at") or "(" in m.group("at") or "[" in m.group("at")
        provider = re.fullmatch(_PROVIDER, labels[0]) is not None
        tld = len(labels) >= 2 and labels[-1] in TLDS
        if not (provider or tld):
            continue
        if not written_at and (local in FUNCTION_WORDS or count(local) >= 20_000):
            continue  # "they were at gmail.com's office": a word, not an address
        yield m.start(), m.end()
        pos = m.end()


# --------------------------------------------------------------------------
# Handles

_NETWORKS = (
    r"(?:ig|i\.g\.?|insta|instagram|tiktok|tik\s+tok|tt|twitter|fb|facebook|face|feis|"
    r"snap|snapchat|sc|telegram|tg|threads|bluesky|bsky|youtube|yt|discord|reddit|"
    r"onlyfans|linkedin)"
)
_HANDLE_SHAPE = re.compile(r"@?[a-z0-9_](?:[a-z0-9_.]{0,38}[a-z0-9_])?")
_AT_HANDLE = re.compile(r"(?<![\w@.])@(?P<h>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,38}[A-Za-z0-9_])?)")
_AFTER_NETWORK = re.compile(
    rf"\b{_NETWORKS}(?:'?s)?\b\s*(?:(?:account|acct|cuenta|handle|user(?:name)?|usuario|page|"
    r"pagina|profile|perfil|is|es|como|as|de\s+el|de\s+ella|sale\s+como|aparece\s+como|"
    r"under|esta\s+como)\s*)*(?P<sep>[:=\-\u2014>/]+|@)?\s*(?P<h>@?[a-z0-9_][a-z0-9_.]{0,38})",
)
_UNDERSCORED = re.compile(r"(?<![\w@./])[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9](?![\w@])")
_FOLLOW = re.compile(
    r"\b(?:follow|dm|message|tag|sigan|siganla|siganlo|busquen\w*|agreguen\w*|etiqueten\w*)\s+"
    r"(?:her|him|me|a|al|la|el)?\s*:?\s*$"
)


def _handle_like(h: str) -> bool:
    h = h.lstrip("@")
    inner = h.strip("._")
    return bool(
        (re.search(r"\d", h) and re.search(r"[a-z]", h)) or "_" in inner or "." in inner
    ) and not re.fullmatch(r"\d+(?:am|pm)?", h)


def handles(view: View) -> Iterator[Span]:
    t, low = view.text, view.lower
    if "@" in t:
        for m in _AT_HANDLE.finditer(t):
            h = m.group("h").rstrip(".")
            before = low[max(0, m.start() - 30) : m.start()]
            if (
                (_handle_like(h.lower()) and not re.match(r"\d", h))
                or (_FOLLOW.search(before) and h.lower() not in FUNCTION_WORDS)
                or re.search(rf"\b{_NETWORKS}\b", low[m.end() : m.end() + 20])
                or re.search(rf"\b(?:on|en|in)\s+{_NETWORKS}\s*$", before)
            ):
                yield m.start(), m.start() + 1 + len(h)
    for m in _AFTER_NETWORK.finditer(low):
        h = m.group("h").rstrip(".")
        bare = h.lstrip("@")
        if not bare or bare in FUNCTION_WORDS:
            continue
        direct = bool(m.group("sep")) or h.startswith("@")
        if _handle_like(bare) or (direct and count(bare) < 20_000 and len(bare) >= 3):
            yield m.start("h"), m.start("h") + len(h)
    for m in _UNDERSCORED.finditer(low):
        yield m.start(), m.end()


# --------------------------------------------------------------------------
# Links

MAP_HOSTS = re.compile(
    r"(?:maps\.google\.[a-z.]+|google\.[a-z.]+/maps|goo\.gl/maps|maps\.app\.goo\.gl|"
    r"maps\.apple(?:\.com)?|waze\.com|openstreetmap\.org|osm\.org|what3words\.com|w3w\.co|"
    r"bing\.com/maps|here\.com|mapquest\.com|geo:)",
)
_SCHEME = r"(?:h[xt]{2}ps?|ftp)\s*:\s*/\s*/"
_DOTS = r"(?:\.|\s*[(\[{]\s*(?:\.|dot|punto)\s*[)\]}]\s*|\s+(?:dot|punto)\s+|\s+\.(?=[a-z]))"
_TLD = "(?:" + "|".join(sorted(TLDS, key=len, reverse=True)) + ")"
_LINK = re.compile(
    rf"(?:{_SCHEME}\S+|\bwww{_DOTS}\S+|(?<![\w@.\-])[a-z0-9][a-z0-9\-]{{0,62}}"
    rf"(?:{_DOTS}[a-z0-9\-]{{1,63}}){{0,4}}{_DOTS}{_TLD}\b"
    r"(?:(?:/|\s+slash\s+)\S*(?:\s+slash\s+\S+){0,8})?|\bgeo:[\-0-9.,;]+)",
)
_MAYBE_LINK = re.compile(r"\.|dot|punto|://|geo:")


# Hosts that are links whatever follows them.
_KNOWN_HOST = re.compile(
    r"\b(?:imgur|instagram|facebook|fb|tiktok|twitter|youtube|youtu|t|x|bit|tinyurl|ibb|"
    r"postimg|flickr|dropbox|drive|photos|reddit|redd|streamable|linkedin|snapchat|wa|"
    r"telegram|whatsapp|goo|maps)\b"
)


def _wordy(label: str) -> bool:
    return label in FUNCTION_WORDS or count(label) >= 2_000


def links(view: View) -> Iterator[tuple[Span, bool]]:
    """Every link, with True when it points at a map (a place, not a profile)."""
    low = view.lower
    if not _MAYBE_LINK.search(low):
        return
    for m in _LINK.finditer(low):
        text = m.group()
        labels = re.split(_DOTS, text.split("/")[0])
        spoken = re.search(r"\s(?:dot|punto)\s", text) is not None
        if spoken and (labels[0] in FUNCTION_WORDS or count(labels[0]) >= 2_000):
            continue  # "a las siete en punto de la tarde": words, not a host
        bare = not re.match(rf"{_SCHEME}|www", text) and "/" not in text
        tld = labels[-1].strip()
        if bare and len(tld) == 2 and _wordy(tld) and not _KNOWN_HOST.search(text):
            continue  # "ya llegaron.No salgan", "a las 5.De ahí": a missing space, not a host
        squashed = re.sub(r"\s+", "", re.sub(_DOTS, ".", text))
        yield (m.start(), m.end()), bool(MAP_HOSTS.search(squashed))
