"""Poison pills end to end: the real watchdog (cronjobs/watchdog.sh) keeps the real worker
(`python -m worker run`) alive on a local inbox; every scoring process that works on one
submission is SIGKILLed — as the kernel's OOM killer, or a native crash a file triggers, would
do. That submission fails after `max_internal_attempts` with the organisers alerted, while the
good submission queued behind it finishes; the worker itself never goes down.

I/O: writes a synthetic challenge, an inbox and a data folder under tmp_path; runs bash,
the watchdog and the worker it starts; reads /proc to find the scoring processes mapping the
poisoned submission's shared matrix, and signals only those and (at the end) the worker's
process group. Every wait polls against a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from synthetic import make_challenge, spec_for_size, write_challenge

REPO = Path(__file__).resolve().parents[2]
WATCHDOG = REPO / "cronjobs" / "watchdog.sh"
DEADLINE_S = 600.0  # the whole scenario, on a busy machine; it usually takes well under 60 s
ATTEMPTS = 2

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("bash", "flock", "setsid", "nohup"))
    or not Path("/proc/self/maps").exists(),
    reason="needs Linux /proc and the watchdog's tools (bash, flock, setsid, nohup)",
)


def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    layout = write_challenge(make_challenge(spec_for_size("tiny", seed=5)), tmp_path / "ch")
    inbox = tmp_path / "inbox" / "final"
    for team, profile, age in (("Evil", "strong", 20), ("Good", "weak", 10)):
        (inbox / team).mkdir(parents=True)
        path = inbox / team / "emb.csv"
        shutil.copy(layout.submissions[profile], path)
        then = time.time() - age  # Evil is older: it is first in the queue
        os.utime(path, (then, then))
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "source": "inbox",
        "data_dir": str(tmp_path / "var"),
        "inbox_dir": str(tmp_path / "inbox"),
        "poll_interval_seconds": 1,
        "max_internal_attempts": ATTEMPTS,
        "phases": {"final": {"annotations": str(layout.annotations["final"]),
                             "probe": {"k_folds": 20, "epochs": 30, "embedding_dim": 16}}},
        "leaderboard": {"enabled": False, "publisher": "none"},
        "scoring": {"processes": 1, "retry_backoff_seconds": 1},
    }))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "LOG_LEVEL": "INFO",
        "NEUCO_HOME": str(REPO),
        "NEUCO_PYTHON": sys.executable,
        "NEUCO_CONFIG": str(config),
        "NEUCO_DATA_DIR": str(tmp_path / "var"),
        "MAX_HEARTBEAT_AGE": "120",
        "STOP_GRACE": "5",
        "KILL_WAIT": "10",
    }
    return tmp_path / "var", env


def watchdog(env: dict[str, str]) -> None:
    done = subprocess.run(["bash", str(WATCHDOG)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def evil_pk(data: Path) -> int | None:
    try:
        with sqlite3.connect(data / "scores.db", timeout=5) as db:
            row = db.execute("SELECT pk FROM inbox_keys WHERE path_key LIKE 'final/Evil/%'"
                             ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def statuses(data: Path) -> dict[str, tuple]:
    try:
        with sqlite3.connect(data / "scores.db", timeout=5) as db:
            rows = db.execute("SELECT team_name, status, attempts, error_kind, reported "
                              "FROM submissions").fetchall()
    except sqlite3.Error:
        return {}
    return {r[0]: tuple(r[1:]) for r in rows}


def scoring_processes_of(pk: int) -> list[int]:
    """Scoring processes that have this submission's shared matrix mapped."""
    marker = f"/submission-inbox-{pk}-"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"scoring.pool.child" not in (entry / "cmdline").read_bytes():
                continue
            if marker in (entry / "maps").read_text():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def worker_pid(data: Path) -> int | None:
    try:
        return int((data / "worker.lock").read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


def test_a_file_that_kills_its_scoring_process_fails_after_the_limit_and_the_queue_moves_on(
    tmp_path: Path,
):
    data, env = setup(tmp_path)
    watchdog(env)  # cron's first run: no worker yet, so it starts one
    kills: list[int] = []
    pids: set[int | None] = set()
    cron_runs = 0
    pid = None
    try:
        deadline = time.monotonic() + DEADLINE_S
        next_cron = time.monotonic()  # from the first heartbeat on: the run may be short
        while time.monotonic() < deadline:
            pk = evil_pk(data)
            if pk is not None:
                for victim in scoring_processes_of(pk):
                    os.kill(victim, signal.SIGKILL)
                    kills.append(victim)
            state = statuses(data)
            if state.get("Evil", ("",))[0] == "failed" and state.get("Good", ("",))[0] == \
                    "finished" and all(s[3] for s in state.values()):
                break
            # Cron runs the watchdog now and then, once the worker is up (a worker still
            # importing its libraries has no lock yet: cron's minute covers that, 5 s may not).
            if (data / "heartbeat").exists() and time.monotonic() > next_cron:
                watchdog(env)
                cron_runs += 1
                next_cron = time.monotonic() + 5
                pids.add(worker_pid(data))
            time.sleep(0.05)
        if (data / "heartbeat").exists():  # and once more at the end, on the worker that is up
            watchdog(env)
            cron_runs += 1
            pids.add(worker_pid(data))
        pid = worker_pid(data)
        state = statuses(data)
        log = (data / "logs" / "worker.log").read_text()
        watchdog_log = (data / "logs" / "watchdog.log").read_text()
    finally:
        pid = pid or worker_pid(data)
        if pid:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    assert state["Good"] == ("finished", 1, None, 1), state
    assert state["Evil"] == ("failed", ATTEMPTS, "internal", 1), state
    assert kills, "no scoring process of the poisoned submission was ever seen"
    pk = evil_pk(data)
    # The organisers' alert (worker.monitoring; a channel when ALERT_URLS is set, the log here).
    assert f"alert submission-failed:inbox:{pk}: submission {pk} (phase final) failed for an " \
        "internal reason" in log
    events = _events(data, pk)
    assert f"internal error, attempt {ATTEMPTS} of {ATTEMPTS}" in "\n".join(d for d, _ in events)
    # The retry waited retry_backoff_seconds (1 s here; minutes by default) after the failure.
    failed_at = next(at for d, at in events if d.startswith("internal error, attempt 1 of"))
    retried_at = next(at for d, at in events if d.startswith("claimed by") and at > failed_at)
    assert (retried_at - failed_at).total_seconds() >= 1.0
    # The worker stayed up throughout: the watchdog, run again and again, never had to stop or
    # start one once the first was up.
    assert cron_runs >= 1 and pids == {pid}, (cron_runs, pids, pid)
    assert "hung" not in watchdog_log and "stopped" not in watchdog_log, watchdog_log
    results = {p.parent.name: json.loads(p.read_text())
               for p in (data / "inbox-results").rglob("*.result.json")}
    assert results["Good"]["status"] == "finished"
    assert results["Evil"]["status"] == "failed"
    assert "a problem on the organisers' side, not with your file" in json.dumps(results["Evil"])


def _events(data: Path, pk: int) -> list[tuple[str, datetime]]:
    with sqlite3.connect(data / "scores.db", timeout=5) as db:
        rows = db.execute("SELECT detail, at FROM events WHERE pk = ? ORDER BY id",
                          (pk,)).fetchall()
    return [(detail, datetime.fromisoformat(at)) for detail, at in rows]
