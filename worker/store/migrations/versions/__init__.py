"""The revisions, one file each, `<rev id>_<slug>.py`, chained by `down_revision`."""
