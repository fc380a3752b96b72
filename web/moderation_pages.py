"""The moderators' HTML pages: /login, /logout, the review queue at /moderation, and its actions.

Rules kept here:
- Every POST form carries the CSRF token: the session's (auth.CSRF_FIELD)
  once logged in; before that, a login token kept in the pre-login session
  cookie. A missing or wrong token is a 403 with the translated reason.
- Logins go through the same LoginThrottle as the JSON API.
- POST/redirect/GET: every action answers 303 back to /moderation, with what
  was done in the query (an action name from a fixed list and a count).
- Pseudonymous moderators: the name typed at login is checked and
  forgotten; no page, session or report keeps it.
- Works without JavaScript (even "select all shown" is a link, ?all=1);
  /static/moderation.js only adds keyboard shortcuts (documented on the page).
- A body that cannot be read is a 400 before the CSRF check (it changes
  nothing); logging out revokes the session on the server (web.auth).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, tzinfo
from urllib.parse import urlencode

from aiohttp import web
from aiohttp_session import get_session, new_session

from node.localtime import hour_text
from node.moderation import MAX_BATCH
from node.outcome import FieldError, PublicReport, QueueItem, Unavailable
from node.service import ModeratorAction
from web import auth
from web.api import REPORT_ID
from web.context import NODE, THROTTLE
from web.forms import BodyNotUnderstood, first_values, form_pairs, read_fields
from web.layout import e, href, html_response, page
from web.messages import minutes, request_lang, translate
from web.present import REPORT_TYPES, state_code

LOGIN_TOKEN = "login_csrf"  # the pre-login session's CSRF token
QUEUE_PAGE = 100  # reports shown at once (the most important ones)
STYLES = ("/static/moderation.css",)
SCRIPTS = ("/static/moderation.js",)
VERDICT_ACTIONS = ("confirm", "debunk", "archive")
ROW_ACTIONS = (*VERDICT_ACTIONS, "correct", "debunk_copies")
# What the queue page says after an action (?done=<action>&n=<count>).
DONE_TEXT = {
    "confirm": "web_mod_done_confirm",
    "debunk": "web_mod_done_debunk",
    "archive": "web_mod_done_archive",
    "correct": "web_mod_done_correct",
    "debunk_copies": "web_mod_done_debunk",
}
BUTTON_TEXT = {
    "confirm": "web_mod_confirm",
    "debunk": "web_mod_debunk",
    "archive": "web_mod_archive",
}
SHORTCUTS = (
    ("j", "web_mod_key_next"),
    ("k", "web_mod_key_previous"),
    ("c", "web_mod_key_confirm"),
    ("d", "web_mod_key_debunk"),
    ("a", "web_mod_key_archive"),
    ("x", "web_mod_key_select"),
    ("?", "web_mod_key_help"),
)


def _url(path: str, lang: str, **query: str) -> str:
    """A same-node URL for a Location header (not HTML-escaped)."""
    return path + "?" + urlencode({"lang": lang, **query})


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _csrf_input(token: str) -> str:
    return f'<input type="hidden" name="{auth.CSRF_FIELD}" value="{e(token)}">'


def _t(code: str, lang: str, **params: str) -> str:
    """Translated and escaped."""
    return e(translate(code, lang, **params))


def _mod_page(
    request: web.Request, title: str, body: str, *, path: str, status: int = 200, **headers: str
) -> web.Response:
    html = page(request, title, body, path=path, scripts=SCRIPTS, stylesheets=STYLES)
    return html_response(html, status=status, headers=headers or None)


def _notice(
    request: web.Request, code: str, *, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A moderator-side error page: the reason and the way back to the queue."""
    lang = request_lang(request)
    text = translate(code, lang)
    body = (
        f'<p class="alert" role="alert">{e(text)}</p>'
        f'<p><a href="{href("/moderation", lang)}">{_t("web_mod_back", lang)}</a></p>'
    )
    return _mod_page(request, text, body, path="/moderation", status=status, **(headers or {}))


# --- login / logout -----------------------------------------------------------


def login_form(
    lang: str,
    token: str,
    *,
    name: str = "",
    alert: str | None = None,
    errors: Mapping[str, str] | None = None,
    info: str | None = None,
) -> str:
    """The login form (fields name, password and the CSRF token); `alert` already translated."""
    errors = errors or {}
    out = [f"<h1>{_t('web_mod_login_title', lang)}</h1>"]
    if info:
        out.append(f'<p class="notice" role="status">{e(info)}</p>')
    if alert:
        out.append(f'<p class="alert" role="alert">{e(alert)}</p>')
    out.append(
        f'<form method="post" action="{href("/login", lang)}" class="login" '
        'accept-charset="utf-8">' + _csrf_input(token)
    )
    for field, label, kind, complete, value in (
        ("name", "web_mod_name", "text", "username", name),
        ("password", "web_mod_password", "password", "current-password", ""),
    ):
        err = errors.get(field)
        attrs = f' aria-invalid="true" aria-describedby="err-{field}"' if err else ""
        out.append(
            f'<p><label for="f-{field}">{_t(label, lang)}</label><br>'
            f'<input id="f-{field}" name="{field}" type="{kind}" value="{e(value)}" '
            f'autocomplete="{complete}" required maxlength="{auth.MAX_PASSWORD_CHARS}"{attrs}></p>'
        )
        if err:
            out.append(f'<p class="error" id="err-{field}">{e(err)}</p>')
    out.append(f'<p><button type="submit">{_t("web_mod_login", lang)}</button></p></form>')
    out.append(f'<p class="note">{_t("web_mod_pseudonym_note", lang)}</p>')
    return "".join(out)


async def _login_token(request: web.Request) -> str:
    """The pre-login session's CSRF token; a fresh session for it when there is none."""
    token = (await get_session(request)).get(LOGIN_TOKEN)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        (await new_session(request))[LOGIN_TOKEN] = token
    return token


async def _expired(request: web.Request) -> bool:
    """The browser sent a session cookie that no longer opens a session (expired, restart)."""
    if not request.cookies.get(auth.COOKIE_NAME):
        return False
    session = await get_session(request)
    return not session.get("moderator") and LOGIN_TOKEN not in session


async def _login_page(
    request: web.Request,
    *,
    status: int = 200,
    name: str = "",
    alert: str | None = None,
    errors: Mapping[str, str] | None = None,
    info: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    lang = request_lang(request)
    token = await _login_token(request)
    body = login_form(lang, token, name=name, alert=alert, errors=errors, info=info)
    title = translate("web_mod_login_title", lang)
    return _mod_page(request, title, body, path="/login", status=status, **(headers or {}))


async def login_get(request: web.Request) -> web.Response:
    lang = request_lang(request)
    if await auth.moderator_session(request) is not None:
        return _redirect(_url("/moderation", lang))
    info = None
    if request.query.get("expired") == "1":
        info = translate("web_mod_session_expired", lang)
    elif request.query.get("bye") == "1":
        info = translate("web_mod_logged_out", lang)
    return await _login_page(request, info=info)


async def login_post(request: web.Request) -> web.Response:
    lang = request_lang(request)
    if await auth.moderator_session(request) is not None:  # already in: keep that session
        return _redirect(_url("/moderation", lang))
    try:
        fields = await read_fields(request)
    except BodyNotUnderstood:
        return await _login_page(request, status=400, alert=translate("web_bad_request", lang))
    session = await get_session(request)
    expected = session.get(LOGIN_TOKEN)
    given = fields.get(auth.CSRF_FIELD)
    name = fields.get("name")
    name = name if isinstance(name, str) and len(name) <= auth.MAX_NAME_CHARS else ""
    if not (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
    ):
        session.pop(LOGIN_TOKEN, None)  # a fresh token for the form shown again
        alert = translate("web_csrf_failed", lang)
        return await _login_page(request, status=403, name=name, alert=alert)
    password = fields.get("password")
    missing = {
        field: translate("web_required", lang)
        for field, value in (("name", name), ("password", password))
        if not isinstance(value, str) or not value
    }
    if missing:
        alert = translate("web_form_has_errors", lang)
        return await _login_page(request, status=422, name=name, alert=alert, errors=missing)
    assert isinstance(password, str)
    verify = request.app[NODE].verify_moderator
    result = await auth.log_in(request, request.app[THROTTLE], verify, name, password)
    if isinstance(result, auth.Throttled):
        wait = result.retry_after_s
        alert = translate("web_login_throttled", lang, minutes=minutes(wait))
        retry = {"Retry-After": str(wait)}
        return await _login_page(request, status=429, name=name, alert=alert, headers=retry)
    if result is None:
        alert = translate("web_login_failed", lang)
        return await _login_page(request, status=401, name=name, alert=alert)
    return _redirect(_url("/moderation", lang))  # a new session: the login token went with it


async def logout(request: web.Request) -> web.Response:
    lang = request_lang(request)
    session = await auth.moderator_session(request)
    if session is None:
        return _redirect(_url("/login", lang))
    try:
        fields = await read_fields(request)
    except BodyNotUnderstood:
        fields = {}
    if not auth.csrf_ok(request, session, fields):
        return _notice(request, "web_csrf_failed", status=403)
    auth.end_moderator_session(request, session)
    return _redirect(_url("/login", lang, bye="1"))


# --- the queue ------------------------------------------------------------------


def _reasons(reasons: Sequence[str], lang: str) -> str:
    return "; ".join(_t(reason, lang) for reason in reasons)


def _facts(report: PublicReport, lang: str, zone: tzinfo) -> str:
    parts = [
        e(hour_text(report.hour, zone)),  # on the chapter's clock
        f'<span class="age">{_t(report.age_label, lang)}</span>',
        f'<span class="status">{_t(report.status, lang)}</span>',
        _t("web_mod_confidence", lang, percent=str(round(report.confidence * 100))),
        _t("web_sources", lang, count=str(report.independent_sources)),
        f'<span class="state">{_t(state_code(report), lang)}</span>',
    ]
    return " · ".join(parts)


def queue_item(
    item: QueueItem,
    lang: str,
    token: str,
    copies: int,
    selected: bool = False,
    zone: tzinfo = UTC,
) -> str:
    """One report of the queue: its facts, reasons, text, and its one form of actions."""
    report = item.report
    rid = e(report.id)
    where = e(report.area) + (f" · {e(report.highway)}" if report.highway else "")
    if not report.area_known:
        where += f' <span class="unknown-area">({_t("web_mod_area_unknown", lang)})</span>'
    out = [
        f'<li class="queue-item{" active" if report.still_active else ""}" '
        f'id="r-{rid}" data-report-id="{rid}" tabindex="-1">',
        f'<p class="select"><label><input type="checkbox" name="ids" value="{rid}" '
        f'form="batch"{" checked" if selected else ""}> {_t("web_mod_select", lang)}</label></p>',
        f"<h2><strong>{_t(report.type, lang)}</strong> — {where}</h2>",
        f'<p class="facts">{_facts(report, lang, zone)}</p>',
        f'<p class="reasons">{_t("web_mod_reasons", lang)} {_reasons(item.reasons, lang)}</p>',
    ]
    if item.description:
        out.append(f'<blockquote class="description">{e(item.description)}</blockquote>')
    out.append(
        f'<form method="post" action="{href("/moderation/" + report.id, lang)}" '
        f'class="actions" accept-charset="utf-8">{_csrf_input(token)}'
    )
    # The correction comes first in the form: Enter in its fields must correct, never confirm.
    options = "".join(
        f'<option value="{e(t)}"{" selected" if t == report.type else ""}>{_t(t, lang)}</option>'
        for t in REPORT_TYPES
    )
    out.append(
        f'<details class="correct"><summary>{_t("web_mod_correct_title", lang)}</summary>'
        f'<p><label>{_t("web_field_type", lang)} <select name="type">{options}</select></label> '
        f'<label>{_t("web_mod_correct_area", lang)} <input type="text" name="area" '
        f'list="mod-areas" autocomplete="off" placeholder="{e(report.area)}"></label> '
        f'<button type="submit" name="action" value="correct">{_t("web_mod_correct", lang)}'
        "</button></p></details>"
    )
    out.append('<p class="buttons">')
    for action in VERDICT_ACTIONS:
        out.append(
            f'<button type="submit" name="action" value="{action}" data-key="{action[0]}">'
            f"{_t(BUTTON_TEXT[action], lang)}</button> "
        )
    if copies > 0:
        out.append(
            '<button type="submit" name="action" value="debunk_copies" class="copies">'
            f"{_t('web_mod_debunk_copies', lang, count=str(copies))}</button>"
        )
    out.append("</p></form></li>")
    return "".join(out)


def shortcuts_help(lang: str) -> str:
    keys = "".join(
        f"<dt><kbd>{e(key)}</kbd></dt><dd>{_t(code, lang)}</dd>" for key, code in SHORTCUTS
    )
    return (
        f'<details id="shortcuts" class="shortcuts"><summary>{_t("web_mod_keys_title", lang)}'
        f"</summary><p>{_t('web_mod_keys_note', lang)}</p><dl>{keys}</dl></details>"
    )


def queue_page(
    lang: str,
    items: Sequence[QueueItem],
    copies: Mapping[str, int],
    token: str,
    *,
    areas: Sequence[str],
    done: str | None = None,
    all_selected: bool = False,
    zone: tzinfo = UTC,
) -> str:
    """The body of /moderation; `done` already translated; `all_selected`: every box ticked.

    "Select all shown" is a plain link (?all=1) that comes back with every box
    ticked, so clearing a flood takes a click per page with JavaScript or not.
    """
    out = [f"<h1>{_t('web_mod_queue_title', lang)}</h1>"]
    if done:
        out.append(f'<p class="notice" role="status">{e(done)}</p>')
    out.append(
        f'<form method="post" action="{href("/logout", lang)}" class="logout">'
        f'{_csrf_input(token)}<button type="submit">{_t("web_mod_logout", lang)}</button></form>'
    )
    out.append(
        f'<p class="note">{_t("web_mod_order_note", lang)} '
        f'<a href="{href("/trends", lang)}">{_t("web_trends_title", lang)}</a></p>'
    )
    out.append(shortcuts_help(lang))
    if not items:
        out.append(f'<p class="empty">{_t("web_mod_queue_empty", lang)}</p>')
        return "".join(out)
    out.append(
        f'<p class="count">{_t("web_mod_queue_count", lang, count=str(len(items)))}</p>'
        f'<form id="batch" method="post" action="{href("/moderation/batch", lang)}" '
        f'class="batch" accept-charset="utf-8">{_csrf_input(token)}'
        f"<span>{_t('web_mod_batch_label', lang)}</span> "
        + "".join(
            f'<button type="submit" name="action" value="{action}">'
            f"{_t(BUTTON_TEXT[action], lang)}</button> "
            for action in VERDICT_ACTIONS
        )
        + (
            f'<a href="{href("/moderation", lang)}" class="select-all">'
            f"{_t('web_mod_select_none', lang)}</a>"
            if all_selected
            else f'<a href="{href("/moderation", lang, all="1")}" class="select-all">'
            f"{_t('web_mod_select_all', lang)}</a>"
        )
        + "</form>"
    )
    out.append('<ol class="queue">')
    out.extend(
        queue_item(item, lang, token, copies.get(item.report.id, 0), all_selected, zone)
        for item in items
    )
    out.append("</ol>")
    out.append(
        '<datalist id="mod-areas">'
        + "".join(f'<option value="{e(name)}">' for name in areas)
        + "</datalist>"
    )
    return "".join(out)


def _done_text(request: web.Request, lang: str) -> str | None:
    done = request.query.get("done")
    count = request.query.get("n", "")
    if done == "none_selected":
        return translate("web_mod_none_selected", lang)
    if done not in DONE_TEXT or not (count.isascii() and count.isdigit()) or len(count) > 6:
        return None
    return translate(DONE_TEXT[done], lang, count=count)


async def _session_or_login(request: web.Request) -> tuple[web.Response | None, str]:
    """(a redirect to the login when there is no moderator session, the CSRF token)."""
    session = await auth.moderator_session(request)
    if session is None:
        lang = request_lang(request)
        query = {"expired": "1"} if await _expired(request) else {}
        return _redirect(_url("/login", lang, **query)), ""
    return None, str(session["csrf"])


async def queue(request: web.Request) -> web.Response:
    lang = request_lang(request)
    redirect, token = await _session_or_login(request)
    if redirect is not None:
        return redirect
    node = request.app[NODE]
    items = await node.review_queue(limit=QUEUE_PAGE)
    copies = await node.near_copy_counts([item.report.id for item in items])
    body = queue_page(
        lang,
        items,
        copies,
        token,
        areas=[area.name for area in node.areas()],
        done=_done_text(request, lang),
        all_selected=request.query.get("all") == "1",
        zone=node.timezone,
    )
    return _mod_page(request, translate("web_mod_queue_title", lang), body, path="/moderation")


async def _checked_post(
    request: web.Request, max_fields: int
) -> web.Response | list[tuple[str, str]]:
    """The form's pairs after the session and CSRF checks, or the response that refuses it.

    An unreadable body (not a urlencoded form, invalid UTF-8, too many fields)
    is a 400 before any CSRF check: it can change nothing either way.
    """
    session = await auth.moderator_session(request)
    if session is None:
        lang = request_lang(request)
        query = {"expired": "1"} if await _expired(request) else {}
        return _redirect(_url("/login", lang, **query))
    raw = await request.read()
    try:
        if request.content_type.lower() != "application/x-www-form-urlencoded":
            raise BodyNotUnderstood
        pairs = form_pairs(raw, max_fields)
    except BodyNotUnderstood:
        return _notice(request, "web_bad_request", status=400)
    if not auth.csrf_ok(request, session, first_values(pairs)):
        return _notice(request, "web_csrf_failed", status=403)
    return pairs


def _field_refusal(request: web.Request, errors: Sequence[FieldError]) -> web.Response:
    lang = request_lang(request)
    texts = "<br>".join(_t(error.code, lang, **dict(error.params)) for error in errors)
    body = (
        f'<p class="alert" role="alert">{texts}</p>'
        f'<p><a href="{href("/moderation", lang)}">{_t("web_mod_back", lang)}</a></p>'
    )
    title = translate("web_form_has_errors", lang)
    return _mod_page(request, title, body, path="/moderation", status=422)


def _unavailable(request: web.Request, found: Unavailable) -> web.Response:
    retry = {"Retry-After": str(max(1, int(found.retry_after_s)))}
    return _notice(request, "unavailable", status=503, headers=retry)


async def act(request: web.Request) -> web.Response:
    """One report's form: confirm, debunk, archive, correct, or debunk it and its near-copies."""
    lang = request_lang(request)
    checked = await _checked_post(request, max_fields=16)
    if isinstance(checked, web.Response):
        return checked
    fields = first_values(checked)
    report_id = request.match_info["id"]
    action = fields.get("action")
    if action not in ROW_ACTIONS:
        return _notice(request, "web_invalid_action", status=422)
    if not REPORT_ID.fullmatch(report_id):
        return _notice(request, "web_not_found", status=404)
    node = request.app[NODE]
    count = 1
    if action in VERDICT_ACTIONS:
        found = await node.moderate(report_id, ModeratorAction(action))
    elif action == "correct":
        report_type = fields.get("type") or None
        area = fields.get("area") or None
        corrected = await node.correct_report(report_id, report_type, area)
        if isinstance(corrected, tuple):
            return _field_refusal(request, corrected)
        found = corrected
    else:
        if await node.get_report(report_id) is None:
            return _notice(request, "web_not_found", status=404)
        ids = [report_id, *await node.near_copies(report_id)]
        done = 0
        for start in range(0, len(ids), MAX_BATCH):  # one transaction per MAX_BATCH reports
            many = await node.moderate_many(ids[start : start + MAX_BATCH], ModeratorAction.DEBUNK)
            if isinstance(many, Unavailable):
                return _unavailable(request, many)
            done += many
        return _redirect(_url("/moderation", lang, done=action, n=str(done)))
    if found is None:
        return _notice(request, "web_not_found", status=404)
    if isinstance(found, Unavailable):
        return _unavailable(request, found)
    return _redirect(_url("/moderation", lang, done=action, n=str(count)))


async def batch(request: web.Request) -> web.Response:
    """The checked reports, one verdict for all of them."""
    lang = request_lang(request)
    checked = await _checked_post(request, max_fields=MAX_BATCH + 8)
    if isinstance(checked, web.Response):
        return checked
    fields = first_values(checked)
    action = fields.get("action")
    if action not in VERDICT_ACTIONS:
        return _notice(request, "web_invalid_action", status=422)
    ids = [value for name, value in checked if name == "ids" and REPORT_ID.fullmatch(value)]
    if not ids:
        return _redirect(_url("/moderation", lang, done="none_selected"))
    done = await request.app[NODE].moderate_many(ids[:MAX_BATCH], ModeratorAction(action))
    if isinstance(done, Unavailable):
        return _unavailable(request, done)
    return _redirect(_url("/moderation", lang, done=action, n=str(done)))


def add_routes(app: web.Application) -> None:
    """Register /login, /logout, /moderation and its actions."""
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/moderation", queue)
    app.router.add_post("/moderation/batch", batch)  # before {id}: "batch" is no report
    app.router.add_post("/moderation/{id}", act)
