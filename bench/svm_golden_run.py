"""The reference's SVM config, unchanged, through the standalone CLI on the golden challenge.

    .venv/bin/python bench/svm_golden_run.py --config sample_config_svm.yaml \
        [--teams strong weak nonlinear baseline_random] [--processes 1] [--output-dir DIR] \
        [--json out.json]

`--config` is NeuCo-Bench's `configs/sample_config_svm.yaml` as the reference ships it (K = 40,
50 candidates of its Bayesian search per task; `tests/unit/test_breadth_splits_and_metrics.py`
holds a copy key for key). For each team, runs exactly what a user runs,

    python -m scoring evaluate --annotation_path <golden>/annotations \
        --submission_file <golden>/submissions/<team>.csv.gz --config <config> \
        --output_dir <dir> --phase golden_svm --processes <n>

then reads the run's result files and prints per task: rows, Q, mean split score, the task's
wall seconds (measured inside the scoring process) and the best candidate; plus the command's
wall and CPU seconds (this process's children) and the load average before and after.
Reads and writes files; starts one `python -m scoring evaluate` at a time.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT.parent.parent / "shared" / "golden"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_team(team: str, args: argparse.Namespace, output_dir: Path) -> dict:
    command = [
        sys.executable, "-m", "scoring", "evaluate",
        "--annotation_path", str(args.golden / "annotations"),
        "--submission_file", str(args.golden / "submissions" / f"{team}.csv.gz"),
        "--config", str(args.config),
        "--output_dir", str(output_dir),
        "--phase", "golden_svm",
        "--method_name", team,
        "--processes", str(args.processes),
    ]
    load_before, cpu_before = _loadavg(), _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"evaluate failed for {team} (exit {done.returncode})")
    runs = sorted((output_dir / "golden_svm").glob(f"{team}_*/results_summary.json"))
    summary = json.loads(runs[-1].read_text())
    tasks = {}
    for path in sorted(runs[-1].parent.glob("*/*_result.json")):
        data = json.loads(path.read_text())
        tasks[path.parent.name] = {
            "n_rows": data["n_rows"], "q": data["q_stat"], "mean_score": data["mean_score"],
            "metric": data["metric"], "seconds": data["seconds"],
            "failed_splits": data["failed_splits"], "best": data["hyperparamaters"],
        }
    return {
        "team": team, "command": command, "wall_seconds": wall, "cpu_seconds": cpu,
        "load_before": load_before, "load_after": _loadavg(),
        "mean_q": summary["overall_q_score"], "seconds_scoring": summary["seconds"],
        "config": summary["config"], "tasks": tasks,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--golden", type=Path, default=GOLDEN)
    ap.add_argument("--teams", nargs="*", default=["strong"])
    ap.add_argument("--processes", default="1")
    ap.add_argument("--output-dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.config = args.config.resolve()
    args.golden = args.golden.resolve()

    with tempfile.TemporaryDirectory() as tmp:
        output_dir = (args.output_dir or Path(tmp)).resolve()
        results = []
        for team in args.teams:
            result = run_team(team, args, output_dir)
            results.append(result)
            print(f"{team}: mean Q {result['mean_q']:.3f}, {result['wall_seconds']:.0f} s wall, "
                  f"{result['cpu_seconds']:.0f} s CPU, load {result['load_before']} -> "
                  f"{result['load_after']}", flush=True)
            print(f"  {'task':26s} {'rows':>5s} {'Q':>8s} {'mean':>8s} {'s':>7s}  best candidate",
                  flush=True)
            for name, t in result["tasks"].items():
                best = {k: (float(f"{v:.4g}") if isinstance(v, float) else v)
                        for k, v in t["best"].items() if k not in ("probe_type", "kernel")}
                print(f"  {name:26s} {t['n_rows']:5d} {t['q']:8.3f} {t['mean_score']:8.4f} "
                      f"{t['seconds']:7.1f}  {best}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
