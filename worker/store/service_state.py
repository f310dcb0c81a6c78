"""The service's own state, beside the submissions: open organiser alerts (the `AlertLedger` of
`worker.alerts`) and the last success of each periodic job (poll, publish, reconcile) that
`status` shows. I/O: reads and writes the `alerts` and `service_marks` tables through the
engine the store opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from worker.store.schema import alerts, service_marks
from worker.store.states import aware
from worker.store.transactions import SqlWrites


@dataclass(frozen=True)
class StoredAlert:
    """An alert that was sent and is not resolved (the shape `worker.alerts.OpenAlert` has)."""

    key: str
    kind: str
    summary: str
    opened_at: datetime
    last_sent_at: datetime
    sent_count: int


@dataclass(frozen=True)
class ServiceMark:
    name: str
    at: datetime
    detail: str


class SqlServiceState(SqlWrites):
    """Open alerts and service marks."""

    def open_alert(self, key: str) -> StoredAlert | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.key == key)).first()
        return StoredAlert(**row._mapping) if row is not None else None

    def open_alerts(self) -> list[StoredAlert]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(alerts).order_by(alerts.c.opened_at, alerts.c.key))
            return [StoredAlert(**row._mapping) for row in rows]

    def record_alert_sent(self, key: str, kind: str, summary: str, now: datetime) -> None:
        """Open the alert, or count one more message for it. Two workers racing on one problem
        both end with one row (ON CONFLICT)."""
        now = aware(now, "now")
        with self._writing() as conn:
            changed = conn.execute(
                update(alerts).where(alerts.c.key == key).values(
                    summary=summary, last_sent_at=now, sent_count=alerts.c.sent_count + 1)
            ).rowcount
            if not changed:
                conn.execute(
                    self._insert(alerts).values(
                        key=key, kind=kind, summary=summary, opened_at=now, last_sent_at=now,
                        sent_count=1,
                    ).on_conflict_do_nothing()
                )

    def close_alert(self, key: str, now: datetime) -> None:
        with self._writing() as conn:
            conn.execute(delete(alerts).where(alerts.c.key == key))

    def mark_service(self, name: str, now: datetime, detail: str = "") -> None:
        """Record that the periodic job `name` just succeeded."""
        now = aware(now, "now")
        with self._writing() as conn:
            changed = conn.execute(
                update(service_marks).where(service_marks.c.name == name)
                .values(at=now, detail=detail)
            ).rowcount
            if not changed:
                conn.execute(self._insert(service_marks)
                             .values(name=name, at=now, detail=detail).on_conflict_do_nothing())

    def service_marks(self) -> dict[str, ServiceMark]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(service_marks))
            return {row.name: ServiceMark(**row._mapping) for row in rows}
