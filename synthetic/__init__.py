"""Synthetic hidden-task challenges shaped like the 2025 Embed2Scale final phase, for the demo,
the test-suite and the benchmark.

Pure except `synthetic.writer` (files) and `synthetic.__main__` (the CLI). Typical use:

    from synthetic import make_challenge, spec_for_size, write_challenge
    challenge = make_challenge(spec_for_size("demo", seed=1))
    layout = write_challenge(challenge, "demo-output/challenge")

or `python -m synthetic --out DIR --size demo`.
"""

from synthetic.challenge import Challenge, Submission, make_challenge
from synthetic.embeddings import TEAMS, TeamProfile, embedding_matrix, team_profile
from synthetic.latent import LatentState, latent_state
from synthetic.manifest import challenge_manifest
from synthetic.randomness import component_rng, uuid4_like_ids
from synthetic.spec import (
    FINAL_PHASE_2025,
    SIZES,
    TEAM_NAMES,
    TEAM_SETS,
    VARIANT_TEAM_NAMES,
    ChallengeSpec,
    TaskGroupShape,
    TaskShape,
    spec_for_size,
)
from synthetic.tasks import Phase, TaskLabels, dev_phase, final_phase
from synthetic.writer import (
    ChallengeLayout,
    significant_digits_rounded,
    write_challenge,
    write_embedding_table,
    write_label_file,
)

__all__ = [
    "FINAL_PHASE_2025",
    "SIZES",
    "TEAMS",
    "TEAM_NAMES",
    "TEAM_SETS",
    "VARIANT_TEAM_NAMES",
    "Challenge",
    "ChallengeLayout",
    "ChallengeSpec",
    "LatentState",
    "Phase",
    "Submission",
    "TaskGroupShape",
    "TaskLabels",
    "TaskShape",
    "TeamProfile",
    "challenge_manifest",
    "component_rng",
    "dev_phase",
    "embedding_matrix",
    "final_phase",
    "latent_state",
    "make_challenge",
    "significant_digits_rounded",
    "spec_for_size",
    "team_profile",
    "uuid4_like_ids",
    "write_challenge",
    "write_embedding_table",
    "write_label_file",
]
