"""A phase whose labels cannot be used waits; nothing is failed for the organisers' mistake.
The worker as `build` composes it (inbox source, real SQLite store, real scoring pool, alerts
to a real local webhook), ticked by hand: the broken phase's submission is neither claimed nor
failed while the other phase's is scored, one alert is raised and later resolved, and it is
scored once the label file is fixed. Also: labels that break after a claim, a dead worker's
claim, a received file that vanished, a linked file, and `doctor`/`status`/`once` on it.

I/O: files under tmp_path, one loopback webhook, scoring processes started by the pool.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from synthetic import make_challenge, spec_for_size, write_challenge
from tests.doubles.alert_receivers import WebhookReceiver
from worker.bootstrap import App, build
from worker.cli import load_settings, main
from worker.settings import Settings

BROKEN_ROW = "broken-row-id,not-a-number\n"


@dataclass
class Deployment:
    root: Path
    config: Path
    settings: Settings
    annotations: dict[str, Path]
    submissions: dict[str, Path]
    hook: WebhookReceiver

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    def label_file(self, phase: str) -> Path:
        return sorted(self.annotations[phase].glob("*.csv"))[0]

    def submit(self, phase: str, team: str, profile: str = "strong") -> Path:
        path = self.inbox / phase / team / "emb.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.submissions[profile], path)
        old = datetime.now(UTC).timestamp() - 60  # settled: the inbox skips fresh files
        os.utime(path, (old, old))
        return path

    def result(self, phase: str, team: str) -> dict | None:
        path = self.root / "var" / "inbox-results" / phase / team / "emb.csv.result.json"
        return json.loads(path.read_text()) if path.exists() else None

    def alerts(self) -> list[str]:
        return [f"{m['title']}\n{m['message']}" for m in self.hook.received]


@pytest.fixture(scope="module")
def challenge(tmp_path_factory: pytest.TempPathFactory):
    return write_challenge(make_challenge(spec_for_size("tiny", seed=11)),
                           tmp_path_factory.mktemp("challenge"))


@pytest.fixture
def site(challenge, tmp_path: Path) -> Iterator[Deployment]:
    annotations = {}
    for phase, folder in challenge.annotations.items():  # a copy per test: tests break them
        annotations[phase] = tmp_path / "labels" / phase
        shutil.copytree(folder, annotations[phase])
    config = tmp_path / "challenge.yaml"
    config.write_text(yaml.safe_dump({
        "source": "inbox",
        "data_dir": str(tmp_path / "var"),
        "inbox_dir": str(tmp_path / "inbox"),
        "poll_interval_seconds": 1,
        "phases": {phase: {"annotations": str(folder),
                           "probe": {"k_folds": 3, "epochs": 2, "embedding_dim": 16}}
                   for phase, folder in annotations.items()},
        "leaderboard": {"enabled": False, "publisher": "none"},
        "scoring": {"processes": 1},
    }))
    with WebhookReceiver() as hook:
        env = {"ALERT_URLS": hook.url}
        yield Deployment(tmp_path, config, load_settings(str(config), env), annotations,
                         dict(challenge.submissions), hook)


@pytest.fixture
def app(site: Deployment) -> Iterator[App]:
    app = build(site.settings, purpose="run", env=dict(os.environ))
    try:
        yield app
    finally:
        app.close()


def break_labels(site: Deployment, phase: str) -> Path:
    path = site.label_file(phase)
    with path.open("a") as fh:
        fh.write(BROKEN_ROW)
    return path


def fix_labels(path: Path) -> None:
    text = path.read_text().replace(BROKEN_ROW, "")
    path.write_text(text)
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))


def one(app: App, phase: str, team: str = "alpha"):
    (stored,) = [s for s in app.store.list_submissions(phase=phase) if s.team_name == team]
    return stored


def test_a_broken_phase_waits_while_the_other_is_scored_then_is_scored_once_fixed(
        site: Deployment, app: App):
    bad = break_labels(site, "dev")
    site.submit("dev", "alpha")
    site.submit("final", "alpha")

    for _ in range(3):  # three ticks: nothing changes for dev, nothing is spent
        app.worker.poll_once()
    final, dev = one(app, "final"), one(app, "dev")
    assert final.status == "finished" and site.result("final", "alpha")["status"] == "finished"
    assert (dev.status, dev.attempts) == ("received", 0)
    assert [e.to_status for e in app.store.events("inbox", dev.pk)] == ["received"]
    assert site.result("dev", "alpha") is None  # the participant was told nothing is wrong
    (alert,) = site.alerts()  # once, not once per tick
    assert alert.startswith("[NeuCo worker] phase dev is not ready: its hidden labels cannot "
                            "be used\n")
    assert "python -m worker doctor" in alert
    assert bad.name.split("__")[0] not in alert and "not-a-number" not in alert

    fix_labels(bad)
    app.worker.poll_once()
    dev = one(app, "dev")
    assert (dev.status, dev.attempts) == ("finished", 1)
    assert site.result("dev", "alpha")["status"] == "finished"
    assert site.alerts()[-1].startswith("[NeuCo worker] resolved: phase dev is ready: its "
                                        "labels can be used again")
    assert app.store.open_alerts() == []


def test_labels_that_break_after_the_claim_give_the_claim_back_uncounted(
        site: Deployment, app: App):
    site.submit("dev", "alpha")
    delivery = app.source.receive()
    meta = app.source.describe(delivery.pk)
    app.pipeline.store.upsert_submission(app.pipeline._info(meta, datetime.now(UTC)))
    assert app.store.try_claim("inbox", meta.pk, app.worker_id, datetime.now(UTC), 900)
    break_labels(site, "dev")

    assert app.pipeline.evaluator.evaluate(meta) == "received"
    stored = app.store.get("inbox", meta.pk)
    assert (stored.status, stored.attempts, stored.error_kind) == ("received", 0, None)
    assert app.store.events("inbox", meta.pk)[-1].detail == "waiting: phase dev is not ready"
    assert site.result("dev", "alpha") is None


def test_a_dead_workers_claim_in_a_broken_phase_goes_back_to_waiting(site: Deployment, app: App):
    site.submit("dev", "alpha")
    meta = app.source.describe(app.source.receive().pk)
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    app.store.upsert_submission(app.pipeline._info(meta, long_ago))
    assert app.store.try_claim("inbox", meta.pk, "elsewhere:/data:run:1:x", long_ago, 60)
    break_labels(site, "dev")

    assert app.pipeline.reap_expired() == 1
    assert app.pipeline.reap_expired() == 0  # back to waiting: nothing left to reap
    stored = app.store.get("inbox", meta.pk)
    assert (stored.status, stored.attempts) == ("received", 1)  # the dead one's attempt only
    assert app.store.events("inbox", meta.pk)[-1].detail == "waiting: phase dev is not ready"


def test_a_received_file_that_vanishes_fails_with_a_message_not_stuck(site: Deployment,
                                                                       app: App):
    path = site.submit("final", "alpha")
    pk = app.source.receive().pk
    path.unlink()  # deleted between the scan and the scoring

    assert app.pipeline.process(pk) is True
    stored = app.store.get("inbox", pk)
    assert (stored.status, stored.error_kind, stored.reported) == ("failed", "participant", True)
    result = site.result("final", "alpha")
    assert result["status"] == "failed"
    assert ("The file emb.csv was removed from the inbox before it could be scored"
            in result["stdout"])


def test_a_linked_file_never_becomes_a_submission(site: Deployment, app: App):
    team = site.inbox / "final" / "alpha"
    team.mkdir(parents=True)
    (team / "labels.csv").symlink_to(site.label_file("final"))

    app.worker.poll_once()
    assert app.store.list_submissions() == []
    assert site.result("final", "alpha") is None


def run_cli(site: Deployment, command: str, capsys) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main([command, "--config", str(site.config)], env={"LOG_LEVEL": "ERROR"}, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_doctor_and_status_say_why_and_once_exits_2_when_no_phase_is_ready(site: Deployment,
                                                                            capsys):
    bad_dev = break_labels(site, "dev")
    (site.inbox / "final").mkdir(parents=True)
    (site.inbox / "final" / "stray.csv").write_text("id,0\n")
    code, out, _ = run_cli(site, "doctor", capsys)
    assert code == 1
    lines = out.splitlines()
    row = len(bad_dev.read_text().splitlines())
    assert (f"PROBLEM: phase dev is not ready (its submissions wait): {bad_dev.name}: line "
            f"{row}: label 'not-a-number' is not a number") in lines
    assert (f"PROBLEM: inbox: {site.inbox}/final/stray.csv: a file directly in the phase "
            "folder; submissions go into final/<team>/") in lines

    site.submit("dev", "alpha")
    code, _, err = run_cli(site, "once", capsys)  # final is ready: dev waits, exit 0
    assert code == 0, err
    code, out, _ = run_cli(site, "status", capsys)
    assert code == 0
    assert ("not ready: phase dev: its labels cannot be used, 1 submission(s) wait "
            "(`python -m worker doctor` says why)") in out.splitlines()
    assert "inbox, not read: final/stray.csv: a file directly in the phase folder" in out

    break_labels(site, "final")
    code, _, err = run_cli(site, "once", capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: 2 of 2 phase(s) are not ready, so nothing can be scored (the lines above say "
        "why; `doctor` lists every bad file): fix the labels, then start again")
