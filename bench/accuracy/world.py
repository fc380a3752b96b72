"""The ground truth of one simulated chapter-day, and the honest people in it.

Rules kept here:
- Pure and seeded: a World is built from (scenario, seed) with random.Random
  only; building it twice gives the same world, and nothing here touches the
  node. bench/accuracy/attacks.py adds the attacks to a world the same way.
- The truth is explicit: every true Event (type, area, start, end, number of
  witnesses), every Fake an attack invents and every honest FalseAlarm (a
  real-looking report of nothing) is recorded, so bench/accuracy/metrics.py
  can match the node's alerts against it.
- Every simulated person is one SourceRef (one address on the web, one
  Matrix ID in the member room); a person who reports twice uses the same one.
- Every parameter of the honest world sits in PARAMS (one table, each with
  its reason), so a reader can see what world the figures come from.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from node.gazetteer import DEFAULT_PATH, Area, Gazetteer
from node.outcome import ReportDraft, SourceRef
from scoring.model import Channel, FollowUpKind

TYPES = ("vehicle", "patrol", "checkpoint", "raid")
DAY = timedelta(days=1)
DAY_START = datetime(2026, 11, 17, tzinfo=UTC)  # a Tuesday; every simulated day starts here
NEAR_KM = 5.0  # "a gazetteer neighbour": within the scorer's default radius_km
WITNESS_CLASSES = ("1", "2-3", "5-10", "20+")  # the classes (4 witnesses never occur)


@dataclass(frozen=True)
class Params:
    """The honest world. Each value and its reason."""

    # Events a day, by type (a busy chapter in a surge: about 13 a day, vehicles and
    # patrols most; rapid-response hotlines see a few raids and checkpoints a day).
    events_per_day: tuple[tuple[str, float], ...] = (
        ("vehicle", 5.0),
        ("patrol", 4.0),
        ("checkpoint", 2.0),
        ("raid", 2.0),
    )
    # P(witness class) by type, classes as WITNESS_CLASSES: a passing van is seen by one
    # or two people; a checkpoint by every driver; a workplace raid by a crowd.
    witness_classes: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
        ("vehicle", (0.55, 0.35, 0.10, 0.0)),
        ("patrol", (0.45, 0.35, 0.18, 0.02)),
        ("checkpoint", (0.15, 0.35, 0.35, 0.15)),
        ("raid", (0.25, 0.30, 0.30, 0.15)),
    )
    # How long each type really lasts, minutes (low, high): a van drives through, a
    # checkpoint stands for a shift, a workplace raid takes hours.
    duration_min: tuple[tuple[str, tuple[int, int]], ...] = (
        ("vehicle", (5, 40)),
        ("patrol", (20, 120)),
        ("checkpoint", (90, 300)),
        ("raid", (45, 240)),
    )
    # Reporting delay after seeing it: lognormal, median minutes and sigma (people
    # stop, get safe, find the page): a decaying burst of minutes.
    delay_median_min: float = 5.0
    delay_sigma: float = 0.9
    # Raid witnesses see it as it starts (exponential, mean minutes); others see it
    # any time while it lasts (drivers passing a checkpoint, a van going round).
    raid_seen_mean_min: float = 12.0
    wrong_area: float = 0.12  # names a neighbouring area (within NEAR_KM) instead
    wrong_type: float = 0.06  # calls it the type it is most often mistaken for
    member: float = 0.15  # a vetted member, reporting in the member room
    description: float = 0.75  # writes a description at all
    spanish: float = 0.5  # writes in Spanish (the chapter's reporters, half and half)
    highway: float = 0.2  # names a highway, when the area has one
    typo: float = 0.05  # mistypes the area name (the gazetteer's close matching copes)
    repeat: float = 0.05  # reports the same checkpoint or raid again, 30-90 min later
    # Follow-ups by locals who see the map: "still there" now and then during a long
    # event, "gone" once it ended (one local, sometimes two).
    still_there_per_hour: float = 0.35
    gone_first: float = 0.5
    gone_second: float = 0.25
    # Honest false alarms: a tow truck, a police car, a utility crew taken for agents.
    false_alarms_per_day: float = 4.0
    false_alarm_witnesses: tuple[float, float, float] = (0.75, 0.20, 0.05)  # 1, 2 or 3
    # How far after the day a simulation runs, so the day's long events can end.
    tail: timedelta = timedelta(hours=6)

    def rate(self, report_type: str) -> float:
        return dict(self.events_per_day)[report_type]


PARAMS = Params()

# What each type is mistaken for (wrong_type).
CONFUSED_WITH = {
    "vehicle": "patrol",
    "patrol": "vehicle",
    "checkpoint": "patrol",
    "raid": "checkpoint",
}
# Hour-of-day weights of event starts (UTC is the chapter's local time here).
HOUR_WEIGHTS = {
    "raid": [0.2] * 4 + [3.0] * 5 + [1.0] * 8 + [0.2] * 7,  # dawn raids
    "checkpoint": [0.3] * 5 + [2.0] * 5 + [1.0] * 5 + [2.0] * 4 + [0.3] * 5,  # commutes
    "vehicle": [0.2] * 6 + [1.0] * 16 + [0.2] * 2,
    "patrol": [0.2] * 6 + [1.0] * 16 + [0.2] * 2,
}


@dataclass(frozen=True)
class Event:
    """Something that really happened: type, area, from start to end."""

    id: str
    type: str
    area_id: str
    start: datetime
    end: datetime
    witnesses: int
    tag: str = "honest"  # honest, or the attack that was dropped on it

    @property
    def witness_class(self) -> str:
        return witness_class(self.witnesses)


@dataclass(frozen=True)
class Fake:
    """What an attack pretends: type, area, from its first report to its last plus expiry."""

    id: str
    attack: str
    type: str
    area_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class FalseAlarm:
    """An honest report of nothing (a tow truck taken for ICE)."""

    id: str
    type: str
    area_id: str
    at: datetime
    witnesses: int


@dataclass(frozen=True)
class Report:
    """One person submits one report at `at` (minute precision)."""

    at: datetime
    who: SourceRef
    draft: ReportDraft
    about: str  # the Event, Fake or FalseAlarm id it is about


@dataclass(frozen=True)
class FollowUps:
    """At `at`, fresh people send `kind` to what the public sees of (type, area).

    per_target follow-ups to every target (every_target) or to the first one,
    each from a fresh source; repeated every `repeat` minutes (low, high) until
    `until` while there is something to follow up.
    """

    at: datetime
    kind: FollowUpKind
    type: str
    area_id: str
    about: str
    per_target: int = 1
    every_target: bool = False
    repeat: tuple[float, float] | None = None
    until: datetime | None = None
    # The chance a follow-up comes from a vetted member (in the member room): locals are
    # members as often as witnesses are; an attacker's fresh sources never are.
    member_share: float = 0.0


Action = Report | FollowUps


@dataclass
class World:
    scenario: str
    seed: int
    start: datetime
    end: datetime  # the simulation runs until here
    days: float  # days of events (false alerts are per these days)
    gazetteer: Gazetteer
    events: list[Event] = field(default_factory=list)
    fakes: list[Fake] = field(default_factory=list)
    false_alarms: list[FalseAlarm] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    sweeps: dict[str, datetime] = field(default_factory=dict)  # event id -> first 'gone' sweep
    _people: int = 0

    def person(self, channel: Channel = Channel.WEB, prefix: str = "p") -> SourceRef:
        """A new person: a fresh address (web) or Matrix ID (member)."""
        self._people += 1
        if channel == Channel.MEMBER:
            return SourceRef(channel, f"@{prefix}{self._people}:chapter.example".encode())
        n = self._people
        return SourceRef(channel, f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}".encode())

    def area(self, area_id: str) -> Area:
        return self.gazetteer.by_id[area_id]

    def near(self, area_id: str) -> tuple[str, ...]:
        return self.gazetteer.nearby(area_id, NEAR_KM)


_GAZETTEER: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    global _GAZETTEER
    if _GAZETTEER is None:
        _GAZETTEER = Gazetteer.load(DEFAULT_PATH)
    return _GAZETTEER


def witness_class(n: int) -> str:
    if n <= 1:
        return "1"
    if n <= 3:
        return "2-3"
    if n <= 10:
        return "5-10"
    return "20+"


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def lognormal_min(rng: random.Random, median: float, sigma: float) -> timedelta:
    return timedelta(minutes=median * math.exp(rng.gauss(0.0, sigma)))


class Places:
    """Where things happen: a few busy areas and a long tail (weight 1/rank^0.8), per seed."""

    def __init__(self, rng: random.Random, gaz: Gazetteer) -> None:
        self.areas = list(gaz.areas)
        rng.shuffle(self.areas)
        self.weights = [1 / (rank + 1) ** 0.8 for rank in range(len(self.areas))]

    def pick(self, rng: random.Random) -> Area:
        return rng.choices(self.areas, self.weights)[0]


def start_time(rng: random.Random, day: datetime, report_type: str) -> datetime:
    """When an event of this type starts on the day beginning at `day`."""
    hour = rng.choices(range(24), HOUR_WEIGHTS[report_type])[0]
    return day + timedelta(hours=hour, minutes=rng.uniform(0, 60))


def area_text(rng: random.Random, area: Area) -> str:
    """How a reporter types an area: its name, an alias, lower case, now and then a typo."""
    roll = rng.random()
    if roll < 0.25 and area.aliases:
        text = rng.choice(area.aliases)
    elif roll < 0.45:
        text = area.name.lower()
    else:
        text = area.name
    if rng.random() < PARAMS.typo and len(text) > 6:
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1 :]
    return text


def draft(
    rng: random.Random, report_type: str, area: Area, description: str | None, lang: str
) -> ReportDraft:
    from bench.accuracy import texts

    highway = None
    if area.highways and rng.random() < PARAMS.highway:
        highway = rng.choice(area.highways)
    return ReportDraft(
        type=texts.TYPE_WORD[lang][report_type],
        area=area_text(rng, area),
        highway=highway,
        description=description,
    )


def honest_draft(rng: random.Random, report_type: str, area: Area) -> ReportDraft:
    from bench.accuracy import texts

    lang = "es" if rng.random() < PARAMS.spanish else "en"
    text = texts.honest(rng, report_type, lang) if rng.random() < PARAMS.description else None
    return draft(rng, report_type, area, text, lang)


def witness_count(rng: random.Random, report_type: str) -> int:
    probs = dict(PARAMS.witness_classes)[report_type]
    cls = rng.choices(WITNESS_CLASSES, probs)[0]
    return {"1": 1, "2-3": rng.randint(2, 3), "5-10": rng.randint(5, 10)}.get(
        cls, rng.randint(20, 35)
    )


def add_event(
    world: World,
    rng: random.Random,
    report_type: str,
    area: Area,
    start: datetime,
    witnesses: int,
    duration: timedelta | None = None,
    tag: str = "honest",
) -> Event:
    """A true event and its honest witnesses' reports and follow-ups."""
    if duration is None:
        low, high = dict(PARAMS.duration_min)[report_type]
        duration = timedelta(minutes=rng.uniform(low, high))
    event = Event(
        f"E{len(world.events) + 1}", report_type, area.id, start, start + duration, witnesses, tag
    )
    world.events.append(event)
    neighbours = [a for a in world.near(area.id) if a != area.id]
    for _ in range(witnesses):
        if report_type == "raid":
            seen = start + timedelta(minutes=rng.expovariate(1 / PARAMS.raid_seen_mean_min))
            seen = min(seen, event.end)
        else:
            seen = start + duration * rng.random()
        at = seen + lognormal_min(rng, PARAMS.delay_median_min, PARAMS.delay_sigma)
        named = area
        if neighbours and rng.random() < PARAMS.wrong_area:
            named = world.area(rng.choice(neighbours))
        said = CONFUSED_WITH[report_type] if rng.random() < PARAMS.wrong_type else report_type
        channel = Channel.MEMBER if rng.random() < PARAMS.member else Channel.WEB
        who = world.person(channel)
        world.actions.append(Report(at, who, honest_draft(rng, said, named), event.id))
        if report_type in ("checkpoint", "raid") and rng.random() < PARAMS.repeat:
            again = at + timedelta(minutes=rng.uniform(30, 90))
            world.actions.append(Report(again, who, honest_draft(rng, said, named), event.id))
    _honest_follow_ups(world, rng, event)
    return event


def _honest_follow_ups(world: World, rng: random.Random, event: Event) -> None:
    if event.witnesses < 2:
        return
    if event.type in ("checkpoint", "raid", "patrol"):
        at = event.start + timedelta(minutes=30)
        while at < event.end:
            if rng.random() < PARAMS.still_there_per_hour:
                world.actions.append(
                    FollowUps(
                        at,
                        FollowUpKind.STILL_THERE,
                        event.type,
                        event.area_id,
                        event.id,
                        member_share=PARAMS.member,
                    )
                )
            at += timedelta(minutes=60)
    for p in (PARAMS.gone_first, PARAMS.gone_second):
        if rng.random() < p:
            at = event.end + timedelta(minutes=rng.uniform(3, 30))
            world.actions.append(
                FollowUps(
                    at,
                    FollowUpKind.GONE,
                    event.type,
                    event.area_id,
                    event.id,
                    member_share=PARAMS.member,
                )
            )


def add_false_alarm(world: World, rng: random.Random, places: Places, day: datetime) -> None:
    report_type = rng.choices(TYPES, (40, 30, 15, 15))[0]
    area = places.pick(rng)
    at = start_time(rng, day, "vehicle")
    n = rng.choices((1, 2, 3), PARAMS.false_alarm_witnesses)[0]
    alarm = FalseAlarm(f"A{len(world.false_alarms) + 1}", report_type, area.id, at, n)
    world.false_alarms.append(alarm)
    for i in range(n):
        when = at + timedelta(minutes=0 if i == 0 else rng.uniform(3, 25))
        channel = Channel.MEMBER if rng.random() < PARAMS.member else Channel.WEB
        world.actions.append(
            Report(when, world.person(channel), honest_draft(rng, report_type, area), alarm.id)
        )


def honest_world(scenario: str, seed: int, days: int = 1) -> tuple[World, random.Random, Places]:
    """A chapter's honest days: events, witnesses, follow-ups, false alarms."""
    rng = random.Random(f"{scenario}/{seed}/honest")
    gaz = gazetteer()
    world = World(scenario, seed, DAY_START, DAY_START + days * DAY + PARAMS.tail, days, gaz)
    places = Places(random.Random(f"places/{seed}"), gaz)
    for n in range(days):
        day = world.start + n * DAY
        for report_type in TYPES:
            for _ in range(poisson(rng, PARAMS.rate(report_type))):
                start = start_time(rng, day, report_type)
                witnesses = witness_count(rng, report_type)
                add_event(world, rng, report_type, places.pick(rng), start, witnesses)
        for _ in range(poisson(rng, PARAMS.false_alarms_per_day)):
            add_false_alarm(world, rng, places, day)
    return world, random.Random(f"{scenario}/{seed}/attack"), places


@dataclass(frozen=True)
class VerifierParams:
    """The chapter's verifiers: rapid responders who go to look. Each value and its reason."""

    # On-call shifts (hours of day, start inclusive, end exclusive): three volunteers
    # cover dawn raids to evening; nobody is on call from 23:00 to 05:00.
    shifts: tuple[tuple[int, int], ...] = ((5, 13), (11, 19), (17, 23))
    accept: float = 0.8  # an on-call verifier who is free answers the page
    respond_min: tuple[float, float] = (1.0, 8.0)  # from the page to "on my way"
    travel_median_min: float = 15.0  # lognormal travel time (a county's distances)
    travel_sigma: float = 0.5
    travel_bounds_min: tuple[float, float] = (5.0, 60.0)
    # Cannot get close, cannot tell: says "unable" whatever is there.
    unable: float = 0.15
    busy_after_min: float = 30.0  # looking, talking to people, before the next page


VERIFIERS = VerifierParams()
