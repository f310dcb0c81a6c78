"""Publishing one phase's leaderboard: render the board built from the store and publish it
through a `Publisher`; reveal a phase's per-task results; show the board on the terminal.

I/O: reads the scoring database (through `build_phase_board`) and the published README, board
file and site index (`docs/phases.json`) through the publisher; writes through the publisher
(one commit, or none when unchanged): the README section, JSON, CSV, plots and the web pages
under docs/ (the package's `site`), all from the same board. With `leaderboard.id_list_phases`
it reads the phase's label files for its id list, published as `ids/<phase>.txt` for
`python -m scoring check --ids` (ids only, never labels).

Errors: `publish_phase` / `reveal_phase` return "refused" and "frozen" as results, and raise
`PublishTransientError` (network, timeout, lost races: try again on a later tick) and
`PublishPermanentError` (credentials, unknown repository, README without markers: fix the
configuration) from the package's `publish`; `reveal_phase` raises `PhaseStillScoring`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from scoring.labels import load_tasks, select_tasks
from worker.errors import WorkerError
from worker.leaderboard.board import ScoreReader, build_phase_board, phase_departures
from worker.leaderboard.publish import (
    Publisher,
    PublishPermanentError,
    PublishResult,
    publish_board,
)
from worker.leaderboard.remote import TEMPLATE_DIR, template_readme
from worker.leaderboard.render import (
    board_files,
    board_table,
    commit_message,
    csv_path,
    id_list_path,
    id_list_text,
    json_path,
    readme_from_template,
    readme_with_board,
)
from worker.leaderboard.site import PHASES_PATH, SitePicture, published_phases, site_files
from worker.settings import PhaseSettings, Settings
from worker.store import RECEIVED, RUNNING

log = logging.getLogger(__name__)


class PhaseStillScoring(WorkerError):
    """A phase cannot be revealed while submissions are still waiting or being scored."""


# ---- publishing --------------------------------------------------------------------------------


def publish_phase(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    *,
    explanation: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
    pictures: Sequence[SitePicture] = (),
) -> PublishResult:
    """Render the phase from the database and publish it (one commit, or none if unchanged).

    A frozen phase is not rendered or published ("frozen"); a board that drops a published entry
    or is empty is "refused" unless the store accounts for the departure (a team that made its
    submissions private leaves, logged and named in the commit message) or `explanation` is
    given (`publish.publish_board`).
    Revealed: when configured, or when the published board already is (per-task results cannot
    be taken back, so a phase never flips back). Raises PublishTransientError — the caller
    retries on a later tick — and PublishPermanentError.
    """
    return _publish(store, phase, settings, publisher, explanation, None, template_dir, pictures)


def reveal_phase(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    *,
    force: bool = False,
    explanation: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
    pictures: Sequence[SitePicture] = (),
    extra_files: Mapping[str, bytes] | None = None,
) -> PublishResult:
    """Publish the phase with its per-task results, whatever `revealed_phases` says.

    `pictures` (e.g. the post-reveal analysis' PNGs) are published with the phase's web page
    and stay linked from it afterwards. `extra_files` (the analysis' report and data,
    `worker.leaderboard.analysis_repository_files`) join the same commit at new paths; only a
    reveal takes them, so nothing per-task leaves with an unrevealed board.

    Raises PhaseStillScoring while submissions of the phase are received or running, unless
    `force`. A frozen phase stays frozen: take it out of `frozen_phases` to reveal it. Add the
    phase to `revealed_phases` too; later publications keep it revealed either way.
    """
    waiting = [s for s in store.list_submissions(phase=phase) if s.status in (RECEIVED, RUNNING)]
    if waiting and not force:
        shown = ", ".join(f"{s.source} {s.pk} ({s.status})" for s in waiting[:10])
        raise PhaseStillScoring(
            f"phase {phase!r} still has {len(waiting)} submission(s) waiting or being scored "
            f"({shown}); reveal once they are done, or force it"
        )
    return _publish(store, phase, settings, publisher, explanation, True, template_dir, pictures,
                    extra_files or {})  # fmt: skip


def show_phase(
    store: ScoreReader, phase: str, settings: Settings, *, revealed: bool | None = None
) -> str:
    """The phase's Markdown table and notes, for the terminal; nothing is published."""
    board, notes = build_phase_board(store, phase, settings, revealed=revealed)
    table = board_table(board) if board.rows else "No scored submissions yet."
    return "\n".join([table, *(f"note: {n}" for n in notes)])


def _publish(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    explanation: str | None,
    revealed: bool | None,
    template_dir: Path,
    pictures: Sequence[SitePicture] = (),
    extra_files: Mapping[str, bytes] | None = None,
) -> PublishResult:
    if phase in settings.leaderboard.frozen_phases:
        # Skip the rendering too: the worker publishes after every finished submission.
        log.info("leaderboard %s: frozen, not republished", phase)
        return PublishResult("frozen", reason=f"phase {phase!r} is frozen")
    readme = _published_readme(publisher, settings.title, template_dir)
    if revealed is None:
        revealed = phase in settings.leaderboard.revealed_phases or published_revealed(
            publisher, phase
        )
    board, notes = build_phase_board(store, phase, settings, revealed=revealed)
    try:
        readme_with_board(readme, board)
    except ValueError as exc:
        raise PublishPermanentError(f"README.md on the leaderboard branch: {exc}") from None
    files = board_files(board, readme)
    files |= site_files(  # the web page under docs/, from the same board
        board,
        challenge_title=settings.title,
        data={"json": files[json_path(phase)], "csv": files[csv_path(phase)]},
        published=published_phases(publisher.read(PHASES_PATH)),
        pictures=pictures,
    )
    if extra_files:
        clash = sorted(set(files) & set(extra_files))
        if clash or not board.revealed:
            raise ValueError(f"extra files need a revealed board and new paths (clash: {clash})")
        files |= extra_files
    if phase in settings.leaderboard.id_list_phases and phase in settings.phases:
        files[id_list_path(phase)] = id_list_text(phase_ids(settings.phases[phase]))
    result = publish_board(
        publisher,
        files,
        commit_message(board),
        phase=phase,
        explanation=explanation,
        departures=phase_departures(store, phase),
    )
    log.info(
        "leaderboard %s: %s, %d entries%s, %s%s",
        phase, result.status, len(board.rows), " (revealed)" if board.revealed else "",
        result.sha or result.reason, "".join(f"; {n}" for n in (*result.notes, *notes)),
    )  # fmt: skip
    return result


def _published_readme(publisher: Publisher, title: str, template_dir: Path) -> str:
    data = publisher.read("README.md")
    if data is None:
        return readme_from_template(template_readme(template_dir), title)
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise PublishPermanentError(f"README.md on the leaderboard branch: {exc}") from None


def published_revealed(publisher: Publisher, phase: str) -> bool:
    """Whether the published board of the phase is already revealed."""
    data = publisher.read(json_path(phase))
    try:
        return data is not None and json.loads(data).get("revealed") is True
    except (ValueError, AttributeError):
        return False  # publish_board reports a broken board file


def phase_ids(phase: PhaseSettings) -> set[str]:
    """The ids a phase's submissions must embed (its tasks' ids); reads its label files."""
    tasks = select_tasks(load_tasks(phase.annotations), phase.probe.task_filter)
    return set().union(*(set(t.ids) for t in tasks))
