"""The breadth options through score_submission: MLP, multi-class, few-shot, grouped, SVM."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from scoring.config import ProbeConfig, probe_config_from_mapping
from scoring.engine import score_submission, task_groups, task_rows, task_splits
from scoring.labels import AnnotationError, Task
from scoring.reports import task_result
from tests.unit.scoring_data import table_from, tiny_tasks

BASE = {"k_folds": 6, "epochs": 4, "batch_size": 16, "learning_rate": 0.01}


def _with_groups(task: Task, n_groups: int = 8) -> Task:
    groups = tuple(f"r{int(i[1:]) % n_groups}" for i in task.ids)
    return dataclasses.replace(task, groups=groups)


@pytest.fixture(scope="module")
def challenge():
    tasks, ids, z = tiny_tasks()
    rng = np.random.default_rng(5)
    colour = np.digitize(z[:, 4] + 0.3 * rng.normal(size=len(ids)), [-0.5, 0.5])  # 3 classes
    mcls = Task("colour", "mcls", tuple(ids), colour.astype(float), classes=("r", "g", "b"))
    tasks = [_with_groups(t) for t in [*tasks, mcls]]
    good = np.hstack([z, rng.normal(size=(len(ids), 10))])
    return tasks, table_from(ids, good, tasks)


def _config(**extra) -> ProbeConfig:
    return probe_config_from_mapping({**BASE, **extra})


def test_mlp_probe_scores_every_kind(challenge):
    tasks, table = challenge
    mlp = _config(probe_type="mlp", probe_params={"hidden_units": 16}, epochs=30, k_folds=3)
    card, _ = score_submission(table, tasks, mlp, seed=3)
    for t in card.tasks:
        assert t.failed_splits == 0 and math.isfinite(t.q), t
    assert card.task("alpha").mean_score > 0.5  # a linear signal the MLP finds too
    # beta is |z| * 10 + noise: out of a linear probe's reach, not of an MLP's.
    linear, _ = score_submission(table, tasks[1:2], _config(epochs=30, k_folds=3), seed=3)
    assert linear.task("beta-two_x").mean_score < 0.0 < card.task("beta-two_x").mean_score
    again, _ = score_submission(table, tasks[3:], mlp, seed=3)
    assert again.tasks[0].split_scores == card.task("colour").split_scores


def test_multiclass_task_reports_macro_f1_accuracy_and_confusion(challenge):
    tasks, table = challenge
    card, _ = score_submission(table, tasks, _config(), seed=1)
    colour = card.task("colour")
    assert colour.kind == "mcls" and colour.metric == "macro_f1"
    assert 0.3 < colour.mean_score <= 1.0
    assert colour.report["macro_f1"] == pytest.approx(colour.mean_score)
    confusion = sum(v for k, v in colour.report.items() if k.startswith("confusion_"))
    assert confusion == 6 * 12  # K splits x ceil(0.1 * 120) test rows
    assert {"accuracy", "f1_class_r", "f1_class_g", "f1_class_b"} <= set(colour.report)
    # The binary and regression tasks are untouched by the multi-class one being there.
    alone, _ = score_submission(table, tasks[:3], _config(), seed=1)
    assert [t.split_scores for t in alone.tasks] == [t.split_scores for t in card.tasks[:3]]


def test_few_shot_trains_on_a_recorded_subset(challenge):
    tasks, table = challenge
    config = _config(train_fraction=0.1)
    card, _ = score_submission(table, tasks, config, seed=2)
    alpha = card.task("alpha")
    assert alpha.report["train_fraction"] == 0.1
    assert alpha.report["train_rows_mean"] == round(0.1 * 108)  # 120 rows - 12 test rows
    full, _ = score_submission(table, tasks, _config(), seed=2)
    assert alpha.mean_score < full.task("alpha").mean_score  # fewer labels, worse probe
    gamma = tasks[2]
    rows, labels = task_rows(table, gamma)
    splits = task_splits(gamma.name, gamma.kind, labels, task_groups(table, gamma), config, 2)
    for train in splits.train:
        assert set(labels[train]) == {0.0, 1.0}


def test_grouped_splits_hold_groups_out(challenge):
    tasks, table = challenge
    config = _config(split_mode="grouped")
    card, _ = score_submission(table, tasks, config, seed=4)
    for task in tasks:
        _, labels = task_rows(table, task)
        groups = task_groups(table, task)
        splits = task_splits(task.name, task.kind, labels, groups, config, 4)
        groups = np.array(groups)
        for train, test in zip(splits.train, splits.test, strict=True):
            assert set(groups[train]).isdisjoint(groups[test])
        score = card.task(task.name)
        assert score.k == 6 and math.isfinite(score.q)
        assert score.report["test_rows_mean"] == pytest.approx(
            np.mean([t.size for t in splits.test])
        )


def test_grouped_without_group_column_is_a_clear_error(challenge):
    tasks, table = challenge
    plain = Task("plain", "regr", tasks[0].ids, tasks[0].labels)
    with pytest.raises(AnnotationError, match="needs a 'group' column.*task 'plain' has none"):
        score_submission(table, [plain], _config(split_mode="grouped"), seed=0)


def test_svm_probe_runs_through_the_engine(challenge):
    tasks, table = challenge
    config = _config(
        probe_type="svm",
        k_folds=3,
        probe_params={
            "C_start_end": [0.01, 10],
            "kernel_degree_list": [2, 3],
            "kernel_gamma_start_end": [0.001, 1],
            "kernel_coef0_start_end": [-1, 2],
            "epsilon_list": [0.01, 0.1],
            "opt_params": {"n_iter": 6, "optimizer_kwargs": {"base_estimator": "RF",
                                                             "n_initial_points": 3}},
        },
    )
    card, _ = score_submission(table, tasks, config, seed=42)
    for t in card.tasks:
        assert t.k == 3 and math.isfinite(t.q), t
        assert all(1 <= e <= 6 for e in t.best_epochs)  # the best candidate of each split
        assert t.report["svm_best_degree"] in (2.0, 3.0)
        written = json.loads(json.dumps(task_result(t, config, 42)))["hyperparamaters"]
        assert written["degree"] in (2, 3) and isinstance(written["degree"], int), written
        assert isinstance(written["C"], float)
    assert card.task("alpha").mean_score > 0.5
