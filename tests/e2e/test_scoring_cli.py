"""The standalone CLI as a user runs it: `python -m scoring evaluate|summarize` in a subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import make_challenge, spec_for_size, write_challenge

ROOT = Path(__file__).resolve().parents[2]

# The reference's sample config (configs/sample_config_linear.yaml), unchanged but for a
# smaller K and fewer epochs to keep the test quick.
SAMPLE_CONFIG = """\
# Required configs
k_folds: 6
probe_type: "linear"
probe_params:
  batch_size: 64
  epochs: 3
  learning_rate: 0.001
  device: "auto"

# Optional configs
embedding_dim: null
standardize_embeddings: true
normalize_labels: true
enable_plots: false
update_leaderboard: false
store_probes: false
task_filter: null #eg. ["biomass_mean", "biomass_std"]
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def challenge(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("challenge")
    write_challenge(make_challenge(spec_for_size("tiny", seed=3)), root, gzip_submissions=True)
    (root / "config.yaml").write_text(SAMPLE_CONFIG)
    return root


def evaluate(challenge: Path, out: Path, team: str, *extra: str) -> subprocess.CompletedProcess:
    return run(
        "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(challenge / "submissions" / f"{team}.csv.gz"),
        "--output_dir", str(out),
        "--config", str(challenge / "config.yaml"),
        "--phase", "final",
        *extra,
        cwd=challenge,
    )


def test_evaluate_writes_the_reference_layout(challenge: Path, tmp_path: Path):
    proc = evaluate(challenge, tmp_path, "strong", "--method_name", "my-method")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "final").iterdir()
    assert run_dir.name.startswith("my-method_")
    summary = json.loads((run_dir / "results_summary.json").read_text())
    assert summary["experiment"] == run_dir.name
    assert set(summary) >= {
        "experiment", "overall_q_score", "overall_acc_score", "task_q_scores",
        "task_acc_scores", "config", "seed",
    }
    assert summary["seed"] == 42
    assert len(summary["task_q_scores"]) == 9
    task = json.loads((run_dir / "crops" / "crops_result.json").read_text())
    assert set(task) >= {"q_stat", "mean_score", "std_dev", "hyperparamaters", "seed"}
    assert len(task["split_scores"]) == 6
    assert task["q_stat"] == pytest.approx(summary["task_q_scores"]["crops"])
    assert "mean Q" in proc.stdout
    assert proc.stderr == ""  # not a TTY: no progress bar


def test_same_seed_reproduces_every_number(challenge: Path, tmp_path: Path):
    for out in ("a", "b"):
        assert evaluate(challenge, tmp_path / out, "medium", "--seed", "77").returncode == 0
    a, b = (
        json.loads(next((tmp_path / o / "final").iterdir()).joinpath("results_summary.json")
                   .read_text())
        for o in ("a", "b")
    )
    assert a["task_q_scores"] == b["task_q_scores"]
    assert a["seed"] == b["seed"] == 77


def test_summarize_writes_the_phase_leaderboard(challenge: Path, tmp_path: Path):
    for team in ("strong", "weak", "baseline_random"):
        assert evaluate(challenge, tmp_path, team).returncode == 0
    proc = run("summarize", "--output_dir", str(tmp_path), "--phase", "final", cwd=challenge)
    assert proc.returncode == 0, proc.stderr
    (path,) = (tmp_path / "leaderboards" / "final").glob("leaderboard_*.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    header = list(rows[0])
    assert header[:4] == ["experiment", "mean_score", "weighted_score", "aggregated_rank"]
    assert header[-2:] == ["overall_q_score", "overall_acc_score"]
    assert sum(h.startswith("q::") for h in header) == 9
    assert sum(h.startswith("acc::") for h in header) == 9
    assert sorted(r["experiment"].split("_20")[0] for r in rows) == [
        "baseline_random", "strong", "weak"
    ]
    weighted = [float(r["weighted_score"]) for r in rows]
    assert weighted == sorted(weighted)
    assert int(rows[0]["aggregated_rank"]) == 1
    for r in rows:
        qs = [float(v) for k, v in r.items() if k.startswith("q::")]
        assert float(r["mean_score"]) == pytest.approx(sum(qs) / len(qs))


def test_rejected_submission_exits_3_with_the_reason(challenge: Path, tmp_path: Path):
    bad = challenge / "submissions" / "bad.csv"
    bad.write_text("id,0,1\nx,1,abc\n")
    proc = run(
        "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(bad),
        "--output_dir", str(tmp_path),
        "--config", str(challenge / "config.yaml"),
        "--strict",
        cwd=challenge,
    )
    assert proc.returncode == 3
    assert "line 2, column '1': 'abc' is not a number" in proc.stderr


def test_broken_config_lists_every_problem(challenge: Path, tmp_path: Path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("k_folds: 0\nprobe_type: knn\nepoch: 3\nprobe_params:\n  batch_size: -1\n")
    proc = run(
        "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(challenge / "submissions" / "strong.csv.gz"),
        "--config", str(cfg),
        cwd=challenge,
    )
    assert proc.returncode == 2
    assert "has 4 problem(s)" in proc.stderr
    assert "unknown key 'epoch' (did you mean 'epochs'?)" in proc.stderr
    assert "probe_type must be one of linear, mlp, svm, got 'knn'" in proc.stderr
    assert "k_folds must be a positive whole number, got 0" in proc.stderr
    assert "batch_size must be a positive whole number, got -1" in proc.stderr


def test_bad_annotation_folder(challenge: Path, tmp_path: Path):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "biomass.csv").write_text("id,label\na,1\n")
    proc = run(
        "evaluate",
        "--annotation_path", str(folder),
        "--submission_file", str(challenge / "submissions" / "strong.csv.gz"),
        "--config", str(challenge / "config.yaml"),
        cwd=challenge,
    )
    assert proc.returncode == 4
    assert "biomass.csv: label files must be named <task>__<regr|cls|mcls>.csv" in proc.stderr


def test_plots_are_written_when_enabled(challenge: Path, tmp_path: Path):
    cfg = tmp_path / "plots.yaml"
    cfg.write_text(SAMPLE_CONFIG.replace("enable_plots: false", "enable_plots: true")
                   .replace('task_filter: null #eg. ["biomass_mean", "biomass_std"]',
                            'task_filter: ["crops", "random_cls"]'))
    proc = run(
        "evaluate",
        "--annotation_path", str(challenge / "phases" / "final" / "annotations"),
        "--submission_file", str(challenge / "submissions" / "strong.csv.gz"),
        "--output_dir", str(tmp_path / "out"),
        "--config", str(cfg),
        cwd=challenge,
    )
    assert proc.returncode == 0, proc.stderr
    pngs = sorted(p.name for p in (tmp_path / "out").rglob("*.png"))
    assert pngs == [
        "crops_learning_curves.png", "crops_parity.png",
        "random_cls_confusion_matrix.png", "random_cls_learning_curves.png",
    ]
    for p in (tmp_path / "out").rglob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_exclude_file_is_a_usage_error_not_a_rejected_submission(
    challenge: Path, tmp_path: Path
):
    proc = evaluate(challenge, tmp_path, "strong", "--exclude_file", str(tmp_path / "nope.txt"))
    assert proc.returncode == 4
    assert f"error: exclude file not found: {tmp_path / 'nope.txt'}" in proc.stderr


def test_analyze_writes_the_post_reveal_analysis(challenge: Path, tmp_path: Path):
    for team in ("strong", "weak", "baseline_random"):
        assert evaluate(challenge, tmp_path, team, "--method_name", team).returncode == 0
    proc = run(
        "analyze", "--output_dir", str(tmp_path), "--phase", "final", "--max-dimensions", "2",
        "--baseline", "baseline_random", "--hold-out", "strong:crops", "--resamples", "1000",
        cwd=challenge,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "analysis" / "final"
    assert sorted(p.name for p in folder.iterdir()) == [
        "analysis.json", "capability_fit.png", "capability_map.png", "rank_blobs.png",
        "rank_tau.png", "report.md", "task_agreement.png",
    ]  # fmt: skip
    assert "held-out RMSE of the gap" in proc.stdout
    assert "predicted strong" in proc.stdout and "true Q" in proc.stdout
    assert "(baseline)" in proc.stdout and "total" in proc.stdout
    doc = json.loads((folder / "analysis.json").read_text())
    assert sorted(doc["entries"]) == ["baseline_random", "strong", "weak"]
    assert doc["baselines"] == ["baseline_random"]
    (checked,) = doc["capability_map"]["predictions"]
    assert (checked["entry"], checked["task"]) == ("strong", "crops")
    strong = next(p for p in (tmp_path / "final").iterdir() if p.name.startswith("strong_"))
    truth = json.loads((strong / "results_summary.json").read_text())["task_q_scores"]["crops"]
    assert checked["true_score"] == pytest.approx(truth, rel=1e-5)

    again = run("analyze", "--output_dir", str(tmp_path), "--phase", "final",
                "--hold-out", "nobody:crops", cwd=challenge)  # fmt: skip
    assert again.returncode == 2
    assert "no single entry named 'nobody'" in again.stderr
