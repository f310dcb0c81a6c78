"""SvmParams: the NeuCo-Bench reference's `probe_type: svm` parameters, validated. Pure.

The reference's `configs/sample_config_svm.yaml` is accepted unchanged:

    probe_params:
      C_start_end: [0.001, 1000]            # C, log-uniform
      epsilon_list: [0.01, 0.05, 0.1, 0.5]  # SVR epsilon, categorical (regression only)
      kernel_degree_list: [2, 3]            # polynomial degree, categorical
      kernel_gamma_start_end: [0.0001, 10]  # gamma, log-uniform (else sklearn's 'scale')
      kernel_coef0_start_end: [-1, 2]       # coef0, uniform (else 0)
      opt_params: {n_iter: 50, n_jobs: 1, n_points: 1, verbose: 1,
                   optimizer_kwargs: {base_estimator: RF, n_initial_points: 5}}

`opt_params` are scikit-optimize `BayesSearchCV` keywords; `n_jobs` and `verbose` are accepted
and ignored (this engine spreads the work itself and does not print), `cv` is refused as the
reference refuses it (the K splits are the search's folds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SVM_PARAM_KEYS = (
    "C_start_end",
    "kernel_degree_list",
    "kernel_gamma_start_end",
    "kernel_coef0_start_end",
    "epsilon_list",
    "opt_params",
)
OPT_PARAM_KEYS = (
    "n_iter",
    "n_points",
    "n_jobs",
    "verbose",
    "random_state",
    "optimizer_kwargs",
)
OPTIMIZER_KWARG_KEYS = (
    "base_estimator",
    "n_initial_points",
    "acq_func",
    "acq_optimizer",
    "initial_point_generator",
    "acq_func_kwargs",
    "acq_optimizer_kwargs",
)


@dataclass(frozen=True)
class SvmParams:
    """The search space and the Bayesian search's settings of the polynomial SVM probe."""

    c_range: tuple[float, float]
    degrees: tuple[int, ...]
    gamma_range: tuple[float, float] | None = None
    coef0_range: tuple[float, float] | None = None
    epsilons: tuple[float, ...] | None = None
    n_iter: int = 50
    n_points: int = 1
    random_state: int | None = None  # None: the split seed, as the reference does
    optimizer_kwargs_json: str = "{}"  # scikit-optimize Optimizer keywords, as sorted JSON

    @property
    def optimizer_kwargs(self) -> dict[str, Any]:
        return json.loads(self.optimizer_kwargs_json)

    def as_reference_dict(self) -> dict[str, Any]:
        """The probe_params mapping in the reference's shape."""
        out: dict[str, Any] = {
            "C_start_end": list(self.c_range),
            "kernel_degree_list": list(self.degrees),
        }
        if self.gamma_range is not None:
            out["kernel_gamma_start_end"] = list(self.gamma_range)
        if self.coef0_range is not None:
            out["kernel_coef0_start_end"] = list(self.coef0_range)
        if self.epsilons is not None:
            out["epsilon_list"] = list(self.epsilons)
        opt: dict[str, Any] = {"n_iter": self.n_iter, "n_points": self.n_points}
        if self.random_state is not None:
            opt["random_state"] = self.random_state
        if self.optimizer_kwargs:
            opt["optimizer_kwargs"] = self.optimizer_kwargs
        out["opt_params"] = opt
        return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _range(name: str, value: Any, problems: list[str], positive: bool) -> tuple[float, float]:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(_number(v) for v in value)
        or not value[0] < value[1]
        or (positive and value[0] <= 0)
    ):
        kind = "positive numbers" if positive else "numbers"
        problems.append(f"probe_params.{name} must be [low, high] with low < high ({kind}), "
                        f"got {value!r}")
        return (1.0, 2.0)
    return (float(value[0]), float(value[1]))


def _opt_params(raw: Any, problems: list[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append("probe_params.opt_params must be a mapping of BayesSearchCV keywords")
        return {}
    if "cv" in raw:
        problems.append("probe_params.opt_params.cv must not be given: the K splits are the "
                        "search's folds")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "cv":
            continue
        if key not in OPT_PARAM_KEYS:
            problems.append(f"unknown key 'probe_params.opt_params.{key}' "
                            f"(known: {', '.join(OPT_PARAM_KEYS)})")
            continue
        out[key] = value
    for key in ("n_iter", "n_points"):
        if key in out and (not isinstance(out[key], int) or isinstance(out[key], bool)
                           or out[key] < 1):
            problems.append(f"probe_params.opt_params.{key} must be a positive whole number, "
                            f"got {out[key]!r}")
    seed = out.get("random_state")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        problems.append(f"probe_params.opt_params.random_state must be a whole number >= 0, "
                        f"got {seed!r}")
    kwargs = out.get("optimizer_kwargs") or {}
    if not isinstance(kwargs, Mapping):
        problems.append("probe_params.opt_params.optimizer_kwargs must be a mapping")
        kwargs = {}
    for key in kwargs:
        if key not in OPTIMIZER_KWARG_KEYS:
            problems.append(f"unknown key 'probe_params.opt_params.optimizer_kwargs.{key}' "
                            f"(known: {', '.join(OPTIMIZER_KWARG_KEYS)})")
    out["optimizer_kwargs"] = dict(kwargs)
    return out


def svm_params_from_mapping(params: Mapping[str, Any], problems: list[str]) -> SvmParams | None:
    """Validate the reference's SVM probe_params; append every problem to `problems`."""
    before = len(problems)
    for key in params:
        if key not in SVM_PARAM_KEYS:
            problems.append(f"unknown key 'probe_params.{key}' for probe_type svm "
                            f"(known: {', '.join(SVM_PARAM_KEYS)})")
    for key in ("C_start_end", "kernel_degree_list"):
        if key not in params:
            problems.append(f"probe_params.{key} is required for probe_type svm")
    if len(problems) > before:
        return None
    c_range = _range("C_start_end", params["C_start_end"], problems, positive=True)
    degrees_raw = params["kernel_degree_list"]
    degrees_raw = [degrees_raw] if isinstance(degrees_raw, int) else degrees_raw
    if (
        not isinstance(degrees_raw, list)
        or not degrees_raw
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in degrees_raw)
    ):
        problems.append(f"probe_params.kernel_degree_list must be a whole number >= 1 or a list "
                        f"of them, got {params['kernel_degree_list']!r}")
        degrees_raw = [2]
    gamma = coef0 = None
    for name in ("kernel_gamma_start_end", "kernel_coef0_start_end"):
        if params.get(name) is not None and 1 in degrees_raw:
            problems.append(f"probe_params.{name} cannot be searched with kernel degree 1; drop "
                            "1 from kernel_degree_list or drop the range")
    if params.get("kernel_gamma_start_end") is not None:
        gamma = _range("kernel_gamma_start_end", params["kernel_gamma_start_end"], problems, True)
    if params.get("kernel_coef0_start_end") is not None:
        coef0 = _range("kernel_coef0_start_end", params["kernel_coef0_start_end"], problems, False)
    epsilons = None
    eps_raw = params.get("epsilon_list")
    if eps_raw is not None:
        eps_list = [eps_raw] if _number(eps_raw) else eps_raw
        if not isinstance(eps_list, list) or not eps_list or not all(
            _number(e) and e > 0 for e in eps_list
        ):
            problems.append(f"probe_params.epsilon_list must be a positive number or a list of "
                            f"them, got {eps_raw!r}")
        else:
            epsilons = tuple(float(e) for e in eps_list)
    opt = _opt_params(params.get("opt_params"), problems)
    if len(problems) > before:
        return None
    return SvmParams(
        c_range=c_range,
        degrees=tuple(degrees_raw),
        gamma_range=gamma,
        coef0_range=coef0,
        epsilons=epsilons,
        n_iter=opt.get("n_iter", 50),
        n_points=opt.get("n_points", 1),
        random_state=opt.get("random_state"),
        optimizer_kwargs_json=json.dumps(opt["optimizer_kwargs"], sort_keys=True),
    )
