"""Fixtures for the integration tests: a fresh, running EvalAI double per test, a clean
environment (temporary HOME, no proxy or EvalAI variables), and an `EvalAIClient` wired to the
double whose sleeps are recorded and advance the double's clock instead of waiting.
I/O: starts one loopback HTTP server per test that asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.doubles.evalai import EvalAIDouble
from worker.evalai import EvalAIClient, EvalAIConnection, RetryPolicy

_SCRUBBED = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC",
    "AUTH_TOKEN", "API_SERVER", "QUEUE_NAME", "CHALLENGE_PK", "EVALAI_API_URL",
)


@pytest.fixture
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME is an empty temporary directory; proxies and EvalAI variables are unset."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return home


@pytest.fixture
def evalai_double(clean_environment: Path) -> Iterator[EvalAIDouble]:
    """A freshly seeded double (see `EvalAIDouble.fixtures`), running for one test."""
    with EvalAIDouble() as double:
        yield double


@pytest.fixture
def sleeps(evalai_double: EvalAIDouble) -> list[float]:
    """What the client asked to sleep; each sleep advances the double's clock instead."""
    return []


@pytest.fixture
def make_client(
    evalai_double: EvalAIDouble, sleeps: list[float]
) -> Iterator[Callable[..., EvalAIClient]]:
    """Build a client for the double: `make_client(token=..., retry=..., timeout=...)`."""
    made: list[EvalAIClient] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        evalai_double.advance(seconds)

    def build(
        *,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (2.0, 5.0),
        challenge_pk: int | None = None,
        queue_name: str | None = None,
    ) -> EvalAIClient:
        fixtures = evalai_double.fixtures
        connection = EvalAIConnection(
            api_server=evalai_double.url,
            auth_token=fixtures.host_token if token is None else token,
            queue_name=fixtures.queue_name if queue_name is None else queue_name,
            challenge_pk=fixtures.challenge_pk if challenge_pk is None else challenge_pk,
        )
        client = EvalAIClient(
            connection,
            timeout=timeout,
            retry=retry or RetryPolicy(max_attempts=3),
            sleep=sleep,
            clock=evalai_double.clock.now,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., EvalAIClient]) -> EvalAIClient:
    """A host's client with 3 attempts per call."""
    return make_client()
