"""EvalAI's leaderboard for one challenge-phase split, as participants see it (protocol §4,
`apps/jobs/utils.py:calculate_distinct_sorted_leaderboard_data`), simplified. Pure.

Kept: only `finished`, unflagged submissions; public entries only on public splits; host-team
submissions hidden on public phases unless they are baselines; one row per team (its best by
`default_order_by`, a missing metric ranking as 0); baselines always kept; labels re-emitted in
schema order with "#" for missing ones. Not modelled: banned e-mails, latest-instead-of-best,
`?order_by=`, hidden scores, execution time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tests.doubles.evalai.model import LeaderboardRow, Phase, PhaseSplit, Submission, Team


def leaderboard_page(
    split: PhaseSplit,
    phase: Phase,
    rows: Sequence[LeaderboardRow],
    submissions: Mapping[int, Submission],
    teams: Mapping[int, Team],
    host_pks: set[int],
    iso: Callable[[float], str],
    *,
    only_public: bool,
) -> dict[str, Any]:
    eligible = []
    for row in rows:
        sub = submissions[row.submission_pk]
        team = teams[sub.team_pk]
        if sub.status != "finished" or sub.is_flagged:
            continue
        if only_public and not sub.is_public:
            continue
        if phase.is_public and team.member_pks & host_pks and not sub.is_baseline:
            continue
        eligible.append((row, sub, team))

    def score(row: LeaderboardRow) -> float:
        value = row.result.get(split.default_order_by)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return 0.0
        return float(value)

    sign = -1.0 if split.descending else 1.0
    ordered = sorted(eligible, key=lambda e: (sign * score(e[0]), e[1].submitted_at, e[1].pk))
    kept, seen_teams = [], set()
    for row, sub, team in ordered:
        if not sub.is_baseline:
            if team.pk in seen_teams:
                continue
            seen_teams.add(team.pk)
        kept.append((row, sub, team))

    results = [
        {
            "id": row.pk,
            "submission__participant_team": team.pk,
            "submission__participant_team__team_name": team.name,
            "submission__participant_team__team_url": "",
            "submission__is_baseline": sub.is_baseline,
            "submission__is_public": sub.is_public,
            "challenge_phase_split": split.pk,
            "result": [row.result.get(label, "#") for label in split.labels],
            "error": None,
            "filtering_score": score(row),
            "filtering_error": 0,
            "leaderboard__schema": {
                "labels": list(split.labels),
                "default_order_by": split.default_order_by,
            },
            "submission__submitted_at": iso(sub.submitted_at),
            "submission__method_name": sub.method_name,
            "submission__id": sub.pk,
            "submission__submission_metadata": sub.submission_metadata,
            "submission__is_verified_by_host": sub.is_verified_by_host,
        }
        for row, sub, team in kept
    ]
    return {"count": len(results), "next": None, "previous": None, "results": results}
