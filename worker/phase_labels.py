"""The hidden labels of every phase, as the scoring needs them, and whether each phase is ready.
I/O: reads the phases' label folders. A folder is read again only when something in it changed:
a listing and one stat per file tell, so checking on every tick and for every submission is
cheap (microseconds for a few dozen files).

A phase whose labels cannot be used — its folder or a file missing or unreadable, a file not
UTF-8, a malformed row, a `task_filter` naming an unknown task — is *not ready*. That is the
organisers' mistake, never the participants': its submissions are neither claimed nor failed
and no attempt is spent; they wait (an EvalAI message stays queued, an inbox file unclaimed)
and are scored once the labels are fixed, which the next check notices by itself. The other
phases go on.

`check_all` (the loop calls it at the start of every tick, `run`/`once` once at start-up)
tells a `LabelWatch` (the organisers' alerts): every not-ready phase on every check (the
alerts decide about reminders), and every ready phase on the first check and after it was not
ready (the alerts close an open one). A phase becoming not ready or ready again is logged once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scoring.labels import AnnotationError, Task, load_tasks, select_tasks
from worker.settings import PhaseSettings

log = logging.getLogger(__name__)


class PhaseNotReady(Exception):
    """The phase's labels cannot be used right now; `problem` says why (file, line, what)."""

    def __init__(self, phase: str, problem: str) -> None:
        super().__init__(f"phase {phase} is not ready: {problem}")
        self.phase = phase
        self.problem = problem


class LabelWatch(Protocol):
    """Who hears which phases are ready (`worker.monitoring.ServiceMonitor`)."""

    def phase_not_ready(self, phase: str, problem: str) -> None: ...

    def phase_ready(self, phase: str) -> None: ...


def load_phase_tasks(phase: PhaseSettings) -> tuple[Task, ...]:
    """The tasks a phase scores (its label folder, narrowed by `probe.task_filter`); an
    `AnnotationError` says what is wrong, with one line per bad file in `problems`."""
    return select_tasks(load_tasks(phase.annotations), phase.probe.task_filter)


Fingerprint = tuple[object, ...]


def folder_fingerprint(folder: Path) -> Fingerprint:
    """What changes when anything in the folder changes: the folder's and each entry's inode,
    size, times and mode (ctime covers a chmod that makes a file unreadable)."""
    try:
        own = os.stat(folder)
        entries = []
        with os.scandir(folder) as listing:
            for entry in listing:
                try:
                    st = entry.stat()
                except OSError as exc:
                    entries.append((entry.name, "error", exc.errno))
                    continue
                entries.append((entry.name, st.st_ino, st.st_size, st.st_mtime_ns,
                                st.st_ctime_ns, st.st_mode))
    except OSError as exc:
        return ("error", type(exc).__name__, exc.errno)
    return (own.st_ino, own.st_mtime_ns, own.st_ctime_ns, own.st_mode, tuple(sorted(entries)))


@dataclass(frozen=True)
class _Labels:
    fingerprint: Fingerprint
    tasks: tuple[Task, ...] | None
    problem: str | None  # None: ready


class PhaseLabels:
    """Each configured phase's tasks, loaded on first use and re-read when their folder changes.
    Safe to use from several threads (`rescore` scores side by side)."""

    def __init__(
        self,
        phases: Mapping[str, PhaseSettings],
        watch: LabelWatch | None = None,
        *,
        loader: Callable[[PhaseSettings], tuple[Task, ...]] = load_phase_tasks,
        fingerprint: Callable[[Path], Fingerprint] = folder_fingerprint,
    ) -> None:
        self.phases = dict(phases)
        self.watch = watch
        self.loader = loader
        self.fingerprint = fingerprint
        self._lock = threading.Lock()
        self._labels: dict[str, _Labels] = {}
        self._told_ready: dict[str, bool] = {}

    def problem(self, codename: str) -> str | None:
        """Why the phase is not ready; None when it is (or is not configured at all: the
        pipeline fails a submission of an unknown phase on its own)."""
        labels = self._current(codename)
        return labels.problem if labels is not None else None

    def tasks(self, phase: PhaseSettings) -> tuple[Task, ...]:
        """The phase's tasks as they are now; PhaseNotReady when they cannot be used."""
        labels = self._current(phase.codename)
        if labels is None or labels.tasks is None:
            raise PhaseNotReady(phase.codename, labels.problem if labels else "not configured")
        return labels.tasks

    def check_all(self) -> dict[str, str]:
        """Every configured phase checked (read again where its folder changed); the not-ready
        ones with why. Tells the watch (see the module's docstring)."""
        not_ready: dict[str, str] = {}
        for codename in self.phases:
            labels = self._current(codename)
            assert labels is not None
            if labels.problem is not None:
                not_ready[codename] = labels.problem
                self._tell("phase_not_ready", codename, labels.problem)
                self._told_ready[codename] = False
            elif not self._told_ready.get(codename, False):
                self._tell("phase_ready", codename)
                self._told_ready[codename] = True
        return not_ready

    def _tell(self, event: str, *args: str) -> None:
        if self.watch is None:
            return
        try:
            getattr(self.watch, event)(*args)
        except Exception:  # noqa: BLE001 - monitoring never stops the labels' check
            log.exception("monitoring (%s) failed", event)

    def _current(self, codename: str) -> _Labels | None:
        phase = self.phases.get(codename)
        if phase is None:
            return None
        with self._lock:
            # Taken before reading: a file written while it is read changes the fingerprint
            # again, so the next check reads it once more.
            fingerprint = self.fingerprint(phase.annotations)
            before = self._labels.get(codename)
            if before is not None and before.fingerprint == fingerprint:
                return before
            now = self._read(phase, fingerprint)
            self._labels[codename] = now
        self._log_change(codename, before, now)
        return now

    def _read(self, phase: PhaseSettings, fingerprint: Fingerprint) -> _Labels:
        try:
            return _Labels(fingerprint, self.loader(phase), None)
        except AnnotationError as exc:
            return _Labels(fingerprint, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever breaks reading them, it is not the participants'
            log.exception("phase %s: reading its labels failed", phase.codename)
            return _Labels(fingerprint, None, f"reading the labels failed: "
                                              f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _log_change(codename: str, before: _Labels | None, now: _Labels) -> None:
        if now.problem is not None:
            if before is None or before.problem != now.problem:
                log.error("phase %s is not ready: %s. Its submissions wait, nothing is failed; "
                          "the labels are read again on every poll once they change "
                          "(`python -m worker doctor` lists every bad file)", codename,
                          now.problem)
            return
        assert now.tasks is not None
        rows = sum(t.n_rows for t in now.tasks)
        if before is not None and before.problem is not None:
            log.warning("phase %s is ready again: %d tasks, %d labelled rows; its waiting "
                        "submissions are scored", codename, len(now.tasks), rows)
        elif before is not None:
            log.info("phase %s: its label files changed; read again (%d tasks, %d labelled "
                     "rows)", codename, len(now.tasks), rows)
