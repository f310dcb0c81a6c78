"""`python -m worker leaderboard analyze` and `reveal --with-analysis` on a real SQLite store and
a real bare git remote: refused before the reveal, published with it, intervals as the board's."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from tests.integration.test_board_publishing import (
    AUTHOR,
    BASELINES,
    BRANCH,
    PHASE,
    SCENARIO,
    TASKS,
    TITLE,
    Remote,
    submit,
)
from worker.cli import main
from worker.store import SqlScoreStore


@pytest.fixture(autouse=True)
def _clean_git_environment(clean_environment: Path) -> None:
    """No global git configuration or identity: HOME is an empty temporary folder."""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Remote]:
    """A challenge YAML over a store holding the board scenario, and its bare remote."""
    remote = Remote(tmp_path / "leaderboard.git", tmp_path)
    store = SqlScoreStore(f"sqlite:///{tmp_path / 'scores.db'}")
    store.create_schema()
    for spec in SCENARIO:
        submit(store, spec)
    store.close()
    (tmp_path / "labels").mkdir()
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "title": TITLE,
        "source": "inbox",
        "data_dir": str(tmp_path),
        "database_url": f"sqlite:///{tmp_path / 'scores.db'}",
        "phases": {PHASE: {"annotations": str(tmp_path / "labels")}},
        "leaderboard": {
            "enabled": True, "publisher": "git", "remote": str(remote.path), "branch": BRANCH,
            "workdir": str(tmp_path / "publisher-work"), "author": AUTHOR,
            "baselines": ["Random Baseline"], "bootstrap_resamples": 1000,
        },
    }))  # fmt: skip
    return config, remote


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), env={"LOG_LEVEL": "WARNING"}, out=out)
    return code, out.getvalue()


def test_analyze_is_refused_before_the_reveal_and_leaks_nothing(setup, tmp_path):
    config, remote = setup
    code, text = run("leaderboard", "publish", PHASE, "--config", str(config))
    assert code == 0, text
    code, text = run("leaderboard", "analyze", "--phase", PHASE, "--config", str(config))
    assert code == 1
    assert f"analyze: refused: phase {PHASE!r} is not revealed" in text
    assert "leaderboard reveal" in text
    assert not (tmp_path / "analysis").exists()
    for task in TASKS:
        assert task not in text
    blobs, _ = remote.everything()
    assert not any(task.encode() in blob for blob in blobs for task in TASKS)


def test_reveal_with_analysis_publishes_it_with_the_boards_intervals(setup, tmp_path):
    config, remote = setup
    code, text = run("leaderboard", "reveal", PHASE, "--with-analysis", "--config", str(config))
    assert code == 0, text
    assert text.startswith("reveal: committed")
    clone = remote.clone()
    folder = clone / "analysis" / PHASE
    assert sorted(p.name for p in folder.iterdir()) == [
        "analysis.json", "capability_fit.png", "capability_map.png", "rank_blobs.png",
        "rank_tau.png", "report.md", "task_agreement.png",
    ]  # fmt: skip
    board = json.loads((clone / "leaderboard" / f"{PHASE}.json").read_text())
    analysis = json.loads((folder / "analysis.json").read_text())
    published = {e["team"]: e["rank_interval"] for e in board["entries"]}
    analysed = {e["name"]: e["interval"] for e in analysis["rank_stability"]["entries"]}
    assert analysed == published  # the same bootstrap, seeded as the board's
    assert set(analysis["baselines"]) == BASELINES
    assert analysis["tasks"] == list(TASKS)
    assert "Echo &amp; Sons\\_" in (folder / "report.md").read_text()  # the board's escaping

    # Once published as revealed, analyze runs locally too.
    code, text = run("leaderboard", "analyze", "--phase", PHASE, "--config", str(config),
                     "--dimensions", "2")  # fmt: skip
    assert code == 0, text
    assert "<- chosen" in text and "capability map: held-out RMSE" in text
    local = tmp_path / "analysis" / PHASE
    assert json.loads((local / "analysis.json").read_text())["capability_map"]["dimension"] == 2
