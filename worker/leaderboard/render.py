"""The public leaderboard: README / JSON / CSV rendering and every file of a phase. Pure.

The entry point: callers import the leaderboard API from here. A `Board` is one phase's
leaderboard: rows in board order (best first), the per-task detail (used only once the phase is
`revealed`) and the rank history for the rank-evolution plot. `board_files(board, readme)`
renders everything a leaderboard repository holds for that phase:

    README.md                         the phase's section between its markers (others untouched)
    leaderboard/<phase>.json, .csv    machine-readable board (deterministic bytes)
    plots/<phase>_rank_evolution.png  rank of every entry after each finished submission
    plots/<phase>_task_q.png          per-task Q heatmap with task weights (revealed phases only)

The rest of the API is re-exported from (each module imports only the ones above it):
    worker.leaderboard.text    untrusted names, places and numbers as text (escaping rules)
    worker.leaderboard.values  Board and its parts; board_from_leaderboard, rank_history (places)
    worker.leaderboard.plots   the two PNGs

Choices:
- Places. Baselines get no competing place; a baseline's place is shown in parentheses and
  means "where it would stand among the competitors" (see `worker.leaderboard.values`).
- LEAK RULE: before a phase is revealed nothing per-task is rendered: no task names, per-task Q,
  per-task ranks or weights, in any file or commit message. Only ranks, mean Q and the weighted
  score (aggregates shown on EvalAI or needed to read the board) leave the worker.
- Names are untrusted: Markdown cells get `markdown_cell`, JSON and CSV `plain_name`, plots
  `plot_label` (rules in `worker.leaderboard.text`). CSV cells that a spreadsheet would run as a
  formula get a leading `'`.
- Determinism: re-rendering an unchanged board gives identical bytes (sorted JSON keys, fixed
  float formatting, PNGs without a Software/date chunk), so the publisher can skip the commit.
  Pass `updated_at` = the time of the last finished submission, not "now".
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from worker.leaderboard.plots import plot_label, rank_evolution_png, task_heatmap_png
from worker.leaderboard.text import (
    NAME_LIMIT,
    markdown_cell,
    number_text,
    place_text,
    plain_name,
    shortened,
)
from worker.leaderboard.values import (
    PHASE_SLUG,
    Board,
    BoardRow,
    EntryInfo,
    FinishedSubmission,
    RankSnapshot,
    board_from_leaderboard,
    rank_history,
    utc,
)

__all__ = [
    "BEGIN",
    "END",
    "NAME_LIMIT",
    "PHASE_SLUG",
    "TITLE_PLACEHOLDER",
    "Board",
    "BoardRow",
    "EntryInfo",
    "FinishedSubmission",
    "RankSnapshot",
    "board_csv",
    "board_files",
    "board_from_leaderboard",
    "board_json",
    "board_table",
    "commit_message",
    "id_list_path",
    "id_list_text",
    "csv_path",
    "entry_policy",
    "json_path",
    "markdown_cell",
    "phase_markers",
    "phase_section",
    "plain_name",
    "plot_label",
    "rank_evolution_png",
    "rank_history",
    "rank_plot_path",
    "readme_from_template",
    "readme_with_board",
    "shortened",
    "task_heatmap_path",
    "task_heatmap_png",
    "utc",
]

TITLE_PLACEHOLDER = "{{CHALLENGE_TITLE}}"
BEGIN, END = "<!-- LEADERBOARD:BEGIN -->", "<!-- LEADERBOARD:END -->"
_COLUMNS = (
    ("Rank", "---:"),
    ("Team", ":---"),
    ("Weighted rank", "---:"),
    ("Mean Q", "---:"),
    ("90 % rank interval", ":---:"),
    ("Submissions", "---:"),
    ("Last submission (UTC)", ":---"),
)


# ---- Markdown --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _interval(row: BoardRow) -> str:
    if row.interval is None:
        return "–"
    low, high = row.interval
    text = str(low) if low == high else f"{low}–{high}"
    return f"({text})" if row.baseline else text


def _table(header: Sequence[str], align: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def entry_policy(board: Board) -> str:
    weights = (
        "take part in the task weights"
        if board.baselines_in_weights
        else "are ranked but do not enter the task weights"
    )
    counts = "best (highest mean Q)" if board.policy == "best" else "latest"
    return (
        f"Each team's {counts} public submission counts; organiser baselines are shown for "
        "reference with their would-be rank in parentheses, take no competing place, "
        f"and {weights}."
    )


def board_table(board: Board) -> str:
    """The phase's main table (Markdown); never contains per-task information."""
    rows = [
        [
            place_text(r.place, r.baseline),
            markdown_cell(r.team) + (" *(baseline)*" if r.baseline else ""),
            number_text(r.weighted_score, 3),
            number_text(r.mean_q, 2),
            _interval(r),
            str(r.submissions),
            utc(r.last_submission).strftime("%Y-%m-%d %H:%M"),
        ]
        for r in board.rows
    ]
    return _table([c for c, _ in _COLUMNS], [a for _, a in _COLUMNS], rows)


def _revealed_tables(board: Board) -> str:
    tasks = [markdown_cell(t, 40) for t in board.tasks]
    weights = _table(
        ["Task", "Weight"],
        [":---", "---:"],
        [
            [name, number_text(board.weights.get(t), 3)]
            for name, t in zip(tasks, board.tasks, strict=True)
        ],
    )
    per_task = _table(
        ["Rank", "Team", *tasks],
        ["---:", ":---", *["---:"] * len(tasks)],
        [
            [
                place_text(r.place, r.baseline),
                markdown_cell(r.team) + (" *(baseline)*" if r.baseline else ""),
            ]
            + [
                f"{number_text(r.task_q.get(t), 2)} ({r.task_ranks.get(t, '–')})"
                for t in board.tasks
            ]
            for r in board.rows
        ],
    )
    return (
        "### Hidden tasks (revealed)\n\n"
        "Task weights: the spread (sample std) of Q across the board's entries, normalised.\n\n"
        f"{weights}\n\nPer-task Q (rank on that task):\n\n{per_task}\n\n"
        f"![Per-task Q and task weights]({task_heatmap_path(board.phase)})"
    )


def phase_section(board: Board) -> str:
    """The README section of one phase, including its begin/end markers."""
    begin, end = phase_markers(board.phase)
    if board.n_resamples:
        level = round(board.interval_level * 100)
        note = (
            f"The {level} % rank interval comes from {board.n_resamples} bootstrap resamples of "
            "the per-split scores: overlapping intervals mean the order is not settled."
        )
    else:
        note = "Rank intervals are not available for this phase yet."
    body = board_table(board) if board.rows else "_No scored submissions yet._"
    phase, updated = board.phase, utc(board.updated_at).strftime("%Y-%m-%dT%H:%M:%S")
    parts = [
        begin,
        f"## {markdown_cell(board.title, 80)}",
        f"_Updated {updated} UTC._ {entry_policy(board)}",
        body,
        f"{note} Machine-readable: [JSON]({json_path(phase)}) · [CSV]({csv_path(phase)}).",
        f"![Rank evolution]({rank_plot_path(board.phase)})",
    ]
    if board.revealed:
        parts.append(_revealed_tables(board))
    parts.append(end)
    return "\n\n".join(parts)


def phase_markers(phase: str) -> tuple[str, str]:
    return f"<!-- LEADERBOARD:PHASE:{phase}:BEGIN -->", f"<!-- LEADERBOARD:PHASE:{phase}:END -->"


def readme_with_board(readme: str, board: Board) -> str:
    """Replace (or append inside the global markers) the phase's section; idempotent."""
    once = readme.count(BEGIN) == readme.count(END) == 1
    if not (once and readme.index(BEGIN) < readme.index(END)):
        raise ValueError(f"README must contain {BEGIN} once followed by {END} once")
    section = phase_section(board)
    begin, end = phase_markers(board.phase)
    if begin in readme and end in readme and readme.index(begin) < readme.index(end):
        start, stop = readme.index(begin), readme.index(end) + len(end)
        return readme[:start] + section + readme[stop:]
    cut = readme.index(END)
    return readme[:cut].rstrip("\n") + "\n\n" + section + "\n\n" + readme[cut:]


def readme_from_template(template: str, challenge_title: str) -> str:
    """A new leaderboard repository's README: the template with its title placeholder filled."""
    return template.replace(TITLE_PLACEHOLDER, markdown_cell(challenge_title, 80))


def commit_message(board: Board) -> str:
    """Commit message for a board update: no names, nothing per-task."""
    return f"Leaderboard {board.phase}: {len(board.rows)} entries, updated {_iso(board.updated_at)}"


# ---- JSON / CSV ------------------------------------------------------------------------------


def json_path(phase: str) -> str:
    return f"leaderboard/{phase}.json"


def csv_path(phase: str) -> str:
    return f"leaderboard/{phase}.csv"


def rank_plot_path(phase: str) -> str:
    return f"plots/{phase}_rank_evolution.png"


def task_heatmap_path(phase: str) -> str:
    return f"plots/{phase}_task_q.png"


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def board_json(board: Board) -> bytes:
    entries = []
    for r in board.rows:
        entry: dict[str, object] = {
            "rank": r.place,
            "team": plain_name(r.team),
            "method": plain_name(r.method),
            "mean_q": _num(r.mean_q),
            "weighted_score": _num(r.weighted_score),
            "rank_interval": list(r.interval) if r.interval else None,
            "p_first": _num(r.p_first),
            "submissions": r.submissions,
            "last_submission": _iso(r.last_submission),
            "baseline": r.baseline,
        }
        if r.entry_id:  # how the next publication recognises the entry, even renamed
            entry["entry_id"] = r.entry_id
        if board.revealed:
            entry["task_q"] = {t: _num(r.task_q.get(t)) for t in board.tasks}
            entry["task_ranks"] = {t: r.task_ranks.get(t) for t in board.tasks}
        entries.append(entry)
    doc: dict[str, object] = {
        "schema_version": 1,
        "phase": board.phase,
        "title": plain_name(board.title),
        "updated": _iso(board.updated_at),
        "revealed": board.revealed,
        "entry_policy": entry_policy(board),
        "rank_interval_level": board.interval_level,
        "n_resamples": board.n_resamples,
        "entries": entries,
    }
    if board.revealed:
        doc["tasks"] = list(board.tasks)
        doc["weights"] = {t: _num(board.weights.get(t)) for t in board.tasks}
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _csv_text(text: str) -> str:
    clean = plain_name(text)
    return "'" + clean if clean[:1] in ("=", "+", "-", "@") else clean


def _csv_num(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6f}"


def board_csv(board: Board) -> bytes:
    header = [
        "rank", "team", "method", "mean_q", "weighted_score", "rank_interval_low",
        "rank_interval_high", "p_first", "submissions", "last_submission_utc", "baseline",
    ]  # fmt: skip
    tasks = list(board.tasks) if board.revealed else []
    header += [f"q::{t}" for t in tasks] + [f"rank::{t}" for t in tasks]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in board.rows:
        low, high = r.interval if r.interval else ("", "")
        writer.writerow(
            [r.place, _csv_text(r.team), _csv_text(r.method), _csv_num(r.mean_q),
             _csv_num(r.weighted_score), low, high, _csv_num(r.p_first), r.submissions,
             _iso(r.last_submission), str(r.baseline).lower()]
            + [_csv_num(r.task_q.get(t)) for t in tasks]
            + [r.task_ranks.get(t, "") for t in tasks]
        )  # fmt: skip
    return buf.getvalue().encode()


# ---- everything for one phase ------------------------------------------------------------------


def id_list_path(phase: str) -> str:
    return f"ids/{phase}.txt"


def id_list_text(ids: Iterable[str]) -> bytes:
    """The ids a phase's submissions need, sorted, one a line (for `python -m scoring check
    --ids`): published next to the board when the organisers opt in (`id_list_phases`)."""
    return "".join(f"{i}\n" for i in sorted(set(ids))).encode()


def board_files(board: Board, readme: str) -> dict[str, bytes]:
    """All files of the phase, README included (`readme`: the current one or the template)."""
    files = {
        "README.md": readme_with_board(readme, board).encode(),
        json_path(board.phase): board_json(board),
        csv_path(board.phase): board_csv(board),
        rank_plot_path(board.phase): rank_evolution_png(board),
    }
    if board.revealed:
        files[task_heatmap_path(board.phase)] = task_heatmap_png(board)
    return files
