"""Run time of the post-reveal analysis (`python -m scoring analyze`) on a wide synthetic phase.

    python bench/analysis_benchmark.py [--out bench-output] [--k 40] [--repeat 3]

Prepares once (cached in --out): the demo-size synthetic challenge with the wide team set
(12 entries: `python -m synthetic --teams wide`), every submission scored on the final phase
(9 tasks) with K splits, 20 epochs. Then runs the whole analysis --repeat times, each in a fresh
subprocess (imports included: what an organiser waits for), with 4 cells held out, and reports
the median wall time and the median CPU time (user + system) of the subprocess. On a busy
machine wall time is mostly waiting for a core: say how loaded it was. Target: <= 30 s wall.
Prints a Markdown table and writes <out>/analysis_benchmark.json. Not a test: CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOLD_OUT = ("strong:crops", "landcover_only:biomass_mean", "land_specialist:landcover_forest",
            "climate_specialist:heat-island_mean")  # fmt: skip
CONFIG = """k_folds: {k}
probe_type: "linear"
probe_params: {{batch_size: 64, epochs: 20, learning_rate: 0.001, device: "cpu"}}
embedding_dim: null
standardize_embeddings: true
normalize_labels: true
enable_plots: false
update_leaderboard: false
"""


def python(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, check=True, text=True,
                          capture_output=True, **kwargs)  # type: ignore[call-overload]


def prepare(out: Path, k: int) -> Path:
    """The wide challenge and its 12 scored submissions; returns the results folder."""
    challenge, results = out / "wide-challenge", out / f"wide-results-k{k}"
    if not (challenge / "challenge.json").exists():
        python("-m", "synthetic", "--out", str(challenge), "--size", "demo", "--teams", "wide")
    config = out / f"wide-k{k}.yaml"
    config.write_text(CONFIG.format(k=k))
    for submission in sorted((challenge / "submissions").glob("*.csv")):
        team = submission.name.removesuffix(".csv")
        if (results / "final").is_dir() and any((results / "final").glob(f"{team}_2*")):
            continue
        started = time.perf_counter()
        python("-m", "scoring", "evaluate", "--annotation_path",
               str(challenge / "phases" / "final" / "annotations"), "--submission_file",
               str(submission), "--output_dir", str(results), "--config", str(config),
               "--method_name", team, "--phase", "final", "--seed", "7")  # fmt: skip
        print(f"scored {team} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return results


def one_run(results: Path) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    args = ["-m", "scoring", "analyze", "--output_dir", str(results), "--phase", "final",
            "--baseline", "weak", "--baseline", "baseline_random", "--title", "Synthetic final"]
    for cell in HOLD_OUT:
        args += ["--hold-out", cell]
    done = python(*args)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output")
    parser.add_argument("--k", type=int, default=40, help="splits per task when scoring")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = prepare(args.out, args.k)
    runs = [one_run(results) for _ in range(args.repeat)]
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    load = os.getloadavg()[0]
    report = {
        "entries": 12, "tasks": 9, "k": args.k, "repeat": args.repeat,
        "wall_seconds": walls, "cpu_seconds": cpus,
        "median_wall_seconds": statistics.median(walls),
        "median_cpu_seconds": statistics.median(cpus),
        "load_average_1min": load, "cores": os.cpu_count(),
    }  # fmt: skip
    (args.out / "analysis_benchmark.json").write_text(json.dumps(report, indent=2) + "\n")
    print(runs[-1][2])
    print("| measure | median | runs |\n|---|---:|---|")
    print(f"| wall (s) | {report['median_wall_seconds']:.1f} | "
          f"{', '.join(f'{w:.1f}' for w in walls)} |")  # fmt: skip
    print(f"| CPU user+sys (s) | {report['median_cpu_seconds']:.1f} | "
          f"{', '.join(f'{c:.1f}' for c in cpus)} |")  # fmt: skip
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
