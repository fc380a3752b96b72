"""Play one World through a real node on a fake clock, and record what it did.

Rules kept here:
- One fresh chapter (data dir, database, keys) per World; the node is opened
  with the simulator's clock, so every report, follow-up and verdict happens
  at its simulated minute, and nothing sleeps.
- Everything goes through the Chapter adapter (bench/accuracy/observe.py):
  reports and follow-ups through the node's real intake path, verifiers'
  answers through the node's moderation, the node's scheduled jobs every 10
  simulated minutes as `vecinos run` schedules them.
- After every call of the node the adapter is asked what changed (the
  responder notices and shared alerts the node queued, verification
  requests) and what it shows at 'likely', so an alert's time is that of the
  action that caused it, to the minute; between calls, what is shown is
  looked at again whenever the adapter's expiry_step passed (TICK apart).
- Verifiers are played here, with the truth: a verifier who reaches the area
  confirms when a true event of that type is there at arrival, and answers
  "false alarm" when nothing is (fake, or already over), or "unable".
"""

from __future__ import annotations

import heapq
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from bench.accuracy import baselines, metrics
from bench.accuracy.baselines import Episode, StreamReport
from bench.accuracy.observe import (
    Answer,
    Chapter,
    NoticeChange,
    ShareChange,
    VerifyRequest,
    open_chapter,
)
from bench.accuracy.world import VERIFIERS, Event, FollowUps, Report, World, lognormal_min
from node.intake import TYPE_WORDS
from scoring.model import Channel

TICK = timedelta(minutes=1)  # the simulator's step when nothing happens: the node's per-minute job
SCHEDULED = timedelta(minutes=10)  # [retention] purge_every_minutes, the shipped default
LIKELY = "likely"


class SimClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Verifier:
    shift: tuple[int, int]
    free_at: datetime

    def on_call(self, t: datetime) -> bool:
        return self.shift[0] <= t.hour < self.shift[1]


@dataclass(order=True)
class _Item:
    at: datetime
    seq: int
    what: object = field(compare=False)


@dataclass(frozen=True)
class _Tick:
    scheduled: bool


@dataclass(frozen=True)
class _Claim:
    request: VerifyRequest
    eta: timedelta


@dataclass(frozen=True)
class _Arrive:
    request: VerifyRequest
    log: metrics.Verification


@dataclass
class Record:
    """What the node did with one World."""

    stream: list[StreamReport] = field(default_factory=list)
    likely: list[Episode] = field(default_factory=list)
    notice_changes: list[tuple[datetime, NoticeChange]] = field(default_factory=list)
    share_changes: list[tuple[datetime, ShareChange]] = field(default_factory=list)
    verifications: list[metrics.Verification] = field(default_factory=list)
    submitted: int = 0
    accepted: int = 0
    rate_limited: int = 0
    review_items: int = 0


class Runner:
    def __init__(self, world: World, chapter: Chapter, clock: SimClock) -> None:
        self.world = world
        self.chapter = chapter
        self.clock = clock
        self.rng = random.Random(f"{world.scenario}/{world.seed}/run")
        # Who follows up: its own stream, so the rest of the world plays out as before.
        self.follow_up_rng = random.Random(f"{world.scenario}/{world.seed}/follow-ups")
        self.queue: list[_Item] = []
        self.seq = 0
        self.record = Record()
        self.open_likely: dict[tuple[str, str], datetime] = {}
        self.looked_at = world.start
        self.verifiers = [Verifier(s, world.start) for s in VERIFIERS.shifts]

    def push(self, at: datetime, what: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, _Item(at, self.seq, what))

    async def run(self) -> Record:
        for action in self.world.actions:
            self.push(action.at, action)
        t, n = self.world.start, 0
        while t <= self.world.end:
            self.push(t, _Tick(scheduled=n % (SCHEDULED // TICK) == 0))
            t, n = t + TICK, n + 1
        while self.queue:
            item = heapq.heappop(self.queue)
            if item.at > self.world.end:
                break
            self.clock.now = item.at
            touched = await self.handle(item.what)
            await self.observe(touched)
        self.clock.now = self.world.end
        for key, start in self.open_likely.items():
            self.record.likely.append(self._likely(key, start, self.world.end))
        return self.record

    async def handle(self, what: object) -> bool:
        """Do one thing; whether the node was called (and may have queued something)."""
        if isinstance(what, Report):
            await self.report(what)
        elif isinstance(what, FollowUps):
            await self.follow_ups(what)
        elif isinstance(what, _Tick):
            acted = await self.chapter.every_minute()
            if not what.scheduled:
                return acted  # else time passed: only what is shown may change (expiry)
            await self.chapter.scheduled()
        elif isinstance(what, _Claim):
            await self.chapter.claim(what.request, what.eta / timedelta(minutes=1))
        elif isinstance(what, _Arrive):
            await self.arrive(what)
        return True

    async def report(self, report: Report) -> None:
        self.record.submitted += 1
        done = await self.chapter.submit(report.draft, report.who)
        if not done.accepted:
            self.record.rate_limited += done.rate_limited
            return
        self.record.accepted += 1
        self.record.review_items += done.review
        draft = report.draft
        self.record.stream.append(
            StreamReport(
                report.at,
                TYPE_WORDS[(draft.type or "").casefold()].value,
                self.world.gazetteer.match(draft.area or "").id,
                report.who.identity,
            )
        )

    async def follow_ups(self, f: FollowUps) -> None:
        targets = await self.chapter.targets(f.type, f.area_id)
        for target in targets if f.every_target else targets[:1]:
            for _ in range(f.per_target):
                member = self.follow_up_rng.random() < f.member_share
                who = self.world.person(Channel.MEMBER if member else Channel.WEB)
                await self.chapter.follow_up(target, f.kind, who)
        if f.repeat is not None and f.until is not None:
            at = f.at + timedelta(minutes=self.rng.uniform(*f.repeat))
            if at < f.until:
                self.push(at, replace(f, at=at))

    def _likely(self, key: tuple[str, str], start: datetime, end: datetime) -> Episode:
        report_type, area_id = key
        n = len(self.record.likely)
        return Episode(f"likely:{n}", report_type, area_id, start, end)

    async def observe(self, touched: bool) -> None:
        now = self.clock.now
        step = self.chapter.expiry_step
        if (
            not touched
            and (now - self.world.start) // step == (self.looked_at - self.world.start) // step
        ):
            return  # nothing called the node, and no expiry boundary passed
        self.looked_at = now
        if touched:
            notices, shares, requests = await self.chapter.changes()
            self.record.notice_changes += [(now, c) for c in notices]
            self.record.share_changes += [(now, c) for c in shares]
            for request in requests:
                self.dispatch(request)
        shown = {(s.type, s.area_id) for s in await self.chapter.shown(LIKELY)}
        for key in shown - self.open_likely.keys():
            self.open_likely[key] = now
        for key in self.open_likely.keys() - shown:
            self.record.likely.append(self._likely(key, self.open_likely.pop(key), now))

    def dispatch(self, request: VerifyRequest) -> None:
        """Page the on-call verifiers; the first free one who answers goes to look."""
        now = self.clock.now
        log = metrics.Verification(now, request.type, request.area_id)
        self.record.verifications.append(log)
        for v in self.verifiers:
            if not v.on_call(now) or v.free_at > now or self.rng.random() >= VERIFIERS.accept:
                continue
            low, high = VERIFIERS.travel_bounds_min
            travel = lognormal_min(self.rng, VERIFIERS.travel_median_min, VERIFIERS.travel_sigma)
            travel = min(max(travel, timedelta(minutes=low)), timedelta(minutes=high))
            respond = timedelta(minutes=self.rng.uniform(*VERIFIERS.respond_min))
            arrive = now + respond + travel
            v.free_at = arrive + timedelta(minutes=VERIFIERS.busy_after_min)
            self.push(now + respond, _Claim(request, travel))
            self.push(arrive, _Arrive(request, log))
            return

    async def arrive(self, a: _Arrive) -> None:
        now = self.clock.now
        request = a.request
        real = any(
            e.type == request.type
            and request.area_id in self.world.near(e.area_id)
            and e.start <= now <= e.end
            for e in self.world.events
        )
        if self.rng.random() < VERIFIERS.unable:
            answer = Answer.UNABLE
        else:
            answer = Answer.CONFIRM if real else Answer.FALSE_ALARM
        a.log.answer, a.log.answered_at, a.log.real = answer.value, now, real
        await self.chapter.answer(request, answer)


def _share_episodes(changes: list[tuple[datetime, ShareChange]], end: datetime) -> list[Episode]:
    """Each alert id as neighbours saw it: shown from each non-withdrawal row until the next
    row or its expiry, whichever comes first."""
    by_key: dict[str, list[tuple[datetime, ShareChange]]] = {}
    for at, change in changes:
        by_key.setdefault(change.key, []).append((at, change))
    out = []
    for key, rows in by_key.items():
        spans = []
        for i, (at, change) in enumerate(rows):
            if change.kind == "withdrawal" or not change.still_active:
                continue
            stop = min(rows[i + 1][0] if i + 1 < len(rows) else end, change.expires)
            if stop > at:
                if spans and spans[-1][1] == at:
                    spans[-1] = (spans[-1][0], stop)
                else:
                    spans.append((at, stop))
        if spans:
            first = rows[0][1]
            out.append(
                Episode(key, first.type, first.area_id, spans[0][0], spans[-1][1], tuple(spans))
            )
    return out


def _notice_episodes(changes: list[tuple[datetime, NoticeChange]], end: datetime) -> list[Episode]:
    opened: dict[str, tuple[datetime, NoticeChange]] = {}
    out = []
    for at, change in changes:
        if change.kind == "new":
            opened[change.key] = (at, change)
        elif change.kind == "all_clear" and change.key in opened:
            start, first = opened.pop(change.key)
            out.append(Episode(change.key, first.type, first.area_id, start, at))
    for key, (start, first) in opened.items():
        out.append(Episode(key, first.type, first.area_id, start, end))
    return out


def figures(world: World, record: Record, wall_s: float) -> metrics.Figures:
    """The day's figures: the node's three alert kinds and the baselines, against the truth."""
    episodes = {
        "likely": record.likely,
        "notice": _notice_episodes(record.notice_changes, world.end),
        "shared": _share_episodes(record.share_changes, world.end),
    }
    for name, rule in baselines.BASELINES.items():
        episodes[name] = rule(record.stream)
    fig = metrics.Figures(world.scenario, days=world.days, wall_s=wall_s, runs=1)
    for name, eps in episodes.items():
        fig.systems[name] = metrics.system_figures(
            eps, world.events, world.fakes, world.near, world.false_alarms
        )
    fig.review_items = record.review_items
    fig.submitted, fig.accepted = record.submitted, record.accepted
    fig.rate_limited = record.rate_limited
    fig.notices_downgraded, fig.notices = metrics.downgraded(
        [(at, c.key, c.kind, c.level) for at, c in record.notice_changes], LIKELY
    )
    fig.downgraded_after_false_alarm = metrics.downgraded_after_false_alarm(
        [(at, c.key, c.kind, c.level, c.area_id) for at, c in record.notice_changes],
        [
            (v.answered_at, v.area_id)
            for v in record.verifications
            if v.answer == "false_alarm" and v.answered_at is not None
        ],
        world.near,
        LIKELY,
    )
    for event in world.events:
        kept = metrics.kept(episodes["shared"], event, world.near)
        if kept is not None and event.id in world.sweeps:
            fig.kept_swept.append(kept)
        elif kept is not None and event.tag == "honest" and _like_swept(event):
            fig.kept_untouched.append(kept)
        if event.tag != "honest":
            tagged = fig.tagged.setdefault(event.tag, {})
            for name, eps in episodes.items():
                got = tagged.setdefault(name, [0, 0])
                got[0] += any(metrics.matches(ep, event, world.near) for ep in eps)
                got[1] += 1
    fig.verifications = record.verifications
    delays, already, never = metrics.answer_to_share(record.verifications, episodes["shared"])
    fig.answer_to_share_min = delays
    fig.answered_already_shared, fig.answered_never_shared = already, never
    return fig


def _like_swept(event: Event) -> bool:
    """An unswept event like those the gone_sweep attack sweeps (to compare with)."""
    return (
        event.type in ("checkpoint", "raid")
        and event.witnesses >= 5
        and event.end - event.start >= timedelta(hours=2)
    )


async def run_world(world: World, workdir: Path, adapter: str) -> metrics.Figures:
    """One World through a fresh chapter; its figures."""
    started = time.perf_counter()
    clock = SimClock(world.start)
    chapter = await open_chapter(workdir / f"{world.scenario}-{world.seed}", clock, adapter)
    try:
        runner = Runner(world, chapter, clock)
        record = await runner.run()
    finally:
        await chapter.close()
    return figures(world, record, time.perf_counter() - started)
