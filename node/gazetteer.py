"""The chapter's gazetteer: the areas reporters may name, and reading a reporter's place text.

Format (TOML, see node/data/gazetteer.toml): a [region] table with the name,
the chapter's list of highways, the region's time zone (IANA), an optional
outline (a GeoJSON file beside it, for the area map), and one [[area]] per
area with id, name, aliases, lat, lon (rounded to 2 decimals, about 1 km),
optional highways and an optional `shape` (a polygon of [lon, lat] pairs, for the area map).

Matching (Gazetteer.match) reads the text as words, never as characters:
- a name or alias counts where its words appear as whole words, exactly or
  with a few typos (rapidfuzz's Levenshtein distance, by the name's length);
  no substring grabs ("Walmart parking lot on the boulevard" is not the town
  of Boulevard);
- a name that is part of a street ("El Cajon Blvd", "calle Sherman", "Otay
  Lakes Road") does not count;
- a name made only of everyday words ("Vista", "Boulevard", "Bonita") counts
  only standing alone, never next to other name words or after "the";
- "downtown" / "centro" next to an everyday-word name qualifies it ("downtown
  Vista"), and a name of one everyday word followed by "de"/"of" and another
  name is part of that place ("el centro de Oceanside" is not El Centro);
- a rightly spelt everyday word is never a misspelt name ("southwest" is not
  "Southcrest"); an apostrophe joins a word ("Nat'l", "O'side");
- a word for a crossing (border, garita, línea, POE...) with a place's name
  picks that place's crossing, the one whose name adds the fewest words ("la
  línea de Otay", "Calexico border"), also when the word stands elsewhere
  ("checkpoint by Camp Pendleton");
- the longest name wins where names overlap ("Chula Vista" over "Vista");
- when the text names several areas, or a word that starts several names
  ("Mission"), or a one-word name that also starts the name of an area far
  away ("Imperial" / "Imperial Beach"), the match is unsure: it carries the
  candidates, and intake asks the reporter to choose.
Anything else is kept as free text and flagged as an unknown area. The word
lists below are the matcher's whole configuration, each with its reason; the
label tables are built once per gazetteer, so a match costs well under a
millisecond (tests/node/test_gazetteer_places.py measures it).
"""

from __future__ import annotations

import tomllib
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from scoring.geo import distance_km
from scoring.model import Place
from scoring.text import normalize

DEFAULT_PATH = Path(__file__).parent / "data" / "gazetteer.toml"
COARSE_DECIMALS = 2  # about 1.1 km of latitude
MAX_TEXT_KEY = 150  # "text:" + this fits the store's 160-character area ids
MAX_NAME = 160  # the store's area name and id columns
MAX_HIGHWAY = 16  # the store's highway column
MAX_SHAPE_POINTS = 2000  # an area's optional polygon: enough for a neighbourhood's outline

# --- the matcher's configuration ---------------------------------------------------------------


def wordset(text: str) -> frozenset[str]:
    """The words of a text block, as a set (the word lists below are written as prose)."""
    return frozenset(text.split())


# How many typos a name tolerates, by its length in characters (spaces included): none for
# short names and abbreviations ("PB", "Vista" must be typed right: too many words are one
# letter away from them), then about one per six characters.
TYPO_STEPS: tuple[tuple[int, int], ...] = ((5, 0), (9, 1), (16, 2))
MAX_TYPOS = 3  # for names of 16 characters and more
ASK_FAR_KM = 25.0  # a one-word name that also starts a name this far away asks back
MAX_CHOICES = 5  # more candidates than this is too vague to ask about: free text
MAX_WINDOW_EXTRA = (
    1  # a name of n words is compared with n-1..n+1 words ("lajolla", "tierra santa")
)

# Words that link a place to the rest of a sentence, in English and Spanish; they are never
# part of a match unless a name itself holds them ("La Mesa", "Del Mar").
CONNECTORS = wordset(
    """near by at in on off of to from and or between around behind across next nearby close
    corner inside outside over under past going heading towards toward into onto up down
    northbound southbound eastbound westbound nb sb eb wb exit
    cerca de del en y o e entre frente afuera dentro junto esquina al con para hacia por pasando
    rumbo saliendo entrando sobre bajo atras enfrente lado adentro
    i sr hwy interstate freeway fwy carretera autopista"""
)
# Articles: a name of everyday words right after one is a common noun ("the boulevard").
ARTICLES = frozenset({"the", "a", "an", "el", "la", "los", "las", "un", "una"})
# Words that end a street's name: the words before them name the street, not the area.
STREET_SUFFIXES = wordset(
    """blvd boulevard bl ave av avenue st street rd road dr drive way ln lane ct court pl place
    pkwy parkway hwy highway ter terrace cir circle trl trail expy expressway"""
)
# Words that start a street's name in Spanish ("calle Sherman", "avenida Encinitas").
STREET_PREFIXES = frozenset({"calle", "avenida", "camino", "via", "paseo", "bulevar", "calzada"})
# Businesses and landmarks that every area has: they carry no place of their own.
PLACE_NOUNS = wordset(
    """walmart target costco home depot lowes food less northgate vons ralphs albertsons smart
    final cardenas seven eleven mcdonalds swap meet trolley station estacion parking lot
    estacionamiento school escuela church iglesia store tienda mall library biblioteca pier
    harbor boardwalk gas gasolinera market mercado hospital clinic clinica courthouse house
    casa apartments apartamentos complex bus stop parada parqueadero colonia area zona"""
)
# The region's own names: they qualify a place ("Boulevard, CA", "downtown SD") but are not one.
QUALIFIERS = frozenset({"ca", "california", "county", "condado", "usa", "us", "sd"})
QUALIFIER_PAIRS = frozenset({("san", "diego")})
# Everyday words that are also one-word area names: such a name counts only standing alone
# (names of two such words, "National City", "North Park", are names wherever they appear).
COMMON_WORDS = wordset(
    """boulevard vista national nacional imperial alpine mountain view north south east west
    downtown memorial southeast sureste midway normal college state convoy bonita
    campo potrero skyline sweetwater centro park heights hills valley mesa beach city
    village lakes lake grove springs ranch northeast northwest southwest"""
)
# Words for a town's centre: next to an everyday-word name they qualify it ("downtown Vista",
# "Vista downtown"), as they do a real name ("downtown El Cajon").
CENTRE_WORDS = frozenset({"downtown", "centro", "uptown"})
# "X de Y", "X of Y": an X of everyday words then names part of Y ("el centro de Oceanside" is
# Oceanside's centre, not the city of El Centro).
OF_WORDS = frozenset({"de", "del", "of"})
# Filler words a name may start with ("la meza" is La Mesa with a typo).
FUZZY_STARTS = frozenset({"la", "el", "los", "las", "del"})
# First words that many names share: a bare one is no reason to ask ("San", "La", "North").
GENERIC_FIRST = wordset(
    """san santa la el los las del de north south east west old new lake mount rancho port"""
)
# Words for a crossing or a checkpoint: with one in the text, an area whose name adds it to the
# matched name wins ("checkpoint at Pine Valley" is the I-8 checkpoint, not the town).
KIND_WORDS = wordset(
    """checkpoint reten garita crossing border frontera linea port entry puerto entrada poe"""
)
# Abbreviations read as their words before matching.
ABBREVIATIONS = {
    "hts": "heights",
    "hgts": "heights",
    "pt": "point",
    "mt": "mount",
    "mtn": "mountain",
    "bch": "beach",
    "vly": "valley",
    "natl": "national",
    "univ": "university",
}


def allowed_typos(label: str) -> int:
    """How many edits a name of this length tolerates (TYPO_STEPS)."""
    for below, typos in TYPO_STEPS:
        if len(label) < below:
            return typos
    return MAX_TYPOS


class GazetteerError(Exception):
    pass


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    aliases: tuple[str, ...]
    place: Place
    highways: tuple[str, ...]
    shape: tuple[tuple[float, float], ...] = ()  # optional polygon, (lon, lat) pairs


@dataclass(frozen=True)
class AreaMatch:
    """What the reporter's area text resolved to.

    Unknown text keeps "text:<normalised text>" as its id. When the matcher is
    unsure, `candidates` holds the areas to offer (two or more, or a far one).
    """

    id: str  # gazetteer id, or "text:<normalised text>" when unknown
    name: str
    area: Area | None
    candidates: tuple[Area, ...] = field(default=())

    @property
    def known(self) -> bool:
        return self.area is not None

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)


@dataclass(frozen=True)
class _Label:
    """A name or alias, normalised, and what the matcher needs to know about it."""

    text: str
    tokens: tuple[str, ...]
    areas: tuple[str, ...]  # ids of the areas that have this label (two: the label is shared)
    weak: bool  # only everyday words: counts only standing alone
    typos: int


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    label: _Label
    typos: int


def _words(text: str) -> list[str]:
    # An apostrophe joins a word ("Nat'l", "O'side", "Banker's"): it never splits one.
    joined = text.replace("'", "").replace("\u2019", "")
    return [ABBREVIATIONS.get(word, word) for word in normalize(joined).split()]


def _is_number(word: str) -> bool:
    """Digits and ordinals ("805", "54th", "3rd"): street numbers and highways, never areas."""
    return word[:1].isdigit()


def _filler(word: str) -> bool:
    """A word that is not part of any place's name in a sentence."""
    return (
        word in CONNECTORS
        or word in ARTICLES
        or word in PLACE_NOUNS
        or word in QUALIFIERS
        or _is_number(word)
        or len(word) == 1
    )


class Gazetteer:
    def __init__(
        self,
        region: str,
        highways: tuple[str, ...],
        areas: list[Area],
        outline_path: Path | None = None,
        timezone: str = "",
    ) -> None:
        self.region = region
        self.timezone = timezone  # IANA name, or "" when the file names none
        self.highways = highways
        self.areas = areas
        self.outline_path = outline_path  # the region's GeoJSON outline, for the area map
        self.by_id = {area.id: area for area in areas}
        owners: dict[str, list[str]] = {}
        for area in areas:
            for raw in (area.name, area.id.replace("-", " "), *area.aliases):
                key = " ".join(_words(raw))
                if key and area.id not in owners.setdefault(key, []):
                    owners[key].append(area.id)
        self._labels: dict[str, _Label] = {}
        for key, ids in owners.items():
            tokens = tuple(key.split())
            content = [t for t in tokens if not _filler(t)]
            weak = len(tokens) == 1 and all(
                t in COMMON_WORDS or t in STREET_SUFFIXES for t in content
            )
            # An everyday word with a typo is another word ("vistas"): weak names are exact.
            typos = 0 if weak else allowed_typos(key)
            self._labels[key] = _Label(key, tokens, tuple(ids), weak, typos)
        # The labels fuzzy matching compares with, as one list for rapidfuzz (built once).
        self._fuzzy = [label for label in self._labels.values() if label.typos]
        self._fuzzy_texts = [label.text for label in self._fuzzy]
        self._longest = max(len(label.tokens) for label in self._labels.values())
        # first word of a name of two or more words -> the areas whose names start with it
        self._starts: dict[str, set[str]] = {}
        for label in self._labels.values():
            if len(label.tokens) > 1 and label.tokens[0] not in GENERIC_FIRST:
                self._starts.setdefault(label.tokens[0], set()).update(label.areas)
        self._highway_keys = {normalize(h): h for h in highways}
        self._nearby: dict[tuple[str, float], tuple[str, ...]] = {}

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise GazetteerError(f"gazetteer file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise GazetteerError(f"gazetteer {path} is not valid TOML: {exc}") from exc
        region = data.get("region", {})
        highways = tuple(str(h) for h in region.get("highways", []))
        if any(len(h) > MAX_HIGHWAY for h in highways):
            raise GazetteerError(
                f"gazetteer {path.name}: highways are at most {MAX_HIGHWAY} characters"
            )
        areas: list[Area] = []
        seen: set[str] = set()
        for index, raw in enumerate(data.get("area", [])):
            try:
                area = Area(
                    id=str(raw["id"]),
                    name=str(raw["name"]),
                    aliases=tuple(str(a) for a in raw.get("aliases", [])),
                    place=Place(
                        round(float(raw["lat"]), COARSE_DECIMALS),
                        round(float(raw["lon"]), COARSE_DECIMALS),
                    ),
                    highways=tuple(str(h) for h in raw.get("highways", [])),
                    shape=_shape(raw.get("shape", [])),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise GazetteerError(
                    f"gazetteer {path.name}: area #{index + 1} needs id, name, lat, lon, and a "
                    f"shape (if any) of at least 3 [lon, lat] pairs ({exc})"
                ) from exc
            if max(len(area.id), len(area.name)) > MAX_NAME or any(
                len(h) > MAX_HIGHWAY for h in area.highways
            ):
                raise GazetteerError(
                    f"gazetteer {path.name}: area {area.id!r}: ids and names are at most "
                    f"{MAX_NAME} characters, highways at most {MAX_HIGHWAY}"
                )
            if area.id in seen:
                raise GazetteerError(f"gazetteer {path.name}: area id {area.id!r} appears twice")
            seen.add(area.id)
            areas.append(area)
        if not areas:
            raise GazetteerError(f"gazetteer {path.name} has no [[area]] entries")
        outline = region.get("outline")
        outline_path = (path.parent / str(outline)) if outline else None
        if outline_path is not None and not outline_path.is_file():
            raise GazetteerError(f"gazetteer {path.name}: outline file not found: {outline_path}")
        timezone = str(region.get("timezone", ""))
        if timezone:
            try:
                zoneinfo.ZoneInfo(timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise GazetteerError(
                    f"gazetteer {path.name}: [region] timezone {timezone!r} is not an IANA time "
                    "zone name such as 'America/Los_Angeles'"
                ) from None
        return cls(str(region.get("name", "")), highways, areas, outline_path, timezone)

    # --- matching ----------------------------------------------------------------------------

    def names_a_place(self, text: str) -> bool:
        """True when the whole text is an area's name or alias, as written on the list
        (so a place called after a person is never refused as a person's name)."""
        return " ".join(_words(text)) in self._labels

    def match(self, text: str) -> AreaMatch:
        """Resolve the reporter's area text: an area, candidates to ask about, or free text."""
        words = _words(text)
        ids = self._resolve(words)
        if len(ids) == 1:
            area = self.by_id[ids[0]]
            return AreaMatch(area.id, area.name, area)
        key = normalize(text)
        free = AreaMatch("text:" + key[:MAX_TEXT_KEY], " ".join(text.split()), None)
        if 1 < len(ids) <= MAX_CHOICES:
            candidates = tuple(self.by_id[i] for i in ids)
            return AreaMatch(free.id, free.name, None, candidates)
        return free

    def _resolve(self, words: list[str]) -> list[str]:
        """The matched area ids: one (a match), several (ask back) or none (free text)."""
        if not words:
            return []
        content = [w for i, w in enumerate(words) if not self._filler_at(words, i)]
        whole = self._labels.get(" ".join(words))
        if whole is not None:
            return self._ask_far(whole, content)
        hits = [h for h in self._hits(words) if self._counts(h, words)]
        chosen = _choose(hits)
        # An everyday word right beside a real name qualifies it ("downtown El Cajon").
        edges = {edge for hit in chosen if not hit.label.weak for edge in (hit.start, hit.end)}
        chosen = [h for h in chosen if not (h.label.weak and {h.start, h.end} & edges)]
        # "el centro de Oceanside": a name of one everyday word, then "de" and another name.
        starts = {hit.start for hit in chosen}
        chosen = [
            h
            for h in chosen
            if not (
                _everyday(h.label)
                and h.end < len(words)
                and words[h.end] in OF_WORDS
                and h.end + 1 in starts
            )
        ]
        # A crossing named by kind only ("la línea") next to a place: that place's crossing.
        if len(chosen) > 1:
            chosen = [h for h in chosen if not _kind_only(h.label)] or chosen
        ids = _unique(area for hit in chosen for area in hit.label.areas)
        if len(ids) == 1 and len(chosen) == 1:
            kind = self._of_kind(chosen[0].label, words)
            return [kind] if kind else self._ask_far(chosen[0].label, content)
        if not ids:
            moved = self._kind_moved(words)
            if len(moved) == 1:
                return moved
        if not ids and len(content) == 1 and len(words) <= 2:
            # A bare word that starts several names ("Mission"): ask which one.
            starts = self._starts.get(content[0], set())
            return sorted(starts) if len(starts) > 1 else []
        return ids

    def _ask_far(self, label: _Label, content: list[str]) -> list[str]:
        """A one-word name that also starts another area's name far away asks back."""
        ids = list(label.areas)
        if len(label.tokens) != 1 or len(content) > 1 or len(ids) != 1:
            return ids
        here = self.by_id[ids[0]].place
        far = sorted(
            other
            for other in self._starts.get(label.tokens[0], ())
            if other != ids[0] and distance_km(here, self.by_id[other].place) > ASK_FAR_KM
        )
        return ids + far

    def _of_kind(self, label: _Label, words: list[str]) -> str | None:
        """The crossing or checkpoint named after the matched area, when the text says one
        ("San Ysidro POE", "la línea de Otay"): of the names that hold the area's name and a
        word for a crossing (any: "border", "garita", "port"...), those that add the fewest
        other words ("garita de Calexico" over "Calexico East crossing"); one area, or none."""
        if not KIND_WORDS.intersection(words):
            return None
        extra: dict[str, int] = {}
        for other in self._labels.values():
            if not KIND_WORDS.intersection(other.tokens) or not set(label.tokens) <= set(
                other.tokens
            ):
                continue
            added = sum(
                1
                for t in other.tokens
                if t not in label.tokens and t not in KIND_WORDS and not _filler(t)
            )
            for area in other.areas:
                if area not in label.areas:
                    extra[area] = min(added, extra.get(area, added))
        if not extra:
            return None
        fewest = min(extra.values())
        found = [area for area, added in extra.items() if added == fewest]
        return found[0] if len(found) == 1 else None

    def _kind_moved(self, words: list[str]) -> list[str]:
        """A crossing's name with its word for a crossing elsewhere in the text ("checkpoint by
        Camp Pendleton" for "Camp Pendleton checkpoint"): the areas of the crossings' names
        whose other words all stand in the text, exactly."""
        if not KIND_WORDS.intersection(words):
            return []
        present = set(words)
        found = {
            area
            for label in self._labels.values()
            if KIND_WORDS.intersection(label.tokens)
            for rest in [[t for t in label.tokens if t not in KIND_WORDS and not _filler(t)]]
            if rest and set(rest) <= present
            for area in label.areas
        }
        return sorted(found)

    def _filler_at(self, words: list[str], i: int) -> bool:
        word = words[i]
        if _filler(word):
            return True
        pair_after = i + 1 < len(words) and (word, words[i + 1]) in QUALIFIER_PAIRS
        pair_before = i > 0 and (words[i - 1], word) in QUALIFIER_PAIRS
        return pair_after or pair_before

    def _hits(self, words: list[str]) -> list[_Hit]:
        """Every window of whole words that is a label, exactly or within its typos."""
        hits: list[_Hit] = []
        fuzzy_windows: list[tuple[int, int]] = []
        n = len(words)
        for start in range(n):
            for end in range(start + 1, min(n, start + self._longest + MAX_WINDOW_EXTRA) + 1):
                window = " ".join(words[start:end])
                label = self._labels.get(window)
                if label is not None:
                    hits.append(_Hit(start, end, label, 0))
                elif (
                    len(window) >= TYPO_STEPS[0][0]
                    # a rightly spelled everyday word is no misspelt name ("southwest")
                    and not (end - start == 1 and window in COMMON_WORDS)
                    and (words[start] in FUZZY_STARTS or not self._filler_at(words, start))
                    and not self._filler_at(words, end - 1)
                    and words[end - 1] not in STREET_SUFFIXES  # "college ave" is no "college area"
                ):
                    fuzzy_windows.append((start, end))
        if fuzzy_windows and self._fuzzy_texts:
            queries = [" ".join(words[s:e]) for s, e in fuzzy_windows]
            distances = process.cdist(
                queries, self._fuzzy_texts, scorer=Levenshtein.distance, score_cutoff=MAX_TYPOS
            )
            for row, column in zip(*(distances <= MAX_TYPOS).nonzero(), strict=True):
                label = self._fuzzy[column]
                typos = int(distances[row, column])
                start, end = fuzzy_windows[row]
                if typos <= label.typos and abs((end - start) - len(label.tokens)) <= 1:
                    hits.append(_Hit(start, end, label, typos))
        return hits

    def _counts(self, hit: _Hit, words: list[str]) -> bool:
        """Whether a hit names an area here: not part of a street, not an everyday word."""
        if self._in_street(hit, words):
            return False
        if hit.label.weak:
            before = words[hit.start - 1] if hit.start > 0 else None
            after = words[hit.end] if hit.end < len(words) else None
            if before is not None and (
                before in ARTICLES
                or not (before in CENTRE_WORDS or self._filler_at(words, hit.start - 1))
            ):
                return False
            if after is not None and not (after in CENTRE_WORDS or self._filler_at(words, hit.end)):
                return False
        return True

    def _in_street(self, hit: _Hit, words: list[str]) -> bool:
        """ "El Cajon Blvd", "Otay Lakes Road", "calle Sherman": a street, not the area."""
        i = hit.end
        while i < len(words) and not self._filler_at(words, i) and words[i] not in STREET_SUFFIXES:
            i += 1
        if i < len(words) and words[i] in STREET_SUFFIXES:
            return True
        i = hit.start - 1
        while i >= 0 and words[i] in ("de", "del", "la", "las", "los", "el"):
            i -= 1
        return i >= 0 and words[i] in STREET_PREFIXES

    # --- the rest ----------------------------------------------------------------------------

    def labels(self) -> list[str]:
        """Every normalised name and alias (for tests and tools)."""
        return sorted(self._labels)

    def nearby(self, area_id: str, km: float) -> tuple[str, ...]:
        """The area itself and every gazetteer area whose centroid is within `km` of it."""
        key = (area_id, km)
        found = self._nearby.get(key)
        if found is None:
            area = self.by_id.get(area_id)
            if area is None:
                found = (area_id,)
            else:
                others = sorted(
                    (distance_km(area.place, other.place), other.id)
                    for other in self.areas
                    if other.id != area_id and distance_km(area.place, other.place) <= km
                )
                found = (area_id, *(other_id for _, other_id in others))
            self._nearby[key] = found
        return found

    def highway(self, text: str) -> str | None:
        """The chapter's spelling of a highway, or None when it is not on the list."""
        return self._highway_keys.get(normalize(text))


def _choose(hits: list[_Hit]) -> list[_Hit]:
    """Non-overlapping hits, longest first, then fewest typos; equal rivals are all kept."""
    ranked = sorted(hits, key=lambda h: (-(h.end - h.start), h.typos, -len(h.label.text)))
    chosen: list[_Hit] = []
    for hit in ranked:
        rivals = [c for c in chosen if c.start < hit.end and hit.start < c.end]
        if not rivals:
            chosen.append(hit)
        elif all(
            (c.start, c.end, c.typos) == (hit.start, hit.end, hit.typos)
            and set(c.label.areas) != set(hit.label.areas)
            for c in rivals
        ):
            chosen.append(hit)  # same words, same quality, another area: ask
    return chosen


def _everyday(label: _Label) -> bool:
    """A name whose one word that is not an article is an everyday word ("el centro")."""
    content = [t for t in label.tokens if t not in ARTICLES]
    return len(content) == 1 and content[0] in COMMON_WORDS


def _kind_only(label: _Label) -> bool:
    """A name made of words for a crossing and articles only ("la línea", "la garita")."""
    return all(t in KIND_WORDS or t in ARTICLES for t in label.tokens)


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _shape(raw: object) -> tuple[tuple[float, float], ...]:
    """An area's optional polygon as (lon, lat) pairs; [] when it has none."""
    if not isinstance(raw, list):
        raise TypeError("shape must be a list of [lon, lat] pairs")
    if not raw:
        return ()
    if not 3 <= len(raw) <= MAX_SHAPE_POINTS:
        raise ValueError(f"a shape has 3 to {MAX_SHAPE_POINTS} points")
    points = []
    for pair in raw:
        lon, lat = (float(v) for v in pair)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("a shape's points are [lon, lat] in degrees")
        points.append((lon, lat))
    return tuple(points)
