"""Bootstrap rank intervals agree with the board's rank aggregation and behave sensibly."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.bootstrap import RankIntervals, rank_intervals
from scoring.quality import q_from_splits
from scoring.ranking import rank_entries

TASKS = ("t1", "t2", "t3")


def _splits(
    rng: np.random.Generator, means: dict[str, float], k: int = 30, noise: float = 0.05
) -> dict[str, dict[str, np.ndarray]]:
    return {
        name: {t: rng.normal(mean * (1 + 0.1 * j), noise, k) for j, t in enumerate(TASKS)}
        for name, mean in means.items()
    }


def _as_tuples(result: RankIntervals) -> list[tuple[str, int, int, int, float]]:
    return [(i.name, i.rank, i.low, i.high, i.p_first) for i in result.intervals]


def test_same_seed_same_intervals() -> None:
    data = _splits(np.random.default_rng(0), {"a": 0.5, "b": 0.52, "c": 0.3, "d": 0.51})
    first = rank_intervals(data, TASKS, np.random.default_rng(7))
    again = rank_intervals(data, TASKS, np.random.default_rng(7))
    assert _as_tuples(first) == _as_tuples(again)
    assert first.n_resamples == 1000 and first.level == 0.9


def test_intervals_contain_the_point_rank_and_point_ranks_match_the_board() -> None:
    rng = np.random.default_rng(1)
    means = {f"e{i}": float(m) for i, m in enumerate(rng.uniform(0.2, 0.8, 8))}
    data = _splits(rng, means, k=40, noise=0.08)
    result = rank_intervals(data, TASKS, np.random.default_rng(2))
    board = rank_entries(
        {n: {t: float(q_from_splits(s)) for t, s in per.items()} for n, per in data.items()}, TASKS
    )
    assert {i.name: i.rank for i in result.intervals} == {r.name: r.rank for r in board.rows}
    for interval in result.intervals:
        assert interval.low <= interval.rank <= interval.high, interval
    assert sum(i.p_first for i in result.intervals) >= 1.0  # ties share first place


def test_identical_entries_get_identical_intervals() -> None:
    rng = np.random.default_rng(3)
    data = _splits(rng, {"strong": 0.9, "weak": 0.1}, noise=0.02)
    twin = {t: rng.normal(0.5, 0.05, 30) for t in TASKS}
    data["twin_a"] = twin
    data["twin_b"] = {t: s.copy() for t, s in twin.items()}
    found = rank_intervals(data, TASKS, np.random.default_rng(4)).by_name()
    a, b = found["twin_a"], found["twin_b"]
    assert (a.rank, a.low, a.high) == (b.rank, b.low, b.high) == (2, 2, 3)
    assert a.p_first == b.p_first == 0.0


def test_dominant_entry_is_first_in_every_resample() -> None:
    data = _splits(np.random.default_rng(5), {"best": 0.95, "b": 0.4, "c": 0.42, "d": 0.38})
    best = rank_intervals(data, TASKS, np.random.default_rng(6)).by_name()["best"]
    assert (best.rank, best.low, best.high, best.p_first) == (1, 1, 1, 1.0)


def _one_split(q_like: dict[str, dict[str, float]]) -> dict[str, dict[str, np.ndarray]]:
    return {n: {t: np.array([v]) for t, v in per.items()} for n, per in q_like.items()}


def _identity_check(
    scores: dict[str, dict[str, float]], tasks: tuple[str, ...], **options: object
) -> None:
    """K = 1: every resample is the data itself, so intervals collapse onto rank_entries' rank."""
    q = {
        n: {t: float(q_from_splits(np.array([v]))) for t, v in per.items()}
        for n, per in scores.items()
    }
    board = rank_entries(q, tasks, **options)  # type: ignore[arg-type]
    result = rank_intervals(_one_split(scores), tasks, np.random.default_rng(0), **options)  # type: ignore[arg-type]
    expected = {r.name: r.rank for r in board.rows}
    assert {i.name: (i.low, i.rank, i.high) for i in result.intervals} == {
        n: (r, r, r) for n, r in expected.items()
    }
    assert {i.name: i.p_first for i in result.intervals} == {
        n: float(r == 1) for n, r in expected.items()
    }


def test_agrees_with_rank_entries_when_every_resample_is_the_identity() -> None:
    rng = np.random.default_rng(8)
    tasks = tuple(f"task{j}" for j in range(5))
    scores = {f"e{i}": {t: float(rng.uniform(-0.2, 0.9)) for t in tasks} for i in range(9)}
    scores["tie"] = dict(scores["e3"])  # exact ties must tie in both
    _identity_check(scores, tasks)
    _identity_check(scores, tasks, ghost_std=2.0)
    _identity_check(scores, tasks, weight_exclude=["e0", "e5"])


def test_weight_exclude_is_honoured() -> None:
    # Paper A.3: a wild random baseline inflates the weight of the task the others solve.
    scores = {
        "A": {"t1": 0.50, "t2": 0.10},
        "B": {"t1": 0.40, "t2": 0.20},
        "random": {"t1": -1.00, "t2": 0.15},
    }
    tasks = ("t1", "t2")
    plain = rank_intervals(_one_split(scores), tasks, np.random.default_rng(0)).by_name()
    excluded = rank_intervals(
        _one_split(scores), tasks, np.random.default_rng(0), weight_exclude=["random"]
    ).by_name()
    assert (plain["A"].rank, plain["B"].rank) == (1, 2)
    assert (excluded["A"].rank, excluded["B"].rank) == (2, 1)
    _identity_check(scores, tasks, weight_exclude=["random"])


def test_non_competing_entries_take_no_place() -> None:
    scores = {"A": {"t1": 0.9}, "baseline": {"t1": 0.5}, "B": {"t1": 0.1}}
    found = rank_intervals(
        _one_split(scores), ("t1",), np.random.default_rng(0), non_competing=["baseline"]
    ).by_name()
    assert {n: (i.rank, i.low, i.high) for n, i in found.items()} == {
        "A": (1, 1, 1),
        "baseline": (2, 2, 2),
        "B": (2, 2, 2),
    }


def test_failed_splits_and_different_k() -> None:
    rng = np.random.default_rng(9)
    data = _splits(rng, {"a": 0.6, "b": 0.3}, k=40)
    data["a"]["t1"][:5] = np.nan  # failed splits are ignored
    data["short"] = {t: rng.normal(0.45, 0.05, 7) for t in TASKS}  # k differs per entry
    data["broken"] = {t: rng.normal(0.9, 0.05, 10) for t in TASKS}
    data["broken"]["t2"][:] = np.nan  # no valid split: NaN Q, dropped like rank_entries
    data["missing"] = {"t1": rng.normal(0.9, 0.05, 10)}
    result = rank_intervals(data, TASKS, np.random.default_rng(10))
    assert result.dropped == ("broken", "missing")
    assert [i.name for i in result.intervals] == ["a", "short", "b"]


def test_bad_options_are_refused_with_the_value() -> None:
    data = _one_split({"a": {"t1": 0.5}})
    with pytest.raises(ValueError, match="at least 1000, got 10"):
        rank_intervals(data, ("t1",), np.random.default_rng(0), n_resamples=10)
    with pytest.raises(ValueError, match="level"):
        rank_intervals(data, ("t1",), np.random.default_rng(0), level=1.5)
