"""The inbox's boundary with the file system, with the real SQLite store and real files and links:
no symbolic link is ever followed, whatever is not where a submission belongs is reported (once
in the log, and by `survey_inbox` for doctor and status), and a received file that is removed,
changed or replaced before it is read fails with a message instead of staying `received`."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from worker.errors import SubmissionFileGone
from worker.inbox import InboxSource, Misplaced, survey_inbox
from worker.store import SqlScoreStore, SubmissionInfo

LABELS = "id,label\nsecret-1,0.25\nsecret-2,0.75\n"
EMBEDDING = "id,0,1\na,0.1,0.2\nb,0.3,0.4\n"



def settled(path: Path, text: str) -> Path:
    """A file old enough for the inbox (it skips files modified in the last second)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    old = datetime.now(UTC).timestamp() - 60
    os.utime(path, (old, old))
    return path


def source(tmp_path: Path, store: SqlScoreStore,
           phases: tuple[str, ...] | None = ("dev",)) -> InboxSource:
    return InboxSource(tmp_path / "inbox", tmp_path / "results", store, phases=phases)


def drain(inbox: InboxSource) -> list[int]:
    pks = []
    for _ in range(50):
        delivery = inbox.receive()
        if delivery is None:
            return pks
        pks.append(delivery.pk)
    raise AssertionError("the inbox kept offering deliveries")


def test_links_are_never_followed_and_each_is_reported_once(tmp_path: Path, store, caplog):
    secret = settled(tmp_path / "labels" / "crops__regr.csv", LABELS)
    inbox = tmp_path / "inbox"
    settled(inbox / "dev" / "alpha" / "emb.csv", EMBEDDING)
    (inbox / "dev" / "alpha" / "labels.csv").symlink_to(secret)  # a link to a label file
    (inbox / "dev" / "beta").symlink_to(secret.parent)  # a team folder that is a link
    (inbox / "final").symlink_to(inbox / "dev")  # a phase folder that is a link
    caplog.set_level(logging.WARNING, logger="worker.inbox")
    source_ = source(tmp_path, store, phases=("dev", "final"))

    pks = drain(source_)
    assert len(pks) == 1
    assert source_.describe(pks[0]).team_name == "alpha"
    assert source_.describe(pks[0]).method_name == "emb"
    drain(source_)
    link = ("a symbolic link: never followed, so nothing behind it is read (copy the real file "
            "here)")
    expected = [Misplaced("dev/alpha/labels.csv", link), Misplaced("dev/beta", link),
                Misplaced("final", link)]
    assert sorted(survey_inbox(inbox, ("dev", "final")).misplaced, key=str) == expected
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [f"inbox: {inbox}/{item}" for item in sorted(expected, key=str)]


def test_a_file_replaced_by_a_link_after_the_scan_is_not_read(tmp_path: Path, store):
    secret = settled(tmp_path / "labels" / "crops__regr.csv", LABELS)
    path = settled(tmp_path / "inbox" / "dev" / "alpha" / "emb.csv", EMBEDDING)
    source_ = source(tmp_path, store)
    (pk,) = drain(source_)
    meta = source_.describe(pk)
    path.unlink()
    path.symlink_to(secret)
    dest = tmp_path / "downloaded"
    with pytest.raises(SubmissionFileGone, match="replaced by a symbolic link") as caught:
        source_.download(meta, dest, 10**6)
    assert "emb.csv" in str(caught.value)
    assert not dest.exists() or "secret" not in dest.read_text()


def test_a_team_folder_replaced_by_a_link_after_the_scan_is_not_read(tmp_path: Path, store):
    settled(tmp_path / "elsewhere" / "emb.csv", EMBEDDING)
    team = tmp_path / "inbox" / "dev" / "alpha"
    settled(team / "emb.csv", EMBEDDING)
    source_ = source(tmp_path, store)
    (pk,) = drain(source_)
    meta = source_.describe(pk)
    (team / "emb.csv").unlink()
    team.rmdir()
    team.symlink_to(tmp_path / "elsewhere")  # same name, same content, behind a link
    with pytest.raises(SubmissionFileGone, match="symbolic link"):
        source_.download(meta, tmp_path / "downloaded", 10**6)


def test_files_in_the_wrong_place_are_reported_not_silently_skipped(tmp_path: Path, store,
                                                                   caplog):
    inbox = tmp_path / "inbox"
    settled(inbox / "emb.csv", EMBEDDING)  # directly in the inbox
    settled(inbox / "dev" / "emb.csv", EMBEDDING)  # directly in a phase folder
    settled(inbox / "dev" / "alpha" / "v2" / "emb.csv", EMBEDDING)  # below the team level
    settled(inbox / "devv" / "alpha" / "emb.csv", EMBEDDING)  # not a phase of the challenge
    settled(inbox / "dev" / "alpha" / ".emb.csv.swp", EMBEDDING)  # being edited: by design
    settled(inbox / "dev" / "alpha" / "emb.csv.part", EMBEDDING)  # being copied: by design
    os.mkfifo(inbox / "dev" / "alpha" / "pipe.csv")
    caplog.set_level(logging.WARNING, logger="worker.inbox")
    source_ = source(tmp_path, store)

    assert drain(source_) == []
    survey = survey_inbox(inbox, ("dev",))
    assert survey.files == []
    assert [str(m) for m in survey.misplaced] == [  # in the order of a walk by name
        "dev/alpha/pipe.csv: not a regular file or folder; left alone",
        "dev/alpha/v2/: a folder inside a team folder; its files are not read (submissions go "
        "directly into dev/alpha/)",
        "dev/emb.csv: a file directly in the phase folder; submissions go into dev/<team>/",
        "devv/: not a phase of this challenge (phases: dev); its files are not read",
        "emb.csv: a file directly in the inbox; submissions go into <phase>/<team>/",
    ]
    drain(source_)  # a second look reports nothing new
    assert len(caplog.records) == 5


def test_a_received_file_that_vanishes_fails_with_a_message(tmp_path: Path, store):
    path = settled(tmp_path / "inbox" / "dev" / "alpha" / "emb.csv", EMBEDDING)
    source_ = source(tmp_path, store)
    (pk,) = drain(source_)
    meta = source_.describe(pk)
    path.unlink()
    with pytest.raises(SubmissionFileGone) as caught:
        source_.download(meta, tmp_path / "downloaded", 10**6)
    assert str(caught.value) == ("The file emb.csv was removed from the inbox before it could "
                                 "be scored, so it was not evaluated. Put the file back (or a "
                                 "new one) to submit again.")


def test_a_changed_file_is_not_scored_under_the_old_submission(tmp_path: Path, store):
    path = settled(tmp_path / "inbox" / "dev" / "alpha" / "emb.csv", EMBEDDING)
    source_ = source(tmp_path, store)
    (pk,) = drain(source_)
    meta = source_.describe(pk)
    settled(path, EMBEDDING.replace("0.1", "0.9"))
    with pytest.raises(SubmissionFileGone, match="changed after it was received"):
        source_.download(meta, tmp_path / "downloaded", 10**6)
    (new_pk,) = [pk_ for pk_ in drain(source_) if pk_ != pk]  # the new content: its own pk
    source_.download(source_.describe(new_pk), tmp_path / "downloaded", 10**6)
    assert (tmp_path / "downloaded").read_text() == EMBEDDING.replace("0.1", "0.9")


def test_a_waiting_submission_whose_file_vanished_is_offered_again(tmp_path: Path, store):
    """After a restart too: what the file was comes from the store, not from memory."""
    path = settled(tmp_path / "inbox" / "dev" / "alpha" / "emb.csv", EMBEDDING)
    first = source(tmp_path, store)
    (pk,) = drain(first)
    now = datetime.now(UTC)
    store.upsert_submission(SubmissionInfo(source="inbox", pk=pk, phase="dev", team_name="alpha",
                                           method_name="emb", is_public=True, is_baseline=False,
                                           submitted_at=now, received_at=now))
    path.unlink()
    restarted = source(tmp_path, store)
    assert drain(restarted) == [pk]
    meta = restarted.describe(pk)
    assert (meta.phase, meta.team_name, meta.method_name) == ("dev", "alpha", "emb")
    with pytest.raises(SubmissionFileGone, match="was removed from the inbox"):
        restarted.download(meta, tmp_path / "downloaded", 10**6)
