"""What a notebook user may hand to the predictor: SMILES in a list, Series, DataFrame or molecule file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gnnpt.datasets.readers import FORMATS, find_smiles_column, read_molecules

MoleculeInput = str | os.PathLike | pd.DataFrame | pd.Series | Iterable[object]


@dataclass
class Molecules:
    """The SMILES to score, the index the output keeps, and per-row errors found while reading a file."""

    smiles: list[object]
    index: pd.Index
    errors: list[str | None]


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a SMILES longer than the longest file name
        return False


def _looks_like_path(text: str) -> bool:
    suffixes = [s.lower() for s in Path(text).suffixes if s.lower() != ".gz"]
    return _is_file(text) or text.lower().endswith(".gz") or (bool(suffixes) and suffixes[-1] in FORMATS)


def _from_file(path: Path, smiles_col: str | None) -> Molecules:
    frame = read_molecules(path, smiles_col)
    errors = [None] * len(frame)
    if "error" in frame.columns:  # SDF records RDKit could not read
        errors = [f"unparsable: {e}" if isinstance(e, str) else None for e in frame["error"]]
    return Molecules(frame["smiles"].tolist(), pd.RangeIndex(len(frame)), errors)


def read_input(x: MoleculeInput, smiles_col: str | None = None) -> Molecules:
    """SMILES from ``x``: a list/tuple of SMILES, one SMILES string, a Series, a DataFrame (column ``smiles_col``
    or found by name), or a CSV/TSV/SMI/SDF/Parquet path. A Series or DataFrame keeps its index."""
    if isinstance(x, pd.DataFrame):
        col = smiles_col or find_smiles_column(list(x.columns))
        if col not in x.columns:
            raise ValueError(f"column {col!r} is not in the DataFrame; its columns are {list(x.columns)}")
        return Molecules(x[col].tolist(), x.index, [None] * len(x))
    if isinstance(x, pd.Series):
        return Molecules(x.tolist(), x.index, [None] * len(x))
    if isinstance(x, os.PathLike) or (isinstance(x, str) and _looks_like_path(x)):
        path = Path(x)
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file; pass an existing molecule file or a list of SMILES")
        return _from_file(path, smiles_col)
    items = [x] if isinstance(x, str) else list(x)
    return Molecules(items, pd.RangeIndex(len(items)), [None] * len(items))
