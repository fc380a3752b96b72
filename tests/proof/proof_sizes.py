"""The proof suites' one size knob: VECINOS_PROOF=full for the issue's sizes, else CI's.

`./dev proof` sets VECINOS_PROOF=full: 1,000 alerts and a 30 s homeserver
outage, 10,000 submissions around a SIGKILL, >= 10,000 fuzzed requests,
>= 1,000 hostile federation events. Unset (CI, `./dev test`), the same
tests run with CI_SIZES.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
    alerts=80,
    outage_s=0.0,
    submissions=1500,
    api_requests=10_000,
    federation_events=1000,
    synapse_events=20,
)
SIZES = FULL_SIZES if FULL else CI_SIZES
