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
- Scorings left `running` by a dead worker are restarted: at once by this worker's next life
  (the data-directory lock proves the predecessor is dead) and by any worker once the lease
  has expired (the reaper).

Logs: one INFO line per state change, prefixed `submission <pk>:`; never tokens or labels.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scoring.engine import TooManyFailedSplits, fresh_seed, score_submission
from scoring.labels import Task, load_tasks
from scoring.results import ScoreCard
from scoring.submission import SubmissionError, load_submission
from worker.errors import (
    AuthError,
    DownloadTooLarge,
    PermanentError,
    RequestRejected,
    TransientError,
)
from worker.settings import PhaseSettings, Settings
from worker.source import SubmissionMeta, SubmissionSource
from worker.store import LeaseLost, SqlScoreStore, StoredSubmission, SubmissionInfo

log = logging.getLogger(__name__)

INTERNAL_FAILURE_MESSAGE = (
    "The evaluation failed because of a problem on the organisers' side, not with your file. "
    "The organisers have been alerted and will re-run your submission; it does not count "
    "against your quota."
)
REPORT_GRACE = timedelta(seconds=30)


class UnknownPhase(Exception):
    """The submission's phase codename is not in the challenge YAML (an organiser problem)."""


Scorer = Callable[..., tuple[ScoreCard, list]]


def participant_stdout(card: ScoreCard, phase: PhaseSettings) -> str:
    """What the participant reads: status, mean Q, seed, warning flags. Nothing per task."""
    lines = [
        "Status: FINISHED",
        f"{phase.metric}: {card.mean_q:.4f}",
        "  (the mean of the quality score Q over this phase's hidden tasks; higher is better, "
        "at most 100)",
        f"Evaluation seed: {card.seed}",
        "  (every evaluation draws fresh random train/test splits, so re-submitting the same "
        "embeddings gives a slightly different score)",
    ]
    if card.warnings:
        lines.append("Warnings:")
        lines += [f"  - {w.code}: {w.message}" for w in card.warnings]
    else:
        lines.append("Warnings: none")
    return "\n".join(lines) + "\n"


def failure_stdout(message: str) -> str:
    return f"Status: FAILED\nReason: {message}\n"


class SubmissionPipeline:
    """Processes deliveries from one source into one store."""

    def __init__(
        self,
        store: SqlScoreStore,
        source: SubmissionSource,
        settings: Settings,
        worker_id: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scorer: Scorer = score_submission,
        seed_source: Callable[[], int] = fresh_seed,
        on_finished: Callable[[str], None] | None = None,
        on_progress: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.settings = settings
        self.worker_id = worker_id
        self.clock = clock
        self.scorer = scorer
        self.seed_source = seed_source
        self.on_finished = on_finished
        self.on_progress = on_progress
        self._tasks: dict[str, tuple[Task, ...]] = {}

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

    def process(self, pk: int) -> bool:
        """Bring one submission to a reported final state if we can. True when its message
        may be deleted (done, or nothing to do); False to leave it queued (busy or retrying)."""
        meta = self.source.describe(pk)
        stored = self.store.get(self.source.name, pk)
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
                self.report(stored, meta, recovering=True)
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
        self.store.upsert_submission(self._info(meta, now))
        if not self.store.try_claim(self.source.name, pk, self.worker_id, now,
                                    self.settings.lease_seconds):
            log.info("submission %s: being scored by another worker; message left queued", pk)
            return False
        claimed = self.store.get(self.source.name, pk)
        log.info("submission %s: running (phase %s, team %r, attempt %s)", pk, meta.phase,
                 meta.team_name, claimed.attempts if claimed else "?")
        status = self._score(meta)
        if status == "received":
            return False  # internal error, will be retried: keep the message
        stored = self.store.get(self.source.name, pk)
        if stored is not None and stored.status in ("finished", "failed"):
            self.report(stored, meta, recovering=False)
        if status == "finished" and self.on_finished:
            self.on_finished(meta.phase)  # the leaderboard, after the participant has the score
        return True

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
            is_baseline=meta.is_baseline or meta.team_name in self.settings.leaderboard.baselines,
            submitted_at=meta.submitted_at or now,
            received_at=now,
            team_pk=meta.team_pk,
        )

    # ------------------------------------------------------------------ scoring
    def tasks_for(self, phase: PhaseSettings) -> tuple[Task, ...]:
        if phase.codename not in self._tasks:
            tasks = load_tasks(phase.annotations)
            if phase.probe.task_filter is not None:
                tasks = tuple(t for t in tasks if t.name in set(phase.probe.task_filter))
            self._tasks[phase.codename] = tasks
        return self._tasks[phase.codename]

    def _score(self, meta: SubmissionMeta) -> str:
        """Run the claimed submission to a recorded outcome; returns the new store status."""
        started = self.clock()
        try:
            phase = self.settings.phases.get(meta.phase)
            if phase is None:
                raise UnknownPhase(meta.phase)
            if meta.status in ("submitted", "resuming", "queued"):
                self.source.mark_running(meta)
            tasks = self.tasks_for(phase)
            expected = set().union(*(set(t.ids) for t in tasks))
            with tempfile.TemporaryDirectory(prefix=f"submission-{meta.pk}-") as tmp:
                path = Path(tmp) / "input"
                self.source.download(meta, path, self.settings.max_file_bytes)
                table = load_submission(
                    path, expected, embedding_dim=phase.probe.embedding_dim,
                    strict=phase.strict_ids, standardize=phase.probe.standardize_embeddings,
                    max_uncompressed=4 * self.settings.max_file_bytes,
                )
            seed = self.seed_source()
            tick = time.monotonic()

            def progress(task_index: int, task_count: int, epoch: int, epochs: int) -> None:
                nonlocal tick
                if time.monotonic() - tick > 5:  # keep the lease and the heartbeat fresh
                    tick = time.monotonic()
                    self.store.renew_lease(self.source.name, meta.pk, self.worker_id,
                                           self.clock(), self.settings.lease_seconds)
                    if self.on_progress:
                        self.on_progress()

            card, _ = self.scorer(table, tasks, phase.probe, seed, on_progress=progress)
            finished = self.clock()
            self.store.record_evaluation(self.source.name, meta.pk, self.worker_id, card,
                                         started, finished)
            log.info("submission %s: finished, %s = %.4f (seed %s, %.1f s)", meta.pk,
                     phase.metric, card.mean_q, seed, card.seconds)
            return "finished"
        except (SubmissionError, DownloadTooLarge) as exc:
            message = exc.message if isinstance(exc, SubmissionError) else str(exc)
            if isinstance(exc, TooManyFailedSplits):
                log.warning("submission %s: too many failed probes on task %s", meta.pk, exc.task)
            return self._fail(meta, "participant", message)
        except UnknownPhase:
            log.error("submission %s: phase codename %r is not in the challenge YAML (known: %s);"
                      " add it under phases: and run `rescore`", meta.pk, meta.phase,
                      ", ".join(sorted(self.settings.phases)) or "none")
            return self._fail(meta, "internal", f"unknown phase {meta.phase!r}", final=True)
        except AuthError:
            self._fail(meta, "internal", "EvalAI rejected the token")
            raise
        except LeaseLost:
            log.warning("submission %s: lease lost to another worker; dropping this run", meta.pk)
            return "lost"
        except TransientError as exc:
            # EvalAI or the network is down: not the submission's fault and not a bug of ours.
            # Give the claim back uncounted and leave the message queued for a later tick.
            log.warning("submission %s: %s; will retry on a later tick", meta.pk, exc)
            self.store.release_claim(self.source.name, meta.pk, self.worker_id, self.clock(),
                                     f"transient error, retried later: {exc}")
            return "received"
        except Exception as exc:  # noqa: BLE001 - boundary: labels, bugs, anything of ours
            log.exception("submission %s: internal error: %s", meta.pk, exc)
            return self._fail(meta, "internal", f"{type(exc).__name__}: {exc}")

    def _fail(self, meta: SubmissionMeta, kind: str, message: str, final: bool = False) -> str:
        attempts = 1 if final else self.settings.max_internal_attempts
        try:
            status = self.store.record_failure(self.source.name, meta.pk, self.worker_id, kind,
                                               message, self.clock(), attempts)
        except LeaseLost:
            return "lost"
        if status == "received":
            log.info("submission %s: internal error, will retry", meta.pk)
        else:
            log.info("submission %s: failed (%s error): %s", meta.pk, kind, message)
        return status

    # ------------------------------------------------------------------ reporting
    def report(self, stored: StoredSubmission, meta: SubmissionMeta, recovering: bool) -> None:
        """Tell the source the final state of a recorded submission, then mark it reported."""
        pk = stored.pk
        if recovering and self._already_reported(stored, meta):
            log.info("submission %s: result already on %s; marking it reported", pk,
                     self.source.name)
            self.store.mark_reported(self.source.name, pk, self.clock())
            return
        phase = self.settings.phases.get(stored.phase)
        if stored.status == "finished" and phase is not None:
            record = self.store.evaluation(stored.current_evaluation_id)
            card = record.score_card()
            if not math.isfinite(card.mean_q):
                self._report_failure(stored, meta, "no valid score could be computed: a hidden "
                                     "task had no successful linear probe")
                return
            metadata = {
                "seed": card.seed,
                "config_fingerprint": card.config_fingerprint,
                "evaluation_id": record.id,
                "k_folds": phase.probe.k_folds,
                "tasks": len(card.tasks),
                "seconds": round(card.seconds, 2),
                "warnings": [w.code for w in card.warnings],
            }
            try:
                self.source.report_finished(meta, phase, card.mean_q,
                                            participant_stdout(card, phase), metadata)
            except RequestRejected as exc:
                log.error("submission %s: %s rejected the result (%s): %s — check the phase's "
                          "split and metric in the challenge YAML against EvalAI's leaderboard "
                          "config, then `rescore`", pk, self.source.name, exc.status_code,
                          getattr(exc, "body", exc))
                self._report_failure(stored, meta, INTERNAL_FAILURE_MESSAGE)
                return
            self.store.mark_reported(self.source.name, pk, self.clock())
            log.info("submission %s: result posted", pk)
            return
        if stored.error_kind == "participant":
            message = stored.error_message or "the submission could not be scored"
        else:
            message = INTERNAL_FAILURE_MESSAGE
        self._report_failure(stored, meta, message)

    def _report_failure(self, stored: StoredSubmission, meta: SubmissionMeta, message: str) -> None:
        self.source.report_failed(meta, message, failure_stdout(message))
        self.store.mark_reported(self.source.name, stored.pk, self.clock())
        log.info("submission %s: failure posted", stored.pk)

    def _already_reported(self, stored: StoredSubmission, meta: SubmissionMeta) -> bool:
        """Did an earlier life of this worker post this outcome before it died?"""
        if meta.status != stored.status or meta.completed_at is None:
            return False
        return stored.finished_at is not None and meta.completed_at >= stored.finished_at

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
        done = 0
        for stored in self.store.unreported(self.clock() - REPORT_GRACE):
            if stored.source != self.source.name:
                continue
            try:
                self.report(stored, self.source.describe(stored.pk), recovering=True)
                done += 1
            except TransientError as exc:
                log.warning("submission %s: reporting failed, will retry: %s", stored.pk, exc)
            except AuthError:
                raise
            except PermanentError as exc:  # one bad row must not block every later tick
                log.error("submission %s: cannot report the recorded result: %s", stored.pk,
                          exc)
        return done

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
