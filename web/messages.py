"""The web's message ids, the request's language, and translation through node.i18n.

Every text the web shows is a message id of the node's catalogs
(node/locale/<lang>/LC_MESSAGES/vecinos.po).
"""

from __future__ import annotations

from aiohttp import web

from node import i18n
from web.context import NODE

# Native names for the language switch (never translated).
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "es": "Español"}

_LANG_KEY: web.RequestKey[str] = web.RequestKey("vecinos_lang", str)


def translate(code: str, lang: str, **params: str) -> str:
    """The text of a message id in `lang` (node.i18n's catalogs)."""
    return i18n.translate(code, lang, **params)


def request_lang(request: web.Request) -> str:
    """The language of this request: ?lang= first, then Accept-Language (memoised)."""
    cached = request.get(_LANG_KEY)
    if cached is not None:
        return cached
    explicit = request.query.get("lang")
    if explicit is not None and not (0 < len(explicit) <= 16 and explicit.isascii()):
        explicit = None
    accept = request.headers.get("Accept-Language")
    if accept is not None and len(accept) > 512:
        accept = accept[:512]
    node = request.app.get(NODE)
    lang = i18n.negotiate(accept, explicit, node.default_language if node else i18n.DEFAULT)
    request[_LANG_KEY] = lang
    return lang


def supported_languages() -> tuple[str, ...]:
    return tuple(i18n.SUPPORTED)


def minutes(seconds: int) -> str:
    """Seconds to whole minutes (at least 1), as text for a {minutes} placeholder."""
    return str(max(1, -(-int(seconds) // 60)))


def translate_plural(code: str, count: int, lang: str, /, **params: str) -> str:
    """The plural form of a message id for `count` (Babel's plural rules for `lang`)."""
    return i18n.translate_plural(code, count, lang, **params)
