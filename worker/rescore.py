"""`rescore` of many submissions at once: several go through the pipeline side by side, so the
scoring pool reads one file while it scores another's tasks. Writes one line per submission
to the output and a progress bar with an ETA to a terminal.

Each submission still goes through `SubmissionPipeline.process` (claim, score, record, report),
exactly as the worker would handle it; only the waiting overlaps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TextIO

from worker.pipeline import SubmissionPipeline
from worker.store import SqlScoreStore


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class RescoreProgress:
    """`[####......] 12/50 submissions · 1.2 min elapsed · ETA 3 min` on a terminal."""

    def __init__(self, stream: TextIO, total: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.total = total
        self.clock = clock
        self.started = clock()
        self.done = 0

    def advance(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = self.clock() - self.started
        remaining = (self.total - self.done) * elapsed / self.done
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        eta = "done" if self.done == self.total else f"ETA {_duration(remaining)}"
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                          f"submissions · {_duration(elapsed)} elapsed · {eta}")
        if self.done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def rescore_submissions(pipeline: SubmissionPipeline, store: SqlScoreStore, source: str,
                        pks: Sequence[int], at_once: int, out: TextIO, err: TextIO) -> int:
    """Process the (already reset) submissions, `at_once` side by side; how many were
    processed."""
    progress = RescoreProgress(err, len(pks))
    lock = threading.Lock()
    ended = 0

    def one(pk: int) -> None:
        nonlocal ended
        pipeline.process(pk)
        stored = store.get(source, pk)
        mean_q = "" if stored.mean_q is None else f", mean Q {stored.mean_q:.4f}"
        with lock:
            out.write(f"submission {pk}: {stored.status}{mean_q}\n")
            out.flush()
            progress.advance()
            ended += 1

    with ThreadPoolExecutor(max_workers=max(1, at_once), thread_name_prefix="rescore") as ex:
        for future in [ex.submit(one, pk) for pk in pks]:
            future.result()
    return ended
