"""Writes synthetic challenges and single embedding tables to disk. I/O: creates the named files
and directories (each file is written to a temporary name in its directory and then renamed).

Layout written by `write_challenge(challenge, out_dir)`:

    out_dir/challenge.json                     what was generated (spec, tasks, rows, teams)
    out_dir/phases/final/annotations/<task>__<regr|cls>.csv
    out_dir/phases/dev/annotations/<task>__<regr|cls>.csv
    out_dir/submissions/<team>.csv             or <team>.csv.gz

Embedding tables are formatted by pyarrow's CSV writer in row blocks after rounding every value
to `significant_digits` (6) significant digits: a float32 prints its shortest round-trip
decimal, which for a value rounded to 6 digits is those 6 digits. That keeps the files like a
participant's (`%g`-style, ~125 MB for 13,260 x 1,024) and takes ~2 s per full-size file on two
cores, where pandas `to_csv(float_format="%.6g")` takes ~14 s. Gzip output uses compression
level 1 by default (level 6 is 6x slower for a 10 % smaller file) and a header without name or
time stamp, so that the same content gives the same bytes. Label files are small and written
by plain string formatting.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from synthetic.challenge import Challenge
from synthetic.manifest import challenge_manifest
from synthetic.tasks import TaskLabels

BLOCK_ROWS = 1024  # rows formatted at a time: bounds the temporary copies to a few MB


@dataclass(frozen=True)
class ChallengeLayout:
    """Where `write_challenge` put everything."""

    root: Path
    manifest: Path  # root/challenge.json
    annotations: dict[str, Path]  # phase name -> folder of label files
    submissions: dict[str, Path]  # team -> submission file


def significant_digits_rounded(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """float32 copy of `values` with every finite value rounded to `digits` significant digits."""
    as_double = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(as_double)
    finite_nonzero = np.isfinite(magnitude) & (magnitude > 0)
    exponent = np.floor(np.log10(magnitude, where=finite_nonzero, out=np.zeros_like(magnitude)))
    scale = 10.0 ** (digits - 1 - exponent)
    rounded = np.where(finite_nonzero, np.rint(as_double * scale) / scale, as_double)
    return rounded.astype(np.float32)


def _check_table(ids: np.ndarray, matrix: np.ndarray, column_names: Sequence[str]) -> None:
    problems = []
    if matrix.ndim != 2:
        problems.append(f"matrix must be 2-D (rows, dims), got shape {matrix.shape}")
    elif len(ids) != matrix.shape[0]:
        problems.append(f"{len(ids)} ids for {matrix.shape[0]} matrix rows")
    elif len(column_names) != matrix.shape[1]:
        problems.append(f"{len(column_names)} column names for {matrix.shape[1]} columns")
    unsafe = [i for i in ids if any(c in str(i) for c in ',"\n\r')]
    if unsafe:
        problems.append(f"ids must not contain commas, quotes or newlines: {unsafe[:3]}")
    names_unsafe = [c for c in column_names if any(ch in c for ch in ',"\n\r')]
    if names_unsafe:
        problems.append(f"column names must not contain commas, quotes or newlines: {names_unsafe}")
    if problems:
        raise ValueError("cannot write embedding table: " + "; ".join(problems))


def _write_csv_rows(
    out: BinaryIO, ids: np.ndarray, matrix: np.ndarray, digits: int, block_rows: int
) -> None:
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    id_strings = np.asarray(ids).astype(np.str_)
    for start in range(0, matrix.shape[0], block_rows):
        block = significant_digits_rounded(matrix[start : start + block_rows], digits)
        columns = np.ascontiguousarray(block.T)  # (d, rows): one contiguous array per column
        arrays = [pa.array(id_strings[start : start + block_rows])]
        arrays.extend(pa.array(column) for column in columns)
        batch = pa.RecordBatch.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])
        buffer = pa.BufferOutputStream()
        pa_csv.write_csv(batch, buffer, options)
        out.write(buffer.getvalue())


def _temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_embedding_table(
    path: str | os.PathLike[str],
    ids: Sequence[str] | np.ndarray,
    matrix: np.ndarray,
    *,
    column_names: Sequence[str] | None = None,
    significant_digits: int = 6,
    compresslevel: int = 1,
    block_rows: int = BLOCK_ROWS,
) -> Path:
    """Write `id` + one column per embedding dim ("0".."d-1" unless named) as CSV; gzip if the
    name ends with `.gz`. Values keep `significant_digits` digits; NaN/inf print as nan/inf.
    Returns the path written.
    """
    path = Path(path)
    ids = np.asarray(ids)
    matrix = np.asarray(matrix)
    if column_names is None:
        column_names = [str(i) for i in range(matrix.shape[1])] if matrix.ndim == 2 else []
    names = [str(n) for n in column_names]
    _check_table(ids, matrix, names)
    header = ("id," + ",".join(names) + "\n").encode("utf-8")
    temporary = _temporary_path(path)
    try:
        with open(temporary, "wb") as raw:
            if path.name.endswith(".gz"):
                # filename="" and mtime=0: the gzip header must not depend on where or when.
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, compresslevel=compresslevel, mtime=0
                ) as out:
                    out.write(header)
                    _write_csv_rows(out, ids, matrix, significant_digits, block_rows)
            else:
                raw.write(header)
                _write_csv_rows(raw, ids, matrix, significant_digits, block_rows)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _label_cell(value: float, kind: str, classes: tuple[str, ...] = ()) -> str:
    if np.isnan(value):
        return ""
    if kind == "mcls":
        return classes[int(value)]
    if kind == "cls":
        return str(int(value))
    return repr(float(value))  # shortest round-trip text of the already-rounded label


def write_label_file(path: str | os.PathLike[str], task: TaskLabels) -> Path:
    """Write one `<task>__<kind>.csv` with columns `id,label` (and `group` when the task has
    groups); NaN labels become empty cells."""
    path = Path(path)
    cells = [
        f"{i},{_label_cell(v, task.kind, task.classes)}"
        for i, v in zip(task.ids, task.labels, strict=True)
    ]
    if task.groups is None:
        lines = ["id,label", *cells]
    else:
        lines = ["id,label,group"]
        lines.extend(f"{c},{g}" for c, g in zip(cells, task.groups, strict=True))
    temporary = _temporary_path(path)
    try:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_challenge(
    challenge: Challenge,
    out_dir: str | os.PathLike[str],
    *,
    gzip_submissions: bool = False,
    compresslevel: int = 1,
) -> ChallengeLayout:
    """Write the label folders of both phases, every submission and challenge.json.

    Files of an earlier run in `out_dir` that this run does not write are left alone.
    """
    root = Path(out_dir)
    annotations = {}
    for phase in challenge.phases:
        folder = root / "phases" / phase.name / "annotations"
        folder.mkdir(parents=True, exist_ok=True)
        for task in phase.tasks:
            write_label_file(folder / task.file_name, task)
        annotations[phase.name] = folder
    submission_dir = root / "submissions"
    submission_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if gzip_submissions else ".csv"
    submissions = {}
    for submission in challenge.submissions:
        submissions[submission.team] = write_embedding_table(
            submission_dir / f"{submission.team}{suffix}",
            submission.ids,
            submission.matrix,
            compresslevel=compresslevel,
        )
    layout = ChallengeLayout(
        root=root,
        manifest=root / "challenge.json",
        annotations=annotations,
        submissions=submissions,
    )
    manifest = challenge_manifest(
        challenge,
        annotation_dirs={k: v.relative_to(root).as_posix() for k, v in annotations.items()},
        submission_files={k: v.relative_to(root).as_posix() for k, v in submissions.items()},
    )
    layout.manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return layout
