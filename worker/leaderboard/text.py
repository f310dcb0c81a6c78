"""How untrusted names and board numbers become text on the leaderboard. Pure.

Shared by the Markdown, JSON / CSV and plot renderers (`worker.leaderboard.render`,
`worker.leaderboard.plots`), so a name or a number reads the same in every file.

Names are untrusted. Markdown cells get `markdown_cell`: control, line-break and bidi control
characters removed (GitHub flags files with hidden bidi characters, so we strip rather than wrap
in isolates; each table cell is its own bidi paragraph once rendered), whitespace collapsed,
truncated to 60 characters + "…", every ASCII punctuation character backslash-escaped (CommonMark
guarantees this renders literally; it defeats links, emphasis, `|` cell breaks, `$` math, and
`:`/`www.` autolinks), a word joiner after `@` (e-mail autolinks), and `&`, `<`, `>` written as
entities. Emoji are kept. JSON and CSV carry `plain_name` (same cleaning, no truncation).
"""

from __future__ import annotations

import math
import string
import unicodedata

NAME_LIMIT = 60
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EMOJI_FORMAT = frozenset(["\u200d", *map(chr, range(0xE0020, 0xE0080))])  # ZWJ, tag sequences
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PUNCT = frozenset(string.punctuation)


def plain_name(text: str) -> str:
    """Name without control, line-break or bidi control characters, whitespace collapsed."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in _BIDI or category == "Cs" or (category == "Cf" and ch not in _EMOJI_FORMAT):
            continue
        kept.append(" " if category in ("Cc", "Zl", "Zp") else ch)
    return " ".join("".join(kept).split())


def shortened(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def markdown_cell(text: str, limit: int = NAME_LIMIT) -> str:
    """An untrusted name as inert inline Markdown: one line, no links, HTML or cell breaks."""
    out = []
    for ch in shortened(plain_name(text), limit):
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "@":
            # GFM's e-mail autolinker runs after escapes are resolved; only an invisible word
            # joiner after the `@` stops it (checked with cmark-gfm).
            out.append("\\@\u2060")
        elif ch in _PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out) or "\\-"


def number_text(value: float | None, digits: int) -> str:
    """A board number with fixed decimals; missing or non-finite values show as "–"."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def place_text(place: int, baseline: bool) -> str:
    """An entry's place; a baseline's is parenthesised (where it would stand, not a place)."""
    return f"({place})" if baseline else str(place)
