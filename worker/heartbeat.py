"""Reading the worker's heartbeat file (`worker.loop` writes it on every tick). Kept apart from
the loop so that `python -m worker healthcheck`, which Docker runs every minute, imports neither
torch nor the scoring pipeline: it must answer well inside the healthcheck's timeout.

I/O: stats one file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def heartbeat_age(path: Path, now: datetime) -> float | None:
    """Seconds since the last heartbeat, or None if there is none."""
    try:
        return now.timestamp() - path.stat().st_mtime
    except FileNotFoundError:
        return None
