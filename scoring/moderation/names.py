"""People's names: after the words that introduce one, and first-name + surname pairs.

Rules kept here:
- A name is found from what the text says around it, in any case:
  * after naming words ("his name is", "se llama", "de apellido"): any word;
  * after a title or role ("officer", "agent", "doña", "Sgt."), a relation
    ("mi vecina", "my cousin") or an arrest verb ("took", "detuvieron a"):
    a first name or surname from the shipped lists (1990 US Census plus a
    Spanish supplement), or a capitalised word that is not a common word;
  * before an arrest ("... was taken", "... fue detenida");
  * with no trigger at all, a first name followed by a surname ("Maria Lopez
    was taken by ICE"), or an initial and a surname ("J. Smith").
  Capitalisation alone never makes a name; a first name that is also an
  everyday word ("Will", "Rosa", "Linda") counts only when written as a name.
- Not names: nationalities ("Guatemalan workers"), vehicle makes and models
  ("Mercedes Sprinter"), businesses ("Father Joe's Villages", "Chuy's Auto
  Repair"), roads, schools and parks named after people ("Dr. Martin Luther
  King Jr. Freeway", "Cesar Chavez Pkwy", "Rosa Parks Elementary"), agencies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from scoring.moderation.lexicon import (
    AGENCY_WORDS,
    COMMON_AS_NAME,
    COUNT_NOUNS,
    DEMONYMS,
    FIRST_NAMES,
    FUNCTION_WORDS,
    MONTHS_DAYS,
    PLACE_NOUNS,
    PUBLIC_FIGURES,
    ROLE_WORDS,
    STREET_SUFFIXES,
    SURNAMES,
    VEHICLE_WORDS,
    count,
    is_demonym,
)
from scoring.moderation.normal import View

Span = tuple[int, int]


def _w(text: str) -> frozenset[str]:
    return frozenset(text.split())


TITLES = _w(
    """
    officer ofc agent deputy sergeant sgt detective det lieutenant lt captain capt trooper
    inspector supervisor mr mrs ms miss dr sr sra srta don dona senor senora senorita
    agente oficial sargento teniente capitan comandante licenciado lic profe profesor
    profesora padre father pastor tio tia uncle aunt compadre comadre hermano hermana
    brother sister
    """
)
RELATIONS = _w(
    """
    vecino vecina vecinos vecinas neighbor neighbors neighbour neighbours tio tia tios tias
    uncle aunt primo prima primos primas cousin cousins hermano hermana brother sister
    esposo esposa husband wife novio novia boyfriend girlfriend amigo amiga friend hijo hija
    son daughter papa mama father mother dad mom abuelo abuela grandpa grandma grandfather
    grandmother compa companero companera coworker roommate jefe jefa boss cunado cunada
    sobrino sobrina nephew niece suegro suegra patron patrona compadre comadre senor senora
    muchacho muchacha chavo chava manager landlord tenant co-worker partner pareja
    """
)
POSSESSIVES = _w("my his her their our your the mi mis su sus tu tus nuestro nuestra el la")
ARTICLES = _w(
    "the a an my his her their our your mi mis su sus tu tus el la los las un una unos unas al a"
)
_ARREST = re.compile(
    r"\b(?:took(?:\s+away)?|taken|take|takes|taking|arrested|arrest|arresting|detained|detain|"
    r"detaining|grabbed|grab|deported|deport|handcuffed|apprehended|picked\s+up|pick\s+up|"
    r"ask\s+for|asked\s+for|asking\s+for|looking\s+for|searching\s+for|"
    r"detuvieron|detienen|detuvo|arrestaron|arrestan|arresto|agarraron|agarran|agarro|"
    r"levantaron|deportaron|esposaron|(?:se\s+(?:lo|la|los|las)\s+)?llevaron|se\s+llevan|"
    r"se\s+llevo|llevo|buscan|buscaban|preguntaron\s+por|preguntaban\s+por)\b"
)
_EXPLICIT = re.compile(
    r"\b(?:name\s*(?:is|was|:)|names\s+(?:are|were)|named|goes\s+by|"
    r"(?:guy|man|woman|lady|person|someone|somebody|kid|boy|girl|agent|officer)\s+called|"
    r"(?:last|first|sur)\s*name\s*(?:is|was|:)?|surname\s*(?:is|was|:)?|"
    r"se\s+llama(?:ba|n)?|llamad[oa]s?|de\s+nombre|nombre\s*(?:es|era|:)|"
    r"(?:de\s+|se\s+)?apellid[oa]s?\s*(?:es|era|:)?|se\s+apellida)\s*"
)
_AFTER_NAME = re.compile(
    r"\s*,?\s*(?:was|got|has\s+been|had\s+been|is\s+being|were|fue|fueron|esta|sigue|"
    r"lo|la)\s+(?:just\s+|ya\s+)?(?:taken|arrested|detained|deported|picked\s+up|grabbed|"
    r"handcuffed|detenid[oa]s?|arrestad[oa]s?|deportad[oa]s?|llevad[oa]s?|agarrad[oa]s?|"
    r"esposad[oa]s?|levantad[oa]s?|detuvieron|arrestaron|agarraron|llevaron)\b"
)
_PARTICLES = _w("de del la los las van von da di dos y")
_ADJECTIVE_NOUNS = _w(
    """
    workers worker men women families family nationals students people kids children
    migrants immigrants asylum seekers laborers farmworkers day speakers caregivers
    restaurant community trabajadores migrantes jornaleros familias hombres mujeres
    estudiantes personas ninos
    """
)
_ROAD_BEFORE = _w(
    """
    calle avenida av ave avda blvd bulevar boulevard paseo calzada callejon privada st saint
    san santa mt mount fort lake camp port point colonia col plaza parque escuela hospital
    clinica on-ramp
    """
)
_PLACES = _w(
    """
    tijuana mexicali tecate ensenada rosarito otay chula vista ysidro diego escondido
    oceanside temecula imperial calexico yuma tucson phoenix nogales laredo houston dallas
    chicago angeles francisco california texas arizona mexico baja sonora sinaloa jalisco
    oaxaca michoacan guerrero chiapas puebla guatemala honduras salvador nicaragua
    venezuela colombia cuba haiti hillcrest logan barrio broadway
    """
)
# Words for people that are also in the census name lists ("Guy", "Lady", "Kid").
PEOPLE_NOUNS = _w(
    """
    lady ladies guy guys gentleman kid kids boy boys girl girls teen teenager child baby
    worker woman women man men person people lady senor senora joven jovenes muchacho
    muchacha chavo chava nino nina bebe trabajador trabajadora migrante everyone everybody
    someone somebody nobody anyone todos alguien nadie
    """
)
# Verbs that follow a title in a sentence ("the officer will"): not a name.
_VERBS = _w(
    """
    will may can could would should might must shall did does do has had have is was are
    were said says told asked came went got gets left stopped took saw see sees seen heard
    hears tells thinks thought knows knew lives lived works worked comes goes called calls
    dice dijo vio ve cree creo sabe tiene tenia vino viene fue era esta estaba hay va iba
    llego llegaron vive vivia trabaja salio regreso anda andaba oyo escucho llamo
    """
)
# Words after which "named" / "llamado" introduces a person.
_NAMED_AFTER = (
    PEOPLE_NOUNS
    | ROLE_WORDS
    | RELATIONS
    | TITLES
    | _w("he she who one him her someone is was he's she's un una senor senora alguien")
)
NOT_NAMES = (
    FUNCTION_WORDS
    | AGENCY_WORDS
    | ROLE_WORDS
    | VEHICLE_WORDS
    | MONTHS_DAYS
    | DEMONYMS
    | COUNT_NOUNS
    | STREET_SUFFIXES
    | TITLES
    | RELATIONS
    | _PLACES
    | PEOPLE_NOUNS
    | _w("god dios lord jesucristo christ san santo santa saint st")
)

# A word, with its possessive ("Joe's") or contraction ("don't") kept whole.
_TOKEN = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)?(?:(?P<poss>'s\b)|'[A-Za-z]+)?(?P<dot>\.)?")


class _Tok(NamedTuple):
    start: int
    end: int  # without a possessive "'s" or a final dot
    word: str
    low: str
    cap: bool
    poss: bool
    dot: bool


def _tokens(view: View) -> list[_Tok]:
    """The words of a text; in a text written in capitals, capitals say nothing."""
    found = list(_TOKEN.finditer(view.text))
    letters = [c for m in found for c in m.group() if c.isalpha()]
    shouting = len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.7 * len(letters)
    out = []
    for m in found:
        word = m.group().removesuffix(".").removesuffix("'s")
        end = m.start() + len(word)
        cap = word[0].isupper() and not shouting
        out.append(
            _Tok(
                m.start(),
                end,
                word,
                word.lower(),
                cap,
                m.group("poss") is not None,
                m.group("dot") is not None,
            )
        )
    return out


def _namey(tok: _Tok, any_case: bool = False, titled: bool = False) -> bool:
    """Could this word be part of a person's name, in this context?

    titled: right after a title or relation ("officer rosa", "mi vecina rosa"),
    where a listed name is a name even when it is also an everyday word.
    """
    w = tok.low
    if w in NOT_NAMES or len(w) < 2 or (w in _VERBS and not tok.cap) or is_demonym(w):
        return False
    listed = w in FIRST_NAMES or w in SURNAMES
    common = count(w)
    if listed and (tok.cap or common < COMMON_AS_NAME):
        return True
    if titled and w in FIRST_NAMES and common < 10 * COMMON_AS_NAME and w not in _VERBS:
        return True  # "officer rosa", "mi vecina rosa"; not "the officer will"
    if tok.cap and common < 2_000 and tok.word[1:].islower():
        return True  # a capitalised word ("Xochitl", not "IDs") that is not an everyday word
    return any_case and common < COMMON_AS_NAME


def _initial(tok: _Tok) -> bool:
    return (len(tok.low) == 1 and tok.low not in ("a", "y", "o", "e", "u", "i")) or (
        len(tok.low) == 1 and tok.dot
    )


def _is_figure(words: list[str]) -> bool:
    return any(tuple(words[: len(f)]) == f or tuple(words[-len(f) :]) == f for f in PUBLIC_FIGURES)


def _extend(toks: list[_Tok], i: int, any_case: bool) -> int:
    """Index of the last token of the name that starts at toks[i]."""
    last = i
    j = i + 1
    while j < len(toks) and j - i <= 4:
        tok = toks[j]
        if toks[last].poss or toks[last].end < tok.start - 3:
            break
        if (
            tok.low in _PARTICLES
            and j + 1 < len(toks)
            and toks[j + 1].cap
            and toks[j + 1].low not in _PARTICLES
        ):
            if _namey(toks[j + 1]):
                last = j + 1
                j += 2
                continue
            break
        if _initial(tok) and tok.dot:
            last = j
            j += 1
            continue
        if _namey(tok) and tok.low not in _PARTICLES:
            last = j
            j += 1
            continue
        break
    return last


def _not_a_person(toks: list[_Tok], i: int, last: int, view: View) -> bool:
    """Road, place, business, nationality or public figure around toks[i..last]."""
    words = [t.low for t in toks[i : last + 1]]
    around = [t.low for t in toks[i : i + 4]]  # "martin luther" of "Martin Luther King"
    if _is_figure(words) or _is_figure(around) or any(w in VEHICLE_WORDS for w in words):
        return True
    if last > i and words[-1] in PLACE_NOUNS:
        return True  # "Grant Hill", "Lincoln Park": a place
    if i > 0 and toks[i - 1].low in _ROAD_BEFORE and toks[i - 1].end >= toks[i].start - 3:
        return True
    k = last + 1
    if k < len(toks) and toks[k].low in ("jr", "sr") and not toks[last].poss:
        k += 1
    if k < len(toks):
        nxt = toks[k]
        if toks[last].poss and nxt.cap and nxt.low not in FUNCTION_WORDS:
            return True  # "Joe's Crab Shack", "Father Joe's Villages"
        if not toks[last].poss and (
            nxt.low in PLACE_NOUNS
            or nxt.low in STREET_SUFFIXES
            or nxt.low in ("north", "south", "east", "west", "northbound", "southbound")
        ):
            return True
        if nxt.low in _ADJECTIVE_NOUNS and not nxt.cap and last == i:
            return True  # "Guatemalan workers": an adjective
    return False


def _name_after(toks: list[_Tok], i: int, view: View, any_case: bool) -> Span | None:
    """The name starting at toks[i] (after a trigger), if there is one."""
    # skip articles, possessives, relations and titles: "a mi tío", "la señora", "my neighbor"
    titled = i > 0 and (toks[i - 1].low in TITLES or toks[i - 1].low in RELATIONS)
    while (
        i < len(toks)
        and not toks[i].dot
        and (toks[i].low in ARTICLES or toks[i].low in RELATIONS or toks[i].low in TITLES)
    ):
        titled = titled or toks[i].low in TITLES or toks[i].low in RELATIONS
        i += 1
    if i >= len(toks):
        return None
    tok = toks[i]
    if (
        _initial(tok)
        and i + 1 < len(toks)
        and (toks[i + 1].low in SURNAMES or _namey(toks[i + 1], any_case=True))
        and toks[i + 1].low not in NOT_NAMES
    ):
        last = _extend(toks, i + 1, any_case)
    elif _namey(tok, any_case=any_case, titled=titled) or (
        tok.low in FIRST_NAMES  # "se llevaron a rosa garcia": a first name, then a surname
        and count(tok.low) < 10 * COMMON_AS_NAME
        and i + 1 < len(toks)
        and toks[i + 1].low in SURNAMES
        and count(toks[i + 1].low) < COMMON_AS_NAME
        and tok.low not in NOT_NAMES | _VERBS
        and toks[i + 1].low not in NOT_NAMES
    ):
        last = _extend(toks, i, any_case)
    else:
        return None
    if _not_a_person(toks, i, last, view):
        return None
    return tok.start, toks[last].end


def names(view: View) -> Iterator[Span]:
    toks = _tokens(view)
    if not toks:
        return
    low = view.lower

    def next_token(pos: int) -> int | None:
        for n, t in enumerate(toks):
            if t.start >= pos:
                return n
        return None

    # 1. Naming words: any word after them.
    for m in _EXPLICIT.finditer(low):
        n = next_token(m.end())
        if n is None or toks[n].start > m.end() + 2:
            continue
        if re.match(r"named|llamad", m.group()):  # "a man named", not "a shop named"
            before = re.findall(r"[a-z']+", low[max(0, m.start() - 24) : m.start()])[-1:]
            if before and before[0] not in _NAMED_AFTER:
                continue
        if _initial(toks[n]) and toks[n].dot and n + 1 < len(toks):
            yield toks[n].start, toks[_extend(toks, n + 1, any_case=True)].end
            continue  # "his name is J. Smith", "a. nguyen"
        if toks[n].low in FUNCTION_WORDS | AGENCY_WORDS or toks[n].low in ("after", "like"):
            continue
        last = _extend(toks, n, any_case=True)
        if not _not_a_person(toks, n, last, view):  # "a store named Northgate Market"
            yield toks[n].start, toks[last].end
    # 2. Titles and relations: "officer john smith", "mi vecina María López", "J. Smith".
    for n, tok in enumerate(toks):
        if (
            tok.low in TITLES
            and (
                tok.low not in ("dr", "sr", "father", "padre")
                or tok.dot
                or (tok.cap and tok.word[1:].islower())  # "Sr", "Dr", not "SR-94"
            )
        ) or (tok.low in RELATIONS and n > 0 and toks[n - 1].low in POSSESSIVES):
            span = _name_after(toks, n + 1, view, any_case=False)
            if span:
                yield span
    # 3. Arrest verbs: "they took Jose", "detuvieron a doña Rosa".
    for m in _ARREST.finditer(low):
        n = next_token(m.end())
        if n is None:
            continue
        span = _name_after(toks, n, view, any_case=False)
        if span:
            yield span
    # 4. Before an arrest: "Lopez was taken", "juan fue detenido".
    for m in _AFTER_NAME.finditer(low):
        n = next(
            (k for k, t in enumerate(toks) if t.end <= m.start() and t.end >= m.start() - 2), None
        )
        if n is None:
            continue
        start = n
        while (
            start > 0 and _namey(toks[start - 1]) and toks[start - 1].end >= toks[start].start - 2
        ):
            start -= 1
        initialled = start > 0 and _initial(toks[start - 1]) and toks[start - 1].dot
        if initialled:  # "j. castillo fue detenido"
            start -= 1
        if (
            (
                _namey(toks[n], any_case=not toks[n].cap)
                or _namey(toks[n], titled=True)
                or (initialled and toks[n].low in SURNAMES)
            )
            and toks[n].low not in NOT_NAMES
            and (toks[n].low in FIRST_NAMES or toks[n].low in SURNAMES or toks[n].cap)
            and not _not_a_person(toks, start, n, view)
        ):
            yield toks[start].start, toks[n].end
    # 5. No trigger: "Maria Lopez", "maria lopez", "J. Smith".
    for n in range(len(toks) - 1):
        a, b = toks[n], toks[n + 1]
        if b.start - a.end > 2 or a.poss:
            continue
        if (
            _initial(a)
            and a.dot
            and a.cap
            and b.cap
            and (b.low in SURNAMES or count(b.low) < 2_000)
        ):
            if b.low not in NOT_NAMES and not _not_a_person(
                toks, n, _extend(toks, n + 1, False), view
            ):
                yield a.start, toks[_extend(toks, n + 1, False)].end
            continue
        if a.low not in FIRST_NAMES or a.low in NOT_NAMES or b.low in NOT_NAMES:
            continue
        common_a = count(a.low) >= COMMON_AS_NAME
        common_b = count(b.low) >= COMMON_AS_NAME
        if a.cap and b.cap:
            surname_like = b.low in SURNAMES or b.low in FIRST_NAMES or count(b.low) < 2_000
            if not surname_like or (common_a and common_b):
                continue
        elif not a.cap and not b.cap:
            everyday = count(a.low) >= 10 * COMMON_AS_NAME or a.low in _VERBS  # "see", "will"
            if (common_a and common_b) or everyday or b.low not in SURNAMES or a.low in PLACE_NOUNS:
                continue  # "luis castillo", "rosa garcia"; not "mira mesa", "lake murray"
        else:
            continue
        if n > 0 and toks[n - 1].low in _ROAD_BEFORE | TITLES and toks[n - 1].end >= a.start - 3:
            continue  # handled with its title, or a street ("calle Miguel Hidalgo")
        last = _extend(toks, n + 1, any_case=not a.cap)
        if _not_a_person(toks, n, last, view):
            continue
        yield a.start, toks[last].end
