"""Settings: the challenge YAML plus the environment, validated with every problem reported at
start-up. Pure: the caller passes the parsed YAML mapping and the environment mapping
(`worker.__main__` is the only place that reads `os.environ`).

Secrets and connection come from the environment with EvalAI-Starters' names (AUTH_TOKEN,
API_SERVER, QUEUE_NAME, CHALLENGE_PK) plus GITHUB_TOKEN; paths may be overridden by
NEUCO_DATA_DIR, DATABASE_URL, LEADERBOARD_REMOTE and LEADERBOARD_BRANCH. Every key of the YAML
is documented in deploy/challenge.example.yaml.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoring.config import ConfigError, ProbeConfig, probe_config_from_mapping

TOP_KEYS = ("title", "source", "data_dir", "database_url", "inbox_dir", "poll_interval_seconds",
            "lease_seconds", "max_internal_attempts", "max_file_mb", "heartbeat_max_age_seconds",
            "phases", "leaderboard", "evalai", "alerts", "reconcile", "scoring")
PHASE_KEYS = ("annotations", "split", "metric", "strict_ids", "probe")
BOARD_KEYS = ("enabled", "publisher", "remote", "repository", "branch", "policy", "baselines",
              "baselines_in_weights", "ghost_std", "bootstrap_resamples", "frozen_phases",
              "revealed_phases", "author", "workdir", "id_list_phases")
EVALAI_KEYS = ("connect_timeout_seconds", "read_timeout_seconds", "max_attempts")
RECONCILE_KEYS = ("interval_minutes", "stuck_after_minutes", "horizon_days")
ALERT_KEYS = ("repeat_hours", "evalai_unreachable_minutes", "publish_failing_minutes",
              "disk_free_percent")
SCORING_KEYS = ("processes", "memory_mb", "timeout_seconds", "retry_backoff_seconds")
SOURCES = ("evalai", "inbox")
PHASE_CODENAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PUBLISHERS = ("git", "github", "none")
POLICIES = ("latest", "best")
# Any EvalAI participant can register a team under a listed name: only EvalAI's own baseline
# flag, which only a host can set on the host's own submissions, makes a baseline there.
BASELINE_NAMES_ON_EVALAI = (
    "leaderboard.baselines names teams, and any EvalAI participant can register a team with "
    "such a name: with source: evalai remove it, mark the organisers' own submissions as "
    "baseline on EvalAI instead, then run `python -m worker refresh`"
)


@dataclass(frozen=True)
class EvalAIConnection:
    """Where and as whom to talk to EvalAI (EvalAI-Starters' API_SERVER, AUTH_TOKEN,
    QUEUE_NAME, CHALLENGE_PK). The token is left out of the repr."""

    api_server: str
    auth_token: str = field(repr=False)
    queue_name: str
    challenge_pk: int


@dataclass(frozen=True)
class PhaseSettings:
    codename: str
    annotations: Path
    probe: ProbeConfig
    split: str = "test_split"
    metric: str = "mean_Q"
    strict_ids: bool = True


@dataclass(frozen=True)
class LeaderboardSettings:
    enabled: bool = True
    publisher: str = "git"  # git | github | none
    remote: str = ""  # git: a path or URL; github: "owner/name"
    branch: str = "main"
    policy: str = "latest"  # latest | best public submission per team
    baselines: tuple[str, ...] = ()  # inbox team folders that are organiser baselines
    baselines_in_weights: bool = True
    ghost_std: float | None = None
    bootstrap_resamples: int = 1000
    frozen_phases: tuple[str, ...] = ()
    revealed_phases: tuple[str, ...] = ()
    id_list_phases: tuple[str, ...] = ()  # phases whose id list is published (ids/<phase>.txt)
    author: str = "NeuCo leaderboard bot <leaderboard-bot@users.noreply.github.com>"
    workdir: Path = Path("var/leaderboard-clone")
    github_token: str = field(default="", repr=False)


@dataclass(frozen=True)
class ReconcileSettings:
    """How often the worker compares EvalAI's view of each phase with the store's
    (`reconcile:` in the YAML; see worker/reconcile.py)."""

    interval_minutes: float = 10.0
    stuck_after_minutes: float = 15.0
    horizon_days: float = 30.0


@dataclass(frozen=True)
class AlertSettings:
    """When and where the organisers are alerted (`alerts:` in the YAML, ALERT_URLS in the env)."""

    urls: str = field(default="", repr=False)  # Apprise URLs; may hold webhook secrets
    repeat_hours: float = 24.0
    evalai_unreachable_minutes: float = 15.0
    publish_failing_minutes: float = 30.0
    disk_free_percent: float = 5.0


@dataclass(frozen=True)
class ScoringSettings:
    """The scoring processes: how many (`auto`: one per usable CPU), and the private memory
    (MB) and wall time (seconds) one may use for one step — reading a file, or scoring one
    task. Defaults fit an 8-vCPU VM with 32 GB: 8 x 2 GB beside the database.
    `retry_backoff_seconds`: the wait before retrying a submission after an internal error,
    doubling with every attempt."""

    processes: int | str = "auto"
    memory_mb: float = 2048.0
    timeout_seconds: float = 900.0
    retry_backoff_seconds: float = 120.0


@dataclass(frozen=True)
class Settings:
    title: str
    source: str  # evalai | inbox
    data_dir: Path
    database_url: str
    inbox_dir: Path
    phases: dict[str, PhaseSettings]
    leaderboard: LeaderboardSettings
    evalai: EvalAIConnection | None = None
    poll_interval_seconds: float = 60.0
    lease_seconds: float = 900.0
    max_internal_attempts: int = 3
    max_file_bytes: int = 500 * 1024**2
    heartbeat_max_age_seconds: float = 300.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_attempts: int = 5
    alerts: AlertSettings = field(default_factory=AlertSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)

    @property
    def heartbeat_file(self) -> Path:
        return self.data_dir / "heartbeat"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "worker.lock"


def _suggest(key: str, options: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown(mapping: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> list[str]:
    return [
        f"unknown key '{where}{k}'{_suggest(str(k), allowed)}" for k in mapping if k not in allowed
    ]


def _number(raw: Mapping[str, Any], key: str, default: float, problems: list[str],
            minimum: float = 0.0, where: str = "") -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= minimum:
        problems.append(f"{where}{key} must be a number above {minimum:g}, got {value!r}")
        return default
    return float(value)


def _scp_like(remote: str) -> bool:
    """git's scp-like syntax, user@host:path or host:path (not a Windows drive letter)."""
    head = remote.split("/", 1)[0]
    return ":" in head and len(head.split(":", 1)[0]) > 1


def _path(value: Any, base: Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path


def settings_from(raw: Mapping[str, Any], env: Mapping[str, str], base_dir: Path,
                  source_name: str = "config") -> Settings:
    """Validate the challenge YAML (relative paths resolve against base_dir) and environment.

    Each section is read by its own function below, all adding to one list of problems, so a
    ConfigError lists every problem at once."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError([f"expected a mapping of keys, got {type(raw).__name__}"], source_name)
    problems += _unknown(raw, TOP_KEYS, "")

    source = raw.get("source", "inbox")
    if source not in SOURCES:
        problems.append(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    data_dir = _path(env.get("NEUCO_DATA_DIR") or raw.get("data_dir", "var"), base_dir)
    database_url = env.get("DATABASE_URL") or raw.get("database_url") or (
        f"sqlite:///{data_dir / 'scores.db'}"
    )
    inbox_dir = _path(raw.get("inbox_dir", data_dir / "inbox"), base_dir)
    _database_url(database_url, problems)

    raw_phases = raw.get("phases")
    if not isinstance(raw_phases, Mapping) or not raw_phases:
        problems.append("phases must map each EvalAI phase codename to its settings, "
                        "e.g. phases: {dev: {annotations: labels/dev, probe: {k_folds: 40}}}")
        raw_phases = {}
    phases = _phases_section(raw_phases, base_dir, problems)
    board = _leaderboard_section(raw.get("leaderboard") or {}, raw_phases, env, data_dir,
                                 base_dir, problems)
    if source == "evalai" and board.baselines:
        problems.append(BASELINE_NAMES_ON_EVALAI)
    evalai_raw = raw.get("evalai") or {}
    problems += _unknown(evalai_raw, EVALAI_KEYS, "evalai.")
    connection = _evalai_connection(env, problems) if source == "evalai" else None
    poll = _number(raw, "poll_interval_seconds", 60.0, problems)
    lease = _number(raw, "lease_seconds", 900.0, problems)
    max_mb = _number(raw, "max_file_mb", 500.0, problems)
    heartbeat = _number(raw, "heartbeat_max_age_seconds", 300.0, problems)
    attempts = _whole(raw, "max_internal_attempts", 3, problems)
    connect_t = _number(evalai_raw, "connect_timeout_seconds", 5.0, problems, where="evalai.")
    read_t = _number(evalai_raw, "read_timeout_seconds", 30.0, problems, where="evalai.")
    max_attempts = _whole(evalai_raw, "max_attempts", 5, problems, where="evalai.")
    alerts = _alerts_section(raw.get("alerts") or {}, env, problems)
    reconcile = _reconcile_section(raw.get("reconcile") or {}, problems)
    scoring = _scoring_section(raw.get("scoring") or {}, problems)

    problems += _nul_paths(data_dir=data_dir, inbox_dir=inbox_dir,
                           leaderboard_workdir=board.workdir,
                           **{f"phases.{p.codename}.annotations": p.annotations
                              for p in phases.values()})
    if problems:
        raise ConfigError(problems, source_name)
    return Settings(
        title=str(raw.get("title", "Hidden-task embedding challenge")),
        source=str(source),
        data_dir=data_dir,
        database_url=database_url,
        inbox_dir=inbox_dir,
        phases=phases,
        leaderboard=board,
        evalai=connection,
        poll_interval_seconds=poll,
        lease_seconds=lease,
        max_internal_attempts=attempts,
        max_file_bytes=int(max_mb * 1024**2),
        heartbeat_max_age_seconds=heartbeat,
        connect_timeout_seconds=connect_t,
        read_timeout_seconds=read_t,
        max_attempts=max_attempts,
        scoring=scoring,
        alerts=alerts,
        reconcile=reconcile,
    )


def _database_url(url: Any, problems: list[str]) -> None:
    """SQLite or PostgreSQL; the URL itself is never repeated (it may hold a password)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0] if isinstance(url, str) else None
    if scheme not in ("sqlite", "postgresql"):
        got = f"a URL starting with '{scheme}:'" if isinstance(url, str) else repr(url)
        problems.append("database_url must be sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
                        f", got {got}")


def _nul_paths(**paths: Path) -> list[str]:
    return [f"{name} contains a NUL character; no file can be named that"
            for name, path in paths.items() if "\0" in str(path)]


def _reconcile_section(raw: Any, problems: list[str]) -> ReconcileSettings:
    if not isinstance(raw, Mapping):
        problems.append("reconcile must be a mapping, e.g. reconcile: {interval_minutes: 10}")
        return ReconcileSettings()
    problems += _unknown(raw, RECONCILE_KEYS, "reconcile.")
    return ReconcileSettings(
        interval_minutes=_number(raw, "interval_minutes", 10.0, problems, where="reconcile."),
        stuck_after_minutes=_number(raw, "stuck_after_minutes", 15.0, problems,
                                    where="reconcile."),
        horizon_days=_number(raw, "horizon_days", 30.0, problems, where="reconcile."),
    )


def _alerts_section(alerts_raw: Any, env: Mapping[str, str], problems: list[str]) -> AlertSettings:
    if not isinstance(alerts_raw, Mapping):
        problems.append("alerts must be a mapping, e.g. alerts: {repeat_hours: 24}")
        return AlertSettings()
    problems += _unknown(alerts_raw, ALERT_KEYS, "alerts.")
    disk = _number(alerts_raw, "disk_free_percent", 5.0, problems, where="alerts.")
    if disk >= 100:
        problems.append(f"alerts.disk_free_percent must be below 100, got {disk:g}")
    return AlertSettings(
        urls=env.get("ALERT_URLS", "").strip(),
        repeat_hours=_number(alerts_raw, "repeat_hours", 24.0, problems, where="alerts."),
        evalai_unreachable_minutes=_number(alerts_raw, "evalai_unreachable_minutes", 15.0,
                                           problems, where="alerts."),
        publish_failing_minutes=_number(alerts_raw, "publish_failing_minutes", 30.0, problems,
                                        where="alerts."),
        disk_free_percent=disk,
    )


def _whole(raw: Mapping[str, Any], key: str, default: int, problems: list[str],
           where: str = "") -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.append(f"{where}{key} must be a whole number >= 1, got {value!r}")
        return default
    return value


# ---- scoring: ----------------------------------------------------------------------------------


def _scoring_section(raw: Any, problems: list[str]) -> ScoringSettings:
    if not isinstance(raw, Mapping):
        problems.append("scoring must be a mapping (processes, memory_mb, timeout_seconds, "
                        "retry_backoff_seconds)")
        return ScoringSettings()
    problems += _unknown(raw, SCORING_KEYS, "scoring.")
    processes = raw.get("processes", "auto")
    if processes != "auto" and (isinstance(processes, bool) or not isinstance(processes, int)
                                or processes < 1):
        problems.append(f"scoring.processes must be auto or a whole number >= 1, "
                        f"got {processes!r}")
        processes = "auto"
    default = ScoringSettings()
    return ScoringSettings(
        processes=processes,
        memory_mb=_number(raw, "memory_mb", default.memory_mb, problems, minimum=100.0,
                          where="scoring."),
        timeout_seconds=_number(raw, "timeout_seconds", default.timeout_seconds, problems,
                                where="scoring."),
        retry_backoff_seconds=_number(raw, "retry_backoff_seconds",
                                      default.retry_backoff_seconds, problems,
                                      where="scoring."),
    )


# ---- phases: -----------------------------------------------------------------------------------


def _phases_section(raw_phases: Mapping[Any, Any], base_dir: Path,
                    problems: list[str]) -> dict[str, PhaseSettings]:
    phases: dict[str, PhaseSettings] = {}
    for codename, spec in raw_phases.items():
        phase = _phase(codename, spec, base_dir, problems)
        if phase is not None:
            phases[phase.codename] = phase
    return phases


def _phase(codename: Any, spec: Any, base_dir: Path, problems: list[str]) -> PhaseSettings | None:
    where = f"phases.{codename}."
    if not PHASE_CODENAME.match(str(codename)):
        problems.append(f"phase codename {codename!r} must be lower-case letters, digits, "
                        "'-' or '_' (it names files and README sections)")
    if not isinstance(spec, Mapping):
        problems.append(f"phases.{codename} must be a mapping")
        return None
    problems += _unknown(spec, PHASE_KEYS, where)
    if "annotations" not in spec:
        problems.append(f"{where}annotations is required: the hidden label folder")
        return None
    try:
        probe = probe_config_from_mapping(spec.get("probe") or {}, f"{where}probe")
    except ConfigError as exc:
        problems += [f"{where}probe: {p}" for p in exc.problems]
        return None
    strict = spec.get("strict_ids", True)
    if not isinstance(strict, bool):
        problems.append(f"{where}strict_ids must be true or false, got {strict!r}")
    for key in ("split", "metric"):
        if key in spec and (not isinstance(spec[key], str) or not spec[key].strip()):
            problems.append(f"{where}{key} must be a non-empty string, got {spec[key]!r}")
    return PhaseSettings(
        codename=str(codename),
        annotations=_path(spec["annotations"], base_dir),
        probe=probe,
        split=str(spec.get("split", "test_split")),
        metric=str(spec.get("metric", "mean_Q")),
        strict_ids=bool(strict),
    )


# ---- leaderboard: ------------------------------------------------------------------------------


def _leaderboard_section(board_raw: Any, raw_phases: Mapping[Any, Any], env: Mapping[str, str],
                         data_dir: Path, base_dir: Path,
                         problems: list[str]) -> LeaderboardSettings:
    if not isinstance(board_raw, Mapping):
        problems.append("leaderboard must be a mapping")
        board_raw = {}
    problems += _unknown(board_raw, BOARD_KEYS, "leaderboard.")
    publisher = board_raw.get("publisher", "git")
    if publisher not in PUBLISHERS:
        problems.append(f"leaderboard.publisher must be one of {', '.join(PUBLISHERS)}, "
                        f"got {publisher!r}")
    policy = board_raw.get("policy", "latest")
    if policy not in POLICIES:
        problems.append(f"leaderboard.policy must be latest or best, got {policy!r}")
    remote = _board_remote(board_raw, publisher, env, data_dir, base_dir)
    github_token = env.get("GITHUB_TOKEN", "")
    if publisher == "github" and board_raw.get("enabled", True):
        if not remote or "/" not in remote:
            problems.append("leaderboard.repository must be 'owner/name' for the github publisher")
        if not github_token:
            problems.append("GITHUB_TOKEN is not set; the github publisher needs it")
        elif bad := token_problem("GITHUB_TOKEN", github_token,
                                  "copy the token again from GitHub's token settings"):
            problems.append(bad)
    ghost = board_raw.get("ghost_std")
    if ghost is not None and (isinstance(ghost, bool) or not isinstance(ghost, (int, float))
                              or not ghost > 0):
        problems.append(f"leaderboard.ghost_std must be a positive number or null, got {ghost!r}")
    resamples = board_raw.get("bootstrap_resamples", 1000)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 0 \
            or 0 < resamples < 1000:
        problems.append(f"leaderboard.bootstrap_resamples must be 0 (no rank intervals) or a "
                        f"whole number >= 1000, got {resamples!r}")
    lists = _board_lists(board_raw, raw_phases, problems)
    return LeaderboardSettings(
        enabled=bool(board_raw.get("enabled", True)),
        publisher=str(publisher),
        remote=remote,
        branch=_board_branch(board_raw, env, problems),
        policy=str(policy),
        baselines=lists["baselines"],
        baselines_in_weights=bool(board_raw.get("baselines_in_weights", True)),
        ghost_std=float(ghost) if isinstance(ghost, (int, float)) and ghost > 0 else None,
        bootstrap_resamples=resamples if isinstance(resamples, int) else 1000,
        frozen_phases=lists["frozen_phases"],
        revealed_phases=lists["revealed_phases"],
        id_list_phases=lists["id_list_phases"],
        author=str(board_raw.get("author", LeaderboardSettings.author)),
        workdir=_path(board_raw.get("workdir", data_dir / "leaderboard-clone"), base_dir),
        github_token=github_token,
    )


def _board_remote(board_raw: Mapping[str, Any], publisher: Any, env: Mapping[str, str],
                  data_dir: Path, base_dir: Path) -> str:
    """LEADERBOARD_REMOTE, else the YAML's remote (or repository); a git default in data_dir."""
    remote = env.get("LEADERBOARD_REMOTE") or str(board_raw.get("remote") or
                                                   board_raw.get("repository") or "")
    if publisher == "git" and not remote:
        return str(data_dir / "leaderboard.git")
    if publisher == "git" and "://" not in remote and not _scp_like(remote):
        return str(_path(remote, base_dir))
    return remote


def _board_branch(board_raw: Mapping[str, Any], env: Mapping[str, str],
                  problems: list[str]) -> str:
    """LEADERBOARD_BRANCH, else the YAML's branch, else main."""
    branch = env.get("LEADERBOARD_BRANCH") or board_raw.get("branch") or "main"
    text = str(branch)
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", text) or ".." in text or text.startswith(("/", "-")) \
            or text.endswith(("/", ".lock")):
        problems.append(f"the leaderboard branch must be a plain git branch name such as main or "
                        f"gh-pages, got {text!r} (LEADERBOARD_BRANCH or leaderboard.branch)")
    return text


def _board_lists(board_raw: Mapping[str, Any], raw_phases: Mapping[Any, Any],
                 problems: list[str]) -> dict[str, tuple[str, ...]]:
    lists = {}
    for key in ("baselines", "frozen_phases", "revealed_phases", "id_list_phases"):
        value = board_raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"leaderboard.{key} must be a list of names")
            value = []
        lists[key] = tuple(value)
    for key in ("frozen_phases", "revealed_phases", "id_list_phases"):
        for name in lists[key]:
            if name not in raw_phases:
                problems.append(f"leaderboard.{key} names unknown phase '{name}'")
    return lists


# ---- evalai: and its environment ---------------------------------------------------------------


def token_problem(name: str, value: str, fix: str) -> str | None:
    """Why a token cannot go into an HTTP header (None when it can): a character that is not
    printable ASCII, a space inside, or quotes around it (docker's env file keeps them).
    Says where, never what: the line must not leak any part of the token."""
    token = value.strip()
    for position, char in enumerate(token, start=1):
        if "!" <= char <= "~":
            continue
        if char.isspace():
            kind = "a space or line break"
        elif ord(char) < 32 or ord(char) == 127:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return (f"{name} has {kind} at character {position} of {len(token)}, which cannot be "
                f"sent in an HTTP header: {fix} into the env file")
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return (f"{name} is wrapped in quotes, which would be sent as part of the token: "
                "remove them in the env file")
    return None



def _evalai_connection(env: Mapping[str, str], problems: list[str]) -> EvalAIConnection | None:
    missing = [k for k in ("AUTH_TOKEN", "API_SERVER", "QUEUE_NAME", "CHALLENGE_PK")
               if not env.get(k, "").strip()]
    if missing:
        problems.append(f"source is evalai but {', '.join(missing)} "
                        f"{'is' if len(missing) == 1 else 'are'} not set in the environment "
                        "(see deploy/.env.example)")
        return None
    bad_token = token_problem("AUTH_TOKEN", env["AUTH_TOKEN"],
                              "copy the host token again from your EvalAI profile page")
    if bad_token:
        problems.append(bad_token)
        return None
    if not env["CHALLENGE_PK"].strip().isdigit():
        problems.append(f"CHALLENGE_PK must be a number, got {env['CHALLENGE_PK']!r}")
        return None
    return EvalAIConnection(
        api_server=env["API_SERVER"].strip(),
        auth_token=env["AUTH_TOKEN"].strip(),
        queue_name=env["QUEUE_NAME"].strip(),
        challenge_pk=int(env["CHALLENGE_PK"]),
    )


def ensure_folder(path: Path, key: str) -> None:
    """Create a folder the config names; one that cannot be is the operator's start-up error
    (exit 2), not a traceback."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
        reason = "a file is in the way" if in_the_way else (exc.strerror or str(exc)).lower()
        raise ConfigError([f"{str(path)!r} cannot be created as a folder ({reason}); point "
                           f"{key} at a folder this user may write"], key) from None
