"""The id column, block by block: checks, suffix stripping, duplicates, the ids a phase needs.
Pure.

Ids are trimmed, at most `max_id_chars` long, never empty, and lose `.zarr.zip` / `.zarr`
anywhere in them (the reference replaces the substrings, flag
`zarr_zip_not_removed_from_id_column`). When the reader knows which ids the phase needs, only
those rows are kept: duplicates among them are refused (one array of first lines, no strings
kept), and the other ids are counted and ignored, as the reference ignores them. Without that
knowledge every row is kept and every duplicate refused.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring.reading.arrow_arrays import numeric_values, string_array
from scoring.reading.errors import SubmissionError, count_text, examples_text
from scoring.results import Finding


class IdLedger:
    """Accumulates the ids of one file's blocks, in file order."""

    def __init__(self, expected: Iterable[str] | None, max_id_chars: int) -> None:
        self.max_id_chars = max_id_chars
        self.expected: list[str] | None = None
        self.value_set: pa.Array | None = None
        if expected is not None:
            self.expected = sorted(set(expected))
            self.value_set = string_array(self.expected)
            self.first_line = np.zeros(len(self.expected), dtype=np.int64)  # 0: not seen
        self.seen: dict[str, int] = {}
        self.kept: list[str] = []
        self.extra = 0
        self.extra_examples: list[str] = []
        self.stripped = 0

    @property
    def capacity(self) -> int | None:
        """At most this many rows are kept (the ids the phase needs), None if unbounded."""
        return None if self.expected is None else len(self.expected)

    def take(self, ids: pa.ChunkedArray | pa.Array, lines: np.ndarray) -> np.ndarray | None:
        """Check one block's ids (`lines`: each row's line number); returns the rows to keep
        (None: all of them) and records their ids."""
        text = pc.utf8_trim_whitespace(ids)
        self._check_lengths(text, lines)
        cleaned = pc.replace_substring(text, ".zarr.zip", "")
        cleaned = pc.replace_substring(cleaned, ".zarr", "")
        self.stripped += len(text) - pc.sum(pc.equal(text, cleaned)).as_py() if len(text) else 0
        if self.value_set is None:
            self._take_all(cleaned.to_pylist(), lines)
            return None
        position = numeric_values(pc.index_in(cleaned, value_set=self.value_set), -1)
        keep = np.flatnonzero(position >= 0)
        if len(keep) < len(position):
            self.extra += len(position) - len(keep)
            if len(self.extra_examples) < 4:
                others = np.flatnonzero(position < 0)[:4].tolist()
                self.extra_examples += [cleaned[r].as_py() for r in others]
        self._take_expected(position[keep], lines[keep])
        return keep

    def _check_lengths(self, text: pa.ChunkedArray | pa.Array, lines: np.ndarray) -> None:
        if not len(text):
            return
        length = numeric_values(pc.utf8_length(text), 0)
        empty = np.flatnonzero(length == 0)
        if len(empty):
            raise SubmissionError(
                "empty_id",
                f"line {count_text(int(lines[empty[0]]))} has an empty id"
                + (f" ({count_text(len(empty))} such rows nearby)" if len(empty) > 1 else "")
                + "; every row needs the id of its sample",
            )
        long = np.flatnonzero(length > self.max_id_chars)
        if len(long):
            row = int(long[0])
            raise SubmissionError(
                "id_too_long",
                f"line {count_text(int(lines[row]))}: the id is "
                f"{count_text(int(length[row]))} characters long, ids are at most "
                f"{count_text(self.max_id_chars)}; use the data cube file names as ids",
            )

    def _take_all(self, ids: list[str], lines: np.ndarray) -> None:
        dupes: list[tuple[str, int, int]] = []
        for value, line in zip(ids, lines.tolist(), strict=True):
            first = self.seen.setdefault(value, line)
            if first != line:
                dupes.append((value, first, line))
        if dupes:
            raise _duplicates(dupes)
        self.kept.extend(ids)

    def _take_expected(self, position: np.ndarray, lines: np.ndarray) -> None:
        assert self.expected is not None
        order = np.argsort(position, kind="stable")
        sorted_pos = position[order]
        again_in_block = order[1:][sorted_pos[1:] == sorted_pos[:-1]]
        seen_before = np.flatnonzero(self.first_line[position] > 0)
        dup_rows = np.union1d(again_in_block, seen_before)
        if len(dup_rows):
            first_of = dict(zip(position[order][::-1].tolist(), lines[order][::-1].tolist(),
                                strict=True))  # fmt: skip
            dupes = []
            for row in dup_rows.tolist():
                pos = int(position[row])
                earlier = int(self.first_line[pos]) or first_of[pos]
                dupes.append((self.expected[pos], earlier, int(lines[row])))
            raise _duplicates(dupes)
        self.first_line[position] = lines
        self.kept.extend(self.expected[p] for p in position.tolist())

    def findings(self) -> list[Finding]:
        found = []
        if self.stripped:
            found.append(
                Finding(
                    "zarr_zip_not_removed_from_id_column",
                    f"'.zarr.zip' / '.zarr' was stripped from {count_text(self.stripped)} id(s)",
                )
            )
        if self.extra:
            found.append(
                Finding(
                    "extra_ids_ignored",
                    f"{count_text(self.extra)} id(s) not used by any task were ignored",
                )
            )
        return found


def _duplicates(dupes: list[tuple[str, int, int]]) -> SubmissionError:
    distinct = list(dict.fromkeys(value for value, _, _ in dupes))
    value, first, again = dupes[0]
    return SubmissionError(
        "duplicate_ids",
        f"{count_text(len(distinct))} duplicate id(s), e.g. {examples_text(distinct)}: "
        f"{value[:60]!r} is on line {count_text(first)} and again on line {count_text(again)}; "
        "each sample must appear exactly once",
    )
