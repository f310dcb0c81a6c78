"""The worker's command line. The only place that reads the environment and configures logging.

    python -m worker run --config F          poll forever (the service)
    python -m worker once --config F         drain the queue once and exit
    python -m worker rescore --config F (--submission PK | --phase P) [--source evalai|inbox]
    python -m worker status --config F [--json]
    python -m worker alert-test --config F    (one test alert to ALERT_URLS)
    python -m worker reconcile --config F     (one sweep for submissions EvalAI lost)
    python -m worker refresh --config F [--phase P]   (re-read public flags, republish)
    python -m worker doctor --config F
    python -m worker healthcheck [--config F] [--max-age S]
    python -m worker leaderboard show|publish|reveal PHASE --config F [--with-analysis]
    python -m worker leaderboard analyze --phase PHASE --config F [--dimensions auto|N]
    python -m worker migrate --config F [--dry-run] [--yes]   (the database schema's upgrade)

The config path may also come from NEUCO_CONFIG. Exit codes: 0 ok, 1 problems found
(doctor/healthcheck; migrate: a plan not applied), 2 bad config (one `error: FILE: problem` line
each: the YAML's encoding, depth or syntax, a value, a token an HTTP header cannot carry), a
database schema this code cannot use (newer, unrecognised, PostgreSQL needing `migrate`), or
(run/once) no phase ready: every phase's labels unusable; 3 EvalAI rejected the token, 75
another worker is running. A phase whose labels cannot be used while others can is not a
start-up error: it waits (its submissions are neither claimed nor failed), the organisers are
alerted, `doctor` says why, and it is scored once the labels are fixed.
`healthcheck` exits 0 or 1 only (Docker reserves 2), a bad config included.

Commands that change state (run, once, rescore, refresh, leaderboard, migrate) also log to
<NEUCO_LOG_DIR>/neuco.log (default <data_dir>/logs), rotated at 10 MB with 5 kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from scoring.config import ConfigError
from worker.config_file import read_challenge_yaml
from worker.errors import SchemaError
from worker.heartbeat import heartbeat_age
from worker.settings import Settings, ensure_folder, settings_from
from worker.store import STATUSES, SqlScoreStore, StoredSubmission

log = logging.getLogger("worker")


class UTCFormatter(logging.Formatter):
    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", self.converter(record.created))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE_NAME = "neuco.log"
LOG_FILE_BYTES = 10 * 1024**2
LOG_FILE_BACKUPS = 5
LOGGING_COMMANDS = ("run", "once", "rescore", "refresh", "leaderboard", "migrate")


def configure_logging(env: Mapping[str, str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(env.get("LOG_LEVEL", "INFO").upper())
    for noisy in ("urllib3", "github", "alembic"):  # alembic: our own line says what ran
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A poll skipped because the previous one is still draining the queue is by design
    # (max_instances=1, coalesce); APScheduler would log each at WARNING.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


def add_log_file(env: Mapping[str, str], data_dir: Path) -> Path | None:
    """Also log to a rotating file in NEUCO_LOG_DIR (default <data_dir>/logs). A folder that
    cannot be written costs the file, not the command: stderr still gets every line."""
    folder = Path(env.get("NEUCO_LOG_DIR") or data_dir / "logs")
    path = folder / LOG_FILE_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8")
    except OSError as exc:
        log.warning("not logging to a file: %s", exc)
        return None
    handler.setFormatter(UTCFormatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    return path


def load_settings(path: str | None, env: Mapping[str, str]) -> Settings:
    path = path or env.get("NEUCO_CONFIG")
    if not path:
        raise ConfigError(["no challenge config: pass --config FILE or set NEUCO_CONFIG"])
    config = Path(path)
    raw = read_challenge_yaml(config)
    return settings_from(raw, env, config.resolve().parent, str(config))


def cmd_run(settings: Settings, once: bool, out: TextIO, env: Mapping[str, str]) -> int:
    from worker.bootstrap import build, worker_home
    from worker.loop import EXIT_ALREADY_RUNNING, AlreadyRunning, acquire_lock

    try:
        lock = acquire_lock(settings.lock_file)
    except AlreadyRunning as exc:
        log.error("%s; not starting a second worker", exc)
        return EXIT_ALREADY_RUNNING
    try:
        app = build(settings, purpose="once" if once else "run", env=env)
    except BaseException:
        lock.close()
        raise
    try:
        # A phase whose labels cannot be used waits (logged, alerted) while the others are
        # scored; when no phase can be scored the config is unusable: a start-up error.
        not_ready = app.pipeline.labels.check_all()
        if not_ready and len(not_ready) == len(settings.phases):
            sys.stderr.write(f"error: {len(not_ready)} of {len(settings.phases)} phase(s) are "
                             "not ready, so nothing can be scored (the lines above say why; "
                             "`doctor` lists every bad file): fix the labels, then start "
                             "again\n")
            return 2
        if not once and app.scorer is not None:
            app.scorer.start()  # the scoring processes load torch while the first tick polls
        # Only claims of earlier run/once lives: the lock proves those dead, but `rescore`
        # takes no lock, so a rescore's claim under the same data folder may be alive.
        released = [
            orphan
            for purpose in ("run", "once")
            for orphan in app.store.release_orphans(f"{worker_home(settings)}{purpose}:",
                                                    app.worker_id, datetime.now(UTC))
        ]
        for _source, pk in released:
            log.info("submission %s: restarting the scoring a previous run left unfinished", pk)
        # A board that failed to publish before a restart is retried now (unchanged content
        # makes no commit).
        app.dirty_phases.update(set(settings.phases) & set(app.store.status_counts()))
        app.worker.beat()
        if app.monitor is not None:
            if not app.monitor.alerts.delivering:
                log.warning("ALERT_URLS is not set: organisers will not be alerted of problems "
                            "(see `python -m worker status`); participants are told so")
            app.monitor.read_watchdog_note()
        if once:
            handled = app.worker.poll_once()
            out.write(f"handled {handled} submission message(s)\n")
            return 3 if app.worker.auth_failed else 0
        app.worker.run_forever(settings.poll_interval_seconds)
        return 3 if app.worker.auth_failed else 0
    finally:
        app.close()
        lock.close()


def cmd_rescore(settings: Settings, args: argparse.Namespace, out: TextIO,
                env: Mapping[str, str]) -> int:
    from worker.bootstrap import build, refresh_boards
    from worker.rescore import rescore_submissions

    app = build(settings, purpose="rescore", env=env)
    try:
        source = args.source or app.source.name
        if source != app.source.name:
            out.write(f"error: this config's source is {app.source.name}, not {source}\n")
            return 2
        if args.submission is not None:
            pks = [args.submission]
        else:
            pks = [s.pk for s in app.store.list_submissions(phase=args.phase, source=source)
                   if s.status in ("finished", "failed")]
        now = datetime.now(UTC)
        reason = args.reason or "rescore requested by the organiser"
        reset = []
        for pk in pks:
            stored = app.store.get(source, pk)
            problem = app.pipeline.labels.problem(stored.phase) if stored else None
            if problem is not None:
                out.write(f"submission {pk}: not rescored: phase {stored.phase} is not ready "
                          f"({problem})\n")
                continue
            if not app.store.reset_for_rescore(source, pk, now, reason):
                stored = app.store.get(source, pk)
                state = stored.status if stored else "unknown"
                out.write(f"submission {pk}: not rescored (status {state})\n")
                continue
            reset.append(pk)
        # One more submission than scoring processes: one is read while the others score.
        at_once = app.scorer.processes + 1 if app.scorer is not None else 1
        done = rescore_submissions(app.pipeline, app.store, source, reset, at_once, out,
                                   sys.stderr)
        refresh_boards(app)
        out.write(f"rescored {done} of {len(pks)} submission(s)\n")
        return 0 if done == len(pks) else 1
    finally:
        app.close()


def cmd_refresh(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from worker.bootstrap import build, refresh_boards

    app = build(settings, purpose="refresh")
    try:
        changed = app.pipeline.refresh_metadata(args.phase)
        for pk, fields in changed:
            stored = app.store.get(app.source.name, pk)
            out.write(f"submission {pk} ({stored.phase}, {stored.team_name}): "
                      f"{', '.join(fields)} changed\n")
        out.write(f"{len(changed)} submission(s) changed\n")
        app.dirty_phases.update(app.store.get(app.source.name, pk).phase for pk, _ in changed)
        refresh_boards(app)
        return 0
    finally:
        app.close()


def service_status(settings: Settings, store: SqlScoreStore, now: datetime) -> dict[str, Any]:
    """Everything `status` shows, as plain data (what `--json` prints)."""
    counts = store.status_counts()
    phases = {phase: {status: counts.get(phase, {}).get(status, 0) for status in STATUSES}
              for phase in sorted(set(counts) | set(settings.phases))}

    def brief(s: StoredSubmission) -> dict[str, Any]:
        return {"source": s.source, "pk": s.pk, "phase": s.phase, "team": s.team_name,
                "status": s.status, "attempts": s.attempts,
                "submitted_at": s.submitted_at.isoformat(),
                "received_at": s.received_at.isoformat()}

    running = store.list_submissions(status="running")
    waiting = store.list_submissions(status="received")
    late_after = timedelta(minutes=settings.reconcile.stuck_after_minutes)
    late = [s for s in waiting if now - s.received_at >= late_after]
    stuck = [s for s in running if s.lease_until is not None and s.lease_until < now]
    internal = [s for s in store.list_submissions(status="failed") if s.error_kind == "internal"]
    marks = store.service_marks()
    age = heartbeat_age(settings.heartbeat_file, now)
    open_alerts = store.open_alerts()
    # The running worker's view (its open alerts): `status` reads no label file.
    not_ready = sorted(a.key.split(":", 1)[1] for a in open_alerts
                       if a.kind == "phase-not-ready" and ":" in a.key)
    inbox = []
    if settings.source == "inbox":
        from worker.inbox import survey_inbox

        inbox = [str(item) for item in survey_inbox(settings.inbox_dir,
                                                    settings.phases).misplaced]
    return {
        "now": now.isoformat(),
        "phases": phases,
        "running": [brief(s) | {"lease_owner": s.lease_owner,
                                "lease_until": s.lease_until.isoformat() if s.lease_until
                                else None} for s in running],
        "late": [brief(s) for s in late],
        "stuck": [brief(s) | {"lease_owner": s.lease_owner} for s in stuck],
        "internal_failures": [brief(s) | {"error": s.error_message} for s in internal],
        "unreported": len(store.unreported(now)),
        "not_ready": not_ready,
        "inbox_not_read": inbox,
        "last": {name: {"at": mark.at.isoformat(), "detail": mark.detail}
                 for name, mark in sorted(marks.items())},
        "alerts": {
            "delivering": bool(settings.alerts.urls),
            "open": [{"key": a.key, "kind": a.kind, "summary": a.summary,
                      "opened_at": a.opened_at.isoformat(),
                      "last_sent_at": a.last_sent_at.isoformat(), "sent": a.sent_count}
                     for a in open_alerts],
        },
        "heartbeat_age_seconds": None if age is None else round(age, 1),
    }


def write_status(status: dict[str, Any], out: TextIO) -> None:
    out.write(f"{'phase':16s}" + "".join(f"{s:>10s}" for s in STATUSES) + "\n")
    for phase, row in status["phases"].items():
        out.write(f"{phase:16s}" + "".join(f"{row[s]:10d}" for s in STATUSES) + "\n")
    for phase in status["not_ready"]:
        waiting = status["phases"].get(phase, {}).get("received", 0)
        out.write(f"not ready: phase {phase}: its labels cannot be used, {waiting} submission(s) "
                  "wait (`python -m worker doctor` says why)\n")
    for item in status["inbox_not_read"]:
        out.write(f"inbox, not read: {item}\n")
    for s in status["running"]:
        out.write(f"running: submission {s['pk']} ({s['phase']}, {s['team']}) by "
                  f"{s['lease_owner']} until {s['lease_until']}\n")
    for s in status["late"]:
        out.write(f"late: submission {s['pk']} ({s['phase']}, {s['team']}) waiting since "
                  f"{s['received_at']} ({s['attempts']} attempt(s) so far)\n")
    for s in status["stuck"]:
        out.write(f"stuck: submission {s['pk']} ({s['phase']}) running with an expired lease "
                  f"held by {s['lease_owner']}; any live worker restarts it\n")
    for s in status["internal_failures"]:
        out.write(f"internal failure: submission {s['pk']} ({s['phase']}): {s['error']} "
                  f"-> fix, then `rescore --submission {s['pk']}`\n")
    if status["unreported"]:
        out.write(f"{status['unreported']} result(s) recorded but not yet reported\n")
    for name in ("poll", "reconcile", "publish"):
        mark = status["last"].get(name)
        out.write(f"last successful {name}: "
                  + (f"{mark['at']} ({mark['detail']})" if mark else "never") + "\n")
    alerts = status["alerts"]
    if not alerts["delivering"]:
        out.write("alerts: ALERT_URLS is not set, organisers are not alerted\n")
    for a in alerts["open"]:
        out.write(f"open alert: {a['summary']} (since {a['opened_at']}, sent {a['sent']}x)\n")
    if alerts["delivering"] and not alerts["open"]:
        out.write("alerts: none open\n")
    age = status["heartbeat_age_seconds"]
    out.write("worker heartbeat: " + ("none" if age is None else f"{age:.0f} s ago") + "\n")


def cmd_status(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from worker.bootstrap import open_store

    store = open_store(settings)
    try:
        status = service_status(settings, store, datetime.now(UTC))
    finally:
        store.close()
    if getattr(args, "json", False):
        out.write(json.dumps(status, indent=2) + "\n")
    else:
        write_status(status, out)
    return 0


def cmd_reconcile(settings: Settings, out: TextIO) -> int:
    from worker.bootstrap import build

    if settings.source != "evalai":
        out.write("reconcile compares the store with EvalAI: this config's source is "
                  f"{settings.source}, nothing to do\n")
        return 0
    app = build(settings, purpose="reconcile")
    try:
        report = app.reconciler.sweep()
        for phase, pks in report.stuck.items():
            for pk in pks:
                stored = app.store.get("evalai", pk)
                state = stored.status if stored else "unknown"
                out.write(f"stuck: submission {pk} ({phase}) -> {state}\n")
        out.write(f"reconcile: {report.found} stuck submission(s) found, "
                  f"{report.requests} EvalAI request(s)\n")
        app.dirty_phases.update(report.stuck)
        from worker.bootstrap import refresh_boards

        refresh_boards(app)
        return 0
    finally:
        app.close()


def cmd_alert_test(settings: Settings, out: TextIO) -> int:
    from worker.bootstrap import make_alerts, open_store

    if not settings.alerts.urls:
        out.write("ALERT_URLS is not set: put one or more Apprise URLs (e.g. "
                  "slack://..., mailto://..., json://host/path) into the env file\n")
        return 1
    store = open_store(settings)
    try:
        alerts = make_alerts(settings, store)
        if alerts.send_test():
            out.write("test alert sent\n")
            return 0
        out.write("no alert channel accepted the test alert: check ALERT_URLS (the log above "
                  "names the failing scheme)\n")
        return 1
    finally:
        store.close()


def cmd_doctor(settings: Settings, out: TextIO) -> int:
    from worker.doctor import doctor_problems

    problems, notes = doctor_problems(settings)
    for note in notes:
        out.write(f"ok: {note}\n")
    for problem in problems:
        out.write(f"PROBLEM: {problem}\n")
    out.write("doctor: all checks passed\n" if not problems else
              f"doctor: {len(problems)} problem(s)\n")
    return 1 if problems else 0


def cmd_healthcheck(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    if args.config or env.get("NEUCO_CONFIG"):
        try:
            path = load_settings(args.config, env).heartbeat_file
        except ConfigError as exc:
            out.write(f"unhealthy: {exc}\n")
            return 1
    else:
        path = Path(env.get("NEUCO_DATA_DIR", "var")) / "heartbeat"
    age = heartbeat_age(path, datetime.now(UTC))
    if age is None or age > args.max_age:
        out.write(f"unhealthy: heartbeat {path} " +
                  ("missing" if age is None else f"{age:.0f} s old") + "\n")
        return 1
    out.write(f"healthy: heartbeat {age:.0f} s old\n")
    return 0


def cmd_leaderboard(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from worker.bootstrap import open_store
    from worker.leaderboard import (
        PhaseStillScoring,
        PublishError,
        analysis_pictures,
        make_publisher,
        publish_phase,
        reveal_phase,
        show_phase,
    )

    args.phase = args.phase or args.phase_option
    if args.phase not in settings.phases:
        out.write(f"error: unknown phase {args.phase!r}; known: {', '.join(settings.phases)}\n")
        return 2
    store = open_store(settings)
    try:
        if args.action == "show":
            out.write(show_phase(store, args.phase, settings) + "\n")
            return 0
        if args.action == "analyze":
            return cmd_analyze(store, settings, args, out)
        publisher = make_publisher(settings)
        if publisher is None:
            out.write("the leaderboard publisher is disabled in the config\n")
            return 1
        try:
            if args.action == "reveal":
                extra = _analysis_files(store, settings, args, out) if args.with_analysis else {}
                result = reveal_phase(store, args.phase, settings, publisher, force=args.force,
                                      explanation=args.explanation, extra_files=extra,
                                      pictures=analysis_pictures(extra, args.phase))
            else:
                result = publish_phase(store, args.phase, settings, publisher,
                                       explanation=args.explanation)
        except (PhaseStillScoring, PublishError) as exc:
            out.write(f"{args.action}: not published: {exc}\n")
            return 1
        out.write(f"{args.action}: {result.status}"
                  + (f" ({result.sha})" if result.sha else "")
                  + (f": {result.reason}" if result.reason else "") + "\n")
        out.writelines(f"  {note}\n" for note in result.notes)  # who left, who was renamed
        return 0 if result.status in ("committed", "unchanged") else 1
    finally:
        store.close()


def cmd_migrate(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    from worker.loop import EXIT_ALREADY_RUNNING, AlreadyRunning, acquire_lock
    from worker.store import (
        CURRENT,
        apply_plan,
        inspect_schema,
        needs_writing,
        plan_lines,
        refuse_unusable,
    )

    state = inspect_schema(settings.database_url)
    for line in plan_lines(state):
        out.write(line + "\n")
    refuse_unusable(state)
    if state.kind == CURRENT or args.dry_run:
        out.write("dry run: nothing written\n" if args.dry_run else "")
        return 0
    if not args.yes:
        backup = ("a backup copy is made next to the file first" if state.backend == "sqlite"
                  else "take a dump first: pg_dump -Fc -f before-upgrade.dump DBNAME")
        out.write(f"not applied: stop every worker, then run again with --yes ({backup})\n")
        return 1
    try:
        lock = acquire_lock(settings.lock_file)
    except AlreadyRunning as exc:
        out.write(f"not applied: {exc}; stop it first\n")
        return EXIT_ALREADY_RUNNING
    try:
        if needs_writing(state):
            backup_path = apply_plan(settings.database_url, datetime.now(UTC), state=state)
            if backup_path is not None:
                out.write(f"backup: {backup_path}\n")
        out.write(f"migrated: schema at revision {inspect_schema(settings.database_url).current}"
                  " (head)\n")
        return 0
    finally:
        lock.close()
def cmd_analyze(
    store: SqlScoreStore, settings: Settings, args: argparse.Namespace, out: TextIO
) -> int:
    """Rank stability and capability map of a revealed phase, written to --output-dir."""
    from scoring.analysis import analysis_summary
    from worker.leaderboard import (
        PhaseNotRevealed,
        analysis_repository_files,
        make_publisher,
        phase_analysis,
        phase_is_revealed,
    )

    started = time.perf_counter()
    revealed = phase_is_revealed(settings, args.phase, make_publisher(settings))
    try:
        analysis = phase_analysis(store, args.phase, settings, revealed=revealed,
                                  dimensions=args.dimensions, score_kind=args.score)
    except PhaseNotRevealed as exc:
        out.write(f"analyze: refused: {exc}\n")
        return 1
    folder = Path(args.output_dir or settings.data_dir / "analysis")
    for name, data in analysis_repository_files(analysis).items():
        path = folder / name.split("/", 1)[1]  # analysis/<phase>/<file> -> <phase>/<file>
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    out.write(analysis_summary(analysis))
    for note in analysis.notes:
        out.write(f"note: {note}\n")
    out.write(f"analysis of phase {args.phase} written to {folder / args.phase}/ "
              f"in {time.perf_counter() - started:.1f} s\n")
    return 0


def _analysis_files(store: SqlScoreStore, settings: Settings, args: argparse.Namespace,
                    out: TextIO) -> dict[str, bytes]:
    from worker.leaderboard import analysis_repository_files, phase_analysis

    analysis = phase_analysis(store, args.phase, settings, revealed=True,
                              dimensions=args.dimensions, score_kind=args.score)
    for note in analysis.notes:
        out.write(f"note: {note}\n")
    return analysis_repository_files(analysis)


def _dimensions(text: str) -> int | str:
    if text == "auto":
        return text
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a positive integer, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m worker",
                                description="NeuCo evaluation worker for EvalAI remote evaluation")
    sub = p.add_subparsers(dest="command", required=True)
    for name, text in (("run", "poll the queue forever (the service)"),
                       ("once", "drain the queue once and exit"),
                       ("status", "submissions per phase, late or stuck ones, the last "
                        "successful poll/reconcile/publish and open alerts"),
                       ("doctor", "check config, labels, database, token and paths"),
                       ("alert-test", "send one test alert to ALERT_URLS"),
                       ("reconcile", "one sweep: score submissions EvalAI shows in flight "
                        "whose queue message was lost")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--config", help="challenge YAML (default: $NEUCO_CONFIG)")
        if name == "status":
            c.add_argument("--json", action="store_true", help="machine-readable, for monitoring")
    r = sub.add_parser("rescore", help="re-score one submission or a whole phase and re-post")
    r.add_argument("--config")
    group = r.add_mutually_exclusive_group(required=True)
    group.add_argument("--submission", type=int, help="submission pk")
    group.add_argument("--phase", help="every finished or failed submission of a phase")
    r.add_argument("--source", choices=("evalai", "inbox"))
    r.add_argument("--reason", help="recorded in the event log")
    f = sub.add_parser("refresh", help="re-read public/baseline flags and names from the source "
                       "(e.g. a submission made private) and republish the boards")
    f.add_argument("--config")
    f.add_argument("--phase", help="only this phase")
    h = sub.add_parser("healthcheck", help="exit 0 if the heartbeat is fresh")
    h.add_argument("--config")
    h.add_argument("--max-age", type=float, default=300.0, help="seconds (default 300)")
    lb = sub.add_parser("leaderboard", help="show, publish, reveal or analyze a phase")
    lb.add_argument("action", choices=("show", "publish", "reveal", "analyze"))
    lb.add_argument("phase", nargs="?")
    lb.add_argument("--phase", dest="phase_option", help="the phase (or give it positionally)")
    lb.add_argument("--config")
    lb.add_argument("--with-analysis", action="store_true",
                    help="reveal: add the rank-stability and capability-map analysis "
                    "(analysis/<phase>/, and its pictures on the phase's web page)")
    lb.add_argument("--output-dir", help="analyze: folder for the files (default: "
                    "<data_dir>/analysis); one subfolder per phase")
    lb.add_argument("--dimensions", type=_dimensions, default="auto",
                    help="analyze: capability map dimension, auto (validated 1-5) or N")
    lb.add_argument("--score", choices=("q", "mean_score"), default="q",
                    help="analyze: capability gaps from per-task Q or the mean split score")
    lb.add_argument("--explanation", help="why entries disappeared (allows a smaller board; "
                    "not needed for teams that made their submissions private)")
    lb.add_argument("--force", action="store_true", help="reveal even with scorings pending")
    m = sub.add_parser("migrate", help="show the database schema's upgrade plan and apply it")
    m.add_argument("--config")
    m.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    m.add_argument("--yes", action="store_true", help="apply the plan (workers stopped)")
    return p


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None,
         out: TextIO = sys.stdout) -> int:
    env = dict(os.environ) if env is None else env
    args = parser().parse_args(argv)
    configure_logging(env)
    try:
        if args.command == "healthcheck":
            return cmd_healthcheck(args, env, out)
        settings = load_settings(args.config, env)
        ensure_folder(settings.data_dir, "data_dir")
        if args.command in LOGGING_COMMANDS:
            add_log_file(env, settings.data_dir)
        if args.command in ("run", "once"):
            return cmd_run(settings, args.command == "once", out, env)
        if args.command == "rescore":
            return cmd_rescore(settings, args, out, env)
        if args.command == "status":
            return cmd_status(settings, args, out)
        if args.command == "alert-test":
            return cmd_alert_test(settings, out)
        if args.command == "reconcile":
            return cmd_reconcile(settings, out)
        if args.command == "refresh":
            return cmd_refresh(settings, args, out)
        if args.command == "doctor":
            return cmd_doctor(settings, out)
        if args.command == "migrate":
            return cmd_migrate(settings, args, out)
        return cmd_leaderboard(settings, args, out)
    except ConfigError as exc:  # one line per problem, each naming the file
        sys.stderr.writelines(f"error: {exc.source}: {problem}\n" for problem in exc.problems)
        return 2
    except SchemaError as exc:  # one line; the database was not written
        sys.stderr.write(f"error: {exc}\n")
        return 2
