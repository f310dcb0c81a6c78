"""Reconcile with EvalAI: find submissions whose queue hand-off was lost and score them.

The queue is EvalAI's only push to us, and it can lose a submission: a message received and
deleted elsewhere, or expired after its retention, leaves the submission "submitted" (or
"running") on EvalAI for ever. A sweep compares EvalAI's own view with the store's, per phase:

1. the cheap count, `submission_count_by_status` (one request per phase): how many submissions
   EvalAI has in flight (submitted, queued, running, resuming);
2. only when that is more than the store accounts for (claims held under a live lease), the
   host's list of the phase, newest first, page by page, until every unaccounted one is found,
   the list ends, or submissions are older than the horizon;
3. every in-flight submission older than `stuck_after` that the store has not finished (never
   seen, waiting, or running under an expired lease) goes through the pipeline's ordinary
   `process(pk)`: the same claim as a queue message, so it is scored exactly once even when two
   workers sweep together, and its message, should it turn up later, is deleted on sight.
Cancelled submissions are never touched (they are not in flight).

I/O: EvalAI (through the client), the store, the pipeline; one log line per sweep with its
request count, an organiser alert when stuck submissions were found.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from worker.alerts import AlertKind, Alerts
from worker.store import FINISHED, RECEIVED, RUNNING, SqlScoreStore, StoredSubmission

log = logging.getLogger(__name__)

IN_FLIGHT = ("submitted", "queued", "running", "resuming")


class EvalAIListing(Protocol):
    """The host-side calls a sweep needs (`worker.evalai.EvalAIClient` has them)."""

    requests_sent: int

    def list_phases(self) -> list: ...

    def submission_counts(self, phase_pk: int) -> dict[str, int]: ...

    def phase_submissions(self, phase_pk: int, *, page_size: int = 100) -> Iterator: ...


class Processor(Protocol):
    def process(self, pk: int) -> bool: ...


@dataclass
class SweepReport:
    """What one sweep found and did."""

    requests: int = 0
    stuck: dict[str, list[int]] = field(default_factory=dict)  # phase -> pks scored
    left: dict[str, list[int]] = field(default_factory=dict)  # phase -> pks still in flight

    @property
    def found(self) -> int:
        return sum(len(pks) for pks in self.stuck.values())


class Reconciler:
    """Sweeps the configured phases of one challenge."""

    def __init__(
        self,
        client: EvalAIListing,
        store: SqlScoreStore,
        pipeline: Processor,
        phases: list[str],
        *,
        stuck_after: timedelta = timedelta(minutes=15),
        horizon: timedelta = timedelta(days=30),
        page_size: int = 100,
        alerts: Alerts | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.store = store
        self.pipeline = pipeline
        self.phases = phases
        self.stuck_after = stuck_after
        self.horizon = horizon
        self.page_size = page_size
        self.alerts = alerts
        self.clock = clock
        self._phase_pks: dict[str, int] = {}

    def sweep(self) -> SweepReport:
        report = SweepReport()
        start = self.client.requests_sent
        now = self.clock()
        for codename in self.phases:
            phase_pk = self._phase_pk(codename)
            if phase_pk is None:
                log.warning("reconcile: EvalAI has no phase %r (check the challenge YAML)",
                            codename)
                continue
            stuck = self._stuck(codename, phase_pk, now)
            if stuck:
                report.stuck[codename] = stuck
        listing = self.client.requests_sent - start
        for codename, pks in report.stuck.items():
            log.warning("reconcile: phase %s: %d submission(s) stuck on EvalAI without a live "
                        "claim here (%s); scoring them", codename, len(pks),
                        ", ".join(map(str, pks)))
            for pk in pks:
                self.pipeline.process(pk)
        report.requests = self.client.requests_sent - start
        log.info("reconcile: %d phase(s) swept, %d stuck submission(s) found, %d EvalAI "
                 "request(s) (%d for the sweep itself)", len(self.phases), report.found,
                 report.requests, listing)
        self.store.mark_service("reconcile", self.clock(),
                                f"{report.found} stuck, {listing} listing request(s)")
        if report.found and self.alerts is not None:
            self._alert(report)
        return report

    def _phase_pk(self, codename: str) -> int | None:
        if codename not in self._phase_pks:
            self._phase_pks = {phase.codename: phase.pk for phase in self.client.list_phases()}
        return self._phase_pks.get(codename)

    def _stuck(self, codename: str, phase_pk: int, now: datetime) -> list[int]:
        counts = self.client.submission_counts(phase_pk)
        in_flight = sum(counts.get(status, 0) for status in IN_FLIGHT)
        live = [s for s in self.store.list_submissions(phase=codename, source="evalai")
                if _held(s, now)]
        unaccounted = in_flight - len(live)
        if unaccounted <= 0:
            return []
        found: list[int] = []
        seen = 0
        for row in self.client.phase_submissions(phase_pk, page_size=self.page_size):
            if row.submitted_at is not None and now - row.submitted_at > self.horizon:
                break
            if row.status not in IN_FLIGHT:
                continue
            seen += 1
            stored = self.store.get("evalai", row.pk)
            if stored is not None and _held(stored, now):
                continue  # a live claim: being scored right now
            if row.submitted_at is not None and now - row.submitted_at < self.stuck_after:
                continue  # young: the queue is still expected to deliver it
            if stored is None or stored.status == RECEIVED or stored.status == RUNNING:
                found.append(row.pk)
            elif stored.status == FINISHED and stored.reported:
                log.warning("reconcile: submission %s is %s on EvalAI but was scored and "
                            "reported here; left alone (`rescore --submission %s` re-posts)",
                            row.pk, row.status, row.pk)
            if seen >= in_flight:
                break  # every in-flight submission of the phase has been looked at
        return found

    def _alert(self, report: SweepReport) -> None:
        for codename, pks in report.stuck.items():
            self.alerts.event(
                AlertKind.STUCK_SUBMISSIONS, f"stuck:{codename}:{','.join(map(str, pks))}",
                f"{len(pks)} submission(s) of phase {codename} were stuck on EvalAI",
                f"Their queue hand-off was lost (submissions {', '.join(map(str, pks))}). The "
                "worker is scoring them now; nothing to do unless this repeats.")


def _held(stored: StoredSubmission, now: datetime) -> bool:
    """A claim that a live worker holds (its lease has not expired)."""
    return (stored.status == RUNNING and stored.lease_until is not None
            and stored.lease_until > now)
