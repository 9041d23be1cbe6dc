"""Output files that grow chunk by chunk and can be cut back to their last committed state after a crash.

CSV (``.csv``; ``.csv.gz`` as one gzip member per chunk, which any gzip reader streams as one file) is appended
in place and its committed length is a byte count. Parquet cannot be appended to once closed, so each chunk is a
part file in ``OUT.parts/`` (written to a temporary name, then renamed) and :meth:`ParquetOutput.finish` joins the
parts, in order, into ``OUT`` as row groups; the committed state is the number of parts.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet", ".pq": "parquet"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def is_formula(text: str) -> bool:
    """Whether a spreadsheet would run the text cell ``text`` as a formula (see :func:`spreadsheet_safe`)."""
    return text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
    tab or carriage return; OWASP's CSV injection advice) prefixed with ``'``. Numbers written as text (``-5.2``)
    stay as they are; only CSV outputs need this (Parquet holds no formulas).

    The text columns are checked as one block, a cheap test per cell: a table's cost grows with its cells, not with
    a per-column overhead (pandas' string methods cost about 8 ms a column, 16 s for a 2,000-column upload)."""
    kinds = pd.api.types
    text = [i for i, dtype in enumerate(frame.dtypes) if kinds.is_object_dtype(dtype) or kinds.is_string_dtype(dtype)]
    if not text or frame.empty:
        return frame
    cells = frame.iloc[:, text].to_numpy(object)
    fixes: dict[int, list] = {}
    for j, i in enumerate(text):
        column = cells[:, j].tolist()
        risky = [k for k, v in enumerate(column) if isinstance(v, str) and is_formula(v)]
        if risky:
            for k in risky:
                column[k] = "'" + column[k]
            fixes[i] = column
    if not fixes:
        return frame
    out = frame.copy()
    for i, column in fixes.items():
        out.isetitem(i, pd.Series(column, index=frame.index, dtype=object))
    return out


def output_kind(path: Path) -> str:
    """``csv``, ``csv.gz`` or ``parquet``, from the output's suffix."""
    name = path.name.lower()
    for suffix, kind in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    raise ValueError(f"cannot tell the output format of {path}: end its name with one of {sorted(SUFFIXES)}")


def _fsync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


class CsvOutput:
    """A CSV file appended one chunk at a time; ``committed`` is its length in bytes after the last write."""

    def __init__(self, path: Path, columns: Sequence[str], gzipped: bool = False, committed: int | None = None):
        self.path, self.columns, self.gzipped = path, list(columns), gzipped
        if committed is None:
            self._fh = open(path, "wb")
            self._append(pd.DataFrame(columns=self.columns).to_csv(index=False, lineterminator="\n").encode("utf-8"))
        else:
            size = path.stat().st_size if path.is_file() else -1
            if size < committed:
                raise ValueError(
                    f"{path} is shorter ({max(size, 0)} bytes) than the {committed} bytes its progress file records: "
                    "it was changed since the interrupted run; run without --resume to start over"
                )
            self._fh = open(path, "r+b")
            self._fh.truncate(committed)
            self._fh.seek(committed)
        self.committed = self._fh.tell()

    def _append(self, data: bytes) -> None:
        self._fh.write(gzip.compress(data, compresslevel=6, mtime=0) if self.gzipped else data)
        _fsync(self._fh)
        self.committed = self._fh.tell()

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame`` (its columns in this file's order)."""
        if len(frame):
            text = spreadsheet_safe(frame[self.columns]).to_csv(index=False, header=False, lineterminator="\n")
            self._append(text.encode("utf-8"))

    def finish(self) -> None:
        """Close the file; it is complete."""
        self.close()

    def close(self) -> None:
        self._fh.close()


class ParquetOutput:
    """A Parquet file built from part files, one per chunk; ``committed`` is the number of parts written."""

    def __init__(self, path: Path, schema: pa.Schema, committed: int | None = None):
        self.path, self.schema = path, schema
        self.parts = Path(f"{path}.parts")
        if committed is None:
            shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir(exist_ok=True)
        self.committed = committed or 0
        keep = {self._part(i).name for i in range(self.committed)}
        for stale in self.parts.iterdir():  # parts of chunks never committed, and unfinished temporaries
            if stale.name not in keep:
                stale.unlink()
        missing = [i for i in range(self.committed) if not self._part(i).is_file()]
        if missing:
            raise ValueError(
                f"{self.parts} lacks parts {missing[:5]} that its progress file records: it was changed since the "
                "interrupted run; run without --resume to start over"
            )

    def _part(self, index: int) -> Path:
        return self.parts / f"part-{index:06d}.parquet"

    def write(self, frame: pd.DataFrame) -> None:
        """Write the rows of ``frame`` as the next part file (atomically: temporary name, then rename)."""
        if len(frame):
            table = pa.Table.from_pandas(frame[self.schema.names], schema=self.schema, preserve_index=False)
            target = self._part(self.committed)
            tmp = target.with_name(target.name + ".tmp")
            pq.write_table(table, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
            self.committed += 1

    def finish(self) -> None:
        """Join the parts into the output file (one row group each, one part in memory at a time); drop the parts."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(tmp, self.schema) as writer:
            for index in range(self.committed):
                writer.write_table(pq.read_table(self._part(index), schema=self.schema))
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts)

    def close(self) -> None:
        """Nothing is held open between writes."""


def arrow_schema(columns: Sequence[str], numbers: Sequence[str]) -> pa.Schema:
    """The Parquet schema of ``columns``: int64 ``row``, float32 ``numbers`` (scores, spreads, similarities), a
    nullable boolean ``in_domain``, strings otherwise."""
    types = {"row": pa.int64(), "in_domain": pa.bool_(), **{name: pa.float32() for name in numbers}}
    return pa.schema([(name, types.get(name, pa.string())) for name in columns])
