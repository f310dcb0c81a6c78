"""Plain git plumbing for the git publisher: a private bare repository in `workdir` and one remote
(local path, ssh or https), through `git` subprocesses with a timeout, no prompts and no global
configuration. No working tree exists that could be left dirty.

I/O: runs `git`; reads and writes the bare repository and fetches from / pushes to the remote.
Credentials in an http(s) URL travel in the child's environment as a header, never on its
command line, and are redacted from every message.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from worker.leaderboard.publish import PublishError, PublishPermanentError, PublishTransientError

_RACE = ("fetch first", "non-fast-forward", "cannot lock ref", "failed to update ref", "stale info")
_PERMANENT = (
    "authentication failed", "could not read username", "permission denied", "not found",
    "does not appear to be a git repository", "access denied", "invalid username or password",
)  # fmt: skip


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


class GitRepository:
    """The publisher's bare repository in `workdir` and the remote branch it publishes to."""

    def __init__(
        self, remote_url: str, branch: str, workdir: Path, name: str, email: str, timeout: float
    ) -> None:
        self._url, self._branch, self._workdir = remote_url, branch, workdir
        self._remote, self._auth_env = credentials_moved_to_env(remote_url)
        self._shown = redact_url(remote_url)
        self._name, self._email, self._timeout = name, email, timeout
        self._tracking = f"refs/remotes/origin/{branch}"

    def init(self) -> None:
        if not (self._workdir / "HEAD").exists():
            self._workdir.mkdir(parents=True, exist_ok=True)
            self.run("init", "--bare", "--quiet", str(self._workdir), git_dir=False)

    def write_blob(self, data: bytes) -> str:
        return self.run("hash-object", "-w", "--stdin", data=data).stdout.decode().strip()

    def fetch(self) -> str | None:
        """Fetch the remote branch; its head sha, or None when the branch does not exist yet."""
        self.init()
        refspec = f"+refs/heads/{self._branch}:{self._tracking}"
        done = self.run("fetch", "--no-tags", "--quiet", self._remote, refspec, check=False)
        if done.returncode != 0:
            if "couldn't find remote ref" in done.stderr.decode(errors="replace").lower():
                self.run("update-ref", "-d", self._tracking)
                return None
            raise self._failure("fetch", done)
        return self.run("rev-parse", "--verify", self._tracking).stdout.decode().strip()

    def tree_blobs(self, commit: str) -> dict[str, str]:
        listing = self.run("ls-tree", "-r", "-z", "--full-tree", commit).stdout.decode()
        blobs = {}
        for entry in filter(None, listing.split("\0")):
            meta, _, path = entry.partition("\t")
            _mode, kind, sha = meta.split()
            if kind == "blob":
                blobs[path] = sha
        return blobs

    def push(self, sha: str) -> bool:
        """True if the branch now points at `sha`; False if the remote moved (a race)."""
        target = f"{sha}:refs/heads/{self._branch}"
        done = self.run("push", "--porcelain", self._remote, target, check=False)
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

    def run(
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
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",  # unless the environment sets its own
            **os.environ,  # PATH, HOME, ssh agent; git needs them
            "GIT_TERMINAL_PROMPT": "0",
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
