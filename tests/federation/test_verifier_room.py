"""Verifier dispatch in the responders room on a real Synapse: a notice that needs
verification, claims (and a second claim refused), the verifier's answers, re-offers
(after "unable" and after a claim timed out), Spanish commands, and who may claim.

The room of test_responders (a real chapter, ChapterFederation, matrix-nio clients
invited by the chapter's bot from its config) with two verifiers named in [matrix]
verifiers. Time for claims is the tests' Clock, passed to the node; the scheduled
check is Node.check_responders, called here. Nothing sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from federation_harness import make_chapter
from network import Site
from sqlmodel import Session, select
from test_responders import Person, in_thread, replied_to, responders_site, seat

from federation.homeserver import Homeserver
from node.i18n import translate
from node.store import Incident

pytestmark = pytest.mark.synapse


@dataclass
class VRoom:
    site: Site
    mod: Person
    res: Person
    ver: Person
    ver2: Person


@pytest.fixture
async def vroom(homeserver: Homeserver, tmp_path: Path, clock) -> AsyncIterator[VRoom]:
    people = [
        Person(await make_chapter(homeserver, tmp_path / "people", name))
        for name in ("mod", "res", "ver", "ver2")
    ]
    mod, res, ver, ver2 = people
    site = await responders_site(
        homeserver, tmp_path, clock, mod.user_id, res.user_id, f"{ver.user_id},{ver2.user_id}"
    )
    try:
        for person in people:
            await seat(person, site)
        yield VRoom(site, *people)
    finally:
        for person in people:
            await person.chapter.bot.close()
        await site.close()


def t(key: str, **params: Any) -> str:
    return translate(key, "en", **params)


def stored_stage(site: Site) -> str:
    with Session(site.node.engine) as session:
        [incident] = session.exec(select(Incident).where(Incident.area_id == "chula-vista")).all()
        return incident.stage


async def needs_verification(room: VRoom, clock) -> tuple[list[str], str]:
    """Three anonymous web reports of a raid: the opening says it needs verification."""
    ids = await room.site.corroborate(clock, reports=3)
    opening = await room.ver.next_post()
    for person in (room.mod, room.res, room.ver2):
        await person.next_post()
    assert opening["body"].startswith("🚨 raid at Chula Vista: likely")
    assert "Needs verification" in opening["body"] and "!claim" in opening["body"]
    assert "vans" not in opening["body"]
    return ids, opening["event_id"]


async def test_a_claim_is_announced_a_second_refused_and_confirm_verifies(
    vroom: VRoom, clock
) -> None:
    site, ver, ver2 = vroom.site, vroom.ver, vroom.ver2
    room_id = site.fed.responders.room_id
    assert await site.fed.bot.current_power_level(room_id, ver.user_id) == 10  # from the config
    ids, root = await needs_verification(vroom, clock)
    [request] = await site.node.verification_requests()
    assert (request.type, request.area, request.reports, request.claimed) == (
        "raid",
        "Chula Vista",
        3,
        False,
    )

    answer = await ver.command("!claim 15", thread=root)
    assert in_thread(answer, root) and answer["body"] == t("verify_taken", eta=15)
    answer = await ver2.command("!claim 5", thread=root)
    assert answer["body"] == t("verify_refused_taken", eta=15)
    [request] = await site.node.verification_requests()
    assert (request.claimed, request.eta) == (True, 15)
    answer = await ver2.command("!confirm", thread=root)  # not theirs to answer
    assert answer["body"] == t("verify_not_yours")
    answer = await vroom.res.command("!claim", thread=root)  # a responder, not a verifier
    assert answer["body"] == t("verify_not_allowed")

    clock.advance(minutes=12)
    posts = await ver.answers_until(await ver.say("!confirm", thread=root))
    assert posts[-1]["body"] == t("verify_confirmed")
    for report_id in ids:
        report = await site.node.get_report(report_id)
        assert report is not None and report.status == "confirmed"
    while not any(
        p["body"].startswith("Update: raid at Chula Vista: now confirmed") for p in posts
    ):
        posts.append(await ver.next_post())  # the notice's update, in its thread
    assert all(in_thread(p, root) for p in posts)
    assert await site.node.verification_requests() == []
    [alert] = [a for a in await site.node.feed_alerts() if a.area_name == "Chula Vista"]
    assert alert.level == "confirmed"  # shared with neighbours as verified
    times = site.node.verification_times()
    assert [round(x.total_seconds() / 60) for x in times] == [12]  # claim -> answer
    assert (await site.node.counters())["verifications_confirmed"] == 1
    answer = await ver.command("!confirm", thread=root)
    assert answer["body"] == t("verify_not_open")


async def test_a_false_alarm_debunks_in_spanish(vroom: VRoom, clock) -> None:
    site, ver = vroom.site, vroom.ver
    ids, root = await needs_verification(vroom, clock)
    notice_id = (await site.node.verification_requests())[0].notice_id
    answer = await ver.command(f"!tomar {notice_id} 5")  # by id, outside the thread
    assert answer["body"] == t("verify_taken", eta=5) and in_thread(answer, root)  # its thread
    posts = await ver.answers_until(await ver.say("!falsa era una grúa", thread=root))
    assert posts[-1]["body"] == t("verify_false_alarm")
    assert "grúa" not in str(posts)
    for report_id in ids:
        report = await site.node.get_report(report_id)
        assert report is not None and report.status == "debunked"
    while not any(p["body"].startswith("✅") for p in posts):  # before or after the answer
        posts.append(await ver.next_post())
    [clear] = [p for p in posts if p["body"].startswith("✅")]
    assert clear["body"].startswith(
        t("responders_all_clear_debunked", type="raid", area="Chula Vista")
    )
    assert in_thread(clear, root)
    assert (await site.node.counters())["verifications_false_alarm"] == 1


async def test_unable_and_a_timed_out_claim_are_offered_again(vroom: VRoom, clock) -> None:
    site, ver, ver2 = vroom.site, vroom.ver, vroom.ver2
    _, root = await needs_verification(vroom, clock)
    assert (await ver.command("!tomar 10", thread=root))["body"] == t("verify_taken", eta=10)
    posts = await ver.answers_until(await ver.say("!nopuedo", thread=root))
    assert posts[-1]["body"] == t("verify_unable")
    assert stored_stage(site) == "unable"  # the incident's stage (node.incident_store)
    while not any(p["body"].startswith("🔎 Still needs verification") for p in posts):
        posts.append(await ver.next_post())  # offered again, at once, in the thread
    offer = next(p for p in posts if p["body"].startswith("🔎"))
    assert in_thread(offer, root) and "raid at Chula Vista" in offer["body"]
    [request] = await site.node.verification_requests()
    assert not request.claimed

    answer = await ver2.command("!claim 5", thread=root)
    assert answer["body"] == t("verify_taken", eta=5)
    clock.advance(minutes=5 + 20)  # ETA plus [responders] claim_minutes: not yet
    assert await site.node.check_responders() == 0
    clock.advance(minutes=1)
    assert await site.node.check_responders() == 1  # timed out: dropped and offered again
    again = await ver.next_post()
    while not again["body"].startswith("🔎"):
        again = await ver.next_post()
    assert in_thread(again, root)
    answer = await ver.command("!claim", thread=root)  # free again: another may take it
    assert answer["body"] == t("verify_taken_no_eta")
    assert replied_to(answer) is not None


async def test_an_unclaimed_request_is_offered_again_and_spanish_confirms(
    vroom: VRoom, clock
) -> None:
    site, ver = vroom.site, vroom.ver
    ids, root = await needs_verification(vroom, clock)
    clock.advance(minutes=5)  # 9 minutes after the opening (corroborate's last step: 4)
    assert await site.node.check_responders() == 0  # [responders] offer_minutes: 10
    clock.advance(minutes=1)
    assert await site.node.check_responders() == 1
    offer = await ver.next_post()
    assert offer["body"].startswith("🔎 Still needs verification") and in_thread(offer, root)
    assert (await ver.command("!tomar", thread=root))["body"] == t("verify_taken_no_eta")
    assert (await ver.command("!confirmar", thread=root))["body"] == t("verify_confirmed")
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status == "confirmed"


async def test_a_moderator_may_answer_a_claimed_request(vroom: VRoom, clock) -> None:
    site, mod, ver = vroom.site, vroom.mod, vroom.ver
    ids, root = await needs_verification(vroom, clock)
    assert (await ver.command("!claim 30", thread=root))["body"] == t("verify_taken", eta=30)
    answer = await mod.command(f"!confirm {ids[0]}", thread=root)  # a report id: as before
    assert answer["body"] == f"Done: report {ids[0]} (raid at Chula Vista) is now confirmed."
    assert await site.node.verification_requests() == []  # a moderator's confirm answers it
    usage = (await ver.command("!ayuda"))["body"]
    assert usage == t("responders_usage") + "\n" + t("verify_usage") and "!tomar" in usage


async def react(person: Any, event_id: str, key: str) -> str:
    """React to a post as Element does (an m.reaction annotation, encrypted in this room)."""
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
    return await person.chapter.bot.send_alert(person.room_id, content, "m.reaction")


async def test_a_thumbs_up_on_the_notice_claims_it(vroom: VRoom, clock) -> None:
    site, ver, ver2 = vroom.site, vroom.ver, vroom.ver2
    ids, root = await needs_verification(vroom, clock)
    await react(vroom.res, root, "👍")  # a responder, not a verifier: just a reaction
    chat = await ver.say("anyone near there?", thread=root)
    await react(ver, chat, "👍")  # not the notice's post: just a reaction
    await react(ver, root, "👍🏽")  # a verifier, any skin tone: the claim
    answer = await ver.next_post()
    assert answer["body"] == t("verify_taken_no_eta")  # the first answer: the others got none
    assert in_thread(answer, root) and replied_to(answer) == root
    [request] = await site.node.verification_requests()
    assert request.claimed and request.eta is None
    assert (await ver2.next_post())["body"] == t("verify_taken_no_eta")  # ver2 saw it too
    await react(ver2, root, "🏃‍♀️")  # a second verifier's claim is refused, as !claim is
    assert (await ver2.next_post())["body"] == t("verify_refused_taken_no_eta")
    assert (await ver.command("!confirm", thread=root))["body"] == t("verify_confirmed")
    report = await site.node.get_report(ids[0])
    assert report is not None and report.status == "confirmed"
