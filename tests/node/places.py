"""The place corpus (tests/node/places/*.txt) and how a match is judged against it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.gazetteer import AreaMatch, Gazetteer
from scoring.geo import distance_km

CORPUS_DIR = Path(__file__).parent / "places"


@dataclass(frozen=True)
class Case:
    phrase: str
    expected: str  # an area id, "ask:a+b", or "unknown"
    near: str  # the area nearest the real place (the expected id when it is one)


@dataclass(frozen=True)
class Verdict:
    case: Case
    got: str  # the matched id, "ask:a+b", or "unknown"
    right: bool
    km: float | None  # distance of a match from the real place


def load(name: str) -> list[Case]:
    cases = []
    for line in (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        phrase, expected, near = (part.strip() for part in line.split("|"))
        if not near:  # an area id, or the first of the areas to ask about
            assert expected != "unknown", f"an unknown place needs its nearest area: {line}"
            near = expected.removeprefix("ask:").split("+")[0]
        cases.append(Case(phrase, expected, near))
    return cases


def describe(found: AreaMatch) -> str:
    if found.known:
        return found.id
    if found.ambiguous:
        return "ask:" + "+".join(a.id for a in found.candidates)
    return "unknown"


def judge(gazetteer: Gazetteer, case: Case) -> Verdict:
    found = gazetteer.match(case.phrase)
    got = describe(found)
    if case.expected.startswith("ask:"):
        wanted = set(case.expected[4:].split("+"))
        right = found.ambiguous and wanted <= {a.id for a in found.candidates}
    else:
        right = got == case.expected
    km = None
    if found.area is not None:
        km = distance_km(found.area.place, gazetteer.by_id[case.near].place)
    return Verdict(case, got, right, km)
