"""A scoring process: `python -m scoring.pool.child FD PARENT_PID [--reader]`, started by
`ScoringPool`, or forked by the template (`python -m scoring.pool.child --template FD
PARENT_PID`, `scoring.pool.template`).
Reads the submission files and the shared matrices it is told to; writes the prepared matrix
of a `ReadJob` to the file named in it; talks to its parent over the pipe at FD.

Single-threaded: the parent starts it with OMP/MKL/OpenBLAS thread counts of 1 in its
environment (read by those libraries when they load), and torch is told the same. It dies
with its parent (Linux PR_SET_PDEATHSIG) and exits when the pipe closes or it is told to stop;
SIGINT and SIGTERM are left to the parent.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
import threading
import traceback

PR_SET_PDEATHSIG = 1
FIRST_JOB_SECONDS = 1.0  # without a first job or WARM_UP from the pool by then, load torch


def die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Matrices:
    """The shared matrix of the submission being scored, mapped once per file."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.matrix = None

    def get(self, path: str):  # noqa: ANN201 - numpy is imported late on purpose
        import numpy as np

        if path != self.path:
            self.matrix = None
            self.matrix = np.load(path, mmap_mode="r")
            self.path = path
        return self.matrix


def _read(job):  # noqa: ANN001, ANN202
    import numpy as np
    import pyarrow as pa

    from scoring.pool.messages import Reply, TableRead
    from scoring.submission import load_submission

    pa.set_cpu_count(max(1, job.threads))
    try:
        table = load_submission(job.path, job.expected_ids, **job.options)
    finally:
        pa.set_cpu_count(1)
    out = np.lib.format.open_memmap(
        job.matrix_path, mode="w+", dtype=np.float32, shape=table.matrix.shape
    )
    out[...] = table.matrix
    out.flush()
    del out
    value = TableRead(
        ids=table.ids.tolist(),
        shape=tuple(table.matrix.shape),
        found_dim=table.found_dim,
        findings=tuple(table.findings),
    )
    return Reply("ok", value, peak_rss_mb=_peak_rss_mb())


def _score(job, matrices, send):  # noqa: ANN001, ANN202
    from scoring.engine import resolve_device, score_rows
    from scoring.pool.messages import Progress, Reply
    from scoring.probes.run import probe_steps

    device, _ = resolve_device(job.config.device)
    steps = probe_steps(job.config)
    outcome = score_rows(
        matrices.get(job.matrix_path),
        job.task,
        job.config,
        job.seed,
        device,
        on_epoch=lambda done: send(Progress(done, steps)),
    )
    value = outcome if job.keep_outcome else outcome.score
    return Reply("ok", value, peak_rss_mb=_peak_rss_mb())


class _Warmup:
    """torch and the engine, imported on a thread of their own: the process says READY at once
    and can read a submission file (numpy and pyarrow only) while torch loads, which takes
    one to two seconds of CPU; a scoring job waits for it."""

    def __init__(self, announce) -> None:  # noqa: ANN001 - called with WARM when done
        self.failure: BaseException | None = None
        self._announce = announce
        self._thread = threading.Thread(target=self._run, name="warm-up", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            import torch

            import scoring.engine  # noqa: F401 - the scoring modules, loaded ahead of the job

            torch.set_num_threads(1)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the first scoring job
            self.failure = exc
        from scoring.pool.messages import WARM

        self._announce(WARM)

    def wait(self) -> None:
        self._thread.join()
        if self.failure is not None:
            raise self.failure


def serve(conn, reader: bool = False) -> int:  # noqa: ANN001
    """Answer jobs until STOP or the parent goes away. A `reader` only reads files (the pool
    sends it nothing else) and never loads torch."""
    from scoring.pool.messages import READY, STOP, WARM_UP, ReadJob, Reply
    from scoring.submission import SubmissionError

    lock = threading.Lock()  # the warm-up thread and this one both write to the pipe

    def send(message) -> None:  # noqa: ANN001
        with lock:
            conn.send(message)

    warmup: _Warmup | None = None

    def warm_up() -> _Warmup:
        nonlocal warmup
        if warmup is None:
            warmup = _Warmup(announce=lambda m: _quietly(send, m))
        return warmup

    matrices = _Matrices()
    send(READY)
    # The pool answers READY with a first job or WARM_UP (messages.WARM_UP): a file to read
    # goes first, on its own, and torch loads after it.
    if not reader and not conn.poll(FIRST_JOB_SECONDS):
        warm_up()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return 0
        if job == STOP:
            return 0
        if job == WARM_UP:
            warm_up()
            continue
        try:
            if isinstance(job, ReadJob):
                reply = _read(job)
            else:
                warm_up().wait()
                reply = _score(job, matrices, send)
        except SubmissionError as exc:
            reply = Reply("participant", code=exc.code, message=exc.message)
        except MemoryError:
            reply = Reply("memory", message="ran out of memory")
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            reply = Reply("error", message=text, extra={"traceback": traceback.format_exc()})
        try:
            send(reply)
        except (BrokenPipeError, OSError):
            return 0
        if not reader:
            warm_up()  # after a first job that was a file to read


def _quietly(send, message) -> None:  # noqa: ANN001
    try:
        send(message)
    except OSError:
        pass  # the parent is gone; the main loop notices


def run_in_process(fd: int, reader: bool = False) -> int:
    """Serve the pool over the pipe at `fd` (a started process, or one forked by the template)."""
    from multiprocessing.connection import Connection

    conn = Connection(fd)
    try:
        return serve(conn, reader=reader)
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    fd, parent_pid = int(argv[0]), int(argv[1])
    # Ctrl-C and a SIGTERM to the process group are for the parent, which decides: a worker
    # told to stop finishes the submission being scored. Its scoring processes die with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(parent_pid)
    return run_in_process(fd, reader="--reader" in argv[2:])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--template"]:
        from scoring.pool.template import main as template_main

        code = template_main(sys.argv[2:])
    else:
        code = main(sys.argv[1:])
    # Skip the interpreter's teardown (unloading torch takes most of a second); nothing is
    # buffered but the standard streams, and the pipe is closed.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
