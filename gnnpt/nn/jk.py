"""Jumping knowledge: combine the per-layer node representations."""

from __future__ import annotations

import torch

JK_MODES = ("last", "concat", "max", "sum")


def check_jk(jk: str) -> str:
    if jk not in JK_MODES:
        raise ValueError(f"unknown jk {jk!r}; choose one of {JK_MODES}")
    return jk


def jumping_knowledge(hs: list[torch.Tensor], jk: str) -> torch.Tensor:
    """``hs`` = [input embedding, layer 1, ..., layer K]; ``last`` takes layer K, the others combine all."""
    if jk == "last":
        return hs[-1]
    if jk == "concat":
        return torch.cat(hs, dim=1)
    stacked = torch.stack(hs, dim=0)
    return stacked.max(dim=0).values if jk == "max" else stacked.sum(dim=0)
