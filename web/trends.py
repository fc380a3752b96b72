"""Public trends from the aggregates: /trends (inline SVG charts) and /trends.csv.

Why public: the aggregates hold no report, only counts of reports that were
already public while they lived (area, type, hour), counted once retention
removed them; they name no moderator and no source. Why no script: the
charts are SVG drawn on the server (geometry here, markup in
web/templates/trends/), with presentation attributes (fill=...) only, as the
CSP forbids inline style; the numbers are also in a plain table that scrolls
inside itself on a phone. The area choice filters the charts and the table
alike (the page says so). Day and month names come from Babel's locale data,
the rest from the catalogs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date

from aiohttp import web
from babel.dates import format_date, get_day_names

from node.reports import UNKNOWN_AREA  # how retention counts free-text areas
from node.trends import (
    DAYS_PER_WEEK,
    HOURS_PER_DAY,
    AggregateCount,
    hour_of_week,
    per_day_by_type,
    totals_by_type,
)
from scoring.model import ReportType
from web.context import NODE
from web.layout import render
from web.messages import request_lang, translate, translate_plural

PERIODS = (7, 30, 90, 365)  # days a visitor may choose
DEFAULT_DAYS = 30
STYLES = ("/static/moderation.css",)
# Stacking order (most harmful at the bottom); Okabe-Ito colours (safe for colour blindness).
TYPE_COLOURS: tuple[tuple[str, str], ...] = (
    (ReportType.RAID.value, "#D55E00"),
    (ReportType.CHECKPOINT.value, "#E69F00"),
    (ReportType.PATROL.value, "#0072B2"),
    (ReportType.VEHICLE.value, "#009E73"),
)
HEAT_COLOUR = "#7A0019"
EMPTY_COLOUR = "#EEEEEE"
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list, plus LF).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
CSV_COLUMNS = (
    "day",
    "hour_of_day_utc",
    "area_id",
    "area",
    "type",
    "reports",
    "confirmed",
    "debunked",
)

# Chart geometry (SVG user units). The viewBoxes are about a phone's width (360), so the
# 11-unit labels read at about 11 px on a 390 px phone; the figure's CSS max-width keeps them
# from growing past ~1.6x on a desktop.
BAR_W, BAR_H, BAR_LEFT, BAR_BOTTOM, BAR_TOP = 360, 200, 30, 24, 10
CELL_W, CELL_H, HEAT_LEFT, HEAT_TOP = 13, 20, 40, 18
FONT = 11


def period(raw: str | None) -> int | None:
    """The period a ?days= value names when it is one of PERIODS, else None.

    Compared as text: str.isdigit() accepts "²" and other digits int() refuses.
    """
    return next((d for d in PERIODS if raw == str(d)), None)


def _short_date(day: date, lang: str) -> str:
    return format_date(day, "d MMM", locale=lang)


def bar_chart(series: Sequence[tuple[date, Mapping[str, int]]], lang: str) -> dict[str, object]:
    """Reports per day, stacked by type: the geometry web/templates/trends/bars.svg draws."""
    n = max(1, len(series))
    plot_w = BAR_W - BAR_LEFT - 4
    plot_h = BAR_H - BAR_BOTTOM - BAR_TOP
    top = max([sum(counts.values()) for _, counts in series] + [1])
    slot = plot_w / n
    width = max(1.0, slot * 0.8)
    grid = []
    for value in sorted({top, top // 2} - {0}):
        y = BAR_TOP + plot_h - plot_h * value / top
        grid.append({"y": f"{y:.1f}", "label_y": f"{y + 4:.1f}", "value": value})
    bars = []
    for index, (day, counts) in enumerate(series):
        x = BAR_LEFT + index * slot + (slot - width) / 2
        base = BAR_TOP + plot_h
        for report_type, colour in TYPE_COLOURS:
            count = counts.get(report_type, 0)
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            bars.append(
                {
                    "x": f"{x:.1f}",
                    "y": f"{base:.1f}",
                    "width": f"{width:.1f}",
                    "height": f"{h:.1f}",
                    "colour": colour,
                    "day": day.isoformat(),
                    "type": report_type,
                    "count": count,
                    "tip": f"{day.isoformat()} · {translate(report_type, lang)}: {count}",
                }
            )
    labels = []
    last = len(series) - 1
    for index in sorted({0, last // 2, last}) if series else ():
        x = BAR_LEFT + index * slot + slot / 2
        anchor = "start" if index == 0 and last else "end" if index == last and last else "middle"
        x = BAR_LEFT if anchor == "start" else BAR_W - 4 if anchor == "end" else x
        labels.append(
            {"x": f"{x:.1f}", "anchor": anchor, "text": _short_date(series[index][0], lang)}
        )
    return {
        "width": BAR_W,
        "height": BAR_H,
        "left": BAR_LEFT,
        "right": BAR_W - 4,
        "axis_y": BAR_TOP + plot_h,
        "label_y": BAR_H - 8,
        "font": FONT,
        "grid": grid,
        "bars": bars,
        "labels": labels,
    }


def heat_map(grid: Sequence[Sequence[int]], lang: str) -> dict[str, object]:
    """Reports per hour of week (7 x 24, Monday first, the chapter's clock): the geometry
    of trends/heat.svg."""
    top = max([max(row) for row in grid] + [1])
    names = get_day_names("abbreviated", locale=lang)
    hours = [
        {"x": f"{HEAT_LEFT + hour * CELL_W + CELL_W / 2:.0f}", "text": f"{hour:02d}"}
        for hour in range(0, HOURS_PER_DAY, 3)
    ]
    rows = []
    for day in range(DAYS_PER_WEEK):
        y = HEAT_TOP + day * CELL_H
        cells = []
        for hour in range(HOURS_PER_DAY):
            count = grid[day][hour]
            fill, opacity = (HEAT_COLOUR, 0.12 + 0.88 * count / top) if count else (EMPTY_COLOUR, 1)
            tip = translate_plural(
                "web_trends_cell_n", count, lang, day=names[day], hour=f"{hour:02d}"
            )
            cells.append(
                {
                    "x": HEAT_LEFT + hour * CELL_W + 1,
                    "fill": fill,
                    "opacity": f"{opacity:.2f}",
                    "hour": hour,
                    "count": count,
                    "tip": tip,
                }
            )
        rows.append(
            {
                "y": y + 1,
                "label_y": f"{y + CELL_H / 2 + 4:.0f}",
                "name": names[day],
                "day": day,
                "cells": cells,
            }
        )
    return {
        "width": HEAT_LEFT + HOURS_PER_DAY * CELL_W + 4,
        "height": HEAT_TOP + DAYS_PER_WEEK * CELL_H + 4,
        "left": HEAT_LEFT,
        "top": HEAT_TOP,
        "cell_w": CELL_W - 2,
        "cell_h": CELL_H - 2,
        "font": FONT,
        "hours": hours,
        "rows": rows,
    }


def _area_names(request: web.Request, lang: str) -> dict[str, str]:
    names = {area.id: area.name for area in request.app[NODE].areas()}
    names[UNKNOWN_AREA] = translate("web_trends_unknown_area", lang)
    return names


async def trends(request: web.Request) -> web.Response:
    lang = request_lang(request)
    days = period(request.query.get("days")) or DEFAULT_DAYS
    found = await request.app[NODE].trends(days)
    rows = found.local_rows  # days and hours on the chapter's clock
    areas = _area_names(request, lang)
    used = {row.area_id for row in rows}
    area = request.query.get("area", "")
    area = area if area in used else ""
    rows = [row for row in found.local_rows if not area or row.area_id == area]
    assert found.first is not None
    series = per_day_by_type(rows, found.first, found.today)
    area_label = areas.get(area, area) if area else translate("web_trends_all_areas", lang)
    context = {
        "title": translate("web_trends_title", lang),
        "days": days,
        "periods": PERIODS,
        "area": area,
        "area_label": area_label,
        "area_choices": sorted(((a, areas.get(a, a)) for a in used), key=lambda c: c[1].casefold()),
        "empty": not rows,
        "types": TYPE_COLOURS,
        "bars": bar_chart(series, lang),
        "heat": heat_map(hour_of_week(rows, None), lang),
        "totals": list(totals_by_type(rows).items()),
        "csv_days": str(days),
    }
    return render(request, "trends/trends.html", context, path="/trends", stylesheets=STYLES)


def _cell(value: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_text(rows: Sequence[AggregateCount], names: Mapping[str, str]) -> str:
    """The aggregates rows as CSV (header first; text cells guarded against formulas)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                row.day.isoformat(),
                row.hour_of_day,
                _cell(row.area_id),
                _cell(names.get(row.area_id, row.area_id)),
                _cell(row.type),
                row.reports,
                row.confirmed,
                row.debunked,
            )
        )
    return buffer.getvalue()


async def trends_csv(request: web.Request) -> web.Response:
    """Every aggregates row (or those of ?days=), one per line, with a header row."""
    node = request.app[NODE]
    found = await node.trends(period(request.query.get("days")))
    names = {area.id: area.name for area in node.areas()}
    return web.Response(
        text=csv_text(found.rows, names),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="vecinos-trends.csv"'},
    )


def add_routes(app: web.Application) -> None:
    """Register /trends and /trends.csv."""
    app.router.add_get("/trends", trends)
    app.router.add_get("/trends.csv", trends_csv)
