"""Are `shared` mini-batches statistically the same as the protocol's own (`independent`)?

    python bench/batching_fidelity.py [--seeds 12] [--out bench-output/batching_fidelity.json]

`independent` batching is the reference's procedure, exactly (tests/unit/
test_probe_equivalence.py shows it equals sequential PyTorch training given the same draws).
This script scores the golden challenge (4 teams x 9 tasks, K = 40, E = 20, split seed 42) under
--seeds different probe seeds in both modes and compares, per team x task cell, the
distribution of Q, of the mean split score and of the split-score std across probe seeds:
z = (mean_shared - mean_independent) / standard error of the difference. If the modes are
statistically identical, z is standard normal: about 5 % of cells beyond |z| > 2, mean z near 0.
Not a test; the figures go into docs/fidelity.md.
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


def z_scores(values: dict, key: str) -> list[float]:
    out = []
    for cell in values.values():
        a, b = np.array(cell[f"shared_{key}"]), np.array(cell[f"independent_{key}"])
        se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
        out.append(float((a.mean() - b.mean()) / se) if se > 0 else 0.0)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=12)
    p.add_argument("--out", type=Path, default=ROOT / "bench-output" / "batching_fidelity.json")
    args = p.parse_args()
    values = run(args.seeds)
    summary = {}
    print(f"{len(values)} cells x {args.seeds} probe seeds per mode\n")
    print("| quantity | mean z | sd of z | cells with abs(z) > 2 | sd ratio shared/indep (median) |")
    print("|---|---|---|---|---|")
    for key in ("q", "mean", "std"):
        z = np.array(z_scores(values, key))
        ratio = np.median(
            [np.std(c[f"shared_{key}"]) / max(np.std(c[f"independent_{key}"]), 1e-12)
             for c in values.values()]
        )
        summary[key] = {
            "mean_z": float(z.mean()),
            "sd_z": float(z.std(ddof=1)),
            "beyond_2": int((np.abs(z) > 2).sum()),
            "cells": int(z.size),
            "sd_ratio_median": float(ratio),
        }
        print(f"| {key} | {z.mean():+.2f} | {z.std(ddof=1):.2f} | {(np.abs(z) > 2).sum()} of "
              f"{z.size} | {ratio:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "cells": values}, indent=1))
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
