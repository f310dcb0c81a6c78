"""Grouped splits, few-shot subsets, multi-class metrics and the breadth config keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupShuffleSplit

from scoring.config import ConfigError, load_probe_config, probe_config_from_mapping
from scoring.labels import AnnotationError, load_tasks
from scoring.multiclass import macro_f1_scores, multiclass_report
from scoring.splits import few_shot_size, few_shot_subset, grouped_splits

# The NeuCo-Bench reference's configs/sample_config_svm.yaml, key for key.
REFERENCE_SVM_YAML = """\
# Required configs
k_folds: 40
probe_type: "svm"
probe_params:
  C_start_end: [0.001, 1000]
  epsilon_list: [0.01, 0.05, 0.1, 0.5]
  kernel_degree_list: [2, 3]
  kernel_gamma_start_end: [0.0001, 10]
  kernel_coef0_start_end: [-1, 2]
  opt_params:
    n_iter: 50
    n_jobs: 1
    n_points: 1
    optimizer_kwargs:
      base_estimator: "RF"
      n_initial_points: 5
    verbose: 1

# Optional configs
embedding_dim: null
standardize_embeddings: true
normalize_labels: true
enable_plots: false
update_leaderboard: false
store_probes: false
task_filter: null
"""


@pytest.mark.parametrize(
    ("n", "n_groups", "k", "seed", "test_fraction"),
    [(200, 12, 10, 42, 0.1), (57, 5, 7, 3, 0.3), (1000, 40, 25, 2**31, 0.25), (30, 2, 4, 0, 0.5)],
)
def test_grouped_splits_equal_group_shuffle_split(n, n_groups, k, seed, test_fraction):
    rng = np.random.default_rng(seed % 1000)
    groups = np.array([f"g{int(i)}" for i in rng.integers(0, n_groups, n)])
    ours = grouped_splits(groups, k, seed, test_fraction)
    theirs = list(
        GroupShuffleSplit(n_splits=k, test_size=test_fraction, random_state=seed).split(
            np.zeros(n), groups=groups
        )
    )
    assert ours.k == k
    for (train, test), our_train, our_test in zip(theirs, ours.train, ours.test, strict=True):
        np.testing.assert_array_equal(our_train, train)
        np.testing.assert_array_equal(our_test, test)


def test_grouped_splits_never_put_a_group_on_both_sides():
    rng = np.random.default_rng(5)
    groups = np.array([f"region-{i:02d}" for i in rng.integers(0, 12, 500)])
    splits = grouped_splits(groups, 50, 9, 0.2)
    for train, test in zip(splits.train, splits.test, strict=True):
        assert set(groups[train]).isdisjoint(groups[test])
        assert np.union1d(train, test).size == 500  # every row is on one side
    assert splits.rectangular() is None or len({t.size for t in splits.test}) == 1


def test_grouped_splits_need_two_groups():
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        grouped_splits(["a"] * 10, 3, 0)


@pytest.mark.parametrize("fraction", [0.05, 0.1, 0.5, 1.0])
def test_few_shot_subset_sizes_and_membership(fraction):
    rng = np.random.default_rng(0)
    train = np.random.default_rng(1).permutation(900)[:810]
    subset = few_shot_subset(train, fraction, rng)
    assert subset.size == few_shot_size(810, fraction) == max(1, round(fraction * 810))
    assert np.isin(subset, train).all()
    assert np.unique(subset).size == subset.size
    order = np.array([np.flatnonzero(train == s)[0] for s in subset])
    assert (np.diff(order) > 0).all()  # the rows keep their order in the split's training set


def test_few_shot_subset_covers_every_class_even_when_tiny():
    classes = np.zeros(1000)
    classes[:3] = 1.0  # a rare positive class: 3 of 1,000
    classes[3:10] = 2.0
    train = np.arange(1000)
    for seed in range(20):
        subset = few_shot_subset(train, 0.005, np.random.default_rng(seed), classes)
        assert set(classes[subset]) == {0.0, 1.0, 2.0}
        assert subset.size == max(few_shot_size(1000, 0.005), 3)


def test_few_shot_subset_is_seeded():
    train = np.arange(300)
    a = few_shot_subset(train, 0.1, np.random.default_rng(7))
    b = few_shot_subset(train, 0.1, np.random.default_rng(7))
    c = few_shot_subset(train, 0.1, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(3)
    for trial in range(200):
        c = int(rng.integers(2, 7))
        m = int(rng.integers(1, 40))
        truth = rng.integers(0, c, m)
        pred = rng.integers(0, c, m) if trial % 3 else truth.copy()
        if trial % 5 == 0:
            pred[:] = 0  # a class never predicted, others absent from the truth
        ours = macro_f1_scores(torch.from_numpy(pred)[None], torch.from_numpy(truth)[None], c)
        expected = f1_score(truth, pred, average="macro", zero_division=0.0)
        assert ours.item() == pytest.approx(expected, abs=1e-12)


def test_multiclass_report_matches_scikit_learn():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, (6, 50))
    pred = np.where(rng.random((6, 50)) < 0.6, truth, rng.integers(0, 3, (6, 50)))
    report = multiclass_report(pred, truth, ("a", "b", "c"))
    assert report["accuracy"] == pytest.approx(
        np.mean([accuracy_score(t, p) for t, p in zip(truth, pred, strict=True)])
    )
    assert report["macro_f1"] == pytest.approx(
        np.mean([f1_score(t, p, average="macro") for t, p in zip(truth, pred, strict=True)])
    )
    per_class = np.array([f1_score(t, p, average=None) for t, p in zip(truth, pred, strict=True)])
    assert report["f1_class_b"] == pytest.approx(per_class[:, 1].mean())
    summed = confusion_matrix(truth.ravel(), pred.ravel())
    assert report["confusion_a_c"] == summed[0, 2]
    assert report["confusion_c_b"] == summed[2, 1]


def test_reference_svm_config_is_accepted_unchanged(tmp_path: Path):
    path = tmp_path / "sample_config_svm.yaml"
    path.write_text(REFERENCE_SVM_YAML)
    config = load_probe_config(path)
    assert config.probe_type == "svm" and config.svm is not None
    assert config.svm.c_range == (0.001, 1000.0)
    assert config.svm.degrees == (2, 3)
    assert config.svm.epsilons == (0.01, 0.05, 0.1, 0.5)
    assert config.svm.n_iter == 50
    assert config.svm.optimizer_kwargs == {"base_estimator": "RF", "n_initial_points": 5}
    assert config.as_reference_dict()["probe_params"]["kernel_coef0_start_end"] == [-1.0, 2.0]


def test_breadth_keys_validate_and_report_every_problem():
    with pytest.raises(ConfigError) as err:
        probe_config_from_mapping(
            {
                "probe_type": "mlp",
                "probe_params": {"hidden_units": 0},
                "train_fraction": 1.5,
                "split_mode": "regions",
            }
        )
    text = str(err.value)
    assert "hidden_units must be a positive whole number, got 0" in text
    assert "train_fraction must be a number in (0, 1], got 1.5" in text
    assert "split_mode must be one of random, grouped, got 'regions'" in text
    with pytest.raises(ConfigError, match="C_start_end is required"):
        probe_config_from_mapping({"probe_type": "svm", "probe_params": {"kernel_degree_list": 2}})
    with pytest.raises(ConfigError, match="opt_params.cv must not be given"):
        probe_config_from_mapping(
            {
                "probe_type": "svm",
                "probe_params": {"C_start_end": [1, 2], "kernel_degree_list": 2,
                                 "opt_params": {"cv": 3}},
            }
        )
    assert probe_config_from_mapping({"probe_type": "mlp"}).hidden_units == 256


def test_defaults_keep_the_fingerprint_of_earlier_configs():
    # Fingerprints computed by the engine before the breadth options existed.
    golden = Path(__file__).resolve().parents[3] / "shared" / "golden" / "config.yaml"
    if golden.exists():
        assert load_probe_config(golden).fingerprint() == "e5e89b6cd3e03361"
    assert probe_config_from_mapping({}).fingerprint() == "923d921cb10edb12"
    changed = {"k_folds": 200, "epochs": 20, "batching": "independent", "test_fraction": 0.2}
    assert probe_config_from_mapping(changed).fingerprint() == "c56ed89313548617"
    assert probe_config_from_mapping({**changed, "train_fraction": 0.1}).fingerprint() != (
        "c56ed89313548617"
    )


def test_multiclass_and_group_label_files(tmp_path: Path):
    (tmp_path / "land__mcls.csv").write_text(
        "id,label,group\na,forest,r1\nb,crop,r2\nc,forest,r1\nd,,r3\ne,water,r2\n"
    )
    (tmp_path / "digits__mcls.csv").write_text("id,label\na,10\nb,2\nc,2\n")
    land, digits = sorted(load_tasks(tmp_path), key=lambda t: t.name, reverse=True)
    assert land.classes == ("crop", "forest", "water")
    assert land.labels.tolist() == [1.0, 0.0, 1.0, 2.0]
    assert land.groups == ("r1", "r2", "r1", "r2")
    assert digits.classes == ("2", "10")  # integers in numeric order
    assert digits.labels.tolist() == [1.0, 0.0, 0.0]
    (tmp_path / "bad__mcls.csv").write_text("id,label\na,x\nb,x\n")
    with pytest.raises(AnnotationError, match="at least 2 classes"):
        load_tasks(tmp_path)
    (tmp_path / "bad__mcls.csv").write_text("id,label,group\na,x,\nb,y,r\n")
    with pytest.raises(AnnotationError, match="line 2 has an empty group"):
        load_tasks(tmp_path)
