"""Text normalisation and fingerprints for spotting copy-pasted descriptions.

Rule: fingerprints are stable across processes and machines (zlib.crc32,
never Python's salted hash()), so the node may keep them in memory across
reloads and compare reports from different workers.
"""

from __future__ import annotations

import unicodedata
import zlib

# Shape of the fingerprint (algorithm constants, not chapter tunables).
WORD_SHINGLE = 3  # words per shingle
CHAR_GRAM = 5  # characters per gram, for short texts
SHORT_TEXT_WORDS = 40  # texts with fewer words (about 250 characters) also get char grams


def normalize(text: str) -> str:
    """Casefold, strip accents, turn punctuation into spaces, collapse whitespace."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch):
            continue
        kept.append(ch if ch.isalnum() else " ")
    return " ".join("".join(kept).split())


def _mask_numbers(norm: str) -> str:
    """Every run of digits as one "0": numbers are a template's slots ("5 agents")."""
    out: list[str] = []
    for ch in norm:
        if ch.isdigit():
            if not out or out[-1] != "0":
                out.append("0")
        else:
            out.append(ch)
    return "".join(out)


def _crc(tag: str, piece: str) -> int:
    return zlib.crc32(f"{tag}\x1f{piece}".encode())


def fingerprint(text: str) -> frozenset[int]:
    """The set of hashed shingles of a text; empty for a text with no words.

    Word 3-shingles capture the text's content; short texts (where one edited
    word would change most shingles) also get character 5-grams, so that
    tiny edits of a copy-pasted text still look alike. Numbers are masked
    first ("5 agents" and "12 agents" are one skeleton), so templated texts
    with swapped numbers look alike too.
    """
    norm = _mask_numbers(normalize(text))
    words = norm.split()
    if not words:
        return frozenset()
    hashes: set[int] = set()
    if len(words) < WORD_SHINGLE:
        hashes.add(_crc("w", " ".join(words)))
    else:
        for i in range(len(words) - WORD_SHINGLE + 1):
            hashes.add(_crc("w", " ".join(words[i : i + WORD_SHINGLE])))
    if len(words) < SHORT_TEXT_WORDS:
        if len(norm) <= CHAR_GRAM:
            hashes.add(_crc("c", norm))
        else:
            for i in range(len(norm) - CHAR_GRAM + 1):
                hashes.add(_crc("c", norm[i : i + CHAR_GRAM]))
    return frozenset(hashes)


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard similarity of two fingerprints; 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)
