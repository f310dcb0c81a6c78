"""`doctor`: check everything a live challenge needs, and list every problem. I/O: reads the
label folders (one line per bad label file: a phase with one is not ready), looks at the inbox
(anything there that is never read: links, misplaced files), opens the database, writes a probe
file in the data folder, and (EvalAI source) makes one authenticated request that does not
touch the queue.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime

from scoring.labels import AnnotationError
from worker.errors import AuthError, WorkerError
from worker.inbox import survey_inbox
from worker.phase_labels import load_phase_tasks
from worker.settings import Settings


def doctor_problems(settings: Settings) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    for codename, phase in settings.phases.items():
        try:
            tasks = load_phase_tasks(phase)
        except AnnotationError as exc:  # one line per bad file: where, which line, what
            problems += [f"phase {codename} is not ready (its submissions wait): {problem}"
                         for problem in exc.problems]
            continue
        rows = sum(t.n_rows for t in tasks)
        notes.append(f"phase {codename}: {len(tasks)} hidden tasks, {rows:,} labelled rows, "
                     f"K = {phase.probe.k_folds}, split '{phase.split}', metric '{phase.metric}'")
        ungrouped = [t.name for t in tasks if t.groups is None]
        if phase.probe.split_mode == "grouped" and ungrouped:
            problems.append(f"phase {codename}: probe.split_mode is grouped but "
                            f"{', '.join(ungrouped)} has no 'group' column")
        if phase.probe.embedding_dim is None:
            problems.append(f"phase {codename}: probe.embedding_dim is not set; a challenge "
                            "should fix the embedding size (e.g. 1024)")
        mode = phase.annotations.stat().st_mode
        if mode & 0o007:
            problems.append(f"phase {codename}: {phase.annotations} is readable by every user "
                            "(chmod o-rwx); hidden labels must stay hidden")
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".doctor-write-test"
        probe.write_text(datetime.now(UTC).isoformat())
        probe.unlink()
        notes.append(f"data folder {settings.data_dir} is writable")
    except OSError as exc:
        problems.append(f"data folder {settings.data_dir} is not writable: {exc}")
    try:
        from worker.store import schema_verdict

        problem, note = schema_verdict(settings.database_url)
        problems.extend([problem] if problem else [])
        notes.extend([note] if note else [])
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        problems.append(f"database {settings.database_url.split('@')[-1]}: {exc}")
    if settings.source == "evalai":
        from worker.bootstrap import evalai_client

        try:
            client = evalai_client(settings)
            challenge = client.check_token()
            notes.append(f"EvalAI token valid for challenge {challenge.pk} ({challenge.title!r}),"
                         f" remote evaluation {'on' if challenge.remote_evaluation else 'OFF'}")
            if not challenge.remote_evaluation:
                problems.append("the EvalAI challenge does not use remote evaluation")
            client.close()
        except AuthError as exc:
            problems.append(str(exc))
        except (WorkerError, ValueError) as exc:
            problems.append(f"EvalAI: {exc}")
    else:
        notes.append(f"source: local inbox {settings.inbox_dir}")
        survey = survey_inbox(settings.inbox_dir, settings.phases)
        problems += [f"inbox: {settings.inbox_dir}/{item}" for item in survey.misplaced]
    board = settings.leaderboard
    if board.enabled and board.publisher == "git" and "://" in board.remote:
        if shutil.which("git") is None:
            problems.append("git is not installed")
        else:
            env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
            done = subprocess.run(["git", "ls-remote", "--heads", board.remote], env=env,
                                  capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                problems.append("leaderboard remote not reachable with git ls-remote")
    return problems, notes
