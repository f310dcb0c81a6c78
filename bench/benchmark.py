"""Speed and memory of the scoring engine on a full-size synthetic final phase.

    python bench/benchmark.py [--out bench-output] [--k 200 40] [--repeat 3] [--seeds 10]

Generates (once, cached in --out) the full-size synthetic challenge of the 2025 final phase
(9 tasks, 23,165 labelled rows, 13,260 ids, N = 1,024) and measures, each in a fresh
subprocess so that peak memory is that measurement's own:

- parse + validate + prepare the 125 MB submission CSV (target <= 5 s);
- score the final phase with E = 20, batch 64, at each K (targets: K = 200 <= 20 s,
  K = 40 <= 5 s wall; peak RSS <= 2 GB);
- repeatability: one submission scored with --seeds fresh seeds at K = 200, spread of mean Q.

Wall times are medians over --repeat runs. Prints a Markdown table and writes
<out>/benchmark.json. Not a test: CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_SECONDS_PER_SPLIT = 0.9  # reference, 4,691 rows, N = 1,024, 20 epochs (spec)


def ensure_challenge(out: Path) -> Path:
    root = out / "full-challenge"
    if (root / "challenge.json").exists():
        return root
    sys.path.insert(0, str(ROOT))
    from synthetic import make_challenge, spec_for_size, write_challenge

    started = time.perf_counter()
    write_challenge(make_challenge(spec_for_size("full", seed=2025)), root)
    print(f"generated the full-size challenge in {time.perf_counter() - started:.1f} s")
    return root


def measure(kind: str, challenge: Path, k: int, seed: int, team: str) -> dict:
    """Run in a child process: one measurement, JSON on stdout."""
    sys.path.insert(0, str(ROOT))
    import torch

    from scoring.config import ProbeConfig
    from scoring.engine import score_submission
    from scoring.labels import load_tasks
    from scoring.submission import load_submission

    tasks = load_tasks(challenge / "phases" / "final" / "annotations")
    expected = set().union(*(set(t.ids) for t in tasks))
    path = challenge / "submissions" / f"{team}.csv"
    started = time.perf_counter()
    table = load_submission(path, expected, embedding_dim=1024, strict=True)
    parse_s = time.perf_counter() - started
    result = {
        "parse_s": parse_s,
        "file_mb": path.stat().st_size / 1e6,
        "threads": torch.get_num_threads(),
    }
    if kind == "score":
        config = ProbeConfig(k_folds=k, epochs=20, batch_size=64, learning_rate=1e-3)
        started = time.perf_counter()
        card, _ = score_submission(table, tasks, config, seed=seed)
        result["score_s"] = time.perf_counter() - started
        result["mean_q"] = card.mean_q
        result["rows"] = sum(t.n_rows for t in card.tasks)
        result["task_s"] = {t.task: round(t.seconds, 3) for t in card.tasks}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench-output")
    p.add_argument("--k", type=int, nargs="+", default=[200, 40])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--team", default="strong")
    p.add_argument("--child", nargs=5, metavar=("KIND", "CHALLENGE", "K", "SEED", "TEAM"))
    args = p.parse_args()
    if args.child:
        kind, challenge, k, seed, team = args.child
        print(json.dumps(measure(kind, Path(challenge), int(k), int(seed), team)))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    challenge = ensure_challenge(args.out)
    report: dict = {"team": args.team}
    parses = [child(["parse", str(challenge), "0", "0", args.team]) for _ in range(args.repeat)]
    report["parse"] = {
        "median_s": statistics.median(r["parse_s"] for r in parses),
        "file_mb": parses[0]["file_mb"],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in parses),
    }
    for k in args.k:
        runs = [
            child(["score", str(challenge), str(k), "42", args.team]) for _ in range(args.repeat)
        ]
        median = statistics.median(r["score_s"] for r in runs)
        rows = runs[0]["rows"]
        landcover_share = 4691 * 2 / rows
        report[f"k{k}"] = {
            "median_score_s": median,
            "all_score_s": [round(r["score_s"], 2) for r in runs],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "threads": runs[0]["threads"],
            "task_s": runs[0]["task_s"],
            "reference_estimate_s": REFERENCE_SECONDS_PER_SPLIT * k * rows / 4691,
            "speedup_per_split": REFERENCE_SECONDS_PER_SPLIT * k * rows / 4691 / median,
            "landcover_share": landcover_share,
        }
    if args.seeds:
        qs = [
            child(["score", str(challenge), "200", str(1000 + s), args.team])["mean_q"]
            for s in range(args.seeds)
        ]
        report["repeatability_k200"] = {
            "mean_q": qs,
            "spread": max(qs) - min(qs),
            "sd": statistics.stdev(qs) if len(qs) > 1 else 0.0,
        }
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))

    print(f"\n| measurement | wall (median of {args.repeat}) | peak RSS | target |")
    print("|---|---|---|---|")
    pr = report["parse"]
    print(
        f"| parse + validate {pr['file_mb']:.0f} MB CSV | {pr['median_s']:.2f} s | "
        f"{pr['peak_rss_mb']:.0f} MB | <= 5 s |"
    )
    for k in args.k:
        r = report[f"k{k}"]
        target = {200: "<= 20 s, <= 2 GB", 40: "<= 5 s, <= 2 GB"}.get(k, "")
        print(
            f"| score final phase, K = {k} (parse incl. in RSS) | {r['median_score_s']:.2f} s "
            f"| {r['peak_rss_mb']:.0f} MB | {target} |"
        )
        print(
            "|   reference estimate at 0.9 s/split of 4,691 rows | "
            f"{r['reference_estimate_s']:.0f} s | | speed-up x{r['speedup_per_split']:.0f} |"
        )
    if args.seeds:
        rep = report["repeatability_k200"]
        print(
            f"\nmean Q over {args.seeds} fresh seeds at K = 200: "
            f"{', '.join(f'{q:.3f}' for q in rep['mean_q'])}"
        )
        print(f"spread (max - min) {rep['spread']:.3f}, sd {rep['sd']:.3f}")
    if args.rescore:
        r = report["rescore"]
        print(f"rescore of {r['count']} final-phase submissions through `python -m worker "
              f"rescore`: {r['wall_s']:.1f} s, i.e. {r['per_50_s'] / 60:.1f} min for 50 "
              f"(target <= 6 min); {r['last_line']}")
    print(f"\nwritten: {args.out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
