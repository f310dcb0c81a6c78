"""The worker as the container and the VM run it: its log file in NEUCO_LOG_DIR (default
<data_dir>/logs) and the healthcheck's exit codes, which Docker reads (0 healthy, 1 unhealthy;
2 is reserved by Docker and must never come out).

I/O: `python -m worker ...` subprocesses on an inbox-source challenge under tmp_path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tests.e2e.worker_harness import REPO, phase_entry, write_synthetic_challenge


def run_worker(args: list[str], env_extra: dict[str, str],
               home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "LANG": "C.UTF-8", "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1",
           **env_extra}
    return subprocess.run([sys.executable, "-m", "worker", *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def inbox_config(tmp_path: Path) -> Path:
    """An inbox challenge with one submission waiting, so that `once` has work to log."""
    challenge = write_synthetic_challenge(tmp_path / "challenge", phases=("dev",),
                                          teams=("strong",))
    team = tmp_path / "var" / "inbox" / "dev" / "Team Strong"
    team.mkdir(parents=True)
    shutil.copy(challenge.submissions["strong"], team / "embeddings.csv")
    settled = datetime.now(UTC).timestamp() - 60  # the inbox leaves files younger than 1 s
    os.utime(team / "embeddings.csv", (settled, settled))
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "title": "log file test", "source": "inbox", "data_dir": str(tmp_path / "var"),
        "phases": {"dev": phase_entry(challenge.annotations["dev"], dim=challenge.dim)},
        "leaderboard": {"enabled": False, "publisher": "none"},
    }))
    return config


def test_state_changing_commands_log_to_neuco_log_in_the_log_dir(tmp_path: Path):
    config = inbox_config(tmp_path)
    logs = tmp_path / "logs-here"
    done = run_worker(["once", "--config", str(config)], {"NEUCO_LOG_DIR": str(logs)}, tmp_path)
    assert done.returncode == 0, done.stderr
    text = (logs / "neuco.log").read_text()
    assert "submission " in text, text
    # Every line on stderr is in the file too, in the same format.
    stderr_lines = [line for line in done.stderr.splitlines() if " INFO " in line]
    assert stderr_lines and all(line in text for line in stderr_lines)


def test_without_neuco_log_dir_the_file_goes_to_the_data_folders_logs(tmp_path: Path):
    config = inbox_config(tmp_path)
    done = run_worker(["once", "--config", str(config)], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "logs" / "neuco.log").read_text()


def test_read_only_commands_write_no_log_file(tmp_path: Path):
    config = inbox_config(tmp_path)
    logs = tmp_path / "logs"
    done = run_worker(["status", "--config", str(config)], {"NEUCO_LOG_DIR": str(logs)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not logs.exists()


def test_an_unwritable_log_dir_costs_the_file_not_the_command(tmp_path: Path):
    config = inbox_config(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_worker(["once", "--config", str(config)],
                      {"NEUCO_LOG_DIR": str(blocker / "logs")}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "not logging to a file" in done.stderr


def test_healthcheck_exits_1_never_2_on_a_missing_or_bad_config(tmp_path: Path):
    missing = run_worker(["healthcheck"], {"NEUCO_CONFIG": str(tmp_path / "nope.yaml")}, tmp_path)
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert missing.stdout.startswith("unhealthy: ")
    bad = tmp_path / "bad.yaml"
    bad.write_text("phases: [not, a, mapping]\n")
    invalid = run_worker(["healthcheck", "--config", str(bad)], {}, tmp_path)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr


def test_healthcheck_is_0_with_a_fresh_heartbeat_and_1_without(tmp_path: Path):
    config = inbox_config(tmp_path)
    stale = run_worker(["healthcheck", "--config", str(config)], {}, tmp_path)
    assert stale.returncode == 1 and "missing" in stale.stdout
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "heartbeat").write_text(datetime.now(UTC).isoformat())
    fresh = run_worker(["healthcheck", "--config", str(config)], {}, tmp_path)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr


def test_healthcheck_imports_neither_torch_nor_the_pipeline(tmp_path: Path):
    """Docker runs it every minute with a 30 s timeout, in an image without bytecode: importing
    torch there took close to a minute on a loaded machine."""
    config = inbox_config(tmp_path)
    probe = ("import sys; from worker.cli import main; rc = main(['healthcheck', '--config', "
             f"{str(config)!r}]); print(sorted(m for m in ('torch', 'worker.pipeline', "
             "'scoring.engine') if m in sys.modules)); sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)})
    assert done.returncode == 1, done.stderr  # no heartbeat yet: unhealthy
    assert done.stdout.strip().endswith("[]"), done.stdout
