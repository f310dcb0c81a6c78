"""Evaluating one claimed submission: download, validate, score, record. The step of the pipeline
that runs the scoring core, with every way it can end mapped onto a store status.
I/O: downloads through the `SubmissionSource` into a temporary directory, reads the phase's
annotations (through `PhaseLabels`, which reads them again when they change), writes the
outcome to the store; renews the lease while a `FileScorer` reads and scores the file (in
scoring processes: `worker.scorer.PoolScorer`).

A scoring process that crashes, is killed, or runs over its memory or time while SCORING is an
internal error (`ChildFailed`), retried up to `max_internal_attempts` with a growing wait; over
its memory or time while READING the file it is the participant's (a `SubmissionError`).
A submission that fails on our side for good is reported, and the organisers alerted, by the
`ResultReporter` (worker.reporting).

Outcomes: "finished"; "failed" (a participant error, or an internal one with no attempts left);
"received" (an internal error with attempts left; or, with the claim given back uncounted,
transient trouble or a phase whose labels broke after the claim: it waits for them); "lost"
(another worker took the lease: nothing written). AuthError propagates.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol

from scoring.labels import Task
from scoring.pool import ChildFailed
from scoring.results import ScoreCard
from scoring.seeds import fresh_seed
from scoring.submission import SubmissionError
from scoring.task_rows import TooManyFailedSplits
from worker.errors import AuthError, DownloadTooLarge, SubmissionFileGone, TransientError
from worker.phase_labels import PhaseLabels, PhaseNotReady
from worker.settings import PhaseSettings, Settings
from worker.source import SubmissionMeta, SubmissionSource
from worker.store import LeaseLost, SqlScoreStore

log = logging.getLogger(__name__)


class UnknownPhase(Exception):
    """The submission's phase codename is not in the challenge YAML (an organiser problem)."""


class FileScorer(Protocol):
    """Reads a downloaded submission file and scores the phase's tasks on it."""

    def score_file(
        self, path: Path, phase: PhaseSettings, tasks: Sequence[Task], seed: int, *,
        label: str, keep_alive: Callable[[], None],
    ) -> ScoreCard: ...


class SubmissionEvaluator:
    """Runs claimed submissions of one source to a recorded outcome, as `worker_id`."""

    def __init__(
        self,
        store: SqlScoreStore,
        source: SubmissionSource,
        settings: Settings,
        worker_id: str,
        *,
        clock: Callable[[], datetime],
        scorer: FileScorer,
        seed_source: Callable[[], int] = fresh_seed,
        on_progress: Callable[[], None] = lambda: None,
        labels: PhaseLabels | None = None,
    ) -> None:
        self.store = store
        self.source = source
        self.settings = settings
        self.worker_id = worker_id
        self.clock = clock
        self.scorer = scorer
        self.seed_source = seed_source
        self.on_progress = on_progress
        self.labels = labels if labels is not None else PhaseLabels(settings.phases)

    def tasks_for(self, phase: PhaseSettings) -> tuple[Task, ...]:
        """The phase's tasks now; PhaseNotReady when its labels cannot be used."""
        return self.labels.tasks(phase)

    def evaluate(self, meta: SubmissionMeta) -> str:
        """Run the claimed submission to a recorded outcome; returns the new store status."""
        started = self.clock()
        try:
            phase = self.settings.phases.get(meta.phase)
            if phase is None:
                raise UnknownPhase(meta.phase)
            tasks = self.tasks_for(phase)  # before EvalAI hears "running": it may wait
            if meta.status in ("submitted", "resuming", "queued"):
                self.source.mark_running(meta)
            seed = self.seed_source()
            tick = time.monotonic()

            def keep_alive() -> None:
                nonlocal tick
                if time.monotonic() - tick > 5:  # keep the lease and the heartbeat fresh
                    tick = time.monotonic()
                    self.store.renew_lease(self.source.name, meta.pk, self.worker_id,
                                           self.clock(), self.settings.lease_seconds)
                    self.on_progress()

            with tempfile.TemporaryDirectory(prefix=f"submission-{meta.pk}-") as tmp:
                path = Path(tmp) / "input"
                self.source.download(meta, path, self.settings.max_file_bytes)
                card = self.scorer.score_file(path, phase, tasks, seed,
                                              label=f"submission-{self.source.name}-{meta.pk}",
                                              keep_alive=keep_alive)
            finished = self.clock()
            self.store.record_evaluation(self.source.name, meta.pk, self.worker_id, card,
                                         started, finished)
            log.info("submission %s: finished, %s = %.4f (seed %s, %.1f s)", meta.pk,
                     phase.metric, card.mean_q, seed, card.seconds)
            return "finished"
        except (SubmissionError, DownloadTooLarge, SubmissionFileGone) as exc:
            message = exc.message if isinstance(exc, SubmissionError) else str(exc)
            if isinstance(exc, TooManyFailedSplits):
                log.warning("submission %s: too many failed probes on task %s", meta.pk, exc.task)
            return self._fail(meta, "participant", message)
        except UnknownPhase:
            log.error("submission %s: phase codename %r is not in the challenge YAML (known: %s);"
                      " add it under phases: and run `rescore`", meta.pk, meta.phase,
                      ", ".join(sorted(self.settings.phases)) or "none")
            return self._fail(meta, "internal", f"unknown phase {meta.phase!r}", final=True)
        except PhaseNotReady as exc:
            # The labels broke after the claim: the organisers' to fix, not the participant's.
            # The claim is given back uncounted; the submission waits with the phase.
            log.warning("submission %s: %s; it waits for the labels", meta.pk, exc)
            self.store.release_claim(self.source.name, meta.pk, self.worker_id, self.clock(),
                                     f"waiting: phase {meta.phase} is not ready")
            return "received"
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
        except ChildFailed as exc:  # crashed, killed, or over its memory/time while scoring
            log.error("submission %s: %s", meta.pk, exc)
            return self._fail(meta, "internal", str(exc))
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

    def give_up(self, meta: SubmissionMeta, abnormal_attempts: int) -> str:
        """Fail a claimed submission whose earlier attempts ended without a word (the worker or
        its scoring died): a restart never gives an attempt back, so a poison pill ends here."""
        log.error("submission %s: %s attempt(s) ended abnormally; giving up", meta.pk,
                  abnormal_attempts)
        return self._fail(meta, "internal", f"{abnormal_attempts} scoring attempt(s) ended "
                          "abnormally (the worker or its scoring process died)", final=True)
