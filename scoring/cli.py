"""Standalone command-line tool, compatible with NeuCo-Bench's `main.py`. Reads and writes files.

    python -m scoring evaluate --annotation_path DIR --submission_file F --output_dir DIR \
        --config YAML --method_name NAME --phase PHASE [--exclude_file F] [--seed N] [--strict] \
        [--processes auto|N]
    python -m scoring summarize --output_dir DIR --phase PHASE
    python -m scoring analyze --output_dir DIR --phase PHASE [--dimensions auto|N] [--baseline NAME]
        [--score q|mean] [--hold-out ENTRY:TASK] [--seed N] [--resamples N]
    python -m scoring check FILE [--ids IDS.txt] [--dim 1024]   (no labels, no torch)

The file is read and the tasks are scored in a pool of single-threaded processes (one per
usable CPU by default; `--processes 1` for one), with the same numbers as one process.

Exit codes: 0 success, 1 a scoring process failed (crashed, or ran out of memory or time), 2
bad arguments or config, 3 the submission was rejected, 4 the annotation folder is unusable.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from scoring import check
from scoring.config import ConfigError, ProbeConfig, load_probe_config
from scoring.labels import AnnotationError, Task, load_tasks, select_tasks
from scoring.pool import (
    ChildFailed,
    PoolLimits,
    ScoringPool,
    SharedFolder,
    process_count,
    score_shared,
    shared_submission,
)
from scoring.pool.evaluation import uses_gpu
from scoring.reports import (
    phase_leaderboard,
    read_phase_runs,
    run_folder,
    write_leaderboard_csv,
    write_run,
)
from scoring.submission import SubmissionError

if TYPE_CHECKING:
    from scoring.engine import TaskOutcome

if TYPE_CHECKING:
    from scoring.engine import TaskOutcome


class ProgressBar:
    """tasks × splits progress on a terminal; silent when the stream is not a TTY. Tasks may
    progress in any order (they are scored in parallel)."""

    def __init__(self, stream: TextIO, total_splits: int, k: int) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.total = total_splits
        self.k = k
        self.epochs_done: dict[int, float] = {}

    def __call__(self, task_index: int, task_count: int, epoch: int, epochs: int) -> None:
        if not self.enabled:
            return
        self.epochs_done[task_index] = epoch / epochs
        done = self.k * sum(self.epochs_done.values())
        finished = sum(1 for share in self.epochs_done.values() if share >= 1)
        width = 30
        filled = int(width * done / max(self.total, 1))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] tasks done {finished}/{task_count} "
            f"· {done:,.0f}/{self.total:,} splits"
        )
        if finished == task_count:
            self.stream.write("\n")
        self.stream.flush()


def _read_exclude(path: Path | None) -> set[str]:
    if path is None:
        return set()
    if not path.exists():
        raise FileNotFoundError(f"exclude file not found: {path}")
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def _write_plots(
    folder: Path, outcomes: list[TaskOutcome], config: ProbeConfig, tasks: tuple[Task, ...]
) -> None:
    from scoring import plots  # matplotlib only when plots are asked for

    classes = {t.name: t.classes for t in tasks}
    step = "candidate" if config.probe_type == "svm" else "epoch"
    for outcome in outcomes:
        score = outcome.score
        task_dir = folder / score.task
        plots.learning_curves_png(
            task_dir / f"{score.task}_learning_curves.png",
            score.task,
            outcome.run,
            score.metric,
            probe=config.probe_type,
            step=step,
        )
        if score.kind == "regr":
            plots.parity_png(
                task_dir / f"{score.task}_parity.png",
                score.task,
                outcome.run.best_test_pred,
                outcome.test_targets,
                score.mean_score,
            )
        elif score.kind == "mcls":
            names = classes[score.task]
            counts = [[score.report[f"confusion_{t}_{p}"] for p in names] for t in names]
            plots.confusion_matrix_png(
                task_dir / f"{score.task}_confusion_matrix.png", score.task, counts, names
            )
        else:
            r = score.report
            plots.confusion_png(
                task_dir / f"{score.task}_confusion_matrix.png",
                score.task,
                r["confusion_tn"],
                r["confusion_fp"],
                r["confusion_fn"],
                r["confusion_tp"],
            )


def _processes(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a whole number >= 1, got {value!r}")
    return count


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_probe_config(args.config)
    if args.seed is not None:
        config = config.replace(seed=args.seed)
    processes = process_count(args.processes, uses_gpu(config.device))
    # Started first: the processes load torch while this one reads the labels.
    with ScoringPool(processes, os.environ, PoolLimits(None, None)) as pool:
        tasks = select_tasks(load_tasks(args.annotation_path), config.task_filter)
        expected = set().union(*(set(t.ids) for t in tasks))
        exclude = _read_exclude(args.exclude_file)
        options = dict(
            embedding_dim=config.embedding_dim,
            strict=args.strict,
            standardize=config.standardize_embeddings,
            exclude_ids=exclude,
        )
        folder = SharedFolder()
        try:
            with shared_submission(pool, folder, args.submission_file, expected, options) as shared:
                progress = ProgressBar(err, len(tasks) * config.k_folds, config.k_folds)
                card, outcomes = score_shared(
                    pool,
                    shared,
                    tasks,
                    config,
                    config.seed,
                    on_progress=progress,
                    keep_outcomes=config.enable_plots,
                )
        finally:
            folder.close()
    method = args.method_name or Path(args.submission_file).name.split(".")[0]
    now = datetime.now(UTC)
    folder = run_folder(args.output_dir, args.phase, method, now)
    summary = write_run(folder, folder.name, card, config)
    if config.enable_plots:
        _write_plots(folder, outcomes, config, tasks)
    for finding in card.warnings:
        err.write(f"warning [{finding.code}]: {finding.message}\n")
    out.write(f"{'task':28s} {'Q':>9s} {'mean':>9s} {'std':>8s} failed\n")
    for t in card.tasks:
        out.write(
            f"{t.task:28s} {t.q:9.3f} {t.mean_score:9.4f} {t.std_score:8.4f} "
            f"{t.failed_splits:3d}/{t.k}\n"
        )
    out.write(f"{'mean Q':28s} {card.mean_q:9.3f}   (seed {card.seed}, {card.seconds:.1f} s)\n")
    out.write(f"results: {summary}\n")
    if config.update_leaderboard:
        return cmd_summarize(args, out, err)
    return 0


def cmd_summarize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    runs = read_phase_runs(args.output_dir, args.phase)
    if not runs:
        out.write("No results to summarize.\n")
        return 0
    board = phase_leaderboard(
        runs, getattr(args, "weight_exclude", None) or (), getattr(args, "ghost_std", None)
    )
    for name in board.dropped:
        err.write(f"left out (a task's Q is missing): {name}\n")
    if not board.rows:
        out.write("No complete runs (all have missing metrics); nothing to rank.\n")
        return 0
    path = write_leaderboard_csv(args.output_dir, args.phase, runs, board, datetime.now(UTC))
    out.write(f"{'rank':>4s}  {'experiment':40s} {'mean Q':>8s} {'weighted':>9s}\n")
    for row in board.rows:
        mean_q = f"{row.mean_q:8.3f}" if math.isfinite(row.mean_q) else "     nan"
        out.write(f"{row.rank:4d}  {row.name[:40]:40s} {mean_q} {row.weighted_score:9.3f}\n")
    out.write(f"Leaderboard CSV saved to {path}\n")
    return 0


def _dimensions(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {text!r}")
    return value


def _cell(text: str) -> tuple[str, str]:
    entry, sep, task = text.rpartition(":")
    if not sep or not entry or not task:
        raise argparse.ArgumentTypeError(f"expected ENTRY:TASK, got {text!r}")
    return entry, task


def cmd_analyze(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from scoring.analysis_command import run_analysis  # torch, matplotlib only when asked for

    return run_analysis(args, out, err)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m scoring", description="NeuCo-Bench scoring engine (standalone mode)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="score one submission on an annotation folder")
    ev.add_argument("--annotation_path", type=Path, required=True, help="folder of label CSVs")
    ev.add_argument("--submission_file", type=Path, required=True, help=".csv, .csv.gz or .zip")
    ev.add_argument("--output_dir", type=Path, default=Path("results"))
    ev.add_argument("--config", type=Path, default=Path("config.yaml"))
    ev.add_argument("--method_name", default=None, help="defaults to the file name's stem")
    ev.add_argument("--phase", default="results")
    ev.add_argument("--exclude_file", type=Path, default=None, help="ids to leave out, one a line")
    ev.add_argument("--seed", type=int, default=None, help="split seed (default: config, 42)")
    ev.add_argument(
        "--strict",
        action="store_true",
        help="competition rules: reject missing ids and non-numeric cells instead of warning",
    )
    ev.add_argument(
        "--processes",
        type=_processes,
        default="auto",
        help="scoring processes, one thread each (default: auto = one per usable CPU)",
    )
    sm = sub.add_parser("summarize", help="rank every run of a phase into a leaderboard CSV")
    sm.add_argument("--output_dir", type=Path, default=Path("results"))
    sm.add_argument("--phase", default="results")
    sm.add_argument(
        "--weight-exclude",
        action="append",
        metavar="EXPERIMENT",
        help="leave this entry out of the task weights (repeatable), e.g. a random baseline",
    )
    sm.add_argument(
        "--ghost-std", type=float, default=None, help="ghost-task stabiliser spread (Q units)"
    )
    an = sub.add_parser(
        "analyze",
        help="after the reveal: rank stability and capability map of a phase's runs",
        description="Rank stability (bootstrap blob plot, Kendall's tau, task agreement) and "
        "the capability map (entries and tasks in one space; held-out validation; predictions "
        "for unscored cells) of every run of a phase. Writes PNGs, analysis.json and report.md "
        "to <output_dir>/analysis/<phase>/. Entries are named by method when each method has "
        "one run, else by experiment (the run folder's name).",
    )
    an.add_argument("--output_dir", type=Path, default=Path("results"))
    an.add_argument("--phase", default="results")
    an.add_argument("--dimensions", type=_dimensions, default="auto",
                    help="capability map dimension: auto (validated, 1..--max-dimensions) or N")
    an.add_argument("--max-dimensions", type=int, default=5,
                    help="largest dimension validated (default 5, the paper's)")
    an.add_argument("--baseline", action="append", default=[], metavar="ENTRY",
                    help="an organiser baseline: no competing place, out of the task weights "
                    "(repeatable)")
    an.add_argument("--ghost-std", type=float, default=None,
                    help="ghost-task stabiliser spread (Q units), as in summarize")
    an.add_argument("--score", choices=("q", "mean"), default="q",
                    help="capability gaps from per-task Q (default) or the mean split score")
    an.add_argument("--hold-out", action="append", type=_cell, default=[], metavar="ENTRY:TASK",
                    help="hide a scored cell from the map and report its prediction against the "
                    "truth (repeatable)")
    an.add_argument("--seed", type=int, default=0, help="bootstrap and map seed (default 0)")
    an.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (>= 1000)")
    an.add_argument("--title", default=None, help="title of the pictures (default: the phase)")
    check.add_parser(sub)
    return p


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            return cmd_evaluate(args, out, err)
        if args.command == "analyze":
            return cmd_analyze(args, out, err)
        if args.command == "check":
            return check.cmd_check(args, out, err)
        return cmd_summarize(args, out, err)
    except ConfigError as exc:
        err.write(f"error: {exc}\n")
        return 2
    except SubmissionError as exc:
        err.write(f"submission rejected [{exc.code}]: {exc.message}\n")
        return 3
    except (AnnotationError, FileNotFoundError) as exc:
        err.write(f"error: {exc}\n")
        return 4
    except ChildFailed as exc:
        err.write(f"error: {exc}\n")
        return 1
