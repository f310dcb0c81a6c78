"""The embedded default end to end: the worker on a local inbox publishes to a local git
repository, and a failing publisher never blocks scoring (the board is retried later)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from synthetic import make_challenge, spec_for_size, write_challenge
from worker.cli import main as worker_main


def setup_inbox(tmp_path: Path, remote: Path) -> Path:
    layout = write_challenge(make_challenge(spec_for_size("tiny", seed=11)), tmp_path / "ch")
    for team, profile in (("Alpha", "strong"), ("Beta", "weak")):
        folder = tmp_path / "inbox" / "final" / team
        folder.mkdir(parents=True)
        shutil.copy(layout.submissions[profile], folder / "emb.csv")
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "source": "inbox",
        "data_dir": str(tmp_path / "var"),
        "inbox_dir": str(tmp_path / "inbox"),
        "phases": {"final": {"annotations": str(layout.annotations["final"]),
                             "probe": {"k_folds": 8, "epochs": 3, "embedding_dim": 16}}},
        "leaderboard": {"publisher": "git", "remote": str(remote),
                        "workdir": str(tmp_path / "var" / "clone"), "bootstrap_resamples": 0},
    }))
    time.sleep(1.1)  # the inbox skips files younger than a second
    return config


def run(config: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = worker_main([*args, "--config", str(config)], env={"LOG_LEVEL": "WARNING"}, out=out)
    return code, out.getvalue()


def test_failing_publisher_does_not_block_scoring_and_the_board_is_retried(tmp_path: Path):
    remote = tmp_path / "remote.git"
    remote.write_text("not a repository")  # publishing must fail: the remote is a plain file
    config = setup_inbox(tmp_path, remote)

    code, out = run(config, "once")
    assert code == 0 and "handled 2" in out
    results = sorted((tmp_path / "var" / "inbox-results").rglob("*.result.json"))
    assert [json.loads(p.read_text())["status"] for p in results] == ["finished", "finished"]

    remote.unlink()  # the organiser fixes the remote; the next start publishes the board
    code, _ = run(config, "once")
    assert code == 0
    shown = subprocess.run(["git", "--git-dir", str(remote), "show", "main:README.md"],
                           capture_output=True, text=True, check=True).stdout
    assert "| Alpha |" in shown and "| Beta |" in shown
    code, status = run(config, "status")
    assert code == 0 and "final" in status


def test_the_worker_process_scores_without_importing_torch(tmp_path: Path):
    """Only the scoring processes load torch: the worker process that claims, records and
    publishes stays small and starts fast (torch is ~1 s and ~300 MB of every start)."""
    config = setup_inbox(tmp_path, tmp_path / "remote.git")
    code = (
        "import sys; from worker.cli import main; "
        f"rc = main(['once', '--config', {str(config)!r}], env={{'LOG_LEVEL': 'WARNING'}}); "
        "print(rc, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.splitlines()[-1] == "0 False", proc.stdout + proc.stderr
    results = sorted((tmp_path / "var" / "inbox-results").rglob("*.result.json"))
    assert [json.loads(p.read_text())["status"] for p in results] == ["finished", "finished"]
