"""Publishing the leaderboard: the Publisher port, its errors and the safety rules above it.

I/O: `publish_board` reads the last published board and publishes through the port. The
publishers are `GitPublisher` (module `git`: plain git against any remote) and `GitHubPublisher`
(module `github`: the Git Data API through PyGithub).

Safety, implemented once in `publish_board` (the 2025 bot committed an empty table once and let a
team vanish from a frozen board):
- a frozen phase is never republished;
- a board that drops a previously published entry, or that is empty, is refused unless the
  entry's departure is accounted for or an explanation is given. The caller accounts for
  departures from the scoring database (`Departure`: a team that made its submissions private
  leaves the board; nobody else's publication waits for an organiser). Departures, renames and
  the organiser's explanation are logged and written into the commit message;
- entries are matched by their `entry_id` (an opaque id per team or baseline, in the published
  JSON), else by name (boards published before entry ids), so a renamed team is not a departure;
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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
    notes: tuple[str, ...] = ()  # entries that left or were renamed (also in the commit message)

    @property
    def committed(self) -> bool:
        return self.status == "committed"


class Publisher(Protocol):
    """Writes a set of files to a branch as one commit, and reads the branch back."""

    def publish(self, files: Mapping[str, bytes], message: str) -> PublishResult: ...

    def read(self, path: str) -> bytes | None: ...


# ---- the safety rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedEntry:
    """One entry of a board file: its shown name and, since entry ids, its id."""

    name: str
    entry_id: str | None = None


@dataclass(frozen=True)
class Departure:
    """An entry the scoring database accounts for if it is no longer on the board, and why
    ("made private by its owner"). Matched by `entry_id`; `name` serves boards published
    before entry ids."""

    entry_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class BoardChange:
    """How a new board's entries differ from the published ones. Pure data."""

    left: tuple[tuple[str, str], ...] = ()  # (published name, reason): accounted for
    missing: tuple[str, ...] = ()  # published names gone without a known reason
    renamed: tuple[tuple[str, str], ...] = ()  # (published name, new name), same entry id

    def notes(self) -> tuple[str, ...]:
        return (*(f"{name!r} left the board: {reason}" for name, reason in self.left),
                *(f"{old!r} is now shown as {new!r}" for old, new in self.renamed))  # fmt: skip


def board_change(
    previous: Sequence[PublishedEntry], new: Sequence[PublishedEntry],
    departures: Sequence[Departure] = (),
) -> BoardChange:
    """Which published entries the new board lost, renamed or accounts for. Pure.

    A published entry is still on the board when the new board has its entry id (under any
    name) or its name. A lost entry with an id is accounted for only by a departure with that
    id; one without (an older board file) by a departure with its name.
    """
    new_ids = {e.entry_id: e.name for e in new if e.entry_id}
    new_names = {e.name for e in new}
    by_id = {d.entry_id: d for d in departures}
    by_name = {d.name: d for d in departures}
    left, missing, renamed = [], [], []
    for entry in previous:
        if entry.entry_id and entry.entry_id in new_ids:
            if new_ids[entry.entry_id] != entry.name:
                renamed.append((entry.name, new_ids[entry.entry_id]))
            continue
        if entry.name in new_names:
            continue
        found = by_id.get(entry.entry_id) if entry.entry_id else by_name.get(entry.name)
        if found is None:
            missing.append(entry.name)
        else:
            left.append((entry.name, found.reason))
    return BoardChange(tuple(left), tuple(sorted(missing)), tuple(renamed))


def published_entries(document: bytes | None) -> list[PublishedEntry] | None:
    """The entries of a board file (`leaderboard/<phase>.json`); None when there is none."""
    if document is None:
        return None
    try:
        return [
            PublishedEntry(str(e["team"]), str(e["entry_id"]) if e.get("entry_id") else None)
            for e in json.loads(document)["entries"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PublishPermanentError(f"published board is not a leaderboard JSON: {exc}") from exc


def publish_board(
    publisher: Publisher,
    files: Mapping[str, bytes],
    message: str,
    *,
    phase: str,
    explanation: str | None = None,
    frozen: bool = False,
    departures: Sequence[Departure] = (),
) -> PublishResult:
    """Publish one phase's rendered files (`worker.leaderboard.board_files`) safely.

    The previous entries are read from the published `leaderboard/<phase>.json`, the new ones from
    `files`. An entry that left is fine when `departures` accounts for it (the caller asks the
    scoring database); any other lost entry, or an empty board, needs an `explanation`. An empty
    board whose every published entry left for a known reason needs none.
    """
    if frozen:
        log.info("leaderboard %s: phase is frozen, not republished", phase)
        return PublishResult("frozen", reason=f"phase {phase!r} is frozen")
    path = json_path(phase)
    if path not in files:
        raise ValueError(f"files hold no {path!r}; render them with worker.leaderboard.board_files")
    new = published_entries(files[path]) or []
    previous = published_entries(publisher.read(path))
    change = board_change(previous or (), new, departures)
    problem = ""
    if change.missing:
        problem = (
            f"{len(new)} entries after {len(previous or ())} published; missing "
            f"{len(change.missing)}: {', '.join(repr(m) for m in change.missing)}"
        )
    elif not new and not (previous and len(change.left) == len(previous)):
        problem = "the board has no entries"
    if problem and not explanation:
        log.warning("leaderboard %s: refused to publish, %s (no explanation given)", phase, problem)
        return PublishResult("refused", reason=problem, notes=change.notes())
    for note in change.notes():
        log.info("leaderboard %s: %s", phase, note)
    if change.notes():
        message = f"{message}\n\n" + "\n".join(f"{note}." for note in change.notes())
    if problem:
        log.warning("leaderboard %s: publishing although %s: %s", phase, problem, explanation)
        message = f"{message}\n\n{problem}.\nExplanation: {explanation}"
    result = publisher.publish(files, message)
    if result.committed:
        log.info("leaderboard %s: committed %s (%s)", phase, result.sha, ", ".join(result.changed))
    else:
        log.info("leaderboard %s: %s, nothing committed", phase, result.status)
    return replace(result, notes=change.notes())


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
