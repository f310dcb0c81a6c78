"""The leaderboard site's pictures as inline SVG and HTML: rank evolution, a team's rank
sparkline, the rank-interval bar, the per-task heatmap colours. Pure: returns markup strings.

Drawn from the same `Board` values as the PNGs (`worker.leaderboard.plots`), with the same colours
(matplotlib's tab10/tab20 for competitors, greys for baselines, viridis for Q) and the same rule
for baselines (a baseline's place p is drawn at p - 0.5, between the competitors it separates).
SVG scales with the page (viewBox), so one picture serves a phone and a desktop; every untrusted
name reaches the markup only through `name_html` (plain, HTML-escaped). Coordinates and bar
positions are integers: the site adds no decimal number of its own to the board's values (so a
leak check that searches the published files for per-task numbers cannot hit a coordinate).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

from worker.leaderboard.text import plain_name, shortened
from worker.leaderboard.values import Board

CHART_WIDTH = 800
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 62


def name_html(text: str, limit: int | None = None) -> str:
    """An untrusted name as HTML text: controls and bidi overrides removed, escaped."""
    plain = plain_name(text)
    return html.escape(shortened(plain, limit) if limit else plain, quote=True) or "–"


@dataclass(frozen=True)
class Series:
    """One entry's line: its colour, whether it is a baseline, and (x, y) points."""

    index: int  # the entry's row in board order
    team: str
    colour: str
    baseline: bool
    points: tuple[tuple[int, float], ...]  # (1-based snapshot number, drawn place)
    own: tuple[int, ...]  # snapshot numbers of the entry's own finished submissions


def entry_colours(board: Board) -> list[str]:
    """Hex colours per board row, as in the rank-evolution PNG: distinct for competitors,
    greys for baselines."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    n = sum(not r.baseline for r in board.rows)
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    colours, i, g = [], 0, 0
    for row in board.rows:
        if row.baseline:
            colours.append(to_hex(colormaps["Greys"](0.75 - 0.2 * (g % 3))))
            g += 1
        else:
            colours.append(to_hex(cmap(i % cmap.N)))
            i += 1
    return colours


def rank_series(board: Board) -> list[Series]:
    """Each board row's places over the rank history (only where it was on the board)."""
    colours = entry_colours(board)
    series = []
    for index, (row, colour) in enumerate(zip(board.rows, colours, strict=True)):
        shift = 0.5 if row.baseline else 0.0
        points = tuple(
            (n, snap.places[row.team] - shift)
            for n, snap in enumerate(board.history, start=1)
            if row.team in snap.places
        )
        own = tuple(n for n, snap in enumerate(board.history, start=1) if snap.team == row.team)
        series.append(Series(index, row.team, colour, row.baseline, points, own))
    return series


def _steps(points: Sequence[tuple[float, float]]) -> str:
    """SVG path data of a step line (the value holds until the next point)."""
    if not points:
        return ""
    (x0, y0), parts = points[0], []
    parts.append(f"M{x0:.0f},{y0:.0f}")
    previous_y = y0
    for x, y in points[1:]:
        parts.append(f"H{x:.0f}")
        if y != previous_y:
            parts.append(f"V{y:.0f}")
        previous_y = y
    return "".join(parts)


def _changes(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    """Only the points where the value changes, plus the last (a step line needs no more)."""
    kept = [p for i, p in enumerate(points) if i == 0 or p[1] != points[i - 1][1]]
    if points and kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _max_place(board: Board) -> int:
    places = [p for snap in board.history for p in snap.places.values()]
    return max([*places, *(r.place for r in board.rows), 1])


def rank_chart_svg(board: Board) -> str:
    """The rank-evolution chart: one step line per entry, rank 1 on top, dots at an entry's own
    submissions. Lines carry `data-entry` (board row) so the page can dim filtered-out entries."""
    n_snaps, top = len(board.history), _max_place(board)
    height = _TOP + _BOTTOM + max(180, 26 * top)
    plot_w, plot_h = CHART_WIDTH - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def x(n: float) -> float:
        return _LEFT + (plot_w * (n - 0.5) / n_snaps if n_snaps else 0)

    def y(place: float) -> float:
        return _TOP + plot_h * (place - 0.5) / top

    out = [
        f'<svg class="rank-chart" viewBox="0 0 {CHART_WIDTH} {height}" role="img" '
        'aria-labelledby="rank-chart-title rank-chart-desc" preserveAspectRatio="xMidYMid meet">',
        '<title id="rank-chart-title">Rank after each finished submission</title>',
        f'<desc id="rank-chart-desc">Step lines of every entry\'s rank (1 = best, on top) after '
        f"each of the {n_snaps} finished submissions; dots mark an entry's own submissions. "
        "The same ranks are listed as text under Team histories.</desc>",
        '<g class="grid">',
    ]
    step = max(1, math.ceil(top / 12))
    for place in range(1, top + 1):
        if place % step == 0 or place == 1:
            out.append(
                f'<line x1="{_LEFT}" x2="{CHART_WIDTH - _RIGHT}" y1="{y(place):.0f}" '
                f'y2="{y(place):.0f}"/><text x="{_LEFT - 8}" y="{y(place) + 4:.0f}" '
                f'text-anchor="end">{place}</text>'
            )
    out.append("</g>")
    axis_y = height - _BOTTOM + 24
    out.append(
        f'<text class="axis" x="{_LEFT + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        "Finished submissions in order</text>"
    )
    tick = max(1, math.ceil(n_snaps / 10))
    for n in range(1, n_snaps + 1):
        if n == 1 or n % tick == 0:
            out.append(
                f'<text class="tick" x="{x(n):.0f}" y="{axis_y}" text-anchor="middle">{n}</text>'
            )
    for s in rank_series(board):
        drawn = [(x(n), y(p)) for n, p in _changes(s.points)]
        if s.points:
            drawn.append((x(n_snaps + 0.5), drawn[-1][1]))
        dash = ' stroke-dasharray="6 4"' if s.baseline else ""
        out.append(
            f'<g class="series" data-entry="{s.index}" style="--c:{s.colour}">'
            f"<title>{name_html(s.team, 60)}{' (baseline)' if s.baseline else ''}</title>"
            f'<path d="{_steps(drawn)}"{dash}/>'
        )
        places = dict(s.points)
        out.extend(
            f'<circle cx="{x(n):.0f}" cy="{y(places[n]):.0f}" r="4"/>' for n in s.own if n in places
        )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def sparkline_svg(board: Board, series: Series, width: int = 240, height: int = 56) -> str:
    """A small step line of one entry's rank over the whole history (rank 1 on top)."""
    n_snaps, top = max(len(board.history), 1), _max_place(board)

    def x(n: float) -> float:
        return 4 + (width - 8) * (n - 1) / max(n_snaps - 1, 1)

    def y(place: float) -> float:
        return 4 + (height - 8) * (place - 0.5) / top

    drawn = [(x(n), y(p)) for n, p in _changes(series.points)]
    if series.points:
        drawn.append((x(n_snaps), drawn[-1][1]))
    dash = ' stroke-dasharray="4 3"' if series.baseline else ""
    return (
        f'<svg class="sparkline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true" style="--c:{series.colour}">'
        f'<rect x="0" y="0" width="{width}" height="{height}"/>'
        f'<path d="{_steps(drawn)}"{dash}/></svg>'
    )


def interval_bar(low: int, high: int, place: int, scale: int) -> str:
    """A small bar: the rank interval as a segment on 1..scale, a tick at the entry's place.
    Decorative (the interval is also written as text next to it); positions are per-mille of
    the track in custom properties, the stylesheet places them."""

    def at(rank: float) -> int:
        return round(1000 * (rank - 1) / (scale - 1)) if scale > 1 else 500

    return (
        f'<span class="bar" aria-hidden="true" style="--a:{at(low)};--b:{at(high)};'
        f'--p:{at(place)}"><span class="seg"></span><span class="dot"></span></span>'
    )


def relative_luminance(red: float, green: float, blue: float) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels in [0, 1]."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: float, second: float) -> float:
    """WCAG 2 contrast ratio of two relative luminances (1 to 21)."""
    light, dark = max(first, second), min(first, second)
    return (light + 0.05) / (dark + 0.05)


def heat_colours(value: float, low: float, high: float) -> tuple[str, str]:
    """(background, text) for a Q cell: viridis on the board's range, black or white text,
    whichever contrasts more (never below 4.5:1 on viridis), grey for a missing value. (The
    PNG's simpler brightness rule gives white on mid teal, 3.9:1: too little for a page.)"""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if not math.isfinite(value):
        return "#d9d9d9", "#000000"
    share = 0.5 if high <= low else (value - low) / (high - low)
    red, green, blue, _ = colormaps["viridis"](share)
    luminance = relative_luminance(red, green, blue)
    black = contrast_ratio(luminance, 0.0) >= contrast_ratio(luminance, 1.0)
    return to_hex((red, green, blue)), "#000000" if black else "#ffffff"
