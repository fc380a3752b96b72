"""The attacks, and the scenarios that put them on an honest day.

Rules kept here:
- Pure and seeded, like bench/accuracy/world.py: an attack only appends to a
  World (its Fake records, its reports and follow-ups, any true Event it is
  dropped on); the runner plays them through the node.
- Every scenario is an honest day (world.honest_world) plus one kind of
  attack, repeated a few times a day at waking hours, so a scenario's
  figures show what that attack does on top of an ordinary day.
- Attackers use what anyone has: fresh addresses (a botnet has thousands),
  the public map (to aim follow-ups), the report form. Never a member's
  account or a verifier.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.accuracy import texts
from bench.accuracy.world import (
    DAY,
    Fake,
    FollowUps,
    Places,
    Report,
    World,
    add_event,
    honest_draft,
    honest_world,
)
from node.gazetteer import Area
from node.outcome import ReportDraft
from scoring.model import FollowUpKind

FAKE_TAIL = timedelta(hours=2)  # a fake "lasts" this long after its last report (for hit counts)
ATTACK_TYPES = (("raid", "checkpoint", "patrol", "vehicle"), (40, 35, 15, 10))  # what scares most


def _when(rng: random.Random, day: datetime) -> datetime:
    """An attack starts at waking hours (06:00-22:00)."""
    return day + timedelta(hours=rng.uniform(6, 22))


def _type(rng: random.Random) -> str:
    return rng.choices(*ATTACK_TYPES)[0]


def _lang(rng: random.Random) -> str:
    return "es" if rng.random() < 0.5 else "en"


def _fake(world: World, attack: str, report_type: str, area: Area, times: list[datetime]) -> Fake:
    fake = Fake(
        f"F{len(world.fakes) + 1}", attack, report_type, area.id, min(times), max(times) + FAKE_TAIL
    )
    world.fakes.append(fake)
    return fake


def _bots(
    world: World,
    rng: random.Random,
    attack: str,
    report_type: str,
    area: Area,
    times: list[datetime],
    text: Callable[[], str],
    lang: str,
) -> Fake:
    """One report per fresh address at each of `times`, all naming the area the same way."""
    fake = _fake(world, attack, report_type, area, times)
    for at in times:
        body = ReportDraft(
            type=texts.TYPE_WORD[lang][report_type], area=area.name, description=text()
        )
        world.actions.append(Report(at, world.person(), body, fake.id))
    return fake


def copy_paste(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: one text pasted from 6-15 addresses within 5-30 min, each lightly edited."""
    for _ in range(3):
        report_type, area, t0, lang = _type(rng), places.pick(rng), _when(rng, day), _lang(rng)
        base = texts.long_honest(rng, report_type, lang)
        span = timedelta(minutes=rng.uniform(5, 30))
        times = [t0] + [t0 + span * rng.random() for _ in range(rng.randint(5, 14))]
        edit = lambda base=base: texts.light_edit(rng, base)  # noqa: E731
        _bots(world, rng, "copy_paste", report_type, area, times, edit, lang)


def _template(rng: random.Random, report_type: str, area: Area) -> Callable[[], str]:
    family = rng.randrange(len(texts.TEMPLATES["en"]))
    return lambda: texts.templated(rng, report_type, area.name, _lang(rng), family)


def botnet_fast(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: 10-25 bots with one templated EN/ES text within 2-8 min."""
    for _ in range(3):
        report_type, area, t0 = _type(rng), places.pick(rng), _when(rng, day)
        span = timedelta(minutes=rng.uniform(2, 8))
        times = [t0] + [t0 + span * rng.random() for _ in range(rng.randint(9, 24))]
        text = _template(rng, report_type, area)
        _bots(world, rng, "botnet_fast", report_type, area, times, text, _lang(rng))


def botnet_paced(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: 8-14 bots, one every 4-7 min (under the 10-minute burst window)."""
    for _ in range(3):
        report_type, area, at = _type(rng), places.pick(rng), _when(rng, day)
        times = []
        for _ in range(rng.randint(8, 14)):
            times.append(at)
            at += timedelta(minutes=rng.uniform(4, 7))
        text = _template(rng, report_type, area)
        _bots(world, rng, "botnet_paced", report_type, area, times, text, _lang(rng))


def _slow_fake(
    world: World, rng: random.Random, places: Places, day: datetime, attack: str, sources: int
) -> tuple[Fake, Area]:
    """`sources` people over 30-90 min, each with their own plausible text and wording."""
    report_type, area, t0 = _type(rng), places.pick(rng), _when(rng, day)
    span = timedelta(minutes=rng.uniform(30, 90))
    times = sorted([t0] + [t0 + span * rng.random() for _ in range(sources - 1)])
    fake = _fake(world, attack, report_type, area, times)
    for at in times:
        world.actions.append(
            Report(at, world.person(), honest_draft(rng, report_type, area), fake.id)
        )
    return fake, area


def slow_fakes(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """6 a day: 3-5 coordinated sources over 30-90 min, varied plausible text."""
    for _ in range(6):
        _slow_fake(world, rng, places, day, "slow_fakes", rng.randint(3, 5))


def spammer(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: one source tries 20-40 reports over 60-120 min (the rate limit takes most)."""
    for _ in range(3):
        report_type, area, t0 = _type(rng), places.pick(rng), _when(rng, day)
        n = rng.randint(20, 40)
        span = timedelta(minutes=rng.uniform(60, 120))
        times = sorted(t0 + span * (i + rng.random()) / n for i in range(n))
        fake = _fake(world, "spammer", report_type, area, times)
        who = world.person()
        for at in times:
            world.actions.append(Report(at, who, honest_draft(rng, report_type, area), fake.id))


def other_type_flood(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """2 a day: a true raid (5-10 witnesses), and 20-30 'vehicle' bots in its area soon after."""
    for _ in range(2):
        area, t0 = places.pick(rng), _when(rng, day)
        add_event(world, rng, "raid", area, t0, rng.randint(5, 10), tag="other_type_flood")
        at = t0 + timedelta(minutes=rng.uniform(3, 15))
        span = timedelta(minutes=rng.uniform(10, 20))
        times = [at] + [at + span * rng.random() for _ in range(rng.randint(19, 29))]
        text = _template(rng, "vehicle", area)
        _bots(world, rng, "other_type_flood", "vehicle", area, times, text, _lang(rng))


def gone_sweep(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: a true checkpoint or raid (5-10 witnesses, 2-4 h) swept by 'gone' from fresh
    addresses: two per thing on the map, from 15-45 min after it starts, again every
    10-20 min (a script watching the map) until it really ends."""
    for _ in range(3):
        report_type = rng.choice(("checkpoint", "raid"))
        area, t0 = places.pick(rng), _when(rng, day)
        duration = timedelta(minutes=rng.uniform(120, 240))
        event = add_event(
            world, rng, report_type, area, t0, rng.randint(5, 10), duration, tag="gone_sweep"
        )
        at = t0 + timedelta(minutes=rng.uniform(15, 45))
        world.sweeps[event.id] = at
        world.actions.append(
            FollowUps(
                at,
                FollowUpKind.GONE,
                report_type,
                area.id,
                event.id,
                per_target=2,
                every_target=True,
                repeat=(10, 20),
                until=event.end,
            )
        )


def still_there(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    """3 a day: a slow fake (3-4 sources over 30-90 min) kept alive by 'still there' from
    fresh addresses, one per thing on the map every 30-60 min, for 8-12 h."""
    for _ in range(3):
        fake, area = _slow_fake(world, rng, places, day, "still_there", rng.randint(3, 4))
        until = fake.start + timedelta(hours=rng.uniform(8, 12))
        world.fakes[-1] = Fake(fake.id, fake.attack, fake.type, fake.area_id, fake.start, until)
        at = fake.end - FAKE_TAIL + timedelta(minutes=rng.uniform(20, 40))
        world.actions.append(
            FollowUps(
                at,
                FollowUpKind.STILL_THERE,
                fake.type,
                area.id,
                fake.id,
                every_target=True,
                repeat=(30, 60),
                until=until,
            )
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    doc: str
    attack: Callable[[World, random.Random, Places, datetime], None] | None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("honest", "honest days only: events, witnesses, false alarms", None),
        Scenario("copy_paste", copy_paste.__doc__ or "", copy_paste),
        Scenario("botnet_fast", botnet_fast.__doc__ or "", botnet_fast),
        Scenario("botnet_paced", botnet_paced.__doc__ or "", botnet_paced),
        Scenario("slow_fakes", slow_fakes.__doc__ or "", slow_fakes),
        Scenario("spammer", spammer.__doc__ or "", spammer),
        Scenario("other_type_flood", other_type_flood.__doc__ or "", other_type_flood),
        Scenario("gone_sweep", gone_sweep.__doc__ or "", gone_sweep),
        Scenario("still_there", still_there.__doc__ or "", still_there),
    )
}


def build(scenario: str, seed: int, days: int = 1) -> World:
    """The world of one scenario and seed: its honest days, then its attacks."""
    world, rng, places = honest_world(scenario, seed, days)
    attack = SCENARIOS[scenario].attack
    if attack is not None:
        for n in range(days):
            attack(world, rng, places, world.start + n * DAY)
    world.actions.sort(key=lambda a: a.at)
    return world
