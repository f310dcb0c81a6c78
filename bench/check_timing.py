"""Wall time of the participant's `python -m scoring check` on the full-size submission and on
malformed copies of it, each compared with what the worker answers for the same file.

    python bench/check_timing.py [--out bench-output] [--repeat 3]

Uses the full-size synthetic challenge of `bench/benchmark.py` (generated there once, cached in
--out): the 124 MB `strong.csv` (13,260 ids x 1,024) and five malformed copies, each of them
the full file with one defect far into it (a bad cell, a ragged row, a NUL byte, an id of 300
characters, and the file cut after its header). Every run is a fresh process, timed from start
to exit (median of --repeat); the check's message must equal the worker's (`load_submission`
in-process, as the pipeline calls it). Prints a Markdown table. Not a test: CI never runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cases(good: Path, folder: Path) -> dict[str, Path]:
    lines = good.read_bytes().split(b"\n")
    middle = len(lines) // 2
    row = lines[middle].split(b",")
    variants = {
        "bad cell ('0.5x' in the middle of the file)": [
            *lines[:middle], b",".join([*row[:3], b"0.5x", *row[4:]]), *lines[middle + 1:]],
        "ragged row (one extra value, middle)": [
            *lines[:middle], lines[middle] + b",1", *lines[middle + 1:]],
        "NUL byte (middle)": [
            *lines[:middle], lines[middle][:20] + b"\x00" + lines[middle][20:],
            *lines[middle + 1:]],
        "id of 300 characters (last row)": [
            *lines[:-1], b"x" * 300 + lines[1][lines[1].index(b","):], lines[-1]],
        "header only": [lines[0], b""],
    }
    out = {"valid file (124 MB)": good}
    for i, (name, parts) in enumerate(variants.items()):
        path = folder / f"malformed-{i}.csv"
        if not path.exists():
            path.write_bytes(b"\n".join(parts))
        out[name] = path
    return out


def worker_answer(path: Path, ids: set[str]) -> str:
    from scoring.submission import SubmissionError, load_submission

    try:
        load_submission(path, ids, embedding_dim=1024, strict=True,
                        max_uncompressed=4 * 500 * 1024**2)  # fmt: skip
    except SubmissionError as exc:
        return f"submission rejected [{exc.code}]: {exc.message}"
    return "OK"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench-output")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()
    from bench.benchmark import ensure_challenge
    from scoring.labels import load_tasks

    challenge = ensure_challenge(args.out)
    tasks = load_tasks(challenge / "phases" / "final" / "annotations")
    ids = set().union(*(set(t.ids) for t in tasks))
    ids_file = args.out / "final-ids.txt"
    ids_file.write_text("\n".join(sorted(ids)) + "\n")
    folder = args.out / "check-cases"
    folder.mkdir(exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}; medians of {args.repeat}\n")
    print("| file | check: wall s (process start to exit) | answer | same as the worker |")
    print("|---|---|---|---|")
    for name, path in cases(challenge / "submissions" / "strong.csv", folder).items():
        walls, answer = [], ""
        for _ in range(args.repeat):
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "scoring", "check", str(path), "--ids", str(ids_file),
                 "--dim", "1024"], cwd=ROOT, capture_output=True, text=True)  # fmt: skip
            walls.append(time.perf_counter() - started)
            answer = "OK" if proc.returncode == 0 else proc.stderr.strip()
        same = answer == worker_answer(path, ids)
        shown = answer if len(answer) < 150 else answer[:147] + "…"
        print(f"| {name} | {statistics.median(walls):.2f} | {shown} | {'yes' if same else 'NO'} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
