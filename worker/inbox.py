"""The local inbox as a SubmissionSource: the embedded default, no EvalAI and no credentials.
Reads files under the inbox folder; writes results under the data folder.

    <inbox>/<phase>/<team>/<file>          a submission (csv, csv.gz or zip)
    <data>/inbox-results/<phase>/<team>/<file>.result.json   what the participant would see

A file is identified by its path and content hash, so re-saving a file with new content is a new
submission and re-scanning an unchanged file is not. Names starting with "." or ending in
".part"/".tmp", and files modified in the last `settle_seconds`, are skipped (still being
written). A team folder ending in ".private" marks its submissions private.

Never follows a symbolic link: below the inbox folder itself, every folder and file is opened
with O_NOFOLLOW, one level at a time, so a link (to a label file, say) is never read, not even
when it replaces a file between the scan and the read. Everything that is not where a
submission belongs — a link, a file directly in the inbox or in a phase folder, a folder inside
a team folder, a folder of a phase the challenge does not have — is left alone and reported:
once in the log, and by `doctor` and `status` (`survey_inbox`).

A received file that is deleted, changed or replaced before it is read fails its submission with
a message saying so (the new content of a changed file is a submission of its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from worker.errors import DownloadTooLarge, SubmissionFileGone
from worker.settings import PhaseSettings
from worker.source import Delivery, SubmissionMeta
from worker.store import SqlScoreStore

log = logging.getLogger(__name__)

SKIP_SUFFIXES = (".part", ".tmp", ".result.json")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO must not block


def _skipped(name: str) -> bool:
    """Names left alone without a word: hidden files and files still being written."""
    return name.startswith(".") or name.endswith(SKIP_SUFFIXES)


@dataclass(frozen=True)
class Misplaced:
    """Something in the inbox that is not read, and why (`path` relative to the inbox)."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class InboxSurvey:
    """What a look at the inbox found: submission files as (phase, team folder, name), and
    everything left alone."""

    files: list[tuple[str, str, str]] = field(default_factory=list)
    misplaced: list[Misplaced] = field(default_factory=list)


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as listing:
            return sorted(listing, key=lambda entry: entry.name)
    except FileNotFoundError:
        return []


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "other"


LINK = "a symbolic link: never followed, so nothing behind it is read (copy the real file here)"
OTHER = "not a regular file or folder; left alone"


def survey_inbox(inbox: Path, phases: Collection[str] | None = None) -> InboxSurvey:
    """One look at the inbox without following any link. `phases`: the challenge's phase
    codenames (None: any folder is a phase)."""
    survey = InboxSurvey()
    inbox = Path(inbox)
    if not inbox.is_dir():
        return survey
    for top in _entries(inbox):
        if _skipped(top.name):
            continue
        kind = _kind(top)
        if kind == "folder" and phases is not None and top.name not in phases:
            survey.misplaced.append(Misplaced(
                f"{top.name}/", f"not a phase of this challenge (phases: "
                f"{', '.join(sorted(phases)) or 'none'}); its files are not read"))
        elif kind == "folder":
            _survey_phase(inbox, top.name, survey)
        elif kind == "file":
            survey.misplaced.append(Misplaced(
                top.name, "a file directly in the inbox; submissions go into <phase>/<team>/"))
        else:
            survey.misplaced.append(Misplaced(top.name, LINK if kind == "link" else OTHER))
    return survey


def _survey_phase(inbox: Path, phase: str, survey: InboxSurvey) -> None:
    for entry in _entries(inbox / phase):
        if _skipped(entry.name):
            continue
        kind, where = _kind(entry), f"{phase}/{entry.name}"
        if kind == "folder":
            _survey_team(inbox, phase, entry.name, survey)
        elif kind == "file":
            survey.misplaced.append(Misplaced(
                where, f"a file directly in the phase folder; submissions go into "
                f"{phase}/<team>/"))
        else:
            survey.misplaced.append(Misplaced(where, LINK if kind == "link" else OTHER))


def _survey_team(inbox: Path, phase: str, team: str, survey: InboxSurvey) -> None:
    for entry in _entries(inbox / phase / team):
        if _skipped(entry.name):
            continue
        kind, where = _kind(entry), f"{phase}/{team}/{entry.name}"
        if kind == "file":
            survey.files.append((phase, team, entry.name))
        elif kind == "folder":
            survey.misplaced.append(Misplaced(
                f"{where}/", f"a folder inside a team folder; its files are not read "
                f"(submissions go directly into {phase}/{team}/)"))
        else:
            survey.misplaced.append(Misplaced(where, LINK if kind == "link" else OTHER))


def open_without_links(inbox: Path, relative: str) -> BinaryIO:
    """<inbox>/<relative> opened for reading, refusing a symbolic link at every level below the
    inbox and anything but a regular file: OSError (ELOOP for a link) when it cannot."""
    parts = relative.split("/")
    folder = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIRECTORY, dir_fd=folder)
            os.close(folder)
            folder = inner
        fd = os.open(parts[-1], _FILE, dir_fd=folder)
    finally:
        os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise IsADirectoryError(f"{relative} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _sha256(handle: BinaryIO, copy_to: BinaryIO | None = None) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(1 << 20), b""):
        digest.update(block)
        if copy_to is not None:
            copy_to.write(block)
    return digest.hexdigest()


class InboxSource:
    name = "inbox"

    def __init__(self, inbox: Path, results: Path, store: SqlScoreStore,
                 baselines: tuple[str, ...] = (), settle_seconds: float = 1.0,
                 phases: Collection[str] | None = None) -> None:
        self.inbox = Path(inbox)
        self.results = Path(results)
        self.store = store
        self.baselines = set(baselines)
        self.settle_seconds = settle_seconds
        self.phases = None if phases is None else frozenset(phases)
        self._known: dict[tuple[str, int, int], int] = {}  # (path, size, mtime_ns) -> pk
        self._keys: dict[int, str] = {}  # pk -> "<phase>/<team>/<file>@<sha256>"
        self._offered: set[int] = set()
        self._reported: set[Misplaced] = set()

    def _scan(self) -> list[tuple[float, int]]:
        found = []
        now = datetime.now(UTC).timestamp()
        survey = survey_inbox(self.inbox, self.phases)
        for item in survey.misplaced:
            if item not in self._reported:
                self._reported.add(item)
                log.warning("inbox: %s/%s", self.inbox, item)
        for phase, team, name in survey.files:
            rel = f"{phase}/{team}/{name}"
            try:
                with open_without_links(self.inbox, rel) as handle:
                    st = os.fstat(handle.fileno())
                    if now - st.st_mtime < self.settle_seconds:
                        continue
                    key = (rel, st.st_size, st.st_mtime_ns)
                    if key not in self._known:
                        path_key = f"{rel}@{_sha256(handle)}"
                        self._known[key] = self.store.allocate_inbox_pk(path_key)
                        self._keys[self._known[key]] = path_key
            except OSError:
                continue  # gone or replaced since the survey: the next scan sees what is there
            found.append((st.st_mtime, self._known[key]))
        return sorted(found)

    def receive(self) -> Delivery | None:
        present = set()
        for _, pk in self._scan():
            present.add(pk)
            if pk in self._offered:
                continue
            stored = self.store.get(self.name, pk)
            if stored is not None and stored.status in ("finished", "failed", "cancelled") \
                    and stored.reported:
                continue
            self._offered.add(pk)
            return Delivery(pk)
        # Waiting submissions whose file is gone: offered once more, to fail with a message.
        for stored in self.store.list_submissions(status="received", source=self.name):
            if stored.pk not in present and stored.pk not in self._offered:
                self._offered.add(stored.pk)
                return Delivery(stored.pk)
        self._offered.clear()  # next drain may offer busy or retrying ones again
        return None

    def acknowledge(self, delivery: Delivery) -> None:
        """Nothing to delete: the store remembers the file as reported."""

    def _key(self, pk: int) -> tuple[str, str]:
        """(path relative to the inbox, sha256) of what was received as `pk`."""
        key = self._keys.get(pk) or self.store.inbox_path_key(pk)
        if key is None:
            raise SubmissionFileGone(f"inbox submission {pk} is unknown")
        self._keys[pk] = key
        rel, _, digest = key.rpartition("@")
        return rel, digest

    def _path(self, pk: int) -> Path:
        return self.inbox / self._key(pk)[0]

    def describe(self, pk: int) -> SubmissionMeta:
        rel, _ = self._key(pk)
        phase, team_dir, name = rel.split("/")
        team = team_dir.removesuffix(".private")
        stored = self.store.get(self.name, pk)
        result = self._result_path(self.inbox / rel)
        status = "submitted"
        completed = None
        if result.exists():
            data = json.loads(result.read_text())
            status = data.get("status", "submitted")
            completed = datetime.fromisoformat(data["completed_at"]) if "completed_at" in data \
                else None
        submitted = stored.submitted_at if stored else None
        if submitted is None:
            try:
                with open_without_links(self.inbox, rel) as handle:
                    submitted = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC)
            except OSError:
                submitted = datetime.now(UTC)
        return SubmissionMeta(
            source=self.name,
            pk=pk,
            phase=phase,
            phase_pk=None,
            team_name=team,
            team_pk=None,
            method_name=name.split(".")[0],
            is_public=not team_dir.endswith(".private"),
            is_baseline=team in self.baselines,
            submitted_at=submitted,
            status=status,
            completed_at=completed,
        )

    def mark_running(self, meta: SubmissionMeta) -> None:
        """The inbox has no remote status to update."""

    def download(self, meta: SubmissionMeta, dest: Path, max_bytes: int) -> None:
        """Copy the file as it was received (never through a link), or SubmissionFileGone."""
        rel, digest = self._key(meta.pk)
        name = rel.rsplit("/", 1)[-1]
        try:
            handle = open_without_links(self.inbox, rel)
        except FileNotFoundError:
            raise SubmissionFileGone(
                f"The file {name} was removed from the inbox before it could be scored, so it "
                "was not evaluated. Put the file back (or a new one) to submit again."
            ) from None
        except OSError:
            raise SubmissionFileGone(
                f"The file {name} (or its folder) was replaced by a symbolic link or something "
                "other than a plain file before it could be scored; links are never followed. "
                "Copy the file itself into your team folder to submit again."
            ) from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise DownloadTooLarge(limit=max_bytes, size=size)
            with open(dest, "wb") as copy:
                copied = _sha256(handle, copy)
        if copied != digest:
            raise SubmissionFileGone(
                f"The file {name} changed after it was received, so this version was not "
                "evaluated; the new content is scored as a submission of its own."
            )

    def _result_path(self, path: Path) -> Path:
        return self.results / path.relative_to(self.inbox).with_name(path.name + ".result.json")

    def _write(self, meta: SubmissionMeta, payload: dict) -> None:
        target = self._result_path(self._path(meta.pk))
        target.parent.mkdir(parents=True, exist_ok=True)
        payload = {"submission": meta.pk, **payload,
                   "completed_at": datetime.now(UTC).isoformat()}
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        tmp.replace(target)

    def report_finished(self, meta: SubmissionMeta, phase: PhaseSettings, mean_q: float,
                        stdout: str, metadata: dict) -> None:
        self._write(meta, {"status": "finished", "split": phase.split,
                           "accuracies": {phase.metric: round(mean_q, 6)}, "stdout": stdout,
                           "metadata": metadata})

    def report_failed(self, meta: SubmissionMeta, stderr: str, stdout: str) -> None:
        self._write(meta, {"status": "failed", "stderr": stderr, "stdout": stdout})
