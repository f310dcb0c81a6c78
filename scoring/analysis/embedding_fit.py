"""Fitting the capabilities encoding: points whose distances match performance gaps. Pure (torch).

Axes: p problems fitted together (cross-validation folds x restarts), e entries, t tasks,
d dimensions.

Model (Adorni et al., 2025): entry m and task t are points x_m, x_t in R^d and the predicted
normalised gap is the Euclidean distance ||x_m - x_t||_2; the loss is the mean of
(||x_m - x_t|| - gap(m, t))^2 over the known cells. The distance is computed as
sqrt(||.||^2 + 1e-9) so that its gradient exists where two points meet.

Optimiser: full-batch Adam (learning rate 0.05, cosine-decayed over `steps`) in float64 on the
CPU (200 steps: on a board of 12 entries x 9 tasks the training error stops moving after
~150), from
starting points drawn by the caller's numpy generator; several restarts per problem
and the one with the lowest training loss wins (a distance fit has poor local minima in one or
two dimensions). Many independent problems are fitted in one batch: the losses are summed, and
Adam's per-parameter steps keep the problems independent. Same inputs and seed give the same
points: no torch random state is used and the CPU kernels on these small tensors are
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

LEARNING_RATE = 0.05
STEPS = 200
RESTARTS = 8
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class FittedPoints:
    """The best restart of each problem."""

    entries: np.ndarray  # (p, e, d)
    tasks: np.ndarray  # (p, t, d)
    train_rmse: np.ndarray  # (p,) root mean squared error over each problem's training cells

    def distances(self) -> np.ndarray:
        """(p, e, t) predicted gaps."""
        return pairwise_distances(self.entries, self.tasks)


def pairwise_distances(entries: np.ndarray, tasks: np.ndarray) -> np.ndarray:
    """(..., e, d) and (..., t, d) -> (..., e, t) Euclidean distances."""
    diff = entries[..., :, None, :] - tasks[..., None, :, :]
    return np.sqrt((diff**2).sum(axis=-1))


def fit_points(
    gaps: np.ndarray,
    train: np.ndarray,
    dims: np.ndarray | int,
    rng: np.random.Generator,
    *,
    restarts: int = RESTARTS,
    steps: int = STEPS,
) -> FittedPoints:
    """Fit one embedding per training mask, all in one batch.

    gaps: (e, t) normalised gaps (NaN where unknown; never read outside `train`).
    train: (p, e, t) bool, the cells each problem fits. Every problem needs a training cell.
    dims: (p,) dimension of each problem (or one for all). Points come back in max(dims)
    coordinates; a problem's coordinates beyond its own dimension are zero.
    """
    import torch  # here, not at the top: the worker imports this module without torch
    train = np.asarray(train, dtype=bool)
    n_problems, n_entries, n_tasks = train.shape
    dims = np.broadcast_to(np.asarray(dims, dtype=int), (n_problems,))
    if (dims < 1).any():
        raise ValueError(f"every dimension must be >= 1, got {sorted(set(dims.tolist()))}")
    if restarts < 1 or steps < 1:
        raise ValueError(f"restarts and steps must be >= 1, got {restarts!r} and {steps!r}")
    counts = train.sum(axis=(1, 2))
    if (counts == 0).any():
        raise ValueError("every problem needs at least one training cell")
    d_max = int(dims.max())
    used = np.arange(d_max)[None, :] < dims[:, None]  # (p, d)
    # Starting distances around 0.5, the middle of [0, 1], whatever the dimension.
    scale = 0.35 / np.sqrt(dims)[None, :, None, None]  # (1, p, 1, 1)
    start = rng.normal(0.0, 1.0, size=(restarts, n_problems, n_entries + n_tasks, d_max)) * scale
    start *= used[None, :, None, :]
    flat = restarts * n_problems
    points = torch.tensor(start.reshape(flat, n_entries + n_tasks, d_max), requires_grad=True)
    mask = torch.tensor(np.tile(used, (restarts, 1))[:, None, :].astype(np.float64))  # (q, 1, d)
    target = torch.tensor(np.tile(np.where(train, np.nan_to_num(gaps), 0.0), (restarts, 1, 1)))
    weight = torch.tensor(np.tile(train / counts[:, None, None], (restarts, 1, 1)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: intra-op threads only add synchronisation
    try:
        optimiser = torch.optim.Adam([points], lr=LEARNING_RATE)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
        for _ in range(steps):
            optimiser.zero_grad()
            _per_problem_loss(points * mask, n_entries, target, weight).sum().backward()
            optimiser.step()
            schedule.step()
        with torch.no_grad():
            final = points * mask
            loss = _per_problem_loss(final, n_entries, target, weight).numpy()  # (q,)
    finally:
        torch.set_num_threads(threads)
    fitted = final.numpy().reshape(restarts, n_problems, n_entries + n_tasks, d_max)
    loss = loss.reshape(restarts, n_problems)
    best = loss.argmin(axis=0)  # (p,)
    chosen = fitted[best, np.arange(n_problems)]  # (p, e + t, d)
    rmse = np.sqrt(loss[best, np.arange(n_problems)])
    return FittedPoints(chosen[:, :n_entries], chosen[:, n_entries:], rmse)


def _per_problem_loss(
    points: torch.Tensor, n_entries: int, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    import torch
    entries, tasks = points[:, :n_entries], points[:, n_entries:]  # (q, e, d), (q, t, d)
    diff = entries[:, :, None, :] - tasks[:, None, :, :]  # (q, e, t, d)
    distance = torch.sqrt((diff**2).sum(dim=-1) + _EPS)  # (q, e, t)
    return (weight * (distance - target) ** 2).sum(dim=(1, 2))  # (q,) weighted mean


def cell_folds(
    known: np.ndarray, n_folds: int, rng: np.random.Generator, *, min_train: int = 2
) -> np.ndarray:
    """Leave-cells-out folds: (f, e, t) bool, each known cell held out in at most one fold.

    Cells are visited in random order and go to the next fold (round robin) where holding them
    out still leaves their entry and their task at least `min_train` training cells; a cell
    that fits no fold stays in training everywhere (an entry with few cells is never left
    without any, which would leave its point undetermined).
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds!r}")
    known = np.asarray(known, dtype=bool)
    folds = np.zeros((n_folds, *known.shape), dtype=bool)
    entry_out = np.zeros((n_folds, known.shape[0]), dtype=int)
    task_out = np.zeros((n_folds, known.shape[1]), dtype=int)
    entry_known, task_known = known.sum(axis=1), known.sum(axis=0)
    cells = np.argwhere(known)
    next_fold = 0
    for m, t in cells[rng.permutation(len(cells))]:
        for shift in range(n_folds):
            f = (next_fold + shift) % n_folds
            if (
                entry_known[m] - entry_out[f, m] - 1 >= min_train
                and task_known[t] - task_out[f, t] - 1 >= min_train
            ):
                folds[f, m, t] = True
                entry_out[f, m] += 1
                task_out[f, t] += 1
                next_fold = (f + 1) % n_folds
                break
    return folds


def task_mean_predictions(gaps: np.ndarray, train: np.ndarray) -> np.ndarray:
    """The per-task-mean predictor: (p, e, t), each task's mean training gap for every entry.

    A task without training cells in a problem predicts the mean of all that problem's cells.
    """
    train = np.asarray(train, dtype=bool)
    values = np.where(train, np.nan_to_num(gaps), 0.0)  # (p, e, t)
    counts = train.sum(axis=1)  # (p, t)
    overall = values.sum(axis=(1, 2)) / np.maximum(train.sum(axis=(1, 2)), 1)  # (p,)
    means = np.where(
        counts > 0, values.sum(axis=1) / np.maximum(counts, 1), overall[:, None]
    )  # (p, t)
    return np.broadcast_to(means[:, None, :], train.shape).copy()
