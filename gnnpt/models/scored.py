"""``ScoredMolecules``: the scoring path's results for a list of SMILES as plain columns (lists and numpy arrays).

It is what the service's micro-batcher splits between requests (slicing rows and reading them costs no pandas
machinery, which matters for one-molecule requests) and what the notebook and ``gnnpt screen`` turn into the same
table with :meth:`ScoredMolecules.frame`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def table_columns(names: Sequence[str], spread: bool, extra: Sequence[str] = ()) -> list[str]:
    """The columns of :meth:`ScoredMolecules.frame`, in order, for outputs ``names`` (``spread``: an ensemble;
    ``extra``: conformal prediction sets or intervals)."""
    stds = [f"{name}_std" for name in names] if spread else []
    return ["smiles", "canonical_smiles", *names, *stds, *extra, "max_similarity", "in_domain", "error"]


def json_number(value: float) -> float | None:
    """A float for JSON: NaN (not scored) and infinity (an interval too wide to promise) become None."""
    return value if math.isfinite(value) else None


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
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # conformal sets / intervals per output, by column

    def __len__(self) -> int:
        return len(self.canonical)

    def __getitem__(self, rows: slice) -> ScoredMolecules:
        """The rows ``rows`` (a slice), as their own ``ScoredMolecules``."""
        if not isinstance(rows, slice):
            raise TypeError(f"ScoredMolecules takes a slice of rows, not {type(rows).__name__}")
        return ScoredMolecules(self.names, self.canonical[rows], self.mean[rows],
                               None if self.std is None else self.std[rows], self.similarity[rows],
                               self.errors[rows], self.threshold,
                               {k: v[rows] for k, v in self.extra.items()})  # fmt: skip

    @classmethod
    def concat(cls, parts: Sequence[ScoredMolecules]) -> ScoredMolecules:
        """The rows of ``parts`` one after the other (the pieces of one request scored in several batches)."""
        first = parts[0]
        std = None if first.std is None else np.concatenate([p.std for p in parts])
        return cls(first.names, [c for p in parts for c in p.canonical], np.concatenate([p.mean for p in parts]), std,
                   np.concatenate([p.similarity for p in parts]), [e for p in parts for e in p.errors],
                   first.threshold, {k: np.concatenate([p.extra[k] for p in parts]) for k in first.extra})  # fmt: skip

    def in_domain(self) -> list[bool | None]:
        """Per row: max similarity at or above the threshold (None when unknown)."""
        return [None if math.isnan(s) else s >= self.threshold for s in self.similarity.tolist()]

    def frame(self, smiles: Sequence[object], index: pd.Index | None = None) -> pd.DataFrame:
        """The table every interface returns, one row per input: ``smiles`` (as given), ``canonical_smiles`` (None
        when invalid), one column per output, ``<output>_std`` (ensembles only), ``max_similarity``, ``in_domain``
        and ``error``."""
        index = pd.RangeIndex(len(self)) if index is None else index

        def text(values: Sequence[object]) -> pd.Series:  # object dtype keeps None (pandas >= 3 would make it NaN)
            return pd.Series(list(values), index=index, dtype=object)

        columns: dict[str, object] = {
            "smiles": text(smiles),
            "canonical_smiles": text(c or None for c in self.canonical),
        }
        columns.update({name: self.mean[:, j] for j, name in enumerate(self.names)})
        if self.std is not None:
            columns.update({f"{name}_std": self.std[:, j] for j, name in enumerate(self.names)})
        columns.update({k: text(v) if v.dtype == object else v for k, v in self.extra.items()})
        columns.update(max_similarity=self.similarity, in_domain=text(self.in_domain()), error=text(self.errors))
        return pd.DataFrame(columns, index=index)[table_columns(self.names, self.std is not None, list(self.extra))]

    def records(self) -> Iterator[dict[str, Any]]:
        """One JSON-ready dict per row: ``canonical_smiles``, ``scores``, ``std``, ``conformal`` (sets / interval
        bounds by column, None for a model without), ``max_similarity``, ``in_domain``, ``error`` (NaN as None)."""
        means = self.mean.tolist()
        stds = self.std.tolist() if self.std is not None else [None] * len(self)
        extra = {k: v.tolist() for k, v in self.extra.items()}
        for i, (canonical, mean, std, similarity, in_domain, error) in enumerate(zip(
            self.canonical, means, stds, self.similarity.tolist(), self.in_domain(), self.errors, strict=True
        )):  # fmt: skip
            conformal = {k: json_number(v[i]) if isinstance(v[i], float) else v[i] for k, v in extra.items()}
            yield {
                "canonical_smiles": canonical or None,
                "scores": dict(zip(self.names, map(json_number, mean), strict=True)),
                "std": dict(zip(self.names, map(json_number, std), strict=True)) if std is not None else None,
                "conformal": conformal or None,
                "max_similarity": json_number(similarity),
                "in_domain": in_domain,
                "error": error,
            }
