"""The input side of screening: the file as numbered chunks (resumable at any row) and a cheap row estimate."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from gnnpt.datasets.readers import detect_format, iter_molecules

READ_ERROR = "read_error"  # column carrying an SDF record's read failure to the scorer


def numbered_chunks(path: Path, smiles_col: str | None, chunk_size: int, skip: int = 0) -> Iterator[pd.DataFrame]:
    """Chunks of ``path`` as frames with ``row`` (0-based record number) and ``smiles`` as read, from row ``skip`` on.

    SDF chunks also carry ``read_error`` (why RDKit could not read a record). A file with no records yields nothing.
    """
    sdf = detect_format(path) == "sdf"
    start = 0
    for chunk in iter_molecules(path, smiles_col, chunk_size):
        n = len(chunk)
        first = max(0, skip - start)
        if first < n:
            frame = pd.DataFrame(
                {"row": np.arange(start, start + n, dtype=np.int64), "smiles": chunk["smiles"].to_numpy(object)}
            )
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
