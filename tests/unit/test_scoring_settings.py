"""The challenge YAML's `scoring:` section, what a scoring process may see of the worker's
environment, and the rescore progress line. Pure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from scoring.config import ConfigError
from worker.rescore import RescoreProgress
from worker.scorer import scoring_environment
from worker.settings import ScoringSettings, settings_from

BASE = {"source": "inbox", "phases": {"dev": {"annotations": "labels/dev"}}}


def test_scoring_section_defaults_fit_an_8_vcpu_vm():
    settings = settings_from(BASE, {}, Path("/srv"))
    assert settings.scoring == ScoringSettings("auto", 2048.0, 900.0, 120.0)


def test_scoring_section_is_read_and_checked():
    raw = {**BASE, "scoring": {"processes": 3, "memory_mb": 4096, "timeout_seconds": 60,
                               "retry_backoff_seconds": 30}}
    assert settings_from(raw, {}, Path("/srv")).scoring == ScoringSettings(3, 4096.0, 60.0, 30.0)
    bad = {**BASE, "scoring": {"processes": 0, "memory_mb": 10, "timout_seconds": 5}}
    with pytest.raises(ConfigError) as caught:
        settings_from(bad, {}, Path("/srv"))
    problems = "\n".join(caught.value.problems)
    assert "scoring.processes must be auto or a whole number >= 1, got 0" in problems
    assert "scoring.memory_mb must be a number above 100" in problems
    assert "unknown key 'scoring.timout_seconds' (did you mean 'timeout_seconds'?)" in problems


def test_scoring_processes_get_no_secrets():
    env = {"PATH": "/usr/bin", "HOME": "/home/neuco", "LC_ALL": "C.UTF-8", "PYTHONPATH": "/app",
           "CUDA_VISIBLE_DEVICES": "0", "AUTH_TOKEN": "secret", "GITHUB_TOKEN": "ghp_x",
           "DATABASE_URL": "postgresql://u:pw@db/x", "QUEUE_NAME": "q"}
    assert scoring_environment(env) == {
        "PATH": "/usr/bin", "HOME": "/home/neuco", "LC_ALL": "C.UTF-8", "PYTHONPATH": "/app",
        "CUDA_VISIBLE_DEVICES": "0",
    }


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_rescore_progress_shows_an_eta_on_a_terminal():
    now = [0.0]
    stream = Terminal()
    progress = RescoreProgress(stream, total=4, clock=lambda: now[0])
    now[0] = 60.0
    progress.advance()  # 1 of 4 in a minute: 3 minutes to go
    assert stream.getvalue().endswith("1/4 submissions · 60 s elapsed · ETA 3 min")
    for _ in range(3):
        progress.advance()
    assert stream.getvalue().endswith("4/4 submissions · 60 s elapsed · done\n")
    quiet = io.StringIO()
    RescoreProgress(quiet, total=2).advance()
    assert quiet.getvalue() == ""
