"""Split scores and report metrics, batched over the split axis. Pure (torch / numpy).

Axes: k splits, m test rows of a split.

- R^2 follows torchmetrics' `R2Score` (what the reference uses): 1 - SS_res / SS_tot, except
  that an SS_res within 1e-4 of zero scores 1 and an SS_tot within 1e-4 of zero scores 0.
- F1 follows torchmetrics' `BinaryF1Score`: positive class 1, logits turned into probabilities
  with a sigmoid and thresholded at 0.5 (strictly greater), F1 = 0 without true and predicted
  positives. The reference's quirk: torchmetrics skips the sigmoid when every value of a split
  already lies in [0, 1]; `probability_quirk=True` reproduces it.
"""

from __future__ import annotations

import numpy as np
import torch

NEAR_ZERO = 1e-4


def r2_scores(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """R^2 per split: pred, target (k, m) -> (k,). Accumulated in float64."""
    pred = pred.double()
    target = target.double()
    rss = ((target - pred) ** 2).sum(dim=1)
    tss = ((target - target.mean(dim=1, keepdim=True)) ** 2).sum(dim=1)
    rss_zero = rss.abs() <= NEAR_ZERO
    tss_zero = tss.abs() <= NEAR_ZERO
    scores = 1.0 - rss / torch.where(tss_zero, torch.ones_like(tss), tss)
    scores = torch.where(tss_zero, torch.zeros_like(scores), scores)
    scores = torch.where(rss_zero, torch.ones_like(scores), scores)
    # A NaN prediction (diverged probe) must stay NaN, whatever the branches above chose.
    return torch.where(torch.isnan(rss), torch.full_like(scores, float("nan")), scores)


def positive_predictions(logits: torch.Tensor, probability_quirk: bool = True) -> torch.Tensor:
    """Predicted class 1 per element: logits (k, m) -> bool (k, m)."""
    by_sigmoid = logits > 0  # sigmoid(z) > 0.5  <=>  z > 0
    if not probability_quirk:
        return by_sigmoid
    in_unit = ((logits >= 0) & (logits <= 1)).all(dim=1, keepdim=True)
    return torch.where(in_unit, logits > 0.5, by_sigmoid)


def f1_scores(
    logits: torch.Tensor, target: torch.Tensor, probability_quirk: bool = True
) -> torch.Tensor:
    """Binary F1 per split: logits, 0/1 targets (k, m) -> (k,). NaN if a logit is NaN."""
    pos = positive_predictions(logits, probability_quirk)
    truth = target > 0.5
    tp = (pos & truth).sum(dim=1).double()
    fp = (pos & ~truth).sum(dim=1).double()
    fn = (~pos & truth).sum(dim=1).double()
    denom = 2 * tp + fp + fn
    scores = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))
    nan_rows = torch.isnan(logits).any(dim=1)
    return torch.where(nan_rows, torch.full_like(scores, float("nan")), scores)


def regression_report(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean over splits of MSE, MAE and R^2 (torchmetrics rule): pred, target (k, m)."""
    err = pred.astype(np.float64) - target
    r2 = r2_scores(torch.from_numpy(pred.astype(np.float64)), torch.from_numpy(target)).numpy()
    return {
        "mse": float(np.nanmean((err**2).mean(axis=1))),
        "mae": float(np.nanmean(np.abs(err).mean(axis=1))),
        "r2": float(np.nanmean(r2)),
    }


def _roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """ROC-AUC of one split by the rank-sum formula (ties get average ranks); NaN if one class."""
    n_pos = int(truth.sum())
    n_neg = truth.size - n_pos
    if n_pos == 0 or n_neg == 0 or np.isnan(scores).any():
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size, dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < scores.size:
        j = i
        while j + 1 < scores.size and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_report(
    logits: np.ndarray, target: np.ndarray, probability_quirk: bool = True
) -> dict[str, float]:
    """Mean over splits of F1, accuracy, precision, recall, ROC-AUC, plus the summed confusion
    matrix (tn, fp, fn, tp): logits, targets (k, m)."""
    pos = positive_predictions(torch.from_numpy(logits), probability_quirk).numpy()
    truth = target > 0.5
    tp = (pos & truth).sum(axis=1)
    fp = (pos & ~truth).sum(axis=1)
    fn = (~pos & truth).sum(axis=1)
    tn = (~pos & ~truth).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
        recall = np.where(tp + fn > 0, tp / np.maximum(tp + fn, 1), 0.0)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    aucs = np.array([_roc_auc(logits[i], truth[i]) for i in range(logits.shape[0])])
    report = {
        "f1": float(f1.mean()),
        "accuracy": float(((tp + tn) / truth.shape[1]).mean()),
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "roc_auc": float(np.nanmean(aucs)) if not np.isnan(aucs).all() else float("nan"),
        "confusion_tn": float(tn.sum()),
        "confusion_fp": float(fp.sum()),
        "confusion_fn": float(fn.sum()),
        "confusion_tp": float(tp.sum()),
    }
    return report
