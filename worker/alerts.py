"""Organiser alerts: one message per problem, a reminder while it lasts, "resolved" when it clears.
I/O: notifications through a `Notifier` (Apprise: Slack, Discord, Teams, Matrix, e-mail, a JSON
webhook, ... from ALERT_URLS); alert state through an `AlertLedger` (the store), so a restarted
worker neither repeats an open alert nor forgets to say it was resolved.

Two shapes of problem:
- a *condition* lasts (the token is rejected, EvalAI is unreachable, publishing fails, the disk is
  nearly full, a phase's labels are unusable): `problem(...)` while it holds, `resolved(...)` once
  it is gone. `Persistence` turns "failing right now" into "failing for more than N minutes";
- an *event* happened once (a submission failed for an internal reason after its retries, the
  watchdog replaced a hung worker, a reconcile sweep found stuck submissions): `problem(...)`
  with a key of its own; an event that can clear (the failed submission was re-scored) is closed
  with `resolved(...)` like a condition.

What an alert may say: never a token, a label value, a task name or a per-task number. Callers
write their texts without them; as a second line of defence every text passes `Redactor`, which
replaces the secrets and hidden names it was given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    SUBMISSION_FAILED = "submission-failed"
    TOKEN_REJECTED = "token-rejected"
    EVALAI_UNREACHABLE = "evalai-unreachable"
    PUBLISH_FAILING = "publish-failing"
    STUCK_SUBMISSIONS = "stuck-submissions"
    PHASE_NOT_READY = "phase-not-ready"
    WATCHDOG_RESTART = "watchdog-restart"
    DISK_FULL = "disk-full"
    TEST = "test"


@dataclass(frozen=True)
class OpenAlert:
    """A problem the organisers were told about and that has not been resolved."""

    key: str
    kind: str
    summary: str
    opened_at: datetime
    last_sent_at: datetime
    sent_count: int


class AlertLedger(Protocol):
    """Where open alerts are kept between ticks and restarts."""

    def open_alert(self, key: str) -> OpenAlert | None: ...

    def record_alert_sent(self, key: str, kind: str, summary: str, now: datetime) -> None:
        """Open the alert (first send) or count a reminder."""

    def close_alert(self, key: str, now: datetime) -> None: ...

    def open_alerts(self) -> list[OpenAlert]: ...


class Notifier(Protocol):
    """Delivers one message to the organisers; False when no channel took it."""

    def notify(self, title: str, body: str) -> bool: ...


class AppriseNotifier:
    """Apprise URLs (one or more, separated by spaces or commas, as in ALERT_URLS)."""

    def __init__(self, urls: str, *, tag: str = "NeuCo worker") -> None:
        import apprise

        self.tag = tag
        self._apprise = apprise.Apprise()
        self.channels = 0
        for url in split_alert_urls(urls):
            if self._apprise.add(url):
                self.channels += 1
            else:
                # The URL itself may hold a password or a webhook secret: name only its scheme.
                log.error("ALERT_URLS: an entry with scheme %r is not a valid Apprise URL; "
                          "it is ignored", url.split("://", 1)[0])

    def notify(self, title: str, body: str) -> bool:
        if not self.channels:
            return False
        return bool(self._apprise.notify(title=f"[{self.tag}] {title}", body=body))


def split_alert_urls(urls: str) -> list[str]:
    return [part for part in urls.replace(",", " ").split() if part]


class Redactor:
    """Replaces secrets and hidden names in a text. Longer strings first, so that a task named
    `crops` does not hide half of `crops_extra`."""

    def __init__(self, secrets: Iterable[str] = (), hidden: Iterable[str] = ()) -> None:
        pairs = [(s, "[redacted]") for s in secrets if s] + [(h, "[hidden]") for h in hidden if h]
        self._pairs = sorted(pairs, key=lambda pair: -len(pair[0]))

    def __call__(self, text: str) -> str:
        for needle, replacement in self._pairs:
            text = text.replace(needle, replacement)
        return text


class Alerts:
    """The alerting policy over a notifier and a ledger. Without a notifier (no ALERT_URLS)
    problems are still logged and kept in the ledger, so `status` shows them."""

    def __init__(
        self,
        notifier: Notifier | None,
        ledger: AlertLedger,
        *,
        repeat_after: timedelta = timedelta(hours=24),
        redact: Callable[[str], str] = lambda text: text,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        challenge: str = "",
    ) -> None:
        self.notifier = notifier
        self.ledger = ledger
        self.repeat_after = repeat_after
        self.redact = redact
        self.clock = clock
        self.challenge = challenge

    @property
    def delivering(self) -> bool:
        """True when alerts reach somebody (ALERT_URLS is set and usable)."""
        return self.notifier is not None

    def problem(self, kind: AlertKind, key: str, summary: str, detail: str = "") -> bool:
        """Report a problem: sent when new, or as a reminder when the last message is older than
        `repeat_after`; otherwise nothing. Returns True when a message was sent."""
        now = self.clock()
        summary = self.redact(summary)
        current = self.ledger.open_alert(key)
        if current is not None and now - current.last_sent_at < self.repeat_after:
            return False
        reminder = current is not None
        title = f"{'still: ' if reminder else ''}{summary}"
        sent = self._send(title, detail, opened=current.opened_at if current else now)
        self.ledger.record_alert_sent(key, str(kind), summary, now)
        if reminder:
            log.warning("alert %s still open since %s: %s", key,
                        current.opened_at.isoformat(timespec="seconds"), summary)
        else:
            log.warning("alert %s: %s", key, summary)
        return sent

    def event(self, kind: AlertKind, key: str, summary: str, detail: str = "") -> bool:
        """Report something that happened once (nothing to resolve later): sent once per key,
        nothing left open in the ledger."""
        if self.ledger.open_alert(key) is not None:
            return False
        sent = self.problem(kind, key, summary, detail)
        self.ledger.close_alert(key, self.clock())
        return sent

    def resolved(self, key: str, summary: str = "") -> bool:
        """Close an open alert with a "resolved" message; nothing when none is open."""
        current = self.ledger.open_alert(key)
        if current is None:
            return False
        now = self.clock()
        text = self.redact(summary) if summary else current.summary
        sent = self._send(f"resolved: {text}",
                          f"Open since {current.opened_at.isoformat(timespec='seconds')}.",
                          opened=current.opened_at)
        self.ledger.close_alert(key, now)
        log.info("alert %s resolved: %s", key, text)
        return sent

    def send_test(self) -> bool:
        """One message through every channel, for `python -m worker alert-test`."""
        return self._send("test alert",
                          "This is a test of the NeuCo worker's alerts. Nothing is wrong.",
                          opened=self.clock())

    def _send(self, title: str, detail: str, *, opened: datetime) -> bool:
        if self.notifier is None:
            return False
        lines = [f"Challenge: {self.challenge}"] if self.challenge else []
        if detail.strip():
            lines.append(detail.strip())
        lines.append(f"Since {opened.astimezone(UTC).isoformat(timespec='seconds')} (UTC). "
                     "`python -m worker status` shows the details.")
        body = self.redact("\n\n".join(lines))
        try:
            delivered = self.notifier.notify(self.redact(title), body)
        except Exception:  # noqa: BLE001 - an alert channel never takes the worker down
            log.exception("sending an alert failed")
            return False
        if not delivered:
            log.error("no alert channel accepted the alert %r", self.redact(title))
        return delivered


class Persistence:
    """Turns a condition checked on every tick into an alert once it has lasted `after`: the
    first failure time is kept in memory (a restart starts the clock again), the alert itself
    in the ledger."""

    def __init__(self, alerts: Alerts, kind: AlertKind, key: str, after: timedelta) -> None:
        self.alerts = alerts
        self.kind = kind
        self.key = key
        self.after = after
        self.failing_since: datetime | None = None

    def failing(self, summary: str, detail: str = "") -> None:
        now = self.alerts.clock()
        if self.failing_since is None:
            self.failing_since = now
        if now - self.failing_since >= self.after:
            minutes = int((now - self.failing_since).total_seconds() // 60)
            self.alerts.problem(self.kind, self.key, summary,
                                f"{detail}\nFailing for {minutes} minute(s).".strip())

    def ok(self, summary: str = "") -> None:
        self.failing_since = None
        self.alerts.resolved(self.key, summary)
