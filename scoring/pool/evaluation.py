"""One submission through the pool: read it in a scoring process into a shared matrix, then
score its tasks in parallel on that matrix. Same numbers as `scoring.engine.score_submission`
(each task's randomness depends only on the seed and the task's name), in any order and on
any number of processes.

Which failure is whose: a file that needs more memory or time than the limits allow while it
is READ is the participant's (a `SubmissionError` saying so); anything abnormal while SCORING
the prepared matrix — and a reading process that crashes — is ours (`ChildFailed`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scoring.config import ProbeConfig
from scoring.labels import Task
from scoring.pool.messages import ReadJob, Reply, ScoreJob, TableRead
from scoring.pool.pool import ChildFailed, ScoringPool
from scoring.pool.shared import SharedFolder
from scoring.results import Finding, ScoreCard, TaskScore
from scoring.submission import EmbeddingTable, SubmissionError
from scoring.task_rows import ProgressFn, check_failed_splits, score_card, task_job

if TYPE_CHECKING:
    from scoring.engine import TaskOutcome


@dataclass(frozen=True)
class SharedTable:
    """A prepared submission: its matrix in a shared file, mapped read-only here as well."""

    path: Path
    table: EmbeddingTable
    read_seconds: float = 0.0
    peak_memory_mb: float = 0.0


def device_notes(name: str) -> list[Finding]:
    """What choosing the device adds to the findings (a CUDA fallback); torch only for GPUs."""
    if name == "cpu":
        return []
    from scoring.engine import resolve_device

    return resolve_device(name)[1]


def uses_gpu(name: str) -> bool:
    """Whether the scoring processes will run on a GPU (then one process drives it)."""
    if name == "cpu":
        return False
    import torch

    return bool(torch.cuda.is_available())


def _value(reply: Reply) -> Any:
    if reply.kind == "ok":
        return reply.value
    if reply.kind == "participant":
        raise SubmissionError(reply.code, reply.message)
    raise ChildFailed("memory" if reply.kind == "memory" else "error", "?", reply.message)


def _mb(value: float | None) -> str:
    if value is None:
        return "the limit"
    return f"{value / 1024:g} GB" if value >= 1024 else f"{value:g} MB"


def _participant_reading_error(exc: ChildFailed, pool: ScoringPool) -> SubmissionError:
    if exc.reason == "memory":
        return SubmissionError(
            "needs_too_much_memory",
            f"your file needs more than {_mb(pool.limits.memory_mb)} of memory to read; "
            "submit a plain CSV with one row per sample and one column per embedding "
            "dimension, nothing more",
        )
    return SubmissionError(
        "read_timeout",
        f"your file took longer than {pool.limits.timeout_seconds:g} s to read; "
        "submit a plain CSV with one row per sample and one column per embedding dimension",
    )


@contextmanager
def shared_submission(
    pool: ScoringPool,
    folder: SharedFolder,
    path: Path,
    expected_ids: Iterable[str],
    options: dict[str, Any],
    *,
    label: str = "submission",
    on_wait: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[SharedTable]:
    """Read the file in a scoring process (`options` are `load_submission`'s keywords); the
    prepared matrix lives in a shared file until the block ends."""
    expected = frozenset(expected_ids)
    dim = options.get("embedding_dim") or 1024
    matrix_path = folder.path_for(label, len(expected) * dim * 4)
    job = ReadJob(str(path), expected, dict(options), str(matrix_path), pool.processes)
    started = clock()
    try:
        try:
            (reply,) = pool.run([job], "reading", on_wait=on_wait)
        except ChildFailed as exc:
            if exc.reason in ("memory", "timeout"):
                raise _participant_reading_error(exc, pool) from None
            raise
        if reply.kind == "memory":
            raise _participant_reading_error(ChildFailed("memory", "reading", ""), pool)
        read: TableRead = _value(reply)
        matrix = np.load(matrix_path, mmap_mode="r")
        table = EmbeddingTable(
            np.asarray(read.ids, dtype=object), matrix, read.found_dim, read.findings
        )
        yield SharedTable(matrix_path, table, clock() - started, reply.peak_rss_mb)
    finally:
        matrix_path.unlink(missing_ok=True)


def score_shared(
    pool: ScoringPool,
    shared: SharedTable,
    tasks: Sequence[Task],
    config: ProbeConfig,
    seed: int,
    *,
    on_progress: ProgressFn | None = None,
    on_wait: Callable[[], None] | None = None,
    keep_outcomes: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[ScoreCard, list[TaskOutcome]]:
    """Score every task in the pool; the card equals `score_submission`'s for the same seed
    (but for `seconds`). Raises TooManyFailedSplits as it does (first task in task order)."""
    started = clock()
    findings = list(shared.table.findings)
    findings += device_notes(config.device)
    jobs = [task_job(shared.table, task) for task in tasks]
    # Largest tasks first: the last task to finish decides the wall time.
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].rows.size)
    requests = [ScoreJob(str(shared.path), jobs[i], config, seed, keep_outcomes) for i in order]

    def progress(position: int, done: int, steps: int) -> None:
        if on_progress is not None:
            on_progress(order[position], len(jobs), done, steps)

    replies = pool.run(requests, "scoring", on_progress=progress, on_wait=on_wait)
    values: list[Any] = [None] * len(jobs)
    for position, reply in enumerate(replies):
        try:
            values[order[position]] = _value(reply)
        except ChildFailed as exc:
            raise ChildFailed(exc.reason, "scoring", exc.detail) from None
    outcomes = values if keep_outcomes else []
    scores: list[TaskScore] = [v.score if keep_outcomes else v for v in values]
    for score in scores:
        check_failed_splits(score, config)
    return score_card(scores, findings, config, seed, clock() - started), outcomes
