"""Per-molecule descriptors as pretraining targets: robust standardization fitted on the corpus itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class DescriptorScaler:
    """Clip each descriptor to the corpus' [0.5, 99.5] percentiles, then z-score it with the clipped mean and std.

    Clipping first keeps a few extreme molecules (molecular weights of 3,000, counts of 40) from setting the
    scale; a constant column gets std 1 (all targets 0). NaN (RDKit failed) stays NaN: the loss skips it.
    """

    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> DescriptorScaler:
        values = np.asarray(values, dtype=np.float64)
        values = np.where(np.isfinite(values), values, np.nan)
        if not np.isfinite(values).any(axis=0).all():
            raise ValueError("a descriptor column has no finite value: fit the scaler on more molecules")
        low, high = np.nanpercentile(values, [0.5, 99.5], axis=0)
        clipped = np.clip(values, low, high)
        mean, std = np.nanmean(clipped, axis=0), np.nanstd(clipped, axis=0)
        return cls(low, high, mean, np.where(std > 1e-8, std, 1.0))

    def transform(self, values: np.ndarray) -> torch.Tensor:
        """Standardized float32 targets (NaN where the input is not finite)."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        out = (np.clip(np.where(finite, values, 0.0), self.low, self.high) - self.mean) / self.std
        return torch.from_numpy(np.where(finite, out, np.nan).astype(np.float32))

    def to_dict(self) -> dict[str, list[float]]:
        return {k: getattr(self, k).round(6).tolist() for k in ("low", "high", "mean", "std")}
