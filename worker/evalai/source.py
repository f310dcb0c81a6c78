"""EvalAI as a SubmissionSource: the challenge's remote-evaluation queue. HTTP via EvalAIClient.

Maps the pipeline's port onto EvalAI's worker API (../shared/evalai-remote-protocol.md §2, §8):
receive = GET the queue (at most one message), acknowledge = delete with the newest receipt
handle, describe = GET the submission and its phase codename, mark_running = PATCH, report =
PUT finished (only the phase's metric, `show_to_participant: true`) or failed.
"""

from __future__ import annotations

from pathlib import Path

from worker.evalai.client import EvalAIClient
from worker.settings import PhaseSettings
from worker.source import Delivery, SubmissionMeta


class EvalAISource:
    name = "evalai"

    def __init__(self, client: EvalAIClient) -> None:
        self.client = client
        self._handles: dict[int, str] = {}

    def receive(self) -> Delivery | None:
        message = self.client.receive_message()
        if message is None:
            return None
        # Remember the newest handle: a delete with an older one is a silent no-op on SQS.
        self._handles[message.submission_pk] = message.receipt_handle
        return Delivery(message.submission_pk, message.receipt_handle)

    def acknowledge(self, delivery: Delivery) -> None:
        handle = self._handles.pop(delivery.pk, delivery.handle)
        if handle:
            self.client.delete_message(handle)

    def describe(self, pk: int) -> SubmissionMeta:
        sub = self.client.get_submission(pk)
        phase = self.client.get_phase(sub.phase_pk)
        return SubmissionMeta(
            source=self.name,
            pk=sub.pk,
            phase=phase.codename,
            phase_pk=sub.phase_pk,
            team_name=sub.team_name,
            team_pk=sub.participant_team_pk,
            method_name=sub.method_name,
            is_public=sub.is_public,
            is_baseline=sub.is_baseline,
            submitted_at=sub.submitted_at,
            status=sub.status,
            completed_at=sub.completed_at,
        )

    def mark_running(self, meta: SubmissionMeta) -> None:
        self.client.mark_running(meta.pk)

    def download(self, meta: SubmissionMeta, dest: Path, max_bytes: int) -> None:
        sub = self.client.get_submission(meta.pk)
        self.client.download(sub.input_file, dest, max_bytes)

    def report_finished(
        self, meta: SubmissionMeta, phase: PhaseSettings, mean_q: float, stdout: str,
        metadata: dict,
    ) -> None:
        self.client.post_finished(
            meta.pk, int(meta.phase_pk or 0), phase.split, {phase.metric: round(mean_q, 6)},
            stdout=stdout, stderr="", metadata=metadata,
        )

    def report_failed(self, meta: SubmissionMeta, stderr: str, stdout: str) -> None:
        self.client.post_failed(meta.pk, int(meta.phase_pk or 0), stderr=stderr, stdout=stdout)
