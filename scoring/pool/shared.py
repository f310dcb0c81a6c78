"""Where a submission's prepared matrix lives while its tasks are scored: a file in a per-pool
folder in /dev/shm (RAM), mapped read-only by every scoring process, so the (n, d) float32
matrix exists once whatever the number of processes. Creates and deletes that folder.

Falls back to the temporary folder (still shared, through the page cache) when /dev/shm is
missing or too small — Docker gives containers 64 MB of /dev/shm unless told otherwise.
Folders left by a pool whose process died are removed by the next pool on the same machine.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

PREFIX = "neuco-pool-"
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_folders(base: Path) -> list[Path]:
    """Delete pool folders in `base` whose owning process no longer exists."""
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _OWNED.match(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


class SharedFolder:
    """A folder owned by this process for shared matrices; `path_for` picks RAM when it fits."""

    def __init__(self, ram: Path = Path("/dev/shm"), disk: Path | None = None) -> None:
        self._bases = [b for b in (ram, disk or Path(tempfile.gettempdir())) if b.is_dir()]
        self._folders: dict[Path, Path] = {}
        self._count = 0
        self._lock = threading.Lock()  # several submissions may be read at once (rescore)

    def path_for(self, label: str, estimated_bytes: int) -> Path:
        """A new file name for a matrix of about `estimated_bytes`, in the first base with
        room for twice that (the reader holds a copy while it writes)."""
        base = next(
            (b for b in self._bases if _free_bytes(b) > 2 * estimated_bytes), self._bases[-1]
        )
        with self._lock:
            folder = self._folders.get(base)
            if folder is None:
                remove_stale_folders(base)
                folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
                self._folders[base] = folder
            self._count += 1
            count = self._count
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:80]
        return folder / f"{safe}-{count}.npy"

    def close(self) -> None:
        for folder in self._folders.values():
            shutil.rmtree(folder, ignore_errors=True)
        self._folders.clear()
