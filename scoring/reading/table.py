"""The parsed embedding table handed from reading to scoring. Pure."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from scoring.results import Finding


@dataclass(frozen=True)
class EmbeddingTable:
    """Parsed embeddings: ids (n,) and a float32 matrix (n, d).

    `found_dim` is the number of embedding columns in the file; `matrix` may already be wider
    (zero-padded to the phase's dimension) when the reader knew the phase.
    """

    ids: np.ndarray  # (n,) object
    matrix: np.ndarray  # (n, d) float32
    found_dim: int
    findings: tuple[Finding, ...] = ()

    @functools.cached_property
    def row_index(self) -> dict[str, int]:
        """id -> row, built once per table (every task of a submission looks its rows up)."""
        return {i: r for r, i in enumerate(self.ids.tolist())}
