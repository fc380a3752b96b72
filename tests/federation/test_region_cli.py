"""Region rooms as the operators form them: the real CLI, three running nodes, a real Synapse.

As docs/federation.md tells operators: three chapters set up with `vecinos
matrix setup`, each `vecinos run`; A exchanges tokens with B and with C
(`neighbors invite` / `accept`, while the nodes run; B and C could pin each
other too, to share the room among themselves: not needed here); A's operator runs `region create`
and `region invite` for B and C, B's and C's operators `region join` with
the tokens printed (each command SIGHUPs its node). Then `region list` on A
shows both joined in the room now (as the homeserver has it), every node has
moved its neighbours into the region room, and a report confirmed through
A's JSON API reaches B and C as an accepted alert. Every command and node is
a subprocess; waits read the nodes' output lines (bounded), never sleep.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from test_commands import Running, cli, confirm_a_report, running, set_up  # noqa: F401

from federation.homeserver import Homeserver, free_port
from node.config import load_config
from node.setup import init_chapter

pytestmark = pytest.mark.synapse


def exchange(x: Path, y: Path) -> None:
    """`neighbors invite` on x, `accept` on y (prints y's token), `accept` on x."""
    invite = cli("neighbors", "invite", "--data", str(x))
    assert invite.returncode == 0, invite.stderr
    accepted = cli("neighbors", "accept", invite.stdout.splitlines()[0], "--data", str(y))
    assert accepted.returncode == 0, accepted.stderr
    token = next(t for t in accepted.stdout.split() if t.startswith("vecinos-neighbour-v1."))
    assert cli("neighbors", "accept", token, "--data", str(x)).returncode == 0


def moved(node: Running, n: int) -> None:
    """Wait until the node's log says its region room carries n of its neighbours."""
    carried = 0
    pattern = re.compile(r"a region room now carries (\d+) more neighbours")
    while carried < n:
        line = node.lines.get(timeout=60.0)
        node.seen.append(line)
        found = pattern.search(line)
        if found:
            carried += int(found.group(1))


def test_operators_form_a_region_with_the_cli_and_an_alert_reaches_its_members(
    homeserver: Homeserver,
    tmp_path: Path,
    running: list[Running],  # noqa: F811
) -> None:
    dirs = [tmp_path / name for name in ("a", "b", "c")]
    for data in dirs:
        init_chapter(data, f"Chapter {data.name}")
        done = set_up(homeserver, data, data.name)
        assert done.returncode == 0, done.stderr
    a, b, c = dirs
    password = "a moderator's long password"
    assert cli("moderator", "add", "luna", "--data", str(a), stdin=password + "\n").returncode == 0
    port_a = free_port()
    nodes = [Running(a, port_a), Running(b, free_port()), Running(c, free_port())]
    running += nodes
    for node in nodes:
        assert "(connected)" in node.wait_for("Matrix: bot")
    node_a, node_b, node_c = nodes
    ids = {d: load_config(d / "vecinos.toml").chapter_id for d in dirs}
    for x, y in ((a, b), (a, c)):  # B and C need not pin each other for A's alerts
        exchange(x, y)

    created = cli("region", "create", "south", "--data", str(a))
    assert created.returncode == 0, created.stderr
    assert "the running node does it now" in created.stdout
    node_a.wait_for("created a region room")
    for data, node in ((b, node_b), (c, node_c)):
        invited = cli("region", "invite", "south", ids[data], "--data", str(a))
        assert invited.returncode == 0, invited.stderr
        token = invited.stdout.splitlines()[0]
        assert token.startswith("vecinos-region-v1.")
        joined = cli("region", "join", token, "--data", str(data))
        assert joined.returncode == 0, joined.stderr
        node.wait_for("joined a region room")
    for node, n in ((node_a, 2), (node_b, 1), (node_c, 1)):
        moved(node, n)  # its pinned neighbours' room is the region's now

    listed = cli("region", "list", "--data", str(a))
    assert listed.returncode == 0, listed.stderr
    others = ", ".join(sorted([ids[b], ids[c]]))
    assert f"the room of neighbours: {others}" in listed.stdout
    assert f"in the room now: joined {others}" in listed.stdout
    assert "NOT running" not in listed.stdout
    seen_by_b = cli("region", "list", "--data", str(b)).stdout
    assert f"host {ids[a]}" in seen_by_b and "in the room now: joined" in seen_by_b

    asyncio.run(confirm_a_report(port_a, password))
    for node in (node_b, node_c):
        assert f"from {ids[a]}" in node.wait_for("accepted alert seq 1")
    for node in nodes:
        node.stop()
        assert node.proc.returncode == 0
    stopped = cli("region", "list", "--data", str(a))
    assert "the node is NOT running" in stopped.stdout
