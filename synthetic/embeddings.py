"""Synthetic teams: embedding matrices of known quality derived from the latent state. Pure.

Axes: n samples, l latent dims, d embedding dims, c raw channels (the mean-like baseline).

The teams, best to worst for a linear probe on the informative tasks:
- `strong`: a rich linear view of z (every latent direction survives when d >= l) with small
  per-column noise, per-column scales and offsets like a real encoder's.
- `medium`: the same kind of view of a noisy copy of z (latent noise std 0.8, so about 60 % of
  each linear signal's variance is recoverable) plus larger per-column noise.
- `nonlinear`: sin(3 * w_j . z + phase_j): the information is all there (a non-linear decoder can
  recover z) but a linear probe sees almost none of it, because the correlation between
  sin(3p + phase) and p is only ~3 exp(-4.5) ~ 3 %.
- `weak`: like the 2025 "Baseline mean embeddings" (averages of raw channels): c = l // 4
  channel levels that vary by ~5 % between samples, only partly with z, copied with gains and
  offsets into d columns: low-rank, nearly constant, little task information.
- `baseline_random`: standard Gaussian noise, independent of everything ("Baseline random
  embeddings").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TeamProfile:
    """How a synthetic team is presented: leaderboard name, description, competing or baseline."""

    name: str
    display_name: str
    description: str
    competing: bool


def _linear_view(
    latent: np.ndarray, rng: np.random.Generator, dim: int, column_noise: float
) -> np.ndarray:
    """(n, d) random linear map of `latent` (n, l) with per-column scale, offset and noise."""
    n, latent_dim = latent.shape
    mixing = rng.standard_normal((latent_dim, dim)) / math.sqrt(latent_dim)  # (l, d)
    scale = np.exp(0.3 * rng.standard_normal(dim))  # (d,)
    offset = 0.5 * rng.standard_normal(dim)  # (d,)
    noise = column_noise * rng.standard_normal((n, dim))
    return (latent @ mixing + noise) * scale + offset


def strong_embedding(z: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32: a faithful linear view of z with small noise."""
    return _linear_view(z, rng, dim, column_noise=0.1).astype(np.float32)


def medium_embedding(z: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32: a linear view of a noisy copy of z."""
    noisy = z + 0.8 * rng.standard_normal(z.shape)
    return _linear_view(noisy, rng, dim, column_noise=0.3).astype(np.float32)


def nonlinear_embedding(z: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32: high-frequency sines of random projections of z."""
    directions = rng.standard_normal((z.shape[1], dim))
    directions /= np.linalg.norm(directions, axis=0)  # (l, d) unit columns: projections ~ N(0, 1)
    phase = rng.uniform(0.0, 2.0 * math.pi, size=dim)
    features = np.sin(3.0 * (z @ directions) + phase)
    return (features + 0.05 * rng.standard_normal(features.shape)).astype(np.float32)


def weak_embedding(z: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32: mean-like baseline, c raw channel levels copied into d columns."""
    n, latent_dim = z.shape
    channels = max(2, latent_dim // 4)
    level = rng.uniform(0.05, 0.4, size=channels)  # (c,) reflectance-like channel means
    directions, _ = np.linalg.qr(rng.standard_normal((latent_dim, channels)))  # (l, c)
    variation = 0.35 * (z @ directions) + 0.94 * rng.standard_normal((n, channels))
    raw = level * (1.0 + 0.05 * variation)  # (n, c)
    gain = rng.uniform(0.5, 1.5, size=dim)
    offset = rng.uniform(0.0, 0.1, size=dim)
    columns = raw[:, np.arange(dim) % channels] * gain + offset  # (n, d)
    return (columns + 1e-4 * rng.standard_normal((n, dim))).astype(np.float32)


def random_embedding(z: np.ndarray, rng: np.random.Generator, dim: int) -> np.ndarray:
    """(n, d) float32 standard Gaussian noise; z only sets n."""
    return rng.standard_normal((len(z), dim), dtype=np.float32)


EmbeddingFunction = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]

# Keys and order match synthetic.spec.TEAM_NAMES (checked by the tests).
TEAMS: dict[str, tuple[TeamProfile, EmbeddingFunction]] = {
    "strong": (
        TeamProfile("strong", "Strong", "rich linear view of the latent state", True),
        strong_embedding,
    ),
    "medium": (
        TeamProfile("medium", "Medium", "linear view of a noisy latent state", True),
        medium_embedding,
    ),
    "nonlinear": (
        TeamProfile(
            "nonlinear",
            "Nonlinear",
            "information only reachable non-linearly (high-frequency sines)",
            True,
        ),
        nonlinear_embedding,
    ),
    "weak": (
        TeamProfile(
            "weak",
            "Baseline mean embeddings",
            "low-rank, nearly constant averages of raw channels",
            False,
        ),
        weak_embedding,
    ),
    "baseline_random": (
        TeamProfile("baseline_random", "Baseline random embeddings", "Gaussian noise", False),
        random_embedding,
    ),
}


def team_profile(team: str) -> TeamProfile:
    """The presentation of one team (the five above or a `synthetic.variants` team)."""
    if team in TEAMS:
        return TEAMS[team][0]
    from synthetic.variants import VARIANT_TEAMS

    return VARIANT_TEAMS[team][0]


def embedding_matrix(
    team: str,
    z: np.ndarray,
    rng: np.random.Generator,
    dim: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """(n, d) float32 embedding of the samples with latent state z (n, l) by `team`.

    `groups` (n,) names each sample's task group; only the `synthetic.variants` teams use it.
    """
    if team in TEAMS:
        return TEAMS[team][1](z, rng, dim)
    from synthetic.variants import VARIANT_TEAMS  # imports this module: import here, not above

    if team not in VARIANT_TEAMS:
        raise ValueError(f"unknown team {team!r}; known: {[*TEAMS, *VARIANT_TEAMS]}")
    if groups is None or len(groups) != len(z):
        raise ValueError(f"team {team!r} needs the task group of each of the {len(z)} samples")
    return VARIANT_TEAMS[team][1](z, groups, rng, dim)
