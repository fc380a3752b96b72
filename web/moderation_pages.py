"""The moderators' HTML pages: /login, /logout, the review queue at /moderation, and its actions.

Rules kept here:
- No cookie before a login: the login form's token is signed by the node
  (an HMAC of the hour with a key held in memory), not kept in a pre-login
  session. The defence against a cross-site login is web.app's origin check
  (Sec-Fetch-Site / Origin, on every POST); the signed token only proves the
  form came from this node within the hour (a script that never loaded the
  form is refused), and a pre-login cookie would add nothing but a cookie.
- Every other POST form carries the session's CSRF token (auth.CSRF_FIELD).
  A missing or wrong token is a 403 with the translated reason.
- Logins go through the same LoginThrottle as the JSON API.
- POST/redirect/GET: every action answers 303 back to /moderation, with what
  was done in the query (an action name from a fixed list, a count, and the
  token of a held debunk or archive).
- Debunk and archive are held for a short window (web.undo) with an Undo
  button; confirm and corrections apply at once.
- Open verification requests (node.verification) are listed above the
  queue, claimed or not, with the claim's ETA (never who claimed it); a
  moderator marks one verified, false alarm, or offers it again
  (POST /moderation/verification/{id}), as a verifier would in the room.
- Pseudonymous moderators: the name typed at login is checked and
  forgotten; no page, session or report keeps it.
- Works without JavaScript (even "select all shown" is a link, ?all=1);
  /static/moderation.js only adds keyboard shortcuts (documented on the page).
- These pages are never compressed: a CSRF token next to reflected text (BREACH).
- A body that cannot be read is a 400 before the CSRF check (it changes
  nothing); logging out revokes the session on the server (web.auth).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from urllib.parse import urlencode

from aiohttp import web

from node.localtime import hour_text
from node.moderation import MAX_BATCH
from node.outcome import FieldError, QueueItem, Unavailable
from node.service import ModeratorAction
from node.verification import Answer, Outcome, Request
from web import auth
from web.api import REPORT_ID
from web.context import NODE, THROTTLE
from web.forms import BodyNotUnderstood, first_values, form_pairs, read_fields
from web.layout import render
from web.messages import minutes, request_lang, translate, translate_plural
from web.present import REPORT_TYPES, age_words, state_code
from web.source import request_source
from web.undo import UNDO_WINDOW_S, HeldVerdicts

__all__ = ["UNDO_WINDOW_S", "add_routes"]

QUEUE_PAGE = 100  # reports shown at once (the most important ones)
STYLES = ("/static/moderation.css",)
SCRIPTS = ("/static/moderation.js",)
VERDICT_ACTIONS = ("confirm", "debunk", "archive")
HELD_ACTIONS = ("debunk", "archive")  # held for UNDO_WINDOW_S, with an Undo button
ROW_ACTIONS = (*VERDICT_ACTIONS, "correct", "debunk_copies")
VERIFY_DONE = tuple(a.value for a in Answer)  # confirmed, false_alarm, unable
# What the queue page says after an action (?done=<action>&n=<count>): plural message ids.
DONE_TEXT = {
    "confirm": "web_mod_done_confirm_n",
    "debunk": "web_mod_done_debunk_n",
    "archive": "web_mod_done_archive_n",
    "correct": "web_mod_done_correct_n",
    "debunk_copies": "web_mod_done_debunk_n",
    "undone": "web_mod_undone_n",
}
SHORTCUTS = (
    ("j", "web_mod_key_next"),
    ("k", "web_mod_key_previous"),
    ("c", "web_mod_key_confirm"),
    ("d", "web_mod_key_debunk"),
    ("a", "web_mod_key_archive"),
    ("x", "web_mod_key_select"),
    ("u", "web_mod_key_undo"),
    ("?", "web_mod_key_help"),
)
LOGIN_KEY: web.AppKey[bytes] = web.AppKey("vecinos_login_key", bytes)
HELD: web.AppKey[HeldVerdicts] = web.AppKey("vecinos_held_verdicts", HeldVerdicts)


def _url(path: str, lang: str, **query: str) -> str:
    """A same-node URL for a Location header."""
    return path + "?" + urlencode({"lang": lang, **query})


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _mod_page(
    request: web.Request,
    template: str,
    context: Mapping[str, object],
    *,
    path: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    return render(
        request,
        template,
        {"csrf_field": auth.CSRF_FIELD, **context},
        path=path,
        status=status,
        headers=headers,
        scripts=SCRIPTS,
        stylesheets=STYLES,
        compress=False,  # a CSRF token next to reflected text: never compressed (BREACH)
    )


def _notice(
    request: web.Request,
    code: str,
    *,
    status: int,
    headers: Mapping[str, str] | None = None,
    **params: str,
) -> web.Response:
    """A moderator-side page with one message and the way back to the queue."""
    text = translate(code, request_lang(request), **params)
    context = {"title": text, "messages": [text]}
    return _mod_page(
        request,
        "moderation/notice.html",
        context,
        path="/moderation",
        status=status,
        headers=headers,
    )


# --- login / logout -----------------------------------------------------------


def _hour() -> int:
    return int(time.time()) // 3600


def login_token(app: web.Application, hour: int | None = None) -> str:
    """The login form's token: the hour it was made and an HMAC of it (no cookie)."""
    hour = _hour() if hour is None else hour
    mac = hmac.new(app[LOGIN_KEY], f"login|{hour}".encode(), hashlib.sha256).hexdigest()
    return f"{hour}.{mac[:32]}"


def login_token_ok(app: web.Application, given: object) -> bool:
    """A token this node made in this hour or the previous one."""
    if not isinstance(given, str) or len(given) > 64:
        return False
    now = _hour()
    return any(
        hmac.compare_digest(given.encode("utf-8", "replace"), login_token(app, h).encode())
        for h in (now, now - 1)
    )


def _expired(request: web.Request, session_open: bool) -> bool:
    """The browser sent a session cookie that no longer opens a session (expired, restart)."""
    return bool(request.cookies.get(auth.COOKIE_NAME)) and not session_open


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
    context = {
        "title": translate("web_mod_login_title", lang),
        "token": login_token(request.app),
        "name": name,
        "alert": alert,
        "errors": errors or {},
        "info": info,
        "max_chars": auth.MAX_PASSWORD_CHARS,
    }
    return _mod_page(
        request, "moderation/login.html", context, path="/login", status=status, headers=headers
    )


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
    name = fields.get("name")
    name = name if isinstance(name, str) and len(name) <= auth.MAX_NAME_CHARS else ""
    if not login_token_ok(request.app, fields.get(auth.CSRF_FIELD)):
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
    throttle, source = request.app[THROTTLE], request_source(request)
    result = await auth.log_in(request, throttle, verify, name, password, source)
    if isinstance(result, auth.Throttled):
        wait = result.retry_after_s
        alert = translate("web_login_throttled", lang, minutes=minutes(wait))
        retry = {"Retry-After": str(wait)}
        return await _login_page(request, status=429, name=name, alert=alert, headers=retry)
    if result is None:
        alert = translate("web_login_failed", lang)
        return await _login_page(request, status=401, name=name, alert=alert)
    return _redirect(_url("/moderation", lang))  # the first cookie: the session's


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


def queue_item_view(
    item: QueueItem, now: datetime, copies: int, selected: bool, zone: tzinfo = UTC
) -> dict[str, object]:
    """One report of the queue, as its template shows it (its age in honest clock hours)."""
    report = item.report
    return {
        "id": report.id,
        "type": report.type,
        # A place not on the list: its text, decrypted for moderators only (never public).
        "area": report.area or item.area_text or "",
        "area_known": report.area_known,
        "highway": report.highway,
        "hour": hour_text(report.hour, zone),  # on the chapter's clock
        "age_label": age_words(report.hour, now),
        "status": report.status,
        "percent": str(round(report.confidence * 100)),
        "sources": report.independent_sources,
        "state": state_code(report),
        "active": report.still_active,
        "reasons": item.reasons,
        "description": item.description,
        "copies": copies,
        "selected": selected,
        # the incident it is part of: its stage (as the responders see it) and its page
        # (a place not on the list has no public page until a moderator maps it)
        "incident": item.incident_id if report.area_known else None,
        "stage": f"web_mod_stage_{item.incident_stage}" if item.incident_stage else None,
    }


def verification_view(req: Request, tz: tzinfo) -> dict[str, object]:
    """One open verification request as the page shows it (no claimer, ever)."""
    if not req.claimed:
        claim = ("verify_page_unclaimed", {})
    elif req.eta is None:
        claim = ("verify_page_claimed_no_eta", {})
    else:
        claim = ("verify_page_claimed", {"eta": req.eta})
    return {
        "id": req.notice_id,
        "type": req.type,
        "area": req.area,
        "highway": req.highway,
        "hour": hour_text(req.hour, tz),
        "level": req.level,
        "reports": req.reports,
        "claimed": req.claimed,
        "claim": claim,
    }


def _done(request: web.Request, lang: str) -> dict[str, object] | None:
    """What the last action did (?done=&n=), and its undo token while it is held."""
    done = request.query.get("done")
    count = request.query.get("n", "")
    if done in VERIFY_DONE:
        return {"text": translate(f"verify_{done}", lang), "undo": None}
    if done == "none_selected":
        return {"text": translate("web_mod_none_selected", lang), "undo": None}
    if done == "too_late":
        return {"text": translate("web_mod_undo_too_late", lang), "undo": None}
    if done not in DONE_TEXT or not (count.isascii() and count.isdigit()) or len(count) > 6:
        return None
    text = translate_plural(DONE_TEXT[done], int(count), lang)
    token = request.query.get("undo", "")
    held = request.app[HELD]
    return {"text": text, "undo": token if held.is_held(token) else None}


async def _session_or_login(request: web.Request) -> tuple[web.Response | None, str]:
    """(a redirect to the login when there is no moderator session, the CSRF token)."""
    session = await auth.moderator_session(request)
    if session is None:
        lang = request_lang(request)
        query = {"expired": "1"} if _expired(request, False) else {}
        return _redirect(_url("/login", lang, **query)), ""
    return None, str(session["csrf"])


async def queue(request: web.Request) -> web.Response:
    lang = request_lang(request)
    redirect, token = await _session_or_login(request)
    if redirect is not None:
        return redirect
    node = request.app[NODE]
    held = request.app[HELD].held_ids()
    items = [
        i for i in await node.review_queue(limit=QUEUE_PAGE + len(held)) if i.report.id not in held
    ]
    items = items[:QUEUE_PAGE]
    copies = await node.near_copy_counts([item.report.id for item in items])
    now = node.clock()
    all_selected = request.query.get("all") == "1"
    context = {
        "title": translate("web_mod_queue_title", lang),
        "token": token,
        "done": _done(request, lang),
        "items": [
            queue_item_view(item, now, copies.get(item.report.id, 0), all_selected, node.timezone)
            for item in items
        ],
        "all_selected": all_selected,
        "areas": [area.name for area in node.areas()],
        "report_types": REPORT_TYPES,
        "verdicts": VERDICT_ACTIONS,
        "shortcuts": SHORTCUTS,
        "undo_seconds": int(request.app[HELD].window_s),
        "verifications": [
            verification_view(r, node.timezone) for r in await node.verification_requests()
        ],
        "verify_actions": VERIFY_DONE,
    }
    return _mod_page(request, "moderation/queue.html", context, path="/moderation")


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
        query = {"expired": "1"} if _expired(request, False) else {}
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
    texts = [translate(error.code, lang, **dict(error.params)) for error in errors]
    context = {"title": translate("web_form_has_errors", lang), "messages": texts}
    return _mod_page(request, "moderation/notice.html", context, path="/moderation", status=422)


def _unavailable(request: web.Request, found: Unavailable) -> web.Response:
    retry = {"Retry-After": str(max(1, int(found.retry_after_s)))}
    return _notice(request, "unavailable", status=503, headers=retry)


def _held_or_applied(request: web.Request, ids: list[str], action: str) -> web.Response:
    """Hold a debunk or archive for its undo window; back to the queue with its Undo."""
    lang = request_lang(request)
    token = request.app[HELD].hold(ids, action)
    return _redirect(_url("/moderation", lang, done=action, n=str(len(ids)), undo=token))


async def _decide_many(request: web.Request, ids: list[str], action: str) -> web.Response | int:
    """Apply a verdict to up to many reports now, MAX_BATCH per transaction; how many existed."""
    node = request.app[NODE]
    verdict = ModeratorAction("debunk" if action == "debunk_copies" else action)
    request.app[HELD].forget(ids)
    done = 0
    for start in range(0, len(ids), MAX_BATCH):
        many = await node.moderate_many(ids[start : start + MAX_BATCH], verdict)
        if isinstance(many, Unavailable):
            return _unavailable(request, many)
        done += many
    return done


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
    held = request.app[HELD]
    if action == "correct":
        report_type = fields.get("type") or None
        area = fields.get("area") or None
        corrected = await node.correct_report(report_id, report_type, area)
        if isinstance(corrected, tuple):
            return _field_refusal(request, corrected)
        found = corrected
    elif action in HELD_ACTIONS or action == "debunk_copies":
        if await node.get_report(report_id) is None:
            return _notice(request, "web_not_found", status=404)
        ids = [report_id]
        if action == "debunk_copies":
            ids += await node.near_copies(report_id)
        if held.window_s > 0:
            return _held_or_applied(request, ids, action)
        done = await _decide_many(request, ids, action)
        if isinstance(done, web.Response):
            return done
        return _redirect(_url("/moderation", lang, done=action, n=str(done)))
    else:
        held.forget([report_id])
        found = await node.moderate(report_id, ModeratorAction(action))
    if found is None:
        return _notice(request, "web_not_found", status=404)
    if isinstance(found, Unavailable):
        return _unavailable(request, found)
    return _redirect(_url("/moderation", lang, done=action, n="1"))


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
    ids = list(dict.fromkeys(ids))[:MAX_BATCH]
    if not ids:
        return _redirect(_url("/moderation", lang, done="none_selected"))
    if action in HELD_ACTIONS and request.app[HELD].window_s > 0:
        return _held_or_applied(request, ids, action)
    done = await _decide_many(request, ids, action)
    if isinstance(done, web.Response):
        return done
    return _redirect(_url("/moderation", lang, done=action, n=str(done)))


async def undo(request: web.Request) -> web.Response:
    """Drop a held debunk or archive before it is applied."""
    lang = request_lang(request)
    checked = await _checked_post(request, max_fields=8)
    if isinstance(checked, web.Response):
        return checked
    token = first_values(checked).get("undo", "")
    dropped = request.app[HELD].undo(token)
    if dropped is None:
        return _redirect(_url("/moderation", lang, done="too_late"))
    return _redirect(_url("/moderation", lang, done="undone", n=str(dropped[1])))


async def verify(request: web.Request) -> web.Response:
    """A moderator's answer to an open verification request: verified, false alarm, or
    offered again (unable)."""
    lang = request_lang(request)
    checked = await _checked_post(request, max_fields=8)
    if isinstance(checked, web.Response):
        return checked
    action = first_values(checked).get("action")
    notice_id = request.match_info["id"]
    if action not in VERIFY_DONE:
        return _notice(request, "web_invalid_action", status=422)
    if not REPORT_ID.fullmatch(notice_id):
        return _notice(request, "web_not_found", status=404)
    node = request.app[NODE]
    found = await node.answer_verification(notice_id, Answer(action), None)
    if isinstance(found, Unavailable):
        return _unavailable(request, found)
    if found != Outcome.DONE:
        return _notice(request, "verify_not_open", status=404)
    return _redirect(_url("/moderation", lang, done=action))


def add_routes(app: web.Application, undo_window_s: float = UNDO_WINDOW_S) -> None:
    """Register /login, /logout, /moderation and its actions; the login key; held verdicts."""
    app[LOGIN_KEY] = os.urandom(32)  # memory only: a restart makes old login forms fail
    node = app[NODE]

    async def apply(ids: list[str], action: str) -> None:
        verdict = ModeratorAction("debunk" if action == "debunk_copies" else action)
        for start in range(0, len(ids), MAX_BATCH):
            await node.moderate_many(ids[start : start + MAX_BATCH], verdict)

    held = HeldVerdicts(apply, undo_window_s)
    app[HELD] = held

    async def flush(_: web.Application) -> None:
        await held.flush()

    app.on_shutdown.append(flush)
    app.router.add_get("/login", login_get)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/moderation", queue)
    app.router.add_post("/moderation/batch", batch)  # before {id}: "batch" is no report
    app.router.add_post("/moderation/undo", undo)  # and "undo" neither
    app.router.add_post("/moderation/verification/{id}", verify)
    app.router.add_post("/moderation/{id}", act)
