"""Hidden-task labels of the final and development phases. Pure.

Axes: m samples of one task group, l latent dims.

Every informative label is a monotone, clipped or zero-inflated transform of a *signal*: a
unit-variance mix of a linear projection of the latent state z, a non-linear term (a folded
projection |p| and an interaction p * q, both with no linear correlation to z) and independent
noise. A linear probe on a faithful linear view of z can therefore explain roughly the linear
share of a label's variance, never all of it. The `random_*` tasks ignore z entirely.

Label ranges (full size, seed 0; see tests/unit/test_synthetic.py for the checked bounds):
- biomass_mean: t/ha, log-normal around 55 with ~8 % exact zeros (bare ground), clipped at 400;
  biomass_std: t/ha, ~ a quarter of the mean, correlated with it; 3 rows with an empty label.
- crops: cropped fraction in [0, 1], censored: ~40 % exact zeros, a few percent exact ones.
- landcover_agriculture / _forest: fractions of a three-class composition (agriculture, forest,
  other); classes under 8 % are set to zero and the rest renormalised, giving ~25 % exact zeros,
  ~10 % exact ones and anti-correlated agriculture and forest (correlation ~ -0.73).
- heat-island_mean: land surface temperature in deg C, about 20-45; heat-island_std: 0.5-6 deg C,
  correlated with the mean; 2 rows with an empty label.
- random_reg: 82 % zeros, the rest exponential with mean 1.5; random_cls: 10 % ones.
- with `breadth`: landcover_class (mcls): the largest of the three landcover shares, as a class
  name (agriculture, forest, other); every task's rows carry their region as a group.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthetic.latent import LatentState
from synthetic.randomness import component_rng
from synthetic.spec import (
    BREADTH_TASKS,
    FINAL_PHASE_2025,
    REGIONS,
    ChallengeSpec,
    TaskGroupShape,
    TaskKind,
    TaskShape,
)

LANDCOVER_CLASSES = ("agriculture", "forest", "other")


@dataclass(frozen=True, eq=False)
class TaskLabels:
    """One label file: `labels[i]` belongs to `ids[i]`; NaN means an empty label cell."""

    name: str
    kind: TaskKind
    ids: np.ndarray  # (m,) str
    labels: np.ndarray  # (m,) float64, rounded to the precision it is written with
    classes: tuple[str, ...] = ()  # mcls: label i is written as classes[i]
    groups: np.ndarray | None = None  # (m,) str region of each row, written as a `group` column

    @property
    def file_name(self) -> str:
        return f"{self.name}__{self.kind}.csv"

    @property
    def empty_labels(self) -> int:
        return int(np.isnan(self.labels).sum())


@dataclass(frozen=True, eq=False)
class Phase:
    """The label files of one challenge phase (`final` or `dev`)."""

    name: str
    tasks: tuple[TaskLabels, ...]

    def task(self, name: str) -> TaskLabels:
        for labels in self.tasks:
            if labels.name == name:
                return labels
        raise KeyError(f"phase {self.name!r} has no task {name!r}")


def _orthonormal_directions(rng: np.random.Generator, latent_dim: int, k: int) -> np.ndarray:
    """(l, k) orthonormal columns; k may exceed l, then the columns are only unit length."""
    gaussian = rng.standard_normal((latent_dim, k))
    if k <= latent_dim:
        q, _ = np.linalg.qr(gaussian)
        return q
    return gaussian / np.linalg.norm(gaussian, axis=0)


def latent_signal(
    z: np.ndarray, rng: np.random.Generator, linear_share: float, nonlinear_share: float
) -> np.ndarray:
    """(m,) unit-variance signal: linear + non-linear function of z (m, l) + noise."""
    p = z @ _orthonormal_directions(rng, z.shape[1], 4)  # (m, 4), each column ~ N(0, 1)
    folded = (np.abs(p[:, 1]) - math.sqrt(2 / math.pi)) / math.sqrt(1 - 2 / math.pi)
    nonlinear = (folded + p[:, 2] * p[:, 3]) / math.sqrt(2)
    noise_share = 1.0 - linear_share - nonlinear_share
    return (
        math.sqrt(linear_share) * p[:, 0]
        + math.sqrt(nonlinear_share) * nonlinear
        + math.sqrt(noise_share) * rng.standard_normal(len(z))
    )


def biomass_labels(z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Above-ground biomass mean and std in t/ha: right-skewed, ~8 % zeros, std ~ mean / 4."""
    signal = latent_signal(z, rng, 0.6, 0.25)
    vegetated = 0.6 * signal + 0.8 * rng.standard_normal(len(z)) > -1.405  # P(bare) ~ 8 %
    mean = np.where(vegetated, np.clip(55.0 * np.exp(0.9 * signal), 0.0, 400.0), 0.0)
    spread = 0.5 * signal + math.sqrt(0.75) * latent_signal(z, rng, 0.5, 0.2)
    std_vegetated = mean * 0.25 * np.exp(0.35 * spread)
    std_bare = np.exp(math.log(0.3) + 0.4 * rng.standard_normal(len(z)))
    std = np.clip(np.where(vegetated, std_vegetated, std_bare), 0.1, 250.0)
    return {"biomass_mean": np.round(mean, 2), "biomass_std": np.round(std, 3)}


def crops_labels(z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Cropped fraction: a censored signal, zero-inflated with some exact ones."""
    fraction = np.clip(0.1 + 0.5 * latent_signal(z, rng, 0.6, 0.2), 0.0, 1.0)
    return {"crops": np.round(fraction, 4)}


def landcover_labels(z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Agriculture and forest fractions of a sparse three-class composition."""
    shared = latent_signal(z, rng, 0.6, 0.2)  # pushes agriculture up and forest down
    own = [latent_signal(z, rng, 0.5, 0.2) for _ in range(3)]
    logits = 1.6 * np.stack(
        [0.7 * shared + 0.7 * own[0], -0.7 * shared + 0.7 * own[1], 0.8 * own[2] - 0.3], axis=1
    )  # (m, 3): agriculture, forest, other
    shares = np.exp(logits - logits.max(axis=1, keepdims=True))
    shares /= shares.sum(axis=1, keepdims=True)
    shares = np.where(shares < 0.08, 0.0, shares)  # classes under 8 % of a cell are not mapped
    shares /= shares.sum(axis=1, keepdims=True)
    return {
        "landcover_agriculture": np.round(shares[:, 0], 4),
        "landcover_forest": np.round(shares[:, 1], 4),
        "landcover_class": shares.argmax(axis=1).astype(np.float64),  # LANDCOVER_CLASSES index
    }


def heat_island_labels(z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Land surface temperature mean and std in deg C."""
    signal = latent_signal(z, rng, 0.55, 0.25)
    mean = np.clip(32.0 + 4.0 * signal, 20.0, 45.0)
    spread = 0.5 * signal + math.sqrt(0.75) * latent_signal(z, rng, 0.5, 0.2)
    std = np.clip(1.7 * np.exp(0.45 * spread), 0.5, 6.0)
    return {"heat-island_mean": np.round(mean, 2), "heat-island_std": np.round(std, 3)}


def random_labels(z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Labels independent of z: mostly-zero regression values and 10 % positive classes."""
    m = len(z)
    regression = np.zeros(m)
    positive = rng.choice(m, size=round(0.18 * m), replace=False)
    regression[positive] = np.round(0.001 + rng.exponential(1.5, size=len(positive)), 3)
    classes = np.zeros(m)
    classes[rng.choice(m, size=max(1, round(0.1 * m)), replace=False)] = 1.0
    return {"random_reg": regression, "random_cls": classes}


LABEL_FUNCTIONS: dict[str, Callable[[np.ndarray, np.random.Generator], dict[str, np.ndarray]]] = {
    "biomass": biomass_labels,
    "crops": crops_labels,
    "landcover": landcover_labels,
    "heat-island": heat_island_labels,
    "random": random_labels,
}


def _with_empty_labels(labels: np.ndarray, task: TaskShape, spec: ChallengeSpec) -> np.ndarray:
    """A copy of `labels` with the task's empty-label rows set to NaN (random positions)."""
    k = spec.empty_label_rows(task)
    out = labels.copy()
    if k:
        rng = component_rng(spec.seed, f"empty/{task.name}")
        out[rng.choice(len(out), size=k, replace=False)] = np.nan
    return out


def _frozen(
    name: str,
    kind: TaskKind,
    ids: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
) -> TaskLabels:
    for array in (ids, labels, groups):
        if array is not None:
            array.setflags(write=False)
    classes = LANDCOVER_CLASSES if kind == "mcls" else ()
    return TaskLabels(name=name, kind=kind, ids=ids, labels=labels, classes=classes, groups=groups)


def regions(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(m,) region name of each sample: the nearest of REGIONS random directions of z."""
    centres = _orthonormal_directions(rng, z.shape[1], REGIONS)  # (l, REGIONS)
    return np.array([f"region-{r:02d}" for r in (z @ centres).argmax(axis=1)], dtype=np.str_)


def final_phase(spec: ChallengeSpec, latent: LatentState) -> Phase:
    """All nine tasks over all rows, in the 2025 final phase's task order (with `breadth`,
    region groups on every task and the multi-class task after its group's tasks)."""
    tasks = []
    for group in FINAL_PHASE_2025:
        ids, z = latent.group(group.name)
        by_task = LABEL_FUNCTIONS[group.name](z, component_rng(spec.seed, f"labels/{group.name}"))
        shapes = group.tasks
        groups = None
        if spec.breadth:
            shapes += BREADTH_TASKS.get(group.name, ())
            groups = regions(z, component_rng(spec.seed, "regions"))
        for task in shapes:
            labels = _with_empty_labels(by_task[task.name], task, spec)
            copy = None if groups is None else groups.copy()
            tasks.append(_frozen(task.name, task.kind, ids.copy(), labels, copy))
    return Phase(name="final", tasks=tuple(tasks))


def _dev_rows(labels: np.ndarray, kind: TaskKind, m: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of the m rows kept; classes keep their share (stratified)."""
    if kind == "regr":
        return np.sort(rng.choice(len(labels), size=m, replace=False))
    positives = np.flatnonzero(labels == 1.0)
    negatives = np.flatnonzero(labels != 1.0)
    m_pos = min(len(positives), max(1, round(m * len(positives) / len(labels))))
    m_pos = min(m_pos, m)
    chosen = np.concatenate(
        [
            rng.choice(positives, size=m_pos, replace=False),
            rng.choice(negatives, size=min(len(negatives), m - m_pos), replace=False),
        ]
    )
    return np.sort(chosen)


def dev_phase(spec: ChallengeSpec, final: Phase) -> Phase:
    """The development phase: the dev tasks on a random subset of their final-phase rows.

    Rows keep their final-phase order, ids and labels, so a dev label file is a row subset of
    the final one.
    """
    tasks = []
    for group in FINAL_PHASE_2025:
        for task in group.tasks:
            if task.in_dev:
                tasks.append(_dev_task(spec, group, task, final.task(task.name)))
    return Phase(name="dev", tasks=tuple(tasks))


def _dev_task(
    spec: ChallengeSpec, group: TaskGroupShape, task: TaskShape, final: TaskLabels
) -> TaskLabels:
    rng = component_rng(spec.seed, f"dev/{task.name}")
    rows = _dev_rows(final.labels, task.kind, spec.dev_rows(group), rng)
    groups = None if final.groups is None else final.groups[rows]
    return _frozen(task.name, task.kind, final.ids[rows], final.labels[rows], groups)
