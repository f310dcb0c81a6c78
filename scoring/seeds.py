"""Seeds of an evaluation: the split seed drawn for each challenge evaluation and the probe
generator's seed derived from it per task. Pure (stdlib only), so that the worker process,
which only draws seeds and hands the work to its scoring processes, never imports torch.
"""

from __future__ import annotations

import hashlib
import secrets


def fresh_seed() -> int:
    """A new random split seed for a challenge evaluation (participants cannot learn splits)."""
    return secrets.randbelow(2**32)


def task_generator_seed(seed: int, task: str) -> int:
    """A 63-bit seed for the task's probe generator, derived from (seed, task name)."""
    digest = hashlib.sha256(f"neuco-probe:{seed}:{task}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
