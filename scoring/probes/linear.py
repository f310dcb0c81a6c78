"""Train all K linear probes of one task together, as batched tensor operations. Pure (torch).

Axes: k splits (one probe each), n rows of the task, d embedding dims (+1 for the bias column),
m rows of one mini-batch window, t test rows of a split.

The protocol per probe: `Linear(d, 1)` with PyTorch's default initialisation (weight and bias
uniform in ±1/sqrt(d)), AdamW with PyTorch's defaults besides the learning rate (weight decay
0.01 on weight and bias, betas 0.9/0.999, eps 1e-8), mini-batches of `batch_size` in a fresh
random order every epoch, MSE loss (regr) or BCE-with-logits (cls); after every epoch the probe
is scored on its split's test rows and the split's score is the best over epochs.

The K probes are one parameter matrix P (k, d+1); the input gets a column of ones for the bias.
Two batching modes:

- `independent`: every probe draws its own permutation of its training rows each epoch and
  steps through exact batches of `batch_size` (the last one smaller) — the reference's batching,
  done as batched matrix-vector products over gathered rows (k, b, d). Memory-bound.
- `shared` (default): per epoch, ONE permutation of all n rows of the task is cut into
  S = ceil(n_train / batch_size) consecutive windows; at step s every probe trains on the rows of
  window s that are in its training set (its test rows are masked out). The windows are sized
  like the reference's batches: batch_size * n / n_train rows each, so that a probe finds about
  batch_size of its training rows in each, and the remainder in the last one (the reference's
  last batch is the remainder too). Each probe therefore still sees a uniformly random order of
  its own training rows every epoch, in the same number of steps per epoch as the reference,
  with batches of batch_size ± a few rows; but a step is one dense (m, d) x (d, k) product, so
  the K probes cost about as much as a few. docs/fidelity.md shows with numbers that the scores
  are statistically the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from scoring.metrics import f1_scores, r2_scores

BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
WEIGHT_DECAY = 0.01


@dataclass(frozen=True)
class ProbeSettings:
    kind: str  # "regr" | "cls"
    epochs: int
    batch_size: int
    learning_rate: float
    batching: str = "shared"
    probability_quirk: bool = True


@dataclass(frozen=True)
class ProbeRun:
    """What training K probes yields. Arrays are numpy on the CPU."""

    best_scores: np.ndarray  # (k,) float64, NaN where every epoch scored NaN
    best_epochs: np.ndarray  # (k,) int64, 1-based, 0 where failed
    best_test_pred: np.ndarray  # (k, t) float32, test predictions at the best epoch
    epoch_scores: np.ndarray  # (epochs, k) float64
    train_loss: np.ndarray  # (epochs, k) float64, mean batch loss per epoch
    test_loss: np.ndarray  # (epochs, k) float64


class _AdamW:
    """torch.optim.AdamW's update rule, applied to a (k, d+1) parameter matrix at once.

    On the CPU the update is torch's fused AdamW kernel (what `torch.optim.AdamW(fused=True)`
    runs): one pass over the four (k, d+1) matrices instead of eight element-wise operations,
    which saves about a sixth of a task's time. It computes the same update up to float32
    rounding (its second moment differs from the unfused steps by one ulp now and then;
    tests/unit/test_probe_equivalence.py); on the full-size final phase the task Q values moved
    by less than 1e-6 against the unfused engine (docs/fidelity.md).
    """

    def __init__(self, params: torch.Tensor, lr: float) -> None:
        self.p = params
        self.lr = lr
        self.m = torch.zeros_like(params)
        self.v = torch.zeros_like(params)
        self.t = 0
        self.fused = params.device.type == "cpu" and hasattr(torch, "_fused_adamw_")
        self._step = torch.zeros((), dtype=torch.float32)  # the fused kernel's step count

    def step(self, grad: torch.Tensor) -> None:
        self.t += 1
        if self.fused:
            self._step += 1
            torch._fused_adamw_(
                [self.p], [grad], [self.m], [self.v], [], [self._step],
                lr=self.lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=WEIGHT_DECAY,
                eps=ADAM_EPS, amsgrad=False, maximize=False,
            )  # fmt: skip
        else:
            self.step_unfused(grad)

    def step_unfused(self, grad: torch.Tensor) -> None:
        """The update as eight element-wise operations (any device); `t` already counts it."""
        b1, b2 = BETAS
        self.p.mul_(1.0 - self.lr * WEIGHT_DECAY)
        self.m.lerp_(grad, 1.0 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1.0 - b2)
        bias_correction1 = 1.0 - b1**self.t
        bias_correction2_sqrt = math.sqrt(1.0 - b2**self.t)
        denom = (self.v.sqrt() / bias_correction2_sqrt).add_(ADAM_EPS)
        self.p.addcdiv_(self.m, denom, value=-self.lr / bias_correction1)


def _loss_grad(z: torch.Tensor, y: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element loss and d(loss)/dz for logits/predictions z and targets y of equal shape."""
    if kind == "regr":
        r = z - y
        return r * r, 2.0 * r
    # BCE with logits, numerically stable: softplus(z) - y * z; gradient sigmoid(z) - y.
    return F.softplus(z) - y * z, torch.sigmoid(z) - y


def shared_window_bounds(n: int, n_train: int, batch_size: int) -> list[int]:
    """Where to cut a permutation of n rows into the S windows of one shared epoch."""
    steps = math.ceil(n_train / batch_size)
    return [round(j * batch_size * n / n_train) for j in range(1, steps)]


def initial_parameters(k: int, d: int, generator: torch.Generator) -> torch.Tensor:
    """(k, d+1): nn.Linear(d, 1)'s default init for weight and bias, U(-1/sqrt(d), 1/sqrt(d))."""
    bound = 1.0 / math.sqrt(d)
    return (torch.rand((k, d + 1), generator=generator) * 2.0 - 1.0) * bound


def _epoch_shared(
    x: torch.Tensor,
    y: torch.Tensor,
    train_mask: torch.Tensor,
    opt: _AdamW,
    bounds: list[int],
    kind: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """One epoch, shared row order. x (n, d+1), y (n,), train_mask (n, k). Returns loss (k,)."""
    n = x.shape[0]
    perm = torch.randperm(n, generator=generator).to(x.device)
    loss_sum = torch.zeros(train_mask.shape[1], dtype=torch.float64, device=x.device)
    steps = len(bounds) + 1
    for rows in torch.tensor_split(perm, bounds):
        xb = x.index_select(0, rows)  # (m, d+1)
        mb = train_mask.index_select(0, rows)  # (m, k)
        yb = y.index_select(0, rows).unsqueeze(1)  # (m, 1)
        count = mb.sum(dim=0).clamp_(min=1.0)  # (k,)
        z = xb @ opt.p.T  # (m, k)
        loss, dz = _loss_grad(z, yb, kind)
        weights = mb / count  # mean over each probe's own rows
        opt.step((dz * weights).T @ xb)  # (k, d+1)
        loss_sum += (loss * weights).sum(dim=0).double()
    return loss_sum / steps


def _epoch_independent(
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: torch.Tensor,
    opt: _AdamW,
    batch_size: int,
    kind: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """One epoch, own row order and exact batches per probe. train_idx (k, n_train)."""
    k, n_train = train_idx.shape
    order = torch.rand((k, n_train), generator=generator).argsort(dim=1).to(x.device)
    shuffled = train_idx.gather(1, order)  # (k, n_train)
    loss_sum = torch.zeros(k, dtype=torch.float64, device=x.device)
    steps = 0
    for start in range(0, n_train, batch_size):
        rows = shuffled[:, start : start + batch_size]  # (k, b)
        xb = x[rows]  # (k, b, d+1)
        yb = y[rows]  # (k, b)
        z = torch.bmm(xb, opt.p.unsqueeze(2)).squeeze(2)  # (k, b)
        loss, dz = _loss_grad(z, yb, kind)
        b = rows.shape[1]
        opt.step(torch.bmm((dz / b).unsqueeze(1), xb).squeeze(1))  # (k, d+1)
        loss_sum += loss.mean(dim=1).double()
        steps += 1
    return loss_sum / steps


def _test_scores(
    z: torch.Tensor, y: torch.Tensor, kind: str, quirk: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores and mean loss per split for test predictions z and targets y (k, t)."""
    loss, _ = _loss_grad(z, y, kind)
    scores = r2_scores(z, y) if kind == "regr" else f1_scores(z, y, quirk)
    return scores, loss.mean(dim=1).double()


def train_probes(
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    settings: ProbeSettings,
    generator: torch.Generator,
    on_epoch: Callable[[int], None] | None = None,
) -> ProbeRun:
    """Train K probes on x (n, d) float32 and y (n,) with the K splits given as index arrays."""
    device = x.device
    n, d = x.shape
    k, n_train = train_idx.shape
    x1 = torch.cat([x, torch.ones((n, 1), dtype=x.dtype, device=device)], dim=1)
    params = initial_parameters(k, d, generator).to(device=device, dtype=x.dtype)
    opt = _AdamW(params, settings.learning_rate)
    train_t = torch.from_numpy(train_idx).to(device)
    test_t = torch.from_numpy(test_idx).to(device)
    y_test = y[test_t]  # (k, t)
    bounds = shared_window_bounds(n, n_train, settings.batch_size)
    if settings.batching == "shared":
        train_mask = torch.zeros((n, k), dtype=x.dtype, device=device)
        train_mask[train_t, torch.arange(k, device=device).unsqueeze(1)] = 1.0

    best = torch.full((k,), float("-inf"), dtype=torch.float64, device=device)
    best_epoch = torch.zeros(k, dtype=torch.int64, device=device)
    best_pred = torch.zeros(test_idx.shape, dtype=x.dtype, device=device)
    epoch_scores = np.empty((settings.epochs, k))
    train_loss = np.empty((settings.epochs, k))
    test_loss = np.empty((settings.epochs, k))
    for epoch in range(settings.epochs):
        if settings.batching == "shared":
            tl = _epoch_shared(x1, y, train_mask, opt, bounds, settings.kind, generator)
        else:
            tl = _epoch_independent(
                x1, y, train_t, opt, settings.batch_size, settings.kind, generator
            )
        z_all = opt.p @ x1.T  # (k, n)
        z_test = z_all.gather(1, test_t)  # (k, t)
        scores, te_loss = _test_scores(z_test, y_test, settings.kind, settings.probability_quirk)
        improved = scores > best  # NaN never improves, as in the reference
        best = torch.where(improved, scores, best)
        best_epoch = torch.where(improved, torch.full_like(best_epoch, epoch + 1), best_epoch)
        best_pred[improved] = z_test[improved]
        epoch_scores[epoch] = scores.cpu().numpy()
        train_loss[epoch] = tl.cpu().numpy()
        test_loss[epoch] = te_loss.cpu().numpy()
        if on_epoch is not None:
            on_epoch(epoch + 1)

    best_np = best.cpu().numpy()
    best_np[np.isneginf(best_np)] = np.nan  # every epoch NaN: a failed split, counted as such
    return ProbeRun(
        best_scores=best_np,
        best_epochs=best_epoch.cpu().numpy(),
        best_test_pred=best_pred.cpu().numpy(),
        epoch_scores=epoch_scores,
        train_loss=train_loss,
        test_loss=test_loss,
    )
