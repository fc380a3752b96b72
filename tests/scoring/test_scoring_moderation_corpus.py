"""The moderation corpus: miss and false-refusal rates per category and language.

tests/scoring/corpus/ holds adversarial lines (personal information in the
forms that got through before; interference sent to review) and innocent
lines (what reports are made of, with the hard cases). Each has a dev part
and a held-out part, written before the filter was tuned; the filter was
tuned on the dev part only, never on the held-out misses. The test prints
both tables and asserts the goals (at most 5 % of adversarial lines missed,
at most 3 % of innocent lines refused) on the dev part and on the whole
corpus. The held-out part measures how the filter does on lines it was not
tuned on; with about 60 innocent lines one line is 1.7 %, so it is held to
twice the goals, and its figures are reported as they are.

A line is missed when moderate() neither refuses it (personal information)
nor sends it to review (interference). An innocent line counts as falsely
refused when it is refused; a review of an innocent line is shown apart.

List the dev misses: PYTHONPATH=. python tests/scoring/test_scoring_moderation_corpus.py
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from scoring.moderation import Moderation, moderate

CORPUS = Path(__file__).parent / "corpus"
MAX_MISS = 0.05
MAX_FALSE_REFUSAL = 0.03
HELD_OUT_SLACK = 2  # the held-out part, never tuned on: twice the goals
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


@dataclass(frozen=True)
class Line:
    category: str
    lang: str
    text: str


def load(name: str) -> list[Line]:
    lines = []
    for raw in (CORPUS / name).read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        category, lang, text = raw.split(" ", 2)
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)
        lines.append(Line(category, lang, text))
    return lines


def missed(line: Line, m: Moderation) -> bool:
    if line.category == "interference":
        return not m.review
    return not m.refused


def table(title: str, lines: list[Line], bad: list[bool], what: str) -> str:
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for line, b in zip(lines, bad, strict=True):
        groups[(line.category, line.lang)].append(b)
        groups[(line.category, "all")].append(b)
        groups[("all", line.lang)].append(b)
        groups[("all", "all")].append(b)
    out = [f"{title}: {what} per category and language"]
    for (category, lang), flags in sorted(groups.items()):
        n, k = len(flags), sum(flags)
        out.append(f"  {category:<13} {lang:<3} {k:>3}/{n:<3} {100 * k / n:5.1f} %")
    return "\n".join(out)


def rates(kind: str, part: str) -> tuple[list[Line], list[bool], list[Moderation]]:
    names = {"dev": [f"{kind}.txt"], "heldout": [f"{kind}_heldout.txt"]}.get(
        part, [f"{kind}.txt", f"{kind}_heldout.txt"]
    )
    lines = [line for name in names for line in load(name)]
    results = [moderate(line.text) for line in lines]
    if kind == "adversarial":
        bad = [missed(line, m) for line, m in zip(lines, results, strict=True)]
    else:
        bad = [m.refused for m in results]
    return lines, bad, results


def test_corpus_is_big_enough_and_held_out_is_a_fifth_of_each_category():
    for kind, minimum in (("adversarial", 500), ("innocent", 200)):
        dev, held = load(f"{kind}.txt"), load(f"{kind}_heldout.txt")
        assert len(dev) + len(held) >= minimum
        for category in {line.category for line in dev + held}:
            n_dev = sum(line.category == category for line in dev)
            n_held = sum(line.category == category for line in held)
            assert n_held >= 0.2 * (n_dev + n_held), (kind, category)
        assert {line.lang for line in dev + held} == {"en", "es"}
    categories = {line.category for line in load("adversarial.txt")}
    assert categories == {
        "plate", "phone", "email", "handle", "link", "name", "address", "coordinates",
        "interference", "mixed",
    }  # fmt: skip


@pytest.mark.parametrize("part", ["dev", "heldout", "all"])
def test_miss_and_false_refusal_rates(part, capsys):
    adv, adv_bad, _ = rates("adversarial", part)
    inn, inn_bad, inn_results = rates("innocent", part)
    reviewed = [bool(m.review) for m in inn_results]
    with capsys.disabled():
        print()
        print(table(f"adversarial ({part})", adv, adv_bad, "misses"))
        print(table(f"innocent ({part})", inn, inn_bad, "false refusals"))
        print(f"innocent ({part}): {sum(reviewed)}/{len(inn)} sent to review")
    miss_rate = sum(adv_bad) / len(adv)
    false_rate = sum(inn_bad) / len(inn)
    slack = HELD_OUT_SLACK if part == "heldout" else 1
    assert miss_rate <= MAX_MISS * slack, f"{part}: {miss_rate:.1%} of adversarial lines missed"
    assert false_rate <= MAX_FALSE_REFUSAL * slack, f"{part}: {false_rate:.1%} refused"


def main() -> None:  # pragma: no cover - a tuning aid, on the dev part only
    adv, adv_bad, _ = rates("adversarial", "dev")
    inn, inn_bad, inn_res = rates("innocent", "dev")
    for line, b in zip(adv, adv_bad, strict=True):
        if b:
            print(f"MISS  {line.category:<12} {line.lang} {line.text!r}")
    for line, b, m in zip(inn, inn_bad, inn_res, strict=True):
        if b or m.review:
            spans = [(f.kind.value, line.text[f.start : f.end]) for f in m.refusals + m.review]
            print(f"FALSE {line.category:<12} {line.lang} {line.text!r} {spans}")
    print(f"dev: {sum(adv_bad)}/{len(adv)} missed, {sum(inn_bad)}/{len(inn)} refused")


if __name__ == "__main__":
    sys.exit(main())
