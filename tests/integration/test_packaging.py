"""The project as pip installs it (the image, a VM): a wheel built from the repository's files
carries the leaderboard repository template, and an installed worker finds it there, away from
any checkout.

I/O: copies the repository's tracked files to tmp_path, runs `pip wheel` and `pip install
--target` there (no network: no dependencies, no build isolation), and a Python subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = "worker/leaderboard/leaderboard_repo_template"


def tracked_files() -> list[str]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True, timeout=60).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO / name).is_file()]


def run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_carries_the_template_and_the_installed_worker_finds_it(tmp_path: Path):
    source = tmp_path / "src"
    for name in tracked_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO / name).read_bytes())
    template_files = sorted(name.removeprefix(TEMPLATE + "/") for name in tracked_files()
                            if name.startswith(TEMPLATE + "/"))
    assert {"README_base.md", "LICENSE.md", ".gitattributes"} <= set(template_files)

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"),
         str(source)])
    (wheel,) = (tmp_path / "dist").glob("neuco_eval-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in template_files if f"{TEMPLATE}/{name}" not in names]
    assert not missing, f"not in the wheel: {missing}"

    installed = tmp_path / "installed"
    run([*pip, "install", "--no-deps", "-q", "--target", str(installed), str(wheel)])
    probe = ("from worker.leaderboard.remote import TEMPLATE_DIR, template_files; "
             "print(TEMPLATE_DIR); print(sorted(template_files('T')))")
    env = {**os.environ, "PYTHONPATH": str(installed)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    where, files = done.stdout.splitlines()[-2:]
    assert where.startswith(str(installed)), where
    for name in ("README.md", "LICENSE.md", ".gitattributes", "plots/.gitkeep"):
        assert repr(name) in files, files
    assert "no template" not in done.stderr
