"""The participant side of the EvalAI double: what the real `evalai` CLI calls to submit
(protocol §5, §7.3 B2-B6): the normal multipart upload, and the `--large` path (presigned part
URLs served by the double itself, finish, publish). Pure: in-memory, on `EvalAIState`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from tests.doubles.evalai.model import ApiError, HtmlError, Phase, Team, User
from tests.doubles.evalai.state import IN_PROGRESS, EvalAIState, json_bool, json_or_text

_CANNOT_ACCEPT = "Sorry, cannot accept submissions since challenge phase"


def upload(
    state: EvalAIState,
    challenge_pk: int,
    phase_pk: int,
    user: User,
    fields: dict[str, Any],
    files: dict[str, tuple[str, bytes]],
) -> dict[str, Any]:
    """B2: the CLI's normal multipart upload."""
    phase, team = _participant_checks(state, challenge_pk, phase_pk, user)
    if "input_file" not in files:
        raise ApiError(406, {"input_file": ["No file was submitted."]})
    filename, content = files["input_file"]
    sub = state.create_submission(
        team_pk=team.pk,
        phase_pk=phase.pk,
        file_bytes=content,
        filename=filename,
        is_public=json_bool(fields.get("is_public")),
        created_by=user.pk,
        method_name=str(fields.get("method_name", "")),
        extra={"submission_metadata": json_or_text(fields.get("submission_metadata"))},
    )
    return state.submission_json(sub, for_host=state.is_host(user, challenge_pk))

def presign(
    state: EvalAIState, phase_pk: int, user: User, fields: dict[str, Any]
) -> dict[str, Any]:
    """B3: create the row with an empty placeholder file and hand out part URLs."""
    phase = state.phases.get(phase_pk)
    if phase is None:
        raise ApiError(404, {"detail": f"ChallengePhase {phase_pk} does not exist"})
    phase, team = _participant_checks(state, phase.challenge_pk, phase_pk, user)
    chunks = int(fields.get("num_file_chunks", 1))
    sub = state.create_submission(
        team_pk=team.pk,
        phase_pk=phase_pk,
        file_bytes=b"",
        filename=str(fields.get("file_name", "")),
        is_public=json_bool(fields.get("is_public")),
        created_by=user.pk,
        message=None,
    )
    upload_id = uuid.uuid4().hex
    state.uploads[upload_id] = {"submission_pk": sub.pk, "parts": {}}
    urls = [
        {"partNumber": n, "url": f"{state.base_url}/__s3__/{upload_id}/{n}"}
        for n in range(1, chunks + 1)
    ]
    return {"presigned_urls": urls, "upload_id": upload_id, "submission_pk": sub.pk}

def put_part(state: EvalAIState, upload_id: str, part: int, content: bytes) -> str:
    """B4: store one part; returns its ETag."""
    if upload_id not in state.uploads:
        raise HtmlError(404, "NoSuchUpload")
    etag = '"' + hashlib.md5(content).hexdigest() + '"'
    state.uploads[upload_id]["parts"][part] = (etag, bytes(content))
    return etag

def finish_upload(state: EvalAIState, sub_pk: int, fields: dict[str, Any]) -> dict[str, Any]:
    """B5: assemble the parts in PartNumber order into the submission's input file."""
    upload_id = str(fields.get("upload_id", ""))
    upload = state.uploads.get(upload_id)
    if upload is None or upload["submission_pk"] != sub_pk:
        raise ApiError(400, {"error": "Invalid upload id"})
    stored = upload["parts"]
    listed = json.loads(fields.get("parts") or "[]")
    chunks = []
    for part in sorted(listed, key=lambda p: int(p["PartNumber"])):
        etag, content = stored.get(int(part["PartNumber"]), (None, b""))
        if etag != part["ETag"]:
            raise ApiError(400, {"error": "Invalid part ETag"})
        chunks.append(content)
    state.media[state.submissions[sub_pk].input_path] = b"".join(chunks)
    return {"upload_id": upload_id, "submission_pk": sub_pk}

def send_message(state: EvalAIState, phase_pk: int, sub_pk: int) -> dict[str, Any]:
    """B6: publish the int-typed message for an uploaded large file."""
    sub = state.submissions.get(sub_pk)
    if sub is None or sub.phase_pk != phase_pk:
        raise ApiError(404, {"detail": f"Submission {sub_pk} does not exist"})
    state.publish(sub, "int")
    return {}


def _participant_checks(
    state: EvalAIState, challenge_pk: int, phase_pk: int, user: User
) -> tuple[Phase, Team]:
    if challenge_pk not in state.challenges:
        raise ApiError(404, {"detail": f"Challenge {challenge_pk} does not exist"})
    phase = state.phases.get(phase_pk)
    if phase is None or phase.challenge_pk != challenge_pk:
        raise ApiError(404, {"detail": f"ChallengePhase {phase_pk} does not exist"})
    if not phase.is_active:
        raise ApiError(406, {"error": f"{_CANNOT_ACCEPT} is not active"})
    host = state.is_host(user, challenge_pk)
    if not phase.is_public and not host:
        raise ApiError(403, {"error": f"{_CANNOT_ACCEPT} is not public"})
    team = next((t for t in state.teams.values() if user.pk in t.member_pks), None)
    if team is None:
        raise ApiError(403, {"error": "You haven't participated in the challenge"})
    busy = sum(
        1
        for s in state.submissions.values()
        if s.team_pk == team.pk and s.phase_pk == phase_pk and s.status in IN_PROGRESS
    )
    if busy >= phase.max_concurrent_submissions_allowed:
        raise ApiError(
            406,
            {
                "error": f"You have {busy} submissions that are being processed. "
                "Please wait for them to finish and then try again."
            },
        )
    return phase, team
