"""Rank intervals for the leaderboard by bootstrapping the per-split scores. Pure.

Axes: b resamples, e entries (board entries), t tasks, k splits of one (entry, task).

For every resample b, each entry's valid split scores of each task are drawn with replacement
(independently per entry and task), Q is recomputed with `q_from_splits`, and the board is ranked
exactly as `scoring.ranking.rank_entries` ranks it: per-task min-ranks (`min_ranks_descending`),
task weights (`task_weights`, incl. `weight_exclude` and `ghost_std`), weighted score, final
min-rank. The result per entry is the 5th–95th percentile of its final rank (for the default
level 0.9) and the share of resamples in which it placed first.

Choices, documented because they change numbers:
- Failed splits (NaN) are ignored by Q (nanmean/nanstd). We resample among an entry's *valid*
  splits, keeping their count: the bootstrap then conditions on the number of failures and never
  produces an all-failed resample (which would drop the entry from that resample's board).
- Percentiles are taken with the inverted CDF, so both bounds are ranks that actually occurred:
  low = smallest r with P(rank <= r) >= 0.05, high = smallest r with P(rank <= r) >= 0.95.
- `non_competing` (organiser baselines): they take part in ranks and weights, but places are
  counted among competing entries only — place = 1 + number of competing entries with a strictly
  better weighted score. A baseline's place is where it would stand among the competitors. With
  no non-competing entries this is exactly `rank_entries`' final rank.
- `bootstrap_draws` returns every resample (Q and places) for the post-reveal analyses
  (`scoring.analysis.rank_stability`); `rank_intervals` summarises the same draws, so an
  analysis seeded like the board shows the board's intervals.
- `task_weights` normalises over all its input, so it is applied once per resample (b small
  calls on (e, t) arrays, ~30 ms for b = 1000); everything else is vectorised over b.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.quality import q_from_splits
from scoring.ranking import min_ranks_descending, task_weights

MIN_RESAMPLES = 1000


@dataclass(frozen=True)
class RankInterval:
    name: str
    rank: int  # point place on the unresampled scores (as on the board)
    low: int
    high: int
    p_first: float  # share of resamples in which the entry placed first


@dataclass(frozen=True)
class RankIntervals:
    intervals: tuple[RankInterval, ...]  # best point place first
    dropped: tuple[str, ...]  # entries with a task without any valid split (NaN Q)
    n_resamples: int
    level: float

    def by_name(self) -> dict[str, RankInterval]:
        return {i.name: i for i in self.intervals}


def places(weighted: np.ndarray, competing: np.ndarray) -> np.ndarray:
    """Places along axis 0: 1 + number of *competing* entries with a strictly lower score.

    weighted: (e, ...) weighted scores; competing: (e,) bool. Returns int (e, ...).
    """
    rivals = weighted[competing]  # (c, ...)
    better = rivals[None, :, ...] < weighted[:, None, ...]  # (e, c, ...)
    return 1 + better.sum(axis=1)


def _valid_splits(values: object) -> np.ndarray:
    scores = np.asarray(values, dtype=np.float64).reshape(-1)
    return scores[~np.isnan(scores)]


def _resampled_q(
    splits: list[list[np.ndarray]], n_entries: int, n_tasks: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Q of every resample: (b, e, t). Entries of one task with the same k are drawn together."""
    q = np.empty((n, n_entries, n_tasks))
    for t in range(n_tasks):
        by_k: dict[int, list[int]] = {}
        for e in range(n_entries):
            by_k.setdefault(splits[e][t].size, []).append(e)
        for k, members in sorted(by_k.items()):
            scores = np.stack([splits[e][t] for e in members])  # (g, k)
            idx = rng.integers(0, k, size=(n, len(members), k))  # (b, g, k)
            drawn = np.take_along_axis(scores[None, :, :], idx, axis=2)  # (b, g, k)
            q[:, members, t] = q_from_splits(drawn)  # (b, g)
    return q


def _board_places(
    q: np.ndarray, include: np.ndarray, competing: np.ndarray, ghost_std: float | None
) -> np.ndarray:
    """Places of every entry on every resample's board. q: (b, e, t) -> (e, b)."""
    q_ebt = np.ascontiguousarray(q.transpose(1, 0, 2))  # (e, b, t)
    ranks = min_ranks_descending(q_ebt)  # (e, b, t)
    weights = np.stack([task_weights(q_b, include, ghost_std) for q_b in q])  # (b, t)
    # Same expression as rank_entries so that tied entries tie to the last bit.
    weighted = (ranks * weights[None, :, :]).sum(axis=-1)  # (e, b)
    if ghost_std is not None:
        weighted = weighted + (1.0 - weights.sum(axis=-1))[None, :]
    return places(weighted, competing)


@dataclass(frozen=True, eq=False)
class BootstrapDraws:
    """Every resample of the board, for analyses beyond the intervals (`scoring.analysis`).

    Axes: e kept entries (input order), t tasks, b resamples.
    """

    names: tuple[str, ...]  # kept entries, in input order
    tasks: tuple[str, ...]
    dropped: tuple[str, ...]  # entries with a task without any valid split (NaN Q)
    competing: np.ndarray  # (e,) bool: not in `non_competing`
    point_q: np.ndarray  # (e, t) Q on the unresampled splits
    point_places: np.ndarray  # (e,) int places on the unresampled board
    q: np.ndarray  # (b, e, t) resampled Q
    places: np.ndarray  # (e, b) int places on each resample's board


def bootstrap_draws(
    split_scores: Mapping[str, Mapping[str, object]],
    tasks: Sequence[str],
    rng: np.random.Generator,
    *,
    n_resamples: int = MIN_RESAMPLES,
    weight_exclude: Sequence[str] = (),
    non_competing: Sequence[str] = (),
    ghost_std: float | None = None,
) -> BootstrapDraws:
    """Resample the board: {name: {task: (k,) split scores}} -> BootstrapDraws.

    The same draws as `rank_intervals` with the same generator state (it summarises these).
    """
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(f"n_resamples must be at least {MIN_RESAMPLES}, got {n_resamples!r}")
    if ghost_std is not None and not (ghost_std > 0 and math.isfinite(ghost_std)):
        raise ValueError(f"ghost_std must be a positive number, got {ghost_std!r}")
    tasks = tuple(tasks)
    kept: list[str] = []
    dropped: list[str] = []
    splits: list[list[np.ndarray]] = []
    for name, per_task in split_scores.items():
        valid = [_valid_splits(per_task.get(t, ())) for t in tasks]
        if tasks and all(v.size for v in valid):
            kept.append(name)
            splits.append(valid)
        else:
            dropped.append(name)
    excluded, outside = set(weight_exclude), set(non_competing)
    include = np.array([n not in excluded for n in kept], dtype=bool)
    competing = np.array([n not in outside for n in kept], dtype=bool)
    n_e, n_t = len(kept), len(tasks)
    if not kept:
        empty = np.empty((0,), dtype=int)
        return BootstrapDraws(
            (), tasks, tuple(dropped), competing, np.empty((0, n_t)), empty,
            np.empty((n_resamples, 0, n_t)), np.empty((0, n_resamples), dtype=int),
        )  # fmt: skip

    point_q = np.array([[q_from_splits(s) for s in row] for row in splits])  # (e, t)
    point = _board_places(point_q[None], include, competing, ghost_std)[:, 0]  # (e,)
    q = _resampled_q(splits, n_e, n_t, n_resamples, rng)  # (b, e, t)
    resampled = _board_places(q, include, competing, ghost_std)  # (e, b)
    return BootstrapDraws(
        tuple(kept), tasks, tuple(dropped), competing, point_q, point, q, resampled
    )


def rank_intervals(
    split_scores: Mapping[str, Mapping[str, object]],
    tasks: Sequence[str],
    rng: np.random.Generator,
    *,
    n_resamples: int = MIN_RESAMPLES,
    level: float = 0.9,
    weight_exclude: Sequence[str] = (),
    non_competing: Sequence[str] = (),
    ghost_std: float | None = None,
) -> RankIntervals:
    """Bootstrap rank intervals: {name: {task: (k,) split scores}} -> RankIntervals.

    k may differ between entries and tasks; NaN marks a failed split. An entry missing a task, or
    with no valid split on a task, has a NaN Q and is dropped, as in `rank_entries`.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    draws = bootstrap_draws(
        split_scores, tasks, rng, n_resamples=n_resamples, weight_exclude=weight_exclude,
        non_competing=non_competing, ghost_std=ghost_std,
    )  # fmt: skip
    return intervals_from_draws(draws, level)


def intervals_from_draws(draws: BootstrapDraws, level: float = 0.9) -> RankIntervals:
    """The central `level` interval of every kept entry's place, and its share of first places."""
    n_resamples = draws.places.shape[1]
    if not draws.names:
        return RankIntervals((), draws.dropped, n_resamples, level)
    resampled = draws.places
    tail = (1.0 - level) / 2.0
    low = np.quantile(resampled, tail, axis=1, method="inverted_cdf")
    high = np.quantile(resampled, 1.0 - tail, axis=1, method="inverted_cdf")
    p_first = (resampled == 1).mean(axis=1)
    intervals = [
        RankInterval(name, int(draws.point_places[e]), int(low[e]), int(high[e]),
                     float(p_first[e]))
        for e, name in enumerate(draws.names)
    ]  # fmt: skip
    intervals.sort(key=lambda i: (i.rank, i.name))
    return RankIntervals(tuple(intervals), draws.dropped, n_resamples, level)
