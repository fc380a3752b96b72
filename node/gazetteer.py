"""The chapter's gazetteer: the areas reporters may name, with coarse centroids.

Format (TOML, see node/data/gazetteer.toml): a [region] table with the name,
the chapter's list of highways and the region's time zone (IANA), and one
[[area]] per area with id, name, aliases, lat, lon (rounded to 2 decimals,
about 1 km) and optional highways.
Matching is accent- and case-insensitive and tolerates close spellings;
anything else is kept as free text and flagged as an unknown area.
"""

from __future__ import annotations

import difflib
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from scoring.geo import distance_km
from scoring.model import Place
from scoring.text import normalize

DEFAULT_PATH = Path(__file__).parent / "data" / "gazetteer.toml"
CLOSE_SPELLING_CUTOFF = 0.84  # difflib ratio for "close spelling"
COARSE_DECIMALS = 2  # about 1.1 km of latitude
MAX_TEXT_KEY = 150  # "text:" + this fits the store's 160-character area ids
MAX_NAME = 160  # the store's area name and id columns
MAX_HIGHWAY = 16  # the store's highway column


class GazetteerError(Exception):
    pass


@dataclass(frozen=True)
class Area:
    id: str
    name: str
    aliases: tuple[str, ...]
    place: Place
    highways: tuple[str, ...]


@dataclass(frozen=True)
class AreaMatch:
    """What the reporter's area text resolved to."""

    id: str  # gazetteer id, or "text:<normalised text>" when unknown
    name: str
    area: Area | None

    @property
    def known(self) -> bool:
        return self.area is not None


class Gazetteer:
    def __init__(
        self, region: str, highways: tuple[str, ...], areas: list[Area], timezone: str = ""
    ) -> None:
        self.region = region
        self.timezone = timezone  # IANA name, or "" when the file names none
        self.highways = highways
        self.areas = areas
        self.by_id = {area.id: area for area in areas}
        self._names: dict[str, Area] = {}
        for area in areas:
            for label in (area.name, area.id.replace("-", " "), *area.aliases):
                key = normalize(label)
                if key:
                    self._names.setdefault(key, area)
        # longest names first, so "otay mesa port of entry" wins over "otay mesa"
        self._by_length = sorted(self._names, key=len, reverse=True)
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
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise GazetteerError(
                    f"gazetteer {path.name}: area #{index + 1} needs id, name, lat, lon ({exc})"
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
        timezone = str(region.get("timezone", ""))
        if timezone:
            try:
                zoneinfo.ZoneInfo(timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise GazetteerError(
                    f"gazetteer {path.name}: [region] timezone {timezone!r} is not an IANA time "
                    "zone name such as 'America/Los_Angeles'"
                ) from None
        return cls(str(region.get("name", "")), highways, areas, timezone)

    def match(self, text: str) -> AreaMatch:
        """Resolve the reporter's area text (exact, contained name, close spelling)."""
        key = normalize(text)
        area = self._names.get(key)
        if area is None and key:
            padded = f" {key} "
            area = next((self._names[n] for n in self._by_length if f" {n} " in padded), None)
        if area is None and key:
            close = difflib.get_close_matches(key, self._names, n=1, cutoff=CLOSE_SPELLING_CUTOFF)
            area = self._names[close[0]] if close else None
        if area is not None:
            return AreaMatch(area.id, area.name, area)
        # Free text keeps its id within the column (NFKD can lengthen a text).
        return AreaMatch("text:" + key[:MAX_TEXT_KEY], " ".join(text.split()), None)

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
