"""Multi-class split scores and report metrics, batched over the split axis. Pure (torch / numpy).

Axes: k splits, m test rows of a split, c classes of the task.

The split score is macro-F1 as scikit-learn's `f1_score(average="macro")` computes it: the
unweighted mean of the per-class F1 = 2 tp / (2 tp + fp + fn) over the classes that occur in the
split's true or predicted labels (a class absent from both has no F1 and is left out).
"""

from __future__ import annotations

import numpy as np
import torch


def class_counts(
    pred: torch.Tensor, target: torch.Tensor, n_classes: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """tp, fp, fn per split and class: predicted and true class indices (k, m) -> (k, c) each."""
    classes = torch.arange(n_classes, device=pred.device)
    p = pred.unsqueeze(2) == classes  # (k, m, c)
    t = target.unsqueeze(2) == classes
    tp = (p & t).sum(dim=1).double()
    fp = (p & ~t).sum(dim=1).double()
    fn = (~p & t).sum(dim=1).double()
    return tp, fp, fn


def macro_f1_scores(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Macro-F1 per split: predicted and true class indices (k, m) -> (k,)."""
    tp, fp, fn = class_counts(pred, target, n_classes)
    denom = 2 * tp + fp + fn  # 0 exactly for the classes absent from truth and prediction
    present = denom > 0
    f1 = torch.where(present, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))
    return f1.sum(dim=1) / present.sum(dim=1).clamp(min=1)


def multiclass_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Macro-F1 per split from logits (k, m, c) and class indices (k, m); NaN if a logit is NaN."""
    scores = macro_f1_scores(logits.argmax(dim=2), target.long(), logits.shape[2])
    nan_rows = torch.isnan(logits).flatten(1).any(dim=1)
    return torch.where(nan_rows, torch.full_like(scores, float("nan")), scores)


def multiclass_report(
    pred: np.ndarray, target: np.ndarray, classes: tuple[str, ...]
) -> dict[str, float]:
    """Mean over splits of macro-F1, accuracy and each class's F1 (over the splits where the
    class occurs), plus the confusion matrix summed over splits as `confusion_<true>_<pred>`.
    pred, target: class indices (k, m)."""
    c = len(classes)
    p = torch.from_numpy(pred.astype(np.int64))
    t = torch.from_numpy(target.astype(np.int64))
    tp, fp, fn = (a.numpy() for a in class_counts(p, t, c))
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(denom > 0, 2 * tp / denom, np.nan)  # (k, c)
    report = {
        "macro_f1": float(macro_f1_scores(p, t, c).double().mean()),
        "accuracy": float((pred == target).mean(axis=1).mean()),
    }
    for i, name in enumerate(classes):
        column = per_class[:, i]
        report[f"f1_class_{name}"] = (
            float(np.nanmean(column)) if not np.isnan(column).all() else float("nan")
        )
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (target.astype(np.int64).ravel(), pred.astype(np.int64).ravel()), 1)
    for i, true_name in enumerate(classes):
        for j, pred_name in enumerate(classes):
            report[f"confusion_{true_name}_{pred_name}"] = float(confusion[i, j])
    return report
