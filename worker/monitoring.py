"""What the service tells its organisers about itself: the loop reports how each stage went, and
this turns it into alerts (through `worker.alerts`) and into the service marks `status` shows.
I/O: the store (service marks, alert ledger), the alert channels, and a look at the data disk.

Problems and when they alert (every one says "resolved" once it clears):
- the host token rejected by EvalAI: at once;
- EvalAI unreachable (transient errors on every try): after `evalai_unreachable_minutes`;
- publishing the leaderboard failing: after `publish_failing_minutes`; a board the safety rule
  refused to publish (it would drop entries): at once, per phase;
- the data disk below `disk_free_percent` free: at once;
- a submission failed for an internal reason after its retries: at once, per submission;
  resolved when it is later scored (a rescore);
- a phase's hidden labels cannot be used (the phase is not ready, its submissions wait): at
  once, per phase; resolved when the labels are fixed;
- the watchdog replaced a hung worker: at once (the watchdog leaves a note in the data folder
  that the next worker reads at start-up).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from worker.alerts import AlertKind, Alerts, Persistence

log = logging.getLogger(__name__)

WATCHDOG_NOTE = "watchdog-replaced"  # written by cronjobs/watchdog.sh into the data folder


class MarkStore(Protocol):
    def mark_service(self, name: str, now: datetime, detail: str = "") -> None: ...


class ServiceMonitor:
    """Alerts and service marks from the loop's point of view."""

    def __init__(
        self,
        alerts: Alerts,
        marks: MarkStore,
        data_dir: Path,
        *,
        evalai_unreachable_after: timedelta = timedelta(minutes=15),
        publish_failing_after: timedelta = timedelta(minutes=30),
        disk_free_percent: float = 5.0,
        disk_usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage,
    ) -> None:
        self.alerts = alerts
        self.marks = marks
        self.data_dir = data_dir
        self.disk_free_percent = disk_free_percent
        self.disk_usage = disk_usage
        self.evalai = Persistence(alerts, AlertKind.EVALAI_UNREACHABLE, "evalai-unreachable",
                                  evalai_unreachable_after)
        self.publishing = Persistence(alerts, AlertKind.PUBLISH_FAILING, "publish-failing",
                                      publish_failing_after)

    def _now(self) -> datetime:
        return self.alerts.clock()

    # -- the queue -------------------------------------------------------------------------
    def polled(self, handled: int) -> None:
        """A tick reached EvalAI (or the inbox) and drained what was there."""
        self.marks.mark_service("poll", self._now(), f"{handled} message(s)")
        self.evalai.ok("EvalAI is reachable again")
        self.alerts.resolved("token-rejected", "EvalAI accepts the host token again")

    def unreachable(self, error: Exception) -> None:
        self.evalai.failing("EvalAI has been unreachable or overloaded",
                            f"Last error: {type(error).__name__}. The worker keeps retrying "
                            "every tick; submissions wait in EvalAI's queue.")

    def token_rejected(self) -> None:
        self.alerts.problem(
            AlertKind.TOKEN_REJECTED, "token-rejected", "EvalAI rejects the host token",
            "Polling has stopped. Put a valid host token (your EvalAI profile page) into "
            "AUTH_TOKEN in the env file and restart the worker.")

    # -- the leaderboard -------------------------------------------------------------------
    def published(self, phase: str, status: str, reason: str = "") -> None:
        """One phase's board went out ("committed" / "unchanged"), or was "refused"."""
        key = f"publish-refused:{phase}"
        if status == "refused":
            self.alerts.problem(
                AlertKind.PUBLISH_FAILING, key,
                f"the leaderboard of phase {phase} was not published",
                f"The safety rule refused it: {reason}. If the change is intended, publish it "
                f"with `python -m worker leaderboard publish {phase} --explanation ...`.")
            return
        self.marks.mark_service("publish", self._now(), f"phase {phase}: {status}")
        self.alerts.resolved(key, f"the leaderboard of phase {phase} is published again")

    def boards_refreshed(self) -> None:
        self.publishing.ok("publishing the leaderboard works again")

    def publish_failed(self, error: Exception) -> None:
        self.publishing.failing("publishing the leaderboard keeps failing",
                                f"Last error: {type(error).__name__}: {error}. Boards are "
                                "retried every tick.")

    # -- submissions -----------------------------------------------------------------------
    def submission_failed(self, source: str, pk: int, phase: str, attempts: int) -> None:
        self.alerts.problem(
            AlertKind.SUBMISSION_FAILED, f"submission-failed:{source}:{pk}",
            f"submission {pk} (phase {phase}) failed for an internal reason",
            f"It failed after {attempts} attempt(s) and was reported to the participant as "
            f"our problem. Look at the worker log for 'submission {pk}:', fix the cause, then "
            f"`python -m worker rescore --submission {pk}`.")

    def submission_scored(self, source: str, pk: int) -> None:
        self.alerts.resolved(f"submission-failed:{source}:{pk}",
                             f"submission {pk} has been scored")

    # -- the phases' labels ----------------------------------------------------------------
    def phase_not_ready(self, phase: str, problem: str) -> None:
        """Told on every check while the phase's labels cannot be used. The alert names no
        file, line or value (those can hold task names and labels): `doctor` says them."""
        self.alerts.problem(
            AlertKind.PHASE_NOT_READY, f"phase-not-ready:{phase}",
            f"phase {phase} is not ready: its hidden labels cannot be used",
            "Its submissions wait; none is failed and no attempt is spent. The other phases "
            "are scored as usual. `python -m worker doctor` names each bad label file, its "
            "line and what is wrong. Once the files are fixed the worker notices on its next "
            "poll, scores the waiting submissions and says this is resolved.")

    def phase_ready(self, phase: str) -> None:
        self.alerts.resolved(f"phase-not-ready:{phase}",
                             f"phase {phase} is ready: its labels can be used again")

    # -- the machine -----------------------------------------------------------------------
    def check_disk(self) -> None:
        try:
            total, _used, free = self.disk_usage(self.data_dir)
        except OSError as exc:
            log.warning("cannot read the data disk's usage: %s", exc)
            return
        percent = 100.0 * free / total if total else 100.0
        if percent < self.disk_free_percent:
            self.alerts.problem(
                AlertKind.DISK_FULL, "disk-full",
                f"the data disk has only {percent:.1f} % free",
                f"{free / 1024**3:.1f} GiB free of {total / 1024**3:.1f} GiB under "
                f"{self.data_dir}. The database, logs and leaderboard clone live there.")
        else:
            self.alerts.resolved("disk-full", f"the data disk has {percent:.1f} % free again")

    def read_watchdog_note(self) -> None:
        """At start-up: did the watchdog just replace a hung worker? (One alert per note.)"""
        note = self.data_dir / WATCHDOG_NOTE
        try:
            text = note.read_text(encoding="utf-8", errors="replace").strip()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read %s: %s", note, exc)
            return
        stamp = datetime.fromtimestamp(note.stat().st_mtime, UTC)
        self.alerts.event(
            AlertKind.WATCHDOG_RESTART, f"watchdog-restart:{stamp.isoformat(timespec='seconds')}",
            "the watchdog replaced a hung worker",
            f"{text[:500]}\nA worker stopped beating its heartbeat and was killed and restarted. "
            "If this repeats, look at the worker log around that time.")
        note.unlink(missing_ok=True)
