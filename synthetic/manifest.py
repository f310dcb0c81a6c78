"""The JSON-ready description of a generated challenge (written as challenge.json). Pure.

It holds no time stamps or absolute paths, so that the same spec gives the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from synthetic.challenge import Challenge
from synthetic.embeddings import team_profile

MANIFEST_FORMAT = 1


def _spec(challenge: Challenge) -> dict[str, object]:
    spec = dataclasses.asdict(challenge.spec)
    if not spec["breadth"]:
        del spec["breadth"]  # absent unless used, so earlier manifests stay byte-identical
    return spec


def challenge_manifest(
    challenge: Challenge,
    annotation_dirs: Mapping[str, str],
    submission_files: Mapping[str, str],
) -> dict[str, object]:
    """Spec, phases (tasks with row counts), teams and the relative paths they were written to."""
    phases = {}
    for phase in challenge.phases:
        phases[phase.name] = {
            "annotations": annotation_dirs[phase.name],
            "tasks": [
                {
                    "name": task.name,
                    "kind": task.kind,
                    "file": task.file_name,
                    "rows": len(task.ids),
                    "empty_labels": task.empty_labels,
                }
                for task in phase.tasks
            ],
            "rows": sum(len(task.ids) for task in phase.tasks),
            "ids": len({i for task in phase.tasks for i in task.ids}),
        }
    teams = []
    for submission in challenge.submissions:
        profile = team_profile(submission.team)
        teams.append(
            {
                "name": profile.name,
                "display_name": profile.display_name,
                "description": profile.description,
                "competing": profile.competing,
                "file": submission_files[submission.team],
                "rows": int(submission.matrix.shape[0]),
                "dim": int(submission.matrix.shape[1]),
            }
        )
    return {
        "generator": "synthetic",
        "format": MANIFEST_FORMAT,
        "spec": _spec(challenge),
        "ids": len(challenge.ids),
        "phases": phases,
        "teams": teams,
    }
