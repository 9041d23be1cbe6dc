"""Fine-tuning losses: masking of missing labels (value, gradient, placeholder), pos weights, standardizer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gnnpt.finetune.tasks import (
    loss_fn,
    masked_bce,
    masked_cross_entropy,
    masked_mse,
    positive_weights,
)
from gnnpt.models.targets import Standardizer

NAN = math.nan


@pytest.fixture
def sparse() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    targets = torch.tensor(
        [[1, 0, NAN], [0, NAN, NAN], [NAN, 1, 1], [1, 1, 0], [NAN, 0, NAN], [0, NAN, 1]], dtype=torch.float64
    )
    return logits, targets


def _by_hand_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> float:
    terms = []
    for i, j in zip(*torch.where(~torch.isnan(targets)), strict=True):
        x, y = float(logits[i, j]), float(targets[i, j])
        w = 1.0 if pos_weight is None else float(pos_weight[j])
        p = 1 / (1 + math.exp(-x))
        terms.append(-(w * y * math.log(p) + (1 - y) * math.log(1 - p)))
    return sum(terms) / len(terms)


def test_masked_bce_equals_bce_over_present_labels_by_hand(sparse) -> None:
    logits, targets = sparse
    assert masked_bce(logits, targets).item() == pytest.approx(_by_hand_bce(logits, targets), rel=1e-12)
    w = torch.tensor([2.0, 0.5, 3.0], dtype=torch.float64)
    assert masked_bce(logits, targets, w).item() == pytest.approx(_by_hand_bce(logits, targets, w), rel=1e-12)
    present = ~torch.isnan(targets)
    ref = F.binary_cross_entropy_with_logits(logits[present], targets[present])
    assert torch.allclose(masked_bce(logits, targets), ref)


def test_missing_labels_get_exactly_zero_gradient_and_no_nan(sparse) -> None:
    logits, targets = sparse
    logits = logits.clone().requires_grad_()
    loss = masked_bce(logits, targets)
    loss.backward()
    missing = torch.isnan(targets)
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert (logits.grad[missing] == 0).all() and (logits.grad[~missing] != 0).all()


@pytest.mark.parametrize("fn", [masked_bce, masked_mse])
def test_outputs_at_missing_entries_change_nothing(sparse, fn) -> None:
    logits, targets = sparse
    missing = torch.isnan(targets)
    for fill in (0.0, -7.0, 1e4):
        x = logits.clone().requires_grad_()
        y = torch.where(missing, torch.full_like(logits, fill), logits).requires_grad_()
        fx, fy = fn(x, targets), fn(y, targets)
        fx.backward()
        fy.backward()
        assert fx.item() == pytest.approx(fy.item(), rel=1e-12)
        assert torch.equal(x.grad, y.grad) and (y.grad[missing] == 0).all()


def test_no_label_present_gives_zero_with_graph() -> None:
    logits = torch.randn(4, 2, requires_grad=True)
    for fn in (masked_bce, masked_mse):
        loss = fn(logits, torch.full((4, 2), NAN))
        assert loss.item() == 0.0 and loss.requires_grad
        loss.backward()
        assert torch.equal(logits.grad, torch.zeros_like(logits))
        logits.grad = None


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        masked_bce(torch.zeros(5), torch.zeros(5, 1))


def test_masked_mse_over_present_targets(sparse) -> None:
    pred, targets = sparse
    pred = pred.clone().requires_grad_()
    present = ~torch.isnan(targets)
    loss = masked_mse(pred, targets)
    assert loss.item() == pytest.approx(((pred[present] - targets[present]) ** 2).mean().item(), rel=1e-12)
    loss.backward()
    assert (pred.grad[~present] == 0).all() and torch.isfinite(pred.grad).all()


def test_masked_cross_entropy_ignores_nan_and_negative_labels() -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([[2.0], [NAN], [0.0], [-1.0], [3.0], [1.0]], dtype=torch.float64)
    keep = torch.tensor([0, 2, 4, 5])
    ref = F.cross_entropy(logits[keep], labels[keep, 0].long())
    loss = masked_cross_entropy(logits, labels)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
    loss.backward()
    assert (logits.grad[[1, 3]] == 0).all()
    int_labels = torch.tensor([2, -100, 0, -1, 3, 1])
    assert masked_cross_entropy(logits, int_labels).item() == pytest.approx(ref.item(), rel=1e-12)


def test_positive_weights_counts_present_labels_only() -> None:
    y = np.array([[1, 0, 0], [0, NAN, 0], [0, 1, NAN], [0, 1, 0], [NAN, 0, 0]], dtype=np.float32)
    w = positive_weights(y)
    assert w.dtype == torch.float32
    # task 2: 2 negatives / 2 positives (3/2 if its NaN counted as a negative); task 3 has no positive -> 1.0
    assert torch.equal(w, torch.tensor([3.0, 1.0, 1.0]))
    assert torch.equal(positive_weights(torch.as_tensor(y)), w)


def test_standardizer_ignores_nan_and_round_trips() -> None:
    y = np.array([[1.0, 5.0, NAN], [3.0, NAN, NAN], [NAN, 5.0, NAN], [5.0, 5.0, NAN]])
    s = Standardizer.fit(y)
    assert np.allclose(s.mean, [3.0, 5.0, 0.0]) and np.allclose(s.std, [np.sqrt(8 / 3), 1.0, 1.0])
    z = s.transform(y)
    assert np.nanmean(z[:, 0]) == pytest.approx(0.0) and np.nanstd(z[:, 0]) == pytest.approx(1.0)
    assert np.array_equal(np.isnan(z), np.isnan(y)) and np.allclose(s.inverse(z), y, equal_nan=True)
    t = torch.as_tensor(y, dtype=torch.float32)
    zt = s.transform(t)
    assert zt.dtype == torch.float32 and torch.allclose(zt, torch.as_tensor(z, dtype=torch.float32), equal_nan=True)
    assert torch.allclose(s.inverse(zt), t, equal_nan=True)
    back = Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    assert np.array_equal(back.mean, s.mean) and np.array_equal(back.std, s.std)


def test_loss_fn_dispatch_and_errors(sparse) -> None:
    logits, targets = sparse
    w = torch.ones(3, dtype=torch.float64) * 2
    assert loss_fn("classification", w)(logits, targets).item() == masked_bce(logits, targets, w).item()
    assert loss_fn("regression")(logits, targets).item() == masked_mse(logits, targets).item()
    assert loss_fn("multiclass")(logits, torch.tensor([0, 1, 2, 0, 1, 2])).item() > 0
    with pytest.raises(ValueError, match="classification, regression, multiclass"):
        loss_fn("ranking")
    with pytest.raises(ValueError, match="pos_weight"):
        loss_fn("regression", w)
