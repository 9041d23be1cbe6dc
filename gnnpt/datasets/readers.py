"""Read molecule files — CSV, TSV, SMI, SDF, Parquet, each plain or gzipped — whole or in chunks.

Every reader yields DataFrames with a ``smiles`` column and keeps every record: an SDF record RDKit
cannot read becomes a row with ``smiles=None`` and its ``error``; blank lines and CRLF endings are
skipped/handled.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from gnnpt.datasets.download import GZIP_MAGIC

SMILES_CANDIDATES = ("smiles", "canonical_smiles", "smi", "mol", "structure")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".smi": "smi", ".smiles": "smi", ".txt": "smi",
           ".sdf": "sdf", ".sd": "sdf", ".parquet": "parquet", ".pq": "parquet"}  # fmt: skip


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def detect_format(path: str | Path) -> str:
    """The format from the suffix (``.gz`` ignored): csv, tsv, smi, sdf or parquet."""
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path}; use one of {sorted(FORMATS)} (optionally + .gz)")
    return fmt


def _open_text(path: Path) -> io.TextIOBase:
    if _is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _with_smiles(frame: pd.DataFrame, smiles_col: str | None) -> pd.DataFrame:
    from gnnpt.datasets.labeled import find_smiles_column

    col = smiles_col or find_smiles_column(list(frame.columns), SMILES_CANDIDATES)
    if col not in frame.columns:
        raise ValueError(f"column {col!r} not found; columns are {list(frame.columns)}")
    if col != "smiles":
        frame = frame.assign(smiles=frame[col])
    return frame


def _read_delimited(path: Path, sep: str, smiles_col: str | None, chunk_size: int) -> Iterator[pd.DataFrame]:
    if path.stat().st_size == 0:
        yield pd.DataFrame({"smiles": pd.Series([], dtype=object)})
        return
    reader = pd.read_csv(path, sep=sep, chunksize=chunk_size, skip_blank_lines=True)
    empty = True
    for chunk in reader:
        empty = False
        yield _with_smiles(chunk, smiles_col)
    if empty:  # header only
        yield _with_smiles(pd.read_csv(path, sep=sep, nrows=0), smiles_col)


def _read_smi(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """SMILES per line with an optional name after whitespace; an optional 'smiles' header is skipped."""
    rows: list[tuple[str, str | None]] = []
    with _open_text(path) as fh:
        for number, line in enumerate(fh):
            parts = line.strip().split(None, 1)
            if not parts or (number == 0 and parts[0].lower() in SMILES_CANDIDATES):
                continue
            rows.append((parts[0], parts[1] if len(parts) > 1 else None))
            if len(rows) == chunk_size:
                yield pd.DataFrame(rows, columns=["smiles", "name"])
                rows = []
    yield pd.DataFrame(rows, columns=["smiles", "name"])


def _read_sdf(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    from rdkit import Chem, rdBase

    rows: list[dict] = []
    stream = gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")
    with stream, rdBase.BlockLogs():
        for number, mol in enumerate(Chem.ForwardSDMolSupplier(stream)):
            if mol is None:
                rows.append({"smiles": None, "error": f"SDF record {number} could not be read by RDKit"})
            else:
                rows.append({"smiles": Chem.MolToSmiles(mol), "error": None, **mol.GetPropsAsDict()})
            if len(rows) == chunk_size:
                yield pd.DataFrame(rows)
                rows = []
    yield pd.DataFrame(rows, columns=None if rows else ["smiles", "error"])


def _read_parquet(path: Path, smiles_col: str | None, chunk_size: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    source = io.BytesIO(gzip.open(path).read()) if _is_gzip(path) else path
    pf = pq.ParquetFile(source)
    empty = True
    for batch in pf.iter_batches(batch_size=chunk_size):
        empty = False
        yield _with_smiles(batch.to_pandas(), smiles_col)
    if empty:
        yield _with_smiles(pf.schema_arrow.empty_table().to_pandas(), smiles_col)


def iter_molecules(
    path: str | Path, smiles_col: str | None = None, chunk_size: int = 100_000
) -> Iterator[pd.DataFrame]:
    """Stream ``path`` as DataFrames of at most ``chunk_size`` rows, each with a ``smiles`` column."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    fmt = detect_format(path)
    if fmt in ("csv", "tsv"):
        yield from _read_delimited(path, "," if fmt == "csv" else "\t", smiles_col, chunk_size)
    elif fmt == "smi":
        yield from _read_smi(path, chunk_size)
    elif fmt == "sdf":
        yield from _read_sdf(path, chunk_size)
    else:
        yield from _read_parquet(path, smiles_col, chunk_size)


def read_molecules(path: str | Path, smiles_col: str | None = None) -> pd.DataFrame:
    """The whole file as one DataFrame with a ``smiles`` column (row order = file order)."""
    chunks = [c for c in iter_molecules(path, smiles_col) if len(c)]
    if not chunks:
        return next(iter_molecules(path, smiles_col)).iloc[:0]
    return pd.concat(chunks, ignore_index=True)
