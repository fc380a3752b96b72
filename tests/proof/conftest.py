"""Fixtures of the proof suites (issue 6): fault tests, fuzzing and the seizure scan.

Sizes come from proof_sizes.py (one knob: VECINOS_PROOF=full). tests/federation
is put on sys.path so these suites use the same Synapse harness (network.py,
federation_harness.py) as the federation tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from proof_sizes import FULL, SIZES

FEDERATION_TESTS = Path(__file__).resolve().parent.parent / "federation"
if str(FEDERATION_TESTS) not in sys.path:
    sys.path.insert(0, str(FEDERATION_TESTS))


def pytest_report_header() -> str:
    return f"vecinos proof sizes ({'full' if FULL else 'CI'}): {SIZES}"
