"""The EvalAI double's HTTP face: request parsing, Django/DRF-style routing and responses, and the
acting-out of injected faults. I/O: serves HTTP on the socket the server hands each request.

Routing follows Django's exact-regex URLconf: paths are matched whole; a path missing its
trailing slash gets a 301 to the slashed one when that exists (APPEND_SLASH, as in production:
a redirected POST/PUT loses its body); anything else is Django's HTML 404. DRF order inside a
view: authenticate (a bad token is a 401 even where anonymous access is allowed), check
permissions, throttle, then the view.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.doubles.evalai import host_listing, my_submissions, updates, uploads
from tests.doubles.evalai.faults import throttled_body
from tests.doubles.evalai.model import ApiError, HtmlError, User
from tests.doubles.evalai.state import EvalAIState

if TYPE_CHECKING:
    from tests.doubles.evalai.double import EvalAIDouble

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the double saw it (never the Authorization value itself)."""

    method: str
    path: str
    status: int  # 0 when the connection was dropped
    had_authorization: bool
    fault: str | None


@dataclass
class ApiRequest:
    method: str
    params: dict[str, str]
    query: dict[str, str]
    user: User | None
    data: dict[str, Any]
    files: dict[str, tuple[str, bytes]]


View = Callable[[EvalAIState, ApiRequest], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    views: dict[str, View]
    auth_required: bool = True
    throttled: bool = True  # DRF UserRateThrottle (per user, shared by all throttled views)


def _route(regex: str, views: dict[str, View], **kw: bool) -> Route:
    return Route(re.compile(regex), views, **kw)


def _user(req: ApiRequest) -> User:
    if req.user is None:  # unreachable on routes with auth_required
        raise ApiError(401, {"detail": "Authentication credentials were not provided."})
    return req.user


def _int(req: ApiRequest, name: str) -> int:
    return int(req.params[name])


def _update(state: EvalAIState, req: ApiRequest) -> dict[str, Any]:
    return updates.update_submission(state, req.method, _int(req, "c"), _user(req), req.data)


ROUTES = [
    # A1 / W1 receive
    _route(
        r"/api/jobs/challenge/queues/(?P<queue>[\w.-]+)/",
        {"GET": lambda s, r: (200, s.receive(r.params["queue"], _user(r)))},
    ),
    # A2 / W2 delete
    _route(
        r"/api/jobs/queues/(?P<queue>[\w.-]+)/",
        {"POST": lambda s, r: (200, s.delete_message(r.params["queue"], _user(r), r.data))},
    ),
    # A3 / W3 / B7 submission (no trailing slash)
    _route(
        r"/api/jobs/submission/(?P<pk>[0-9]+)",
        {"GET": lambda s, r: (200, s.get_submission(_int(r, "pk"), _user(r)))},
    ),
    # A4 / W4b phase by pk: anonymous, AnonRateThrottle only
    _route(
        r"/api/challenges/challenge/phase/(?P<pk>[0-9]+)/",
        {"GET": lambda s, r: (200, s.get_phase(_int(r, "pk")))},
        auth_required=False,
        throttled=False,
    ),
    # A5 + A6 / W6 + W7
    _route(
        r"/api/jobs/challenge/(?P<c>[0-9]+)/update_submission/",
        {
            "PATCH": lambda s, r: (200, _update(s, r)),
            "PUT": lambda s, r: (200, _update(s, r)),
        },
    ),
    # A8 / W4a / B1 phase detail (no trailing slash), anonymous GET allowed
    _route(
        r"/api/challenges/challenge/(?P<c>[0-9]+)/challenge_phase/(?P<p>[0-9]+)",
        {"GET": lambda s, r: (200, s.get_phase_detail(_int(r, "c"), _int(r, "p"), r.user))},
        auth_required=False,
    ),
    # A9 / W5 challenge by queue (host only)
    _route(
        r"/api/challenges/challenge/queues/(?P<queue>[\w.-]+)/",
        {"GET": lambda s, r: (200, s.challenge_by_queue(r.params["queue"], _user(r)))},
    ),
    # A10 leaderboard, anonymous OK
    _route(
        r"/api/jobs/challenge_phase_split/(?P<cps>[0-9]+)/leaderboard/",
        {"GET": lambda s, r: (200, s.leaderboard(_int(r, "cps"), r.user))},
        auth_required=False,
        throttled=False,
    ),
    # B2 normal upload
    _route(
        r"/api/jobs/challenge/(?P<c>[0-9]+)/challenge_phase/(?P<p>[0-9]+)/submission/",
        {
            "POST": lambda s, r: (
                201,
                uploads.upload(s, _int(r, "c"), _int(r, "p"), _user(r), r.data, r.files),
            )
        },
    ),
    # My Submissions: show/hide on the leaderboard; a host's baseline flag (§4)
    _route(
        r"/api/jobs/challenge/(?P<c>[0-9]+)/challenge_phase/(?P<p>[0-9]+)/submission/(?P<s>[0-9]+)",
        {"PATCH": lambda s, r: (200, my_submissions.change_submission(
            s, _int(r, "c"), _int(r, "p"), _int(r, "s"), _user(r), r.data))},
    ),
    # B3 presigned URLs for --large
    _route(
        r"/api/jobs/phases/(?P<p>[0-9]+)/get_submission_file_presigned_url/",
        {"POST": lambda s, r: (201, uploads.presign(s, _int(r, "p"), _user(r), r.data))},
    ),
    # B5 finish the multipart upload
    _route(
        r"/api/jobs/phases/(?P<p>[0-9]+)/finish_submission_file_upload/(?P<s>[0-9]+)/",
        {"POST": lambda s, r: (201, uploads.finish_upload(s, _int(r, "s"), r.data))},
    ),
    # §11 host listing, for reconciling lost hand-offs (host only)
    _route(
        r"/api/challenges/(?P<c>[0-9]+)/phases/",
        {"GET": lambda s, r: (200, host_listing.challenge_phases(s, _int(r, "c"), _user(r)))},
    ),
    _route(
        r"/api/jobs/phases/(?P<p>[0-9]+)/submission_count_by_status/",
        {"GET": lambda s, r: (200, host_listing.count_by_status(s, _int(r, "p"), _user(r)))},
    ),
    _route(
        r"/api/challenges/(?P<c>[0-9]+)/challenge_phase/(?P<p>[0-9]+)/submissions",
        {"GET": lambda s, r: (200, host_listing.phase_submissions(
            s, _int(r, "c"), _int(r, "p"), _user(r), r.query))},
    ),
    # B6 publish the message of a --large upload
    _route(
        r"/api/jobs/phases/(?P<p>[0-9]+)/send_submission_message/(?P<s>[0-9]+)/",
        {"POST": lambda s, r: (200, uploads.send_message(s, _int(r, "p"), _int(r, "s")))},
    ),
]
MEDIA = re.compile(r"/media/.+")
S3_PART = re.compile(r"/__s3__/(?P<upload>[0-9a-f]+)/(?P<part>[0-9]+)")

HTML_PAGES = {
    404: "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>",
    500: "<h1>Server Error (500)</h1>",
    502: "<h1>502 Bad Gateway</h1><hr><center>nginx</center>",
    503: "<h1>503 Service Temporarily Unavailable</h1><hr><center>nginx</center>",
    504: "<h1>504 Gateway Time-out</h1><hr><center>nginx</center>",
}


def html_page(status: int) -> bytes:
    inner = HTML_PAGES.get(status, f"<h1>Error {status}</h1>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>EvalAI - {status}</title></head><body>{inner}</body></html>\n"
    ).encode()


def parse_body(content_type: str, raw: bytes) -> tuple[dict[str, Any], dict[str, tuple]]:
    """DRF's JSON, form and multipart parsers; form values stay strings."""
    ctype = content_type.split(";")[0].strip().lower()
    if not raw:
        return {}, {}
    if ctype == "application/json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from exc
        return (data if isinstance(data, dict) else {"_": data}), {}
    if ctype == "application/x-www-form-urlencoded":
        pairs = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in pairs.items()}, {}
    if ctype == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + raw)
        fields: dict[str, Any] = {}
        files: dict[str, tuple] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if part.get_filename() is not None:
                files[name] = (part.get_filename(), payload)
            else:
                fields[name] = payload.decode("utf-8")
        return fields, files
    raise ApiError(415, {"detail": f'Unsupported media type "{ctype}" in request.'})


class EvalAIRequestHandler(BaseHTTPRequestHandler):
    """One request: faults first, then control endpoints, raw file routes, then the API."""

    protocol_version = "HTTP/1.0"  # one request per connection: simple and robust to drops
    server_version = "EvalAIDouble/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("evalai double: " + format, *args)

    @property
    def double(self) -> EvalAIDouble:
        return self.server.double  # type: ignore[attr-defined]

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, url.query
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        self._logged = False
        self._entry = (method, path, "Authorization" in self.headers)
        self._fault: str | None = None
        try:
            fault = self.double.take_fault(method, path)
            if fault is not None:
                self._fault = fault.kind
                if fault.kind == "drop":
                    self._record(0)
                    self.close_connection = True
                    return
                if fault.kind == "slow":
                    self.double.sleep_interruptibly(fault.delay)
                elif fault.kind == "rate_limit":
                    wait = fault.retry_after
                    self._json(429, throttled_body(wait), {"Retry-After": str(wait)})
                    return
                elif fault.kind == "redirect":
                    self._send(301, b"", "text/html; charset=utf-8", {"Location": fault.location})
                    return
                elif fault.body is None:
                    self._html(fault.status)
                    return
                else:
                    self._json(fault.status, fault.body)
                    return
            if path.startswith("/__test__/"):
                self._json(*self.double.control(method, path, raw))
            else:
                self._serve(method, path, query, raw)
        except ApiError as exc:
            self._json(exc.status, exc.body, exc.headers)
        except HtmlError as exc:
            self._html(exc.status)
        except Exception:  # Django's handler500: an HTML page, whatever went wrong
            log.debug("evalai double: unhandled error on %s %s", method, path, exc_info=True)
            self._html(500)
        finally:
            self._record(0)  # only if nothing was sent

    def _record(self, status: int) -> None:
        """Log the request once, before its answer goes out, so that a client that has its
        answer always finds the request in the log."""
        if not self._logged:
            self._logged = True
            method, path, had_auth = self._entry
            self.double.log_request(LoggedRequest(method, path, status, had_auth, self._fault))

    def _serve(self, method: str, path: str, query: str, raw: bytes) -> None:
        if MEDIA.fullmatch(path) and method in ("GET", "HEAD"):
            content = self.double.read_media(path)
            if content is None:
                raise HtmlError(404)
            self._send(
                200,
                content,
                "application/octet-stream",
                head_only=method == "HEAD",
                with_length=self.double.media_content_length,
            )
            return
        part = S3_PART.fullmatch(path)
        if part and method == "PUT":
            etag = self.double.put_part(part["upload"], int(part["part"]), raw)
            self._send(200, b"", "application/xml", {"ETag": etag})
            return
        route, match = _find_route(path)
        if route is None:
            slashed, _ = _find_route(path + "/") if not path.endswith("/") else (None, None)
            if slashed is not None:
                location = path + "/" + ("?" + query if query else "")
                self._send(301, b"", "text/html; charset=utf-8", {"Location": location})
                return
            raise HtmlError(404)
        assert match is not None
        with self.double.lock:
            state = self.double.state
            user = state.authenticate(self.headers.get("Authorization"))
            if route.auth_required:
                state.require(user)
            if method not in route.views:
                raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
        if route.throttled and user is not None:
            wait = self.double.throttle_check(user.username)
            if wait is not None:
                raise ApiError(429, throttled_body(wait), {"Retry-After": str(wait)})
        data, files = parse_body(self.headers.get("Content-Type", ""), raw)
        request = ApiRequest(
            method,
            match.groupdict(),
            {k: v[-1] for k, v in parse_qs(query).items()},
            user,
            data,
            files,
        )
        with self.double.lock:
            status, body = route.views[method](self.double.state, request)
        self._json(status, body)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, allow_nan=True).encode()
        self._send(status, payload, "application/json", headers)

    def _html(self, status: int) -> None:
        self._send(status, html_page(status), "text/html; charset=utf-8")

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        *,
        head_only: bool = False,
        with_length: bool = True,
    ) -> None:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if with_length:  # without it, HTTP/1.0 delimits the body by closing the connection
            self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head_only:
            self.wfile.write(payload)


def _find_route(path: str) -> tuple[Route | None, re.Match[str] | None]:
    for route in ROUTES:
        match = route.pattern.fullmatch(path)
        if match:
            return route, match
    return None, None
