"""Reconcile, end to end through the real CLI against the EvalAI double over real HTTP: a
submission whose queue message was lost is scored after one sweep and posted once; one that
EvalAI shows "running" with no live claim here is re-scored once; a cancelled one is left
alone; two workers sweeping together on one PostgreSQL score it once.

The double's clock starts an hour behind the workers' clocks, so every submission is older
than `stuck_after_minutes` without any test waiting for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doubles.evalai import FakeClock
from tests.e2e.worker_harness import (
    ChallengeFiles,
    Site,
    final_puts,
    running_site,
    write_synthetic_challenge,
)
from tests.integration.databases import (  # noqa: F401 - fixtures
    drop_postgres_schema,
    fresh_postgres_schema,
    postgres_url,
)
from worker.evalai import EvalAIClient, EvalAIConnection

HOUR = 3600.0


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=11,
                                     teams=("strong",))


@pytest.fixture
def site(tiny: ChallengeFiles, tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path, tiny, clock=FakeClock(time.time() - HOUR)) as site:
        site.write_config()
        yield site


def host_client(site: Site) -> EvalAIClient:
    fixtures = site.double.fixtures
    return EvalAIClient(EvalAIConnection(site.double.url, fixtures.host_token,
                                         fixtures.queue_name, fixtures.challenge_pk))


def finished_once(site: Site, pk: int) -> None:
    assert len(final_puts(site.double, pk, "finished")) == 1
    assert len(final_puts(site.double, pk)) == 1
    assert site.double.submission(pk).status == "finished"


def test_a_lost_hand_off_is_scored_after_one_sweep_and_posted_once(site: Site) -> None:
    pk = site.submit("strong")
    assert site.double.lose_message(pk) == 1  # received and deleted elsewhere

    done = site.worker("once")

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 0 submission message(s)\n"  # the queue had nothing
    assert f"1 submission(s) stuck on EvalAI without a live claim here ({pk})" in done.stderr
    finished_once(site, pk)
    again = site.worker("reconcile")  # a later sweep finds nothing left to do
    assert again.returncode == 0, again.describe()
    assert again.stdout.splitlines()[-1].startswith("reconcile: 0 stuck submission(s) found")
    finished_once(site, pk)


def test_running_on_evalai_with_no_live_claim_is_rescored_once(site: Site) -> None:
    pk = site.submit("strong")
    with host_client(site) as other:  # another worker took it, marked it running, then died
        message = other.receive_message()
        assert message is not None and message.submission_pk == pk
        other.mark_running(pk)
        other.delete_message(message.receipt_handle)
    assert site.double.submission(pk).status == "running"

    done = site.worker("reconcile")

    assert done.returncode == 0, done.describe()
    assert f"stuck: submission {pk} (final) -> finished" in done.stdout
    finished_once(site, pk)


def test_a_cancelled_submission_is_left_alone(site: Site) -> None:
    pk = site.submit("strong")
    site.double.lose_message(pk)
    site.double.cancel(pk)

    done = site.worker("reconcile")

    assert done.returncode == 0, done.describe()
    assert "reconcile: 0 stuck submission(s) found" in done.stdout
    assert site.double.updates(pk) == []
    assert site.double.submission(pk).status == "cancelled"


@pytest.mark.postgres
def test_two_workers_sweeping_one_postgresql_score_it_once(
        site: Site, postgres_url: str) -> None:  # noqa: F811
    schema, url = fresh_postgres_schema(postgres_url, "reconcile_test")
    try:
        pks = [site.submit("strong") for _ in range(2)]
        for pk in pks:
            site.double.lose_message(pk)
        sweeps = [site.start("reconcile", data_dir=site.root / f"var-{n}",
                             extra={"DATABASE_URL": url}) for n in range(2)]
        assert [sweep.wait() for sweep in sweeps] == [0, 0], [s.stderr() for s in sweeps]
        for pk in pks:
            finished_once(site, pk)
        scored = sum(s.stdout().count("-> finished") for s in sweeps)
        assert scored >= len(pks)  # each sweep reports what it saw; the claims decided who scored
    finally:
        drop_postgres_schema(postgres_url, schema)
