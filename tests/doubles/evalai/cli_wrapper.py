"""Runs the real `evalai` CLI (1.3.18) with its start-up version check disabled.

Run it with the CLI's own interpreter (`.venv-evalai/bin/python cli_wrapper.py ARGS`):
every CLI command first asks PyPI for the newest `evalai` version, unguarded, which fails
offline; replacing `evalai.main.get_latest_version` avoids that request (protocol notes §5).
I/O: whatever the CLI does — HTTP to EVALAI_API_URL, reading ~/.evalai/, printing.
Standalone: imports nothing from this repository.
"""

import evalai.main


def _no_newer_version() -> str:
    return "0"


if __name__ == "__main__":
    evalai.main.get_latest_version = _no_newer_version
    evalai.main.main()
