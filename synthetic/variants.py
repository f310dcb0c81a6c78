"""Seven more synthetic teams with task-specific strengths, for a wide final phase. Pure.

Axes: n samples, l latent dims, d embedding dims.

The five `synthetic.embeddings` teams differ mostly along one axis (how much of z a linear
probe can read). Analyses that look for *what* an entry is good at (the capability map, rank
stability across tasks) need entries whose strengths differ between tasks. These variants get
that from the task groups (disjoint ids, so an embedding can be good on some groups' samples
and poor on others) and from partial views of z:

- `land_specialist`: a faithful view of z on the crops and landcover samples, of a very noisy
  copy (latent noise std 1.5) on the others.
- `climate_specialist`: the same for the biomass and heat-island samples.
- `landcover_only`: faithful on the landcover samples, Gaussian noise everywhere else.
- `noisy_strong`: a view of z with latent noise std 0.4 (between `strong` and `medium`).
- `very_noisy`: latent noise std 1.5 everywhere.
- `subspace`: a faithful view of z projected on a random quarter of its dimensions: tasks
  whose directions lie in that subspace are easy, the others hard.
- `hybrid`: half of the columns from `strong`'s kind of view, half high-frequency sines.

They are generated only when asked for (`ChallengeSpec.teams`, `python -m synthetic --teams
wide`): the default challenge and its files are unchanged, and each team draws from its own
random stream, so adding these never changes another team's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection

import numpy as np

from synthetic.embeddings import TeamProfile, nonlinear_embedding, strong_embedding

CLEAN, NOISY = 0.1, 1.5  # latent noise std inside / outside a specialist's groups


def _linear_view(latent: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32 linear view of `latent` (n, l) with per-column scale, offset, noise."""
    n, latent_dim = latent.shape
    mixing = rng.standard_normal((latent_dim, dim)) / math.sqrt(latent_dim)  # (l, d)
    scale = np.exp(0.3 * rng.standard_normal(dim))
    offset = 0.5 * rng.standard_normal(dim)
    noise = 0.1 * rng.standard_normal((n, dim))
    return ((latent @ mixing + noise) * scale + offset).astype(np.float32)


def _group_noise(
    z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, good: Collection[str]
) -> np.ndarray:
    """z plus latent noise: std CLEAN on rows of the `good` groups, NOISY elsewhere."""
    std = np.where(np.isin(groups, list(good)), CLEAN, NOISY)[:, None]  # (n, 1)
    return z + std * rng.standard_normal(z.shape)


def land_specialist(
    z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int
) -> np.ndarray:
    return _linear_view(_group_noise(z, groups, rng, ("crops", "landcover")), rng, dim)


def climate_specialist(
    z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int
) -> np.ndarray:
    return _linear_view(_group_noise(z, groups, rng, ("biomass", "heat-island")), rng, dim)


def landcover_only(
    z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int
) -> np.ndarray:
    view = _linear_view(z, rng, dim)
    noise = rng.standard_normal(view.shape).astype(np.float32)
    return np.where((groups == "landcover")[:, None], view, noise)


def noisy_strong(
    z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int
) -> np.ndarray:
    return _linear_view(z + 0.4 * rng.standard_normal(z.shape), rng, dim)


def very_noisy(z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    return _linear_view(z + NOISY * rng.standard_normal(z.shape), rng, dim)


def subspace(z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    latent_dim = z.shape[1]
    basis, _ = np.linalg.qr(rng.standard_normal((latent_dim, max(1, latent_dim // 4))))  # (l, c)
    return _linear_view(z @ basis, rng, dim)


def hybrid(z: np.ndarray, groups: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    half = dim // 2
    linear = strong_embedding(z, rng, half) if half else np.empty((len(z), 0), np.float32)
    return np.concatenate([linear, nonlinear_embedding(z, rng, dim - half)], axis=1)


VariantFunction = Callable[[np.ndarray, np.ndarray, np.random.Generator, int], np.ndarray]

# Keys and order match synthetic.spec.VARIANT_TEAM_NAMES (checked by the tests).
VARIANT_TEAMS: dict[str, tuple[TeamProfile, VariantFunction]] = {
    "land_specialist": (
        TeamProfile("land_specialist", "TerraFields", "faithful on crops and landcover only", True),
        land_specialist,
    ),
    "climate_specialist": (
        TeamProfile(
            "climate_specialist", "ThermoVeg", "faithful on biomass and heat-island only", True
        ),
        climate_specialist,
    ),
    "landcover_only": (
        TeamProfile("landcover_only", "CoverNet", "faithful on landcover, noise elsewhere", True),
        landcover_only,
    ),
    "noisy_strong": (
        TeamProfile("noisy_strong", "NearStrong", "linear view with latent noise 0.4", True),
        noisy_strong,
    ),
    "very_noisy": (
        TeamProfile("very_noisy", "FarBlur", "linear view with latent noise 1.5", True),
        very_noisy,
    ),
    "subspace": (
        TeamProfile("subspace", "QuarterView", "faithful view of a quarter of z's axes", True),
        subspace,
    ),
    "hybrid": (
        TeamProfile("hybrid", "HalfWave", "half linear view, half high-frequency sines", True),
        hybrid,
    ),
}
