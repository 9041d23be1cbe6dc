"""Dropout whose mask is cheap on a CPU.

``F.dropout`` on a CPU draws one Bernoulli sample per element from the Mersenne Twister: about 13 ns an element, a
fifth of a GIN fine-tuning step at batch 32 (``benchmarks/finetune_speed.py``). Here each 64-bit random word gives
four 15-bit uniform draws, so the mask costs about a tenth as much; the semantics are ``F.dropout``'s (inverted
dropout, identity in eval mode, reproducible under ``torch.manual_seed``), with ``p`` resolved to 1/32768.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_LANES = 4  # 16-bit lanes per 64-bit word; the low 15 bits of each are uniform (``random_`` fills 63 bits)
_RESOLUTION = 1 << 15


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Zero each element of ``x`` with probability ``p`` and scale the rest by ``1 / (1 - p)`` when ``training``;
    ``F.dropout`` itself off the CPU (a GPU's generator is already fast) and for ``p`` of 0 or 1."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or not 0.0 < p < 1.0:
        return F.dropout(x, p, training)
    n = x.numel()
    words = torch.empty((n + _LANES - 1) // _LANES, dtype=torch.int64).random_()
    lanes = words.view(torch.int16)[:n].view(x.shape) & (_RESOLUTION - 1)
    keep = (lanes >= round(p * _RESOLUTION)).to(x.dtype).mul_(1.0 / (1.0 - p))
    return x * keep
