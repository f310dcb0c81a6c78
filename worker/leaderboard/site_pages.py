"""The leaderboard site's HTML pages: a phase page and the index of phases. Pure: returns text.

A phase page works without JavaScript (a plain table in board order, the charts as inline SVG);
`site.js` adds sorting and filtering on top. Table semantics: a caption, `th scope="col"` column
headings (the script turns them into sort buttons and keeps `aria-sort` current), the team as the
row heading. Every element that belongs to one entry carries `data-entry` = its board row, which
is what the filter hides or dims.

LEAK RULE (as in `worker.leaderboard.render`): before the reveal a page holds no task name,
per-task Q, per-task rank or weight; `revealed_section` is only called for a revealed board.
Untrusted names pass through `name_html`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from worker.leaderboard.site_charts import (
    Series,
    entry_colours,
    heat_colours,
    interval_bar,
    name_html,
    rank_chart_svg,
    rank_series,
    sparkline_svg,
)
from worker.leaderboard.text import number_text, place_text, plain_name
from worker.leaderboard.values import Board, BoardRow, utc

NAME_SHOWN = 60


@dataclass(frozen=True)
class SitePicture:
    """A picture published with a revealed phase (e.g. the analysis' capability map)."""

    file_name: str  # within the phase folder, e.g. "capability_map.png"
    title: str  # alt text and caption
    data: bytes


@dataclass(frozen=True)
class SitePhase:
    """One phase as the index page lists it."""

    phase: str
    title: str
    entries: int
    updated: str  # ISO 8601, UTC
    revealed: bool
    pictures: tuple[tuple[str, str], ...] = ()  # (file name, title) in the phase folder


def _when(moment: datetime) -> str:
    at = utc(moment)
    return (
        f'<time datetime="{at.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
        f"{at.strftime('%Y-%m-%d %H:%M')}</time>"
    )


def _document(title: str, body: str, root: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<link rel="stylesheet" href="{root}assets/site.css">\n'
        f'<script src="{root}assets/site.js" defer></script>\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _team_cell(row: BoardRow, index: int) -> str:
    full = plain_name(row.team)
    shown = name_html(row.team, NAME_SHOWN)
    title = f' title="{html.escape(full, quote=True)}"' if len(full) > NAME_SHOWN else ""
    tag = ' <span class="tag">baseline</span>' if row.baseline else ""
    method = f'<span class="method"><bdi>{name_html(row.method, NAME_SHOWN)}</bdi></span>'
    return (
        f'<th scope="row" data-value="{html.escape(full.casefold(), quote=True)}">'
        f'<a href="#team-{index}"{title}><bdi>{shown}</bdi></a>{tag}{method}</th>'
    )


def _interval_cell(row: BoardRow, scale: int) -> str:
    if row.interval is None:
        return '<td class="interval" data-value="">–</td>'
    low, high = row.interval
    text = str(low) if low == high else f"{low}–{high}"
    if row.baseline:
        text = f"({text})"
    bar = interval_bar(low, high, row.place, scale)
    return (
        f'<td class="interval" data-value="{low * 10000 + high}">'
        f'{bar}<span class="interval-text">{text}</span></td>'
    )


def _num_cell(value: float | None, digits: int) -> str:
    text = number_text(value, digits)
    data = "" if text == "–" else f"{value:.6f}"
    return f'<td class="num" data-value="{data}">{text}</td>'


def board_table(board: Board) -> str:
    """The phase's main table, rows in board order; nothing per-task."""
    scale = max([r.place for r in board.rows] + [r.interval[1] for r in board.rows if r.interval])
    level = round(board.interval_level * 100)
    head = (
        '<th scope="col" class="num" data-sort="number" aria-sort="ascending">Rank</th>'
        '<th scope="col" data-sort="text">Team</th>'
        '<th scope="col" class="num" data-sort="number">Weighted rank</th>'
        '<th scope="col" class="num" data-sort="number" data-first="descending">Mean Q</th>'
        f'<th scope="col" data-sort="number">{level}&#8239;% rank interval</th>'
        '<th scope="col" class="num" data-sort="number" data-first="descending">Submissions</th>'
        '<th scope="col" data-sort="text" data-first="descending">Last submission (UTC)</th>'
    )
    rows = []
    for i, row in enumerate(board.rows):
        search = html.escape(f"{plain_name(row.team)} {plain_name(row.method)}", quote=True)
        last = utc(row.last_submission)
        kind = ' class="baseline"' if row.baseline else ""
        rows.append(
            f'<tr data-entry="{i}" data-search="{search}"{kind}>'
            f'<td class="num" data-value="{i}">{place_text(row.place, row.baseline)}</td>'
            + _team_cell(row, i)
            + _num_cell(row.weighted_score, 3)
            + _num_cell(row.mean_q, 2)
            + _interval_cell(row, scale)
            + f'<td class="num" data-value="{row.submissions}">{row.submissions}</td>'
            + f'<td data-value="{last.strftime("%Y-%m-%dT%H:%M:%SZ")}">{_when(last)}</td></tr>'
        )
    return (
        '<div class="table-wrap" role="region" aria-labelledby="board-caption" tabindex="0">\n'
        '<table class="board" data-sortable>\n'
        f'<caption id="board-caption">{name_html(board.title, 80)}, best first</caption>\n'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</div>"
    )


def _controls(n: int) -> str:
    return (
        '<div class="controls" data-controls hidden>\n'
        '<label for="filter">Filter by team or method</label>\n'
        '<input id="filter" type="search" autocomplete="off" spellcheck="false">\n'
        f'<p id="filter-status" role="status">Showing {n} of {n} entries</p>\n'
        '<p id="sort-status" class="visually-hidden" role="status"></p>\n</div>'
    )


def _legend(series: Sequence[Series]) -> str:
    items = [
        f'<li data-entry="{s.index}"><span class="swatch{" dashed" if s.baseline else ""}" '
        f'style="--c:{s.colour}"></span><span><a href="#team-{s.index}"><bdi>'
        f"{name_html(s.team, 40)}</bdi></a>{' (baseline)' if s.baseline else ''}</span></li>"
        for s in series
    ]
    return '<ol class="legend" aria-label="Entries, in board order">' + "".join(items) + "</ol>"


def _history_item(board: Board, row: BoardRow, series: Series) -> str:
    own = [board.history[n - 1] for n in series.own]
    steps = "".join(
        f"<li>{_when(snap.at)} UTC: rank "
        f"{place_text(snap.places[row.team], row.baseline)} after this submission</li>"
        for snap in own
    )
    count = f"{row.submissions} submission{'s' if row.submissions != 1 else ''}"
    return (
        f'<li id="team-{series.index}" data-entry="{series.index}"><details><summary>'
        f'<span class="swatch" style="--c:{series.colour}"></span>'
        f"<bdi>{name_html(row.team, NAME_SHOWN)}</bdi>: rank "
        f"{place_text(row.place, row.baseline)} now, {count}</summary>\n"
        f"{sparkline_svg(board, series)}\n"
        f'<ol class="steps">{steps or "<li>No finished submission in the history.</li>"}</ol>'
        "</details></li>"
    )


def revealed_section(board: Board, pictures: Sequence[tuple[str, str]]) -> str:
    """Per-task Q heatmap with the task weights, and the analysis pictures ((file name, title)
    in the phase folder). Revealed only."""
    if not board.revealed:
        raise ValueError(f"phase {board.phase!r} is not revealed: per-task results must not leave")
    values = [q for r in board.rows for q in r.task_q.values() if q == q]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    heads = "".join(
        f'<th scope="col"><bdi>{name_html(t, 40).replace("_", "_<wbr>")}</bdi></th>'
        for t in board.tasks
    )
    weights = "".join(
        f'<td class="num">{number_text(board.weights.get(t), 3)}</td>' for t in board.tasks
    )
    rows = []
    for i, row in enumerate(board.rows):
        cells = []
        for task in board.tasks:
            q = row.task_q.get(task, float("nan"))
            background, colour = heat_colours(q, low, high)
            rank = row.task_ranks.get(task)
            cells.append(
                f'<td class="num" style="background:{background};color:{colour}">'
                f'{number_text(q, 1)}<span class="task-rank"> ({rank if rank else "–"})</span>'
                "</td>"
            )
        rows.append(
            f'<tr data-entry="{i}"><td class="num">{place_text(row.place, row.baseline)}</td>'
            f'<th scope="row"><bdi>{name_html(row.team, 40)}</bdi></th>{"".join(cells)}</tr>'
        )
    figures = "".join(
        f'<figure><a href="{html.escape(name, quote=True)}"><img '
        f'src="{html.escape(name, quote=True)}" alt="{html.escape(title)}" loading="lazy"></a>'
        f"<figcaption>{html.escape(title)} (select it for full size)</figcaption></figure>"
        for name, title in pictures
    )
    analysis = (
        f'<h3 id="analysis-heading">Analysis</h3><div class="figures">{figures}</div>'
        if pictures
        else ""
    )
    return (
        '<section id="tasks" aria-labelledby="tasks-heading">\n'
        '<h2 id="tasks-heading">Hidden tasks (revealed)</h2>\n'
        "<p>Per-task Q of every entry (its rank on that task in parentheses); colour from low "
        "(dark) to high (yellow) Q. Task weights: the spread (sample std) of Q across the "
        "board's entries, normalised.</p>\n"
        '<div class="table-wrap" role="region" aria-labelledby="heat-caption" tabindex="0">\n'
        '<table class="heatmap">\n<caption id="heat-caption">Per-task Q (rank on that task)'
        "</caption>\n"
        f'<thead><tr><th scope="col">Rank</th><th scope="col">Team</th>{heads}</tr>\n'
        f'<tr class="weights"><th scope="row" colspan="2">Task weight</th>{weights}</tr></thead>\n'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>\n</div>\n" + analysis + "</section>"
    )


def phase_page(
    board: Board, challenge_title: str, policy: str, pictures: Sequence[tuple[str, str]] = ()
) -> str:
    """The page of one phase (`docs/<phase>/index.html`)."""
    title = name_html(board.title, 80)
    challenge = name_html(challenge_title, 80)
    n = len(board.rows)
    state = "per-task results " + ("revealed" if board.revealed else "hidden until the reveal")
    series = rank_series(board)
    if board.n_resamples:
        note = (
            f"The {round(board.interval_level * 100)}&#8239;% rank interval comes from "
            f"{board.n_resamples} bootstrap resamples of the per-split scores: overlapping "
            "intervals mean the order is not settled; the bar spans the interval, the tick marks "
            "the entry's rank."
        )
    else:
        note = "Rank intervals are not available for this phase yet."
    if board.rows:
        table = _controls(n) + "\n" + board_table(board)
        histories = "\n".join(
            _history_item(board, row, s) for row, s in zip(board.rows, series, strict=True)
        )
        chart = (
            '<section id="evolution" aria-labelledby="evolution-heading">\n'
            '<h2 id="evolution-heading">Rank evolution</h2>\n'
            f'<figure class="chart"><div class="chart-wrap">{rank_chart_svg(board)}</div>\n'
            f"{_legend(series)}</figure>\n"
            "</section>\n"
            '<section id="histories" aria-labelledby="histories-heading">\n'
            '<h2 id="histories-heading">Team histories</h2>\n'
            "<p>Each entry's rank after every finished submission (the line), and the rank "
            "right after each of its own submissions. Dashed: a baseline.</p>\n"
            f'<ul class="histories">{histories}</ul>\n</section>'
        )
    else:
        table, chart = "<p>No scored submissions yet.</p>", ""
    revealed = revealed_section(board, pictures) if board.revealed else ""
    body = (
        '<a class="skip" href="#board">Skip to the leaderboard</a>\n'
        f'<header class="top"><p class="crumbs"><a href="../index.html">{challenge}</a></p>\n'
        f"<h1>{title}</h1>\n"
        f'<p class="meta">Updated {_when(board.updated_at)} UTC · {n} '
        f"entr{'ies' if n != 1 else 'y'} · {state}</p></header>\n"
        '<main>\n<section id="board" aria-labelledby="board-heading">\n'
        '<h2 id="board-heading">Leaderboard</h2>\n'
        f'<p class="policy">{html.escape(policy)} Lower weighted rank is better; higher mean Q '
        f"is better.</p>\n{table}\n"
        f'<p class="note">{note} Download: <a href="board.json">JSON</a> · '
        '<a href="board.csv">CSV</a>.</p>\n</section>\n'
        f"{chart}\n{revealed}\n</main>\n{_footer()}"
    )
    return _document(f"{title} · {challenge}", body, "../")


def _footer() -> str:
    return (
        "<footer><p>Generated by the challenge's evaluation service from scored submissions "
        "after every finished one; times in UTC. Team and method names are the participants' "
        "own.</p></footer>"
    )


def index_page(challenge_title: str, phases: Sequence[SitePhase]) -> str:
    """The site's front page: every published phase."""
    challenge = name_html(challenge_title, 80)
    items = "".join(
        f'<li><a href="{html.escape(p.phase)}/index.html"><span class="phase-title">'
        f'{name_html(p.title, 80)}</span></a> <span class="meta">{p.entries} '
        f"entr{'ies' if p.entries != 1 else 'y'} · updated "
        f'<time datetime="{html.escape(p.updated)}">{html.escape(p.updated[:16].replace("T", " "))}'
        f"</time> UTC{' · per-task results revealed' if p.revealed else ''}</span></li>"
        for p in phases
    )
    body = (
        f'<header class="top"><h1>{challenge}</h1>\n<p class="meta">Leaderboard</p></header>\n'
        '<main>\n<section aria-labelledby="phases-heading"><h2 id="phases-heading">Phases</h2>\n'
        f'<ul class="phases">{items or "<li>No phase published yet.</li>"}</ul></section>\n'
        "</main>\n" + _footer()
    )
    return _document(f"{challenge} · leaderboard", body, "")


__all__ = ["SitePhase", "SitePicture", "board_table", "entry_colours", "index_page", "phase_page"]
