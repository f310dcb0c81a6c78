"""Contract tests of `worker.store.SqlScoreStore`, one suite run against every backend.

SQLite always (a file in tmp_path); PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`,
user `postgres` or `root`, or the URL in NEUCO_TEST_POSTGRES_URL) when reachable, each test in a
fresh schema that is dropped afterwards; skipped with the reason when the server is unreachable.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sqlite3
import statistics
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scoring.results import Finding, ScoreCard, TaskScore
from tests.integration.databases import (  # noqa: F401 - postgres_url is a fixture
    drop_postgres_schema,
    fresh_postgres_schema,
    postgres_url,
)
from worker.store import LeaseLost, SqlScoreStore, StoredSubmission, SubmissionInfo

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = 600.0


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- backends ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema, url = fresh_postgres_schema(base, "store_test")
    try:
        yield url
    finally:
        drop_postgres_schema(base, schema)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlScoreStore]:
    s = SqlScoreStore(store_url)
    s.create_schema()
    yield s
    s.close()


# -- builders ---------------------------------------------------------------------------------


def info(pk: int, **overrides: Any) -> SubmissionInfo:
    fields: dict[str, Any] = dict(
        source="evalai",
        pk=pk,
        phase="dev",
        team_pk=10,
        team_name="team-a",
        method_name="method-x",
        is_public=True,
        is_baseline=False,
        submitted_at=at(0),
        received_at=at(1),
    )
    fields.update(overrides)
    return SubmissionInfo(**fields)


def task_score(
    rng: random.Random, name: str, k: int, q: float, nan_splits: tuple[int, ...]
) -> TaskScore:
    kind = "regr" if name.endswith("regr") else "cls"
    scores = tuple(math.nan if i in nan_splits else rng.uniform(-0.2, 0.95) for i in range(k))
    finite = [x for x in scores if not math.isnan(x)]
    return TaskScore(
        task=name,
        kind=kind,
        metric="r2" if kind == "regr" else "f1",
        n_rows=rng.randrange(500, 5000),
        q=q,
        mean_score=statistics.fmean(finite),
        std_score=statistics.stdev(finite),
        split_scores=scores,
        failed_splits=len(nan_splits),
        best_epochs=tuple(rng.randrange(1, 50) for _ in range(k)),
        report={"mae": rng.random(), "rmse": rng.random()}
        if kind == "regr"
        else {"acc": rng.random()},
        seconds=rng.uniform(1, 30),
    )


def score_card(
    seed: int,
    *,
    k: int = 200,
    n_tasks: int = 9,
    q: float | None = None,
    nan_q_task: int | None = None,
) -> ScoreCard:
    """A realistic card: n_tasks x k splits, a few NaN (failed) splits in two tasks if k >= 10.

    `q` fixes every task's Q (for leaderboard tests); `nan_q_task` makes one task's Q NaN.
    """
    rng = random.Random(seed)
    names = [f"task{i}__{'regr' if i % 2 else 'cls'}" for i in range(n_tasks)]
    nan_splits = {1: (0, 7, k - 1), 4: (3,)} if k >= 10 else {}
    tasks = tuple(
        task_score(
            rng,
            name,
            k,
            math.nan if i == nan_q_task else (q if q is not None else rng.uniform(0.1, 0.9)),
            nan_splits.get(i, ()),
        )
        for i, name in enumerate(names)
    )
    return ScoreCard(
        seed=seed,
        tasks=tasks,
        warnings=(
            Finding("duplicate_ids_dropped", "3 rows with duplicate ids dropped"),
            Finding("ünïcode", '✓ "quoted" text'),
        ),
        config_fingerprint=f"sha256:{seed:064x}",
        seconds=123.25,
    )


def nan_safe(value: Any) -> Any:
    """A comparable form of nested values: NaN becomes a marker (NaN != NaN otherwise)."""
    if isinstance(value, float) and math.isnan(value):
        return "<NaN>"
    if isinstance(value, tuple | list):
        return tuple(nan_safe(v) for v in value)
    if isinstance(value, dict):
        return {k: nan_safe(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: nan_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def score(
    store: SqlScoreStore,
    pk: int,
    card: ScoreCard,
    *,
    minutes: float = 2,
    worker: str = "w1",
    **overrides: Any,
) -> StoredSubmission:
    """Receive (if new), claim and finish a submission; returns the stored row."""
    if store.get("evalai", pk) is None:
        store.upsert_submission(info(pk, **overrides))
    assert store.try_claim("evalai", pk, worker, at(minutes), LEASE)
    store.record_evaluation("evalai", pk, worker, card, at(minutes), at(minutes + 1))
    stored = store.get("evalai", pk)
    assert stored is not None and stored.status == "finished"
    return stored


def transitions(
    store: SqlScoreStore, pk: int, source: str = "evalai"
) -> list[tuple[str | None, str]]:
    return [(e.from_status, e.to_status) for e in store.events(source, pk)]


# -- submissions ------------------------------------------------------------------------------


def test_upsert_inserts_received_then_refreshes_metadata_only(store: SqlScoreStore) -> None:
    first = store.upsert_submission(info(7, received_at=at(1)))
    assert (first.source, first.pk, first.phase, first.status) == ("evalai", 7, "dev", "received")
    assert (first.team_pk, first.team_name, first.method_name) == (10, "team-a", "method-x")
    assert (first.is_public, first.is_baseline, first.attempts, first.reported) == (
        True,
        False,
        0,
        False,
    )
    assert (first.submitted_at, first.received_at) == (at(0), at(1))
    assert first.submitted_at.tzinfo is UTC and first.received_at.tzinfo is UTC
    assert (first.started_at, first.finished_at, first.mean_q, first.current_evaluation_id) == (
        None,
        None,
        None,
        None,
    )
    assert first.warnings == () and first.error_kind is None and first.lease_owner is None

    assert store.try_claim("evalai", 7, "w1", at(2), LEASE)
    again = store.upsert_submission(
        info(
            7,
            team_name="team-a renamed",
            method_name="v2",
            is_public=False,
            is_baseline=True,
            phase="other",
            received_at=at(9),
            submitted_at=at(5),
        )
    )
    assert (again.team_name, again.method_name, again.is_public, again.is_baseline) == (
        "team-a renamed",
        "v2",
        False,
        True,
    )
    # Status, phase and times are not metadata: a redelivered message must not reset them.
    assert (again.status, again.phase, again.attempts, again.lease_owner) == (
        "running",
        "dev",
        1,
        "w1",
    )
    assert (again.submitted_at, again.received_at) == (at(0), at(1))
    assert transitions(store, 7) == [(None, "received"), ("received", "running")]
    assert store.get("evalai", 7) == again


def test_same_pk_from_two_sources_are_two_submissions(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    store.upsert_submission(info(1, source="inbox", team_pk=None, team_name="local"))
    assert store.get("evalai", 1).team_name == "team-a"  # type: ignore[union-attr]
    assert store.get("inbox", 1).team_name == "local"  # type: ignore[union-attr]
    assert store.get("evalai", 2) is None


def test_invalid_input_is_refused_with_the_bad_value(store: SqlScoreStore) -> None:
    with pytest.raises(ValueError, match="ftp"):
        store.upsert_submission(info(1, source="ftp"))
    with pytest.raises(ValueError, match="received_at"):
        store.upsert_submission(info(1, received_at=datetime(2025, 1, 1)))
    store.upsert_submission(info(1))
    with pytest.raises(ValueError, match="now"):
        store.try_claim("evalai", 1, "w1", datetime(2025, 1, 1), LEASE)
    with pytest.raises(ValueError, match="lease_seconds"):
        store.try_claim("evalai", 1, "w1", at(1), 0)
    assert store.try_claim("evalai", 1, "w1", at(1), LEASE)
    with pytest.raises(ValueError, match="bogus"):
        store.record_failure("evalai", 1, "w1", "bogus", "x", at(2), 3)  # type: ignore[arg-type]
    assert store.get("evalai", 1).status == "running"  # type: ignore[union-attr]


def test_allocate_inbox_pk_is_idempotent_per_path_key(store: SqlScoreStore, store_url: str) -> None:
    a = store.allocate_inbox_pk("dev/team-a/emb.csv@" + "a" * 64)
    b = store.allocate_inbox_pk("dev/team-b/emb.csv@" + "b" * 64)
    assert a != b
    assert store.allocate_inbox_pk("dev/team-a/emb.csv@" + "a" * 64) == a
    other = SqlScoreStore(store_url)  # another process sharing the database
    try:
        assert other.allocate_inbox_pk("dev/team-b/emb.csv@" + "b" * 64) == b
        assert other.allocate_inbox_pk("dev/team-a/emb.csv@" + "c" * 64) not in (a, b)
    finally:
        other.close()


def test_create_schema_is_idempotent_and_keeps_data(store: SqlScoreStore, store_url: str) -> None:
    store.upsert_submission(info(3))
    store.create_schema()
    other = SqlScoreStore(store_url)
    try:
        other.create_schema()
        assert other.get("evalai", 3).status == "received"  # type: ignore[union-attr]
    finally:
        other.close()


def test_sqlite_uses_wal_so_processes_can_share_the_file(tmp_path: Any) -> None:
    path = tmp_path / "shared.db"
    store = SqlScoreStore(f"sqlite:///{path}")
    try:
        store.create_schema()
        store.upsert_submission(info(1))
    finally:
        store.close()
    with sqlite3.connect(str(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- claims and leases ------------------------------------------------------------------------


def test_claim_is_compare_and_set(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.try_claim("evalai", 1, "w1", at(2), 60)
    claimed = store.get("evalai", 1)
    assert claimed is not None
    assert (claimed.status, claimed.attempts, claimed.lease_owner) == ("running", 1, "w1")
    assert (claimed.started_at, claimed.lease_until) == (at(2), at(3))

    # A redelivered message while the lease is live: no second scoring, not even by w1.
    assert not store.try_claim("evalai", 1, "w2", at(2.5), 60)
    assert not store.try_claim("evalai", 1, "w1", at(2.5), 60)
    assert not store.try_claim("evalai", 99, "w2", at(2.5), 60)  # unknown submission

    # The lease ran out (dead worker): the reaper reclaims it and counts the attempt.
    assert store.try_claim("evalai", 1, "w2", at(3), 60)
    reclaimed = store.get("evalai", 1)
    assert reclaimed is not None
    assert (reclaimed.status, reclaimed.attempts, reclaimed.lease_owner) == ("running", 2, "w2")
    assert (reclaimed.started_at, reclaimed.lease_until) == (at(3), at(4))
    last = store.events("evalai", 1)[-1]
    assert (last.from_status, last.to_status, last.at) == ("running", "running", at(3))
    assert last.detail == "lease expired, reclaimed from w1 by w2"


def test_final_states_cannot_be_claimed(store: SqlScoreStore) -> None:
    score(store, 1, score_card(1, k=3))
    store.upsert_submission(info(2))
    assert store.try_claim("evalai", 2, "w1", at(2), LEASE)
    assert store.record_failure("evalai", 2, "w1", "participant", "bad csv", at(3), 3) == "failed"
    store.upsert_submission(info(3))
    assert store.mark_cancelled("evalai", 3, at(2), "cancelled on EvalAI")
    for pk, status in ((1, "finished"), (2, "failed"), (3, "cancelled")):
        assert not store.try_claim("evalai", pk, "w9", at(500), LEASE)
        assert store.get("evalai", pk).status == status  # type: ignore[union-attr]


def test_renew_lease_only_by_the_owner(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.try_claim("evalai", 1, "w1", at(2), 60)
    assert store.renew_lease("evalai", 1, "w1", at(2.9), 60)
    assert store.get("evalai", 1).lease_until == at(3.9)  # type: ignore[union-attr]
    assert not store.renew_lease("evalai", 1, "w2", at(3), 60)
    assert not store.try_claim("evalai", 1, "w2", at(3.5), 60)  # the renewal kept it alive
    assert store.try_claim("evalai", 1, "w2", at(3.9), 60)
    assert not store.renew_lease("evalai", 1, "w1", at(4), 60)
    assert store.get("evalai", 1).lease_owner == "w2"  # type: ignore[union-attr]


def test_expired_leases_lists_only_running_past_their_lease(store: SqlScoreStore) -> None:
    for pk in (1, 2, 3):
        store.upsert_submission(info(pk))
    assert store.try_claim("evalai", 1, "w1", at(0), 60)
    assert store.try_claim("evalai", 2, "w2", at(0), 600)
    assert [s.pk for s in store.expired_leases(at(0.5))] == []
    assert [s.pk for s in store.expired_leases(at(1))] == [1]
    assert [s.pk for s in store.expired_leases(at(20))] == [1, 2]
    store.record_evaluation("evalai", 1, "w1", score_card(1, k=2), at(0), at(2))
    assert [s.pk for s in store.expired_leases(at(20))] == [2]


def race_claims(stores: list[SqlScoreStore], pk: int) -> list[bool]:
    """Every store claims the submission from its own thread, all released at once."""
    start = threading.Barrier(len(stores), timeout=10)
    wins = [False] * len(stores)
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            start.wait()
            wins[i] = stores[i].try_claim("evalai", pk, f"w{i}", at(1), LEASE)
        except BaseException as exc:  # re-raised below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return wins


@pytest.mark.parametrize("engines", ["one engine", "separate engines"])
def test_racing_claims_have_exactly_one_winner(
    store: SqlScoreStore, store_url: str, engines: str
) -> None:
    n_workers = 6
    stores = [store] * n_workers
    if engines == "separate engines":  # each with its own connections, like separate processes
        stores = [store] + [SqlScoreStore(store_url) for _ in range(n_workers - 1)]
    try:
        for pk in range(1, 5):
            store.upsert_submission(info(pk))
            wins = race_claims(stores, pk)
            assert sum(wins) == 1
            stored = store.get("evalai", pk)
            assert stored is not None
            assert (stored.status, stored.attempts, stored.lease_owner) == (
                "running",
                1,
                f"w{wins.index(True)}",
            )
            assert transitions(store, pk) == [(None, "received"), ("received", "running")]
    finally:
        for other in stores[1:]:
            if other is not store:
                other.close()


# -- results ----------------------------------------------------------------------------------


def test_record_evaluation_round_trips_a_full_score_card(store: SqlScoreStore) -> None:
    card = score_card(20250301)
    assert sum(t.failed_splits for t in card.tasks) == 4 and not math.isnan(card.mean_q)
    store.upsert_submission(info(5))
    assert store.try_claim("evalai", 5, "w1", at(2), LEASE)
    berlin = timezone(timedelta(hours=2))  # aware but not UTC: stored as UTC, read back as UTC
    started, finished = at(2).astimezone(berlin), at(9).astimezone(berlin)
    evaluation_id = store.record_evaluation("evalai", 5, "w1", card, started, finished)

    sub = store.get("evalai", 5)
    assert sub is not None
    assert (sub.status, sub.current_evaluation_id, sub.seed, sub.mean_q) == (
        "finished",
        evaluation_id,
        card.seed,
        card.mean_q,
    )
    assert sub.finished_at == at(9) and sub.finished_at.tzinfo is UTC  # type: ignore[union-attr]
    assert (sub.reported, sub.lease_owner, sub.lease_until, sub.error_kind) == (
        False,
        None,
        None,
        None,
    )
    assert sub.warnings == card.warnings

    record = store.evaluation(evaluation_id)
    assert (record.id, record.source, record.pk, record.worker_id) == (
        evaluation_id,
        "evalai",
        5,
        "w1",
    )
    assert (record.seed, record.config_fingerprint, record.seconds) == (
        card.seed,
        card.config_fingerprint,
        card.seconds,
    )
    assert (record.started_at, record.finished_at) == (at(2), at(9))
    assert record.started_at.tzinfo is UTC and record.finished_at.tzinfo is UTC
    assert (record.k, record.mean_q, record.warnings) == (200, card.mean_q, card.warnings)
    assert [t.task for t in record.tasks] == [t.task for t in card.tasks]  # card order kept
    for got, want in zip(record.tasks, card.tasks, strict=True):
        assert nan_safe(got) == nan_safe(want), got.task
    nan_positions = [i for i, x in enumerate(record.tasks[1].split_scores) if math.isnan(x)]
    assert nan_positions == [0, 7, 199]
    assert nan_safe(record.score_card()) == nan_safe(card)
    assert record.score_card().mean_q == card.mean_q
    with pytest.raises(KeyError):
        store.evaluation(evaluation_id + 1000)


def test_nan_mean_q_is_stored_and_read_back_as_nan(store: SqlScoreStore) -> None:
    card = score_card(2, k=5, nan_q_task=3)
    assert math.isnan(card.mean_q)
    sub = score(store, 1, card)
    assert sub.mean_q is not None and math.isnan(sub.mean_q)  # NaN, not "no evaluation yet"
    record = store.evaluation(sub.current_evaluation_id)  # type: ignore[arg-type]
    assert math.isnan(record.mean_q) and math.isnan(record.tasks[3].q)
    assert nan_safe(record.score_card()) == nan_safe(card)


def test_lease_lost_writes_nothing(store: SqlScoreStore) -> None:
    card = score_card(3, k=4)
    store.upsert_submission(info(1))
    with pytest.raises(LeaseLost):  # never claimed
        store.record_evaluation("evalai", 1, "w1", card, at(1), at(2))
    assert store.try_claim("evalai", 1, "w1", at(1), 60)
    assert store.try_claim("evalai", 1, "w2", at(5), 60)  # w1 presumed dead, reclaimed
    before = (store.get("evalai", 1), store.events("evalai", 1))
    with pytest.raises(LeaseLost):
        store.record_evaluation("evalai", 1, "w1", card, at(1), at(6))
    with pytest.raises(LeaseLost):
        store.record_failure("evalai", 1, "w1", "internal", "boom", at(6), 3)
    assert (store.get("evalai", 1), store.events("evalai", 1)) == before
    assert store.evaluation_ids("evalai", 1) == []
    assert store.board_entries("dev", "latest") == []

    # The new owner still can; a cancelled submission's worker cannot.
    evaluation_id = store.record_evaluation("evalai", 1, "w2", card, at(5), at(7))
    assert store.evaluation_ids("evalai", 1) == [evaluation_id]
    store.upsert_submission(info(2))
    assert store.try_claim("evalai", 2, "w1", at(1), 60)
    assert store.mark_cancelled("evalai", 2, at(2), "cancelled by the participant")
    with pytest.raises(LeaseLost):
        store.record_evaluation("evalai", 2, "w1", card, at(1), at(3))
    assert store.get("evalai", 2).status == "cancelled"  # type: ignore[union-attr]
    assert store.evaluation_ids("evalai", 2) == []


def test_a_slow_worker_may_finish_after_its_lease_if_nobody_reclaimed(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.try_claim("evalai", 1, "w1", at(1), 60)
    store.record_evaluation("evalai", 1, "w1", score_card(1, k=2), at(1), at(30))
    assert store.get("evalai", 1).status == "finished"  # type: ignore[union-attr]


def test_internal_errors_are_retried_then_failed(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    statuses = []
    for attempt in range(1, 4):
        assert store.try_claim("evalai", 1, "w1", at(attempt), LEASE)
        statuses.append(
            store.record_failure(
                "evalai", 1, "w1", "internal", f"CUDA OOM #{attempt}", at(attempt + 0.5), 3
            )
        )
        sub = store.get("evalai", 1)
        assert sub is not None and sub.attempts == attempt and sub.lease_owner is None
    assert statuses == ["received", "received", "failed"]
    assert (sub.status, sub.error_kind, sub.error_message) == ("failed", "internal", "CUDA OOM #3")
    assert (sub.finished_at, sub.reported) == (at(3.5), False)
    assert not store.try_claim("evalai", 1, "w1", at(10), LEASE)
    assert [s.pk for s in store.unreported(at(10))] == [1]
    details = [e.detail for e in store.events("evalai", 1) if e.from_status == "running"]
    assert details == [
        "internal error, attempt 1 of 3: CUDA OOM #1",
        "internal error, attempt 2 of 3: CUDA OOM #2",
        "internal error, attempt 3 of 3: CUDA OOM #3",
    ]


def test_a_retry_that_succeeds_clears_the_error(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.try_claim("evalai", 1, "w1", at(1), LEASE)
    assert store.record_failure("evalai", 1, "w1", "internal", "disk full", at(2), 3) == "received"
    retrying = store.get("evalai", 1)
    assert (retrying.status, retrying.error_kind, retrying.error_message) == (  # type: ignore[union-attr]
        "received",
        "internal",
        "disk full",
    )
    sub = score(store, 1, score_card(1, k=2), minutes=3)
    assert (sub.error_kind, sub.error_message, sub.attempts) == (None, None, 2)


def test_participant_errors_fail_at_once(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.try_claim("evalai", 1, "w1", at(1), LEASE)
    message = "row 17: expected 1024 values, got 1023"
    assert store.record_failure("evalai", 1, "w1", "participant", message, at(2), 3) == "failed"
    sub = store.get("evalai", 1)
    assert sub is not None
    assert (sub.status, sub.error_kind, sub.error_message, sub.attempts) == (
        "failed",
        "participant",
        message,
        1,
    )
    assert (sub.finished_at, sub.lease_owner, sub.current_evaluation_id) == (at(2), None, None)


def test_unreported_and_mark_reported(store: SqlScoreStore) -> None:
    score(store, 1, score_card(1, k=2), minutes=2)  # finished at(3)
    store.upsert_submission(info(2))
    assert store.try_claim("evalai", 2, "w1", at(4), LEASE)
    store.record_failure("evalai", 2, "w1", "participant", "bad header", at(5), 3)
    store.upsert_submission(info(3))  # received
    store.upsert_submission(info(4))
    assert store.try_claim("evalai", 4, "w1", at(4), LEASE)  # running
    store.upsert_submission(info(5))
    store.mark_cancelled("evalai", 5, at(4), "cancelled")

    assert [s.pk for s in store.unreported(at(10))] == [1, 2]
    assert [s.pk for s in store.unreported(at(4))] == [1]  # the grace period leaves pk 2 alone
    assert store.mark_reported("evalai", 1, at(11))
    assert not store.mark_reported("evalai", 1, at(12))  # already done
    assert not store.mark_reported("evalai", 4, at(12))  # not final yet
    assert not store.mark_reported("evalai", 99, at(12))
    sub = store.get("evalai", 1)
    assert sub is not None and (sub.reported, sub.reported_at, sub.status) == (
        True,
        at(11),
        "finished",
    )
    assert [s.pk for s in store.unreported(at(20))] == [2]


# -- rescore, cancel, events ------------------------------------------------------------------


def test_rescore_reset_keeps_history(store: SqlScoreStore) -> None:
    first_card, second_card = score_card(1, k=3), score_card(2, k=3)
    first = score(store, 1, first_card)
    assert store.mark_reported("evalai", 1, at(4))
    assert store.reset_for_rescore("evalai", 1, at(5), "labels v2")
    reset = store.get("evalai", 1)
    assert reset is not None
    assert (reset.status, reset.reported, reset.reported_at, reset.attempts) == (
        "received",
        False,
        None,
        0,
    )
    assert (reset.started_at, reset.finished_at, reset.lease_owner) == (None, None, None)
    # The last result stays visible until a new one replaces it.
    assert (reset.current_evaluation_id, reset.mean_q) == (
        first.current_evaluation_id,
        first_card.mean_q,
    )
    assert not store.reset_for_rescore("evalai", 1, at(5), "again")  # already queued

    second = score(store, 1, second_card, minutes=6)
    assert store.evaluation_ids("evalai", 1) == [
        first.current_evaluation_id,
        second.current_evaluation_id,
    ]
    assert second.mean_q == second_card.mean_q and second.attempts == 1
    old = store.evaluation(first.current_evaluation_id)  # type: ignore[arg-type]
    assert nan_safe(old.score_card()) == nan_safe(first_card)
    assert transitions(store, 1)[-3:] == [
        ("finished", "received"),
        ("received", "running"),
        ("running", "finished"),
    ]


def test_rescore_refuses_a_live_lease_and_resets_failures(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert not store.reset_for_rescore("evalai", 1, at(1), "x")  # received: nothing to do
    assert store.try_claim("evalai", 1, "w1", at(1), 60)
    assert not store.reset_for_rescore("evalai", 1, at(1.5), "x")  # somebody is scoring it
    assert store.get("evalai", 1).status == "running"  # type: ignore[union-attr]
    assert store.reset_for_rescore("evalai", 1, at(2), "dead worker")  # lease expired
    assert store.get("evalai", 1).lease_owner is None  # type: ignore[union-attr]

    assert store.try_claim("evalai", 1, "w1", at(3), LEASE)
    store.record_failure("evalai", 1, "w1", "internal", "bug", at(4), 1)
    failed = store.get("evalai", 1)
    assert (failed.status, failed.error_kind) == ("failed", "internal")  # type: ignore[union-attr]
    assert store.reset_for_rescore("evalai", 1, at(5), "bug fixed")
    again = store.get("evalai", 1)
    assert (again.status, again.error_kind, again.error_message, again.attempts) == (  # type: ignore[union-attr]
        "received",
        None,
        None,
        0,
    )

    store.upsert_submission(info(2))
    store.mark_cancelled("evalai", 2, at(1), "cancelled")
    assert not store.reset_for_rescore("evalai", 2, at(2), "x")
    assert not store.reset_for_rescore("evalai", 3, at(2), "unknown")


def test_mark_cancelled_only_before_a_final_state(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1))
    assert store.mark_cancelled("evalai", 1, at(2), "cancelled on EvalAI")
    sub = store.get("evalai", 1)
    assert sub is not None and (sub.status, sub.finished_at) == ("cancelled", at(2))
    assert not store.mark_cancelled("evalai", 1, at(3), "twice")
    score(store, 2, score_card(1, k=2))
    assert not store.mark_cancelled("evalai", 2, at(9), "too late")
    assert store.get("evalai", 2).status == "finished"  # type: ignore[union-attr]


def test_events_log_every_transition_in_order(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1, received_at=at(1)))
    assert store.try_claim("evalai", 1, "w1", at(2), 60)
    store.record_failure("evalai", 1, "w1", "internal", "timeout", at(2.5), 3)
    assert store.try_claim("evalai", 1, "w2", at(3), 60)
    assert store.try_claim("evalai", 1, "w3", at(4), 60)  # w2 died
    evaluation_id = store.record_evaluation("evalai", 1, "w3", score_card(1, k=2), at(4), at(4.5))
    assert store.mark_reported("evalai", 1, at(5))
    assert store.reset_for_rescore("evalai", 1, at(6), "seed change")
    assert store.try_claim("evalai", 1, "w1", at(7), 60)
    store.record_failure("evalai", 1, "w1", "participant", "wrong ids", at(8), 3)
    assert store.mark_reported("evalai", 1, at(9))

    events = store.events("evalai", 1)
    assert [(e.from_status, e.to_status, e.at) for e in events] == [
        (None, "received", at(1)),
        ("received", "running", at(2)),
        ("running", "received", at(2.5)),
        ("received", "running", at(3)),
        ("running", "running", at(4)),
        ("running", "finished", at(4.5)),
        ("finished", "finished", at(5)),
        ("finished", "received", at(6)),
        ("received", "running", at(7)),
        ("running", "failed", at(8)),
        ("failed", "failed", at(9)),
    ]
    assert all(e.at.tzinfo is UTC and (e.source, e.pk) == ("evalai", 1) for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    details = [e.detail for e in events]
    assert details[1] == "claimed by w1" and details[4] == "lease expired, reclaimed from w2 by w3"
    assert details[5].startswith(f"evaluation {evaluation_id}: mean Q ")
    assert details[6] == "reported" and details[7] == "rescore: seed change"
    assert details[9] == "participant error: wrong ids"
    assert store.events("evalai", 2) == []


def test_list_submissions_and_status_counts(store: SqlScoreStore) -> None:
    store.upsert_submission(info(1, submitted_at=at(3)))
    store.upsert_submission(info(2, submitted_at=at(1)))
    store.upsert_submission(info(3, phase="test", submitted_at=at(2)))
    store.upsert_submission(info(4, source="inbox", submitted_at=at(4)))
    score(store, 2, score_card(1, k=2))
    assert [(s.source, s.pk) for s in store.list_submissions()] == [
        ("evalai", 2),
        ("evalai", 3),
        ("evalai", 1),
        ("inbox", 4),
    ]
    assert [s.pk for s in store.list_submissions(phase="dev")] == [2, 1, 4]
    assert [s.pk for s in store.list_submissions(phase="dev", status="received")] == [1, 4]
    assert [s.pk for s in store.list_submissions(source="inbox")] == [4]
    assert store.list_submissions(phase="nope") == []
    assert store.status_counts() == {"dev": {"received": 2, "finished": 1}, "test": {"received": 1}}


# -- leaderboard ------------------------------------------------------------------------------


@pytest.fixture
def board_store(store: SqlScoreStore) -> tuple[SqlScoreStore, dict[int, ScoreCard]]:
    """Several teams with several submissions each, private ones, baselines, other phases."""
    plan: list[tuple[int, float | None, dict[str, Any]]] = [
        # pk, Q of every task (None: fails), submission fields
        (1, 0.5, dict(submitted_at=at(0))),
        (2, 0.7, dict(submitted_at=at(10), team_name="team-a renamed")),  # same team_pk
        (3, 0.6, dict(submitted_at=at(20))),
        (4, 0.9, dict(submitted_at=at(30), is_public=False)),
        (5, None, dict(submitted_at=at(40))),
        (6, 0.4, dict(submitted_at=at(5), team_pk=None, team_name="solo")),
        (7, 0.4, dict(submitted_at=at(15), team_pk=None, team_name="solo")),
        (8, 0.95, dict(submitted_at=at(6), team_pk=30, team_name="stealth", is_public=False)),
        (9, 0.3, dict(submitted_at=at(1), team_pk=99, team_name="host", is_baseline=True)),
        (
            10,
            0.2,
            dict(
                submitted_at=at(2), team_pk=99, team_name="host", is_baseline=True, is_public=False
            ),
        ),
        (12, 0.99, dict(submitted_at=at(3), phase="test")),
        (13, 0.1, dict(submitted_at=at(4), team_pk=50, team_name="solo")),  # not the other "solo"
    ]
    cards = {}
    for pk, q, fields in plan:
        if q is None:
            store.upsert_submission(info(pk, **fields))
            assert store.try_claim("evalai", pk, "w1", at(50), LEASE)
            store.record_failure("evalai", pk, "w1", "participant", "bad", at(51), 3)
        else:
            cards[pk] = score_card(pk, k=2, q=q)
            score(store, pk, cards[pk], minutes=50, **fields)
    store.upsert_submission(info(11, team_pk=40, team_name="late"))  # never scored
    return store, cards


def board(
    store: SqlScoreStore, policy: str, include_private: bool = False
) -> list[tuple[int, str, int, datetime]]:
    return [
        (e.submission.pk, e.team_key, e.n_submissions, e.last_submitted_at)
        for e in store.board_entries("dev", policy, include_private=include_private)  # type: ignore[arg-type]
    ]


def test_board_latest_public_per_team_and_every_public_baseline(board_store: Any) -> None:
    store, cards = board_store
    assert board(store, "latest") == [
        (3, "team:10", 4, at(30)),
        (7, "name:solo", 2, at(15)),
        (9, "team:99", 1, at(1)),  # baseline 10 is private: not on the board (issue 8)
        (13, "team:50", 1, at(4)),
    ]
    entries = store.board_entries("dev", "latest")
    for entry in entries:
        card = cards[entry.submission.pk]
        assert entry.task_q == {t.task: t.q for t in card.tasks}
        assert list(entry.task_q) == [t.task for t in card.tasks]
        assert entry.mean_q == card.mean_q == entry.submission.mean_q
    assert (
        entries[0].submission.team_name == "team-a" and entries[0].submission.status == "finished"
    )


def test_board_best_by_mean_q_earliest_on_ties(board_store: Any) -> None:
    store, cards = board_store
    assert board(store, "best") == [
        (2, "team:10", 4, at(30)),
        (6, "name:solo", 2, at(15)),
        (9, "team:99", 1, at(1)),
        (13, "team:50", 1, at(4)),
    ]
    assert store.board_entries("dev", "best")[0].mean_q == cards[2].mean_q


def test_board_with_private_submissions(board_store: Any) -> None:
    store, _ = board_store
    assert [row[0] for row in board(store, "latest", include_private=True)] == [8, 4, 7, 9, 10, 13]
    assert [row[0] for row in board(store, "best", include_private=True)] == [8, 4, 6, 9, 10, 13]
    assert store.board_entries("nope", "best") == []
    with pytest.raises(ValueError, match="worst"):
        store.board_entries("dev", "worst")  # type: ignore[arg-type]


def test_board_keeps_nan_entries_last_with_their_nan_task(store: SqlScoreStore) -> None:
    score(store, 1, score_card(1, k=2, nan_q_task=3), team_pk=1)
    score(store, 2, score_card(2, k=2, q=0.1), team_pk=2)
    entries = store.board_entries("dev", "best")
    assert [e.submission.pk for e in entries] == [2, 1]
    assert math.isnan(entries[1].mean_q) and math.isnan(entries[1].task_q["task3__regr"])
    assert entries[1].task_q["task0__cls"] == score_card(1, k=2, nan_q_task=3).tasks[0].q


def test_release_claim_gives_the_claim_back_uncounted(store):
    now = T0
    store.upsert_submission(info(pk=901))
    assert store.try_claim("evalai", 901, "w1", now, 60)
    assert not store.release_claim("evalai", 901, "w2", now, "not the owner")
    assert store.release_claim("evalai", 901, "w1", now, "transient error, retried later")
    row = store.get("evalai", 901)
    assert (row.status, row.attempts, row.lease_owner) == ("received", 0, None)
    assert store.events("evalai", 901)[-1].detail == "transient error, retried later"
    assert store.try_claim("evalai", 901, "w1", now, 60)
    assert store.get("evalai", 901).attempts == 1


# -- service state: open alerts and service marks -----------------------------------------------


def test_an_alert_is_opened_counted_and_closed(store: SqlScoreStore) -> None:
    assert store.open_alert("disk") is None
    store.record_alert_sent("disk", "disk-full", "the disk is 96 % full", at(0))
    store.record_alert_sent("disk", "disk-full", "the disk is 97 % full", at(60))
    alert = store.open_alert("disk")
    assert (alert.kind, alert.sent_count) == ("disk-full", 2)
    assert alert.summary == "the disk is 97 % full"
    assert (alert.opened_at, alert.last_sent_at) == (at(0), at(60))
    store.record_alert_sent("token", "token-rejected", "token rejected", at(30))
    assert [a.key for a in store.open_alerts()] == ["disk", "token"]
    store.close_alert("disk", at(90))
    assert store.open_alert("disk") is None
    assert [a.key for a in store.open_alerts()] == ["token"]


def test_alerts_drive_the_policy_across_a_restart(store_url: str) -> None:
    from worker.alerts import AlertKind, Alerts

    sent: list[str] = []

    class Outbox:
        def notify(self, title: str, body: str) -> bool:
            sent.append(title)
            return True

    for _life in range(2):  # a restarted worker does not repeat the open alert
        store = SqlScoreStore(store_url)
        store.create_schema()
        Alerts(Outbox(), store, clock=lambda: at(10)).problem(
            AlertKind.TOKEN_REJECTED, "token", "token rejected")
        store.close()
    store = SqlScoreStore(store_url)
    Alerts(Outbox(), store, clock=lambda: at(20)).resolved("token")
    store.close()
    assert sent == ["token rejected", "resolved: token rejected"]


def test_service_marks_keep_the_last_success_of_each_job(store: SqlScoreStore) -> None:
    assert store.service_marks() == {}
    store.mark_service("poll", at(0), "0 messages")
    store.mark_service("poll", at(60), "2 messages")
    store.mark_service("publish", at(30))
    marks = store.service_marks()
    assert (marks["poll"].at, marks["poll"].detail) == (at(60), "2 messages")
    assert marks["publish"].at == at(30)


def test_release_orphans_restarts_a_dead_lives_scoring_but_keeps_its_attempt(store):
    """A poison pill that takes the worker down must not be retried forever: the attempt of
    the dead life stays counted, and the next claim counts one more."""
    now = T0
    store.upsert_submission(info(pk=902))
    store.upsert_submission(info(pk=903))
    assert store.try_claim("evalai", 902, "host:/data:run:11:a", now, 60)
    assert store.try_claim("evalai", 903, "host:/data:rescore:12:a", now, 60)
    released = store.release_orphans("host:/data:run:", "host:/data:run:13:b", at(1))
    assert released == [("evalai", 902)]  # a live rescore's claim is not an orphan of ours
    row = store.get("evalai", 902)
    assert (row.status, row.attempts, row.lease_owner) == ("received", 1, None)
    assert store.events("evalai", 902)[-1].detail == \
        "abandoned by host:/data:run:11:a (worker restarted)"
    assert store.try_claim("evalai", 902, "host:/data:run:13:b", at(2), 60)
    assert store.get("evalai", 902).attempts == 2
