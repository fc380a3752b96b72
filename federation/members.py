"""Member room intake: members' messages become reports through Node.submit, answered in threads.

The bot reads decrypted m.room.message text events in the chapter's member
room (never its own), reads them with federation.member_text, submits a
ReportDraft with SourceRef(Channel.MEMBER, sender) -- hashed in memory by the
node -- and answers in a thread in the member's language: received (type,
area, level, confidence, what happens next), refused (the moderation
reasons), rate limited, or a question with one-word choices when the type
or the area is missing (the draft waits in memory, by thread root, 15 min).
Reactions 👍/👎 on an answer and words in its thread become follow-ups.
Commands: !help, !active [area], !lang es|en, !report. Edits (m.replace)
are ignored: the first version was handled already.
With [matrix] redact_member_messages, the bot redacts a member's report
(and the first message of its thread) once it has answered, so the
homeserver keeps less.

Privacy: the sender's Matrix ID lives only in memory (pending drafts, the
language choice); nothing here writes to disk, and logs hold event kinds
and outcome kinds only, never content or Matrix IDs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from nio import ReactionEvent, RoomMessageText

from federation.bot import BotError, ChapterBot
from federation.member_text import (
    MemberReport,
    find_area,
    find_still_active,
    normalize,
    one_word_type,
    parse,
)
from federation.state import load_rooms
from federation.threads import in_thread, is_edit, thread_root
from node.outcome import (
    Accepted,
    MatrixSettings,
    Outcome,
    RateLimited,
    Refused,
    ReportDraft,
    SourceRef,
    Unavailable,
)
from node.service import Node
from scoring.model import Channel, FollowUpKind
from scoring.moderation import REASON_CODE, moderate

log = logging.getLogger("vecinos.federation.members")

PENDING_TTL_S = 15 * 60
MAX_PENDING = 500
MAX_PENDING_PER_MEMBER = 3  # questions open at once for one member (a flood gets no more)
MAX_ANSWERS = 2000
MAX_QUEUE = 1000
SKEW_MS = 60_000  # events older than the bot's start (minus this) are history, not reports
CODE_WORDS = ("migra", "la migra", "ice", "border patrol", "federales")
STILL_EMOJI = ("👍",)
GONE_EMOJI = ("👎",)


@dataclass
class Pending:
    """A draft waiting for the member's one-word answer in its thread (memory only)."""

    sender: str
    report: MemberReport
    lang: str
    expires: float


class MemberRoom:
    """The member-room handler. attach(client) after login, then run() as a task."""

    def __init__(self, node: Node, bot: ChapterBot, settings: MatrixSettings) -> None:
        self.node = node
        self.bot = bot
        self.room_id = ""
        self.started_ms = int(time.time() * 1000)
        self.langs: dict[str, str] = {}  # sender -> language chosen with !lang
        self.pending: OrderedDict[str, Pending] = OrderedDict()  # thread root -> draft
        self.answers: OrderedDict[str, str] = OrderedDict()  # answer / thread root -> report id
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(MAX_QUEUE)
        self.handled = 0
        self.dropped = 0
        self.data_dir = settings.data_dir  # its rooms file, DATA/matrix (federation.state)
        self.redact = settings.redact_member_messages

    def attach(self) -> None:
        """Register with the bot (also for the events a "limited" sync left out)."""
        self.room_id = load_rooms(self.data_dir).member_room
        self.bot.add_room_handler(self._on_message, (RoomMessageText,))
        self.bot.add_room_handler(self._on_reaction, (ReactionEvent,))

    # -- receiving (after each sync, in timeline order: queue only) ----------------

    def _ours(self, room_id: str, event: Any) -> bool:
        if not self.room_id:
            self.room_id = load_rooms(self.data_dir).member_room
        return (
            bool(self.room_id)
            and room_id == self.room_id
            and event.sender != self.bot.user_id
            and int(getattr(event, "server_timestamp", 0) or 0) >= self.started_ms - SKEW_MS
        )

    def _enqueue(self, kind: str, event: Any) -> None:
        try:
            self.queue.put_nowait((kind, event))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("member queue full: event dropped")

    async def _on_message(self, room_id: str, event: RoomMessageText) -> None:
        if not self._ours(room_id, event):
            return
        if not event.decrypted:
            self.dropped += 1
            log.warning("dropped an unencrypted message in the member room")
            return
        self._enqueue("message", event)

    async def _on_reaction(self, room_id: str, event: ReactionEvent) -> None:
        if self._ours(room_id, event):
            self._enqueue("reaction", event)

    async def run(self) -> None:
        """Handle queued member events one at a time (never inside the sync)."""
        while True:
            kind, event = await self.queue.get()
            try:
                if kind == "message":
                    await self.handle_message(event)
                else:
                    await self.handle_reaction(event)
            except Exception as exc:  # one bad event must not stop the room
                log.error("member %s not handled: %s", kind, type(exc).__name__)
            self.handled += 1
            log.info("member %s handled", kind)

    # -- messages -----------------------------------------------------------------

    def _lang(self, sender: str, detected: str | None) -> str:
        chosen = self.langs.get(sender)
        if chosen:
            return chosen
        if detected in self.node.languages:
            return detected  # type: ignore[return-value]
        default = self.node.default_language
        return default if default in self.node.languages else "en"

    async def handle_message(self, event: RoomMessageText) -> None:
        body = (event.body or "").strip()
        sender = event.sender
        if is_edit(event):
            return  # a second copy of a message already handled
        root = thread_root(event)
        self._expire()
        if body.startswith("!"):
            await self._command(event, body, sender, root)
            return
        if root is not None:
            pending = self.pending.get(root)
            if pending is not None and pending.sender == sender:
                await self._complete(event, root, pending, body)
                return
            report_id = self.answers.get(root)
            if report_id is not None:
                await self._follow_up_words(event, root, report_id, body, sender)
                return
        report = parse(body, self.node)
        norm = normalize(body)
        if not (report.type or report.area or any(f" {w} " in f" {norm} " for w in CODE_WORDS)):
            return  # conversation, not a report
        await self._intake(event, root or event.event_id, report, sender)

    async def _intake(
        self,
        event: RoomMessageText,
        root: str,
        report: MemberReport,
        sender: str,
        lang: str | None = None,
    ) -> None:
        lang = lang or self._lang(sender, report.language)
        refused = sorted({REASON_CODE[f.kind] for f in moderate(report.description).refusals})
        if refused:
            # Before any question: the member resends without the refused part.
            reasons = " ".join(self.node.text(code, lang) for code in refused)
            self.pending.pop(root, None)
            log.info("member report: refused before intake")
            await self._reply(
                root, event.event_id, self.node.text("member_refused", lang, reasons=reasons)
            )
            await self._redact(event.event_id, root)
            return
        if report.type is None or report.area is None:
            mine = [r for r, p in self.pending.items() if p.sender == sender and r != root]
            if len(mine) >= MAX_PENDING_PER_MEMBER:
                log.info("member report: too many open questions, not asked")
                return
            self.pending[root] = Pending(sender, report, lang, time.monotonic() + PENDING_TTL_S)
            while len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
            ask = "member_ask_type" if report.type is None else "member_ask_area"
            await self._reply(root, event.event_id, self.node.text(ask, lang))
            return
        draft = ReportDraft(
            type=report.type,
            area=report.area,
            highway=report.highway,
            description=report.description,
            still_active=report.still_active,
        )
        outcome = await self.node.submit(draft, SourceRef(Channel.MEMBER, sender.encode()))
        log.info("member report: %s", type(outcome).__name__)
        answer = await self._reply(root, event.event_id, self._outcome_text(outcome, lang))
        if not isinstance(outcome, (RateLimited, Unavailable)):
            await self._redact(event.event_id, root)
        if isinstance(outcome, Accepted):
            for key in (root, answer):
                if key:
                    self.answers[key] = outcome.report.id
            while len(self.answers) > MAX_ANSWERS:
                self.answers.popitem(last=False)

    async def _complete(
        self, event: RoomMessageText, root: str, pending: Pending, body: str
    ) -> None:
        report = pending.report
        if report.type is None:
            kind = one_word_type(body)
            if kind is None:
                await self._reply(
                    root, event.event_id, self.node.text("member_ask_type", pending.lang)
                )
                return
            report = replace(report, type=kind)
        if report.area is None:
            # A place the gazetteer does not know is still a place: the node keeps it as text.
            area = find_area(body, self.node) or (
                body.strip() if one_word_type(body) is None else None
            )
            if not area:
                pending.report = report
                pending.expires = time.monotonic() + PENDING_TTL_S
                await self._reply(
                    root, event.event_id, self.node.text("member_ask_area", pending.lang)
                )
                return
            report = replace(report, area=area)
        del self.pending[root]
        # The language of the first message holds for its thread.
        await self._intake(event, root, report, pending.sender, pending.lang)

    def _outcome_text(self, outcome: Outcome, lang: str) -> str:
        if isinstance(outcome, Accepted):
            r = outcome.report
            return self.node.text(
                "member_received",
                lang,
                type=self.node.text(r.type, lang),
                area=r.area or self.node.text("area_unlisted", lang),  # free text: never repeated
                level=self.node.text(r.level, lang),
                confidence=round(r.confidence * 100),
            )
        if isinstance(outcome, Refused):
            reasons = " ".join(
                self.node.text(e.code, lang, **dict(e.params)) for e in outcome.errors
            )
            return self.node.text("member_refused", lang, reasons=reasons)
        if isinstance(outcome, RateLimited):
            return self.node.text(
                "rate_limited", lang, minutes=max(1, math.ceil(outcome.retry_after_s / 60))
            )
        return self.node.text("member_unavailable", lang, seconds=outcome.retry_after_s)

    def _expire(self) -> None:
        now = time.monotonic()
        for root in [r for r, p in self.pending.items() if p.expires < now]:
            del self.pending[root]

    # -- follow-ups -----------------------------------------------------------------

    async def handle_reaction(self, event: ReactionEvent) -> None:
        report_id = self.answers.get(event.reacts_to)
        if report_id is None:
            return
        key = event.key or ""
        if key.startswith(STILL_EMOJI):
            kind = FollowUpKind.STILL_THERE
        elif key.startswith(GONE_EMOJI):
            kind = FollowUpKind.GONE
        else:
            return
        result = await self.node.follow_up(
            report_id, kind, SourceRef(Channel.MEMBER, event.sender.encode())
        )
        log.info("member reaction follow-up: %s", type(result).__name__)

    async def _follow_up_words(
        self, event: RoomMessageText, root: str, report_id: str, body: str, sender: str
    ) -> None:
        still = find_still_active(body)
        if still is None:
            return
        kind = FollowUpKind.STILL_THERE if still else FollowUpKind.GONE
        result = await self.node.follow_up(
            report_id, kind, SourceRef(Channel.MEMBER, sender.encode())
        )
        log.info("member follow-up: %s", type(result).__name__)
        lang = self._lang(sender, parse(body, self.node).language)
        if isinstance(result, RateLimited):
            text = self._outcome_text(result, lang)
        elif result is None:
            return
        else:
            text = self.node.text(f"member_follow_up_{kind.value}", lang)
        await self._reply(root, event.event_id, text)

    # -- commands -------------------------------------------------------------------

    async def _command(
        self, event: RoomMessageText, body: str, sender: str, root: str | None
    ) -> None:
        word, _, rest = body[1:].partition(" ")
        word = word.lower()
        thread = root or event.event_id
        if word == "report":
            report = parse(body, self.node)
            await self._intake(event, thread, report, sender)
        elif word == "lang":
            choice = rest.strip().lower()[:2]
            if choice in self.node.languages:
                self.langs[sender] = choice
                await self._reply(thread, event.event_id, self.node.text("member_lang_set", choice))
            else:
                lang = self._lang(sender, None)
                await self._reply(thread, event.event_id, self.node.text("member_help", lang))
        elif word == "help":
            lang = self._lang(sender, None)
            await self._reply(thread, event.event_id, self.node.text("member_help", lang))
        elif word == "active":
            lang = self._lang(sender, None)
            await self._reply(thread, event.event_id, await self._active(rest.strip(), lang))

    async def _active(self, area_text: str, lang: str) -> str:
        area = find_area(area_text, self.node) if area_text else None
        reports = [
            r
            for r in await self.node.live_reports()  # members are vetted: never delayed
            if r.still_active and not r.debunked and (area is None or r.area == area)
        ]
        if not reports:
            return self.node.text("member_active_none", lang)
        lines = [
            self.node.text(
                "member_active_line",
                lang,
                type=self.node.text(r.type, lang),
                area=r.area or self.node.text("area_unlisted", lang),
                level=self.node.text(r.level, lang),
                age=self.node.text(r.age_label, lang),
            )
            for r in reports[:10]
        ]
        return "\n".join(lines)

    async def _redact(self, *event_ids: str) -> None:
        """With [matrix] redact_member_messages: the member's report leaves the homeserver too."""
        if not self.redact:
            return
        for event_id in dict.fromkeys(event_ids):  # the message, and the thread's first one
            try:
                await self.bot.redact(self.room_id, event_id)
                log.info("member message redacted")
            except (BotError, TimeoutError) as exc:
                log.warning("member message not redacted: %s", type(exc).__name__)

    # -- sending ------------------------------------------------------------------

    async def _reply(self, root: str, in_reply_to: str, text: str) -> str | None:
        """A notice in the thread of `root`, replying to `in_reply_to`; its event id."""
        content = in_thread({"msgtype": "m.notice", "body": text}, root, in_reply_to)
        try:
            return await self.bot.send_alert(self.room_id, content, "m.room.message")
        except (BotError, TimeoutError) as exc:
            log.warning("member answer not sent: %s", type(exc).__name__)
            return None
