"""Exactly once across crashes and redeliveries: the worker (`python -m worker once` in a
subprocess) SIGKILLed mid-scoring, a duplicated and a redelivered queue message, and a result
recorded but not posted because EvalAI kept failing the PUT.

The double's clock is manual: "the visibility timeout passes" is `advance(31)`, which makes an
in-flight message visible again with a new receipt handle, as SQS does after 30 s.

I/O: a loopback HTTP server per test, worker subprocesses, files under pytest's tmp_path. Every
wait has a deadline; every subprocess is killed in `finally` at the latest.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.worker_harness import (
    SLOW_PROBE,
    ChallengeFiles,
    Site,
    final_puts,
    running_site,
    wait_for,
    write_synthetic_challenge,
)
from worker.store import SqlScoreStore

VISIBILITY = 31.0  # the double's queue hands a message out again after 30 s


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("demo"), "demo", seed=11,
                                     teams=("strong",), phases=("final",))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=7,
                                     teams=("strong",))


@pytest.fixture
def slow_site(demo: ChallengeFiles, tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path, demo) as site:
        site.probe = dict(SLOW_PROBE)
        yield site



def downloaded(site: Site) -> bool:
    return any(r.path.startswith("/media/submission_files/") and r.status == 200
               for r in site.double.requests(method="GET"))


def test_a_worker_killed_mid_scoring_is_restarted_and_posts_once(slow_site: Site):
    site = slow_site
    pk = site.submit("strong")
    config = site.write_config()
    first = site.start("once", config=config)
    wait_for(lambda: site.double.patches(pk), "the PATCH running", timeout=60)
    wait_for(lambda: downloaded(site), "the submission download", timeout=60)
    first.kill(signal.SIGSTOP)  # freeze it where it is: parsing the file or training probes
    with site.store() as store:
        frozen = store.get("evalai", pk)
        assert (frozen.status, frozen.reported) == ("running", False), \
            "the scoring ended before the worker could be stopped; use a slower probe"
        assert store.evaluation_ids("evalai", pk) == []

    first.kill(signal.SIGKILL)  # no cleanup, no goodbye
    assert first.wait(timeout=10) == -signal.SIGKILL
    assert site.double.puts(pk) == []

    site.double.advance(VISIBILITY)  # the unacknowledged message comes back
    second = site.worker("once", config=config)

    assert second.returncode == 0, second.describe()
    assert f"submission {pk}: restarting the scoring a previous run left unfinished" \
        in second.stderr
    (put,) = final_puts(site.double, pk)
    assert put.submission_status == "finished"
    assert len(site.double.puts(pk)) == 1
    assert len(site.double.patches(pk)) == 1  # EvalAI already said running: no second PATCH
    with site.store() as store:
        stored = store.get("evalai", pk)
        assert (stored.status, stored.reported) == ("finished", True)
        assert len(store.evaluation_ids("evalai", pk)) == 1
        details = [e.detail for e in store.events("evalai", pk)]
    assert any(d.startswith("abandoned by ") and d.endswith("(worker restarted)")
               for d in details), details
    assert sum(d.startswith("claimed by ") for d in details) == 2
    assert site.queue_empty_after_visibility_timeout()


def test_duplicate_and_redelivered_messages_are_scored_once(slow_site: Site, tmp_path: Path):
    """Two messages for one submission; while worker A scores it, the first is redelivered to
    worker B (another data folder, same database). B leaves both alone; A's delete uses a
    receipt handle B has superseded, so both messages come back and are deleted on sight."""
    site = slow_site
    pk = site.submit("strong")
    (message,) = site.double.queue_messages()
    site.double.enqueue(message.body)  # the duplicate
    config = site.write_config()
    shared = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}"}
    data_a, data_b = tmp_path / "var-a", tmp_path / "var-b"

    worker_a = site.start("once", config=config, data_dir=data_a, extra=shared)
    wait_for(lambda: site.double.patches(pk), "worker A's PATCH running", timeout=60)
    worker_a.kill(signal.SIGSTOP)  # hold A mid-scoring, however fast this machine is
    site.double.advance(VISIBILITY)  # A's message is handed out again
    worker_b = site.worker("once", config=config, data_dir=data_b, extra=shared)

    assert worker_b.returncode == 0, worker_b.describe()
    assert worker_b.stdout == "handled 2 submission message(s)\n"
    assert worker_b.stderr.count(
        f"submission {pk}: being scored by another worker; message left queued") == 2
    assert site.double.puts(pk) == []
    worker_a.kill(signal.SIGCONT)
    assert worker_a.wait(timeout=120) == 0, worker_a.stderr()
    assert worker_a.stdout() == "handled 1 submission message(s)\n"
    (put,) = final_puts(site.double, pk)
    assert put.submission_status == "finished"
    assert len(site.double.queue_messages()) == 2  # A's receipt handle was stale

    site.double.advance(VISIBILITY)
    sweep = site.worker("once", config=config, data_dir=data_b, extra=shared)

    assert sweep.returncode == 0, sweep.describe()
    assert sweep.stdout == "handled 2 submission message(s)\n"
    assert site.double.queue_messages() == []
    assert len(site.double.puts(pk)) == 1
    assert len(site.double.patches(pk)) == 1
    store = SqlScoreStore(shared["DATABASE_URL"])
    try:
        assert len(store.evaluation_ids("evalai", pk)) == 1
        assert store.get("evalai", pk).reported
    finally:
        store.close()


def test_a_result_recorded_but_not_posted_is_posted_once_on_the_next_run(site: Site):
    """EvalAI answers 503 to every PUT until the client gives up: the run records the result
    and leaves the message queued; the next run (after the message comes back) posts it."""
    pk = site.submit("strong")
    config = site.write_config(max_attempts=2)
    site.double.inject("status", 1000, status=503, method="PUT",
                       path="/api/jobs/challenge/1/update_submission/")

    first = site.worker("once", config=config)

    assert first.returncode == 0, first.describe()
    assert "EvalAI is unreachable or overloaded, will retry next tick" in first.stderr
    assert [r.status for r in site.double.requests(method="PUT")] == [503, 503]
    assert site.double.puts(pk) == []  # none reached EvalAI's view
    with site.store() as store:
        stored = store.get("evalai", pk)
        assert (stored.status, stored.reported) == ("finished", False)
        recorded_q = stored.mean_q
    assert len(site.double.queue_messages()) == 1  # not acknowledged

    site.double.clear_faults()
    site.double.advance(VISIBILITY)
    second = site.worker("once", config=config)

    assert second.returncode == 0, second.describe()
    (put,) = final_puts(site.double, pk)
    assert put.submission_status == "finished"
    assert f"mean_Q\": {round(recorded_q, 6)}" in put.body["result"]
    assert site.double.queue_messages() == []

    site.double.advance(VISIBILITY)
    third = site.worker("once", config=config)
    assert third.stdout == "handled 0 submission message(s)\n"
    assert len(site.double.puts(pk)) == 1
    with site.store() as store:
        assert store.get("evalai", pk).reported
        assert len(store.evaluation_ids("evalai", pk)) == 1


def test_a_worker_restarted_during_a_rescore_leaves_the_rescore_alone(slow_site: Site):
    """A rescore takes no lock. A worker (re)started meanwhile on the same data folder must
    not take the rescore's live claim for an orphan of its own dead predecessor."""
    site = slow_site
    pk = site.submit("strong")
    config = site.write_config()
    assert site.worker("once", config=config).returncode == 0
    assert len(final_puts(site.double, pk, "finished")) == 1

    rescore = site.start("rescore", "--submission", str(pk), config=config)
    with site.store() as store:
        wait_for(lambda: store.get("evalai", pk).status == "running", "the rescore's claim",
                 timeout=60)
        rescore.kill(signal.SIGSTOP)  # hold the rescore mid-scoring
        restarted = site.worker("once", config=config)
        assert restarted.returncode == 0, restarted.describe()
        held = store.get("evalai", pk)
        assert (held.status, held.lease_owner.split(":")[-3]) == ("running", "rescore")
    rescore.kill(signal.SIGCONT)

    assert rescore.wait(timeout=120) == 0, rescore.stderr()
    assert rescore.stdout().startswith(f"submission {pk}: finished, mean Q ")
    assert [c.submission_status for c in final_puts(site.double, pk)] == ["finished", "finished"]
    with site.store() as store:
        assert store.get("evalai", pk).reported
        assert len(store.evaluation_ids("evalai", pk)) == 2
        details = [e.detail for e in store.events("evalai", pk)]
    assert not any(d.startswith("abandoned by ") for d in details), details
