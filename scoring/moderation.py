"""Moderation of a report's free text: personal information is refused, calls
to interfere or evade go to human review.

Rules kept here:
- English and Spanish, with or without accents: patterns run on a folded copy
  of the text (accents stripped, invisible format characters dropped) whose
  every character maps back to the original, so Finding spans index the
  reporter's own text.
- Refusals favour recall (a leaked plate, phone or name can hurt someone;
  a refusal only asks the reporter to rephrase), but never fire on the words
  reports are made of: highways (I-8, SR-94, Hwy 94), times (10am), counts
  (3 vans), intersections (Main St and 5th Ave), place names (San Ysidro).
- Nothing here logs or keeps the text; the findings are kinds and spans.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise


class FindingKind(StrEnum):
    PLATE = "plate"
    PHONE = "phone"
    EMAIL = "email"
    HANDLE = "handle"
    ADDRESS = "address"
    COORDINATES = "coordinates"
    NAME = "name"
    INTERFERENCE = "interference"


# Message ids of the reasons, translated by the node's catalogs.
REASON_CODE: dict[FindingKind, str] = {
    FindingKind.PLATE: "refused_plate",
    FindingKind.PHONE: "refused_phone",
    FindingKind.EMAIL: "refused_email",
    FindingKind.HANDLE: "refused_handle",
    FindingKind.ADDRESS: "refused_address",
    FindingKind.COORDINATES: "refused_coordinates",
    FindingKind.NAME: "refused_name",
    FindingKind.INTERFERENCE: "review_interference",
}

REVIEW_KINDS: frozenset[FindingKind] = frozenset({FindingKind.INTERFERENCE})


@dataclass(frozen=True)
class Finding:
    """One thing found, as a [start, end) span of the original text."""

    kind: FindingKind
    start: int
    end: int


@dataclass(frozen=True)
class Moderation:
    refusals: tuple[Finding, ...] = ()
    review: tuple[Finding, ...] = ()

    @property
    def refused(self) -> bool:
        return bool(self.refusals)


# --------------------------------------------------------------------------
# Folding: a copy of the text without accents, mapped back char by char.


@dataclass(frozen=True)
class _Folded:
    text: str
    origin: tuple[int, ...]  # origin[i] = index in the original of text[i]
    length: int  # length of the original

    def span(self, start: int, end: int) -> tuple[int, int]:
        if start >= end:
            return (self.origin[start] if start < len(self.origin) else self.length,) * 2
        return self.origin[start], self.origin[end - 1] + 1


def _fold(text: str) -> _Folded:
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":  # zero-width joiners, soft hyphens...
            continue
        for d in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(d):
                continue
            chars.append(d)
            origin.append(i)
    return _Folded("".join(chars), tuple(origin), len(text))


_I = re.IGNORECASE


def _alts(words: str) -> str:
    """'a b c' -> '(?:a|b|c)', longest first so alternation prefers full words."""
    items = sorted(set(words.split()), key=len, reverse=True)
    return "(?:" + "|".join(items) + ")"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that are never part of a name, a street name or a plate, lowercased.
_FUNCTION_WORDS = _words(
    """
    a an the this that these those he she they them him her his hers its it we us you
    your our their i me my mine who whom what when where which why how in on at near by
    from to of off with without and or but nor is was are were be been being am not no
    yes after before because so then there here up down over under into onto out about
    all some any every each other another one two three four five six seven eight nine
    ten unknown unclear sure maybe just only also still again now today tonight yesterday
    tomorrow morning afternoon evening night noon midnight
    el la los las lo un una unos unas de del al en y e o u con sin por para que quien
    cual cuando donde como se su sus le les mi mis tu tus es era fue son estan esta estaba
    ser si no ni ya muy mas menos aqui alli ahi aca alla hoy ayer manana tarde noche
    mediodia todo todos toda todas otro otra uno dos tres cuatro cinco seis siete ocho
    nueve diez desconocido nadie alguien pero porque entonces tambien solo
    """
)

# Agencies, vehicles, roles and place words: capitalised but not a person's name.
_NOT_NAMES = _FUNCTION_WORDS | _words(
    """
    ice cbp hsi ero dhs fbi dea atf usbp bp lapd sdpd pd chp swat usa us mx
    migra migracion immigration inmigracion border frontera frontier patrol patrulla
    police policia sheriff sheriffs marshal marshals federal federales federal
    special especial enforcement customs aduana homeland security seguridad agent agents
    agente agentes officer officers oficial oficiales deputy deputies van vans truck trucks
    suv suvs car cars vehicle vehicles camioneta camionetas troca trocas carro carros
    unit unidad team equipo task force
    home depot walmart target costco lowes smart final food starbucks mcdonalds
    street st avenue ave av road rd boulevard blvd drive dr highway hwy freeway fwy
    interstate route ruta calle avenida carretera autopista bulevar exit salida
    north south east west norte sur oriente poniente downtown centro
    san santa santo los las el la del mount mt lake fort port point punta playa
    tijuana mexicali tecate ensenada rosarito otay chula vista ysidro diego escondido
    oceanside temecula imperial calexico yuma tucson phoenix nogales laredo houston
    dallas chicago angeles francisco california texas arizona mexico baja
    monday tuesday wednesday thursday friday saturday sunday
    lunes martes miercoles jueves viernes sabado domingo
    january february march april may june july august september october november december
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
    god dios lord senor
    """
)

_STREET_SUFFIX = (
    r"(?:st|street|ave|avenue|av|blvd|boulevard|rd|road|dr|drive|ln|lane|way|ct|court|pl|"
    r"place|pkwy|parkway|ter|terrace|cir|circle|hwy|highway|trl|trail|loop|sq|square|row|"
    r"alley|plaza|cres|crescent|path|pike|ctr)"
)

_DIRECTIONS = (
    r"(?:north|south|east|west|northbound|southbound|eastbound|westbound|nb|sb|eb|wb|"
    r"norte|sur|oriente|poniente|este|oeste)"
)

# Counted things: "3 trucks", "12 agentes" are counts, not house numbers.
_COUNT_NOUNS = _words(
    """
    van vans truck trucks car cars suv suvs vehicle vehicles bus buses agent agents officer
    officers cop cops people person persons men man women guys unit units patrol patrols
    block blocks mile miles min mins minute minutes hour hours hr hrs km kms feet ft meter
    meters am pm times lanes lane exits exit
    camioneta camionetas troca trocas carro carros coche coches patrulla patrullas agente
    agentes oficial oficiales policia policias persona personas hombres mujeres unidades
    cuadra cuadras milla millas minuto minutos hora horas metros carril carriles
    """
)


# --------------------------------------------------------------------------
# Plates


_HIGHWAY_TOKEN = re.compile(
    r"(?:i|sr|ca|us|hwy|hw|rt|rte|route|ruta|exit|salida|carretera|interstate|autopista|"
    r"fwy|freeway|az|tx|nm|st|calle|av|ave)\d{1,4}[nsewo]?",
    _I,
)
_UNIT_TOKEN = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|hrs?|h|mins?|km|kms|mi|mph|kmh|kph|ft|m|lbs?|kg|x|k|s|ers|"
    r"a\.?m\.?|p\.?m\.?|de|er|ro|do|to|vo|mo|no)",
    _I,
)
_PLATE_KEYWORD = re.compile(
    r"\b(?:license\s+plates?|licen[cs]e(?:\s+plates?)?|plates?|tags?|placas?|matriculas?|"
    r"patentes?|licencia|badge|badges|insignia)\b",
    _I,
)
_PLATE_FILLER = re.compile(
    r"(?:\s*(?:(?:number|num|nr|numero|de|is|es|era|was|were|are|read|reads|says|dice|"
    r"decia|con\s+numero|del|la|el|su|sus|the|his|her|their|its|of|agente|agent|officer|"
    r"oficial|carro|van|camioneta|troca|patrulla|vehicle|car|truck|suv)\b|no\.|n[o°]\b|"
    r"[:=#,\-]))*\s*",
    _I,
)
_PLATE_PARTIAL = re.compile(
    r"\s*(?:ending\s+(?:in|with)|ends\s+(?:in|with)|starting\s+with|starts\s+with|"
    r"that\s+(?:end|ends|start|starts)\s+(?:in|with)|que\s+terminan?\s+en|terminan?\s+en|"
    r"terminaba\s+en|empiezan?\s+con|comienzan?\s+con)\b\s*[:#]?\s*",
    _I,
)
_PLATE_GROUP = re.compile(r"[A-Za-z0-9]{1,8}")
_BARE_TOKEN = re.compile(r"(?<![\w@#./-])[A-Za-z0-9]{5,8}(?![\w@]|[./-]\w)")
_BARE_SPLIT = re.compile(
    r"(?<![\w@#./-])(?:"
    r"(?P<a>[A-Z]{2,3})[ -](?P<b>\d{3,4})"
    r"|(?P<c>\d[A-Za-z]{3})[ -](?P<d>\d{3})"
    r"|(?P<e>\d{3})[ -](?P<f>[A-Z]{3})"
    r"|(?P<g>[A-Z]{3})-(?P<h>\d{2,3})-(?P<i>[A-Z0-9]{1,2})"
    r")(?![\w@]|[./-]\w)"
)
_SPLIT_PREFIX_STOP = {
    "sr", "ca", "us", "hwy", "rt", "rte", "ice", "cbp", "hsi", "ero", "dhs", "fbi", "dea",
    "atf", "bp", "usbp", "suv", "suvs", "pd", "chp", "mts", "bus", "am", "pm", "az", "tx",
    "nm", "exit", "no", "num", "apt", "ste", "ave", "av", "st", "rd", "dr", "usa", "cal",
    "nb", "sb", "eb", "wb", "km", "mph", "kmh", "kph", "sur", "nte", "ote", "pte", "min",
    "hrs", "lbs", "the", "and", "for", "son", "con", "los", "las", "del", "por",
}  # fmt: skip


def _is_plate_token(tok: str) -> bool:
    has_digit = any(c.isdigit() for c in tok)
    has_alpha = any(c.isalpha() for c in tok)
    if not (has_digit and has_alpha) or not 5 <= len(tok) <= 8:
        return False
    if _HIGHWAY_TOKEN.fullmatch(tok) or _UNIT_TOKEN.fullmatch(tok):
        return False
    # "10vans", "100pre": a count glued to a lowercase word
    if re.fullmatch(r"\d+[a-z]{3,}", tok):
        return False
    # "covid19", "tienda2": a lowercase word with a short number
    return not re.fullmatch(r"[a-z]{4,}\d{1,2}", tok)


def _plates(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    # 1. After a keyword: "plate 7ABC123", "placas ABC-1234", "license 8XYZ 321".
    for m in _PLATE_KEYWORD.finditer(t):
        pos = _PLATE_FILLER.match(t, m.end()).end()
        partial = _PLATE_PARTIAL.match(t, pos)
        if partial:
            pos = _PLATE_FILLER.match(t, partial.end()).end()
        groups: list[str] = []
        end = pos
        while len(groups) < 3:
            g = _PLATE_GROUP.match(t, pos)
            if not g or (g.end() < len(t) and (t[g.end()].isalnum() or t[g.end()] == "_")):
                break
            word = g.group()
            caps_or_digit = any(c.isdigit() for c in word) or (word.isupper() and len(word) >= 2)
            total = sum(map(len, groups)) + len(word)
            if not caps_or_digit or word.lower() in _FUNCTION_WORDS or total > 8:
                break
            groups.append(word)
            end = g.end()
            if end < len(t) - 1 and t[end] in " -." and t[end + 1].isalnum():
                pos = end + 1
            else:
                break
        joined = "".join(groups)
        if not joined:
            continue
        if joined.isdigit():  # "plates 100 feet away", "placas 3 camionetas": a count
            after = re.match(r"\s*([^\W\d_]+)", t[end : end + 30])
            if after and after.group(1).lower() in _COUNT_NOUNS | _FUNCTION_WORDS:
                continue
        digits = any(c.isdigit() for c in joined)
        vanity = joined.isalpha() and joined.isupper() and len(joined) >= 4
        if (digits and len(joined) >= (2 if partial else 3)) or vanity:
            yield m.start(), end
    # 2. Bare tokens mixing letters and digits: 7ABC123, ABC1234, 7abc123.
    for m in _BARE_TOKEN.finditer(t):
        if _is_plate_token(m.group()):
            yield m.start(), m.end()
    # 3. Split forms: "ABC 1234", "7ABC 123", "123 ABC", "ABC-12-34" (Mexico).
    for m in _BARE_SPLIT.finditer(t):
        letters = m.group("a") or m.group("f") or m.group("g") or ""
        if letters.lower() in _SPLIT_PREFIX_STOP:
            continue
        yield m.start(), m.end()


# --------------------------------------------------------------------------
# Phones


_PHONE_RUN = re.compile(r"(?<![\w+.,])\+?\(?\d(?:[\d]|[ .\-()]{1,2}(?=[\d(])){6,20}\d\)?(?![\w])")
_PHONE_SHORT = re.compile(r"(?<![\w.,:/-])\d{3}[-.]\d{4}(?![\w.,:/-]|\.\d)")
_PHONE_KEYWORD = re.compile(
    r"\b(?:phone|cell|cel|celular|tel|telefono|whats(?:app)?|wa|call|llama|llamen|llamar|"
    r"text|textea|numero|number|contacto|contact)\b[^\d\n]{0,12}(\+?\d[\d .\-()]{5,18}\d)",
    _I,
)


_TOLL_FREE = re.compile(r"1?8(?:00|88|77|66|55|44|33)\d{7}")  # hotlines, not people


def _phone_digits_ok(groups: list[str], plus: bool) -> bool:
    digits = "".join(groups)
    n = len(digits)
    if _TOLL_FREE.fullmatch(digits):
        return False
    if not (
        n == 10
        or (n == 11 and digits.startswith("1"))
        or (n in (12, 13) and digits.startswith("52"))  # Mexico: 52 (1) + ten digits
        or (plus and 8 <= n <= 15)
    ):
        return False
    # "10 20 30 40 50" is a list, not a number: same-size groups counting up.
    sizes = {len(g) for g in groups}
    counting = all(int(a) < int(b) for a, b in pairwise(groups))
    return plus or len(groups) < 3 or not (len(sizes) == 1 and sizes != {1} and counting)


def _phones(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    for m in _PHONE_RUN.finditer(t):
        groups = [(g.group(), g.start(), g.end()) for g in re.finditer(r"\d+", m.group())]
        plus = m.group().startswith("+")
        # the longest valid window of digit groups, leftmost first ("10 20 619 555 1234")
        i = 0
        while i < len(groups):
            for j in range(len(groups), i, -1):
                if _phone_digits_ok([g for g, _, _ in groups[i:j]], plus and i == 0):
                    start = m.start() if i == 0 else m.start() + groups[i][1]
                    yield start, m.start() + groups[j - 1][2]
                    i = j
                    break
            else:
                i += 1
    for m in _PHONE_SHORT.finditer(t):
        yield m.start(), m.end()
    for m in _PHONE_KEYWORD.finditer(t):
        digits = "".join(re.findall(r"\d+", m.group(1)))
        if len(digits) >= 7 and not _TOLL_FREE.fullmatch(digits):
            yield m.start(1), m.end(1)


# --------------------------------------------------------------------------
# E-mail, handles


_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_EMAIL_SPELLED = re.compile(
    r"(?<![\w.+\-])[\w.+\-]+(?:\s*(?:\(at\)|\[at\]|\{at\}|\(arroba\))\s*|\s+(?:at|arroba)\s+)[\w\-]+"
    r"(?:\.|\s*(?:\(dot\)|\[dot\]|\(punto\))\s*|\s+(?:dot|punto)\s+)"
    r"(?:com|net|org|edu|gov|mx|io|co|us|me|info)\b",
    _I,
)
_HANDLE = re.compile(r"(?<![\w@.])@(?=[A-Za-z_])([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_HANDLE_AT_WORDS = {
    "the", "a", "an", "home", "work", "school", "church", "corner", "noon", "night",
    "midnight", "la", "el", "los", "las", "casa", "mi", "my", "su", "this", "that",
    "walmart", "target", "costco", "homedepot", "lowes", "mcdonalds", "starbucks",
}  # fmt: skip
_HANDLE_KEYWORD = re.compile(
    r"\b(?:ig|insta|instagram|tiktok|tik\s+tok|twitter|fb|facebook|snap|snapchat|telegram|"
    r"threads|bluesky|bsky)\b\s*(?:(?P<colon>[:=])|(?P<is>is|es|como))\s*"
    r"@?(?P<h>[A-Za-z0-9_][A-Za-z0-9_.]{1,29})",
    _I,
)


def _emails(f: _Folded) -> Iterator[tuple[int, int]]:
    for rx in (_EMAIL, _EMAIL_SPELLED):
        for m in rx.finditer(f.text):
            yield m.start(), m.end()


def _handles(f: _Folded) -> Iterator[tuple[int, int]]:
    for m in _HANDLE.finditer(f.text):
        if m.group(1).lower() in _HANDLE_AT_WORDS:
            continue
        yield m.start(), m.end()
    for m in _HANDLE_KEYWORD.finditer(f.text):
        h = m.group("h").rstrip(".")
        if h.lower() in _FUNCTION_WORDS:
            continue
        if m.group("is") and not re.search(r"[_.\d]", h):
            continue  # "facebook is down": only handle-looking words after "is"
        yield m.start("h"), m.start("h") + len(h)


# --------------------------------------------------------------------------
# Addresses


_ADDRESS_EN = re.compile(
    r"(?<![\w#.-])(?P<num>\d{1,6}[A-Za-z]?|\d{1,5}-\d{1,5})\s+"
    r"(?:(?:[NSEW]|north|south|east|west)\.?\s+)?"
    r"(?P<name>(?:[\w'.-]+\s+){0,3}?[\w'.-]+)\s+" + _STREET_SUFFIX + r"\b\.?",
    _I,
)
_ADDRESS_NUM_FIRST_ES = re.compile(
    r"(?<![\w#.-])\d{1,6}\s+(?:calle|avenida|av|camino|caminito|via|paseo|rancho|corte|"
    r"calzada|privada|cerrada)\.?\s+(?:de\s+(?:la\s+|los\s+|las\s+)?)?[A-Za-z][\w'-]+",
    _I,
)
_STREET_KEYWORD_ES = re.compile(
    r"(?:\bc/|\b(?:calle|avenida|av|ave|blvd|bulevar|boulevard|calzada|callejon|privada|prol|"
    r"prolongacion|paseo|camino|andador|cerrada|circuito|retorno|carretera)\b\.?)\s*",
    _I,
)
_ES_TOKEN = re.compile(
    r"\s*(?:(?P<hash>\#|no\.|num\.|numero\b|n\.o\b|n°)\s*)?(?P<num>\d{1,5}[A-Za-z]?)\b"
    r"|\s*(?P<word>[^\W\d_][\w'.-]*)",
    _I,
)
_INTERSECTION_WORDS = {
    "y", "and", "e", "esquina", "esq", "con", "entre", "cruce", "at", "&", "cerca", "near",
    "frente", "por", "hacia", "rumbo", "towards", "to", "from", "desde", "en",
}  # fmt: skip
_UNIT = re.compile(
    r"\b(?:apt|apartment|apartamento|suite|ste|depto|departamento|dpto|interior|int)\.?\s*"
    r"(?:\#|no\.?|num\.?|numero)?\s*\d{1,5}[A-Za-z]?\b",
    _I,
)
_NUMBERED_ROADS = {
    "exit", "salida", "hwy", "highway", "route", "ruta", "rt", "rte", "interstate", "sr",
    "carretera", "autopista", "freeway", "fwy", "km", "kilometro", "mile", "milla", "us", "ca",
}  # fmt: skip
_BLOCK_OF = re.compile(r"(?<![\w.-])\d{2,6}\s+block\s+of\s+(?:[\w'.-]+\s*){1,3}", _I)


def _addresses(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    for start in re.finditer(r"(?<![\w#.-])\d", t):  # every start: matches may overlap
        m = _ADDRESS_EN.match(t, start.start())
        if not m:
            continue
        before = re.findall(r"[\w']+", t[max(0, m.start() - 20) : m.start()])[-1:]
        if before and before[0].lower() in _NUMBERED_ROADS:
            continue  # "I-8 exit 40 Main St": the 40 is an exit, not a house
        words = [w.lower().strip(".'") for w in m.group("name").split()]
        if any(w in _COUNT_NOUNS or w in _INTERSECTION_WORDS for w in words):
            continue
        if any(w in _FUNCTION_WORDS for w in words):
            continue
        if any(re.fullmatch(r"\d+", w) for w in words):
            continue
        yield m.start(), m.end()
    for m in _ADDRESS_NUM_FIRST_ES.finditer(t):
        yield m.start(), m.end()
    for m in _STREET_KEYWORD_ES.finditer(t):
        pos = m.end()
        name_words: list[str] = []
        for _ in range(6):
            tok = _ES_TOKEN.match(t, pos)
            if not tok:
                break
            if tok.group("num") is not None:
                hashed = tok.group("hash") is not None
                after = re.match(r"\s*([^\W\d_]+)", t[tok.end() : tok.end() + 30])
                counted = after is not None and after.group(1).lower() in _COUNT_NOUNS
                named = any(w not in _FUNCTION_WORDS for w in name_words)
                if hashed or (named and not counted):
                    yield m.start(), tok.end()
                    break
                if not name_words:  # "Calle 5 de Mayo 123": a numbered name
                    name_words.append(tok.group("num"))
                    pos = tok.end()
                    continue
                break
            word = tok.group("word").lower().strip(".")
            if word in _INTERSECTION_WORDS or word in _COUNT_NOUNS:
                break
            name_words.append(word)
            pos = tok.end()
    for rx in (_UNIT, _BLOCK_OF):
        for m in rx.finditer(t):
            yield m.start(), m.end()


# --------------------------------------------------------------------------
# Coordinates and map links


_DECIMAL_PAIR = re.compile(
    r"(?<![\w.])(?P<a>[-+]?\d{1,3}\.(?P<ad>\d{2,}))\s*(?:[,;/]\s*|\s+)"
    r"(?P<b>[-+]?\d{1,3}\.(?P<bd>\d{2,}))(?![\w.]|\.\d)"
)
_LABELLED = re.compile(
    r"\b(?:lat|latitude|latitud|lon|long|longitude|longitud|lng)\b\s*[:=]?\s*[-+]?\d{1,3}\.\d+",
    _I,
)
_DMS = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d+)?\s*(?:°|o(?=\s*\d{1,2}\s*['′’]))\s*"
    r"(?P<min>\d{1,2}(?:\.\d+)?\s*['′’]\s*)?"
    r"(?:\d{1,2}(?:\.\d+)?\s*(?:[\"″”]|''|′′)\s*)?"
    r"(?P<hemi>[NSEWO]\b)?"
)
_MAP_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:maps\.google\.[a-z.]+|google\.[a-z.]+/maps|goo\.gl/maps|"
    r"maps\.app\.goo\.gl|maps\.apple\.com|waze\.com/ul|what3words\.com|w3w\.co|"
    r"openstreetmap\.org|osm\.org|geo:)\S*",
    _I,
)
_PLUS_CODE = re.compile(r"(?<![\w+])[23456789CFGHJMPQRVWX]{4,8}\+[23456789CFGHJMPQRVWX]{2,3}\b")
_W3W = re.compile(r"///[a-z]+\.[a-z]+\.[a-z]+", _I)


def _coordinates(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    for m in _DECIMAL_PAIR.finditer(t):
        a, b = float(m.group("a")), float(m.group("b"))
        plausible = (abs(a) <= 90 and abs(b) <= 180) or (abs(b) <= 90 and abs(a) <= 180)
        precise = max(len(m.group("ad")), len(m.group("bd"))) >= 3
        signed = m.group("a")[0] in "-+" or m.group("b")[0] in "-+"
        if plausible and (precise or signed):
            yield m.start(), m.end()
    for m in _DMS.finditer(t):
        if m.group("min") or m.group("hemi"):
            yield m.start(), m.end()
    for rx in (_LABELLED, _MAP_LINK, _PLUS_CODE, _W3W):
        for m in rx.finditer(t):
            yield m.start(), m.end()


# --------------------------------------------------------------------------
# Names


_NAME_WORD = re.compile(r"[A-Z][a-z]+(?:['-][A-Za-z][a-z]+)?|[A-Z]{2,}(?=\s|$|[,.;!?])")
_NAME_WORD_ANY_CASE = re.compile(r"[A-Za-z][a-z]+(?:['-][A-Za-z][a-z]+)?|[A-Z]{2,}")
_PARTICLE = re.compile(r"\s+(?:de\s+la|de\s+los|de|del|la|van|von|da|di|st\.)\s+(?=[A-Z])", 0)

# Triggers after which any word (even lowercase) is taken as a name.
_EXPLICIT = re.compile(
    r"\b(?:(?:his|her|their|my|the\s+\w+'?s|your|its)\s+name\s+(?:is|was)|name\s*(?:is|was|:)|"
    r"named|goes\s+by|se\s+llama(?:ba)?|se\s+llaman|llamad[oa]|de\s+nombre|su\s+nombre\s+"
    r"(?:es|era)|nombre\s*:|(?:guy|man|woman|lady|person|someone|kid|boy|girl|senor|senora|"
    r"muchach[oa]|chavo|tipo|hombre|mujer)\s+called|que\s+se\s+llama)\s+",
    _I,
)
# Titles and relations after which a Capitalised word is a name.
_TITLE = re.compile(
    r"\b(?:officer|ofc|agent|deputy|sergeant|sgt|detective|det|lieutenant|lt|captain|capt|"
    r"trooper|inspector|supervisor|mr|mrs|ms|miss|dr(?=\.)|sr|sra|srta|don|dona|senor|senora|"
    r"senorita|agente|oficial|sargento|teniente|capitan|comandante|licenciado|lic|"
    r"inspectora?|jefe|jefa|patron|patrona|profe|profesora?|padre|father|pastor)\b\.?\s+",
    _I,
)
_RELATION = re.compile(
    r"\b(?:mi|mis|su|sus|tu|nuestr[oa]|my|his|her|their|our|your|el|la|the)\s+"
    r"(?:vecin[oa]s?|neighbou?rs?|ti[oa]s?|uncle|aunt|prim[oa]s?|cousins?|herman[oa]s?|"
    r"brother|sister|espos[oa]|husband|wife|novi[oa]|boyfriend|girlfriend|amig[oa]s?|"
    r"friend|hij[oa]s?|son|daughter|papa|mama|father|mother|dad|mom|abuel[oa]s?|grandpa|"
    r"grandma|grandfather|grandmother|compa|companer[oa]|coworker|co-worker|roommate|"
    r"jefe|jefa|boss|cunad[oa]|sobrin[oa]|nephew|niece|suegr[oa]|patron|patrona|"
    r"compadre|comadre|senor|senora|viejit[oa]|muchach[oa]|chav[oa])\s+",
    _I,
)
_TAKEN = re.compile(
    r"\b(?:took|taken|take|takes|taking|arrested|arrest|detained|detain|grabbed|deported|"
    r"handcuffed|apprehended|picked\s+up|took\s+away|detuvieron\s+a|arrestaron\s+a|"
    r"agarraron\s+a|levantaron\s+a|deportaron\s+a|esposaron\s+a|se\s+llevaron\s+a|"
    r"llevaron\s+a|detienen\s+a|arrestan\s+a|se\s+llevan\s+a|agarran\s+a|detuvo\s+a|"
    r"arresto\s+a|se\s+llevo\s+a|llevo\s+a|agarro\s+a)\s+",
    _I,
)


def _name_at(t: str, pos: int, any_case: bool) -> tuple[int, int] | None:
    """A name starting at pos: one to three name words (particles allowed)."""
    rx = _NAME_WORD_ANY_CASE if any_case else _NAME_WORD
    m = rx.match(t, pos)
    if not m or m.group().lower() in _NOT_NAMES or len(m.group()) < 2:
        return None
    end = m.end()
    for _ in range(2):
        p = _PARTICLE.match(t, end)
        nxt_pos = p.end() if p else None
        if nxt_pos is None:
            s = re.match(r"\s+", t[end:])
            if not s:
                break
            nxt_pos = end + s.end()
        n = _NAME_WORD.match(t, nxt_pos)
        if not n or n.group().lower() in _NOT_NAMES:
            break
        end = n.end()
    # a road, not a person: "took Main St", "took Broadway south"
    if re.match(r"\s+(?:" + _STREET_SUFFIX + r"|" + _DIRECTIONS + r")\b", t[end : end + 20], _I):
        return None
    return m.start(), end


def _names(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    for rx, any_case in ((_EXPLICIT, True), (_TITLE, False), (_RELATION, False), (_TAKEN, False)):
        for m in rx.finditer(t):
            span = _name_at(t, m.end(), any_case)
            if span:
                yield span


# --------------------------------------------------------------------------
# Interference (review, not refusal)


_SUBJECTS = {
    "they", "agents", "agent", "ice", "cbp", "police", "officers", "officer", "cops",
    "vans", "trucks", "patrol", "migra", "he", "she", "who", "which", "that", "feds",
    "sheriff", "deputies", "it", "units", "cars",
}  # fmt: skip
_INTENT = (
    r"(?:let'?s|lets|let\s+us|we\s+(?:should|need\s+to|must|gotta|have\s+to|can|will)|"
    r"everyone|every1|everybody|y'?all|you\s+guys|go|come|gotta|need\s+to|time\s+to|"
    r"let's\s+go)"
)
_VERBS_EN = (
    r"(?:block|blockade|barricade|surround|stop|confront|chase|follow|attack|fight|box|trap|"
    r"slash|puncture|flatten|throw|smash|break|hit|jump|rush|storm|push|shove|ambush|"
    r"corner|mob|dox|doxx)"
)
_INTERFERENCE_ANY = [
    re.compile(rf"\b{_INTENT}\s+(?:go\s+|and\s+)?{_VERBS_EN}\b", _I),
    re.compile(
        r"\b(?:slash|puncture|flatten|pop|cut|deflate|spike)\s+(?:all\s+)?(?:the\s+|their\s+|"
        r"his\s+|her\s+|them\s+|those\s+)?(?:\w+\s+)?(?:tires|tyres|tire|tyre|wheels)\b",
        _I,
    ),
    re.compile(r"\blet\s+the\s+air\s+out\b", _I),
    re.compile(
        r"\bthrow(?:ing)?\s+(?:some\s+)?(?:rocks|stones|bottles|bricks|eggs|things|stuff|"
        r"paint|shit|trash|fireworks)\b",
        _I,
    ),
    re.compile(
        r"\bfollow\s+(?:them|him|her|it|the\s+(?:vans?|trucks?|agents?|cars?|officers?|"
        r"suvs?|vehicles?))\s+(?:and|to|until|so|home)\b",
        _I,
    ),
    re.compile(r"\bbox\s+(?:them|him|her|it|the\s+\w+)\s+in\b", _I),
    re.compile(
        r"\b(?:smash|break|bust)\s+(?:the\s+|their\s+|his\s+|her\s+)?(?:windows?|"
        r"windshields?|glass|cameras?|lights)\b",
        _I,
    ),
    re.compile(
        r"\b(?:don'?t|do\s+not|dont)\s+let\s+them\s+(?:leave|go|pass|through|take|out|in|"
        r"get\s+away|drive)\b",
        _I,
    ),
    re.compile(
        r"\b(?:run|flee|escape|get\s+away)\s+from\s+(?:them|the\s+agents?|ice|the\s+police|"
        r"la\s+migra|the\s+cops|cops|border\s+patrol)\b",
        _I,
    ),
    re.compile(
        r"\b(?:drive|speed|run|go|blow)\s+(?:through|past|around)\s+the\s+(?:checkpoint|"
        r"roadblock)\b",
        _I,
    ),
    re.compile(r"\b(?:don'?t|do\s+not|dont|never)\s+stop\s+(?:at|for)\s+the\s+checkpoint\b", _I),
    re.compile(r"\boutrun\b", _I),
    # Spanish: subjunctive/imperative and "hay que / vamos a" forms; the
    # indicative ("bloquean", "rodean") describes the agents and is left alone.
    re.compile(
        r"\b(?:bloqueen|bloqueemos|bloqueenles|bloqueenlos|bloqueenlas|bloqueenla|bloquenlos|"
        r"bloquearlos|bloquearlas|bloquearles|rodeen|rodeemos|rodeenlos|rodeenlas|rodeenla|"
        r"rodeenlo|rodearlos|rodearlas|rodearla|siganlos|siganlas|siganla|siganlo|"
        r"sigamoslos|sigamoslas|persiganlos|persiganlas|persiganla|persigamoslos|"
        r"enfrentenlos|enfrentemoslos|enfrentemos|ataquen|ataquemos|ataquenlos|golpeen|"
        r"golpeenlos|peguenles|apedreen|apedreemos|apedrearlos|poncharles|ponchenles|"
        r"detenganlos|parenlos|encierrenlos|acorralenlos|acorralarlos|emboscarlos)\b",
        _I,
    ),
    re.compile(
        r"\b(?:hay\s+que|hay\s+q|ay\s+que|ai\s+que|vamos\s+a|vengan\s+a|tenemos\s+que|"
        r"debemos|necesitamos|ayudenme\s+a|ayuden\s+a|todos\s+a|a\s+(?=bloquear|rodear))\s+"
        r"(?:ir\s+a\s+)?(?:bloquear|rodear|tapar|cerrar|seguir|perseguir|atacar|enfrentar|"
        r"parar|detener|ponchar|apedrear|golpear|sacar|correr|acorralar|emboscar|encerrar)"
        r"(?:los|las|le|les|la|lo)?\b",
        _I,
    ),
    re.compile(
        r"\b(?:ponch\w*|cort\w*|desinfl\w*|rajen)\s+(?:les\s+)?(?:las\s+|sus\s+)?"
        r"(?:llantas|neumaticos|ruedas|gomas)\b",
        _I,
    ),
    re.compile(
        r"\b(?:tiren|tiremos|tirar|tirarles|tirenles|avienten|aventar|aventemos|aventarles|"
        r"aventenles|lancen|lanzar|lancemos|lancenles|arrojen|arrojar)\s+(?:les\s+)?"
        r"(?:piedras|botellas|ladrillos|huevos|cosas|pintura|basura|cohetes)\b",
        _I,
    ),
    re.compile(
        r"\b(?:sigan|sigamos|persigan)\s+(?:a\s+)?(?:la|las|el|los|esa|esas|ese|esos)\s+"
        r"(?:camionetas?|vans?|trocas?|agentes?|patrullas?|carros?|migra)\b",
        _I,
    ),
    re.compile(r"\bsiganlos\b|\bsigan(?:los|las)?\s+y\b", _I),
    re.compile(
        r"\b(?:cierren|cerremos|tapen|tapemos)\s+(?:el\s+paso|la\s+calle|las\s+calles|la\s+"
        r"salida|las\s+salidas|la\s+entrada|el\s+camino|la\s+camioneta|la\s+van|la\s+troca)\b",
        _I,
    ),
    re.compile(
        r"\bno\s+(?:los|las|les|lo|la)\s+dejen\s+(?:pasar|salir|entrar|ir|irse|llevar\w*)\b", _I
    ),
    re.compile(r"\b(?:rompan|rompamos|quiebren|quebren)\s+(?:los|las|sus)\s+\w+", _I),
    re.compile(
        r"\b(?:huyan|escapen|corran|huye|escapa|corre)\s+(?:de|del)\s+(?:la\s+migra|ice|los\s+"
        r"agentes|la\s+policia|ellos|la\s+patrulla|migracion)\b",
        _I,
    ),
    re.compile(
        r"\bno\s+se\s+(?:detengan|paren)\s+en\s+el\s+(?:reten|punto\s+de\s+control|checkpoint)\b",
        _I,
    ),
]
# English verb + object that may just describe the agents ("agents block the road"):
# only an instruction when no third-person subject stands right before the verb.
_INTERFERENCE_IMPERATIVE = [
    re.compile(
        r"\b(?:block|barricade|blockade)\s+(?:off\s+)?(?:the|their|that|this|them|his|her|all|"
        r"every|those)?\s*(?:vans?|trucks?|cars?|vehicles?|suvs?|road|street|streets|exit|"
        r"exits|entrance|driveway|way|path|agents?|officers?|them|bus|gate|intersection)\b",
        _I,
    ),
    re.compile(
        r"\bsurround\s+(?:them|him|her|those|that|it|the\s+(?:vans?|trucks?|agents?|cars?|"
        r"officers?|suvs?|vehicles?))\b",
        _I,
    ),
    re.compile(r"\bchase\s+(?:them|him|her|the\s+\w+)\s+(?:down|off|away|out)\b", _I),
    re.compile(
        r"\b(?:attack|confront|ambush|jump|rush)\s+(?:them|the\s+agents?|the\s+officers?)\b", _I
    ),
]


def _interference(f: _Folded) -> Iterator[tuple[int, int]]:
    t = f.text
    for rx in _INTERFERENCE_ANY:
        for m in rx.finditer(t):
            yield m.start(), m.end()
    for rx in _INTERFERENCE_IMPERATIVE:
        for m in rx.finditer(t):
            before = re.findall(r"[\w']+", t[max(0, m.start() - 40) : m.start()])[-2:]
            if any(w.lower() in _SUBJECTS for w in before):
                continue
            yield m.start(), m.end()


# --------------------------------------------------------------------------


_DETECTORS = (
    (FindingKind.EMAIL, _emails),
    (FindingKind.HANDLE, _handles),
    (FindingKind.COORDINATES, _coordinates),
    (FindingKind.PHONE, _phones),
    (FindingKind.PLATE, _plates),
    (FindingKind.ADDRESS, _addresses),
    (FindingKind.NAME, _names),
    (FindingKind.INTERFERENCE, _interference),
)
# A finding wholly inside one of another kind is part of it: "juan123" in an
# e-mail is not a plate, the digits of a map link are not a phone.
_CONTAINERS: dict[FindingKind, frozenset[FindingKind]] = {
    FindingKind.EMAIL: frozenset(FindingKind) - {FindingKind.EMAIL, FindingKind.INTERFERENCE},
    FindingKind.HANDLE: frozenset({FindingKind.PLATE, FindingKind.NAME, FindingKind.PHONE}),
    FindingKind.COORDINATES: frozenset({FindingKind.PLATE, FindingKind.PHONE}),
    FindingKind.PHONE: frozenset({FindingKind.PLATE, FindingKind.ADDRESS}),
}


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def moderate(text: str) -> Moderation:
    """Find personal information (refused) and calls to interfere (review) in a text."""
    folded = _fold(text)
    found: dict[FindingKind, list[tuple[int, int]]] = {}
    for kind, detect in _DETECTORS:
        spans = [(s, e) for s, e in detect(folded) if e > s]
        if spans:
            found[kind] = _merge(spans)

    def contained(kind: FindingKind, s: int, e: int) -> bool:
        return any(
            kind in inner and any(cs <= s and e <= ce for cs, ce in found.get(container, ()))
            for container, inner in _CONTAINERS.items()
        )

    findings: list[Finding] = []
    for kind, spans in found.items():
        for s, e in spans:
            if contained(kind, s, e):
                continue
            start, end = folded.span(s, e)
            findings.append(Finding(kind, start, end))
    findings.sort(key=lambda x: (x.start, x.end, x.kind.value))
    return Moderation(
        refusals=tuple(x for x in findings if x.kind not in REVIEW_KINDS),
        review=tuple(x for x in findings if x.kind in REVIEW_KINDS),
    )
