"""scoring/ stays pure: stdlib only (and the pure libraries below), no clock, no I/O, no
randomness, a docstring each. Shipped data files are read with importlib.resources only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[2] / "scoring"
FILES = sorted(SCORING.rglob("*.py"))
ALLOWED_STDLIB = {
    "__future__", "collections", "dataclasses", "datetime", "enum", "itertools", "math",
    "re", "typing", "unicodedata", "zlib", "functools",
    "bisect", "json", "importlib",  # scoring/moderation: shipped word lists and tables
}  # fmt: skip
# Well-kept libraries that do no I/O of their own beyond their shipped data.
THIRD_PARTY = {"phonenumbers"}
FORBIDDEN_CALLS = {
    "now", "utcnow", "today", "time", "sleep", "open", "print", "random", "urandom",
    "perf_counter", "monotonic", "getenv", "input", "exec", "eval",
}  # fmt: skip


def test_there_are_files_to_check():
    names = {str(p.relative_to(SCORING)) for p in FILES}
    assert {
        "score.py",
        "moderation/__init__.py",
        "decay.py",
        "review.py",
        "text.py",
        "geo.py",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_module_is_pure(path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name} has no module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                assert top in ALLOWED_STDLIB | THIRD_PARTY, f"{path.name} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            assert top in ALLOWED_STDLIB | THIRD_PARTY | {"scoring"}, f"{path.name}: {node.module}"
            assert top in sys.stdlib_module_names | THIRD_PARTY | {"scoring", "__future__"}
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
