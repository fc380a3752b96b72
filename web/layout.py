"""Rendering pages: the Jinja2 environment (aiohttp-jinja2), each page's context, the shell.

Every HTML page is a template under web/templates/ (base.html is the shell:
<html lang>, the hotline, the language switch, the nav). Rules kept here:
- autoescape is on for every template: a value is text unless a template says
  otherwise (none does);
- every text comes from the catalogs: templates call t("message_id", name=value)
  and tn("message_id", count) (Babel plural forms), both bound to the request's
  language; no text is written in a template or in Python;
- no inline script or style (the CSP forbids both) and nothing from another
  host: scripts and stylesheets are /static/ paths of this node;
- the language travels in the URL (href() adds ?lang=xx to every link), never
  in a cookie: reporters get no cookie at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import jinja2
from aiohttp import web

from node import i18n
from node.config import SCHEMA
from web.context import NODE
from web.messages import LANGUAGE_NAMES, request_lang, supported_languages, translate

TEMPLATES = Path(__file__).parent / "templates"
HTML = "text/html"
DEFAULT_HOTLINE = next(k.default for k in SCHEMA if (k.section, k.name) == ("chapter", "hotline"))
# (path, message id) of the links in every page's nav.
NAV: tuple[tuple[str, str], ...] = (
    ("/", "web_nav_report"),
    ("/map", "web_nav_map"),
    ("/trends", "web_trends_title"),
    ("/alerts", "push_nav"),
    ("/about", "web_nav_about"),
)
# Responses a proxy or the compression middleware must never compress: they carry a secret
# (a CSRF token) next to text a visitor sent (BREACH). Set by the moderators' pages.
NO_COMPRESS: web.ResponseKey[bool] = web.ResponseKey("vecinos_no_compress", bool)


def href(path: str, lang: str, **query: str) -> str:
    """A same-node link that carries the language choice (not escaped: templates escape it)."""
    return path + "?" + urlencode({"lang": lang, **query})


def page_lang(request: web.Request) -> str:
    """The request's language; English when even that fails (an error page must not)."""
    try:
        return request_lang(request)
    except Exception:  # negotiation must never turn an error page into a 500
        return "en"


def tel(number: str) -> str:
    """The tel: URI of a hotline as written (digits and a leading +)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return ("+" if number.strip().startswith("+") else "") + digits


def setup(app: web.Application) -> None:
    """The app's Jinja2 environment: autoescape on, strict about unknown names."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(nav=NAV, language_names=LANGUAGE_NAMES, languages=supported_languages())
    env.filters["tel"] = tel


def shell(request: web.Request, path: str) -> dict[str, Any]:
    """What every template may use: the language, t()/tn()/href() bound to it, the shell."""
    lang = page_lang(request)
    node = request.app.get(NODE)
    hotline = (node.hotline if node is not None else "") or DEFAULT_HOTLINE
    chapter = node.chapter_name if node is not None else ""

    def t(code: str, **params: object) -> str:
        return i18n.translate(code, lang, **params)

    def tn(code: str, count: int, /, **params: object) -> str:
        return i18n.translate_plural(code, count, lang, **params)

    def link(target: str, **query: str) -> str:
        return href(target, lang, **query)

    return {
        "lang": lang,
        "t": t,
        "tn": tn,
        "href": link,
        "href_in": lambda other, target: href(target, other),
        "path": path,
        "hotline": hotline,
        "site": translate("web_title", lang) + (f" — {chapter}" if chapter else ""),
        "scripts": (),
        "stylesheets": (),
        "feeds": (),
        "body_data": {},
    }


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any],
    *,
    path: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    scripts: Sequence[str] = (),
    stylesheets: Sequence[str] = (),
    body_data: Mapping[str, str] | None = None,
    compress: bool = True,
    feeds: Sequence[tuple[str, str]] = (),
) -> web.Response:
    """A page from its template. path: this page's path (language switch, nav);
    scripts/stylesheets: extra /static/ paths; body_data: data-* attributes on
    <body> (how a page hands values to its script without inline code);
    compress=False for a page with a secret next to reflected text (BREACH);
    feeds: (url, title) of Atom feeds announced in <head>."""
    values = shell(request, path)
    values.update(scripts=tuple(scripts), stylesheets=tuple(stylesheets), feeds=tuple(feeds))
    values["body_data"] = dict(body_data or {})
    values.update(context)
    response = aiohttp_jinja2.render_template(template, request, values, status=status)
    if headers:
        response.headers.update(headers)
    if not compress:
        response[NO_COMPRESS] = True
    return response


def render_fragment(request: web.Request, template: str, context: Mapping[str, Any]) -> str:
    """A template's text (a part of a page), with the same bound t()/tn()/href()."""
    values = shell(request, "/")
    values.update(context)
    return aiohttp_jinja2.render_string(template, request, values)


def message_page(request: web.Request, code: str, *, status: int, **params: str) -> web.Response:
    """A small page carrying one message (errors, rate limit, unavailability)."""
    text = translate(code, page_lang(request), **params)
    return render(
        request, "message.html", {"title": text, "message": text}, path="/", status=status
    )
