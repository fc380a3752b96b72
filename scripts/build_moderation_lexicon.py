"""Rebuild the word lists that scoring/moderation reads (scoring/data/*.txt).

A developer's tool, never run by a node. It needs two source packages,
unpacked or installed, and writes plain-text lists the node ships:

- first_names.txt: the 1990 US Census first names (male and female files;
  public domain, as redistributed in the `names` package 0.3.0), lowercased,
  plus scoring/data/first_names_es.txt (our own supplement: common Mexican
  and Central American given names and nicknames the 1990 files lack).
- surnames.txt: the 1990 US Census surnames, the most frequent SURNAMES_KEPT
  (about 78 % of people), lowercased.
- common_words.txt: every word whose count in pyspellchecker 0.9.1's English
  or Spanish frequency list (MIT; from OpenSubtitles) is at least
  COMMON_MIN_COUNT, with that count: "will", "rosa", "mesa", "hill" are words
  as well as names, so a name rule needs more than the word itself.

Usage: python scripts/build_moderation_lexicon.py NAMES_DIR SPELLCHECKER_RESOURCES_DIR
(NAMES_DIR holds dist.male.first, dist.female.first, dist.all.last;
SPELLCHECKER_RESOURCES_DIR holds en.json.gz and es.json.gz).
"""

from __future__ import annotations

import gzip
import json
import sys
import unicodedata
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "scoring" / "data"
SURNAMES_KEPT = 20_000
COMMON_MIN_COUNT = 2_000


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def census(path: Path, limit: int | None = None) -> list[str]:
    words: list[str] = []
    for line in path.read_text(encoding="ascii").splitlines():
        if line.strip():
            words.append(line.split()[0].lower())
        if limit is not None and len(words) >= limit:
            break
    return words


def write(name: str, header: str, lines: list[str]) -> None:
    text = "".join(f"# {h}\n" for h in header.strip().splitlines()) + "\n".join(lines) + "\n"
    (DATA / name).write_text(text, encoding="utf-8")
    print(f"{name}: {len(lines)} lines")


def main(names_dir: Path, resources: Path) -> None:
    first = set(census(names_dir / "dist.male.first")) | set(
        census(names_dir / "dist.female.first")
    )
    write(
        "first_names.txt",
        """
First names, lowercased: the 1990 US Census first-name files (dist.male.first,
dist.female.first; public domain, US Census Bureau), as redistributed in the
`names` package 0.3.0. See first_names_es.txt for the Spanish supplement.
Rebuilt by scripts/build_moderation_lexicon.py.
""",
        sorted(first),
    )
    write(
        "surnames.txt",
        f"""
Surnames, lowercased: the {SURNAMES_KEPT} most frequent of the 1990 US Census
surname file (dist.all.last; public domain, US Census Bureau), as redistributed
in the `names` package 0.3.0. Rebuilt by scripts/build_moderation_lexicon.py.
""",
        census(names_dir / "dist.all.last", SURNAMES_KEPT),
    )
    counts: dict[str, int] = {}
    for lang in ("en", "es"):
        with gzip.open(resources / f"{lang}.json.gz", "rt", encoding="utf-8") as handle:
            for word, count in json.load(handle).items():
                key = fold(word)
                if count >= COMMON_MIN_COUNT and key.isalpha():
                    counts[key] = max(counts.get(key, 0), count)
    write(
        "common_words.txt",
        f"""
Common English and Spanish words with their count (the larger of the two) in
pyspellchecker 0.9.1's frequency lists (MIT; counted on OpenSubtitles), every
word counted at least {COMMON_MIN_COUNT} times, accents folded.
Rebuilt by scripts/build_moderation_lexicon.py.
""",
        [f"{w} {c}" for w, c in sorted(counts.items())],
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
