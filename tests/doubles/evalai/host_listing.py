"""The host's view of a challenge's submissions, as a real EvalAI server answers it (protocol
§11, observed on a real server; §2 W5 for the phase list), for reconciling lost hand-offs:

    GET /api/challenges/<c>/phases/                                  host only: the phases
    GET /api/jobs/phases/<p>/submission_count_by_status/             host only, others 401
    GET /api/challenges/<c>/challenge_phase/<p>/submissions          host only, paginated,
                                                                     newest first, page_size

Plus `lose_message`, the fault behind "stuck in submitted": a queue message received and
deleted somewhere else (another worker, a crashed script) without the submission being scored.
"""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from tests.doubles.evalai.model import ApiError, User, phase_json
from tests.doubles.evalai.state import EvalAIState

DEFAULT_PAGE_SIZE = 100  # EvalAI's StandardResultSetPagination
MAX_PAGE_SIZE = 1000
NOT_HOST = {"error": "Sorry, you are not authorized to access this resource"}


def _host_phase(state: EvalAIState, phase_pk: int, user: User) -> Any:
    phase = state.phases.get(phase_pk)
    if phase is None:
        raise ApiError(404, {"detail": f"ChallengePhase {phase_pk} does not exist"})
    if not state.is_host(user, phase.challenge_pk):
        raise ApiError(401, NOT_HOST)
    return phase


def challenge_phases(state: EvalAIState, challenge_pk: int, user: User) -> list[dict[str, Any]]:
    if challenge_pk not in state.challenges:
        raise ApiError(406, {"error": "Challenge does not exist"})
    if not state.is_host(user, challenge_pk):
        raise ApiError(401, NOT_HOST)
    return [phase_json(p, state.clock.isoformat, state.clock.now(), for_host=True)
            for p in sorted(state.phases.values(), key=lambda p: p.pk)
            if p.challenge_pk == challenge_pk]


def count_by_status(state: EvalAIState, phase_pk: int, user: User) -> dict[str, Any]:
    """Only the statuses that occur are listed."""
    _host_phase(state, phase_pk, user)
    counts = Counter(s.status for s in state.submissions.values() if s.phase_pk == phase_pk)
    return {"status": [{"status": status, "count": n} for status, n in sorted(counts.items())]}


def phase_submissions(state: EvalAIState, challenge_pk: int, phase_pk: int, user: User,
                      query: dict[str, str]) -> dict[str, Any]:
    phase = _host_phase(state, phase_pk, user)
    if phase.challenge_pk != challenge_pk:
        raise ApiError(406, {"error": f"Challenge phase {phase_pk} does not exist for "
                                      f"challenge {challenge_pk}"})
    try:
        size = min(max(int(query.get("page_size", DEFAULT_PAGE_SIZE)), 1), MAX_PAGE_SIZE)
        page = int(query.get("page", "1"))
    except ValueError:
        raise ApiError(404, {"detail": "Invalid page."}) from None
    team_filter = query.get("participant_team__team_name", "").lower()
    rows = sorted((s for s in state.submissions.values() if s.phase_pk == phase_pk
                   and team_filter in state.teams[s.team_pk].name.lower()),
                  key=lambda s: -s.pk)
    pages = max(1, -(-len(rows) // size))
    if page < 1 or page > pages:
        raise ApiError(404, {"detail": "Invalid page."})
    path = f"/api/challenges/{challenge_pk}/challenge_phase/{phase_pk}/submissions"

    def link(number: int) -> str | None:
        if number < 1 or number > pages:
            return None
        params = {k: v for k, v in query.items() if k != "page"} | {"page": str(number)}
        return f"{state.base_url}{path}?{urlencode(params)}"

    return {
        "count": len(rows),
        "next": link(page + 1),
        "previous": link(page - 1),
        "results": [_listed(state, s) for s in rows[(page - 1) * size: page * size]],
    }


def _listed(state: EvalAIState, sub: Any) -> dict[str, Any]:
    """One row as the host list shows it: team and phase by NAME, the creator by user name."""
    full = state.submission_json(sub, for_host=True)
    phase = state.phases[sub.phase_pk]
    return {
        "id": sub.pk,
        "participant_team": state.teams[sub.team_pk].name,
        "challenge_phase": phase.name,
        "created_by": state.users[sub.created_by].username,
        "status": sub.status,
        "is_public": sub.is_public,
        "is_flagged": sub.is_flagged,
        "is_baseline": sub.is_baseline,
        "submission_number": sum(1 for s in state.submissions.values()
                                 if s.team_pk == sub.team_pk and s.phase_pk == sub.phase_pk
                                 and s.pk <= sub.pk),
        "submitted_at": full["submitted_at"],
        "rerun_resumed_at": full["rerun_resumed_at"],
        "execution_time": full["execution_time"],
        "input_file": full["input_file"],
        "stdout_file": full["stdout_file"],
        "stderr_file": full["stderr_file"],
        "method_name": sub.method_name,
    }


def lose_message(state: EvalAIState, submission_pk: int) -> int:
    """Take the submission's queue messages out as if another consumer had received and
    deleted them; the submission itself keeps its status. Returns how many were lost."""
    lost = 0
    for queue in state.queues.values():
        lost += queue.drop_where(lambda body: int(body.get("submission_pk", -1)) == submission_pk)
    return lost
