"""A GitHub REST API double for the Git Data API path, over real HTTP on 127.0.0.1. Test helper.

I/O: a stdlib ThreadingHTTPServer in a daemon thread; state in memory. It implements what PyGithub
2.10 requests when publishing through the Git Data API (checked against its source):

    GET   /repos/{o}/{r}
    GET   /repos/{o}/{r}/git/ref/heads/{branch}     (PyGithub's get_git_ref; also git/refs/...)
    PATCH /repos/{o}/{r}/git/refs/heads/{branch}    (GitRef.edit uses the ref's returned `url`)
    GET   /repos/{o}/{r}/git/commits/{sha}
    GET   /repos/{o}/{r}/git/trees/{sha}[?recursive=1]
    GET   /repos/{o}/{r}/git/blobs/{sha}
    POST  /repos/{o}/{r}/git/blobs | git/trees (base_tree, nested paths) | git/commits
    GET   /repos/{o}/{r}/contents/{path}[?ref=branch]

Object ids are real git SHA-1s (blob, tree and commit encodings), so a client can compare its
local `git hash-object` with tree entries. Like GitHub: 401 {"message": "Bad credentials"} for a
wrong token, 404 for unknown repositories/refs/objects, 409 for an empty repository, and 422
{"message": "Update is not a fast forward"} when a ref update is not a descendant of the ref.

Hooks: `fail_next(count, status)` answers the next requests with a 5xx; `move_ref_before_update`
lets a concurrent writer commit right before the next ref update is applied.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def git_sha(kind: str, body: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(body)}\0".encode() + body).hexdigest()


@dataclass
class Repo:
    full_name: str
    default_branch: str
    objects: dict[str, tuple[str, Any]] = field(default_factory=dict)  # sha -> (kind, payload)
    refs: dict[str, str] = field(default_factory=dict)  # "heads/main" -> commit sha

    # -- object store --

    def put_blob(self, data: bytes) -> str:
        sha = git_sha("blob", data)
        self.objects[sha] = ("blob", data)
        return sha

    def put_tree(self, entries: list[tuple[str, str, str, str]]) -> str:
        """entries: (mode, name, kind, sha), stored in git's order (directories sort as name/)."""
        entries = sorted(entries, key=lambda e: e[1] + ("/" if e[2] == "tree" else ""))
        body = b"".join(f"{m} {n}\0".encode() + bytes.fromhex(s) for m, n, _, s in entries)
        sha = git_sha("tree", body)
        self.objects[sha] = ("tree", entries)
        return sha

    def put_commit(self, tree: str, parents: list[str], message: str, author: dict) -> str:
        when = int(time.time())
        person = f"{author.get('name', 'x')} <{author.get('email', 'x@x')}> {when} +0000"
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        lines += [f"author {person}", f"committer {person}", "", message]
        sha = git_sha("commit", "\n".join(lines).encode())
        info = dict(tree=tree, parents=parents, message=message, author=author, when=when)
        self.objects[sha] = ("commit", info)
        return sha

    def get(self, sha: str, kind: str) -> Any:
        found = self.objects.get(sha)
        if found is None or found[0] != kind:
            raise ApiError(404, "Not Found")
        return found[1]

    # -- trees as flat {path: (mode, sha)} --

    def flat(self, tree: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        out: dict[str, tuple[str, str]] = {}
        for mode, name, kind, sha in self.get(tree, "tree"):
            if kind == "tree":
                out.update(self.flat(sha, f"{prefix}{name}/"))
            else:
                out[prefix + name] = (mode, sha)
        return out

    def build(self, flat: Mapping[str, tuple[str, str]]) -> str:
        here: list[tuple[str, str, str, str]] = []
        below: dict[str, dict[str, tuple[str, str]]] = {}
        for path, (mode, sha) in flat.items():
            head, sep, rest = path.partition("/")
            if sep:
                below.setdefault(head, {})[rest] = (mode, sha)
            else:
                here.append((mode, head, "blob", sha))
        here += [("40000", name, "tree", self.build(sub)) for name, sub in below.items()]
        return self.put_tree(here)

    def commit_files(self, branch: str, files: Mapping[str, bytes], message: str) -> str:
        head = self.refs.get(f"heads/{branch}")
        flat = self.flat(self.get(head, "commit")["tree"]) if head else {}
        flat.update({p: ("100644", self.put_blob(d)) for p, d in files.items()})
        sha = self.put_commit(self.build(flat), [head] if head else [], message, {"name": "other"})
        self.refs[f"heads/{branch}"] = sha
        return sha

    def is_ancestor(self, old: str, new: str) -> bool:
        seen, todo = set(), [new]
        while todo and len(seen) < 100_000:
            sha = todo.pop()
            if sha == old:
                return True
            if sha not in seen:
                seen.add(sha)
                todo += self.get(sha, "commit")["parents"]
        return False


@dataclass
class _Fault:
    count: int
    status: int
    method: str | None


class GitHubDouble:
    """The double's state, its HTTP server, and the hooks tests use."""

    def __init__(self, token: str = "double-token") -> None:
        self.token = token
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._before_update: list[Callable[[], None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def __enter__(self) -> GitHubDouble:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"double": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the double first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test-side API --

    def create_repo(
        self, full_name: str, branch: str = "main", files: Mapping[str, bytes] | None = None
    ) -> Repo:
        with self.lock:
            repo = self.repos[full_name] = Repo(full_name, branch)
            if files is not None:
                repo.commit_files(branch, files, "Initial commit")
            return repo

    def commit_files(self, full_name: str, branch: str, files: Mapping[str, bytes]) -> str:
        """Another writer commits (e.g. an organiser editing the README)."""
        with self.lock:
            return self.repos[full_name].commit_files(branch, files, "concurrent edit")

    def head(self, full_name: str, branch: str = "main") -> str | None:
        with self.lock:
            return self.repos[full_name].refs.get(f"heads/{branch}")

    def commit(self, full_name: str, sha: str) -> dict:
        with self.lock:
            return dict(self.repos[full_name].get(sha, "commit"))

    def files_at(self, full_name: str, sha: str) -> dict[str, bytes]:
        with self.lock:
            repo = self.repos[full_name]
            tree = repo.get(sha, "commit")["tree"]
            return {p: repo.get(s, "blob") for p, (_, s) in repo.flat(tree).items()}

    def fail_next(self, count: int, status: int = 503, method: str | None = None) -> None:
        with self.lock:
            self._faults.append(_Fault(count, status, method))

    def move_ref_before_update(
        self, full_name: str, branch: str, files: Mapping[str, bytes], times: int = 1
    ) -> None:
        """Before each of the next `times` ref updates, another writer commits `files`."""
        for i in range(times):
            content = {p: d + f"\n{i}".encode() for p, d in files.items()}
            self._before_update.append(
                lambda c=content: self.repos[full_name].commit_files(branch, c, "concurrent")
            )

    # -- used by the handler --

    def fault_for(self, method: str) -> int | None:
        with self.lock:
            for fault in self._faults:
                if fault.count > 0 and fault.method in (None, method):
                    fault.count -= 1
                    return fault.status
        return None

    def pop_before_update(self) -> Callable[[], None] | None:
        with self.lock:
            return self._before_update.pop(0) if self._before_update else None


class _Handler(BaseHTTPRequestHandler):
    double: GitHubDouble
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; no 40 ms stalls

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        double = self.double
        with double.lock:
            double.requests.append((method, url.path))
        try:
            status = double.fault_for(method)
            if status is not None:
                raise ApiError(status, "Server Error")
            auth = self.headers.get("Authorization", "")
            if auth not in (f"token {double.token}", f"Bearer {double.token}"):
                raise ApiError(401, "Bad credentials")
            body = json.loads(raw) if raw else {}
            code, payload = _route(double, method, unquote(url.path), parse_qs(url.query), body)
        except ApiError as exc:
            code, payload = (
                exc.status,
                {"message": exc.message, "documentation_url": DOCS, "status": str(exc.status)},
            )
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


_REPO = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)(?P<rest>/.*)?$")


def _route(
    double: GitHubDouble, method: str, path: str, query: dict[str, list[str]], body: dict
) -> tuple[int, Any]:
    match = _REPO.match(path)
    if not match:
        raise ApiError(404, "Not Found")
    rest = match["rest"] or ""
    with double.lock:
        repo = double.repos.get(match["repo"])
        if repo is None:
            raise ApiError(404, "Not Found")
        api = f"{double.base_url}/repos/{repo.full_name}"
        if method == "GET" and rest == "":
            return 200, _repo_json(repo, api)
        if rest.startswith("/git/") and not repo.refs:
            raise ApiError(409, "Git Repository is empty.")
        ref = re.match(r"^/git/refs?/(heads/.+)$", rest)
        if ref and method == "GET":
            return 200, _ref_json(repo, ref[1], api)
        if ref and method == "PATCH" and rest.startswith("/git/refs/"):
            hook = double.pop_before_update()
            if hook:
                hook()
            return 200, _update_ref(repo, ref[1], body, api)
        if method == "GET" and (m := re.match(r"^/git/commits/([0-9a-f]{40})$", rest)):
            return 200, _commit_json(repo, m[1], api)
        if method == "GET" and (m := re.match(r"^/git/trees/([0-9a-f]{40})$", rest)):
            return 200, _tree_json(repo, m[1], api, query.get("recursive") == ["1"])
        if method == "GET" and (m := re.match(r"^/git/blobs/([0-9a-f]{40})$", rest)):
            data = repo.get(m[1], "blob")
            return 200, {
                "sha": m[1],
                "size": len(data),
                "encoding": "base64",
                "content": base64.b64encode(data).decode(),
                "url": f"{api}/git/blobs/{m[1]}",
            }
        if method == "POST" and rest == "/git/blobs":
            sha = repo.put_blob(_decode(body))
            return 201, {"sha": sha, "url": f"{api}/git/blobs/{sha}"}
        if method == "POST" and rest == "/git/trees":
            return 201, _tree_json(repo, _create_tree(repo, body), api, False)
        if method == "POST" and rest == "/git/commits":
            return 201, _commit_json(repo, _create_commit(repo, body), api)
        if method == "GET" and rest.startswith("/contents/"):
            return 200, _contents(repo, rest[len("/contents/") :], query, api)
    raise ApiError(404, "Not Found")


def _repo_json(repo: Repo, api: str) -> dict:
    owner, name = repo.full_name.split("/")
    return {
        "id": 1,
        "name": name,
        "full_name": repo.full_name,
        "url": api,
        "private": False,
        "default_branch": repo.default_branch,
        "owner": {"login": owner, "id": 1},
    }


def _ref_json(repo: Repo, ref: str, api: str) -> dict:
    sha = repo.refs.get(ref)
    if sha is None:
        raise ApiError(404, "Not Found")
    return {
        "ref": f"refs/{ref}",
        "node_id": "x",
        "url": f"{api}/git/refs/{ref}",
        "object": {"sha": sha, "type": "commit", "url": f"{api}/git/commits/{sha}"},
    }


def _update_ref(repo: Repo, ref: str, body: dict, api: str) -> dict:
    new, current = str(body.get("sha", "")), repo.refs.get(ref)
    if current is None:
        raise ApiError(422, "Reference does not exist")
    if repo.objects.get(new, ("",))[0] != "commit":
        raise ApiError(422, "Object does not exist")
    if not body.get("force") and not repo.is_ancestor(current, new):
        raise ApiError(422, "Update is not a fast forward")
    repo.refs[ref] = new
    return _ref_json(repo, ref, api)


def _commit_json(repo: Repo, sha: str, api: str) -> dict:
    info = repo.get(sha, "commit")
    date = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info["when"]))
    person = {
        "name": info["author"].get("name"),
        "email": info["author"].get("email"),
        "date": date,
    }
    return {
        "sha": sha,
        "node_id": "x",
        "url": f"{api}/git/commits/{sha}",
        "author": person,
        "committer": person,
        "message": info["message"],
        "tree": {"sha": info["tree"], "url": f"{api}/git/trees/{info['tree']}"},
        "parents": [{"sha": p, "url": f"{api}/git/commits/{p}"} for p in info["parents"]],
    }


def _tree_json(repo: Repo, sha: str, api: str, recursive: bool) -> dict:
    def entries(tree: str, prefix: str) -> list[dict]:
        out = []
        for mode, name, kind, child in repo.get(tree, "tree"):
            item = {
                "path": prefix + name,
                "mode": mode,
                "type": kind,
                "sha": child,
                "url": f"{api}/git/{kind}s/{child}",
            }
            if kind == "blob":
                item["size"] = len(repo.get(child, "blob"))
            out.append(item)
            if kind == "tree" and recursive:
                out += entries(child, f"{prefix}{name}/")
        return out

    return {
        "sha": sha,
        "url": f"{api}/git/trees/{sha}",
        "tree": entries(sha, ""),
        "truncated": False,
    }


def _decode(body: dict) -> bytes:
    content = str(body.get("content", ""))
    if body.get("encoding") == "base64":
        return base64.b64decode(content)
    return content.encode()


def _create_tree(repo: Repo, body: dict) -> str:
    flat = repo.flat(body["base_tree"]) if body.get("base_tree") else {}
    for item in body.get("tree", []):
        path = str(item.get("path", ""))
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise ApiError(422, f"Invalid tree info: path {path!r}")
        if "content" in item:
            flat[path] = (item.get("mode", "100644"), repo.put_blob(str(item["content"]).encode()))
        elif item.get("sha") is None:
            flat.pop(path, None)
        else:
            repo.get(item["sha"], "blob")
            flat[path] = (item.get("mode", "100644"), item["sha"])
    return repo.build(flat)


def _create_commit(repo: Repo, body: dict) -> str:
    tree, parents = str(body.get("tree", "")), [str(p) for p in body.get("parents", [])]
    if repo.objects.get(tree, ("",))[0] != "tree" or any(
        repo.objects.get(p, ("",))[0] != "commit" for p in parents
    ):
        raise ApiError(422, "Tree SHA does not exist or parent SHA does not exist")
    return repo.put_commit(tree, parents, str(body.get("message", "")), body.get("author") or {})


def _contents(repo: Repo, path: str, query: dict[str, list[str]], api: str) -> dict:
    branch = query.get("ref", [repo.default_branch])[0]
    head = repo.refs.get(f"heads/{branch}") or repo.refs.get(branch)
    if head is None:
        raise ApiError(404, f"No commit found for the ref {branch}")
    found = repo.flat(repo.get(head, "commit")["tree"]).get(path)
    if found is None:
        raise ApiError(404, "Not Found")
    data = repo.get(found[1], "blob")
    encoded = base64.encodebytes(data).decode()  # GitHub wraps base64 at 60-76 columns
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.split("/")[-1],
        "path": path,
        "content": encoded,
        "sha": found[1],
        "url": f"{api}/contents/{path}",
        "git_url": f"{api}/git/blobs/{found[1]}",
        "html_url": None,
        "download_url": None,
    }
