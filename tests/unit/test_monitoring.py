"""ServiceMonitor: how the loop's outcomes become organiser alerts and service marks, over the
real SQLite store (alert ledger, marks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from worker.alerts import Alerts
from worker.errors import TransientError
from worker.monitoring import WATCHDOG_NOTE, ServiceMonitor
from worker.store import SqlScoreStore

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


class Outbox:
    def __init__(self) -> None:
        self.titles: list[str] = []
        self.bodies: list[str] = []

    def notify(self, title: str, body: str) -> bool:
        self.titles.append(title)
        self.bodies.append(body)
        return True


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now



def monitor(store: SqlScoreStore, tmp_path: Path, *, free: int = 50,
            ) -> tuple[ServiceMonitor, Outbox, Clock]:
    outbox, clock = Outbox(), Clock()
    alerts = Alerts(outbox, store, clock=clock, repeat_after=timedelta(hours=24))
    disk = {"free": free}
    m = ServiceMonitor(alerts, store, tmp_path, evalai_unreachable_after=timedelta(minutes=15),
                       publish_failing_after=timedelta(minutes=30), disk_free_percent=5,
                       disk_usage=lambda _path: (100, 100 - disk["free"], disk["free"]))
    m.disk = disk  # type: ignore[attr-defined] - the test turns the knob
    return m, outbox, clock


def test_evalai_unreachable_alerts_after_the_threshold_and_resolves_on_the_next_poll(
        store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, clock = monitor(store, tmp_path)
    for minute in (0, 5, 10, 14):
        clock.now = T0 + timedelta(minutes=minute)
        m.unreachable(TransientError("connection refused"))
    assert outbox.titles == []
    clock.now = T0 + timedelta(minutes=16)
    m.unreachable(TransientError("connection refused"))
    m.unreachable(TransientError("connection refused"))
    assert outbox.titles == ["EvalAI has been unreachable or overloaded"]
    clock.now = T0 + timedelta(minutes=17)
    m.polled(2)
    assert outbox.titles[-1] == "resolved: EvalAI is reachable again"
    assert store.service_marks()["poll"].detail == "2 message(s)"


def test_a_rejected_token_alerts_at_once_and_resolves_when_polling_works(
        store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, _ = monitor(store, tmp_path)
    m.token_rejected()
    m.token_rejected()
    assert outbox.titles == ["EvalAI rejects the host token"]
    m.polled(0)
    assert outbox.titles[-1] == "resolved: EvalAI accepts the host token again"


def test_a_refused_board_alerts_per_phase_and_resolves_when_published(
        store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, _ = monitor(store, tmp_path)
    m.published("final", "refused", "it would drop 1 entry")
    m.published("dev", "committed")
    assert outbox.titles == ["the leaderboard of phase final was not published"]
    assert "it would drop 1 entry" in outbox.bodies[0]
    m.published("final", "unchanged")
    assert outbox.titles[-1] == "resolved: the leaderboard of phase final is published again"
    assert store.service_marks()["publish"].detail == "phase final: unchanged"


def test_publishing_failing_for_longer_than_the_threshold_alerts(
        store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, clock = monitor(store, tmp_path)
    m.publish_failed(OSError("git push: connection reset"))
    clock.now = T0 + timedelta(minutes=31)
    m.publish_failed(OSError("git push: connection reset"))
    assert outbox.titles == ["publishing the leaderboard keeps failing"]
    m.boards_refreshed()
    assert outbox.titles[-1] == "resolved: publishing the leaderboard works again"


def test_an_internal_failure_alerts_and_a_later_scoring_resolves_it(
        store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, _ = monitor(store, tmp_path)
    m.submission_failed("evalai", 41, "final", 3)
    m.submission_scored("evalai", 40)  # another submission: nothing to resolve
    m.submission_scored("evalai", 41)
    assert outbox.titles == ["submission 41 (phase final) failed for an internal reason",
                             "resolved: submission 41 has been scored"]
    assert "rescore --submission 41" in outbox.bodies[0]


def test_a_nearly_full_disk_alerts_and_resolves(store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, _ = monitor(store, tmp_path, free=3)
    m.check_disk()
    m.check_disk()
    m.disk["free"] = 40  # type: ignore[attr-defined]
    m.check_disk()
    assert outbox.titles == ["the data disk has only 3.0 % free",
                             "resolved: the data disk has 40.0 % free again"]


def test_the_watchdogs_note_becomes_one_alert(store: SqlScoreStore, tmp_path: Path) -> None:
    m, outbox, _ = monitor(store, tmp_path)
    (tmp_path / WATCHDOG_NOTE).write_text("2026-06-01T07:59:00Z watchdog: worker hung (no "
                                          "heartbeat for 400s > 300s); pid 7 stopped by SIGTERM\n")
    m.read_watchdog_note()
    m.read_watchdog_note()
    assert outbox.titles == ["the watchdog replaced a hung worker"]
    assert "pid 7 stopped by SIGTERM" in outbox.bodies[0]
    assert not (tmp_path / WATCHDOG_NOTE).exists()
    assert store.open_alerts() == []  # an event: told once, nothing left open
