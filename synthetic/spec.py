"""What to generate: the 2025 challenge's shape, the named sizes and `ChallengeSpec`. Pure.

The final phase of the 2025 Embed2Scale challenge had nine hidden tasks in five groups; the tasks
of one group label the same ids and the groups' ids are disjoint, so the submission covers
2,415 + 3,355 + 4,691 + 1,659 + 1,140 = 13,260 ids and the label files hold 23,165 rows.
A few of those rows carry an empty label (the protocol skips them); they are part of the row
counts above, so the rows a scorer actually uses are 23,165 minus the empty ones.

Named sizes (`SIZES`):
- `full`: the 2025 row counts, D = 1024, 48 latent dims.
- `demo`: a quarter of the rows (the golden data's sizes: 604 / 839 / 1,173 / 415 / 285 rows,
  3,316 ids), D = 256: an ~8 MB submission that writes in well under a second and scores quickly.
- `tiny`: 3 % of the rows with at least 60 per task (60-141 rows, 434 ids), D = 16, 12 latent dims,
  for unit tests.

`breadth=True` (CLI `--breadth`) adds what the benchmark-breadth options need: region groups
(`REGIONS` regions, each a cell of the latent space, so holding regions out shifts the
distribution) and the multi-class task `landcover_class` (the dominant landcover class).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

TaskKind = Literal["regr", "cls", "mcls"]

TEAM_NAMES: tuple[str, ...] = ("strong", "medium", "nonlinear", "weak", "baseline_random")
# Generated only when asked for (`synthetic.variants`): teams with task-specific strengths.
VARIANT_TEAM_NAMES: tuple[str, ...] = (
    "land_specialist",
    "climate_specialist",
    "landcover_only",
    "noisy_strong",
    "very_noisy",
    "subspace",
    "hybrid",
)
TEAM_SETS: dict[str, tuple[str, ...]] = {
    "default": TEAM_NAMES,
    "wide": TEAM_NAMES + VARIANT_TEAM_NAMES,  # 12 entries: for the post-reveal analyses
}


@dataclass(frozen=True)
class TaskShape:
    """One hidden task: its name, its kind, and how it appears in the phases."""

    name: str
    kind: TaskKind
    empty_labels: int = 0  # rows with an empty label at full size, inside the group's row count
    in_dev: bool = False  # part of the development phase


@dataclass(frozen=True)
class TaskGroupShape:
    """Tasks that label the same ids (e.g. a mean and a std of one measured quantity)."""

    name: str
    rows: int  # final-phase rows at full size
    tasks: tuple[TaskShape, ...]


FINAL_PHASE_2025: tuple[TaskGroupShape, ...] = (
    TaskGroupShape(
        "biomass",
        2415,
        (
            TaskShape("biomass_mean", "regr", in_dev=True),
            TaskShape("biomass_std", "regr", empty_labels=3),
        ),
    ),
    TaskGroupShape("crops", 3355, (TaskShape("crops", "regr", in_dev=True),)),
    TaskGroupShape(
        "landcover",
        4691,
        (
            TaskShape("landcover_agriculture", "regr", in_dev=True),
            TaskShape("landcover_forest", "regr"),
        ),
    ),
    TaskGroupShape(
        "heat-island",
        1659,
        (
            TaskShape("heat-island_mean", "regr", in_dev=True),
            TaskShape("heat-island_std", "regr", empty_labels=2),
        ),
    ),
    TaskGroupShape(
        "random",
        1140,
        (TaskShape("random_reg", "regr"), TaskShape("random_cls", "cls", in_dev=True)),
    ),
)

MIN_GROUP_ROWS = 10
REGIONS = 12
BREADTH_TASKS: dict[str, tuple[TaskShape, ...]] = {
    "landcover": (TaskShape("landcover_class", "mcls"),),
}


@dataclass(frozen=True)
class ChallengeSpec:
    """Everything that determines a synthetic challenge; same spec -> byte-identical files."""

    seed: int = 0
    row_scale: float = 1.0  # multiplies the 2025 row counts
    min_rows_per_task: int = 0  # floor after scaling
    dim: int = 1024  # embedding columns of every submission
    latent_dim: int = 48  # dims of the per-sample latent state the labels are functions of
    dev_fraction: float = 0.4  # share of a dev task's final rows used in the development phase
    teams: tuple[str, ...] = TEAM_NAMES
    size: str = "custom"  # the named size this spec came from, recorded in challenge.json
    # Opt-in benchmark breadth: a `group` (region) column in every label file and a multi-class
    # task `landcover_class__mcls.csv`. Off by default so earlier outputs stay byte-identical.
    breadth: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed must be a non-negative integer, got {self.seed!r}")
        if not self.row_scale > 0:
            problems.append(f"row_scale must be > 0, got {self.row_scale!r}")
        if self.min_rows_per_task < 0:
            problems.append(f"min_rows_per_task must be >= 0, got {self.min_rows_per_task!r}")
        if self.dim < 1:
            problems.append(f"dim must be >= 1, got {self.dim!r}")
        if self.latent_dim < 4:
            problems.append(f"latent_dim must be >= 4, got {self.latent_dim!r}")
        if not 0 < self.dev_fraction <= 1:
            problems.append(f"dev_fraction must be in (0, 1], got {self.dev_fraction!r}")
        if not self.teams:
            problems.append("teams must name at least one team")
        known = TEAM_NAMES + VARIANT_TEAM_NAMES
        unknown = [t for t in self.teams if t not in known]
        if unknown:
            problems.append(f"unknown teams {unknown}; known: {list(known)}")
        if len(set(self.teams)) != len(self.teams):
            problems.append(f"teams must be distinct, got {list(self.teams)}")
        if not problems:
            small = [g.name for g in FINAL_PHASE_2025 if self.group_rows(g) < MIN_GROUP_ROWS]
            if small:
                problems.append(
                    f"row_scale {self.row_scale} leaves fewer than {MIN_GROUP_ROWS} rows in "
                    f"{small}; raise row_scale or min_rows_per_task"
                )
        if problems:
            raise ValueError("invalid ChallengeSpec: " + "; ".join(problems))

    def group_rows(self, group: TaskGroupShape) -> int:
        """Final-phase rows of `group` at this spec's scale."""
        return max(self.min_rows_per_task, round(group.rows * self.row_scale))

    def empty_label_rows(self, task: TaskShape) -> int:
        """Rows of `task` written with an empty label: at least one where the task has any."""
        if task.empty_labels == 0:
            return 0
        return max(1, round(task.empty_labels * self.row_scale))

    def dev_rows(self, group: TaskGroupShape) -> int:
        """Development-phase rows of a dev task of `group`."""
        return max(1, round(self.group_rows(group) * self.dev_fraction))


SIZES: dict[str, ChallengeSpec] = {
    "full": ChallengeSpec(size="full"),
    "demo": ChallengeSpec(row_scale=0.25, dim=256, size="demo"),
    "tiny": ChallengeSpec(row_scale=0.03, min_rows_per_task=60, dim=16, latent_dim=12, size="tiny"),
}


def spec_for_size(
    size: str,
    *,
    seed: int | None = None,
    dim: int | None = None,
    row_scale: float | None = None,
    breadth: bool = False,
    teams: str | None = None,
) -> ChallengeSpec:
    """The named size's spec, with any of seed, embedding dim, row scale and team set
    (`TEAM_SETS`: "default" or "wide") overridden."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {sorted(SIZES)}")
    overrides: dict[str, object] = {}
    if seed is not None:
        overrides["seed"] = seed
    if dim is not None:
        overrides["dim"] = dim
    if row_scale is not None:
        overrides["row_scale"] = row_scale
    if breadth:
        overrides["breadth"] = True
    if teams is not None:
        if teams not in TEAM_SETS:
            raise ValueError(f"unknown team set {teams!r}; known: {sorted(TEAM_SETS)}")
        overrides["teams"] = TEAM_SETS[teams]
    return dataclasses.replace(SIZES[size], **overrides)
