"""A per-example training loss written outside influence_nb.

`loss(output, batch)` gets the model's output on the batch's input and the batch itself (the `(x, y)` tuple, or
the dict of a dict batch) and returns one value per example, shape [B]. Every method differentiates exactly this
loss (MAGIC through training, TracIn and influence functions at the checkpoints).
"""
import torch.nn.functional as F


def loss(output, batch):
    "Cross-entropy with label smoothing 0.1, one value per example."
    return F.cross_entropy(output, batch[1], reduction="none", label_smoothing=0.1)
