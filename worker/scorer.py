"""The worker's scorer: a downloaded submission file -> ScoreCard, in the scoring pool. Starts
and stops the pool's processes; reads nothing itself.

Every submission is read in a scoring process (a hostile file can exhaust only that process,
under the challenge's `scoring.memory_mb` and `scoring.timeout_seconds`) and its tasks are
scored in parallel by the pool's single-threaded processes. While they work, the caller's
thread keeps the lease and the heartbeat fresh through `keep_alive`.

The processes start with a reduced environment: they handle participants' files, so they get
no tokens, passwords or database URLs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from scoring.labels import Task
from scoring.pool import (
    PoolLimits,
    ScoringPool,
    SharedFolder,
    process_count,
    score_shared,
    shared_submission,
)
from scoring.pool.evaluation import uses_gpu
from scoring.results import ScoreCard
from worker.settings import PhaseSettings, ScoringSettings

log = logging.getLogger(__name__)

# What a scoring process may see of the worker's environment: where programs, libraries and
# temporary files are, the locale and the GPU selection. Nothing else (AUTH_TOKEN,
# GITHUB_TOKEN, DATABASE_URL with its password, ...).
_PASSED_ON = re.compile(
    r"^(PATH|HOME|LANG|LANGUAGE|TZ|TMPDIR|TEMP|TMP|PYTHONPATH|PYTHONHASHSEED|VIRTUAL_ENV|"
    r"LD_LIBRARY_PATH|LC_\w+|CUDA_\w+|NVIDIA_\w+)$"
)


def scoring_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of the worker's environment a scoring process starts with."""
    return {k: v for k, v in env.items() if _PASSED_ON.match(k)}


class PoolScorer:
    """Scores files in a `ScoringPool` started on first use (or by `start`) and kept."""

    def __init__(
        self,
        settings: ScoringSettings,
        phases: Sequence[PhaseSettings],
        env: Mapping[str, str],
        max_uncompressed: int,
    ) -> None:
        self.settings = settings
        gpu = any(uses_gpu(p.probe.device) for p in phases)
        self.processes = process_count(settings.processes, gpu)
        self.limits = PoolLimits(settings.memory_mb, settings.timeout_seconds)
        self.max_uncompressed = max_uncompressed
        self._env = scoring_environment(env)
        self._pool: ScoringPool | None = None
        self._folder = SharedFolder()

    def start(self) -> ScoringPool:
        if self._pool is None:
            log.info("starting %d scoring process(es) (memory %s MB, time %s s per step)",
                     self.processes, self.limits.memory_mb, self.limits.timeout_seconds)
            self._pool = ScoringPool(self.processes, self._env, self.limits)
        return self._pool

    def score_file(
        self,
        path: Path,
        phase: PhaseSettings,
        tasks: Sequence[Task],
        seed: int,
        *,
        label: str,
        keep_alive: Callable[[], None],
    ) -> ScoreCard:
        """Read the file and score the phase's tasks; SubmissionError for a bad file (also
        one that needs more memory or time to read than allowed), ChildFailed when a scoring
        process crashed or ran over its limits while scoring."""
        pool = self.start()
        expected = set().union(*(set(t.ids) for t in tasks))
        options = dict(
            embedding_dim=phase.probe.embedding_dim,
            strict=phase.strict_ids,
            standardize=phase.probe.standardize_embeddings,
            max_uncompressed=self.max_uncompressed,
        )
        with shared_submission(
            pool, self._folder, path, expected, options, label=label, on_wait=keep_alive
        ) as shared:
            card, _ = score_shared(
                pool, shared, tasks, phase.probe, seed,
                on_progress=lambda *_: keep_alive(), on_wait=keep_alive,
            )
        return card

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._folder.close()
