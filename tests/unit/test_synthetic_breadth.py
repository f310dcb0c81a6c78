"""The synthetic generator's opt-in breadth: region groups and a multi-class task."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from scoring.labels import load_tasks
from synthetic.challenge import make_challenge
from synthetic.spec import REGIONS, SIZES
from synthetic.writer import write_challenge


def test_breadth_adds_groups_and_a_multiclass_task_without_changing_the_rest(tmp_path):
    plain = make_challenge(SIZES["tiny"])
    broad = make_challenge(dataclasses.replace(SIZES["tiny"], breadth=True))
    final = broad.phase("final")
    names = [t.name for t in final.tasks]
    assert "landcover_class" in names and len(names) == 10
    for task in plain.phase("final").tasks:  # every original task keeps its ids and labels
        other = final.task(task.name)
        np.testing.assert_array_equal(task.ids, other.ids)
        np.testing.assert_array_equal(task.labels, other.labels)
        assert task.groups is None and other.groups is not None
    for a, b in zip(plain.submissions, broad.submissions, strict=True):
        np.testing.assert_array_equal(a.matrix, b.matrix)
    mcls = final.task("landcover_class")
    assert mcls.file_name == "landcover_class__mcls.csv"
    assert set(np.unique(mcls.labels)) <= {0.0, 1.0, 2.0}
    assert len(set(mcls.labels)) >= 2
    assert 2 <= len(set(mcls.groups)) <= REGIONS


def test_written_breadth_files_load_as_tasks_with_groups_and_classes(tmp_path):
    broad = make_challenge(dataclasses.replace(SIZES["tiny"], breadth=True))
    layout = write_challenge(broad, tmp_path)
    header = (layout.annotations["final"] / "crops__regr.csv").read_text().splitlines()[0]
    assert header == "id,label,group"
    tasks = {t.name: t for t in load_tasks(layout.annotations["final"])}
    land = tasks["landcover_class"]
    assert land.kind == "mcls"
    assert set(land.classes) <= {"agriculture", "forest", "other"}
    assert all(g.startswith("region-") for g in land.groups)
    dev = {t.name: t for t in load_tasks(layout.annotations["dev"])}
    assert all(t.groups is not None for t in dev.values())
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["spec"]["breadth"] is True


def test_default_manifest_has_no_breadth_key(tmp_path):
    layout = write_challenge(make_challenge(SIZES["tiny"]), tmp_path)
    assert "breadth" not in json.loads(layout.manifest.read_text())["spec"]
    header = (layout.annotations["final"] / "crops__regr.csv").read_text().splitlines()[0]
    assert header == "id,label"
