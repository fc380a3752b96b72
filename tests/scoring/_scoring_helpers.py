"""Builders shared by the scoring tests (plain functions, no clock, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scoring.model import Channel, Evidence, Place, ReportType, Verdict

H0 = datetime(2025, 3, 7, 14, tzinfo=UTC)  # a Friday, 14:00 UTC
SAN_YSIDRO = Place(32.5422, -117.0293)
CHULA_VISTA = Place(32.6401, -117.0842)  # about 12 km from San Ysidro


def src(*names: str) -> frozenset[bytes]:
    return frozenset(n.encode() for n in names)


def ev(
    key: str,
    *,
    source: str | None = None,
    sources: frozenset[bytes] | None = None,
    type: ReportType = ReportType.CHECKPOINT,
    area: str = "san-ysidro",
    place: Place | None = SAN_YSIDRO,
    hour: datetime = H0,
    channel: Channel = Channel.WEB,
    fingerprint: frozenset[int] | None = None,
    verdict: Verdict = Verdict.NONE,
    seen_at: datetime | None = None,
) -> Evidence:
    """A report; by default its source is named after its key (independent)."""
    if sources is None:
        sources = src(source if source is not None else key)
    return Evidence(
        key=key,
        type=type,
        area=area,
        place=place,
        hour=hour,
        channel=channel,
        sources=sources,
        fingerprint=fingerprint,
        verdict=verdict,
        seen_at=seen_at,
    )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
