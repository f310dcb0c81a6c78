"""What the pool and its processes say to each other over a pipe (pickled). Pure.

Parent -> child: a `ReadJob` or a `ScoreJob`, `WARM_UP`, or `STOP`.
Child -> parent: `READY` once it can take jobs, `WARM` once torch is loaded (scoring jobs
wait for it; reading does not), `Progress` after every epoch, then one
`Reply` per job. Exceptions do not cross the pipe as objects (a `SubmissionError` does not
survive pickling); a reply carries the participant-facing code and message, or our own error
as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.config import ProbeConfig
from scoring.results import Finding
from scoring.task_rows import TaskRows

READY = "ready"  # imports for reading done: it takes ReadJobs and ScoreJobs
WARM = "warm"  # torch and the engine imported too: a ScoreJob starts at once
STOP = "stop"
# The answer to READY when no job is queued: load torch now. A process whose first job is a
# file to read loads torch after reading it instead, so the reading, which every task of the
# submission waits for, has the process (and its interpreter lock) to itself.
WARM_UP = "warm-up"


@dataclass(frozen=True)
class ReadJob:
    """Read, validate and prepare a submission file; write the float32 matrix to `matrix_path`.
    `options` are keyword arguments of `scoring.submission.load_submission`."""

    path: str
    expected_ids: frozenset[str]
    options: dict[str, Any]
    matrix_path: str
    threads: int = 1  # the file parser may use this many threads


@dataclass(frozen=True)
class ScoreJob:
    """Score one task on the shared matrix at `matrix_path`."""

    matrix_path: str
    task: TaskRows
    config: ProbeConfig
    seed: int
    keep_outcome: bool = False


@dataclass(frozen=True)
class TableRead:
    """A ReadJob's result: the prepared table's ids and findings (the matrix is in the file)."""

    ids: list[str]
    shape: tuple[int, int]
    found_dim: int
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Progress:
    """Steps (epochs, or SVM search candidates) of a task done, of `steps`."""

    done: int
    steps: int


@dataclass(frozen=True)
class Reply:
    """A job's end: `value` when ok; else `code`/`message` of a participant's error
    (kind "participant") or our own error's text (kind "error")."""

    kind: str  # "ok" | "participant" | "error"
    value: Any = None
    code: str = ""
    message: str = ""
    peak_rss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
