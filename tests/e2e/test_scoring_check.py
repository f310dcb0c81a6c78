"""`python -m scoring check` as a participant runs it: the worker's reading, same messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scoring.labels import load_tasks
from scoring.submission import SubmissionError, load_submission
from synthetic import make_challenge, spec_for_size, write_challenge
from worker.errors import DownloadTooLarge

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring", "check", *map(str, args)],
        capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def phase(tmp_path_factory) -> tuple[Path, Path, list[str], int]:
    """(a good submission, the phase's public id list, the ids, embedding_dim)."""
    root = tmp_path_factory.mktemp("challenge")
    spec = spec_for_size("tiny", seed=5)
    write_challenge(make_challenge(spec), root)
    tasks = load_tasks(next((root / "phases").iterdir()) / "annotations")
    ids = sorted(set().union(*(set(t.ids) for t in tasks)))
    (root / "ids.txt").write_text("\n".join(ids) + "\n")
    good = next((root / "submissions").glob("strong.csv*"))
    dim = len(good.read_text().splitlines()[0].split(",")) - 1
    return good, root / "ids.txt", ids, dim


def test_a_good_file_passes_with_its_warnings(phase, tmp_path: Path):
    good, ids_file, ids, dim = phase
    proc = check(good, "--ids", ids_file, "--dim", dim + 2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"OK: {len(ids):,} rows x {dim:,} embedding columns")
    assert f"warning [embedding_zero_padded]: {dim} embedding columns were zero-padded to " \
           f"{dim + 2}" in proc.stderr


def test_check_never_imports_torch_or_pandas(phase):
    """Both cost a participant seconds (torch) or a third of one (pandas) for nothing."""
    good, ids_file, _, dim = phase
    code = (
        "import sys; from scoring.cli import main; "
        f"rc = main(['check', {str(good)!r}, '--ids', {str(ids_file)!r}, '--dim', '{dim}']); "
        "print(rc, 'torch' in sys.modules, 'pandas' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.splitlines()[-1] == "0 False False", proc.stderr


def malformed(good: Path, tmp_path: Path) -> dict[str, bytes]:
    lines = good.read_bytes().split(b"\n")
    row = lines[1].split(b",")
    return {
        "bad_cell": b"\n".join([lines[0], b",".join([*row[:3], b"0,5x", *row[4:]]), *lines[2:]]),
        "ragged": b"\n".join([*lines[:3], lines[3] + b",1", *lines[4:]]),
        "cr_only_missing_ids": b"\r".join(lines[:5]),
        "nul": b"\n".join([*lines[:2], lines[2][:20] + b"\x00" + lines[2][20:], *lines[3:]]),
        "header_only": lines[0] + b"\n",
        "long_id": b"\n".join([*lines, b"x" * 300 + lines[1][lines[1].index(b","):]]),
    }


@pytest.mark.parametrize(
    "case", ["bad_cell", "ragged", "cr_only_missing_ids", "nul", "header_only", "long_id"]
)
def test_refusals_are_the_workers_messages(phase, tmp_path: Path, case: str):
    good, ids_file, ids, dim = phase
    path = tmp_path / f"{case}.csv"
    path.write_bytes(malformed(good, tmp_path)[case])
    with pytest.raises(SubmissionError) as worker_view:  # what pipeline._score calls
        load_submission(path, set(ids), embedding_dim=dim, strict=True,
                        max_uncompressed=4 * 500 * 1024**2)  # fmt: skip
    proc = check(path, "--ids", ids_file, "--dim", dim)
    assert proc.returncode == 3
    exc = worker_view.value
    assert proc.stderr == f"submission rejected [{exc.code}]: {exc.message}\n"


def test_the_upload_limit_reads_like_the_workers(phase, tmp_path: Path):
    good, ids_file, _, dim = phase
    proc = check(good, "--ids", ids_file, "--dim", dim, "--max-file-mb", "0.001")
    assert proc.returncode == 3
    expected = DownloadTooLarge(limit=int(0.001 * 1024**2), size=good.stat().st_size)
    assert proc.stderr == f"submission rejected [too_large]: {expected}\n"


def test_missing_files_are_usage_errors(tmp_path: Path):
    proc = check(tmp_path / "nope.csv")
    assert proc.returncode == 4
    assert "submission file not found" in proc.stderr
