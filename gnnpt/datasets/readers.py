"""Read molecule files — CSV, TSV, SMI, SDF, Parquet, each plain or gzipped — whole or in chunks.

Every reader yields DataFrames with a ``smiles`` column and keeps every record in file order: an SDF
record RDKit cannot read becomes a row with a missing SMILES (None/NaN, as pandas stores it) and an
``error`` note. Blank lines are skipped, CRLF line endings read like LF, and SMILES cells are stripped of
surrounding whitespace. Text files may start with a UTF-8 byte-order mark; a file that is not UTF-8 is read as
Latin-1 with a warning; a CSV whose header is separated by semicolons (or tabs) is read with that separator. An
empty or binary file is a :class:`MoleculeFileError` that says what to do.
"""

from __future__ import annotations

import codecs
import gzip
import io
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, overload

import pandas as pd

from gnnpt.datasets.download import GZIP_MAGIC, magic

if TYPE_CHECKING:
    from gnnpt.featurization.contained import ContainedFeaturizer

SMILES_CANDIDATES = ("smiles", "canonical_smiles", "isomeric_smiles", "smi", "mol", "structure")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".smi": "smi", ".smiles": "smi", ".txt": "smi",
           ".sdf": "sdf", ".sd": "sdf", ".parquet": "parquet", ".pq": "parquet"}  # fmt: skip
PARQUET_MAGIC = b"PAR1"


def find_smiles_column(columns: Sequence[str], candidates: Sequence[str] = SMILES_CANDIDATES) -> str:
    """The first of ``candidates`` present in ``columns`` (case-insensitive); a clear error otherwise."""
    lower = {str(c).lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    raise ValueError(
        f"no SMILES column found (looked for {list(candidates)}, any case); the columns are {list(columns)}. "
        "Name the column: smiles_col in Python and REST, --smiles-col on the command line."
    )


def _is_gzip(path: Path) -> bool:
    return magic(path, 2) == GZIP_MAGIC


def detect_format(path: str | Path) -> str:
    """csv, tsv, smi, sdf or parquet: from the suffix (``.gz`` ignored), else parquet by its magic bytes."""
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None and path.is_file() and magic(path) == PARQUET_MAGIC:
        fmt = "parquet"
    if fmt is None:
        raise ValueError(f"cannot tell the format of {path}: use a suffix from {sorted(FORMATS)} (optionally + .gz)")
    return fmt


MAX_COLUMNS = 2000  # more columns than any molecule table has; a wider header is refused before parsing
SNIFF_BYTES = 65_536


class MoleculeFileError(ValueError):
    """A file that cannot be read as molecules at all (empty, binary): one line saying what to do."""


def _head(path: Path) -> bytes:
    with gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def text_encoding(path: Path) -> str:
    """``utf-8-sig`` (a byte-order mark is dropped) or, for a file that is not UTF-8, ``latin-1`` with a warning.

    MoleculeFileError for an empty file and for a binary one (NUL bytes or mostly control characters): read as text
    they would give rows of garbage that look like molecules with errors, or nothing at all."""
    head = _head(path)
    if not head.strip():
        raise MoleculeFileError(f"{path} is empty: no header and no molecules; check the path, or export again")
    control = sum(b < 32 and b not in (9, 10, 13) for b in head)
    if b"\x00" in head or control > 0.01 * len(head):
        raise MoleculeFileError(f"{path} is a binary file, not text: give a CSV, TSV, SMI, SDF or Parquet file "
                                "(an Excel workbook must be saved as CSV first)")  # fmt: skip
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SNIFF_BYTES)
    except UnicodeDecodeError:
        warnings.warn(f"{path} is not UTF-8; reading it as Latin-1 (ISO-8859-1). Save it as UTF-8 to be sure "
                      "names and other text columns come through as written.", stacklevel=3)  # fmt: skip
        return "latin-1"
    return "utf-8-sig"


def _delimiter(path: Path, encoding: str, default: str) -> str:
    """``default``, unless the header line of a CSV is separated by semicolons or tabs (as spreadsheets export
    with decimal commas). MoleculeFileError for a header that is no table's (over :data:`MAX_COLUMNS` columns, or
    no line end in the first :data:`SNIFF_BYTES` bytes): parsing it would hold a core for minutes."""
    head = _head(path)
    header = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[0]
    if len(head) == SNIFF_BYTES and b"\n" not in head:
        raise MoleculeFileError(f"{path}: the header line is longer than {SNIFF_BYTES:,} bytes; a molecule table "
                                "has a short header (split the file or drop columns)")  # fmt: skip
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=counts.get) if default == "," else default
    if counts[best] + 1 > MAX_COLUMNS:
        raise MoleculeFileError(f"{path} has {counts[best] + 1:,} columns, over the limit of {MAX_COLUMNS:,}; keep "
                                "the SMILES column and the columns you need")  # fmt: skip
    if default != ",":
        return default
    return best if counts[best] > counts[","] else ","


def _open_text(path: Path, encoding: str = "utf-8-sig") -> io.TextIOBase:
    if _is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, errors="replace")
    return open(path, encoding=encoding, errors="replace")


def _with_smiles(frame: pd.DataFrame, smiles_col: str | None) -> pd.DataFrame:
    """``frame`` with a ``smiles`` column: the named or detected one, whitespace stripped."""
    col = smiles_col or find_smiles_column(list(frame.columns))
    if col not in frame.columns:
        raise ValueError(f"column {col!r} not found in the file; the columns are {list(frame.columns)}")
    out = frame.assign(smiles=frame[col].map(_clean_smiles))
    out.attrs["smiles_source"] = col  # which column the SMILES came from (screening carries the others)
    return out


def _clean_smiles(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip()
    return None if pd.isna(value) else str(value)


def _read_delimited(
    path: Path, sep: str, smiles_col: str | None, chunk_size: int, text: bool = False
) -> Iterator[pd.DataFrame]:
    compression = "gzip" if _is_gzip(path) else None
    encoding = text_encoding(path)
    options = {"sep": _delimiter(path, encoding, sep), "compression": compression, "encoding": encoding,
               "encoding_errors": "replace", **({"dtype": str} if text else {})}  # fmt: skip
    with pd.read_csv(path, chunksize=chunk_size, skip_blank_lines=True, **options) as reader:
        empty = True
        for chunk in reader:
            empty = False
            yield _with_smiles(chunk, smiles_col)
    if empty:  # a header and no rows
        yield _with_smiles(pd.read_csv(path, nrows=0, **options), smiles_col)


def _read_smi(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """One SMILES per line, optionally followed by whitespace and a name; a 'smiles' header line is skipped."""
    rows: list[tuple[str, str | None]] = []
    with _open_text(path, text_encoding(path)) as fh:
        for number, line in enumerate(fh):
            parts = line.strip().split(None, 1)
            if not parts or (number == 0 and parts[0].lower() in SMILES_CANDIDATES):
                continue
            rows.append((parts[0], parts[1] if len(parts) > 1 else None))
            if len(rows) == chunk_size:
                yield pd.DataFrame(rows, columns=["smiles", "name"])
                rows = []
    yield pd.DataFrame(rows, columns=["smiles", "name"])


def _sdf_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    first = ["smiles", "error", "title"]
    return frame.reindex(columns=first + [c for c in frame.columns if c not in first])


def _read_sdf(path: Path, chunk_size: int, text: bool = False, max_atoms: int | None = None
              ) -> Iterator[pd.DataFrame]:  # fmt: skip
    """Canonical SMILES, title and properties per record; an unreadable record is a row with an error. The records
    are split here as text and read by RDKit in a supervised child process (the active one of
    :func:`~gnnpt.featurization.contained.contained_parsing`, else one of its own), so a record that crashes RDKit
    or reads for too long costs that record, never the caller. A record whose atom block lists more than
    ``max_atoms`` heavy atoms is that row's error, unread."""
    from gnnpt.featurization.contained import ContainedFeaturizer, active_featurizer
    from gnnpt.featurization.sdf import sdf_records

    start, empty = 0, True
    with ExitStack() as stack:
        parser = active_featurizer() or stack.enter_context(ContainedFeaturizer())
        stream = stack.enter_context(gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb"))
        for records in sdf_records(stream, chunk_size):
            yield _sdf_frame(_sdf_rows(parser, records, start, text, max_atoms))
            start, empty = start + len(records), False
    if empty:
        yield _sdf_frame([])


def _sdf_rows(parser: ContainedFeaturizer, records: list[bytes], start: int, text: bool, max_atoms: int | None
              ) -> list[dict]:  # fmt: skip
    """The rows of ``records``: those over ``max_atoms`` listed heavy atoms are errors, the runs between them are read
    by ``parser``."""
    from gnnpt.featurization.sdf import listed_heavy_atoms, unreadable

    over = [] if max_atoms is None else [k for k, r in enumerate(records)
                                         if (listed_heavy_atoms(r, max_atoms) or 0) > max_atoms]  # fmt: skip
    rows, first = [], 0
    for k in [*over, len(records)]:
        if k > first:
            rows += parser.sdf_rows(records[first:k], start + first, text)
        if k < len(records):
            rows.append(unreadable(start + k, f"lists more than max_atoms={max_atoms} heavy atoms (counted in its "
                                              "atom block, unread; raise max_atoms to accept it)"))  # fmt: skip
        first = k + 1
    return rows


def _unpacked(path: Path) -> BinaryIO:
    """A gzipped file unpacked into an unnamed temporary file (gone once closed), 1 MiB at a time: Parquet reads its
    footer first, so it cannot stream from gzip, and unpacking it in memory took the whole file's size."""
    unpacked = tempfile.TemporaryFile()
    try:
        with gzip.open(path, "rb") as packed:
            shutil.copyfileobj(packed, unpacked, 1 << 20)
    except BaseException:
        unpacked.close()
        raise
    unpacked.seek(0)
    return unpacked


def _read_parquet(path: Path, smiles_col: str | None, chunk_size: int, text: bool = False) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    with ExitStack() as stack:
        source = stack.enter_context(_unpacked(path)) if _is_gzip(path) else path
        pf = pq.ParquetFile(source)
        empty = True
        for batch in pf.iter_batches(batch_size=chunk_size):
            empty = False
            yield _with_smiles(_as_text(batch) if text else batch.to_pandas(), smiles_col)
        if empty:
            yield _with_smiles(pf.schema_arrow.empty_table().to_pandas(), smiles_col)


def _as_text(batch: object) -> pd.DataFrame:
    """A Parquet batch with its integer columns as text, as Arrow writes them: an integer ID column with a missing
    value stays ``7``, not pandas' float ``7.0``; nulls stay missing, other columns as pandas reads them."""
    import pyarrow as pa

    columns = [c.cast(pa.string()) if pa.types.is_integer(c.type) else c for c in batch.columns]
    return pa.Table.from_arrays(columns, names=batch.schema.names).to_pandas()


def _chunks(path: Path, smiles_col: str | None, chunk_size: int, text: bool, max_atoms: int | None
            ) -> Iterator[pd.DataFrame]:  # fmt: skip
    fmt = detect_format(path)
    if fmt in ("csv", "tsv"):
        return _read_delimited(path, "," if fmt == "csv" else "\t", smiles_col, chunk_size, text)
    if fmt == "smi":
        return _read_smi(path, chunk_size)
    if fmt == "sdf":
        text_encoding(path)  # an empty or binary file is refused here too (RDKit would read no record from it)
        return _read_sdf(path, chunk_size, text, max_atoms)
    return _read_parquet(path, smiles_col, chunk_size, text)


def iter_molecules(
    path: str | Path,
    smiles_col: str | None = None,
    chunk_size: int = 100_000,
    text: bool = False,
    max_atoms: int | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream ``path`` as DataFrames of at most ``chunk_size`` rows, each with a ``smiles`` column.

    ``text``: keep the other columns of CSV/TSV files and SDF properties as the text they are in the file (IDs like
    ``007`` stay ``007``, ``1.50`` stays ``1.50``) instead of parsing numbers, and a Parquet file's integers as text
    (an ID column with a missing value stays ``7``, not pandas' ``7.0``). ``max_atoms``: an SDF record whose atom
    block lists more heavy atoms is that row's error, unread (the caller's atom limit: RDKit's parse of a huge
    record is slow and large, and its molecule would be refused anyway).

    Memory stays bounded by ``chunk_size`` (a gzipped Parquet file is unpacked into a temporary file first: it
    takes its unpacked size on disk while it is read).
    Chunks are never empty, except the single chunk of a file with no records (it still has the columns).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    first_empty, yielded = None, False
    for chunk in _chunks(path, smiles_col, chunk_size, text, max_atoms):
        if len(chunk):
            yielded = True
            yield chunk
        elif first_empty is None:
            first_empty = chunk
    if not yielded and first_empty is not None:
        yield first_empty


def read_table(
    path: str | Path, smiles_col: str | None = None, max_atoms: int | None = None
) -> tuple[pd.DataFrame, str]:
    """A whole molecule file for echoing back with scores: (the table, the name of its SMILES column).

    CSV/TSV cells stay text exactly as written (no numbers parsed, no "NA" turned into missing), read with the same
    encoding and separator rules as :func:`read_molecules`, and so do an SDF's properties (an ID 00007 stays
    00007) and a Parquet file's integer columns; each with its ``smiles`` column. ``max_atoms``: as
    :func:`iter_molecules` (SDF records over it are error rows, unread)."""
    path = Path(path)
    fmt = detect_format(path)
    if fmt not in ("csv", "tsv"):
        return pd.concat(iter_molecules(path, smiles_col, text=True, max_atoms=max_atoms), ignore_index=True), "smiles"
    encoding = text_encoding(path)
    frame = pd.read_csv(path, sep=_delimiter(path, encoding, "," if fmt == "csv" else "\t"), encoding=encoding,
                        encoding_errors="replace", dtype=str, keep_default_na=False,
                        compression="gzip" if _is_gzip(path) else None)  # fmt: skip
    column = smiles_col or find_smiles_column(list(frame.columns))
    if column not in frame.columns:
        raise ValueError(f"column {column!r} not found in the file; the columns are {list(frame.columns)}")
    return frame, column


@overload
def read_molecules(path: str | Path, smiles_col: str | None = None, chunk_size: None = None) -> pd.DataFrame: ...
@overload
def read_molecules(path: str | Path, smiles_col: str | None = None, *, chunk_size: int) -> Iterator[pd.DataFrame]: ...


def read_molecules(
    path: str | Path, smiles_col: str | None = None, chunk_size: int | None = None
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """The whole file as one DataFrame with a ``smiles`` column (rows in file order).

    With ``chunk_size``, an iterator of DataFrames instead (see :func:`iter_molecules`).
    """
    if chunk_size is not None:
        return iter_molecules(path, smiles_col, chunk_size)
    return pd.concat(iter_molecules(path, smiles_col), ignore_index=True)
