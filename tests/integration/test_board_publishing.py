"""From the scoring database to the published leaderboard: `worker.leaderboard` against a real
`SqlScoreStore` (SQLite in tmp_path) and a real bare git repository as the remote.

The store is filled through its public API with hand-built ScoreCards (3 hidden tasks x 20
splits). Split scores are a fixed mean plus standardised noise, so every task's Q is known in
advance and the board order is fixed by construction: an entry with a higher level has a higher
Q on every task. Ten board entries: eight teams and two baselines (flagged by the source: EvalAI's
baseline flag, or an inbox team folder listed in `leaderboard.baselines`); plus private
submissions and several submissions per team.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import logging
import re
import subprocess
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from scoring.config import ProbeConfig
from scoring.quality import q_from_splits
from scoring.results import ScoreCard, TaskScore
from tests.expected_render import assert_matches_expected
from worker.leaderboard import (
    SEED_MESSAGE,
    GitHubPublisher,
    GitPublisher,
    PhaseStillScoring,
    board_files,
    build_phase_board,
    create_leaderboard_remote,
    make_publisher,
    markdown_cell,
    publish_phase,
    reveal_phase,
    show_phase,
    template_files,
)
from worker.settings import LeaderboardSettings, PhaseSettings, Settings, settings_from
from worker.store import SqlScoreStore, SubmissionInfo

PHASE, BRANCH = "dev", "main"
TITLE = "Hidden Earth Challenge 2025"
TASKS = ("zz_canopy_height_hidden", "qq_urban_heat_hidden", "xx_soil_moisture_hidden")
OFFSETS = (0.0, -0.05, 0.03)  # per-task shift of the split mean
SPREADS = (0.004, 0.006, 0.003)  # per-task population std of the split scores
K = 20
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
AUTHOR = "Board Bot <board-bot@example.invalid>"
TEMPLATE_DIR = Path(__file__).parents[2] / "worker" / "leaderboard" / "leaderboard_repo_template"


@dataclass(frozen=True)
class Spec:
    """One submission: `level` (or one per task) is the mean split score before the offset."""

    pk: int
    team: str
    minute: int
    level: float | tuple[float, float, float]
    public: bool = True
    baseline: bool = False
    method: str = "encoder"


SCENARIO = (
    Spec(1, "Cirrus Lab", 0, 0.95),  # better first try: counts only under "best"
    Spec(2, "Aurora Mappers", 10, 0.90),
    Spec(3, "Organisers", 20, 0.75, baseline=True, method="ResNet-50 features"),
    Spec(4, "Random Baseline", 30, (0.05, -0.30, 0.05), baseline=True, method="random vectors"),
    Spec(5, "Fjord AI", 40, 0.30),
    Spec(6, "Boreal Vectors", 50, 0.899),
    Spec(7, "Delta Encoders", 60, 0.70),
    Spec(8, "Delta Encoders", 70, 0.99, public=False),  # private: never shown
    Spec(9, "Echo & Sons_", 80, 0.62),
    Spec(10, "Ghost Team", 90, 0.97, public=False),  # private only: never shown
    Spec(11, "Glacier Group", 100, 0.47),
    Spec(12, "Harbor Nets", 110, 0.20),
    Spec(13, "Fjord AI", 120, 0.55),
    Spec(14, "Cirrus Lab", 130, 0.80),
)
# Board order under the "latest" policy, with the baselines' would-be places.
EXPECTED = [
    ("1", "Aurora Mappers"),
    ("2", "Boreal Vectors"),
    ("3", "Cirrus Lab"),
    ("(4)", "Organisers"),
    ("4", "Delta Encoders"),
    ("5", "Echo & Sons_"),
    ("6", "Fjord AI"),
    ("7", "Glacier Group"),
    ("8", "Harbor Nets"),
    ("(9)", "Random Baseline"),
]
BASELINES = {"Organisers", "Random Baseline"}


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def team_pk(team: str) -> int:
    """A stable EvalAI team pk per team name."""
    return zlib.crc32(team.encode())


def card_for(spec: Spec) -> ScoreCard:
    """Split scores with exactly the intended mean and population std on every task."""
    levels = spec.level if isinstance(spec.level, tuple) else (spec.level,) * len(TASKS)
    rng = np.random.default_rng(spec.pk)
    tasks = []
    for task, level, offset, spread in zip(TASKS, levels, OFFSETS, SPREADS, strict=True):
        z = rng.standard_normal(K)
        splits = level + offset + spread * (z - z.mean()) / z.std()
        tasks.append(
            TaskScore(
                task=task,
                kind="regr",
                metric="r2",
                n_rows=500,
                q=float(q_from_splits(splits)),
                mean_score=float(splits.mean()),
                std_score=float(splits.std()),
                split_scores=tuple(float(s) for s in splits),
                failed_splits=0,
            )  # fmt: skip
        )
    return ScoreCard(seed=42, tasks=tuple(tasks), warnings=(), config_fingerprint="fp-test")


def submit(store: SqlScoreStore, spec: Spec, card: ScoreCard | None = None) -> ScoreCard:
    """Receive, claim and finish one submission (scored 5 minutes after it arrived)."""
    store.upsert_submission(
        SubmissionInfo(
            source="evalai",
            pk=spec.pk,
            phase=PHASE,
            team_name=spec.team,
            method_name=spec.method,
            is_public=spec.public,
            is_baseline=spec.baseline,
            submitted_at=at(spec.minute),
            received_at=at(spec.minute),
            team_pk=team_pk(spec.team),
        )  # fmt: skip
    )
    assert store.try_claim("evalai", spec.pk, "w1", at(spec.minute + 1), 600.0)
    card = card or card_for(spec)
    store.record_evaluation("evalai", spec.pk, "w1", card, at(spec.minute + 1), at(spec.minute + 5))
    return card


def set_public(store: SqlScoreStore, spec: Spec, public: bool) -> None:
    """What the poller does when a participant toggles visibility on EvalAI."""
    store.upsert_submission(
        SubmissionInfo(
            source="evalai",
            pk=spec.pk,
            phase=PHASE,
            team_name=spec.team,
            method_name=spec.method,
            is_public=public,
            is_baseline=spec.baseline,
            submitted_at=at(spec.minute),
            received_at=at(spec.minute),
            team_pk=team_pk(spec.team),
        )  # fmt: skip
    )


# ---- the bare remote and what it holds ----------------------------------------------------------


@dataclass
class Remote:
    path: Path
    scratch: Path

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", f"--git-dir={self.path}", *args], capture_output=True, check=True, text=True
        )
        return done.stdout

    def commits(self) -> list[str]:
        return self.git("rev-list", BRANCH).split()

    def clone(self) -> Path:
        """A fresh working-tree clone of the branch."""
        target = self.scratch / f"clone-{len(list(self.scratch.glob('clone-*')))}"
        subprocess.run(
            ["git", "clone", "-q", "-b", BRANCH, str(self.path), str(target)],
            capture_output=True, check=True,
        )  # fmt: skip
        return target

    def everything(self) -> tuple[list[bytes], list[str]]:
        """Every blob of every commit on the branch, and every commit message."""
        blobs = []
        for sha in self.commits():
            for path in filter(
                None, self.git("ls-tree", "-r", "--name-only", "-z", sha).split("\0")
            ):
                blobs.append(
                    subprocess.run(
                        ["git", f"--git-dir={self.path}", "cat-file", "blob", f"{sha}:{path}"],
                        capture_output=True, check=True,
                    ).stdout
                )  # fmt: skip
        return blobs, [self.git("log", "-1", "--format=%B", sha) for sha in self.commits()]


@pytest.fixture(autouse=True)
def _clean_git_environment(clean_environment: Path) -> None:
    """No global git configuration or identity: HOME is an empty temporary folder."""



@pytest.fixture
def filled(store: SqlScoreStore) -> dict[int, ScoreCard]:
    return {spec.pk: submit(store, spec) for spec in SCENARIO}


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    path = tmp_path / "leaderboard.git"
    subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True)
    return Remote(path, tmp_path)


@pytest.fixture
def settings(tmp_path: Path, remote: Remote) -> Settings:
    return Settings(
        title=TITLE,
        source="inbox",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'scores.db'}",
        inbox_dir=tmp_path / "inbox",
        phases={PHASE: PhaseSettings(PHASE, tmp_path / "labels", ProbeConfig())},
        leaderboard=LeaderboardSettings(
            remote=str(remote.path),
            branch=BRANCH,
            workdir=tmp_path / "publisher-work",
            author=AUTHOR,
        ),
    )


def with_board(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(
        settings, leaderboard=dataclasses.replace(settings.leaderboard, **changes)
    )


@pytest.fixture
def publisher(settings: Settings) -> GitPublisher:
    made = make_publisher(settings)
    assert isinstance(made, GitPublisher)
    return made


def table_rows(readme: str) -> list[list[str]]:
    """Cells of the phase's main table."""
    section = readme.split(f"<!-- LEADERBOARD:PHASE:{PHASE}:BEGIN -->")[1]
    table = next(b for b in section.split("\n\n") if b.startswith("| Rank | Team | Weighted"))
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in table.splitlines()[2:]]


def team_cell(name: str) -> str:
    return markdown_cell(name) + (" *(baseline)*" if name in BASELINES else "")


# ---- tests ---------------------------------------------------------------------------------------


def test_publish_puts_the_board_in_the_repository(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    result = publish_phase(store, PHASE, settings, publisher)

    assert result.status == "committed" and remote.commits() == [result.sha]
    clone = remote.clone()
    readme = (clone / "README.md").read_text()
    assert readme.startswith(f"# {TITLE} — leaderboard")  # template filled in for an empty repo
    rows = table_rows(readme)
    assert [(r[0], r[1]) for r in rows] == [(place, team_cell(t)) for place, t in EXPECTED]
    assert "Ghost Team" not in readme
    # Delta's private 0.99 submission does not count: its mean Q is that of its public one.
    delta = next(r for r in rows if r[1] == team_cell("Delta Encoders"))
    assert float(delta[3]) == pytest.approx(filled[7].mean_q, abs=0.005)
    # Nor does it surface in the count or the time of the team's submissions.
    assert (delta[5], delta[6]) == ("1", "2025-03-03 10:00")
    assert next(r for r in rows if r[1] == team_cell("Cirrus Lab"))[5:] == ["2", "2025-03-03 11:10"]
    # Intervals: the near-tied leaders overlap, the clear last ones are settled.
    assert rows[0][4] == rows[1][4] == "1–2"
    assert rows[8][4] == "8" and rows[9][4] == "(9)"
    for (place, _), row in zip(EXPECTED, rows, strict=True):
        low, _, high = row[4].strip("()").partition("–")
        assert int(low) <= int(place.strip("()")) <= int(high or low)

    document = json.loads((clone / "leaderboard" / f"{PHASE}.json").read_text())
    assert document["revealed"] is False and document["n_resamples"] == 1000
    assert [(e["team"], e["baseline"]) for e in document["entries"]] == [
        (team, team in BASELINES) for _, team in EXPECTED
    ]
    assert document["updated"] == "2025-03-03T11:15:00Z"  # the last finish, not the clock
    table = list(csv.DictReader(io.StringIO((clone / "leaderboard" / f"{PHASE}.csv").read_text())))
    assert [(r["rank"], r["team"]) for r in table] == [
        (place.strip("()"), team) for place, team in EXPECTED
    ]
    png = (clone / "plots" / f"{PHASE}_rank_evolution.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert not (clone / "plots" / f"{PHASE}_task_q.png").exists()
    # The web page under docs/ shows the same board (hostile-name and browser checks: test_site_*).
    page = (clone / "docs" / PHASE / "index.html").read_text()
    row_heads = re.findall(r'<th scope="row" data-value="[^"]*"><a [^>]*><bdi>([^<]*)<', page)
    assert [html.unescape(m) for m in row_heads] == [team for _, team in EXPECTED]
    assert (clone / "docs" / PHASE / "board.json").read_bytes() == (
        clone / "leaderboard" / f"{PHASE}.json"
    ).read_bytes()
    site = {p.name for p in (clone / "docs").iterdir()}
    assert {"index.html", "phases.json", ".nojekyll"} <= site
    assert (clone / "docs" / "assets" / "site.js").is_file()


def test_unchanged_board_makes_no_commit_and_a_better_submission_one(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    first = publish_phase(store, PHASE, settings, publisher)
    again = publish_phase(store, PHASE, settings, make_publisher(settings))  # a fresh worker too
    assert again.status == "unchanged" and again.sha == first.sha
    assert remote.commits() == [first.sha]

    submit(store, Spec(19, "Harbor Nets", 190, 0.99, public=False))  # leaves no trace
    assert publish_phase(store, PHASE, settings, publisher).status == "unchanged"

    submit(store, Spec(20, "Harbor Nets", 200, 0.97, method="encoder v2"))
    better = publish_phase(store, PHASE, settings, publisher)

    assert better.status == "committed" and remote.commits() == [better.sha, first.sha]
    rows = table_rows((remote.clone() / "README.md").read_text())
    assert rows[0][:2] == ["1", team_cell("Harbor Nets")]
    assert publish_phase(store, PHASE, settings, publisher).status == "unchanged"


def test_latest_and_best_policies_pick_different_submissions(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    latest, _ = build_phase_board(store, PHASE, settings)
    best, _ = build_phase_board(store, PHASE, with_board(settings, policy="best"))

    cirrus_latest = next(r for r in latest.rows if r.team == "Cirrus Lab")
    cirrus_best = next(r for r in best.rows if r.team == "Cirrus Lab")
    assert cirrus_latest.mean_q == pytest.approx(filled[14].mean_q)
    assert cirrus_best.mean_q == pytest.approx(filled[1].mean_q)
    assert (cirrus_latest.place, cirrus_best.place) == (3, 1)
    # Fjord's later submission is also its best: same under both policies.
    fjord = [next(r for r in b.rows if r.team == "Fjord AI").mean_q for b in (latest, best)]
    assert fjord == [pytest.approx(filled[13].mean_q)] * 2
    # The history follows the policy: Cirrus's weaker last submission moves it down only under
    # "latest"; each finished public submission (and baseline) is one step.
    assert len(latest.history) == len(best.history) == 12
    assert latest.history[-1].team == "Cirrus Lab"
    assert (latest.history[-2].places["Cirrus Lab"], latest.history[-1].places["Cirrus Lab"]) == (
        1,
        3,
    )
    assert [s.places["Cirrus Lab"] for s in best.history[-2:]] == [1, 1]


def test_baselines_outside_the_weights_change_them(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    inside, _ = build_phase_board(store, PHASE, settings)
    outside, _ = build_phase_board(store, PHASE, with_board(settings, baselines_in_weights=False))

    competitors = [r for r in outside.rows if not r.baseline]
    q = np.array([[r.task_q[t] for t in TASKS] for r in competitors])
    spread = q.std(axis=0, ddof=1)
    assert [outside.weights[t] for t in TASKS] == pytest.approx(list(spread / spread.sum()))
    # The random baseline's very low Q on the second task pulls weight towards it when included.
    assert inside.weights[TASKS[1]] > outside.weights[TASKS[1]] + 0.05
    assert [r.weighted_score for r in inside.rows] != [r.weighted_score for r in outside.rows]
    assert not outside.baselines_in_weights


def published_names(remote: Remote) -> list[str]:
    document = json.loads(remote.git("show", f"{BRANCH}:leaderboard/{PHASE}.json"))
    return [entry["team"] for entry in document["entries"]]


def tree_mentions(remote: Remote, text: str) -> list[str]:
    """Paths of the branch's current tree whose bytes contain `text` (README, JSON, CSV, site)."""
    found = subprocess.run(
        ["git", f"--git-dir={remote.path}", "grep", "-l", "-F", text, BRANCH],
        capture_output=True, text=True,
    )  # fmt: skip
    assert found.returncode in (0, 1), found.stderr  # 1: no match
    return found.stdout.split()


def renamed(spec: Spec, team: str, public: bool | None = None) -> Spec:
    """The same submission (and EvalAI team pk) under a new team name or visibility."""
    return dataclasses.replace(spec, team=team, public=spec.public if public is None else public)


def set_meta(store: SqlScoreStore, spec: Spec, pk_team: str) -> None:
    """What `refresh` records when EvalAI says the team's name or visibility changed."""
    store.upsert_submission(
        SubmissionInfo(
            source="evalai", pk=spec.pk, phase=PHASE, team_name=spec.team,
            method_name=spec.method, is_public=spec.public, is_baseline=spec.baseline,
            submitted_at=at(spec.minute), received_at=at(spec.minute), team_pk=team_pk(pk_team),
        )  # fmt: skip
    )


def test_a_team_that_made_its_submission_private_leaves_the_board_unasked(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    first = publish_phase(store, PHASE, settings, publisher)
    set_public(store, SCENARIO[10], public=False)  # Glacier Group's only submission

    with caplog.at_level(logging.INFO, logger="worker.leaderboard"):
        result = publish_phase(store, PHASE, settings, publisher)

    assert result.status == "committed" and remote.commits() == [result.sha, first.sha]
    note = "'Glacier Group' left the board: made private by its owner"
    assert result.notes == (note,)
    assert f"{note}." in remote.git("log", "-1", "--format=%B", result.sha)
    assert note in caplog.text and "refused" not in caplog.text
    assert "Glacier Group" not in published_names(remote) and len(published_names(remote)) == 9
    assert tree_mentions(remote, "Glacier") == []  # README, JSON, CSV and the web page
    # The board moved on without it; nothing is left for an organiser to explain.
    submit(store, Spec(20, "Harbor Nets", 200, 0.97))
    assert publish_phase(store, PHASE, settings, publisher).status == "committed"


def test_any_other_lost_entry_still_needs_an_explanation(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    first = publish_phase(store, PHASE, settings, publisher)
    # Glacier Group's only submission is being scored again: gone, but not made private.
    assert store.reset_for_rescore("evalai", 11, at(300), "rescore requested by the organiser")

    refused = publish_phase(store, PHASE, settings, publisher)

    assert refused.status == "refused" and "missing 1: 'Glacier Group'" in refused.reason
    assert remote.commits() == [first.sha]
    reason = "Glacier Group is being rescored (organiser ticket 7)"
    accepted = publish_phase(store, PHASE, settings, publisher, explanation=reason)
    assert accepted.status == "committed" and remote.commits() == [accepted.sha, first.sha]
    assert reason in remote.git("log", "-1", "--format=%B", accepted.sha)
    assert "Glacier" not in (remote.clone() / "README.md").read_text()


@pytest.mark.parametrize(("policy", "hidden", "counted"), [("latest", 14, 1), ("best", 1, 14)])
def test_a_team_with_another_public_submission_stays_on_the_board(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote, policy: str, hidden: int, counted: int,
) -> None:  # fmt: skip
    """Cirrus Lab hides the submission its entry counts with: the policy falls back to its
    other public one, so nothing leaves and nothing needs explaining."""
    settings = with_board(settings, policy=policy)
    publish_phase(store, PHASE, settings, publisher)
    set_public(store, next(s for s in SCENARIO if s.pk == hidden), public=False)

    result = publish_phase(store, PHASE, settings, publisher)

    assert result.status == "committed" and result.notes == ()
    document = json.loads(remote.git("show", f"{BRANCH}:leaderboard/{PHASE}.json"))
    cirrus = next(e for e in document["entries"] if e["team"] == "Cirrus Lab")
    assert cirrus["mean_q"] == pytest.approx(filled[counted].mean_q, abs=1e-6)
    assert cirrus["submissions"] == 1  # the hidden one is not counted either
    assert "left the board" not in remote.git("log", "-1", "--format=%B", result.sha)


def test_a_renamed_team_keeps_its_entry_and_may_then_leave_unasked(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    publish_phase(store, PHASE, settings, publisher)
    glacier = SCENARIO[10]
    set_meta(store, renamed(glacier, "Glacier Collective"), pk_team=glacier.team)

    result = publish_phase(store, PHASE, settings, publisher)

    assert result.status == "committed"
    assert result.notes == ("'Glacier Group' is now shown as 'Glacier Collective'",)
    assert "Glacier Collective" in published_names(remote)
    # Renamed again and made private in one refresh: the entry id still says who left.
    set_meta(store, renamed(glacier, "Glacier Ghosts", public=False), pk_team=glacier.team)
    gone = publish_phase(store, PHASE, settings, publisher)
    assert gone.status == "committed"
    assert gone.notes == ("'Glacier Collective' left the board: made private by its owner",)
    assert tree_mentions(remote, "Glacier") == []


def test_a_private_baseline_never_appears(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    submit(store, Spec(20, "Organisers", 200, 0.99, public=False, baseline=True, method="secret"))
    publish_phase(store, PHASE, settings, publisher)
    assert published_names(remote).count("Organisers") == 1
    assert tree_mentions(remote, "secret") == []

    set_public(store, SCENARIO[2], public=False)  # the host hides its published baseline too
    result = publish_phase(store, PHASE, settings, publisher)

    assert result.status == "committed"
    assert result.notes == ("'Organisers' left the board: made private by its owner",)
    assert "Organisers" not in published_names(remote)
    board, _ = build_phase_board(store, PHASE, settings)
    assert [r.team for r in board.rows if r.baseline] == ["Random Baseline"]


def test_a_frozen_phase_is_not_republished(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    first = publish_phase(store, PHASE, settings, publisher)
    submit(store, Spec(20, "Harbor Nets", 200, 0.97))

    frozen = publish_phase(store, PHASE, with_board(settings, frozen_phases=(PHASE,)), publisher)

    assert frozen.status == "frozen" and remote.commits() == [first.sha]


def test_the_phase_id_list_is_published_only_when_asked(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    labels = settings.phases[PHASE].annotations
    labels.mkdir(exist_ok=True)
    (labels / "biomass__regr.csv").write_text("id,label\ncube-b,1.5\ncube-a,2.25\n")
    (labels / "crops__cls.csv").write_text("id,label\ncube-c,1\ncube-a,0\n")
    publish_phase(store, PHASE, settings, publisher)
    assert not (remote.clone() / "ids").exists()  # opt-in

    result = publish_phase(store, PHASE, with_board(settings, id_list_phases=(PHASE,)), publisher)

    assert result.status == "committed"
    clone = remote.clone()
    assert (clone / "ids" / f"{PHASE}.txt").read_text() == "cube-a\ncube-b\ncube-c\n"
    blobs, _ = remote.everything()
    assert not any(b"biomass" in blob or b"2.25" in blob for blob in blobs)  # ids, never labels


def test_nothing_per_task_leaves_before_the_reveal_and_all_of_it_after(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings, publisher: GitPublisher,
    remote: Remote,
) -> None:  # fmt: skip
    publish_phase(store, PHASE, settings, publisher)
    late = Spec(20, "Boreal Vectors", 200, 0.93)
    store.upsert_submission(
        SubmissionInfo(
            "evalai",
            21,
            PHASE,
            "Fjord AI",
            "v3",
            True,
            False,
            at(210),
            at(210),
            team_pk("Fjord AI"),
        )
    )  # still received: a reveal now would be premature
    filled[20] = submit(store, late)
    publish_phase(store, PHASE, settings, publisher)

    blobs, messages = remote.everything()
    q_values = [t.q for card in filled.values() for t in card.tasks]
    secrets = [*TASKS, *(f"{q:.6f}" for q in q_values), *(repr(round(q, 6)) for q in q_values)]
    for secret in secrets:
        assert not any(secret.encode() in blob for blob in blobs), secret
        assert not any(secret in message for message in messages), secret
    readme = (remote.clone() / "README.md").read_text()
    section = readme.split(f"<!-- LEADERBOARD:PHASE:{PHASE}:BEGIN -->")[1]
    mean_qs = {row[3] for row in table_rows(readme)}
    assert set(re.findall(r"(?<![\d.])-?\d+\.\d\d(?![\d.])", section)) == mean_qs

    with pytest.raises(PhaseStillScoring, match="1 submission"):
        reveal_phase(store, PHASE, settings, publisher)
    revealed = reveal_phase(store, PHASE, settings, publisher, force=True)

    assert revealed.status == "committed"
    clone = remote.clone()
    readme = (clone / "README.md").read_text()
    assert "### Hidden tasks (revealed)" in readme and all(
        markdown_cell(t) in readme for t in TASKS
    )
    boreal = filled[20].task(TASKS[0]).q
    assert f"{boreal:.2f} (1)" in readme  # Boreal's late submission leads the first task
    document = json.loads((clone / "leaderboard" / f"{PHASE}.json").read_text())
    assert document["revealed"] is True and document["tasks"] == list(TASKS)
    assert (clone / "plots" / f"{PHASE}_task_q.png").read_bytes().startswith(b"\x89PNG")
    page = (clone / "docs" / PHASE / "index.html").read_text().replace("<wbr>", "")
    assert "Hidden tasks (revealed)" in page and all(t in page for t in TASKS)
    # Not in revealed_phases, yet the next publication keeps the phase revealed.
    submit(store, Spec(22, "Harbor Nets", 220, 0.21))
    assert publish_phase(store, PHASE, settings, publisher).status == "committed"
    assert json.loads(remote.clone().joinpath("leaderboard", f"{PHASE}.json").read_text())[
        "revealed"
    ]


def test_missing_task_drops_the_entry_with_a_note_that_names_no_task(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    partial = card_for(Spec(20, "Glacier Group", 200, 0.48))
    submit(store, Spec(20, "Glacier Group", 200, 0.48), dataclasses.replace(
        partial, tasks=partial.tasks[:2]
    ))  # fmt: skip

    board, notes = build_phase_board(store, PHASE, settings)

    assert "Glacier Group" not in {r.team for r in board.rows} and len(board.rows) == 9
    assert notes == ["'Glacier Group' left out: no Q for 1 of the phase's 3 tasks"]
    shown = show_phase(store, PHASE, settings)
    assert shown.startswith("| Rank | Team |") and "note: 'Glacier Group' left out" in shown


def test_two_baselines_of_one_team_get_distinct_stable_names(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    submit(store, Spec(20, "Organisers", 200, 0.10, baseline=True, method="mean pixels"))

    board, notes = build_phase_board(store, PHASE, settings)

    names = [r.team for r in board.rows if r.baseline]
    assert names == ["Organisers", "Organisers (mean pixels)", "Random Baseline"]
    assert notes == ["two entries are named 'Organisers'; the later one is shown as "
                     "'Organisers (mean pixels)'"]  # fmt: skip


def test_an_unchanged_board_renders_identically(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    first, _ = build_phase_board(store, PHASE, settings)
    second, _ = build_phase_board(store, PHASE, settings)
    assert first == second and first.rows[0].interval is not None
    none, _ = build_phase_board(store, PHASE, with_board(settings, bootstrap_resamples=0))
    assert all(r.interval is None for r in none.rows) and none.n_resamples is None


def test_boards_from_the_store_match_the_checked_in_files(
    store: SqlScoreStore, filled: dict[int, ScoreCard], settings: Settings
) -> None:
    readme = (TEMPLATE_DIR / "README_base.md").read_text()
    for policy in ("latest", "best"):
        for revealed in (False, True):
            board, _ = build_phase_board(
                store, PHASE, with_board(settings, policy=policy), revealed=revealed
            )
            name = f"store_board_{policy}_{'revealed' if revealed else 'hidden'}"
            assert_matches_expected(name, board_files(board, readme))


def test_the_default_remote_is_created_from_the_template(
    store: SqlScoreStore, filled: dict[int, ScoreCard], tmp_path: Path
) -> None:
    raw = {"title": TITLE, "phases": {PHASE: {"annotations": "labels/dev"}}}
    settings = settings_from(raw, {"NEUCO_DATA_DIR": str(tmp_path / "var")}, tmp_path)
    path = Path(settings.leaderboard.remote)
    assert path == tmp_path / "var" / "leaderboard.git" and not path.exists()

    publisher = make_publisher(settings)

    seeded = Remote(path, tmp_path)
    assert isinstance(publisher, GitPublisher) and len(seeded.commits()) == 1
    assert seeded.git("log", "-1", "--format=%B").strip() == SEED_MESSAGE
    assert seeded.git("symbolic-ref", "HEAD").strip() == f"refs/heads/{BRANCH}"
    clone = seeded.clone()
    for name in ("LICENSE.md", ".gitattributes", "leaderboard/.gitkeep", "plots/.gitkeep"):
        assert (clone / name).read_bytes() == (TEMPLATE_DIR / name).read_bytes()
    assert (clone / "README.md").read_text().startswith(f"# {TITLE} — leaderboard")
    assert not (clone / "README_base.md").exists()

    make_publisher(settings)  # a second start changes nothing
    assert len(seeded.commits()) == 1
    assert publish_phase(store, PHASE, settings, publisher).status == "committed"
    readme = (seeded.clone() / "README.md").read_text()
    assert "## How to read the board" in readme and len(table_rows(readme)) == 10
    # Never moves an existing branch (another process seeded or published first).
    assert not create_leaderboard_remote(path, BRANCH, {"README.md": b"x"}, AUTHOR)
    assert len(seeded.commits()) == 2


def test_without_the_template_folder_a_minimal_readme_is_used(tmp_path: Path) -> None:
    files = template_files(TITLE, tmp_path / "no-template")
    assert list(files) == ["README.md"]
    readme = files["README.md"].decode()
    assert readme.startswith(f"# {TITLE} — leaderboard")
    assert "<!-- LEADERBOARD:BEGIN -->\n<!-- LEADERBOARD:END -->" in readme


def test_publisher_choice_follows_the_settings(settings: Settings) -> None:
    assert make_publisher(with_board(settings, enabled=False)) is None
    assert make_publisher(with_board(settings, publisher="none")) is None
    github = make_publisher(
        with_board(settings, publisher="github", remote="org/board", github_token="ghp_x")
    )
    assert isinstance(github, GitHubPublisher)
    github.close()
    url = with_board(settings, remote="https://example.invalid/org/board.git")
    assert isinstance(make_publisher(url), GitPublisher)  # a URL is never created locally
