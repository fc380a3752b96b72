"""The proof suites (issue 6): fault tests, fuzzing and the seizure scan, and their one size knob.

VECINOS_PROOF=full (`./dev proof`) runs the issue's sizes: 1,000 alerts and
a 30 s homeserver outage, 10,000 submissions around a SIGKILL, >= 10,000
fuzzed requests, >= 1,000 hostile federation events. Unset (CI, `./dev
test`), the same tests run bounded, with the sizes in CI_SIZES.

tests/federation is put on sys.path so these suites use the same Synapse
harness (network.py, federation_harness.py) as the federation tests.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

FEDERATION_TESTS = Path(__file__).resolve().parent.parent / "federation"
if str(FEDERATION_TESTS) not in sys.path:
    sys.path.insert(0, str(FEDERATION_TESTS))

FULL = os.environ.get("VECINOS_PROOF", "").strip().lower() == "full"


@dataclass(frozen=True)
class Sizes:
    alerts: int  # alerts produced while the homeserver is killed and restarted
    outage_s: float  # how long the homeserver stays dead (at least)
    submissions: int  # reports fired at a `vecinos run` that is SIGKILLed mid-stream
    api_requests: int  # fuzzed HTTP requests, at least
    federation_events: int  # hostile events pushed into the receiver, at least
    synapse_events: int  # ...of which sent through a real Synapse room


FULL_SIZES = Sizes(
    alerts=1000,
    outage_s=30.0,
    submissions=10_000,
    api_requests=10_000,
    federation_events=1000,
    synapse_events=50,
)
CI_SIZES = Sizes(
    alerts=120,
    outage_s=0.0,
    submissions=1500,
    api_requests=10_000,
    federation_events=1000,
    synapse_events=20,
)
SIZES = FULL_SIZES if FULL else CI_SIZES


def pytest_report_header() -> str:
    return f"vecinos proof sizes ({'full' if FULL else 'CI'}): {SIZES}"
