"""A whole synthetic challenge in memory: both phases' labels and every team's submission. Pure.

Axes: n ids (all task groups), d embedding dims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthetic.embeddings import embedding_matrix
from synthetic.latent import latent_state
from synthetic.randomness import component_rng
from synthetic.spec import ChallengeSpec
from synthetic.tasks import Phase, dev_phase, final_phase


@dataclass(frozen=True, eq=False)
class Submission:
    """One team's embedding table: row i of `matrix` embeds `ids[i]`."""

    team: str
    ids: np.ndarray  # (n,) str
    matrix: np.ndarray  # (n, d) float32


@dataclass(frozen=True, eq=False)
class Challenge:
    """Labels per phase and submissions, all for the same `ids`."""

    spec: ChallengeSpec
    ids: np.ndarray  # (n,) str, every id of the challenge in submission row order
    phases: tuple[Phase, ...]  # final, dev
    submissions: tuple[Submission, ...]  # in spec.teams order

    def phase(self, name: str) -> Phase:
        for phase in self.phases:
            if phase.name == name:
                return phase
        raise KeyError(f"no phase {name!r}; have {[p.name for p in self.phases]}")

    def submission(self, team: str) -> Submission:
        for submission in self.submissions:
            if submission.team == team:
                return submission
        raise KeyError(f"no team {team!r}; have {[s.team for s in self.submissions]}")


def make_challenge(spec: ChallengeSpec) -> Challenge:
    """Labels of the final and development phases and one submission per team of `spec`.

    Every submission lists all ids once, in one shared shuffled order (not the label files'
    order), so a scorer has to match rows by id.
    """
    latent = latent_state(spec)
    final = final_phase(spec, latent)
    dev = dev_phase(spec, final)
    order = component_rng(spec.seed, "submission-order").permutation(len(latent.ids))
    ids = latent.ids[order]
    ids.setflags(write=False)
    z = latent.z[order]
    groups = np.empty(len(latent.ids), dtype=object)  # (n,) task group of each sample
    for name, rows in latent.group_slices:
        groups[rows] = name
    groups = groups[order].astype(str)
    submissions = []
    for team in spec.teams:
        rng = component_rng(spec.seed, f"team/{team}")
        matrix = embedding_matrix(team, z, rng, spec.dim, groups)
        matrix.setflags(write=False)
        submissions.append(Submission(team=team, ids=ids, matrix=matrix))
    return Challenge(spec=spec, ids=ids, phases=(final, dev), submissions=tuple(submissions))
