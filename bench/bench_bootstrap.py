"""Benchmark of `scoring.bootstrap.rank_intervals` at the final-phase size. Computes only.

20 entries x 9 tasks x 200 splits x 1,000 resamples (target <= 10 s on 2 cores). Run:
    .venv/bin/python bench/bench_bootstrap.py [repeats]
Prints the best and median wall time (time.perf_counter) over the repeats, after one warm-up.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from scoring.bootstrap import rank_intervals

N_ENTRIES, N_TASKS, K, B = 20, 9, 200, 1000


def synthetic_splits(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Split scores shaped like the final phase: per-entry skill, per-task difficulty, 2 % NaN."""
    tasks = [f"task{t}" for t in range(N_TASKS)]
    skill = rng.normal(0.5, 0.1, N_ENTRIES)
    spread = rng.uniform(0.02, 0.1, N_TASKS)
    out: dict[str, dict[str, np.ndarray]] = {}
    for e in range(N_ENTRIES):
        per_task = {}
        for t, task in enumerate(tasks):
            s = rng.normal(skill[e], spread[t], K)
            s[rng.random(K) < 0.02] = np.nan
            per_task[task] = s
        out[f"entry{e:02d}"] = per_task
    return out


def main(repeats: int) -> None:
    data = synthetic_splits(np.random.default_rng(0))
    tasks = [f"task{t}" for t in range(N_TASKS)]
    rank_intervals(data, tasks, np.random.default_rng(1), n_resamples=B)  # warm-up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        rank_intervals(data, tasks, np.random.default_rng(r), n_resamples=B)
        times.append(time.perf_counter() - start)
    print(
        f"rank_intervals {N_ENTRIES} entries x {N_TASKS} tasks x {K} splits x {B} resamples: "
        f"best {min(times):.3f} s, median {statistics.median(times):.3f} s over {repeats} runs"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
