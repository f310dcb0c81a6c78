"""Records of the EvalAI double (users, teams, challenge, phases, splits, submissions, leaderboard
rows, recorded update calls) and their JSON shapes as EvalAI's serializers emit them. Pure.

Field lists follow the protocol notes: W3 `SubmissionSerializer`, W4 `ChallengePhaseSerializer`
(+ the host-only `ChallengePhaseCreateSerializer` extras), W5 `ZipChallengeSerializer` (subset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """An EvalAI answer other than success, as JSON: ``status`` and ``body``."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


class HtmlError(Exception):
    """Django's HTML error pages: the router's 404 and the unhandled-exception 500."""

    def __init__(self, status: int, reason: str = "") -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason


NOT_AUTHORIZED_UPDATE = {"error": "Sorry, you are not authorized to make this request!"}
NOT_AUTHORIZED_QUEUE = {"error": "Sorry, you are not authorized to access this resource"}
NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
JWT_NOT_VALID = {
    "detail": "Given token not valid for any token type",
    "code": "token_not_valid",
    "messages": [
        {
            "token_class": "RefreshToken",
            "token_type": "refresh",
            "message": "Token is invalid or expired",
        }
    ],
}


@dataclass
class User:
    pk: int
    username: str
    email_verified: bool = True


@dataclass
class Token:
    value: str
    kind: str  # "jwt" (sent as Bearer) or "key" (sent as Token)
    user_pk: int
    revoked: bool = False
    expired: bool = False


@dataclass
class Team:
    pk: int
    name: str
    member_pks: set[int]


@dataclass
class Challenge:
    pk: int
    title: str
    queue: str
    host_pks: set[int]
    remote_evaluation: bool = True
    is_active: bool = True
    approved_by_admin: bool = True
    published: bool = True


@dataclass
class Phase:
    pk: int
    challenge_pk: int
    codename: str
    name: str
    is_public: bool = True
    is_active: bool = True
    leaderboard_public: bool = True
    is_submission_public: bool = False
    max_concurrent_submissions_allowed: int = 3
    disable_logs: bool = False
    is_restricted_to_select_one_submission: bool = False  # one public submission per team


@dataclass
class PhaseSplit:
    pk: int  # the challenge_phase_split id used by the leaderboard URL
    phase_pk: int
    codename: str
    labels: tuple[str, ...]
    default_order_by: str
    descending: bool = True
    visibility: int = 3  # 1 host, 2 owner and host, 3 public


@dataclass
class Submission:
    pk: int
    team_pk: int
    phase_pk: int
    created_by: int
    submitted_at: float
    input_path: str  # media path of the input file
    status: str = "submitted"
    is_public: bool = False
    is_baseline: bool = False
    is_flagged: bool = False
    ignore_submission: bool = False
    is_verified_by_host: bool = False
    method_name: str = ""
    method_description: str = ""
    project_url: str = ""
    publication_url: str = ""
    started_at: float | None = None
    completed_at: float | None = None
    rerun_resumed_at: float | None = None
    when_made_public: float | None = None
    job_name: list[str] = field(default_factory=list)
    submission_metadata: Any = None
    # media paths of the files a PUT writes, and their latest raw contents
    files: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


@dataclass
class LeaderboardRow:
    pk: int
    submission_pk: int
    split_pk: int
    result: dict[str, Any]


@dataclass(frozen=True)
class UpdateCall:
    """One PATCH/PUT that reached the update_submission view, whatever it answered."""

    method: str
    challenge_pk: int
    submission_pk: int | None
    submission_status: str  # as sent, lower-cased ("" when absent)
    body: dict[str, Any]
    response_status: int
    username: str


@dataclass(frozen=True)
class Fixtures:
    """What `seed` created, so tests can address it without magic numbers."""

    challenge_pk: int
    queue_name: str
    phases: dict[str, int]  # codename -> phase pk
    split: str
    labels: tuple[str, ...]
    phase_splits: dict[str, int]  # phase codename -> challenge_phase_split pk
    teams: dict[str, int]  # team name -> participant team pk
    host_token: str  # JWT-style, for "Bearer"
    host_key: str  # login key, for "Token"
    participant_token: str  # member of team "alpha"
    participant2_token: str  # member of team "beta"


@dataclass(frozen=True)
class SubmissionSnapshot:
    """The double's view of one submission, including what participants can open."""

    pk: int
    status: str
    team_pk: int
    phase_pk: int
    is_public: bool
    is_baseline: bool
    started_at: float | None
    completed_at: float | None
    job_name: tuple[str, ...]
    input_bytes: bytes
    stdout: str | None
    stderr: str | None
    result: str | None  # the participant-visible result file: Python str() of a list
    metadata: str | None  # the host-only metadata file, verbatim
    environment_log: str | None
    leaderboard: dict[str, dict[str, Any]]  # split codename -> stored accuracies


def submission_json(
    sub: Submission, team: Team, base_url: str, iso: Any, *, for_host: bool
) -> dict[str, Any]:
    """W3 `SubmissionSerializer`; `environment_log_file` only for hosts."""

    def when(value: float | None) -> str | None:
        return None if value is None else iso(value)

    def media(name: str) -> str | None:
        path = sub.files.get(name)
        return None if path is None else base_url + path

    execution_time: Any = "None"
    if sub.started_at is not None and sub.completed_at is not None:
        execution_time = round(sub.completed_at - sub.started_at, 6)
    data: dict[str, Any] = {
        "id": sub.pk,
        "participant_team": team.pk,
        "participant_team_name": team.name,
        "execution_time": execution_time,
        "challenge_phase": sub.phase_pk,
        "created_by": sub.created_by,
        "status": sub.status,
        "is_public": sub.is_public,
        "is_flagged": sub.is_flagged,
        "ignore_submission": sub.ignore_submission,
        "when_made_public": when(sub.when_made_public),
        "is_baseline": sub.is_baseline,
        "is_verified_by_host": sub.is_verified_by_host,
        "job_name": list(sub.job_name),
        "input_file": base_url + sub.input_path,
        "submission_input_file": None,
        "stdout_file": media("stdout"),
        "stderr_file": media("stderr"),
        "environment_log_file": media("environment_log"),
        "submitted_at": iso(sub.submitted_at),
        "started_at": when(sub.started_at),
        "completed_at": when(sub.completed_at),
        "rerun_resumed_at": when(sub.rerun_resumed_at),
        "method_name": sub.method_name,
        "method_description": sub.method_description,
        "project_url": sub.project_url,
        "publication_url": sub.publication_url,
        "submission_result_file": media("result"),
        "submission_metadata": sub.submission_metadata,
    }
    if not for_host:
        del data["environment_log_file"]
    return data


def phase_json(phase: Phase, iso: Any, start: float, *, for_host: bool) -> dict[str, Any]:
    """W4 `ChallengePhaseSerializer`, plus `ChallengePhaseCreateSerializer` extras for hosts."""
    data: dict[str, Any] = {
        "id": phase.pk,
        "name": phase.name,
        "description": f"{phase.name} phase",
        "leaderboard_public": phase.leaderboard_public,
        "start_date": iso(start - 86400.0),
        "end_date": iso(start + 365 * 86400.0),
        "challenge": phase.challenge_pk,
        "max_submissions_per_day": 100000,
        "max_submissions_per_month": 100000,
        "max_submissions": 100000,
        "submission_artifact_retention_policy": None,
        "is_public": phase.is_public,
        "is_active": phase.is_active,
        "codename": phase.codename,
        "slug": f"challenge-{phase.challenge_pk}-{phase.codename}",
        "max_concurrent_submissions_allowed": phase.max_concurrent_submissions_allowed,
        "is_restricted_to_select_one_submission": False,
        "submission_meta_attributes": None,
        "is_partial_submission_evaluation_enabled": False,
        "allowed_submission_file_types": ".json, .zip, .txt, .tsv, .gz, .csv, .h5, .npy, .parquet",
        "default_submission_meta_attributes": None,
        "allowed_email_ids": None,
        "is_submission_public": phase.is_submission_public,
        "disable_logs": phase.disable_logs,
        "is_submission_paused": False,
    }
    if for_host:
        data.update({"test_annotation": None, "config_id": phase.pk})
    return data


def challenge_json(challenge: Challenge, iso: Any, start: float) -> dict[str, Any]:
    """W5 `ZipChallengeSerializer` (the fields a worker may look at)."""
    return {
        "id": challenge.pk,
        "title": challenge.title,
        "short_description": "",
        "remote_evaluation": challenge.remote_evaluation,
        "is_docker_based": False,
        "is_static_dataset_code_upload": False,
        "evaluation_script": None,
        "queue": challenge.queue,
        "is_active": challenge.is_active,
        "approved_by_admin": challenge.approved_by_admin,
        "published": challenge.published,
        "start_date": iso(start - 86400.0),
        "end_date": iso(start + 365 * 86400.0),
    }
