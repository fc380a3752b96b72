"""Messages in the reporter's language, from gettext catalogs read with Babel.

Every message id the project shows (field errors, moderation reasons, age
labels, statuses, page texts) lives in node/locale/<lang>/LC_MESSAGES/
vecinos.po. Adding a language is adding a catalog: nothing else changes.
The English catalog is the reference: a message id missing from another
catalog falls back to English, and tests/node/test_i18n.py fails on it.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "vecinos"
DEFAULT = "en"
SUPPORTED: tuple[str, ...] = tuple(
    sorted(p.name for p in LOCALE_DIR.iterdir() if (p / "LC_MESSAGES" / f"{DOMAIN}.po").exists())
)


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> translated text for one language (empty translations left out; a plural
    entry as its "other" form: translate_plural() picks the right one)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=lang)
    found = {m.id: str(m.string) for m in po if isinstance(m.id, str) and m.id and m.string}
    # A plural entry (msgid_plural) is here too, as its last form ("other"): every id in one place.
    found.update(
        {str(m.id[0]): str(m.string[-1]) for m in po if isinstance(m.id, tuple) and m.string[-1]}
    )
    return found


def translate(code: str, lang: str, **params: object) -> str:
    """The text of a message id in `lang`, with {named} params filled in."""
    text = catalog(lang).get(code) if lang in SUPPORTED else None
    if text is None:
        text = catalog(DEFAULT).get(code, code)
    return text.format(**params) if params else text


def negotiate(
    accept_language: str | None, explicit: str | None = None, default: str = DEFAULT
) -> str:
    """Pick a supported language: an explicit choice, then Accept-Language, then `default`."""
    if explicit:
        lang = explicit.strip().lower()[:2]
        if lang in SUPPORTED:
            return lang
    if accept_language:
        ranked: list[tuple[float, str]] = []
        for part in accept_language.split(",")[:20]:
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                continue
            try:
                lang = Locale.parse(tag.strip().replace("-", "_")).language
            except (ValueError, TypeError, UnknownLocaleError):
                continue
            if lang in SUPPORTED:
                ranked.append((weight, lang))
        if ranked:
            return max(ranked, key=lambda item: item[0])[1]
    return default if default in SUPPORTED else DEFAULT


# -- plural forms (msgid / msgid_plural / msgstr[n] entries of the catalogs) --


@cache
def plural_catalog(lang: str) -> tuple[dict[str, tuple[str, ...]], Callable[[int], int]]:
    """(msgid -> its plural forms, the language's gettext plural rule) for one language.

    The rule is the catalog's Plural-Forms header, else Babel's for the
    language (CLDR data in gettext form).
    """
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        po = read_po(handle, locale=lang)
    forms = {
        str(m.id[0]): tuple(str(s) for s in m.string)
        for m in po
        if isinstance(m.id, tuple) and all(m.string)
    }
    return forms, gettext.c2py(po.plural_expr)


def translate_plural(code: str, count: int, lang: str, /, **params: object) -> str:
    """The form of a plural message id for `count` in `lang`; {count} and params filled in
    (a `count` param is what is shown, e.g. "2–3", when it differs from the number)."""
    lang = lang if lang in SUPPORTED else DEFAULT
    forms, rule = plural_catalog(lang)
    if code not in forms:
        lang = DEFAULT
        forms, rule = plural_catalog(DEFAULT)
    found = forms.get(code)
    if found is None:
        return code
    text = found[min(rule(abs(int(count))), len(found) - 1)]
    return text.format(**{"count": count, **params})
