"""EvalAI (a room of the worker): the only package that speaks EvalAI's HTTP API.

Public names (import them from `worker.evalai`; its modules are private to the package):
    EvalAIClient        the remote-evaluation client: EvalAI's endpoints, typed
    EvalAITransport     its transport: session, auth header, timeouts, bounded jittered retries
    RetryPolicy         the bounds of those retries
    QueueMessage, EvalAISubmission, EvalAIPhase, EvalAIChallenge   records the client returns
    EvalAISource        the `worker.source.SubmissionSource` adapter over the client
    result_json, NEW_TOKEN_HINT   the result body EvalAI expects; the hint for a bad token
    EvalAIConnection    (defined in `worker.settings`; re-exported for callers' convenience)

Modules: client (the endpoints and their records), transport (requests, timeouts, retries),
responses (reading EvalAI's answers: pure), source (the queue source). It imports
`worker.settings`, `worker.source` and `worker.errors`, never the pipeline, the store or the
leaderboard.
"""

from worker.evalai.client import (
    EvalAIChallenge,
    EvalAIClient,
    EvalAIPhase,
    EvalAISubmission,
    QueueMessage,
)
from worker.evalai.responses import NEW_TOKEN_HINT, result_json
from worker.evalai.source import EvalAISource
from worker.evalai.transport import EvalAITransport, RetryPolicy
from worker.settings import EvalAIConnection

__all__ = [
    "NEW_TOKEN_HINT",
    "EvalAIChallenge",
    "EvalAIClient",
    "EvalAIConnection",
    "EvalAIPhase",
    "EvalAISource",
    "EvalAISubmission",
    "EvalAITransport",
    "QueueMessage",
    "RetryPolicy",
    "result_json",
]
