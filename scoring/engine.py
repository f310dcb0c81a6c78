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

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from scoring.config import ProbeConfig
from scoring.labels import AnnotationError, Task
from scoring.metrics import classification_report, regression_report
from scoring.multiclass import multiclass_report
from scoring.probes.linear import ProbeRun
from scoring.probes.run import TaskProbeResult, probe_steps, task_probe_result
from scoring.quality import q_statistic, split_summary
from scoring.results import Finding, ScoreCard, TaskScore
from scoring.seeds import fresh_seed, task_generator_seed
from scoring.splits import TaskSplits, few_shot_subset, grouped_splits, random_splits
from scoring.submission import EmbeddingTable
from scoring.task_rows import (
    ProgressFn,
    TaskRows,
    TooManyFailedSplits,
    check_failed_splits,
    score_card,
    task_groups,
    task_job,
    task_rows,
)

__all__ = [  # task_rows' names stay importable from here, where they used to live
    "ProgressFn",
    "TaskOutcome",
    "TaskRows",
    "TooManyFailedSplits",
    "check_failed_splits",
    "fresh_seed",
    "resolve_device",
    "score_card",
    "score_rows",
    "score_submission",
    "score_task",
    "task_generator_seed",
    "task_groups",
    "task_job",
    "task_report",
    "task_rows",
    "task_splits",
]


@dataclass(frozen=True)
class TaskOutcome:
    """A task's score plus what the reports and plots need (test targets, probe history)."""

    score: TaskScore
    run: ProbeRun
    test_targets: np.ndarray  # (k, t) normalised labels of each split's test rows


def resolve_device(name: str) -> tuple[torch.device, list[Finding]]:
    """cpu | cuda | auto -> a torch device; `cuda` without a GPU falls back to the CPU, noted."""
    if name == "cpu":
        return torch.device("cpu"), []
    if torch.cuda.is_available():
        return torch.device("cuda"), []
    if name == "auto":
        return torch.device("cpu"), []
    return torch.device("cpu"), [Finding("device_fallback", "CUDA is not available; used CPU")]


def normalised_labels(labels: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over the task's rows (a no-op on 0/1 classification labels)."""
    lo, hi = labels.min(), labels.max()
    if hi == lo:
        # Only reachable when the submission covers a single label value of the task.
        return np.zeros_like(labels)
    return (labels - lo) / (hi - lo)


def task_splits(
    name: str,
    kind: str,
    y: np.ndarray,
    groups: tuple[str, ...] | None,
    config: ProbeConfig,
    seed: int,
) -> TaskSplits:
    """The task's K splits (random or grouped), cut to few-shot subsets if configured.

    y (n,) the labels of the task's rows, groups their `group` values (None without a column).
    """
    n = y.size
    if config.split_mode == "grouped":
        if groups is None:
            raise AnnotationError(
                f"split_mode grouped needs a 'group' column in every label file; task "
                f"{name!r} has none (add the column or use split_mode: random)"
            )
        splits = grouped_splits(groups, config.k_folds, seed, config.test_fraction)
    else:
        splits = TaskSplits.from_arrays(
            *random_splits(n, config.k_folds, seed, config.test_fraction)
        )
    if config.train_fraction >= 1.0:
        return splits
    rng = np.random.default_rng(task_generator_seed(seed, f"{name}/train_fraction"))
    classes = y if kind != "regr" else None
    return TaskSplits(
        tuple(few_shot_subset(t, config.train_fraction, rng, classes) for t in splits.train),
        splits.test,
    )


def task_report(
    task: Task | TaskRows,
    result: TaskProbeResult,
    test_targets: list[np.ndarray],
    config: ProbeConfig,
) -> dict[str, float]:
    """The report metrics of a task: over (k, t) arrays when the splits have equal sizes, else
    split by split, averaged (confusion counts summed)."""
    preds = list(result.test_pred)
    if len({p.size for p in preds}) == 1:
        return _report(task, np.stack(preds), np.stack(test_targets), config)
    reports = [
        _report(task, p[None, :], t[None, :], config)
        for p, t in zip(preds, test_targets, strict=True)
    ]
    merged = {}
    for key in reports[0]:
        values = np.array([r[key] for r in reports])
        if key.startswith("confusion"):
            merged[key] = float(values.sum())
        else:
            merged[key] = float(np.nanmean(values)) if not np.isnan(values).all() else math.nan
    return merged


def _report(
    task: Task | TaskRows, pred: np.ndarray, target: np.ndarray, config: ProbeConfig
) -> dict[str, float]:
    if task.kind == "regr":
        return regression_report(pred, target)
    if task.kind == "mcls":
        return multiclass_report(pred, target, task.classes)
    # SVM predictions are -1/1 labels, thresholded at 0 without the probability quirk.
    quirk = config.f1_probability_quirk and config.svm is None
    return classification_report(pred, target, quirk)


METRICS = {"regr": "r2", "cls": "f1", "mcls": "macro_f1"}


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
    job = task_job(table, task)
    return score_rows(table.matrix, job, config, seed, device, on_epoch, clock, started)


def score_rows(
    matrix: np.ndarray,
    job: TaskRows,
    config: ProbeConfig,
    seed: int,
    device: torch.device,
    on_epoch: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    started: float | None = None,
) -> TaskOutcome:
    """Score one task on matrix (n_all, d) float32; the same numbers in any process."""
    started = clock() if started is None else started
    rows, labels = job.rows, job.labels
    normalise = config.normalize_labels and job.kind != "mcls"
    y = normalised_labels(labels) if normalise else labels
    splits = task_splits(job.name, job.kind, y, job.groups, config, seed)
    generator = torch.Generator().manual_seed(task_generator_seed(seed, job.name))
    x = torch.from_numpy(np.ascontiguousarray(matrix[rows])).to(device)
    result = task_probe_result(
        x, y, splits, job.kind, config, generator, seed, len(job.classes), on_epoch
    )
    run = result.run
    mean, std, failed = split_summary(run.best_scores)
    targets = [y[t] for t in splits.test]
    report = task_report(job, result, targets, config)
    if config.train_fraction < 1.0:
        report["train_fraction"] = config.train_fraction
        report["train_rows_mean"] = float(np.mean([t.size for t in splits.train]))
    if config.split_mode != "random":
        report["test_rows_mean"] = float(np.mean([t.size for t in splits.test]))
    for name, value in result.hyperparameters.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            report[f"svm_best_{name}"] = float(value)
    rect = splits.rectangular()
    test_targets = y[rect[1]] if rect is not None else np.concatenate(targets)[None, :]
    score = TaskScore(
        task=job.name,
        kind=job.kind,
        metric=METRICS[job.kind],
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
            on_epoch = _epoch_reporter(on_progress, i, len(tasks), probe_steps(config))
        outcome = score_task(table, task, config, seed, device, on_epoch, clock)
        check_failed_splits(outcome.score, config)
        scores.append(outcome.score)
        if keep_outcomes:
            outcomes.append(outcome)
    return score_card(scores, findings, config, seed, clock() - started), outcomes


def _epoch_reporter(fn: ProgressFn, i: int, n: int, epochs: int) -> Callable[[int], None]:
    return lambda done: fn(i, n, done, epochs)
