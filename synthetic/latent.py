"""The hidden per-sample state that both the labels and the embeddings are functions of. Pure.

Axes: n samples (all ids of the challenge, one task group after another), l latent dims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.randomness import component_rng, uuid4_like_ids
from synthetic.spec import FINAL_PHASE_2025, ChallengeSpec


@dataclass(frozen=True, eq=False)
class LatentState:
    """Ids and latent vectors of every sample; `group_slices` says which rows belong to a group."""

    ids: np.ndarray  # (n,) str
    z: np.ndarray  # (n, l) float64, standard normal
    group_slices: tuple[tuple[str, slice], ...]

    def group(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The ids (m,) and latent vectors (m, l) of one task group."""
        rows = dict(self.group_slices)[name]
        return self.ids[rows], self.z[rows]


def latent_state(spec: ChallengeSpec) -> LatentState:
    """Ids and latent vectors for all task groups of the spec's final phase."""
    sizes = [(g.name, spec.group_rows(g)) for g in FINAL_PHASE_2025]
    n = sum(m for _, m in sizes)
    ids = uuid4_like_ids(component_rng(spec.seed, "ids"), n)
    z = component_rng(spec.seed, "latent").standard_normal((n, spec.latent_dim))
    slices = []
    start = 0
    for name, m in sizes:
        slices.append((name, slice(start, start + m)))
        start += m
    for array in (ids, z):
        array.setflags(write=False)
    return LatentState(ids=ids, z=z, group_slices=tuple(slices))
