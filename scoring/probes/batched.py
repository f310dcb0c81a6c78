"""Train K small networks of one task together with autograd: the MLP probe and the softmax
(multi-class) linear probe. Pure (torch).

Axes: k splits (one network each), n rows of the task, d embedding dims (+1 for the bias
column), h hidden units, o outputs (1 for regr/cls, c classes for mcls), m rows of a shared
mini-batch window, b rows of an independent batch, t test rows of a split.

Each network's weights are a slice of batched parameter tensors ((k, d+1, h), (k, h+1, o)), so
one einsum runs all K networks; the loss is the sum over networks of each network's own mean
loss, so every network's gradient is its own, and torch's AdamW (elementwise, weight decay
0.01, betas 0.9/0.999, eps 1e-8) is exactly K independent optimisers. Initialisation,
batching (shared windows or independent batches), per-epoch test scoring and the best-epoch
selection follow the linear probe (scoring/probes/linear.py).

- MLP: `Linear(d, h)` -> ReLU -> `Linear(h, o)`, PyTorch's default initialisation.
- Softmax linear probe: `Linear(d, c)` with cross-entropy (probe_type linear on an mcls task).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from scoring.metrics import f1_scores, r2_scores
from scoring.multiclass import multiclass_scores
from scoring.probes.linear import (
    ADAM_EPS,
    BETAS,
    WEIGHT_DECAY,
    ProbeRun,
    ProbeSettings,
    shared_window_bounds,
)

EVAL_CHUNK = 16  # networks scored at once on their gathered test rows (bounds memory)


class BatchedNetworks:
    """K networks with one optional hidden layer, as batched parameter tensors."""

    def __init__(
        self, k: int, d: int, hidden: int | None, outputs: int, generator: torch.Generator
    ) -> None:
        def layer(fan_in: int, fan_out: int) -> torch.Tensor:
            # nn.Linear's default: weight and bias uniform in +-1/sqrt(fan_in).
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand((k, fan_in + 1, fan_out), generator=generator) * 2.0 - 1.0) * bound
            return w.requires_grad_(True)

        self.hidden = hidden
        self.layers = [layer(d, hidden), layer(hidden, outputs)] if hidden else [layer(d, outputs)]

    def to(self, device: torch.device, dtype: torch.dtype) -> BatchedNetworks:
        self.layers = [
            w.detach().to(device=device, dtype=dtype).requires_grad_(True) for w in self.layers
        ]
        return self

    def forward(self, x1: torch.Tensor, nets: slice = slice(None)) -> torch.Tensor:
        """x1 (m, d+1) shared by all networks, or (k, b, d+1) per network -> (k, rows, o);
        `nets` selects a range of the K networks."""
        w = self.layers[0][nets]
        z = torch.einsum("md,kdo->kmo", x1, w) if x1.dim() == 2 else torch.bmm(x1, w)
        if self.hidden is None:
            return z
        w2 = self.layers[1][nets]
        return torch.bmm(F.relu(z), w2[:, :-1, :]) + w2[:, -1:, :]


def _losses(z: torch.Tensor, y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-row loss (k, rows) for outputs z (k, rows, o) and targets y (k, rows) or (rows,)."""
    if kind == "mcls":
        target = y.long().expand(z.shape[0], -1) if y.dim() == 1 else y.long()
        return torch.logsumexp(z, dim=2) - z.gather(2, target.unsqueeze(2)).squeeze(2)
    out = z.squeeze(2)
    if kind == "regr":
        return (out - y) ** 2
    return F.softplus(out) - y * out  # BCE with logits


def _scores(z: torch.Tensor, y: torch.Tensor, settings: ProbeSettings) -> torch.Tensor:
    if settings.kind == "mcls":
        return multiclass_scores(z, y)
    if settings.kind == "regr":
        return r2_scores(z.squeeze(2), y)
    return f1_scores(z.squeeze(2), y, settings.probability_quirk)


def _test_outputs(
    nets: BatchedNetworks, x1: torch.Tensor, test_t: torch.Tensor
) -> torch.Tensor:
    """(k, t, o) outputs of every network on its own test rows, a few networks at a time."""
    outs = []
    for start in range(0, test_t.shape[0], EVAL_CHUNK):
        chunk = slice(start, start + EVAL_CHUNK)
        outs.append(nets.forward(x1[test_t[chunk]], chunk))  # x1 rows gathered: (c, t, d+1)
    return torch.cat(outs, dim=0)


def train_networks(
    x: torch.Tensor,
    y: torch.Tensor,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    settings: ProbeSettings,
    generator: torch.Generator,
    hidden: int | None,
    n_classes: int = 0,
    on_epoch: Callable[[int], None] | None = None,
) -> ProbeRun:
    """Train K networks on x (n, d) float32 and y (n,) (class indices for mcls).

    `best_test_pred` holds the regression outputs / logits (regr, cls) or predicted class
    indices (mcls) at each split's best epoch."""
    device = x.device
    n, d = x.shape
    k, n_train = train_idx.shape
    outputs = n_classes if settings.kind == "mcls" else 1
    x1 = torch.cat([x, torch.ones((n, 1), dtype=x.dtype, device=device)], dim=1)
    nets = BatchedNetworks(k, d, hidden, outputs, generator).to(device, x.dtype)
    opt = torch.optim.AdamW(
        nets.layers,
        lr=settings.learning_rate,
        betas=BETAS,
        eps=ADAM_EPS,
        weight_decay=WEIGHT_DECAY,
    )
    train_t = torch.from_numpy(train_idx).to(device)
    test_t = torch.from_numpy(test_idx).to(device)
    y_test = y[test_t]  # (k, t)
    bounds = shared_window_bounds(n, n_train, settings.batch_size)
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
            tl = _epoch_shared(nets, opt, x1, y, train_mask, bounds, settings.kind, generator)
        else:
            tl = _epoch_independent(
                nets, opt, x1, y, train_t, settings.batch_size, settings.kind, generator
            )
        with torch.no_grad():
            z_test = _test_outputs(nets, x1, test_t)  # (k, t, o)
            scores = _scores(z_test, y_test, settings)
            te_loss = _losses(z_test, y_test, settings.kind).mean(dim=1).double()
            pred = z_test.argmax(dim=2).to(x.dtype) if settings.kind == "mcls" else z_test[..., 0]
        improved = scores > best  # NaN never improves, as in the reference
        best = torch.where(improved, scores, best)
        best_epoch = torch.where(improved, torch.full_like(best_epoch, epoch + 1), best_epoch)
        best_pred[improved] = pred[improved]
        epoch_scores[epoch] = scores.cpu().numpy()
        train_loss[epoch] = tl.cpu().numpy()
        test_loss[epoch] = te_loss.cpu().numpy()
        if on_epoch is not None:
            on_epoch(epoch + 1)

    best_np = best.cpu().numpy()
    best_np[np.isneginf(best_np)] = np.nan
    return ProbeRun(
        best_scores=best_np,
        best_epochs=best_epoch.cpu().numpy(),
        best_test_pred=best_pred.cpu().numpy(),
        epoch_scores=epoch_scores,
        train_loss=train_loss,
        test_loss=test_loss,
    )


def _epoch_shared(
    nets: BatchedNetworks,
    opt: torch.optim.Optimizer,
    x1: torch.Tensor,
    y: torch.Tensor,
    train_mask: torch.Tensor,
    bounds: list[int],
    kind: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """One epoch over shared windows of one row order; returns the mean batch loss (k,)."""
    n = x1.shape[0]
    perm = torch.randperm(n, generator=generator).to(x1.device)
    loss_sum = torch.zeros(train_mask.shape[1], dtype=torch.float64, device=x1.device)
    for rows in torch.tensor_split(perm, bounds):
        weights = train_mask.index_select(0, rows).T  # (k, m)
        weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        per_row = _losses(nets.forward(x1.index_select(0, rows)), y.index_select(0, rows), kind)
        per_net = (per_row * weights).sum(dim=1)  # (k,) each network's mean over its rows
        opt.zero_grad(set_to_none=True)
        per_net.sum().backward()
        opt.step()
        loss_sum += per_net.detach().double()
    return loss_sum / (len(bounds) + 1)


def _epoch_independent(
    nets: BatchedNetworks,
    opt: torch.optim.Optimizer,
    x1: torch.Tensor,
    y: torch.Tensor,
    train_t: torch.Tensor,
    batch_size: int,
    kind: str,
    generator: torch.Generator,
) -> torch.Tensor:
    """One epoch, own row order and exact batches per network. train_t (k, n_train)."""
    k, n_train = train_t.shape
    order = torch.rand((k, n_train), generator=generator).argsort(dim=1).to(x1.device)
    shuffled = train_t.gather(1, order)
    loss_sum = torch.zeros(k, dtype=torch.float64, device=x1.device)
    steps = 0
    for start in range(0, n_train, batch_size):
        rows = shuffled[:, start : start + batch_size]  # (k, b)
        per_net = _losses(nets.forward(x1[rows]), y[rows], kind).mean(dim=1)  # (k,)
        opt.zero_grad(set_to_none=True)
        per_net.sum().backward()
        opt.step()
        loss_sum += per_net.detach().double()
        steps += 1
    return loss_sum / steps
