"""`python -m scoring analyze`: a phase's result folders in, the analysis files out.

I/O: reads `<output_dir>/<phase>/*/` (the runs `evaluate` wrote, as `summarize` does) and writes
`<output_dir>/analysis/<phase>/` (report.md, analysis.json, PNGs), replacing older files of the
same names. Prints the validation table, the predictions and the timings.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

from scoring.analysis import AnalysisOptions, PhaseScores, analyse_phase, analysis_summary
from scoring.analysis import analysis_files as render_files
from scoring.reports import RunDetail, read_run_details


def entry_names(runs: list[RunDetail]) -> dict[str, RunDetail]:
    """{entry name: run}: the method name where a method has one run, else the experiment."""
    counts = Counter(r.method for r in runs)
    return {(r.method if counts[r.method] == 1 else r.experiment): r for r in runs}


def _resolve(name: str, entries: dict[str, RunDetail]) -> str:
    """An entry given by entry, method or experiment name."""
    if name in entries:
        return name
    matches = [e for e, r in entries.items() if name in (r.method, r.experiment)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(entries))
    raise ValueError(f"no single entry named {name!r}; entries: {known}")


def phase_scores(args: argparse.Namespace, runs: list[RunDetail]) -> PhaseScores:
    entries = entry_names(runs)
    tasks = sorted({t for r in runs for t in r.task_q})
    baselines = tuple(sorted({_resolve(b, entries) for b in args.baseline}))
    return PhaseScores(
        phase=args.phase,
        title=args.title or f"Phase {args.phase}",
        tasks=tuple(tasks),
        task_q={e: r.task_q for e, r in entries.items()},
        task_mean={e: r.task_mean for e, r in entries.items()},
        split_scores={e: r.split_scores for e, r in entries.items()},
        baselines=baselines,
        weight_exclude=baselines,
        ghost_std=args.ghost_std,
    )


def run_analysis(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    runs = read_run_details(args.output_dir, args.phase)
    if len(runs) < 2:
        out.write(f"{len(runs)} run(s) in phase {args.phase!r}: an analysis needs at least two\n")
        return 0
    try:
        scores = phase_scores(args, runs)
        entries = entry_names(runs)
        hold_out = tuple((_resolve(e, entries), t) for e, t in args.hold_out)
        options = AnalysisOptions(
            dimensions=args.dimensions, max_dimension=args.max_dimensions,
            score_kind="q" if args.score == "q" else "mean_score", hold_out=hold_out,
            n_resamples=args.resamples, bootstrap_seed=args.seed, map_seed=args.seed,
        )  # fmt: skip
        read = time.perf_counter()
        analysis = analyse_phase(scores, options)
    except ValueError as exc:
        err.write(f"error: {exc}\n")
        return 2
    computed = time.perf_counter()
    files = render_files(analysis)
    folder = Path(args.output_dir) / "analysis" / args.phase
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    written = time.perf_counter()
    out.write(analysis_summary(analysis))
    for note in analysis.notes:
        err.write(f"note: {note}\n")
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in analysis.seconds.items())
    out.write(f"time: read {read - started:.1f} s, {parts}, pictures and files "
              f"{written - computed:.1f} s; total {written - started:.1f} s\n")  # fmt: skip
    out.write(f"analysis written to {folder}/ ({', '.join(sorted(files))})\n")
    return 0
