"""Contrastive losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """NT-Xent (SimCLR's InfoNCE): row i of ``z1`` and ``z2`` are two views of one graph.

    Each of the 2B embeddings must pick its partner among the other 2B - 1 (in-batch negatives), by
    cosine similarity / ``temperature``; the loss is the mean cross-entropy over both directions.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"need two [B, d] tensors of one shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.T) / temperature
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(sim, partner)
