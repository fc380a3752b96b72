"""Helpers the tests share that are not fixtures."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from node.config import CONFIG_NAME
from node.outcome import ReceivedAlert


def set_config(data_dir: Path, section: str, key: str, value: str) -> None:
    """Uncomment-and-set one key in a chapter's vecinos.toml (value as TOML text)."""
    path = data_dir / CONFIG_NAME
    text = path.read_text()
    pattern = re.compile(rf"^(# )?{re.escape(key)} = .*$", re.MULTILINE)
    head, _, tail = text.partition(f"[{section}]\n")
    assert tail, f"no [{section}] in config"
    tail, count = pattern.subn(f"{key} = {value}", tail, count=1)
    assert count == 1, f"no {key} in [{section}]"
    path.write_text(f"{head}[{section}]\n{tail}")


def pin_wire_scoring(data_dir: Path) -> None:
    """Scoring these wire and channel tests were written against: four anonymous web
    reports make a shared 'likely' alert. Trust tiers (anonymous evidence or one member's
    word never shared, scoring.defaults.anonymous_max_confidence and
    single_member_max_confidence) are tested in tests/scoring and measured
    in bench/accuracy; here they would only hide what the test is about."""
    set_config(data_dir, "scoring", "corroboration_llr", "0.75")
    set_config(data_dir, "scoring", "anonymous_max_confidence", "1.0")
    set_config(data_dir, "scoring", "single_member_max_confidence", "1.0")
    set_config(data_dir, "scoring", "burst_llr_cap", "0.6")
    set_config(data_dir, "scoring", "prior_member", "0.45")


def neighbour_alert(
    now: datetime, seq: int = 1, still_active: bool = True, hours: int = 4
) -> ReceivedAlert:
    """A verified alert from a neighbouring chapter, as federation hands it to the node."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    return ReceivedAlert(
        chapter="norte-1a2b",
        alert_id="a1",
        seq=seq,
        relayed_by=None,
        type="raid",
        area="Oceanside",
        lat=33.2,
        lon=-117.38,
        highway="I-5",
        hour=hour,
        level="likely",
        confidence=0.76,
        reports=4,
        still_active=still_active,
        expires=hour + timedelta(hours=hours),
    )
