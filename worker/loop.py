"""The polling loop: poll_once() drains the queue; run_forever() ticks it with APScheduler.
I/O: the heartbeat and lock files in the data folder, plus whatever a tick does.

One tick = heartbeat, check the phases' labels (a phase whose labels cannot be used waits, and
the organisers hear of it: worker/phase_labels.py), post anything recorded but unreported,
restart scorings of dead workers (expired leases), drain the queue, reconcile with EvalAI when a
sweep is due (lost hand-offs, worker/reconcile.py), retry leaderboards that failed to publish,
heartbeat.
The scheduled job is a plain function; `max_instances=1` and `coalesce=True` mean one poll at a
time and no burst of missed runs after a long scoring. SIGTERM/SIGINT set a stop flag: the
submission being scored is finished (a final-phase scoring takes seconds), nothing new starts,
and the scheduler shuts down.

401/403 from EvalAI stop the polling with one clear log line (no hammering); the process stays
up and keeps its heartbeat so the watchdog does not restart it in a loop, and `once` exits 3.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Protocol

from worker.errors import AuthError, TransientError
from worker.pipeline import SubmissionPipeline

log = logging.getLogger(__name__)
EXIT_ALREADY_RUNNING = 75


class AlreadyRunning(Exception):
    """Another worker holds the data folder's lock."""


def acquire_lock(path: Path) -> IO[str]:
    """Exclusive, non-blocking flock on the worker lock file for the process's lifetime; the
    file then holds our pid. Raises AlreadyRunning when another worker holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - kept open for the process's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"another worker holds {path}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def write_heartbeat(path: Path, now: datetime) -> None:
    """Replace the heartbeat file atomically (its mtime is what the watchdog reads). Safe to
    call from several threads at once: the polling job and the idle main loop both beat."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # One temporary name per thread: with a shared name, one writer's rename took the other's
    # file away and its rename raised FileNotFoundError, killing the worker it was keeping alive.
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    tmp.write_text(now.astimezone(UTC).isoformat() + "\n")
    tmp.replace(path)


class LoopWatch(Protocol):
    """Who hears how each tick went (`worker.monitoring.ServiceMonitor`: alerts, status)."""

    def polled(self, handled: int) -> None: ...

    def unreachable(self, error: Exception) -> None: ...

    def token_rejected(self) -> None: ...

    def boards_refreshed(self) -> None: ...

    def publish_failed(self, error: Exception) -> None: ...

    def check_disk(self) -> None: ...


class Worker:
    """Ticks of the pipeline plus recovery and leaderboard retries."""

    def __init__(
        self,
        pipeline: SubmissionPipeline,
        heartbeat_file: Path,
        *,
        refresh_boards: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        watch: LoopWatch | None = None,
        reconcile: Callable[[], object] | None = None,
        reconcile_every: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pipeline = pipeline
        self.heartbeat_file = heartbeat_file
        self.refresh_boards = refresh_boards
        self.clock = clock
        self.watch = watch
        self.reconcile = reconcile
        self.reconcile_every = reconcile_every
        self.monotonic = monotonic
        self._last_sweep: float | None = None
        self.stop_requested = threading.Event()
        self.auth_failed: AuthError | None = None

    def _tell(self, event: str, *args: object) -> None:
        """Tell the watch; its own trouble (a database hiccup, a dead alert channel) is logged
        and never stops a tick."""
        if self.watch is None:
            return
        try:
            getattr(self.watch, event)(*args)
        except Exception:  # noqa: BLE001 - monitoring never takes the worker down
            log.exception("monitoring (%s) failed", event)

    def beat(self) -> None:
        write_heartbeat(self.heartbeat_file, self.clock())

    def poll_once(self) -> int:
        """One tick; returns how many deliveries were handled."""
        self.beat()
        if self.auth_failed is not None:
            return 0
        self._tell("check_disk")
        # Each stage on its own: recovery trouble must not keep new submissions waiting.
        self._stage("checking the phases' labels", self.pipeline.check_labels)
        self._stage("posting recorded results", self.pipeline.report_unreported)
        self._stage("restarting abandoned scorings", self.pipeline.reap_expired)
        handled = self._stage(
            "draining the queue",
            lambda: self.pipeline.drain(should_stop=self.stop_requested.is_set),
        )
        if handled is not None:
            self._tell("polled", handled)
        if self.reconcile is not None and self._sweep_due():
            self.sweep_now()
        try:
            self.refresh_boards()
        except Exception as exc:  # noqa: BLE001 - a failing publisher never blocks scoring
            log.exception("leaderboard refresh failed; will retry next tick")
            self._tell("publish_failed", exc)
        else:
            self._tell("boards_refreshed")
        self.beat()
        return handled or 0

    def sweep_now(self) -> None:
        """One reconcile sweep, as a stage of its own (its trouble never stops a tick)."""
        if self.reconcile is None:
            return
        self._last_sweep = self.monotonic()

        def sweep() -> int:
            self.reconcile()
            return 0

        self._stage("reconciling with EvalAI", sweep)

    def _sweep_due(self) -> bool:
        """A reconcile sweep every `reconcile_every` seconds, the first one on the first tick
        (a restarted worker looks for lost hand-offs at once, and `once` ends with one)."""
        return (self._last_sweep is None
                or self.monotonic() - self._last_sweep >= self.reconcile_every)

    def _stage(self, what: str, stage: Callable[[], int]) -> int | None:
        """Run one stage of a tick; its result, or None if it failed (logged). After an auth
        failure every later stage is skipped: polling stops with one clear line."""
        if self.auth_failed is not None:
            return None
        try:
            return stage()
        except AuthError as exc:
            self.auth_failed = exc
            log.error("polling stopped: %s. Fix AUTH_TOKEN in the env file and restart the "
                      "worker.", exc)
            self._tell("token_rejected")
        except TransientError as exc:
            log.warning("%s: EvalAI is unreachable or overloaded, will retry next tick: %s",
                        what, exc)
            self._tell("unreachable", exc)
        except Exception:  # noqa: BLE001 - the loop boundary: log, keep the worker alive
            log.exception("%s failed; will retry next tick", what)
        return None

    def run_forever(self, interval_seconds: float, install_signals: bool = True) -> None:
        """Tick every interval until SIGTERM/SIGINT (or `stop_requested` is set)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop_requested.set())
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self._job, "interval", seconds=interval_seconds, id="poll", max_instances=1,
            coalesce=True, next_run_time=datetime.now(UTC), misfire_grace_time=None,
        )
        scheduler.start()
        log.info("worker polling every %.0f s", interval_seconds)
        try:
            while not self.stop_requested.wait(timeout=min(interval_seconds, 30.0)):
                if self.auth_failed is not None:
                    self.beat()  # idle but alive: the watchdog must not restart-loop us
                    self._tell("token_rejected")  # a reminder after alerts.repeat_hours
        finally:
            log.info("stopping: waiting for the current submission to finish")
            scheduler.shutdown(wait=True)
            log.info("worker stopped")

    def _job(self) -> None:
        if not self.stop_requested.is_set():
            self.poll_once()
