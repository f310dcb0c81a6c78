"""Which rows of a submission each task scores, and task scores assembled into a card. Pure
(numpy; no torch, so a process that only hands out work need not load it).

Axes: n rows of a task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.config import ProbeConfig
from scoring.labels import Task
from scoring.results import Finding, ScoreCard, TaskScore
from scoring.submission import EmbeddingTable, SubmissionError

# on_progress(task_index, task_count, steps_done, steps)
ProgressFn = Callable[[int, int, int, int], None]


@dataclass(frozen=True)
class TaskRows:
    """What scoring one task needs besides the matrix: its rows, labels, groups and classes.
    Small enough to send to a scoring process; the (n, d) matrix itself is shared, not sent."""

    name: str
    kind: str  # "regr" | "cls" | "mcls"
    rows: np.ndarray  # (n,) int64 row numbers into the submission's matrix
    labels: np.ndarray  # (n,) float64, in label-file order
    groups: tuple[str, ...] | None = None  # (n,) the rows' `group` values, when given
    classes: tuple[str, ...] = ()  # mcls: the class names


def task_job(table: EmbeddingTable, task: Task) -> TaskRows:
    """The task's rows of this submission; fewer than 2 is the participant's error."""
    rows, labels = task_rows(table, task)
    if rows.size < 2:
        raise SubmissionError(
            "too_few_rows", "fewer than 2 of a task's samples are in the submission"
        )
    return TaskRows(task.name, task.kind, rows, labels, task_groups(table, task), task.classes)


def task_rows(table: EmbeddingTable, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers into the table and labels of the task's samples, in label-file order."""
    index = table.row_index
    pairs = [
        (index[i], label) for i, label in zip(task.ids, task.labels, strict=True) if i in index
    ]
    rows = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
    labels = np.fromiter((p[1] for p in pairs), np.float64, len(pairs))
    return rows, labels


def task_groups(table: EmbeddingTable, task: Task) -> tuple[str, ...] | None:
    """The `group` of each of the task's rows the submission has (task_rows' order), or None."""
    if task.groups is None:
        return None
    index = table.row_index
    return tuple(g for i, g in zip(task.ids, task.groups, strict=True) if i in index)


class TooManyFailedSplits(SubmissionError):
    """A task had more failed probes than allowed. The message names no task (they are hidden);
    `task` is for the organiser's log."""

    def __init__(self, task: str, failed: int, k: int, limit: int) -> None:
        self.task = task
        super().__init__(
            "more_than_allowed_LP_failed_for_single_downstream_task",
            f"{failed} of {k} linear probes of one hidden task failed (the limit is {limit}); "
            "this happens when embeddings contain extreme values — check for very large "
            "numbers or constant columns",
        )


def check_failed_splits(score: TaskScore, config: ProbeConfig) -> None:
    """Raise TooManyFailedSplits when the task has more failed probes than allowed."""
    if score.failed_splits > config.failed_split_limit:
        raise TooManyFailedSplits(
            score.task, score.failed_splits, score.k, config.failed_split_limit
        )


def score_card(
    scores: Sequence[TaskScore],
    findings: Sequence[Finding],
    config: ProbeConfig,
    seed: int,
    seconds: float,
) -> ScoreCard:
    return ScoreCard(
        seed=seed,
        tasks=tuple(scores),
        warnings=tuple(findings),
        config_fingerprint=config.fingerprint(),
        seconds=seconds,
    )
