"""`GitPublisher`: the Publisher port over plain git, against any remote (local path, ssh or
https). Each publication fetches the remote branch, builds one commit on its head from the files
whose bytes changed, and pushes; a push that lost a race is retried with jittered backoff.

I/O: through `GitRepository` (module `git_plumbing`): `git` subprocesses on a private bare
repository in `workdir` and the remote. Sleeps through the injected `sleep`.
"""

from __future__ import annotations

import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from worker.leaderboard.git_plumbing import GitRepository, redact_url
from worker.leaderboard.publish import (
    DEFAULT_AUTHOR,
    PublishResult,
    PublishTransientError,
    backoff_delays,
    checked_paths,
    parsed_author,
)

log = logging.getLogger(__name__)


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
        self._branch, self._workdir = branch, Path(workdir)
        self._shown = redact_url(remote_url)
        name, email = parsed_author(author)
        self._repo = GitRepository(remote_url, branch, self._workdir, name, email, timeout)
        self._max_attempts, self._backoff = max_attempts, backoff
        self._sleep, self._jitter = sleep, jitter or random.Random()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GitPublisher({self._shown!r}, {self._branch!r}, {str(self._workdir)!r})"

    # -- the port --

    def read(self, path: str) -> bytes | None:
        checked_paths({path: b""})
        with self._lock:
            head = self._repo.fetch()
            if head is None:
                return None
            done = self._repo.run("cat-file", "blob", f"{head}:{path}", check=False)
            return done.stdout if done.returncode == 0 else None

    def publish(self, files: Mapping[str, bytes], message: str) -> PublishResult:
        paths = checked_paths(files)
        with self._lock:
            self._repo.init()
            blobs = {p: self._repo.write_blob(files[p]) for p in paths}
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
        head = self._repo.fetch()
        existing = self._repo.tree_blobs(head) if head else {}
        changed = tuple(p for p, sha in blobs.items() if existing.get(p) != sha)
        if not changed:
            return PublishResult("unchanged", sha=head)
        fd, index = tempfile.mkstemp(prefix="publish-", suffix=".index", dir=self._workdir)
        os.close(fd)
        os.unlink(index)  # git wants to create the index itself
        try:
            env = {"GIT_INDEX_FILE": index}
            self._repo.run("read-tree", *([head] if head else ["--empty"]), env=env)
            listing = "".join(f"100644 {blobs[p]}\t{p}\n" for p in changed).encode()
            self._repo.run("update-index", "--index-info", data=listing, env=env)
            tree = self._repo.run("write-tree", env=env).stdout.decode().strip()
        finally:
            Path(index).unlink(missing_ok=True)
        parents = ["-p", head] if head else []
        commit = self._repo.run("commit-tree", tree, *parents, "-F", "-", data=message.encode())
        sha = commit.stdout.decode().strip()
        if not self._repo.push(sha):
            return None
        return PublishResult("committed", sha=sha, changed=changed)
