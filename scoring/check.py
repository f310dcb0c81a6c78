"""`python -m scoring check FILE [--ids IDS.txt] [--dim 1024]`: a participant's dry run.
Reads the named files only.

The worker's own reading and validation, without labels and without torch: the same limits
(the wire size `--max-file-mb`, the uncompressed size derived from the ids and `--dim`, the
column and id limits) and the same messages. With `--ids` (the phase's public id list, one id
a line) missing ids are refused as in the competition; without, every row is checked. Exit 0
with the warnings a submission would get, or 3 with the exact refusal.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TextIO

from scoring.reading import SubmissionError, count_text, phase_limits, read_embedding_file
from scoring.submission import prepare_embeddings

DEFAULT_MAX_FILE_MB = 500.0
DEFAULT_DIM = 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    ck = sub.add_parser(
        "check",
        help="check a submission file the way the scorer reads it (no labels needed)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    ck.add_argument("file", type=Path, help=".csv, .csv.gz or .zip")
    ck.add_argument("--ids", type=Path, default=None, help="the phase's id list, one id a line")
    ck.add_argument("--dim", type=int, default=DEFAULT_DIM, help="the phase's embedding_dim")
    ck.add_argument(
        "--max-file-mb", type=float, default=DEFAULT_MAX_FILE_MB, help="the upload size limit"
    )


def _human_bytes(n: float) -> str:
    # the worker's wording for the upload limit (worker.errors.DownloadTooLarge)
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{int(n)} bytes"


def read_ids(path: Path) -> list[str]:
    """One id a line; blank lines and surrounding spaces ignored."""
    return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    max_file = int(args.max_file_mb * 1024**2)
    if not args.file.is_file():
        raise FileNotFoundError(f"submission file not found: {args.file}")
    size = args.file.stat().st_size
    if size > max_file:
        raise SubmissionError(
            "too_large",
            f"The submission file is larger than the {_human_bytes(max_file)} limit "
            f"(at least {_human_bytes(size)}).",
        )
    ids = None
    if args.ids is not None:
        if not args.ids.is_file():
            raise FileNotFoundError(f"id list not found: {args.ids}")
        ids = set(read_ids(args.ids))
    # exactly load_submission's steps (the worker's), without the standardisation
    limits = phase_limits(len(ids) if ids is not None else None, args.dim, 4 * max_file)
    table = read_embedding_file(args.file, limits, ids)
    found_dim = table.found_dim
    table = prepare_embeddings(
        table, ids if ids is not None else table.ids.tolist(), embedding_dim=args.dim,
        strict=True, standardize=False,
    )  # fmt: skip
    findings = list(table.findings)
    for finding in findings:
        err.write(f"warning [{finding.code}]: {finding.message}\n")
    checked = "the phase's ids" if args.ids is not None else "no id list given"
    out.write(
        f"OK: {count_text(len(table.ids))} rows x {count_text(found_dim)} embedding "
        f"columns would be scored ({checked}; {len(findings)} warning(s); "
        f"{time.perf_counter() - started:.2f} s)\n"
    )
    return 0
