"""federation/ uses the node through its facade (node.service.Node and the types of
node.outcome): it never opens the node's config or key files, its catalogs or its
gazetteer itself. demo.py is exempt: it is a composition root that plays the operator
(`vecinos init`, then edits each chapter's vecinos.toml as an operator would)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

FEDERATION = Path(__file__).resolve().parents[2] / "federation"
COMPOSITION_ROOTS = {"demo.py"}
NODE_INTERNALS = ("node.config", "node.setup", "node.keys", "node.i18n", "node.gazetteer")
ATTRIBUTE = re.compile(r"\bnode\.(config|data_dir|gazetteer|keys)\b")


def test_federation_stays_behind_the_node_facade() -> None:
    found = []
    for path in sorted(FEDERATION.glob("*.py")):
        if path.name in COMPOSITION_ROOTS:
            continue
        source = path.read_text(encoding="utf-8")
        for item in ast.walk(ast.parse(source)):
            names = []
            if isinstance(item, ast.ImportFrom) and item.module:
                names = [item.module]
            elif isinstance(item, ast.Import):
                names = [a.name for a in item.names]
            found += [f"{path.name}: import {n}" for n in names if n.startswith(NODE_INTERNALS)]
        found += [f"{path.name}: {m.group(0)}" for m in ATTRIBUTE.finditer(source)]
    assert found == []
