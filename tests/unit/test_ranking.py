"""The task-weighted rank leaderboard: the reference's 18 golden cases plus the options."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata

from scoring.ranking import rank_entries, task_weights

GOLDEN = Path(__file__).resolve().parents[3] / "shared" / "golden" / "ranking_cases.json"


def golden_cases():
    if not GOLDEN.exists():
        return []
    return json.loads(GOLDEN.read_text())["cases"]


@pytest.mark.skipif(not GOLDEN.exists(), reason=f"golden data not found at {GOLDEN}")
@pytest.mark.parametrize("case", golden_cases(), ids=lambda c: c["name"])
def test_reference_cases(case):
    entries = {
        name: {
            t: (math.nan if v is None else v) for t, v in zip(case["tasks"], values, strict=True)
        }
        for name, values in case["entries"].items()
    }
    board = rank_entries(entries, case["tasks"])
    got = {r.name: r for r in board.rows}
    assert set(got) == {e["experiment"] for e in case["expected"]}
    for e in case["expected"]:
        row = got[e["experiment"]]
        assert row.weighted_score == pytest.approx(e["weighted_score"], abs=1e-9)
        assert row.rank == e["aggregated_rank"]
        assert row.mean_q == pytest.approx(e["mean_score"], abs=1e-9)
    # best first
    assert [r.weighted_score for r in board.rows] == sorted(r.weighted_score for r in board.rows)


def test_golden_case_count():
    if GOLDEN.exists():
        assert len(golden_cases()) == 18


def test_min_rank_ties_like_scipy():
    rng = np.random.default_rng(0)
    q = rng.integers(0, 4, size=(9, 3)).astype(float)
    entries = {f"e{i}": {f"t{j}": q[i, j] for j in range(3)} for i in range(9)}
    board = rank_entries(entries, ["t0", "t1", "t2"])
    for row in board.rows:
        i = int(row.name[1:])
        for j in range(3):
            assert row.task_ranks[f"t{j}"] == rankdata(-q[:, j], method="min")[i]


def test_entries_with_a_missing_task_are_dropped_and_reported():
    board = rank_entries({"a": {"x": 1.0, "y": 2.0}, "b": {"x": 3.0}}, ["x", "y"])
    assert [r.name for r in board.rows] == ["a"]
    assert board.dropped == ("b",)


def test_weights_use_sample_std_and_equal_weights_for_one_entry():
    q = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    w = task_weights(q)
    stds = q.std(axis=0, ddof=1)
    np.testing.assert_allclose(w, stds / stds.sum())
    np.testing.assert_allclose(task_weights(q[:1]), [0.5, 0.5])


def test_weight_exclude_leaves_baselines_out_of_the_weights_but_on_the_board():
    # The 2025 pattern: a random baseline inflates the weight of the task everyone else solves.
    entries = {
        "A": {"easy": 30.0, "hard": 5.0},
        "B": {"easy": 29.0, "hard": 9.0},
        "random": {"easy": -20.0, "hard": -1.0},
    }
    with_baseline = rank_entries(entries, ["easy", "hard"])
    without = rank_entries(entries, ["easy", "hard"], weight_exclude=["random"])
    assert with_baseline.weights["easy"] > 0.8
    assert without.weights["hard"] > without.weights["easy"]
    assert [r.name for r in with_baseline.rows][0] == "A"
    assert [r.name for r in without.rows][0] == "B"
    assert {r.name for r in without.rows} == {"A", "B", "random"}


def test_ghost_task_pulls_tiny_spreads_towards_equal_weights():
    entries = {
        "A": {"t1": 10.000, "t2": 20.0, "t3": 5.0},
        "B": {"t1": 10.001, "t2": 19.0, "t3": 5.5},
        "C": {"t1": 10.002, "t2": 19.5, "t3": 4.0},
    }
    plain = rank_entries(entries, ["t1", "t2", "t3"])
    ghost = rank_entries(entries, ["t1", "t2", "t3"], ghost_std=100.0)
    # effective weight of t1 = w1 + w_ghost / 3 -> close to 1/3 when the ghost dominates
    q = np.array([[entries[n][t] for t in ("t1", "t2", "t3")] for n in "ABC"])
    stds = q.std(axis=0, ddof=1)
    effective = (stds + 100.0 / 3) / (stds.sum() + 100.0)
    ranks = {r.name: r.task_ranks for r in ghost.rows}
    for row in ghost.rows:
        expected = sum(effective[j] * ranks[row.name][t] for j, t in enumerate(("t1", "t2", "t3")))
        assert row.weighted_score == pytest.approx(expected)
    assert plain.weights["t1"] < 0.01
    assert ghost.weights["t1"] + (1 - sum(ghost.weights.values())) / 3 > 0.3


def test_ghost_std_must_be_positive():
    with pytest.raises(ValueError, match="ghost_std must be a positive number"):
        rank_entries({"a": {"x": 1.0}}, ["x"], ghost_std=0.0)
