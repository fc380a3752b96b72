"""One writer thread for the database, with group commit.

Every write of the node runs here, one job at a time, so scoring sees a
consistent store without locks. Jobs that queue up while a commit is under
way are run together and committed once, each inside its own savepoint (a
job that raises is rolled back alone): durable commits at the cost of one
fsync per batch instead of one per report.

Rules: a job's future is resolved only after its transaction committed; if
the commit (or the before-commit step) fails, every job of the batch gets the
error and nothing of theirs was acknowledged. An in-memory cache of the store
(a Journal, e.g. node.recent.RecentIndex) follows the same rule: a failed
job's changes to it are undone with its savepoint, a failed batch's with it;
what jobs staged in it is written (flush) before the before-commit step.
A job that runs no SQL costs no savepoint (SQLAlchemy opens it lazily). A job whose caller was
cancelled before it started is skipped; once started, it commits, and the
thread outlives any job's or hook's exception.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BATCH = 64

Job = tuple[Callable[[Session], Any], Future]


class Journal(Protocol):
    """An in-memory cache written by jobs, kept to what the database committed."""

    def attach(self, session: Session) -> None: ...  # a new batch's session
    def mark(self) -> int: ...
    def undo_to(self, mark: int) -> None: ...  # take back the changes made since mark
    def committed(self) -> None: ...  # the batch committed: its changes stay
    def flush(self, session: Session) -> None: ...  # write what jobs staged, before settling


class Writer:
    def __init__(
        self,
        engine: Engine,
        before_commit: Callable[[Session], None] | None = None,
        after_commit: Callable[[dict[str, Any]], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        """Hooks run on the writer thread: `before_commit(session)` once per batch,
        inside its transaction; `after_commit(session.info)` once it committed."""
        self.engine = engine
        self.journal = journal
        self.before_commit = before_commit
        self.after_commit = after_commit
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="vecinos-writer", daemon=True)
        self._thread.start()

    async def run(self, job: Callable[[Session], T]) -> T:
        """Run `job(session)` on the writer thread; returns after its commit."""
        future: Future = Future()
        self._jobs.put((job, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[Job]) -> None:
        # A caller that gave up (cancelled) before its job started gets nothing run.
        batch = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        if not batch:
            return
        results: list[tuple[Future, Any, BaseException | None]] = []
        journal = self.journal
        start = journal.mark() if journal is not None else 0
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                if journal is not None:
                    journal.attach(session)
                for job, future in batch:
                    savepoint = session.begin_nested()
                    mark = journal.mark() if journal is not None else 0
                    try:
                        result = job(session)
                        savepoint.commit()
                        results.append((future, result, None))
                    except Exception as exc:  # one job's failure must not sink the batch
                        savepoint.rollback()
                        if journal is not None:
                            journal.undo_to(mark)
                        results.append((future, None, exc))
                if journal is not None:
                    journal.flush(session)
                if self.before_commit is not None:
                    self.before_commit(session)
                session.commit()
                info = dict(session.info)
        except Exception as exc:  # the commit itself failed: nothing was stored
            log.error("database commit failed: %s", type(exc).__name__)
            if journal is not None:
                journal.undo_to(start)
            for _job, future in batch:
                future.set_exception(exc)
            return
        if journal is not None:
            journal.committed()
        if self.after_commit is not None:
            try:
                self.after_commit(info)
            except Exception as exc:  # a hook's bug must not stop the writer
                log.error("after-commit hook failed: %s", type(exc).__name__)
        for future, result, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)
