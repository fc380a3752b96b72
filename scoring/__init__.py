"""Pure domain logic of a Vecinos chapter: scoring, moderation, decay.

Rule kept by every module here: no I/O, no clock reads, no database, no
sleeps, no imports from the rest of the project. "Now" is always an argument.
"""

from scoring.decay import decay, visible
from scoring.geo import distance_km
from scoring.moderation import REASON_CODE, Finding, FindingKind, Moderation, moderate
from scoring.review import priority, review_reasons
from scoring.score import assess, overridden_confidence, status_for
from scoring.text import fingerprint, normalize, similarity

__all__ = [
    "REASON_CODE",
    "Finding",
    "FindingKind",
    "Moderation",
    "assess",
    "decay",
    "distance_km",
    "fingerprint",
    "moderate",
    "normalize",
    "overridden_confidence",
    "priority",
    "review_reasons",
    "similarity",
    "status_for",
    "visible",
]
