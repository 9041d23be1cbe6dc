"""Target units of regression models: the per-task standardization a model is trained in and reports out of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor


class Standardizer:
    """Per-task z-scoring of regression targets, fitted on the training split with NaN ignored.

    Train on ``transform(y)``, report in target units with ``inverse(pred)``. A task whose training
    targets are constant (or absent) gets std 1 (and mean 0 if absent) so nothing divides by zero.
    """

    def __init__(self, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f"mean {self.mean.shape} and std {self.std.shape} differ in shape")

    @classmethod
    def fit(cls, targets: np.ndarray | Tensor) -> Standardizer:
        """Mean and population std of each task's non-NaN targets ([n] or [n, tasks])."""
        t = targets.detach().cpu().numpy() if isinstance(targets, Tensor) else np.asarray(targets)
        t = t.astype(np.float64).reshape(len(t), -1)
        present = ~np.isnan(t)
        count = present.sum(0)
        filled = np.where(present, t, 0.0)
        mean = np.divide(filled.sum(0), count, out=np.zeros(t.shape[1]), where=count > 0)
        var = np.where(present, (t - mean) ** 2, 0.0).sum(0)
        std = np.sqrt(np.divide(var, count, out=np.zeros(t.shape[1]), where=count > 0))
        return cls(mean, np.where(std > 0, std, 1.0))

    def _params(self, like: np.ndarray | Tensor) -> tuple[Any, Any]:
        if isinstance(like, Tensor):
            return (
                torch.as_tensor(self.mean, dtype=like.dtype, device=like.device),
                torch.as_tensor(self.std, dtype=like.dtype, device=like.device),
            )
        return self.mean, self.std

    def transform(self, values: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Targets in target units -> standardized (NaN stays NaN)."""
        mean, std = self._params(values)
        return (values - mean) / std

    def inverse(self, values: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Standardized predictions -> target units."""
        mean, std = self._params(values)
        return values * std + mean

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for a JSON model card."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> Standardizer:
        return cls(data["mean"], data["std"])
