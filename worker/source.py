"""The source port: where submissions come from and where their results go, and the records it
hands over. Pure: records and a `typing.Protocol` only.

It sits below the pipeline and below every source adapter (`worker.evalai.EvalAISource`,
`worker.inbox.InboxSource`), so adapters never import the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from worker.settings import PhaseSettings


@dataclass(frozen=True)
class Delivery:
    """One queue message (or one inbox file): which submission, and how to acknowledge it."""

    pk: int
    handle: str | None = None


@dataclass(frozen=True)
class SubmissionMeta:
    """What the source says about a submission."""

    source: str
    pk: int
    phase: str  # codename
    phase_pk: int | None
    team_name: str
    team_pk: int | None
    method_name: str
    is_public: bool
    is_baseline: bool  # EvalAI: its baseline flag (host-only); inbox: a configured team folder
    submitted_at: datetime | None
    status: str  # the source's own status: submitted, running, finished, failed, cancelled, …
    completed_at: datetime | None = None


class SubmissionSource(Protocol):
    """Where submissions come from and where results go (EvalAI or the local inbox)."""

    name: str

    def receive(self) -> Delivery | None: ...

    def acknowledge(self, delivery: Delivery) -> None: ...

    def describe(self, pk: int) -> SubmissionMeta: ...

    def mark_running(self, meta: SubmissionMeta) -> None: ...

    def download(self, meta: SubmissionMeta, dest: Path, max_bytes: int) -> None: ...

    def report_finished(
        self, meta: SubmissionMeta, phase: PhaseSettings, mean_q: float, stdout: str,
        metadata: dict,
    ) -> None: ...

    def report_failed(self, meta: SubmissionMeta, stderr: str, stdout: str) -> None: ...
