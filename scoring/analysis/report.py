"""A phase analysis as files: PNGs, one JSON and a Markdown report. Pure: returns bytes.

    analysis_files(analysis) -> {
        "report.md", "analysis.json", "rank_blobs.png", "rank_tau.png", "task_agreement.png",
        "capability_map.png", "capability_fit.png"}

(the PNGs of a part that could not be computed are absent; the report says why). Same analysis,
same bytes: JSON keys sorted, numbers rounded to 6 significant places, PNGs without date.
Untrusted names reach Markdown through `cell` and pictures through `label` (the worker passes
its own escaping rules; the defaults escape what Markdown tables and mathtext would parse).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np

from scoring.analysis import figures
from scoring.analysis.capability_map import CapabilityMap
from scoring.analysis.phase import PhaseAnalysis
from scoring.analysis.rank_stability import RankStability, TauSummary

Cell = Callable[[str], str]


def markdown_text(text: str) -> str:
    """A name for a Markdown table cell: one line, `|` `\\` and markup characters escaped."""
    flat = " ".join(str(text).split())
    return "".join("\\" + ch if ch in "\\|*_`[]<>#!~" else ch for ch in flat) or "?"


def _num(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


# ---- JSON --------------------------------------------------------------------------------------


def analysis_json(analysis: PhaseAnalysis) -> bytes:
    scores, options = analysis.scores, analysis.options
    doc: dict[str, object] = {
        "schema_version": 1,
        "phase": scores.phase,
        "tasks": list(scores.tasks),
        "entries": sorted(scores.task_q),
        "baselines": list(scores.baselines),
        "options": {
            "dimensions": options.dimensions, "max_dimension": options.max_dimension,
            "score": options.score_kind, "n_resamples": options.n_resamples,
            "level": options.level, "bootstrap_seed": options.bootstrap_seed,
            "map_seed": options.map_seed,
            "hold_out": [{"entry": e, "task": t} for e, t in options.hold_out],
        },  # fmt: skip
        "notes": list(analysis.notes),
        "rank_stability": _stability_doc(analysis.stability) if analysis.stability else None,
        "capability_map": _map_doc(analysis.capability) if analysis.capability else None,
    }
    return (json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _tau_doc(summary: TauSummary) -> dict[str, object]:
    return {"mean": _num(summary.mean), "median": _num(summary.median), "q25": _num(summary.q25),
            "q75": _num(summary.q75), "defined_resamples": summary.defined}  # fmt: skip


def _stability_doc(stability: RankStability) -> dict[str, object]:
    return {
        "n_resamples": stability.n_resamples,
        "level": stability.level,
        "competing_entries": stability.competing,
        "entries": [
            {"name": d.name, "place": d.place, "baseline": d.baseline, "median": _num(d.median),
             "interval": [d.low, d.high], "p_first": _num(d.p_first),
             "place_shares": [_num(f) for f in d.frequencies]}
            for d in stability.distributions
        ],  # fmt: skip
        "kendall_tau": {
            "board": _tau_doc(stability.board_summary),
            "tasks": {s.ranking: _tau_doc(s) for s in stability.task_summaries},
        },
        "task_agreement": {
            "rankings": ["board", *stability.tasks],
            "kendall_tau": [[_num(v) for v in row] for row in stability.agreement],
        },
        "left_out": list(stability.dropped),
    }


def _map_doc(cmap: CapabilityMap) -> dict[str, object]:
    def vector(values: np.ndarray) -> list[float | None]:
        return [_num(float(v)) for v in values]

    mean_gap = np.nanmean(cmap.gaps, axis=1)
    return {
        "score": cmap.score_kind,
        "dimension": cmap.dimension,
        "picture_dimension": cmap.picture_dimension,
        "seed": cmap.seed,
        "validation": {
            "folds": cmap.n_folds,
            "repeats": cmap.repeats,
            "heldout_cells": cmap.n_heldout_cells,
            "per_task_mean_rmse": _num(cmap.baseline_rmse),
            "by_dimension": [{"dimension": c.dimension, "heldout_rmse": _num(c.heldout_rmse),
                              "heldout_se": _num(c.heldout_se),
                              "train_rmse": _num(c.train_rmse)} for c in cmap.cv],
        },  # fmt: skip
        "fit_rmse": _num(cmap.fit_rmse),
        "tasks": {
            t: {"best": _num(cmap.best[j]), "worst": _num(cmap.worst[j]),
                "point": vector(cmap.task_points[j])}
            for j, t in enumerate(cmap.tasks)
        },  # fmt: skip
        "entries": {
            n: {"point": vector(cmap.entry_points[i]), "centrality": _num(cmap.centrality[n]),
                "mean_gap": _num(float(mean_gap[i])),
                "known_tasks": int((~np.isnan(cmap.gaps[i])).sum()),
                "gaps": {t: _num(float(cmap.gaps[i, j])) for j, t in enumerate(cmap.tasks)}}
            for i, n in enumerate(cmap.entries)
        },  # fmt: skip
        "plane": {
            "explained": [_num(cmap.explained[0]), _num(cmap.explained[1])],
            "entries": {n: vector(cmap.entry_plane[i]) for i, n in enumerate(cmap.entries)},
            "tasks": {t: vector(cmap.task_plane[j]) for j, t in enumerate(cmap.tasks)},
        },
        "predictions": [
            {"entry": p.entry, "task": p.task, "gap": _num(p.gap), "score": _num(p.score),
             "per_task_mean_score": _num(p.task_mean_score),
             "true_score": _num(p.true_score), "true_gap": _num(p.true_gap)}
            for p in cmap.predictions
        ],  # fmt: skip
    }


# ---- Markdown ----------------------------------------------------------------------------------


def analysis_markdown(analysis: PhaseAnalysis, cell: Cell = markdown_text) -> str:
    scores = analysis.scores
    lines = [
        f"# {cell(scores.title)}: after the reveal",
        "",
        f"Phase `{cell(scores.phase)}`: {len(scores.task_q)} entries, {len(scores.tasks)} tasks"
        + (f", baselines: {', '.join(cell(b) for b in scores.baselines)}" if scores.baselines
           else "") + ".",  # fmt: skip
        "Generated by `scoring.analysis` from the stored per-task and per-split scores.",
        "",
    ]
    if analysis.stability:
        lines += _stability_markdown(analysis.stability, cell)
    if analysis.capability:
        lines += _map_markdown(analysis.capability, cell)
    if analysis.notes:
        lines += ["## Notes", ""] + [f"- {cell(n)}" for n in analysis.notes] + [""]
    return "\n".join(lines)


def _stability_markdown(stability: RankStability, cell: Cell) -> list[str]:
    percent = f"{100 * stability.level:.0f} %"
    lines = [
        "## Rank stability",
        "",
        f"Every entry's split scores were resampled per task {stability.n_resamples} times "
        "(the board's bootstrap), Q recomputed and the board ranked again. Baselines take the "
        "place they would have among the competitors; Kendall's τ is computed over the "
        f"{stability.competing} competing entries.",
        "",
        "![Blob plot](rank_blobs.png)",
        "",
        f"| place | entry | median place | central {percent} | P(first) |",
        "|---:|---|---:|:---:|---:|",
    ]
    for d in stability.distributions:
        name = cell(d.name) + (" (baseline)" if d.baseline else "")
        lines.append(f"| {d.place} | {name} | {d.median:g} | {d.low}–{d.high} | "
                     f"{d.p_first:.3f} |")  # fmt: skip
    lines += [
        "",
        "Kendall's τ between the full-data ranking and each resample's "
        "(1: the ranking never moves; 0: unrelated):",
        "",
        "| ranking | mean | median | quartiles |",
        "|---|---:|---:|:---:|",
    ]
    for label, s in [("**board**", stability.board_summary)] + [
        (cell(s.ranking), s) for s in stability.task_summaries
    ]:
        lines.append(f"| {label} | {_fixed(s.mean)} | {_fixed(s.median)} | "
                     f"{_fixed(s.q25)} – {_fixed(s.q75)} |")  # fmt: skip
    lines += [
        "",
        "![Kendall's tau per ranking](rank_tau.png)",
        "",
        "How far the tasks agree on the order of the entries (Kendall's τ between the "
        "full-data rankings; first row: the board):",
        "",
        "![Agreement between rankings](task_agreement.png)",
        "",
    ]
    return lines


def _map_markdown(cmap: CapabilityMap, cell: Cell) -> list[str]:
    score = "Q" if cmap.score_kind == "q" else "mean split score"
    lines = [
        "## Capability map",
        "",
        f"Per task, each entry's gap to the best entry, (best − {score}) / (best − worst), is "
        "fitted as the distance between a point for the entry and a point for the task "
        "(Adorni et al., 2025). The dimension is the smallest within one standard error of the "
        "lowest error in leave-cells-out validation "
        f"({cmap.n_folds} folds over {cmap.n_heldout_cells} cells, repeated {cmap.repeats} "
        "times with new folds); the per-task-mean "
        "predictor (every entry at the task's mean gap) is the yardstick.",
        "",
        "| dimension | held-out RMSE (± s.e.) | training RMSE | per-task mean, held-out "
        "| vs per-task mean |",
        "|---:|---:|---:|---:|---:|",
    ]
    for c in cmap.cv:
        mark = " **(chosen)**" if c.dimension == cmap.dimension else ""
        change = 100 * (c.heldout_rmse / cmap.baseline_rmse - 1) if cmap.baseline_rmse else 0
        lines.append(f"| {c.dimension}{mark} | {c.heldout_rmse:.3f} ± {c.heldout_se:.3f} | "
                     f"{c.train_rmse:.3f} | "
                     f"{cmap.baseline_rmse:.3f} | {change:+.0f} % |")  # fmt: skip
    lines += ["", "![Capability map](capability_map.png)", "",
              "![Validation](capability_fit.png)", ""]  # fmt: skip
    lines += [
        "Centrality (distance to the middle of the tasks; the paper found generalists near the "
        "centre) and mean gap over the tasks each entry was scored on:",
        "",
        "| entry | centrality | mean gap | tasks scored |",
        "|---|---:|---:|---:|",
    ]
    mean_gap = np.nanmean(cmap.gaps, axis=1)
    order = sorted(range(len(cmap.entries)), key=lambda i: (cmap.centrality[cmap.entries[i]], i))
    for i in order:
        name = cmap.entries[i]
        known = int((~np.isnan(cmap.gaps[i])).sum())
        lines.append(f"| {cell(name)} | {cmap.centrality[name]:.3f} | {mean_gap[i]:.3f} | "
                     f"{known} of {len(cmap.tasks)} |")  # fmt: skip
    unscored = [p for p in cmap.predictions if p.true_score is None]
    checked = [p for p in cmap.predictions if p.true_score is not None]
    if unscored:
        lines += ["", f"Predictions for the {len(unscored)} (entry, task) pairs without a score:",
                  "", f"| entry | task | predicted gap | predicted {score} | per-task mean |",
                  "|---|---|---:|---:|---:|"]  # fmt: skip
        for p in unscored:
            lines.append(f"| {cell(p.entry)} | {cell(p.task)} | {p.gap:.3f} | {p.score:.3f} | "
                         f"{p.task_mean_score:.3f} |")  # fmt: skip
    if checked:
        lines += ["", "Cells held out on purpose (scored, hidden from the fit), predicted "
                  "against the truth:", "",
                  f"| entry | task | true {score} | predicted | per-task mean | true gap | "
                  "predicted gap |", "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for p in checked:
            lines.append(f"| {cell(p.entry)} | {cell(p.task)} | {p.true_score:.3f} | "
                         f"{p.score:.3f} | {p.task_mean_score:.3f} | {p.true_gap:.3f} | "
                         f"{p.gap:.3f} |")  # fmt: skip
    lines.append("")
    return lines


def _fixed(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def analysis_summary(analysis: PhaseAnalysis) -> str:
    """The terminal summary: intervals, the validation table, the predictions."""
    lines: list[str] = []
    stability, cmap = analysis.stability, analysis.capability
    if stability:
        s = stability.board_summary
        lines.append(
            f"rank stability ({stability.n_resamples} resamples): Kendall's tau of the board "
            f"median {s.median:.3f} (quartiles {s.q25:.3f}-{s.q75:.3f})"
        )
        for d in stability.distributions:
            lines.append(
                f"  {d.place:3d}  {d.name[:32]:32s} median {d.median:5.1f}  interval "
                f"{d.low}-{d.high}  P(first) {d.p_first:.3f}{'  (baseline)' if d.baseline else ''}"
            )
    if cmap:
        lines.append(
            f"capability map: held-out RMSE of the gap ({cmap.n_heldout_cells} cells, "
            f"{cmap.n_folds} folds x {cmap.repeats})"
        )
        lines.append(f"  {'dim':>3s} {'held-out':>9s} {'s.e.':>6s} {'training':>9s} "
                     f"{'per-task mean':>14s}")  # fmt: skip
        for c in cmap.cv:
            mark = "  <- chosen" if c.dimension == cmap.dimension else ""
            lines.append(
                f"  {c.dimension:3d} {c.heldout_rmse:9.3f} {c.heldout_se:6.3f} "
                f"{c.train_rmse:9.3f} {cmap.baseline_rmse:14.3f}{mark}"
            )
        unit = "Q" if cmap.score_kind == "q" else "mean"
        for p in cmap.predictions:
            truth = "" if p.true_score is None else f"  true {unit} {p.true_score:8.3f}"
            lines.append(
                f"  predicted {p.entry[:24]:24s} on {p.task[:24]:24s} gap {p.gap:6.3f}  "
                f"{unit} {p.score:8.3f}  (per-task mean {p.task_mean_score:8.3f}){truth}"
            )
    return "".join(f"{line}\n" for line in lines)


# ---- every file --------------------------------------------------------------------------------


def analysis_files(
    analysis: PhaseAnalysis, cell: Cell = markdown_text, label: figures.Label = figures.plain_label
) -> dict[str, bytes]:
    """Every file of the analysis by name (see the module docstring)."""
    title = label(analysis.scores.title)
    files = {
        "report.md": analysis_markdown(analysis, cell).encode(),
        "analysis.json": analysis_json(analysis),
    }
    if analysis.stability:
        files["rank_blobs.png"] = figures.rank_blobs_png(analysis.stability, title, label)
        files["rank_tau.png"] = figures.rank_tau_png(analysis.stability, title, label)
        files["task_agreement.png"] = figures.task_agreement_png(analysis.stability, title, label)
    if analysis.capability:
        files["capability_map.png"] = figures.capability_map_png(
            analysis.capability, analysis.scores.baselines, title, label
        )
        files["capability_fit.png"] = figures.capability_fit_png(analysis.capability, title)
    return files
