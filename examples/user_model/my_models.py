"""A model written outside influence_nb: any torch.nn.Module works.

influence-nb calls `make_net(in_shape, n_classes)` (a function of no arguments works too) inside a seeded block, so
the same seed always builds the same initial weights. Smooth activations (tanh, GELU) and no dropout suit MAGIC,
which differentiates the whole training run.
"""
from torch import nn


class TinyCNN(nn.Module):
    "One 3x3 convolution, GELU, average pooling to 2x2, a linear head: logits [B, n_classes]."
    def __init__(self, in_channels: int, n_classes: int, width: int = 8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.GELU(),
                                      nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(4 * width, n_classes)

    def forward(self, x):
        return self.head(self.features(x))


def make_net(in_shape, n_classes):
    "The model for inputs of shape `in_shape` ([channels, height, width] of one example) and `n_classes` classes."
    return TinyCNN(in_shape[0], n_classes)
