"""Are `shared` mini-batches statistically the same as the protocol's own (`independent`)?

    python bench/batching_fidelity.py [--seeds 12] [--out bench-output/batching_fidelity.json]

`independent` batching is the reference's procedure, exactly (tests/unit/
test_probe_equivalence.py shows it equals sequential PyTorch training given the same draws).
This script scores the golden challenge (4 teams x 9 tasks, K = 40, E = 20, split seed 42) under
--seeds different probe seeds in both modes and compares, per team x task cell, Q, the mean
split score and the split-score std. The design is paired: a probe seed gives both modes the
same initial weights, so only the mini-batch formation differs, and the paired difference
isolates it (the shared initialisation makes the two modes correlate ~0.98 across seeds).
Per cell: t = mean(d) / (sd(d) / sqrt(n)) over the n paired differences d, and the effect size
mean(d) / sd_independent (the difference in units of the protocol's own probe-seed spread). If
the modes are statistically identical, t follows Student's t with n-1 degrees of freedom:
about 5 % of cells beyond the two-sided 5 % critical value. Not a test; the figures go into
docs/fidelity.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import scoring.engine as engine  # noqa: E402
from scoring.config import load_probe_config  # noqa: E402
from scoring.labels import load_tasks  # noqa: E402
from scoring.submission import load_submission  # noqa: E402

GOLDEN = ROOT.parent / "shared" / "golden"


def run(seeds: int) -> dict:
    tasks = load_tasks(GOLDEN / "annotations")
    expected = set().union(*(set(t.ids) for t in tasks))
    base = load_probe_config(GOLDEN / "config.yaml")
    original = engine.task_generator_seed
    values: dict = {}
    for team in ("strong", "weak", "nonlinear", "baseline_random"):
        table = load_submission(
            GOLDEN / "submissions" / f"{team}.csv.gz", expected, embedding_dim=None, strict=True
        )
        for mode in ("shared", "independent"):
            config = base.replace(batching=mode)
            for probe_seed in range(seeds):
                # Vary only the probe stream; the splits stay ShuffleSplit(seed 42).
                engine.task_generator_seed = lambda s, t, p=probe_seed: original(s + 7919 * p, t)
                card, _ = engine.score_submission(table, tasks, config, seed=42)
                for t in card.tasks:
                    cell = values.setdefault(f"{team}/{t.task}", {})
                    for key, v in (("q", t.q), ("mean", t.mean_score), ("std", t.std_score)):
                        cell.setdefault(f"{mode}_{key}", []).append(v)
    engine.task_generator_seed = original
    return values


def paired(values: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: paired t statistic and effect size (mean difference / protocol sd)."""
    t, effect = [], []
    for cell in values.values():
        a, b = np.array(cell[f"shared_{key}"]), np.array(cell[f"independent_{key}"])
        d = a - b
        se = d.std(ddof=1) / math.sqrt(d.size)
        t.append(float(d.mean() / se) if se > 0 else 0.0)
        sd = b.std(ddof=1)
        effect.append(float(d.mean() / sd) if sd > 0 else 0.0)
    return np.array(t), np.array(effect)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--out", type=Path, default=ROOT / "bench-output" / "batching_fidelity.json")
    args = p.parse_args()
    values = run(args.seeds)
    from scipy.stats import t as student_t

    critical = float(student_t.ppf(0.975, args.seeds - 1))
    summary = {"critical_t": critical}
    print(f"{len(values)} cells x {args.seeds} paired probe seeds; two-sided 5 % critical "
          f"|t| = {critical:.2f}\n")
    print("| quantity | mean t | cells beyond critical | median abs effect | max abs effect |"
          " sd ratio shared/indep (median) |")
    print("|---|---|---|---|---|---|")
    for key in ("q", "mean", "std"):
        t, effect = paired(values, key)
        ratio = np.median(
            [np.std(c[f"shared_{key}"]) / max(np.std(c[f"independent_{key}"]), 1e-12)
             for c in values.values()]
        )
        beyond = int((np.abs(t) > critical).sum())
        summary[key] = {
            "mean_t": float(t.mean()),
            "beyond_critical": beyond,
            "cells": int(t.size),
            "median_abs_effect": float(np.median(np.abs(effect))),
            "max_abs_effect": float(np.abs(effect).max()),
            "sd_ratio_median": float(ratio),
        }
        print(f"| {key} | {t.mean():+.2f} | {beyond} of {t.size} | "
              f"{np.median(np.abs(effect)):.3f} sd | {np.abs(effect).max():.3f} sd | "
              f"{ratio:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "cells": values}, indent=1))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
