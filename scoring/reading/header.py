"""The header line: which column is the id, which are the embedding dimensions. Pure.

Every check is linear in the header's length, and the column limits are applied here, before
any row is parsed. The protocol's rule (../shared/neucobench-protocol.md "Inputs"): embedding
columns are the columns whose names are all digits, ordered by integer value; if there are
none, every non-`id` column. Digits here are ASCII 0-9: `²` or `١` are digits to Python but not
dimension numbers, and a participant is told so.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass

from scoring.reading.errors import SubmissionError, count_text, examples_text
from scoring.reading.limits import ReadLimits
from scoring.results import Finding

MAX_NAME_CHARS = 1_000


@dataclass(frozen=True)
class Header:
    """The parsed header: every field name, and the embedding columns in dimension order."""

    names: tuple[str, ...]  # every field, as written (stripped)
    id_index: int
    embedding_indices: tuple[int, ...]  # field positions, in dimension order
    findings: tuple[Finding, ...] = ()

    @property
    def embedding_names(self) -> tuple[str, ...]:
        return tuple(self.names[i] for i in self.embedding_indices)

    @property
    def found_dim(self) -> int:
        return len(self.embedding_indices)


def is_dimension_name(name: str) -> bool:
    return name.isascii() and name.isdigit()


def embedding_columns(names: list[str]) -> list[str]:
    """The protocol's rule: all-digit names by integer value, else every non-id column."""
    digits = [n for n in names if is_dimension_name(n)]
    if digits:
        return sorted(digits, key=int)
    return [n for n in names if n != "id"]


def parse_header(line: str, limits: ReadLimits) -> Header:
    """Check the header line (without its line end) and find the embedding columns."""
    if "\x00" in line:
        raise SubmissionError(
            "nul_bytes",
            "the header (line 1) contains a NUL byte (\\0); the file is binary or damaged: "
            "save it again as plain UTF-8 text",
        )
    fields_seen = line.count(",") + 1
    if fields_seen > limits.max_columns:
        raise _too_many_fields(fields_seen, limits)
    names = [n.strip() for n in _fields(line)]
    if len(names) == 1 and any(sep in line for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in line)
        shown = "tab" if sep == "\t" else repr(sep)
        raise SubmissionError(
            "bad_separator",
            f"the header uses {shown} as separator; the file must be comma-separated",
        )
    if "id" not in names:
        shown = ",".join(n[:20] for n in names[:4]) + (",…" if len(names) > 4 else "")
        hint = ""
        if names and names[0].lstrip("\ufeff").strip('"') == "id":
            hint = " (it is preceded by invisible characters)"
        raise SubmissionError(
            "no_id_column",
            f"there is no 'id' column (the header starts '{shown}'){hint}; name the column "
            "that holds the sample ids exactly 'id'",
        )
    counts = Counter(n for n in names if n)
    dupes = sorted(n for n, c in counts.items() if c > 1)
    if dupes:
        raise SubmissionError(
            "duplicate_columns",
            f"column name(s) {examples_text(dupes)} appear more than once in the header; "
            "every column needs a unique name",
        )
    odd_digits = [n for n in names if n.isdigit() and not n.isascii()]
    if odd_digits:
        raise SubmissionError(
            "bad_header",
            f"column name(s) {examples_text(odd_digits)} use digits other than 0-9 (e.g. "
            "superscript or Arabic-Indic digits); name the embedding columns 0, 1, 2, … "
            "with the digits 0-9",
        )
    return _with_dimensions(names, limits)


def _fields(line: str) -> list[str]:
    pieces = line.split(",")
    if len(pieces) == 1 and any(sep in line for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in line)
        shown = "tab" if sep == "\t" else repr(sep)
        raise SubmissionError(
            "bad_separator",
            f"the header uses {shown} as separator; the file must be comma-separated",
        )
    longest = max(range(len(pieces)), key=lambda k: len(pieces[k]))
    if len(pieces[longest]) > MAX_NAME_CHARS:
        raise SubmissionError(
            "bad_header",
            f"column {longest + 1} of the header is a name of "
            f"{count_text(len(pieces[longest]))} characters (at most "
            f"{count_text(MAX_NAME_CHARS)}); the header is 'id,0,1,2,…'",
        )
    if '"' not in line:
        return pieces
    try:
        return next(csv.reader([line], strict=True))
    except (csv.Error, StopIteration):
        raise SubmissionError(
            "unclosed_quote",
            'the header (line 1) has a quote (") that is not closed on that line, or a quote '
            "inside a name; remove the quotes or close them",
        ) from None


def _with_dimensions(names: list[str], limits: ReadLimits) -> Header:
    digit_positions = [k for k, n in enumerate(names) if is_dimension_name(n)]
    if digit_positions:
        indices = sorted(digit_positions, key=lambda k: int(names[k]))
    else:
        indices = [k for k, n in enumerate(names) if n != "id"]
    if not indices:
        raise SubmissionError(
            "no_embedding_columns",
            "the file has an 'id' column but no embedding columns; add one column per "
            "dimension named 0, 1, 2, …",
        )
    if len({int(names[k]) for k in digit_positions}) != len(digit_positions):
        raise SubmissionError(
            "duplicate_columns",
            "two embedding columns name the same dimension (e.g. '1' and '01'); "
            "name them 0, 1, 2, … without leading zeros",
        )
    dim = limits.embedding_dim
    if dim is not None and len(indices) > dim:
        raise SubmissionError(
            "too_many_columns",
            f"{count_text(len(indices))} embedding columns, the limit is {count_text(dim)}; "
            f"submit at most {count_text(dim)} values per sample{_unnamed_hint(names, indices)}",
        )
    findings: list[Finding] = []
    chosen = set(indices)
    ignored = [n or "(unnamed)" for k, n in enumerate(names) if n != "id" and k not in chosen]
    if ignored:
        findings.append(
            Finding(
                "extra_columns_ignored",
                f"{len(ignored)} non-numeric column name(s) ignored: {examples_text(ignored)}",
            )
        )
    return Header(tuple(names), names.index("id"), tuple(indices), tuple(findings))


def _unnamed_hint(names: list[str], indices: list[int]) -> str:
    """Why there may be a column too many: one without a name, as pandas' row index is
    written (first) or as a comma at the end of the header makes one (last)."""
    unnamed = [k for k in indices if not names[k]]
    if not unnamed:
        return ""
    if unnamed[0] == 0:
        return (
            "; column 1 has no name: is it a row index? pandas writes one unless told not to "
            "(`to_csv(path, index=False)`)"
        )
    if unnamed[0] == len(names) - 1:
        return "; the header ends with a comma, which makes a last column without a name"
    return f"; column {unnamed[0] + 1} has no name"


def _too_many_fields(fields: int, limits: ReadLimits) -> SubmissionError:
    dim = limits.embedding_dim
    allowed = (
        f"an 'id' column and at most {count_text(dim)} embedding columns"
        if dim is not None
        else f"at most {count_text(limits.max_columns)} columns"
    )
    return SubmissionError(
        "too_many_columns",
        f"the header has {count_text(fields)} columns; a submission has {allowed}",
    )
