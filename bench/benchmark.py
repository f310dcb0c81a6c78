"""Speed and memory of scoring a full-size synthetic final phase, idle and beside a busy process.

    python bench/benchmark.py [--out bench-output] [--repeat 3] [--k 200] [--seeds 0]
                              [--processes 1 2] [--skip-cli] [--skip-loaded] [--rescore N]

Generates (once, cached in --out) the full-size synthetic challenge of the 2025 final phase
(9 tasks, 23,165 labelled rows, 13,260 ids, N = 1,024) and measures, each in a fresh
subprocess, with E = 20 and batch 64:

- end to end through the CLI (`python -m scoring evaluate`, process start to exit) at K, with
  the default processes (one per usable CPU); peak memory is the largest sum of the RSS of the
  CLI and its scoring processes, sampled every 50 ms (shared pages counted in each process:
  an upper bound);
- in a warm pool of 1 and of 2 processes: reading the file (parse + validate + prepare, in a
  scoring process) and scoring alone, with the achieved GFLOP/s against the arithmetic floor
  of the algorithm (forward, gradient and per-epoch test products: 6 n (d+1) K E flops summed
  over tasks, 5.7e11 for the final phase at K = 200);
- an estimate for an 8-vCPU machine: the measured one-process task times scheduled largest
  first on 8 processes (the scoring of one submission), and the throughput for a rescore;
- each of those idle, then again while this script keeps one other process busy (a Python
  loop pinned to nothing), which is the case issue 11 was about;
- optionally (--rescore N) `python -m worker rescore --phase final` of N submissions on a
  local inbox (hard links of one file), timed end to end and scaled to 50;
- optionally (--seeds N) the spread of mean Q over N fresh seeds at K;
- optionally (--timeline) one CLI run with the scoring pool's events (a process ready, torch
  loaded, a job started or ended), in seconds from the command's start: where its time goes.

Wall times are medians over --repeat runs. Prints Markdown tables and writes
<out>/benchmark.json. Not a test: CI never runs it. The machine may be shared: say so when
quoting the numbers.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_SECONDS_PER_SPLIT = 0.9  # reference, 4,691 rows, N = 1,024, 20 epochs (spec)
EPOCHS, BATCH = 20, 64
CONFIG_YAML = """k_folds: {k}
probe_params: {{batch_size: 64, epochs: 20, learning_rate: 0.001, device: cpu}}
embedding_dim: 1024
"""


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


def floor_flops(rows_per_task: list[int], k: int, d: int = 1024) -> float:
    """Forward, gradient and test products: 3 matrix products of 2 n (d+1) k flops an epoch."""
    return float(sum(6 * n * (d + 1) * k * EPOCHS for n in rows_per_task))


def lpt_makespan(seconds: list[float], processes: int) -> float:
    """Wall time of jobs scheduled largest first on `processes` identical processes."""
    loads = [0.0] * processes
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + s)
    return max(loads)


# -- measurements in a child process ---------------------------------------------------------


PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _descendants(pid: int) -> set[int]:
    """`pid` and every process below it, from one pass over /proc/*/stat (parent links)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return tree


def _rss_mb(pids: set[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_MB
        except (OSError, IndexError, ValueError):
            continue  # the process has ended
    return total


@contextmanager
def rss_sampler(pid: int):
    """Largest sum of RSS of `pid` and its descendants, sampled every 50 ms (Linux).

    Cheap enough not to perturb what it measures: the process tree is found from /proc once
    every 0.5 s, and each 50 ms sample reads only that tree's /proc/<pid>/statm.
    """
    peak = [0.0]
    done = threading.Event()

    def sample():
        tree: set[int] = set()
        ticks = 0
        while not done.wait(0.05):
            if ticks % 10 == 0:
                tree = _descendants(pid)
            ticks += 1
            peak[0] = max(peak[0], _rss_mb(tree))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def measure_pool(challenge: Path, k: int, seed: int, processes: int, team: str) -> dict:
    """In a child: a warm pool of `processes`; read the file, then score the final phase."""
    sys.path.insert(0, str(ROOT))
    from scoring.config import ProbeConfig
    from scoring.labels import load_tasks
    from scoring.pool import PoolLimits, ScoringPool, SharedFolder, score_shared, shared_submission

    tasks = load_tasks(challenge / "phases" / "final" / "annotations")
    expected = set().union(*(set(t.ids) for t in tasks))
    path = challenge / "submissions" / f"{team}.csv"
    config = ProbeConfig(k_folds=k, epochs=EPOCHS, batch_size=BATCH, learning_rate=1e-3)
    options = dict(embedding_dim=1024, strict=True, standardize=True)
    folder = SharedFolder()
    limits = PoolLimits(None, None)
    with rss_sampler(os.getpid()) as peak, ScoringPool(processes, os.environ, limits) as pool:
        pool.wait_ready(600)  # warm: every process has loaded torch
        started = time.perf_counter()
        with shared_submission(pool, folder, path, expected, options) as shared:
            read_s = time.perf_counter() - started
            started = time.perf_counter()
            card, _ = score_shared(pool, shared, tasks, config, seed)
            score_s = time.perf_counter() - started
    folder.close()
    rows = [t.n_rows for t in card.tasks]
    return {
        "processes": processes,
        "read_s": read_s,
        "score_s": score_s,
        "mean_q": card.mean_q,
        "rows": rows,
        "task_s": {t.task: round(t.seconds, 3) for t in card.tasks},
        "flops": floor_flops(rows, k),
        "peak_tree_rss_mb": peak[0],
        "file_mb": path.stat().st_size / 1e6,
    }


def child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_cli(challenge: Path, out: Path, k: int) -> dict:
    config = out / f"config-k{k}.yaml"
    config.write_text(CONFIG_YAML.format(k=k))
    command = [
        sys.executable, "-m", "scoring", "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(challenge / "submissions" / "strong.csv"),
        "--output_dir", str(out / "cli-results"), "--config", str(config),
        "--phase", "final", "--strict",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with rss_sampler(proc.pid) as peak:
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"CLI failed ({proc.returncode}): {stderr}")
    return {"wall_s": wall, "peak_tree_rss_mb": peak[0], "stdout_tail": stdout.splitlines()[-2]}


TIMELINE_SCRIPT = """
import logging, os, sys, time
from scoring.threads import SINGLE_THREAD_ENV
os.environ.update(SINGLE_THREAD_ENV)  # as `python -m scoring` does, before numpy loads
START = float(sys.argv[1])
class Since(logging.Formatter):
    def format(self, record):
        return f"{record.created - START:6.2f} s  {record.getMessage()}"
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(Since())
logging.getLogger("scoring.pool").addHandler(handler)
logging.getLogger("scoring.pool").setLevel(logging.DEBUG)
print(f"{time.time() - START:6.2f} s  interpreter started", flush=True)
from scoring.cli import main
code = main(sys.argv[2:])
print(f"{time.time() - START:6.2f} s  done", flush=True)
sys.exit(code)
"""


def run_timeline(challenge: Path, out: Path, k: int) -> list[str]:
    """One CLI run (`scoring.cli.main`, as `python -m scoring` runs it) with the pool's events."""
    config = out / f"config-k{k}.yaml"
    config.write_text(CONFIG_YAML.format(k=k))
    arguments = [
        "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(challenge / "submissions" / "strong.csv"),
        "--output_dir", str(out / "cli-results"), "--config", str(config),
        "--phase", "final", "--strict",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", TIMELINE_SCRIPT, repr(time.time()), *arguments],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [line for line in done.stdout.splitlines() if re.match(r" *\d+\.\d\d s  ", line)]


@contextmanager
def busy_process():
    """One other process keeping a core busy, as on a shared machine."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def run_rescore(challenge: Path, out: Path, k: int, count: int) -> dict:
    """`worker once` scores N inbox submissions (not timed); `worker rescore` is timed."""
    import yaml

    root = out / f"rescore-{count}"
    shutil.rmtree(root, ignore_errors=True)
    source = challenge / "submissions" / "strong.csv"
    for i in range(count):
        team = root / "inbox" / "final" / f"team{i:03d}"
        team.mkdir(parents=True)
        os.link(source, team / "emb.csv")  # one file on disk, N submissions
    config = root / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "source": "inbox", "data_dir": str(root / "var"), "inbox_dir": str(root / "inbox"),
        "max_file_mb": 500,
        "phases": {"final": {"annotations": str(challenge / "phases" / "final" / "annotations"),
                             "probe": {"k_folds": k, "epochs": EPOCHS, "batch_size": BATCH,
                                       "embedding_dim": 1024}}},
        "leaderboard": {"enabled": False, "publisher": "none"},
    }))
    time.sleep(1.1)  # the inbox skips files younger than a second
    env = dict(os.environ, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    worker = [sys.executable, "-m", "worker"]
    subprocess.run([*worker, "once", "--config", str(config)], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    started = time.perf_counter()
    done = subprocess.run([*worker, "rescore", "--phase", "final", "--config", str(config)],
                          env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    shutil.rmtree(root, ignore_errors=True)
    return {"count": count, "wall_s": wall, "per_50_s": wall * 50 / count,
            "last_line": done.stdout.strip().splitlines()[-1]}


# -- the report -------------------------------------------------------------------------------


def measure_all(challenge: Path, out: Path, args: argparse.Namespace, load: str) -> dict:
    result: dict = {}
    if not args.skip_cli:
        runs = [run_cli(challenge, out, args.k) for _ in range(args.repeat)]
        result["cli"] = {
            "median_s": statistics.median(r["wall_s"] for r in runs),
            "all_s": [round(r["wall_s"], 2) for r in runs],
            "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in runs),
        }
    for p in args.processes:
        runs = [
            child(["pool", str(challenge), str(args.k), "42", str(p), args.team])
            for _ in range(args.repeat)
        ]
        median = statistics.median(r["score_s"] for r in runs)
        result[f"pool{p}"] = {
            "median_score_s": median,
            "all_score_s": [round(r["score_s"], 2) for r in runs],
            "median_read_s": statistics.median(r["read_s"] for r in runs),
            "gflops": runs[0]["flops"] / median / 1e9,
            "flops": runs[0]["flops"],
            "peak_tree_rss_mb": max(r["peak_tree_rss_mb"] for r in runs),
            "task_s": runs[0]["task_s"],
            "rows": runs[0]["rows"],
            "mean_q": runs[0]["mean_q"],
            "file_mb": runs[0]["file_mb"],
        }
        print(f"  [{load}] {p} process(es): score {median:.2f} s", flush=True)
    return result


def estimate_8vcpu(one: dict) -> dict:
    task_s = list(one["task_s"].values())
    return {
        "score_s": lpt_makespan(task_s, 8),
        "end_to_end_s": lpt_makespan(task_s, 8) + one["median_read_s"],
        "rescore_50_s": 50 * (sum(task_s) + one["median_read_s"]) / 8,
    }


def print_tables(report: dict, args: argparse.Namespace) -> None:
    k = args.k
    print(f"\nK = {k}, E = {EPOCHS}, {report['idle'].get('pool1', {}).get('file_mb', 0):.0f} MB "
          f"CSV; medians of {args.repeat}; {report['cpus']} usable CPUs\n")
    print("| measurement | idle | one busy process | target |")
    print("|---|---|---|---|")

    def row(name: str, key: str, sub: str, fmt: str, target: str) -> None:
        cells = []
        for load in ("idle", "loaded"):
            value = report.get(load, {}).get(key, {}).get(sub)
            cells.append(fmt.format(value) if value is not None else "—")
        print(f"| {name} | {cells[0]} | {cells[1]} | {target} |")

    row("CLI end to end (default processes)", "cli", "median_s", "{:.2f} s", "<= 6.5 s idle, "
        "<= 1.6x loaded")
    row("CLI peak memory (sum over processes)", "cli", "peak_tree_rss_mb", "{:.0f} MB", "<= 2 GB")
    for p in args.processes:
        row(f"read the file ({p} process(es))", f"pool{p}", "median_read_s", "{:.2f} s",
            "<= 1.2 s (reading's target)")
        row(f"scoring alone, {p} process(es)", f"pool{p}", "median_score_s", "{:.2f} s",
            "<= 4.5 s" if p == 2 else "")
        row(f"  achieved GFLOP/s ({p})", f"pool{p}", "gflops", "{:.0f}", "")
        row(f"  peak memory ({p}, sum)", f"pool{p}", "peak_tree_rss_mb", "{:.0f} MB", "")
    flops = report["idle"].get(f"pool{args.processes[0]}", {}).get("flops")
    if flops:
        print(f"\narithmetic floor: {flops:.3g} flop")
    est = report.get("estimate_8vcpu")
    if est:
        print(f"8-vCPU estimate (idle one-process task times, largest first on 8): scoring "
              f"{est['score_s']:.2f} s, end to end {est['end_to_end_s']:.2f} s plus process "
              f"start, rescore of 50 submissions {est['rescore_50_s'] / 60:.1f} min")
    idle1 = report["idle"].get("pool1", {}).get("median_score_s")
    idle2 = report["idle"].get("pool2", {}).get("median_score_s")
    if idle1 and idle2:
        print(f"scaling 1 -> 2 processes: x{idle1 / idle2:.2f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench-output")
    p.add_argument("--k", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seeds", type=int, default=0)
    p.add_argument("--rescore", type=int, default=0, metavar="N")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    p.add_argument("--team", default="strong")
    p.add_argument("--skip-cli", action="store_true")
    p.add_argument("--skip-loaded", action="store_true")
    p.add_argument("--timeline", action="store_true")
    p.add_argument("--child", nargs=6, metavar=("KIND", "CHALLENGE", "K", "SEED", "P", "TEAM"))
    args = p.parse_args()
    if args.child:
        _, challenge, k, seed, processes, team = args.child
        print(json.dumps(measure_pool(Path(challenge), int(k), int(seed), int(processes), team)))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    challenge = ensure_challenge(args.out)
    sys.path.insert(0, str(ROOT))
    from scoring.pool import usable_cpus

    report: dict = {"team": args.team, "k": args.k, "cpus": usable_cpus()}
    if args.timeline:
        report["timeline"] = run_timeline(challenge, args.out, args.k)
        print("one CLI run, idle, the scoring pool's events:")
        print("\n".join(f"  {line}" for line in report["timeline"]), flush=True)
    report["idle"] = measure_all(challenge, args.out, args, "idle")
    if not args.skip_loaded:
        with busy_process():
            report["loaded"] = measure_all(challenge, args.out, args, "loaded")
    if args.rescore:
        report["rescore"] = run_rescore(challenge, args.out, args.k, args.rescore)
        print(f"  rescore of {args.rescore}: {report['rescore']['wall_s']:.1f} s", flush=True)
    if "pool1" in report["idle"]:
        report["estimate_8vcpu"] = estimate_8vcpu(report["idle"]["pool1"])
    if args.seeds:
        qs = [
            child(["pool", str(challenge), str(args.k), str(1000 + s), "2", args.team])["mean_q"]
            for s in range(args.seeds)
        ]
        report["repeatability"] = {"mean_q": qs, "sd": statistics.stdev(qs) if len(qs) > 1 else 0}
    (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))
    print_tables(report, args)
    if args.seeds:
        rep = report["repeatability"]
        print(f"mean Q over {args.seeds} seeds: sd {rep['sd']:.3f}")
    if args.rescore:
        r = report["rescore"]
        print(f"rescore of {r['count']} final-phase submissions through `python -m worker "
              f"rescore`: {r['wall_s']:.1f} s, i.e. {r['per_50_s'] / 60:.1f} min for 50 "
              f"(target <= 6 min); {r['last_line']}")
    print(f"\nwritten: {args.out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
