"""Moderation of a report's free text: personal information is refused, calls
to interfere or evade go to human review.

Rules kept here:
- English and Spanish, any case, any script that looks like Latin: every
  detector reads normalised views of the text (scoring/moderation/normal.py:
  invisible characters dropped, confusables and accents folded, spelled
  digits and look-alikes read as digits, spaced-out characters joined), and
  every Finding's span indexes the reporter's own text.
- Refusals favour recall (a leaked plate, phone or name can hurt someone; a
  refusal only asks the reporter to rephrase, with their text kept), but
  never fire on the words reports are made of: highways (I-805, SR-94),
  exits, times (10:30), counts (3 vans), vehicle models (F-150, 2500HD),
  nationalities, businesses, roads named after people, SMS-style "@Vons".
- Deterministic and total: any text gives a Moderation, never an exception.
- Pure: nothing here logs or keeps the text; the findings are kinds and spans.
  Data files are read once at import (importlib.resources), nothing else.

Libraries: phonenumbers (phone numbers), confusable_homoglyphs (the Unicode
confusables table of UTS #39); word lists in scoring/data (sources in their
headers).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from scoring.moderation import contact, interference, names, place, plate
from scoring.moderation.normal import View, compact, digits, fold


class FindingKind(StrEnum):
    PLATE = "plate"
    PHONE = "phone"
    EMAIL = "email"
    HANDLE = "handle"
    LINK = "link"
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
    FindingKind.LINK: "refused_link",
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


@dataclass
class _Views:
    base: View  # folded: no invisibles, confusables, accents
    numeric: View  # base with spelled digits and look-alikes as digits
    packed: View  # numeric with spaced-out characters joined
    packed_base: View  # base with spaced-out characters joined (e-mail, handles)
    links: list[tuple[tuple[int, int], bool]] | None = None  # found once, for both kinds


def _views(text: str) -> _Views:
    base = fold(text)
    numeric = digits(base)
    return _Views(base, numeric, compact(numeric), compact(base))


Spans = Iterable[tuple[int, int]]


def _on(
    view_of: Callable[[_Views], View], detect: Callable[[View], Spans]
) -> Callable[[_Views], Spans]:
    def run(views: _Views) -> Spans:
        view = view_of(views)
        return [view.span(s, e) for s, e in detect(view)]

    return run


def _links(kind: FindingKind) -> Callable[[_Views], Spans]:
    def run(views: _Views) -> Spans:
        if views.links is None:  # one pass for links and map links
            found: list[tuple[tuple[int, int], bool]] = []
            seen: set[int] = set()
            for view in (views.base, views.packed_base):
                if id(view) not in seen:
                    seen.add(id(view))
                    found += [(view.span(*span), is_map) for span, is_map in contact.links(view)]
            views.links = found
        return [span for span, is_map in views.links if is_map == (kind is FindingKind.COORDINATES)]

    return run


def _both(
    detect: Callable[[View], Spans], *views: Callable[[_Views], View]
) -> Callable[[_Views], Spans]:
    def run(vs: _Views) -> Spans:
        out: list[tuple[int, int]] = []
        seen: set[int] = set()
        for view_of in views:
            view = view_of(vs)
            if id(view) in seen:
                continue
            seen.add(id(view))
            out += [view.span(s, e) for s, e in detect(view)]
        return out

    return run


_DETECTORS: tuple[tuple[FindingKind, Callable[[_Views], Spans]], ...] = (
    (FindingKind.EMAIL, _both(contact.emails, lambda v: v.base, lambda v: v.packed_base)),
    (FindingKind.LINK, _links(FindingKind.LINK)),
    (FindingKind.HANDLE, _both(contact.handles, lambda v: v.base, lambda v: v.packed_base)),
    (FindingKind.COORDINATES, _links(FindingKind.COORDINATES)),
    (FindingKind.COORDINATES, _on(lambda v: v.numeric, place.coordinates)),
    (FindingKind.PHONE, _both(contact.phones, lambda v: v.numeric, lambda v: v.packed)),
    (FindingKind.PLATE, _on(lambda v: v.packed, plate.plates)),
    (FindingKind.ADDRESS, _on(lambda v: v.packed, place.addresses)),
    (FindingKind.NAME, _on(lambda v: v.base, names.names)),
    (FindingKind.INTERFERENCE, _on(lambda v: v.base, interference.interference)),
)
# A finding wholly inside one of another kind is part of it: "juan123" in an
# e-mail is not a plate, the digits of a map link are not a phone.
_CONTAINERS: dict[FindingKind, frozenset[FindingKind]] = {
    FindingKind.EMAIL: frozenset(FindingKind) - {FindingKind.EMAIL, FindingKind.INTERFERENCE},
    FindingKind.LINK: frozenset(FindingKind)
    - {FindingKind.LINK, FindingKind.INTERFERENCE, FindingKind.EMAIL},
    FindingKind.COORDINATES: frozenset(
        {
            FindingKind.PLATE,
            FindingKind.PHONE,
            FindingKind.LINK,
            FindingKind.ADDRESS,
            FindingKind.HANDLE,
        }
    ),
    FindingKind.HANDLE: frozenset({FindingKind.PLATE, FindingKind.NAME, FindingKind.PHONE}),
    FindingKind.PHONE: frozenset({FindingKind.PLATE, FindingKind.ADDRESS, FindingKind.COORDINATES}),
    FindingKind.PLATE: frozenset({FindingKind.ADDRESS}),
}


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def moderate(text: str) -> Moderation:
    """Find personal information (refused) and calls to interfere (review) in a text."""
    if not text or not text.strip():
        return Moderation()
    views = _views(text)
    raw: dict[FindingKind, list[tuple[int, int]]] = {}
    for kind, detect in _DETECTORS:
        raw.setdefault(kind, []).extend(detect(views))
    found = {kind: _merge(spans) for kind, spans in raw.items() if spans}

    starts = {kind: [s for s, _ in spans] for kind, spans in found.items()}

    def inside(container: FindingKind, s: int, e: int) -> bool:
        spans = found.get(container)
        if not spans:
            return False
        i = bisect_right(starts[container], s) - 1  # merged spans: sorted, disjoint
        return i >= 0 and e <= spans[i][1]

    def contained(kind: FindingKind, s: int, e: int) -> bool:
        return any(
            kind in inner and inside(container, s, e)
            for container, inner in _CONTAINERS.items()
            if container is not kind
        )

    findings = [
        Finding(kind, s, e)
        for kind, spans in found.items()
        for s, e in spans
        if not contained(kind, s, e)
    ]
    findings.sort(key=lambda x: (x.start, x.end, x.kind.value))
    return Moderation(
        refusals=tuple(x for x in findings if x.kind not in REVIEW_KINDS),
        review=tuple(x for x in findings if x.kind in REVIEW_KINDS),
    )


__all__ = ["REASON_CODE", "REVIEW_KINDS", "Finding", "FindingKind", "Moderation", "moderate"]
