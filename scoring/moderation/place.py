"""Exact places: street addresses with a house number, and coordinates in every common form.

Rules kept here:
- An address is a house number with a street: "1234 El Cajon Blvd", "1234
  Main", "#1234 Main St", "Main 1234", "Calle Juárez 123", "calle 5 #123",
  "the 1200 block of Elm", "apt 5B". A number that counts ("3 vans"), dates
  a vehicle ("2019 Chevy"), or numbers a road or an exit ("I-805 exit 12",
  "ruta 15") is not a house number. Streets without a number are fine: that
  is how reports say where.
- Coordinates: decimal pairs (with signs, N/S/E/W/O, decimal commas, glued
  or apart), one precise decimal with a hemisphere, labelled latitudes,
  degrees-minutes(-seconds), UTM and MGRS, Open Location Codes (plus codes,
  any case) and what3words addresses. A gazetteer centroid's precision (two
  decimals, about 1 km) alone is not refused; three decimals (100 m) are.
- Runs on the compact digits view ("one two three four Main St" reads
  "1234 Main St", "32,7157" keeps its comma).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scoring.moderation.lexicon import (
    AGENCY_WORDS,
    COUNT_NOUNS,
    DEMONYMS,
    FUNCTION_WORDS,
    MONTHS_DAYS,
    ROLE_WORDS,
    STREET_SUFFIXES,
    VEHICLE_WORDS,
    count,
    is_demonym,
    words,
)
from scoring.moderation.normal import View

Span = tuple[int, int]

# --------------------------------------------------------------------------
# Addresses

_SUFFIX = "(?:" + "|".join(sorted(STREET_SUFFIXES, key=len, reverse=True)) + ")"
_DIRECTION = r"(?:[nsew]|north|south|east|west|norte|sur|oriente|poniente)"
_ROAD_WORDS = words(
    """
        exit exits salida salidas hwy highway route ruta rt rte interstate sr carretera
        autopista freeway fwy km kilometro kilometros mile milla marker us ca i exit mm
        nb sb eb wb northbound southbound eastbound westbound
        """
)
# Common street names, so a lowercase "1234 main" is still an address.
_STREET_NAMES = words(
    """
        main broadway market park oak pine maple elm cedar palm washington lincoln
        jefferson madison adams university euclid imperial national highland ocean
        harbor mission central first second third fourth fifth sixth seventh eighth
        ninth tenth
        """
)
_NOT_STREET = (
    FUNCTION_WORDS
    | COUNT_NOUNS
    | AGENCY_WORDS
    | ROLE_WORDS
    | VEHICLE_WORDS
    | MONTHS_DAYS
    | DEMONYMS
    | _ROAD_WORDS
    | words(
        """
            am pm hrs hr min mins sec secs percent pesos dollars usd mxn people times
            block blocks ft feet yards yds meters metros miles degrees grados calls
            llamadas
            """
    )
)
# Words a street's name never holds before its suffix ("3 trucks on Main St" has no address).
_NOT_BEFORE_SUFFIX = (FUNCTION_WORDS | COUNT_NOUNS | _ROAD_WORDS) - {"de", "la", "el", "del"}
_WORD = re.compile(r"\d{1,3}(?:st|nd|rd|th)\b|[A-Za-z][A-Za-z'.\-]*")
_NUMBER = re.compile(
    r"(?<![\w#.\-/:,])(?P<hash>#\s*)?(?P<num>\d{1,6})(?P<letter>[A-Za-z])?(?![\w:/.]\d|[\w/])"
)
_HASH_NUMBER = re.compile(r"(?:#|\bno\.|\bnum\.?|\bnumero\b|\bnro\.?|\bn°)\s*\d{1,5}[a-z]?\b")
_ES_STREET = re.compile(
    r"(?:\bc/|\b(?:calle|avenida|av|ave|avda|blvd|bulevar|boulevard|calzada|callejon|privada|"
    r"prol|prolongacion|paseo|camino|andador|cerrada|circuito|retorno|street)\b\.?)\s*",
)
_ES_TOKEN = re.compile(
    r"\s*(?:(?P<hash>#|no\.|num\.|numero\b|nro\.?|n°)\s*)?(?P<num>\d{1,5})"
    r"(?P<ord>ra|da|ta|va|ma|na|er|o|a|[a-z])?\b(?![:.]\d)"
    r"|\s*(?P<word>[a-z][\w'.\-]*)",
)
_INTERSECTION_WORDS = words(
    """
        y and e esquina esq con entre cruce at & cerca near frente por hacia rumbo
        towards to from desde en rumbo al del de
        """
)
_UNIT = re.compile(
    r"\b(?:apt|apartment|apartamento|suite|ste|depto|departamento|dpto|interior|int)\.?\s*"
    r"(?:#|no\.?|num\.?|numero)?\s*\d{1,5}[a-z]?\b",
)
_HOUSE_NUMBER = re.compile(
    r"\b(?:house|home|building|casa|domicilio|edificio)\s+(?:number|num|no\.?|#|numero|nro\.?)"
    r"\s*\d{1,5}[a-z]?\b|\bnumero\s+de\s+casa\s*:?\s*\d{1,5}\b",
)
_BLOCK_OF = re.compile(r"(?<![\w.\-])\d{2,6}\s+block\s+of\s+(?:[\w'.\-]+\s*){1,3}")
_YEARLIKE = re.compile(r"19[5-9]\d|20[0-3]\d")


def _street_word(word: str, text_word: str, lowercase_ok: bool) -> bool:
    """A word that can name a street: capitalised or a known street name, not a count or a code."""
    w = word.strip(".'").lower()
    if not w or w in _NOT_STREET or is_demonym(w) or (text_word.isupper() and len(w) <= 3):
        return False  # "805 SB", "100 ICE", "200 Guatemalans": codes and people, not streets
    if text_word[:1].isupper() or w in _STREET_NAMES:
        return True
    return lowercase_ok and count(w) < 2_000


def _name_of_street(low_word: str, word: str) -> bool:
    """A word of a street's name before its suffix: "El", "Cajon", "W", "8th", "main"."""
    if re.fullmatch(_DIRECTION, low_word) or low_word in ("de", "la", "el", "del", "los", "las"):
        return True
    if low_word in _NOT_BEFORE_SUFFIX:
        return False
    if word[:1].isupper() or word[:1].isdigit() or low_word in _STREET_NAMES:
        return True
    # a lowercase everyday word ("circling", "parked") is not part of a street's name
    return count(low_word) < 2_000 and not re.search(r"(?:ing|ed)$", low_word)


def _before_is_road(low: str, start: int) -> bool:
    before = re.findall(r"[a-z]+", low[max(0, start - 16) : start])[-1:]
    return bool(before) and before[0] in _ROAD_WORDS


def addresses(view: View) -> Iterator[Span]:
    t, low = view.text, view.lower
    if not re.search(r"\d", t):
        return
    for m in _NUMBER.finditer(t):
        if _before_is_road(low, m.start()):
            continue  # "I-8 exit 40 Main St": an exit number
        before = re.findall(r"[a-z0-9\-]+", low[max(0, m.start() - 20) : m.start()])[-1:]
        if before and before[0] in VEHICLE_WORDS:
            continue  # "Express 2500", "Tahoe 2019": a model or a year
        num = m.group("num")
        hashed = m.group("hash") is not None
        pos = m.end()
        ws = []
        for w in _WORD.finditer(t, pos, min(len(t), pos + 60)):
            if t[pos : w.start()].strip(" ,") or "\n" in t[pos : w.start()]:
                break
            ws.append(w)
            pos = w.end()
            if len(ws) == 5:
                break
        if not ws:
            continue
        names = [w.group() for w in ws]
        lows = [n.lower().strip(".") for n in names]
        # With a suffix: "1234 El Cajon Blvd", "245 W Broadway Ave", "1234 main street"
        for k in range(1, len(lows)):
            if re.fullmatch(_SUFFIX, lows[k]) and all(
                _name_of_street(x, n) for x, n in zip(lows[:k], names[:k], strict=True)
            ):
                yield m.start(), ws[k].end()
                break
        else:
            # "1234 Avenida de la Playa", "1234 calle Primera": a Spanish street word after it
            if lows[0] in (
                "calle",
                "avenida",
                "av",
                "avda",
                "paseo",
                "camino",
                "calzada",
                "privada",
            ):
                if (
                    len(lows) > 1
                    and lows[1] not in _NOT_STREET | {"de", "la", "el", "del"} | COUNT_NOUNS
                ):
                    yield m.start(), ws[1].end()
                elif len(lows) > 2:
                    yield m.start(), ws[-1].end()
                continue
            # No suffix: "1234 Main", "#1234 Main", "1234 W Broadway", "1234 El Cajon"
            first = 1 if re.fullmatch(_DIRECTION, lows[0]) and len(lows) > 1 else 0
            if (
                lows[first] in _STREET_ARTICLES
                and len(lows) > first + 1
                and names[first][0].isupper()
            ):
                first += 1
            if len(num) < 3 and not hashed:
                continue
            placed = re.search(r"\b(?:at|into|en|on)\s*$", low[max(0, m.start() - 8) : m.start()])
            if (
                _YEARLIKE.fullmatch(num)
                and not (hashed or placed)
                and lows[first] not in _STREET_NAMES
            ):
                continue  # "2019 Chevy", "in 2024 Border Patrol"; not "at 2030 El Cajon"
            if num in ("911", "311", "411"):
                continue
            following = lows[first + 1] if len(lows) > first + 1 else ""
            if following in AGENCY_WORDS | ROLE_WORDS | COUNT_NOUNS:
                continue  # "100 National Guard troops", "300 Texas deputies"
            if _street_word(lows[first], names[first], lowercase_ok=hashed):
                yield m.start(), ws[first].end()
    # "Main 1234", "Broadway 1500", "Main Street 1234": a street, then its number
    for m in re.finditer(
        r"(?<![\w.])([A-Z][a-z]+)(?:\s+" + _SUFFIX + r"\.?)?\s+(\d{3,5})(?![\w:/.]\d|[\w/%])",
        t,
        re.IGNORECASE,
    ):
        word = m.group(1)
        if not ((word[0].isupper() and word[1:].islower()) or word.lower() in _STREET_NAMES):
            continue
        if word.lower() in _NOT_STREET or word.lower() in _ES_STARTERS:
            continue
        after = re.match(r"\s*([a-z]+)", low[m.end() : m.end() + 20])
        if after and after.group(1) in COUNT_NOUNS:
            continue
        num = m.group(2)
        if _YEARLIKE.fullmatch(num) and word.lower() not in _STREET_NAMES:
            continue
        if count(word.lower()) >= 20_000 and word.lower() not in _STREET_NAMES:
            continue
        yield m.start(), m.end()
    # Spanish: "Calle Juárez 123", "Av. Revolución #450", "calle 5 #123", "Calle 3ra 845"
    for m in _ES_STREET.finditer(low):
        pos = m.end()
        name_words: list[str] = []
        for _ in range(6):
            tok = _ES_TOKEN.match(low, pos)
            if not tok:
                break
            if tok.group("num") is not None:
                hashed = tok.group("hash") is not None
                after = re.match(r"\s*([^\W\d_]+)", low[tok.end() : tok.end() + 30])
                counted = after is not None and after.group(1) in COUNT_NOUNS
                named = any(w not in FUNCTION_WORDS for w in name_words)
                if (hashed or named) and not counted:
                    yield m.start(), tok.end()
                    break
                if not name_words:  # "Calle 5 de Mayo 123", "calle 5 #123": a numbered street
                    name_words.append(tok.group("num"))
                    pos = tok.end()
                    continue
                break
            word = tok.group("word").strip(".")
            if word in _INTERSECTION_WORDS - {"de", "del"} or word in _ROAD_WORDS:
                break
            if word in FUNCTION_WORDS - _STREET_ARTICLES:
                break  # "calle Revolución a las 8", "Blvd since 5:45": a time, not a number
            name_words.append(word)
            pos = tok.end()
    for rx in (_UNIT, _BLOCK_OF, _HOUSE_NUMBER):
        for m in rx.finditer(low):
            yield m.start(), m.end()


_STREET_ARTICLES = words("de del la las los el")
_ES_STARTERS = words(
    """
        calle avenida av avda blvd bulevar paseo camino calzada carretera salida ruta km
        exit hwy highway route interstate
        """
)

# --------------------------------------------------------------------------
# Coordinates

_DEC = r"[-+]?\d{1,3}(?:[.,]\d+)"
_HEMI_LAT = r"[ns]"
_HEMI_LON = r"[ewo]"
_PAIR = re.compile(
    rf"(?<![\w.,])(?P<h1>{_HEMI_LAT}\s*)?(?P<a>{_DEC})\s*°?\s*(?P<h2>{_HEMI_LAT}\b|{_HEMI_LAT}(?=[-+\d]))?"
    rf"\s*[,;/]?\s*(?P<h3>{_HEMI_LON}\s*)?(?P<b>{_DEC})\s*°?\s*(?P<h4>{_HEMI_LON}\b)?",
)
_SINGLE_HEMI = re.compile(rf"(?<![\w.,])(?:[nsewo]\s*{_DEC}|{_DEC}\s*°?\s*[nsewo])\b")
_LABELLED = re.compile(
    r"\b(?:lat|latitude|latitud|lon|long|longitude|longitud|lng)\b\s*[:=]?\s*[-+]?\d{1,3}[.,]\d{2,}",
)
_DMS = re.compile(
    r"(?<![\w.])(?:[nsewo]\s*)?\d{1,3}(?:[.,]\d+)?\s*(?:°|º|d\b|d(?=\d)|deg|grados|o(?=\s*\d{1,2}\s*['′’m]))\s*"
    r"\d{1,2}(?:[.,]\d+)?\s*(?:'|′|’|m\b|m(?=\d)|min)\s*"
    r"(?:\d{1,2}(?:[.,]\d+)?\s*(?:\"|″|”|''|s\b|sec))?\s*(?:[nsewo]\b)?",
)
_DMS_SPACED = re.compile(
    r"(?<![\w.])\d{1,3}\s+\d{1,2}\s+\d{1,2}(?:[.,]\d+)?\s*[ns]\b[\s,;]*\d{1,3}\s+\d{1,2}\s+"
    r"\d{1,2}(?:[.,]\d+)?\s*[ewo]\b",
)
_UTM = re.compile(
    r"(?<![\w.])(?:utm\s*)?(?:zone\s*)?\d{1,2}\s?[c-hj-np-x]?\s+\d{6,7}\s*(?:m?\s*e)?[\s,;]+"
    r"\d{7}\s*(?:m?\s*n)?\b",
)
_MGRS = re.compile(
    r"(?<![\w.])\d{1,2}[c-hj-np-x]\s?[a-hj-np-z]{2}\s?(?:\d{4}|\d{3}\s?\d{3}|\d{4}\s?\d{4}|\d{5}\s?\d{5})\b"
)
_PLUS_CODE = re.compile(
    r"(?<![\w+])[23456789cfghjmpqrvwx]{4,8}\+[23456789cfghjmpqrvwx]{2,3}(?![\w+])"
)
_W3W = re.compile(
    r"(?:///|\b(?:w3w|what3words)\b\s*:?\s*/*)\s*[a-z]+\.[a-z]+\.[a-z]+\b",
)


def _plausible(a: str, b: str) -> bool:
    x, y = float(a.replace(",", ".")), float(b.replace(",", "."))
    return (abs(x) <= 90 and abs(y) <= 180) or (abs(y) <= 90 and abs(x) <= 180)


def _decimals(number: str) -> int:
    return len(re.split(r"[.,]", number)[1]) if re.search(r"[.,]", number) else 0


def coordinates(view: View) -> Iterator[Span]:
    low = view.lower
    if "+" in low or "/" in low or "w3w" in low or "what3words" in low:
        for rx in (_PLUS_CODE, _W3W):
            for m in rx.finditer(low):
                yield m.start(), m.end()
    if not re.search(r"\d", low):
        return
    for m in _PAIR.finditer(low):
        a, b = m.group("a"), m.group("b")
        if not _plausible(a, b):
            continue
        hemi = any(m.group(h) for h in ("h1", "h2", "h3", "h4"))
        signed = a[0] in "-+" or b[0] in "-+"
        places = max(_decimals(a), _decimals(b))
        comma = "," in a or "," in b
        if comma and not (hemi or signed) and places < 4:
            continue  # "12,500 13,750": thousands, not coordinates
        if places >= 3 or ((signed or hemi) and places >= 2):
            yield m.start(), m.end()
    for m in _SINGLE_HEMI.finditer(low):
        number = re.search(_DEC, m.group())
        if number and _decimals(number.group()) >= 3:
            yield m.start(), m.end()
    for rx in (_LABELLED, _DMS, _DMS_SPACED, _UTM, _MGRS):
        for m in rx.finditer(low):
            yield m.start(), m.end()
