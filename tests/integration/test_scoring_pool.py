"""The scoring pool with real processes: the same numbers as one process, failures that stay
with their job, limits, and the shared matrix files. Processes are found and killed the way an
operator (or the kernel) would: by pid, from /proc."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

from scoring.config import ProbeConfig
from scoring.engine import score_submission
from scoring.labels import load_tasks
from scoring.pool import (
    ChildFailed,
    PoolLimits,
    ScoringPool,
    SharedFolder,
    process_count,
    score_shared,
    shared_submission,
    usable_cpus,
)
from scoring.pool.forked import forking_works
from scoring.pool.messages import ReadJob
from scoring.pool.shared import remove_stale_folders
from scoring.submission import SubmissionError, load_submission
from synthetic import make_challenge, spec_for_size, write_challenge

OPTIONS = dict(embedding_dim=None, strict=True, standardize=True)
CONFIG = ProbeConfig(k_folds=6, epochs=3, batch_size=32)
NO_LIMITS = PoolLimits(None, None)


@pytest.fixture(scope="module")
def challenge(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("challenge")
    write_challenge(make_challenge(spec_for_size("tiny", seed=3)), root, gzip_submissions=True)
    return root


@pytest.fixture(scope="module")
def tasks(challenge):
    return load_tasks(challenge / "phases" / "final" / "annotations")


@pytest.fixture(scope="module")
def expected(tasks):
    return set().union(*(set(t.ids) for t in tasks))


@pytest.fixture(scope="module")
def pool():
    with ScoringPool(2, os.environ, NO_LIMITS) as pool:
        yield pool


@pytest.fixture
def folder(tmp_path):
    folder = SharedFolder(ram=tmp_path / "ram", disk=tmp_path)
    yield folder
    folder.close()


@pytest.fixture(autouse=True)
def no_limits(pool):
    pool.limits = NO_LIMITS
    yield
    pool.limits = NO_LIMITS


def submission(challenge: Path, team: str = "strong") -> Path:
    return challenge / "submissions" / f"{team}.csv.gz"


def sequential(challenge, tasks, expected, config, seed, team="strong"):
    """Today's path: one process, one torch thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        table = load_submission(submission(challenge, team), expected, **OPTIONS)
        return score_submission(table, tasks, config, seed, keep_outcomes=True)
    finally:
        torch.set_num_threads(threads)


def pooled(pool, folder, challenge, tasks, expected, config, seed, team="strong", **kw):
    with shared_submission(pool, folder, submission(challenge, team), expected, OPTIONS) as s:
        return score_shared(pool, s, tasks, config, seed, **kw)


def without_seconds(card):
    return [dataclasses.replace(t, seconds=0.0) for t in card.tasks]


@pytest.mark.parametrize("batching", ["shared", "independent"])
def test_pool_gives_bit_identical_results_to_one_process(
    pool, folder, challenge, tasks, expected, batching
):
    config = CONFIG.replace(batching=batching)
    want, want_outcomes = sequential(challenge, tasks, expected, config, seed=11)
    got, got_outcomes = pooled(
        pool, folder, challenge, tasks, expected, config, 11, keep_outcomes=True
    )
    assert without_seconds(got) == without_seconds(want)
    assert got.mean_q == want.mean_q and got.warnings == want.warnings
    assert got.config_fingerprint == want.config_fingerprint
    for a, b in zip(got_outcomes, want_outcomes, strict=True):
        assert a.run.epoch_scores.tobytes() == b.run.epoch_scores.tobytes()
        assert a.run.best_test_pred.tobytes() == b.run.best_test_pred.tobytes()
        assert a.test_targets.tobytes() == b.test_targets.tobytes()


def test_progress_and_keepalive_callbacks_run_in_the_callers_thread(
    pool, folder, challenge, tasks, expected
):
    caller = threading.get_ident()
    seen: list[tuple] = []
    threads: set[int] = set()

    def progress(*args):
        seen.append(args)
        threads.add(threading.get_ident())

    def keepalive():
        threads.add(threading.get_ident())

    pooled(pool, folder, challenge, tasks, expected, CONFIG, 3, on_progress=progress,
           on_wait=keepalive)
    assert threads == {caller}
    finals = {(task, count) for task, count, done, epochs in seen if done == epochs}
    assert finals == {(i, len(tasks)) for i in range(len(tasks))}


def test_cuda_config_without_a_gpu_scores_on_the_cpu_with_the_same_numbers(
    pool, folder, challenge, tasks, expected
):
    config = CONFIG.replace(device="cuda")
    want, _ = sequential(challenge, tasks, expected, config, seed=5)
    got, _ = pooled(pool, folder, challenge, tasks, expected, config, 5)
    assert without_seconds(got) == without_seconds(want)
    assert [w.code for w in got.warnings] == ["device_fallback"]


def test_a_bad_file_is_the_participants_error_and_the_process_carries_on(
    pool, folder, challenge, tasks, expected, tmp_path
):
    bad = tmp_path / "bad.csv"
    one = sorted(expected)[0]
    bad.write_text(f"id,0,1\n{one},1,2\n{one},3,4\n")  # a labelled id, twice
    with pytest.raises(SubmissionError) as caught:
        with shared_submission(pool, folder, bad, expected, OPTIONS):
            pass
    assert caught.value.code == "duplicate_ids"
    card, _ = pooled(pool, folder, challenge, tasks, expected, CONFIG, 1)
    assert len(card.tasks) == len(tasks)
    assert not any(p.suffix == ".npy" for f in folder._folders.values() for p in f.iterdir())


def _scoring_processes_mapping(path: Path) -> list[int]:
    """Pids of processes that have `path` mapped (i.e. are scoring that submission)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(path) in (entry / "maps").read_text():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_a_killed_process_fails_only_its_submission_and_is_replaced(
    pool, folder, challenge, tasks, expected
):
    replaced = pool.replaced
    slow = CONFIG.replace(epochs=400)
    with shared_submission(pool, folder, submission(challenge), expected, OPTIONS) as shared:
        killed: list[int] = []

        def killer():
            for _ in range(600):  # bounded: 60 s
                pids = [p for p in _scoring_processes_mapping(shared.path) if p != os.getpid()]
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return
                time.sleep(0.1)

        thread = threading.Thread(target=killer)
        thread.start()
        with pytest.raises(ChildFailed) as caught:
            score_shared(pool, shared, tasks, slow, 1)
        thread.join()
    assert killed
    assert (caught.value.reason, caught.value.during) == ("crash", "scoring")
    assert "SIGKILL" in caught.value.detail
    card, _ = pooled(pool, folder, challenge, tasks, expected, CONFIG, 1, team="weak")
    assert len(card.tasks) == len(tasks)
    assert pool.replaced == replaced + 1


@pytest.mark.skipif(not forking_works(), reason="needs Linux with pidfds")
def test_the_template_dying_fails_the_submission_and_the_pool_starts_a_new_one(
    folder, challenge, tasks, expected
):
    """The scoring processes die with their template: the job fails as ours (a crash), a new
    template forks new processes, and the next submission is scored with the same numbers."""
    slow = CONFIG.replace(epochs=400)
    with ScoringPool(2, os.environ, NO_LIMITS) as pool:
        assert pool.wait_ready(60)
        first = pool.template_pid
        with shared_submission(pool, folder, submission(challenge), expected, OPTIONS) as shared:
            killed: list[int] = []

            def kill_the_template(*_: int) -> None:  # once a task is under way
                if not killed:
                    os.kill(first, signal.SIGKILL)
                    killed.append(first)

            with pytest.raises(ChildFailed) as caught:
                score_shared(pool, shared, tasks, slow, 1, on_progress=kill_the_template)
        assert caught.value.reason == "crash" and caught.value.during == "scoring"
        card, _ = pooled(pool, folder, challenge, tasks, expected, CONFIG, 1)
        assert pool.template_pid not in (None, first)
    expected_card, _ = sequential(challenge, tasks, expected, CONFIG, 1)
    assert without_seconds(card) == without_seconds(expected_card)


def test_started_and_forked_processes_give_the_same_numbers(folder, challenge, tasks, expected):
    cards = []
    for fork in (False, True):
        with ScoringPool(2, os.environ, NO_LIMITS, fork=fork and forking_works()) as pool:
            card, _ = pooled(pool, folder, challenge, tasks, expected, CONFIG, 5)
        cards.append(without_seconds(card))
    assert cards[0] == cards[1]


def test_memory_over_the_cap_while_reading_is_the_participants_error(
    pool, folder, challenge, tasks, expected
):
    # Every process holds ~150 MB once torch is loaded: a 50 MB cap is exceeded by any job.
    pool.limits = PoolLimits(memory_mb=50, timeout_seconds=None)
    with pytest.raises(SubmissionError) as caught:
        pooled(pool, folder, challenge, tasks, expected, CONFIG, 1)
    assert caught.value.code == "needs_too_much_memory"
    assert "more than 50 MB of memory to read" in caught.value.message


def test_memory_or_time_over_the_limit_while_scoring_is_ours(
    pool, folder, challenge, tasks, expected
):
    with shared_submission(pool, folder, submission(challenge), expected, OPTIONS) as shared:
        pool.limits = PoolLimits(memory_mb=50, timeout_seconds=None)
        with pytest.raises(ChildFailed) as memory:
            score_shared(pool, shared, tasks, CONFIG, 1)
        pool.limits = PoolLimits(memory_mb=None, timeout_seconds=0.0)
        with pytest.raises(ChildFailed) as timeout:
            score_shared(pool, shared, tasks, CONFIG, 1)
        pool.limits = NO_LIMITS
        card, _ = score_shared(pool, shared, tasks, CONFIG, 1)  # the next job is unaffected
    assert (memory.value.reason, memory.value.during) == ("memory", "scoring")
    assert "the limit is 50 MB" in memory.value.detail
    assert (timeout.value.reason, timeout.value.during) == ("timeout", "scoring")
    assert len(card.tasks) == len(tasks)


def test_a_job_is_timed_out_under_the_limit_it_started_with(folder, challenge, tasks, expected):
    """Limits may be replaced at any time: a job past the deadline it started with is ended
    with that limit in its message, also after the limits were lifted meanwhile."""
    now = [0.0]
    with ScoringPool(1, os.environ, PoolLimits(None, 5.0), clock=lambda: now[0]) as pool:
        with shared_submission(pool, folder, submission(challenge), expected, OPTIONS) as shared:

            def lift_the_limits_then_pass_the_deadline(*_: int) -> None:
                pool.limits = NO_LIMITS
                now[0] = 10.0

            with pytest.raises(ChildFailed) as caught:
                score_shared(pool, shared, tasks, CONFIG.replace(epochs=400), 1,
                             on_progress=lift_the_limits_then_pass_the_deadline)
    assert (caught.value.reason, caught.value.during) == ("timeout", "scoring")
    assert caught.value.detail == "still working after 5 s"


def test_time_over_the_limit_while_reading_is_the_participants_error(
    pool, folder, challenge, tasks, expected
):
    pool.limits = PoolLimits(memory_mb=None, timeout_seconds=0.0)
    with pytest.raises(SubmissionError) as caught:
        pooled(pool, folder, challenge, tasks, expected, CONFIG, 1)
    assert caught.value.code == "read_timeout"


def _torch_is_loaded(pid: int) -> bool:
    return "libtorch_cpu" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("fork", [True, False], ids=["forked", "started"])
def test_a_process_whose_first_job_is_a_file_reads_it_before_loading_torch(
    tmp_path, expected, fork
):
    """The CLI's start: the file to read is queued before the processes are ready. The one that
    reads it must not load torch meanwhile (same interpreter lock: the reading, which every task
    waits for, would be slowed). Forked (Linux): it never loads torch and is retired once the
    scoring processes, forked from the template, are ready. Started: it loads torch after."""
    fifo = tmp_path / "embeddings.csv"
    os.mkfifo(fifo)  # the reading process waits here until this test writes
    job = ReadJob(str(fifo), frozenset(expected), dict(OPTIONS), str(tmp_path / "m.npy"))
    replies: list = []
    with ScoringPool(1, os.environ, NO_LIMITS, fork=fork) as pool:
        runner = threading.Thread(target=lambda: replies.extend(pool.run([job], "reading")))
        runner.start()  # queued now, before the process has even started its interpreter
        for _ in range(300):  # bounded: 30 s for the process to start
            if pool.pids():
                break
            time.sleep(0.1)
        reader = pool.pids()[0]
        for _ in range(30):  # 3 s, more than loading torch needs to map it
            assert not _torch_is_loaded(reader), "torch loaded while a file was being read"
            time.sleep(0.1)
        with open(fifo, "wb") as fh:  # the reader now gets its file, and refuses it
            fh.write(b"id,0,1\n")
        runner.join(timeout=60)
        assert pool.wait_ready(60), "the scoring processes did not load torch"
        if fork:
            for _ in range(100):  # bounded: 10 s for the idle reader to be retired
                if reader not in pool.pids():
                    break
                time.sleep(0.1)
            (scorer,) = pool.pids()
            assert scorer != reader and _torch_is_loaded(scorer)
        else:
            assert pool.pids() == [reader] and _torch_is_loaded(reader)
    assert [r.kind for r in replies] == ["participant"]


def test_processes_that_cannot_start_fail_the_job_instead_of_hanging():
    with ScoringPool(1, os.environ, NO_LIMITS, python="/bin/false") as pool:
        with pytest.raises(ChildFailed) as caught:
            pool.run([object()], "scoring", wait_seconds=0.1)
    assert caught.value.reason == "start"


def test_pool_folders_of_dead_processes_are_removed(tmp_path):
    dead = tmp_path / "neuco-pool-999999999-abc"
    mine = tmp_path / f"neuco-pool-{os.getpid()}-abc"
    dead.mkdir()
    mine.mkdir()
    assert remove_stale_folders(tmp_path) == [dead]
    assert mine.exists() and not dead.exists()


def test_process_count_follows_the_usable_cpus():
    assert process_count("auto") == usable_cpus() <= len(os.sched_getaffinity(0))
    assert process_count(3) == 3
    assert process_count("auto", uses_gpu=True) == 1
    with pytest.raises(ValueError):
        process_count(0)
