"""Alerts delivered for real through Apprise: to a loopback JSON webhook (json://) and a local
SMTP server (mailto://), with the texts a person receives."""

from __future__ import annotations

from datetime import timedelta

from tests.doubles.alert_receivers import SmtpReceiver, WebhookReceiver
from tests.unit.test_alerts import Clock, MemoryLedger
from worker.alerts import AlertKind, Alerts, AppriseNotifier, Redactor

TOKEN = "eyJ0eXAiOiJKV1QifQ.host-token-signature"


def test_one_alert_reaches_both_a_webhook_and_a_mailbox() -> None:
    with WebhookReceiver() as hook, SmtpReceiver() as mail:
        alerts = Alerts(AppriseNotifier(f"{hook.url}, {mail.url}"), MemoryLedger(),
                        redact=Redactor(secrets=[TOKEN]), clock=Clock(), challenge="demo")
        assert alerts.problem(AlertKind.TOKEN_REJECTED, "token",
                              "EvalAI rejects the host token",
                              f"Fix AUTH_TOKEN (was {TOKEN}) and restart the worker.")
    assert len(hook.received) == 1 and len(mail.messages) == 1
    assert hook.received[0]["title"] == "[NeuCo worker] EvalAI rejects the host token"
    assert "Fix AUTH_TOKEN" in hook.received[0]["message"]
    assert mail.messages[0]["Subject"] == "[NeuCo worker] EvalAI rejects the host token"
    for text in [str(hook.received), *mail.texts()]:
        assert TOKEN not in text and "signature" not in text


def test_a_repeated_problem_alerts_once_and_a_cleared_one_says_resolved() -> None:
    clock = Clock()
    with WebhookReceiver() as hook:
        alerts = Alerts(AppriseNotifier(hook.url), MemoryLedger(), clock=clock,
                        repeat_after=timedelta(hours=24))
        for minute in range(5):
            clock.now += timedelta(minutes=minute)
            alerts.problem(AlertKind.PUBLISH_FAILING, "publish", "publishing has failed")
        alerts.resolved("publish")
    assert [m["title"] for m in hook.received] == [
        "[NeuCo worker] publishing has failed", "[NeuCo worker] resolved: publishing has failed"]


def test_a_receiver_that_refuses_is_reported_not_raised() -> None:
    with WebhookReceiver(status=500) as hook:
        alerts = Alerts(AppriseNotifier(hook.url), MemoryLedger(), clock=Clock())
        assert not alerts.send_test()
    assert len(hook.received) == 1


def test_an_invalid_url_is_ignored_without_echoing_it(caplog) -> None:  # noqa: ANN001
    notifier = AppriseNotifier("nosuchscheme://user:hunter2@example")
    assert notifier.channels == 0
    assert not notifier.notify("t", "b")
    assert "hunter2" not in caplog.text
    assert "nosuchscheme" in caplog.text
