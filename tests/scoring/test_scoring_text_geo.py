"""distance_km(), normalize(), fingerprint(), similarity()."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.geo import distance_km
from scoring.model import Place
from scoring.text import fingerprint, normalize, similarity

ROOT = Path(__file__).resolve().parents[2]


def cosine_law_km(a: Place, b: Place) -> float:
    la1, la2 = math.radians(a.lat), math.radians(b.lat)
    c = math.sin(la1) * math.sin(la2) + math.cos(la1) * math.cos(la2) * math.cos(
        math.radians(b.lon - a.lon)
    )
    return 6371.0088 * math.acos(max(-1.0, min(1.0, c)))


def test_known_distances():
    assert distance_km(Place(0, 0), Place(0, 1)) == pytest.approx(111.195, abs=0.01)
    assert distance_km(Place(0, 0), Place(1, 0)) == pytest.approx(111.195, abs=0.01)
    san_ysidro, chula_vista = Place(32.5422, -117.0293), Place(32.6401, -117.0842)
    assert 11 < distance_km(san_ysidro, chula_vista) < 13
    assert distance_km(san_ysidro, san_ysidro) == 0.0
    assert distance_km(Place(0, 0), Place(0, 180)) == pytest.approx(math.pi * 6371.0088)


places = st.builds(Place, st.floats(-89, 89), st.floats(-179.9, 179.9))


@given(places, places)
def test_distance_is_symmetric_non_negative_and_matches_the_cosine_law(a, b):
    d = distance_km(a, b)
    assert d >= 0
    assert d == pytest.approx(distance_km(b, a))
    if d > 1:  # the cosine law is imprecise at tiny distances
        assert d == pytest.approx(cosine_law_km(a, b), rel=1e-6)


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("  ¡Retén   en la 805!  ", "reten en la 805"),
        ("JOSÉ Pérez-López", "jose perez lopez"),
        ("Straße", "strasse"),
        ("line\nbreak\ttab", "line break tab"),
        ("...!!!", ""),
        ("", ""),
    ],
)
def test_normalize(raw, norm):
    assert normalize(raw) == norm


def test_fingerprint_is_crc32_of_shingles():
    fp = fingerprint("Retén en la 805 sur")
    assert zlib.crc32(b"w\x1freten en la") in fp
    assert zlib.crc32(b"w\x1fla 0 sur") in fp  # numbers are masked: a template's slots
    assert zlib.crc32(b"c\x1freten") in fp  # short text: char 5-grams too


def test_templated_texts_with_swapped_numbers_and_words_look_alike():
    from scoring.defaults import ScoringConfig

    a = fingerprint("ALERT RAID at San Ysidro, 3 officers, 4 SUVs. Stay inside and share this")
    b = fingerprint("ALERT raid at San Ysidro, 11 officers, 5 vans. Stay inside and share this")
    honest = fingerprint("two vans and agents in vests at the trolley station asking for papers")
    cfg = ScoringConfig()
    assert similarity(a, b) >= cfg.template_similarity
    assert similarity(a, honest) < cfg.template_similarity


def test_fingerprint_is_stable_across_processes():
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from scoring.text import fingerprint;"
        "print(json.dumps(sorted(fingerprint('Dos camionetas de ICE en la Home Depot'))))"
    )
    runs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code, str(ROOT)], env=env, capture_output=True, check=True
        )
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1] == sorted(fingerprint("Dos camionetas de ICE en la Home Depot"))


def test_empty_text_has_an_empty_fingerprint():
    assert fingerprint("") == frozenset()
    assert fingerprint(" ¡! ") == frozenset()
    assert similarity(frozenset(), fingerprint("x")) == 0.0
    assert similarity(frozenset(), frozenset()) == 0.0


LONG = (
    "ICE checkpoint on I-8 east right after exit 40, all lanes are stopped and agents "
    "are asking everyone for papers, avoid the area if you can"
)


@pytest.mark.parametrize(
    "edited",
    [
        LONG.upper(),
        LONG + "!!!",
        LONG.replace("checkpoint", "checkpont"),
        LONG.replace("everyone", "every one"),
    ],
)
def test_tiny_edits_of_a_copy_still_match(edited):
    assert similarity(fingerprint(LONG), fingerprint(edited)) >= 0.8


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("checkpoint on the 805 sur", "checkpont on the 805 sur!"),
        ("migra en el swap meet", "Migra en el Swap Meet!!"),
    ],
)
def test_tiny_edits_of_a_short_copy_still_match(a, b):
    assert similarity(fingerprint(a), fingerprint(b)) >= 0.5


def test_different_reports_do_not_match():
    other = "Two white vans and agents in vests at the trolley station asking for ID"
    assert similarity(fingerprint(LONG), fingerprint(other)) < 0.2


@given(st.text(max_size=200), st.text(max_size=200))
def test_similarity_is_symmetric_and_bounded(a, b):
    fa, fb = fingerprint(a), fingerprint(b)
    s = similarity(fa, fb)
    assert 0.0 <= s <= 1.0
    assert s == similarity(fb, fa)
    assert fingerprint(a) == fa  # deterministic
    if fa:
        assert similarity(fa, fa) == 1.0
