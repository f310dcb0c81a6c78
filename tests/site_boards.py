"""A synthetic phase board with many entries, for the site's tests and screenshots.

Per-split scores are drawn from seeded normal distributions (a quality level per team, a
difficulty per task); everything after that is the worker's own code: `rank_entries` (places,
weights, per-task ranks), `rank_intervals` (the seeded bootstrap), `rank_history` (the replay of
finished submissions) and `board_from_leaderboard`, exactly as `worker.leaderboard` builds a phase.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from scoring.bootstrap import rank_intervals
from scoring.quality import q_from_splits
from scoring.ranking import rank_entries
from worker.leaderboard import (
    Board,
    EntryInfo,
    FinishedSubmission,
    board_from_leaderboard,
    rank_history,
)

TEAMS = (
    "Orbital Encoders", "GeoSketch", "Fourier Folks", "Terra Vectors", "Pixel Pastures",
    "Cloudless Crew", "Sentinel Scholars", "Delta Dynamics", "Polar Probes", "Late Night Lab",
)  # fmt: skip
BASELINES = ("Baseline mean embeddings", "Baseline random embeddings")
# Deliberately memorable: the leak tests look for these strings.
TASKS = (
    "crop_yield_regr", "landcover_cls", "flood_extent_cls", "biomass_regr", "urban_heat_regr",
    "soil_moisture_regr", "wildfire_cls", "snow_cover_cls", "water_quality_regr",
)  # fmt: skip
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def synthetic_board(
    *,
    revealed: bool,
    teams: Sequence[str] = TEAMS,
    baselines: Sequence[str] = BASELINES,
    tasks: Sequence[str] = TASKS,
    phase: str = "final",
    seed: int = 2026,
    k_splits: int = 20,
) -> Board:
    """A Board of `teams` + `baselines` on `tasks`: teams resubmit, so the history is longer
    than the board and ranks move. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    names = [*teams, *baselines]
    level = {name: 0.85 - 0.06 * i + 0.03 * rng.standard_normal() for i, name in enumerate(teams)}
    level |= {name: 0.25 - 0.1 * i for i, name in enumerate(baselines)}
    difficulty = {task: 0.1 * rng.standard_normal() for task in tasks}
    attempts = {name: 1 if name in baselines else 1 + int(rng.integers(0, 4)) for name in names}

    submissions = []  # (finished at, team, {task: (k,) split scores}, attempt)
    order = [(name, a) for name in names for a in range(attempts[name])]
    order = [order[i] for i in rng.permutation(len(order))]
    order.sort(key=lambda item: item[1])  # first attempts first, then resubmissions
    for n, (name, attempt) in enumerate(order):
        gain = 0.05 * (attempt + 1 - attempts[name])  # later tries are better
        splits = {
            task: np.clip(
                level[name] + gain + difficulty[task] + 0.05 * rng.standard_normal(k_splits),
                -1.0, 1.0,
            )
            for task in tasks
        }  # fmt: skip
        submissions.append((T0 + timedelta(hours=5 * n), name, splits))

    latest = {name: splits for _, name, splits in submissions}  # latest counts
    task_q = {
        name: {t: float(q_from_splits(np.asarray(s[t])[None, :])[0]) for t in tasks}
        for name, s in latest.items()
    }
    leaderboard = rank_entries(task_q, tasks)
    intervals = rank_intervals(
        latest, tasks, np.random.default_rng(seed), n_resamples=1000, non_competing=baselines
    )
    replay = [
        FinishedSubmission(
            team=name,
            finished_at=at,
            task_q={t: float(q_from_splits(np.asarray(s[t])[None, :])[0]) for t in tasks},
            baseline=name in baselines,
        )
        for at, name, s in submissions
    ]
    entries = {
        name: EntryInfo(
            method=f"{name.split()[0].lower()}-vit-{i % 3 + 1}",
            submissions=attempts[name],
            last_submission=max(at for at, n, _ in submissions if n == name) - timedelta(hours=1),
            baseline=name in baselines,
        )
        for i, name in enumerate(names)
    }
    return board_from_leaderboard(
        phase,
        f"Phase {phase}",
        leaderboard,
        entries,
        updated_at=submissions[-1][0],
        revealed=revealed,
        intervals=intervals,
        history=rank_history(replay, tasks),
    )
