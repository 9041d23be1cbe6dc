"""Losses and target handling for the three fine-tuning task types.

Labels arrive as float arrays with NaN for a missing label (MoleculeNet is sparse: Tox21, ToxCast, SIDER,
MUV). Every loss here masks with ``torch.where`` *before* reducing, so a missing label contributes nothing
to the value and exactly zero gradient, and its placeholder value (NaN or anything else) can never leak in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

TASK_TYPES = ("classification", "regression", "multiclass")


def check_task_type(task_type: str) -> str:
    """Return ``task_type`` if it is one of :data:`TASK_TYPES`, else raise a ValueError naming them."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; expected one of {', '.join(TASK_TYPES)}")
    return task_type


def _check_same_shape(pred: Tensor, targets: Tensor) -> None:
    # [n] against [n, 1] would broadcast to [n, n] silently; refuse instead.
    if pred.shape != targets.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(targets.shape)} differ in shape")


def _masked_mean(per_entry: Tensor, present: Tensor) -> Tensor:
    kept = torch.where(present, per_entry, torch.zeros_like(per_entry))
    return kept.sum() / present.sum().clamp(min=1)


def masked_bce(logits: Tensor, targets: Tensor, pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy with logits, averaged over the present (non-NaN) labels only.

    ``pos_weight`` ([tasks]) scales the positive term per task, as in ``BCEWithLogitsLoss``. With no label
    present the result is a zero that still belongs to the graph, so ``backward()`` works (and does nothing).
    """
    _check_same_shape(logits, targets)
    present = ~torch.isnan(targets)
    safe = torch.where(present, targets, torch.zeros_like(targets))
    per_entry = F.binary_cross_entropy_with_logits(logits, safe, pos_weight=pos_weight, reduction="none")
    return _masked_mean(per_entry, present)


def masked_mse(pred: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error over the present (non-NaN) targets only; zero (with graph) if none is present."""
    _check_same_shape(pred, targets)
    present = ~torch.isnan(targets)
    safe = torch.where(present, targets, torch.zeros_like(targets))
    return _masked_mean((pred - safe).square(), present)


def masked_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of ``logits`` [n, classes] against class ``labels`` [n] or [n, 1].

    A label that is NaN or negative is missing and ignored; the mean is over the present labels.
    """
    if labels.dim() == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        shapes = f"{tuple(logits.shape)}, {tuple(labels.shape)}"
        raise ValueError(f"expected logits [n, classes] and labels [n]; got {shapes}")
    present = ~torch.isnan(labels) & (labels >= 0) if labels.is_floating_point() else labels >= 0
    safe = torch.where(present, labels, torch.zeros_like(labels)).long()
    per_entry = F.cross_entropy(logits, safe, reduction="none")
    return _masked_mean(per_entry, present)


def positive_weights(targets: np.ndarray | Tensor) -> Tensor:
    """Per-task ``negatives / positives`` over the present labels, for ``masked_bce``'s ``pos_weight``.

    Balances rare positives (e.g. MUV, HIV). A task without positives gets 1.0 (nothing to up-weight).
    Returned as a CPU float32 tensor [tasks]; move it to the model's device.
    """
    t = torch.as_tensor(np.asarray(targets, dtype=np.float64)) if not isinstance(targets, Tensor) else targets
    t = t.detach().cpu().double().reshape(len(t), -1)
    present = ~torch.isnan(t)
    pos = (present & (t > 0.5)).sum(0)
    neg = (present & (t <= 0.5)).sum(0)
    ratio = torch.where(pos > 0, neg / pos.clamp(min=1), torch.ones_like(pos, dtype=torch.float64))
    return ratio.float()


def loss_fn(task_type: str, pos_weight: Tensor | None = None) -> Callable[[Tensor, Tensor], Tensor]:
    """The masked loss for ``task_type``; ``pos_weight`` is only meaningful (and accepted) for classification."""
    check_task_type(task_type)
    if pos_weight is not None and task_type != "classification":
        raise ValueError(f"pos_weight applies to classification only, not {task_type!r}")
    if task_type == "classification":
        return partial(masked_bce, pos_weight=pos_weight)
    return masked_mse if task_type == "regression" else masked_cross_entropy
