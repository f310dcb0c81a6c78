"""`python -m demo` (what `make demo` runs) works end to end on a tiny challenge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_scores_publishes_and_says_where_to_look(tmp_path: Path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--size", "tiny", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Where to look:" in proc.stdout
    assert "## final" in proc.stdout and "Orbital Encoders" in proc.stdout
    results = sorted((out / "var" / "inbox-results").rglob("*.result.json"))
    statuses = [json.loads(p.read_text())["status"] for p in results]
    assert statuses.count("failed") == 1 and statuses.count("finished") == 11
    readme = (out / "leaderboard-view" / "README.md").read_text()
    assert "## Phase final" in readme and "## Phase dev" in readme
    assert (out / "leaderboard-view" / "plots" / "final_rank_evolution.png").exists()
    index = (out / "leaderboard-view" / "docs" / "index.html").read_text()
    assert 'href="dev/index.html"' in index and 'href="final/index.html"' in index
    page = (out / "leaderboard-view" / "docs" / "final" / "index.html").read_text()
    assert "Orbital Encoders" in page and "Rank evolution" in page
    log = subprocess.run(["git", "-C", str(out / "leaderboard-view"), "log", "--format=%s"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(log) == 3  # template seed + one commit per phase
