"""The NeuCo-Bench reference's SVM probe, computed fast. Pure (numpy, scikit-learn, skopt).

Axes: k splits, n rows of the task, d embedding dims, r rows of one split's training set,
t test rows of a split, i candidates of the search.

What the reference does per task (its `SVMHPOptimizer`): scikit-optimize's `BayesSearchCV` over
a polynomial `SVC` (classification; labels 0 become -1) or `SVR` (regression) with the K
ShuffleSplit splits as the search's folds, scoring every candidate on every split by a `metric`
(F1 or R^2) and a refit `scoring` (accuracy or negative MSE); the optimiser (a random-forest
surrogate after 5 random points, `random_state` the split seed) proposes the next candidate from
the mean refit score over the splits. The split's score is its best test metric over all
candidates **(quirk: selection on the test split, like the linear probe's best epoch)**.

How this module gets the same numbers faster:
- One Gram matrix G = X Xᵀ (n, n) in float64 per task; a candidate's polynomial kernel on a
  split is (gamma * G[rows, cols] + coef0) ** degree, which is what libsvm computes from the
  rows (up to the order of float additions), so `SVC/SVR(kernel="precomputed")` fits the same
  model while each kernel entry costs one multiply-add instead of a d-long dot product.
- The search itself is scikit-optimize's `Optimizer`, built exactly as `BayesSearchCV` builds it
  (dimensions in sorted-name order, the same random state, the same keywords), asked and told
  the same values, so it proposes the same candidates. One saving: `Optimizer.ask(n_points)`
  ends by telling its throw-away copy a "constant liar" value for the last point, a surrogate
  fit whose result is discarded; `_ask_points` skips that last fit (a third of the surrogate
  work at n_points = 1) and is otherwise the same steps with the same random draws.
- The work is partitioned by split (`SplitKernel`): a candidate's K fits are independent, and
  `map_splits` (the builtin `map` by default) may spread them over processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score
from sklearn.svm import SVC, SVR
from sklearn.utils import check_random_state
from skopt import Optimizer
from skopt.space import Categorical, Real
from skopt.utils import dimensions_aslist, point_asdict

from scoring.probes.linear import ProbeRun
from scoring.probes.svm_params import SvmParams

SplitMap = Callable[[Callable, Iterable], Iterator]


@dataclass(frozen=True)
class SplitKernel:
    """One split's slices of the task's Gram matrix and targets."""

    gram_train: np.ndarray  # (r, r) float64
    gram_test: np.ndarray  # (t, r) float64, test rows against training rows
    gram_train_diag_var: float  # X_train.var(): sklearn's gamma='scale' is 1 / (d * var)
    y_train: np.ndarray  # (r,)
    y_test: np.ndarray  # (t,)
    d: int


@dataclass(frozen=True)
class SplitResult:
    metric: float  # F1 (cls), macro-F1 (mcls) or R^2 (regr) on the test rows
    scoring: float  # accuracy or negative MSE on the test rows (what the search maximises)
    train_scoring: float  # the same on the training rows
    prediction: np.ndarray  # (t,) predicted labels (-1/1) or values


def search_space(params: SvmParams, kind: str) -> dict[str, object]:
    """The reference's search space for a task of `kind` ("regr" | "cls")."""
    space: dict[str, object] = {
        "C": Real(params.c_range[0], params.c_range[1], prior="log-uniform"),
        "degree": Categorical(list(params.degrees)),
        "kernel": Categorical(["poly"]),
    }
    if params.gamma_range is not None:
        space["gamma"] = Real(params.gamma_range[0], params.gamma_range[1], prior="log-uniform")
    if params.coef0_range is not None:
        space["coef0"] = Real(params.coef0_range[0], params.coef0_range[1], prior="uniform")
    if params.epsilons is not None and kind == "regr":
        space["epsilon"] = Categorical(list(params.epsilons))
    return space


def svm_targets(y: np.ndarray, kind: str) -> np.ndarray:
    """The reference's targets: classification labels 0 become -1."""
    out = np.array(y, dtype=np.float64)
    if kind == "cls":
        out[out == 0] = -1
    return out


def split_kernels(
    x: np.ndarray, y: np.ndarray, splits: Iterable[tuple[np.ndarray, np.ndarray]]
) -> list[SplitKernel]:
    """Per split, the slices of the task's Gram matrix X Xᵀ (computed once, float64)."""
    x64 = np.asarray(x, dtype=np.float64)
    gram = x64 @ x64.T  # (n, n)
    out = []
    for train, test in splits:
        out.append(
            SplitKernel(
                gram_train=gram[np.ix_(train, train)],
                gram_test=gram[np.ix_(test, train)],
                gram_train_diag_var=float(x64[train].var()),
                y_train=y[train],
                y_test=y[test],
                d=x64.shape[1],
            )
        )
    return out


def fit_split(split: SplitKernel, candidate: dict[str, object], kind: str) -> SplitResult:
    """Fit one candidate on one split with the precomputed polynomial kernel; score it."""
    degree = int(candidate["degree"])
    coef0 = float(candidate.get("coef0", 0.0))
    gamma = candidate.get("gamma")
    if gamma is None:  # sklearn's default gamma='scale', from the split's training rows
        var = split.gram_train_diag_var
        gamma = 1.0 / (split.d * var) if var != 0 else 1.0
    gamma = float(gamma)
    k_train = (gamma * split.gram_train + coef0) ** degree
    k_test = (gamma * split.gram_test + coef0) ** degree
    if kind != "regr":
        model = SVC(kernel="precomputed", C=float(candidate["C"]))
    else:
        model = SVR(
            kernel="precomputed",
            C=float(candidate["C"]),
            epsilon=float(candidate.get("epsilon", 0.1)),
        )
    model.fit(k_train, split.y_train)
    pred = model.predict(k_test)
    train_pred = model.predict(k_train)
    if kind != "regr":
        average = "binary" if kind == "cls" else "macro"
        return SplitResult(
            metric=float(f1_score(split.y_test, pred, average=average, zero_division=0.0)),
            scoring=float(accuracy_score(split.y_test, pred)),
            train_scoring=float(accuracy_score(split.y_train, train_pred)),
            prediction=pred,
        )
    return SplitResult(
        metric=float(r2_score(split.y_test, pred)),
        scoring=-float(mean_squared_error(split.y_test, pred)),
        train_scoring=-float(mean_squared_error(split.y_train, train_pred)),
        prediction=pred,
    )


@dataclass(frozen=True)
class SvmSearch:
    """What the search yields per task: scores per (candidate, split) and the best candidate."""

    run: ProbeRun
    test_pred: tuple[np.ndarray, ...]  # per split, the best candidate's test predictions
    candidates: tuple[dict[str, object], ...]
    best_candidate: dict[str, object]  # highest mean refit score (the reference's best_params_)
    fit_seconds: float = 0.0  # of the whole search, the time spent fitting and scoring SVMs


def _ask_points(optimizer: Optimizer, n_points: int) -> list[list[object]]:
    """`optimizer.ask(n_points)` (strategy cl_min); at n_points = 1 without the discarded lie
    fit: the same copy from the same random draw, asked once."""
    if n_points > 1:
        return optimizer.ask(n_points=n_points)
    cached = optimizer.cache_.get((1, "cl_min"))
    if cached is not None:
        return cached
    copy = optimizer.copy(random_state=optimizer.rng.randint(0, np.iinfo(np.int32).max))
    points = [copy.ask()]
    optimizer.cache_ = {(1, "cl_min"): points}
    return points


def _make_optimizer(space: dict[str, object], params: SvmParams, seed: int) -> Optimizer:
    """scikit-optimize's Optimizer as BayesSearchCV builds it for one search space."""
    kwargs = dict(params.optimizer_kwargs)
    kwargs["random_state"] = check_random_state(
        params.random_state if params.random_state is not None else seed
    )
    optimizer = Optimizer(dimensions_aslist(space), **kwargs)
    names = sorted(space)
    for i, dim in enumerate(optimizer.space.dimensions):
        if dim.name is None:
            dim.name = names[i]
    return optimizer


def svm_search(
    x: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    kind: str,
    params: SvmParams,
    seed: int,
    map_splits: SplitMap = map,
    on_candidate: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SvmSearch:
    """Run the reference's Bayesian search over the K splits of one task.

    x (n, d) embeddings, y (n,) normalised labels (0/1 for cls), splits [(train, test)] * k."""
    targets = svm_targets(y, kind)
    folds = split_kernels(x, targets, splits)
    space = search_space(params, kind)
    optimizer = _make_optimizer(space, params, seed)
    candidates: list[dict[str, object]] = []
    metric_rows: list[list[float]] = []
    scoring_rows: list[list[float]] = []
    train_rows: list[list[float]] = []
    best_pred = [np.zeros(len(test)) for _, test in splits]
    best_metric = np.full(len(splits), -np.inf)
    best_index = np.zeros(len(splits), dtype=np.int64)
    remaining = params.n_iter
    fit_seconds = 0.0
    while remaining > 0:
        points = _ask_points(optimizer, min(remaining, params.n_points))
        points = [[np.array(v).item() for v in p] for p in points]
        means = []
        for point in points:
            candidate = point_asdict(space, point)
            started = clock()
            results = list(map_splits(partial(fit_split, candidate=candidate, kind=kind), folds))
            fit_seconds += clock() - started
            metrics = [r.metric for r in results]
            for s, r in enumerate(results):
                if r.metric > best_metric[s]:  # first best candidate wins ties, like max()
                    best_metric[s] = r.metric
                    best_index[s] = len(candidates) + 1
                    best_pred[s] = r.prediction
            candidates.append(candidate)
            metric_rows.append(metrics)
            scoring_rows.append([r.scoring for r in results])
            train_rows.append([r.train_scoring for r in results])
            means.append(float(np.average([r.scoring for r in results])))
            if on_candidate is not None:
                on_candidate(len(candidates))
        optimizer.tell(points, [-m for m in means])
        remaining -= params.n_points
    scoring = np.array(scoring_rows)  # (i, k)
    mean_scoring = scoring.mean(axis=1)
    best_mean = int(np.argmax(mean_scoring))
    best_np = np.where(np.isneginf(best_metric), np.nan, best_metric)
    rectangular = len({len(p) for p in best_pred}) == 1
    run = ProbeRun(
        best_scores=best_np,
        best_epochs=best_index,
        best_test_pred=(
            np.stack(best_pred) if rectangular else np.concatenate(best_pred)[None, :]
        ).astype(np.float32),
        epoch_scores=np.array(metric_rows),
        train_loss=-np.array(train_rows),
        test_loss=-scoring,
    )
    return SvmSearch(
        run=run,
        test_pred=tuple(best_pred),
        candidates=tuple(candidates),
        best_candidate=candidates[best_mean],
        fit_seconds=fit_seconds,
    )
