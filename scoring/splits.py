"""K random train/test splits from a seed, identical to scikit-learn's ShuffleSplit. Pure.

`ShuffleSplit(n_splits=k, test_size=f, random_state=seed)` draws, for each split, one
permutation of all n rows from a single `RandomState(seed)`: the first ceil(f * n) rows are the
test rows, the next n - ceil(f * n) the training rows. Reproducing that exactly means that with
seed 42 the standalone mode uses exactly the reference's splits.

Beyond the reference (opt-in): grouped splits, equal index for index to scikit-learn's
GroupShuffleSplit, and few-shot subsets of a split's training rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def split_sizes(n: int, test_fraction: float = 0.1) -> tuple[int, int]:
    """(n_train, n_test) as ShuffleSplit computes them (ceil of the float product)."""
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(
            f"{n} rows cannot be split into training and test rows with test_fraction "
            f"{test_fraction}; a task needs at least 2 rows"
        )
    return n_train, n_test


def random_splits(
    n: int, k: int, seed: int, test_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Train indices (k, n_train) and test indices (k, n_test), int64, ShuffleSplit-compatible."""
    n_train, n_test = split_sizes(n, test_fraction)
    rng = np.random.RandomState(seed)
    train = np.empty((k, n_train), dtype=np.int64)
    test = np.empty((k, n_test), dtype=np.int64)
    for i in range(k):
        perm = rng.permutation(n)
        test[i] = perm[:n_test]
        train[i] = perm[n_test : n_test + n_train]
    return train, test


@dataclass(frozen=True)
class TaskSplits:
    """The K splits of one task as row positions; splits may differ in size (grouped, few-shot)."""

    train: tuple[np.ndarray, ...]  # K int64 arrays
    test: tuple[np.ndarray, ...]

    @property
    def k(self) -> int:
        return len(self.train)

    def rectangular(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(k, n_train) and (k, n_test) arrays when every split has the same sizes, else None."""
        if len({t.size for t in self.train}) != 1 or len({t.size for t in self.test}) != 1:
            return None
        return np.stack(self.train), np.stack(self.test)

    @classmethod
    def from_arrays(cls, train: np.ndarray, test: np.ndarray) -> TaskSplits:
        return cls(tuple(train), tuple(test))


def grouped_splits(
    groups: Sequence[str], k: int, seed: int, test_fraction: float = 0.1
) -> TaskSplits:
    """K splits that keep every group on one side, identical to scikit-learn's
    `GroupShuffleSplit(n_splits=k, test_size=test_fraction, random_state=seed)`: ShuffleSplit
    over the sorted distinct groups, then every row of a chosen group, in row order."""
    names, group_of_row = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    if names.size < 2:
        raise ValueError(
            f"split_mode grouped needs at least 2 distinct groups, found {names.size}"
        )
    group_train, group_test = random_splits(names.size, k, seed, test_fraction)
    return TaskSplits(
        tuple(np.flatnonzero(np.isin(group_of_row, g)) for g in group_train),
        tuple(np.flatnonzero(np.isin(group_of_row, g)) for g in group_test),
    )


def few_shot_size(n_train: int, fraction: float) -> int:
    """Training rows kept of a split with n_train rows: round(fraction * n_train), at least 1."""
    return max(1, min(n_train, round(fraction * n_train)))


def few_shot_subset(
    train: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    classes: np.ndarray | None = None,
) -> np.ndarray:
    """A random subset of one split's training rows, in their original order.

    `classes` (the class label of every row of the task, for classification) guarantees one
    row of every class present in `train`; the rest are drawn uniformly without replacement.
    The size is few_shot_size(len(train), fraction), or the number of classes if larger.
    """
    size = few_shot_size(train.size, fraction)
    if classes is None:
        keep = rng.choice(train.size, size=size, replace=False)
        return train[np.sort(keep)]
    labels = classes[train]
    present = np.unique(labels)
    first = np.array(
        [rng.choice(np.flatnonzero(labels == c)) for c in present], dtype=np.int64
    )
    rest = np.setdiff1d(np.arange(train.size), first)
    extra = rng.choice(rest, size=max(0, size - first.size), replace=False)
    return train[np.sort(np.concatenate([first, extra]))]
