"""Which phases are ready: `PhaseLabels` reads a label folder once, again only when it changed,
turns anything that breaks reading it into "not ready" with the reason, and tells its watch.
Real label files under tmp_path; the watch is a small recorder (a port implementation)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from scoring.config import ProbeConfig
from scoring.labels import load_tasks
from worker.phase_labels import PhaseLabels, PhaseNotReady, folder_fingerprint, load_phase_tasks
from worker.settings import PhaseSettings

GOOD = "id,label\na,1.5\nb,2.5\nc,0.5\n"


class Recorder:
    def __init__(self) -> None:
        self.heard: list[tuple[str, ...]] = []

    def phase_not_ready(self, phase: str, problem: str) -> None:
        self.heard.append(("not ready", phase, problem))

    def phase_ready(self, phase: str) -> None:
        self.heard.append(("ready", phase))


def phase(folder: Path, codename: str = "dev", **probe: object) -> PhaseSettings:
    folder.mkdir(parents=True, exist_ok=True)
    return PhaseSettings(codename, folder, ProbeConfig(**probe))


def touch_later(path: Path, text: str) -> None:
    """Rewrite a file so that its stat surely differs (size or a later mtime)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def counting_loader(calls: list[str]):
    def load(settings: PhaseSettings):
        calls.append(settings.codename)
        return load_phase_tasks(settings)
    return load


def test_a_good_folder_is_read_once_and_again_only_when_it_changes(tmp_path: Path):
    dev = phase(tmp_path / "dev")
    (dev.annotations / "crops__regr.csv").write_text(GOOD)
    calls: list[str] = []
    labels = PhaseLabels({"dev": dev}, loader=counting_loader(calls))
    for _ in range(5):
        assert labels.problem("dev") is None
    assert [t.name for t in labels.tasks(dev)] == ["crops"]
    assert calls == ["dev"]
    touch_later(dev.annotations / "crops__regr.csv", GOOD + "d,9.5\n")
    assert labels.tasks(dev)[0].n_rows == 4
    assert calls == ["dev", "dev"]


def test_a_broken_file_makes_the_phase_not_ready_until_it_is_fixed(tmp_path: Path, caplog):
    dev = phase(tmp_path / "dev")
    final = phase(tmp_path / "final", "final")
    (final.annotations / "crops__regr.csv").write_text(GOOD)
    (dev.annotations / "crops__regr.csv").write_text("id,label\na,1\nb,oops\n")
    watch = Recorder()
    labels = PhaseLabels({"dev": dev, "final": final}, watch)
    caplog.set_level(logging.INFO, logger="worker.phase_labels")

    problem = "crops__regr.csv: line 3: label 'oops' is not a number"
    assert labels.check_all() == {"dev": problem}
    assert labels.check_all() == {"dev": problem}
    with pytest.raises(PhaseNotReady) as caught:
        labels.tasks(dev)
    assert caught.value.problem == problem
    assert labels.problem("final") is None
    # Told on every check while not ready (the alerts decide about reminders); ready once.
    assert watch.heard == [("not ready", "dev", problem), ("ready", "final"),
                           ("not ready", "dev", problem)]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"phase dev is not ready: {problem}. ")

    watch.heard.clear()
    touch_later(dev.annotations / "crops__regr.csv", GOOD)
    assert labels.check_all() == {}
    assert labels.check_all() == {}
    assert watch.heard == [("ready", "dev")]
    assert any(r.getMessage().startswith("phase dev is ready again: 1 tasks, 3 labelled rows")
               for r in caplog.records)


def test_a_folder_that_disappears_or_a_filter_naming_no_task_is_not_ready(tmp_path: Path):
    dev = phase(tmp_path / "dev", task_filter=("crops", "missing"))
    (dev.annotations / "crops__regr.csv").write_text(GOOD)
    labels = PhaseLabels({"dev": dev})
    assert labels.problem("dev") == ("task_filter names unknown task(s): missing; "
                                     "known: crops")
    gone = phase(tmp_path / "gone", "gone")
    gone.annotations.rmdir()
    labels = PhaseLabels({"gone": gone})
    assert labels.problem("gone") == f"annotation folder not found: {gone.annotations}"


def test_a_file_made_unreadable_is_noticed_by_the_fingerprint(tmp_path: Path):
    dev = phase(tmp_path / "dev")
    path = dev.annotations / "crops__regr.csv"
    path.write_text(GOOD)
    before = folder_fingerprint(dev.annotations)
    path.chmod(0o000)  # same size and mtime: only the mode and ctime change
    assert folder_fingerprint(dev.annotations) != before
    path.chmod(0o640)


def test_anything_a_loader_raises_is_not_ready_never_an_exception(tmp_path: Path):
    dev = phase(tmp_path / "dev")

    def broken(settings: PhaseSettings):
        raise PermissionError(13, "Permission denied")

    labels = PhaseLabels({"dev": dev}, loader=broken)
    assert labels.problem("dev") == ("reading the labels failed: PermissionError: "
                                     "[Errno 13] Permission denied")


def test_an_unknown_phase_is_left_to_the_pipeline(tmp_path: Path):
    labels = PhaseLabels({})
    assert labels.problem("nope") is None
    assert labels.check_all() == {}


def test_a_watch_that_fails_never_stops_the_check(tmp_path: Path):
    dev = phase(tmp_path / "dev")

    class Broken:
        def phase_not_ready(self, phase: str, problem: str) -> None:
            raise RuntimeError("database locked")

        phase_ready = phase_not_ready

    labels = PhaseLabels({"dev": dev}, Broken())
    assert "no <task>__" in labels.check_all()["dev"]


def test_the_tasks_are_those_load_tasks_reads(tmp_path: Path):
    dev = phase(tmp_path / "dev")
    (dev.annotations / "b__cls.csv").write_text("id,label\na,0\nb,1\n")
    (dev.annotations / "a__regr.csv").write_text(GOOD)
    ours = PhaseLabels({"dev": dev}).tasks(dev)
    assert [(t.name, t.ids) for t in ours] == [(t.name, t.ids)
                                              for t in load_tasks(dev.annotations)]
