"""The real participant CLI (`evalai` 1.3.18, from `.venv-evalai/`) submitting to the EvalAI
double: the double must create the submission and publish the queue message exactly as EvalAI
does. Skips when the CLI's virtualenv is missing (`make setup-evalai-cli` creates it).
I/O: runs the CLI in subprocesses against the loopback double, with a temporary HOME.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doubles.evalai import cli_available, run_cli, submit_with_cli

pytestmark = pytest.mark.skipif(
    not cli_available(), reason=".venv-evalai/bin/python is missing: run `make setup-evalai-cli`"
)

CONTENT = b"id,e0,e1\n1,0.25,0.5\n2,0.75,1.0\n"


@pytest.fixture
def submission_file(tmp_path: Path) -> Path:
    path = tmp_path / "embeddings.csv"
    path.write_bytes(CONTENT)
    return path


def test_cli_submit_creates_the_submission_and_publishes_string_pks(
    evalai_double, submission_file, clean_environment
):
    fixtures = evalai_double.fixtures
    pk = submit_with_cli(
        evalai_double.url, fixtures.participant_token, 1, fixtures.phases["dev"], submission_file,
        home=clean_environment,
    )  # fmt: skip
    state = evalai_double.submission(pk)
    assert (state.status, state.team_pk, state.input_bytes) == ("submitted", 1, CONTENT)
    [message] = evalai_double.queue_messages()
    assert message.body == {
        "challenge_pk": "1",
        "phase_pk": "1",
        "is_static_dataset_code_upload_submission": False,
        "submission_pk": pk,
    }
    assert all(r.had_authorization for r in evalai_double.requests(path="/api/"))


def test_cli_large_upload_goes_through_presigned_parts_and_publishes_int_pks(
    evalai_double, submission_file
):
    fixtures = evalai_double.fixtures
    pk = submit_with_cli(
        evalai_double.url, fixtures.participant_token, 1, fixtures.phases["final"],
        submission_file, large=True, public=False,
    )  # fmt: skip
    state = evalai_double.submission(pk)
    assert (state.input_bytes, state.is_public, state.phase_pk) == (CONTENT, False, 2)
    [message] = evalai_double.queue_messages()
    assert message.body == {"submission_pk": pk, "phase_pk": 2, "challenge_pk": 1}
    [part] = evalai_double.requests(path="/__s3__/")
    assert part.had_authorization is False


def test_cli_reports_the_servers_refusal(evalai_double, submission_file, tmp_path):
    upload = "/api/jobs/challenge/1/challenge_phase/1/submission/"
    refusal = {"error": "Challenge phase is not active"}
    evalai_double.inject("status", status=406, body=refusal, method="POST", path=upload)
    args = ["challenge", "1", "phase", "1", "submit", "--file", str(submission_file)]
    token = evalai_double.fixtures.participant_token
    result = run_cli(evalai_double.url, token, args, home=tmp_path / "cli-home")
    assert result.returncode == 1
    assert "Error: Challenge phase is not active" in result.stdout
    assert evalai_double.queue_messages() == []
