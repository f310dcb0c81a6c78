"""The board belongs to the organisers, end to end: `python -m worker once|refresh|status` in
subprocesses against the EvalAI double over real HTTP, publishing to a real local git remote.

A participant who makes the team's only public submission private (EvalAI's My Submissions
toggle, over HTTP) takes the team's entry off the board at the next publication, and nobody
else's publication waits for an organiser. A participant team registered under a baseline's
name stays a competing team; only the host's submission with EvalAI's baseline flag is a
baseline.

I/O: a loopback HTTP server per test, worker subprocesses, git subprocesses, files under
pytest's tmp_path. Every wait has a deadline; every subprocess is ended in `finally`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from tests.e2e.worker_harness import (
    ChallengeFiles,
    Site,
    final_puts,
    write_synthetic_challenge,
)
from worker.settings import BASELINE_NAMES_ON_EVALAI

TIMEOUT = (5.0, 10.0)
WITHDRAWN = "Zephyr Quietly"  # a name that occurs nowhere else, so a search of the tree is exact
LOOKALIKE = "Baseline mean embeddings"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=7,
                                     phases=("final",))  # fmt: skip



def remote_of(site: Site) -> Path:
    return site.root / "leaderboard.git"


def board_config(site: Site, name: str = "challenge.yaml", **board: Any) -> Path:
    """Publishing on, to a local bare repository the worker creates from the template."""
    leaderboard = {"enabled": True, "publisher": "git", "remote": str(remote_of(site)),
                   "bootstrap_resamples": 0, **board}  # fmt: skip
    return site.write_config(name, leaderboard=leaderboard)


def git(site: Site, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", f"--git-dir={remote_of(site)}", *args],
                          capture_output=True, text=True, check=check)  # fmt: skip


def published(site: Site) -> dict[str, Any]:
    return json.loads(git(site, "show", "main:leaderboard/final.json").stdout)


def patch_submission(site: Site, pk: int, token: str, body: dict[str, Any]) -> dict[str, Any]:
    """What EvalAI's My Submissions page sends for a toggle (the user's own token)."""
    fixtures = site.double.fixtures
    path = (f"/api/jobs/challenge/{fixtures.challenge_pk}/challenge_phase/"
            f"{fixtures.phases['final']}/submission/{pk}")  # fmt: skip
    answer = requests.patch(site.double.url + path, json=body, timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_participants_private_toggle_does_not_freeze_the_board(site: Site):
    site.double.rename_team("beta", WITHDRAWN)
    config = board_config(site)
    kept = site.submit("strong", team="alpha")
    withdrawn = site.submit("medium", team=WITHDRAWN)
    first = site.worker("once", config=config)
    assert first.returncode == 0, first.describe()
    assert sorted(e["team"] for e in published(site)["entries"]) == [WITHDRAWN, "alpha"]

    hidden = patch_submission(site, withdrawn, site.double.fixtures.participant2_token,
                              {"is_public": False})  # the team's only public submission
    assert hidden["is_public"] is False
    refreshed = site.worker("refresh", config=config)
    assert refreshed.returncode == 0, refreshed.describe()
    assert f"submission {withdrawn} (final, {WITHDRAWN}): is_public changed" in refreshed.stdout

    later = site.submit("weak", team="alpha")  # another team's new submission
    scored = site.worker("once", config=config)

    assert scored.returncode == 0, scored.describe()
    assert final_puts(site.double, later, "finished") and final_puts(site.double, kept, "finished")
    logs = refreshed.stderr + scored.stderr
    assert "refused" not in logs, logs
    note = f"'{WITHDRAWN}' left the board: made private by its owner"
    assert note in refreshed.stderr  # logged when it happened: at the refresh's publication
    messages = git(site, "log", "--format=%B", "main").stdout
    assert f"{note}." in messages and messages.count(note) == 1
    board = published(site)
    assert [e["team"] for e in board["entries"]] == ["alpha"]
    assert board["entries"][0]["submissions"] == 2  # alpha's two; the withdrawn one left no count
    assert git(site, "grep", "-l", "-F", WITHDRAWN, "main", check=False).stdout == ""
    assert WITHDRAWN not in git(site, "ls-tree", "-r", "--name-only", "main").stdout
    status = site.worker("status", "--json", config=config)
    assert status.returncode == 0, status.describe()
    assert json.loads(status.stdout)["alerts"]["open"] == []  # nothing for an organiser to do


def test_a_team_named_like_a_baseline_stays_a_team(site: Site):
    site.double.rename_team("beta", LOOKALIKE)
    named = board_config(site, "named.yaml", baselines=[LOOKALIKE])
    refused = site.worker("once", config=named)
    assert refused.returncode == 2, refused.describe()
    assert BASELINE_NAMES_ON_EVALAI in refused.stdout + refused.stderr
    assert site.double.updates() == []  # nothing was touched on EvalAI

    config = board_config(site, baselines_in_weights=False, revealed_phases=["final"])
    site.submit("strong", team="alpha")
    lookalike = site.submit("medium", team=LOOKALIKE)
    host_pk = site.submit("weak", team="hosts")  # the organisers' own team
    first = site.worker("once", config=config)
    assert first.returncode == 0, first.describe()
    # Marked on EvalAI after it was scored (EvalAI: only a host may, on the host's own team's).
    marked = patch_submission(site, host_pk, site.double.fixtures.host_token,
                              {"is_baseline": True})  # fmt: skip
    assert marked["is_baseline"] is True
    refreshed = site.worker("refresh", config=config)

    assert refreshed.returncode == 0, refreshed.describe()
    assert f"submission {host_pk} (final, hosts): is_baseline changed" in refreshed.stdout
    assert "refused" not in refreshed.stderr
    with site.store() as store:
        assert store.get("evalai", lookalike).is_baseline is False
        assert store.get("evalai", host_pk).is_baseline is True
    board = published(site)
    flags = {e["team"]: e["baseline"] for e in board["entries"]}
    assert flags == {"alpha": False, LOOKALIKE: False, "hosts": True}
    places = sorted(e["rank"] for e in board["entries"] if not e["baseline"])
    assert places == [1, 2]  # it competes: a place of its own among the teams
    readme = git(site, "show", "main:README.md").stdout
    assert f"| {LOOKALIKE} |" in readme and f"{LOOKALIKE} *(baseline)*" not in readme
    assert "| hosts *(baseline)* |" in readme
    # The task weights (baselines_in_weights: false) are the spread of Q over the two teams:
    # the look-alike is counted, the host's baseline is not.
    competing = [e for e in board["entries"] if not e["baseline"]]
    q = np.array([[e["task_q"][t] for t in board["tasks"]] for e in competing])
    spread = q.std(axis=0, ddof=1)
    published_weights = [board["weights"][t] for t in board["tasks"]]
    assert published_weights == pytest.approx(list(spread / spread.sum()), abs=1e-5)
    with_host = np.array([[e["task_q"][t] for t in board["tasks"]] for e in board["entries"]])
    everyone = with_host.std(axis=0, ddof=1)
    assert not np.allclose(published_weights, everyone / everyone.sum(), atol=1e-3)
