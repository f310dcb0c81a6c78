"""K random train/test splits from a seed, identical to scikit-learn's ShuffleSplit. Pure.

`ShuffleSplit(n_splits=k, test_size=f, random_state=seed)` draws, for each split, one
permutation of all n rows from a single `RandomState(seed)`: the first ceil(f * n) rows are the
test rows, the next n - ceil(f * n) the training rows. Reproducing that exactly means that with
seed 42 the standalone mode uses exactly the reference's splits.
"""

from __future__ import annotations

import math

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
