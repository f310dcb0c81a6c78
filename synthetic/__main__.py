"""CLI: `python -m synthetic --out DIR [--size full|demo|tiny] [--dim D] [--seed S]
[--row-scale F] [--gzip] [--breadth] [--teams default|wide]`. I/O: writes the challenge under
DIR and prints what it wrote."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from synthetic.challenge import make_challenge
from synthetic.spec import SIZES, TEAM_SETS, spec_for_size
from synthetic.writer import write_challenge


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m synthetic",
        description="Write a synthetic hidden-task challenge (labels of both phases, one "
        "submission per team, challenge.json).",
    )
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    parser.add_argument("--dim", type=int, help="embedding columns (default: the size's)")
    parser.add_argument("--seed", type=int, help="generator seed (default 0)")
    parser.add_argument("--row-scale", type=float, help="multiplies the 2025 row counts")
    parser.add_argument(
        "--teams",
        choices=sorted(TEAM_SETS),
        help="default: the five teams; wide: twelve, with task-specific strengths",
    )
    parser.add_argument("--gzip", action="store_true", help="write submissions as .csv.gz")
    parser.add_argument(
        "--breadth",
        action="store_true",
        help="add region groups to every label file and a multi-class task (landcover_class)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        spec = spec_for_size(
            args.size, seed=args.seed, dim=args.dim, row_scale=args.row_scale,
            breadth=args.breadth, teams=args.teams,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    challenge = make_challenge(spec)
    generated = time.perf_counter()
    layout = write_challenge(challenge, args.out, gzip_submissions=args.gzip)
    written = time.perf_counter()
    print(
        f"size {spec.size}: seed {spec.seed}, row scale {spec.row_scale}, dim {spec.dim}, "
        f"{len(challenge.ids)} ids"
    )
    for phase in challenge.phases:
        rows = sum(len(task.ids) for task in phase.tasks)
        print(f"{layout.annotations[phase.name]}/: {len(phase.tasks)} tasks, {rows} rows")
        for task in phase.tasks:
            empty = f" ({task.empty_labels} empty labels)" if task.empty_labels else ""
            print(f"  {task.file_name}: {len(task.ids)} rows{empty}")
    for team, path in layout.submissions.items():
        size_mb = path.stat().st_size / 1e6
        print(f"{path}: {team}, {len(challenge.ids)} x {spec.dim}, {size_mb:.1f} MB")
    print(f"{layout.manifest}")
    print(f"generated in {generated - started:.1f} s, written in {written - generated:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
