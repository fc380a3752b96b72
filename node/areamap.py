"""The area map's geometry: the gazetteer's areas as shapes, projected into SVG views.

Pure functions from the gazetteer's areas and the region's outline (GeoJSON,
lon/lat) to SVG path strings, label positions and zoomed views. No I/O but
`load_outline` (one small file, read once); no clock; no request state. The
web builds one AreaMap at start and reuses it for every request.

- Shapes: an area's own `shape` when the gazetteer gives one; otherwise the
  part of the region nearer its centroid than any other (a Voronoi cell,
  shapely), so the cells tile the region without overlapping. The region is
  the outline plus a small disc around every centroid (a coarse outline may
  leave a border crossing just outside), or the centroids' hull when there
  is no outline.
- Views: the whole region first; where its areas are too close to name at
  phone size (VIEW_WIDTH units wide), they are grouped into zoomed views of
  their own, recursively (at most MAX_DEPTH levels). A view draws every cell
  that reaches into it; its `members` are the areas it is there to name.
- Labels: placed per view by `place_labels`, greedily (most serious first,
  then the largest cells), never overlapping; an area whose name does not
  fit gets its number (`AreaMap.numbers`) when that fits, else it is named
  in a zoomed view.
Coordinates: x east, y south, in km from the region's north-west corner
(an equirectangular projection at the region's middle latitude: at a
county's scale its error is far below a pixel), then scaled per view.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import shapely
from shapely.geometry import MultiPoint, Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import polylabel, unary_union

from node.gazetteer import Area

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON_EQUATOR = 111.32
CENTROID_DISC_KM = 1.5  # every centroid is inside the region (a coarse outline misses ports)
HULL_MARGIN_KM = 4.0  # the region without an outline: the centroids' hull, this much larger
VIEW_WIDTH = 400.0  # SVG units across a view: about one CSS pixel on a 390 px phone
MAX_VIEW_HEIGHT = 520.0  # a zoomed view's tallest (a phone screen, less the page's header)
VIEW_PAD = 8.0  # units of margin inside a view
MAX_DEPTH = 4  # the whole region, then up to three levels of zoom
MAX_VIEWS = 40  # a bound on the work at start whatever the gazetteer (a page shows one view)
ZOOM_STEP = 3.0  # a zoomed view spans at most a third of its parent
MIN_ZOOM_KM = 4.0  # a zoomed view spans at least this much
CROWDED_UNITS = 34.0  # centroids closer than this (in a view's units) are too close to name
SIMPLIFY_UNITS = 0.6  # shapes are simplified to this (in a view's units): invisible, smaller SVG
FONT_UNITS = 12.0  # label size in a view's units (about 12 px on a phone)
CHAR_WIDTH = 0.58  # average glyph width / font size of the sans-serif stack (DejaVu: ~0.57)
LINE_HEIGHT = 1.6  # a label's box height / font size, as Chromium measures SVG text
MARKER_RADIUS = 7.5  # an area's number, in a circle
HIGHLIGHTS = 3  # names that title a zoomed view ("Escondido, San Marcos, Vista and 7 more")
MAX_NUMBER_LABEL = 999


@dataclass(frozen=True)
class Cell:
    """One area's shape in km (the projected plane) and where its name goes."""

    area_id: str
    name: str
    shape: BaseGeometry
    anchor: tuple[float, float]  # km: the cell's most inland point (polylabel)


@dataclass(frozen=True)
class ViewCell:
    area_id: str
    path: str  # SVG path data in the view's units
    anchor: tuple[float, float]  # view units
    shape: BaseGeometry = field(compare=False, repr=False, default_factory=Polygon)  # view units


@dataclass(frozen=True)
class ZoomBox:
    """A zoomed view's frame, drawn on its parent view (a link to it)."""

    view_id: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class View:
    id: str  # "all", then "z1", "z2"... (HTML ids and anchors)
    width: float
    height: float
    outline: str  # the region's outline as SVG path data
    cells: tuple[ViewCell, ...]  # every cell that reaches into the view
    members: tuple[str, ...]  # the areas this view is there to name
    zooms: tuple[ZoomBox, ...]  # the zoomed views drawn on this one
    depth: int
    highlights: tuple[str, ...]  # the members with the largest cells: the view's title


@dataclass(frozen=True)
class Label:
    area_id: str
    x: float
    y: float
    number: int | None  # None: the name is written; else only the number (see the legend)


@dataclass(frozen=True)
class AreaMap:
    views: tuple[View, ...]
    numbers: Mapping[str, int]  # area id -> its number on every view (1.. in gazetteer order)
    names: Mapping[str, str]
    cells: Mapping[str, Cell]


# --- the projected plane ------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    lon0: float
    lat0: float
    kx: float  # km per degree of longitude at the region's middle latitude

    @classmethod
    def for_points(cls, points: Iterable[tuple[float, float]]) -> Projection:
        lons, lats = zip(*points, strict=True)
        mid = (min(lats) + max(lats)) / 2
        return cls(min(lons), max(lats), KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(mid)))

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.lon0) * self.kx, (self.lat0 - lat) * KM_PER_DEG_LAT)

    def geometry(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geometry, self._array)

    def _array(self, coords):  # type: ignore[no-untyped-def]
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - self.lon0) * self.kx
        out[:, 1] = (self.lat0 - coords[:, 1]) * KM_PER_DEG_LAT
        return out


def load_outline(path: Path | None) -> BaseGeometry | None:
    """The region's outline from a GeoJSON file (Feature, FeatureCollection or geometry)."""
    if path is None:
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("type") == "FeatureCollection":
        parts = [shape(f["geometry"]) for f in data.get("features", [])]
        return unary_union(parts) if parts else None
    if data.get("type") == "Feature":
        data = data["geometry"]
    return shape(data)


# --- cells ------------------------------------------------------------------------------------


def cells(
    areas: Sequence[Area], outline: BaseGeometry | None
) -> tuple[Projection, BaseGeometry, dict[str, Cell]]:
    """Every area's shape in the projected plane, and the region they tile."""
    points = [(a.place.lon, a.place.lat) for a in areas]
    if outline is not None:
        bounds = outline.bounds
        points_for_projection = [*points, (bounds[0], bounds[1]), (bounds[2], bounds[3])]
    else:
        points_for_projection = points
    project = Projection.for_points(points_for_projection)
    xy = _distinct([project(lon, lat) for lon, lat in points])
    discs = unary_union([Point(p).buffer(CENTROID_DISC_KM) for p in xy])
    if outline is not None:
        region = shapely.make_valid(project.geometry(outline)).union(discs)
    else:
        region = MultiPoint(xy).convex_hull.buffer(HULL_MARGIN_KM).union(discs)
    own = {
        a.id: shapely.make_valid(project.geometry(Polygon(a.shape))).intersection(region)
        for a in areas
        if a.shape
    }
    taken = unary_union(list(own.values())) if own else None
    diagram = shapely.voronoi_polygons(MultiPoint(xy), extend_to=region.envelope.buffer(10))
    polygons = list(diagram.geoms)
    found: dict[str, Cell] = {}
    for area, point in zip(areas, xy, strict=True):
        if area.id in own:
            geometry = own[area.id]
        else:
            centre = Point(point)
            cell = next(p for p in polygons if p.covers(centre))
            geometry = cell.intersection(region)
            if taken is not None:
                geometry = geometry.difference(taken)
        geometry = _polygons(geometry)
        if geometry.is_empty:  # an own shape elsewhere covers it: a small disc keeps it visible
            geometry = Point(point).buffer(CENTROID_DISC_KM / 2)
        found[area.id] = Cell(area.id, area.name, geometry, _anchor(geometry, point))
    return project, region, found


def _distinct(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Nudge repeated centroids apart (a few hundred metres) so each area gets a cell."""
    seen: dict[tuple[float, float], int] = {}
    out = []
    for x, y in points:
        key = (round(x, 3), round(y, 3))
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n:
            angle = n * 2.4  # radians: successive nudges spread around the point
            x, y = x + 0.3 * math.cos(angle), y + 0.3 * math.sin(angle)
        out.append((x, y))
    return out


def _polygons(geometry: BaseGeometry) -> BaseGeometry:
    """Only the polygonal parts of a geometry (intersections may leave lines or points)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [
        g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    return unary_union(parts) if parts else Polygon()


def _anchor(geometry: BaseGeometry, point: tuple[float, float]) -> tuple[float, float]:
    """Where the name goes: the most inland point of the part that holds the centroid."""
    parts = list(getattr(geometry, "geoms", [geometry]))
    centre = Point(point)
    part = next((p for p in parts if p.covers(centre)), max(parts, key=lambda p: p.area))
    spot = polylabel(part, tolerance=0.05)
    return (spot.x, spot.y)


# --- views ------------------------------------------------------------------------------------


def build(areas: Sequence[Area], outline: BaseGeometry | None) -> AreaMap:
    """The whole area map: cells, the views and their zooms. Deterministic for its input."""
    _, region, found = cells(areas, outline)
    numbers = {a.id: i + 1 for i, a in enumerate(areas)}
    names = {a.id: a.name for a in areas}
    frames: list[_Frame] = []
    queue = [_Frame("all", region.bounds, tuple(a.id for a in areas), 1, "")]
    while queue:
        frame = queue.pop(0)
        frames.append(frame)
        if frame.depth >= MAX_DEPTH:
            continue
        scale = _scale(frame.bounds)
        span = max(frame.bounds[2] - frame.bounds[0], frame.bounds[3] - frame.bounds[1])
        for group in _merge_overlapping(_crowded_groups(frame.members, found, scale), found):
            for part in _split(group, found, span / ZOOM_STEP):
                if len(frames) + len(queue) >= MAX_VIEWS:
                    break
                view_id = f"z{len(frames) + len(queue)}"
                queue.append(_Frame(view_id, _frame(part, found), part, frame.depth + 1, frame.id))
    frames = _separate(frames)
    views = []
    for frame in frames:
        children = [f for f in frames if f.parent == frame.id]
        zoomed = {m for child in children for m in child.members}
        own = tuple(m for m in frame.members if m not in zoomed)
        boxes = [(child.id, child.bounds) for child in children]
        views.append(_view(frame, own, boxes, region, found))
    return AreaMap(tuple(views), numbers, names, found)


def _separate(frames: list[_Frame]) -> list[_Frame]:
    """Sibling frames that overlap (their margins) meet halfway instead, along their gap."""
    out = list(frames)
    for i, a in enumerate(out):
        for j in range(i + 1, len(out)):
            b = out[j]
            if a.parent != b.parent or not a.parent:
                continue
            ax0, ay0, ax1, ay1 = a.bounds
            bx0, by0, bx1, by1 = b.bounds
            dx = min(ax1, bx1) - max(ax0, bx0)
            dy = min(ay1, by1) - max(ay0, by0)
            if dx <= 0 or dy <= 0:
                continue
            if dx <= dy:  # side by side: meet at the middle of the overlap in x
                cut = (max(ax0, bx0) + min(ax1, bx1)) / 2
                if ax0 < bx0:
                    a, b = (
                        replace(a, bounds=(ax0, ay0, cut, ay1)),
                        replace(b, bounds=(cut, by0, bx1, by1)),
                    )
                else:
                    a, b = (
                        replace(a, bounds=(cut, ay0, ax1, ay1)),
                        replace(b, bounds=(bx0, by0, cut, by1)),
                    )
            else:
                cut = (max(ay0, by0) + min(ay1, by1)) / 2
                if ay0 < by0:
                    a, b = (
                        replace(a, bounds=(ax0, ay0, ax1, cut)),
                        replace(b, bounds=(bx0, cut, bx1, by1)),
                    )
                else:
                    a, b = (
                        replace(a, bounds=(ax0, cut, ax1, ay1)),
                        replace(b, bounds=(bx0, by0, bx1, cut)),
                    )
            out[i], out[j] = a, b
    return out


@dataclass(frozen=True)
class _Frame:
    id: str
    bounds: tuple[float, float, float, float]  # km
    members: tuple[str, ...]
    depth: int
    parent: str


def _merge_overlapping(
    groups: list[tuple[str, ...]], found: Mapping[str, Cell]
) -> list[tuple[str, ...]]:
    """Groups whose frames overlap become one (two zoom boxes never cover the same place)."""
    merged = [list(g) for g in groups]
    changed = True
    while changed:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                if box(*_frame(merged[i], found)).intersects(box(*_frame(merged[j], found))):
                    merged[i] += merged.pop(j)
                    changed = True
                    break
            if changed:
                break
    return sorted((tuple(g) for g in merged), key=lambda g: (-len(g), g[0]))


def _split(
    group: tuple[str, ...], found: Mapping[str, Cell], max_km: float
) -> list[tuple[str, ...]]:
    """Halve a group along its longer side (at the median) until each part spans <= max_km."""
    minx, miny, maxx, maxy = _frame(group, found)
    if len(group) < 2 or max(maxx - minx, maxy - miny) <= max_km:
        return [group]
    axis = 0 if maxx - minx >= maxy - miny else 1
    ordered = sorted(group, key=lambda m: (found[m].anchor[axis], m))
    half = len(ordered) // 2
    keep = list(group).index
    first = tuple(sorted(ordered[:half], key=keep))
    second = tuple(sorted(ordered[half:], key=keep))
    return _split(first, found, max_km) + _split(second, found, max_km)


def _scale(bounds: tuple[float, float, float, float]) -> float:
    """View units per km for a frame (the width fills VIEW_WIDTH unless too tall)."""
    width = max(bounds[2] - bounds[0], 1e-6)
    height = max(bounds[3] - bounds[1], 1e-6)
    return min((VIEW_WIDTH - 2 * VIEW_PAD) / width, (MAX_VIEW_HEIGHT - 2 * VIEW_PAD) / height)


def _crowded_groups(
    members: Sequence[str], found: Mapping[str, Cell], scale: float
) -> list[tuple[str, ...]]:
    """The members too close to name at this scale, in groups of neighbours (single linkage)."""
    link_km = CROWDED_UNITS / scale
    anchors = {m: found[m].anchor for m in members}
    crowded = [
        m
        for m in members
        if any(_dist(anchors[m], anchors[o]) < link_km for o in members if o != m)
    ]
    groups: list[list[str]] = []
    for m in crowded:
        joined = [
            g for g in groups if any(_dist(anchors[m], anchors[o]) < link_km * 1.5 for o in g)
        ]
        merged = [m]
        for g in joined:
            merged += g
            groups.remove(g)
        groups.append(merged)
    ordered = [tuple(sorted(g, key=list(members).index)) for g in groups if len(g) > 1]
    return sorted(ordered, key=lambda g: (-len(g), g[0]))


def _frame(group: Sequence[str], found: Mapping[str, Cell]) -> tuple[float, float, float, float]:
    xs = [found[m].anchor[0] for m in group]
    ys = [found[m].anchor[1] for m in group]
    margin = 1.5
    minx, maxx = min(xs) - margin, max(xs) + margin
    miny, maxy = min(ys) - margin, max(ys) + margin
    if maxx - minx < MIN_ZOOM_KM:
        mid = (minx + maxx) / 2
        minx, maxx = mid - MIN_ZOOM_KM / 2, mid + MIN_ZOOM_KM / 2
    if maxy - miny < MIN_ZOOM_KM:
        mid = (miny + maxy) / 2
        miny, maxy = mid - MIN_ZOOM_KM / 2, mid + MIN_ZOOM_KM / 2
    return (minx, miny, maxx, maxy)


def _dist(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _view(
    frame: _Frame,
    members: tuple[str, ...],
    boxes: list[tuple[str, tuple[float, float, float, float]]],
    region: BaseGeometry,
    found: Mapping[str, Cell],
) -> View:
    bounds, depth, all_members = frame.bounds, frame.depth, frame.members
    scale = _scale(bounds)
    minx, miny = bounds[0], bounds[1]
    width = (bounds[2] - bounds[0]) * scale + 2 * VIEW_PAD
    height = (bounds[3] - bounds[1]) * scale + 2 * VIEW_PAD
    frame_km = box(
        minx - VIEW_PAD / scale,
        miny - VIEW_PAD / scale,
        bounds[2] + VIEW_PAD / scale,
        bounds[3] + VIEW_PAD / scale,
    )

    def to_view(geometry: BaseGeometry) -> BaseGeometry:
        moved = shapely.transform(geometry, lambda c: (c - (minx, miny)) * scale + VIEW_PAD)
        return moved.simplify(SIMPLIFY_UNITS, preserve_topology=True)

    view_cells = []
    for area_id, cell in found.items():
        if not cell.shape.intersects(frame_km):
            continue
        clipped = _polygons(cell.shape.intersection(frame_km))
        if clipped.is_empty:
            continue
        in_view = to_view(clipped)
        path = svg_path(in_view)
        if not path:
            continue
        ax, ay = cell.anchor
        anchor = ((ax - minx) * scale + VIEW_PAD, (ay - miny) * scale + VIEW_PAD)
        view_cells.append(ViewCell(area_id, path, anchor, in_view))
    outline = svg_path(to_view(_polygons(region.intersection(frame_km))))
    zooms = tuple(
        ZoomBox(
            child,
            round((b[0] - minx) * scale + VIEW_PAD, 1),
            round((b[1] - miny) * scale + VIEW_PAD, 1),
            round((b[2] - b[0]) * scale, 1),
            round((b[3] - b[1]) * scale, 1),
        )
        for child, b in boxes
    )
    # The names that stand for the view: its members nearest its middle.
    middle = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    highlights = tuple(
        sorted(all_members, key=lambda m: (_dist(found[m].anchor, middle), m))[:HIGHLIGHTS]
    )
    return View(
        frame.id,
        round(width, 1),
        round(height, 1),
        outline,
        tuple(view_cells),
        members,
        zooms,
        depth,
        highlights,
    )


def svg_path(geometry: BaseGeometry) -> str:
    """SVG path data for polygons (rings closed with Z), coordinates to 0.1 unit."""
    out = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        for ring in (polygon.exterior, *polygon.interiors):
            coords = _dedupe([(round(x, 1), round(y, 1)) for x, y in ring.coords[:-1]])
            if len(coords) < 3:
                continue
            first, *rest = coords
            out.append(f"M{_num(first[0])} {_num(first[1])}")
            out.extend(f"L{_num(x)} {_num(y)}" for x, y in rest)
            out.append("Z")
    return "".join(out)


def _dedupe(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for c in coords:
        if not out or out[-1] != c:
            out.append(c)
    return out


def _num(value: float) -> str:
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# --- labels -----------------------------------------------------------------------------------


def label_width(text: str, font: float = FONT_UNITS) -> float:
    return len(text) * font * CHAR_WIDTH


def place_labels(
    view: View,
    numbers: Mapping[str, int],
    texts: Mapping[str, str],
    priority: Mapping[str, int],
) -> list[Label]:
    """Names (or numbers) for a view's members: most important first, never overlapping.

    texts: what each area's label says (its name, maybe with a count); priority:
    higher first (e.g. the area's most serious incident), then the larger cells.
    """
    anchors = {c.area_id: c.anchor for c in view.cells}
    shapes = {c.area_id: c.shape for c in view.cells}
    order = sorted(
        (m for m in view.members if m in anchors),
        key=lambda m: (-priority.get(m, 0), numbers.get(m, 0)),
    )
    taken: list[tuple[float, float, float, float]] = [
        (z.x, z.y, z.x + z.width, z.y + z.height) for z in view.zooms
    ]
    labels: list[Label] = []
    numbered: list[str] = []
    for area_id in order:
        x0, y0 = anchors[area_id]
        w = label_width(texts.get(area_id, area_id))
        h = FONT_UNITS * LINE_HEIGHT
        # Where the name may go: on the anchor, else moved a little while its middle stays
        # inside the area's own shape (a name never sits on a neighbour).
        spots = [(x0 + dx * w / 3, y0 + dy * h) for dx, dy in NUDGES]
        for x, y in spots:
            rect = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
            if (
                _inside(rect, view)
                and not any(_overlap(rect, t) for t in taken)
                and ((x, y) == (x0, y0) or shapes[area_id].contains(Point(x, y)))
            ):
                taken.append(rect)
                labels.append(Label(area_id, round(x, 1), round(y, 1), None))
                break
        else:
            numbered.append(area_id)
    r = MARKER_RADIUS
    for area_id in numbered:  # every member gets at least its number: beside it when crowded
        x0, y0 = anchors[area_id]
        spots = [(x0 + dx * r * k, y0 + dy * r * k) for k in (0, 2) for dx, dy in NUDGES]
        fits = [
            (x, y)
            for x, y in spots
            if _inside((x - r, y - r, x + r, y + r), view)
            and not any(_overlap((x - r, y - r, x + r, y + r), t) for t in taken)
        ]
        x, y = fits[0] if fits else (x0, y0)
        taken.append((x - r, y - r, x + r, y + r))
        labels.append(Label(area_id, round(x, 1), round(y, 1), numbers.get(area_id)))
    return labels


NUDGES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1))


def _inside(rect: tuple[float, float, float, float], view: View) -> bool:
    return rect[0] >= 0 and rect[1] >= 0 and rect[2] <= view.width and rect[3] <= view.height


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
