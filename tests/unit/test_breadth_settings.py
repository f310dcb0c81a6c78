"""The breadth options per phase in the challenge YAML, and the doctor's check of groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.config import ConfigError
from worker.doctor import doctor_problems
from worker.settings import settings_from

SVM_PROBE = {
    "k_folds": 10,
    "probe_type": "svm",
    "probe_params": {
        "C_start_end": [0.001, 1000],
        "kernel_degree_list": [2, 3],
        "opt_params": {"n_iter": 20, "optimizer_kwargs": {"base_estimator": "RF"}},
    },
}


def _raw(tmp_path: Path, dev_probe: dict, final_probe: dict) -> dict:
    return {
        "source": "inbox",
        "data_dir": str(tmp_path / "var"),
        "leaderboard": {"enabled": False},
        "phases": {
            "dev": {"annotations": "labels/dev", "probe": dev_probe},
            "final": {"annotations": "labels/final", "probe": final_probe},
        },
    }


def test_each_phase_takes_its_own_probe_and_split_options(tmp_path: Path):
    dev = {"k_folds": 40, "probe_type": "mlp", "probe_params": {"hidden_units": 64},
           "train_fraction": 0.1, "split_mode": "grouped"}
    settings = settings_from(_raw(tmp_path, dev, SVM_PROBE), {}, tmp_path)
    dev_probe, final_probe = settings.phases["dev"].probe, settings.phases["final"].probe
    assert (dev_probe.probe_type, dev_probe.hidden_units) == ("mlp", 64)
    assert (dev_probe.train_fraction, dev_probe.split_mode) == (0.1, "grouped")
    assert final_probe.probe_type == "svm" and final_probe.svm is not None
    assert final_probe.svm.n_iter == 20 and final_probe.svm.degrees == (2, 3)
    assert (final_probe.train_fraction, final_probe.split_mode) == (1.0, "random")


def test_bad_breadth_options_are_reported_with_their_phase(tmp_path: Path):
    raw = _raw(tmp_path, {"probe_type": "knn", "train_fraction": 0},
               {"probe_type": "svm", "probe_params": {"C_start_end": [5, 1]}})
    with pytest.raises(ConfigError) as info:
        settings_from(raw, {}, tmp_path)
    problems = "\n".join(info.value.problems)
    assert "phases.dev.probe: probe_type must be one of linear, mlp, svm, got 'knn'" in problems
    assert "phases.dev.probe: train_fraction must be a number in (0, 1], got 0" in problems
    assert "phases.final.probe: probe_params.kernel_degree_list is required" in problems


def test_doctor_reports_a_grouped_phase_without_group_columns(tmp_path: Path):
    for phase, header in (("dev", "id,label,group"), ("final", "id,label")):
        folder = tmp_path / "labels" / phase
        folder.mkdir(parents=True)
        rows = "\n".join(f"s{i},{i % 3},r{i % 4}" if "group" in header else f"s{i},{i % 3}"
                         for i in range(20))
        (folder / "crops__regr.csv").write_text(f"{header}\n{rows}\n")
        folder.chmod(0o750)
    grouped = {"split_mode": "grouped", "embedding_dim": 8}
    settings = settings_from(_raw(tmp_path, grouped, grouped), {}, tmp_path)
    problems, _ = doctor_problems(settings)
    assert "phase final: probe.split_mode is grouped but crops has no 'group' column" in problems
    assert not any(p.startswith("phase dev:") for p in problems)
