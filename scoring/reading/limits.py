"""How much a submission may cost to read, derived from what the phase needs. Pure.

A phase needs `labelled_rows` ids with `embedding_dim` numbers each. The uncompressed CSV may
be at most `labelled_rows x (embedding_dim x BYTES_PER_CELL + BYTES_PER_ID)` plus room for the
header: 32 bytes a number is generous (Python's shortest round-trip repr of a float64 with sign
and exponent is at most 24 characters, plus the comma), so a file written at full float64
precision fits in three quarters of the limit. Never above `ceiling` (the operator's
`4 x max_file_mb`).
"""

from __future__ import annotations

from dataclasses import dataclass

BYTES_PER_CELL = 32
BYTES_PER_ID = 300  # an id of at most 256 characters, a comma, a line end, a margin
HEADER_BYTES = 1024**2  # the header line, and any other single line, is at most 1 MiB
MAX_ID_CHARS = 256
EXTRA_COLUMNS = 64  # non-numeric columns tolerated (and ignored) beside id and the dimensions
MAX_COLUMNS_UNKNOWN_DIM = 65_536
DEFAULT_CEILING = 2000 * 1024**2


@dataclass(frozen=True)
class ReadLimits:
    """What one reading may consume; every limit is checked before the work it bounds."""

    max_uncompressed: int = DEFAULT_CEILING  # bytes of CSV text once decompressed
    embedding_dim: int | None = None  # at most this many embedding columns; None: no limit
    max_line_bytes: int = HEADER_BYTES
    max_id_chars: int = MAX_ID_CHARS
    labelled_rows: int | None = None  # only for messages: what the phase needs

    @property
    def max_columns(self) -> int:
        """Header fields in all: id, the dimensions, and a few ignored extra columns."""
        if self.embedding_dim is None:
            return MAX_COLUMNS_UNKNOWN_DIM
        return self.embedding_dim + 1 + EXTRA_COLUMNS


def phase_limits(
    labelled_rows: int | None, embedding_dim: int | None, ceiling: int = DEFAULT_CEILING
) -> ReadLimits:
    """The limits for a phase with `labelled_rows` ids of `embedding_dim` numbers each."""
    limit = ceiling
    if labelled_rows and embedding_dim:
        needed = labelled_rows * (embedding_dim * BYTES_PER_CELL + BYTES_PER_ID) + HEADER_BYTES
        limit = min(ceiling, needed)
    return ReadLimits(
        max_uncompressed=limit, embedding_dim=embedding_dim, labelled_rows=labelled_rows
    )
