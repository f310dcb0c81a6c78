"""Submissions entering the scoring database: `SqlIntake`, the store's role that records a new
submission as `received` (or refreshes what the source says about a known one) and hands local
inbox files stable pks.

I/O: writes through the store's engine, one transaction per call.
"""

from __future__ import annotations

from sqlalchemy import select, update

from worker.store.schema import (
    SOURCES,
    StoredSubmission,
    SubmissionInfo,
    inbox_keys,
    submission_from_row,
    submissions,
)
from worker.store.states import RECEIVED, aware
from worker.store.transactions import SqlWrites


class SqlIntake(SqlWrites):
    """New and refreshed submissions (the arrow into `received`)."""

    def allocate_inbox_pk(self, path_key: str) -> int:
        """A stable pk for a local inbox file, e.g. "dev/team-a/emb.csv@<sha256>" (idempotent)."""
        with self._writing() as conn:
            conn.execute(
                self._insert(inbox_keys).values(path_key=path_key).on_conflict_do_nothing()
            )
            query = select(inbox_keys.c.pk).where(inbox_keys.c.path_key == path_key)
            return int(conn.execute(query).scalar_one())

    def upsert_submission(self, rec: SubmissionInfo) -> StoredSubmission:
        """Insert as `received` if new; else refresh team, method and flags, never the status."""
        if rec.source not in SOURCES:
            raise ValueError(f"unknown source {rec.source!r}, expected one of {SOURCES}")
        aware(rec.submitted_at, "submitted_at")
        aware(rec.received_at, "received_at")
        meta = dict(
            team_pk=rec.team_pk,
            team_name=rec.team_name,
            method_name=rec.method_name,
            is_public=rec.is_public,
            is_baseline=rec.is_baseline,
        )
        s = submissions.c
        with self._writing() as conn:
            inserted = conn.execute(
                self._insert(submissions)
                .values(
                    source=rec.source,
                    pk=rec.pk,
                    phase=rec.phase,
                    submitted_at=rec.submitted_at,
                    received_at=rec.received_at,
                    status=RECEIVED,
                    attempts=0,
                    reported=False,
                    warnings="[]",
                    **meta,
                )
                .on_conflict_do_nothing(index_elements=["source", "pk"])
                .returning(s.id)
            ).first()
            if inserted is not None:  # no row: it existed (RETURNING, as rowcount is -1 on psycopg)
                self._log(conn, rec.source, rec.pk, rec.received_at, None, RECEIVED, "received")
            else:
                conn.execute(
                    update(submissions).where(s.source == rec.source, s.pk == rec.pk).values(**meta)
                )
            row = conn.execute(
                select(submissions).where(s.source == rec.source, s.pk == rec.pk)
            ).one()
        return submission_from_row(row)
