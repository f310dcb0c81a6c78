"""The analyses' pictures as PNG bytes. Pure: nothing is written to disk.

matplotlib's object API with the Agg canvas (no pyplot state, no display); PNGs carry no
Software/date chunk, so the same analysis gives identical bytes. Every name reaches a picture
through `label` (the worker passes its `plot_label`, which also drops glyphs the font lacks);
the default shortens and escapes `$` so that mathtext never parses a name.

- `capability_map_png`: entries and tasks on the first two principal axes of the fitted points.
- `capability_fit_png`: held-out error per dimension against the per-task-mean predictor, and
  predicted against true gaps of the held-out cells.
- `rank_blobs_png`: challengeR's blob plot of the board's bootstrap places.
- `rank_tau_png`: Kendall's tau between the full-data ranking and each resample's, per ranking.
- `task_agreement_png`: Kendall's tau between the rankings of every pair of tasks and the board.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scoring.analysis.capability_map import CapabilityMap
from scoring.analysis.rank_stability import RankStability

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Label = Callable[[str], str]
BLUE, ORANGE, GREY, DARK = "#1f5aa6", "#d9661f", "#8a8a8a", "#303030"
DPI = 150


def plain_label(text: str, limit: int = 28) -> str:
    """A short, mathtext-safe label."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$") or "?"


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _tidy(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.6)
    ax.set_axisbelow(True)


# ---- capability map ----------------------------------------------------------------------------


def capability_map_png(
    cmap: CapabilityMap, baselines: Sequence[str] = (), title: str = "", label: Label = plain_label
) -> bytes:
    """Entries (circles shaded by their mean gap; baselines grey squares) and tasks (triangles)
    on the first two principal axes of the fitted points."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    fig = _figure(9.0, 8.4)
    ax = fig.add_subplot()
    _tidy(ax)
    entries, tasks = cmap.entry_plane, cmap.task_plane
    is_baseline = np.array([n in set(baselines) for n in cmap.entries], dtype=bool)
    mean_gap = np.nanmean(cmap.gaps, axis=1)  # (e,) over the entry's known cells
    shades, norm = colormaps["viridis"], Normalize(0.0, 1.0)
    ax.scatter(tasks[:, 0], tasks[:, 1], marker="^", s=110, color=ORANGE, edgecolor=DARK,
               linewidth=0.6, zorder=3, label="task")  # fmt: skip
    competing = ~is_baseline
    dots = ax.scatter(entries[competing, 0], entries[competing, 1], s=90, zorder=4,
                      c=mean_gap[competing], cmap=shades, norm=norm, edgecolor=DARK,
                      linewidth=0.6, label="entry")  # fmt: skip
    if is_baseline.any():
        ax.scatter(entries[is_baseline, 0], entries[is_baseline, 1], marker="s", s=80,
                   zorder=4, color=GREY, edgecolor=DARK, linewidth=0.6,
                   label="baseline")  # fmt: skip
    texts = [label(n) for n in cmap.entries] + [label(t) for t in cmap.tasks]
    styles = ["normal"] * len(cmap.entries) + ["italic"] * len(cmap.tasks)
    colours = [DARK] * len(cmap.entries) + ["#8c3b0c"] * len(cmap.tasks)
    points = np.concatenate([entries, tasks])
    _frame(ax, points)
    ax.set_aspect("equal", adjustable="box")  # distances in the picture are distances
    first, second = cmap.explained
    ax.set_xlabel(f"First principal axis ({100 * first:.0f} % of the spread)", fontsize=11)
    ax.set_ylabel(f"Second principal axis ({100 * second:.0f} % of the spread)", fontsize=11)
    heading = f"{title}: capability map" if title else "Capability map"
    fitted = f"fitted in {cmap.picture_dimension} dimensions"
    if cmap.picture_dimension != cmap.dimension:
        fitted += f"; validation chose {cmap.dimension}"
    ax.set_title(
        f"{heading} ({fitted})\n"
        "distance entry–task ≈ normalised gap: 0 = best on the task, 1 = worst",
        fontsize=12,
    )
    fig.colorbar(dots, ax=ax, shrink=0.6, pad=0.02).set_label(
        "entry's mean gap over its tasks (0 = best everywhere)", fontsize=10
    )
    fig.legend(loc="outside lower center", ncols=3, frameon=False, fontsize=10)
    _place_labels(fig, ax, points, texts, styles, colours)  # last: the layout is final
    return _png(fig)


def _frame(ax: Axes, points: np.ndarray) -> None:
    low, high = points.min(axis=0), points.max(axis=0)
    span = max(float((high - low).max()), 1e-6)
    centre = (low + high) / 2
    half = span / 2 + 0.15 * span
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)


def _place_labels(
    fig: Figure, ax: Axes, points: np.ndarray, texts: Sequence[str], styles: Sequence[str],
    colours: Sequence[str],
) -> None:  # fmt: skip
    """Labels next to their points, pushed apart where they would overlap each other or a point.

    Deterministic: a fixed number of small simultaneous moves in display coordinates, then a
    thin leader line where a label ended up away from its point.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # fixes the layout, so data -> pixel transforms are final
    renderer = fig.canvas.get_renderer()
    anchor = ax.transData.transform(points)  # (n, 2) pixels
    artists = [ax.text(0, 0, t, fontsize=9, fontstyle=s, color=c, zorder=5)
               for t, s, c in zip(texts, styles, colours, strict=True)]  # fmt: skip
    for artist in artists:
        # Out of the layout: otherwise a label near the edge shrinks the axes when the figure
        # is saved, and every label drifts onto its point.
        artist.set_in_layout(False)
    size = np.array([[b.width, b.height] for b in
                     (a.get_window_extent(renderer) for a in artists)])  # (n, 2) fmt: skip
    marker_px = 12.0 * fig.dpi / 72.0  # the markers are about 10 pt across; a little margin
    centre = anchor + np.column_stack([size[:, 0] / 2 + marker_px / 2 + 2, np.zeros(len(size))])
    marker = np.full_like(size, marker_px)  # a point's own box
    for _ in range(800):
        push = _pushes(centre, size, centre, size, skip_self=True)
        push += _pushes(centre, size, anchor, marker, skip_self=False)
        if not push.any():
            break
        centre += np.clip(push, -4.0, 4.0)
    inverse = ax.transData.inverted().transform
    for i, artist in enumerate(artists):
        x, y = inverse(centre[i])
        artist.set_position((x, y))
        artist.set_horizontalalignment("center")
        artist.set_verticalalignment("center")
        if np.hypot(*(centre[i] - anchor[i])) > size[i][0] / 2 + 18:
            (line,) = ax.plot([points[i, 0], x], [points[i, 1], y], color="#b0b0b0",
                              linewidth=0.6, zorder=2)  # fmt: skip
            line.set_in_layout(False)


def _pushes(
    centre: np.ndarray, size: np.ndarray, other: np.ndarray, other_size: np.ndarray,
    skip_self: bool,
) -> np.ndarray:  # fmt: skip
    """(n, 2) moves that take each label box out of the `other` boxes, along the cheaper axis."""
    gap = (size[:, None, :] + other_size[None, :, :]) / 2 + 2  # (n, m, 2)
    delta = centre[:, None, :] - other[None, :, :]  # (n, m, 2)
    overlap = gap - np.abs(delta)  # > 0 on both axes: the boxes overlap
    hit = (overlap > 0).all(axis=-1)
    if skip_self:
        np.fill_diagonal(hit, False)
    # Ties (same centre) break by index, so two labels on one spot part deterministically.
    direction = np.where(delta >= 0, 1.0, -1.0)
    index = np.arange(len(centre))
    tie = (delta == 0).all(axis=-1) & (index[:, None] < np.arange(len(other))[None, :])
    direction[tie] = -1.0
    along_y = overlap[..., 1] < overlap[..., 0]  # (n, m) cheaper to move vertically
    move = np.zeros_like(delta)
    move[..., 1] = np.where(hit & along_y, (overlap[..., 1] / 2 + 0.5) * direction[..., 1], 0)
    move[..., 0] = np.where(hit & ~along_y, (overlap[..., 0] / 2 + 0.5) * direction[..., 0], 0)
    return move.sum(axis=1)


def capability_fit_png(cmap: CapabilityMap, title: str = "") -> bytes:
    """Left: held-out RMSE by dimension vs the per-task mean. Right: predicted vs true gaps."""
    fig = _figure(11.0, 4.6)
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.1))
    for ax in (left, right):
        _tidy(ax)
    dims = [c.dimension for c in cmap.cv]
    left.errorbar(dims, [c.heldout_rmse for c in cmap.cv], yerr=[c.heldout_se for c in cmap.cv],
                  fmt="o-", color=BLUE, linewidth=2, capsize=4,
                  label="capability map, held-out cells (± s.e.)")  # fmt: skip
    left.plot(dims, [c.train_rmse for c in cmap.cv], "o--", color=BLUE, alpha=0.45,
              label="capability map, training cells")  # fmt: skip
    left.axhline(cmap.baseline_rmse, color=ORANGE, linewidth=2,
                 label="per-task mean, held-out cells")  # fmt: skip
    left.axvline(cmap.dimension, color=GREY, linestyle=":", linewidth=1.2)
    left.set_xticks(dims)
    left.set_ylim(0, None)
    left.set_xlabel("Dimension of the map", fontsize=11)
    left.set_ylabel("RMSE of the normalised gap", fontsize=11)
    left.set_title(
        f"Leave-cells-out validation ({cmap.n_heldout_cells} cells, {cmap.n_folds} folds "
        f"x {cmap.repeats})",
        fontsize=11,
    )
    left.legend(fontsize=9, frameon=False, loc="best")
    truth, predicted = cmap.heldout_gaps, cmap.heldout_predicted
    right.scatter(truth, predicted, s=18, color=BLUE, alpha=0.7, edgecolor="none")
    top = max(1.0, float(np.max(predicted, initial=1.0))) * 1.05
    right.plot([0, top], [0, top], color=GREY, linestyle="--", linewidth=1)
    right.set_xlim(-0.03, top)
    right.set_ylim(-0.03, top)
    right.set_aspect("equal")
    right.set_xlabel("True gap of a held-out cell", fontsize=11)
    right.set_ylabel("Predicted gap (distance in the map)", fontsize=11)
    right.set_title(f"Held-out cells at d = {cmap.dimension}", fontsize=11)
    if title:
        fig.suptitle(f"{title}: capability map validation", fontsize=12)
    return _png(fig)


# ---- rank stability ----------------------------------------------------------------------------


def rank_blobs_png(stability: RankStability, title: str = "", label: Label = plain_label) -> bytes:
    """One column per entry (board order): a disc per place it took, area ~ share of resamples;
    the median (cross) and the board's interval (bar); dotted: the full-data place."""
    rows = stability.distributions
    n = len(rows)
    fig = _figure(max(6.5, 1.2 + 0.62 * n), 5.8)
    ax = fig.add_subplot()
    _tidy(ax)
    xs = np.arange(1, n + 1)
    colours = _entry_colours([r.baseline for r in rows])
    for x, row, colour in zip(xs, rows, colours, strict=True):
        share = np.array(row.frequencies)
        places = np.flatnonzero(share > 0) + 1
        ax.scatter(np.full(len(places), x), places, s=520 * share[places - 1], color=colour,
                   alpha=0.75, edgecolor="none", zorder=3)  # fmt: skip
        ax.plot([x, x], [row.low, row.high], color=DARK, linewidth=1.4, zorder=4)
        ax.scatter([x], [row.median], marker="x", color=DARK, s=40, linewidth=1.4, zorder=5)
        ax.plot([x - 0.32, x + 0.32], [row.place, row.place], color=DARK, linestyle=":",
                linewidth=1.0, zorder=4)  # fmt: skip
    ax.set_xticks(xs, [label(r.name) + (" (baseline)" if r.baseline else "") for r in rows],
                  rotation=35, ha="right")  # fmt: skip
    high = max(max(r.high for r in rows), max(r.place for r in rows))
    ax.set_ylim(high + 0.7, 0.3)
    ax.set_yticks(range(1, high + 1))
    ax.set_xlim(0.4, n + 0.6)
    ax.set_ylabel("Place on the board (1 = best)", fontsize=11)
    percent = f"{100 * stability.level:.0f} %"
    heading = f"{title}: rank stability" if title else "Rank stability"
    ax.set_title(
        f"{heading} over {stability.n_resamples} bootstrap resamples of the splits\n"
        f"disc area: share of resamples at that place; ×: median; bar: central {percent}\n"
        "dotted: place on the board (baselines: where they would stand among competitors)",
        fontsize=10,
    )
    for size in (0.1, 0.5, 1.0):
        ax.scatter([], [], s=520 * size, color=GREY, alpha=0.6, label=f"{100 * size:.0f} %")
    ax.legend(title="resamples", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              labelspacing=1.6, borderpad=1.0, fontsize=9, title_fontsize=9)  # fmt: skip
    return _png(fig)


def _entry_colours(baseline: Sequence[bool]) -> list[tuple[float, float, float, float]]:
    """Distinct colours for competitors (never grey), grey for baselines."""
    from matplotlib import colormaps

    tab10, tab20b = colormaps["tab10"], colormaps["tab20b"]
    palette = [tab10(i) for i in range(10) if i != 7] + [tab20b(i) for i in range(0, 20, 2)]
    out, i = [], 0
    for is_baseline in baseline:
        if is_baseline:
            out.append(colormaps["Greys"](0.55))
        else:
            out.append(palette[i % len(palette)])
            i += 1
    return out


def rank_tau_png(stability: RankStability, title: str = "", label: Label = plain_label) -> bytes:
    """Violins of Kendall's tau (full data vs each resample): the board, then each task."""
    summaries = [stability.board_summary, *stability.task_summaries]
    series = [stability.board_tau] + [stability.task_taus[s.ranking]
                                      for s in stability.task_summaries]  # fmt: skip
    names = ["Board"] + [label(s.ranking) for s in stability.task_summaries]
    fig = _figure(max(6.5, 1.5 + 0.75 * len(series)), 5.0)
    ax = fig.add_subplot()
    _tidy(ax)
    positions = np.arange(1, len(series) + 1)
    for x, tau, summary in zip(positions, series, summaries, strict=True):
        defined = tau[~np.isnan(tau)]
        if defined.size == 0:
            continue
        colour = BLUE if x == 1 else "#6f8fc7"
        if np.ptp(defined) > 0:
            body = ax.violinplot([defined], positions=[x], widths=0.8, showextrema=False)
            for part in body["bodies"]:
                part.set_facecolor(colour)
                part.set_alpha(0.35)
        ax.plot([x, x], [summary.q25, summary.q75], color=DARK, linewidth=4, zorder=3)
        ax.scatter([x], [summary.median], color="white", edgecolor=DARK, s=30, zorder=4)
    ax.axvline(1.5, color=GREY, linewidth=0.8)
    ax.set_xticks(positions, names, rotation=35, ha="right")
    ax.set_ylim(min(-0.05, min(float(np.nanmin(t)) for t in series if np.isfinite(t).any()))
                - 0.05, 1.05)  # fmt: skip
    ax.set_ylabel("Kendall's τ, full data vs resample", fontsize=11)
    heading = f"{title}: ranking stability" if title else "Ranking stability"
    ax.set_title(
        f"{heading} ({stability.n_resamples} resamples, {stability.competing} competing "
        "entries)\nviolin: all resamples; bar: quartiles; dot: median",
        fontsize=11,
    )
    return _png(fig)


def task_agreement_png(
    stability: RankStability, title: str = "", label: Label = plain_label
) -> bytes:
    """Kendall's tau between the full-data rankings of the board and of every task."""
    from matplotlib.colors import TwoSlopeNorm

    names = ["Board"] + [label(t) for t in stability.tasks]
    matrix = stability.agreement
    size = len(names)
    fig = _figure(2.4 + 0.62 * size, 1.8 + 0.55 * size)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="RdBu", norm=TwoSlopeNorm(0.0, -1.0, 1.0))
    for i in range(size):
        for j in range(size):
            value = matrix[i, j]
            text = "–" if np.isnan(value) else f"{value:.2f}"
            colour = "white" if np.isfinite(value) and abs(value) > 0.6 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(size), names, rotation=40, ha="right")
    ax.set_yticks(range(size), names)
    ax.axhline(0.5, color=DARK, linewidth=1.2)
    ax.axvline(0.5, color=DARK, linewidth=1.2)
    heading = f"{title}: agreement between rankings" if title else "Agreement between rankings"
    ax.set_title(f"{heading}\nKendall's τ over {stability.competing} competing entries",
                 fontsize=11)  # fmt: skip
    fig.colorbar(image, ax=ax, shrink=0.8).set_label("Kendall's τ", fontsize=10)
    return _png(fig)
