"""Read a submission file into an `EmbeddingTable`, in bounded memory. Reads the named file.

Axes: n rows kept, d = the matrix width (the phase's `embedding_dim`, or the file's columns).

The file streams through `containers` (decompression capped), `lines` (the header, then
blocks of whole lines) and `cells` (each block parsed in a worker thread); ids are checked in
file order on this thread (`ids`). When the phase's ids are known, rows go straight into a
matrix of the phase's size, zero-padded to its dimension; other rows are counted and
dropped. What is held at any time: that matrix, a few blocks in flight (each a few MB of text
and its numbers), and per needed id one line number. Peak memory is therefore the phase's
matrix plus a bounded overhead, whatever the file.

Every failure is a `SubmissionError` for the participant; anything unforeseen raised while
reading becomes an `UnreadableFile` with the reason, never an internal error.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from scoring.reading.cells import BlockParser, ParsedBlock
from scoring.reading.containers import CappedStream, bytes_stream, open_csv_stream
from scoring.reading.errors import SubmissionError, UnreadableFile, count_text, examples_text
from scoring.reading.header import Header, parse_header
from scoring.reading.ids import IdLedger
from scoring.reading.limits import ReadLimits
from scoring.reading.lines import CHUNK_BYTES, LineBlocks, LongLine, long_line_error
from scoring.reading.problems import LineProblem
from scoring.reading.table import EmbeddingTable
from scoring.results import Finding

MAX_THREADS = 4


def default_threads() -> int:
    """The CPUs this process may use, at most MAX_THREADS (more gains little on reading)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, available))


def read_embedding_file(
    path: Path,
    limits: ReadLimits,
    expected_ids: Iterable[str] | None = None,
    *,
    threads: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> EmbeddingTable:
    """Read and check a submission file (.csv, .csv.gz, or .zip holding one .csv).

    With `expected_ids`, only those rows are kept (in file order) and the matrix is already
    `limits.embedding_dim` wide; without, every row is kept. Raises `SubmissionError` (its
    message is for the participant) for every problem of the file, including unforeseen ones
    (`UnreadableFile`). `threads` parse blocks in parallel (default: the usable CPUs, <= 4).
    """
    try:
        with open_csv_stream(Path(path), limits) as stream:
            return _read(stream, limits, expected_ids, threads, chunk_bytes)
    except SubmissionError:
        raise
    except MemoryError:
        raise UnreadableFile(
            "reading it needs more memory than the scorer has; submit one row per id and one "
            "number per dimension, nothing more"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the reading boundary: the file's fault, with reason
        raise UnreadableFile(_reason(exc)) from exc


def read_embedding_bytes(
    data: bytes,
    limits: ReadLimits | None = None,
    expected_ids: Iterable[str] | None = None,
    *,
    threads: int | None = 1,
    chunk_bytes: int = CHUNK_BYTES,
) -> EmbeddingTable:
    """`read_embedding_file` for CSV bytes already in memory (uncompressed)."""
    limits = limits or ReadLimits()
    try:
        return _read(bytes_stream(data, limits), limits, expected_ids, threads, chunk_bytes)
    except SubmissionError:
        raise
    except Exception as exc:  # noqa: BLE001 - as in read_embedding_file
        raise UnreadableFile(_reason(exc)) from exc


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeError):
        return "it is not UTF-8 text; save the CSV with UTF-8 encoding"
    if isinstance(exc, OSError):
        return "the file could not be read to its end; upload it again"
    return (
        "its content is not a comma-separated table we can parse; save it as a plain UTF-8 "
        "CSV with a header 'id,0,1,…' and one row per sample"
    )


class _Assembly:
    """Rows of parsed blocks, in file order, into the final matrix."""

    def __init__(self, header: Header, ledger: IdLedger, width: int, first_line: int) -> None:
        self.ledger = ledger
        self.found_dim = header.found_dim
        self.width = width
        self.next_line = first_line
        self.rows = 0
        self.nan_cells = 0
        capacity = ledger.capacity
        self.matrix = np.zeros((capacity, width), np.float32) if capacity is not None else None
        self.parts: list[np.ndarray] = []

    def add(self, block: ParsedBlock) -> None:
        lines = block.row_offsets + self.next_line
        keep = self.ledger.take(block.ids, lines)
        if keep is not None and len(keep) == len(block.matrix):
            keep = None  # every row kept: no fancy-indexed copy
        rows = block.matrix if keep is None else block.matrix[keep]
        if self.matrix is not None:
            self.matrix[self.rows : self.rows + len(rows), : self.found_dim] = rows
        else:
            self.parts.append(rows)
        self.rows += len(rows)
        if block.nan_cells:
            per_row = block.nan_per_row
            self.nan_cells += int(per_row.sum() if keep is None else per_row[keep].sum())
        self.next_line += block.lines

    def table(self, header: Header) -> EmbeddingTable:
        if self.matrix is not None:
            matrix = self.matrix[: self.rows]
        else:
            matrix = np.zeros((self.rows, self.width), np.float32)
            start = 0
            for k, part in enumerate(self.parts):
                matrix[start : start + len(part), : self.found_dim] = part
                start += len(part)
                self.parts[k] = part[:0]  # free each block once copied
        findings: list[Finding] = list(header.findings)
        if self.nan_cells:
            findings.append(
                Finding(
                    "nan_values_replaced_with_zero",
                    f"{count_text(self.nan_cells)} empty or NaN cell(s) were replaced by 0.0",
                )
            )
        findings += self.ledger.findings()
        ids = np.asarray(self.ledger.kept, dtype=object)
        return EmbeddingTable(ids, matrix, self.found_dim, tuple(findings))


def _read(
    stream: CappedStream,
    limits: ReadLimits,
    expected_ids: Iterable[str] | None,
    threads: int | None,
    chunk_bytes: int,
) -> EmbeddingTable:
    lines = LineBlocks(stream, limits, chunk_bytes)
    head = lines.header()
    header = parse_header(head.text, limits)
    ledger = IdLedger(expected_ids, limits.max_id_chars)
    width = header.found_dim
    if expected_ids is not None and limits.embedding_dim is not None:
        width = max(width, limits.embedding_dim)
    assembly = _Assembly(header, ledger, width, head.line + 1)
    parser = BlockParser(header)
    workers = threads or default_threads()
    pending: deque[Future[ParsedBlock]] = deque()

    def finish_one() -> None:
        future = pending.popleft()
        try:
            block = future.result()
        except LineProblem as problem:
            raise SubmissionError(problem.code, problem.text(assembly.next_line)) from None
        assembly.add(block)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read") as pool:
        try:
            try:
                for data in lines.blocks():
                    pending.append(pool.submit(parser.parse, data))
                    while len(pending) > workers:
                        finish_one()
            except LongLine:
                while pending:
                    finish_one()
                raise long_line_error(assembly.next_line, limits) from None
            while pending:
                finish_one()
        finally:
            for future in pending:
                future.cancel()
    if assembly.rows == 0 and ledger.extra:
        raise SubmissionError(
            "no_matching_ids",
            f"none of the {count_text(ledger.extra)} ids matches a labelled sample, "
            f"e.g. yours: {examples_text(ledger.extra_examples)}; "
            "use the data cube file names (without .zarr.zip) as ids",
        )
    if assembly.rows == 0:
        raise SubmissionError(
            "no_rows", "the file has a header but no rows; add one row per sample"
        )
    return assembly.table(header)
