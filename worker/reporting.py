"""Reporting outcomes to the source: a recorded result or failure is posted once (checking first
whether an earlier life of the worker already posted it), then marked reported in the store; what
the participant reads is written here. I/O: the source's report calls and the store.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from scoring.results import ScoreCard
from worker.errors import AuthError, PermanentError, RequestRejected, TransientError
from worker.settings import PhaseSettings, Settings
from worker.source import SubmissionMeta, SubmissionSource
from worker.store import SqlScoreStore, StoredSubmission

log = logging.getLogger(__name__)

INTERNAL_FAILURE_MESSAGE = (
    "The evaluation failed because of a problem on the organisers' side, not with your file. "
    "The organisers have been alerted and will re-run your submission; it does not count "
    "against your quota."
)
# Said instead when no alert channel is configured (no ALERT_URLS): we promise nothing we do not do.
INTERNAL_FAILURE_MESSAGE_UNALERTED = (
    "The evaluation failed because of a problem on the organisers' side, not with your file. "
    "It is recorded for the organisers, who can re-run your submission; it does not count "
    "against your quota."
)


class SubmissionWatch(Protocol):
    """Who hears of submissions that failed for our reasons (the organisers' alerts)."""

    def submission_failed(self, source: str, pk: int, phase: str, attempts: int) -> None: ...

    def submission_scored(self, source: str, pk: int) -> None: ...
REPORT_GRACE = timedelta(seconds=30)


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


class ResultReporter:
    """Tells one source the final state of submissions recorded in the store."""

    def __init__(
        self,
        store: SqlScoreStore,
        source: SubmissionSource,
        settings: Settings,
        *,
        clock: Callable[[], datetime],
        watch: SubmissionWatch | None = None,
        organisers_alerted: bool = False,
    ) -> None:
        self.store = store
        self.source = source
        self.settings = settings
        self.clock = clock
        self.watch = watch
        self.internal_failure_message = (
            INTERNAL_FAILURE_MESSAGE if organisers_alerted else INTERNAL_FAILURE_MESSAGE_UNALERTED)

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
                self._report_internal_failure(stored, meta)
                return
            self.store.mark_reported(self.source.name, pk, self.clock())
            log.info("submission %s: result posted", pk)
            if self.watch is not None:
                self.watch.submission_scored(stored.source, pk)
            return
        if stored.error_kind == "participant":
            self._report_failure(stored, meta,
                                 stored.error_message or "the submission could not be scored")
        else:
            self._report_internal_failure(stored, meta)

    def _report_internal_failure(self, stored: StoredSubmission, meta: SubmissionMeta) -> None:
        """Our fault: the participant is told so (and not charged); the organisers are alerted
        before the post, so a failing post cannot lose the alert."""
        if self.watch is not None:
            self.watch.submission_failed(stored.source, stored.pk, stored.phase, stored.attempts)
        self._report_failure(stored, meta, self.internal_failure_message)

    def _report_failure(self, stored: StoredSubmission, meta: SubmissionMeta, message: str) -> None:
        self.source.report_failed(meta, message, failure_stdout(message))
        self.store.mark_reported(self.source.name, stored.pk, self.clock())
        log.info("submission %s: failure posted", stored.pk)

    def _already_reported(self, stored: StoredSubmission, meta: SubmissionMeta) -> bool:
        """Did an earlier life of this worker post this outcome before it died?"""
        if meta.status != stored.status or meta.completed_at is None:
            return False
        return stored.finished_at is not None and meta.completed_at >= stored.finished_at

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
