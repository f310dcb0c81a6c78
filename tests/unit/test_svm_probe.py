"""The fast SVM probe against the reference's BayesSearchCV procedure run directly."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.probes.svm import svm_search
from scoring.probes.svm_params import svm_params_from_mapping
from scoring.splits import random_splits
from tests.reference_svm_procedure import reference_svm_search

PARAMS = {
    "C_start_end": [0.001, 1000],
    "epsilon_list": [0.01, 0.05, 0.1, 0.5],
    "kernel_degree_list": [2, 3],
    "kernel_gamma_start_end": [0.0001, 10],
    "kernel_coef0_start_end": [-1, 2],
    "opt_params": {
        "n_iter": 5,
        "n_jobs": 1,
        "n_points": 1,
        "optimizer_kwargs": {"base_estimator": "RF", "n_initial_points": 3},
        "verbose": 1,
    },
}


def _data(kind: str, n: int = 90, d: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x = (x - x.mean()) / x.std()
    signal = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + 0.5 * rng.normal(size=n)
    if kind == "cls":
        return x, (signal > 0.3).astype(np.float64)
    y = signal - signal.min()
    return x, y / y.max()


@pytest.mark.parametrize("kind", ["regr", "cls"])
def test_same_candidates_and_split_scores_as_bayes_search_cv(kind):
    x, y = _data(kind)
    k = 3
    params = PARAMS if kind == "regr" else {**PARAMS, "kernel_gamma_start_end": None}
    problems: list[str] = []
    ours = svm_search(
        x,
        y,
        list(zip(*random_splits(len(y), k, 42), strict=True)),
        kind,
        svm_params_from_mapping(params, problems),
        seed=42,
    )
    assert not problems
    ref = reference_svm_search(x, y, kind, params, k=k, split_seed=42)
    assert len(ours.candidates) == len(ref.candidates) == 5  # 3 random, 2 from the surrogate
    for a, b in zip(ours.candidates, ref.candidates, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == (b[key] if isinstance(b[key], str) else pytest.approx(b[key])), key
    np.testing.assert_allclose(ours.run.epoch_scores, ref.metric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.run.best_scores, ref.split_scores, rtol=1e-6, atol=1e-9)
    assert ours.best_candidate == ref.best_params


def test_ragged_splits_are_supported():
    x, y = _data("regr", n=60)
    splits = [(np.arange(10, 60), np.arange(10)), (np.arange(0, 45), np.arange(45, 60))]
    problems: list[str] = []
    params = svm_params_from_mapping(
        {**PARAMS, "opt_params": {"n_iter": 3, "optimizer_kwargs": {"n_initial_points": 3}}},
        problems,
    )
    search = svm_search(x, y, splits, "regr", params, seed=1)
    assert [p.size for p in search.test_pred] == [10, 15]
    assert search.run.best_test_pred.shape == (1, 25)
    assert np.isfinite(search.run.best_scores).all()
