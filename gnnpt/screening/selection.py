"""Keeping only some scored rows: threshold filters (``"NR-AR>=0.5"``) and a streaming top-k by one output column.

Both work chunk by chunk: a filter looks at one chunk, top-k holds at most ``k`` rows plus one chunk. Rows that could
not be scored cannot pass a threshold or be ranked; the caller reports them separately so none is silently lost.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

OPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_FILTER = re.compile(r"^\s*(?P<column>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[^<>=]+?)\s*$")


@dataclass(frozen=True)
class Filter:
    """Keep rows whose ``column`` compares true with ``value`` (``op`` is one of >=, <=, >, <)."""

    column: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str, columns: Sequence[str]) -> Filter:
        """``"TASK>=0.5"`` (ops >=, <=, >, <) into a filter on one of ``columns``; a clear error otherwise."""
        match = _FILTER.match(text)
        if match is None:
            raise ValueError(f"cannot read the filter {text!r}: write it as COLUMN OP NUMBER, e.g. 'NR-AR>=0.5'")
        try:
            value = float(match["value"])
        except ValueError:
            raise ValueError(f"the filter {text!r} compares with {match['value']!r}, which is not a number") from None
        return cls(_known_column(match["column"], columns, "filter"), match["op"], value)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``frame`` that pass (a missing score never passes)."""
        return OPS[self.op](frame[self.column].to_numpy(np.float64), self.value)

    def __str__(self) -> str:
        return f"{self.column}{self.op}{self.value!r}"


def _known_column(name: str, columns: Sequence[str], what: str) -> str:
    if name not in columns:
        raise ValueError(
            f"the {what} names {name!r}, which the model does not predict; its outputs are {list(columns)}"
        )
    return name


class TopK:
    """The ``k`` best rows seen so far by ``column`` (descending; ties by input row), in bounded memory."""

    def __init__(self, k: int, column: str, columns: Sequence[str], rows: pd.DataFrame | None = None):
        if k < 1:
            raise ValueError(f"top-k needs k >= 1, got {k}")
        self.k, self.column = k, _known_column(column, columns, "--sort-by")
        self.rows = rows if rows is not None else pd.DataFrame()

    def push(self, frame: pd.DataFrame) -> None:
        """Merge ``frame`` into the kept rows, keeping the ``k`` best."""
        if frame.empty:
            return
        merged = frame if self.rows.empty else pd.concat([self.rows, frame], ignore_index=True)
        ranked = merged.sort_values([self.column, "row"], ascending=[False, True], na_position="last", kind="stable")
        self.rows = ranked.head(self.k).reset_index(drop=True)
