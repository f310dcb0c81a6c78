"""Splits match scikit-learn's ShuffleSplit; metrics match torchmetrics / scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import ShuffleSplit
from torchmetrics.classification import BinaryF1Score
from torchmetrics.regression import R2Score

from scoring.metrics import classification_report, f1_scores, r2_scores, regression_report
from scoring.splits import random_splits, split_sizes


@pytest.mark.parametrize("n", [2, 10, 285, 839, 1140, 4691])
@pytest.mark.parametrize("seed", [0, 42, 123456])
def test_splits_identical_to_shuffle_split(n: int, seed: int):
    train, test = random_splits(n, 7, seed)
    expected = list(ShuffleSplit(n_splits=7, test_size=0.1, random_state=seed).split(np.zeros(n)))
    for i, (tr, te) in enumerate(expected):
        np.testing.assert_array_equal(train[i], tr)
        np.testing.assert_array_equal(test[i], te)


def test_split_sizes_round_the_test_share_up_like_sklearn():
    assert split_sizes(1140) == (1026, 114)
    assert split_sizes(4691) == (4221, 470)  # ceil(469.1)
    assert split_sizes(10) == (9, 1)


def test_too_few_rows_to_split():
    with pytest.raises(ValueError, match="1 rows cannot be split"):
        split_sizes(1)


def test_r2_matches_torchmetrics_including_degenerate_targets():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand((6, 30), generator=gen)
    pred = target + 0.3 * torch.randn((6, 30), generator=gen)
    target[3] = 0.5  # constant target: torchmetrics scores 0
    pred[4] = target[4]  # exact prediction: 1
    target[5, :] = 0.0
    target[5, 0] = 0.001  # SS_tot below 1e-4: 0, not hugely negative
    ours = r2_scores(pred, target)
    for i in range(6):
        expected = R2Score()(pred[i], target[i]).item()
        assert ours[i].item() == pytest.approx(expected, abs=1e-5), i


def test_r2_nan_prediction_is_nan():
    target = torch.rand((1, 10))
    pred = target.clone()
    pred[0, 3] = float("nan")
    assert torch.isnan(r2_scores(pred, target)).all()


def test_f1_matches_torchmetrics_with_and_without_the_probability_quirk():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn((5, 40), generator=gen) * 2
    logits[2] = torch.rand(40, generator=gen)  # all in [0, 1]: torchmetrics skips the sigmoid
    target = (torch.rand((5, 40), generator=gen) > 0.7).float()
    target[4] = 0.0
    logits[4] = -1.0  # no true and no predicted positives: F1 = 0
    ours = f1_scores(logits, target, probability_quirk=True)
    for i in range(5):
        expected = BinaryF1Score()(logits[i], target[i].long()).item()
        assert ours[i].item() == pytest.approx(expected, abs=1e-7), i
    plain = f1_scores(logits, target, probability_quirk=False)
    probs = torch.sigmoid(logits[2])
    assert plain[2].item() == pytest.approx(
        f1_score(target[2].numpy(), (probs > 0.5).numpy(), zero_division=0.0)
    )


def test_classification_report_matches_sklearn():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 50)).astype(np.float32)
    target = (rng.random((4, 50)) > 0.6).astype(np.float64)
    report = classification_report(logits, target, probability_quirk=False)
    pred = logits > 0
    assert report["accuracy"] == pytest.approx(
        np.mean([accuracy_score(target[i], pred[i]) for i in range(4)])
    )
    assert report["precision"] == pytest.approx(
        np.mean([precision_score(target[i], pred[i], zero_division=0) for i in range(4)])
    )
    assert report["recall"] == pytest.approx(
        np.mean([recall_score(target[i], pred[i], zero_division=0) for i in range(4)])
    )
    assert report["roc_auc"] == pytest.approx(
        np.mean([roc_auc_score(target[i], logits[i]) for i in range(4)])
    )
    assert report["confusion_tp"] + report["confusion_fn"] == target.sum()


def test_regression_report_values():
    pred = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    target = np.array([[0.0, 1.0, 4.0], [0.0, 1.0, 2.0]])
    report = regression_report(pred, target)
    assert report["mse"] == pytest.approx((4 / 3 + 2 / 3) / 2)
    assert report["mae"] == pytest.approx((2 / 3 + 2 / 3) / 2)
