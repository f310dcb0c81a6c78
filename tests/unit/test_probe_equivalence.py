"""The batched probe engine computes exactly what K sequential PyTorch trainings compute.

Each test rebuilds the batches the engine drew (same generator, same draws) and trains the K
probes one by one with `nn.Linear` + `torch.optim.AdamW` + the reference's losses, then
compares the best split scores and epochs. Agreement to float32 rounding shows that the
initialisation, the AdamW update, the losses, the masking of test rows and the best-epoch
selection are the protocol's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from scoring.metrics import f1_scores, r2_scores
from scoring.probes.linear import (
    ProbeSettings,
    initial_parameters,
    shared_window_bounds,
    train_probes,
)
from scoring.splits import random_splits

N, D, K, EPOCHS, BATCH = 90, 12, 5, 4, 16


def data(kind: str):
    gen = torch.Generator().manual_seed(7)
    x = torch.randn((N, D), generator=gen)
    w = torch.randn(D, generator=gen)
    signal = x @ w
    if kind == "regr":
        y = signal + 0.5 * torch.randn(N, generator=gen)
        y = (y - y.min()) / (y.max() - y.min())
    else:
        y = (signal > 0.8).float()
    return x, y


def sequential_reference(x, y, train_idx, test_idx, kind, batches_per_epoch):
    """Train each split's probe alone with PyTorch's own modules, on the given batches."""
    gen = torch.Generator().manual_seed(11)
    params0 = initial_parameters(K, D, gen)
    loss_fn = nn.MSELoss() if kind == "regr" else nn.BCEWithLogitsLoss()
    best, best_epoch = [], []
    for k in range(K):
        model = nn.Linear(D, 1)
        with torch.no_grad():
            model.weight.copy_(params0[k, :D].unsqueeze(0))
            model.bias.copy_(params0[k, D:])
        opt = torch.optim.AdamW(model.parameters(), lr=0.01)
        top, top_epoch = -math.inf, 0
        for epoch in range(EPOCHS):
            for rows in batches_per_epoch[epoch][k]:
                pred = model(x[rows]).view(-1)
                loss = loss_fn(pred, y[rows])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                z = model(x[test_idx[k]]).view(1, -1)
                t = y[test_idx[k]].view(1, -1)
                score = (r2_scores(z, t) if kind == "regr" else f1_scores(z, t))[0].item()
            if score > top:
                top, top_epoch = score, epoch + 1
        best.append(top)
        best_epoch.append(top_epoch)
    return np.array(best), np.array(best_epoch)


def independent_batches(train_idx):
    gen = torch.Generator().manual_seed(11)
    initial_parameters(K, D, gen)  # the engine draws the initialisation first
    n_train = train_idx.shape[1]
    out = []
    for _ in range(EPOCHS):
        order = torch.rand((K, n_train), generator=gen).argsort(dim=1)
        shuffled = torch.from_numpy(train_idx).gather(1, order)
        out.append([list(shuffled[k].split(BATCH)) for k in range(K)])
    return out


def shared_batches(train_idx):
    gen = torch.Generator().manual_seed(11)
    initial_parameters(K, D, gen)
    bounds = shared_window_bounds(N, train_idx.shape[1], BATCH)
    out = []
    for _ in range(EPOCHS):
        perm = torch.randperm(N, generator=gen)
        windows = torch.tensor_split(perm, bounds)
        per_probe = []
        for k in range(K):
            member = set(train_idx[k].tolist())
            per_probe.append(
                [
                    torch.tensor([r for r in w.tolist() if r in member], dtype=torch.long)
                    for w in windows
                ]
            )
        out.append(per_probe)
    return out


@pytest.mark.parametrize("kind", ["regr", "cls"])
@pytest.mark.parametrize("batching", ["independent", "shared"])
def test_batched_probes_equal_sequential_pytorch_training(kind: str, batching: str):
    x, y = data(kind)
    train_idx, test_idx = random_splits(N, K, seed=3)
    settings = ProbeSettings(kind, EPOCHS, BATCH, 0.01, batching, probability_quirk=True)
    run = train_probes(x, y, train_idx, test_idx, settings, torch.Generator().manual_seed(11))
    batches = (
        independent_batches(train_idx) if batching == "independent" else shared_batches(train_idx)
    )
    best, best_epoch = sequential_reference(x, y, train_idx, test_idx, kind, batches)
    np.testing.assert_allclose(run.best_scores, best, rtol=0, atol=2e-5)
    np.testing.assert_array_equal(run.best_epochs, best_epoch)


def test_shared_batches_cover_every_training_row_once_per_epoch():
    train_idx, _ = random_splits(N, K, seed=3)
    for epoch in shared_batches(train_idx):
        for k in range(K):
            rows = torch.cat(epoch[k]).tolist()
            assert sorted(rows) == sorted(train_idx[k].tolist())
            assert len(epoch[k]) == math.ceil(train_idx.shape[1] / BATCH)
            sizes = [len(b) for b in epoch[k]]
            # about batch_size rows per step, the remainder in the last one, like the reference
            assert abs(sum(sizes[:-1]) / len(sizes[:-1]) - BATCH) < 3


def test_shared_windows_mirror_the_reference_batch_sizes():
    bounds = shared_window_bounds(604, 543, 64)  # reference: 8 batches of 64 and one of 31
    assert len(bounds) == 8
    assert bounds[0] == 71 and bounds[-1] == 570  # last window: 34 rows, ~31 training rows


@pytest.mark.parametrize("batching", ["independent", "shared"])
def test_probe_that_never_scores_is_a_failed_split(batching: str):
    x, y = data("regr")
    y = y.clone()
    y[:] = float("nan")  # every epoch scores NaN: the reference records -inf, we count a failure
    train_idx, test_idx = random_splits(N, K, seed=3)
    settings = ProbeSettings("regr", 2, BATCH, 0.01, batching)
    run = train_probes(x, y, train_idx, test_idx, settings, torch.Generator().manual_seed(1))
    assert np.isnan(run.best_scores).all()
    assert (run.best_epochs == 0).all()


def test_fused_adamw_step_equals_the_unfused_steps_to_float32_rounding():
    """The CPU engine uses torch's fused AdamW kernel; it computes the eight element-wise steps'
    update, up to an occasional one-ulp rounding difference in the second moment."""
    from scoring.probes.linear import _AdamW

    gen = torch.Generator().manual_seed(3)
    start = torch.randn((7, 33), generator=gen)
    fused, plain = _AdamW(start.clone(), 1e-3), _AdamW(start.clone(), 1e-3)
    assert fused.fused, "torch lacks _fused_adamw_ on the CPU: the engine falls back (slower)"
    plain.fused = False
    for step in range(300):
        scale = [1.0, 1e-6, 1e4, 0.0][step % 4]  # ordinary, tiny, huge and zero gradients
        grad = torch.randn((7, 33), generator=gen) * scale
        fused.step(grad)
        plain.step(grad)
        torch.testing.assert_close(fused.m, plain.m, rtol=1e-6, atol=0.0)
        torch.testing.assert_close(fused.v, plain.v, rtol=1e-6, atol=0.0)
        torch.testing.assert_close(fused.p, plain.p, rtol=1e-6, atol=1e-9)
    assert fused.t == plain.t == 300 and float(fused._step) == 300.0
