"""The README's commands exist and parse; the example challenge YAML loads; settings errors."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from scoring.cli import parser as scoring_parser
from scoring.config import ConfigError
from worker.cli import parser as worker_parser
from worker.settings import settings_from

ROOT = Path(__file__).resolve().parents[2]
EVALAI_ENV = {"AUTH_TOKEN": "t0ken", "API_SERVER": "https://eval.ai", "QUEUE_NAME": "q-1",
              "CHALLENGE_PK": "7", "GITHUB_TOKEN": "g1thub"}


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    commands, pending = [], ""
    for block in blocks:
        for line in block.splitlines():
            line = pending + line.split("  #")[0].strip()
            pending = ""
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            if line:
                commands.append(shlex.split(line))
    return commands


def test_readme_has_the_two_quick_start_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert ["make", "demo"] in commands and ["make", "test"] in commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)


def test_every_readme_command_parses():
    makefile = (ROOT / "Makefile").read_text()
    seen = 0
    for argv in readme_commands():
        if argv[0] == "make":
            assert re.search(rf"^{argv[1]}:", makefile, flags=re.M), argv
        elif argv[:3] == ["python", "-m", "worker"]:
            worker_parser().parse_args(argv[3:])
        elif argv[:3] == ["python", "-m", "scoring"]:
            cleaned = [a for a in argv[3:] if not (a.startswith("[") or a.endswith("]"))]
            scoring_parser().parse_args(cleaned)
        else:
            continue
        seen += 1
    assert seen >= 15


def test_example_challenge_yaml_is_valid_and_documents_every_key():
    path = ROOT / "deploy" / "challenge.example.yaml"
    raw = yaml.safe_load(path.read_text())
    settings = settings_from(raw, EVALAI_ENV, path.parent, str(path))
    assert settings.source == "evalai"
    assert settings.phases["final"].probe.k_folds == 200
    assert settings.phases["dev"].probe.k_folds == 40
    assert settings.evalai is not None and settings.evalai.challenge_pk == 7
    assert "t0ken" not in repr(settings)
    from worker import settings as module

    text = path.read_text()
    for key in module.TOP_KEYS + module.PHASE_KEYS + module.BOARD_KEYS + module.EVALAI_KEYS:
        assert re.search(rf"^\s*#?\s*{key}:", text, flags=re.M), f"{key} undocumented"


def test_settings_report_every_problem():
    raw = {
        "source": "evalai",
        "poll_interval_seconds": 0,
        "phases": {"dev": {"annotation": "x"}, "final": {"annotations": "y",
                                                     "probe": {"k_folds": -1}}},
        "leaderboard": {"publisher": "svn", "frozen_phases": ["test"]},
        "colour": "blue",
    }
    with pytest.raises(ConfigError) as info:
        settings_from(raw, {}, Path("/tmp"))
    problems = "\n".join(info.value.problems)
    assert "unknown key 'colour'" in problems
    assert "unknown key 'phases.dev.annotation' (did you mean 'annotations'?)" in problems
    assert "phases.dev.annotations is required" in problems
    assert "phases.final.probe: k_folds must be a positive whole number, got -1" in problems
    assert "leaderboard.publisher must be one of git, github, none, got 'svn'" in problems
    assert "leaderboard.frozen_phases names unknown phase 'test'" in problems
    assert "AUTH_TOKEN, API_SERVER, QUEUE_NAME, CHALLENGE_PK are not set" in problems
    assert "poll_interval_seconds must be a number above 0, got 0" in problems


def test_environment_overrides_paths(tmp_path: Path):
    raw = {"source": "inbox", "phases": {"dev": {"annotations": "labels"}}}
    env = {"NEUCO_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "sqlite:///x.db"}
    s = settings_from(raw, env, tmp_path)
    assert s.data_dir == tmp_path / "data"
    assert s.database_url == "sqlite:///x.db"
    assert s.phases["dev"].annotations == tmp_path / "labels"
    assert s.leaderboard.remote == str(tmp_path / "data" / "leaderboard.git")


def test_leaderboard_branch_from_the_environment_then_the_yaml(tmp_path: Path):
    raw = {"source": "inbox", "phases": {"dev": {"annotations": "labels"}},
           "leaderboard": {"branch": "gh-pages"}}
    assert settings_from(raw, {}, tmp_path).leaderboard.branch == "gh-pages"
    env = {"LEADERBOARD_BRANCH": "results/2026"}
    assert settings_from(raw, env, tmp_path).leaderboard.branch == "results/2026"
    del raw["leaderboard"]
    assert settings_from(raw, {}, tmp_path).leaderboard.branch == "main"
    for bad in ("main branch", "../x", "-f", "x.lock"):
        with pytest.raises(ConfigError) as caught:
            settings_from(raw, {"LEADERBOARD_BRANCH": bad}, tmp_path)
        assert caught.value.problems == [
            "the leaderboard branch must be a plain git branch name such as main or gh-pages, "
            f"got {bad!r} (LEADERBOARD_BRANCH or leaderboard.branch)"]
