"""Where scored chunks go: through the selection (filters, top-k) into the output files, each chunk committed.

Without a selection every row is written, in input order, invalid ones with their error. With filters or top-k,
rows that could not be scored cannot pass a threshold or be ranked, so they go to ``OUT.errors.csv`` (columns
``row``, the carried input columns, ``smiles``, ``error``) instead of vanishing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.models.conformal import SET_SUFFIX
from gnnpt.screening.checkpoint import Progress, progress_path
from gnnpt.screening.selection import Filter, TopK
from gnnpt.screening.writers import CsvOutput, ParquetOutput, arrow_schema, output_kind

# the scoring path's columns that are not numbers (besides conformal prediction sets, ``<task>_set``)
TEXT_COLUMNS = ("smiles", "canonical_smiles", "in_domain", "error")
TOPK_FILES = ("topk-a.parquet", "topk-b.parquet")  # alternate, so the committed snapshot is never overwritten


def errors_path(output: Path) -> Path:
    """Where rows that could not be scored go when a selection is active: ``OUT.errors.csv``."""
    return Path(f"{output}.errors.csv")


class ResultSink:
    """Routes scored chunks to the output files and commits the run's progress after each one."""

    def __init__(
        self,
        output: Path,
        columns: Sequence[str],
        carried: Sequence[str],
        state: Progress,
        filters: Sequence[Filter] = (),
        top_k: TopK | None = None,
    ):
        self.output, self.state, self.filters, self.top_k = output, state, list(filters), top_k
        numbers = [c for c in columns if c != "row" and c not in carried and c not in TEXT_COLUMNS
                   and not c.endswith(SET_SUFFIX)]  # fmt: skip
        self.dtypes = {"row": np.int64, **dict.fromkeys(numbers, np.float32)}
        self.sidecar = progress_path(output)
        self.selecting = bool(self.filters) or top_k is not None
        if output_kind(output) == "parquet":
            self.out = ParquetOutput(output, arrow_schema(columns, numbers), state.output_committed)
        else:
            self.out = CsvOutput(output, columns, output_kind(output) == "csv.gz", state.output_committed)
        self.errors = None
        if self.selecting:
            error_columns = ["row", *carried, "smiles", "error"]
            self.errors = CsvOutput(errors_path(output), error_columns, committed=state.errors_committed)
        elif state.output_committed is None:
            errors_path(output).unlink(missing_ok=True)  # left by an earlier run with a selection
        if top_k is not None and state.topk_file is not None:
            top_k.rows = pd.read_parquet(self._topk_path(state.topk_file))
        self._commit()

    def _topk_path(self, name: str) -> Path:
        return Path(f"{self.output}.{name}")

    def _commit(self) -> None:
        self.state.output_committed = self.out.committed
        self.state.errors_committed = self.errors.committed if self.errors is not None else None
        self.state.save(self.sidecar)

    def add(self, frame: pd.DataFrame) -> None:
        """Route and write one scored chunk (the next rows of the input, in order), then commit it."""
        frame = frame.astype(self.dtypes)  # an engine may hand back wider types (Ray: float64)
        done, counts = self.state.rows_done, self.state.counts
        if not np.array_equal(frame["row"].to_numpy(), np.arange(done, done + len(frame))):
            raise RuntimeError(f"scored rows arrived out of order (expected rows from {done}); this is a bug in gnnpt")
        valid = frame["error"].isna().to_numpy()
        counts["scored"] += int(valid.sum())
        counts["invalid"] += int((~valid).sum())
        if not self.selecting:
            self.out.write(frame)
            counts["written"] += len(frame)
        else:
            self.errors.write(frame[~valid])
            kept = frame[valid]
            for f in self.filters:
                kept = kept[f.mask(kept)]
            if self.top_k is None:
                self.out.write(kept)
                counts["written"] += len(kept)
            else:
                self.top_k.push(kept)
                self._snapshot_top_k()
        self.state.rows_done += len(frame)
        self._commit()

    def _snapshot_top_k(self) -> None:
        name = TOPK_FILES[1] if self.state.topk_file == TOPK_FILES[0] else TOPK_FILES[0]
        path = self._topk_path(name)
        self.top_k.rows.to_parquet(path, index=False)
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        self.state.topk_file = name

    def finish(self) -> None:
        """Write the top-k rows (best first), complete the files and remove the resume state."""
        if self.top_k is not None:
            self.out.write(self.top_k.rows)
            self.state.counts["written"] = len(self.top_k.rows)
        self.out.finish()
        if self.errors is not None:
            self.errors.finish()
        self.sidecar.unlink()
        for name in TOPK_FILES:
            self._topk_path(name).unlink(missing_ok=True)

    def close(self) -> None:
        """Release open files without completing them (the run can be resumed)."""
        self.out.close()
        if self.errors is not None:
            self.errors.close()
