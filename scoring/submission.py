"""A participant's embedding table, read and made ready for scoring. Reads the named file only.

A submission is a CSV with an `id` column and one column per embedding dimension, plain or inside
a `.csv.gz` or a `.zip` holding one CSV. Reading and its checks live in `scoring.reading`; this
module is the entry point the worker, the pool and the CLI call (`load_submission`), and the
preparation every path shares (`prepare_embeddings`). Every problem is a `SubmissionError`
whose message is written for the participant: what is wrong, where, and how to fix it.
Non-fatal findings become `Finding`s (warning flags).

The protocol's rules (../shared/neucobench-protocol.md "Inputs"):
- embedding columns are the columns whose names are all digits, ordered by integer value; if
  there are none, every non-`id` column;
- `.zarr.zip` / `.zarr` are stripped from ids (flag `zarr_zip_not_removed_from_id_column`);
- empty / NaN cells become 0.0; more columns than `embedding_dim` is an error, fewer are
  zero-padded on the right;
- one global mean and std over the whole matrix (after id filtering and padding), std 0 -> 1.

Decisions beyond the reference: duplicate ids among the ids the tasks use, infinite values, text
in a number column (in every mode) and (in strict mode) missing ids are errors, because each of
them silently changes the numbers. Ids no task uses are ignored without further checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from scoring.reading import (
    DEFAULT_CEILING,
    NA_STRINGS,
    EmbeddingTable,
    ReadLimits,
    SubmissionError,
    UnreadableFile,
    count_text,
    embedding_columns,
    examples_text,
    phase_limits,
    read_embedding_bytes,
    read_embedding_file,
)
from scoring.results import Finding

DEFAULT_MAX_UNCOMPRESSED = DEFAULT_CEILING
STANDARDIZE_ROWS = 4096  # rows standardised at a time: bounded float64 scratch

__all__ = [
    "DEFAULT_MAX_UNCOMPRESSED",
    "NA_STRINGS",
    "EmbeddingTable",
    "ReadLimits",
    "SubmissionError",
    "UnreadableFile",
    "embedding_columns",
    "load_submission",
    "parse_embedding_csv",
    "phase_limits",
    "prepare_embeddings",
]


def parse_embedding_csv(data: bytes, *, limits: ReadLimits | None = None) -> EmbeddingTable:
    """Parse uncompressed CSV bytes into ids and a float32 matrix (every row), with the checks
    of `load_submission`."""
    return read_embedding_bytes(data, limits)


def prepare_embeddings(
    table: EmbeddingTable,
    expected_ids: Iterable[str],
    *,
    embedding_dim: int | None,
    strict: bool,
    standardize: bool = True,
    exclude_ids: Iterable[str] = (),
) -> EmbeddingTable:
    """Filter to the ids the tasks need, check missing ids, pad, and standardise globally.
    The input table is left as it is."""
    return _prepare(
        table, set(expected_ids) - set(exclude_ids), embedding_dim=embedding_dim,
        strict=strict, standardize=standardize, owned=False,
    )  # fmt: skip


def _prepare(
    table: EmbeddingTable,
    expected: set[str],
    *,
    embedding_dim: int | None,
    strict: bool,
    standardize: bool,
    owned: bool,
) -> EmbeddingTable:
    findings = list(table.findings)
    dim = embedding_dim if embedding_dim is not None else table.found_dim
    if table.found_dim > dim:
        raise SubmissionError(
            "too_many_columns",
            f"{count_text(table.found_dim)} embedding columns, the limit is {count_text(dim)}; "
            f"submit at most {count_text(dim)} values per sample",
        )
    ids = table.ids
    keep = np.fromiter((i in expected for i in ids.tolist()), bool, len(ids))
    extra = int((~keep).sum())
    if extra:
        findings.append(
            Finding(
                "extra_ids_ignored", f"{count_text(extra)} id(s) not used by any task were ignored"
            )
        )
    present = set(ids[keep].tolist())
    missing = sorted(expected - present)
    if missing:
        message = (
            f"{count_text(len(missing))} id(s) required by the hidden tasks are missing, "
            f"e.g. {examples_text(missing)}"
        )
        if strict:
            raise SubmissionError(
                "missing_ids", message + "; submit one embedding for every sample of the data set"
            )
        findings.append(Finding("missing_ids_dropped", message + " (dropped from scoring)"))
    if not keep.any():
        raise SubmissionError(
            "no_matching_ids",
            f"none of the {count_text(len(ids))} ids matches a labelled sample, "
            f"e.g. yours: {examples_text(ids[:4].tolist())}; "
            "use the data cube file names (without .zarr.zip) as ids",
        )
    matrix = table.matrix
    if extra:
        matrix, owned = matrix[keep], True
    if table.found_dim < dim:
        findings.append(
            Finding(
                "embedding_zero_padded",
                f"{count_text(table.found_dim)} embedding columns were zero-padded to "
                f"{count_text(dim)}",
            )
        )
    if matrix.shape[1] < dim:
        matrix, owned = np.pad(matrix, ((0, 0), (0, dim - matrix.shape[1]))), True
    elif matrix.shape[1] > dim:
        matrix, owned = matrix[:, :dim], False
    if standardize:
        if not owned or not matrix.flags.c_contiguous:
            matrix = np.array(matrix, dtype=np.float32, order="C")
        standardize_in_place(matrix)
    return EmbeddingTable(ids[keep], np.ascontiguousarray(matrix), dim, tuple(findings))


def standardize_in_place(matrix: np.ndarray) -> None:
    """(x - mean) / std over the whole (n, d) float32 matrix, std 0 -> 1; mean and std in
    float64 as numpy computes them, each element computed in float64 and rounded to float32,
    a block of rows at a time (scratch memory stays bounded)."""
    mu = matrix.mean(dtype=np.float64)
    sigma = matrix.std(dtype=np.float64)
    sigma = sigma if sigma != 0 else 1.0
    for start in range(0, len(matrix), STANDARDIZE_ROWS):
        block = matrix[start : start + STANDARDIZE_ROWS]
        block[...] = (block - mu) / sigma


def load_submission(
    path: Path,
    expected_ids: Iterable[str],
    *,
    embedding_dim: int | None,
    strict: bool,
    standardize: bool = True,
    exclude_ids: Iterable[str] = (),
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    threads: int | None = None,
) -> EmbeddingTable:
    """Read, parse, validate and prepare a submission file for scoring.

    The stable entry point of reading (the worker, its scoring child process and the CLI call
    it). `max_uncompressed` is the operator's ceiling (4 x max_file_mb); the limit applied is
    derived from the phase (`phase_limits`: the ids needed x `embedding_dim`) and never above
    it. Raises `SubmissionError` for every problem of the file, including unforeseen ones
    while reading (`UnreadableFile`); those are the participant's, never internal. Peak memory
    is about 3x the phase's float32 matrix plus a bounded overhead for blocks in flight.
    `threads`: parallel parsing (default: the CPUs this process may use, at most 4).
    """
    expected = set(expected_ids) - set(exclude_ids)
    limits = phase_limits(len(expected), embedding_dim, max_uncompressed)
    table = read_embedding_file(Path(path), limits, expected, threads=threads)
    return _prepare(
        table, expected, embedding_dim=embedding_dim, strict=strict,
        standardize=standardize, owned=True,
    )  # fmt: skip
