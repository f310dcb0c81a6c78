"""Static checks on the deployment files: Dockerfile, .dockerignore, docker-compose.yml, deploy/
and cronjobs/. No Docker engine is needed (none runs in CI), so what a build or `compose up`
would reject is checked here by reading the files, and the files are checked against each
other: the torch pin, the worker's command line, paths and settings must agree everywhere.

I/O: reads repository files; runs `bash -n`, shellcheck (when installed) and `git check-ignore`.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / ".env.example"
UNIT_FILE = REPO / "deploy" / "neuco-worker.service"
INSTALL_VM = REPO / "deploy" / "install-vm.sh"
WATCHDOG = REPO / "cronjobs" / "watchdog.sh"
CRONTAB = REPO / "cronjobs" / "crontab.example"

# What the deployment files themselves call; the README may use every subcommand the CLI has.
WORKER_SUBCOMMANDS = {"run", "doctor", "healthcheck"}
ALL_WORKER_SUBCOMMANDS = {"run", "once", "status", "doctor", "rescore", "healthcheck",
                          "leaderboard", "refresh", "migrate", "alert-test", "reconcile"}
# The settings the issue names; each must be documented whether or not a file here reads it.
REQUIRED_SETTINGS = {
    "AUTH_TOKEN", "API_SERVER", "QUEUE_NAME", "CHALLENGE_PK", "GITHUB_TOKEN", "NEUCO_CONFIG",
    "NEUCO_DATA_DIR", "DATABASE_URL", "LEADERBOARD_REMOTE", "LEADERBOARD_BRANCH", "LOG_LEVEL",
    "MAX_HEARTBEAT_AGE",
}
# Image internals set in the Dockerfile, not settings of a deployment.
IMAGE_INTERNAL_ENV = {
    "PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "MPLBACKEND", "MPLCONFIGDIR",
    "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
}
SECRET_NAME = re.compile(r"TOKEN|PASSWORD|SECRET|DATABASE_URL")
# Credentials in a URL, or a GitHub token.
SECRET_VALUE = re.compile(r"://[^/\s:@]+:[^/\s@]+@|ghp_[A-Za-z0-9]|github_pat_")
MIN_STOP_GRACE_S = 30  # the worker may take ~30 s to finish or abandon a submission


# ---- parsers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped, as Docker reads them."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, also inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """`--from=x --chown=y a b` -> ({'from': 'x', 'chown': 'y'}, ['a', 'b'])."""
    words = shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def env_assignments(args: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(args))


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """One .dockerignore pattern as a regex over slash-separated paths (Go filepath.Match + **)."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out.append(pattern[i:end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def dockerignored(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves `path` out of the build context: the last matching pattern wins,
    and a pattern matching a parent folder matches everything under it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = posixpath.normpath(raw.removeprefix("!").strip()).lstrip("/")
        regex = dockerignore_regex(pattern)
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = not negated
    return excluded


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class EnvEntry:
    key: str
    value: str
    active: bool  # False: shown commented out, as an optional setting
    described: bool  # the line above is a comment in words


ASSIGNMENT = re.compile(r"^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example_entries() -> dict[str, EnvEntry]:
    entries: dict[str, EnvEntry] = {}
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            prose = previous.startswith("#") and not ASSIGNMENT.match(previous)
            key = match.group(2)
            assert key not in entries, f"{key} is documented twice"
            entries[key] = EnvEntry(key, match.group(3), match.group(1) is None, prose)
        previous = line
    return entries


def shell_assignments(path: Path) -> dict[str, str]:
    """Top-level NAME=value lines of a script, with earlier $NAME references expanded."""
    names: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=([^\s$(]*(?:\$[A-Z_]+[^\s$(]*)*)", line)
        if match:
            names[match.group(1)] = re.sub(
                r"\$([A-Z_]+)", lambda m: names[m.group(1)], match.group(2))
    return names


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT_FILE.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def worker_invocations(text: str) -> list[list[str]]:
    """Every `-m worker <subcommand> ...` in a text, as the words that follow `-m worker`."""
    calls = []
    for match in re.finditer(r"-m[\"',\s]+worker\b([^\n]*)", text):
        words = re.findall(r"[A-Za-z][\w.-]*|--[\w-]+|/[\w./-]+|\$\{?\w+\}?", match.group(1))
        calls.append(words)
    return calls


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def torch_pin() -> str:
    (pin,) = [dep for dep in pyproject()["project"]["dependencies"] if dep.startswith("torch")]
    assert pin.startswith("torch=="), f"torch must be pinned exactly in pyproject.toml: {pin}"
    return pin.removeprefix("torch==")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def worker_service() -> dict:
    return compose()["services"]["worker"]


def example_of(path: Path) -> Path:
    """The committed template of a file: .env -> .env.example, x.yaml -> x.example.yaml."""
    if path.name.startswith(".") and path.suffix == "":
        return path.with_name(path.name + ".example")
    return path.with_name(f"{path.stem}.example{path.suffix}")


def git_ignored(path: str) -> bool:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO,
                            check=False, timeout=30)
    return result.returncode == 0


def strings_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in strings_in(k) + strings_in(v)]
    if isinstance(value, list):
        return [s for item in value for s in strings_in(item)]
    return []


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)(s|m)?", duration)
    assert match, f"unexpected duration {duration!r}"
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


# ---- Dockerfile -------------------------------------------------------------------------------

@cache
def docker() -> list[Instruction]:
    return dockerfile_instructions(DOCKERFILE.read_text())


def final_stage() -> list[Instruction]:
    last = max(i.stage for i in docker())
    return [i for i in docker() if i.stage == last]


def final(keyword: str) -> list[Instruction]:
    return [i for i in final_stage() if i.keyword == keyword]


def image_env() -> dict[str, str]:
    return {k: v for i in final("ENV") for k, v in env_assignments(i.args).items()}


def test_the_parser_reads_continuations_comments_and_stages() -> None:
    parsed = dockerfile_instructions(
        "FROM a AS one\n# note\nRUN x \\\n  # inner comment\n  && y\nFROM b\nUSER me\n")
    assert parsed == [Instruction("FROM", "a AS one", 0), Instruction("RUN", "x && y", 0),
                      Instruction("FROM", "b", 1), Instruction("USER", "me", 1)]


def global_args() -> dict[str, str]:
    """ARGs before the first FROM, with their defaults: what FROM lines may use."""
    return {name: default for name, _, default in
            (i.args.partition("=") for i in docker() if i.keyword == "ARG" and i.stage == -1)}


def test_every_python_base_image_is_python_311_slim_by_default() -> None:
    """Both stages use one base (the venv points at its interpreter), python:3.11-slim unless
    the PYTHON_IMAGE build argument names a stand-in (make test-docker)."""
    stage_names = set()
    bases = []
    for instruction in (i for i in docker() if i.keyword == "FROM"):
        _, words = split_flags(instruction.args)
        image = words[0]
        if len(words) == 3 and words[1].upper() == "AS":
            stage_names.add(words[2])
        if image != "scratch" and image not in stage_names:
            bases.append(image)
    assert set(bases) == {"${PYTHON_IMAGE}"} and len(bases) == 2, bases
    assert global_args()["PYTHON_IMAGE"] == "python:3.11-slim"
    (last_from,) = final("FROM")
    assert split_flags(last_from.args)[1][0] == "${PYTHON_IMAGE}"


def test_the_dockerfile_needs_no_buildkit_only_syntax() -> None:
    """Compose v1 builds with the classic builder: no RUN --mount, no syntax directive, no
    named build contexts; the local wheels come in through the wheels/ folder instead."""
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax=", text, re.MULTILINE)
    for instruction in docker():
        flags, _ = split_flags(instruction.args) if instruction.keyword in ("RUN", "COPY") \
            else ({}, [])
        assert "mount" not in flags and "link" not in flags, instruction
    copies = [split_flags(i.args)[1] for i in docker() if i.keyword == "COPY"]
    assert ["wheels/", "/wheels/"] in copies
    assert (REPO / "wheels" / "README.md").is_file()


def test_the_final_stage_holds_no_bytecode_tests_or_build_tools() -> None:
    runs = " ".join(i.args for i in docker() if i.keyword == "RUN")
    assert "--no-compile" in runs and "-name '*.py[co]' -delete" in runs
    assert "-name tests" in runs and "torch/include" in runs
    for instruction in final("RUN"):
        assert not re.search(r"\b(gcc|build-essential|g\+\+|make)\b", instruction.args)
    assert image_env()["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_final_stage_runs_as_a_non_root_user_before_its_command() -> None:
    keywords = [i.keyword for i in final_stage()]
    users = final("USER")
    assert users, "the image must set USER"
    assert users[-1].args.split(":")[0] not in ("root", "0")
    last_user = max(n for n, k in enumerate(keywords) if k == "USER")
    for keyword in ("ENTRYPOINT", "CMD", "HEALTHCHECK"):
        assert keywords.index(keyword) > last_user, f"{keyword} before USER"


def test_entrypoint_and_cmd_run_the_worker_on_the_mounted_challenge_file() -> None:
    (entrypoint,) = final("ENTRYPOINT")
    (cmd,) = final("CMD")
    assert exec_form(entrypoint.args) == ["python", "-m", "worker"]
    command = exec_form(cmd.args)
    assert command[:2] == ["run", "--config"]
    config = command[2]
    assert config == image_env()["NEUCO_CONFIG"] == worker_service()["environment"]["NEUCO_CONFIG"]


def test_the_healthcheck_calls_the_worker_healthcheck_like_compose_does() -> None:
    (healthcheck,) = final("HEALTHCHECK")
    flags, _ = split_flags(healthcheck.args.split(" CMD ", 1)[0])
    probe = exec_form(healthcheck.args.split(" CMD ", 1)[1])
    assert probe[:4] == ["python", "-m", "worker", "healthcheck"]
    assert worker_service()["healthcheck"]["test"] == ["CMD", *probe]
    assert probe[probe.index("--max-age") + 1] == image_env()["MAX_HEARTBEAT_AGE"]
    assert seconds(flags["timeout"]) < seconds(flags["interval"])


def test_torch_is_pinned_like_pyproject_and_comes_from_a_cpu_source() -> None:
    args = {}
    for instruction in (i for i in docker() if i.keyword == "ARG"):
        name, _, default = instruction.args.partition("=")
        args[name] = default
    assert args["TORCH_VERSION"] == torch_pin()
    assert args["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    runs = [i.args for i in docker() if i.keyword == "RUN"]
    (torch_install,) = [r for r in runs if '"torch==${TORCH_VERSION}"' in r]
    assert '--index-url "${TORCH_INDEX_URL}"' in torch_install
    assert "torch.version.cuda" in torch_install, "the build must refuse a CUDA build of torch"
    (deps_install,) = [r for r in runs if "-r /tmp/requirements.txt" in r]
    (project_install,) = [r for r in runs if re.search(r"pip install [^&]*/src\b", r)]
    assert runs.index(torch_install) < runs.index(deps_install) < runs.index(project_install)
    assert "--no-deps" in project_install  # everything it needs is already there
    assert " -e " not in f" {project_install} " and "[dev]" not in project_install


def test_copy_sources_exist_and_bring_in_no_data_labels_or_secrets() -> None:
    assert not [i for i in docker() if i.keyword == "ADD"], "COPY only: ADD fetches and unpacks"
    forbidden = re.compile(r"(^|/)(labels|data|var)(/|$)|\.env|\.sqlite|\.db$")
    for instruction in (i for i in docker() if i.keyword == "COPY"):
        flags, words = split_flags(instruction.args)
        if "from" in flags:
            continue  # from another stage, not from the repository
        for source in words[:-1]:
            assert (REPO / source).exists(), f"COPY source {source} is not in the repository"
            assert not forbidden.search(source), f"COPY {source}"


def test_the_oci_version_label_is_the_project_version() -> None:
    labels = {k: v for i in final("LABEL") for k, v in env_assignments(i.args).items()}
    assert labels["org.opencontainers.image.version"] == pyproject()["project"]["version"]
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_the_license_file_matches_the_image_label_and_pyproject() -> None:
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert pyproject()["project"]["license"] == {"text": "Apache-2.0"}
    assert not dockerignored(dockerignore_patterns(), "LICENSE")


def test_volumes_cover_the_mounted_data_folders() -> None:
    (volume,) = final("VOLUME")
    bind_targets = {v["target"] for v in worker_service()["volumes"] if v["type"] == "bind"}
    assert set(exec_form(volume.args)) == bind_targets - {"/config/challenge.yaml"}


# ---- .dockerignore ----------------------------------------------------------------------------

def test_the_dockerignore_matcher_follows_dockers_rules() -> None:
    patterns = ["*", "!keep/", "**/secret", "!keep/secret/ok"]
    assert dockerignored(patterns, "other/file")
    assert not dockerignored(patterns, "keep/a.py")
    assert dockerignored(patterns, "keep/deep/secret/x")
    assert not dockerignored(patterns, "keep/secret/ok")


@pytest.mark.parametrize("path", [
    ".venv/bin/python", ".git/HEAD", "var/worker.lock", "var/scores.sqlite",
    "labels/task__reg.csv", "deploy/data/labels/task__cls.csv", ".env", "deploy/.env",
    "worker/.env", "scoring/labels/task__reg.csv", "demo-output/leaderboard.csv", "data/x.npy",
    "worker/__pycache__/x.cpython-311.pyc",
])
def test_dockerignore_keeps_secrets_data_and_tooling_out(path: str) -> None:
    assert dockerignored(dockerignore_patterns(), path)


def test_dockerignore_lets_in_what_pip_install_needs() -> None:
    project = pyproject()
    needed = ["pyproject.toml", project["project"]["readme"], "scoring/labels.py"]
    for include in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        needed.append(include.rstrip("*") + "/__init__.py")
    for path in needed:
        assert not dockerignored(dockerignore_patterns(), path), path


# ---- docker-compose.yml -----------------------------------------------------------------------

def test_compose_builds_the_repository_dockerfile() -> None:
    context = REPO / worker_service()["build"]["context"]
    assert context.resolve() == REPO and (context / "Dockerfile").is_file()
    assert worker_service()["restart"] == "unless-stopped"
    assert "profiles" not in worker_service()


def test_compose_gives_the_scoring_processes_room_in_dev_shm() -> None:
    """The submission matrix is shared through /dev/shm; Docker's 64 MB default is too small
    for a final phase (54 MB of float32, more while it is written)."""
    size = worker_service()["shm_size"]
    number, unit = float(size[:-2]), size[-2:].lower()
    assert unit in ("mb", "gb")
    assert number * (1024 if unit == "gb" else 1) >= 512


def test_compose_env_files_have_a_committed_example_and_are_git_ignored() -> None:
    for name, service in compose()["services"].items():
        env_file = service["env_file"]
        assert example_of(REPO / env_file).is_file(), f"{name}: no example for {env_file}"
        assert git_ignored(env_file), f"{env_file} holds secrets and must be git-ignored"


def test_compose_mounts_exist_or_are_ignored_run_time_data() -> None:
    for volume in (v for v in worker_service()["volumes"] if v["type"] == "bind"):
        source = volume["source"].removeprefix("./")
        # Long syntax: the engine refuses a missing source instead of creating it.
        assert volume["type"] == "bind" and "bind" not in volume, source
        assert git_ignored(source), f"{source} is deployment data: never committed"
        assert dockerignored(dockerignore_patterns(), source), f"{source} must stay out of builds"
        if Path(source).suffix:  # a file the organiser makes from its example
            assert example_of(REPO / source).is_file(), source
            assert volume["read_only"] is True
        else:  # a data folder made by hand under a committed parent (deploy/README.md)
            assert (REPO / source).parent.is_dir(), source
    labels = [v for v in worker_service()["volumes"] if v["target"] == "/data/labels"]
    assert labels and labels[0]["read_only"] is True, "hidden labels are mounted read-only"


def test_compose_file_uses_nothing_compose_v1_rejects() -> None:
    """Compose v1 (docker-compose >= 1.28) rejects a top-level `name` and `create_host_path`;
    the file must work with v1 and v2 (make test-docker runs whichever is installed)."""
    document = compose()
    assert set(document) <= {"services", "volumes"}, set(document)
    assert "create_host_path" not in str(document)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_v1_accepts_the_compose_file(tmp_path: Path) -> None:
    """The real docker-compose parses the file, both profiles, with the organiser's files in
    place (as deploy/README.md lays them out)."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / "deploy" / "data").mkdir(parents=True)
    for name in ("labels", "var", "leaderboard", "logs"):
        (tmp_path / "deploy" / "data" / name).mkdir()
    shutil.copy(ENV_EXAMPLE, tmp_path / "deploy" / ".env")
    shutil.copy(REPO / "deploy" / "challenge.example.yaml", tmp_path / "deploy" / "challenge.yaml")
    for profile in ([], ["--profile", "postgres"]):
        result = subprocess.run(["docker-compose", *profile, "config", "-q"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr


def test_compose_paths_agree_with_the_image() -> None:
    for key, value in worker_service()["environment"].items():
        assert image_env()[key] == value, key


def test_postgres_is_optional_behind_a_profile_with_a_named_volume() -> None:
    document = compose()
    postgres = document["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    (volume,) = postgres["volumes"]
    assert volume["type"] == "volume" and volume["source"] in document["volumes"]
    assert "DATABASE_URL=postgresql" in ENV_EXAMPLE.read_text()


def test_compose_holds_no_secret_and_publishes_no_port() -> None:
    for name, service in compose()["services"].items():
        environment = service.get("environment", {})
        assert not [k for k in environment if SECRET_NAME.search(k)], f"{name}: secret inline"
        assert "ports" not in service, f"{name} must not listen on the host"
    for text in strings_in(compose()):
        assert not SECRET_VALUE.search(text), text


def test_the_worker_gets_time_to_stop_cleanly() -> None:
    assert seconds(worker_service()["stop_grace_period"]) > MIN_STOP_GRACE_S
    (timeout,) = unit_settings()["TimeoutStopSec"]
    assert seconds(timeout) > MIN_STOP_GRACE_S


# ---- deploy/.env.example ----------------------------------------------------------------------

def referenced_settings() -> set[str]:
    """Variables the deployment files read: the watchdog's defaulted ${NAME:-...} reads, the
    compose environment and interpolations, and the settings the image sets."""
    names = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):?[-+]", WATCHDOG.read_text()))
    names |= set(worker_service()["environment"])
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text())) - BUILD_SETTINGS
    names |= set(image_env()) - IMAGE_INTERNAL_ENV
    return names


# Compose reads build arguments from the shell or a .env next to the compose file, never from
# deploy/.env (env_file is the container's environment): they are documented where the build is.
BUILD_SETTINGS = {"TORCH_INDEX_URL"}


def test_build_settings_are_documented_where_the_build_is() -> None:
    build_args = set(worker_service()["build"]["args"])
    assert build_args == BUILD_SETTINGS
    for name in build_args:
        assert name in (REPO / "wheels" / "README.md").read_text()
        assert name in (REPO / "deploy" / "README.md").read_text()
        assert f"ARG {name}=" in DOCKERFILE.read_text()


def test_env_example_documents_every_setting_the_files_read() -> None:
    entries = env_example_entries()
    missing = (referenced_settings() | REQUIRED_SETTINGS) - set(entries)
    assert not missing, f"deploy/.env.example does not document {sorted(missing)}"


def test_every_path_setting_is_read_by_the_worker_or_the_watchdog() -> None:
    """A *_DIR variable nobody reads misleads the organiser who sets it."""
    sources = WATCHDOG.read_text() + "".join(
        path.read_text() for path in (REPO / "worker").rglob("*.py"))
    for key in env_example_entries():
        if key.endswith("_DIR"):
            assert f'"{key}"' in sources or f"${{{key}" in sources, f"nothing reads {key}"


def test_every_env_example_entry_has_its_own_comment() -> None:
    undescribed = [e.key for e in env_example_entries().values() if not e.described]
    assert not undescribed, f"put a comment line right above {undescribed}"


def test_env_example_holds_no_secret_and_only_portable_lines() -> None:
    for entry in env_example_entries().values():
        if entry.active and SECRET_NAME.search(entry.key):
            assert entry.value == "", f"{entry.key} must be blank in the example"
        if entry.active:
            # Compose expands '$'; systemd and the watchdog do not: keep values literal.
            assert "$" not in entry.value and not entry.value.startswith(" "), entry.key
    assert not re.search(r"^\s*export\s", ENV_EXAMPLE.read_text(), re.MULTILINE)


# ---- systemd unit and VM installer ------------------------------------------------------------

def test_the_unit_runs_the_worker_as_neuco_with_its_env_file_and_sandbox() -> None:
    unit = unit_settings()
    assert unit["User"] == ["neuco"] and unit["Group"] == ["neuco"]
    assert unit["EnvironmentFile"] == ["/etc/neuco/neuco.env"]
    assert unit["Restart"] == ["on-failure"]
    assert "75" in unit["RestartPreventExitStatus"][0].split()
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                       ("ProtectHome", "yes"), ("PrivateTmp", "yes")]:
        assert unit[key] == [value], key


def test_the_unit_and_the_installer_agree_on_paths() -> None:
    unit = unit_settings()
    installer = shell_assignments(INSTALL_VM)
    assert unit["EnvironmentFile"] == [installer["ENV_FILE"]]
    assert unit["WorkingDirectory"] == [installer["PREFIX"]]
    python, *args = shlex.split(unit["ExecStart"][0])
    assert python == installer["PREFIX"] + "/.venv/bin/python"
    assert args == ["-m", "worker", "run", "--config", installer["CHALLENGE"]]
    assert set(unit["ReadWritePaths"][0].split()) == {installer["DATA_DIR"], installer["LOG_DIR"]}
    assert installer["LABELS_DIR"] in unit["ReadOnlyPaths"][0].split()
    assert installer["UNIT"] == UNIT_FILE.name


def test_the_installed_cron_line_is_the_documented_one() -> None:
    installer_text = INSTALL_VM.read_text()
    names = shell_assignments(INSTALL_VM)
    (template,) = re.findall(r"^\* \* \* \* \* root .*$", installer_text, re.MULTILINE)
    installed = re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: names[m.group(1)], template)
    documented = [line.removeprefix("# ") for line in CRONTAB.read_text().splitlines()]
    assert installed in documented


def test_crontab_lines_run_the_watchdog_every_minute_with_an_env_file_and_a_log() -> None:
    lines = [line.removeprefix("# ") for line in CRONTAB.read_text().splitlines()]
    entries = [line for line in lines if line.startswith("* * * * * ")]
    assert len(entries) >= 3  # laptop/VM, systemd VM, Docker host
    for entry in entries:
        assert "WATCHDOG_ENV_FILE=" in entry and "cronjobs/watchdog.sh" in entry
        assert re.search(r">>\S+ 2>&1$", entry), entry
        assert "%" not in entry, "cron turns % into a newline"


def test_the_installer_accepts_the_pythons_pyproject_allows() -> None:
    """Ubuntu 24.04 ships Python 3.12, Debian 12 ships 3.11: pyproject and the installer
    must both allow exactly these."""
    assert pyproject()["project"]["requires-python"] == ">=3.11,<3.13"
    text = INSTALL_VM.read_text()
    assert "[[ $python == 3.11 || $python == 3.12 ]]" in text
    assert "ubuntu:24.04 | debian:12)" in text
    assert "deadsnakes" not in text and "add-apt-repository" not in text


def test_without_systemd_the_installer_says_what_it_skipped_and_cron_runs_as_neuco() -> None:
    text = INSTALL_VM.read_text()
    names = shell_assignments(INSTALL_VM)
    assert "[[ -d /run/systemd/system ]] && systemd=yes" in text
    assert text.count("skipped \"") >= 3  # daemon-reload, doctor via runuser, enable/restart
    (template,) = re.findall(r"^\* \* \* \* \* neuco .*$", text, re.MULTILINE)
    installed = re.sub(r"\$\{?([A-Z_]+)\}?", lambda m: names[m.group(1)], template)
    documented = [line.removeprefix("# ") for line in CRONTAB.read_text().splitlines()]
    assert installed in documented
    assert "WORKER_CMD" not in installed  # the watchdog starts the worker itself


def test_the_challenge_example_exists_and_is_yaml() -> None:
    example = REPO / "deploy" / "challenge.example.yaml"
    assert example.is_file()
    yaml.safe_load(example.read_text())


# ---- the worker's command line ----------------------------------------------------------------

def test_every_file_calls_the_worker_the_same_way() -> None:
    texts = {str(path.relative_to(REPO)): path.read_text() for path in (
        COMPOSE, UNIT_FILE, INSTALL_VM, WATCHDOG, REPO / "cronjobs" / "README.md",
        REPO / "deploy" / "README.md", REPO / "README.md", REPO / "Makefile",
    ) if path.exists()}
    (entrypoint,) = final("ENTRYPOINT")
    (cmd,) = final("CMD")
    (healthcheck,) = final("HEALTHCHECK")
    texts["Dockerfile ENTRYPOINT + CMD"] = shlex.join(
        exec_form(entrypoint.args) + exec_form(cmd.args))
    texts["Dockerfile HEALTHCHECK"] = healthcheck.args
    seen = set()
    for where, text in texts.items():
        for words in worker_invocations(text):
            if not words or words[0].startswith("-"):
                continue  # `python -m worker` alone, or with --help: no subcommand to check
            assert words[0] in ALL_WORKER_SUBCOMMANDS, f"{where}: -m worker {words}"
            if words[0] == "run":
                assert words[1] == "--config", f"{where}: run without --config"
            seen.add(words[0])
    assert seen >= WORKER_SUBCOMMANDS


def test_the_worker_cli_offers_the_subcommands_the_deployment_calls() -> None:
    if not (REPO / "worker" / "__main__.py").exists():
        pytest.skip("worker/__main__.py is not written yet")
    result = subprocess.run(
        [sys.executable, "-m", "worker", "--help"], cwd=REPO,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    for subcommand in sorted(ALL_WORKER_SUBCOMMANDS):
        assert subcommand in result.stdout, f"`python -m worker {subcommand}` is not offered"


# ---- shell scripts ----------------------------------------------------------------------------

SHELL_SCRIPTS = sorted(
    path for folder in ("cronjobs", "deploy", "tests/container")
    for path in (REPO / folder).rglob("*.sh"))


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shell_scripts_parse_and_are_executable(script: Path) -> None:
    assert os.access(script, os.X_OK), f"chmod +x {script.relative_to(REPO)}"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stdout
