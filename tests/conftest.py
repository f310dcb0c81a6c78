"""Fixture shared by every test tier: `store`, a fresh SQLite scoring database in tmp_path with
its schema in place, closed after the test. (The store contract overrides it with one per
backend.)
I/O: one SQLite file per test that asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.store import SqlScoreStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlScoreStore]:
    s = SqlScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    s.create_schema()
    yield s
    s.close()
