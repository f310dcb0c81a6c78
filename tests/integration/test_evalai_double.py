"""The EvalAI double itself, probed with plain `requests` over real HTTP: it must answer like the
real server (protocol §10 first, then §2-§4), or tests of the worker prove nothing.
I/O: loopback HTTP to the double.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.doubles.evalai import EvalAIDouble

TIMEOUT = (2.0, 5.0)
RESULT = [{"split": "test_split", "show_to_participant": True, "accuracies": {"mean_Q": 0.8133}}]
NOT_AUTHORIZED = {"error": "Sorry, you are not authorized to make this request!"}


class Api:
    """`requests` bound to the double's URL and one user's `Authorization` header."""

    def __init__(self, double: EvalAIDouble, header: str | None) -> None:
        self.double = double
        self.headers = {} if header is None else {"Authorization": header}

    def __call__(self, method: str, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return requests.request(method, self.double.url + path, headers=headers, **kwargs)

    def receive(self) -> requests.Response:
        return self("GET", f"/api/jobs/challenge/queues/{self.double.fixtures.queue_name}/")

    def delete(self, handle: str) -> requests.Response:
        queue = self.double.fixtures.queue_name
        return self("POST", f"/api/jobs/queues/{queue}/", data={"receipt_handle": handle})

    def put_result(self, pk: int, result: object = RESULT, **fields: object) -> requests.Response:
        data = {
            "challenge_phase": 1,
            "submission": pk,
            "submission_status": "FINISHED",
            **fields,
        }
        if result is not None:  # None: no `result` field at all, as a failure is reported
            data["result"] = json.dumps(result)
        return self("PUT", "/api/jobs/challenge/1/update_submission/", data=data)


@pytest.fixture
def host(evalai_double):
    return Api(evalai_double, f"Bearer {evalai_double.fixtures.host_token}")


@pytest.fixture
def participant(evalai_double):
    return Api(evalai_double, f"Bearer {evalai_double.fixtures.participant_token}")


@pytest.fixture
def anonymous(evalai_double):
    return Api(evalai_double, None)


def is_html(response: requests.Response) -> bool:
    return response.headers["Content-Type"].startswith("text/html")


# ---------------------------------------------------------------------- auth (§1.1, §10)
def test_missing_credentials_get_401_with_a_bearer_challenge(anonymous):
    response = anonymous.receive()
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_unknown_jwt_gets_the_token_not_valid_body(evalai_double):
    response = Api(evalai_double, "Bearer not-a-token").receive()
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert response.json()["messages"][0]["message"] == "Token is invalid or expired"


def test_token_keys_work_and_unknown_keys_are_invalid(evalai_double):
    key = evalai_double.fixtures.host_key
    assert Api(evalai_double, f"Token {key}").receive().status_code == 200
    response = Api(evalai_double, "Token 0123").receive()
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token"})


def test_a_revoked_token_stops_working_mid_test(evalai_double, host):
    assert host.receive().status_code == 200
    evalai_double.revoke_token(evalai_double.fixtures.host_token)
    assert host.receive().json()["code"] == "token_not_valid"


def test_non_hosts_get_401_on_the_queue_and_400_on_updates(evalai_double, participant):
    pk = evalai_double.create_submission()
    response = participant.receive()
    assert (response.status_code, response.json()) == (
        401,
        {"error": "Sorry, you are not authorized to access this resource"},
    )
    assert participant.delete("x").status_code == 401
    patch = participant(
        "PATCH",
        "/api/jobs/challenge/1/update_submission/",
        data={"submission": pk, "submission_status": "running"},
    )
    assert (patch.status_code, patch.json()) == (400, NOT_AUTHORIZED)
    put = participant.put_result(pk)
    assert (put.status_code, put.json()) == (400, NOT_AUTHORIZED)
    assert [c.response_status for c in evalai_double.updates(pk)] == [400, 400]
    queue_name = evalai_double.fixtures.queue_name
    queue = participant("GET", f"/api/challenges/challenge/queues/{queue_name}/")
    assert queue.json() == {"error": "Sorry, you are not authorized to access this challenge."}


# ---------------------------------------------------------------------- queue (W1, W2, §3)
def test_receive_hands_out_one_message_with_string_pks(evalai_double, host):
    first = evalai_double.create_submission()
    evalai_double.create_submission(team="beta")
    answer = host.receive().json()
    assert answer["body"] == {
        "challenge_pk": "1",
        "phase_pk": "1",
        "is_static_dataset_code_upload_submission": False,
        "submission_pk": first,
    }
    assert isinstance(answer["receipt_handle"], str)
    assert host.receive().json()["body"]["submission_pk"] == first + 1
    assert host.receive().json() == {"body": None, "receipt_handle": None}


def test_unknown_queues_get_the_exact_400s(host):
    receive = host("GET", "/api/jobs/challenge/queues/nope/")
    assert (receive.status_code, receive.json()) == (
        400,
        {"error": "Challenge with queue name nope does not exist"},
    )
    delete = host("POST", "/api/jobs/queues/nope/", data={"receipt_handle": "h"})
    assert (delete.status_code, delete.json()) == (
        400,
        {"error": "Challenge with queue name nope does not exists"},
    )


def test_visibility_timeout_redelivery_and_stale_handles(evalai_double, host):
    evalai_double.create_submission()
    old = host.receive().json()["receipt_handle"]
    evalai_double.advance(29.9)
    assert host.receive().json()["body"] is None
    evalai_double.advance(0.1)
    new = host.receive().json()["receipt_handle"]
    assert new != old
    stale = host.delete(old)
    queue = evalai_double.fixtures.queue_name
    assert (stale.status_code, stale.json()) == (
        200,
        {"success": f"Message deleted successfully from the queue: {queue}"},
    )
    assert len(evalai_double.queue_messages()) == 1  # a stale handle deletes nothing
    assert host.delete(new).status_code == 200
    assert host.delete(new).status_code == 200  # deleting again is fine too
    assert evalai_double.queue_messages() == []


def test_delete_errors_follow_the_server(host):
    invalid = host.delete("garbage")
    assert invalid.status_code == 500 and is_html(invalid)
    queue = host.double.fixtures.queue_name
    missing = host("POST", f"/api/jobs/queues/{queue}/", data={"other": "x"})
    assert missing.status_code == 500 and is_html(missing)
    empty = host("POST", f"/api/jobs/queues/{queue}/", json={"receipt_handle": ""})
    assert empty.json() == {"error": "Please add message receipt handle in the body"}


def test_messages_expire_after_the_retention_period(evalai_double, host):
    evalai_double.create_submission()
    evalai_double.advance(345600)
    assert host.receive().json()["body"] is None


def test_fifo_queues_hold_back_a_teams_later_messages(evalai_double):
    evalai_double.seed(fifo=True)
    host = Api(evalai_double, f"Bearer {evalai_double.fixtures.host_token}")
    first = evalai_double.create_submission(team="alpha")
    evalai_double.create_submission(team="alpha")
    other = evalai_double.create_submission(team="beta")
    assert host.receive().json()["body"]["submission_pk"] == first
    assert host.receive().json()["body"]["submission_pk"] == other


# ---------------------------------------------------------------------- reads (W3, W4, W5)
def test_submission_path_has_no_trailing_slash(evalai_double, host, participant, anonymous):
    pk = evalai_double.create_submission()
    body = host("GET", f"/api/jobs/submission/{pk}").json()
    assert {"id", "participant_team", "participant_team_name", "challenge_phase", "status",
            "input_file", "method_name", "is_public", "is_baseline", "submitted_at", "started_at",
            "completed_at", "execution_time"} <= body.keys()  # what §10 saw
    assert (body["id"], body["participant_team"], body["participant_team_name"]) == (pk, 1, "alpha")
    assert body["challenge_phase"] == 1 and body["started_at"] is None
    assert body["execution_time"] == "None" and body["status"] == "submitted"
    assert body["input_file"].startswith(evalai_double.url + "/media/submission_files/")
    assert "environment_log_file" in body
    assert "environment_log_file" not in participant("GET", f"/api/jobs/submission/{pk}").json()
    slashed = host("GET", f"/api/jobs/submission/{pk}/")
    assert slashed.status_code == 404 and is_html(slashed)
    assert host("GET", "/api/jobs/submission/99999").json() == {
        "error": "Submission 99999 does not exist"
    }
    other = Api(evalai_double, f"Bearer {evalai_double.fixtures.participant2_token}")
    assert other("GET", f"/api/jobs/submission/{pk}").status_code == 401


def test_media_is_served_without_auth(evalai_double, anonymous, host):
    pk = evalai_double.create_submission(file_bytes=b"raw bytes")
    url = host("GET", f"/api/jobs/submission/{pk}").json()["input_file"]
    assert requests.get(url, timeout=TIMEOUT).content == b"raw bytes"


def test_the_slash_less_phase_path_redirects_once(anonymous):
    hop = anonymous("GET", "/api/challenges/challenge/phase/1", allow_redirects=False)
    assert (hop.status_code, hop.headers["Location"]) == (301, "/api/challenges/challenge/phase/1/")
    followed = anonymous("GET", "/api/challenges/challenge/phase/1")
    assert followed.json()["codename"] == "dev" and len(followed.history) == 1
    missing = anonymous("GET", "/api/challenges/challenge/phase/9/")
    assert missing.json() == {"detail": "ChallengePhase 9 does not exist"}


def test_phase_detail_for_the_cli(anonymous, host):
    detail = anonymous("GET", "/api/challenges/challenge/1/challenge_phase/2").json()
    assert detail["codename"] == "final" and detail["submission_meta_attributes"] is None
    assert "test_annotation" in host("GET", "/api/challenges/challenge/1/challenge_phase/2").json()
    assert anonymous("GET", "/api/challenges/challenge/9/challenge_phase/2").status_code == 406


def test_unknown_routes_and_methods(host):
    unknown = host("GET", "/api/jobs/challenges/1/update_submission/")  # the old plural typo
    assert unknown.status_code == 404 and is_html(unknown)
    wrong = host("DELETE", "/api/jobs/challenge/1/update_submission/")
    assert wrong.json() == {"detail": 'Method "DELETE" not allowed.'}


# ---------------------------------------------------------------------- updates (W6, W7, §2.1)
def test_patch_running_accepts_form_and_json_and_records_strings(evalai_double, host):
    pk = evalai_double.create_submission()
    form = host(
        "PATCH",
        "/api/jobs/challenge/1/update_submission/",
        data={"submission": pk, "submission_status": "RUNNING", "job_name": "Worker-A"},
    )
    assert form.json()["status"] == "running" and form.json()["job_name"] == ["worker-a"]
    as_json = host(
        "PATCH",
        "/api/jobs/challenge/1/update_submission/",
        json={"submission": pk, "submission_status": "queued"},
    )
    assert as_json.json()["status"] == "queued"
    bad = host(
        "PATCH",
        "/api/jobs/challenge/1/update_submission/",
        data={"submission": pk, "submission_status": "finished"},
    )
    assert (bad.status_code, bad.json()) == (400, {"error": "Sorry, submission status is invalid"})
    calls = evalai_double.patches(pk)
    assert [c.body["submission"] for c in calls] == [str(pk), pk, str(pk)]
    unknown = host(
        "PATCH", "/api/jobs/challenge/1/update_submission/", data={"submission": 99999}
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Submission 99999 does not exist"}


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (
            [{"split": "test_split", "accuracies": {"bogus": 1}}],
            "Following metrics are missing in theleaderboard data: ['bogus']",
        ),
        (
            [{"split": "nope", "accuracies": {"mean_Q": 1}}],
            "Challenge Phase Split does not exist with phase_id: 1 andsplit codename: nope",
        ),
        (
            [{"split": "test_split", "accuracies": {"mean_Q": "0.5"}}],
            "Values for following metrics are not offloat/int: [('mean_Q', <class 'str'>)]",
        ),
        (
            [{"test_split": {"mean_Q": 0.5}}],  # the hosted-evaluation format
            "Challenge Phase Split does not exist with phase_id: 1 andsplit codename: None",
        ),
    ],
)
def test_bad_results_get_the_exact_400(evalai_double, host, result, error):
    pk = evalai_double.create_submission()
    response = host.put_result(pk, result)
    assert (response.status_code, response.json()) == (400, {"error": error})
    assert evalai_double.submission(pk).status == "submitted"


def test_result_must_be_a_json_string_even_in_a_json_body(evalai_double, host):
    pk = evalai_double.create_submission()
    body = {"challenge_phase": 1, "submission": pk, "submission_status": "finished"}
    body["result"] = RESULT  # a real list, not the JSON string EvalAI wants
    response = host("PUT", "/api/jobs/challenge/1/update_submission/", json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith("`result` key contains invalid data with error")
    assert host.put_result(pk).status_code == 200  # form-encoded JSON string: fine


def test_finished_stores_files_rows_and_keeps_one_row_per_split(evalai_double, host):
    pk = evalai_double.create_submission()
    answer = host.put_result(pk, stdout="out", stderr="err", metadata='{"k": 1}')
    assert answer.json() == {"success": "Submission result has been successfully updated"}
    second = [{"split": "test_split", "show_to_participant": True, "accuracies": {"mean_Q": 0.9}}]
    assert host.put_result(pk, second).status_code == 200  # no transition check
    state = evalai_double.submission(pk)
    assert state.leaderboard == {"test_split": {"mean_Q": 0.9}}
    assert (state.stdout, state.stderr, state.metadata) == ("", "", "")  # rewritten on every PUT
    assert [c.submission_status for c in evalai_double.puts(pk)] == ["finished", "finished"]
    body = host("GET", f"/api/jobs/submission/{pk}").json()
    assert requests.get(body["submission_result_file"], timeout=TIMEOUT).text == "[{'mean_Q': 0.9}]"
    assert body["execution_time"] == "None"  # never marked running, so no start time


def test_failed_needs_no_result_and_running_can_follow_finished(evalai_double, host):
    pk = evalai_double.create_submission()
    failed = host.put_result(pk, result=None, submission_status="FAILED", stderr="bad file")
    assert failed.json() == {"success": "Submission result has been successfully updated"}
    assert "result" not in evalai_double.puts(pk)[0].body
    assert evalai_double.submission(pk).status == "failed"
    assert evalai_double.submission(pk).stderr == "bad file"
    assert host.put_result(pk).status_code == 200
    rerunning = host(
        "PATCH",
        "/api/jobs/challenge/1/update_submission/",
        data={"submission": pk, "submission_status": "running"},
    )
    assert rerunning.json()["status"] == "running"  # the server enforces no transitions


def test_stdout_and_stderr_become_files_the_participant_can_open(evalai_double, host, participant):
    def opened(pk: int, name: str) -> str:
        url = participant("GET", f"/api/jobs/submission/{pk}").json()[name]
        return requests.get(url, timeout=TIMEOUT).text  # no credentials, like any media file

    scored = evalai_double.create_submission(team="alpha")  # the participant's own team
    assert host.put_result(scored, stdout="scored 3 tasks", stderr="a warning").status_code == 200
    assert (opened(scored, "stdout_file"), opened(scored, "stderr_file")) == (
        "scored 3 tasks",
        "a warning",
    )
    failed = evalai_double.create_submission(team="alpha")
    host.put_result(failed, result=None, submission_status="FAILED", stderr="no 'id' column")
    assert opened(failed, "stderr_file") == "no 'id' column"


def test_non_finite_values_cannot_be_stored(evalai_double, host):
    pk = evalai_double.create_submission()
    nan = [{"split": "test_split", "accuracies": {"mean_Q": float("nan")}}]
    response = host.put_result(pk, nan)
    assert response.status_code == 500 and is_html(response)


# ---------------------------------------------------------------------- leaderboard (§4)
def test_leaderboard_keeps_each_teams_best_finished_public_entry(evalai_double, host, anonymous):
    def finish(team: str, score: float, **kw: object) -> int:
        pk = evalai_double.create_submission(team=team, **kw)
        result = [{"split": "test_split", "accuracies": {"mean_Q": score}}]
        assert host.put_result(pk, result).status_code == 200
        return pk

    best = finish("alpha", 0.7)
    finish("alpha", 0.5)
    finish("beta", 0.6)
    finish("beta", 0.99, is_public=False)
    finish("hosts", 0.95)  # host team, not a baseline: hidden on a public phase
    baseline = finish("hosts", 0.4, is_baseline=True)
    failed = evalai_double.create_submission(team="beta")
    host.put_result(failed, result=None, submission_status="failed")

    page = anonymous("GET", "/api/jobs/challenge_phase_split/1/leaderboard/").json()
    rows = [(r["submission__participant_team__team_name"], r["result"]) for r in page["results"]]
    assert rows == [("alpha", [0.7]), ("beta", [0.6]), ("hosts", [0.4])]
    assert page["results"][0]["submission__id"] == best
    assert page["results"][2]["submission__id"] == baseline
    assert evalai_double.leaderboard("dev") == page["results"]


# ---------------------------------------------------------------------- My Submissions (§4)
def my_submission(pk: int, phase: int = 1) -> str:
    return f"/api/jobs/challenge/1/challenge_phase/{phase}/submission/{pk}"


def test_a_participant_hides_and_shows_own_submissions_only(evalai_double, participant, host):
    mine = evalai_double.create_submission(team="alpha")
    theirs = evalai_double.create_submission(team="beta")

    hidden = participant("PATCH", my_submission(mine), json={"is_public": False})

    assert hidden.status_code == 200 and hidden.json()["is_public"] is False
    assert evalai_double.submission(mine).is_public is False
    shown = participant("PATCH", my_submission(mine), data={"is_public": "true"})  # form body
    assert shown.status_code == 200 and evalai_double.submission(mine).is_public is True
    other = participant("PATCH", my_submission(theirs), json={"is_public": False})
    assert (other.status_code, other.json()) == (403, {"error": "Submission does not exist"})
    assert evalai_double.submission(theirs).is_public is True
    # Even a host finds only the host team's own submissions here.
    assert host("PATCH", my_submission(theirs), json={"is_public": False}).status_code == 403
    wrong_phase = participant("PATCH", my_submission(mine, phase=2), json={"is_public": False})
    assert wrong_phase.status_code == 403
    assert participant("PATCH", my_submission(mine) + "/", json={}).status_code == 404  # slash
    assert participant("GET", my_submission(mine)).status_code == 405
    assert len(evalai_double.queue_messages()) == 2  # the two uploads': no message for a toggle


def test_only_a_host_marks_a_baseline_on_the_hosts_own_submission(evalai_double, participant, host):
    mine = evalai_double.create_submission(team="alpha")
    refused = participant("PATCH", my_submission(mine), json={"is_baseline": True})
    assert refused.status_code == 400
    assert refused.json() == {"error": "Sorry, you are not authorized to make this request"}
    # A form's "false" is a non-empty string: EvalAI refuses it from a participant too.
    as_form = participant("PATCH", my_submission(mine), data={"is_baseline": "false"})
    assert as_form.status_code == 400
    assert evalai_double.submission(mine).is_baseline is False

    own = evalai_double.create_submission(team="hosts")
    marked = host("PATCH", my_submission(own), json={"is_baseline": True, "is_public": True})

    assert marked.status_code == 200 and marked.json()["is_baseline"] is True
    assert evalai_double.submission(own).is_baseline is True
    bad = host("PATCH", my_submission(own), json={"is_baseline": "maybe"})
    assert (bad.status_code, bad.json()) == (400, {"is_baseline": ["Must be a valid boolean."]})


def test_one_public_submission_per_team_when_the_phase_says_so(evalai_double, participant):
    evalai_double.state.phases[1].is_restricted_to_select_one_submission = True
    first = evalai_double.create_submission(team="alpha")
    second = evalai_double.create_submission(team="alpha", is_public=False)

    assert participant("PATCH", my_submission(second), json={"is_public": True}).status_code == 200

    assert evalai_double.submission(second).is_public is True
    assert evalai_double.submission(first).is_public is False


def test_a_renamed_team_shows_its_new_name(evalai_double, host):
    pk = evalai_double.create_submission(team="beta")
    evalai_double.rename_team("beta", "Baseline mean embeddings")
    assert host("GET", f"/api/jobs/submission/{pk}").json()["participant_team_name"] == (
        "Baseline mean embeddings"
    )
    assert evalai_double.fixtures.teams["Baseline mean embeddings"] == 2
    with pytest.raises(ValueError, match="already exists"):
        evalai_double.rename_team("alpha", "hosts")  # names are unique on EvalAI


# ---------------------------------------------------------------------- faults
def test_injected_faults_answer_in_order_then_stop(evalai_double, host):
    evalai_double.inject("status", 2, status=503)
    evalai_double.inject("rate_limit", retry_after=9)
    evalai_double.inject("status", status=400, body={"error": "nope"})
    first, second = host.receive(), host.receive()
    assert (first.status_code, second.status_code) == (503, 503) and is_html(first)
    throttled = host.receive()
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "9")
    assert throttled.json() == {"detail": "Request was throttled. Expected available in 9 seconds."}
    assert host.receive().json() == {"error": "nope"}
    assert host.receive().status_code == 200
    faults = [r.fault for r in evalai_double.requests()]
    assert faults == ["status", "status", "rate_limit", "status", None]


def test_a_dropped_connection_surfaces_as_a_connection_error(evalai_double, host):
    evalai_double.inject("drop")
    with pytest.raises(requests.ConnectionError):
        host.receive()


def test_slow_faults_outlast_a_short_read_timeout(evalai_double, host):
    evalai_double.inject("slow", delay=2.0)
    with pytest.raises(requests.ReadTimeout):
        host("GET", "/api/challenges/challenge/phase/1/", timeout=(2.0, 0.2))


def test_random_5xx_are_reproducible_from_the_seed():
    def statuses(seed: int) -> list[int]:
        with EvalAIDouble() as double:
            double.inject_random_5xx(0.5, seed=seed)
            api = Api(double, None)
            return [api("GET", "/api/challenges/challenge/phase/1/").status_code for _ in range(12)]

    first = statuses(3)
    assert first == statuses(3)
    assert 200 in first and any(s >= 500 for s in first)


def test_the_per_user_rate_limit_counts_on_the_fake_clock(evalai_double, host, participant):
    evalai_double.set_rate_limit(60)
    assert {host.receive().status_code for _ in range(60)} == {200}
    throttled = host.receive()
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "60")
    assert participant("GET", "/api/jobs/submission/1").status_code != 429  # per user
    evalai_double.advance(60)
    assert host.receive().status_code == 200


# ---------------------------------------------------------------------- control endpoints, §3
def test_control_endpoints_drive_the_double_over_http(evalai_double, anonymous):
    fixtures = anonymous("POST", "/__test__/seed", json={"phases": ["dev"], "labels": ["a", "b"]})
    assert fixtures.json()["phases"] == {"dev": 1} and fixtures.json()["labels"] == ["a", "b"]
    created = anonymous(
        "POST", "/__test__/submissions", json={"team": "beta", "phase": "dev", "file_text": "x,y"}
    )
    pk = created.json()["pk"]
    assert anonymous("POST", "/__test__/faults", json={"kind": "status", "status": 503}).ok
    assert anonymous("DELETE", "/__test__/faults").ok
    assert anonymous("POST", "/__test__/clock/advance", json={"seconds": 5}).json()["now"] > 0
    [message] = anonymous("GET", "/__test__/queue").json()
    assert message["body"]["submission_pk"] == pk and message["in_flight"] is False
    view = anonymous("GET", f"/__test__/submissions/{pk}").json()
    assert view["status"] == "submitted" and view["calls"] == []
    assert anonymous("POST", f"/__test__/submissions/{pk}/cancel").ok
    assert evalai_double.submission(pk).status == "cancelled"
    token = evalai_double.fixtures.participant_token
    assert anonymous("POST", "/__test__/tokens/revoke", json={"token": token}).ok
    assert Api(evalai_double, f"Bearer {token}").receive().status_code == 401


def test_rerun_and_resume_publish_like_the_real_views(evalai_double, host):
    pk = evalai_double.create_submission(message=None)
    new = evalai_double.rerun(pk)
    assert new != pk and evalai_double.submission(pk).status == "cancelled"
    assert host.receive().json()["body"] == {
        "challenge_pk": 1,
        "phase_pk": 1,
        "submission_pk": new,
        "is_static_dataset_code_upload_submission": False,
    }
    with pytest.raises(Exception, match="resumed"):
        evalai_double.resume(new)  # only failed submissions resume
    host.put_result(new, result=None, submission_status="failed")
    evalai_double.resume(new)
    assert evalai_double.submission(new).status == "resuming"


# -- §11 host listing (reconciling lost hand-offs) ------------------------------------------------


def test_count_by_status_lists_only_statuses_that_occur(
    evalai_double, host, participant, anonymous
):
    pks = [evalai_double.create_submission() for _ in range(4)]
    host.put_result(pks[0], result=None, submission_status="FAILED", stderr="bad")
    host.put_result(pks[1])
    host.put_result(pks[2], result=None, submission_status="FAILED", stderr="bad")
    phase = evalai_double.fixtures.phases["dev"]
    path = f"/api/jobs/phases/{phase}/submission_count_by_status/"

    answer = host("GET", path)

    assert answer.status_code == 200
    assert sorted(answer.json()["status"], key=lambda row: row["status"]) == [
        {"status": "failed", "count": 2},
        {"status": "finished", "count": 1},
        {"status": "submitted", "count": 1},
    ]  # no zero rows for running, cancelled, ...; the order is not promised
    assert participant("GET", path).status_code == 401
    assert anonymous("GET", path).status_code == 401


def test_the_host_list_is_paginated_newest_first_with_names(evalai_double, host, participant):
    pks = [evalai_double.create_submission(team=team) for team in ("alpha", "beta", "alpha")]
    fixtures = evalai_double.fixtures
    phase = fixtures.phases["dev"]
    path = f"/api/challenges/{fixtures.challenge_pk}/challenge_phase/{phase}/submissions"

    first = host("GET", path, params={"page_size": 2}).json()

    assert (first["count"], first["previous"]) == (3, None)
    assert [row["id"] for row in first["results"]] == [pks[2], pks[1]]
    row = first["results"][0]
    assert (row["participant_team"], row["status"], row["submission_number"]) == ("alpha",
                                                                                  "submitted", 2)
    phase_name = host("GET", f"/api/challenges/challenge/phase/{phase}/").json()["name"]
    assert row["challenge_phase"] == phase_name != "dev"  # the phase's name, not its codename
    assert row["created_by"] == "participant"  # the user name
    assert row["execution_time"] == "None"
    assert {"submitted_at", "is_public", "is_flagged", "input_file", "stdout_file", "stderr_file",
            "rerun_resumed_at"} <= row.keys()
    second = requests.get(first["next"], headers=host.headers, timeout=TIMEOUT).json()
    assert [row["id"] for row in second["results"]] == [pks[0]]
    assert second["next"] is None and second["previous"] is not None
    filtered = host("GET", path, params={"participant_team__team_name": "BET"}).json()
    assert [row["id"] for row in filtered["results"]] == [pks[1]]
    unfiltered = host("GET", path, params={"status": "finished"}).json()  # no status filter
    assert [row["id"] for row in unfiltered["results"]] == pks[::-1]
    assert participant("GET", path).status_code == 401
    assert host("GET", path + "/").status_code == 404  # no trailing slash on this path


def test_the_host_phase_list_names_each_codename(evalai_double, host, participant):
    path = f"/api/challenges/{evalai_double.fixtures.challenge_pk}/phases/"
    phases = host("GET", path).json()
    assert {p["codename"]: p["id"] for p in phases} == evalai_double.fixtures.phases
    assert participant("GET", path).status_code == 401


def test_a_lost_message_leaves_the_submission_submitted(evalai_double, host):
    pk = evalai_double.create_submission()
    assert evalai_double.lose_message(pk) == 1
    assert host.receive().json() == {"body": None, "receipt_handle": None}
    assert evalai_double.submission(pk).status == "submitted"
