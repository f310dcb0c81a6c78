"""Value types produced by the scoring engine and consumed by the worker and leaderboard. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Finding:
    """A non-fatal finding about a submission: a stable `code` (a warning flag) and a message
    that is safe to show the participant (it speaks of their file, never of the labels)."""

    code: str
    message: str


@dataclass(frozen=True)
class TaskScore:
    """One hidden task's result for one submission.

    `split_scores` holds the best test score over epochs of each of the K splits (R^2 for `regr`,
    F1 for `cls`); a NaN there is a failed split. `q` is the NeuCo-Bench quality statistic.
    """

    task: str
    kind: str  # "regr" | "cls"
    metric: str  # "r2" | "f1"
    n_rows: int
    q: float
    mean_score: float
    std_score: float
    split_scores: tuple[float, ...]
    failed_splits: int
    best_epochs: tuple[int, ...] = ()
    report: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def k(self) -> int:
        return len(self.split_scores)


@dataclass(frozen=True)
class ScoreCard:
    """A whole submission's result: per-task scores, the mean Q, and what reproduces them."""

    seed: int
    tasks: tuple[TaskScore, ...]
    warnings: tuple[Finding, ...]
    config_fingerprint: str
    seconds: float = 0.0

    @property
    def mean_q(self) -> float:
        """Plain mean of Q over tasks (NaN if any task's Q is NaN): the number EvalAI shows."""
        if not self.tasks:
            return math.nan
        return sum(t.q for t in self.tasks) / len(self.tasks)

    def task(self, name: str) -> TaskScore:
        for t in self.tasks:
            if t.task == name:
                return t
        raise KeyError(name)
