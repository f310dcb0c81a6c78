"""The NeuCo-Bench quality statistic Q. Pure.

Q_t = 100 * eps * mean_k(s_k) / (std_k(s_k) + eps) with eps = 0.02, i.e. 2 * mean / (std + 0.02),
over the K split scores s_k of task t; the std is the population std (ddof = 0); NaN splits
(failed probes) are ignored by both, as the reference's `nanmean` / `nanstd` do. Q lies in
(-inf, 100]; a negative Q means the probe is worse than predicting the mean.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

EPS = 0.02


def split_summary(split_scores: np.ndarray) -> tuple[float, float, int]:
    """(mean, population std, failed-split count) over the last axis, ignoring NaN splits."""
    scores = np.asarray(split_scores, dtype=np.float64)
    failed = int(np.isnan(scores).sum())
    if failed == scores.size:
        return math.nan, math.nan, failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(scores)), float(np.nanstd(scores)), failed


def q_statistic(mean: float | np.ndarray, std: float | np.ndarray) -> float | np.ndarray:
    """Q from the mean and population std of the split scores (works elementwise on arrays)."""
    return 100.0 * EPS * mean / (std + EPS)


def q_from_splits(split_scores: np.ndarray) -> np.ndarray:
    """Q along the last axis of (..., k) split scores, NaN splits ignored. Vectorised."""
    scores = np.asarray(split_scores, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return q_statistic(np.nanmean(scores, axis=-1), np.nanstd(scores, axis=-1))
