"""The gazetteer file and the matcher's rules, one at a time (the corpus is in
test_gazetteer_places.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.gazetteer import DEFAULT_PATH, Gazetteer, GazetteerError

SMALL = """
[region]
name = "Test"
highways = ["I-5"]

[[area]]
id = "vista"
name = "Vista"
aliases = []
lat = 33.2
lon = -117.24

[[area]]
id = "chula-vista"
name = "Chula Vista"
aliases = ["CV"]
lat = 32.64
lon = -117.08
shape = [[-117.1, 32.6], [-117.0, 32.6], [-117.0, 32.7]]

[[area]]
id = "el-cajon"
name = "El Cajon"
aliases = []
lat = 32.79
lon = -116.96

[[area]]
id = "mission-valley"
name = "Mission Valley"
aliases = []
lat = 32.77
lon = -117.15

[[area]]
id = "mission-hills"
name = "Mission Hills"
aliases = []
lat = 32.75
lon = -117.18
"""


@pytest.fixture
def small(tmp_path: Path) -> Gazetteer:
    path = tmp_path / "g.toml"
    path.write_text(SMALL, encoding="utf-8")
    return Gazetteer.load(path)


def test_exact_names_aliases_and_typos(small: Gazetteer) -> None:
    assert small.match("Chula Vista").id == "chula-vista"
    assert small.match("  CHULA   vista ").id == "chula-vista"
    assert small.match("cv").id == "chula-vista"
    assert small.match("chula bista").id == "chula-vista"
    assert small.match("el cajón").id == "el-cajon"


def test_no_substring_grabs(small: Gazetteer) -> None:
    """A name inside a longer word, or an everyday word beside other words, is no match."""
    assert not small.match("vistas").known
    assert not small.match("bella vista").known
    assert not small.match("the vista").known
    assert small.match("vista").id == "vista"
    assert small.match("near the Walmart in Vista").id == "vista"


def test_streets_named_after_places_are_not_the_place(small: Gazetteer) -> None:
    assert not small.match("el cajon blvd and 54th").known
    assert not small.match("calle El Cajon").known
    assert not small.match("Vista Way").known
    assert small.match("el cajon blvd in Chula Vista").id == "chula-vista"


def test_unsure_matches_carry_their_candidates(small: Gazetteer) -> None:
    found = small.match("mission")
    assert not found.known and found.ambiguous
    assert {a.id for a in found.candidates} == {"mission-valley", "mission-hills"}
    assert found.id.startswith("text:")
    both = small.match("between Vista and El Cajon")
    assert {a.id for a in both.candidates} == {"vista", "el-cajon"}
    assert not small.match("Tijuana").ambiguous


def test_free_text_keeps_the_reporters_words(small: Gazetteer) -> None:
    found = small.match("  by my   house ")
    assert not found.known and not found.ambiguous
    assert found.id == "text:by my house" and found.name == "by my house"


def test_optional_shapes_are_read(small: Gazetteer) -> None:
    assert len(small.by_id["chula-vista"].shape) == 3
    assert small.by_id["vista"].shape == ()


@pytest.mark.parametrize(
    "shape", ["[[1, 2]]", '"not a list"', "[[-117.1, 32.6], [-117.0, 32.6], [200, 32.7]]"]
)
def test_a_bad_shape_is_a_clear_error(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        '[[area]]\nid = "a"\nname = "A"\nlat = 1\nlon = 2\nshape = ' + shape + "\n",
        encoding="utf-8",
    )
    with pytest.raises(GazetteerError, match="shape"):
        Gazetteer.load(path)


def test_the_default_gazetteer_has_san_diegos_neighbourhoods() -> None:
    g = Gazetteer.load(DEFAULT_PATH)
    for name in (
        "Mission Valley",
        "Pacific Beach",
        "Ocean Beach",
        "La Jolla",
        "Point Loma",
        "Hillcrest",
        "Normal Heights",
        "University City",
        "Tierrasanta",
        "Serra Mesa",
    ):
        assert g.match(name).known, name
    # Every name and alias, typed as written, is its own area (channels and tools that list
    # the areas' names can send them back as they are); only a bare "Imperial" asks.
    for area in g.areas:
        for label in (area.name, *area.aliases):
            assert g.match(label).id == area.id, label
    assert g.match("Imperial").ambiguous
