"""Fixtures for the federation tests: a real Synapse on loopback, and chapter bots on it.

One Synapse is started for the whole session (a test that needs to stop its
homeserver starts its own), and two federating ones for the tests that ask.
If Synapse cannot start, the fixture raises HomeserverError with the tail
of its log: nothing is skipped silently.
Measured figures (latencies) are printed in the terminal summary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from federation_harness import MEASURED, Pair, make_pair, run_blocking

from federation.homeserver import Homeserver, free_port


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    hs = Homeserver(tmp_path_factory.mktemp("synapse"))
    run_blocking(hs.start)
    try:
        yield hs
    finally:
        run_blocking(hs.stop)


@pytest.fixture(scope="session")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Homeserver, ...]]:
    """Two Synapses federating over loopback TLS (started once, for every test that asks)."""
    p1, p2 = free_port(), free_port()
    names = [f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"]
    servers = tuple(
        Homeserver(
            tmp_path_factory.mktemp(f"synapse-fed{i}"),
            federating=True,
            federation_port=port,
            federation_peers=names,
        )
        for i, port in enumerate((p1, p2))
    )

    async def start_all() -> None:
        for hs in servers:
            await hs.start()

    async def stop_all() -> None:
        for hs in servers:
            await hs.stop()

    try:
        run_blocking(start_all)
        yield servers
    finally:
        run_blocking(stop_all)


@pytest.fixture
async def pair(homeserver: Homeserver, tmp_path: Path) -> AsyncIterator[Pair]:
    p = await make_pair(homeserver, tmp_path)
    try:
        yield p
    finally:
        await p.a.bot.close()
        await p.b.bot.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURED:
        terminalreporter.section("federation measurements")
        for k, v in MEASURED.items():
            terminalreporter.write_line(f"{k}: {v}")
