"""GitHubPublisher: one atomic commit per board through GitHub's Git Data API (PyGithub).

I/O: HTTPS requests to the GitHub REST API (`base_url`; GitHub Enterprise or a test double work
too). One publication is: get the branch ref -> its commit and recursive tree -> compare local
git blob ids with the tree (nothing changed: no request that writes) -> create blobs for the
changed files -> one tree on `base_tree` -> one commit -> update the ref with force=False.
If another writer moved the ref meanwhile GitHub answers 422 "Update is not a fast forward" and
the whole sequence is redone on the new head (bounded). 5xx, 429 and connection errors are
retried with jittered backoff (bounded); 401/403/404/409 are permanent.

The token is handed to PyGithub's `Auth.Token` and is never stored elsewhere, formatted or
logged; PyGithub's own retries are disabled so that all retrying is visible here.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import requests
from github import Auth, Github, GithubException, InputGitAuthor, InputGitTreeElement

from worker.leaderboard.publish import (
    DEFAULT_AUTHOR,
    PublishError,
    PublishPermanentError,
    PublishResult,
    PublishTransientError,
    backoff_delays,
    checked_paths,
    parsed_author,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


def git_blob_sha(data: bytes) -> str:
    """The id git (and GitHub) give a blob with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _RefMoved(Exception):
    """The branch moved between reading it and updating it."""


class GitHubPublisher:
    """Publishes to `repo_full_name`'s `branch` (which must exist: start from the template)."""

    def __init__(
        self,
        repo_full_name: str,
        branch: str,
        token: str,
        base_url: str = "https://api.github.com",
        *,
        author: str = DEFAULT_AUTHOR,
        max_attempts: int = 5,
        timeout: int = 15,
        backoff: float = 1.0,
        seconds_between_writes: float | None = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: random.Random | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo_full_name):
            raise ValueError(f"repository must look like 'owner/name', got {repo_full_name!r}")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", branch) or ".." in branch:
            raise ValueError(f"unsupported branch name {branch!r}")
        if not token:
            raise ValueError("a GitHub token is required (the CLI reads GITHUB_TOKEN)")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts!r}")
        self._repo_name, self._branch = repo_full_name, branch
        self._author = InputGitAuthor(*parsed_author(author))
        self._max_attempts, self._backoff = max_attempts, backoff
        self._sleep, self._jitter = sleep, jitter or random.Random()
        # GitHub asks for >= 1 s between content-creating requests (secondary rate limits).
        self._github = Github(
            auth=Auth.Token(token),
            base_url=base_url,
            timeout=timeout,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=seconds_between_writes,
        )

    def __repr__(self) -> str:
        return f"GitHubPublisher({self._repo_name!r}, {self._branch!r})"

    def close(self) -> None:
        self._github.close()

    def __enter__(self) -> GitHubPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the port --

    def read(self, path: str) -> bytes | None:
        checked_paths({path: b""})
        return self._retrying("read", lambda: self._read(path))

    def publish(self, files: Mapping[str, bytes], message: str) -> PublishResult:
        paths = checked_paths(files)
        local = {p: git_blob_sha(files[p]) for p in paths}
        return self._retrying("publish", lambda: self._publish(files, local, message))

    # -- one try --

    def _read(self, path: str) -> bytes | None:
        repo = self._github.get_repo(self._repo_name)
        try:
            found = repo.get_contents(path, ref=self._branch)
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise
        if isinstance(found, list):  # a directory
            return None
        if found.encoding == "none" or (found.size and not found.content):
            return base64.b64decode(repo.get_git_blob(found.sha).content)  # files over 1 MB
        return found.decoded_content

    def _publish(
        self, files: Mapping[str, bytes], local: Mapping[str, str], message: str
    ) -> PublishResult:
        repo = self._github.get_repo(self._repo_name)
        ref = repo.get_git_ref(f"heads/{self._branch}")
        head = repo.get_git_commit(ref.object.sha)
        tree = repo.get_git_tree(head.tree.sha, recursive=True)
        existing = {e.path: e.sha for e in tree.tree if e.type == "blob"}
        if tree.raw_data.get("truncated"):
            existing = {}  # an incomplete listing: treat every file as changed
        changed = tuple(p for p, sha in local.items() if existing.get(p) != sha)
        if not changed:
            return PublishResult("unchanged", sha=head.sha)
        elements = []
        for path in changed:
            blob = repo.create_git_blob(base64.b64encode(files[path]).decode(), "base64")
            if blob.sha != local[path]:
                raise PublishPermanentError(
                    f"GitHub stored {path} as {blob.sha}, not {local[path]}"
                )
            elements.append(InputGitTreeElement(path, "100644", "blob", sha=blob.sha))
        new_tree = repo.create_git_tree(elements, base_tree=head.tree)
        commit = repo.create_git_commit(
            message, new_tree, [head], author=self._author, committer=self._author
        )
        try:
            ref.edit(commit.sha, force=False)
        except GithubException as exc:
            if exc.status == 422 and "fast forward" in _message(exc).lower():
                raise _RefMoved from None
            raise
        return PublishResult("committed", sha=commit.sha, changed=changed)

    # -- retries and error classification --

    def _retrying(self, what: str, attempt: Callable[[], T]) -> T:
        delays = backoff_delays(self._max_attempts, self._backoff, 30.0, self._jitter)
        last = ""
        for number in range(1, self._max_attempts + 1):
            try:
                return attempt()
            except _RefMoved:
                last = f"branch {self._branch} moved during the update"
            except GithubException as exc:
                error = self._classified(exc)
                if isinstance(error, PublishPermanentError):
                    raise error from None
                last = str(error)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__} talking to GitHub"
            log.info(
                "github %s %s: %s (attempt %d of %d)",
                what, self._repo_name, last, number, self._max_attempts,
            )  # fmt: skip
            if number < self._max_attempts:
                self._sleep(delays[number - 1])
        raise PublishTransientError(
            f"github {what} {self._repo_name}: gave up after {self._max_attempts} attempts: {last}"
        )

    def _classified(self, exc: GithubException) -> PublishError:
        where, text = f"{self._repo_name} branch {self._branch}", _message(exc)
        if exc.status == 401:
            return PublishPermanentError(
                f"GitHub rejected the token for {where} (401 {text}); check GITHUB_TOKEN"
            )
        if exc.status == 403 and "rate limit" not in text.lower():
            return PublishPermanentError(
                f"GitHub refused access to {where} (403 {text}); the token needs contents:write"
            )
        if exc.status in (404, 409):
            return PublishPermanentError(
                f"GitHub has no {where} ({exc.status} {text}); create it from "
                "leaderboard_repo_template and check the token can see it"
            )
        if exc.status in (403, 429) or exc.status >= 500:
            return PublishTransientError(f"GitHub answered {exc.status} {text} for {where}")
        return PublishPermanentError(f"GitHub answered {exc.status} {text} for {where}")


def _message(exc: GithubException) -> str:
    data = exc.data
    return str(data.get("message", "")) if isinstance(data, dict) else ""
