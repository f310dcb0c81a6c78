"""How many scoring processes to run, and the environment that keeps each one single-threaded.
Reads the process's CPU affinity and the cgroup CPU quota (no other I/O).

One thread per process is the point: torch's intra-op threads spin at a barrier after every
small element-wise step, so on a machine where another process holds a core every step waits
for a descheduled thread (issue 11 measured 0.33 s per task with one thread, 2.46 s with two
threads on a busy 2-core machine). Independent single-threaded processes, one per usable CPU,
use every core and do not care about neighbours.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from scoring.threads import SINGLE_THREAD_ENV

__all__ = ["SINGLE_THREAD_ENV", "process_count", "usable_cpus"]



def _cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by a cgroup v2 quota (`docker run --cpus`), or None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup quota; at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        count = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota is not None:
        count = min(count, max(1, math.floor(quota)))
    return max(1, count)


def process_count(setting: int | str, uses_gpu: bool = False) -> int:
    """`scoring.processes`: "auto" -> one per usable CPU; a GPU is driven by one process."""
    if uses_gpu:
        return 1
    if setting == "auto":
        return usable_cpus()
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise ValueError(f"processes must be 'auto' or a whole number >= 1, got {setting!r}")
    return setting
