"""One contract for both publishers (plain git on a real bare repository; GitHub via the double),
then what only one of them can do: racing git pushes, a moved GitHub ref, bad credentials."""

from __future__ import annotations

import base64
import json
import logging
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol

import pytest

from tests.doubles.github_double import GitHubDouble
from worker.leaderboard import (
    Board,
    BoardRow,
    GitHubPublisher,
    GitPublisher,
    Publisher,
    PublishPermanentError,
    PublishTransientError,
    board_files,
    commit_message,
    publish_board,
)

TEMPLATE = (Path(__file__).parents[2] / "worker" / "leaderboard" / "leaderboard_repo_template"
            / "README_base.md").read_bytes()
SEED = {"README.md": TEMPLATE, "LICENSE.md": b"CC BY 4.0\n"}
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
REPO, BRANCH, TOKEN = "organisers/leaderboard", "main", "ghp_double_secret_token_123"


def _no_sleep(_seconds: float) -> None:
    pass


class Backend(Protocol):
    def publisher(self) -> Publisher: ...
    def head(self) -> str | None: ...
    def parents(self, sha: str) -> list[str]: ...
    def files_at(self, sha: str) -> dict[str, bytes]: ...
    def message(self, sha: str) -> str: ...


@dataclass
class GitBackend:
    remote: Path
    workdir: Path

    def publisher(self) -> Publisher:
        return GitPublisher(str(self.remote), BRANCH, self.workdir, sleep=_no_sleep)

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", f"--git-dir={self.remote}", *args], capture_output=True, check=True, text=True
        )
        return done.stdout

    def head(self) -> str | None:
        ref = f"refs/heads/{BRANCH}"
        done = subprocess.run(
            ["git", f"--git-dir={self.remote}", "rev-parse", "-q", "--verify", ref],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.stdout.strip() or None

    def parents(self, sha: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]

    def files_at(self, sha: str) -> dict[str, bytes]:
        paths = self.git("ls-tree", "-r", "--name-only", "-z", sha).split("\0")
        return {
            p: subprocess.run(
                ["git", f"--git-dir={self.remote}", "cat-file", "blob", f"{sha}:{p}"],
                capture_output=True, check=True,
            ).stdout
            for p in paths
            if p
        }  # fmt: skip

    def message(self, sha: str) -> str:
        return self.git("log", "-1", "--format=%B", sha).strip()


@dataclass
class GitHubBackend:
    double: GitHubDouble

    def publisher(self) -> Publisher:
        return GitHubPublisher(
            REPO, BRANCH, TOKEN, self.double.base_url, seconds_between_writes=None, sleep=_no_sleep
        )

    def head(self) -> str | None:
        return self.double.head(REPO, BRANCH)

    def parents(self, sha: str) -> list[str]:
        return list(self.double.commit(REPO, sha)["parents"])

    def files_at(self, sha: str) -> dict[str, bytes]:
        return self.double.files_at(REPO, sha)

    def message(self, sha: str) -> str:
        return str(self.double.commit(REPO, sha)["message"])


def _seed_bare_remote(tmp_path: Path, files: dict[str, bytes] | None) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--bare", "-q", str(remote)], check=True)
    if files is not None:
        seed = tmp_path / "seed"
        seed.mkdir()
        for path, data in files.items():
            (seed / path).write_bytes(data)
        ident = ["-c", "user.name=Organiser", "-c", "user.email=org@example.invalid"]
        steps = (
            ["init", "-q", "-b", BRANCH],
            ["add", "-A"],
            [*ident, "commit", "-qm", "Template"],
            ["push", "-q", str(remote), f"HEAD:refs/heads/{BRANCH}"],
        )
        for args in steps:
            subprocess.run(["git", "-C", str(seed), *args], check=True, capture_output=True)
    return remote


@pytest.fixture
def github_double() -> Iterator[GitHubDouble]:
    with GitHubDouble(token=TOKEN) as double:
        yield double


@pytest.fixture(params=["git", "github"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "git":
        yield GitBackend(_seed_bare_remote(tmp_path, SEED), tmp_path / "work")
    else:
        with GitHubDouble(token=TOKEN) as double:
            double.create_repo(REPO, BRANCH, SEED)
            yield GitHubBackend(double)


def _board(teams: list[str], mean_q_offset: float = 0.0) -> Board:
    rows = tuple(
        BoardRow(
            team=team,
            method=f"m-{team}",
            place=i + 1,
            weighted_score=1.0 + i,
            mean_q=30.0 - i + mean_q_offset,
            submissions=2,
            last_submission=T0,
            interval=(i + 1, i + 1),
        )  # fmt: skip
        for i, team in enumerate(teams)
    )
    return Board("dev", "Development phase", rows, updated_at=T0 + timedelta(minutes=len(teams)))


def _files(board: Board) -> dict[str, bytes]:
    return board_files(board, TEMPLATE.decode())


# ---- the contract -----------------------------------------------------------------------------


def test_first_publish_commits_every_file_at_once(backend: Backend) -> None:
    before = backend.head()
    files = _files(_board(["alpha", "beta", "gamma"]))
    result = backend.publisher().publish(files, "first board")
    assert result.status == "committed" and result.sha == backend.head()
    assert set(result.changed) == set(files)
    assert backend.parents(result.sha) == [before]
    published = backend.files_at(result.sha)
    assert {p: published[p] for p in files} == files
    assert published["LICENSE.md"] == SEED["LICENSE.md"]  # files we do not write are kept
    assert backend.message(result.sha) == "first board"


def test_unchanged_content_makes_no_commit(backend: Backend) -> None:
    publisher = backend.publisher()
    files = _files(_board(["alpha", "beta"]))
    first = publisher.publish(files, "board")
    again = publisher.publish(_files(_board(["alpha", "beta"])), "board again")
    assert again.status == "unchanged" and again.sha == first.sha == backend.head()


def test_changed_content_is_one_commit_with_exactly_the_changed_files(backend: Backend) -> None:
    publisher = backend.publisher()
    first = publisher.publish(_files(_board(["alpha", "beta"])), "board 1")
    files = _files(_board(["alpha", "beta"], mean_q_offset=0.5))  # same ranks, new mean Q
    result = publisher.publish(files, "board 2")
    assert result.status == "committed"
    assert backend.parents(result.sha) == [first.sha]
    old, new = backend.files_at(first.sha), backend.files_at(result.sha)
    changed = {p for p in new if old.get(p) != new[p]}
    assert (
        changed
        == set(result.changed)
        == {"README.md", "leaderboard/dev.json", "leaderboard/dev.csv"}
    )
    assert {p: new[p] for p in files} == files


def test_read_returns_published_bytes(backend: Backend) -> None:
    publisher = backend.publisher()
    files = _files(_board(["alpha"]))
    publisher.publish(files, "board")
    assert publisher.read("leaderboard/dev.json") == files["leaderboard/dev.json"]
    assert publisher.read("plots/dev_rank_evolution.png") == files["plots/dev_rank_evolution.png"]
    assert publisher.read("leaderboard/none.json") is None


def test_a_shrinking_board_needs_an_explanation(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = backend.publisher()
    three = _board(["alpha", "beta", "gamma"])
    publish_board(publisher, _files(three), commit_message(three), phase="dev")
    head = backend.head()
    two = _board(["alpha", "gamma"])
    with caplog.at_level(logging.WARNING):
        refused = publish_board(publisher, _files(two), commit_message(two), phase="dev")
    assert refused.status == "refused" and "'beta'" in refused.reason
    assert backend.head() == head
    assert "refused to publish" in caplog.text and "'beta'" in caplog.text
    empty = _board([])
    assert publish_board(publisher, _files(empty), "empty", phase="dev").status == "refused"
    assert backend.head() == head
    done = publish_board(
        publisher, _files(two), commit_message(two), phase="dev",
        explanation="team beta withdrew (organiser ticket 42)",
    )  # fmt: skip
    assert done.status == "committed"
    assert "team beta withdrew (organiser ticket 42)" in backend.message(done.sha)
    names = [
        e["team"] for e in json.loads(backend.files_at(done.sha)["leaderboard/dev.json"])["entries"]
    ]
    assert names == ["alpha", "gamma"]


def test_frozen_phases_are_not_republished(backend: Backend) -> None:
    publisher = backend.publisher()
    head = backend.head()
    board = _board(["alpha"])
    result = publish_board(
        publisher, _files(board), commit_message(board), phase="dev", frozen=True
    )
    assert result.status == "frozen" and backend.head() == head


def test_unsafe_paths_are_refused(backend: Backend) -> None:
    for path in ("../escape", "/abs", ".git/config", "a\nb"):
        with pytest.raises(PublishPermanentError, match="refusing"):
            backend.publisher().publish({path: b"x"}, "bad")


# ---- plain git only ---------------------------------------------------------------------------


def test_git_publishes_to_an_empty_remote(tmp_path: Path) -> None:
    backend = GitBackend(_seed_bare_remote(tmp_path, None), tmp_path / "work")
    publisher = backend.publisher()
    assert publisher.read("README.md") is None
    result = publisher.publish({"README.md": b"hello\n"}, "root")
    assert result.status == "committed" and backend.parents(result.sha) == []


def test_racing_git_publishers_keep_a_linear_history_without_lost_commits(tmp_path: Path) -> None:
    remote = _seed_bare_remote(tmp_path, SEED)
    backend = GitBackend(remote, tmp_path / "unused")
    rounds, results, errors = 4, {"a": [], "b": []}, []

    def run(name: str) -> None:
        publisher = GitPublisher(str(remote), BRANCH, tmp_path / f"work-{name}", max_attempts=10,
                                 sleep=_no_sleep)  # fmt: skip
        try:
            for i in range(rounds):
                files = {f"leaderboard/{name}.json": f'{{"round": {i}}}\n'.encode()}
                results[name].append(publisher.publish(files, f"{name} round {i}"))
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and all(not t.is_alive() for t in threads)
    history = backend.git("rev-list", "--parents", f"refs/heads/{BRANCH}").splitlines()
    assert all(len(line.split()) <= 2 for line in history)  # linear: no merges
    assert len(history) == 1 + 2 * rounds
    reachable = {line.split()[0] for line in history}
    assert {r.sha for rs in results.values() for r in rs} <= reachable
    messages = set(backend.git("log", "--format=%s", f"refs/heads/{BRANCH}").splitlines())
    assert {f"{n} round {i}" for n in "ab" for i in range(rounds)} <= messages
    final = backend.files_at(backend.head() or "")
    assert final["leaderboard/a.json"] == final["leaderboard/b.json"] == b'{"round": 3}\n'


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_git_never_shows_credentials(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cret-pat-value"
    url = f"https://bot:{secret}@127.0.0.1:{_closed_port()}/org/board.git"
    publisher = GitPublisher(url, BRANCH, tmp_path / "work", timeout=20, sleep=_no_sleep)
    with caplog.at_level(logging.DEBUG), pytest.raises(PublishTransientError) as caught:
        publisher.publish({"README.md": b"x"}, "m")
    assert "127.0.0.1" in str(caught.value) and "***@" in str(caught.value)
    assert secret not in str(caught.value) and secret not in caplog.text
    assert secret not in repr(publisher)
    assert caught.value.__cause__ is None


class _RecordingGitServer:
    """An HTTP server that records Authorization headers and answers 401, like a git host."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, self.headers.get("Authorization")))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> _RecordingGitServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def test_git_sends_url_credentials_as_a_header_not_on_the_command_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "ghp_s3cret_in_url"
    with _RecordingGitServer() as server:
        port = server.server.server_address[1]
        url = f"http://x-access-token:{secret}@127.0.0.1:{port}/org/board.git"
        publisher = GitPublisher(url, BRANCH, tmp_path / "work", timeout=20, sleep=_no_sleep)
        with caplog.at_level(logging.DEBUG), pytest.raises(PublishPermanentError) as caught:
            publisher.read("leaderboard/dev.json")
    expected = "Basic " + base64.b64encode(f"x-access-token:{secret}".encode()).decode()
    assert server.seen and server.seen[0][1] == expected
    assert server.seen[0][0].startswith("/org/board.git/info/refs")
    assert secret not in str(caught.value) and secret not in caplog.text
    assert expected.split()[1] not in str(caught.value)


# ---- GitHub only ------------------------------------------------------------------------------


def _github(double: GitHubDouble, token: str = TOKEN, **kw: object) -> GitHubPublisher:
    return GitHubPublisher(
        REPO, BRANCH, token, double.base_url, seconds_between_writes=None, sleep=_no_sleep, **kw
    )  # type: ignore[arg-type]


def test_github_retries_when_the_ref_moves_between_read_and_update(
    github_double: GitHubDouble,
) -> None:
    github_double.create_repo(REPO, BRANCH, SEED)
    github_double.move_ref_before_update(REPO, BRANCH, {"NOTES.md": b"organiser edit"})
    files = _files(_board(["alpha", "beta"]))
    result = _github(github_double).publish(files, "board")
    assert result.status == "committed"
    head = github_double.head(REPO, BRANCH)
    assert result.sha == head
    (parent,) = github_double.commit(REPO, head)["parents"]
    assert github_double.commit(REPO, parent)["message"] == "concurrent"
    published = github_double.files_at(REPO, head)
    assert published["NOTES.md"].startswith(b"organiser edit")  # the other writer's work is kept
    assert {p: published[p] for p in files} == files
    patches = [r for r in github_double.requests if r[0] == "PATCH"]
    assert patches == [("PATCH", f"/repos/{REPO}/git/refs/heads/{BRANCH}")] * 2


def test_github_gives_up_after_bounded_ref_races(github_double: GitHubDouble) -> None:
    github_double.create_repo(REPO, BRANCH, SEED)
    github_double.move_ref_before_update(REPO, BRANCH, {"NOTES.md": b"edit"}, times=3)
    with pytest.raises(PublishTransientError, match="moved"):
        _github(github_double, max_attempts=3).publish({"README.md": b"new"}, "board")


def test_github_wrong_token_is_a_clear_permanent_error(
    github_double: GitHubDouble, caplog: pytest.LogCaptureFixture
) -> None:
    github_double.create_repo(REPO, BRANCH, SEED)
    wrong = "ghp_wrong_token_value_987"
    with caplog.at_level(logging.DEBUG), pytest.raises(PublishPermanentError) as caught:
        _github(github_double, token=wrong).publish({"README.md": b"x"}, "board")
    message = str(caught.value)
    assert "401" in message and "Bad credentials" in message and "GITHUB_TOKEN" in message
    assert wrong not in message and wrong not in caplog.text and TOKEN not in caplog.text
    assert caught.value.__cause__ is None
    assert len(github_double.requests) == 1  # 4xx is not retried


def test_github_retries_server_errors_a_bounded_number_of_times(
    github_double: GitHubDouble,
) -> None:
    github_double.create_repo(REPO, BRANCH, SEED)
    github_double.fail_next(2, status=503)
    assert _github(github_double).publish({"README.md": b"new"}, "m").status == "committed"
    github_double.fail_next(100, status=502)
    before = len(github_double.requests)
    with pytest.raises(PublishTransientError, match="502"):
        _github(github_double, max_attempts=3).publish({"README.md": b"newer"}, "m")
    assert len(github_double.requests) - before == 3


def test_github_missing_branch_points_at_the_template(github_double: GitHubDouble) -> None:
    github_double.create_repo(REPO, BRANCH, files=None)  # an empty repository
    with pytest.raises(PublishPermanentError, match="leaderboard_repo_template"):
        _github(github_double).publish({"README.md": b"x"}, "m")
