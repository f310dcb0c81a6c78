"""Who decides what is on the public board: the pure rules. A team that made its scored
submissions private is a departure the store accounts for (`private_departures`); the
refuse-to-shrink rule (`board_change`) lets exactly those go, recognises renamed entries by their
id, and still catches every other lost entry; a team name never makes a baseline on EvalAI.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoring.config import ConfigError
from worker.leaderboard import Departure, PublishedEntry, board_change, private_departures
from worker.settings import BASELINE_NAMES_ON_EVALAI, settings_from
from worker.store import StoredSubmission

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
EVALAI_ENV = {"AUTH_TOKEN": "t0ken", "API_SERVER": "https://eval.ai", "QUEUE_NAME": "q-1",
              "CHALLENGE_PK": "7"}  # fmt: skip
GONE = "made private by its owner"


def stored(pk: int, team: str, *, team_pk: int | None = None, public: bool = True,
           baseline: bool = False, status: str = "finished", scored: bool = True,
           minute: int = 0) -> StoredSubmission:  # fmt: skip
    at = T0 + timedelta(minutes=minute)
    return StoredSubmission(
        id=pk, source="evalai", pk=pk, phase="final", team_pk=team_pk, team_name=team,
        method_name="m", is_public=public, is_baseline=baseline, submitted_at=at, received_at=at,
        started_at=at, finished_at=at, status=status, attempts=1, error_kind=None,
        error_message=None, reported=True, reported_at=at,
        current_evaluation_id=pk if scored else None, seed=1, mean_q=0.5, lease_owner=None,
        lease_until=None, warnings=(),
    )  # fmt: skip


def entries(*names: str) -> list[PublishedEntry]:
    return [PublishedEntry(name, f"id-{name.lower()}") for name in names]


# ---- board_change ---------------------------------------------------------------------------


def test_an_entry_accounted_for_leaves_and_any_other_is_missing():
    change = board_change(entries("alpha", "beta", "gamma"), entries("alpha"),
                          [Departure("id-beta", "beta", GONE)])  # fmt: skip

    assert change.left == (("beta", GONE),)
    assert change.missing == ("gamma",)
    assert change.notes() == (f"'beta' left the board: {GONE}",)


def test_a_departure_only_counts_for_its_own_entry_id():
    """A team that took a departed team's old name does not explain the departed entry away,
    and a departure of another id explains nothing."""
    previous = [PublishedEntry("beta", "id-beta")]
    assert board_change(previous, [], [Departure("id-other", "beta", GONE)]).missing == ("beta",)


def test_a_renamed_entry_is_no_departure():
    previous = entries("alpha", "beta")
    new = [PublishedEntry("alpha", "id-alpha"), PublishedEntry("Beta Reloaded", "id-beta")]

    change = board_change(previous, new)

    assert (change.left, change.missing) == ((), ())
    assert change.renamed == (("beta", "Beta Reloaded"),)
    assert change.notes() == ("'beta' is now shown as 'Beta Reloaded'",)


def test_a_board_published_before_entry_ids_matches_by_name():
    previous = [PublishedEntry("alpha"), PublishedEntry("beta"), PublishedEntry("gamma")]
    new = entries("alpha")

    change = board_change(previous, new, [Departure("id-beta", "beta", GONE)])

    assert change.left == (("beta", GONE),) and change.missing == ("gamma",)


def test_an_entry_whose_name_is_still_shown_is_not_lost():
    """A team's entry turning into a baseline entry of the same name (the host flagged its
    submission) changes the id, not what viewers see: as before entry ids, no refusal."""
    change = board_change([PublishedEntry("hosts", "id-team")], [PublishedEntry("hosts", "id-b")])
    assert change == type(change)()


# ---- private_departures -----------------------------------------------------------------------


def test_a_team_whose_scored_submissions_are_all_private_departs():
    subs = [
        stored(1, "alpha", team_pk=1),
        stored(2, "beta", team_pk=2, public=False),
        stored(3, "beta renamed", team_pk=2, public=False, minute=5),
        stored(4, "gamma", team_pk=3, public=False),
        stored(5, "gamma", team_pk=3, minute=9),  # another public one: gamma stays
        stored(6, "delta", team_pk=4, public=False),
        stored(7, "delta", team_pk=4, scored=False, status="failed"),  # public but not scored
    ]

    found = private_departures(subs)

    assert sorted((d.name, d.reason) for d in found) == [("beta renamed", GONE), ("delta", GONE)]
    ids = {d.name: d.entry_id for d in found}
    assert len(set(ids.values())) == 2 and all(len(i) == 16 for i in ids.values())


def test_the_entry_id_follows_the_team_pk_not_its_name():
    before = private_departures([stored(2, "beta", team_pk=2, public=False)])
    after = private_departures([stored(2, "Beta Reloaded", team_pk=2, public=False)])
    other = private_departures([stored(2, "beta", team_pk=9, public=False)])
    assert before[0].entry_id == after[0].entry_id != other[0].entry_id


def test_a_private_baseline_is_its_own_departure():
    subs = [
        stored(1, "hosts", team_pk=3, baseline=True, public=False),
        stored(2, "hosts", team_pk=3, baseline=True),
        stored(3, "hosts", team_pk=3),  # the host team's own (non-baseline) entry: public
    ]
    found = private_departures(subs)
    assert [(d.name, d.reason) for d in found] == [("hosts", GONE)]
    assert found[0].entry_id != private_departures([replace(subs[1], is_public=False)])[0].entry_id


def test_unscored_submissions_are_no_departures():
    assert private_departures([stored(1, "alpha", public=False, scored=False)]) == []
    assert private_departures([stored(1, "alpha", public=False, status="running")]) == []


# ---- baselines by name ------------------------------------------------------------------------


def test_baseline_names_are_a_config_error_with_evalai():
    raw = {"source": "evalai", "phases": {"final": {"annotations": "labels/final"}},
           "leaderboard": {"baselines": ["Baseline mean embeddings"]}}  # fmt: skip

    with pytest.raises(ConfigError) as info:
        settings_from(raw, EVALAI_ENV, Path("/tmp"))

    assert info.value.problems == [BASELINE_NAMES_ON_EVALAI]
    assert "baseline on EvalAI" in BASELINE_NAMES_ON_EVALAI and "\n" not in BASELINE_NAMES_ON_EVALAI


def test_baseline_names_still_mark_inbox_team_folders():
    raw = {"source": "inbox", "phases": {"final": {"annotations": "labels/final"}},
           "leaderboard": {"baselines": ["Baseline mean embeddings"]}}  # fmt: skip
    settings = settings_from(raw, {}, Path("/tmp"))
    assert settings.leaderboard.baselines == ("Baseline mean embeddings",)
