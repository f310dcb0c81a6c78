"""The alerting policy: one message per problem, a reminder after `repeat_after`, "resolved" when
it clears, nothing secret or hidden in any text; conditions alert only once they have lasted."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from worker.alerts import (
    AlertKind,
    Alerts,
    OpenAlert,
    Persistence,
    Redactor,
    split_alert_urls,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class MemoryLedger:
    """The `AlertLedger` port over a dict (the SQL one is tested in the store contract)."""

    def __init__(self) -> None:
        self.alerts: dict[str, OpenAlert] = {}

    def open_alert(self, key: str) -> OpenAlert | None:
        return self.alerts.get(key)

    def record_alert_sent(self, key: str, kind: str, summary: str, now: datetime) -> None:
        current = self.alerts.get(key)
        if current is None:
            self.alerts[key] = OpenAlert(key, kind, summary, now, now, 1)
        else:
            self.alerts[key] = replace(current, summary=summary, last_sent_at=now,
                                       sent_count=current.sent_count + 1)

    def close_alert(self, key: str, now: datetime) -> None:
        self.alerts.pop(key, None)

    def open_alerts(self) -> list[OpenAlert]:
        return list(self.alerts.values())


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, title: str, body: str) -> bool:
        self.sent.append((title, body))
        return True


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make(**kwargs: object) -> tuple[Alerts, Outbox, MemoryLedger, Clock]:
    outbox, ledger, clock = Outbox(), MemoryLedger(), Clock()
    alerts = Alerts(outbox, ledger, repeat_after=timedelta(hours=6), clock=clock, **kwargs)
    return alerts, outbox, ledger, clock


def test_a_problem_is_sent_once_then_reminded_after_the_repeat_interval() -> None:
    alerts, outbox, ledger, clock = make()
    assert alerts.problem(AlertKind.TOKEN_REJECTED, "token", "EvalAI rejects the token")
    clock.now += timedelta(minutes=1)
    assert not alerts.problem(AlertKind.TOKEN_REJECTED, "token", "EvalAI rejects the token")
    clock.now = T0 + timedelta(hours=5, minutes=59)
    assert not alerts.problem(AlertKind.TOKEN_REJECTED, "token", "EvalAI rejects the token")
    assert len(outbox.sent) == 1
    clock.now = T0 + timedelta(hours=6)
    assert alerts.problem(AlertKind.TOKEN_REJECTED, "token", "EvalAI rejects the token")
    assert [title for title, _ in outbox.sent] == [
        "EvalAI rejects the token", "still: EvalAI rejects the token"]
    assert ledger.open_alert("token").sent_count == 2


def test_resolved_is_sent_once_and_only_for_an_open_alert() -> None:
    alerts, outbox, ledger, clock = make()
    assert not alerts.resolved("disk")  # nothing open: nothing said
    alerts.problem(AlertKind.DISK_FULL, "disk", "the data disk is 97 % full")
    clock.now += timedelta(minutes=30)
    assert alerts.resolved("disk")
    assert not alerts.resolved("disk")
    assert [title for title, _ in outbox.sent] == [
        "the data disk is 97 % full", "resolved: the data disk is 97 % full"]
    assert "2026-05-01T12:00:00" in outbox.sent[1][1]
    assert ledger.open_alerts() == []


def test_a_new_occurrence_after_resolution_alerts_again() -> None:
    alerts, outbox, _, clock = make()
    alerts.problem(AlertKind.PUBLISH_FAILING, "publish", "publishing fails")
    alerts.resolved("publish")
    clock.now += timedelta(minutes=5)
    alerts.problem(AlertKind.PUBLISH_FAILING, "publish", "publishing fails")
    assert [title for title, _ in outbox.sent] == [
        "publishing fails", "resolved: publishing fails", "publishing fails"]


def test_secrets_and_hidden_task_names_never_reach_a_message() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.secret-part"
    redact = Redactor(secrets=[token], hidden=["crops", "crops_extra"])
    alerts, outbox, ledger, _ = make(redact=redact, challenge="demo")
    alerts.problem(AlertKind.SUBMISSION_FAILED, "s1",
                   f"submission 7 failed: Authorization Bearer {token}",
                   detail="task crops_extra and crops could not be scored")
    alerts.resolved("s1")
    text = " ".join(title + body for title, body in outbox.sent)
    assert token not in text and "secret-part" not in text
    assert "crops" not in text
    assert "[redacted]" in text and "[hidden]" in text
    assert "Challenge: demo" in outbox.sent[0][1]


def test_without_a_notifier_problems_are_still_kept_for_status() -> None:
    ledger = MemoryLedger()
    alerts = Alerts(None, ledger, clock=Clock())
    assert not alerts.delivering
    assert not alerts.problem(AlertKind.STUCK_SUBMISSIONS, "stuck:dev", "2 stuck submissions")
    assert [a.key for a in ledger.open_alerts()] == ["stuck:dev"]


def test_a_failing_channel_never_raises() -> None:
    class Broken:
        def notify(self, title: str, body: str) -> bool:
            raise OSError("connection refused")

    ledger = MemoryLedger()
    alerts = Alerts(Broken(), ledger, clock=Clock())
    assert not alerts.problem(AlertKind.DISK_FULL, "disk", "disk full")
    assert ledger.open_alert("disk") is not None  # kept: a reminder will be tried later


def test_a_condition_alerts_only_after_it_has_lasted() -> None:
    alerts, outbox, _, clock = make()
    unreachable = Persistence(alerts, AlertKind.EVALAI_UNREACHABLE, "evalai",
                              after=timedelta(minutes=15))
    unreachable.failing("EvalAI is unreachable")
    clock.now += timedelta(minutes=10)
    unreachable.ok()  # a blip: recovered before the threshold, nothing said
    clock.now += timedelta(minutes=1)
    unreachable.failing("EvalAI is unreachable")
    clock.now += timedelta(minutes=14)
    unreachable.failing("EvalAI is unreachable")
    assert outbox.sent == []
    clock.now += timedelta(minutes=1)
    unreachable.failing("EvalAI is unreachable")
    assert outbox.sent[0][0] == "EvalAI is unreachable"
    assert "Failing for 15 minute(s)" in outbox.sent[0][1]
    unreachable.ok()
    assert outbox.sent[-1][0] == "resolved: EvalAI is unreachable"


def test_alert_urls_are_split_on_spaces_and_commas() -> None:
    assert split_alert_urls(" json://a/b, mailto://c  slack://d/e ") == [
        "json://a/b", "mailto://c", "slack://d/e"]
    assert split_alert_urls("") == []
