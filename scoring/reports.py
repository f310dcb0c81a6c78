"""Standalone-mode reports in the reference's layout. Writes files under the output folder.

    <output_dir>/<phase>/<method>_<YYYYMMDD_HHMMSS>/results_summary.json
    <output_dir>/<phase>/<method>_<YYYYMMDD_HHMMSS>/<task>/<task>_result.json
    <output_dir>/leaderboards/<phase>/leaderboard_<YYYYMMDD_HHMMSS>.csv   (summarize)
    <output_dir>/analysis/<phase>/...   (analyze: written by `scoring.cli`, read from the runs)

Keys follow the reference (including its spelling `hyperparamaters`); this engine adds the
seed, the config fingerprint, warning flags, failed-split counts, per-split scores and the
report metrics, so a result file alone says how to reproduce it.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scoring.config import ProbeConfig
from scoring.ranking import Leaderboard, rank_entries
from scoring.results import ScoreCard, TaskScore

TIMESTAMP = "%Y%m%d_%H%M%S"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def run_folder(output_dir: Path, phase: str, method: str, now: datetime) -> Path:
    """A fresh run folder; a second run in the same second gets a numeric suffix."""
    base = Path(output_dir) / phase / f"{method}_{now.strftime(TIMESTAMP)}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}_{n}")
    folder.mkdir(parents=True)
    return folder


def _hyperparameters(score: TaskScore, config: ProbeConfig) -> dict[str, Any]:
    """The probe's hyper-parameters; for the SVM, the best candidate of the search (the
    reference writes the refitted model's parameters there)."""
    if config.svm is not None:
        prefix = "svm_best_"
        best = {k[len(prefix):]: v for k, v in score.report.items() if k.startswith(prefix)}
        if "degree" in best:  # a whole number, as in the reference's best_params_
            best["degree"] = int(best["degree"])
        return {"probe_type": "svm", "kernel": "poly", **best}
    out: dict[str, Any] = {
        "epochs": config.epochs,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
    }
    if config.hidden_units is not None:
        out["hidden_units"] = config.hidden_units
    return out


def task_result(score: TaskScore, config: ProbeConfig, seed: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "q_stat": _finite_or_none(score.q),
        "mean_score": _finite_or_none(score.mean_score),
        "std_dev": _finite_or_none(score.std_score),
        "hyperparamaters": _hyperparameters(score, config),
        "task_type": score.kind,
        "metric": score.metric,
        "n_rows": score.n_rows,
        "k_folds": score.k,
        "seed": seed,
        "failed_splits": score.failed_splits,
        "split_scores": [_finite_or_none(s) for s in score.split_scores],
        "best_epochs": list(score.best_epochs),
        "report": {k: _finite_or_none(v) for k, v in score.report.items()},
        "seconds": round(score.seconds, 3),
    }
    if config.output_fold_results:
        result["q_t"] = result["split_scores"]
    return result


def write_run(
    folder: Path, experiment: str, card: ScoreCard, config: ProbeConfig
) -> Path:
    """Write results_summary.json and every task's result JSON; return the summary's path."""
    for score in card.tasks:
        task_dir = folder / score.task
        task_dir.mkdir(parents=True, exist_ok=True)
        (task_dir / f"{score.task}_result.json").write_text(
            json.dumps(task_result(score, config, card.seed), indent=2) + "\n"
        )
    q = {t.task: _finite_or_none(t.q) for t in card.tasks}
    acc = {t.task: _finite_or_none(t.mean_score) for t in card.tasks}
    accs = [t.mean_score for t in card.tasks]
    summary = {
        "experiment": experiment,
        "overall_q_score": _finite_or_none(card.mean_q),
        "overall_acc_score": _finite_or_none(sum(accs) / len(accs)) if accs else None,
        "task_q_scores": q,
        "task_acc_scores": acc,
        "config": config.as_reference_dict(),
        "seed": card.seed,
        "config_fingerprint": card.config_fingerprint,
        "warnings": [{"code": w.code, "message": w.message} for w in card.warnings],
        "failed_splits": {t.task: t.failed_splits for t in card.tasks},
        "seconds": round(card.seconds, 3),
    }
    path = folder / "results_summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class PhaseRun:
    experiment: str
    task_q: dict[str, float]
    task_acc: dict[str, float]
    overall_q: float
    overall_acc: float


def read_phase_runs(output_dir: Path, phase: str) -> list[PhaseRun]:
    """Every results_summary.json under <output_dir>/<phase>/*/ (both key generations)."""
    return [run for _, run in _phase_runs(output_dir, phase)]


def _phase_runs(output_dir: Path, phase: str) -> list[tuple[Path, PhaseRun]]:
    """(run folder, PhaseRun) of every results_summary.json of the phase."""
    phase_dir = Path(output_dir) / phase
    if not phase_dir.is_dir():
        raise FileNotFoundError(f"no results under {phase_dir}; run `evaluate` first")
    runs = []
    for path in sorted(phase_dir.glob("*/results_summary.json")):
        data = json.loads(path.read_text())
        q = data.get("task_q_scores", data.get("task_results", {}))
        acc = data.get("task_acc_scores", {})

        def num(v: Any) -> float:
            return math.nan if v is None else float(v)

        run = PhaseRun(
            experiment=data["experiment"],
            task_q={k: num(v) for k, v in q.items()},
            task_acc={k: num(v) for k, v in acc.items()},
            overall_q=num(data.get("overall_q_score", data.get("overall_score"))),
            overall_acc=num(data.get("overall_acc_score")),
        )
        runs.append((path.parent, run))
    return runs


@dataclass(frozen=True)
class RunDetail:
    """A run's per-task detail for the post-reveal analyses (`python -m scoring analyze`)."""

    experiment: str
    method: str  # the experiment name without its run time stamp
    task_q: dict[str, float]
    task_mean: dict[str, float]  # mean split score
    split_scores: dict[str, tuple[float, ...]]  # tasks whose result file lists them


RUN_SUFFIX = re.compile(r"_\d{8}_\d{6}(_\d+)?$")


def read_run_details(output_dir: Path, phase: str) -> list[RunDetail]:
    """Every run of the phase with its per-task Q, mean score and split scores.

    Split scores come from `<task>/<task>_result.json` (`split_scores`, or the reference's
    `q_t` when it wrote fold results); a task without them has none, and the rank-stability
    analysis leaves that run out.
    """
    details = []
    for folder, run in _phase_runs(output_dir, phase):
        splits: dict[str, tuple[float, ...]] = {}
        for task in run.task_q:
            path = folder / task / f"{task}_result.json"
            if not path.is_file():
                continue
            data = json.loads(path.read_text())
            values = data.get("split_scores", data.get("q_t"))
            if isinstance(values, list) and values:
                splits[task] = tuple(math.nan if v is None else float(v) for v in values)
        details.append(
            RunDetail(
                experiment=run.experiment,
                method=RUN_SUFFIX.sub("", run.experiment),
                task_q=run.task_q,
                task_mean=run.task_acc,
                split_scores=splits,
            )
        )
    return details


def phase_leaderboard(
    runs: Sequence[PhaseRun], weight_exclude: Sequence[str] = (), ghost_std: float | None = None
) -> Leaderboard:
    tasks = sorted({t for r in runs for t in r.task_q})
    return rank_entries(
        {r.experiment: r.task_q for r in runs},
        tasks,
        weight_exclude=weight_exclude,
        ghost_std=ghost_std,
    )


def write_leaderboard_csv(
    output_dir: Path, phase: str, runs: Sequence[PhaseRun], board: Leaderboard, now: datetime
) -> Path:
    """The reference's columns: experiment, mean_score, weighted_score, aggregated_rank,
    q::<task>…, acc::<task>…, overall_q_score, overall_acc_score; best first."""
    folder = Path(output_dir) / "leaderboards" / phase
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"leaderboard_{now.strftime(TIMESTAMP)}.csv"
    by_name = {r.experiment: r for r in runs}
    tasks = list(board.tasks)
    header = ["experiment", "mean_score", "weighted_score", "aggregated_rank"]
    header += [f"q::{t}" for t in tasks] + [f"acc::{t}" for t in tasks]
    header += ["overall_q_score", "overall_acc_score"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in board.rows:
            run = by_name[row.name]
            writer.writerow(
                [row.name, repr(row.mean_q), repr(row.weighted_score), row.rank]
                + [repr(row.task_q[t]) for t in tasks]
                + [repr(run.task_acc.get(t, math.nan)) for t in tasks]
                + [repr(run.overall_q), repr(run.overall_acc)]
            )
    return path
