"""Helpers for end-to-end tests of the worker as an operator runs it: `python -m worker ...` in a
subprocess, against the EvalAI double over real HTTP on 127.0.0.1.

I/O: writes synthetic challenges, challenge YAML files and worker data folders under the folder
it is given; starts worker subprocesses (each in its own session, so that it and anything it
spawns can be signalled as one group) and signals only those; opens the worker's SQLite store
to read what it recorded. Every wait polls against a deadline; nothing sleeps for a fixed time
to "let things happen".

Used by tests/e2e/test_worker_*.py and by bench/worker_soak.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.doubles.evalai import EvalAIDouble, FakeClock
from worker.store import SqlScoreStore

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DEFAULT_DEADLINE_S = 120.0
POLL_S = 0.05

# Small probe settings: every tiny-size submission scores in well under a second.
QUICK_PROBE: dict[str, Any] = {
    "k_folds": 3,
    "probe_type": "linear",
    "probe_params": {"batch_size": 64, "epochs": 2, "learning_rate": 0.001, "device": "cpu"},
    "standardize_embeddings": True,
    "normalize_labels": True,
}

# A scoring that lasts a few seconds on a demo-size challenge (3,316 ids, D = 256): a wide
# window in which to stop or kill a worker in the middle of it.
SLOW_PROBE: dict[str, Any] = {
    "k_folds": 200,
    "probe_type": "linear",
    "probe_params": {"batch_size": 32, "epochs": 10, "learning_rate": 0.001, "device": "cpu"},
    "standardize_embeddings": True,
    "normalize_labels": True,
}


# ---------------------------------------------------------------------- waiting
def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = DEFAULT_DEADLINE_S,
    interval: float = POLL_S,
) -> Any:
    """Poll until condition() is truthy and return its value; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------- the double
class WallClock(FakeClock):
    """A double's clock that follows real time (plus whatever `advance` adds): queue messages
    come back after a real visibility timeout. For long runs such as the soak benchmark."""

    def __init__(self) -> None:
        super().__init__(time.time())
        self._offset = 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot move the clock backwards (advance by {seconds!r})")
        self._offset += float(seconds)

    def isoformat(self, when: float | None = None) -> str:
        return super().isoformat(self.now() if when is None else when)


def start_double(clock: FakeClock | None = None, **options: Any) -> EvalAIDouble:
    """A running double. Its clock is manual (it moves only when a test advances it) but starts
    at the real time, so the timestamps it hands out (completed_at, ...) compare sensibly with
    the worker's own clock."""
    double = EvalAIDouble(clock=clock or FakeClock(time.time()), **options)
    return double.start()


# ---------------------------------------------------------------------- challenge files
@dataclass(frozen=True)
class ChallengeFiles:
    """A synthetic challenge on disk: label folders per phase, one submission file per team."""

    root: Path
    annotations: dict[str, Path]
    submissions: dict[str, Path]
    task_names: dict[str, tuple[str, ...]]  # phase -> hidden task names
    dim: int


def write_synthetic_challenge(
    root: Path, size: str = "tiny", seed: int = 7, teams: Sequence[str] | None = None,
    phases: Sequence[str] = ("final", "dev"), dim: int | None = None,
) -> ChallengeFiles:
    """Generate and write a synthetic challenge (labels of `phases`, submissions of `teams`,
    default all; `dim` overrides the size's embedding width). Label folders are made private
    (o-rwx), as `doctor` demands."""
    from synthetic import make_challenge, spec_for_size, write_embedding_table, write_label_file

    challenge = make_challenge(spec_for_size(size, seed=seed, dim=dim))
    annotations, names = {}, {}
    for phase in challenge.phases:
        if phase.name not in phases:
            continue
        folder = root / "phases" / phase.name / "annotations"
        folder.mkdir(parents=True, exist_ok=True)
        for task in phase.tasks:
            write_label_file(folder / task.file_name, task)
        for path in (folder, folder.parent, folder.parent.parent):
            path.chmod(0o750)
        annotations[phase.name] = folder
        names[phase.name] = tuple(task.name for task in phase.tasks)
    (root / "submissions").mkdir(parents=True, exist_ok=True)
    submissions = {}
    for sub in challenge.submissions:
        if teams is not None and sub.team not in teams:
            continue
        submissions[sub.team] = write_embedding_table(
            root / "submissions" / f"{sub.team}.csv", sub.ids, sub.matrix
        )
    return ChallengeFiles(root, annotations, submissions, names, challenge.spec.dim)


def phase_entry(
    annotations: Path, probe: Mapping[str, Any] | None = None, *, dim: int | None = None,
    split: str = "test_split", metric: str = "mean_Q", strict_ids: bool = True,
) -> dict[str, Any]:
    """One `phases:` entry of the challenge YAML."""
    probe = dict(QUICK_PROBE if probe is None else probe)
    if dim is not None:
        probe["embedding_dim"] = dim
    return {"annotations": str(annotations), "split": split, "metric": metric,
            "strict_ids": strict_ids, "probe": probe}


def write_challenge_yaml(
    path: Path, phases: Mapping[str, Mapping[str, Any]], *, poll_interval_seconds: float = 1.0,
    max_file_mb: float = 50.0, max_attempts: int = 3, read_timeout_seconds: float = 10.0,
    **top: Any,
) -> Path:
    """A challenge YAML for the EvalAI source with the leaderboard off (publishing is not
    under test here). Extra top-level keys go in as given."""
    document = {
        "title": "NeuCo e2e test challenge",
        "source": "evalai",
        "poll_interval_seconds": poll_interval_seconds,
        "max_file_mb": max_file_mb,
        "phases": {name: dict(spec) for name, spec in phases.items()},
        "leaderboard": {"enabled": False, "publisher": "none"},
        "evalai": {"connect_timeout_seconds": 5.0, "read_timeout_seconds": read_timeout_seconds,
                   "max_attempts": max_attempts},
        **top,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def probe_yaml(path: Path, phase: Mapping[str, Any]) -> Path:
    """The phase's probe settings as a standalone NeuCo-Bench config for `python -m scoring`."""
    path.write_text(yaml.safe_dump(dict(phase["probe"]), sort_keys=False))
    return path


# ---------------------------------------------------------------------- environment
def worker_env(
    double: EvalAIDouble, data_dir: Path, *, token: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A clean environment for a worker subprocess: EvalAI-Starters' four variables pointing
    at the double, the data folder, and nothing inherited but PATH."""
    fixtures = double.fixtures
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(data_dir.parent),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AUTH_TOKEN": fixtures.host_token if token is None else token,
        "API_SERVER": double.url,
        "QUEUE_NAME": fixtures.queue_name,
        "CHALLENGE_PK": str(fixtures.challenge_pk),
        "NEUCO_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
    }
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------- worker processes
@dataclass
class Finished:
    """A finished worker command: exit code and its output."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (f"python -m worker {' '.join(self.args)} exited {self.returncode}\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")


def _kill_group(proc: subprocess.Popen[Any], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the worker leads its own session: pgid == pid
    except ProcessLookupError:
        pass


def run_worker(
    args: Sequence[str], config: Path, env: Mapping[str, str], *, cwd: Path | None = None,
    timeout: float = DEFAULT_DEADLINE_S,
) -> Finished:
    """Run `python -m worker ARGS --config CONFIG` to completion (killed after `timeout`)."""
    argv = (*args, "--config", str(config))
    proc = subprocess.Popen(
        [PYTHON, "-m", "worker", *argv], cwd=cwd or config.parent, env=dict(env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        raise AssertionError(
            f"python -m worker {' '.join(argv)} still running after {timeout:.0f} s\n"
            f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ) from None
    finally:
        if proc.poll() is None:
            _kill_group(proc, signal.SIGKILL)
            proc.wait()
    return Finished(argv, proc.returncode, stdout, stderr)


@dataclass
class WorkerProcess:
    """A worker started in the background; output goes to files so that it never blocks."""

    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            _kill_group(self.proc, sig)

    def wait(self, timeout: float = DEFAULT_DEADLINE_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"worker {' '.join(self.args)} still running after {timeout:.0f} s\n"
                f"--- stderr\n{self.stderr()[-3000:]}"
            ) from None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the worker finishes its current submission), SIGKILL after `timeout`."""
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        return self.proc.wait(timeout=10)


@dataclass
class Processes:
    """Every background worker a test started, so that `finally` can end them all."""

    log_dir: Path
    started: list[WorkerProcess] = field(default_factory=list)

    def start(
        self, args: Sequence[str], config: Path, env: Mapping[str, str], *,
        cwd: Path | None = None,
    ) -> WorkerProcess:
        argv = (*args, "--config", str(config))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        n = len(self.started)
        out = self.log_dir / f"worker-{n}-{args[0]}.out"
        err = self.log_dir / f"worker-{n}-{args[0]}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen(
                [PYTHON, "-m", "worker", *argv], cwd=cwd or config.parent, env=dict(env),
                stdout=stdout, stderr=stderr, start_new_session=True,
            )
        worker = WorkerProcess(argv, proc, out, err)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        for worker in self.started:
            worker.kill(signal.SIGKILL)
            try:
                worker.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@contextmanager
def background_workers(log_dir: Path) -> Iterator[Processes]:
    """`with background_workers(dir) as workers: workers.start(...)`; all killed on exit."""
    processes = Processes(log_dir)
    try:
        yield processes
    finally:
        processes.kill_all()


# ---------------------------------------------------------------------- one deployment
@dataclass
class Site:
    """One test deployment: a running double, a challenge on disk, a worker data folder and
    the background workers started for it."""

    root: Path
    double: EvalAIDouble
    challenge: ChallengeFiles
    workers: Processes
    probe: Mapping[str, Any] = field(default_factory=lambda: dict(QUICK_PROBE))

    @property
    def data_dir(self) -> Path:
        return self.root / "var"

    def phases(self, *, metric: str = "mean_Q", split: str = "test_split",
               probe: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        return {
            name: phase_entry(folder, probe or self.probe, dim=self.challenge.dim,
                              metric=metric, split=split)
            for name, folder in self.challenge.annotations.items()
        }

    def write_config(self, name: str = "challenge.yaml", *, metric: str = "mean_Q",
                     probe: Mapping[str, Any] | None = None, **options: Any) -> Path:
        return write_challenge_yaml(self.root / name, self.phases(metric=metric, probe=probe),
                                    **options)

    def env(self, *, token: str | None = None, data_dir: Path | None = None,
            extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return worker_env(self.double, data_dir or self.data_dir, token=token, extra=extra)

    def submit(self, team_file: str | bytes, *, team: str = "alpha", phase: str = "final",
               filename: str = "submission.csv") -> int:
        """Upload through the double's Python API (as the web UI would); `team_file` names a
        synthetic team's file or gives the bytes."""
        content = (team_file if isinstance(team_file, bytes)
                   else self.challenge.submissions[team_file].read_bytes())
        return self.double.create_submission(team=team, phase=phase, file_bytes=content,
                                             filename=filename)

    def worker(self, *args: str, config: Path | None = None, token: str | None = None,
               data_dir: Path | None = None, extra: Mapping[str, str] | None = None,
               timeout: float = DEFAULT_DEADLINE_S) -> Finished:
        """Run one worker command to completion."""
        return run_worker(args, config or self.root / "challenge.yaml",
                          self.env(token=token, data_dir=data_dir, extra=extra), timeout=timeout)

    def start(self, *args: str, config: Path | None = None, token: str | None = None,
              data_dir: Path | None = None,
              extra: Mapping[str, str] | None = None) -> WorkerProcess:
        """Start a worker command in the background (ended by the site at the latest)."""
        return self.workers.start(args, config or self.root / "challenge.yaml",
                                  self.env(token=token, data_dir=data_dir, extra=extra))

    @contextmanager
    def store(self, data_dir: Path | None = None) -> Iterator[SqlScoreStore]:
        store = open_store(data_dir or self.data_dir)
        try:
            yield store
        finally:
            store.close()

    def queue_empty_after_visibility_timeout(self) -> bool:
        """Let every in-flight message become visible again, then look at the queue."""
        queue = self.double.state.queues[self.double.fixtures.challenge_pk]
        self.double.advance(queue.visibility_timeout + 1)
        return self.double.queue_messages() == []


@contextmanager
def running_site(root: Path, challenge: ChallengeFiles, **double_options: Any) -> Iterator[Site]:
    """A site whose double is stopped and whose background workers are killed on exit."""
    double = start_double(**double_options)
    try:
        with background_workers(root / "logs") as workers:
            yield Site(root, double, challenge, workers)
    finally:
        double.stop()


# ---------------------------------------------------------------------- reading results
def open_store(data_dir: Path) -> SqlScoreStore:
    """The worker's SQLite store in `data_dir` (the default database_url)."""
    return SqlScoreStore(f"sqlite:///{data_dir / 'scores.db'}")


def final_puts(double: EvalAIDouble, pk: int, status: str | None = None) -> list[Any]:
    """PUTs for `pk` that EvalAI accepted (200) with a final status (or the given one)."""
    wanted = (status,) if status else ("finished", "failed", "cancelled")
    return [c for c in double.puts(pk)
            if c.response_status == 200 and c.submission_status in wanted]


def posted_mean_q(call: Any, split: str = "test_split", metric: str = "mean_Q") -> float:
    """The metric value of a FINISHED PUT's `result` (a JSON string, one split)."""
    (row,) = json.loads(call.body["result"])
    assert row["split"] == split, row
    return float(row["accuracies"][metric])


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line]
