"""Named random streams and uuid4-like ids. Pure.

Every component of a synthetic challenge (the ids, the latent state, one task's labels, one team's
embedding) draws from its own generator derived from (seed, component name). Adding a team or a
task therefore never changes the numbers of the others, and the order in which they are built
does not matter.
"""

from __future__ import annotations

import numpy as np


def component_rng(seed: int, component: str) -> np.random.Generator:
    """An independent generator for one named component of the challenge built from `seed`."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    # The component name's bytes become the spawn key: stable across runs, platforms and
    # Python's per-process string hash randomisation.
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=tuple(component.encode("utf-8")))
    return np.random.Generator(np.random.PCG64(sequence))


def uuid4_like_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` distinct random version-4 UUID strings (shape (n,), numpy str dtype).

    Deterministic given the generator state, unlike `uuid.uuid4`, which reads the OS entropy pool.
    """
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexes = [row.tobytes().hex() for row in raw]
    ids = np.array(
        [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes], dtype=np.str_
    )
    if len(np.unique(ids)) != n:  # 122 random bits: a collision means a broken generator
        raise RuntimeError("uuid4_like_ids produced a duplicate id")
    return ids
