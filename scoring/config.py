"""ProbeConfig: the NeuCo-Bench YAML keys, validated, with every problem reported at once. Pure.

Accepts the reference's sample configs unchanged: the nested form (`probe_params:` with
`batch_size`, `epochs`, `learning_rate`, `device`) and the older flat form (the same keys at the
top level). Keys the reference reads but this engine does not need (`update_leaderboard`,
`store_probes`) are accepted and kept so that reports echo the config faithfully.

Extensions beyond the reference (all optional):
- `seed`: split seed (default 42, the reference's fixed seed). The probe randomness of a task is
  derived from (seed, task name), so a task's score does not depend on the other tasks.
- `max_failed_splits`: a task with more failed (NaN) splits than this fails the submission;
  default: 30 % of k_folds (the challenge failed more than 3 of 10).
- `batching`: `shared` (default; all K probes of a task step through one shuffled row order per
  epoch, so each step is one dense matrix product — see docs/fidelity.md) or `independent`
  (every probe draws its own order and exact batches of `batch_size`, like the reference).
- `f1_probability_quirk`: reproduce torchmetrics' rule of skipping the sigmoid when every logit
  of a split already lies in [0, 1] (default true, as the reference behaves).
- `test_fraction`: the ShuffleSplit test size (default 0.1).

Benchmark-breadth options (issue 13; every default keeps the numbers and the fingerprint of a
config that does not use them):
- `probe_type`: `linear` (default), `mlp` (one hidden layer of `probe_params.hidden_units`,
  default 256, ReLU, the same AdamW / epochs / best-epoch protocol) or `svm` (the reference's
  Bayesian search over polynomial SVMs; its `probe_params` are in scoring/probes/svm_params.py).
- `train_fraction` (0 < f <= 1, default 1): few-shot; each split trains on a seeded random
  subset of its training rows (at least one row per class for classification).
- `split_mode`: `random` (default, ShuffleSplit) or `grouped` (GroupShuffleSplit over the label
  files' `group` column: no group is on both sides of a split).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scoring.probes.svm_params import SvmParams, svm_params_from_mapping

PROBE_PARAM_KEYS = ("batch_size", "epochs", "learning_rate", "device")
TOP_LEVEL_KEYS = (
    "k_folds",
    "probe_type",
    "probe_params",
    "embedding_dim",
    "standardize_embeddings",
    "normalize_labels",
    "enable_plots",
    "update_leaderboard",
    "output_fold_results",
    "store_probes",
    "task_filter",
    "seed",
    "max_failed_splits",
    "batching",
    "f1_probability_quirk",
    "test_fraction",
    "train_fraction",
    "split_mode",
    *PROBE_PARAM_KEYS,  # the older flat form
)
DEVICES = ("cpu", "cuda", "auto")
BATCHING = ("shared", "independent")
PROBE_TYPES = ("linear", "mlp", "svm")
SPLIT_MODES = ("random", "grouped")
MLP_PARAM_KEYS = ("hidden_units",)
# Options whose default must not enter the fingerprint, so that configs written before they
# existed keep their fingerprint (and stored results stay comparable).
BREADTH_DEFAULTS: dict[str, Any] = {
    "train_fraction": 1.0,
    "split_mode": "random",
    "hidden_units": None,
    "svm": None,
}


class ConfigError(ValueError):
    """A config with one or more problems; `problems` lists every one of them."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class ProbeConfig:
    k_folds: int = 40
    batch_size: int = 64
    epochs: int = 10
    learning_rate: float = 1e-3
    device: str = "cpu"
    embedding_dim: int | None = None
    standardize_embeddings: bool = True
    normalize_labels: bool = True
    enable_plots: bool = False
    output_fold_results: bool = False
    update_leaderboard: bool = False
    store_probes: bool = False
    task_filter: tuple[str, ...] | None = None
    seed: int = 42
    max_failed_splits: int | None = None
    batching: str = "shared"
    f1_probability_quirk: bool = True
    test_fraction: float = 0.1
    probe_type: str = "linear"
    train_fraction: float = 1.0
    split_mode: str = "random"
    hidden_units: int | None = None  # mlp only (None for other probes)
    svm: SvmParams | None = None  # svm only
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def failed_split_limit(self) -> int:
        """Largest number of failed splits a task may have and still count."""
        if self.max_failed_splits is not None:
            return self.max_failed_splits
        return math.floor(0.3 * self.k_folds)

    def fingerprint(self) -> str:
        """Hash of everything that changes the numbers (not plots, reports or the seed)."""
        scoring_fields = {
            k: v
            for k, v in asdict(self).items()
            if k
            not in {
                "enable_plots",
                "output_fold_results",
                "update_leaderboard",
                "store_probes",
                "task_filter",
                "seed",
                "device",
                "extras",
            }
            and not (k in BREADTH_DEFAULTS and v == BREADTH_DEFAULTS[k])
        }
        blob = json.dumps(scoring_fields, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def as_reference_dict(self) -> dict[str, Any]:
        """The config in the reference's nested YAML shape (for results_summary.json)."""
        if self.svm is not None:
            probe_params = self.svm.as_reference_dict()
        else:
            probe_params = {
                "batch_size": self.batch_size,
                "epochs": self.epochs,
                "learning_rate": self.learning_rate,
                "device": self.device,
            }
            if self.hidden_units is not None:
                probe_params["hidden_units"] = self.hidden_units
        out = {
            "k_folds": self.k_folds,
            "probe_type": self.probe_type,
            "probe_params": probe_params,
            "embedding_dim": self.embedding_dim,
            "standardize_embeddings": self.standardize_embeddings,
            "normalize_labels": self.normalize_labels,
            "enable_plots": self.enable_plots,
            "update_leaderboard": self.update_leaderboard,
            "output_fold_results": self.output_fold_results,
            "store_probes": self.store_probes,
            "task_filter": list(self.task_filter) if self.task_filter is not None else None,
            "seed": self.seed,
            "max_failed_splits": self.failed_split_limit,
            "batching": self.batching,
            "f1_probability_quirk": self.f1_probability_quirk,
            "test_fraction": self.test_fraction,
        }
        if self.train_fraction != 1.0:
            out["train_fraction"] = self.train_fraction
        if self.split_mode != "random":
            out["split_mode"] = self.split_mode
        return out

    def replace(self, **changes: Any) -> ProbeConfig:
        return dataclasses.replace(self, **changes)


def _suggest(key: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def probe_config_from_mapping(raw: Mapping[str, Any], source: str = "config") -> ProbeConfig:
    """Validate a parsed YAML mapping; raise ConfigError listing every problem."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError([f"expected a mapping of keys, got {type(raw).__name__}"], source)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown key '{key}'{_suggest(str(key), TOP_LEVEL_KEYS)}")

    params = raw.get("probe_params") or {}
    if not isinstance(params, Mapping):
        problems.append(
            "probe_params must be a mapping (batch_size, epochs, learning_rate, device)"
        )
        params = {}
    probe_type = raw.get("probe_type", "linear")
    values: dict[str, Any] = {}
    if probe_type not in PROBE_TYPES:
        problems.append(
            f"probe_type must be one of {', '.join(PROBE_TYPES)}, got {probe_type!r}"
        )
    else:
        values["probe_type"] = probe_type
    if probe_type == "svm":
        values["svm"] = svm_params_from_mapping(params, problems)
        params = {}  # the linear keys do not apply; svm_params_from_mapping checked the rest
    known_params = PROBE_PARAM_KEYS + (MLP_PARAM_KEYS if probe_type == "mlp" else ())
    for key in params:
        if key not in known_params:
            problems.append(
                f"unknown key 'probe_params.{key}'{_suggest(str(key), known_params)}"
            )
    if probe_type == "mlp":
        units = params.get("hidden_units", 256)
        if not _is_int(units) or units < 1:
            problems.append(f"probe_params.hidden_units must be a positive whole number, "
                            f"got {units!r}")
        else:
            values["hidden_units"] = units

    def param(name: str, default: Any) -> Any:
        if name in params and name in raw:
            problems.append(f"'{name}' is given both at the top level and in probe_params")
        return params.get(name, raw.get(name, default))


    def positive_int(name: str, value: Any) -> None:
        if not _is_int(value) or value < 1:
            problems.append(f"{name} must be a positive whole number, got {value!r}")
        else:
            values[name] = value

    positive_int("k_folds", raw.get("k_folds", 40))
    positive_int("batch_size", param("batch_size", 64))
    positive_int("epochs", param("epochs", 10))
    lr = param("learning_rate", 1e-3)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < math.inf):
        problems.append(f"learning_rate must be a positive number, got {lr!r}")
    else:
        values["learning_rate"] = float(lr)
    device = param("device", "cpu")
    if device not in DEVICES:
        problems.append(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    else:
        values["device"] = device

    dim = raw.get("embedding_dim")
    if dim is not None and (not _is_int(dim) or dim < 1):
        problems.append(f"embedding_dim must be a positive whole number or null, got {dim!r}")
    else:
        values["embedding_dim"] = dim

    for flag in (
        "standardize_embeddings",
        "normalize_labels",
        "enable_plots",
        "output_fold_results",
        "update_leaderboard",
        "store_probes",
        "f1_probability_quirk",
    ):
        if flag in raw:
            if not isinstance(raw[flag], bool):
                problems.append(f"{flag} must be true or false, got {raw[flag]!r}")
            else:
                values[flag] = raw[flag]

    task_filter = raw.get("task_filter")
    if task_filter is not None:
        if not isinstance(task_filter, list) or not all(isinstance(t, str) for t in task_filter):
            problems.append(
                "task_filter must be null or a list of task names, e.g. ['biomass_mean']"
            )
        else:
            values["task_filter"] = tuple(task_filter)

    seed = raw.get("seed", 42)
    if not _is_int(seed) or not (0 <= seed < 2**32):
        problems.append(f"seed must be a whole number in [0, 2**32), got {seed!r}")
    else:
        values["seed"] = seed

    mfs = raw.get("max_failed_splits")
    if mfs is not None and (not _is_int(mfs) or mfs < 0):
        problems.append(f"max_failed_splits must be a whole number >= 0 or null, got {mfs!r}")
    else:
        values["max_failed_splits"] = mfs

    batching = raw.get("batching", "shared")
    if batching not in BATCHING:
        problems.append(f"batching must be one of {', '.join(BATCHING)}, got {batching!r}")
    else:
        values["batching"] = batching

    tf = raw.get("test_fraction", 0.1)
    if isinstance(tf, bool) or not isinstance(tf, (int, float)) or not (0 < tf < 1):
        problems.append(f"test_fraction must be a number strictly between 0 and 1, got {tf!r}")
    else:
        values["test_fraction"] = float(tf)

    few = raw.get("train_fraction", 1.0)
    if isinstance(few, bool) or not isinstance(few, (int, float)) or not (0 < few <= 1):
        problems.append(f"train_fraction must be a number in (0, 1], got {few!r}")
    else:
        values["train_fraction"] = float(few)

    split_mode = raw.get("split_mode", "random")
    if split_mode not in SPLIT_MODES:
        problems.append(f"split_mode must be one of {', '.join(SPLIT_MODES)}, got {split_mode!r}")
    else:
        values["split_mode"] = split_mode

    if problems:
        raise ConfigError(problems, source)
    return ProbeConfig(**values)


def load_probe_config(path: Path) -> ProbeConfig:
    """Read and validate a NeuCo-Bench YAML config file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"file not found: {path}"], str(path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid YAML: {exc}"], str(path)) from None
    return probe_config_from_mapping(raw or {}, str(path))
