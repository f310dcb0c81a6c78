"""One phase's post-reveal analysis: rank stability and the capability map together. Pure.

The caller gathers the phase's numbers (the standalone CLI from result folders, the worker from
its database) into a `PhaseScores` and gets a `PhaseAnalysis`; `scoring.analysis.report` turns
that into files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scoring.analysis.capability_map import MAX_DIMENSION, CapabilityMap, capability_map
from scoring.analysis.errors import InsufficientData
from scoring.analysis.rank_stability import RankStability, rank_stability
from scoring.bootstrap import MIN_RESAMPLES

SCORE_KINDS = ("q", "mean_score")


@dataclass(frozen=True)
class PhaseScores:
    """Everything the analyses read about one phase's entries."""

    phase: str
    title: str
    tasks: tuple[str, ...]
    task_q: Mapping[str, Mapping[str, float]]  # entry -> task -> Q (missing: not evaluated)
    task_mean: Mapping[str, Mapping[str, float]]  # entry -> task -> mean split score
    split_scores: Mapping[str, Mapping[str, Sequence[float]]]  # entry -> task -> (k,) splits
    baselines: tuple[str, ...] = ()  # no competing place (as on the board)
    weight_exclude: tuple[str, ...] = ()  # out of the task weights (as on the board)
    ghost_std: float | None = None


@dataclass(frozen=True)
class AnalysisOptions:
    dimensions: int | str = "auto"  # "auto" or a fixed dimension of the capability map
    max_dimension: int = MAX_DIMENSION
    score_kind: str = "q"  # what the gaps are computed from: "q" or "mean_score"
    hold_out: tuple[tuple[str, str], ...] = ()  # (entry, task) cells to predict and check
    n_resamples: int = MIN_RESAMPLES
    level: float = 0.9  # the board's rank-interval level
    bootstrap_seed: int = 0
    map_seed: int = 0

    def __post_init__(self) -> None:
        if self.score_kind not in SCORE_KINDS:
            raise ValueError(f"score_kind must be one of {SCORE_KINDS}, got {self.score_kind!r}")


@dataclass(frozen=True, eq=False)
class PhaseAnalysis:
    scores: PhaseScores
    options: AnalysisOptions
    stability: RankStability | None
    capability: CapabilityMap | None
    notes: tuple[str, ...]  # why a part is missing, entries left out
    seconds: dict[str, float] = field(default_factory=dict)  # part -> seconds taken


def analyse_phase(scores: PhaseScores, options: AnalysisOptions) -> PhaseAnalysis:
    """Both analyses; a part that cannot be computed is None with the reason in `notes`."""
    notes: list[str] = []
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    stability = None
    try:
        stability = rank_stability(
            scores.split_scores, scores.tasks, np.random.default_rng(options.bootstrap_seed),
            n_resamples=options.n_resamples, level=options.level,
            weight_exclude=scores.weight_exclude, non_competing=scores.baselines,
            ghost_std=scores.ghost_std,
        )  # fmt: skip
        notes += [f"rank stability leaves out {name!r}: no split scores on every task"
                  for name in stability.dropped]  # fmt: skip
    except InsufficientData as exc:
        notes.append(f"no rank stability: {exc}")
    seconds["rank_stability"] = time.perf_counter() - started

    started = time.perf_counter()
    source = scores.task_q if options.score_kind == "q" else scores.task_mean
    capability = None
    try:
        capability = capability_map(
            source, scores.tasks, options.map_seed, dimension=options.dimensions,
            max_dimension=options.max_dimension, hold_out=options.hold_out,
            score_kind=options.score_kind,
        )  # fmt: skip
        notes += [f"capability map: {note}" for note in capability.left_out]
    except InsufficientData as exc:
        notes.append(f"no capability map: {exc}")
    seconds["capability_map"] = time.perf_counter() - started
    return PhaseAnalysis(scores, options, stability, capability, tuple(notes), seconds)
