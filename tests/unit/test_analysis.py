"""The post-reveal analyses: Kendall's tau, gaps, folds, the capability map, rank stability and
their files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import kendalltau

from scoring.analysis import (
    AnalysisOptions,
    InsufficientData,
    PhaseScores,
    analyse_phase,
    analysis_files,
    capability_map,
    kendall_tau_b,
    performance_gaps,
    rank_stability,
)
from scoring.analysis.embedding_fit import cell_folds, pairwise_distances
from scoring.bootstrap import rank_intervals

# ---- Kendall's tau -----------------------------------------------------------------------------


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(5)
    reference = rng.integers(1, 5, size=9)
    others = rng.integers(1, 6, size=(40, 9))
    ours = kendall_tau_b(reference, others)
    expected = [kendalltau(reference, row, variant="b").statistic for row in others]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)
    assert kendall_tau_b(np.arange(4), np.arange(4)[::-1]) == pytest.approx(-1.0)
    assert np.isnan(kendall_tau_b(np.arange(4), np.ones(4)))  # a constant ranking


# ---- gaps and folds ----------------------------------------------------------------------------


def test_gaps_run_from_zero_for_the_best_to_one_for_the_worst():
    scores = np.array(
        [[10.0, 5.0, np.nan, 3.0], [20.0, 5.0, 1.0, np.nan], [15.0, 5.0, np.nan, 1.0]]
    )
    gaps, best, worst = performance_gaps(scores)
    np.testing.assert_allclose(gaps[:, 0], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(gaps[:, 3], [0.0, np.nan, 1.0])
    assert np.isnan(gaps[:, 1]).all()  # no spread
    assert np.isnan(gaps[:, 2]).all()  # one score only
    assert best[0] == 20.0 and worst[0] == 10.0 and np.isnan(best[1])


def test_folds_hold_each_cell_out_once_and_keep_two_training_cells_everywhere():
    known = np.ones((6, 5), dtype=bool)
    known[0, 2:] = False  # entry 0 has two cells only: never held out
    folds = cell_folds(known, 5, np.random.default_rng(1))
    assert (folds.sum(axis=0) <= 1).all()
    assert not (folds & ~known).any()
    assert not folds[:, 0].any()
    for fold in folds:
        train = known & ~fold
        assert (train.sum(axis=1) >= 2).all() and (train.sum(axis=0) >= 2).all()
    assert folds.sum() >= 0.8 * (known.sum() - 2)


# ---- the capability map ------------------------------------------------------------------------


def _planted(n_entries: int = 12, n_tasks: int = 9, dim: int = 2, seed: int = 0):
    """Q = 80 - 40 * distance between planted points: a map exists in `dim` dimensions."""
    rng = np.random.default_rng(seed)
    entries, tasks = rng.normal(0, 0.5, (n_entries, dim)), rng.normal(0, 0.5, (n_tasks, dim))
    q = 80.0 - 40.0 * pairwise_distances(entries, tasks)
    names = [f"e{i}" for i in range(n_entries)]
    task_names = [f"t{j}" for j in range(n_tasks)]
    scores = {n: {t: float(q[i, j]) for j, t in enumerate(task_names)} for i, n in enumerate(names)}
    return scores, task_names


def test_the_map_beats_the_per_task_mean_and_predicts_removed_cells():
    scores, tasks = _planted()
    del scores["e3"]["t4"]  # never scored
    cmap = capability_map(scores, tasks, seed=2, hold_out=[("e1", "t1"), ("e7", "t5")])
    by_dim = {c.dimension: c for c in cmap.cv}
    assert [c.dimension for c in cmap.cv] == [1, 2, 3, 4, 5]
    # Gaps are distances normalised per task, so even planted points fit only approximately.
    assert by_dim[2].heldout_rmse < 0.7 * cmap.baseline_rmse
    assert by_dim[2].heldout_rmse < by_dim[1].heldout_rmse
    assert cmap.dimension >= 2
    unscored = [p for p in cmap.predictions if p.true_score is None]
    checked = [p for p in cmap.predictions if p.true_score is not None]
    assert [(p.entry, p.task) for p in unscored] == [("e3", "t4")]
    assert sorted((p.entry, p.task) for p in checked) == [("e1", "t1"), ("e7", "t5")]
    for p in checked:
        assert abs(p.gap - p.true_gap) < 0.1
        assert abs(p.score - p.true_score) < abs(p.task_mean_score - p.true_score) + 1.0
    assert set(cmap.centrality) == {f"e{i}" for i in range(12)}
    assert cmap.entry_plane.shape == (12, 2) and cmap.task_plane.shape == (9, 2)
    assert cmap.explained[0] >= cmap.explained[1] > 0 and sum(cmap.explained) <= 1.0 + 1e-9


def test_the_map_is_reproducible_and_honours_a_fixed_dimension():
    scores, tasks = _planted(8, 6, seed=4)
    a = capability_map(scores, tasks, seed=9, dimension=3, max_dimension=2)
    b = capability_map(scores, tasks, seed=9, dimension=3, max_dimension=2)
    assert a.dimension == 3 and a.entry_points.shape == (8, 3)
    assert [c.dimension for c in a.cv] == [1, 2, 3]
    np.testing.assert_array_equal(a.entry_points, b.entry_points)
    np.testing.assert_array_equal(a.heldout_predicted, b.heldout_predicted)


def test_unusable_inputs_are_refused_with_the_reason():
    scores, tasks = _planted(4, 3)
    with pytest.raises(ValueError, match="cannot hold out e0:nope"):
        capability_map(scores, tasks, seed=0, hold_out=[("e0", "nope")])
    with pytest.raises(ValueError, match="dimension must be 'auto' or a positive integer"):
        capability_map(scores, tasks, seed=0, dimension=0)
    with pytest.raises(InsufficientData, match="at least two entries"):
        capability_map({"only": scores["e0"]}, tasks, seed=0)
    flat = {n: dict.fromkeys(tasks, 1.0) for n in scores}
    with pytest.raises(InsufficientData, match="0 usable tasks"):
        capability_map(flat, tasks, seed=0)


# ---- rank stability ----------------------------------------------------------------------------


def _splits(seed: int = 3, n_entries: int = 6, n_tasks: int = 4, k: int = 10, noise=0.04):
    rng = np.random.default_rng(seed)
    level = np.linspace(0.8, 0.3, n_entries)[:, None, None] + rng.normal(0, 0.05, (1, n_tasks, 1))
    scores = level + rng.normal(0, noise, (n_entries, n_tasks, k))
    tasks = [f"task{j}" for j in range(n_tasks)]
    return {f"m{i}": {t: scores[i, j] for j, t in enumerate(tasks)}
            for i in range(n_entries)}, tasks  # fmt: skip


def test_rank_stability_uses_the_boards_bootstrap():
    splits, tasks = _splits()
    options = {"weight_exclude": ["m5"], "non_competing": ["m5"]}
    stability = rank_stability(splits, tasks, np.random.default_rng(11), **options)
    board = rank_intervals(splits, tasks, np.random.default_rng(11), **options).by_name()
    for d in stability.distributions:
        interval = board[d.name]
        assert (d.place, d.low, d.high, d.p_first) == (
            interval.rank, interval.low, interval.high, interval.p_first
        )
        assert sum(d.frequencies) == pytest.approx(1.0)
    assert [d.baseline for d in stability.distributions] == [False] * 5 + [True]
    assert stability.competing == 5
    assert stability.board_tau.shape == (1000,)
    assert stability.agreement.shape == (5, 5)
    np.testing.assert_allclose(np.diag(stability.agreement), 1.0)


def test_clearly_separated_tasks_have_tau_one_and_a_noise_task_does_not():
    splits, tasks = _splits(n_tasks=3, k=20, noise=0.004)
    rng = np.random.default_rng(0)
    for name in splits:
        splits[name]["noise"] = rng.normal(0.5, 0.2, 20)
    stability = rank_stability(splits, [*tasks, "noise"], np.random.default_rng(1))
    clear = [s for s in stability.task_summaries if s.ranking != "noise"]
    assert [s.median for s in clear] == pytest.approx([1.0, 1.0, 1.0])
    assert stability.task_summaries[-1].ranking == "noise"
    assert stability.task_summaries[-1].median < 0.8


def test_rank_stability_needs_two_complete_entries():
    splits, tasks = _splits(n_entries=2)
    del splits["m1"][tasks[0]]
    with pytest.raises(InsufficientData, match="left out: m1"):
        rank_stability(splits, tasks, np.random.default_rng(0))


# ---- the files -------------------------------------------------------------------------------


def _phase(names: dict[str, str] | None = None) -> PhaseScores:
    splits, tasks = _splits(n_entries=5)
    rename = names or {}
    splits = {rename.get(n, n): v for n, v in splits.items()}
    q = {n: {t: float(np.mean(s) / (np.std(s) + 0.02) * 2) for t, s in v.items()}
         for n, v in splits.items()}  # fmt: skip
    mean = {n: {t: float(np.mean(s)) for t, s in v.items()} for n, v in splits.items()}
    del q[rename.get("m2", "m2")][tasks[1]]  # an unscored cell
    return PhaseScores("final", "Final", tuple(tasks), q, mean, splits, baselines=("m4",),
                       weight_exclude=("m4",))  # fmt: skip


def test_analysis_files_are_complete_and_reproducible():
    options = AnalysisOptions(max_dimension=2, hold_out=(("m0", "task0"),), bootstrap_seed=4)
    first = analysis_files(analyse_phase(_phase(), options))
    second = analysis_files(analyse_phase(_phase(), options))
    assert set(first) == {
        "report.md", "analysis.json", "rank_blobs.png", "rank_tau.png", "task_agreement.png",
        "capability_map.png", "capability_fit.png",
    }  # fmt: skip
    assert first == second
    for name, data in first.items():
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG") and b"Software" not in data
    doc = json.loads(first["analysis.json"])
    cells = {(p["entry"], p["task"]): p for p in doc["capability_map"]["predictions"]}
    assert set(cells) == {("m2", "task1"), ("m0", "task0")}
    assert cells[("m0", "task0")]["true_score"] is not None
    assert cells[("m2", "task1")]["true_score"] is None
    assert len(doc["capability_map"]["validation"]["by_dimension"]) == 2
    assert doc["rank_stability"]["kendall_tau"]["board"]["defined_resamples"] == 1000
    report = first["report.md"].decode()
    for heading in ("## Rank stability", "## Capability map", "![Blob plot](rank_blobs.png)"):
        assert heading in report


def test_untrusted_names_are_escaped_in_the_report():
    phase = _phase({"m0": "a|b <script>", "m1": "$x$"})
    report = analysis_files(analyse_phase(phase, AnalysisOptions(max_dimension=1)))["report.md"]
    text = report.decode()
    assert "a\\|b \\<script\\>" in text
    assert "a|b" not in text and "<script>" not in text


def test_an_impossible_part_is_a_note_not_a_failure():
    phase = _phase()
    no_splits = PhaseScores(phase.phase, phase.title, phase.tasks, phase.task_q, phase.task_mean,
                            {n: {} for n in phase.split_scores})  # fmt: skip
    analysis = analyse_phase(no_splits, AnalysisOptions(max_dimension=1))
    assert analysis.stability is None and analysis.capability is not None
    assert any(n.startswith("no rank stability") for n in analysis.notes)
    files = analysis_files(analysis)
    assert "rank_blobs.png" not in files and "capability_map.png" in files
