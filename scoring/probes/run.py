"""Pick and run the probe for one task: linear, softmax linear (multi-class), MLP or SVM. Pure.

Axes: k splits, n rows of the task, d embedding dims, t test rows of a split.

Splits of equal sizes (ShuffleSplit, few-shot subsets of equal size) train all K probes as one
batch. Grouped splits differ in size, so their probes are trained one split at a time, each
with the same code path at K = 1 (same protocol, same generator, one after another).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from scoring.config import ProbeConfig
from scoring.probes.batched import train_networks
from scoring.probes.linear import ProbeRun, ProbeSettings, train_probes
from scoring.splits import TaskSplits


@dataclass(frozen=True)
class TaskProbeResult:
    """A task's K probe results; `run.best_test_pred` is (k, t) when the splits have equal
    sizes, else every split's predictions pooled in one row (1, sum of t)."""

    run: ProbeRun
    test_pred: tuple[np.ndarray, ...]  # per split, at its best epoch / candidate
    hyperparameters: dict[str, object] = field(default_factory=dict)


def probe_steps(config: ProbeConfig) -> int:
    """Steps the progress of one task is counted in: epochs, or candidates of the SVM search."""
    return config.svm.n_iter if config.svm is not None else config.epochs


def _settings(config: ProbeConfig, kind: str) -> ProbeSettings:
    return ProbeSettings(
        kind=kind,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        batching=config.batching,
        probability_quirk=config.f1_probability_quirk,
    )


def _train_batch(
    x: torch.Tensor,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    kind: str,
    config: ProbeConfig,
    generator: torch.Generator,
    n_classes: int,
    on_epoch: Callable[[int], None] | None,
) -> ProbeRun:
    y_t = torch.from_numpy(y.astype(np.float32)).to(x.device)
    settings = _settings(config, kind)
    if config.probe_type == "linear" and kind != "mcls":
        return train_probes(x, y_t, train, test, settings, generator, on_epoch)
    hidden = config.hidden_units if config.probe_type == "mlp" else None
    return train_networks(x, y_t, train, test, settings, generator, hidden, n_classes, on_epoch)


def _merged(runs: list[ProbeRun]) -> ProbeRun:
    """K single-split runs as one run (predictions pooled in one row)."""
    return ProbeRun(
        best_scores=np.concatenate([r.best_scores for r in runs]),
        best_epochs=np.concatenate([r.best_epochs for r in runs]),
        best_test_pred=np.concatenate([r.best_test_pred[0] for r in runs])[None, :],
        epoch_scores=np.hstack([r.epoch_scores for r in runs]),
        train_loss=np.hstack([r.train_loss for r in runs]),
        test_loss=np.hstack([r.test_loss for r in runs]),
    )


def task_probe_result(
    x: torch.Tensor,
    y: np.ndarray,
    splits: TaskSplits,
    kind: str,
    config: ProbeConfig,
    generator: torch.Generator,
    seed: int,
    n_classes: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> TaskProbeResult:
    """Train (or search) the configured probe on every split of a task.

    x (n, d) float32 on the scoring device, y (n,) normalised labels (class indices for mcls)."""
    if config.svm is not None:
        from scoring.probes.svm import svm_search  # scikit-learn only when an SVM is asked for

        search = svm_search(
            x.cpu().numpy(),
            y,
            list(zip(splits.train, splits.test, strict=True)),
            kind,
            config.svm,
            seed,
            on_candidate=on_epoch,
        )
        return TaskProbeResult(search.run, search.test_pred, dict(search.best_candidate))
    rect = splits.rectangular()
    if rect is not None:
        run = _train_batch(x, y, rect[0], rect[1], kind, config, generator, n_classes, on_epoch)
        return TaskProbeResult(run, tuple(run.best_test_pred))
    runs = []
    for i in range(splits.k):
        train, test = splits.train[i][None, :], splits.test[i][None, :]
        runs.append(_train_batch(x, y, train, test, kind, config, generator, n_classes, None))
        if on_epoch is not None:
            on_epoch(round(config.epochs * (i + 1) / splits.k))
    return TaskProbeResult(_merged(runs), tuple(r.best_test_pred[0] for r in runs))
