"""The reference's per-split procedure, one probe at a time, built from PyTorch's own parts.

Used only by tests as an independent yardstick: `torch.utils.data.DataLoader` with a
`SubsetRandomSampler` (batches of 64 in a fresh random order each epoch), `nn.Linear`,
`torch.optim.AdamW`, `nn.MSELoss`, and torchmetrics' `R2Score` on the test rows after every
epoch, best over epochs; all randomness from one global torch stream seeded once.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, SubsetRandomSampler, TensorDataset
from torchmetrics.regression import R2Score

from scoring.splits import random_splits


def reference_split_scores(
    x: np.ndarray, y: np.ndarray, k: int, epochs: int, batch_size: int, lr: float, torch_seed: int
) -> np.ndarray:
    """Best test R^2 of each of k ShuffleSplit(seed 42) splits for a regression task."""
    torch.manual_seed(torch_seed)
    data = TensorDataset(
        torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
    )
    train_idx, test_idx = random_splits(len(y), k, 42)
    best = []
    for train, test in zip(train_idx, test_idx, strict=True):
        model = nn.Linear(x.shape[1], 1)
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        loss_fn = nn.MSELoss()
        loader = DataLoader(data, batch_size=batch_size, sampler=SubsetRandomSampler(train))
        xt, yt = data[test]
        top = -np.inf
        for _ in range(epochs):
            for xb, yb in loader:
                loss = loss_fn(model(xb).view(-1), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                top = max(top, R2Score()(model(xt).view(-1), yt).item())
        best.append(top)
    return np.array(best)
