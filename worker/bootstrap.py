"""The composition root: build(settings) wires the store, the submission source, the pipeline,
the leaderboard publisher and the worker. I/O: opens the database (creating its schema) and,
for the inbox source, nothing else; no network at build time. Tests build the same objects by
hand with their own doubles.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from worker.alerts import Alerts, AppriseNotifier, Redactor
from worker.evalai import EvalAIClient, EvalAISource, RetryPolicy
from worker.inbox import InboxSource
from worker.loop import Worker
from worker.monitoring import ServiceMonitor
from worker.phase_labels import PhaseLabels
from worker.pipeline import SubmissionPipeline
from worker.reconcile import Reconciler
from worker.scorer import PoolScorer
from worker.settings import Settings, ensure_folder
from worker.source import SubmissionSource
from worker.store import SqlScoreStore

log = logging.getLogger(__name__)


def worker_home(settings: Settings) -> str:
    """Identifies this worker's data folder on this host: the prefix of every worker id."""
    return f"{socket.gethostname()}:{settings.data_dir.resolve()}:"


@dataclass
class App:
    settings: Settings
    store: SqlScoreStore
    source: SubmissionSource
    pipeline: SubmissionPipeline
    worker: Worker
    worker_id: str
    dirty_phases: set[str] = field(default_factory=set)
    client: EvalAIClient | None = None
    publisher: object | None = None  # built on first use, reused, closed with the app
    monitor: ServiceMonitor | None = None
    reconciler: Reconciler | None = None
    scorer: PoolScorer | None = None  # its processes start on first use (or `start`)

    def close(self) -> None:
        if self.scorer is not None:
            self.scorer.close()
        if self.client is not None:
            self.client.close()
        close = getattr(self.publisher, "close", None)
        if close is not None:
            close()
        self.store.close()


def evalai_client(settings: Settings) -> EvalAIClient:
    if settings.evalai is None:
        raise ValueError("source is not evalai")
    return EvalAIClient(
        settings.evalai,
        timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
        retry=RetryPolicy(max_attempts=settings.max_attempts),
    )


def hidden_names(settings: Settings) -> list[str]:
    """The hidden task names (label file names) of every phase: never said in an alert."""
    names: set[str] = set()
    for phase in settings.phases.values():
        try:
            names.update(path.name.split(".", 1)[0].split("__", 1)[0]
                         for path in phase.annotations.iterdir() if path.is_file())
        except OSError:
            continue  # doctor reports a missing label folder; alerts then have nothing to hide
    return sorted(names)


def make_alerts(settings: Settings, store: SqlScoreStore) -> Alerts:
    """Alerts to ALERT_URLS (none: kept for `status` only), with their open state in the store."""
    secrets = [settings.leaderboard.github_token]
    if settings.evalai is not None:
        secrets.append(settings.evalai.auth_token)
    urls = settings.alerts.urls
    return Alerts(
        AppriseNotifier(urls) if urls else None,
        store,
        repeat_after=timedelta(hours=settings.alerts.repeat_hours),
        redact=Redactor(secrets=secrets, hidden=hidden_names(settings)),
        challenge=settings.title,
    )


def service_monitor(settings: Settings, alerts: Alerts, store: SqlScoreStore) -> ServiceMonitor:
    return ServiceMonitor(
        alerts, store, settings.data_dir,
        evalai_unreachable_after=timedelta(minutes=settings.alerts.evalai_unreachable_minutes),
        publish_failing_after=timedelta(minutes=settings.alerts.publish_failing_minutes),
        disk_free_percent=settings.alerts.disk_free_percent,
    )


def open_store(settings: Settings) -> SqlScoreStore:
    """The scoring database of these settings, its schema in place (the caller closes it)."""
    store = SqlScoreStore(settings.database_url)
    store.create_schema()
    return store


def build(settings: Settings, *, purpose: str = "run",
          env: Mapping[str, str] | None = None) -> App:
    """Wire the parts. `env` is the environment the scoring processes start from (reduced:
    see `worker.scorer`); the CLI hands on its own."""
    ensure_folder(settings.data_dir, "data_dir")
    store = open_store(settings)
    client = None
    if settings.source == "evalai":
        client = evalai_client(settings)
        source: SubmissionSource = EvalAISource(client)
    else:
        ensure_folder(settings.inbox_dir, "inbox_dir")
        source = InboxSource(settings.inbox_dir, settings.data_dir / "inbox-results", store,
                             settings.leaderboard.baselines, phases=tuple(settings.phases))
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    worker_id = f"{worker_home(settings)}{purpose}:{os.getpid()}:{started}"
    dirty: set[str] = set()
    alerts = make_alerts(settings, store)
    monitor = service_monitor(settings, alerts, store)
    scorer = PoolScorer(settings.scoring, list(settings.phases.values()), env or {},
                        4 * settings.max_file_bytes)
    labels = PhaseLabels(settings.phases, watch=monitor)
    pipeline = SubmissionPipeline(store, source, settings, worker_id, scorer=scorer,
                                  on_finished=dirty.add, watch=monitor,
                                  organisers_alerted=alerts.delivering, labels=labels)
    worker = Worker(pipeline, settings.heartbeat_file, watch=monitor)
    pipeline.on_progress = worker.beat
    app = App(settings, store, source, pipeline, worker, worker_id, dirty, client,
              monitor=monitor, scorer=scorer)
    if client is not None:
        app.reconciler = Reconciler(
            client, store, pipeline, list(settings.phases),
            stuck_after=timedelta(minutes=settings.reconcile.stuck_after_minutes),
            horizon=timedelta(days=settings.reconcile.horizon_days),
            alerts=alerts,
        )
        worker.reconcile = app.reconciler.sweep
        worker.reconcile_every = settings.reconcile.interval_minutes * 60.0
    worker.refresh_boards = lambda: refresh_boards(app)
    return app


def refresh_boards(app: App) -> None:
    """Publish the leaderboard of every phase that changed; a failure keeps it for next tick."""
    board = app.settings.leaderboard
    if not board.enabled or board.publisher == "none" or not app.dirty_phases:
        return
    from worker.leaderboard import make_publisher, publish_phase

    if app.publisher is None:
        app.publisher = make_publisher(app.settings)
    publisher = app.publisher
    if publisher is None:
        app.dirty_phases.clear()
        return
    for phase in sorted(app.dirty_phases):
        if phase in board.id_list_phases and app.pipeline.labels.problem(phase) is not None:
            continue  # its id list is read from the labels: it stays dirty until they are fixed
        result = publish_phase(app.store, phase, app.settings, publisher)
        app.dirty_phases.discard(phase)
        if app.monitor is not None:
            app.monitor.published(phase, result.status, result.reason)
