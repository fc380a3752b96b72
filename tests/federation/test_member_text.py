"""The member-room message reader: EN/ES free text and !report into report fields."""

from __future__ import annotations

import pytest

from federation.member_text import detect_language, one_word_type, parse
from node.gazetteer import DEFAULT_PATH, Gazetteer

GAZETTEER = Gazetteer.load(DEFAULT_PATH)


class Places:
    """The places protocol over the default gazetteer (what Node gives the member room)."""

    def areas(self) -> tuple:
        return GAZETTEER.areas

    def highway(self, text: str) -> str | None:
        return GAZETTEER.highway(text)


CASES = [
    # text, (type, area, highway, still_active), language
    (
        "redada en Chula Vista, siguen ahí, tres camionetas",
        ("raid", "Chula Vista", None, True),
        "es",
    ),
    (
        "checkpoint on I-8 eastbound near Alpine, still there",
        ("checkpoint", "Alpine", "I-8", True),
        "en",
    ),
    (
        "retén en la 805 por National City, ya se fueron",
        ("checkpoint", "National City", None, False),
        "es",
    ),
    ("Reten en I-805 cerca de National City", ("checkpoint", "National City", "I-805", None), "es"),
    ("ice cream truck parked in San Ysidro", ("vehicle", "San Ysidro", None, None), "en"),
    ("la migra en San Ysidro", (None, "San Ysidro", None, None), "es"),
    ("ICE on SR-94 near Encanto, gone now", (None, "Encanto", "SR-94", False), "en"),
    ("patrulla en la Logan, todavía están", ("patrol", "Logan Heights", None, True), "es"),
    ("raid in Encanto, not active anymore", ("raid", "Encanto", None, False), "en"),
    ("redada en Encanto, ya no hay nadie", ("raid", "Encanto", None, False), "es"),
    ("two vans at the trolley station", ("vehicle", None, None, None), "en"),
    ("vehículo sin placas en Otay Mesa", ("vehicle", "Otay Mesa", None, None), "es"),
    ("!report raid Chula Vista active three vans", ("raid", "Chula Vista", None, True), "en"),
    ("!report redada National City ya se fueron", ("raid", "National City", None, False), "es"),
]


@pytest.mark.parametrize(("text", "expected", "lang"), CASES)
def test_messages_read_into_fields(text: str, expected: tuple, lang: str) -> None:
    got = parse(text, Places())
    assert (got.type, got.area, got.highway, got.still_active) == expected
    assert got.language == lang
    assert got.description  # the text itself goes to moderation


def test_one_word_answers() -> None:
    assert one_word_type("retén") == "checkpoint"
    assert one_word_type("Redada") == "raid"
    assert one_word_type("vehículo") == "vehicle"
    assert one_word_type("patrol") == "patrol"
    assert one_word_type("no sé") is None


def test_language_unclear_is_none() -> None:
    assert detect_language("!!!") is None
