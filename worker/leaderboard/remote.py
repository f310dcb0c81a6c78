"""The configured publisher, and a new leaderboard repository seeded from the template.

I/O: `make_publisher` builds the git or GitHub publisher and — only when the configured git
remote is a local path that does not exist yet, or an empty folder — creates a bare repository
there and runs `git` to seed it with `leaderboard_repo_template/` (package data, next to this
module; `create_leaderboard_remote`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from worker.leaderboard.git import GitPublisher
from worker.leaderboard.github import GitHubPublisher
from worker.leaderboard.publish import (
    Publisher,
    PublishPermanentError,
    checked_paths,
    parsed_author,
)
from worker.leaderboard.render import (
    readme_from_template,
)
from worker.settings import Settings

log = logging.getLogger(__name__)

# Package data (pyproject.toml), so an installed worker (the image, a VM) has it too.
TEMPLATE_DIR = Path(__file__).resolve().parent / "leaderboard_repo_template"
SEED_MESSAGE = "Start the leaderboard from leaderboard_repo_template"
# Used when the template folder is not shipped (the worker image installs the packages only).
FALLBACK_README = """# {{CHALLENGE_TITLE}} — leaderboard

The public leaderboard of **{{CHALLENGE_TITLE}}**, a hidden-task embedding challenge scored
with the [NeuCo-Bench](https://github.com/embed2scale/NeuCo-Bench) protocol. The text between
the `LEADERBOARD` markers is rewritten automatically.

<!-- LEADERBOARD:BEGIN -->
<!-- LEADERBOARD:END -->
"""

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


def template_readme(template_dir: Path) -> str:
    path = template_dir / "README_base.md"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    log.warning("leaderboard: no template at %s, using a minimal README", template_dir)
    return FALLBACK_README


def template_files(title: str, template_dir: Path = TEMPLATE_DIR) -> dict[str, bytes]:
    """A new leaderboard repository's files: the template, README_base.md as README.md with
    the challenge title filled in (a minimal README alone when the template is missing)."""
    files = {"README.md": readme_from_template(template_readme(template_dir), title).encode()}
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
