"""The reference's SVM probe procedure, composed as NeuCo-Bench composes it, for comparisons.

Used by tests and bench/svm_parity.py as an independent yardstick for scoring/probes/svm.py:
scikit-optimize's `BayesSearchCV` over a polynomial `SVC` / `SVR` (kernel computed by libsvm
from the rows), the K `ShuffleSplit(test_size=0.1, random_state=split_seed)` splits as its
folds, `scoring={"metric": "f1" | "r2", "scoring": "accuracy" | "neg_mean_squared_error"}`,
`refit="scoring"`, `return_train_score=True`, the config's `opt_params` with `random_state`
the split seed (what the reference sets when the config gives none); classification labels 0
become -1; a split's score is the best `split<i>_test_metric` over all candidates.
Every (candidate, split) is fitted one after another (n_jobs=1), as the reference runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import ShuffleSplit
from sklearn.svm import SVC, SVR
from skopt import BayesSearchCV
from skopt.space import Categorical, Real


@dataclass(frozen=True)
class ReferenceSvmResult:
    split_scores: np.ndarray  # (k,) best test metric per split
    candidates: list[dict[str, Any]]  # in the order the search proposed them
    metric: np.ndarray  # (i, k) test metric per candidate and split
    mean_refit: np.ndarray  # (i,) mean refit score over the splits (what the optimiser is told)
    best_params: dict[str, Any]


def reference_svm_search(
    x: np.ndarray,
    y: np.ndarray,
    kind: str,
    probe_params: dict[str, Any],
    k: int,
    split_seed: int = 42,
) -> ReferenceSvmResult:
    """Run BayesSearchCV as the reference does; x (n, d) embeddings, y (n,) normalised labels."""
    opt_params = dict(probe_params.get("opt_params") or {})
    opt_params.setdefault("random_state", split_seed)
    opt_params["verbose"] = 0
    space: dict[str, Any] = {
        "C": Real(*probe_params["C_start_end"], prior="log-uniform"),
        "degree": Categorical(list(probe_params["kernel_degree_list"])),
        "kernel": Categorical(["poly"]),
    }
    if probe_params.get("kernel_gamma_start_end") is not None:
        space["gamma"] = Real(*probe_params["kernel_gamma_start_end"], prior="log-uniform")
    if probe_params.get("kernel_coef0_start_end") is not None:
        space["coef0"] = Real(*probe_params["kernel_coef0_start_end"], prior="uniform")
    if kind == "regr" and probe_params.get("epsilon_list") is not None:
        space["epsilon"] = Categorical(list(probe_params["epsilon_list"]))
    if kind == "cls":
        model, metric, scoring = SVC(), "f1", "accuracy"
        targets = np.array(y, dtype=np.float64)
        targets[targets == 0] = -1
    else:
        model, metric, scoring = SVR(), "r2", "neg_mean_squared_error"
        targets = np.asarray(y, dtype=np.float64)
    search = BayesSearchCV(
        model,
        space,
        return_train_score=True,
        scoring={"metric": metric, "scoring": scoring},
        cv=ShuffleSplit(n_splits=k, test_size=0.1, random_state=split_seed),
        refit="scoring",
        **opt_params,
    )
    search.fit(x, targets)
    per_split = np.array([search.cv_results_[f"split{f}_test_metric"] for f in range(k)])
    return ReferenceSvmResult(
        split_scores=np.array([max(values) for values in per_split]),
        candidates=list(search.cv_results_["params"]),
        metric=per_split.T,
        mean_refit=np.asarray(search.cv_results_["mean_test_scoring"], dtype=np.float64),
        best_params=dict(search.best_params_),
    )
