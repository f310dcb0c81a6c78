"""Drives the real `evalai` CLI (PyPI evalai==1.3.18, installed in `.venv-evalai/` by
`make setup-evalai-cli`) as a participant against a local EvalAI double.
I/O: runs the CLI in a subprocess with a throw-away HOME holding `.evalai/token.json`; the CLI
talks HTTP only to the URL it is given (its PyPI version check is disabled by the wrapper).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI_PYTHON = REPO_ROOT / ".venv-evalai" / "bin" / "python"
WRAPPER = Path(__file__).with_name("cli_wrapper.py")
_SUBMITTED = re.compile(r"with the (?:ID|id) (\d+) is successfully submitted")


class EvalAICliError(RuntimeError):
    """The CLI exited non-zero or did not report a submission id."""


def cli_available() -> bool:
    return CLI_PYTHON.exists()


def run_cli(
    double_url: str,
    token: str,
    args: Sequence[str],
    *,
    home: Path,
    stdin: str = "N\n",
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run `evalai ARGS` as the user owning `token`, against `double_url`, from `home`."""
    if not cli_available():
        raise EvalAICliError(f"{CLI_PYTHON} is missing; run `make setup-evalai-cli`")
    config = home / ".evalai"
    config.mkdir(parents=True, exist_ok=True)
    (config / "token.json").write_text(json.dumps({"token": token}))
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "EVALAI_API_URL": double_url,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [str(CLI_PYTHON), str(WRAPPER), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=str(home),
        timeout=timeout,
        check=False,
    )


def submit_with_cli(
    double_url: str,
    token: str,
    challenge: int,
    phase: int,
    file: Path,
    *,
    large: bool = False,
    public: bool | None = None,
    home: Path | None = None,
) -> int:
    """`evalai challenge C phase P submit --file F [--large] [--public|--private]`, answering
    "N" to the submission-details prompt. Returns the new submission's pk."""
    args = ["challenge", str(challenge), "phase", str(phase), "submit", "--file", str(file)]
    if large:
        args.append("--large")
    if public is not None:
        args.append("--public" if public else "--private")
    with tempfile.TemporaryDirectory(prefix="evalai-cli-home-") as scratch:
        result = run_cli(double_url, token, args, home=home or Path(scratch))
    found = _SUBMITTED.search(result.stdout)
    if result.returncode != 0 or found is None:
        raise EvalAICliError(
            f"evalai exited {result.returncode}\n--- stdout\n{result.stdout}\n"
            f"--- stderr\n{result.stderr}"
        )
    return int(found[1])


if __name__ == "__main__":  # manual use: python -m tests.doubles.evalai.cli URL TOKEN C P FILE
    url, token, challenge, phase, path = sys.argv[1:6]
    print(submit_with_cli(url, token, int(challenge), int(phase), Path(path)))
