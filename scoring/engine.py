"""score_submission: embeddings + hidden tasks + config -> ScoreCard. Pure (torch / numpy).

For every task: take the task's rows in label-file order (ids the submission lacks are gone by
now: strict mode rejected them, standalone mode dropped them), min-max normalise the labels,
draw K ShuffleSplit-compatible splits from the seed, train the K probes together, and reduce the
split scores to Q.

Randomness: the splits come from `seed` exactly as the reference's ShuffleSplit(random_state=
seed); the probes' initialisation and mini-batch order come from a generator derived from
(seed, task name). Unlike the reference (one global torch stream for all tasks), a task's scores
therefore do not depend on which other tasks ran, on `task_filter`, or on their order, and the
same seed reproduces every number bit for bit.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from scoring.config import ProbeConfig
from scoring.labels import Task
from scoring.metrics import classification_report, regression_report
from scoring.probe import ProbeRun, ProbeSettings, train_probes
from scoring.quality import q_statistic, split_summary
from scoring.results import Finding, ScoreCard, TaskScore
from scoring.splits import random_splits
from scoring.submission import EmbeddingTable, SubmissionError

# on_progress(task_index, task_count, epochs_done, epochs)
ProgressFn = Callable[[int, int, int, int], None]


@dataclass(frozen=True)
class TaskOutcome:
    """A task's score plus what the reports and plots need (test targets, probe history)."""

    score: TaskScore
    run: ProbeRun
    test_targets: np.ndarray  # (k, t) normalised labels of each split's test rows


def fresh_seed() -> int:
    """A new random split seed for a challenge evaluation (participants cannot learn splits)."""
    return secrets.randbelow(2**32)


def task_generator_seed(seed: int, task: str) -> int:
    """A 63-bit seed for the task's probe generator, derived from (seed, task name)."""
    digest = hashlib.sha256(f"neuco-probe:{seed}:{task}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def resolve_device(name: str) -> tuple[torch.device, list[Finding]]:
    """cpu | cuda | auto -> a torch device; `cuda` without a GPU falls back to the CPU, noted."""
    if name == "cpu":
        return torch.device("cpu"), []
    if torch.cuda.is_available():
        return torch.device("cuda"), []
    if name == "auto":
        return torch.device("cpu"), []
    return torch.device("cpu"), [Finding("device_fallback", "CUDA is not available; used CPU")]


def task_rows(table: EmbeddingTable, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers into the table and labels of the task's samples, in label-file order."""
    index = table.row_index
    pairs = [
        (index[i], label) for i, label in zip(task.ids, task.labels, strict=True) if i in index
    ]
    rows = np.fromiter((p[0] for p in pairs), np.int64, len(pairs))
    labels = np.fromiter((p[1] for p in pairs), np.float64, len(pairs))
    return rows, labels


def normalised_labels(labels: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over the task's rows (a no-op on 0/1 classification labels)."""
    lo, hi = labels.min(), labels.max()
    if hi == lo:
        # Only reachable when the submission covers a single label value of the task.
        return np.zeros_like(labels)
    return (labels - lo) / (hi - lo)


def score_task(
    table: EmbeddingTable,
    task: Task,
    config: ProbeConfig,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> TaskOutcome:
    started = clock()
    rows, labels = task_rows(table, task)
    if rows.size < 2:
        raise SubmissionError(
            "too_few_rows", "fewer than 2 of a task's samples are in the submission"
        )
    y = normalised_labels(labels) if config.normalize_labels else labels
    train_idx, test_idx = random_splits(rows.size, config.k_folds, seed, config.test_fraction)
    generator = torch.Generator().manual_seed(task_generator_seed(seed, task.name))
    x = torch.from_numpy(table.matrix[rows]).to(device)
    y_t = torch.from_numpy(y.astype(np.float32)).to(device)
    settings = ProbeSettings(
        kind=task.kind,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        batching=config.batching,
        probability_quirk=config.f1_probability_quirk,
    )
    run = train_probes(x, y_t, train_idx, test_idx, settings, generator, on_epoch)
    mean, std, failed = split_summary(run.best_scores)
    test_targets = y[test_idx]
    if task.kind == "regr":
        report = regression_report(run.best_test_pred, test_targets)
    else:
        report = classification_report(
            run.best_test_pred, test_targets, config.f1_probability_quirk
        )
    score = TaskScore(
        task=task.name,
        kind=task.kind,
        metric="r2" if task.kind == "regr" else "f1",
        n_rows=int(rows.size),
        q=float(q_statistic(mean, std)),
        mean_score=mean,
        std_score=std,
        split_scores=tuple(float(s) for s in run.best_scores),
        failed_splits=failed,
        best_epochs=tuple(int(e) for e in run.best_epochs),
        report=report,
        seconds=clock() - started,
    )
    return TaskOutcome(score, run, test_targets)


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


def score_submission(
    table: EmbeddingTable,
    tasks: Sequence[Task],
    config: ProbeConfig,
    seed: int,
    device: torch.device | None = None,
    on_progress: ProgressFn | None = None,
    clock: Callable[[], float] = time.perf_counter,
    keep_outcomes: bool = False,
) -> tuple[ScoreCard, list[TaskOutcome]]:
    """Score every task; raise TooManyFailedSplits past the configured limit."""
    started = clock()
    findings = list(table.findings)
    if device is None:
        device, notes = resolve_device(config.device)
        findings += notes
    outcomes: list[TaskOutcome] = []
    scores: list[TaskScore] = []
    for i, task in enumerate(tasks):
        on_epoch = None
        if on_progress is not None:
            on_epoch = _epoch_reporter(on_progress, i, len(tasks), config.epochs)
        outcome = score_task(table, task, config, seed, device, on_epoch, clock)
        score = outcome.score
        if score.failed_splits > config.failed_split_limit:
            raise TooManyFailedSplits(
                task.name, score.failed_splits, score.k, config.failed_split_limit
            )
        scores.append(score)
        if keep_outcomes:
            outcomes.append(outcome)
    card = ScoreCard(
        seed=seed,
        tasks=tuple(scores),
        warnings=tuple(findings),
        config_fingerprint=config.fingerprint(),
        seconds=clock() - started,
    )
    return card, outcomes


def _epoch_reporter(fn: ProgressFn, i: int, n: int, epochs: int) -> Callable[[int], None]:
    return lambda done: fn(i, n, done, epochs)
