"""`python -m demo` (what `make demo` runs): the whole product on the embedded default.

1. Generates a synthetic hidden-task challenge shaped like the 2025 Embed2Scale one: a
   development phase (5 tasks, K = 40) and a final phase (9 tasks, K = 200), hidden labels,
   four teams plus the two organiser baselines (mean-like and random embeddings).
2. Drops the teams' submissions (and one broken file) into the local inbox, the stand-in for
   EvalAI's queue: `<inbox>/<phase>/<team>/<file>`.
3. Runs the worker once over the inbox: validate, score with a fresh seed, store every
   per-task and per-split result in SQLite, report the participant-facing result, and publish
   the task-weighted leaderboard to a local git repository.
4. Prints the leaderboard and where to look.

Writes everything under demo-output/ in the current folder (replaced on every run; `--out`
chooses another). No network, no credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from synthetic import make_challenge, spec_for_size, write_challenge

TEAMS = {  # synthetic profile -> team name as it would appear on EvalAI
    "strong": "Orbital Encoders",
    "medium": "GeoSketch",
    "nonlinear": "Fourier Folks",
    "weak": "Baseline mean embeddings",
    "baseline_random": "Baseline random embeddings",
}
BASELINES = ["Baseline mean embeddings", "Baseline random embeddings"]


def phase_config(out: Path, phase: str, k_folds: int, dim: int) -> dict:
    return {
        "annotations": str(out / "challenge" / "phases" / phase / "annotations"),
        "split": "test_split",
        "metric": "mean_Q",
        "strict_ids": True,
        "probe": {"k_folds": k_folds, "epochs": 20, "batch_size": 64,
                  "learning_rate": 0.001, "embedding_dim": dim},
    }


def challenge_yaml(out: Path, dim: int) -> dict:
    """K = 40 in the development phase and 200 in the final phase, as in 2025."""
    return {
        "title": "Demo hidden-task embedding challenge",
        "source": "inbox",
        "data_dir": str(out / "var"),
        "inbox_dir": str(out / "inbox"),
        "poll_interval_seconds": 60,
        "phases": {
            "dev": phase_config(out, "dev", 40, dim),
            "final": phase_config(out, "final", 200, dim),
        },
        "leaderboard": {
            "enabled": True,
            "publisher": "git",
            "remote": str(out / "leaderboard.git"),
            "workdir": str(out / "var" / "leaderboard-clone"),
            "branch": "main",
            "policy": "latest",
            "baselines": BASELINES,
            "bootstrap_resamples": 1000,
        },
    }


def fill_inbox(inbox: Path, submissions: dict[str, Path]) -> None:
    """Each team submits to both phases, GeoSketch twice in the final phase (a weak first try,
    then a better one: its latest counts); one more team sends a broken file. File times set
    the order in which the worker sees them."""
    plan = [(phase, profile, team) for phase in ("dev", "final") for profile, team in TEAMS.items()]
    plan.insert(5, ("final", "weak", "GeoSketch"))  # GeoSketch's first final-phase try
    start = time.time() - 3600
    for i, (phase, profile, team) in enumerate(plan):
        target = inbox / phase / team
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{profile}-embeddings-{i:02d}.csv.gz"
        shutil.copy(submissions[profile], path)
        os.utime(path, (start + 60 * i, start + 60 * i))
    broken = inbox / "final" / "Late Night Lab"
    broken.mkdir(parents=True)
    (broken / "embeddings.csv").write_text("id,0,1,2\ncube-0001,0.1,0.2,abc\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # The current folder, not the package's: an installed package's folder is read-only (the
    # image's venv), while `make demo` runs in the repository and the image starts in /work.
    p.add_argument("--out", type=Path, default=Path("demo-output"),
                   help="output folder, replaced on every run (default: ./demo-output)")
    p.add_argument("--size", default="demo", choices=("tiny", "demo", "full"))
    args = p.parse_args(argv)
    out: Path = args.out.resolve()
    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    print(f"1/4 generating a synthetic challenge ({args.size} size) …", flush=True)
    challenge = make_challenge(spec_for_size(args.size, seed=2026))
    layout = write_challenge(challenge, out / "challenge", gzip_submissions=True)
    config = out / "challenge.yaml"
    config.write_text(yaml.safe_dump(challenge_yaml(out, challenge.spec.dim), sort_keys=False))
    fill_inbox(out / "inbox", layout.submissions)
    time.sleep(1.1)  # the inbox ignores files younger than a second (could be half-written)

    print("2/4 running the worker once over the local inbox …", flush=True)
    from worker.cli import main as worker_main

    code = worker_main(["once", "--config", str(config)], env={"LOG_LEVEL": "INFO"})
    if code != 0:
        print(f"the worker exited with {code}", file=sys.stderr)
        return code

    print("\n3/4 the scoring database:", flush=True)
    worker_main(["status", "--config", str(config)], env={"LOG_LEVEL": "WARNING"})

    print("\n4/4 the leaderboards (task-weighted ranks, 90 % rank intervals):", flush=True)
    for phase in ("dev", "final"):
        print(f"\n## {phase}")
        worker_main(["leaderboard", "show", phase, "--config", str(config)],
                    env={"LOG_LEVEL": "WARNING"})

    view = out / "leaderboard-view"
    if (out / "leaderboard.git").exists():
        subprocess.run(["git", "clone", "--quiet", str(out / "leaderboard.git"), str(view)],
                       check=False)
    example = sorted((out / "var" / "inbox-results" / "final").rglob("*.result.json"))
    print("\nWhere to look:")
    print(f"  challenge config      {config}")
    print(f"  hidden labels         {out / 'challenge' / 'phases'}")
    print(f"  participant results   {out / 'var' / 'inbox-results'} (what EvalAI would show)")
    if example:
        data = json.loads(example[0].read_text())
        print(f"    e.g. {example[0].name}: {data['status']}")
    print(f"  scoring database      {out / 'var' / 'scores.db'} (SQLite; every per-split score)")
    print(f"  published leaderboard {view / 'README.md'} (a clone of {out / 'leaderboard.git'})")
    print(f"  rank evolution plot   {view / 'plots'}")
    print(f"  leaderboard site      {view / 'docs' / 'index.html'} (open it in a browser)")
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
