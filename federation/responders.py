"""The responders room: rapid-response alerts in threads, and the moderators' commands.

Alerts: the node queues responder notices (node.responders) in its
database; this loop drains the ones for "matrix", oldest first, into the
chapter's encrypted responders room. A notice's first post (type, area,
highway, level, confidence, independent reports, age, report ids, link;
"from a neighbouring chapter: ..." for a neighbour's alert) opens a
thread; its updates and its all-clear are m.thread relations to that
post, whose event id the node keeps (an id, no content). While the
homeserver is away the rows wait and the loop retries with backoff (capped),
at once when the bot syncs again; txn ids are stable ("resp.<id>.<seq>"), so a
retry is not posted twice.

Commands: `!confirm ID`, `!debunk ID`, `!archive ID` from a member whose
power level in the room is at least [matrix] moderator_level go through
Node.moderate, exactly as from the web; the answer comes in the thread. Others
get a polite refusal. The level is read from the homeserver when the command
runs, not from the synced view (nio keeps a user taken off the power-levels
map at the old level); one not in the map has the room's users_default, and
a level that cannot be read refuses the command.
Edits (m.replace) and unencrypted or stale messages are not run, and the
answer repeats an ID only when it looks like one. The moderator's Matrix ID
is never stored or logged.

Verifier dispatch (node.verification): a notice that needs verification says
so; in its thread (or naming the notice's id) a verifier runs `!claim [ETA
min]` (`!tomar`), and the bot answers "taken, ETA N min" (a second claimer
is told it is taken); then `!confirm` (`!confirmar`), `!falsealarm [what it
was]` (`!falsa`) or `!unable` (`!nopuedo`). `!confirm` without a report ID
answers the thread's verification. A claim can also be a reaction to the
notice's first post (👍 ✋ 🙋 🏃 🚗, any skin tone): claimed without an ETA;
a reaction from someone who is not a verifier, or to another post, is just a
reaction (no answer). Reactions are the one thing taken unencrypted (Element
and matrix-nio never encrypt them); a claim only says who is going, the
answers that decide are encrypted commands. Verifiers are members whose power level
is at least [matrix] verifier_level (the bot raises [matrix] verifiers to
it) or who are named in [matrix] verifiers; moderators may answer any
request. The claimer's Matrix ID is handed to the node only for the claim's
keyed hash in memory; never stored, logged, or repeated; the words after
`!falsealarm` are not kept.

Membership: the bot invites [matrix] responders, responder_moderators and
verifiers, and raises the moderators' power level to moderator_level and the
verifiers' to verifier_level (reconcile()).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nio import ReactionEvent, RoomMessageText

from federation.bot import BotError, ChapterBot
from federation.retry import FIRST_BACKOFF, MAX_BACKOFF, Backoff, drain_forever
from federation.state import load_rooms
from federation.threads import in_thread, is_edit, thread_root
from node.outcome import MatrixSettings, PublicReport, Unavailable
from node.responders import MATRIX, Notice, room_text
from node.service import ModeratorAction, Node
from node.verification import Answer, Outcome

log = logging.getLogger("vecinos.federation.responders")

MAX_COMMAND_AGE_MS = 10 * 60_000  # older commands (history after a fresh start) are not run
MAX_QUEUE = 200
ACTIONS = {
    "confirm": ModeratorAction.CONFIRM,
    "debunk": ModeratorAction.DEBUNK,
    "archive": ModeratorAction.ARCHIVE,
}
ALIASES = {"confirmar": "confirm", "desmentir": "debunk", "archivar": "archive"}
CLAIM_WORDS = frozenset({"claim", "tomar", "tomo", "voy"})
# Reactions to a notice's first post that claim it ("I'm going"), compared without
# variation selectors, skin tones or gender signs (claim_reaction).
CLAIM_REACTIONS = frozenset({"👍", "✋", "🙋", "🏃", "🚗"})
REACTION_MODIFIERS = re.compile("[\ufe0f\u200d\u2640\u2642\U0001f3fb-\U0001f3ff]")
ANSWER_WORDS = {
    "confirm": Answer.CONFIRMED,
    "confirmar": Answer.CONFIRMED,
    "falsealarm": Answer.FALSE_ALARM,
    "false": Answer.FALSE_ALARM,
    "falsa": Answer.FALSE_ALARM,
    "falsaalarma": Answer.FALSE_ALARM,
    "unable": Answer.UNABLE,
    "nopuedo": Answer.UNABLE,
}
REPORT_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
ETA = re.compile(r"(\d{1,4})(?:m|min|mins|minutes|minutos)?", re.IGNORECASE)


class ResponderRoom:
    """attach() before the bot starts; run() and run_commands() as tasks; reconcile() on start."""

    def __init__(
        self,
        node: Node,
        bot: ChapterBot,
        settings: MatrixSettings,
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        before_post: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.node = node
        self.bot = bot
        self.before_post = before_post  # e.g. let neighbours' alerts of the same commit go first
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.ready = node.watch_notices()
        self.data_dir = settings.data_dir  # its rooms file, DATA/matrix (federation.state)
        self._take_people(settings)
        self.lang = node.default_language
        self.commands: asyncio.Queue[Any] = asyncio.Queue(MAX_QUEUE)
        self.posted = 0
        self.answered = 0

    @property
    def room_id(self) -> str:
        return load_rooms(self.data_dir).responders_room

    def attach(self) -> None:
        self.bot.add_room_handler(self._on_message, (RoomMessageText, ReactionEvent))

    # -- alerts ---------------------------------------------------------------------

    async def run(self) -> None:
        """Drain the notices queued for the room; until cancelled."""
        await drain_forever(
            self.ready,
            lambda: self.node.pending_notices(MATRIX),
            self._post_next,
            Backoff(self.bot, self.first_backoff, self.max_backoff),
            "responder alert",
            log,
        )

    async def _post_next(self, notice: Notice) -> None:
        if self.before_post is not None:
            await self.before_post()
        await self.post(self.room_id, notice)

    async def post(self, room: str, notice: Notice) -> None:
        """Post one notice (SendFailed leaves it queued)."""
        body = notice.body
        now = self.node.clock()
        if not room:
            await self._drop(notice, "responders_no_room")
            return
        if notice.kind != "all_clear" and notice.expires <= now:
            await self._drop(notice, "responders_expired_unsent")
            return
        root = None if notice.kind == "new" else await self.node.notice_root(notice.notice_id)
        if root is None and notice.kind in ("all_clear", "verify"):
            await self._drop(notice, "responders_expired_unsent")  # its alert was never posted
            return
        content: dict[str, Any] = {
            "msgtype": "m.text",  # not m.notice: clients notify of these
            "body": room_text(body, self.lang, now, self.node.public_url, self.node.timezone),
        }
        if root is not None:
            content = in_thread(content, root)
        # A stable txn id: Synapse answers a repeat (same device, within a day) with the
        # first event's id, so a crash between this send and notice_done posts nothing twice.
        event_id = await self.bot.send_alert(
            room, content, "m.room.message", txn_id=f"resp.{notice.notice_id}.{body['seq']}"
        )
        if root is None:
            await self.node.set_notice_root(notice.notice_id, event_id)
        await self.node.notice_done(notice.outbox_id)
        self.posted += 1
        log.info("responder %s posted", notice.kind)

    async def _drop(self, notice: Notice, counter: str) -> None:
        await self.node.count(counter)
        await self.node.notice_done(notice.outbox_id)

    # -- membership -------------------------------------------------------------------

    def _read_people(self) -> None:
        """Who is invited and who moderates: re-read from vecinos.toml (SIGHUP applies it)."""
        settings = self.node.reread_matrix_settings()
        if settings is not None:  # else the node warned; the last lists stay
            self._take_people(settings)

    def _take_people(self, settings: MatrixSettings) -> None:
        self.moderator_level = settings.moderator_level
        self.moderators = list(settings.moderators)
        self.responders = list(settings.responders)
        self.verifier_level = settings.verifier_level
        self.verifiers = list(settings.verifiers)

    async def reconcile(self) -> None:
        """Invite the configured responders and moderators; the configured moderators,
        and only they, get moderator_level (a name taken off the list loses it)."""
        self._read_people()
        room = self.room_id
        client = self.bot.client
        if not room or client is None or room not in client.rooms:
            return
        users = client.rooms[room].users
        for user_id in dict.fromkeys([*self.moderators, *self.responders, *self.verifiers]):
            if user_id not in users and user_id != self.bot.user_id:
                try:
                    await self.bot.invite(room, user_id)
                    log.info("invited a responder")
                except (BotError, TimeoutError) as exc:
                    log.warning("responder invite failed: %s", type(exc).__name__)
        try:
            levels = dict.fromkeys(self.verifiers, self.verifier_level)
            levels.update(dict.fromkeys(self.moderators, self.moderator_level))
            lowest = min(self.verifier_level, self.moderator_level)
            if await self.bot.set_power_levels(room, levels, only_these_from=lowest):
                log.info("responder moderators' and verifiers' power levels set")
        except (BotError, TimeoutError) as exc:
            log.warning("moderator power levels not set: %s", type(exc).__name__)

    # -- commands ---------------------------------------------------------------------

    async def _on_message(self, room_id: str, event: RoomMessageText | ReactionEvent) -> None:
        if room_id != self.room_id or event.sender == self.bot.user_id:
            return
        if isinstance(event, ReactionEvent):
            if not claim_reaction(event.key):
                return
        elif not (event.body or "").lstrip().startswith("!") or is_edit(event):
            return
        age = int(time.time() * 1000) - int(getattr(event, "server_timestamp", 0) or 0)
        # Reactions are never encrypted (Element and matrix-nio send them in the clear, the
        # relation must be readable to the server): a claim only says who is going.
        plain_ok = isinstance(event, ReactionEvent)
        if age > MAX_COMMAND_AGE_MS or not (event.decrypted or plain_ok):
            return
        try:
            self.commands.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("responder command queue full: dropped")

    async def run_commands(self) -> None:
        while True:
            event = await self.commands.get()
            try:
                await self.handle_command(event)
            except Exception as exc:  # one bad command must not stop the room
                log.error("responder command not handled: %s", type(exc).__name__)

    async def handle_command(self, event: RoomMessageText | ReactionEvent) -> None:
        if isinstance(event, ReactionEvent):
            await self._claim_by_reaction(event)
            return
        word, *args = event.body.strip()[1:].split(maxsplit=2) or [""]
        word = word.lower()
        root = thread_root(event) or event.event_id
        room = self.room_id
        if word in CLAIM_WORDS or word in ANSWER_WORDS:
            # "!confirm ID" names a report (a moderator's confirm) unless ID is a request's
            report_form = (word in ACTIONS or word in ALIASES) and bool(args)
            request = await (self._named(args) if report_form else self._request_of(event, args))
            in_a_thread = not args and thread_root(event) is not None
            if request is not None or in_a_thread or (word not in ACTIONS and word not in ALIASES):
                await self._verification(event, word, args, request, root)
                return
        action = ACTIONS.get(ALIASES.get(word, word))
        if action is None:
            if word in ("help", "ayuda"):
                usage = self._t("responders_usage") + "\n" + self._t("verify_usage")
                await self._answer(room, root, event.event_id, usage)
            return
        if await self._level(room, event.sender) < self.moderator_level:
            log.info("responder command refused: not a moderator")
            await self._answer(
                room, root, event.event_id, self.node.text("responders_not_allowed", self.lang)
            )
            return
        report_id = args[0] if args else ""
        if not report_id:
            await self._answer(room, root, event.event_id, self._t("responders_usage"))
            return
        result: PublicReport | Unavailable | None = None
        if REPORT_ID.fullmatch(report_id):
            result = await self.node.moderate(report_id, action)
        if result is None:
            shown = report_id if REPORT_ID.fullmatch(report_id) else "…"
            text = self.node.text("responders_unknown_id", self.lang, id=shown)
        elif isinstance(result, Unavailable):
            text = self.node.text("responders_unavailable", self.lang, seconds=result.retry_after_s)
        else:
            text = self.node.text(
                "responders_moderated",
                self.lang,
                id=result.id,
                type=self.node.text(result.type, self.lang),
                area=result.area,
                status=self.node.text(result.status, self.lang),
            )
        log.info("responder command %s: %s", action.value, type(result).__name__)
        await self._answer(room, root, event.event_id, text)

    # -- verifier dispatch --------------------------------------------------------------

    async def _claim_by_reaction(self, event: ReactionEvent) -> None:
        """A claim reaction on a notice's first post: a verifier's is `!claim` without an
        ETA, answered in the thread; anyone else's, or one on another post, is left alone."""
        request = await self.node.verification_for_thread(event.reacts_to)
        if request is None:
            return
        level = await self._level(self.room_id, event.sender)
        if level < self.verifier_level and event.sender not in self.verifiers:
            return
        await self._verification(event, "claim", [], request, event.reacts_to, level)

    async def _request_of(self, event: RoomMessageText, args: list[str]) -> str | None:
        """The open verification a command is about: the thread's, or the id it names."""
        root = thread_root(event)
        if root is not None:
            found = await self.node.verification_for_thread(root)
            if found is not None:
                return found
        return await self._named(args)

    async def _named(self, args: list[str]) -> str | None:
        """The open verification whose id is the command's first word after the verb."""
        for arg in args[:1]:
            if REPORT_ID.fullmatch(arg) and not ETA.fullmatch(arg):
                requests = {r.notice_id for r in await self.node.verification_requests()}
                if arg in requests:
                    return arg
        return None

    async def _verification(
        self,
        event: RoomMessageText | ReactionEvent,
        word: str,
        args: list[str],
        request: str | None,
        root: str,
        level: int | None = None,  # the sender's, when the caller has just read it
    ) -> None:
        room = self.room_id
        # A reaction's answer replies to the post it reacted to (a reply to a reaction
        # is not something clients show).
        asked = event.reacts_to if isinstance(event, ReactionEvent) else event.event_id
        if level is None:
            level = await self._level(room, event.sender)
        # The configured list counts too: the sender is in the room (the event came from it).
        allowed = level >= self.verifier_level or event.sender in self.verifiers
        if not allowed:
            log.info("verification command refused: not a verifier")
            await self._answer(room, root, asked, self._t("verify_not_allowed"))
            return
        if request is None:
            await self._answer(room, root, asked, self._t("verify_not_open"))
            return
        root = await self.node.notice_root(request) or root  # answers go to the notice's thread
        if word in CLAIM_WORDS:
            eta = next((int(m.group(1)) for a in args if (m := ETA.fullmatch(a))), None)
            claimed = await self.node.claim_verification(request, event.sender, eta)
            if claimed is None:
                text = self._t("verify_not_open")
            else:
                key = "verify_refused_taken" if claimed.taken else "verify_taken"
                eta_given = claimed.claim.eta is not None
                text = self._t(key + ("" if eta_given else "_no_eta"), eta=claimed.claim.eta)
            log.info("verification claim: %s", "taken" if claimed and claimed.taken else "ok")
            await self._answer(room, root, asked, text)
            return
        answer = ANSWER_WORDS[word]
        claimer = None if level >= self.moderator_level else event.sender
        result = await self.node.answer_verification(request, answer, claimer)
        if isinstance(result, Unavailable):
            text = self.node.text("responders_unavailable", self.lang, seconds=result.retry_after_s)
        elif result == Outcome.DONE:
            text = self._t(f"verify_{answer.value}")
        else:
            text = self._t(f"verify_{result.value}")
        log.info(
            "verification answer %s: %s", answer.value, getattr(result, "value", "unavailable")
        )
        await self._answer(room, root, asked, text)

    def _t(self, key: str, **params: object) -> str:
        return self.node.text(key, self.lang, **params)

    async def _level(self, room: str, user_id: str) -> int:
        """The sender's level as the homeserver has it now; 0 (refused) if it cannot say."""
        try:
            return await self.bot.current_power_level(room, user_id)
        except (BotError, TimeoutError) as exc:
            log.warning("power level not read (%s): command refused", type(exc).__name__)
            return 0

    async def _answer(self, room: str, root: str, in_reply_to: str, text: str) -> None:
        content = in_thread({"msgtype": "m.notice", "body": text}, root, in_reply_to)
        try:
            await self.bot.send_alert(room, content, "m.room.message")
            self.answered += 1
        except (BotError, TimeoutError) as exc:
            log.warning("responder answer not sent: %s", type(exc).__name__)


def claim_reaction(key: str) -> bool:
    """Whether a reaction's key claims a verification (👍🏽 and 🏃‍♀️ are 👍 and 🏃)."""
    return REACTION_MODIFIERS.sub("", key or "") in CLAIM_REACTIONS
