"""The reconcile sweep against the EvalAI double over real HTTP, with the real SQLite store: what
it looks at, what it leaves alone, and how many requests it costs (EvalAI allows 60 requests per
minute per user, shared by everything the host token does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.doubles.evalai import EvalAIDouble
from worker.evalai import EvalAIClient, EvalAIConnection
from worker.reconcile import Reconciler
from worker.store import SqlScoreStore, SubmissionInfo

PHASES = ("dev", "test", "final")


class Recorder:
    """The pipeline port: remembers what it was asked to process."""

    def __init__(self) -> None:
        self.processed: list[int] = []

    def process(self, pk: int) -> bool:
        self.processed.append(pk)
        return True


@pytest.fixture
def double(evalai_double: EvalAIDouble) -> EvalAIDouble:
    evalai_double.seed(phases=PHASES)
    return evalai_double



def reconciler(double: EvalAIDouble, store: SqlScoreStore, recorder: Recorder, *,
               later: timedelta = timedelta(hours=1), **options: object) -> Reconciler:
    f = double.fixtures
    client = EvalAIClient(EvalAIConnection(double.url, f.host_token, f.queue_name,
                                           f.challenge_pk))
    now = datetime.fromtimestamp(double.clock.now(), UTC) + later
    return Reconciler(client, store, recorder, list(PHASES), clock=lambda: now,
                      **options)  # type: ignore[arg-type]


def test_nothing_in_flight_costs_one_count_request_per_phase(double, store) -> None:
    recorder = Recorder()
    sweeper = reconciler(double, store, recorder)
    before = len(double.requests())
    reports = [sweeper.sweep() for _ in range(6)]  # one hour at the default 10-minute interval
    sent = double.requests()[before:]
    # The phase list once per process, then one count per phase per sweep: 19 an hour.
    assert len(sent) == 1 + 6 * len(PHASES)
    assert sum(r.requests for r in reports) == len(sent)
    assert recorder.processed == []
    assert store.service_marks()["reconcile"].detail == "0 stuck, 3 listing request(s)"


def test_only_lost_old_unfinished_submissions_are_processed(double, store) -> None:
    lost = double.create_submission(phase="final")
    double.lose_message(lost)
    queued = double.create_submission(phase="final")  # its message is still on the queue
    cancelled = double.create_submission(phase="test")
    double.cancel(cancelled)
    being_scored = double.create_submission(phase="final")
    recorder = Recorder()
    sweeper = reconciler(double, store, recorder)
    now = sweeper.clock()
    store.upsert_submission(SubmissionInfo(
        source="evalai", pk=being_scored, phase="final", team_pk=1, team_name="alpha",
        method_name="", is_public=True, is_baseline=False, submitted_at=now, received_at=now))
    assert store.try_claim("evalai", being_scored, "someone-alive", now, 900.0)

    report = sweeper.sweep()

    # In flight on EvalAI, old, with no live claim here: the lost one and the queued one (its
    # message would have come in the same tick; the claim keeps it to one scoring either way).
    assert sorted(recorder.processed) == sorted([lost, queued])
    assert report.stuck == {"final": sorted([lost, queued], reverse=True)}


def test_young_submissions_are_left_to_the_queue(double, store) -> None:
    pk = double.create_submission(phase="dev")
    double.lose_message(pk)
    recorder = Recorder()
    sweeper = reconciler(double, store, recorder, later=timedelta(minutes=5),
                         stuck_after=timedelta(minutes=15))
    assert sweeper.sweep().found == 0 and recorder.processed == []


def test_paging_stops_at_the_horizon(double, store) -> None:
    for _ in range(5):
        double.lose_message(double.create_submission(phase="dev"))
    recorder = Recorder()
    sweeper = reconciler(double, store, recorder, later=timedelta(days=40),
                         horizon=timedelta(days=30), page_size=2)
    report = sweeper.sweep()
    assert report.found == 0 and recorder.processed == []
    # list once, count per phase, and a single page of dev before the horizon stopped it
    assert report.requests == 1 + len(PHASES) + 1
