"""The public leaderboard (a room of the worker): the board of a phase built from the store, its
files (README section, JSON, CSV, plots, the static site under docs/) and their publication to a
git remote or GitHub.

Public names (import them from `worker.leaderboard`; its modules are private to the package):
    build_phase_board, publish_phase, reveal_phase, show_phase    from the store to the remote
    phase_analysis, analysis_repository_files, phase_is_revealed, PhaseNotRevealed
                                                                  after the reveal (analysis)
    make_publisher, create_leaderboard_remote, template_files, SEED_MESSAGE, PhaseStillScoring
    Board, BoardRow, EntryInfo, RankSnapshot, FinishedSubmission  values (frozen dataclasses)
    board_from_leaderboard, rank_history                          building values (pure)
    board_files, board_table, board_json, board_csv, readme_with_board, readme_from_template,
    phase_markers, commit_message, markdown_cell, BEGIN, END      rendering (pure)
    rank_evolution_png, task_heatmap_png                          plots (pure)
    site_files, site_assets, SitePicture, SitePhase, published_phases, PHASES_PATH,
    analysis_pictures (the analysis' PNGs for the site),
    entry_policy, plain_name, shortened                           the site (pure), name text
    Publisher, PublishResult, publish_board, GitPublisher, GitHubPublisher   publishing
    Departure, PublishedEntry, BoardChange, board_change          the refuse-to-shrink rule (pure)
    private_departures                                            entries made private (pure)
    PublishError, PublishTransientError, PublishPermanentError    its errors (`worker.errors` tree)

Modules: board (a phase's board from the store), publishing (publish, reveal or show a phase),
analysis (rank stability and capability map of a revealed phase: `scoring.analysis` over the
store), remote (the configured publisher; a new repository from the template), values, render,
text, plots, site (the web pages: site_pages, site_charts, site_assets/ with the stylesheet and
script), publish (the port, its errors and safety rules), git (GitPublisher), git_plumbing (its
bare repository and remote), github (GitHubPublisher). Of the other rooms it reads only the store.
"""

from worker.leaderboard.analysis import (
    PhaseNotRevealed,
    analysis_repository_files,
    phase_analysis,
    phase_is_revealed,
)
from worker.leaderboard.board import build_phase_board, private_departures
from worker.leaderboard.git import GitPublisher
from worker.leaderboard.github import GitHubPublisher
from worker.leaderboard.plots import rank_evolution_png, task_heatmap_png
from worker.leaderboard.publish import (
    BoardChange,
    Departure,
    PublishedEntry,
    Publisher,
    PublishError,
    PublishPermanentError,
    PublishResult,
    PublishTransientError,
    board_change,
    publish_board,
)
from worker.leaderboard.publishing import PhaseStillScoring, publish_phase, reveal_phase, show_phase
from worker.leaderboard.remote import (
    SEED_MESSAGE,
    create_leaderboard_remote,
    make_publisher,
    template_files,
)
from worker.leaderboard.render import (
    BEGIN,
    END,
    board_csv,
    board_files,
    board_json,
    board_table,
    commit_message,
    entry_policy,
    phase_markers,
    readme_from_template,
    readme_with_board,
)
from worker.leaderboard.site import (
    PHASES_PATH,
    SitePhase,
    SitePicture,
    analysis_pictures,
    published_phases,
    site_assets,
    site_files,
)
from worker.leaderboard.text import markdown_cell, plain_name, shortened
from worker.leaderboard.values import (
    Board,
    BoardRow,
    EntryInfo,
    FinishedSubmission,
    RankSnapshot,
    board_from_leaderboard,
    rank_history,
)

__all__ = [
    "BEGIN",
    "PHASES_PATH",
    "SitePhase",
    "SitePicture",
    "END",
    "analysis_pictures",
    "SEED_MESSAGE",
    "PhaseNotRevealed",
    "analysis_repository_files",
    "phase_analysis",
    "phase_is_revealed",
    "Board",
    "BoardChange",
    "BoardRow",
    "Departure",
    "PublishedEntry",
    "board_change",
    "private_departures",
    "EntryInfo",
    "FinishedSubmission",
    "GitHubPublisher",
    "GitPublisher",
    "PhaseStillScoring",
    "PublishError",
    "PublishPermanentError",
    "PublishResult",
    "PublishTransientError",
    "Publisher",
    "RankSnapshot",
    "board_csv",
    "board_files",
    "board_from_leaderboard",
    "board_json",
    "board_table",
    "build_phase_board",
    "commit_message",
    "entry_policy",
    "create_leaderboard_remote",
    "make_publisher",
    "markdown_cell",
    "phase_markers",
    "plain_name",
    "published_phases",
    "publish_board",
    "publish_phase",
    "rank_evolution_png",
    "rank_history",
    "readme_from_template",
    "readme_with_board",
    "reveal_phase",
    "shortened",
    "show_phase",
    "site_assets",
    "site_files",
    "task_heatmap_png",
    "template_files",
]
