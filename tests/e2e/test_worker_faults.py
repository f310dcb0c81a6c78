"""EvalAI misbehaving, seen through the worker's command line (`python -m worker once|run|
rescore|healthcheck` in a subprocess): a revoked token, 5xx and 429 answers, and a result EvalAI
rejects with 400 because the challenge YAML names the wrong metric.

I/O: a loopback HTTP server per test, worker subprocesses, files under pytest's tmp_path. Every
wait has a deadline; every subprocess is killed in `finally` at the latest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.doubles.alert_receivers import WebhookReceiver
from tests.e2e.worker_harness import (
    ChallengeFiles,
    Site,
    error_lines,
    final_puts,
    posted_mean_q,
    wait_for,
    write_synthetic_challenge,
)
from worker.pipeline import INTERNAL_FAILURE_MESSAGE


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=7,
                                     teams=("strong",))



def test_once_with_a_revoked_token_exits_3_with_one_line_about_the_token(site: Site):
    pk = site.submit("strong")
    token = site.double.fixtures.host_token
    site.double.revoke_token(token)  # the host regenerated it on the profile page
    config = site.write_config()

    done = site.worker("once", config=config)

    assert done.returncode == 3, done.describe()
    (line,) = error_lines(done.stderr)
    assert "polling stopped: EvalAI rejected the token (401 token_not_valid)" in line
    assert "AUTH_TOKEN" in line
    # INFO lines (the database created at start) aside, stderr says exactly this:
    notice, error, recorded = [x for x in done.stderr.strip().splitlines() if " INFO " not in x]
    assert "WARNING" in notice and "ALERT_URLS is not set" in notice  # said at every start
    assert error == line
    assert "alert token-rejected: EvalAI rejects the host token" in recorded  # for `status`
    assert token not in done.stdout + done.stderr
    assert site.double.updates(pk) == []
    assert [(r.method, r.status) for r in site.double.requests()] == [("GET", 401)]


def test_run_with_a_revoked_token_stops_polling_but_keeps_its_heartbeat(site: Site):
    token = site.double.fixtures.host_token
    site.double.revoke_token(token)
    config = site.write_config(poll_interval_seconds=0.2)
    heartbeat = site.data_dir / "heartbeat"

    worker = site.start("run", config=config)
    wait_for(lambda: error_lines(worker.stderr()), "the token error")
    beats = [heartbeat.stat().st_mtime_ns]
    # Fifteen more 0.2 s ticks, judged by the heartbeat. The idle main loop and the polling
    # job both beat; the shared temporary file they once used crashed the worker here.
    for _ in range(15):
        beats.append(wait_for(
            lambda: heartbeat.stat().st_mtime_ns > beats[-1] and heartbeat.stat().st_mtime_ns,
            "a fresh heartbeat", timeout=30))

    assert worker.alive(), worker.stderr()
    assert [(r.method, r.status) for r in site.double.requests()] == [("GET", 401)]
    health = site.worker("healthcheck", "--max-age", "30", config=config)
    assert health.returncode == 0, health.describe()
    assert health.stdout.startswith("healthy: heartbeat ")
    assert worker.stop() == 3
    (line,) = error_lines(worker.stderr())
    assert "EvalAI rejected the token" in line
    assert token not in worker.stderr() + worker.stdout()


def test_5xx_and_429_answers_are_retried_and_the_result_posted_once(site: Site):
    pk = site.submit("strong")
    double = site.double
    double.inject("status", 1, status=503, method="GET", path="/api/jobs/challenge/queues/")
    double.inject("rate_limit", 1, retry_after=1, method="GET", path="/api/jobs/submission/")
    double.inject("status", 1, status=502, method="PATCH")
    double.inject("status", 1, status=503, method="PUT")
    double.inject("rate_limit", 1, retry_after=1, method="PUT")
    config = site.write_config()

    done = site.worker("once", config=config)

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 1 submission message(s)\n"
    faulted = [(r.method, r.path.split("/")[3], r.status) for r in double.requests() if r.fault]
    assert faulted == [("GET", "challenge", 503), ("GET", "submission", 429),
                       ("PATCH", "challenge", 502), ("PUT", "challenge", 503),
                       ("PUT", "challenge", 429)]
    assert "retry 1 of 2 in 1.0 s" in done.stderr  # the 429's Retry-After, honoured
    (put,) = final_puts(double, pk)
    assert put.submission_status == "finished"
    assert len(double.puts(pk)) == 1  # the faulted PUTs never reached EvalAI's view
    assert double.submission(pk).status == "finished"
    assert site.queue_empty_after_visibility_timeout()


@pytest.fixture
def alert_hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        yield hook


def test_a_rejected_result_fails_the_submission_once_and_rescore_posts_it(
        site: Site, alert_hook: WebhookReceiver):
    pk = site.submit("strong")
    submissions_before = len(site.double.state.submissions)
    wrong = site.write_config("wrong-metric.yaml", metric="meanQ")  # EvalAI's label: mean_Q
    alerting = {"ALERT_URLS": alert_hook.url}  # the organisers' channel (Apprise json://)

    done = site.worker("once", config=wrong, extra=alerting)

    assert done.returncode == 0, done.describe()
    calls = [(c.method, c.submission_status, c.response_status) for c in site.double.updates(pk)]
    assert calls == [("PATCH", "running", 200), ("PUT", "finished", 400), ("PUT", "failed", 200)]
    rejected = site.double.puts(pk)[0]
    assert json.loads(rejected.body["result"])[0]["accuracies"].keys() == {"meanQ"}
    (alert,) = error_lines(done.stderr)
    assert f"submission {pk}: evalai rejected the result (400)" in alert
    assert "Following metrics are missing in theleaderboard data: ['meanQ']" in alert
    (failed,) = final_puts(site.double, pk)
    assert failed.body["stderr"] == INTERNAL_FAILURE_MESSAGE
    assert "organisers have been alerted" in failed.body["stderr"]
    assert site.double.submission(pk).status == "failed"
    assert site.queue_empty_after_visibility_timeout()
    (alerted,) = alert_hook.received  # and they were: once, without the token or a task name
    assert alerted["title"] == \
        f"[NeuCo worker] submission {pk} (phase final) failed for an internal reason"
    assert f"rescore --submission {pk}" in alerted["message"]
    assert site.double.fixtures.host_token not in json.dumps(alerted)

    fixed = site.write_config()  # the organiser corrects the metric label
    rescore = site.worker("rescore", "--submission", str(pk), config=fixed, extra=alerting)
    assert [m["title"] for m in alert_hook.received][1:] == [
        f"[NeuCo worker] resolved: submission {pk} has been scored"]

    assert rescore.returncode == 0, rescore.describe()
    assert rescore.stdout.splitlines()[-1] == "rescored 1 of 1 submission(s)"
    assert rescore.stdout.startswith(f"submission {pk}: finished, mean Q ")
    statuses = [(c.submission_status, c.response_status) for c in site.double.puts(pk)]
    assert statuses == [("finished", 400), ("failed", 200), ("finished", 200)]
    posted = posted_mean_q(site.double.puts(pk)[-1])
    assert site.double.submission(pk).status == "finished"
    assert site.double.submission(pk).leaderboard == {"test_split": {"mean_Q": posted}}
    assert len(site.double.state.submissions) == submissions_before  # quota untouched
    with site.store() as store:
        stored = store.get("evalai", pk)
        assert (stored.status, stored.reported, round(stored.mean_q, 6)) == \
            ("finished", True, posted)
        assert len(store.evaluation_ids("evalai", pk)) == 2  # the rejected one is history


def test_a_message_for_a_submission_evalai_does_not_know_does_not_block_the_queue(site: Site):
    """Regression: a 404 on the submission used to crash the tick (traceback, exit 1), so every
    message behind it waited and `run` hit the same wall every time the message came back."""
    fixtures = site.double.fixtures
    site.double.enqueue({"submission_pk": 999, "phase_pk": str(fixtures.phases["final"]),
                         "challenge_pk": str(fixtures.challenge_pk)})
    pk = site.submit("strong")
    config = site.write_config()

    done = site.worker("once", config=config)

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 2 submission message(s)\n"
    (alert,) = error_lines(done.stderr)
    assert "submission 999: fetch submission 999: Submission 999 does not exist" in alert
    assert "message left queued" in alert
    (put,) = final_puts(site.double, pk)
    assert put.submission_status == "finished"
    site.double.advance(31)
    assert [m.body["submission_pk"] for m in site.double.queue_messages()] == [999]


def test_evalai_down_during_download_leaves_the_submission_queued_without_using_attempts(
    site: Site,
):
    pk = site.submit("strong")
    config = site.write_config(max_attempts=1)  # no client retries: the outage outlasts them
    site.double.inject("status", 50, status=503, method="GET", path="/media/")
    for _ in range(4):  # more ticks than max_internal_attempts (3)
        done = site.worker("once", config=config)
        assert done.returncode == 0, done.describe()
    with site.store() as store:
        row = store.get("evalai", pk)
        assert (row.status, row.attempts) == ("received", 0)
        assert any("transient error, retried later" in e.detail for e in store.events("evalai", pk))
    assert final_puts(site.double, pk) == []

    site.double.clear_faults()
    site.double.advance(31)  # the undeleted message becomes visible again
    done = site.worker("once", config=config)
    assert done.returncode == 0, done.describe()
    assert [p.submission_status for p in final_puts(site.double, pk)] == ["finished"]
