"""Rank stability: how firm each place is, and how much the tasks agree. Pure.

Axes: e board entries, c competing entries, t tasks, b bootstrap resamples.

After challengeR (Wiesenfarth et al., 2021), computed from the board's own bootstrap
(`scoring.bootstrap.bootstrap_draws`: every entry's split scores resampled per task, Q
recomputed, the board ranked as `scoring.ranking` ranks it), so the intervals here are the
board's intervals when the generator is seeded as the board seeds it:
- Rank distribution per entry (the blob plot): how often each place occurs over the resamples,
  its median and the central `level` interval.
- Kendall's tau (tau-b, ties allowed) between the full-data ranking and each resample's ranking:
  for the board (places) and for each task alone (per-task Q ranks); summarised as mean,
  median and quartiles. Near 1: the ranking hardly moves; near 0: it is mostly noise.
- Task agreement: Kendall's tau between the full-data rankings of every pair of tasks, and of
  each task with the board.

Organiser baselines (`non_competing`) appear in the rank distributions (at the place they would
take among the competitors, as on the board), but every tau is computed over the competing
entries only: the ranking that is contested. A tau needs two entries whose ranks differ in
both rankings; otherwise it is NaN (left out of the summaries, as challengeR does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.analysis.errors import InsufficientData
from scoring.bootstrap import MIN_RESAMPLES, BootstrapDraws, bootstrap_draws, intervals_from_draws
from scoring.ranking import min_ranks_descending


@dataclass(frozen=True)
class RankDistribution:
    name: str
    place: int  # on the full data, as on the board
    baseline: bool
    frequencies: tuple[float, ...]  # share of resamples at place 1, 2, ... (len = entries)
    median: float
    low: int  # the central `level` interval, as on the board
    high: int
    p_first: float


@dataclass(frozen=True)
class TauSummary:
    ranking: str  # a task name, or "" for the board
    mean: float
    median: float
    q25: float
    q75: float
    defined: int  # resamples with a defined tau


@dataclass(frozen=True, eq=False)
class RankStability:
    tasks: tuple[str, ...]
    n_resamples: int
    level: float
    distributions: tuple[RankDistribution, ...]  # board order
    board_tau: np.ndarray  # (b,) tau of the board's places per resample
    task_taus: dict[str, np.ndarray]  # task -> (b,) tau of its Q ranks per resample
    board_summary: TauSummary
    task_summaries: tuple[TauSummary, ...]  # by falling median tau
    agreement: np.ndarray  # (t + 1, t + 1) tau between rankings: the board first, then `tasks`
    competing: int  # entries the taus are computed over
    dropped: tuple[str, ...]  # entries left out (a task without any valid split)


def kendall_tau_b(reference: np.ndarray, rankings: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between `reference` (c,) and each row of `rankings` (..., c) -> (...).

    tau-b = (concordant - discordant) / sqrt((n0 - ties_ref) (n0 - ties_other)) over the
    n0 = c (c - 1) / 2 pairs; NaN where either ranking is constant. Equals
    scipy.stats.kendalltau (variant "b") and R's cor(method = "kendall").
    """
    reference = np.asarray(reference, dtype=np.float64)
    rankings = np.asarray(rankings, dtype=np.float64)
    i, j = np.triu_indices(reference.shape[-1], k=1)  # every pair once
    sign_ref = np.sign(reference[i] - reference[j])  # (pairs,)
    sign_other = np.sign(rankings[..., i] - rankings[..., j])  # (..., pairs)
    pairs = len(i)
    untied_ref = pairs - np.count_nonzero(sign_ref == 0)
    untied_other = pairs - np.count_nonzero(sign_other == 0, axis=-1)
    score = (sign_ref * sign_other).sum(axis=-1)
    denominator = np.sqrt(untied_ref * untied_other.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, score / np.where(denominator > 0, denominator, 1), np.nan)


def rank_stability(
    split_scores: Mapping[str, Mapping[str, object]],
    tasks: Sequence[str],
    rng: np.random.Generator,
    *,
    n_resamples: int = MIN_RESAMPLES,
    level: float = 0.9,
    weight_exclude: Sequence[str] = (),
    non_competing: Sequence[str] = (),
    ghost_std: float | None = None,
) -> RankStability:
    """{name: {task: (k,) split scores}} -> RankStability, with the board's bootstrap.

    Same arguments as `scoring.bootstrap.rank_intervals`; the same generator state gives the
    same draws, so the intervals equal the board's.
    """
    draws = bootstrap_draws(
        split_scores, tasks, rng, n_resamples=n_resamples, weight_exclude=weight_exclude,
        non_competing=non_competing, ghost_std=ghost_std,
    )  # fmt: skip
    if len(draws.names) < 2:
        raise InsufficientData(
            f"rank stability needs at least two entries with a score on every task; have "
            f"{len(draws.names)} (left out: {', '.join(draws.dropped) or 'none'})"
        )
    distributions = _distributions(draws, level)
    board_tau, task_taus = _taus(draws)
    by_task = [_summary(t, task_taus[t]) for t in draws.tasks]
    by_task.sort(key=lambda s: (-_sortable(s.median), s.ranking))
    return RankStability(
        tasks=draws.tasks, n_resamples=n_resamples, level=level,
        distributions=distributions, board_tau=board_tau, task_taus=task_taus,
        board_summary=_summary("", board_tau), task_summaries=tuple(by_task),
        agreement=_agreement(draws), competing=int(draws.competing.sum()),
        dropped=draws.dropped,
    )  # fmt: skip


def _sortable(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _distributions(draws: BootstrapDraws, level: float) -> tuple[RankDistribution, ...]:
    intervals = intervals_from_draws(draws, level).by_name()
    n_e, n_b = draws.places.shape
    counts = np.zeros((n_e, n_e), dtype=np.int64)  # (e, place - 1)
    for e in range(n_e):
        counts[e] = np.bincount(draws.places[e] - 1, minlength=n_e)[:n_e]
    rows = []
    for e, name in enumerate(draws.names):
        interval = intervals[name]
        rows.append(
            RankDistribution(
                name=name, place=interval.rank, baseline=not bool(draws.competing[e]),
                frequencies=tuple(float(c) / n_b for c in counts[e]),
                median=float(np.median(draws.places[e])), low=interval.low, high=interval.high,
                p_first=interval.p_first,
            )  # fmt: skip
        )
    rows.sort(key=lambda r: (r.place, r.baseline, r.name))
    return tuple(rows)


def _taus(draws: BootstrapDraws) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    competing = draws.competing
    board = kendall_tau_b(draws.point_places[competing], draws.places[competing].T)  # (b,)
    taus = {}
    point_ranks = min_ranks_descending(draws.point_q[competing])  # (c, t)
    resampled = min_ranks_descending(draws.q[:, competing].transpose(1, 0, 2))  # (c, b, t)
    for k, task in enumerate(draws.tasks):
        taus[task] = kendall_tau_b(point_ranks[:, k], resampled[:, :, k].T)  # (b,)
    return board, taus


def _summary(ranking: str, tau: np.ndarray) -> TauSummary:
    defined = tau[~np.isnan(tau)]
    if not defined.size:
        return TauSummary(ranking, math.nan, math.nan, math.nan, math.nan, 0)
    q25, median, q75 = np.quantile(defined, [0.25, 0.5, 0.75])
    return TauSummary(ranking, float(defined.mean()), float(median), float(q25), float(q75),
                      int(defined.size))  # fmt: skip


def _agreement(draws: BootstrapDraws) -> np.ndarray:
    competing = draws.competing
    rankings = np.concatenate(
        [draws.point_places[competing][:, None], min_ranks_descending(draws.point_q[competing])],
        axis=1,
    )  # (c, t + 1)
    size = rankings.shape[1]
    matrix = np.ones((size, size))
    for a in range(size):
        matrix[a] = kendall_tau_b(rankings[:, a], rankings.T)
    return matrix
