"""One phase's leaderboard built from the scoring database: `build_phase_board`.

I/O: reads the scoring database through `ScoreReader` (a `SqlScoreStore`); nothing else.
Ranking, intervals and rendering are the pure modules' (`scoring.ranking`, `scoring.bootstrap`,
the package's `values`). Publishing a phase is the package's `publishing`; the publishers and a
new leaderboard repository are `remote`'s.

What counts, under `leaderboard.policy` (`latest` or `best` finished public submission per team;
private submissions never appear, baselines included): the store's `board_entries`, plus every
finished public baseline as its own entry. Organiser baselines are the submissions the source
flagged `is_baseline` (EvalAI: the host's baseline flag, which only a host can set; the inbox:
the team folders named in `leaderboard.baselines`); a team *name* never makes a baseline here.
They get no competing place, and stay out of the task weights when `baselines_in_weights` is
false. The rank history replays the finished public submissions in finishing order; at each
step a team counts with the submission the same policy picks among its submissions finished so
far.

Entry ids: every entry carries an opaque id (a hash of its team's EvalAI pk, or of the baseline
submission), published in the board JSON, so that the next publication tells a renamed team
from one that left. `phase_departures` lists the entries the store accounts for when they are
gone: a team whose scored submissions are all private now ("made private by its owner").

Entry names are the team names. When two entries would show the same name (a team that
submitted two baselines, two teams with one display name), the later one gets its method name,
else its pk, appended; earlier entries keep their names, so a board never renames an entry that
was already published.

Determinism: an unchanged database renders to identical bytes — the bootstrap is seeded from
the phase and its entries' evaluation ids, and `updated_at` is the newest finish among the shown
submissions, never the clock — so the publisher commits nothing. Private submissions leave no
trace: not in the entries, the history, the submission counts and times, or `updated_at`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import numpy as np

from scoring.bootstrap import MIN_RESAMPLES, RankIntervals, rank_intervals
from scoring.ranking import Leaderboard, rank_entries
from worker.leaderboard.publish import Departure
from worker.leaderboard.render import (
    Board,
    EntryInfo,
    FinishedSubmission,
    board_from_leaderboard,
    plain_name,
    rank_history,
)
from worker.settings import LeaderboardSettings, Settings
from worker.store import FINISHED, BoardEntry, EvaluationRecord, StoredSubmission

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ScoreReader(Protocol):
    """What the board reads from the scoring database (`worker.store.SqlScoreStore`)."""

    def board_entries(
        self, phase: str, policy: Literal["latest", "best"], include_private: bool = False
    ) -> list[BoardEntry]: ...

    def list_submissions(
        self, phase: str | None = None, status: str | None = None, source: str | None = None
    ) -> list[StoredSubmission]: ...

    def evaluation(self, evaluation_id: int) -> EvaluationRecord: ...


# ---- building the board ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PhaseEntries:
    """What a phase's board is built from (also read by `worker.leaderboard.analysis`)."""

    submissions: list[StoredSubmission]  # every submission of the phase
    shown: list[StoredSubmission]  # scored and public (or baseline), oldest first
    names: dict[str, str]  # entry key -> unique display name
    notes: list[str]  # renamed duplicates
    by_name: dict[str, BoardEntry]  # the submission each entry counts with, by display name
    records: dict[int | None, EvaluationRecord]  # evaluation id -> per-task and split scores
    tasks: tuple[str, ...]
    baselines: set[str]  # display names without a competing place
    exclude: tuple[str, ...]  # display names out of the task weights


def phase_entries(store: ScoreReader, phase: str, settings: Settings) -> PhaseEntries:
    """The phase's entries under the configured policy, named as on the board."""
    if phase not in settings.phases:
        raise ValueError(f"unknown phase {phase!r}; configured: {', '.join(settings.phases)}")
    board = settings.leaderboard
    entries = store.board_entries(phase, "best" if board.policy == "best" else "latest")
    submissions = store.list_submissions(phase=phase)
    shown = _shown_submissions(submissions, entries)
    names, notes = _entry_names(shown)
    baselines = _baseline_names(shown, names)
    exclude = () if board.baselines_in_weights else tuple(sorted(baselines))
    by_name = {names[_entry_key(e.submission)]: e for e in entries}
    records = {
        sub.current_evaluation_id: store.evaluation(sub.current_evaluation_id)
        for sub in shown
        if sub.current_evaluation_id is not None
    }
    return PhaseEntries(submissions, shown, names, notes, by_name, records,
                        _task_union(entries), baselines, exclude)  # fmt: skip


def bootstrap_seed(phase: str, by_name: Mapping[str, BoardEntry]) -> int:
    """The board's bootstrap seed: the phase and its entries' evaluations, so an unchanged
    database draws the same resamples (and renders the same bytes)."""
    ids = [e.submission.current_evaluation_id for e in by_name.values()]
    digest = hashlib.sha256(f"{phase}|{sorted(i or 0 for i in ids)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def build_phase_board(
    store: ScoreReader, phase: str, settings: Settings, *, revealed: bool | None = None
) -> tuple[Board, list[str]]:
    """The phase's Board and notes for the operator (entries left out, renamed duplicates).

    `revealed` defaults to `phase in leaderboard.revealed_phases`. Notes never name a task.
    """
    if phase not in settings.phases:
        raise ValueError(f"unknown phase {phase!r}; configured: {', '.join(settings.phases)}")
    board = settings.leaderboard
    if 0 < board.bootstrap_resamples < MIN_RESAMPLES:
        raise ValueError(
            f"leaderboard.bootstrap_resamples must be 0 (no intervals) or at least "
            f"{MIN_RESAMPLES}, got {board.bootstrap_resamples}"
        )
    gathered = phase_entries(store, phase, settings)
    shown, names, by_name, records = (
        gathered.shown, gathered.names, gathered.by_name, gathered.records
    )
    baselines, exclude, tasks = gathered.baselines, gathered.exclude, gathered.tasks
    notes = list(gathered.notes)
    task_q = {name: e.task_q for name, e in by_name.items()}
    leaderboard = rank_entries(task_q, tasks, weight_exclude=exclude, ghost_std=board.ghost_std)
    notes += _dropped_notes(leaderboard, task_q)
    intervals = _intervals(phase, by_name, records, tasks, board, exclude, baselines)
    replay = _replay(shown, names, baselines, records, board.policy)
    history = rank_history(replay, tasks, weight_exclude=exclude, ghost_std=board.ghost_std)
    result = board_from_leaderboard(
        phase,
        f"Phase {phase}",  # the README's title names the challenge; long titles clip the plots
        leaderboard,
        _entry_infos(by_name, shown, names, baselines),
        updated_at=_updated_at(shown, gathered.submissions),
        revealed=phase in board.revealed_phases if revealed is None else revealed,
        intervals=intervals,
        history=history,
        baselines_in_weights=board.baselines_in_weights,
        policy=board.policy,
    )
    return result, notes


def _entry_key(sub: StoredSubmission) -> str:
    """Board identity: every flagged baseline is its own entry; the rest group by team."""
    return f"baseline:{sub.source}:{sub.pk}" if sub.is_baseline else sub.team_key


def entry_id(sub: StoredSubmission) -> str:
    """The published id of the entry `sub` counts for: stable across renames, and opaque."""
    return hashlib.sha256(f"neuco-entry|{_entry_key(sub)}".encode()).hexdigest()[:16]


MADE_PRIVATE = "made private by its owner"


def private_departures(submissions: Iterable[StoredSubmission]) -> list[Departure]:
    """The entries the store accounts for if they left the board: per team whose finished,
    scored submissions of the phase are all private now, and per private baseline. Pure.

    A team with a public scored submission left keeps its entry (the policy falls back to it),
    so it is no departure. Teams that never were on the board are listed too: harmless, as
    publishing only looks up entries that were published.
    """
    teams: dict[str, list[StoredSubmission]] = {}
    for sub in submissions:
        if sub.status == FINISHED and sub.current_evaluation_id is not None:
            teams.setdefault(_entry_key(sub), []).append(sub)
    found = []
    for subs in teams.values():
        if not any(sub.is_public for sub in subs):
            latest = max(subs, key=lambda sub: (sub.submitted_at, sub.pk))
            found.append(Departure(entry_id(latest), latest.team_name, MADE_PRIVATE))
    return found


def phase_departures(store: ScoreReader, phase: str) -> list[Departure]:
    """`private_departures` of the phase's finished submissions, as the store records them."""
    return private_departures(store.list_submissions(phase=phase, status=FINISHED))


def _shown_submissions(
    submissions: Iterable[StoredSubmission], entries: Iterable[BoardEntry]
) -> list[StoredSubmission]:
    """Scored public submissions (baselines too), oldest first. The entries' own submissions are
    added in case one changed state between the two reads."""
    pool = {
        (s.source, s.pk): s
        for s in submissions
        if s.status == FINISHED and s.current_evaluation_id is not None and s.is_public
    }
    for entry in entries:
        pool.setdefault((entry.submission.source, entry.submission.pk), entry.submission)
    return sorted(pool.values(), key=lambda s: (s.submitted_at, s.source, s.pk))


def _entry_names(shown: Sequence[StoredSubmission]) -> tuple[dict[str, str], list[str]]:
    """{entry key: unique display name}, assigned in order of first submission."""
    first: dict[str, StoredSubmission] = {}
    team_name: dict[str, str] = {}
    for sub in shown:
        first.setdefault(_entry_key(sub), sub)
        team_name[_entry_key(sub)] = sub.team_name  # a renamed team shows its latest name
    names: dict[str, str] = {}
    taken: set[str] = set()
    notes = []
    for key, sub in first.items():
        base = team_name[key]
        candidates = [base, f"{base} ({sub.method_name})", f"{base} #{sub.pk}"]
        candidates.append(f"{base} #{sub.source}-{sub.pk}")  # (source, pk) is unique
        name = next(c for c in candidates if plain_name(c) not in taken)
        names[key] = name
        taken.add(plain_name(name))
        if name != base:
            notes.append(f"two entries are named {base!r}; the later one is shown as {name!r}")
    return names, notes


def _baseline_names(shown: Iterable[StoredSubmission], names: Mapping[str, str]) -> set[str]:
    """Display names of the baseline entries: what the source flagged, never a team name."""
    return {names[_entry_key(s)] for s in shown if s.is_baseline}


def _task_union(entries: Iterable[BoardEntry]) -> tuple[str, ...]:
    """Every task of the entries, in ScoreCard order of the oldest entry that has it."""
    tasks: dict[str, None] = {}
    for entry in sorted(entries, key=lambda e: (e.submission.submitted_at, e.submission.pk)):
        tasks.update(dict.fromkeys(entry.task_q))
    return tuple(tasks)


def _dropped_notes(
    leaderboard: Leaderboard, task_q: Mapping[str, Mapping[str, float]]
) -> list[str]:
    notes = []
    n_tasks = len(leaderboard.tasks)
    for name in leaderboard.dropped:
        q = task_q[name]
        missing = sum(t not in q for t in leaderboard.tasks)
        if missing:
            notes.append(f"{name!r} left out: no Q for {missing} of the phase's {n_tasks} tasks")
        else:
            failed = sum(1 for t in leaderboard.tasks if np.isnan(q[t]))
            notes.append(f"{name!r} left out: NaN Q (all splits failed) on {failed} task(s)")
    return notes


def _intervals(
    phase: str,
    by_name: Mapping[str, BoardEntry],
    records: Mapping[int | None, EvaluationRecord],
    tasks: Sequence[str],
    board: LeaderboardSettings,
    exclude: Sequence[str],
    baselines: set[str],
) -> RankIntervals | None:
    """Bootstrap rank intervals, seeded by the phase and the entries' evaluations."""
    if board.bootstrap_resamples == 0 or not by_name:
        return None
    ids = [e.submission.current_evaluation_id for e in by_name.values()]
    split_scores = {
        name: {t.task: t.split_scores for t in records[id_].tasks}
        for name, id_ in zip(by_name, ids, strict=True)
    }
    return rank_intervals(
        split_scores,
        tasks,
        np.random.default_rng(bootstrap_seed(phase, by_name)),
        n_resamples=board.bootstrap_resamples,
        weight_exclude=exclude,
        non_competing=tuple(sorted(baselines)),
        ghost_std=board.ghost_std,
    )


def _entry_infos(
    by_name: Mapping[str, BoardEntry],
    shown: Sequence[StoredSubmission],
    names: Mapping[str, str],
    baselines: set[str],
) -> dict[str, EntryInfo]:
    """Per entry: method, and count and time of its *shown* submissions. (BoardEntry's own
    count and time include private submissions, which must not surface on a public board.)"""
    times: dict[str, list[datetime]] = {}
    for sub in shown:
        times.setdefault(names[_entry_key(sub)], []).append(sub.submitted_at)
    return {
        name: EntryInfo(
            method=entry.submission.method_name,
            submissions=len(times[name]),
            last_submission=max(times[name]),
            baseline=name in baselines,
            entry_id=entry_id(entry.submission),
        )
        for name, entry in by_name.items()
    }


def _replaces(new: StoredSubmission, current: StoredSubmission, policy: str) -> bool:
    """Whether `new` counts instead of `current` (the store's `board_entries` rule)."""
    if policy == "best":
        return (_q_key(new.mean_q), -new.submitted_at.timestamp(), -new.pk) > (
            _q_key(current.mean_q), -current.submitted_at.timestamp(), -current.pk,
        )  # fmt: skip
    return (new.submitted_at, new.pk) > (current.submitted_at, current.pk)


def _q_key(q: float | None) -> float:
    return -np.inf if q is None or np.isnan(q) else q


def _replay(
    shown: Sequence[StoredSubmission],
    names: Mapping[str, str],
    baselines: set[str],
    records: Mapping[int | None, EvaluationRecord],
    policy: str,
) -> list[FinishedSubmission]:
    """One FinishedSubmission per finished shown submission, in finishing order, carrying the
    Q of the submission its entry counts with at that moment."""
    counted: dict[str, StoredSubmission] = {}
    replay = []
    for sub in sorted(shown, key=lambda s: (s.finished_at or s.submitted_at, s.submitted_at, s.pk)):
        key = _entry_key(sub)
        if key not in counted or _replaces(sub, counted[key], policy):
            counted[key] = sub
        pick = records[counted[key].current_evaluation_id]
        replay.append(
            FinishedSubmission(
                team=names[key],
                finished_at=sub.finished_at or sub.submitted_at,
                task_q={t.task: t.q for t in pick.tasks},
                baseline=names[key] in baselines,
            )
        )
    return replay


def _updated_at(
    shown: Iterable[StoredSubmission], submissions: Iterable[StoredSubmission]
) -> datetime:
    """Newest finish among the shown submissions, never the clock, so re-renders stay identical;
    private ones do not count (their finishing would be a commit that only reveals activity).
    With nothing shown: the newest arrival in the phase."""
    finished = [s.finished_at for s in shown if s.finished_at is not None]
    if finished:
        return max(finished)
    return max((s.received_at for s in submissions), default=_EPOCH)
