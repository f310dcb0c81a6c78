"""Publishing the leaderboard: the Publisher port, its errors and the safety rules above it.

I/O: `publish_board` reads the last published board and publishes through the port. The
publishers are `GitPublisher` (module `git`: plain git against any remote) and `GitHubPublisher`
(module `github`: the Git Data API through PyGithub).

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

import json
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, Protocol

from worker.errors import PermanentError, TransientError, WorkerError
from worker.leaderboard.render import json_path

log = logging.getLogger(__name__)

Status = Literal["committed", "unchanged", "refused", "frozen"]
DEFAULT_AUTHOR = "NeuCo-Bench leaderboard <leaderboard@neuco-bench.invalid>"
_AUTHOR = re.compile(r"^\s*([^<>\n]+?)\s*<([^<>\s]+)>\s*$")


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
