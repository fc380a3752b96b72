"""Public trends from the aggregates: /trends (inline SVG charts) and /trends.csv.

Why public: the aggregates hold no report, only counts of reports that were
already public while they lived (area, type, hour), counted once retention
removed them; they name no moderator and no source. Why no script: the
charts are SVG drawn here, with presentation attributes (fill=...) only, as
the CSP forbids inline style; the numbers are also in a plain table.
Day and month names come from Babel's locale data, the rest from the catalogs.
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
from web.layout import e, href, html_response, page
from web.messages import request_lang, translate

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

# Bar chart geometry (SVG user units).
BAR_W, BAR_H, BAR_LEFT, BAR_BOTTOM, BAR_TOP = 720, 240, 40, 28, 10
# Heat map geometry.
CELL_W, CELL_H, HEAT_LEFT, HEAT_TOP = 26, 22, 48, 18


def period(raw: str | None) -> int | None:
    """The period a ?days= value names when it is one of PERIODS, else None.

    Compared as text: str.isdigit() accepts "²" and other digits int() refuses.
    """
    return next((d for d in PERIODS if raw == str(d)), None)


def _short_date(day: date, lang: str) -> str:
    return format_date(day, "d MMM", locale=lang)


def bar_chart(series: Sequence[tuple[date, Mapping[str, int]]], lang: str) -> str:
    """Reports per day, stacked by type, as an inline SVG."""
    n = max(1, len(series))
    plot_w = BAR_W - BAR_LEFT - 4
    plot_h = BAR_H - BAR_BOTTOM - BAR_TOP
    top = max([sum(counts.values()) for _, counts in series] + [1])
    slot = plot_w / n
    width = max(1.0, slot * 0.8)
    label = translate("web_trends_per_day_title", lang)
    out = [
        f'<svg class="chart bars" viewBox="0 0 {BAR_W} {BAR_H}" role="img" '
        f'aria-label="{e(label)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{BAR_LEFT}" y1="{BAR_TOP + plot_h}" x2="{BAR_W - 4}" y2="{BAR_TOP + plot_h}" '
        'stroke="#444" stroke-width="1"/>',
    ]
    for value in sorted({top, top // 2} - {0}):
        y = BAR_TOP + plot_h - plot_h * value / top
        out.append(
            f'<line x1="{BAR_LEFT}" y1="{y:.1f}" x2="{BAR_W - 4}" y2="{y:.1f}" stroke="#CCC" '
            f'stroke-width="1"/><text x="{BAR_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#444">{value}</text>'
        )
    for index, (day, counts) in enumerate(series):
        x = BAR_LEFT + index * slot + (slot - width) / 2
        base = BAR_TOP + plot_h
        for report_type, colour in TYPE_COLOURS:
            count = counts.get(report_type, 0)
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            tip = f"{day.isoformat()} · {translate(report_type, lang)}: {count}"
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{colour}" data-day="{day.isoformat()}" data-type="{e(report_type)}" '
                f'data-count="{count}"><title>{e(tip)}</title></rect>'
            )
    last = len(series) - 1
    for index in sorted({0, last // 2, last}) if series else ():
        x = BAR_LEFT + index * slot + slot / 2
        anchor = "start" if index == 0 and last else "end" if index == last and last else "middle"
        x = BAR_LEFT if anchor == "start" else BAR_W - 4 if anchor == "end" else x
        out.append(
            f'<text x="{x:.1f}" y="{BAR_H - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="#444">{e(_short_date(series[index][0], lang))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def legend(lang: str) -> str:
    items = "".join(
        f'<li><svg width="12" height="12" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="12" height="12" fill="{colour}"/></svg> {e(translate(t, lang))}</li>'
        for t, colour in TYPE_COLOURS
    )
    return f'<ul class="legend">{items}</ul>'


def heat_map(grid: Sequence[Sequence[int]], lang: str) -> str:
    """Reports per hour of week (7 x 24, Monday first, the chapter's clock) as an inline SVG."""
    top = max([max(row) for row in grid] + [1])
    names = get_day_names("abbreviated", locale=lang)
    width = HEAT_LEFT + HOURS_PER_DAY * CELL_W + 4
    height = HEAT_TOP + DAYS_PER_WEEK * CELL_H + 4
    label = translate("web_trends_week_title", lang)
    out = [
        f'<svg class="chart heat" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{e(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for hour in range(0, HOURS_PER_DAY, 3):
        x = HEAT_LEFT + hour * CELL_W + CELL_W / 2
        out.append(
            f'<text x="{x:.0f}" y="{HEAT_TOP - 5}" text-anchor="middle" font-size="11" '
            f'fill="#444">{hour:02d}</text>'
        )
    for day in range(DAYS_PER_WEEK):
        y = HEAT_TOP + day * CELL_H
        out.append(
            f'<text x="{HEAT_LEFT - 6}" y="{y + CELL_H / 2 + 4:.0f}" text-anchor="end" '
            f'font-size="11" fill="#444">{e(names[day])}</text>'
        )
        for hour in range(HOURS_PER_DAY):
            count = grid[day][hour]
            fill, opacity = (HEAT_COLOUR, 0.12 + 0.88 * count / top) if count else (EMPTY_COLOUR, 1)
            tip = translate(
                "web_trends_cell", lang, day=names[day], hour=f"{hour:02d}", count=str(count)
            )
            out.append(
                f'<rect x="{HEAT_LEFT + hour * CELL_W + 1}" y="{y + 1}" width="{CELL_W - 2}" '
                f'height="{CELL_H - 2}" fill="{fill}" fill-opacity="{opacity:.2f}" '
                f'data-weekday="{day}" data-hour="{hour}" data-count="{count}">'
                f"<title>{e(tip)}</title></rect>"
            )
    out.append("</svg>")
    return "".join(out)


def _area_names(request: web.Request, lang: str) -> dict[str, str]:
    names = {area.id: area.name for area in request.app[NODE].areas()}
    names[UNKNOWN_AREA] = translate("web_trends_unknown_area", lang)
    return names


def _choices(lang: str, days: int, area: str, areas: Mapping[str, str], used: set[str]) -> str:
    """The GET form choosing the period and the heat map's area (no script needed)."""
    periods = "".join(
        f'<option value="{d}"{" selected" if d == days else ""}>'
        f"{e(translate('web_trends_days', lang, count=str(d)))}</option>"
        for d in PERIODS
    )
    options = [f'<option value="">{e(translate("web_trends_all_areas", lang))}</option>']
    for area_id in sorted(used, key=lambda a: areas.get(a, a).casefold()):
        chosen = " selected" if area_id == area else ""
        options.append(
            f'<option value="{e(area_id)}"{chosen}>{e(areas.get(area_id, area_id))}</option>'
        )
    return (
        '<form method="get" action="/trends" class="choices">'
        f'<input type="hidden" name="lang" value="{e(lang)}">'
        f"<label>{e(translate('web_trends_period', lang))} "
        f'<select name="days">{periods}</select></label> '
        f"<label>{e(translate('web_trends_area', lang))} "
        f'<select name="area">{"".join(options)}</select></label> '
        f'<button type="submit">{e(translate("web_trends_show", lang))}</button></form>'
    )


def totals_table(rows: Sequence[AggregateCount], lang: str) -> str:
    head = "".join(
        f'<th scope="col">{e(translate(code, lang))}</th>'
        for code in ("web_trends_type", "web_trends_reports", "confirmed", "debunked")
    )
    body = "".join(
        f'<tr data-type="{e(t)}"><th scope="row">{e(translate(t, lang))}</th>'
        f"<td>{reports}</td><td>{confirmed}</td><td>{debunked}</td></tr>"
        for t, (reports, confirmed, debunked) in totals_by_type(rows).items()
    )
    return f'<table class="totals"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


async def trends(request: web.Request) -> web.Response:
    lang = request_lang(request)
    days = period(request.query.get("days")) or DEFAULT_DAYS
    found = await request.app[NODE].trends(days)
    rows = found.local_rows  # days and hours on the chapter's clock
    areas = _area_names(request, lang)
    used = {row.area_id for row in rows}
    area = request.query.get("area", "")
    area = area if area in used else ""
    assert found.first is not None
    series = per_day_by_type(rows, found.first, found.today)
    grid = hour_of_week(rows, area or None)
    area_label = areas.get(area, area) if area else translate("web_trends_all_areas", lang)
    csv_link = href("/trends.csv", lang, days=str(days))
    body = [
        f"<h1>{e(translate('web_trends_title', lang))}</h1>",
        f'<p class="note">{e(translate("web_trends_note", lang))}</p>',
        _choices(lang, days, area, areas, used),
    ]
    if not rows:
        body.append(f'<p class="empty">{e(translate("web_trends_empty", lang))}</p>')
    body += [
        f"<h2>{e(translate('web_trends_per_day_title', lang))}</h2>",
        legend(lang),
        f'<figure class="chart">{bar_chart(series, lang)}</figure>',
        f"<h2>{e(translate('web_trends_week_title', lang))} — {e(area_label)}</h2>",
        f'<p class="note">{e(translate("web_trends_week_note", lang))}</p>',
        f'<figure class="chart">{heat_map(grid, lang)}</figure>',
        f"<h2>{e(translate('web_trends_totals_title', lang))}</h2>",
        totals_table(rows, lang),
        f'<p><a href="{csv_link}" download>{e(translate("web_trends_csv", lang))}</a></p>',
    ]
    title = translate("web_trends_title", lang)
    return html_response(page(request, title, "".join(body), path="/trends", stylesheets=STYLES))


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
