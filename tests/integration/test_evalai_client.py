"""`worker.evalai.EvalAIClient` against the EvalAI double over real HTTP on 127.0.0.1: every
method's happy path, the queue's redelivery semantics, retries (bounded, only for transient
failures, with recorded instead of real sleeps), error mapping and local validation.
I/O: loopback HTTP to the double; downloads into pytest's tmp_path.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from worker.errors import (
    AuthError,
    DownloadTooLarge,
    NotFound,
    PermanentError,
    RequestRejected,
    TransientError,
)
from worker.evalai import (
    EvalAIChallenge,
    EvalAIClient,
    EvalAIConnection,
    EvalAIPhase,
    QueueMessage,
    RetryPolicy,
    result_json,
)

SUBMISSION_PATH = "/api/jobs/submission/"
UPDATE_PATH = "/api/jobs/challenge/1/update_submission/"


# ---------------------------------------------------------------------- queue
def test_receive_message_coerces_the_string_pks_of_a_normal_upload(evalai_double, client):
    pk = evalai_double.create_submission(message="string")
    message = client.receive_message()
    assert message == QueueMessage(pk, 1, 1, message.receipt_handle)
    assert isinstance(message.phase_pk, int) and isinstance(message.challenge_pk, int)
    assert message.receipt_handle


def test_receive_message_reads_the_int_variant_of_send_submission_message(evalai_double, client):
    pk = evalai_double.create_submission(phase="final", message="int")
    message = client.receive_message()
    assert (message.submission_pk, message.phase_pk, message.challenge_pk) == (pk, 2, 1)


def test_receive_message_on_an_empty_queue_returns_none(client):
    assert client.receive_message() is None


def test_undeleted_message_comes_back_after_the_visibility_timeout_with_a_new_handle(
    evalai_double, client
):
    pk = evalai_double.create_submission()
    first = client.receive_message()
    assert client.receive_message() is None  # in flight
    evalai_double.advance(30)
    second = client.receive_message()
    assert second.submission_pk == first.submission_pk == pk
    assert second.receipt_handle != first.receipt_handle

    assert client.delete_message(first.receipt_handle) is True  # 200, but stale: a no-op
    assert len(evalai_double.queue_messages()) == 1
    assert client.delete_message(second.receipt_handle) is True
    assert evalai_double.queue_messages() == []


def test_deleting_with_an_invalid_handle_is_logged_and_non_fatal(evalai_double, client, sleeps):
    assert client.delete_message("not-a-receipt-handle") is False
    assert len(evalai_double.requests(path="/api/jobs/queues/")) == 1  # not retried
    assert sleeps == []


def test_a_malformed_message_is_deleted_and_skipped(evalai_double, client):
    evalai_double.enqueue({"unexpected": "shape"})
    assert client.receive_message() is None
    assert evalai_double.queue_messages() == []


# ---------------------------------------------------------------------- reads
def test_get_submission_returns_a_typed_record(evalai_double, client):
    pk = evalai_double.create_submission(team="beta", method_name="mine", is_public=False)
    submission = client.get_submission(pk)
    assert submission.pk == pk
    assert submission.team_name == "beta"
    assert submission.participant_team_pk == evalai_double.fixtures.teams["beta"]
    assert (submission.phase_pk, submission.status) == (1, "submitted")
    assert submission.method_name == "mine"
    assert (submission.is_public, submission.is_baseline) == (False, False)
    assert submission.submitted_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert submission.started_at is None and submission.completed_at is None
    assert submission.input_file.startswith(evalai_double.url + "/media/")


def test_get_submission_of_an_unknown_pk_raises_not_found(client):
    with pytest.raises(NotFound, match="Submission 99999 does not exist"):
        client.get_submission(99999)


def test_get_phase_uses_the_slashed_path_and_is_cached(evalai_double, client):
    assert client.get_phase(2) == EvalAIPhase(2, "final", "Final Phase")
    assert client.get_phase(2).codename == "final"
    calls = evalai_double.requests(path="/api/challenges/challenge/phase/")
    assert [(c.path, c.status) for c in calls] == [("/api/challenges/challenge/phase/2/", 200)]


def test_a_301_to_the_slash_less_phase_path_is_followed_with_the_token(evalai_double, client):
    # An edge rewriting the URL sends us to the slash-less form, which EvalAI 301s back.
    slashed = "/api/challenges/challenge/phase/1/"
    evalai_double.inject("redirect", path=slashed, location=slashed.rstrip("/"))
    assert client.get_phase(1).codename == "dev"
    calls = evalai_double.requests(path="/api/challenges/challenge/phase/")
    assert [c.status for c in calls] == [301, 301, 200]
    assert all(c.had_authorization for c in calls)


def test_check_token_names_the_challenge_without_consuming_a_message(evalai_double, client):
    evalai_double.create_submission()
    assert client.check_token() == EvalAIChallenge(1, "NeuCo test challenge", True, True)
    [message] = evalai_double.queue_messages()
    assert message.receive_count == 0


def test_check_token_catches_a_challenge_pk_that_does_not_own_the_queue(make_client):
    with pytest.raises(PermanentError, match="belongs to challenge 1, but CHALLENGE_PK is 7"):
        make_client(challenge_pk=7).check_token()


def test_check_token_with_an_unknown_queue_raises_not_found(make_client):
    with pytest.raises(NotFound, match="Challenge with queue name nope does not exist"):
        make_client(queue_name="nope").check_token()


def test_receive_message_on_an_unknown_queue_raises_not_found(make_client):
    with pytest.raises(NotFound, match="Challenge with queue name nope does not exist"):
        make_client(queue_name="nope").receive_message()


# ---------------------------------------------------------------------- host listing (§11)
def test_submission_counts_read_only_the_statuses_that_occur(evalai_double, client):
    pks = [evalai_double.create_submission() for _ in range(3)]
    client.post_failed(pks[0], 1, "bad file")
    assert client.submission_counts(1) == {"failed": 1, "submitted": 2}
    assert client.submission_counts(2) == {}  # a phase without submissions lists nothing


def test_phase_submissions_follow_next_newest_first_with_names(evalai_double, client):
    pks = [evalai_double.create_submission(team=team) for team in ("alpha", "beta", "alpha")]

    rows = list(client.phase_submissions(1, page_size=2))

    assert [row.pk for row in rows] == pks[::-1]
    assert [row.team_name for row in rows] == ["alpha", "beta", "alpha"]
    assert {row.phase_name for row in rows} == {"Dev Phase"}  # the name, not the codename
    assert {row.status for row in rows} == {"submitted"}
    assert rows[0].submitted_at == datetime(2026, 1, 1, tzinfo=UTC)
    listed = evalai_double.requests(path="/api/challenges/1/challenge_phase/1/submissions")
    assert [r.status for r in listed] == [200, 200]  # two pages of two


def test_a_login_key_is_sent_as_a_token_and_a_profile_jwt_as_bearer(evalai_double, make_client):
    key = evalai_double.fixtures.host_key  # what /api/auth/login returns: 40 hex characters
    assert make_client(token=key).receive_message() is None  # accepted: the queue is empty
    assert make_client().receive_message() is None  # the profile page's JWT
    assert [r.status for r in evalai_double.requests()] == [200, 200]


def test_a_participant_token_cannot_list_or_count(evalai_double, make_client):
    client = make_client(token=evalai_double.fixtures.participant_token)
    with pytest.raises(AuthError, match="not a host"):
        client.submission_counts(1)
    with pytest.raises(AuthError, match="not a host"):
        next(client.phase_submissions(1))


# ---------------------------------------------------------------------- status updates
def test_mark_running_patches_once_and_returns_the_submission(evalai_double, client):
    pk = evalai_double.create_submission()
    submission = client.mark_running(pk)
    assert submission.status == "running" and submission.started_at is not None
    [call] = evalai_double.patches(pk)
    assert (call.submission_status, call.response_status) == ("running", 200)
    assert call.body["submission"] == str(pk)  # form-encoded: every value a string


def test_post_finished_reaches_the_leaderboard(evalai_double, client):
    pk = evalai_double.create_submission()
    client.post_finished(
        pk, 1, "test_split", {"mean_Q": 0.8133}, "scored 3 tasks", "", {"tasks": 3, "seconds": 1.5}
    )
    state = evalai_double.submission(pk)
    assert state.status == "finished"
    assert state.leaderboard == {"test_split": {"mean_Q": 0.8133}}
    assert state.result == "[{'mean_Q': 0.8133}]"
    assert (state.stdout, state.stderr) == ("scored 3 tasks", "")
    assert json.loads(state.metadata) == {"tasks": 3, "seconds": 1.5}
    [put] = evalai_double.puts(pk)
    assert put.submission_status == "finished"
    assert json.loads(put.body["result"]) == [
        {"split": "test_split", "show_to_participant": True, "accuracies": {"mean_Q": 0.8133}}
    ]
    [row] = evalai_double.leaderboard("dev")
    assert row["result"] == [0.8133]


def test_post_failed_sets_failed_with_a_participant_visible_stderr(evalai_double, client):
    pk = evalai_double.create_submission()
    client.post_failed(pk, 1, "the file has no 'id' column")
    state = evalai_double.submission(pk)
    assert (state.status, state.stdout) == ("failed", "")
    assert state.stderr == "the file has no 'id' column"
    assert state.leaderboard == {} and evalai_double.leaderboard("dev") == []


def test_a_400_on_the_result_raises_request_rejected_unretried(evalai_double, client, sleeps):
    pk = evalai_double.create_submission()
    with pytest.raises(RequestRejected) as caught:
        client.post_finished(pk, 1, "test_split", {"bogus": 1.0}, "", "", {})
    assert caught.value.status_code == 400
    assert caught.value.body == {
        "error": "Following metrics are missing in theleaderboard data: ['bogus']"
    }
    assert [c.response_status for c in evalai_double.puts(pk)] == [400]
    assert sleeps == []
    assert evalai_double.submission(pk).status == "submitted"


def test_an_unknown_split_is_rejected_with_the_servers_message(evalai_double, client):
    pk = evalai_double.create_submission()
    with pytest.raises(RequestRejected, match="andsplit codename: nope"):
        client.post_finished(pk, 1, "nope", {"mean_Q": 0.5}, "", "", {})


@pytest.mark.parametrize(
    ("split", "metrics", "complaint"),
    [
        ("test_split", {"mean_Q": math.nan}, "finite"),
        ("test_split", {"mean_Q": math.inf}, "finite"),
        ("test_split", {"mean_Q": -math.inf}, "finite"),
        ("test_split", {"mean_Q": True}, "int or float"),
        ("test_split", {"mean_Q": "0.5"}, "int or float"),
        ("test_split", {"mean_Q": None}, "int or float"),
        ("test_split", {}, "at least one"),
        ("test_split", {"": 0.5}, "non-empty"),
        ("", {"mean_Q": 0.5}, "split codename"),
    ],
)
def test_bad_results_are_refused_before_anything_is_sent(
    evalai_double, client, split, metrics, complaint
):
    pk = evalai_double.create_submission()
    with pytest.raises(ValueError, match=complaint):
        client.post_finished(pk, 1, split, metrics, "", "", {})
    assert evalai_double.requests() == []


def test_metadata_that_is_not_json_is_refused_before_sending(evalai_double, client):
    pk = evalai_double.create_submission()
    for metadata in ({"seconds": math.nan}, {"when": datetime(2026, 1, 1)}):
        with pytest.raises(ValueError, match="metadata"):
            client.post_finished(pk, 1, "test_split", {"mean_Q": 0.5}, "", "", metadata)
    assert evalai_double.requests() == []


def test_result_json_accepts_numpy_scalars():
    payload = json.loads(result_json("s", {"a": np.float32(0.5), "b": np.int64(3)}))
    assert payload[0]["accuracies"] == {"a": 0.5, "b": 3}


# ---------------------------------------------------------------------- retries
def test_a_503_then_success_is_retried(evalai_double, client, sleeps):
    pk = evalai_double.create_submission()
    evalai_double.inject("status", 2, status=503)
    assert client.get_submission(pk).pk == pk
    assert [c.status for c in evalai_double.requests(path=SUBMISSION_PATH)] == [503, 503, 200]
    assert len(sleeps) == 2


def test_persistent_5xx_raises_transient_error_after_the_last_attempt(
    evalai_double, make_client, sleeps
):
    pk = evalai_double.create_submission()
    client = make_client(retry=RetryPolicy(max_attempts=4, backoff_initial=1.0, backoff_max=3.0))
    evalai_double.inject("status", 100, status=502, path=SUBMISSION_PATH)
    with pytest.raises(TransientError, match="EvalAI answered 502 \\(an HTML page\\)") as caught:
        client.get_submission(pk)
    assert caught.value.status_code == 502
    assert len(evalai_double.requests(path=SUBMISSION_PATH)) == 4
    assert len(sleeps) == 3
    assert all(0 <= s <= 3.0 for s in sleeps)  # jittered, then capped at backoff_max


def test_a_429_waits_for_retry_after(evalai_double, client, sleeps):
    pk = evalai_double.create_submission()
    evalai_double.inject("rate_limit", retry_after=7)
    assert client.get_submission(pk).pk == pk
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_bound_is_left_to_the_caller(evalai_double, client, sleeps):
    evalai_double.inject("rate_limit", retry_after=600)
    with pytest.raises(TransientError) as caught:
        client.receive_message()
    assert (caught.value.status_code, caught.value.retry_after) == (429, 600.0)
    assert sleeps == []


def test_evalai_per_user_throttle_is_waited_out(evalai_double, client, sleeps):
    pk = evalai_double.create_submission()
    evalai_double.set_rate_limit(3)
    for _ in range(4):
        client.get_submission(pk)
    assert sleeps == [60.0]
    statuses = [c.status for c in evalai_double.requests(path=SUBMISSION_PATH)]
    assert statuses == [200, 200, 200, 429, 200]


def test_a_slow_answer_times_out_and_is_retried(evalai_double, make_client, sleeps):
    pk = evalai_double.create_submission()
    client = make_client(timeout=(2.0, 1.0))
    evalai_double.inject("slow", delay=5.0, path=SUBMISSION_PATH)
    assert client.get_submission(pk).pk == pk
    assert len(sleeps) == 1


def test_answers_that_stay_slow_end_in_transient_error(evalai_double, make_client, sleeps):
    pk = evalai_double.create_submission()
    client = make_client(timeout=(2.0, 1.0), retry=RetryPolicy(max_attempts=2))
    evalai_double.inject("slow", 2, delay=5.0, path=SUBMISSION_PATH)
    with pytest.raises(TransientError, match="did not answer in time"):
        client.get_submission(pk)
    assert len(sleeps) == 1


def test_a_dropped_connection_is_retried(evalai_double, client, sleeps):
    evalai_double.create_submission()
    evalai_double.inject("drop")
    assert client.receive_message() is not None
    assert len(sleeps) == 1


def test_seeded_random_5xx_are_ridden_out(evalai_double, make_client):
    pk = evalai_double.create_submission()
    client = make_client(retry=RetryPolicy(max_attempts=8))
    evalai_double.inject_random_5xx(0.3, seed=11)
    for _ in range(10):
        assert client.get_submission(pk).pk == pk
    statuses = [c.status for c in evalai_double.requests(path=SUBMISSION_PATH)]
    assert statuses.count(200) == 10 and len(statuses) > 10


def test_the_retry_budget_is_measured_on_the_injected_clock(evalai_double, make_client, sleeps):
    evalai_double.inject("status", 100, status=503)
    policy = RetryPolicy(max_attempts=10, backoff_initial=4.0, jitter=0.0, max_elapsed=10.0)
    with pytest.raises(TransientError):
        make_client(retry=policy).receive_message()
    assert sleeps == [4.0, 8.0]  # the third failure comes 12 s in, past the 10 s budget


def test_an_html_404_maps_to_not_found_without_a_json_crash(evalai_double, client):
    evalai_double.inject("status", status=404, path=SUBMISSION_PATH)
    with pytest.raises(NotFound, match="an HTML page"):
        client.get_submission(1)


# ---------------------------------------------------------------------- auth
def test_a_revoked_token_raises_auth_error_without_leaking_it(evalai_double, client, caplog):
    caplog.set_level(logging.DEBUG)
    token = evalai_double.fixtures.host_token
    assert client.receive_message() is None
    evalai_double.revoke_token(token)
    with pytest.raises(AuthError) as caught:
        client.receive_message()
    message = str(caught.value)
    assert message == (
        "EvalAI rejected the token (401 token_not_valid): the AUTH_TOKEN is invalid or expired; "
        "get a new one from your EvalAI profile page"
    )
    assert len(evalai_double.requests(path="/api/jobs/challenge/queues/")) == 2  # not retried
    assert token not in caplog.text and token not in repr(client)


def test_a_participant_token_is_refused_as_not_a_host(evalai_double, make_client):
    client = make_client(token=evalai_double.fixtures.participant_token)
    with pytest.raises(AuthError, match="not a host"):
        client.receive_message()
    pk = evalai_double.create_submission(team="beta")
    with pytest.raises(AuthError, match="not a host"):  # update_submission answers 400
        client.post_failed(pk, 1, "nope")


def test_the_token_never_shows_in_reprs_or_config_errors(evalai_double):
    secret = "s3cr3t-token-value"
    connection = EvalAIConnection(evalai_double.url, secret, "q", 1)
    assert secret not in repr(connection)
    assert secret not in repr(EvalAIClient(connection))
    with pytest.raises(ValueError) as caught:
        EvalAIClient(EvalAIConnection(evalai_double.url, secret + " x", "q", 1))
    assert secret not in str(caught.value)


# ---------------------------------------------------------------------- downloads
def test_download_streams_the_file_without_credentials(evalai_double, client, tmp_path):
    content = b"id,e0,e1\n" + b"1,0.1,0.2\n" * 5000
    pk = evalai_double.create_submission(file_bytes=content)
    dest = tmp_path / "submission.csv"
    assert client.download(client.get_submission(pk).input_file, dest, len(content)) == len(content)
    assert dest.read_bytes() == content
    [fetch] = evalai_double.requests(path="/media/")
    assert fetch.had_authorization is False


@pytest.mark.parametrize("announced", [True, False], ids=["content-length", "counted"])
def test_download_over_the_cap_raises_and_leaves_nothing(
    evalai_double, client, tmp_path, announced
):
    evalai_double.media_content_length = announced
    pk = evalai_double.create_submission(file_bytes=b"x" * 200_000)
    dest = tmp_path / "submission.csv"
    with pytest.raises(DownloadTooLarge, match="limit") as caught:
        client.download(client.get_submission(pk).input_file, dest, 100_000)
    assert caught.value.limit == 100_000 and caught.value.size > 100_000
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]  # no file, no .part left over


def test_download_is_retried_on_transient_errors(evalai_double, client, tmp_path, sleeps):
    pk = evalai_double.create_submission(file_bytes=b"abc")
    url = client.get_submission(pk).input_file
    evalai_double.inject("status", status=503, path="/media/")
    evalai_double.inject("drop", path="/media/")
    assert client.download(url, tmp_path / "f", 10) == 3
    assert len(sleeps) == 2


def test_download_of_a_missing_file_raises_not_found(evalai_double, client, tmp_path):
    with pytest.raises(NotFound):
        client.download(evalai_double.url + "/media/nothing.csv", tmp_path / "f", 10)


def test_download_size_exactly_at_the_cap_is_accepted(evalai_double, client, tmp_path: Path):
    pk = evalai_double.create_submission(file_bytes=b"0123456789")
    assert client.download(client.get_submission(pk).input_file, tmp_path / "f", 10) == 10
