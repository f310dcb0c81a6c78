"""Fixture shared by the e2e tests of the worker against the EvalAI double: `site`, a running
double seeded with the module's `tiny` challenge (each module defines `tiny`: its own teams,
phases and seed) and a worker folder under tmp_path. A module that needs another set-up
(a fake clock, say) defines its own `site`.
I/O: one loopback HTTP server per test that asks for `site`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.worker_harness import ChallengeFiles, Site, running_site


@pytest.fixture
def site(tiny: ChallengeFiles, tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path, tiny) as site:
        yield site
