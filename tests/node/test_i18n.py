"""The message catalogs: every id the code can produce exists, in every language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from node import i18n
from scoring.defaults import AGE_LABELS
from scoring.model import Level, ReportType, ReviewReason, Verdict
from scoring.moderation import REASON_CODE

ROOT = Path(__file__).resolve().parents[2]
FIELD_CODES = re.compile(r'FieldError\(\s*(?:"\w+"|\w+),\s*"(\w+)"')
LITERAL_IDS = re.compile(r"""translate\(\s*["'](\w+)["']|["'](web_\w+)["']""")


def ids_used_in_code() -> set[str]:
    ids = set(REASON_CODE.values()) | {code for _, code in AGE_LABELS}
    ids |= (
        {t.value for t in ReportType} | {lv.value for lv in Level} | {r.value for r in ReviewReason}
    )
    ids |= {v.value for v in Verdict if v is not Verdict.NONE}
    for folder in ("node", "web"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            ids |= set(FIELD_CODES.findall(text))
            ids |= {a or b for a, b in LITERAL_IDS.findall(text)}
    return ids


def test_both_languages_are_shipped() -> None:
    assert set(i18n.SUPPORTED) >= {"en", "es"}


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_every_id_in_use_is_translated(lang: str) -> None:
    missing = sorted(ids_used_in_code() - set(i18n.catalog(lang)))
    assert missing == []


@pytest.mark.parametrize("lang", i18n.SUPPORTED)
def test_catalogs_have_the_same_ids_and_placeholders(lang: str) -> None:
    reference = i18n.catalog(i18n.DEFAULT)
    catalog = i18n.catalog(lang)
    assert set(catalog) == set(reference)
    for msgid, text in reference.items():
        assert set(re.findall(r"{(\w+)}", catalog[msgid])) == set(re.findall(r"{(\w+)}", text))


def test_spanish_is_not_english() -> None:
    same = [k for k, v in i18n.catalog("es").items() if v == i18n.catalog("en")[k]]
    assert len(same) <= 2, same  # a word or two may legitimately coincide


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", None, "es"),
        ("en-US,en;q=0.9", None, "en"),
        ("fr-FR, es;q=0.5", None, "es"),
        ("zz, *;q=0.1", None, "en"),
        ("en", "es", "es"),
        (None, "xx", "en"),
        ("es;q=abc, en;q=0.4", None, "en"),
    ],
)
def test_language_negotiation(header: str | None, explicit: str | None, expected: str) -> None:
    assert i18n.negotiate(header, explicit) == expected
