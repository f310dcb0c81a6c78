"""The real cronjobs/watchdog.sh against the stand-in worker (tests/doubles/standin_worker.py).

I/O: runs bash, flock, setsid and Python processes over a temporary data dir, and signals only
processes that carry that dir in their command line. Time is simulated where possible: a hung
worker is made old by setting its files' mtimes back, instead of waiting for minutes. Every wait
polls with a deadline; nothing asserts on how long anything took.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WATCHDOG = REPO / "cronjobs" / "watchdog.sh"
STANDIN = REPO / "tests" / "doubles" / "standin_worker.py"
DEADLINE_S = 10.0
POLL_S = 0.02
TICK_S = "0.2"  # the stand-in's heartbeat interval: well inside MAX_HEARTBEAT_AGE below
MAX_AGE_S = "2"
LONG_AGO_S = 100  # how far back a hung worker's files are dated: far beyond MAX_AGE_S

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("bash", "flock", "setsid", "nohup")),
    reason="the watchdog needs bash, flock, setsid and nohup (util-linux, coreutils)",
)


def wait_for(condition: Callable[[], object], what: str) -> object:
    """Poll until condition() is truthy and return it; fail after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(POLL_S)
    pytest.fail(f"gave up after {DEADLINE_S}s waiting for {what}")


def alive(pid: int) -> bool:
    """True for a process that exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


@dataclass
class Site:
    """One temporary deployment: data dir, challenge file, and every process started for it."""

    root: Path
    launched: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "var"

    @property
    def config(self) -> Path:
        return self.root / "challenge.yaml"

    @property
    def watchdog_log(self) -> Path:
        return self.data / "logs" / "watchdog.log"

    @property
    def worker_log(self) -> Path:
        return self.data / "logs" / "worker.log"

    def standin_argv(self, *extra: str) -> list[str]:
        return [sys.executable, str(STANDIN), "run", "--config", str(self.config),
                "--tick", TICK_S, *extra]

    def standin_cmd(self, *extra: str) -> str:
        """A WORKER_CMD that starts the stand-in; later options override earlier ones."""
        return "exec " + shlex.join(self.standin_argv(*extra))

    def env(self, **overrides: str) -> dict[str, str]:
        """A clean environment: only what the watchdog is meant to read, plus PATH."""
        env = {
            "PATH": os.environ["PATH"],
            "NEUCO_DATA_DIR": str(self.data),
            "NEUCO_CONFIG": str(self.config),
            "MAX_HEARTBEAT_AGE": MAX_AGE_S,
            "STOP_GRACE": "0.5",
            "KILL_WAIT": "5",
            "WORKER_CMD": self.standin_cmd(),
        }
        env.update(overrides)
        return env

    def run_watchdog(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        # capture_output doubles as a check that the watchdog does not wait for its worker:
        # run() returns only once every holder of these pipes has closed them.
        return subprocess.run(
            ["bash", str(WATCHDOG)], env=env or self.env(), capture_output=True, text=True,
            timeout=DEADLINE_S, check=False,
        )

    def launch_standin(self, *extra: str) -> subprocess.Popen[bytes]:
        """Start a stand-in directly, as its own process-group leader (as setsid or systemd do)."""
        with open(self.root / "direct-standin.log", "ab") as out:
            proc = subprocess.Popen(
                self.standin_argv(*extra), env=self.env(), stdin=subprocess.DEVNULL,
                stdout=out, stderr=out, start_new_session=True,
            )
        self.launched.append(proc)
        return proc

    def lock_holder(self) -> int | None:
        """The pid in worker.lock if that process is alive and has the lock file open.

        Reads /proc instead of probing the flock: a probe would itself hold the lock for an
        instant and could make a starting worker exit 75.
        """
        lock = self.data / "worker.lock"
        try:
            pid = int(lock.read_text().strip() or "0")
        except (FileNotFoundError, ValueError):
            return None
        if pid <= 1 or not alive(pid):
            return None
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except (FileNotFoundError, PermissionError):
            return None
        for fd in fds:
            try:
                if os.readlink(fd) == str(lock.resolve()):
                    return pid
            except OSError:
                continue
        return None

    def running_worker(self) -> int:
        """Wait for a worker that holds the lock and has written its first heartbeat."""
        return int(wait_for(
            lambda: (self.data / "heartbeat").exists() and self.lock_holder(),
            "a worker holding the lock",
        ))

    def age_worker_files(self, seconds: float = LONG_AGO_S) -> None:
        """Date the worker's last signs of life `seconds` back (by default: it hung long ago)."""
        then = time.time() - seconds
        for name in ("heartbeat", "worker.lock"):
            os.utime(self.data / name, (then, then))

    def our_processes(self) -> list[int]:
        """Live processes with this site's directory in their command line."""
        marker = str(self.root).encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(marker in arg for arg in argv) and alive(int(entry)):
                found.append(int(entry))
        return found

    def log_lines(self, path: Path, needle: str) -> list[str]:
        if not path.exists():
            return []
        return [line for line in path.read_text().splitlines() if needle in line]

    def kill_everything(self) -> None:
        for proc in self.launched:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # it leads its group: children go too
            proc.wait(timeout=DEADLINE_S)
        for pid in self.our_processes():
            # A group only when the process leads it: never pytest's own group.
            target = -pid if process_group(pid) == pid else pid
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not self.our_processes(), "every test process to be gone")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path)
    s.config.write_text("# the stand-in does not read its challenge file\n")
    try:
        yield s
    finally:
        s.kill_everything()


def test_starts_a_missing_worker_and_returns_without_waiting_for_it(site: Site) -> None:
    result = site.run_watchdog()

    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    pid = site.running_worker()
    assert os.getpgid(pid) == pid, "the worker must lead its own process group (setsid)"
    open_files = {os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    assert str(site.data / "watchdog.lock") not in open_files, "it would block every later run"
    (line,) = site.log_lines(site.watchdog_log, "started worker")
    assert "not running" in line
    assert line[:4].isdigit() and line.split()[0].endswith("Z"), "UTC ISO time first"


def test_restarts_a_killed_worker_configured_from_an_env_file(site: Site) -> None:
    secret = "s3cret-token-do-not-print"
    env_file = site.root / "neuco.env"
    env_lines = [f"{key}={value}" for key, value in site.env().items() if key != "PATH"]
    env_file.write_text(
        "# comments and blank lines are skipped\n\n"
        + "\n".join(env_lines)
        + f'\nAUTH_TOKEN="{secret}"\nGITHUB_TOKEN=\'{secret}\'\n'
    )
    env = {"PATH": os.environ["PATH"], "WATCHDOG_ENV_FILE": str(env_file)}
    first_run = site.run_watchdog(env)
    first = site.running_worker()

    os.killpg(first, signal.SIGKILL)
    wait_for(lambda: not alive(first), "the killed worker to be gone")
    second_run = site.run_watchdog(env)

    second = site.running_worker()
    assert second != first and alive(second)
    assert len(site.log_lines(site.watchdog_log, "started worker")) == 2
    for text in (first_run.stdout, first_run.stderr, second_run.stdout, second_run.stderr,
                 site.watchdog_log.read_text(), site.worker_log.read_text()):
        assert secret not in text


def test_leaves_a_healthy_worker_alone(site: Site) -> None:
    # A slow ticker whose heartbeat is a few seconds old but inside MAX_HEARTBEAT_AGE: fresh,
    # though not brand new.
    env = site.env(WORKER_CMD=site.standin_cmd("--tick", "60"), MAX_HEARTBEAT_AGE="6")
    site.run_watchdog(env)
    pid = site.running_worker()
    site.age_worker_files(seconds=3)

    for _ in range(3):
        assert site.run_watchdog(env).returncode == 0

    assert site.lock_holder() == pid
    assert len(site.log_lines(site.watchdog_log, "started worker")) == 1


def test_replaces_a_hung_worker_that_stops_on_sigterm(site: Site) -> None:
    env = site.env(WORKER_CMD=site.standin_cmd("--hang-after", "0"))
    site.run_watchdog(env)
    hung = site.running_worker()
    site.age_worker_files()

    result = site.run_watchdog(env)

    assert result.returncode == 0, result.stderr
    wait_for(lambda: not alive(hung), "the hung worker to be gone")
    assert site.running_worker() != hung
    _, line = site.log_lines(site.watchdog_log, "started worker")
    assert "hung" in line and f"pid {hung} stopped by SIGTERM" in line
    assert not site.log_lines(site.watchdog_log, "SIGKILL")
    # The note the next worker turns into an organiser alert (worker.monitoring).
    note = (site.data / "watchdog-replaced").read_text()
    assert "hung" in note and f"pid {hung} stopped by SIGTERM" in note


def test_kills_the_whole_group_of_a_hung_worker_that_ignores_sigterm(site: Site) -> None:
    child_pid_file = site.root / "child.pid"
    hung = site.launch_standin(
        "--hang-after", "0", "--ignore-term", "--child-pid-file", str(child_pid_file))
    assert site.running_worker() == hung.pid
    child = int(wait_for(lambda: child_pid_file.exists() and child_pid_file.read_text(),
                         "the stand-in's child"))
    site.age_worker_files()

    result = site.run_watchdog()

    assert result.returncode == 0, result.stderr
    assert hung.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    wait_for(lambda: not alive(child), "the worker's child to die with its group")
    assert site.running_worker() != hung.pid
    assert site.log_lines(site.watchdog_log, "sending SIGKILL")


def test_ten_concurrent_runs_leave_exactly_one_worker(site: Site) -> None:
    runs = [
        subprocess.Popen(["bash", str(WATCHDOG)], env=site.env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(10)
    ]
    for run in runs:
        assert run.wait(timeout=DEADLINE_S) == 0

    # A run that found the worker still starting may have launched a second one; the worker's
    # own lock must turn every such extra away with exit 75.
    launches = len(site.log_lines(site.watchdog_log, "started worker"))
    assert launches >= 1
    wait_for(
        lambda: len(site.log_lines(site.worker_log, "another worker is running")) == launches - 1,
        "every extra launch to report the lock as held",
    )
    holder = site.running_worker()
    wait_for(lambda: site.our_processes() == [holder], "the extra launches to exit")
    assert site.our_processes() == [holder]


def test_a_manual_second_start_exits_75(site: Site) -> None:
    site.run_watchdog()
    pid = site.running_worker()

    manual = subprocess.run(site.standin_argv(), env=site.env(), capture_output=True, text=True,
                            timeout=DEADLINE_S, check=False)

    assert manual.returncode == 75
    assert "another worker is running" in manual.stderr
    assert site.lock_holder() == pid


def test_an_overlapping_run_skips_quietly(site: Site) -> None:
    site.data.mkdir(parents=True)
    with open(site.data / "watchdog.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = site.run_watchdog()

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert not (site.data / "worker.lock").exists()
    assert not site.log_lines(site.watchdog_log, "started worker")


def test_a_paused_watchdog_starts_nothing(site: Site) -> None:
    site.data.mkdir(parents=True)
    (site.data / "watchdog.paused").touch()

    result = site.run_watchdog()

    assert result.returncode == 0, result.stderr
    assert not (site.data / "worker.lock").exists()


def test_refuses_to_signal_a_pid_that_does_not_hold_the_lock(site: Site) -> None:
    # A worker in a container writes its namespace's pid (often 1): the host must not act on it.
    worker = site.launch_standin("--hang-after", "0")
    assert site.running_worker() == worker.pid
    (site.data / "worker.lock").write_text("1\n")
    site.age_worker_files()

    result = site.run_watchdog()

    assert result.returncode == 1
    assert site.log_lines(site.watchdog_log, "not signalling anything")
    assert worker.poll() is None, "the real lock holder is untouched"
    assert not site.log_lines(site.watchdog_log, "started worker")


def test_a_bad_env_file_line_is_reported_without_its_content(site: Site) -> None:
    env_file = site.root / "neuco.env"
    env_file.write_text("AUTH_TOKEN=fine\nthis line has s3cret in it\n")

    result = site.run_watchdog({"PATH": os.environ["PATH"], "WATCHDOG_ENV_FILE": str(env_file)})

    assert result.returncode == 1
    assert "line 2 is not KEY=VALUE" in result.stderr
    assert "s3cret" not in result.stderr


def test_the_crontab_example_line_starts_the_worker_under_crons_shell(site: Site) -> None:
    crontab = (REPO / "cronjobs" / "crontab.example").read_text().splitlines()
    line = next(text for text in crontab if text.startswith("* * * * * "))
    command = line.removeprefix("* * * * * ")
    # Its paths, moved into this test's directory (the watchdog stays the repository's).
    example_home = "/home/neuco/neuco-eval/"
    command = command.replace(example_home + "cronjobs/", f"{REPO}/cronjobs/")
    command = command.replace(example_home, f"{site.root}/")
    (site.root / "deploy").mkdir()
    (site.root / "deploy" / ".env").write_text(
        "\n".join(f"{key}={value}" for key, value in site.env().items() if key != "PATH") + "\n")
    (site.root / "var" / "logs").mkdir(parents=True)

    # What cron gives a job: /bin/sh and a bare PATH.
    cron_env = {"PATH": "/usr/bin:/bin", "HOME": str(site.root)}
    subprocess.run(["/bin/sh", "-c", command], env=cron_env, timeout=DEADLINE_S, check=True)

    site.running_worker()
    assert site.log_lines(site.watchdog_log, "started worker")


def test_the_default_command_runs_python_m_worker_from_neuco_home(site: Site) -> None:
    # A home shaped like the repository: .venv/bin/python and a `worker` package, here one
    # that hands over to the stand-in, so the default WORKER_CMD runs as written.
    home = site.root / "home"
    (home / ".venv" / "bin").mkdir(parents=True)
    (home / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (home / "worker").mkdir()
    (home / "worker" / "__main__.py").write_text(
        f"import runpy\nrunpy.run_path({str(STANDIN)!r}, run_name='__main__')\n")
    env = site.env(NEUCO_HOME=str(home))
    del env["WORKER_CMD"]

    assert site.run_watchdog(env).returncode == 0

    pid = site.running_worker()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert argv == [str(home / ".venv" / "bin" / "python"), "-m", "worker", "run", "--config",
                    str(site.config)]
    assert os.readlink(f"/proc/{pid}/cwd") == str(home)


def test_the_default_command_needs_a_challenge_file(site: Site) -> None:
    env = site.env()
    del env["WORKER_CMD"], env["NEUCO_CONFIG"]

    result = site.run_watchdog(env)

    assert result.returncode == 1
    assert "NEUCO_CONFIG" in result.stderr
    assert not (site.data / "worker.lock").exists()
