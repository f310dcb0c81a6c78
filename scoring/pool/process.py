"""One started scoring process as the pool sees it: start, send, watch its memory, kill, reap.
Starts a subprocess and reads its /proc status (Linux; elsewhere memory is not watched).

Why fresh interpreters (`python -m scoring.pool.child`, and the template `python -m
scoring.pool.child --template` that forks the scoring processes on Linux) rather than forking
the caller or multiprocessing's spawn: the thread-count environment must be in place before
numpy and torch load, a scoring process must not import the worker (spawn re-imports the
parent's __main__), must not inherit the worker's lock file (the watchdog reads the lock as
"the worker is alive"), and must be killable on its own when it runs out of time or memory.
Started processes serve where forking does not work, and read a file while the template is
still loading torch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

import scoring
from scoring.pool.cpus import SINGLE_THREAD_ENV

PACKAGE_ROOT = str(Path(scoring.__file__).resolve().parents[1])


def child_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment plus one thread per numeric library and our package on the
    path (the child must import the same `scoring` as its parent)."""
    env = dict(base)
    env.update(SINGLE_THREAD_ENV)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + path if path else "")
    return env


def private_memory_mb(pid: int) -> float | None:
    """Private resident memory (RssAnon: heap, arrays, tensors) of a process in MB. The shared
    matrix (RssShmem) and mapped libraries (RssFile) are not the job's own memory."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


class ScoringProcess:
    """What the pool knows of a scoring process, started (`ChildProcess`) or forked by the
    template (`scoring.pool.forked.ForkedChild`): its pipe, what it has said, its memory."""

    pid: int
    conn: Connection
    no_exit_yet = "still running"  # what `describe_exit` says while the exit is not known

    def __init__(self) -> None:
        self.ready = False
        self.warm = False  # torch loaded as well (WARM)
        self.told_to_warm = False  # sent WARM_UP or a first job (it loads torch after that)
        self.peak_memory_mb = 0.0

    @property
    def returncode(self) -> int | None:
        """As `Popen.returncode`: the exit status, minus the signal, or None (not known yet)."""
        raise NotImplementedError

    def memory_mb(self) -> float | None:
        used = private_memory_mb(self.pid)
        if used is not None:
            self.peak_memory_mb = max(self.peak_memory_mb, used)
        return used

    def exited(self) -> bool:
        return self.returncode is not None

    def describe_exit(self) -> str:
        code = self.returncode
        if code is None:
            return self.no_exit_yet
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"

    def ask_to_stop(self) -> None:
        """Tell it to stop after its current job (it exits without tearing torch down)."""
        from scoring.pool.messages import STOP

        try:
            self.conn.send(STOP)
        except OSError:
            pass  # already gone


class ChildProcess(ScoringProcess):
    """A started `scoring.pool.child`; `ready` once it said so (its imports are done)."""

    def __init__(
        self, env: Mapping[str, str], python: str = sys.executable, *, reader: bool = False
    ) -> None:
        parent_end, child_end = Pipe(duplex=True)
        command = [python, "-m", "scoring.pool.child", str(child_end.fileno()), str(os.getpid())]
        try:
            self.process = subprocess.Popen(
                command + (["--reader"] if reader else []),
                pass_fds=[child_end.fileno()],
                env=child_environment(env),
                stdin=subprocess.DEVNULL,
            )
        finally:
            child_end.close()
        super().__init__()
        self.conn = parent_end

    @property
    def pid(self) -> int:  # type: ignore[override]
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float) -> None:
        """Until it has ended, at most `timeout` seconds."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        """SIGKILL and reap (bounded: a killed process is reaped at once)."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.conn.close()

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Ask it to stop; kill it if it has not within the grace period."""
        self.ask_to_stop()
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
