"""The EvalAI double's server-side state and behaviour: seeding, authentication, the worker's
read and queue endpoints (receive, delete, submission, phase, challenge, leaderboard), submission
creation and re-run/resume/cancel. The update_submission view lives in `updates`, the
CLI's upload views in `uploads`. Pure: in-memory, no network; failures are raised as
`ApiError` (JSON) or `HtmlError` (Django's HTML pages) and the HTTP layer renders them.
Not thread-safe: the double calls it under one lock.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import uuid
from typing import Any

from tests.doubles.evalai.leaderboard import leaderboard_page
from tests.doubles.evalai.model import (
    JWT_NOT_VALID,
    NO_CREDENTIALS,
    NOT_AUTHORIZED_QUEUE,
    ApiError,
    Challenge,
    Fixtures,
    HtmlError,
    LeaderboardRow,
    Phase,
    PhaseSplit,
    Submission,
    SubmissionSnapshot,
    Team,
    Token,
    UpdateCall,
    User,
    challenge_json,
    phase_json,
    submission_json,
)
from tests.doubles.evalai.sqs_queue import (
    DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
    FakeClock,
    InvalidReceiptHandle,
    SqsLikeQueue,
)

IN_PROGRESS = ("submitting", "submitted", "resuming", "queued", "running")
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="api"'}


class EvalAIState:
    def __init__(
        self,
        clock: FakeClock,
        *,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        retention_seconds: float = DEFAULT_RETENTION,
    ) -> None:
        self.clock = clock
        self.base_url = ""  # set by the server once it knows its port
        self.visibility_timeout = visibility_timeout
        self.retention_seconds = retention_seconds
        self.reset()

    # ------------------------------------------------------------------ set-up
    def reset(self) -> None:
        self.users: dict[int, User] = {}
        self.tokens: dict[str, Token] = {}
        self.teams: dict[int, Team] = {}
        self.challenges: dict[int, Challenge] = {}
        self.phases: dict[int, Phase] = {}
        self.splits: dict[int, PhaseSplit] = {}
        self.submissions: dict[int, Submission] = {}
        self.leaderboard_rows: list[LeaderboardRow] = []
        self.queues: dict[int, SqsLikeQueue] = {}
        self.media: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.update_calls: list[UpdateCall] = []
        self.ids = {name: itertools.count(1) for name in ("submission", "row")}
        self.fixtures: Fixtures | None = None

    def seed(
        self,
        *,
        phases: tuple[str, ...] = ("dev", "final"),
        split: str = "test_split",
        labels: tuple[str, ...] = ("mean_Q",),
        descending: bool = True,
        queue_name: str = "neuco-test-challenge-1-test-5b0f2c7e-9d1a-4c55-8f3e-2a6b1c0d9e77",
        fifo: bool = False,
        max_concurrent: int = 3,
    ) -> Fixtures:
        """Reset, then create one remote-evaluation challenge: a host, two participants in
        teams "alpha" and "beta", the host's own participant team "hosts", the phases (by
        codename), and one dataset split attached to every phase."""
        if not phases or not labels:
            raise ValueError("seed needs at least one phase and one leaderboard label")
        self.reset()
        names = ("host", "participant", "participant2")
        for pk, name in enumerate(names, start=1):
            self.users[pk] = User(pk, name)
        tokens = {name: f"jwt-{name}-{secrets.token_hex(16)}" for name in names}
        for pk, name in enumerate(names, start=1):
            self.tokens[tokens[name]] = Token(tokens[name], "jwt", pk)
        host_key = secrets.token_hex(20)  # DRF expiring tokens are 40 hex characters
        self.tokens[host_key] = Token(host_key, "key", 1)
        self.teams = {1: Team(1, "alpha", {2}), 2: Team(2, "beta", {3}), 3: Team(3, "hosts", {1})}
        if fifo and not queue_name.endswith(".fifo"):
            queue_name += ".fifo"
        self.challenges[1] = Challenge(1, "NeuCo test challenge", queue_name, {1})
        self.queues[1] = SqsLikeQueue(
            self.clock,
            visibility_timeout=self.visibility_timeout,
            retention_seconds=self.retention_seconds,
            fifo=fifo,
        )
        phase_pks: dict[str, int] = {}
        split_pks: dict[str, int] = {}
        for pk, codename in enumerate(phases, start=1):
            self.phases[pk] = Phase(pk, 1, codename, codename.capitalize() + " Phase")
            self.phases[pk].max_concurrent_submissions_allowed = max_concurrent
            self.splits[pk] = PhaseSplit(pk, pk, split, tuple(labels), labels[0], descending)
            phase_pks[codename], split_pks[codename] = pk, pk
        self.fixtures = Fixtures(
            challenge_pk=1,
            queue_name=queue_name,
            phases=phase_pks,
            split=split,
            labels=tuple(labels),
            phase_splits=split_pks,
            teams={team.name: team.pk for team in self.teams.values()},
            host_token=tokens["host"],
            host_key=host_key,
            participant_token=tokens["participant"],
            participant2_token=tokens["participant2"],
        )
        return self.fixtures

    # ------------------------------------------------------------------ auth
    def authenticate(self, header: str | None) -> User | None:
        """DRF's JWTAuthentication then ExpiringTokenAuthentication. None = no credentials."""
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        token = self.tokens.get(value)
        if scheme == "Bearer":
            if token is None or token.kind != "jwt" or token.revoked or token.expired:
                raise ApiError(401, JWT_NOT_VALID, WWW_AUTHENTICATE)
        elif scheme == "Token":
            if token is None or token.kind != "key" or token.revoked:
                raise ApiError(401, {"detail": "Invalid token"}, WWW_AUTHENTICATE)
            if token.expired:
                raise ApiError(401, {"detail": "Token has expired"}, WWW_AUTHENTICATE)
        else:
            return None
        return self.users[token.user_pk]

    @staticmethod
    def require(user: User | None) -> User:
        if user is None:
            raise ApiError(401, NO_CREDENTIALS, WWW_AUTHENTICATE)
        if not user.email_verified:
            raise ApiError(403, {"detail": "Please verify your email!"})
        return user

    def is_host(self, user: User | None, challenge_pk: Any) -> bool:
        challenge = self.challenges.get(int_or_none(challenge_pk) or -1)
        return user is not None and challenge is not None and user.pk in challenge.host_pks

    def revoke(self, token: str) -> None:
        self.tokens[token].revoked = True

    # ------------------------------------------------------------------ worker endpoints
    def receive(self, queue_name: str, user: User) -> dict[str, Any]:
        challenge = self._challenge_by_queue(queue_name, "does not exist")
        if not self.is_host(user, challenge.pk):
            raise ApiError(401, NOT_AUTHORIZED_QUEUE)
        got = self.queues[challenge.pk].receive()
        if got is None:
            return {"body": None, "receipt_handle": None}
        return {"body": got[0], "receipt_handle": got[1]}

    def delete_message(self, queue_name: str, user: User, data: dict[str, Any]) -> dict[str, Any]:
        challenge = self._challenge_by_queue(queue_name, "does not exists")  # sic
        if "receipt_handle" not in data:
            raise HtmlError(500, "KeyError: 'receipt_handle'")
        handle = data["receipt_handle"]
        if not handle:
            raise ApiError(400, {"error": "Please add message receipt handle in the body"})
        if not self.is_host(user, challenge.pk):
            raise ApiError(401, NOT_AUTHORIZED_QUEUE)
        try:
            self.queues[challenge.pk].delete(str(handle))
        except InvalidReceiptHandle as exc:
            raise HtmlError(500, "ReceiptHandleIsInvalid") from exc
        return {"success": f"Message deleted successfully from the queue: {queue_name}"}

    def get_submission(self, pk: int, user: User) -> dict[str, Any]:
        sub = self.submissions.get(pk)
        if sub is None:
            raise ApiError(404, {"error": f"Submission {pk} does not exist"})
        host = self.is_host(user, self.phases[sub.phase_pk].challenge_pk)
        if not host and user.pk != sub.created_by:
            raise ApiError(
                401, {"error": "Sorry, you are not authorized to access this submission."}
            )
        return self.submission_json(sub, for_host=host)

    def get_phase(self, pk: int) -> dict[str, Any]:
        phase = self.phases.get(pk)
        if phase is None:
            raise ApiError(404, {"detail": f"ChallengePhase {pk} does not exist"})
        return phase_json(phase, self.clock.isoformat, self.clock.now(), for_host=False)

    def get_phase_detail(self, challenge_pk: int, pk: int, user: User | None) -> dict[str, Any]:
        if challenge_pk not in self.challenges:
            raise ApiError(406, {"error": "Challenge does not exist"})
        phase = self.phases.get(pk)
        if phase is None or phase.challenge_pk != challenge_pk:
            raise ApiError(
                406, {"error": f"Challenge phase {pk} does not exist for challenge {challenge_pk}"}
            )
        host = self.is_host(user, challenge_pk)
        return phase_json(phase, self.clock.isoformat, self.clock.now(), for_host=host)

    def challenge_by_queue(self, queue_name: str, user: User) -> dict[str, Any]:
        challenge = self._challenge_by_queue(queue_name, "does not exist")
        if not self.is_host(user, challenge.pk):
            raise ApiError(
                401, {"error": "Sorry, you are not authorized to access this challenge."}
            )
        return challenge_json(challenge, self.clock.isoformat, self.clock.now())

    def leaderboard(self, split_pk: int, user: User | None, *, only_public: bool = True) -> dict:
        split = self.splits.get(split_pk)
        if split is None:
            raise ApiError(404, {"detail": f"ChallengePhaseSplit {split_pk} does not exist"})
        phase = self.phases[split.phase_pk]
        host = self.is_host(user, phase.challenge_pk)
        if split.visibility != 3 and not host:
            raise ApiError(400, {"error": "Sorry, the leaderboard is not public!"})
        host_pks = self.challenges[phase.challenge_pk].host_pks
        return leaderboard_page(
            split,
            phase,
            [row for row in self.leaderboard_rows if row.split_pk == split_pk],
            self.submissions,
            self.teams,
            host_pks,
            self.clock.isoformat,
            only_public=only_public and split.visibility == 3,
        )

    # ------------------------------------------------------------------ submissions
    def create_submission(
        self,
        *,
        team_pk: int,
        phase_pk: int,
        file_bytes: bytes,
        filename: str,
        is_public: bool | None,
        created_by: int | None = None,
        message: str | None = "string",
        method_name: str = "",
        is_baseline: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Submission:
        """Create a `submitted` row with its input file; `message` picks the queue body:
        "string" (normal upload: string pks), "int" (send_submission_message) or None."""
        phase = self.phases[phase_pk]
        team = self.teams[team_pk]
        pk = next(self.ids["submission"])
        ext = os.path.splitext(filename)[1]
        path = (
            f"/media/submission_files/challenge_{phase.challenge_pk}/phase_{phase_pk}/"
            f"submission_{pk}/{uuid.uuid4().hex}{ext}"
        )
        self.media[path] = bytes(file_bytes)
        if is_public is None or not phase.leaderboard_public:
            is_public = phase.is_submission_public
        sub = Submission(
            pk=pk,
            team_pk=team_pk,
            phase_pk=phase_pk,
            created_by=created_by if created_by is not None else min(team.member_pks),
            submitted_at=self.clock.now(),
            input_path=path,
            is_public=is_public,
            is_baseline=is_baseline,
            method_name=method_name,
            when_made_public=self.clock.now() if is_public else None,
            **(extra or {}),
        )
        self.submissions[pk] = sub
        if message is not None:
            self.publish(sub, message)
        return sub

    def publish(self, sub: Submission, variant: str) -> None:
        challenge_pk = self.phases[sub.phase_pk].challenge_pk
        if variant == "string":  # apps/jobs/views.py:challenge_submission (URL kwargs)
            body: dict[str, Any] = {
                "challenge_pk": str(challenge_pk),
                "phase_pk": str(sub.phase_pk),
                "is_static_dataset_code_upload_submission": False,
                "submission_pk": sub.pk,
            }
        elif variant == "int":  # views.py:send_submission_message
            body = {"submission_pk": sub.pk, "phase_pk": sub.phase_pk, "challenge_pk": challenge_pk}
        elif variant == "rerun":  # utils.py:handle_submission_rerun / _resume
            body = {
                "challenge_pk": challenge_pk,
                "phase_pk": sub.phase_pk,
                "submission_pk": sub.pk,
                "is_static_dataset_code_upload_submission": False,
            }
        else:
            raise ValueError(f"unknown message variant {variant!r}")
        self.queues[challenge_pk].send(body, group_id=f"{sub.phase_pk}-{sub.team_pk}")

    def cancel(self, pk: int) -> None:
        self.submissions[pk].status = "cancelled"  # the queue message stays, as in EvalAI

    def rerun(self, pk: int) -> int:
        old = self.submissions[pk]
        old.status = "cancelled"
        new = self.create_submission(
            team_pk=old.team_pk,
            phase_pk=old.phase_pk,
            file_bytes=self.media[old.input_path],
            filename=old.input_path,
            is_public=old.is_public,
            created_by=old.created_by,
            message=None,
            method_name=old.method_name,
            is_baseline=old.is_baseline,
        )
        new.submitted_at, new.rerun_resumed_at = old.submitted_at, self.clock.now()
        self.publish(new, "rerun")
        return new.pk

    def resume(self, pk: int) -> None:
        sub = self.submissions[pk]
        if sub.status != "failed":
            raise ApiError(400, {"error": "Only failed submissions can be resumed"})
        sub.status, sub.rerun_resumed_at = "resuming", self.clock.now()
        self.publish(sub, "rerun")

    # ------------------------------------------------------------------ views for tests
    def submission_json(self, sub: Submission, *, for_host: bool) -> dict[str, Any]:
        team = self.teams[sub.team_pk]
        return submission_json(sub, team, self.base_url, self.clock.isoformat, for_host=for_host)

    def snapshot(self, pk: int) -> SubmissionSnapshot:
        sub = self.submissions[pk]
        rows = {
            self.splits[row.split_pk].codename: dict(row.result)
            for row in self.leaderboard_rows
            if row.submission_pk == pk
        }
        return SubmissionSnapshot(
            pk=sub.pk,
            status=sub.status,
            team_pk=sub.team_pk,
            phase_pk=sub.phase_pk,
            is_public=sub.is_public,
            is_baseline=sub.is_baseline,
            started_at=sub.started_at,
            completed_at=sub.completed_at,
            job_name=tuple(sub.job_name),
            input_bytes=self.media[sub.input_path],
            stdout=sub.texts.get("stdout"),
            stderr=sub.texts.get("stderr"),
            result=sub.texts.get("result"),
            metadata=sub.texts.get("metadata"),
            environment_log=sub.texts.get("environment_log"),
            leaderboard=rows,
        )

    # ------------------------------------------------------------------ helpers
    def _challenge_by_queue(self, queue_name: str, verb: str) -> Challenge:
        for challenge in self.challenges.values():
            if challenge.queue == queue_name:
                return challenge
        raise ApiError(400, {"error": f"Challenge with queue name {queue_name} {verb}"})


def int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def json_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    return bool(json.loads(value)) if isinstance(value, str) else bool(value)


def json_or_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
