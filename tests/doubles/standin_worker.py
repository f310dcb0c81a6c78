"""Stand-in for `python -m worker run`: obeys the worker's operational contract, nothing else.

The watchdog tests run it in place of the real worker, so they pin the contract rather than the
worker's internals. I/O: files in the data dir ($NEUCO_DATA_DIR, default ./var); stderr.

The contract it obeys (the real worker must obey the same):
- `<data>/worker.lock`: opened without truncating, then an exclusive non-blocking `flock` held
  for the whole life of the process; if another process holds it, exit 75 (EX_TEMPFAIL,
  "another worker is running"). Once locked, the file is rewritten to hold the pid — which also
  moves its mtime, the watchdog's sign that a worker has just started.
- `<data>/heartbeat`: an ISO-8601 UTC time, replaced atomically at start and on every tick.
- SIGTERM or SIGINT: leave the loop and exit 0.

Test-only knobs: `--tick` (seconds between heartbeats), `--hang-after N` (after N ticks stop
heartbeating but keep running, like a worker stuck in a call without a timeout),
`--ignore-term` (ignore SIGTERM too, like a worker stuck in C code: only SIGKILL ends it) and
`--child-pid-file` (spawn a child in the worker's process group and record its pid, to show
that the watchdog's SIGKILL reaches the whole group).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

EXIT_LOCKED = 75  # EX_TEMPFAIL: the lock is held by another worker
CHILD_LIFETIME_S = 600  # bounds the child's life even if every clean-up fails


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="standin_worker")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--config", required=True)
    run.add_argument("--tick", type=float, default=60.0)
    run.add_argument("--hang-after", type=int, default=None)
    run.add_argument("--ignore-term", action="store_true")
    run.add_argument("--child-pid-file", default=None)
    return parser.parse_args(argv)


def take_lock(lock_path: Path) -> int | None:
    """Lock the worker lock file and write our pid into it; None when another process holds it."""
    # No O_TRUNC: truncating before holding the lock would wipe the running worker's pid.
    # os.open's fds are not inherited by children (PEP 446), so no child can keep the lock alive.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.fsync(fd)
    return fd


def write_heartbeat(path: Path) -> None:
    """Replace the heartbeat atomically, so a reader never sees a half-written time."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(now + "\n")
    os.replace(tmp, path)


def spawn_child(pid_file: Path) -> subprocess.Popen[bytes]:
    # The pid file's path rides along as an argument, so the tests find the child by it.
    child = subprocess.Popen(
        [sys.executable, "-c", f"import time; time.sleep({CHILD_LIFETIME_S})", str(pid_file)],
        stdin=subprocess.DEVNULL,
    )
    pid_file.write_text(f"{child.pid}\n")
    return child


def run(args: argparse.Namespace) -> int:
    data_dir = Path(os.environ.get("NEUCO_DATA_DIR", "./var"))
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_fd = take_lock(data_dir / "worker.lock")
    if lock_fd is None:
        print(
            f"standin_worker: another worker is running ({data_dir / 'worker.lock'} is locked)",
            file=sys.stderr,
        )
        return EXIT_LOCKED
    heartbeat = data_dir / "heartbeat"
    write_heartbeat(heartbeat)

    # The child must be spawned before the signal mask changes below: a blocked mask is
    # inherited across exec, and the child must die of the watchdog's signals like any process.
    if args.child_pid_file:
        spawn_child(Path(args.child_pid_file))

    stop_signals = {signal.SIGINT} if args.ignore_term else {signal.SIGINT, signal.SIGTERM}
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Block the stop signals and wait for them with a timeout: one call is both the tick's sleep
    # and the prompt reaction to SIGTERM, with no handler racing the loop.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    ticks = 0
    while signal.sigtimedwait(stop_signals, args.tick) is None:
        ticks += 1
        if args.hang_after is None or ticks <= args.hang_after:
            write_heartbeat(heartbeat)
    os.close(lock_fd)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
