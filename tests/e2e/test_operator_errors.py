"""Operator slips through the real command line (`python -m worker ...` in subprocesses, against
the EvalAI double over real HTTP): a token with a character an HTTP header cannot carry and a
5,000-level YAML are start-up errors (exit 2, one line, no traceback, not a request sent); a
phase whose label file is broken waits while the other phase is scored, and is scored once the
file is fixed, with nothing failed and no attempt spent in between.

I/O: a loopback HTTP server per test, worker subprocesses, files under pytest's tmp_path. Every
wait has a deadline; every subprocess is killed in `finally` at the latest.
"""

from __future__ import annotations

import pytest

from tests.e2e.worker_harness import (
    ChallengeFiles,
    Site,
    final_puts,
    wait_for,
    write_synthetic_challenge,
)

BROKEN_ROW = "broken-row-id,not-a-number\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=7,
                                     teams=("strong",))



def test_a_token_an_http_header_cannot_carry_is_a_start_up_error(site: Site):
    pk = site.submit("strong")
    real = site.double.fixtures.host_token
    pasted = real[:6] + "\u2019" + real[7:]  # a curly quote from a word processor
    config = site.write_config()

    for command in ("once", "doctor"):
        done = site.worker(command, config=config, token=pasted)
        assert done.returncode == 2, done.describe()
        assert done.stderr.splitlines() == [
            f"error: {config}: AUTH_TOKEN has a non-ASCII character at character 7 of "
            f"{len(pasted)}, which cannot be sent in an HTTP header: copy the host token again "
            "from your EvalAI profile page into the env file"]
        assert done.stdout == ""
        assert real[:6] not in done.stderr and real[7:] not in done.stderr
    assert site.double.requests() == []  # refused before a single request
    assert site.double.updates(pk) == []


def test_a_5000_level_yaml_is_a_start_up_error_not_a_traceback(site: Site):
    config = site.root / "deep.yaml"
    config.write_text("phases: " + "[" * 5000 + "]" * 5000 + "\n")

    for command in ("run", "once", "doctor", "status"):
        done = site.worker(command, config=config, timeout=60)
        assert done.returncode == 2, done.describe()
        assert done.stderr.splitlines() == [
            f"error: {config}: nested more than 64 levels deep at line 1; a challenge config "
            "needs about 5 (is this the right file?)"]
    assert site.double.requests() == []


def test_a_broken_label_file_makes_its_phase_wait_until_it_is_fixed(site: Site):
    bad = sorted(site.challenge.annotations["dev"].glob("*.csv"))[0]
    original = bad.read_text()
    bad.write_text(original + BROKEN_ROW)
    broken_line = len(original.splitlines()) + 1
    waiting = site.submit("strong", team="alpha", phase="dev")
    scored = site.submit("strong", team="beta", phase="final")
    config = site.write_config(poll_interval_seconds=0.2)
    try:
        worker = site.start("run", config=config)
        wait_for(lambda: final_puts(site.double, scored, "finished"), "the final phase scored")
        # Several more ticks: dev's message comes back after the visibility timeout each time.
        queue = site.double.state.queues[site.double.fixtures.challenge_pk]
        for _ in range(3):
            seen = len(site.double.requests())
            site.double.advance(queue.visibility_timeout + 1)
            wait_for(lambda seen=seen: len(site.double.requests()) > seen + 2, "another poll")
        assert worker.alive(), worker.stderr()
        assert site.double.updates(waiting) == []  # not "running", not "failed": untouched
        with site.store() as store:
            stored = store.get("evalai", waiting)
            assert (stored.status, stored.attempts) == ("received", 0)

        doctor = site.worker("doctor", config=config)
        assert doctor.returncode == 1, doctor.describe()
        assert (f"PROBLEM: phase dev is not ready (its submissions wait): {bad.name}: line "
                f"{broken_line}: label 'not-a-number' is not a number") in doctor.stdout
        status = site.worker("status", config=config)
        assert ("not ready: phase dev: its labels cannot be used, 1 submission(s) wait "
                "(`python -m worker doctor` says why)") in status.stdout.splitlines()
        (error,) = [line for line in worker.stderr().splitlines() if " ERROR " in line]
        assert f"phase dev is not ready: {bad.name}: line {broken_line}: " in error  # once

        bad.write_text(original)  # the organiser fixes the file; no restart
        site.double.advance(queue.visibility_timeout + 1)
        wait_for(lambda: final_puts(site.double, waiting, "finished"), "the dev phase scored")
        with site.store() as store:
            stored = store.get("evalai", waiting)
            assert (stored.status, stored.attempts) == ("finished", 1)
        assert "phase dev is ready again" in worker.stderr()
        assert worker.stop() == 0
    finally:
        bad.write_text(original)  # the challenge files are shared by the module's tests
