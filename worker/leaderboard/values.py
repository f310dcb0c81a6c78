"""The board values of one phase and how they are built from a ranking. Pure.

`board_from_leaderboard` turns `scoring.ranking.rank_entries`' result plus what the database knows
about each entry (`EntryInfo`) into a `Board`; `rank_history` replays finished submissions into the
snapshots of the rank-evolution plot. Rendering lives in the package's
`render` (README / JSON / CSV) and `plots` (PNGs) modules.

Places: organiser baselines take part in the per-task ranks and (unless excluded) the task
weights, but get no competing place: a place is 1 + the number of *competing* entries with a
strictly better weighted score (`scoring.bootstrap.places`). A baseline's place means "where it
would stand among the competitors"; competitors' places have no gaps because of baselines.
Timestamps must be timezone-aware; they are compared and rendered in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from scoring.bootstrap import RankIntervals, places
from scoring.ranking import Leaderboard, rank_entries

PHASE_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class EntryInfo:
    """What the database knows about a board entry besides its scores."""

    method: str
    submissions: int
    last_submission: datetime  # aware
    baseline: bool = False
    entry_id: str | None = None  # opaque and stable per team (or baseline), whatever its name


@dataclass(frozen=True)
class BoardRow:
    """One entry of a phase's board (a team's latest public submission, or a baseline)."""

    team: str
    method: str
    place: int  # among competing entries; for a baseline: where it would stand
    weighted_score: float
    mean_q: float
    submissions: int
    last_submission: datetime  # aware
    baseline: bool = False
    interval: tuple[int, int] | None = None
    p_first: float | None = None
    task_q: Mapping[str, float] = field(default_factory=dict)  # rendered only when revealed
    task_ranks: Mapping[str, int] = field(default_factory=dict)  # rendered only when revealed
    entry_id: str | None = None  # see EntryInfo; lets publishing tell a rename from a departure


@dataclass(frozen=True)
class RankSnapshot:
    """Places of all board entries right after `team`'s submission finished."""

    at: datetime
    team: str
    places: Mapping[str, int]


@dataclass(frozen=True)
class FinishedSubmission:
    """A finished public submission, for replaying the rank history."""

    team: str
    finished_at: datetime
    task_q: Mapping[str, float]
    baseline: bool = False


@dataclass(frozen=True)
class Board:
    """One phase's leaderboard; `tasks`, `weights` and rows' per-task values need `revealed`."""

    phase: str  # slug: file names and README markers
    title: str
    rows: tuple[BoardRow, ...]
    updated_at: datetime  # aware; the last finished submission keeps re-renders identical
    revealed: bool = False
    tasks: tuple[str, ...] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    history: tuple[RankSnapshot, ...] = ()
    n_resamples: int | None = None
    interval_level: float = 0.9
    baselines_in_weights: bool = True
    policy: str = "latest"  # which submission of a team counts: latest | best (public)

    def __post_init__(self) -> None:
        if not PHASE_SLUG.match(self.phase):
            raise ValueError(f"phase must match {PHASE_SLUG.pattern}, got {self.phase!r}")
        utc(self.updated_at)
        for row in self.rows:
            utc(row.last_submission)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC; naive datetimes are refused (the 2025 bot's had no zone)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware, got naive {moment.isoformat()!r}")
    return moment.astimezone(UTC)


def _competing_places(leaderboard: Leaderboard, baselines: set[str]) -> list[int]:
    weighted = np.array([r.weighted_score for r in leaderboard.rows])
    competing = np.array([r.name not in baselines for r in leaderboard.rows])
    return [int(p) for p in places(weighted, competing)] if len(weighted) else []


def board_from_leaderboard(
    phase: str,
    title: str,
    leaderboard: Leaderboard,
    entries: Mapping[str, EntryInfo],
    *,
    updated_at: datetime,
    revealed: bool = False,
    intervals: RankIntervals | None = None,
    history: Sequence[RankSnapshot] = (),
    baselines_in_weights: bool = True,
    policy: str = "latest",
) -> Board:
    """A Board from `rank_entries`' result plus per-entry facts and optional rank intervals."""
    missing = [r.name for r in leaderboard.rows if r.name not in entries]
    if missing:
        raise ValueError(f"no EntryInfo for board entries {missing!r}")
    baselines = {name for name, info in entries.items() if info.baseline}
    by_name = intervals.by_name() if intervals else {}
    rows = []
    for row, place in zip(leaderboard.rows, _competing_places(leaderboard, baselines), strict=True):
        info, iv = entries[row.name], by_name.get(row.name)
        rows.append(
            BoardRow(
                team=row.name,
                method=info.method,
                place=place,
                weighted_score=row.weighted_score,
                mean_q=row.mean_q,
                submissions=info.submissions,
                last_submission=info.last_submission,
                baseline=info.baseline,
                interval=(iv.low, iv.high) if iv else None,
                p_first=iv.p_first if iv else None,
                task_q=dict(row.task_q),
                task_ranks=dict(row.task_ranks),
                entry_id=info.entry_id,
            )
        )
    return Board(
        phase=phase,
        title=title,
        rows=tuple(rows),
        updated_at=updated_at,
        revealed=revealed,
        tasks=leaderboard.tasks,
        weights=dict(leaderboard.weights),
        history=tuple(history),
        n_resamples=intervals.n_resamples if intervals else None,
        interval_level=intervals.level if intervals else 0.9,
        baselines_in_weights=baselines_in_weights,
        policy=policy,
    )


def rank_history(
    submissions: Sequence[FinishedSubmission],
    tasks: Sequence[str],
    *,
    weight_exclude: Sequence[str] = (),
    ghost_std: float | None = None,
) -> tuple[RankSnapshot, ...]:
    """Replay finished submissions in time order; each replaces its team's entry (latest counts)."""
    latest: dict[str, Mapping[str, float]] = {}
    baselines: set[str] = set()
    snapshots = []
    for sub in sorted(submissions, key=lambda s: utc(s.finished_at)):
        latest[sub.team] = sub.task_q
        if sub.baseline:
            baselines.add(sub.team)
        board = rank_entries(latest, tasks, weight_exclude=weight_exclude, ghost_std=ghost_std)
        placed = _competing_places(board, baselines)
        snapshots.append(
            RankSnapshot(
                at=utc(sub.finished_at),
                team=sub.team,
                places={r.name: p for r, p in zip(board.rows, placed, strict=True)},
            )
        )
    return tuple(snapshots)
