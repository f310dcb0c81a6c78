"""ScoringPool: long-lived single-threaded scoring processes, shared by every submission.
Starts and kills processes; a dispatcher thread in the caller's process hands out jobs and
watches the processes.

On Linux the scoring processes are forked from a template that has loaded torch once
(`scoring.pool.template`, `scoring.pool.forked`): a process is ready in milliseconds, and torch
is loaded once instead of once per process. While the template loads, a file to read goes to a
started process that never loads torch (a reader, retired once the scoring processes are
there). Elsewhere, or where pidfds are refused, every process is a started interpreter that
loads torch itself (`scoring.pool.process`), after its first file to read if it has one.

Started once (by the CLI or the worker) and reused. Jobs — read a file, score one task — queue
in arrival order and go to the next idle process. While a process works on a job the
dispatcher watches it: past `memory_mb` of private memory or `timeout_seconds` of wall time it
is killed, and a process that dies is replaced. Either way only that job fails, with a
`ChildFailed` naming what happened; the pool, the caller's thread (its heartbeat, its lease)
and the next job carry on.

Callers wait for their jobs in their own thread (`run`), where their progress and keep-alive
callbacks run, so a slow callback (a database write) never holds up the dispatcher.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import wait

from scoring.pool.forked import Template, TemplateGone, forking_works
from scoring.pool.messages import READY, WARM, WARM_UP, Progress, ReadJob, Reply
from scoring.pool.process import ChildProcess, ScoringProcess

log = logging.getLogger(__name__)

START_FAILURES_BEFORE_GIVING_UP = 3
START_RETRY_SECONDS = 30.0  # after giving up, wait this long before starting processes again


@dataclass(frozen=True)
class PoolLimits:
    """Per process and job. Defaults fit an 8-vCPU, 32 GB VM running 8 processes beside the
    database: 2 GB each, and a quarter of an hour for one step."""

    memory_mb: float | None = 2048.0
    timeout_seconds: float | None = 900.0


class ChildFailed(Exception):
    """A scoring process ended a job abnormally. `reason`: memory (over the cap), timeout,
    crash (died: killed from outside, a segfault), error (an exception of ours in the child),
    start (processes die before they are ready). `during`: reading | scoring."""

    def __init__(self, reason: str, during: str, detail: str) -> None:
        self.reason = reason
        self.during = during
        self.detail = detail
        super().__init__(f"scoring process {reason} while {during}: {detail}")


@dataclass
class _Job:
    request: object
    during: str
    events: queue.Queue
    index: int
    deadline: float | None = None
    timeout_seconds: float | None = None  # the limit it started under (limits may change)
    cancelled: bool = False


@dataclass
class _Slot:
    child: ScoringProcess
    job: _Job | None = None
    reader: bool = False  # a started process that only reads files while the template loads


class ScoringPool:
    """`processes` single-threaded scoring processes; `env` is the environment they start
    with (plus one thread per numeric library). `limits` may be replaced at any time; jobs
    started afterwards run under the new ones."""

    def __init__(
        self,
        processes: int,
        env: Mapping[str, str],
        limits: PoolLimits = PoolLimits(),
        *,
        poll_seconds: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        python: str = sys.executable,
        fork: bool | None = None,
    ) -> None:
        if processes < 1:
            raise ValueError(f"processes must be >= 1, got {processes}")
        self.processes = processes
        self.limits = limits
        self._env = dict(env)
        self._python = python
        self._poll = poll_seconds
        self._clock = clock
        self._queue: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = Pipe(duplex=False)
        self._slots: list[_Slot] = []
        # Scoring processes are forked from a template that has loaded torch (Linux), else
        # started as fresh interpreters that load it themselves.
        self._fork = forking_works() if fork is None else fork
        self._template: Template | None = None
        self._closing = False
        self._start_failures = 0
        self._no_start_until = 0.0
        self.replaced = 0  # processes started to replace one that died or was killed
        self.peak_memory_mb = 0.0
        self._thread = threading.Thread(target=self._dispatch, name="scoring-pool", daemon=True)
        self._thread.start()

    # -- the caller's side ------------------------------------------------------------------

    def __enter__(self) -> ScoringPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        requests: Sequence[object],
        during: str,
        on_progress: Callable[[int, int, int], None] | None = None,
        on_wait: Callable[[], None] | None = None,
        wait_seconds: float = 0.5,
    ) -> list[Reply]:
        """Run the jobs (any order, in parallel); their replies in request order. Raises
        ChildFailed for the first job that ends abnormally, after dropping the others that
        have not started. `on_progress(job index, steps done, steps)` and `on_wait()` (at least
        every `wait_seconds`) run in this thread."""
        events: queue.Queue = queue.Queue()
        jobs = [_Job(r, during, events, i) for i, r in enumerate(requests)]
        with self._lock:
            if self._closing:
                raise RuntimeError("the scoring pool is closed")
            self._queue.extend(jobs)
        self._wake()
        replies: dict[int, Reply] = {}
        try:
            while len(replies) < len(jobs):
                try:
                    index, message = events.get(timeout=wait_seconds)
                except queue.Empty:
                    index, message = None, None
                if isinstance(message, Progress) and on_progress is not None:
                    on_progress(index, message.done, message.steps)
                elif isinstance(message, Reply):
                    replies[index] = message
                elif isinstance(message, ChildFailed):
                    raise message
                if on_wait is not None:
                    on_wait()
        finally:
            if len(replies) < len(jobs):
                self._cancel(jobs)
        return [replies[i] for i in range(len(jobs))]

    def pids(self) -> list[int]:
        """The process ids of the scoring processes started so far (some may not be ready)."""
        return [slot.child.pid for slot in list(self._slots)]

    @property
    def template_pid(self) -> int | None:
        """The template's process id while there is one (Linux), else None."""
        template = self._template
        return template.pid if template is not None else None

    def _scorers(self) -> list[_Slot]:
        return [slot for slot in self._slots if not slot.reader]

    def wait_ready(self, timeout_seconds: float) -> bool:
        """Wait (bounded) until every process has loaded torch as well; True if they have."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            slots = self._scorers()
            if len(slots) == self.processes and all(s.child.warm for s in slots):
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop the processes and the dispatcher; queued jobs fail."""
        with self._lock:
            self._closing = True
        self._wake()
        self._thread.join(timeout=30)

    def _cancel(self, jobs: list[_Job]) -> None:
        with self._lock:
            for job in jobs:
                job.cancelled = True
            self._queue = deque(j for j in self._queue if not j.cancelled)

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"x")
        except OSError:
            pass

    # -- the dispatcher thread --------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closing:
                        break
                self._start_missing()
                self._assign()
                self._watch()  # also at once: a job may be over its limits from the start
                by_conn = {s.child.conn: s for s in self._slots}
                template = [self._template] if self._template is not None else []
                for conn in wait([*by_conn, self._wake_r, *template], timeout=self._poll):
                    if conn is self._wake_r:
                        while self._wake_r.poll():
                            self._wake_r.recv_bytes()
                    elif conn is self._template:
                        self._hear_template()
                    else:
                        self._receive(by_conn[conn])
                self._watch()
        except Exception:  # noqa: BLE001 - a dead dispatcher must not leave callers hanging
            log.exception("scoring pool dispatcher failed")
        finally:
            self._shutdown()

    def _start_missing(self) -> None:
        if self._clock() < self._no_start_until:
            return
        if not self._fork:
            while len(self._scorers()) < self.processes:
                self._slots.append(_Slot(ChildProcess(self._env, self._python)))
            return
        template = self._template
        if template is not None and not template.alive():
            self._template_lost("exited before it was ready" if not template.ready else "died")
            template = None
        if template is None:
            template = self._template = Template(self._env, self._python)
        if not template.ready:
            # A file to read does not wait for torch: a started process reads it meanwhile.
            with self._lock:
                reading = any(isinstance(j.request, ReadJob) for j in self._queue)
            if reading and not any(slot.reader for slot in self._slots):
                self._slots.append(_Slot(ChildProcess(self._env, self._python, reader=True),
                                         reader=True))
            return
        while len(self._scorers()) < self.processes:
            try:
                self._slots.append(_Slot(template.fork()))
            except TemplateGone as exc:
                self._template_lost(str(exc))
                return
        for slot in [s for s in self._slots if s.reader and s.job is None]:
            self._slots.remove(slot)  # the scoring processes read from now on
            slot.child.stop()

    def _hear_template(self) -> None:
        template = self._template
        if template is None:
            return
        try:
            template.receive()
        except TemplateGone as exc:
            self._template_lost(str(exc))

    def _template_lost(self, detail: str) -> None:
        """The template is gone; its processes die with it (and are noticed one by one)."""
        template, self._template = self._template, None
        if template is None:
            return
        template.stop(grace_seconds=0.5)
        log.warning("the scoring processes' template (pid %s) %s", template.pid, detail)
        if not template.ready:
            self._count_start_failure(detail)

    def _count_start_failure(self, detail: str) -> None:
        """A process died before it was ready: after a few in a row, fail what is queued and
        wait a while before starting processes again."""
        self._start_failures += 1
        if self._start_failures >= START_FAILURES_BEFORE_GIVING_UP:
            self._fail_queued("start", f"scoring processes die as they start ({detail})")
            self._start_failures = 0
            self._no_start_until = self._clock() + START_RETRY_SECONDS

    def _assign(self) -> None:
        for slot in list(self._slots):  # a process lost on sending is dropped from the list
            if slot.job is not None or not slot.child.ready:
                continue
            with self._lock:
                job = self._next_job(reader=slot.reader)
            if job is None:
                self._warm_idle()
                continue
            timeout = job.timeout_seconds = self.limits.timeout_seconds
            job.deadline = None if timeout is None else self._clock() + timeout
            slot.job = job
            slot.child.told_to_warm = True  # after its first job, at the latest
            log.debug("scoring process %s started %s job %d", slot.child.pid, job.during,
                      job.index)
            try:
                slot.child.conn.send(job.request)
            except OSError:
                self._lose(slot, "crash", slot.child.describe_exit())

    def _next_job(self, reader: bool) -> _Job | None:
        """The oldest queued job this process may take (a reader takes files to read only)."""
        for job in self._queue:
            if not reader or isinstance(job.request, ReadJob):
                self._queue.remove(job)
                return job
        return None

    def _warm_idle(self) -> None:
        """Tell ready processes that got no first job to load torch now (messages.WARM_UP)."""
        for slot in self._scorers():
            child = slot.child
            if child.ready and slot.job is None and not child.told_to_warm:
                child.told_to_warm = True
                try:
                    child.conn.send(WARM_UP)
                except OSError:
                    pass  # gone: _watch notices

    def _receive(self, slot: _Slot) -> None:
        try:
            while slot.child.conn.poll():
                message = slot.child.conn.recv()
                if message == READY:
                    slot.child.ready = True
                    self._start_failures = 0
                    log.debug("scoring process %s ready", slot.child.pid)
                elif message == WARM:
                    slot.child.warm = True
                    log.debug("scoring process %s loaded torch", slot.child.pid)
                elif isinstance(message, Progress) and slot.job is not None:
                    slot.job.events.put((slot.job.index, message))
                elif isinstance(message, Reply) and slot.job is not None:
                    job, slot.job = slot.job, None
                    log.debug("scoring process %s ended %s job %d", slot.child.pid, job.during,
                              job.index)
                    self.peak_memory_mb = max(self.peak_memory_mb, message.peak_rss_mb)
                    if not job.cancelled:
                        job.events.put((job.index, message))
        except (EOFError, OSError):
            slot.child.wait(timeout=2)  # the pipe closed: the process is on its way out
            self._lose(slot, "crash", slot.child.describe_exit())

    def _watch(self) -> None:
        now = self._clock()
        for slot in list(self._slots):
            child = slot.child
            if child.exited():
                self._lose(slot, "crash", child.describe_exit())
                continue
            if slot.job is None:
                continue
            cap = self.limits.memory_mb
            used = child.memory_mb()
            if cap is not None and used is not None and used > cap:
                child.kill()
                self._lose(slot, "memory", f"used {used:,.0f} MB, the limit is {cap:,.0f} MB")
            elif slot.job.deadline is not None and now > slot.job.deadline:
                child.kill()
                self._lose(slot, "timeout", f"still working after {slot.job.timeout_seconds:g} s")

    def _lose(self, slot: _Slot, reason: str, detail: str) -> None:
        """The slot's process is gone or killed: fail its job, drop it (a new one starts)."""
        slot.child.kill()
        if slot in self._slots:
            self._slots.remove(slot)
        job = slot.job
        if job is not None and not job.cancelled:
            job.events.put((job.index, ChildFailed(reason, job.during, detail)))
        if not slot.child.ready:
            log.warning("scoring process %s %s before it was ready", slot.child.pid, detail)
            self._count_start_failure(detail)
        else:
            self.replaced += 1
            log.warning(
                "scoring process %s %s; %s",
                slot.child.pid,
                detail,
                f"its job failed ({reason})" if job else "it was idle",
            )

    def _fail_queued(self, reason: str, detail: str) -> None:
        with self._lock:
            jobs, self._queue = list(self._queue), deque()
        for job in jobs:
            job.events.put((job.index, ChildFailed(reason, job.during, detail)))

    def _shutdown(self) -> None:
        with self._lock:
            self._closing = True
        self._fail_queued("start", "the scoring pool was closed")
        for slot in self._slots:
            if slot.job is not None and not slot.job.cancelled:
                slot.job.events.put(
                    (slot.job.index, ChildFailed("crash", slot.job.during, "the pool was closed"))
                )
            slot.child.ask_to_stop()  # all at once: they exit in parallel
        for slot in self._slots:
            slot.child.stop()
        self._slots.clear()
        if self._template is not None:
            self._template.stop()
            self._template = None
