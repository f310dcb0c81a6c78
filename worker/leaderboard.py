"""The public leaderboard: board values, README / JSON / CSV / PNG rendering. Pure (no I/O).

A `Board` is one phase's leaderboard: rows in board order (best first), the per-task detail
(used only once the phase is `revealed`) and the rank history for the rank-evolution plot.
`board_files(board, readme)` renders everything a leaderboard repository holds for that phase:

    README.md                         the phase's section between its markers (others untouched)
    leaderboard/<phase>.json, .csv    machine-readable board (deterministic bytes)
    plots/<phase>_rank_evolution.png  rank of every entry after each finished submission
    plots/<phase>_task_q.png          per-task Q heatmap with task weights (revealed phases only)

Choices:
- Places. Organiser baselines take part in the per-task ranks and (unless excluded) the task
  weights, but get no competing place: a place is 1 + the number of *competing* entries with a
  strictly better weighted score (`scoring.bootstrap.places`). A baseline's place is shown in
  parentheses and means "where it would stand among the competitors"; competitors' places have
  no gaps because of baselines.
- LEAK RULE: before a phase is revealed nothing per-task is rendered: no task names, per-task Q,
  per-task ranks or weights, in any file or commit message. Only ranks, mean Q and the weighted
  score (aggregates shown on EvalAI or needed to read the board) leave the worker.
- Names are untrusted. Markdown cells get `markdown_cell`: control, line-break and bidi
  control characters removed (GitHub flags files with hidden bidi characters, so we strip rather
  than wrap in isolates; each table cell is its own bidi paragraph once rendered), whitespace
  collapsed, truncated to 60 characters + "…", every ASCII punctuation character backslash-escaped
  (CommonMark guarantees this renders literally; it defeats links, emphasis, `|` cell breaks,
  `$` math, and `:`/`www.` autolinks), a word joiner after `@` (e-mail autolinks), and `&`, `<`,
  `>` written as entities. Emoji are kept.
  JSON and CSV carry `plain_name` (same cleaning, no truncation); CSV cells that a spreadsheet
  would run as a formula get a leading `'`.
- Determinism: re-rendering an unchanged board gives identical bytes (sorted JSON keys, fixed
  float formatting, PNGs without a Software/date chunk), so the publisher can skip the commit.
  Pass `updated_at` = the time of the last finished submission, not "now".
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import re
import string
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from scoring.bootstrap import RankIntervals, places
from scoring.ranking import Leaderboard, rank_entries

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME_LIMIT = 60
PHASE_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TITLE_PLACEHOLDER = "{{CHALLENGE_TITLE}}"
BEGIN, END = "<!-- LEADERBOARD:BEGIN -->", "<!-- LEADERBOARD:END -->"
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EMOJI_FORMAT = frozenset(["\u200d", *map(chr, range(0xE0020, 0xE0080))])  # ZWJ, tag sequences
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_PUNCT = frozenset(string.punctuation)
_COLUMNS = (
    ("Rank", "---:"),
    ("Team", ":---"),
    ("Weighted rank", "---:"),
    ("Mean Q", "---:"),
    ("90 % rank interval", ":---:"),
    ("Submissions", "---:"),
    ("Last submission (UTC)", ":---"),
)


@dataclass(frozen=True)
class EntryInfo:
    """What the database knows about a board entry besides its scores."""

    method: str
    submissions: int
    last_submission: datetime  # aware
    baseline: bool = False


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


# ---- building boards -------------------------------------------------------------------------


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


# ---- names -----------------------------------------------------------------------------------


def plain_name(text: str) -> str:
    """Name without control, line-break or bidi control characters, whitespace collapsed."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in _BIDI or category == "Cs" or (category == "Cf" and ch not in _EMOJI_FORMAT):
            continue
        kept.append(" " if category in ("Cc", "Zl", "Zp") else ch)
    return " ".join("".join(kept).split())


def shortened(text: str, limit: int = NAME_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def markdown_cell(text: str, limit: int = NAME_LIMIT) -> str:
    """An untrusted name as inert inline Markdown: one line, no links, HTML or cell breaks."""
    out = []
    for ch in shortened(plain_name(text), limit):
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch == "@":
            # GFM's e-mail autolinker runs after escapes are resolved; only an invisible word
            # joiner after the `@` stops it (checked with cmark-gfm).
            out.append("\\@\u2060")
        elif ch in _PUNCT:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out) or "\\-"


def plot_label(text: str, limit: int = 30) -> str:
    """A name for a matplotlib label: plain, short, `$` escaped so mathtext never parses it.

    Characters the bundled font cannot draw (emoji, their joiners) are dropped instead of
    showing as boxes that can swallow neighbouring letters.
    """
    drawable = "".join(
        ch
        for ch in plain_name(text)
        if ord(ch) in _font_charmap() and not "\ufe00" <= ch <= "\ufe0f"
    )
    return shortened(" ".join(drawable.split()), limit).replace("$", r"\$") or "?"


@functools.cache
def _font_charmap() -> frozenset[int]:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    return frozenset(FT2Font(path).get_charmap())


# ---- Markdown --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _place(row: BoardRow) -> str:
    return f"({row.place})" if row.baseline else str(row.place)


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
            _place(r),
            markdown_cell(r.team) + (" *(baseline)*" if r.baseline else ""),
            _fmt(r.weighted_score, 3),
            _fmt(r.mean_q, 2),
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
        [[name, _fmt(board.weights.get(t), 3)] for name, t in zip(tasks, board.tasks, strict=True)],
    )
    per_task = _table(
        ["Rank", "Team", *tasks],
        ["---:", ":---", *["---:"] * len(tasks)],
        [
            [_place(r), markdown_cell(r.team) + (" *(baseline)*" if r.baseline else "")]
            + [f"{_fmt(r.task_q.get(t), 2)} ({r.task_ranks.get(t, '–')})" for t in board.tasks]
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


# ---- plots (matplotlib's object API with the Agg canvas: no pyplot state, no backend switch) ---


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Emoji and scripts missing from the bundled font draw as boxes; not worth a warning.
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def rank_evolution_png(board: Board) -> bytes:
    """Rank of every entry after each finished submission (paper Fig. 7); ranks only."""
    fig = _figure(9.0, 5.0)
    ax = fig.add_subplot()
    ax.set_title(f"{plot_label(board.title, 60)}: rank after each finished submission", fontsize=13)
    history = board.history
    if not history:
        ax.text(0.5, 0.5, "No finished submissions yet", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
        return _png(fig)
    current = {r.team: r for r in board.rows}
    teams = sorted(
        {t for snap in history for t in snap.places},
        key=lambda t: (current[t].place if t in current else 10**6, t),
    )
    baselines = {r.team for r in board.rows if r.baseline}
    colours = _colours([t in baselines for t in teams])
    order = np.arange(1, len(history) + 1)
    handles, labels = [], []
    for team, colour in zip(teams, colours, strict=True):
        ys = np.array([snap.places.get(team, np.nan) for snap in history], dtype=float)
        if team in baselines:
            ys -= 0.5  # a baseline's place p means "between competitors p-1 and p"
        own = np.array([snap.team == team for snap in history])
        (line,) = ax.plot(
            order, ys, drawstyle="steps-post", color=colour, linewidth=2,
            linestyle="--" if team in baselines else "-",
        )  # fmt: skip
        ax.plot(order[own], ys[own], "o", color=colour, markersize=5)
        handles.append(line)
        labels.append(plot_label(team) + (" (baseline)" if team in baselines else ""))
    top = int(np.ceil(np.nanmax([line.get_ydata() for line in handles])))
    ax.set_ylim(top + 0.5, 0.5)  # inverted: rank 1 on top
    ax.set_yticks(range(1, top + 1))
    ax.set_xlim(0.5, len(history) + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    first, last = history[0].at.strftime("%Y-%m-%d"), history[-1].at.strftime("%Y-%m-%d")
    ax.set_xlabel(f"Finished submissions in order ({first} to {last}, UTC)", fontsize=11)
    ax.set_ylabel("Rank (1 = best)", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    title = "Current order"
    if baselines:
        title += "\n(dashed: baselines, drawn between\nthe teams they separate)"
    ax.legend(
        handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
        frameon=False, ncols=1 if len(teams) <= 18 else 2, title=title, title_fontsize=9,
    )  # fmt: skip
    return _png(fig)


def _colours(baseline: Sequence[bool]) -> list[tuple[float, float, float, float]]:
    """Distinct colours for competitors, greys for baselines."""
    from matplotlib import colormaps

    n = len(baseline) - sum(baseline)
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    colours, i, g = [], 0, 0
    for is_baseline in baseline:
        if is_baseline:
            colours.append(colormaps["Greys"](0.75 - 0.2 * (g % 3)))
            g += 1
        else:
            colours.append(cmap(i % cmap.N))
            i += 1
    return colours


def task_heatmap_png(board: Board) -> bytes:
    """Per-task Q of every entry with the task weights on top (paper Fig. 3). Revealed only."""
    if not board.revealed:
        raise ValueError(f"phase {board.phase!r} is not revealed: per-task plots must not leave")
    tasks, rows = board.tasks, board.rows
    q = np.array([[r.task_q.get(t, np.nan) for t in tasks] for r in rows], dtype=float)
    q = q.reshape(len(rows), len(tasks))
    fig = _figure(1.6 + 1.1 * max(len(tasks), 3), 2.6 + 0.42 * max(len(rows), 2))
    grid = fig.add_gridspec(2, 2, height_ratios=(1, max(len(rows), 2) / 3), width_ratios=(30, 1))
    top, ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])
    bar = fig.add_subplot(grid[1, 1])
    fig.add_subplot(grid[0, 1]).set_axis_off()
    weights = [board.weights.get(t, np.nan) for t in tasks]
    top.bar(np.arange(len(tasks)), weights, color="#4C72B0")
    top.set_xlim(-0.5, len(tasks) - 0.5)
    top.set_ylim(0, 1.25 * max([w for w in weights if np.isfinite(w)], default=1.0))
    top.set_xticks([])
    top.set_ylabel("Weight", fontsize=10)
    top.set_title(f"{plot_label(board.title, 60)}: per-task Q and task weights", fontsize=13)
    for j, w in enumerate(weights):
        top.text(j, w, f"{w:.3f}", ha="center", va="bottom", fontsize=8)
    image = ax.imshow(q, aspect="auto", cmap="viridis")
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            red, green, blue, _ = image.cmap(image.norm(q[i, j]))
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
            colour = "black" if np.isfinite(q[i, j]) and light else "white"
            ax.text(j, i, _fmt(q[i, j], 1), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(np.arange(len(tasks)), [plot_label(t, 24) for t in tasks])
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_yticks(
        np.arange(len(rows)),
        [f"{_place(r)} {plot_label(r.team)}" + (" (baseline)" if r.baseline else "") for r in rows],
    )
    ax.tick_params(labelsize=9)
    fig.colorbar(image, cax=bar).set_label("Q", fontsize=10)
    return _png(fig)


# ---- everything for one phase ------------------------------------------------------------------


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
