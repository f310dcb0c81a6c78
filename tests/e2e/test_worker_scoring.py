"""The worker as an operator runs it (`python -m worker once|status|doctor` in a subprocess)
against the EvalAI double over real HTTP: good submissions, bad files, cancellations, and the
operator's status and doctor commands.

I/O: a loopback HTTP server per test, worker and `python -m scoring` subprocesses, files under
pytest's tmp_path. Every wait has a deadline; every subprocess is ended in `finally`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.doubles.evalai import cli_available, submit_with_cli
from tests.e2e.worker_harness import (
    PYTHON,
    REPO,
    ChallengeFiles,
    Site,
    error_lines,
    final_puts,
    posted_mean_q,
    probe_yaml,
    write_challenge_yaml,
    write_synthetic_challenge,
)
from worker.reporting import INTERNAL_FAILURE_MESSAGE_UNALERTED

ZARR_WARNING = "zarr_zip_not_removed_from_id_column"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> ChallengeFiles:
    return write_synthetic_challenge(tmp_path_factory.mktemp("tiny"), "tiny", seed=7)



def with_zarr_suffix(csv_path: Path) -> bytes:
    """The same table with '.zarr.zip' on every id (cleaned, with a warning flag)."""
    lines = csv_path.read_text().splitlines()
    rows = [line.replace(",", ".zarr.zip,", 1) for line in lines[1:]]
    return ("\n".join([lines[0], *rows]) + "\n").encode()


def standalone_mean_q(site: Site, submission: Path, seed: int, out: Path) -> subprocess.Popen:
    config = probe_yaml(site.root / "probe.yaml", site.phases()["final"])
    return subprocess.Popen(
        [PYTHON, "-m", "scoring", "evaluate",
         "--annotation_path", str(site.challenge.annotations["final"]),
         "--submission_file", str(submission), "--output_dir", str(out),
         "--config", str(config), "--phase", "final", "--seed", str(seed), "--strict"],
        cwd=site.root, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_good_submissions_are_posted_once_with_the_standalone_clis_mean_q(site: Site):
    """Three good files -> three FINISHED PUTs carrying only the phase's metric, the same mean Q
    as `python -m scoring evaluate --seed <seed> --strict`, and every message deleted."""
    fixtures = site.double.fixtures
    files: dict[int, Path] = {}
    if cli_available():  # the real participant CLI, else the web upload path
        pk = submit_with_cli(site.double.url, fixtures.participant_token, fixtures.challenge_pk,
                             fixtures.phases["final"], site.challenge.submissions["strong"])
    else:
        pk = site.submit("strong", team="alpha")
    files[pk] = site.challenge.submissions["strong"]
    files[site.submit("medium", team="beta")] = site.challenge.submissions["medium"]
    zarr = site.root / "weak-zarr.csv"
    zarr.write_bytes(with_zarr_suffix(site.challenge.submissions["weak"]))
    files[site.submit(zarr.read_bytes(), team="alpha")] = zarr
    config = site.write_config()

    done = site.worker("once", config=config)

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 3 submission message(s)\n"
    assert error_lines(done.stderr) == []
    task_names = site.challenge.task_names["final"] + site.challenge.task_names["dev"]
    posted: dict[int, float] = {}
    seeds: dict[int, int] = {}
    with site.store() as store:
        for pk in files:
            (put,) = final_puts(site.double, pk)
            assert put.submission_status == "finished"
            assert [c.submission_status for c in site.double.patches(pk)] == ["running"]
            result = json.loads(put.body["result"])  # a JSON *string*, as EvalAI demands
            assert result == [{"split": "test_split", "show_to_participant": True,
                               "accuracies": {"mean_Q": result[0]["accuracies"]["mean_Q"]}}]
            posted[pk] = posted_mean_q(put)
            metadata = json.loads(put.body["metadata"])
            seeds[pk] = metadata["seed"]
            assert set(metadata) == {"seed", "config_fingerprint", "evaluation_id", "k_folds",
                                     "tasks", "seconds", "warnings"}
            stdout = put.body["stdout"]
            assert stdout.startswith("Status: FINISHED\n")
            assert f"mean_Q: {posted[pk]:.4f}\n" in stdout
            assert f"Evaluation seed: {seeds[pk]}\n" in stdout
            assert "Warnings:" in stdout
            assert put.body["stderr"] == ""
            participant_visible = " ".join(
                [put.body["result"], put.body["stdout"], put.body["stderr"], put.body["metadata"]]
            )
            leaked = [name for name in task_names if name in participant_visible]
            assert leaked == [], f"per-task information posted for submission {pk}: {leaked}"
            view = site.double.submission(pk)
            assert view.status == "finished"
            assert view.leaderboard == {"test_split": {"mean_Q": posted[pk]}}
            stored = store.get("evalai", pk)
            assert (stored.status, stored.reported, stored.seed) == ("finished", True, seeds[pk])
            assert round(stored.mean_q, 6) == posted[pk]
            assert len(store.evaluation_ids("evalai", pk)) == 1
    zarr_pk = list(files)[2]
    zarr_put = final_puts(site.double, zarr_pk)[0]
    assert f"  - {ZARR_WARNING}:" in zarr_put.body["stdout"]
    assert json.loads(zarr_put.body["metadata"])["warnings"] == [ZARR_WARNING]
    assert "Warnings: none" in final_puts(site.double, list(files)[1])[0].body["stdout"]
    assert site.queue_empty_after_visibility_timeout()

    # The standalone CLI, given the recorded seed, computes the same number from the same file.
    runs = {pk: standalone_mean_q(site, path, seeds[pk], site.root / f"cli-{pk}")
            for pk, path in files.items()}
    for pk, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        (summary,) = (site.root / f"cli-{pk}" / "final").glob("*/results_summary.json")
        data = json.loads(summary.read_text())
        assert data["seed"] == seeds[pk]
        # equal to the 6 decimals posted (posted = round(mean Q, 6))
        assert abs(data["overall_q_score"] - posted[pk]) <= 5e-7 + 1e-12, (pk, data, posted)


def bad_cell(csv_path: Path) -> bytes:
    lines = csv_path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[4] = "abc"  # column "3"
    return "\n".join([lines[0], ",".join(cells), *lines[2:]]).encode() + b"\n"


def missing_ids(csv_path: Path) -> bytes:
    lines = csv_path.read_text().splitlines()
    return ("\n".join(lines[: len(lines) // 2]) + "\n").encode()


def extra_column(csv_path: Path, dim: int) -> bytes:
    lines = csv_path.read_text().splitlines()
    rows = [lines[0] + f",{dim}", *(line + ",0.5" for line in lines[1:])]
    return ("\n".join(rows) + "\n").encode()


def test_bad_files_and_an_unknown_phase_fail_with_the_right_message(site: Site):
    """Malformed and oversized files fail with the participant's reason; a phase missing from
    the YAML fails with "organisers alerted" and an ERROR line for the organiser."""
    site.double.seed(phases=("dev", "final", "bonus"))
    strong = site.challenge.submissions["strong"]
    expected = {
        site.submit(bad_cell(strong)): "line 2, column '3': 'abc' is not a number",
        site.submit(missing_ids(strong)): "required by the hidden tasks are missing",
        site.submit(extra_column(strong, site.challenge.dim)):
            "17 embedding columns, the limit is 16",
        site.submit(b"id,0\n" + b"x" * 300_000): "larger than the 256.0 KiB limit",
        # No ALERT_URLS here: the participant is not told that anybody was alerted.
        site.submit("strong", phase="bonus"): INTERNAL_FAILURE_MESSAGE_UNALERTED,
    }
    config = site.write_config(max_file_mb=0.25)

    done = site.worker("once", config=config)

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 5 submission message(s)\n"
    for pk, message in expected.items():
        (put,) = final_puts(site.double, pk)
        assert put.submission_status == "failed", (pk, put.body)
        assert message in put.body["stderr"], (pk, put.body["stderr"])
        assert put.body["stdout"] == f"Status: FAILED\nReason: {put.body['stderr']}\n"
        assert "result" not in put.body
        assert site.double.submission(pk).status == "failed"
    bonus_pk = list(expected)[-1]
    (organiser_alert,) = error_lines(done.stderr)
    assert f"submission {bonus_pk}: phase codename 'bonus' is not in the challenge YAML" \
        in organiser_alert
    assert site.double.patches(bonus_pk) == []  # never claimed as running on EvalAI
    with site.store() as store:
        kinds = {pk: store.get("evalai", pk).error_kind for pk in expected}
    assert kinds == {**{pk: "participant" for pk in list(expected)[:4]}, bonus_pk: "internal"}
    assert site.queue_empty_after_visibility_timeout()


def test_a_host_resume_after_fixing_the_config_scores_the_same_submission(site: Site):
    """Unknown phase -> FAILED (organisers alerted); the organiser adds the phase to the YAML
    and presses "resume" on EvalAI: the same pk is scored and FINISHED is posted."""
    site.double.seed(phases=("dev", "final", "bonus"))
    pk = site.submit("strong", phase="bonus")
    done = site.worker("once", config=site.write_config())
    assert done.returncode == 0, done.describe()
    assert [p.submission_status for p in final_puts(site.double, pk)] == ["failed"]

    phases = site.phases()
    phases["bonus"] = phases["final"]
    fixed = write_challenge_yaml(site.root / "fixed.yaml", phases)
    site.double.resume(pk)  # status -> resuming, the message is published again
    done = site.worker("once", config=fixed)

    assert done.returncode == 0, done.describe()
    assert [p.submission_status for p in final_puts(site.double, pk)] == ["failed", "finished"]
    with site.store() as store:
        assert store.get("evalai", pk).status == "finished"
        details = [e.detail for e in store.events("evalai", pk)]
        assert "rescore: resumed on EvalAI by a host" in details


def test_a_submission_cancelled_before_the_worker_sees_it_is_not_scored(site: Site):
    cancelled = site.submit("strong")
    site.double.cancel(cancelled)
    config = site.write_config()

    done = site.worker("once", config=config)

    assert done.returncode == 0, done.describe()
    assert done.stdout == "handled 1 submission message(s)\n"
    assert site.double.updates(cancelled) == []  # no PATCH running, no PUT at all
    assert site.double.submission(cancelled).status == "cancelled"
    assert site.double.queue_messages() == []  # deleted at once, not merely in flight
    with site.store() as store:
        stored = store.get("evalai", cancelled)
        assert stored.status == "cancelled"
        assert store.evaluation_ids("evalai", cancelled) == []


def test_status_and_doctor_against_the_double(site: Site):
    good, bad = site.submit("strong"), site.submit(b"id,0\nnot,a-number\n")
    config = site.write_config()
    assert site.worker("once", config=config).returncode == 0

    status = site.worker("status", config=config)
    assert status.returncode == 0, status.describe()
    table = {line.split()[0]: line.split()[1:] for line in status.stdout.splitlines()[1:3]}
    assert status.stdout.splitlines()[0].split() == [
        "phase", "received", "running", "finished", "failed", "cancelled"]
    assert table == {"dev": ["0", "0", "0", "0", "0"], "final": ["0", "0", "1", "1", "0"]}
    assert "worker heartbeat: " in status.stdout
    assert final_puts(site.double, good, "finished") and final_puts(site.double, bad, "failed")

    doctor = site.worker("doctor", config=config)
    assert doctor.returncode == 0, doctor.describe()
    assert "ok: EvalAI token valid for challenge 1" in doctor.stdout
    assert doctor.stdout.endswith("doctor: all checks passed\n")

    token = site.double.fixtures.host_token
    site.double.revoke_token(token)
    doctor = site.worker("doctor", config=config)
    assert doctor.returncode == 1, doctor.describe()
    problems = [line for line in doctor.stdout.splitlines() if line.startswith("PROBLEM: ")]
    assert len(problems) == 1
    assert "token" in problems[0] and "AUTH_TOKEN" in problems[0]
    assert doctor.stdout.endswith("doctor: 1 problem(s)\n")
    assert token not in doctor.stdout + doctor.stderr


def test_refresh_notices_a_submission_made_private_after_scoring(site: Site):
    """EvalAI sends no message when a participant hides a submission; `refresh` re-reads the
    flags so the board stops counting it."""
    kept, hidden = site.submit("strong", team="alpha"), site.submit("strong", team="beta")
    config = site.write_config()
    assert site.worker("once", config=config).returncode == 0
    site.double.set_public(hidden, False)

    done = site.worker("refresh", config=config)

    assert done.returncode == 0, done.describe()
    assert f"submission {hidden} (final, beta): is_public changed" in done.stdout
    assert "1 submission(s) changed" in done.stdout
    with site.store() as store:
        assert store.get("evalai", hidden).is_public is False
        assert store.get("evalai", kept).is_public is True
        assert [e.submission.team_name for e in store.board_entries("final", "latest")] == [
            "alpha"
        ]
