"""Small in-memory challenges for the scoring unit tests. Pure."""

from __future__ import annotations

import numpy as np

from scoring.labels import Task
from scoring.submission import EmbeddingTable, prepare_embeddings


def tiny_tasks(n: int = 120, seed: int = 0) -> tuple[list[Task], np.ndarray, np.ndarray]:
    """Three tasks over n ids plus a latent matrix z (n, 6) that explains them."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"s{i:04d}" for i in range(n)], dtype=object)
    z = rng.normal(size=(n, 6))
    a = z[:, 0] * 2 + z[:, 1] + 0.3 * rng.normal(size=n)
    b = np.abs(z[:, 2]) * 10 + rng.normal(size=n)
    c = (z[:, 3] + 0.5 * rng.normal(size=n) > 0.7).astype(float)
    tasks = [
        Task("alpha", "regr", tuple(ids), a),
        Task("beta-two_x", "regr", tuple(ids[: n - 20]), b[: n - 20]),
        Task("gamma", "cls", tuple(ids[10:]), c[10:]),
    ]
    return tasks, ids, z


def table_from(ids: np.ndarray, matrix: np.ndarray, tasks: list[Task], dim: int | None = None):
    raw = EmbeddingTable(np.asarray(ids, dtype=object), matrix.astype(np.float32), matrix.shape[1])
    expected = set().union(*(set(t.ids) for t in tasks))
    return prepare_embeddings(raw, expected, embedding_dim=dim, strict=True)
