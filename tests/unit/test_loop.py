"""The polling tick: stages are isolated, auth errors stop polling, heartbeats move.
Uses a small fake pipeline (a port implementation), not mocks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from worker.errors import AuthError, TransientError
from worker.heartbeat import heartbeat_age
from worker.loop import AlreadyRunning, Worker, acquire_lock


class FakePipeline:
    def __init__(self, unreported=None, drain_result=2, drain_error=None):
        self.unreported_error = unreported
        self.drain_result = drain_result
        self.drain_error = drain_error
        self.calls: list[str] = []

    def check_labels(self):
        self.calls.append("labels")
        return 0

    def report_unreported(self):
        self.calls.append("report")
        if self.unreported_error:
            raise self.unreported_error
        return 0

    def reap_expired(self):
        self.calls.append("reap")
        return 0

    def drain(self, should_stop=lambda: False):
        self.calls.append("drain")
        if self.drain_error:
            raise self.drain_error
        return self.drain_result


def worker(tmp_path: Path, pipeline: FakePipeline, boards: list[str]) -> Worker:
    return Worker(pipeline, tmp_path / "heartbeat", refresh_boards=lambda: boards.append("x"))


def test_a_failing_recovery_stage_does_not_keep_the_queue_waiting(tmp_path: Path):
    pipeline = FakePipeline(unreported=RuntimeError("inbox file vanished"))
    boards: list[str] = []
    assert worker(tmp_path, pipeline, boards).poll_once() == 2
    assert pipeline.calls == ["labels", "report", "reap", "drain"]
    assert boards == ["x"]


def test_transient_errors_are_retried_next_tick(tmp_path: Path):
    pipeline = FakePipeline(drain_error=TransientError("503"))
    w = worker(tmp_path, pipeline, [])
    assert w.poll_once() == 0
    assert w.auth_failed is None


def test_auth_error_stops_polling_but_the_heartbeat_goes_on(tmp_path: Path):
    pipeline = FakePipeline(unreported=AuthError("EvalAI rejected the token"))
    w = worker(tmp_path, pipeline, [])
    w.poll_once()
    assert isinstance(w.auth_failed, AuthError)
    assert pipeline.calls == ["labels", "report"]  # nothing after the auth failure
    pipeline.calls.clear()
    assert w.poll_once() == 0
    assert pipeline.calls == []  # no hammering
    assert heartbeat_age(tmp_path / "heartbeat", datetime.now(UTC)) < 5


def test_reconcile_sweeps_on_the_first_tick_then_every_interval(tmp_path: Path):
    pipeline = FakePipeline()
    sweeps: list[float] = []
    now = [1000.0]

    def sweep() -> None:
        sweeps.append(now[0])
        pipeline.calls.append("sweep")

    w = Worker(pipeline, tmp_path / "heartbeat", reconcile=sweep, reconcile_every=600.0,
               monotonic=lambda: now[0])
    for step in range(25):  # 25 one-minute ticks
        now[0] = 1000.0 + 60.0 * step
        w.poll_once()
    assert sweeps == [1000.0, 1600.0, 2200.0]
    assert pipeline.calls[:5] == ["labels", "report", "reap", "drain", "sweep"]  # after the queue


def test_a_failing_sweep_never_stops_the_tick(tmp_path: Path):
    boards: list[str] = []

    def sweep() -> None:
        raise TransientError("EvalAI answered 503")

    w = Worker(FakePipeline(), tmp_path / "heartbeat", refresh_boards=lambda: boards.append("x"),
               reconcile=sweep)
    assert w.poll_once() == 2
    assert boards == ["x"] and w.auth_failed is None


def test_second_lock_holder_is_refused(tmp_path: Path):
    lock = acquire_lock(tmp_path / "worker.lock")
    try:
        try:
            acquire_lock(tmp_path / "worker.lock")
        except AlreadyRunning as exc:
            assert "another worker holds" in str(exc)
        else:
            raise AssertionError("a second lock was granted")
    finally:
        lock.close()
    acquire_lock(tmp_path / "worker.lock").close()  # free again once released
