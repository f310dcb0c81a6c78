"""Comparison of rendered leaderboard files with a checked-in copy (tests/expected/<name>/).

The copy was rendered before the worker's package layout moved (issue 10), so a refactor that
changes one byte of a README, JSON, CSV or PNG fails the comparison. If a rendering change is
intended, delete the folder and run the test once: it writes the new files and fails, asking for
them to be inspected and committed.
I/O: reads (and, only when the folder is missing, writes) files under tests/expected/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pytest

EXPECTED_ROOT = Path(__file__).parent / "expected"


def assert_matches_expected(name: str, files: Mapping[str, bytes]) -> None:
    """Every rendered file equals its checked-in copy byte for byte, and no file is missing."""
    folder = EXPECTED_ROOT / name
    if not folder.exists():
        for path, data in files.items():
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        pytest.fail(f"no expected render in {folder}: wrote it now; inspect and commit it")
    stored = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert sorted(stored) == sorted(files), "the set of rendered files changed"
    for path, data in files.items():
        assert data == stored[path], (
            f"{path} differs from {folder / path} "
            f"(sha256 {hashlib.sha256(data).hexdigest()[:12]} vs "
            f"{hashlib.sha256(stored[path]).hexdigest()[:12]})"
        )
