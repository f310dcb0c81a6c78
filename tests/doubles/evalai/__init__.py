"""The EvalAI double: EvalAI's server over real HTTP on 127.0.0.1, for the worker's and the real
`evalai` CLI's requests, with fault injection and a manual clock; and a driver for that CLI.

Public names (import them from `tests.doubles.evalai`):
    EvalAIDouble        the running server (`with EvalAIDouble() as double: ...`)
    FakeClock           the manual clock it runs on
    cli_available, run_cli, submit_with_cli    the real `evalai` CLI against the double

Modules: double (server, seeding, inspection, fault injection), handler (HTTP routing and
responses), state (server-side state and the worker's endpoints), host_listing (the host's
phase list, submission counts and paginated submission list of §11, and lost messages),
updates (update_submission), my_submissions (a participant's visibility toggle, a host's
baseline flag), uploads (the CLI's upload views), leaderboard, model (records and JSON shapes),
sqs_queue (the SQS-like queue and the clock), faults, cli (the CLI driver), cli_wrapper (run by
the CLI's own interpreter as a script; imports nothing from this repository). Module names
avoid the standard library's (no `http`, no `queue`): the wrapper runs with this folder first on
`sys.path`.
"""

from tests.doubles.evalai.cli import cli_available, run_cli, submit_with_cli
from tests.doubles.evalai.double import EvalAIDouble
from tests.doubles.evalai.sqs_queue import FakeClock

__all__ = ["EvalAIDouble", "FakeClock", "cli_available", "run_cli", "submit_with_cli"]
