"""A dataset written outside influence_nb, generated with numpy (no download).

`load()` returns `(train_dataset, test_dataset)`: torch Datasets whose items are `(x, y)` (a dict, or
`(x, y, index)`, or plain tensors work too). Labels are integers 0 .. n_classes - 1.

The images are 1x8x8 stripe patterns: horizontal (class 0), vertical (class 1) or diagonal (class 2), at a random
phase, with Gaussian noise strong enough that some examples are hard.
"""
import numpy as np
import torch
from torch.utils.data import TensorDataset


def stripes(n: int, seed: int, size: int = 8, noise: float = 1.2):
    "`n` noisy stripe images `[n, 1, size, size]` and their labels."
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    phase = rng.integers(0, 4, n)
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    coord = np.stack([i, j, i + j])[y]  # the coordinate each class's stripes run across
    x = np.cos(np.pi * (coord + phase[:, None, None]) / 2) + rng.normal(0.0, noise, (n, size, size))
    return torch.tensor(x[:, None], dtype=torch.float32), torch.tensor(y, dtype=torch.long)


def load():
    "300 training and 60 test images of three classes."
    return TensorDataset(*stripes(300, seed=0)), TensorDataset(*stripes(60, seed=1))
