"""The input side of screening: the file as numbered chunks (resumable at any row) carrying the user's own columns,
and a cheap row estimate."""

from __future__ import annotations

import gzip
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.datasets.readers import detect_format, iter_molecules

READ_ERROR = "read_error"  # column carrying an SDF record's read failure to the scorer


def carried_columns(
    path: Path, smiles_col: str | None, keep: Sequence[str] | None, reserved: Collection[str]
) -> dict[str, str]:
    """The input columns a screening output carries, as {input name: output name}, from the file's first records.

    ``keep``: None for every column besides the SMILES (an SDF's title and properties count as columns), else the
    names to keep (``[]``: none). A name the output already uses (``reserved``) gets the prefix ``input_``.
    """
    first = next(iter_molecules(path, smiles_col, 1000, text=True))
    internal = {"smiles", first.attrs.get("smiles_source"), *(["error"] if detect_format(path) == "sdf" else [])}
    available = [c for c in first.columns if c not in internal]
    if keep is None:
        keep = available
    missing = [c for c in keep if c not in available]
    if missing:
        raise ValueError(f"column(s) {missing} to keep are not in {path.name}; its columns are {available}")
    return {c: f"input_{c}" if c in reserved else c for c in keep}


def numbered_chunks(
    path: Path,
    smiles_col: str | None,
    chunk_size: int,
    skip: int = 0,
    carry: dict[str, str] | None = None,
    max_atoms: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Chunks of ``path`` as frames with ``row`` (0-based record number), the ``carry`` columns (renamed
    {input: output}; as text) and ``smiles`` as read, from row ``skip`` on.

    SDF chunks also carry ``read_error`` (why RDKit could not read a record, or that it lists more than
    ``max_atoms`` heavy atoms: unread). A file with no records yields nothing.
    """
    sdf = detect_format(path) == "sdf"
    carry = carry or {}
    start = 0
    for chunk in iter_molecules(path, smiles_col, chunk_size, text=True, max_atoms=max_atoms):
        n = len(chunk)
        first = max(0, skip - start)
        if first < n:
            frame = pd.DataFrame({"row": np.arange(start, start + n, dtype=np.int64)})
            for source, name in carry.items():  # a property some SDF records lack is empty in those rows
                frame[name] = _text(chunk[source]) if source in chunk else None
            frame["smiles"] = chunk["smiles"].to_numpy(object)
            if sdf:
                frame[READ_ERROR] = chunk["error"].to_numpy(object)
            yield frame.iloc[first:].reset_index(drop=True)
        start += n


def estimate_rows(path: Path) -> int | None:
    """Roughly how many records ``path`` holds, for the progress bar; ``None`` when not cheap to tell.

    Parquet: exact, from the footer. CSV/TSV/SMI (plain or gzipped): a newline count (blank lines included, header
    excluded). SDF and gzipped Parquet: unknown.
    """
    fmt = detect_format(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return None if gzipped else pq.ParquetFile(path).metadata.num_rows
    if fmt == "sdf":
        return None
    lines, last = 0, b"\n"
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return max(0, lines - (fmt in ("csv", "tsv")))


def _text(values: pd.Series) -> np.ndarray:
    """A carried column as text (None where empty): the same in CSV and Parquet outputs whatever the input format."""
    return np.where(values.isna().to_numpy(), None, values.astype(str).to_numpy(object))
