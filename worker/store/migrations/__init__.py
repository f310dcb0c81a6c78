"""Alembic's script folder for the scoring database, shipped as package data: `env.py`, the
revisions in `versions/` and the frozen baseline schema. Run programmatically by
`worker.store.versioning`; how to add a revision: docs/migrations.md. Importing it does nothing.
"""
