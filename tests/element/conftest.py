"""Fixtures for the Element-stack tests: a real Synapse, real chapters, and Element's crypto.

The js clients (tests/element/member.mjs: matrix-js-sdk 43 with its Rust
crypto, pinned by package-lock.json and installed with `npm ci` by
scripts/element-deps.sh, which ./dev test runs) talk to one loopback Synapse
started for the session, as the federation tests' own. The chapters are
made with the federation tests' helpers (tests/federation/network.py).
Without node or the installed packages the tests are skipped, except under
CI (CI=true), where that is a failure. Figures go to the terminal summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "federation"))

from element_driver import FIGURES, Element, missing
from federation_harness import run_blocking

from federation.homeserver import Homeserver


@pytest.fixture(scope="session")
def element_homeserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    hs = Homeserver(tmp_path_factory.mktemp("synapse-element"))
    run_blocking(hs.start)
    try:
        yield hs
    finally:
        run_blocking(hs.stop)


@pytest.fixture
async def element(tmp_path: Path) -> AsyncIterator[Element]:
    why = missing()
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Element-stack tests cannot run: {why}")
        pytest.skip(why)
    driver = await Element.start(tmp_path / "element-js.log")
    try:
        yield driver
    finally:
        await driver.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("Element-stack measurements")
        for k, v in FIGURES.items():
            terminalreporter.write_line(f"{k}: {v}")
