"""The "My Submissions" toggles of the EvalAI double (protocol §4; EvalAI's
`apps/jobs/views.py:change_submission_data_and_visibility`):

    PATCH /api/jobs/challenge/<c>/challenge_phase/<p>/submission/<s>     (no trailing slash)

A participant shows or hides one of the team's submissions on the leaderboard (`is_public`);
a host marks one of the host's *own team's* submissions as a baseline (`is_baseline`): the view
only finds submissions of the caller's participant team, and refuses `is_baseline` from anyone
but a host. EvalAI sends no queue message for any of it. Pure: in-memory, on `EvalAIState`.
"""

from __future__ import annotations

from typing import Any

from tests.doubles.evalai.model import ApiError, Submission, User
from tests.doubles.evalai.state import EvalAIState

# DRF 3.10 BooleanField: what a form or JSON body may say for true and false (True == 1 and
# False == 0 == 0.0 in a set, so the numbers cover the JSON booleans).
TRUE_VALUES = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
               "1", 1}  # fmt: skip
FALSE_VALUES = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off",
                "OFF", "0", 0}  # fmt: skip
BOOLEANS = ("is_public", "is_baseline")
TEXTS = ("method_name", "method_description", "project_url", "publication_url")
_NOT_PUBLIC = "Sorry, cannot accept submissions since challenge phase is not public"


def change_submission(
    state: EvalAIState, challenge_pk: int, phase_pk: int, submission_pk: int, user: User,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The view, in EvalAI's order of checks; 200 with the submission as W3 shows it."""
    challenge = state.challenges.get(challenge_pk)
    if challenge is None:
        raise ApiError(404, {"detail": f"Challenge {challenge_pk} does not exist"})
    phase = state.phases.get(phase_pk)
    if phase is None:
        raise ApiError(404, {"detail": f"ChallengePhase {phase_pk} does not exist"})
    if not challenge.is_active:
        raise ApiError(403, {"error": "Challenge is not active"})
    host = state.is_host(user, challenge_pk)
    if not host:
        if not phase.is_public:
            raise ApiError(403, {"error": _NOT_PUBLIC})
        if data.get("is_baseline"):  # any truthy value, "false" as a form string included
            raise ApiError(400, {"error": "Sorry, you are not authorized to make this request"})
    team = next((t for t in state.teams.values() if user.pk in t.member_pks), None)
    if team is None:
        raise ApiError(403, {"error": "You haven't participated in the challenge"})
    sub = state.submissions.get(submission_pk)
    if sub is None or sub.team_pk != team.pk or sub.phase_pk != phase.pk:
        raise ApiError(403, {"error": "Submission does not exist"})
    if data.get("is_public") is True:  # a JSON true only, as in EvalAI
        sub.when_made_public = state.clock.now()
        if phase.is_restricted_to_select_one_submission:
            _hide_the_other_public_one(state, sub)
    for name, value in _validated(data).items():
        setattr(sub, name, value)
    return state.submission_json(sub, for_host=host)


def _hide_the_other_public_one(state: EvalAIState, sub: Submission) -> None:
    """With one public submission allowed, making one public hides the team's other one."""
    public = [s for s in state.submissions.values()
              if s.is_public and s.team_pk == sub.team_pk and s.phase_pk == sub.phase_pk]
    if len(public) == 1:
        public[0].is_public = False


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    """The serializer's partial update: the known fields, or a 400 naming the bad ones."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in BOOLEANS:
        if name in data:
            parsed = _boolean(data[name])
            if parsed is None:
                errors[name] = ["This field may not be null." if data[name] is None
                                else "Must be a valid boolean."]
            else:
                values[name] = parsed
    for name in TEXTS:
        if name in data:
            if isinstance(data[name], str | int | float) and not isinstance(data[name], bool):
                values[name] = str(data[name])
            else:
                errors[name] = ["Not a valid string."]
    if errors:
        raise ApiError(400, errors)
    return values


def _boolean(value: Any) -> bool | None:
    try:
        if value in TRUE_VALUES:
            return True
        if value in FALSE_VALUES:
            return False
    except TypeError:  # unhashable (a list or an object in a JSON body)
        pass
    return None
