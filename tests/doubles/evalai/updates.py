"""The EvalAI double's update_submission view (protocol §2 W6 PATCH running, W7 PUT result,
§2.1 result validation with EvalAI's exact messages). Pure: in-memory, on `EvalAIState`.

Like the real server it never looks at the current status (no transition checks) and records
every call that reaches it, with the status it answered, in `state.update_calls`.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

from tests.doubles.evalai.model import (
    NOT_AUTHORIZED_UPDATE,
    ApiError,
    HtmlError,
    LeaderboardRow,
    PhaseSplit,
    Submission,
    UpdateCall,
    User,
)
from tests.doubles.evalai.state import EvalAIState, int_or_none


def update_submission(
    state: EvalAIState, method: str, challenge_pk: int, user: User, data: dict[str, Any]
) -> dict[str, Any]:
    """W6 (PATCH) and W7 (PUT); every call is recorded with the status it got."""
    status = 500
    try:
        answer = _update_submission(state, method, challenge_pk, user, data)
        status = 200
        return answer
    except (ApiError, HtmlError) as exc:
        status = exc.status
        raise
    finally:
        sent = data.get("submission_status", "")
        state.update_calls.append(
            UpdateCall(
                method=method,
                challenge_pk=challenge_pk,
                submission_pk=int_or_none(data.get("submission")),
                submission_status=sent.lower() if isinstance(sent, str) else repr(sent),
                body=dict(data),
                response_status=status,
                username=user.username,
            )
        )


def _update_submission(
    state: EvalAIState, method: str, challenge_pk: int, user: User, data: dict[str, Any]
) -> dict[str, Any]:
    if not state.is_host(user, challenge_pk):
        raise ApiError(400, NOT_AUTHORIZED_UPDATE)
    sub = _submission_for_update(state, data.get("submission"))
    status = data.get("submission_status", "").lower()  # a non-string crashes, as in EvalAI
    if method == "PATCH":
        job_name = data.get("job_name", "").lower()
        if job_name:
            sub.job_name.append(job_name)
        if status not in ("queued", "running"):
            raise ApiError(400, {"error": "Sorry, submission status is invalid"})
        sub.status, sub.started_at = status, state.clock.now()
        return state.submission_json(sub, for_host=True)
    if status not in ("finished", "failed", "cancelled"):
        raise ApiError(400, {"error": "Sorry, submission status is invalid"})
    public_results: list[Any] = []
    if status == "finished":
        staged = _validate_result(state, data.get("challenge_phase"), data.get("result", ""))
        for split, accuracies, show in staged:
            _store_row(state, sub.pk, split.pk, accuracies)
            if show:
                public_results.append(accuracies)
    sub.status, sub.completed_at = status, state.clock.now()
    metadata = data.get("metadata", "")
    contents = {
        "stdout": str(data.get("stdout", "")),
        "stderr": str(data.get("stderr", "")),
        "environment_log": str(data.get("environment_log", "")),
        "result": str(public_results),
        "metadata": str(metadata),
    }
    for name, text in contents.items():
        path = f"/media/submission_files/submission_{sub.pk}/{uuid.uuid4().hex}/{name}.txt"
        state.media[path] = text.encode("utf-8")
        sub.files[name], sub.texts[name] = path, text
    return {"success": "Submission result has been successfully updated"}


def _validate_result(
    state: EvalAIState, phase_pk: Any, result: Any
) -> list[tuple[PhaseSplit, dict[str, Any], bool]]:
    """§2.1, split by split, before anything is written (all or nothing)."""
    try:
        results = json.loads(result)
    except (ValueError, TypeError) as exc:
        raise ApiError(
            400,
            {
                "error": f"`result` key contains invalid data with error {exc}."
                "Please try again with correct format."
            },
        ) from exc
    staged = []
    for item in results:  # a non-list (or non-dict items) crashes into a 500, as in EvalAI
        split_codename = item.get("split")
        accuracies = item.get("accuracies")
        split = _split_for(state, phase_pk, split_codename)
        if split is None:
            raise ApiError(
                400,
                {
                    "error": f"Challenge Phase Split does not exist with phase_id: {phase_pk} "
                    f"andsplit codename: {split_codename}"
                },
            )
        pairs = list(accuracies.items())  # not an object -> 500, as in EvalAI
        missing = [metric for metric, _ in pairs if metric not in split.labels]
        malformed = [(m, type(v)) for m, v in pairs if not isinstance(v, int | float)]
        if missing:
            raise ApiError(
                400,
                {"error": f"Following metrics are missing in theleaderboard data: {missing}"},
            )
        if malformed:
            raise ApiError(
                400,
                {"error": f"Values for following metrics are not offloat/int: {malformed}"},
            )
        staged.append((split, accuracies, bool(item.get("show_to_participant", False))))
    for _, accuracies, _ in staged:
        if any(isinstance(v, float) and not math.isfinite(v) for v in accuracies.values()):
            # Assumption (unverified upstream): PostgreSQL jsonb refuses NaN/Infinity.
            raise HtmlError(500, "NaN/Infinity cannot be stored in jsonb")
    return staged


def _store_row(
    state: EvalAIState, submission_pk: int, split_pk: int, accuracies: dict[str, Any]
) -> None:
    for row in state.leaderboard_rows:
        if row.submission_pk == submission_pk and row.split_pk == split_pk:
            row.result = dict(accuracies)  # updated in place, never duplicated
            return
    pk = next(state.ids["row"])
    state.leaderboard_rows.append(LeaderboardRow(pk, submission_pk, split_pk, dict(accuracies)))


def _submission_for_update(state: EvalAIState, raw: Any) -> Submission:
    pk = int_or_none(raw)
    if raw is not None and pk is None:
        raise HtmlError(500, f"invalid submission pk {raw!r}")
    sub = state.submissions.get(pk) if pk is not None else None
    if sub is None:
        raise ApiError(404, {"detail": f"Submission {raw} does not exist"})
    return sub


def _split_for(state: EvalAIState, phase_pk: Any, codename: Any) -> PhaseSplit | None:
    if phase_pk is None:
        return None
    pk = int_or_none(phase_pk)
    if pk is None:
        raise HtmlError(500, f"invalid phase pk {phase_pk!r}")
    for split in state.splits.values():
        if split.phase_pk == pk and split.codename == codename:
            return split
    return None
