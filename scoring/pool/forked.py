"""The pool's side of the template (`scoring.pool.template`): start it, ask it for scoring
processes, and learn how they ended. A forked process is not this process's child: it is
signalled through a pidfd (never a recycled pid) and its exit status comes from the template.
Linux only (pidfd, SCM_RIGHTS, PR_SET_PDEATHSIG); elsewhere the pool starts fresh interpreters.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from scoring.pool.process import ScoringProcess, child_environment

FORK_REPLY_SECONDS = 30.0  # a fork takes milliseconds; a template this slow is treated as dead


def forking_works() -> bool:
    """Linux with pidfds (a container's seccomp profile may refuse them: then processes are
    started as fresh interpreters)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


class TemplateGone(Exception):
    """The template died or stopped answering."""


class Template:
    """A started template (`scoring.pool.template`); `ready` once it has loaded torch."""

    def __init__(self, env: Mapping[str, str], python: str = sys.executable) -> None:
        parent_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [python, "-m", "scoring.pool.child", "--template", str(template_end.fileno()),
                 str(os.getpid())],
                pass_fds=[template_end.fileno()],
                env=child_environment(env),
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            template_end.close()
        self.socket = parent_end
        self.closed = False
        self.ready = False
        self.children: dict[int, ForkedChild] = {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def fileno(self) -> int:
        return self.socket.fileno()

    def alive(self) -> bool:
        return self.process.poll() is None

    def receive(self, timeout: float = 0.0) -> list[str]:
        """Read what the template has said (waiting up to `timeout` for the first message);
        exit statuses go to their processes. Raises TemplateGone when the socket closes."""
        said: list[str] = []
        if self.closed:
            raise TemplateGone("the template was stopped")
        try:
            self.socket.settimeout(timeout)
            while True:
                try:
                    data = self.socket.recv(256)
                except (BlockingIOError, TimeoutError):
                    return said
                if not data:
                    raise TemplateGone("the template closed its socket")
                line = data.decode("ascii", "replace")
                said.append(line)
                self._note(line)
                self.socket.settimeout(0.0)
        except OSError as exc:
            raise TemplateGone(str(exc)) from None

    def _note(self, line: str) -> None:
        words = line.split()
        if words == ["ready"]:
            self.ready = True
        elif len(words) == 3 and words[0] == "exited":
            child = self.children.pop(int(words[1]), None)
            if child is not None:
                child.exit_code = int(words[2])

    def fork(self) -> ForkedChild:
        """A new scoring process (torch already loaded), or TemplateGone."""
        parent_end, child_end = Pipe(duplex=True)
        try:
            try:
                socket.send_fds(self.socket, [b"fork"], [child_end.fileno()])
            except OSError as exc:
                raise TemplateGone(str(exc)) from None
        finally:
            child_end.close()
        deadline = time.monotonic() + FORK_REPLY_SECONDS
        while time.monotonic() < deadline:
            for line in self.receive(timeout=max(0.0, deadline - time.monotonic())):
                words = line.split()
                if len(words) == 2 and words[0] == "forked":
                    child = ForkedChild(int(words[1]), parent_end, self)
                    self.children[child.pid] = child
                    return child
        parent_end.close()
        raise TemplateGone(f"no answer to fork within {FORK_REPLY_SECONDS:g} s")

    def stop(self, grace_seconds: float = 2.0) -> None:
        """Close the socket (it exits, its processes die with it); kill it if it lingers."""
        self.closed = True
        self.socket.close()
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class ForkedChild(ScoringProcess):
    """A scoring process forked by the template, with `ChildProcess`'s interface."""

    no_exit_yet = "ended (its exit status is not known)"

    def __init__(self, pid: int, conn: Connection, template: Template) -> None:
        super().__init__()
        self.pid = pid
        self.conn = conn
        self.template = template
        self.exit_code: int | None = None  # reported by the template
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone (and reaped): its status is on the way
            self._pidfd = None

    @property
    def returncode(self) -> int | None:
        return self.exit_code

    def wait(self, timeout: float) -> None:
        """Until the template reports its end, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.returncode is None and time.monotonic() < deadline:
            try:
                self.template.receive(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
            except TemplateGone:
                return

    def kill(self) -> None:
        """SIGKILL and wait (bounded) for its status."""
        if self.returncode is None and self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        self.conn.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def stop(self, grace_seconds: float = 2.0) -> None:
        self.ask_to_stop()
        self.wait(timeout=grace_seconds)
        self.kill()
