"""The leaderboard's PNG plots: rank evolution and the per-task Q heatmap. Pure: returns bytes.

matplotlib's object API with the Agg canvas: no pyplot state, no backend switch, nothing written
to disk. PNGs carry no Software/date chunk, so an unchanged board gives identical bytes.
Names reach the plots only through `plot_label` (plain, short, mathtext-safe, drawable glyphs).
`task_heatmap_png` refuses an unrevealed board (the leak rule in `worker.leaderboard.render`).
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from worker.leaderboard.text import number_text, place_text, plain_name, shortened
from worker.leaderboard.values import Board

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    title = f"{plot_label(board.title, 60)}: per-task Q and task weights"
    labels = [
        f"{place_text(r.place, r.baseline)} {plot_label(r.team)}"
        + (" (baseline)" if r.baseline else "")
        for r in rows
    ]
    # Wide enough for the row labels (9 pt, about 0.075 in a character) beside the cells and
    # the colour bar, and for the title (13 pt, about 0.11 in): a narrow figure clipped both.
    label_in = 0.075 * max((len(label) for label in labels), default=0) + 0.3
    width = max(label_in + 1.1 * max(len(tasks), 3) + 0.9, 0.11 * len(title) + 0.4)
    fig = _figure(width, 2.6 + 0.42 * max(len(rows), 2))
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
    top.set_title(title, fontsize=13)
    for j, w in enumerate(weights):
        top.text(j, w, f"{w:.3f}", ha="center", va="bottom", fontsize=8)
    image = ax.imshow(q, aspect="auto", cmap="viridis")
    for i in range(q.shape[0]):
        for j in range(q.shape[1]):
            red, green, blue, _ = image.cmap(image.norm(q[i, j]))
            light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
            colour = "black" if np.isfinite(q[i, j]) and light else "white"
            text = number_text(q[i, j], 1)
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(np.arange(len(tasks)), [plot_label(t, 24) for t in tasks])
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_yticks(np.arange(len(rows)), labels)
    ax.tick_params(labelsize=9)
    fig.colorbar(image, cax=bar).set_label("Q", fontsize=10)
    return _png(fig)
