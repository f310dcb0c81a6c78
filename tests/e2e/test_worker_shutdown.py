"""SIGTERM while a submission is being scored: the worker finishes it, reports it and exits 0.
I/O: a worker subprocess on a local inbox, files under tmp_path; bounded waits."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from synthetic import make_challenge, spec_for_size, write_challenge
from worker.store import SqlScoreStore

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_mid_scoring_finishes_the_submission_then_exits_cleanly(tmp_path: Path):
    layout = write_challenge(make_challenge(spec_for_size("demo", seed=5)), tmp_path / "ch")
    team = tmp_path / "inbox" / "final" / "Alpha"
    team.mkdir(parents=True)
    shutil.copy(layout.submissions["strong"], team / "emb.csv")
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "source": "inbox",
        "data_dir": str(tmp_path / "var"),
        "inbox_dir": str(tmp_path / "inbox"),
        # long enough to be caught mid-scoring (a few seconds on two cores)
        "phases": {"final": {"annotations": str(layout.annotations["final"]),
                             "probe": {"k_folds": 600, "epochs": 40, "embedding_dim": 256}}},
        "leaderboard": {"enabled": False},
    }))
    time.sleep(1.1)  # the inbox skips files younger than a second
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "worker", "run", "--config", str(config)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 120
        store_url = f"sqlite:///{tmp_path / 'var' / 'scores.db'}"
        running = False
        while time.monotonic() < deadline and not running:
            time.sleep(0.2)
            if (tmp_path / "var" / "scores.db").exists():
                store = SqlScoreStore(store_url)
                try:
                    running = bool(store.list_submissions(status="running"))
                except Exception:  # noqa: BLE001 - schema not created yet
                    running = False
                finally:
                    store.close()
        assert running, (tmp_path / "worker.log").read_text()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    text = (tmp_path / "worker.log").read_text()
    assert code == 0, text
    store = SqlScoreStore(store_url)
    try:
        (sub,) = store.list_submissions()
        assert (sub.status, sub.reported) == ("finished", True)
    finally:
        store.close()
    assert text.index("stopping: waiting for the current submission to finish") \
        < text.index("submission 1: result posted") < text.index("worker stopped")
    assert (tmp_path / "var" / "inbox-results" / "final" / "Alpha" / "emb.csv.result.json").exists()
