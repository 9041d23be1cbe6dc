"""Loading a named labeled dataset into aligned SMILES and a target matrix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.datasets.download import resolve
from gnnpt.datasets.registry import DatasetSpec, get_spec


@dataclass
class MoleculeDataset:
    """A labeled dataset, row-aligned with its file: nothing is dropped here.

    ``targets`` is float32 [rows, tasks] with NaN for a missing label. Invalid SMILES stay in place;
    featurization reports them per row.
    """

    spec: DatasetSpec
    frame: pd.DataFrame
    smiles: list[str]
    targets: np.ndarray
    task_names: list[str]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task_type(self) -> str:
        return self.spec.task_type

    def __len__(self) -> int:
        return len(self.smiles)


def find_smiles_column(columns: list[str], candidates: tuple[str, ...]) -> str:
    """The first of ``candidates`` present in ``columns`` (case-insensitive); a clear error otherwise."""
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    raise ValueError(f"no SMILES column found (looked for {list(candidates)}); columns are {columns}")


def load(name: str, data_dir: str | Path | None = None) -> MoleculeDataset:
    """Load dataset ``name``: verified mirror (``data_dir`` or ``$GNNPT_DATA_DIR``), cache, or download."""
    spec = get_spec(name)
    path = resolve(spec.filename, spec.sha256, spec.urls, data_dir=data_dir)
    frame = pd.read_csv(path)
    smiles_col = find_smiles_column(list(frame.columns), spec.smiles_columns)
    tasks = list(spec.tasks) if spec.tasks is not None else [c for c in frame.columns if c != smiles_col]
    smiles = frame[smiles_col].fillna("").astype(str).str.strip().tolist()
    targets = frame[tasks].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
    return MoleculeDataset(spec, frame, smiles, targets, tasks)
