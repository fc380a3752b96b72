"""The in-memory side of sources: keyed hashes that rotate, a rate limiter whose
memory stays bounded under a flood of distinct sources, and a recent memory
that forgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from node.sources import RateLimiter, Recent, RecentMemory, SourceKeys

T0 = datetime(2026, 11, 17, 14, 37, tzinfo=UTC)


def test_keyed_hashes_are_stable_within_a_day_and_never_the_plain_source() -> None:
    keys = SourceKeys(T0, keep_previous_for=timedelta(hours=2))
    first = keys.tags(b"127.0.0.5", T0)
    assert first == keys.tags(b"127.0.0.5", T0 + timedelta(hours=5))
    assert first.isdisjoint(keys.tags(b"127.0.0.6", T0))
    assert all(b"127.0.0.5" not in tag for tag in first)
    other_process = SourceKeys(T0, keep_previous_for=timedelta(hours=2))
    assert first.isdisjoint(other_process.tags(b"127.0.0.5", T0))  # a random key each


def test_rotation_keeps_the_previous_key_for_one_window_only() -> None:
    keys = SourceKeys(T0, keep_previous_for=timedelta(hours=2))
    before = keys.tags(b"a", T0)
    after_rotation = keys.tags(b"a", T0 + timedelta(days=1))
    assert len(after_rotation) == 2 and before <= after_rotation  # still recognised
    later = keys.tags(b"a", T0 + timedelta(days=1, hours=3))
    assert len(later) == 1 and before.isdisjoint(later)  # the old key is gone


def test_rate_limit_counts_a_sliding_window() -> None:
    limiter = RateLimiter(limit=3, window=timedelta(minutes=15), max_sources=10)
    assert [limiter.hit(b"s", T0 + timedelta(minutes=m)) for m in (0, 1, 2)] == [0, 0, 0]
    wait = limiter.hit(b"s", T0 + timedelta(minutes=3))
    assert wait == 15 * 60  # always the whole window: a finer wait would date the oldest hit
    assert limiter.hit(b"s", T0 + timedelta(minutes=15, seconds=1)) == 0


def test_rate_limiter_memory_is_bounded_under_a_flood_of_sources() -> None:
    limiter = RateLimiter(limit=5, window=timedelta(minutes=15), max_sources=1000)
    for n in range(50_000):
        limiter.hit(n.to_bytes(4, "big"), T0)
    assert len(limiter) == 1000


def test_recent_memory_forgets_after_its_time_and_stays_bounded() -> None:
    memory = RecentMemory(keep=timedelta(hours=8), max_reports=100)
    memory.remember("r1", Recent(frozenset({b"x"}), None, T0))
    assert memory.get("r1", T0 + timedelta(hours=7)) is not None
    assert memory.get("r1", T0 + timedelta(hours=9)) is None
    for n in range(500):
        memory.remember(f"r{n}", Recent(frozenset(), None, T0))
    assert len(memory) == 100
