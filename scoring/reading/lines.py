"""Cut a stream of CSV bytes into the header line and blocks of whole lines. Pure.

Blocks end at a line end, so each can be parsed on its own (in parallel) and every problem
found in one can be given its line number. A file whose lines end with CR alone (classic Mac
OS) is read as if they ended with LF. No line may be longer than `ReadLimits.max_line_bytes`:
a longer one is refused before it is held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from scoring.reading.errors import SubmissionError, count_text
from scoring.reading.limits import ReadLimits

BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 4 * 1024**2


class ByteStream(Protocol):
    def read(self, n: int) -> bytes: ...

    def readinto(self, view: memoryview) -> int: ...


@dataclass(frozen=True)
class HeaderLine:
    text: str
    line: int  # 1-based line number of the header (blank lines before it are skipped)
    cr_only: bool


class LongLine(Exception):
    """A line after the header exceeds `max_line_bytes`; the reader knows its number."""


def long_line_error(line: int, limits: ReadLimits) -> SubmissionError:
    what = "the header" if line == 1 else "line"
    return SubmissionError(
        "line_too_long",
        f"{what} {count_text(line) if line != 1 else '(line 1)'} is longer than "
        f"{count_text(limits.max_line_bytes)} bytes; a row holds one id (at most 256 "
        "characters) and one number per embedding column, nothing more",
    )


class LineBlocks:
    """Iterate the header, then blocks of whole lines, from `stream`."""

    def __init__(self, stream: ByteStream, limits: ReadLimits, chunk_bytes: int = CHUNK_BYTES):
        self.stream = stream
        self.limits = limits
        self.chunk_bytes = chunk_bytes
        self.buffer = b""
        self.eof = False
        self.cr_only = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        block = self.stream.read(self.chunk_bytes)
        if not block:
            self.eof = True
            return False
        if self.cr_only:
            block = block.replace(b"\r", b"\n")
        self.buffer += block
        return True

    def _next_line(self, line_no: int) -> tuple[bytes, bytes] | None:
        """(line, terminator) from the buffer, reading on as needed; None at the end."""
        end = _line_end(self.buffer)
        while (end < 0 or end == len(self.buffer) - 1) and self._fill():
            if end < 0 and len(self.buffer) > self.limits.max_line_bytes:
                raise long_line_error(line_no, self.limits)
            end = _line_end(self.buffer)
        if not self.buffer:
            return None
        if end < 0:
            end = len(self.buffer)
        if end > self.limits.max_line_bytes:
            raise long_line_error(line_no, self.limits)
        term = self.buffer[end : end + 2]
        term = b"\r\n" if term == b"\r\n" else term[:1]
        line, self.buffer = self.buffer[:end], self.buffer[end + len(term) :]
        return line, term

    def header(self) -> HeaderLine:
        """The first non-blank line, decoded; raises for empty files and overlong headers."""
        self._fill()
        if self.buffer.startswith(BOM):
            self.buffer = self.buffer[len(BOM) :]
        line_no = 1
        while True:
            got = self._next_line(line_no)
            if got is None:
                raise SubmissionError(
                    "empty_file",
                    "the file is empty; expected a header 'id,0,1,…' and one row per sample",
                )
            raw, term = got
            if raw.strip(b" \t"):
                break
            line_no += 1
        if term == b"\r":
            self.cr_only = True
            self.buffer = self.buffer.replace(b"\r", b"\n")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SubmissionError(
                "not_utf8",
                f"the file is not UTF-8 text: byte 0x{raw[exc.start]:02x} in the header "
                f"(line {line_no}) cannot be decoded; save the CSV with UTF-8 encoding",
            ) from None
        return HeaderLine(text, line_no, self.cr_only)

    def blocks(self) -> Iterator[bytearray]:
        """Blocks of whole lines after the header (the last line may lack its line end).
        Each block is read straight into its own buffer: no copy of the text on the way."""
        carry, self.buffer = self.buffer, b""
        while True:
            block = bytearray(len(carry) + self.chunk_bytes)
            block[: len(carry)] = carry
            end = len(carry) + self._read_into(memoryview(block)[len(carry) :])
            del block[end:]
            if self.cr_only:
                block = block.replace(b"\r", b"\n")
            if self.eof:
                if block:
                    if block.rfind(b"\n") < 0 and len(block) > self.limits.max_line_bytes:
                        raise LongLine()
                    yield block
                return
            cut = block.rfind(b"\n")
            if cut < 0:
                if len(block) > self.limits.max_line_bytes:
                    raise LongLine()
                carry = bytes(block)
                continue
            carry = bytes(block[cut + 1 :])
            del block[cut + 1 :]
            yield block

    def _read_into(self, view: memoryview) -> int:
        total = 0
        while total < len(view) and not self.eof:
            got = self.stream.readinto(view[total:])
            if not got:
                self.eof = True
            total += got or 0
        return total


def _line_end(data: bytes) -> int:
    """Index of the first LF or CR in `data`, or -1."""
    lf = data.find(b"\n")
    cr = data.find(b"\r", 0, lf if lf >= 0 else len(data))
    return cr if cr >= 0 else lf
