"""The single writer thread: group commit, a failing job alone, cancelled callers."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.store import Counter, make_engine
from node.writer import Writer


@pytest.fixture
def writer(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    running = Writer(engine)
    yield running
    running.close()
    engine.dispose()


def add(name: str):
    def job(session: Session) -> str:
        session.add(Counter(name=name, count=1))
        session.flush()
        return name

    return job


def names(writer: Writer) -> set[str]:
    with Session(writer.engine) as session:
        return {c.name for c in session.exec(select(Counter)).all()}


async def test_a_failing_job_fails_alone(writer: Writer) -> None:
    def boom(session: Session) -> None:
        session.add(Counter(name="half", count=1))
        session.flush()
        raise ValueError("job bug")

    results = await asyncio.gather(
        writer.run(add("a")), writer.run(boom), writer.run(add("b")), return_exceptions=True
    )
    assert results[0] == "a" and results[2] == "b" and isinstance(results[1], ValueError)
    assert names(writer) == {"a", "b"}


async def test_a_cancelled_caller_does_not_stop_the_writer(writer: Writer) -> None:
    gate = threading.Event()

    def blocked(session: Session) -> str:
        gate.wait(timeout=30)
        return "first"

    first = asyncio.ensure_future(writer.run(blocked))
    waiting = asyncio.ensure_future(writer.run(add("never")))
    await asyncio.sleep(0)  # let both jobs be queued
    waiting.cancel()
    gate.set()
    assert await first == "first"
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await asyncio.wait_for(writer.run(add("after")), timeout=30) == "after"
    assert "after" in names(writer)
