"""Publishing the leaderboard: the Publisher port, the safety rules above it, and GitPublisher.

I/O: `publish_board` reads the last published board through the port; `GitPublisher` runs `git`
subprocesses against any remote (local path, ssh or https) from a private bare repository in
`workdir` (plumbing only — no working tree that could be left dirty). `GitHubPublisher` (Git Data
API, PyGithub) lives in `worker.leaderboard.github`.

Safety, implemented once in `publish_board` (the 2025 bot committed an empty table once and let a
team vanish from a frozen board):
- a frozen phase is never republished;
- a board that drops a previously published entry, or that is empty, is refused unless an
  explanation is given (which is logged and appended to the commit message);
- publishers commit only when some file's bytes changed (`PublishResult.status == "unchanged"`).

Exceptions, part of `worker.errors`' tree (messages never contain credentials: URLs are
redacted, tokens never formatted):

    WorkerError
    └── PublishError                 anything that stopped a publication
        ├── PublishTransientError    (also a TransientError) network, timeout, 5xx, 429, or every
        │                            retry lost a race: try again later
        └── PublishPermanentError    (also a PermanentError) bad credentials, unknown repository
                                     or branch, rejected by a hook, unsafe path
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

from worker.errors import PermanentError, TransientError, WorkerError
from worker.leaderboard.render import json_path

log = logging.getLogger(__name__)

Status = Literal["committed", "unchanged", "refused", "frozen"]
DEFAULT_AUTHOR = "NeuCo-Bench leaderboard <leaderboard@neuco-bench.invalid>"
_AUTHOR = re.compile(r"^\s*([^<>\n]+?)\s*<([^<>\s]+)>\s*$")
_RACE = ("fetch first", "non-fast-forward", "cannot lock ref", "failed to update ref", "stale info")
_PERMANENT = (
    "authentication failed", "could not read username", "permission denied", "not found",
    "does not appear to be a git repository", "access denied", "invalid username or password",
)  # fmt: skip


class PublishError(WorkerError):
    """A publication did not happen; the message is safe to log."""


class PublishTransientError(PublishError, TransientError):
    """Worth retrying later: network, timeout, server error, lost every race."""


class PublishPermanentError(PublishError, PermanentError):
    """Retrying will not help until someone fixes the configuration."""


@dataclass(frozen=True)
class PublishResult:
    status: Status
    sha: str | None = None  # the new commit, or the unchanged head
    changed: tuple[str, ...] = ()  # paths whose bytes changed in the new commit
    reason: str = ""

    @property
    def committed(self) -> bool:
        return self.status == "committed"


class Publisher(Protocol):
    """Writes a set of files to a branch as one commit, and reads the branch back."""

    def publish(self, files: Mapping[str, bytes], message: str) -> PublishResult: ...

    def read(self, path: str) -> bytes | None: ...


# ---- the safety rules -------------------------------------------------------------------------


def _entry_names(document: bytes | None) -> list[str] | None:
    if document is None:
        return None
    try:
        return [str(e["team"]) for e in json.loads(document)["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishPermanentError(f"published board is not a leaderboard JSON: {exc}") from exc


def publish_board(
    publisher: Publisher,
    files: Mapping[str, bytes],
    message: str,
    *,
    phase: str,
    explanation: str | None = None,
    frozen: bool = False,
) -> PublishResult:
    """Publish one phase's rendered files (`worker.leaderboard.board_files`) safely.

    The previous entries are read from the published `leaderboard/<phase>.json`, the new ones from
    `files`; dropping an entry or publishing an empty board needs an `explanation`.
    """
    if frozen:
        log.info("leaderboard %s: phase is frozen, not republished", phase)
        return PublishResult("frozen", reason=f"phase {phase!r} is frozen")
    path = json_path(phase)
    if path not in files:
        raise ValueError(f"files hold no {path!r}; render them with worker.leaderboard.board_files")
    new = _entry_names(files[path]) or []
    previous = _entry_names(publisher.read(path))
    missing = sorted(set(previous or ()) - set(new))
    problem = ""
    if missing:
        problem = (
            f"{len(new)} entries after {len(previous or ())} published; "
            f"missing {len(missing)}: {', '.join(repr(m) for m in missing)}"
        )
    elif not new:
        problem = "the board has no entries"
    if problem and not explanation:
        log.warning("leaderboard %s: refused to publish, %s (no explanation given)", phase, problem)
        return PublishResult("refused", reason=problem)
    if problem:
        log.warning("leaderboard %s: publishing although %s: %s", phase, problem, explanation)
        message = f"{message}\n\n{problem}.\nExplanation: {explanation}"
    result = publisher.publish(files, message)
    if result.committed:
        log.info("leaderboard %s: committed %s (%s)", phase, result.sha, ", ".join(result.changed))
    else:
        log.info("leaderboard %s: %s, nothing committed", phase, result.status)
    return result


def parsed_author(author: str) -> tuple[str, str]:
    """("Name", "email") from "Name <email>"."""
    match = _AUTHOR.match(author)
    if not match:
        raise ValueError(f"author must look like 'Name <email>', got {author!r}")
    return match[1], match[2]


def checked_paths(files: Mapping[str, bytes]) -> list[str]:
    """Repository paths, sorted; refuses absolute paths, `..`, `.git` and control characters."""
    for path in files:
        parts = PurePosixPath(path).parts
        if (
            not path
            or path.startswith("/")
            or any(p in ("", ".", "..", ".git") for p in parts)
            or re.search(r"[\x00-\x1f\x7f\\]", path)
        ):
            raise PublishPermanentError(f"refusing to publish to path {path!r}")
    return sorted(files)


def backoff_delays(attempts: int, base: float, cap: float, jitter: random.Random) -> list[float]:
    """Full-jitter exponential delays between `attempts` tries (attempts - 1 of them)."""
    return [jitter.uniform(0.0, min(cap, base * 2**i)) for i in range(max(attempts - 1, 0))]


# ---- plain git --------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL without credentials (the user part of an http(s) URL may itself be a token)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc or not parts.scheme:
        return url
    user, _, host = parts.netloc.rpartition("@")
    if parts.scheme in ("http", "https") or ":" in user:
        return parts._replace(netloc=f"***@{host}").geturl()
    return url


def credentials_moved_to_env(url: str) -> tuple[str, dict[str, str]]:
    """(URL without credentials, git environment sending them as an HTTP header).

    A command line is readable by every local user (`ps`); a process environment only by its
    owner. So `https://user:token@host/...` becomes `https://host/...` plus `http.extraHeader`
    set through GIT_CONFIG_* variables (git >= 2.31). Other URLs are returned unchanged.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, {}
    host = parts.netloc.rpartition("@")[2]
    pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    header = "Authorization: Basic " + base64.b64encode(pair.encode()).decode()
    environment = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": header,
    }
    return parts._replace(netloc=host).geturl(), environment


class GitPublisher:
    """Publishes with plain git: fetch, build a commit on the remote head, push; retry races.

    One instance per `workdir`; calls on one instance are serialised. Author/committer come from
    `author` ("Name <email>"), so no global git configuration is needed; prompts are disabled.
    """

    def __init__(
        self,
        remote_url: str,
        branch: str,
        workdir: Path | str,
        author: str = DEFAULT_AUTHOR,
        *,
        max_attempts: int = 5,
        timeout: float = 60.0,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        jitter: random.Random | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", branch) or ".." in branch:
            raise ValueError(f"unsupported branch name {branch!r}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts!r}")
        self._url, self._branch, self._workdir = remote_url, branch, Path(workdir)
        self._remote, self._auth_env = credentials_moved_to_env(remote_url)
        self._shown = redact_url(remote_url)
        self._name, self._email = parsed_author(author)
        self._max_attempts, self._timeout, self._backoff = max_attempts, timeout, backoff
        self._sleep, self._jitter = sleep, jitter or random.Random()
        self._tracking = f"refs/remotes/origin/{branch}"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GitPublisher({self._shown!r}, {self._branch!r}, {str(self._workdir)!r})"

    # -- the port --

    def read(self, path: str) -> bytes | None:
        checked_paths({path: b""})
        with self._lock:
            head = self._fetch()
            if head is None:
                return None
            done = self._git("cat-file", "blob", f"{head}:{path}", check=False)
            return done.stdout if done.returncode == 0 else None

    def publish(self, files: Mapping[str, bytes], message: str) -> PublishResult:
        paths = checked_paths(files)
        with self._lock:
            self._init()
            blobs = {p: self._write_blob(files[p]) for p in paths}
            delays = backoff_delays(self._max_attempts, self._backoff, 8.0, self._jitter)
            for attempt in range(1, self._max_attempts + 1):
                result = self._attempt(blobs, message)
                if result is not None:
                    return result
                log.info(
                    "git publish to %s: branch %s moved (attempt %d of %d), retrying",
                    self._shown, self._branch, attempt, self._max_attempts,
                )  # fmt: skip
                if attempt < self._max_attempts:
                    self._sleep(delays[attempt - 1])
        raise PublishTransientError(
            f"git publish to {self._shown} branch {self._branch}: the remote moved "
            f"during each of {self._max_attempts} attempts"
        )

    # -- one attempt: None when the push lost a race --

    def _attempt(self, blobs: Mapping[str, str], message: str) -> PublishResult | None:
        head = self._fetch()
        existing = self._tree_blobs(head) if head else {}
        changed = tuple(p for p, sha in blobs.items() if existing.get(p) != sha)
        if not changed:
            return PublishResult("unchanged", sha=head)
        fd, index = tempfile.mkstemp(prefix="publish-", suffix=".index", dir=self._workdir)
        os.close(fd)
        os.unlink(index)  # git wants to create the index itself
        try:
            env = {"GIT_INDEX_FILE": index}
            self._git("read-tree", *([head] if head else ["--empty"]), env=env)
            listing = "".join(f"100644 {blobs[p]}\t{p}\n" for p in changed).encode()
            self._git("update-index", "--index-info", data=listing, env=env)
            tree = self._git("write-tree", env=env).stdout.decode().strip()
        finally:
            Path(index).unlink(missing_ok=True)
        parents = ["-p", head] if head else []
        commit = self._git("commit-tree", tree, *parents, "-F", "-", data=message.encode())
        sha = commit.stdout.decode().strip()
        if not self._push(sha):
            return None
        return PublishResult("committed", sha=sha, changed=changed)

    # -- git plumbing --

    def _init(self) -> None:
        if not (self._workdir / "HEAD").exists():
            self._workdir.mkdir(parents=True, exist_ok=True)
            self._git("init", "--bare", "--quiet", str(self._workdir), git_dir=False)

    def _write_blob(self, data: bytes) -> str:
        return self._git("hash-object", "-w", "--stdin", data=data).stdout.decode().strip()

    def _fetch(self) -> str | None:
        """Fetch the remote branch; its head sha, or None when the branch does not exist yet."""
        self._init()
        refspec = f"+refs/heads/{self._branch}:{self._tracking}"
        done = self._git("fetch", "--no-tags", "--quiet", self._remote, refspec, check=False)
        if done.returncode != 0:
            if "couldn't find remote ref" in done.stderr.decode(errors="replace").lower():
                self._git("update-ref", "-d", self._tracking)
                return None
            raise self._failure("fetch", done)
        return self._git("rev-parse", "--verify", self._tracking).stdout.decode().strip()

    def _tree_blobs(self, commit: str) -> dict[str, str]:
        listing = self._git("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode()
        blobs = {}
        for entry in filter(None, listing.split("\0")):
            meta, _, path = entry.partition("\t")
            _mode, kind, sha = meta.split()
            if kind == "blob":
                blobs[path] = sha
        return blobs

    def _push(self, sha: str) -> bool:
        """True if the branch now points at `sha`; False if the remote moved (a race)."""
        target = f"{sha}:refs/heads/{self._branch}"
        done = self._git("push", "--porcelain", self._remote, target, check=False)
        if done.returncode == 0:
            return True
        output = (done.stdout + done.stderr).decode(errors="replace")
        if any(sign in output for sign in _RACE):
            return False
        raise self._failure("push", done)

    def _failure(self, what: str, done: subprocess.CompletedProcess[bytes]) -> PublishError:
        detail = self._redact(done.stderr.decode(errors="replace").strip() or "no output")
        text = f"git {what} {self._shown} branch {self._branch} failed: {detail}"
        if any(sign in detail.lower() for sign in _PERMANENT):
            return PublishPermanentError(text)
        return PublishTransientError(text)

    def _redact(self, text: str) -> str:
        parts = urlsplit(self._url)
        secrets = {self._url, parts.password or "", unquote(parts.password or "")}
        secrets |= {v.rpartition(" ")[2] for v in self._auth_env.values() if " " in v}
        if "@" in parts.netloc and parts.scheme in ("http", "https"):
            userinfo = parts.netloc.rpartition("@")[0]
            secrets |= {userinfo, parts.username or "", unquote(parts.username or "")}
        for secret in sorted((s for s in secrets if len(s) >= 3), key=len, reverse=True):
            text = text.replace(secret, self._shown if secret == self._url else "***")
        return text

    def _git(
        self,
        *args: str,
        data: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        git_dir: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        command = ["git", "-c", "commit.gpgSign=false", "-c", "core.askPass="]
        if git_dir:
            command.append(f"--git-dir={self._workdir}")
        environment = {
            **os.environ,  # PATH, HOME, ssh agent; git needs them
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
            "GIT_AUTHOR_NAME": self._name,
            "GIT_AUTHOR_EMAIL": self._email,
            "GIT_COMMITTER_NAME": self._name,
            "GIT_COMMITTER_EMAIL": self._email,
            "LC_ALL": "C",
            **self._auth_env,
            **(env or {}),
        }
        try:
            done = subprocess.run(
                [*command, *args], input=data, capture_output=True, env=environment,
                timeout=self._timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            # `from None`: the original exception's text holds the command line, URL included.
            raise PublishTransientError(
                f"git {args[0]} timed out after {self._timeout:g} s ({self._shown})"
            ) from None
        if check and done.returncode != 0:
            raise self._failure(args[0], done)
        return done
