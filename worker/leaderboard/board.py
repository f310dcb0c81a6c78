"""One phase's leaderboard, from the scoring database to the leaderboard repository.

I/O: reads the scoring database through `ScoreReader` (a `SqlScoreStore`), reads and writes the
leaderboard branch through a `Publisher` (module `publish`), and — only in `make_publisher`,
when the configured git remote is a local path that does not exist yet — creates a bare
repository there and runs `git` to seed it with `leaderboard_repo_template/`. Ranking, intervals
and rendering are the pure modules' (`scoring.ranking`, `scoring.bootstrap`, the package's
`render`).

What counts, under `leaderboard.policy` (`latest` or `best` finished public submission per team;
private submissions never appear): the store's `board_entries`, plus every finished baseline as
its own entry. Organiser baselines are submissions flagged `is_baseline` and teams named in
`leaderboard.baselines`; they get no competing place, and stay out of the task weights when
`baselines_in_weights` is false. The rank history replays the finished public submissions (and
baselines) in finishing order; at each step a team counts with the submission the same policy
picks among its submissions finished so far.

Entry names are the team names. When two entries would show the same name (a team that
submitted two baselines, two teams with one display name), the later one gets its method name,
else its pk, appended; earlier entries keep their names, so a board never renames an entry that
was already published.

Determinism: an unchanged database renders to identical bytes — the bootstrap is seeded from
the phase and its entries' evaluation ids, and `updated_at` is the newest finish among the shown
submissions, never the clock — so the publisher commits nothing. Private submissions leave no
trace: not in the entries, the history, the submission counts and times, or `updated_at`.

Errors: `publish_phase` / `reveal_phase` return "refused" and "frozen" as results, and raise
`PublishTransientError` (network, timeout, lost races: try again on a later tick) and
`PublishPermanentError` (credentials, unknown repository, README without markers: fix the
configuration) from `worker.leaderboard.publish`; `reveal_phase` raises `PhaseStillScoring`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from scoring.bootstrap import MIN_RESAMPLES, RankIntervals, rank_intervals
from scoring.ranking import Leaderboard, rank_entries
from worker.errors import WorkerError
from worker.leaderboard.git import GitPublisher
from worker.leaderboard.github import GitHubPublisher
from worker.leaderboard.publish import (
    Publisher,
    PublishPermanentError,
    PublishResult,
    checked_paths,
    parsed_author,
    publish_board,
)
from worker.leaderboard.render import (
    Board,
    EntryInfo,
    FinishedSubmission,
    board_files,
    board_from_leaderboard,
    board_table,
    commit_message,
    json_path,
    plain_name,
    rank_history,
    readme_from_template,
    readme_with_board,
)
from worker.settings import LeaderboardSettings, Settings
from worker.store import FINISHED, RECEIVED, RUNNING, BoardEntry, EvaluationRecord, StoredSubmission

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "leaderboard_repo_template"
SEED_MESSAGE = "Start the leaderboard from leaderboard_repo_template"
# Used when the template folder is not shipped (the worker image installs the packages only).
FALLBACK_README = """# {{CHALLENGE_TITLE}} — leaderboard

The public leaderboard of **{{CHALLENGE_TITLE}}**, a hidden-task embedding challenge scored
with the [NeuCo-Bench](https://github.com/embed2scale/NeuCo-Bench) protocol. The text between
the `LEADERBOARD` markers is rewritten automatically.

<!-- LEADERBOARD:BEGIN -->
<!-- LEADERBOARD:END -->
"""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PhaseStillScoring(WorkerError):
    """A phase cannot be revealed while submissions are still waiting or being scored."""


class ScoreReader(Protocol):
    """What the board reads from the scoring database (`worker.store.SqlScoreStore`)."""

    def board_entries(
        self, phase: str, policy: Literal["latest", "best"], include_private: bool = False
    ) -> list[BoardEntry]: ...

    def list_submissions(
        self, phase: str | None = None, status: str | None = None, source: str | None = None
    ) -> list[StoredSubmission]: ...

    def evaluation(self, evaluation_id: int) -> EvaluationRecord: ...


# ---- building the board ------------------------------------------------------------------------


def build_phase_board(
    store: ScoreReader, phase: str, settings: Settings, *, revealed: bool | None = None
) -> tuple[Board, list[str]]:
    """The phase's Board and notes for the operator (entries left out, renamed duplicates).

    `revealed` defaults to `phase in leaderboard.revealed_phases`. Notes never name a task.
    """
    if phase not in settings.phases:
        raise ValueError(f"unknown phase {phase!r}; configured: {', '.join(settings.phases)}")
    board = settings.leaderboard
    if 0 < board.bootstrap_resamples < MIN_RESAMPLES:
        raise ValueError(
            f"leaderboard.bootstrap_resamples must be 0 (no intervals) or at least "
            f"{MIN_RESAMPLES}, got {board.bootstrap_resamples}"
        )
    entries = store.board_entries(phase, "best" if board.policy == "best" else "latest")
    submissions = store.list_submissions(phase=phase)
    shown = _shown_submissions(submissions, entries)
    names, notes = _entry_names(shown)
    baselines = _baseline_names(shown, names, board.baselines)
    exclude = () if board.baselines_in_weights else tuple(sorted(baselines))
    by_name = {names[_entry_key(e.submission)]: e for e in entries}
    records = {
        sub.current_evaluation_id: store.evaluation(sub.current_evaluation_id)
        for sub in shown
        if sub.current_evaluation_id is not None
    }

    tasks = _task_union(entries)
    task_q = {name: e.task_q for name, e in by_name.items()}
    leaderboard = rank_entries(task_q, tasks, weight_exclude=exclude, ghost_std=board.ghost_std)
    notes += _dropped_notes(leaderboard, task_q)
    intervals = _intervals(phase, by_name, records, tasks, board, exclude, baselines)
    replay = _replay(shown, names, baselines, records, board.policy)
    history = rank_history(replay, tasks, weight_exclude=exclude, ghost_std=board.ghost_std)
    result = board_from_leaderboard(
        phase,
        f"Phase {phase}",  # the README's title names the challenge; long titles clip the plots
        leaderboard,
        _entry_infos(by_name, shown, names, baselines),
        updated_at=_updated_at(shown, submissions),
        revealed=phase in board.revealed_phases if revealed is None else revealed,
        intervals=intervals,
        history=history,
        baselines_in_weights=board.baselines_in_weights,
        policy=board.policy,
    )
    return result, notes


def _entry_key(sub: StoredSubmission) -> str:
    """Board identity: every flagged baseline is its own entry; the rest group by team."""
    return f"baseline:{sub.source}:{sub.pk}" if sub.is_baseline else sub.team_key


def _shown_submissions(
    submissions: Iterable[StoredSubmission], entries: Iterable[BoardEntry]
) -> list[StoredSubmission]:
    """Scored submissions that may appear (public or baseline), oldest first. The entries' own
    submissions are added in case one changed state between the two reads."""
    pool = {
        (s.source, s.pk): s
        for s in submissions
        if s.status == FINISHED
        and s.current_evaluation_id is not None
        and (s.is_public or s.is_baseline)
    }
    for entry in entries:
        pool.setdefault((entry.submission.source, entry.submission.pk), entry.submission)
    return sorted(pool.values(), key=lambda s: (s.submitted_at, s.source, s.pk))


def _entry_names(shown: Sequence[StoredSubmission]) -> tuple[dict[str, str], list[str]]:
    """{entry key: unique display name}, assigned in order of first submission."""
    first: dict[str, StoredSubmission] = {}
    team_name: dict[str, str] = {}
    for sub in shown:
        first.setdefault(_entry_key(sub), sub)
        team_name[_entry_key(sub)] = sub.team_name  # a renamed team shows its latest name
    names: dict[str, str] = {}
    taken: set[str] = set()
    notes = []
    for key, sub in first.items():
        base = team_name[key]
        candidates = [base, f"{base} ({sub.method_name})", f"{base} #{sub.pk}"]
        candidates.append(f"{base} #{sub.source}-{sub.pk}")  # (source, pk) is unique
        name = next(c for c in candidates if plain_name(c) not in taken)
        names[key] = name
        taken.add(plain_name(name))
        if name != base:
            notes.append(f"two entries are named {base!r}; the later one is shown as {name!r}")
    return names, notes


def _baseline_names(
    shown: Iterable[StoredSubmission], names: Mapping[str, str], configured: Sequence[str]
) -> set[str]:
    listed = set(configured)
    return {names[_entry_key(s)] for s in shown if s.is_baseline or s.team_name in listed}


def _task_union(entries: Iterable[BoardEntry]) -> tuple[str, ...]:
    """Every task of the entries, in ScoreCard order of the oldest entry that has it."""
    tasks: dict[str, None] = {}
    for entry in sorted(entries, key=lambda e: (e.submission.submitted_at, e.submission.pk)):
        tasks.update(dict.fromkeys(entry.task_q))
    return tuple(tasks)


def _dropped_notes(
    leaderboard: Leaderboard, task_q: Mapping[str, Mapping[str, float]]
) -> list[str]:
    notes = []
    n_tasks = len(leaderboard.tasks)
    for name in leaderboard.dropped:
        q = task_q[name]
        missing = sum(t not in q for t in leaderboard.tasks)
        if missing:
            notes.append(f"{name!r} left out: no Q for {missing} of the phase's {n_tasks} tasks")
        else:
            failed = sum(1 for t in leaderboard.tasks if np.isnan(q[t]))
            notes.append(f"{name!r} left out: NaN Q (all splits failed) on {failed} task(s)")
    return notes


def _intervals(
    phase: str,
    by_name: Mapping[str, BoardEntry],
    records: Mapping[int | None, EvaluationRecord],
    tasks: Sequence[str],
    board: LeaderboardSettings,
    exclude: Sequence[str],
    baselines: set[str],
) -> RankIntervals | None:
    """Bootstrap rank intervals, seeded by the phase and the entries' evaluations."""
    if board.bootstrap_resamples == 0 or not by_name:
        return None
    ids = [e.submission.current_evaluation_id for e in by_name.values()]
    split_scores = {
        name: {t.task: t.split_scores for t in records[id_].tasks}
        for name, id_ in zip(by_name, ids, strict=True)
    }
    digest = hashlib.sha256(f"{phase}|{sorted(i or 0 for i in ids)}".encode()).digest()
    return rank_intervals(
        split_scores,
        tasks,
        np.random.default_rng(int.from_bytes(digest[:8], "big")),
        n_resamples=board.bootstrap_resamples,
        weight_exclude=exclude,
        non_competing=tuple(sorted(baselines)),
        ghost_std=board.ghost_std,
    )


def _entry_infos(
    by_name: Mapping[str, BoardEntry],
    shown: Sequence[StoredSubmission],
    names: Mapping[str, str],
    baselines: set[str],
) -> dict[str, EntryInfo]:
    """Per entry: method, and count and time of its *shown* submissions. (BoardEntry's own
    count and time include private submissions, which must not surface on a public board.)"""
    times: dict[str, list[datetime]] = {}
    for sub in shown:
        times.setdefault(names[_entry_key(sub)], []).append(sub.submitted_at)
    return {
        name: EntryInfo(
            method=entry.submission.method_name,
            submissions=len(times[name]),
            last_submission=max(times[name]),
            baseline=name in baselines,
        )
        for name, entry in by_name.items()
    }


def _replaces(new: StoredSubmission, current: StoredSubmission, policy: str) -> bool:
    """Whether `new` counts instead of `current` (the store's `board_entries` rule)."""
    if policy == "best":
        return (_q_key(new.mean_q), -new.submitted_at.timestamp(), -new.pk) > (
            _q_key(current.mean_q), -current.submitted_at.timestamp(), -current.pk,
        )  # fmt: skip
    return (new.submitted_at, new.pk) > (current.submitted_at, current.pk)


def _q_key(q: float | None) -> float:
    return -np.inf if q is None or np.isnan(q) else q


def _replay(
    shown: Sequence[StoredSubmission],
    names: Mapping[str, str],
    baselines: set[str],
    records: Mapping[int | None, EvaluationRecord],
    policy: str,
) -> list[FinishedSubmission]:
    """One FinishedSubmission per finished shown submission, in finishing order, carrying the
    Q of the submission its entry counts with at that moment."""
    counted: dict[str, StoredSubmission] = {}
    replay = []
    for sub in sorted(shown, key=lambda s: (s.finished_at or s.submitted_at, s.submitted_at, s.pk)):
        key = _entry_key(sub)
        if key not in counted or _replaces(sub, counted[key], policy):
            counted[key] = sub
        pick = records[counted[key].current_evaluation_id]
        replay.append(
            FinishedSubmission(
                team=names[key],
                finished_at=sub.finished_at or sub.submitted_at,
                task_q={t.task: t.q for t in pick.tasks},
                baseline=names[key] in baselines,
            )
        )
    return replay


def _updated_at(
    shown: Iterable[StoredSubmission], submissions: Iterable[StoredSubmission]
) -> datetime:
    """Newest finish among the shown submissions, never the clock, so re-renders stay identical;
    private ones do not count (their finishing would be a commit that only reveals activity).
    With nothing shown: the newest arrival in the phase."""
    finished = [s.finished_at for s in shown if s.finished_at is not None]
    if finished:
        return max(finished)
    return max((s.received_at for s in submissions), default=_EPOCH)


# ---- publishing --------------------------------------------------------------------------------


def publish_phase(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    *,
    explanation: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> PublishResult:
    """Render the phase from the database and publish it (one commit, or none if unchanged).

    A frozen phase is not rendered or published ("frozen"); a board that drops a published entry
    or is empty is "refused" unless `explanation` is given (`publish.publish_board`).
    Revealed: when configured, or when the published board already is (per-task results cannot
    be taken back, so a phase never flips back). Raises PublishTransientError — the caller
    retries on a later tick — and PublishPermanentError.
    """
    return _publish(store, phase, settings, publisher, explanation, None, template_dir)


def reveal_phase(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    *,
    force: bool = False,
    explanation: str | None = None,
    template_dir: Path = TEMPLATE_DIR,
) -> PublishResult:
    """Publish the phase with its per-task results, whatever `revealed_phases` says.

    Raises PhaseStillScoring while submissions of the phase are received or running, unless
    `force`. A frozen phase stays frozen: take it out of `frozen_phases` to reveal it. Add the
    phase to `revealed_phases` too; later publications keep it revealed either way.
    """
    waiting = [s for s in store.list_submissions(phase=phase) if s.status in (RECEIVED, RUNNING)]
    if waiting and not force:
        shown = ", ".join(f"{s.source} {s.pk} ({s.status})" for s in waiting[:10])
        raise PhaseStillScoring(
            f"phase {phase!r} still has {len(waiting)} submission(s) waiting or being scored "
            f"({shown}); reveal once they are done, or force it"
        )
    return _publish(store, phase, settings, publisher, explanation, True, template_dir)


def show_phase(
    store: ScoreReader, phase: str, settings: Settings, *, revealed: bool | None = None
) -> str:
    """The phase's Markdown table and notes, for the terminal; nothing is published."""
    board, notes = build_phase_board(store, phase, settings, revealed=revealed)
    table = board_table(board) if board.rows else "No scored submissions yet."
    return "\n".join([table, *(f"note: {n}" for n in notes)])


def _publish(
    store: ScoreReader,
    phase: str,
    settings: Settings,
    publisher: Publisher,
    explanation: str | None,
    revealed: bool | None,
    template_dir: Path,
) -> PublishResult:
    if phase in settings.leaderboard.frozen_phases:
        # Skip the rendering too: the worker publishes after every finished submission.
        log.info("leaderboard %s: frozen, not republished", phase)
        return PublishResult("frozen", reason=f"phase {phase!r} is frozen")
    readme = _published_readme(publisher, settings.title, template_dir)
    if revealed is None:
        revealed = phase in settings.leaderboard.revealed_phases or _published_revealed(
            publisher, phase
        )
    board, notes = build_phase_board(store, phase, settings, revealed=revealed)
    try:
        readme_with_board(readme, board)
    except ValueError as exc:
        raise PublishPermanentError(f"README.md on the leaderboard branch: {exc}") from None
    result = publish_board(
        publisher,
        board_files(board, readme),
        commit_message(board),
        phase=phase,
        explanation=explanation,
    )
    log.info(
        "leaderboard %s: %s, %d entries%s, %s%s",
        phase, result.status, len(board.rows), " (revealed)" if board.revealed else "",
        result.sha or result.reason, "".join(f"; {n}" for n in notes),
    )  # fmt: skip
    return result


def _published_readme(publisher: Publisher, title: str, template_dir: Path) -> str:
    data = publisher.read("README.md")
    if data is None:
        return readme_from_template(_template_readme(template_dir), title)
    try:
        return data.decode()
    except UnicodeDecodeError as exc:
        raise PublishPermanentError(f"README.md on the leaderboard branch: {exc}") from None


def _published_revealed(publisher: Publisher, phase: str) -> bool:
    data = publisher.read(json_path(phase))
    try:
        return data is not None and json.loads(data).get("revealed") is True
    except (ValueError, AttributeError):
        return False  # publish_board reports a broken board file


# ---- publishers --------------------------------------------------------------------------------


def make_publisher(settings: Settings, *, template_dir: Path = TEMPLATE_DIR) -> Publisher | None:
    """The configured publisher, or None when publishing is off (`enabled: false`, `none`).

    For `git` with a local path that does not exist yet (or is an empty folder), a bare
    repository is created there and seeded from the template, so the default works unattended.
    """
    board = settings.leaderboard
    if not board.enabled or board.publisher == "none":
        return None
    if board.publisher == "github":
        return GitHubPublisher(board.remote, board.branch, board.github_token, author=board.author)
    if board.publisher != "git":
        raise ValueError(f"unknown leaderboard.publisher {board.publisher!r}")
    publisher = GitPublisher(board.remote, board.branch, board.workdir, board.author)
    local = _local_path(board.remote)
    if local is not None and (not local.exists() or (local.is_dir() and not any(local.iterdir()))):
        files = template_files(settings.title, template_dir)
        if create_leaderboard_remote(local, board.branch, files, board.author):
            log.info("leaderboard: created %s from the template", local)
    return publisher


def _local_path(remote: str) -> Path | None:
    """The remote as a path, or None for a URL or an scp-like `host:path` (git's own rule)."""
    if "://" in remote or ":" in remote.split("/", 1)[0]:
        return None
    return Path(remote)


def _template_readme(template_dir: Path) -> str:
    path = template_dir / "README_base.md"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    log.warning("leaderboard: no template at %s, using a minimal README", template_dir)
    return FALLBACK_README


def template_files(title: str, template_dir: Path = TEMPLATE_DIR) -> dict[str, bytes]:
    """A new leaderboard repository's files: the template, README_base.md as README.md with
    the challenge title filled in (a minimal README alone when the template is missing)."""
    files = {"README.md": readme_from_template(_template_readme(template_dir), title).encode()}
    if template_dir.is_dir():
        for path in sorted(template_dir.rglob("*")):
            name = path.relative_to(template_dir).as_posix()
            if path.is_file() and name != "README_base.md" and "__pycache__" not in name:
                files[name] = path.read_bytes()
    return files


def create_leaderboard_remote(
    path: Path, branch: str, files: Mapping[str, bytes], author: str, *, timeout: float = 60.0
) -> bool:
    """Create a bare repository at `path` whose `branch` starts with `files` in one commit.

    False if the branch already existed (another process got there first): the branch is only
    ever created, never moved, so a seeded or published board is never overwritten.
    """
    paths = checked_paths(files)
    name, email = parsed_author(author)
    identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    identity |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    path.mkdir(parents=True, exist_ok=True)

    def git(*args: str, data: bytes = b"", index: str | None = None, check: bool = True) -> str:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **identity}
        if index is not None:
            env["GIT_INDEX_FILE"] = index
        done = subprocess.run(
            ["git", "-c", "commit.gpgSign=false", f"--git-dir={path}", *args],
            input=data, capture_output=True, timeout=timeout, check=False, env=env,
        )  # fmt: skip
        if check and done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()
            raise PublishPermanentError(f"creating the leaderboard repository {path}: {detail}")
        return done.stdout.decode().strip() if done.returncode == 0 else ""

    git("init", "--bare", "--quiet")
    git("symbolic-ref", "HEAD", f"refs/heads/{branch}")  # clones check out `branch`
    blobs = {p: git("hash-object", "-w", "--stdin", data=files[p]) for p in paths}
    with tempfile.TemporaryDirectory() as scratch:
        index = str(Path(scratch) / "index")
        listing = "".join(f"100644 {blobs[p]}\t{p}\n" for p in paths).encode()
        git("update-index", "--index-info", data=listing, index=index)
        tree = git("write-tree", index=index)
    commit = git("commit-tree", tree, "-F", "-", data=SEED_MESSAGE.encode())
    # The all-zero old value makes the update fail if the branch exists: create, never move.
    git("update-ref", f"refs/heads/{branch}", commit, "0" * 40, check=False)
    return git("rev-parse", "--verify", f"refs/heads/{branch}") == commit
