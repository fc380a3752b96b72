"""Fuzzing the federation receiver: >= 1,000 hostile events, none accepted, the bot alive.

Hypothesis generates events of every kind an attacker (or a broken peer)
can put into a federation room: JSON of any shape, alerts with a field of
the wrong type or missing or extra, forged and tampered signatures,
replays and stale seqs, expired and future alerts, oversized bodies, the
right alert in the wrong room or from the wrong sender, our own alert
coming back, and relays that are malformed, too deep, loops or from a
stranger.

1. In-process, for volume: each event goes straight into
   federation.receiver.Receiver over a real node (SQLite and PostgreSQL).
   After each one, exactly one `rejected_*` counter went up by one and no
   alert was stored. Afterwards a good alert is still accepted.
2. Through a real Synapse: a sample of the same generator is sent, end-to-end
   encrypted, by a second device of the neighbour's bot account (a leaked
   password, as in tests/federation/test_hostile.py) into the real room; B's
   running bot refuses every one, its handler never fails, and A's next real
   alert still gets through.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from network import connect, make_site
from proof_sizes import SIZES
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from test_hostile import Attacker

from federation.homeserver import Homeserver
from federation.receiver import Receiver
from federation.wire import (
    ALERT_EVENT_TYPE,
    MAX_ALERT_BYTES,
    RELAY_EVENT_TYPE,
    build_alert,
    build_relay,
    key_fingerprint,
    key_id,
    new_alert_id,
)
from node.keys import load_signing_key
from node.outcome import Neighbour
from node.service import open_node
from node.setup import KEYS_DIR, init_chapter
from tests.support import set_config

NEIGHBOUR = "vecinos-norte"
NEIGHBOUR_BOT = "@bot-norte:localhost"
ROOM = "!federation:localhost"
LEAKED_PASSWORD = "a leaked bot password"


@dataclass
class World:
    """What the generator needs to know: the neighbour's key and what was already accepted."""

    chapter: str  # the neighbour's chapter id (the sender's)
    key: Any  # the neighbour's real signing key
    own_chapter: str  # the receiving chapter's id
    now: datetime
    accepted: list[dict] = field(default_factory=list)  # alerts the receiver stored

    def alert(self, **over: Any) -> dict:
        fields: dict[str, Any] = {
            "type": "raid",
            "area": "Otay Mesa",
            "hour": self.now,
            "level": "likely",
            "confidence": 0.75,
            "reports": 4,
            "still_active": True,
            "expires": self.now + timedelta(hours=4),
            "alert_id": new_alert_id(),
            "seq": 1,
            "lat": 32.57,
            "lon": -116.97,
            "highway": None,
        }
        chapter = over.pop("chapter", self.chapter)
        key = over.pop("key", self.key)
        fields.update(over)
        return build_alert(chapter=chapter, signing_key=key, **fields)


# -- the generator -------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=15,
)
ALERT_KEYS = (
    "type", "area", "lat_e2", "lon_e2", "highway", "hour", "level", "confidence_pct",
    "reports", "still_active", "expires", "chapter", "alert_id", "seq", "signatures",
)  # fmt: skip


@dataclass(frozen=True)
class Event:
    kind: str
    event_type: str
    content: Any
    room: str = ROOM
    sender: str = NEIGHBOUR_BOT


@st.composite
def hostile_events(draw: st.DrawFn, world: World) -> Event:
    kind = draw(
        st.sampled_from(
            [
                "any_json", "random_dict", "field_wrong", "field_missing", "field_extra",
                "forged", "tampered", "bad_signature_text", "replayed", "stale_seq",
                "expired", "future", "oversized", "wrong_room", "wrong_sender", "own_alert",
                "stranger_chapter", "relay_junk", "relay_deep", "relay_loop",
                "relay_stranger", "unknown_type",
            ]
        )
    )  # fmt: skip
    w = world
    if kind == "any_json":
        return Event(
            kind,
            ALERT_EVENT_TYPE,
            draw(json_values.filter(lambda v: not isinstance(v, dict) or "signatures" not in v)),
        )
    if kind == "random_dict":
        keys = st.sampled_from(ALERT_KEYS) | st.text(max_size=12)
        return Event(kind, ALERT_EVENT_TYPE, draw(st.dictionaries(keys, json_values, max_size=16)))
    if kind in ("field_wrong", "field_missing", "field_extra"):
        content = w.alert()
        name = draw(st.sampled_from(ALERT_KEYS))
        if kind == "field_wrong":
            value = draw(json_values.filter(lambda v, old=content[name]: v != old))
            content[name] = value
        elif kind == "field_missing":
            del content[name]
        else:
            extra = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in ALERT_KEYS))
            content[extra] = draw(json_values)
        return Event(kind, ALERT_EVENT_TYPE, content)
    if kind == "forged":
        forger = generate_signing_key(draw(st.sampled_from(["1", key_id(w.key).split(":")[1]])))
        return Event(kind, ALERT_EVENT_TYPE, w.alert(key=forger))
    if kind == "tampered":
        content = w.alert()
        name, value = draw(
            st.sampled_from(
                [
                    ("area", "Chula Vista"), ("level", "confirmed"), ("confidence_pct", 99),
                    ("reports", 40), ("still_active", False), ("type", "patrol"),
                    ("seq", 77), ("highway", "I-5"), ("lat_e2", 3300),
                ]
            )
        )  # fmt: skip
        content[name] = value
        return Event(kind, ALERT_EVENT_TYPE, content)
    if kind == "bad_signature_text":
        content = w.alert()
        (kid,) = content["signatures"][w.chapter]
        sig = content["signatures"][w.chapter][kid]
        flip = draw(st.integers(0, len(sig) - 3))
        swapped = sig[:flip] + ("A" if sig[flip] != "A" else "B") + sig[flip + 1 :]
        content["signatures"][w.chapter][kid] = draw(
            st.sampled_from([swapped, "", sig[:-4], sig + "AAAA"]) | st.text(max_size=90)
        )
        return Event(kind, ALERT_EVENT_TYPE, content)
    if kind == "replayed":
        return Event(kind, ALERT_EVENT_TYPE, dict(draw(st.sampled_from(w.accepted))))
    if kind == "stale_seq":
        seen = draw(st.sampled_from(w.accepted))
        older = draw(st.integers(0, seen["seq"]))
        return Event(kind, ALERT_EVENT_TYPE, w.alert(alert_id=seen["alert_id"], seq=older))
    if kind == "expired":
        back = timedelta(hours=draw(st.integers(5, 24 * 6)))
        return Event(
            kind,
            ALERT_EVENT_TYPE,
            w.alert(hour=w.now - back, expires=w.now - back + timedelta(hours=4)),
        )
    if kind == "future":
        ahead = timedelta(hours=draw(st.integers(1, 24 * 30)))
        return Event(
            kind,
            ALERT_EVENT_TYPE,
            w.alert(hour=w.now + ahead, expires=w.now + ahead + timedelta(hours=4)),
        )
    if kind == "oversized":
        content = w.alert()
        size = draw(st.integers(MAX_ALERT_BYTES, 4 * MAX_ALERT_BYTES))
        where = draw(st.sampled_from(["padding", "area", "signatures"]))
        if where == "signatures":
            content["signatures"]["x"] = {"ed25519:x": "A" * size}
        else:
            content[where] = "x" * size
        return Event(kind, ALERT_EVENT_TYPE, content)
    if kind == "wrong_room":
        room = draw(st.sampled_from(["!other:localhost", "", "!federation:evil.example"]))
        return Event(kind, ALERT_EVENT_TYPE, w.alert(), room=room)
    if kind == "wrong_sender":
        sender = draw(st.sampled_from(["@stranger:localhost", "@bot-norte:evil.example", ""]))
        return Event(kind, ALERT_EVENT_TYPE, w.alert(), sender=sender)
    if kind == "own_alert":
        return Event(kind, ALERT_EVENT_TYPE, w.alert(chapter=w.own_chapter))
    if kind == "stranger_chapter":
        stranger = generate_signing_key("1")
        return Event(kind, ALERT_EVENT_TYPE, w.alert(chapter="vecinos-stranger", key=stranger))
    if kind == "relay_junk":
        content = draw(
            st.fixed_dictionaries(
                {
                    "relayer": json_values, "hop": json_values, "origin": json_values,
                    "origin_key": json_values, "signatures": json_values,
                }
            )
        )  # fmt: skip
        return Event(kind, RELAY_EVENT_TYPE, content)
    if kind in ("relay_deep", "relay_loop", "relay_stranger"):
        origin_key = generate_signing_key("1")
        origin_chapter = "vecinos-lejano"
        if kind == "relay_loop":
            origin_key, origin_chapter = w.key, w.chapter
        origin = w.alert(chapter=origin_chapter, key=origin_key)
        relayer, relayer_key = w.chapter, w.key
        if kind == "relay_stranger":
            relayer, relayer_key = "vecinos-stranger", generate_signing_key("1")
        hop = draw(st.integers(2, 50)) if kind == "relay_deep" else 1
        if kind == "relay_loop":
            # build_relay refuses a chapter relaying its own alert: sign the envelope by hand.
            from signedjson.sign import sign_json

            content = sign_json(
                {
                    "relayer": relayer,
                    "hop": 1,
                    "origin": origin,
                    "origin_key": {
                        "key_id": key_id(origin_key),
                        "key": encode_verify_key_base64(get_verify_key(origin_key)),
                    },
                },
                relayer,
                relayer_key,
            )
        else:
            content = build_relay(
                origin, relayer, relayer_key, hop, origin_key=get_verify_key(origin_key)
            )
        return Event(kind, RELAY_EVENT_TYPE, content)
    assert kind == "unknown_type"
    event_type = draw(st.sampled_from(["org.vecinos.alert.v2", "m.room.message", "org.vecinos"]))
    return Event(kind, event_type, w.alert())


# -- 1. in-process, for volume ---------------------------------------------------------


def rejected(counters: dict[str, int]) -> int:
    return sum(v for k, v in counters.items() if k.startswith("rejected_"))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_receiver_refuses_every_hostile_event(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest, clock
) -> None:
    data = tmp_path / "b"
    init_chapter(data, "Receiving Chapter")
    if backend == "postgres":
        set_config(
            data, "storage", "database_url", f'"{request.getfixturevalue("postgres_database")}"'
        )
    key = generate_signing_key("1")
    with asyncio.Runner() as runner:
        node = runner.run(open_node(data, clock=clock))
        try:
            verify = get_verify_key(key)
            runner.run(
                node.save_neighbour(
                    Neighbour(
                        NEIGHBOUR, NEIGHBOUR_BOT, key_id(verify),
                        encode_verify_key_base64(verify), key_fingerprint(verify), ROOM, 0.7,
                    )
                )
            )  # fmt: skip
            receiver = Receiver(node, node.config.chapter_id)
            runner.run(receiver.seed())
            world = World(NEIGHBOUR, key, node.config.chapter_id, clock())
            for seq in (1, 5):  # two good alerts first: what replays replay
                good = world.alert(seq=seq)
                runner.run(receiver.handle(ROOM, NEIGHBOUR_BOT, ALERT_EVENT_TYPE, good))
                world.accepted.append(good)
            assert len(runner.run(node.received_alerts())) == 2
            seen: dict[str, int] = {}
            state = {"rejected": rejected(runner.run(node.counters()))}

            @settings(
                max_examples=SIZES.federation_events,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(event=hostile_events(world))
            def one(event: Event) -> None:
                runner.run(
                    receiver.handle(event.room, event.sender, event.event_type, event.content)
                )
                now_rejected = rejected(runner.run(node.counters()))
                assert now_rejected == state["rejected"] + 1, event.kind
                state["rejected"] = now_rejected
                seen[event.kind] = seen.get(event.kind, 0) + 1

            one()
            handled = sum(seen.values())
            assert handled >= SIZES.federation_events
            assert len(seen) >= 20, seen  # every kind was tried
            assert len(runner.run(node.received_alerts())) == 2  # none of them stored
            counters = runner.run(node.counters())
            assert counters["alerts_received"] == 2
            assert rejected(counters) == handled
            assert "rejected_error" not in counters  # no exception inside the receiver
            # Still alive: the neighbour's next real alert is stored.
            runner.run(receiver.handle(ROOM, NEIGHBOUR_BOT, ALERT_EVENT_TYPE, world.alert()))
            assert len(runner.run(node.received_alerts())) == 3
        finally:
            runner.run(node.close())


# -- 2. a sample through a real Synapse ----------------------------------------------


@pytest.mark.synapse
async def test_hostile_events_through_synapse_leave_the_bot_alive(tmp_path: Path, clock) -> None:
    hs = Homeserver(tmp_path / "synapse")
    await hs.start()
    sites = []
    mallory = None
    try:
        a = await make_site(hs, tmp_path, "a", clock, password=LEAKED_PASSWORD)
        sites.append(a)
        b = await make_site(hs, tmp_path, "b", clock)
        sites.append(b)
        room = await connect(a, b)
        mallory = Attacker(hs, a.user_id, tmp_path / f"mallory-{uuid.uuid4().hex[:6]}")
        await mallory.login(LEAKED_PASSWORD)
        world = World(a.chapter_id, load_signing_key(a.data / KEYS_DIR), b.chapter_id, clock())
        first = world.alert()
        await mallory.send(room, first)  # authentic (a leaked account can send A's real alerts)
        await b.wait_received(lambda found: len(found) == 1)
        world.accepted.append(first)

        events: list[Event] = []
        through_synapse = hostile_events(world).filter(
            lambda e: (
                e.event_type in (ALERT_EVENT_TYPE, RELAY_EVENT_TYPE)
                and isinstance(e.content, dict)
                and e.room == ROOM
                and e.sender == NEIGHBOUR_BOT
            )
        )

        @settings(
            max_examples=SIZES.synapse_events,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(event=through_synapse)
        def draw(event: Event) -> None:
            events.append(event)

        draw()
        assert len(events) >= SIZES.synapse_events
        for event in events:
            await mallory.send(room, event.content, event.event_type)
        await b.wait_handled(len(events), timeout=120)

        counters = await b.node.counters()
        assert rejected(counters) == len(events)
        assert counters["alerts_received"] == 1
        assert len(await b.node.received_alerts()) == 1
        stats = b.fed.bot.stats
        assert stats.handler_errors == 0 and stats.undecryptable == 0
        # The bot is alive: A's real node still gets through.
        await a.corroborate(clock, area="San Ysidro", kind="checkpoint")
        got = await b.wait_received(lambda found: any(r.area == "San Ysidro" for r in found))
        assert len(got) == 2
    finally:
        if mallory is not None:
            await mallory.client.close()
        for site in sites:
            await site.close()
        await hs.stop()
