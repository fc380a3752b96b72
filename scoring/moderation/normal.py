"""Normalised views of a report's text, each mapped back to the reporter's own characters.

Rules kept here:
- A view is the text after one transformation, plus the edits that made it,
  so every span a detector finds in a view maps back to a [start, end) span
  of the original text (View.span). Unchanged text costs nothing: an ASCII
  text without spelled digits or spaced-out letters is its own view.
- fold(): every invisible or format character is dropped (Unicode Cf, the
  default-ignorable code points, variation selectors, keycap and other
  enclosing marks), blank-looking fillers (U+2800, U+3164, ...) become a
  space, each character is NFKC-normalised, accents are stripped, and a
  character that still is not ASCII is replaced by its Unicode confusable
  prototype (UTS #39 data, from the confusable_homoglyphs package) when that
  prototype is ASCII: Cyrillic "АВС" reads "ABC", fullwidth "７" reads "7".
- digits(): English and Spanish digit words in a run ("siete a b c uno dos
  tres", "six one nine") become digits, and O/I/l look-alikes inside a
  number ("6l9 555 O1OO") become 0 and 1.
- compact(): a run of single characters spaced out ("7 A B C 1 2 3",
  "m a r i a @ g m a i l") is joined, as a reader would read it.
- Pure: no I/O here, except the confusables table read once from the
  installed package's own data at import.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

# Code points that render as nothing (Default_Ignorable_Code_Point, DerivedCoreProperties.txt).
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
# Fillers that render as a blank: read as a space, so words stay apart.
_BLANKS = frozenset("\u115f\u1160\u2800\u3164\uffa0\u2028\u2029\t\n\r\x0b\x0c")


def _confusables() -> dict[str, str]:
    """Non-ASCII character -> its ASCII confusable prototype (UTS #39 confusables.txt)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    table: dict[str, str] = {}
    for char, glyphs in json.loads(raw).items():
        if len(char) != 1 or char.isascii():
            continue
        for glyph in glyphs:
            target = glyph["c"]
            if target.isascii() and target.isprintable() and target.strip():
                table[char] = target
                break
    return table


_CONFUSABLE = _confusables()


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """What one non-ASCII character reads as: '' (invisible), ' ', ASCII, or itself."""
    cp = ord(ch)
    if ch in _BLANKS:
        return " "
    if any(lo <= cp <= hi for lo, hi in _IGNORABLE):
        return ""
    category = unicodedata.category(ch)
    if category in ("Cf", "Me", "Cc"):
        return ""
    if category == "Mn":  # combining marks: accents on the previous letter, selectors
        return ""
    if category == "Zs":
        return " "
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c.isascii():
            out.append(c)
            continue
        stripped = "".join(
            d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d)
        )
        if stripped.isascii() and stripped:
            out.append(stripped)
        elif c in _CONFUSABLE:
            proto = _CONFUSABLE[c]
            # UTS #39 maps every I-like glyph to "l"; a capital reads as "I".
            out.append("I" if proto == "l" and c.isupper() else proto)
        elif unicodedata.category(c) == "Nd":
            out.append(str(unicodedata.decimal(c)))
        elif unicodedata.category(c) == "Pd":
            out.append("-")
        elif unicodedata.category(c).startswith("Z"):
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class View:
    """A transformed text; edits (view_start, view_end, parent_start, parent_end) map it back."""

    text: str
    parent: View | None = None
    edits: tuple[tuple[int, int, int, int], ...] = ()
    _starts: tuple[int, ...] = field(default=(), repr=False)
    lower: str = ""

    def _up(self, pos: int, end: bool) -> int:
        if not self.edits:
            return pos
        probe = pos - 1 if end else pos
        i = bisect_right(self._starts, probe) - 1
        if i < 0:
            return pos
        vs, ve, ps, pe = self.edits[i]
        if vs <= probe < ve:  # inside a replaced piece: the whole of its source
            return pe if end else ps
        return pos - ve + pe

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The [start, end) span of the original text that view[start:end] came from."""
        view: View | None = self
        s, e = start, end
        while view is not None:
            s, e = view._up(s, False), view._up(e, True)
            view = view.parent
        return s, e


def _view(text: str, parent: View | None, edits: list[tuple[int, int, int, int]]) -> View:
    return View(
        text=text,
        parent=parent,
        edits=tuple(edits),
        _starts=tuple(e[0] for e in edits),
        lower=text.lower() if text.isascii() else _safe_lower(text),
    )


def _safe_lower(text: str) -> str:
    return "".join(low if len(low := c.lower()) == 1 else c for c in text)


def _rewrite(parent: View, pieces: list[tuple[int, int, str]]) -> View:
    """A child view of parent with parent.text[s:e] replaced by each piece's text (in order)."""
    if not pieces:
        return parent
    out: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    pos = 0
    length = 0
    for s, e, new in pieces:
        out.append(parent.text[pos:s])
        length += s - pos
        edits.append((length, length + len(new), s, e))
        out.append(new)
        length += len(new)
        pos = e
    out.append(parent.text[pos:])
    return _view("".join(out), parent, edits)


def fold(text: str) -> View:
    """The original text without invisible characters, look-alikes or accents."""
    if text.isascii() and text.isprintable():
        return _view(text, None, [])
    pieces: list[tuple[int, int, str]] = []
    for i, ch in enumerate(text):
        if ch.isascii() and (ch.isprintable() or ch == " "):
            continue
        new = _fold_char(ch)
        if new != ch:
            pieces.append((i, i + 1, new))
    root = _view(text, None, [])
    return _rewrite(root, pieces) if pieces else root


DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "cero": "0", "uno": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5", "seis": "6",
    "siete": "7", "ocho": "8", "nueve": "9",
}  # fmt: skip
_DIGIT_WORD = "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
# A run: digit words, digit groups and single letters, separated by punctuation or
# spaces, with at least two digit words ("uno dos tres", "seven abc one two three").
_TOKEN = rf"(?:{_DIGIT_WORD}|\d+|[a-z]{{1,3}})"
_SEP = r"[\s,.\-/_:;()]{1,3}"
_SPELLED_RUN = re.compile(rf"(?<![a-z0-9]){_TOKEN}(?:{_SEP}{_TOKEN})+(?![a-z0-9])")
_SPELLED_WORD = re.compile(rf"(?<![a-z0-9])(?:{_DIGIT_WORD})(?![a-z0-9])")
_HAS_DIGIT_WORD = re.compile(rf"\b(?:{_DIGIT_WORD})\b")
# A number written with O, I or l for some of its digits: "O1OO", "6l9", "0l87".
_LOOKALIKE = re.compile(
    r"(?<![A-Za-z0-9])(?=[0-9OoIl|]*[0-9])(?=[0-9OoIl|]*[OoIl|])[0-9OoIl|]{3,}(?![A-Za-z0-9])"
)
_ANY_DIGIT = re.compile(r"\d")
_LOOKALIKE_MAP = str.maketrans("OoIl|", "00111")


def digits(base: View) -> View:
    """Spelled digits and look-alike letters in numbers, as digits."""
    low = base.lower
    pieces: list[tuple[int, int, str]] = []
    if _HAS_DIGIT_WORD.search(low):
        for run in _SPELLED_RUN.finditer(low):
            words = list(_SPELLED_WORD.finditer(low, run.start(), run.end()))
            if len(words) < 2:
                continue
            for w in words:
                pieces.append((w.start(), w.end(), DIGIT_WORDS[w.group()]))
    for m in _LOOKALIKE.finditer(base.text) if _ANY_DIGIT.search(base.text) else ():
        if sum(c.isdigit() for c in m.group()) >= 1 and not m.group().isdigit():
            pieces.append((m.start(), m.end(), m.group().translate(_LOOKALIKE_MAP)))
    pieces.sort()
    kept: list[tuple[int, int, str]] = []
    for p in pieces:  # a look-alike inside a spelled run: the first wins
        if not kept or p[0] >= kept[-1][1]:
            kept.append(p)
    return _rewrite(base, kept)


# Four or more single characters, each followed by one separator: "7 A B C 1 2 3".
_SPACED = re.compile(r"(?<![^\s.\-/_])(?:[A-Za-z0-9@.](?:[ \-_/.·]|$)){4,}")


def compact(view: View) -> View:
    """Single characters spaced out, joined: "m a r i a" reads "maria"."""
    pieces: list[tuple[int, int, str]] = []
    for m in _SPACED.finditer(view.text):
        chunk = m.group()
        chars = [c for i, c in enumerate(chunk) if i % 2 == 0]
        if sum(c.isalnum() for c in chars) < 4:
            continue
        end = m.end() - (1 if not chunk[-1].isalnum() and chunk[-1] not in "@." else 0)
        joined = "".join(chars)
        pieces.append((m.start(), end, joined))
    return _rewrite(view, pieces)
