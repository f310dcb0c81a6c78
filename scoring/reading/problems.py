"""Find and describe what is wrong in a block of CSV lines, for the participant. Pure.

The fast parser only says that a block failed; this module looks at the block line by line
(slow, but only ever on a block that failed) and names the first problem with its line and
column, in words a participant understands, with the likely cause when it is a common one
(a decimal comma, digit-group separators, a trailing comma, non-ASCII digits).
Line numbers are relative to the block (`offset`); the reader adds the block's first line.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

# What the fast parser accepts as a number (checked against it in the tests): an optional sign,
# digits with an optional point and exponent, and nan / inf / infinity in any case.
NUMBER = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:nan|inf|infinity)"
)
DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
GROUPED = re.compile(r"[+-]?[0-9]{1,3}(?:[_'\u00a0\u202f ,.][0-9]{3})+(?:[.,][0-9]*)?")


class LineProblem(Exception):
    """A problem at line `offset` of a block (0 = its first line). `message` may hold the
    placeholders {line} (the absolute line number) and {last} (the block's last line)."""

    def __init__(self, offset: int, code: str, message: str, last_offset: int = 0) -> None:
        super().__init__(message)
        self.offset = offset
        self.code = code
        self.message = message
        self.last_offset = last_offset

    def text(self, first_line: int) -> str:
        return self.message.replace("{line}", f"{first_line + self.offset:,}").replace(
            "{last}", f"{first_line + self.last_offset:,}"
        )


@dataclass(frozen=True)
class CleanBlock:
    """A block without its blank lines, and the offset of each remaining line."""

    data: bytes
    row_offsets: list[int]
    lines: int  # lines in the block, blank ones included


def line_of(data: bytes | bytearray, index: int) -> int:
    """Offset of the line holding byte `index`."""
    return data.count(b"\n", 0, index)


def check_bytes(data: bytes | bytearray) -> None:
    """NUL bytes and invalid UTF-8, each refused with its line."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise LineProblem(
            line_of(data, nul),
            "nul_bytes",
            "line {line} contains a NUL byte (\\0): the file is binary or damaged; save it "
            "again as plain UTF-8 text",
        )
    if data.isascii():
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LineProblem(
            line_of(data, exc.start),
            "not_utf8",
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {{line}} cannot "
            "be decoded; save the CSV with UTF-8 encoding",
        ) from None


def check_lines(data: bytes | bytearray, n_fields: int) -> CleanBlock:
    """Every non-blank line has `n_fields` fields and closes its quotes; blank lines dropped."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    kept: list[bytes] = []
    offsets: list[int] = []
    for k, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line.strip(b" \t"):
            continue
        if b"\r" in line:
            raise LineProblem(
                k,
                "line_endings",
                "line {line} contains a carriage return (CR) inside the line: the file mixes "
                "line-ending styles; save it again with one style (LF or CR LF)",
            )
        text = line.decode("utf-8", errors="replace")
        fields = _fields(text, k)
        if len(fields) != n_fields:
            raise LineProblem(k, "ragged_rows", _ragged(fields, n_fields))
        kept.append(line)
        offsets.append(k)
    return CleanBlock(b"\n".join(kept) + b"\n" if kept else b"", offsets, len(lines))


def _fields(text: str, k: int) -> list[str]:
    if '"' in text and text.count('"') % 2:
        raise LineProblem(
            k,
            "unclosed_quote",
            'line {line} has a quote (") that is not closed on that line; values may be '
            "quoted, but a quoted value must end on the line where it starts",
        )
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise LineProblem(
                k, "value_too_long", "line {line} has a value longer than 131,072 characters; "
                "a row holds one id (at most 256 characters) and numbers",
            ) from None  # fmt: skip
        raise LineProblem(
            k,
            "bad_quotes",
            'line {line} has a quote (") inside a value; remove it or quote the whole value '
            "and double the quote inside it",
        ) from None


def _ragged(fields: list[str], n_fields: int) -> str:
    found = len(fields)
    message = (
        f"line {{line}} has {found:,} comma-separated values but the header has {n_fields:,} "
        "columns; every row needs an id and one value per column"
    )
    if found == n_fields + 1 and fields[-1].strip() == "":
        return message + " (the line ends with a comma: remove it)"
    if found > n_fields and any(
        a.strip().lstrip("+-").isdigit() and b.strip().isdigit()
        for a, b in zip(fields[1:], fields[2:], strict=False)
    ):
        return message + (
            " (if your numbers use a decimal comma, e.g. 0,5, write them with a point: 0.5)"
        )
    if found == 1 and any(sep in fields[0] for sep in (";", "\t")):
        return message + " (the line is not comma-separated)"
    return message


def is_number_text(text: str) -> bool:
    return NUMBER.fullmatch(text.strip(" \t")) is not None


def bad_cell_message(column: str, text: str, how_many: int) -> str:
    """'line {line}, column '3': 'abc' is not a number; <how to fix>'."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    message = f"line {{line}}, column {column!r}: {shown!r} is not a number; " + _hint(text)
    if how_many > 1:
        message += f" ({how_many:,} such cells in lines {{line}}-{{last}})"
    return message


def _hint(text: str) -> str:
    value = text.strip()
    if DECIMAL_COMMA.fullmatch(value):
        return "write decimals with a point (0.5), not a comma (0,5)"
    if GROUPED.fullmatch(value):
        return "remove the digit-group separators (write 1234.5, not 1,234.5 or 1_234.5)"
    if any(ch.isdigit() and not ch.isascii() for ch in value):
        return "write the numbers with the digits 0-9"
    if value[:1] in "[(" and value[-1:] in "])" and len(value) > 2:
        return (
            "a whole vector in one cell is not read: write one column per dimension, "
            "with the header 'id,0,1,2,…'"
        )
    return "write every embedding value as a plain decimal number such as -0.125 or 1.5e-3"
