"""The capability map: entries and tasks as points whose distances predict performance gaps. Pure.

Axes: e entries, t tasks, d dimensions, f cross-validation folds.

After Adorni et al. (2025), "capabilities encoding":
1. Gap. Per task, from the score of every entry that has one (per-task Q by default, or the mean
   split score): gap(m, t) = (best_t - score(m, t)) / (best_t - worst_t), 0 for the task's best
   entry and 1 for its worst. A task with fewer than two scores, or no spread, has no gaps and
   takes no part (it is listed in `CapabilityMap.left_out`).
2. Fit. Points x_m, x_t in R^d minimising the mean of (||x_m - x_t|| - gap)^2 over the known
   cells (`scoring.analysis.embedding_fit`).
3. Dimension. Leave-cells-out cross-validation: the known cells are split into `n_folds` folds
   (each entry and task keeps at least two training cells), twice with different folds (a
   single split of ~100 cells gives a noisy error); for d = 1 .. max_dimension the
   held-out root mean squared gap error is compared with the per-task-mean predictor (every
   entry predicted at the task's mean training gap). `dimension="auto"` takes the smallest d
   whose held-out error is within one standard error (over folds) of the lowest; the paper
   found 5 best on 85 models x 160 datasets, so 5 is the default upper bound. Small boards
   usually prefer fewer.
4. Predictions. For every (entry, task) cell without a score, and for cells the caller holds out
   deliberately (`hold_out`: scored, but hidden from the gaps, the normalisation and the fit,
   so the prediction can be checked against the truth), the predicted gap ||x_m - x_t|| and
   the predicted score best_t - gap * (best_t - worst_t).
5. Centrality. ||x_m - mean_t x_t||: the paper observed that models that generalise sit near
   the middle of the tasks; lower is more central.
6. The plane. The fitted points' first two principal components (of entries and tasks
   together), for the picture. A line says little, so when d = 1 is chosen the picture comes
   from the 2-dimensional fit (`picture_dimension`), which the validation table also shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.analysis.embedding_fit import (
    RESTARTS,
    STEPS,
    cell_folds,
    fit_points,
    task_mean_predictions,
)
from scoring.analysis.errors import InsufficientData

MAX_DIMENSION = 5
N_FOLDS = 5
REPEATS = 2
MIN_TRAIN = 2


@dataclass(frozen=True)
class DimensionError:
    """Cross-validated error of one dimension, in gap units (0 = best entry, 1 = worst)."""

    dimension: int
    heldout_rmse: float  # over every held-out cell of every fold
    heldout_se: float  # standard error of the per-fold held-out RMSE
    train_rmse: float  # mean over folds of the training RMSE


@dataclass(frozen=True)
class CellPrediction:
    entry: str
    task: str
    gap: float  # predicted
    score: float  # predicted, in the score's units (Q or mean split score)
    task_mean_score: float  # what the per-task-mean predictor says, for comparison
    true_score: float | None = None  # only for deliberately held-out cells
    true_gap: float | None = None  # the truth normalised with the known cells' best / worst


@dataclass(frozen=True, eq=False)
class CapabilityMap:
    entries: tuple[str, ...]  # the placed entries
    tasks: tuple[str, ...]  # the tasks with gaps
    score_kind: str  # "q" or "mean_score"
    best: np.ndarray  # (t,)
    worst: np.ndarray  # (t,)
    gaps: np.ndarray  # (e, t), NaN where unknown or held out
    dimension: int
    cv: tuple[DimensionError, ...]  # one per dimension tried
    baseline_rmse: float  # the per-task-mean predictor on the same held-out cells
    n_heldout_cells: int  # cells held out (once per repetition)
    n_folds: int
    repeats: int  # the cross-validation is repeated with new folds; errors pool over all
    heldout_gaps: np.ndarray  # (n,) true gaps of the cross-validation's held-out cells
    heldout_predicted: np.ndarray  # (n,) their predictions at the chosen dimension
    entry_points: np.ndarray  # (e, d) of the final fit
    task_points: np.ndarray  # (t, d)
    fit_rmse: float  # the final fit's error on all known cells
    predictions: tuple[CellPrediction, ...]  # unscored cells, then held-out ones
    centrality: dict[str, float]  # entry -> distance to the tasks' centroid
    picture_dimension: int  # the fit the plane comes from: max(2, dimension) when fitted
    entry_plane: np.ndarray  # (e, 2) first two principal components
    task_plane: np.ndarray  # (t, 2)
    explained: tuple[float, float]  # variance share of the two components
    seed: int
    left_out: tuple[str, ...]  # notes: tasks and entries that could not take part

    def chosen(self) -> DimensionError:
        return next(c for c in self.cv if c.dimension == self.dimension)


def performance_gaps(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(e, t) scores (NaN = none, higher is better) -> gaps (e, t), best (t,), worst (t,).

    A task with fewer than two scores or no spread gets NaN gaps and NaN best / worst.
    """
    scores = np.asarray(scores, dtype=np.float64)
    known = ~np.isnan(scores)
    usable = (known.sum(axis=0) >= 2) & _has_spread(scores, known)
    best = np.where(usable, np.nanmax(np.where(known, scores, -np.inf), axis=0), np.nan)
    worst = np.where(usable, np.nanmin(np.where(known, scores, np.inf), axis=0), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        gaps = (best - scores) / (best - worst)
    return np.where(known & usable[None, :], gaps, np.nan), best, worst


def _has_spread(scores: np.ndarray, known: np.ndarray) -> np.ndarray:
    high = np.where(known, scores, -np.inf).max(axis=0, initial=-np.inf)
    low = np.where(known, scores, np.inf).min(axis=0, initial=np.inf)
    return np.isfinite(high) & np.isfinite(low) & (high > low)


def capability_map(
    scores: Mapping[str, Mapping[str, float]],
    tasks: Sequence[str],
    seed: int,
    *,
    dimension: int | str = "auto",
    max_dimension: int = MAX_DIMENSION,
    hold_out: Sequence[tuple[str, str]] = (),
    score_kind: str = "q",
    n_folds: int = N_FOLDS,
    repeats: int = REPEATS,
    restarts: int = RESTARTS,
    steps: int = STEPS,
) -> CapabilityMap:
    """Fit the map: {entry: {task: score}} (missing or NaN = not evaluated) -> CapabilityMap.

    `dimension` is "auto" (cross-validated over 1..max_dimension) or a fixed d; the table of
    held-out errors covers 1..max(d, max_dimension) either way. `seed` fixes the folds and the
    starting points: the same inputs give the same map.
    """
    fixed = _checked_dimension(dimension, max_dimension)
    rng = np.random.default_rng(seed)
    names = list(scores)
    matrix = np.array(
        [[_number(scores[n].get(t)) for t in tasks] for n in names], dtype=np.float64
    ).reshape(len(names), len(tasks))
    truth = _held_out_truth(matrix, names, tasks, hold_out)
    for (m, t), _ in truth.items():
        matrix[m, t] = math.nan
    gaps_all, best_all, worst_all = performance_gaps(matrix)
    notes = [f"task {tasks[t]!r}: fewer than two scores or no spread, no gaps"
             for t in range(len(tasks)) if np.isnan(best_all[t])]  # fmt: skip
    task_ok = ~np.isnan(best_all)
    known_all = ~np.isnan(gaps_all)
    entry_ok = known_all[:, task_ok].sum(axis=1) >= 1
    notes += [f"entry {names[m]!r}: no score on a usable task, not placed"
              for m in range(len(names)) if not entry_ok[m]]  # fmt: skip
    entries = tuple(n for n, ok in zip(names, entry_ok, strict=True) if ok)
    kept_tasks = tuple(t for t, ok in zip(tasks, task_ok, strict=True) if ok)
    if len(entries) < 2 or not kept_tasks:
        raise InsufficientData(
            "a capability map needs at least two entries with scores on a task whose scores "
            f"differ; have {len(entries)} entries and {len(kept_tasks)} usable tasks"
        )
    gaps = gaps_all[np.ix_(entry_ok, task_ok)]
    best, worst = best_all[task_ok], worst_all[task_ok]
    known = ~np.isnan(gaps)

    top = max(fixed or 1, max_dimension)
    folds = np.concatenate([cell_folds(known, n_folds, rng, min_train=MIN_TRAIN)
                            for _ in range(repeats)])  # (f, e, t) fmt: skip
    folds = folds[folds.any(axis=(1, 2))]
    dims = np.arange(1, top + 1)
    cv_train = np.concatenate([known[None] & ~folds for _ in dims] + [np.repeat(known[None],
                              top, axis=0)])  # fmt: skip
    cv_dims = np.concatenate([np.repeat(dims, len(folds)), dims])
    fitted = fit_points(gaps, cv_train, cv_dims, rng, restarts=restarts, steps=steps)
    predicted = fitted.distances()  # (p, e, t)
    n_cv = len(dims) * len(folds)
    heldout = np.tile(folds, (len(dims), 1, 1))  # (n_cv, e, t)
    errors = (predicted[:n_cv] - gaps[None]) ** 2
    cv = []
    for i, d in enumerate(dims):
        rows = slice(i * len(folds), (i + 1) * len(folds))
        per_fold = [_rmse(e[h]) for e, h in zip(errors[rows], heldout[rows], strict=True)]
        se = float(np.std(per_fold, ddof=1) / np.sqrt(len(per_fold))) if len(per_fold) > 1 else 0.0
        cv.append(DimensionError(int(d), _rmse(errors[rows][heldout[rows]]), se,
                                 float(fitted.train_rmse[rows].mean())))  # fmt: skip
    baseline = task_mean_predictions(gaps, known[None] & ~folds)
    baseline_rmse = _rmse(((baseline - gaps[None]) ** 2)[folds])
    chosen = fixed or _smallest_near_best(cv)
    final = n_cv + chosen - 1
    rows = slice((chosen - 1) * len(folds), chosen * len(folds))
    cell_truth = np.broadcast_to(gaps, folds.shape)[folds]
    cell_predicted = predicted[rows][folds]
    entry_points = fitted.entries[final][:, :chosen]
    task_points = fitted.tasks[final][:, :chosen]
    distance = predicted[final]  # (e, t)

    predictions = _predictions(entries, kept_tasks, known, distance, best, worst, gaps, truth,
                               names, tasks, entry_ok, task_ok)  # fmt: skip
    centre = task_points.mean(axis=0)
    centrality = {n: float(np.linalg.norm(entry_points[i] - centre))
                  for i, n in enumerate(entries)}  # fmt: skip
    picture = max(chosen, 2) if top >= 2 else chosen
    entry_plane, task_plane, explained = _principal_plane(
        fitted.entries[n_cv + picture - 1][:, :picture],
        fitted.tasks[n_cv + picture - 1][:, :picture],
    )
    return CapabilityMap(
        entries=entries, tasks=kept_tasks, score_kind=score_kind, best=best, worst=worst,
        gaps=gaps, dimension=chosen, cv=tuple(cv), baseline_rmse=baseline_rmse,
        n_heldout_cells=int(folds.sum()) // repeats, n_folds=n_folds, repeats=repeats,
        heldout_gaps=cell_truth,
        heldout_predicted=cell_predicted, entry_points=entry_points,
        task_points=task_points, fit_rmse=float(fitted.train_rmse[final]),
        predictions=predictions, centrality=centrality, picture_dimension=picture,
        entry_plane=entry_plane,
        task_plane=task_plane, explained=explained, seed=seed, left_out=tuple(notes),
    )  # fmt: skip


def _smallest_near_best(cv: Sequence[DimensionError]) -> int:
    """The one-standard-error rule: the smallest dimension whose held-out error is within one
    standard error of the lowest (a larger map must earn its extra parameters)."""
    best = min(cv, key=lambda c: (c.heldout_rmse, c.dimension))
    return min(c.dimension for c in cv if c.heldout_rmse <= best.heldout_rmse + best.heldout_se)


def _checked_dimension(dimension: int | str, max_dimension: int) -> int | None:
    if max_dimension < 1:
        raise ValueError(f"max_dimension must be >= 1, got {max_dimension!r}")
    if dimension == "auto":
        return None
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
        raise ValueError(f"dimension must be 'auto' or a positive integer, got {dimension!r}")
    return dimension


def _number(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _rmse(squared: np.ndarray) -> float:
    return float(np.sqrt(squared.mean())) if squared.size else math.nan


def _held_out_truth(
    matrix: np.ndarray, names: Sequence[str], tasks: Sequence[str],
    hold_out: Sequence[tuple[str, str]],
) -> dict[tuple[int, int], float]:  # fmt: skip
    truth = {}
    for entry, task in hold_out:
        if entry not in names or task not in tasks:
            raise ValueError(f"cannot hold out {entry}:{task}: no such entry or task")
        m, t = names.index(entry), list(tasks).index(task)
        if np.isnan(matrix[m, t]):
            raise ValueError(f"cannot hold out {entry}:{task}: it has no score to compare with")
        truth[(m, t)] = float(matrix[m, t])
    return truth


def _predictions(
    entries: Sequence[str], tasks: Sequence[str], known: np.ndarray, distance: np.ndarray,
    best: np.ndarray, worst: np.ndarray, gaps: np.ndarray,
    truth: Mapping[tuple[int, int], float], names: Sequence[str], all_tasks: Sequence[str],
    entry_ok: np.ndarray, task_ok: np.ndarray,
) -> tuple[CellPrediction, ...]:  # fmt: skip
    """Every unknown cell of the placed entries and usable tasks; held-out ones carry truth."""
    row = {int(m): i for i, m in enumerate(np.flatnonzero(entry_ok))}
    col = {int(t): j for j, t in enumerate(np.flatnonzero(task_ok))}
    truth_at = {(row[m], col[t]): v for (m, t), v in truth.items() if m in row and t in col}
    task_mean = np.nanmean(np.where(known, gaps, np.nan), axis=0)  # (t,)
    spread = best - worst
    unscored, checked = [], []
    for i in range(len(entries)):
        for j in range(len(tasks)):
            if known[i, j]:
                continue
            true_score = truth_at.get((i, j))
            prediction = CellPrediction(
                entry=entries[i], task=tasks[j], gap=float(distance[i, j]),
                score=float(best[j] - distance[i, j] * spread[j]),
                task_mean_score=float(best[j] - task_mean[j] * spread[j]),
                true_score=true_score,
                true_gap=None if true_score is None else float((best[j] - true_score) / spread[j]),
            )  # fmt: skip
            (unscored if true_score is None else checked).append(prediction)
    return tuple(unscored + checked)


def _principal_plane(
    entry_points: np.ndarray, task_points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Entries and tasks on the first two principal axes of all points together."""
    points = np.concatenate([entry_points, task_points])  # (e + t, d)
    centred = points - points.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    plane = np.zeros((len(points), 2))
    k = min(2, axes.shape[0])
    for c in range(k):
        direction = axes[c] if axes[c][np.argmax(np.abs(axes[c]))] > 0 else -axes[c]
        plane[:, c] = centred @ direction  # a fixed sign: the same map draws the same way
    total = float((singular**2).sum()) or 1.0
    share = [float(singular[c] ** 2 / total) if c < k else 0.0 for c in range(2)]
    n_e = len(entry_points)
    return plane[:n_e], plane[n_e:], (share[0], share[1])
