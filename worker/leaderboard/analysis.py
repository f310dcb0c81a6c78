"""A revealed phase's analysis (rank stability, capability map) from the scoring database.

I/O: reads the store through `ScoreReader` (the entries the board shows, named as on the board)
and, to know whether a phase is revealed, the published board through a `Publisher`. The
computation and rendering are `scoring.analysis`'s; names reach its Markdown and pictures
through the board's escaping rules (`markdown_cell`, `plot_label`).

LEAK RULE: per-task numbers stay hidden until the reveal, so `phase_analysis` refuses a phase
that is neither in `leaderboard.revealed_phases` nor published as revealed (`PhaseNotRevealed`);
its files reach the leaderboard repository only with a reveal (`reveal_phase(extra_files=...,
pictures=...)` refuses them on an unrevealed board). The bootstrap is seeded as the board's,
so its intervals are the published ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from scoring.analysis import (
    AnalysisOptions,
    PhaseAnalysis,
    PhaseScores,
    analyse_phase,
    analysis_files,
)
from scoring.bootstrap import MIN_RESAMPLES
from worker.errors import WorkerError
from worker.leaderboard.board import ScoreReader, bootstrap_seed, phase_entries
from worker.leaderboard.plots import plot_label
from worker.leaderboard.publish import Publisher
from worker.leaderboard.publishing import published_revealed
from worker.leaderboard.text import markdown_cell
from worker.settings import Settings

ANALYSIS_DIR = "analysis"


class PhaseNotRevealed(WorkerError):
    """The phase's per-task results are not public yet: no per-task analysis leaves."""


def phase_is_revealed(settings: Settings, phase: str, publisher: Publisher | None) -> bool:
    """Configured as revealed, or published as revealed (a reveal is never taken back)."""
    if phase in settings.leaderboard.revealed_phases:
        return True
    return publisher is not None and published_revealed(publisher, phase)


def phase_analysis(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    *,
    revealed: bool,
    dimensions: int | str = "auto",
    score_kind: str = "q",
    hold_out: Sequence[tuple[str, str]] = (),
) -> PhaseAnalysis:
    """The analysis of a revealed phase's board entries. Raises PhaseNotRevealed otherwise."""
    if not revealed:
        raise PhaseNotRevealed(
            f"phase {phase!r} is not revealed: its per-task results stay hidden, and so does "
            f"their analysis. Reveal it first (`python -m worker leaderboard reveal {phase}`), "
            "or list it in leaderboard.revealed_phases"
        )
    gathered = phase_entries(store, phase, settings)
    board = settings.leaderboard
    records = {
        name: gathered.records[entry.submission.current_evaluation_id]
        for name, entry in gathered.by_name.items()
    }
    scores = PhaseScores(
        phase=phase,
        title=f"Phase {phase}",
        tasks=gathered.tasks,
        task_q={n: dict(e.task_q) for n, e in gathered.by_name.items()},
        task_mean={n: {t.task: t.mean_score for t in r.tasks} for n, r in records.items()},
        split_scores={n: {t.task: t.split_scores for t in r.tasks} for n, r in records.items()},
        baselines=tuple(sorted(gathered.baselines)),
        weight_exclude=gathered.exclude,
        ghost_std=board.ghost_std,
    )
    seed = bootstrap_seed(phase, gathered.by_name)
    options = AnalysisOptions(
        dimensions=dimensions,
        score_kind=score_kind,
        hold_out=tuple(hold_out),
        n_resamples=max(board.bootstrap_resamples, MIN_RESAMPLES),
        bootstrap_seed=seed,
        map_seed=seed,
    )
    return analyse_phase(scores, options)


def analysis_repository_files(analysis: PhaseAnalysis) -> dict[str, bytes]:
    """The analysis files under `analysis/<phase>/` of the leaderboard repository."""
    files = analysis_files(analysis, cell=markdown_cell, label=plot_label)
    return {f"{ANALYSIS_DIR}/{analysis.scores.phase}/{name}": data for name, data in files.items()}
