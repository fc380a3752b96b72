"""The page shell of every HTML page: <html lang>, the hotline, the language switch, the nav.

Rules kept here: every text comes from the catalogs; every value is escaped;
no inline script or style (the CSP forbids both) and nothing from another
host: scripts and stylesheets are paths under /static/ of this node. The
language choice travels in the URL (?lang=xx on every link), never in a
cookie: reporters get no cookie at all.

Other modules build their pages with `page(request_or_lang, title, body_html, path=...)`
(a stable signature) and link with `href(path, lang)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from node.config import SCHEMA
from web.context import NODE
from web.messages import LANGUAGE_NAMES, request_lang, supported_languages, translate

HTML = "text/html"
STYLESHEET = "/static/style.css"
DEFAULT_HOTLINE = next(k.default for k in SCHEMA if (k.section, k.name) == ("chapter", "hotline"))
# (path, message id) of the links in every page's nav.
NAV: tuple[tuple[str, str], ...] = (
    ("/", "web_nav_report"),
    ("/map", "web_nav_map"),
    ("/trends", "web_trends_title"),
    ("/alerts", "push_nav"),
    ("/about", "web_nav_about"),
)


def e(value: object) -> str:
    """HTML-escape any value (quotes too: safe inside attributes)."""
    return escape(str(value), quote=True)


def href(path: str, lang: str, **query: str) -> str:
    """A same-node link that carries the language choice (escaped for an attribute)."""
    return e(path + "?" + urlencode({"lang": lang, **query}))


def page_lang(request: web.Request) -> str:
    """The request's language; English when even that fails (an error page must not)."""
    try:
        return request_lang(request)
    except Exception:  # negotiation must never turn an error page into a 500
        return "en"


def _lang_and_node(request_or_lang: web.Request | str) -> tuple[str, str, str]:
    """(lang, hotline, chapter name) for a request, or for a bare language code."""
    if isinstance(request_or_lang, str):
        return request_or_lang, DEFAULT_HOTLINE, ""
    node = request_or_lang.app.get(NODE)
    lang = page_lang(request_or_lang)
    if node is None:
        return lang, DEFAULT_HOTLINE, ""
    return lang, node.hotline or DEFAULT_HOTLINE, node.chapter_name


def _tel(number: str) -> str:
    """The tel: URI of a hotline as written (digits and a leading +)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return ("+" if number.strip().startswith("+") else "") + digits


def page(
    request_or_lang: web.Request | str,
    title: str,
    body_html: str,
    *,
    path: str = "/",
    scripts: Sequence[str] = (),
    stylesheets: Sequence[str] = (),
    body_data: Mapping[str, str] | None = None,
    feeds: Sequence[tuple[str, str]] = (),
) -> str:
    """A whole HTML document around `body_html` (already-escaped HTML).

    path: this page's path, for the language switch. scripts/stylesheets:
    extra /static/ paths (loaded with defer). body_data: data-* attributes
    on <body> (how a page hands values to its script without inline code).
    feeds: (url, title) of Atom feeds announced in <head>.
    """
    lang, hotline, chapter = _lang_and_node(request_or_lang)
    switch = " ".join(
        f'<a href="{href(path, code)}" hreflang="{e(code)}" lang="{e(code)}"'
        + (' aria-current="true"' if code == lang else "")
        + f">{e(LANGUAGE_NAMES.get(code, code))}</a>"
        for code in supported_languages()
    )
    nav = " ".join(
        f'<a href="{href(target, lang)}"'
        + (' aria-current="page"' if target == path else "")
        + f">{e(translate(code, lang))}</a>"
        for target, code in NAV
    )
    site = translate("web_title", lang) + (f" — {chapter}" if chapter else "")
    links = "".join(f'<link rel="stylesheet" href="{e(s)}">\n' for s in stylesheets)
    links += "".join(
        f'<link rel="alternate" type="application/atom+xml" href="{e(url)}" title="{e(name)}">\n'
        for url, name in feeds
    )
    script_tags = "".join(f'<script src="{e(s)}" defer></script>\n' for s in scripts)
    data = "".join(f' data-{e(k)}="{e(v)}"' for k, v in (body_data or {}).items())
    hotline_text = translate("web_hotline", lang)
    return (
        "<!doctype html>\n"
        f'<html lang="{e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<link rel="icon" href="data:,">\n'  # no /favicon.ico request
        '<link rel="manifest" href="/manifest.webmanifest">\n'  # the installable web app
        f"<title>{e(title)}</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n{links}{script_tags}</head>\n'
        f'<body data-lang="{e(lang)}"{data}>\n'
        '<header class="top">\n'
        f'<p class="site"><a href="{href("/", lang)}">{e(site)}</a></p>\n'
        f'<p class="hotline">{e(hotline_text)} '
        f'<a href="tel:{e(_tel(hotline))}" class="hotline-number">{e(hotline)}</a></p>\n'
        f'<nav class="main-nav" aria-label="{e(translate("web_nav", lang))}">{nav}</nav>\n'
        f'<nav class="lang-switch" aria-label="{e(translate("web_language", lang))}">'
        f"{switch}</nav>\n</header>\n"
        f"<main>\n{body_html}\n</main>\n"
        '<footer><p><a href="' + href("/about", lang) + '">'
        f"{e(translate('web_footer_about', lang))}</a> · "
        f'<a href="{href("/login", lang)}">{e(translate("web_nav_moderators", lang))}</a></p>'
        "</footer>\n</body>\n</html>\n"
    )


def html_response(
    text: str, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """An HTML response (UTF-8)."""
    return web.Response(
        text=text, status=status, content_type=HTML, charset="utf-8", headers=headers
    )


def message_page(
    request_or_lang: web.Request | str, code: str, *, status: int, **params: str
) -> web.Response:
    """A small page carrying one message (errors, rate limit, unavailability)."""
    lang = _lang_and_node(request_or_lang)[0]
    text = translate(code, lang, **params)
    body = (
        f'<p class="alert" role="alert">{e(text)}</p>'
        f'<p><a href="{href("/", lang)}">{e(translate("web_back", lang))}</a></p>'
    )
    return html_response(page(request_or_lang, text, body), status=status)
