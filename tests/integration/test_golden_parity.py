"""Fidelity: with split seed 42, our numbers fall inside the reference's tolerance bands.
Scored the way the CLI and the worker score: through the pool of single-threaded processes.

`../shared/golden/reference.json` gives, for 4 teams x 9 tasks, the reference's Q and mean split
score over six runs that differ only in the probe seed, and a band derived from that spread;
each team's mean Q has a band too. Every value is checked separately, for both batching modes.

One cell is a documented exception (strict xfail, so it is noticed if it ever passes): team
`strong`, task `crops`, Q. Its six reference runs happen to cluster tightly (sd 0.09, band
[3.50, 4.42]), but the reference procedure itself — re-run here one probe at a time with
PyTorch's DataLoader, nn.Linear, AdamW and torchmetrics — spreads much wider across probe seeds
(3.2 to 4.4 in our runs), so it lands below that band too; `test_reference_procedure_spread`
(slow) demonstrates it, docs/fidelity.md gives the numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from scoring.config import load_probe_config
from scoring.labels import load_tasks
from scoring.pool import (
    PoolLimits,
    ScoringPool,
    SharedFolder,
    score_shared,
    shared_submission,
    usable_cpus,
)
from scoring.quality import q_statistic
from scoring.submission import load_submission
from tests.reference_procedure import reference_split_scores

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden"
pytestmark = pytest.mark.skipif(
    not (GOLDEN / "reference.json").exists(), reason=f"golden data not found at {GOLDEN}"
)
KNOWN_NARROW_BAND = {("strong", "crops", "q")}


def reference() -> dict:
    if not (GOLDEN / "reference.json").exists():
        return {"teams": {}}
    return json.loads((GOLDEN / "reference.json").read_text())


REF = reference()


@pytest.fixture(scope="module")
def pool():
    """The production path: files read and tasks scored in single-threaded processes."""
    folder = SharedFolder()
    with ScoringPool(usable_cpus(), os.environ, PoolLimits(None, None)) as pool:
        yield pool, folder
    folder.close()


@pytest.fixture(scope="module", params=["shared", "independent"])
def cards(request, pool):
    config = load_probe_config(GOLDEN / "config.yaml").replace(batching=request.param)
    tasks = load_tasks(GOLDEN / "annotations")
    expected = set().union(*(set(t.ids) for t in tasks))
    options = dict(embedding_dim=None, strict=True, standardize=True)
    out = {}
    for team in REF["teams"]:
        path = GOLDEN / "submissions" / f"{team}.csv.gz"
        with shared_submission(*pool, path, expected, options) as shared:
            out[team], _ = score_shared(pool[0], shared, tasks, config, seed=42)
    return out


def checks():
    for team, data in REF["teams"].items():
        for task in data["tasks"]:
            for quantity in ("q", "mean"):
                marks = []
                if (team, task, quantity) in KNOWN_NARROW_BAND:
                    marks = [
                        pytest.mark.xfail(
                            strict=True,
                            reason="band narrower than the "
                            "reference's own probe-seed noise; see module doc",
                        )
                    ]
                yield pytest.param(
                    team, task, quantity, id=f"{team}-{task}-{quantity}", marks=marks
                )


@pytest.mark.parametrize(("team", "task", "quantity"), list(checks()))
def test_task_value_inside_reference_band(cards, team, task, quantity):
    score = cards[team].task(task)
    ref = REF["teams"][team]["tasks"][task]
    value = score.q if quantity == "q" else score.mean_score
    lo, hi = ref[f"{quantity}_band"]["band"]
    assert lo <= value <= hi, f"{team}/{task} {quantity} = {value:.4f} outside [{lo:.4f}, {hi:.4f}]"


@pytest.mark.parametrize("team", list(REF["teams"]))
def test_team_mean_q_inside_reference_band(cards, team):
    lo, hi = REF["teams"][team]["mean_q_band"]["band"]
    assert lo <= cards[team].mean_q <= hi


def test_every_split_counted(cards):
    for card in cards.values():
        assert [t.k for t in card.tasks] == [40] * 9
        assert sum(t.failed_splits for t in card.tasks) == 0


@pytest.mark.slow
def test_reference_procedure_spread():
    """The reference procedure, seed after seed, also falls outside the strong/crops Q band."""
    tasks = {t.name: t for t in load_tasks(GOLDEN / "annotations")}
    expected = set().union(*(set(t.ids) for t in tasks.values()))
    table = load_submission(
        GOLDEN / "submissions" / "strong.csv.gz", expected, embedding_dim=None, strict=True
    )
    crops = tasks["crops"]
    rows = [table.row_index[i] for i in crops.ids]
    y = (crops.labels - crops.labels.min()) / (crops.labels.max() - crops.labels.min())
    qs = []
    for seed in range(6):
        s = reference_split_scores(table.matrix[rows], y, 40, 20, 64, 1e-3, torch_seed=seed)
        qs.append(q_statistic(s.mean(), s.std()))
    lo, hi = REF["teams"]["strong"]["tasks"]["crops"]["q_band"]["band"]
    outside = [q for q in qs if not lo <= q <= hi]
    assert outside, f"all six reference-procedure runs inside [{lo}, {hi}]: {np.round(qs, 2)}"
