"""ChapterFederation.stop() ends every task, even one whose cancellation was swallowed.

Python 3.11's asyncio.wait_for returns normally when a cancellation lands just
as its inner future completes (Delivery.drained waits that way), so a task can
survive one cancel() and go back to waiting for work that never comes. stop()
must cancel it again rather than wait forever (seen in the federation suite
under load: a neighbour's close() hung for the whole test timeout).
"""

from __future__ import annotations

import asyncio
from typing import Any

from federation.chapter import ChapterFederation


class _Stub:
    def __init__(self) -> None:
        self.closed = False

    async def close(self) -> None:
        self.closed = True

    def release(self) -> None:
        self.closed = True


async def test_stop_ends_a_task_that_swallowed_its_first_cancellation() -> None:
    survived = asyncio.Event()
    forever = asyncio.Event()

    async def stubborn() -> None:
        try:
            await forever.wait()
        except asyncio.CancelledError:  # what a lost cancellation looks like from outside
            survived.set()
        await forever.wait()  # back to waiting for work

    fed: Any = ChapterFederation.__new__(ChapterFederation)
    fed.bot, fed.lock = _Stub(), _Stub()
    task = asyncio.create_task(stubborn())
    fed._tasks = {task}
    await asyncio.sleep(0)  # let it start waiting
    stopping = asyncio.create_task(fed.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)  # bounded: a hang fails here
    assert stopping in done, "stop() waits forever for a task that swallowed its cancel"
    assert survived.is_set() and task.cancelled()
    assert fed.bot.closed and fed.lock.closed
