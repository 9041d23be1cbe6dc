"""``ScoredMolecules``: a predictor's results for a list of SMILES as plain columns (lists and numpy arrays).

It is what the service's micro-batcher splits between requests and what ``Predictor.predict`` turns into a
DataFrame: slicing rows and reading them costs no pandas machinery, which matters for one-molecule requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


def json_number(value: float) -> float | None:
    """A float for JSON: NaN (not scored) becomes None."""
    return None if math.isnan(value) else value


@dataclass
class ScoredMolecules:
    """Row ``i`` is input ``i``: canonical SMILES, scores, ensemble spread, applicability domain and error.

    ``mean`` / ``std``: [rows, outputs] float32 (``std`` is None for a single-member model; NaN rows where not
    scored); ``similarity``: max Tanimoto similarity to the training set (NaN when unknown); ``errors``: None or
    "reason: message". ``threshold`` decides ``in_domain``.
    """

    names: list[str]
    canonical: list[str | None]
    mean: np.ndarray
    std: np.ndarray | None
    similarity: np.ndarray
    errors: list[str | None]
    threshold: float

    def __len__(self) -> int:
        return len(self.canonical)

    def __getitem__(self, rows: slice) -> ScoredMolecules:
        """The rows ``rows`` (a slice), as their own ``ScoredMolecules``."""
        if not isinstance(rows, slice):
            raise TypeError(f"ScoredMolecules takes a slice of rows, not {type(rows).__name__}")
        return ScoredMolecules(self.names, self.canonical[rows], self.mean[rows],
                               None if self.std is None else self.std[rows], self.similarity[rows],
                               self.errors[rows], self.threshold)  # fmt: skip

    def in_domain(self) -> list[bool | None]:
        """Per row: max similarity at or above the threshold (None when unknown)."""
        return [None if math.isnan(s) else s >= self.threshold for s in self.similarity.tolist()]

    def records(self) -> Iterator[dict[str, Any]]:
        """One JSON-ready dict per row: ``canonical_smiles``, ``scores``, ``std``, ``max_similarity``, ``in_domain``,
        ``error`` (NaN as None)."""
        means = self.mean.tolist()
        stds = self.std.tolist() if self.std is not None else [None] * len(self)
        for canonical, mean, std, similarity, in_domain, error in zip(
            self.canonical, means, stds, self.similarity.tolist(), self.in_domain(), self.errors, strict=True
        ):
            yield {
                "canonical_smiles": canonical or None,
                "scores": dict(zip(self.names, map(json_number, mean), strict=True)),
                "std": dict(zip(self.names, map(json_number, std), strict=True)) if std is not None else None,
                "max_similarity": json_number(similarity),
                "in_domain": in_domain,
                "error": error,
            }
