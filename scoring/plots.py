"""Publication-quality plots of one task's probes: learning curves, parity plot (regression) and
confusion matrix (classification). Writes PNG files; called by the CLI, never by compute code.

Uses matplotlib's object API (`Figure` + Agg canvas), so importing or calling this module never
touches global pyplot state or needs a display.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scoring.probes.linear import ProbeRun

DPI = 200
BLUE, ORANGE, GREY = "#1f5aa6", "#d9661f", "#6b6b6b"


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0].tolist()
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
        ax.set_axisbelow(True)
    return fig, axes


def _band(ax, epochs: np.ndarray, values: np.ndarray, color: str, label: str) -> None:
    """Median line and 10-90 % band over splits. values: (epochs, k)."""
    with np.errstate(all="ignore"):
        mid = np.nanmedian(values, axis=1)
        lo, hi = np.nanpercentile(values, [10, 90], axis=1)
    ax.fill_between(epochs, lo, hi, color=color, alpha=0.18, linewidth=0)
    ax.plot(epochs, mid, color=color, linewidth=1.8, label=label)


METRIC_LABEL = {"r2": "R²", "f1": "F1", "macro_f1": "macro-F1"}


def learning_curves_png(
    path: Path, task: str, run: ProbeRun, metric: str, probe: str = "linear", step: str = "epoch"
) -> Path:
    """Loss (train/test) and test score per epoch (SVM: per candidate) over the K probes."""
    label = METRIC_LABEL.get(metric, metric)
    epochs = np.arange(1, run.train_loss.shape[0] + 1)
    k = run.train_loss.shape[1]
    fig, (ax_loss, ax_score) = _figure(9.0, 3.6, ncols=2)
    _band(ax_loss, epochs, run.train_loss, BLUE, "train")
    _band(ax_loss, epochs, run.test_loss, ORANGE, "test")
    ax_loss.set(xlabel=step, ylabel="loss", title=f"Loss per {step}")
    ax_loss.set_yscale("log")
    ax_loss.legend(frameon=False)
    _band(ax_score, epochs, run.epoch_scores, ORANGE, f"test {label}")
    best = run.best_epochs[run.best_epochs > 0]
    if best.size:
        ax_twin = ax_score.twinx()
        counts = np.bincount(best, minlength=epochs.size + 1)[1:]
        ax_twin.bar(epochs, counts, color=GREY, alpha=0.25, width=0.8, label=f"best {step}")
        ax_twin.set_ylabel(f"splits with best {step} here", color=GREY)
        ax_twin.spines[["top"]].set_visible(False)
        ax_twin.tick_params(axis="y", colors=GREY)
    ax_score.set(xlabel=step, ylabel=label, title=f"Test {label} per {step} (best {step}: bars)")
    ax_score.legend(frameon=False, loc="lower right")
    fig.suptitle(f"{task}: {k} {probe} probes (median, 10–90 % band)", fontsize=11)
    fig.savefig(path)
    return Path(path)


def parity_png(
    path: Path, task: str, pred: np.ndarray, target: np.ndarray, mean_r2: float | None = None
) -> Path:
    """Predicted vs true normalised label of every split's test rows at its best epoch."""
    p, t = pred.ravel(), target.ravel()
    ok = np.isfinite(p)
    p, t = p[ok], t[ok]
    fig, (ax,) = _figure(4.6, 4.4)
    lo = float(min(t.min(), np.percentile(p, 0.5))) if p.size else 0.0
    hi = float(max(t.max(), np.percentile(p, 99.5))) if p.size else 1.0
    ax.hexbin(t, p, gridsize=45, cmap="Blues", mincnt=1, bins="log", extent=(lo, hi, lo, hi))
    ax.plot([lo, hi], [lo, hi], color=ORANGE, linewidth=1.4, linestyle="--", label="y = x")
    ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="true label (min-max normalised)")
    ax.set(ylabel="predicted label", title=f"{task}: test predictions, {pred.shape[0]} splits")
    ax.set_aspect("equal")
    ax.legend(frameon=False, loc="upper left")
    if mean_r2 is not None:
        ax.text(0.97, 0.04, f"mean test R² = {mean_r2:.3f}", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=9, color=GREY)
    fig.savefig(path)
    return Path(path)


def confusion_png(path: Path, task: str, tn: float, fp: float, fn: float, tp: float) -> Path:
    """Binary confusion matrix summed over the splits' test rows at their best epochs."""
    return confusion_matrix_png(path, task, np.array([[tn, fp], [fn, tp]]), ("0", "1"))


def confusion_matrix_png(
    path: Path, task: str, counts: np.ndarray, classes: tuple[str, ...]
) -> Path:
    """Confusion matrix (true class rows, predicted class columns), summed over the splits."""
    counts = np.asarray(counts, dtype=float)
    share = counts / max(counts.sum(), 1.0)
    side = 3.2 + 0.5 * len(classes)
    fig, (ax,) = _figure(side + 0.4, side)
    ax.grid(False)
    image = ax.imshow(counts, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        colour = "white" if value > counts.max() / 2 else "black"
        ax.text(j, i, f"{int(value):,}\n{share[i, j]:.1%}", ha="center", va="center", color=colour)
    ticks = list(range(len(classes)))
    ax.set_xticks(ticks, list(classes))
    ax.set_yticks(ticks, list(classes))
    ax.set(xlabel="predicted label", ylabel="true label", title=f"{task}: confusion matrix")
    fig.colorbar(image, ax=ax, shrink=0.8, label="test rows (all splits)")
    fig.savefig(path)
    return Path(path)
