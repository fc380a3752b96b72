"""Reading request bodies (JSON object or urlencoded form) into fields, drafts and choices.

Nothing here trusts the body: every malformed body becomes BodyNotUnderstood
(a 400), every wrong type a per-field error code (a 422), never an exception
that would reach the client as a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from urllib.parse import parse_qsl

from aiohttp import web

from node.outcome import ReportDraft

REPORT_TEXT_FIELDS = ("type", "area", "highway", "description", "area_id")
MAX_FORM_FIELDS = 64

TRUE_WORDS = frozenset({"on", "true", "1", "yes", "si", "sí"})
FALSE_WORDS = frozenset({"off", "false", "0", "no", ""})


class BodyNotUnderstood(Exception):
    """The body is neither a JSON object nor a urlencoded form."""


def form_pairs(raw: bytes, max_fields: int = MAX_FORM_FIELDS) -> list[tuple[str, str]]:
    """A urlencoded body as (name, value) pairs in order (repeated names kept).

    Raises BodyNotUnderstood for invalid UTF-8 or more than `max_fields` fields.
    """
    try:
        return parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise BodyNotUnderstood from exc


def first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The fields of a form, the first value of a repeated name winning."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


async def read_fields(request: web.Request) -> dict[str, object]:
    """The body as a dict: a JSON object, or a form (first value of a repeated name wins).

    Raises BodyNotUnderstood, or aiohttp's HTTPRequestEntityTooLarge past
    client_max_size.
    """
    raw = await request.read()
    ctype = request.content_type.lower()
    is_json = ctype.startswith("application/") and ctype.endswith(("/json", "+json"))
    if is_json:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise BodyNotUnderstood from exc
        if not isinstance(data, dict):
            raise BodyNotUnderstood
        return data
    if ctype == "application/x-www-form-urlencoded":
        return dict(first_values(form_pairs(raw)))
    raise BodyNotUnderstood


def _is_text(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800"
        return False
    return True


def text_field(fields: Mapping[str, object], name: str, errors: dict[str, list[str]]) -> str | None:
    """A text field as given, None when absent or null; a wrong type adds an error."""
    value = fields.get(name)
    if value is None:
        return None
    if _is_text(value):
        return value  # type: ignore[return-value]
    errors.setdefault(name, []).append("not_text")
    return None


def bool_field(
    fields: Mapping[str, object], name: str, errors: dict[str, list[str]]
) -> bool | None:
    """A yes/no field: JSON bool or null, or a form word (on/true/1/yes/si/sí, off/false/0/no)."""
    value = fields.get(name)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    errors.setdefault(name, []).append("invalid_still_active")
    return None


def draft_from_fields(fields: Mapping[str, object]) -> tuple[ReportDraft, dict[str, list[str]]]:
    """The ReportDraft for these fields, and the web's own per-field error codes (type errors)."""
    errors: dict[str, list[str]] = {}
    texts = {name: text_field(fields, name, errors) for name in REPORT_TEXT_FIELDS}
    still_active = bool_field(fields, "still_active", errors)
    draft = ReportDraft(
        type=texts["type"],
        area=texts["area"],
        highway=texts["highway"],
        description=texts["description"],
        still_active=still_active,
        area_id=texts["area_id"],
    )
    return draft, errors


def draft_json(draft: ReportDraft) -> dict[str, object]:
    """The draft as it goes back to the reporter, to be fixed."""
    return asdict(draft)


def choice_field(fields: Mapping[str, object], name: str, choices: tuple[str, ...]) -> str | None:
    """The value of `name` when it is one of `choices`, else None."""
    value = fields.get(name)
    if isinstance(value, str) and value in choices:
        return value
    return None
