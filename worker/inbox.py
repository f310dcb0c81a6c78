"""The local inbox as a SubmissionSource: the embedded default, no EvalAI and no credentials.
Reads files under the inbox folder; writes results under the data folder.

    <inbox>/<phase>/<team>/<file>          a submission (csv, csv.gz or zip)
    <data>/inbox-results/<phase>/<team>/<file>.result.json   what the participant would see

A file is identified by its path and content hash, so re-saving a file with new content is a new
submission and re-scanning an unchanged file is not. Files whose name starts with "." or ends
in ".part"/".tmp", and files modified in the last `settle_seconds`, are skipped (still being
written). A team folder ending in ".private" marks its submissions private.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from worker.errors import DownloadTooLarge
from worker.settings import PhaseSettings
from worker.source import Delivery, SubmissionMeta
from worker.store import SqlScoreStore

SKIP_SUFFIXES = (".part", ".tmp", ".result.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InboxSource:
    name = "inbox"

    def __init__(self, inbox: Path, results: Path, store: SqlScoreStore,
                 baselines: tuple[str, ...] = (), settle_seconds: float = 1.0) -> None:
        self.inbox = Path(inbox)
        self.results = Path(results)
        self.store = store
        self.baselines = set(baselines)
        self.settle_seconds = settle_seconds
        self._known: dict[tuple[str, int, int], int] = {}  # (path, size, mtime_ns) -> pk
        self._paths: dict[int, Path] = {}
        self._offered: set[int] = set()

    def _scan(self) -> list[tuple[float, int]]:
        found = []
        now = datetime.now(UTC).timestamp()
        if not self.inbox.is_dir():
            return found
        for path in sorted(self.inbox.glob("*/*/*")):
            if not path.is_file() or path.name.startswith(".") or path.name.endswith(SKIP_SUFFIXES):
                continue
            stat = path.stat()
            if now - stat.st_mtime < self.settle_seconds:
                continue
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in self._known:
                rel = path.relative_to(self.inbox).as_posix()
                self._known[key] = self.store.allocate_inbox_pk(f"{rel}@{_sha256(path)}")
            pk = self._known[key]
            self._paths[pk] = path
            found.append((stat.st_mtime, pk))
        return sorted(found)

    def receive(self) -> Delivery | None:
        for _, pk in self._scan():
            if pk in self._offered:
                continue
            stored = self.store.get(self.name, pk)
            if stored is not None and stored.status in ("finished", "failed", "cancelled") \
                    and stored.reported:
                continue
            self._offered.add(pk)
            return Delivery(pk)
        self._offered.clear()  # next drain may offer busy or retrying ones again
        return None

    def acknowledge(self, delivery: Delivery) -> None:
        """Nothing to delete: the store remembers the file as reported."""

    def _path(self, pk: int) -> Path:
        if pk not in self._paths:
            self._scan()
        if pk not in self._paths:
            raise FileNotFoundError(f"inbox submission {pk} is no longer in {self.inbox}")
        return self._paths[pk]

    def describe(self, pk: int) -> SubmissionMeta:
        path = self._path(pk)
        phase, team_dir = path.relative_to(self.inbox).parts[:2]
        team = team_dir.removesuffix(".private")
        stored = self.store.get(self.name, pk)
        result = self._result_path(path)
        status = "submitted"
        completed = None
        if result.exists():
            data = json.loads(result.read_text())
            status = data.get("status", "submitted")
            completed = datetime.fromisoformat(data["completed_at"]) if "completed_at" in data \
                else None
        return SubmissionMeta(
            source=self.name,
            pk=pk,
            phase=phase,
            phase_pk=None,
            team_name=team,
            team_pk=None,
            method_name=path.name.split(".")[0],
            is_public=not team_dir.endswith(".private"),
            is_baseline=team in self.baselines,
            submitted_at=stored.submitted_at if stored else datetime.fromtimestamp(
                path.stat().st_mtime, UTC),
            status=status,
            completed_at=completed,
        )

    def mark_running(self, meta: SubmissionMeta) -> None:
        """The inbox has no remote status to update."""

    def download(self, meta: SubmissionMeta, dest: Path, max_bytes: int) -> None:
        path = self._path(meta.pk)
        if path.stat().st_size > max_bytes:
            raise DownloadTooLarge(limit=max_bytes, size=path.stat().st_size)
        shutil.copyfile(path, dest)

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
