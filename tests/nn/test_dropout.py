"""The CPU dropout keeps F.dropout's semantics: rate, scaling, gradient, eval identity, seeding, dtype."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gnnpt.nn.dropout import dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_drops_at_rate_p_and_scales_the_rest(p: float) -> None:
    x = torch.ones(400, 300)
    out = dropout(x, p)
    kept = out != 0
    rate = 1 - kept.float().mean().item()
    assert abs(rate - p) < 4 * (p * (1 - p) / x.numel()) ** 0.5 + 1 / 32768
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    # every 16-bit lane of the random words is used: no position in a group of four is biased
    lanes = kept.flatten()[: 4 * (x.numel() // 4)].view(-1, 4).float().mean(0)
    assert torch.all((lanes - (1 - p)).abs() < 0.02)


def test_gradient_is_the_mask_and_eval_is_identity() -> None:
    x = torch.randn(50, 30, requires_grad=True)
    out = dropout(x, 0.5)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float() * 2)
    y = torch.randn(5, 3)
    assert dropout(y, 0.5, training=False) is y and dropout(y, 0.0) is y
    assert torch.equal(dropout(y, 1.0), F.dropout(y, 1.0))


def test_seeded_and_keeps_dtype() -> None:
    x = torch.randn(64, 300, dtype=torch.bfloat16)
    torch.manual_seed(3)
    a = dropout(x, 0.3)
    torch.manual_seed(3)
    b = dropout(x, 0.3)
    assert a.dtype == torch.bfloat16 and torch.equal(a, b) and not torch.equal(a, dropout(x, 0.3))
