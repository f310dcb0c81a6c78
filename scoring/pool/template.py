"""The template: `python -m scoring.pool.child --template FD PARENT_PID`, started by
`ScoringPool`. It loads torch and the engine once, then forks scoring processes that start with
both loaded: a process costs milliseconds instead of a torch load (one to two seconds of CPU
each), and the processes share the template's pages until they write to them. (Started through
`scoring.pool.child` so that `ps` names the template and the processes it forks as the pool's.)

Talks to its parent over the Unix socket at FD (SOCK_SEQPACKET: one short text per message):

- parent -> template: `fork`, with the scoring process's end of its pipe attached (SCM_RIGHTS);
- template -> parent: `ready` once torch is loaded; `forked PID` for every `fork`, in order;
  `exited PID CODE` when a scoring process it forked has ended (CODE as `Popen.returncode`:
  the exit status, or minus the signal that killed it).

Forked before any torch operation has run: no intra-op threads, no BLAS state, no GPU context
exist yet. A forked process dies with the template (PR_SET_PDEATHSIG), the template dies with its
parent; SIGINT and SIGTERM are left to the parent, as in `scoring.pool.child`.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys

from scoring.pool.child import die_with_parent, run_in_process


def _send(control: socket.socket, line: str) -> None:
    control.send(line.encode("ascii"))


def _returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, f"exited {pid} {_returncode(status)}")


def _fork(control: socket.socket, wake_r: int, wake_w: int, fd: int) -> int:
    template_pid = os.getpid()
    pid = os.fork()
    if pid == 0:  # the scoring process
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for own in (wake_r, wake_w):
            os.close(own)
        control.close()
        code = 1
        try:
            die_with_parent(template_pid)  # also if the template died before this line
            code = run_in_process(fd)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(fd)
    return pid


def serve(control: socket.socket) -> int:
    """Fork scoring processes on request until the parent closes the socket."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    _send(control, "ready")
    while True:
        readable, _, _ = select.select([control, wake_r], [], [])
        if wake_r in readable:
            try:
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
            _reap(control)
        if control in readable:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
            if not message:
                return 0  # the parent closed the socket: it is going away
            if message != b"fork" or len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                continue
            _send(control, f"forked {_fork(control, wake_r, wake_w, fds[0])}")
            _reap(control)  # one that died at once is reported after its `forked`


def main(argv: list[str]) -> int:
    fd, parent_pid = int(argv[0]), int(argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(parent_pid)
    control = socket.socket(fileno=fd)
    import torch

    import scoring.engine  # noqa: F401 - loaded once, here, for every process forked

    torch.set_num_threads(1)
    try:
        return serve(control)
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the parent closed the socket while an exit was being reported
    finally:
        control.close()
