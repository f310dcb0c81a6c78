"""Benchmark breadth on the synthetic final phase: Q per team under each opt-in option.

    .venv/bin/python bench/breadth_numbers.py [--size demo] [--k 40] [--epochs 20]
        [--teams strong nonlinear weak baseline_random] [--runs linear mlp few5 ...]
        [--json out.json]

Generates the synthetic challenge with `--breadth` (region groups, the multi-class task
landcover_class) into a temporary folder, then scores every team's submission on the final
phase under: the linear probe (baseline; the multi-class task gets the softmax probe), the MLP
probe, few-shot train fractions 5 %, 10 % and 50 %, and grouped (region hold-out) splits.
Prints mean Q and Q per task per (run, team), and the seconds each took. Writes JSON on request.
The measured tables are in docs/scoring.md ("Measured on the synthetic final phase").
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scoring.config import probe_config_from_mapping  # noqa: E402
from scoring.engine import score_submission  # noqa: E402
from scoring.labels import load_tasks  # noqa: E402
from scoring.submission import load_submission  # noqa: E402
from synthetic.challenge import make_challenge  # noqa: E402
from synthetic.spec import spec_for_size  # noqa: E402
from synthetic.writer import write_challenge  # noqa: E402

RUNS = {
    "linear": {},
    "mlp": {"probe_type": "mlp"},
    "few5": {"train_fraction": 0.05},
    "few10": {"train_fraction": 0.1},
    "few50": {"train_fraction": 0.5},
    "grouped": {"split_mode": "grouped"},
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="demo")
    ap.add_argument("--k", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--teams", nargs="*", default=["strong", "nonlinear", "weak",
                                                   "baseline_random"])
    ap.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        layout = write_challenge(
            make_challenge(spec_for_size(args.size, breadth=True)), tmp, gzip_submissions=False
        )
        tasks = load_tasks(layout.annotations["final"])
        expected = set().union(*(set(t.ids) for t in tasks))
        tables = {
            team: load_submission(layout.submissions[team], expected, embedding_dim=None,
                                  strict=True)
            for team in args.teams
        }
        names = [t.name for t in tasks]
        print(f"{args.size} final phase, {len(tasks)} tasks, K = {args.k}, "
              f"{args.epochs} epochs, seed 42", flush=True)
        print(f"{'run':8s} {'team':16s} {'mean Q':>7s} {'s':>6s}  "
              + " ".join(f"{n[:10]:>10s}" for n in names), flush=True)
        for run in args.runs:
            config = probe_config_from_mapping(
                {"k_folds": args.k, "epochs": args.epochs, **RUNS[run]}
            )
            for team, table in tables.items():
                started = time.perf_counter()
                card, _ = score_submission(table, tasks, config, seed=42)
                seconds = time.perf_counter() - started
                qs = {t.task: t.q for t in card.tasks}
                results.append({
                    "run": run, "team": team, "mean_q": card.mean_q, "seconds": seconds,
                    "q": qs, "mean_score": {t.task: t.mean_score for t in card.tasks},
                    "report": {t.task: t.report for t in card.tasks},
                })
                print(f"{run:8s} {team:16s} {card.mean_q:7.2f} {seconds:6.1f}  "
                      + " ".join(f"{qs[n]:10.2f}" for n in names), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
