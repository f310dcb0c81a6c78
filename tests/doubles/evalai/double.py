"""An EvalAI test double over real HTTP: a stdlib `ThreadingHTTPServer` on 127.0.0.1 (ephemeral
port) that behaves like the EvalAI server for a remote-evaluation worker (protocol §7.2 A1-A10)
and for the real `evalai` CLI (§7.3 B1-B7), with fault injection and a manual clock.
I/O: listens on a loopback socket while started; everything else is in memory.

Use from Python (`EvalAIDouble`) or over HTTP through the test-only `/__test__/` endpoints:

    POST   /__test__/seed                     {phases?, split?, labels?, descending?, fifo?, ...}
    GET    /__test__/fixtures
    POST   /__test__/submissions              {team, phase, file_text | file_base64, filename,
                                               is_public, method_name, message, is_baseline}
    GET    /__test__/submissions/<pk>         state, raw stdout/stderr/result/metadata, calls
    GET    /__test__/submissions/<pk>/calls   every PATCH/PUT that reached update_submission
    POST   /__test__/submissions/<pk>/cancel | /rerun | /resume
    POST   /__test__/clock/advance            {seconds}
    POST   /__test__/faults                   {kind, times, status, body, retry_after, delay,
                                               location, method, path}   (see faults)
    POST   /__test__/faults/random            {probability, seed, statuses?, method?, path?}
    DELETE /__test__/faults
    POST   /__test__/rate_limit               {per_minute: int | null}   (EvalAI: 60)
    POST   /__test__/tokens/revoke            {token}
    GET    /__test__/queue                    messages with visibility and receive counts
    POST   /__test__/queue/lose               {submission_pk}: its message received and deleted
                                               elsewhere (a lost hand-off)
    GET    /__test__/requests                 what the double received (never header values)
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from tests.doubles.evalai import host_listing
from tests.doubles.evalai import uploads as evalai_uploads
from tests.doubles.evalai.faults import Fault, FaultPlan, RandomFailures, UserRateThrottle
from tests.doubles.evalai.handler import EvalAIRequestHandler, LoggedRequest
from tests.doubles.evalai.model import Fixtures, SubmissionSnapshot, UpdateCall
from tests.doubles.evalai.sqs_queue import (
    DEFAULT_RETENTION,
    DEFAULT_VISIBILITY_TIMEOUT,
    FakeClock,
    MessageView,
)
from tests.doubles.evalai.state import EvalAIState

__all__ = ["EvalAIDouble", "Fault", "FakeClock", "Fixtures", "SubmissionSnapshot", "UpdateCall"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    double: EvalAIDouble

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) makes our late write fail; that is expected here.
        pass


class EvalAIDouble:
    """A seeded EvalAI server. `start()` binds it; `stop()` (or leaving `with`) shuts it down."""

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        retention_seconds: float = DEFAULT_RETENTION,
    ) -> None:
        self.clock = clock or FakeClock()
        self.lock = threading.RLock()
        self.state = EvalAIState(
            self.clock, visibility_timeout=visibility_timeout, retention_seconds=retention_seconds
        )
        self.fixtures: Fixtures = self.state.seed()
        self._faults = FaultPlan()
        self._throttle: UserRateThrottle | None = None
        self._log: list[LoggedRequest] = []
        self.media_content_length = True  # False: /media answers carry no Content-Length
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EvalAIDouble:
        if self._server is not None:
            raise RuntimeError("the EvalAI double is already running")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), EvalAIRequestHandler)
        server.double = self
        self._server = server
        self.state.base_url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "slow" fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> EvalAIDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the EvalAI double is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------------ fixtures and submissions
    def seed(self, **options: Any) -> Fixtures:
        """Reset everything and create a fresh challenge (see `EvalAIState.seed`)."""
        with self.lock:
            self.fixtures = self.state.seed(**options)
            self._log.clear()
            return self.fixtures

    def create_submission(
        self,
        *,
        team: str | int = "alpha",
        phase: str | int = "dev",
        file_bytes: bytes = b"",
        filename: str = "submission.csv",
        is_public: bool | None = True,
        method_name: str = "",
        message: str | None = "string",
        is_baseline: bool = False,
    ) -> int:
        """A participant upload: a `submitted` row, its file under /media, and (unless
        `message` is None) its queue message ("string" pks as the web/CLI upload publishes
        them, or "int" as send_submission_message does). Returns the submission pk."""
        with self.lock:
            sub = self.state.create_submission(
                team_pk=self._team_pk(team),
                phase_pk=self._phase_pk(phase),
                file_bytes=file_bytes,
                filename=filename,
                is_public=is_public,
                message=message,
                method_name=method_name,
                is_baseline=is_baseline,
            )
            return sub.pk

    def submission(self, pk: int) -> SubmissionSnapshot:
        with self.lock:
            return self.state.snapshot(pk)

    def updates(self, pk: int | None = None) -> list[UpdateCall]:
        """Every PATCH/PUT that reached update_submission (for `pk`, or all), in order."""
        with self.lock:
            return [c for c in self.state.update_calls if pk is None or c.submission_pk == pk]

    def puts(self, pk: int) -> list[UpdateCall]:
        return [c for c in self.updates(pk) if c.method == "PUT"]

    def patches(self, pk: int) -> list[UpdateCall]:
        return [c for c in self.updates(pk) if c.method == "PATCH"]

    def leaderboard(self, phase: str = "dev", *, public_only: bool = True) -> list[dict]:
        """The rows a participant would see on that phase's split (A10 `results`)."""
        with self.lock:
            split_pk = self.fixtures.phase_splits[phase]
            page = self.state.leaderboard(split_pk, None, only_public=public_only)
            return page["results"]

    def cancel(self, pk: int) -> None:
        with self.lock:
            self.state.cancel(pk)

    def rerun(self, pk: int) -> int:
        with self.lock:
            return self.state.rerun(pk)

    def resume(self, pk: int) -> None:
        with self.lock:
            self.state.resume(pk)

    def rename_team(self, team: str | int, name: str) -> None:
        """A participant renames the team (EvalAI: team names are unique, ASCII, <= 100)."""
        with self.lock:
            if any(t.name == name for t in self.state.teams.values()):
                raise ValueError(f"participant team with this team name already exists: {name!r}")
            if len(name) > 100 or not name.isascii():
                raise ValueError(f"EvalAI refuses the team name {name!r}")
            pk = self._team_pk(team)
            self.state.teams[pk].name = name
            self.fixtures = self.state.fixtures = dataclasses.replace(
                self.fixtures, teams={t.name: t.pk for t in self.state.teams.values()}
            )

    def set_public(self, pk: int, is_public: bool) -> None:
        """What a participant's visibility toggle (PATCH .../submission/<pk>, served over HTTP
        too: module my_submissions) does; EvalAI sends no queue message for it."""
        with self.lock:
            sub = self.state.submissions[pk]
            sub.is_public = is_public
            sub.when_made_public = self.clock.now() if is_public else None

    # ------------------------------------------------------------------ queue and clock
    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock.advance(seconds)

    def queue_messages(self) -> list[MessageView]:
        with self.lock:
            return self.state.queues[self.fixtures.challenge_pk].messages()

    def lose_message(self, pk: int) -> int:
        """The hand-off fault behind "stuck in submitted": the submission's queue message was
        received and deleted elsewhere; EvalAI keeps the submission as it was."""
        with self.lock:
            return host_listing.lose_message(self.state, pk)

    def enqueue(self, body: dict[str, Any]) -> str:
        """Publish a raw message body (e.g. a malformed one)."""
        with self.lock:
            return self.state.queues[self.fixtures.challenge_pk].send(body)

    def set_visibility_timeout(self, seconds: float) -> None:
        with self.lock:
            self.state.queues[self.fixtures.challenge_pk].visibility_timeout = float(seconds)

    # ------------------------------------------------------------------ auth and faults
    def revoke_token(self, token: str) -> None:
        """Like regenerating the token on the profile page: the old one is now invalid."""
        with self.lock:
            self.state.revoke(token)

    def inject(self, kind: str, times: int = 1, **options: Any) -> None:
        """Queue a fault (`Fault` fields: status, body, retry_after, delay, location, method,
        path); e.g. ``inject("status", 2, status=503)`` or ``inject("slow", delay=1.0)``."""
        with self.lock:
            self._faults.add(Fault(kind, times, **options))

    def inject_random_5xx(self, probability: float, seed: int, **options: Any) -> None:
        with self.lock:
            self._faults.set_random(RandomFailures(probability, seed, **options))

    def set_rate_limit(self, per_minute: int | None) -> None:
        """DRF's per-user throttle on the fake clock (EvalAI: 60/minute); None turns it off."""
        with self.lock:
            self._throttle = (
                None if per_minute is None else UserRateThrottle(per_minute, self.clock.now)
            )

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._throttle = None

    def requests(
        self, *, path: str | None = None, method: str | None = None
    ) -> list[LoggedRequest]:
        """Requests received so far (optionally those whose path starts with `path`)."""
        with self.lock:
            return [
                r
                for r in self._log
                if (path is None or r.path.startswith(path)) and (method in (None, r.method))
            ]

    # ------------------------------------------------------------------ hooks for the handler
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            return self._faults.take(method, path)

    def sleep_interruptibly(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def throttle_check(self, user_key: str) -> int | None:
        with self.lock:
            return None if self._throttle is None else self._throttle.check(user_key)

    def log_request(self, entry: LoggedRequest) -> None:
        with self.lock:
            self._log.append(entry)

    def read_media(self, path: str) -> bytes | None:
        with self.lock:
            return self.state.media.get(path)

    def put_part(self, upload_id: str, part: int, content: bytes) -> str:
        with self.lock:
            return evalai_uploads.put_part(self.state, upload_id, part, content)

    def control(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        """The `/__test__/` endpoints: a JSON face over the Python API above."""
        data = json.loads(raw) if raw else {}
        if path == "/__test__/seed" and method == "POST":
            if "phases" in data:
                data["phases"] = tuple(data["phases"])
            if "labels" in data:
                data["labels"] = tuple(data["labels"])
            return 200, dataclasses.asdict(self.seed(**data))
        if path == "/__test__/fixtures" and method == "GET":
            return 200, dataclasses.asdict(self.fixtures)
        if path == "/__test__/submissions" and method == "POST":
            content = (
                base64.b64decode(data.pop("file_base64"))
                if "file_base64" in data
                else data.pop("file_text", "").encode()
            )
            return 201, {"pk": self.create_submission(file_bytes=content, **data)}
        found = re.fullmatch(r"/__test__/submissions/([0-9]+)(?:/(\w+))?", path)
        if found:
            pk, action = int(found[1]), found[2]
            if action is None and method == "GET":
                view = dataclasses.asdict(self.submission(pk))
                view["input_bytes"] = base64.b64encode(view["input_bytes"]).decode()
                view["calls"] = [dataclasses.asdict(c) for c in self.updates(pk)]
                return 200, view
            if action == "calls" and method == "GET":
                return 200, [dataclasses.asdict(c) for c in self.updates(pk)]
            if action == "cancel" and method == "POST":
                self.cancel(pk)
                return 200, {}
            if action == "rerun" and method == "POST":
                return 200, {"pk": self.rerun(pk)}
            if action == "resume" and method == "POST":
                self.resume(pk)
                return 200, {}
        if path == "/__test__/clock/advance" and method == "POST":
            self.advance(float(data["seconds"]))
            return 200, {"now": self.clock.now()}
        if path == "/__test__/faults" and method == "POST":
            self.inject(data.pop("kind"), data.pop("times", 1), **data)
            return 200, {}
        if path == "/__test__/faults/random" and method == "POST":
            if "statuses" in data:
                data["statuses"] = tuple(data["statuses"])
            self.inject_random_5xx(data.pop("probability"), data.pop("seed"), **data)
            return 200, {}
        if path == "/__test__/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {}
        if path == "/__test__/rate_limit" and method == "POST":
            self.set_rate_limit(data.get("per_minute"))
            return 200, {}
        if path == "/__test__/tokens/revoke" and method == "POST":
            self.revoke_token(data["token"])
            return 200, {}
        if path == "/__test__/queue/lose" and method == "POST":
            return 200, {"lost": self.lose_message(int(data["submission_pk"]))}
        if path == "/__test__/queue" and method == "GET":
            return 200, [dataclasses.asdict(m) for m in self.queue_messages()]
        if path == "/__test__/requests" and method == "GET":
            return 200, [dataclasses.asdict(r) for r in self.requests()]
        return 404, {"error": f"no control endpoint {method} {path}"}

    # ------------------------------------------------------------------ helpers
    def _team_pk(self, team: str | int) -> int:
        return team if isinstance(team, int) else self.fixtures.teams[team]

    def _phase_pk(self, phase: str | int) -> int:
        return phase if isinstance(phase, int) else self.fixtures.phases[phase]
