"""node.areamap, pure: the area shapes tile the region, every area is drawn and named
somewhere, and the same gazetteer always gives the same SVG."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import shapely
from shapely.geometry import box as rect

from node import areamap
from node.gazetteer import DEFAULT_PATH, Gazetteer


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(DEFAULT_PATH)


@pytest.fixture(scope="module")
def built(gazetteer: Gazetteer) -> areamap.AreaMap:
    return areamap.build(gazetteer.areas, areamap.load_outline(gazetteer.outline_path))


def test_the_default_outline_is_the_two_counties(gazetteer: Gazetteer) -> None:
    outline = areamap.load_outline(gazetteer.outline_path)
    assert outline is not None and outline.is_valid
    minx, miny, maxx, maxy = outline.bounds
    assert -117.7 < minx < -117.5 and -114.5 < maxx < -114.4  # the coast to the Colorado
    assert 32.5 < miny < 32.6 and 33.4 < maxy < 33.6  # the border to the counties' north


def test_every_area_has_a_shape_inside_the_region(gazetteer: Gazetteer) -> None:
    outline = areamap.load_outline(gazetteer.outline_path)
    project, region, cells = areamap.cells(gazetteer.areas, outline)
    assert set(cells) == {a.id for a in gazetteer.areas}
    for area in gazetteer.areas:
        cell = cells[area.id]
        assert not cell.shape.is_empty and cell.shape.area > 0, area.id
        assert region.buffer(1e-6).covers(cell.shape), area.id
        centre = shapely.Point(project(area.place.lon, area.place.lat))
        assert cell.shape.buffer(1e-6).covers(centre), area.id  # its own centroid is in it
        assert cell.shape.buffer(1e-6).covers(shapely.Point(cell.anchor)), area.id


def test_shapes_do_not_overlap(gazetteer: Gazetteer) -> None:
    _, region, cells = areamap.cells(gazetteer.areas, areamap.load_outline(gazetteer.outline_path))
    shapes = list(cells.values())
    tree = shapely.STRtree([c.shape for c in shapes])
    for i, cell in enumerate(shapes):
        for j in tree.query(cell.shape):
            if j > i:
                shared = cell.shape.intersection(shapes[j].shape).area
                assert shared < 1e-6, (cell.area_id, shapes[j].area_id, shared)
    total = sum(c.shape.area for c in shapes)
    assert total == pytest.approx(region.area, rel=1e-6)  # and they tile the region


def test_the_same_input_gives_the_same_map(gazetteer: Gazetteer, built: areamap.AreaMap) -> None:
    again = areamap.build(gazetteer.areas, areamap.load_outline(gazetteer.outline_path))
    assert again.views == built.views
    labels = [areamap.place_labels(v, built.numbers, built.names, {}) for v in built.views]
    assert labels == [areamap.place_labels(v, again.numbers, again.names, {}) for v in again.views]


def test_every_area_is_named_or_numbered_in_exactly_one_view(built: areamap.AreaMap) -> None:
    where = {}
    for view in built.views:
        labels = areamap.place_labels(view, built.numbers, built.names, {})
        placed = {label.area_id for label in labels}
        assert placed == set(view.members), view.id  # every member gets a name or a number
        for area_id in view.members:
            assert area_id not in where, (area_id, where.get(area_id), view.id)
            where[area_id] = view.id
    assert set(where) == set(built.names)


def test_names_never_overlap_and_stay_inside(built: areamap.AreaMap) -> None:
    for view in built.views:
        labels = areamap.place_labels(view, built.numbers, built.names, {"chula-vista": 4})
        boxes = []
        for label in labels:
            if label.number is None:
                w = areamap.label_width(built.names[label.area_id])
                h = areamap.FONT_UNITS * areamap.LINE_HEIGHT
            else:
                w = h = 2 * areamap.MARKER_RADIUS
            boxes.append(rect(label.x - w / 2, label.y - h / 2, label.x + w / 2, label.y + h / 2))
        named = [b for b, lb in zip(boxes, labels, strict=True) if lb.number is None]
        for a, b in itertools.combinations(named, 2):
            assert a.intersection(b).area < 1e-6, view.id
        frame = rect(0, 0, view.width, view.height)
        assert all(frame.buffer(1e-6).covers(b) for b in named), view.id


def test_zoomed_views_are_framed_on_their_parent_without_overlapping(
    built: areamap.AreaMap,
) -> None:
    views = {v.id: v for v in built.views}
    assert built.views[0].id == "all" and len(built.views) > 1
    for view in built.views:
        frames = [rect(z.x, z.y, z.x + z.width, z.y + z.height) for z in view.zooms]
        for a, b in itertools.combinations(frames, 2):
            assert a.intersection(b).area < 1.0, view.id
        for zoom in view.zooms:
            assert views[zoom.view_id].depth == view.depth + 1
        assert view.width <= areamap.VIEW_WIDTH + 1e-6
        assert view.height <= areamap.MAX_VIEW_HEIGHT + 1e-6


def test_an_areas_own_shape_is_used_and_others_keep_out(tmp_path: Path) -> None:
    (tmp_path / "g.toml").write_text(
        """
[[area]]
id = "a"
name = "A"
lat = 32.70
lon = -117.10
shape = [[-117.13, 32.68], [-117.07, 32.68], [-117.07, 32.72], [-117.13, 32.72]]

[[area]]
id = "b"
name = "B"
lat = 32.75
lon = -117.10

[[area]]
id = "c"
name = "C"
lat = 32.70
lon = -117.00
""",
        encoding="utf-8",
    )
    g = Gazetteer.load(tmp_path / "g.toml")
    project, region, cells = areamap.cells(g.areas, None)  # no outline: the centroids' hull
    own = shapely.transform(
        shapely.Polygon(g.by_id["a"].shape), lambda c: [project(x, y) for x, y in c]
    )
    assert cells["a"].shape.symmetric_difference(own.intersection(region)).area < 1e-6
    for other in ("b", "c"):
        assert cells[other].shape.intersection(cells["a"].shape).area < 1e-6
        assert cells[other].shape.area > 0


def test_svg_paths_are_plain_numbers() -> None:
    square = rect(0, 0, 10.04, 5)
    assert areamap.svg_path(square) == "M10 0L10 5L0 5L0 0Z"
