"""Task-difficulty-weighted rank aggregation: NeuCo-Bench's leaderboard (paper Eq. 2/4). Pure.

Axes: e entries (submissions on the board), t tasks.

1. Entries with a missing (NaN) Q on any task are dropped (and reported).
2. Per task, entries are ranked by Q, best = 1; ties share the lowest rank (`method="min"`).
3. Task weight w_t = std(Q_t) / sum_t std(Q_t), with the *sample* std (ddof = 1) as the
   reference code does (the paper's Eq. 5/6 write the population std); equal weights for a single
   entry.
4. weighted_score = sum_t w_t * rank_t; the final rank is the min-rank of weighted_score, lower
   is better.

Two documented options the protocol motivates:
- `weight_exclude`: names whose Q rows do not enter the task weights (e.g. organiser baselines:
  a deliberately bad random baseline inflates the weight of tasks everybody else solves). They are
  still ranked and shown.
- `ghost_std`: a "ghost task" stabiliser after the paper's Eq. 8 (A.3): a virtual task with a
  fixed spread `ghost_std` (in Q units) joins the weights, w_t = s_t / (sum_t s_t + ghost_std),
  w_ghost = ghost_std / (sum_t s_t + ghost_std), and each entry's rank on it is its plain mean
  rank over the real tasks. The weighted score becomes sum_t (w_t + w_ghost / T) * rank_t: when
  every real spread is tiny compared with `ghost_std` the weights tend to equal weights instead
  of amplifying noise; when the spreads are large it changes little. (The paper's exact form of
  Eq. 8 could not be consulted offline; this is our reading of its stated purpose, documented in
  docs/scoring.md. A ghost rank that is the same for every entry would be a no-op, since it only
  rescales and shifts every weighted score alike.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LeaderboardRow:
    name: str
    rank: int
    weighted_score: float
    mean_q: float
    task_q: dict[str, float]
    task_ranks: dict[str, int]


@dataclass(frozen=True)
class Leaderboard:
    rows: tuple[LeaderboardRow, ...]
    tasks: tuple[str, ...]
    weights: dict[str, float]
    dropped: tuple[str, ...]  # entries left out for a missing Q


def min_ranks_descending(scores: np.ndarray) -> np.ndarray:
    """Rank along axis 0, highest score = 1, ties get the lowest rank (scipy `method="min"`).

    scores: (e, ...) -> int ranks (e, ...). Rank = 1 + number of entries strictly better.
    """
    better = scores[None, :, ...] > scores[:, None, ...]  # (e, e', ...): e' beats e
    return 1 + better.sum(axis=1)


def min_ranks_ascending(values: np.ndarray) -> np.ndarray:
    """Rank along axis 0, lowest value = 1, ties share the lowest rank."""
    return min_ranks_descending(-values)


def task_weights(
    q: np.ndarray, include: np.ndarray | None = None, ghost_std: float | None = None
) -> np.ndarray:
    """Task weights from the spread of Q across entries.

    q: (e, t). include: (e,) bool, entries whose Q enters the spread (default: all).
    Returns (t,) weights summing to 1 (or to less than 1 with a ghost task, whose own weight is
    the remainder). With fewer than two included entries every task weighs the same.
    """
    n_tasks = q.shape[1]
    rows = q if include is None else q[include]
    if rows.shape[0] < 2:
        return np.ones(n_tasks) / n_tasks
    stds = np.std(rows, axis=0, ddof=1)
    total = stds.sum() + (ghost_std or 0.0)
    return stds / total


def rank_entries(
    entries: Mapping[str, Mapping[str, float]],
    tasks: Sequence[str],
    *,
    weight_exclude: Sequence[str] = (),
    ghost_std: float | None = None,
) -> Leaderboard:
    """Rank entries given Q per task: {name: {task: Q}} -> Leaderboard, best first.

    A task missing from an entry counts as a NaN Q (the entry is dropped).
    """
    if ghost_std is not None and not (ghost_std > 0 and math.isfinite(ghost_std)):
        raise ValueError(f"ghost_std must be a positive number, got {ghost_std!r}")
    tasks = tuple(tasks)
    names = list(entries)
    q_all = np.array(
        [[float(entries[n].get(t, math.nan)) for t in tasks] for n in names], dtype=np.float64
    ).reshape(len(names), len(tasks))
    complete = ~np.isnan(q_all).any(axis=1) if tasks else np.ones(len(names), bool)
    dropped = tuple(n for n, ok in zip(names, complete, strict=True) if not ok)
    kept = [n for n, ok in zip(names, complete, strict=True) if ok]
    q = q_all[complete]
    if not kept or not tasks:
        return Leaderboard((), tasks, {t: math.nan for t in tasks}, dropped)

    include = np.array([n not in set(weight_exclude) for n in kept])
    ranks = min_ranks_descending(q)  # (e, t)
    weights = task_weights(q, include, ghost_std)
    # Same expression as the reference so that tied entries tie to the last bit.
    weighted = (ranks * weights).sum(axis=1)
    if ghost_std is not None:
        # The ghost task's rank is the entry's mean rank over the real tasks.
        weighted = weighted + (1.0 - weights.sum()) * ranks.mean(axis=1)
    final = min_ranks_ascending(weighted)
    mean_q = q.mean(axis=1)

    rows = [
        LeaderboardRow(
            name=n,
            rank=int(final[i]),
            weighted_score=float(weighted[i]),
            mean_q=float(mean_q[i]),
            task_q={t: float(q[i, j]) for j, t in enumerate(tasks)},
            task_ranks={t: int(ranks[i, j]) for j, t in enumerate(tasks)},
        )
        for i, n in enumerate(kept)
    ]
    rows.sort(key=lambda r: (r.weighted_score, -r.mean_q, r.name))
    return Leaderboard(
        tuple(rows), tasks, {t: float(w) for t, w in zip(tasks, weights, strict=True)}, dropped
    )
