"""One submission, exactly once: decide -> claim -> download -> validate -> score -> record ->
report -> acknowledge. The imperative shell around the scoring core; I/O goes through the store
and a `SubmissionSource` (EvalAI or the local inbox).

Exactly once, from the participant's point of view:
- The store is the source of truth. A submission is scored only by the worker that wins the
  store's compare-and-set claim, so a message redelivered while a scoring runs (EvalAI's queue
  hands an undeleted message out again after ~30 s) or seen by a second worker is left alone.
- Every per-task and per-split result is recorded BEFORE anything is posted. A worker killed
  after recording finds the result unreported on restart and posts it; before re-posting it
  asks EvalAI whether the result already arrived (status + completed_at), so a kill between
  the post and the bookkeeping does not post twice.
- The message is deleted only after the result is reported; a delete with a stale receipt
  handle is a no-op on EvalAI, and the message then comes back and is deleted on sight.
- Participant errors (a bad file) fail at once with the participant-facing reason. Internal
  errors (ours) go back to `received` and are retried up to `max_internal_attempts`, then the
  submission fails with a message saying the organisers were alerted; `rescore` re-runs it.
  Transient trouble (EvalAI or the network down after the client's own bounded retries) gives
  the claim back without counting an attempt and leaves the message queued.
- A permanent EvalAI error about one submission (e.g. a 404 for it) is logged for the
  organiser and its message left queued; it never stops the rest of the queue or later ticks.
- A phase whose hidden labels cannot be used is not ready (`worker.phase_labels`): its
  submissions are neither claimed nor failed, their messages stay queued, and they are scored
  once the labels are fixed. The organisers' mistake never costs a participant an attempt.
- Scorings left `running` by a dead worker are restarted: at once by this worker's next life
  (the data-directory lock proves the predecessor is dead) and by any worker once the lease
  has expired (the reaper).

Logs: one INFO line per state change, prefixed `submission <pk>:`; never tokens or labels.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scoring.seeds import fresh_seed
from worker.errors import AuthError, PermanentError
from worker.evaluation import FileScorer, SubmissionEvaluator
from worker.phase_labels import PhaseLabels
from worker.reporting import INTERNAL_FAILURE_MESSAGE, ResultReporter, SubmissionWatch
from worker.settings import Settings
from worker.source import Delivery, SubmissionMeta, SubmissionSource
from worker.store import SqlScoreStore, StoredSubmission, SubmissionInfo

__all__ = ["INTERNAL_FAILURE_MESSAGE", "Delivery", "SubmissionMeta", "SubmissionPipeline",
           "SubmissionSource"]  # fmt: skip

log = logging.getLogger(__name__)


class SubmissionPipeline:
    """Processes deliveries from one source into one store: decides what a message needs, and
    hands the claimed submission to the `SubmissionEvaluator` and the outcome to the
    `ResultReporter`."""

    def __init__(
        self,
        store: SqlScoreStore,
        source: SubmissionSource,
        settings: Settings,
        worker_id: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scorer: FileScorer,
        seed_source: Callable[[], int] = fresh_seed,
        on_finished: Callable[[str], None] | None = None,
        on_progress: Callable[[], None] | None = None,
        watch: SubmissionWatch | None = None,
        organisers_alerted: bool = False,
        labels: PhaseLabels | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.settings = settings
        self.worker_id = worker_id
        self.clock = clock
        self.on_finished = on_finished
        self.on_progress = on_progress
        self.labels = labels if labels is not None else PhaseLabels(settings.phases)
        self._waiting: set[int] = set()  # pks already logged as waiting for their labels
        self.reporter = ResultReporter(store, source, settings, clock=clock, watch=watch,
                                       organisers_alerted=organisers_alerted)
        self.evaluator = SubmissionEvaluator(
            store, source, settings, worker_id, clock=clock, scorer=scorer,
            seed_source=seed_source, on_progress=self._progress, labels=self.labels,
        )  # fmt: skip

    def _progress(self) -> None:
        if self.on_progress:
            self.on_progress()

    # ------------------------------------------------------------------ queue handling
    def drain(self, limit: int = 1000, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Handle queued deliveries until the source is empty (bounded by `limit`)."""
        handled = 0
        while handled < limit and not should_stop():
            delivery = self.source.receive()
            if delivery is None:
                break
            handled += 1
            try:
                done = self.process(delivery.pk)
            except AuthError:
                raise
            except PermanentError as exc:
                # e.g. EvalAI answers 404 for the submission: retrying now cannot help, but one
                # such message must not stop the rest of the queue. It stays queued (a 404 that
                # is only a replication lag must not lose a submission) and comes back.
                log.error("submission %s: %s; message left queued, going on with the queue",
                          delivery.pk, exc)
                continue
            if done:
                self.source.acknowledge(delivery)
        return handled

    def check_labels(self) -> int:
        """Check every phase's labels (read again where they changed; the watch hears of
        phases not ready); how many phases are not ready."""
        return len(self.labels.check_all())

    def process(self, pk: int) -> bool:
        """Bring one submission to a reported final state if we can. True when its message
        may be deleted (done, or nothing to do); False to leave it queued (busy, retrying, or
        waiting for its phase's labels)."""
        stored = self.store.get(self.source.name, pk)
        if stored is not None and stored.status == "received" \
                and self.labels.problem(stored.phase) is not None:
            return self._wait_for_labels(stored.pk, stored.phase, stored)  # not even a request
        meta = self.source.describe(pk)
        if (stored is not None and stored.status in ("finished", "failed") and stored.reported
                and meta.status == "resuming"):
            # A host pressed "resume" on EvalAI (only offered for failed submissions): the same
            # pk comes back to be evaluated again, e.g. after the organiser fixed a config.
            self.store.reset_for_rescore(self.source.name, pk, self.clock(),
                                         "resumed on EvalAI by a host")
            log.info("submission %s: resumed by a host; scoring it again", pk)
            stored = self.store.get(self.source.name, pk)
        if stored is not None and stored.status in ("finished", "failed"):
            if not stored.reported:
                self.reporter.report(stored, meta, recovering=True)
            return True
        if stored is not None and stored.status == "cancelled":
            return True
        if meta.status == "cancelled":
            self._cancel(meta, stored)
            return True
        if meta.status in ("finished", "failed") and stored is None:
            log.info("submission %s: already %s on %s, unknown here; leaving it alone",
                     pk, meta.status, self.source.name)
            return True
        now = self.clock()
        wait_until = self._retry_time(stored)
        if wait_until is not None and now < wait_until:
            log.debug("submission %s: retried after %s; message left queued", pk, wait_until)
            return False
        self.store.upsert_submission(self._info(meta, now))
        if self.labels.problem(meta.phase) is not None:
            return self._wait_for_labels(pk, meta.phase, self.store.get(self.source.name, pk))
        self._waiting.discard(pk)
        if not self.store.try_claim(self.source.name, pk, self.worker_id, now,
                                    self.settings.lease_seconds):
            log.info("submission %s: being scored by another worker; message left queued", pk)
            return False
        claimed = self.store.get(self.source.name, pk)
        attempts = claimed.attempts if claimed else 0
        if attempts > self.settings.max_internal_attempts:
            status = self.evaluator.give_up(meta, attempts - 1)
        else:
            log.info("submission %s: running (phase %s, team %r, attempt %s)", pk, meta.phase,
                     meta.team_name, attempts)
            status = self.evaluator.evaluate(meta)
        if status == "received":
            return False  # internal error, will be retried: keep the message
        stored = self.store.get(self.source.name, pk)
        if stored is not None and stored.status in ("finished", "failed"):
            self.reporter.report(stored, meta, recovering=False)
        if status == "finished" and self.on_finished:
            self.on_finished(meta.phase)  # the leaderboard, after the participant has the score
        return True

    def _wait_for_labels(self, pk: int, phase: str, stored: StoredSubmission | None) -> bool:
        """The phase is not ready (its labels cannot be used): the submission is neither
        claimed nor failed, and its message stays queued. One left `running` by a dead worker
        (its lease expired) is put back to `received`, its attempt not counted again."""
        now = self.clock()
        if stored is not None and stored.status == "running" and stored.lease_until is not None \
                and stored.lease_until < now \
                and self.store.try_claim(self.source.name, pk, self.worker_id, now,
                                         self.settings.lease_seconds):
            self.store.release_claim(self.source.name, pk, self.worker_id, now,
                                     f"waiting: phase {phase} is not ready")
        if pk not in self._waiting:
            self._waiting.add(pk)
            log.info("submission %s: waits, phase %s is not ready (its labels cannot be used); "
                     "message left queued", pk, phase)
        return False

    def _retry_time(self, stored: StoredSubmission | None) -> datetime | None:
        """When a submission waiting after an internal error (a scoring process that crashed,
        was killed or ran over its limits counts) may be tried again: that attempt's end plus
        `retry_backoff_seconds`, doubled for every attempt before it. Other queued submissions
        are scored meanwhile. A scoring left behind by a dead worker restarts at once (its
        attempt still counts, so a file that kills the worker is tried at most
        `max_internal_attempts` times)."""
        if stored is None or stored.status != "received" or stored.attempts < 1:
            return None
        back = [e for e in self.store.events(self.source.name, stored.pk)
                if e.from_status == "running" and e.to_status == "received"]
        if not back or not back[-1].detail.startswith("internal error"):
            return None
        delay = self.settings.scoring.retry_backoff_seconds * 2 ** (stored.attempts - 1)
        return back[-1].at + timedelta(seconds=delay)

    def _cancel(self, meta: SubmissionMeta, stored: StoredSubmission | None) -> None:
        if stored is None:
            self.store.upsert_submission(self._info(meta, self.clock()))
        if self.store.mark_cancelled(self.source.name, meta.pk, self.clock(),
                                     "cancelled on the source"):
            log.info("submission %s: cancelled by the participant; not scored", meta.pk)

    def _info(self, meta: SubmissionMeta, now: datetime) -> SubmissionInfo:
        return SubmissionInfo(
            source=self.source.name,
            pk=meta.pk,
            phase=meta.phase,
            team_name=meta.team_name,
            method_name=meta.method_name,
            is_public=meta.is_public,
            is_baseline=meta.is_baseline,  # the source's flag; a team name never makes one
            submitted_at=meta.submitted_at or now,
            received_at=now,
            team_pk=meta.team_pk,
        )

    # ------------------------------------------------------------------ metadata
    def refresh_metadata(self, phase: str | None = None) -> list[tuple[int, list[str]]]:
        """Re-read team, method, public and baseline flags of the finished submissions from
        the source (EvalAI sends no message when a participant makes a submission private);
        returns (pk, changed fields) for every submission that changed."""
        changed: list[tuple[int, list[str]]] = []
        for stored in self.store.list_submissions(phase=phase, status="finished",
                                                  source=self.source.name):
            meta = self.source.describe(stored.pk)
            info = self._info(meta, self.clock())
            fields = [name for name in ("team_name", "method_name", "is_public", "is_baseline")
                      if getattr(info, name) != getattr(stored, name)]
            if fields:
                self.store.upsert_submission(info)
                log.info("submission %s: %s changed on %s", stored.pk, ", ".join(fields),
                         self.source.name)
                changed.append((stored.pk, fields))
        return changed

    # ------------------------------------------------------------------ recovery
    def report_unreported(self) -> int:
        """Post every recorded-but-unreported outcome (e.g. after a crash or a failed post)."""
        return self.reporter.report_unreported()

    def reap_expired(self) -> int:
        """Restart scorings whose worker died (lease expired)."""
        reaped = 0
        for stored in self.store.expired_leases(self.clock()):
            if stored.source != self.source.name:
                continue
            log.info("submission %s: lease of %s expired; restarting", stored.pk,
                     stored.lease_owner)
            self.process(stored.pk)
            reaped += 1
        return reaped
